r"""Inception Score with its sharpness x diversity split, and the CLIP score from embeddings.

Slides implemented: Advanced Course on DGM, Lecture 8, 'Prediction sharpness', 'Prediction
Diversity' and 'Inception Score' (IS = D x S); Isachenko, DGM Lecture 7, 'CLIP score' (text-image
relevance of a conditional model). Probabilities lie along the last axis; natural logarithms.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .. import _checks as C
from .._args import metrics as M

__all__ = ["InceptionScore", "InceptionScoreComponents", "clip_score", "inception_score", "inception_score_components"]


class InceptionScore(NamedTuple):
    """Mean and standard deviation of the Inception Score over splits.

    Examples
    --------
    Two splits scoring 2 and 1 (see :func:`inception_score`): mean 1.5, population std 0.5:

    >>> InceptionScore(1.5, 0.5).std
    0.5
    """

    mean: float
    std: float
    """Population standard deviation (divisor = number of splits), as in Salimans et al.'s code; 0 for one split."""


class InceptionScoreComponents(NamedTuple):
    """Inception Score and its factors IS = D x S (Lecture 8).

    Examples
    --------
    One-hot rows of two classes used equally often: S = 1, D = 2, IS = D x S = 2:

    >>> c = InceptionScoreComponents(2.0, 1.0, 2.0)
    >>> c.diversity * c.sharpness == c.inception_score
    True
    """

    inception_score: float
    """exp(E_x KL(p(y|x) || p(y))), computed from the KL directly."""
    sharpness: float
    """S = exp(-E_x H(p(y|x))), in [1/K, 1]."""
    diversity: float
    """D = exp(H(p(y))), in [1, K]."""


def _check_probs(probs: object) -> np.ndarray:
    """(n, K) float64 class probabilities, n >= 1, every row on the simplex."""
    p = C.as_float64("probs", probs)
    M.check_matrix_shape("probs", p.shape, min_cols=0, layout="(n, K) of class probabilities")
    C.check_simplex("probs", p)
    return p


def _score(p: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) for one split, with 0 log 0 = 0."""
    p_y = p.mean(axis=0)  # marginal c(y); p_y > 0 wherever some p(y|x) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / p_y), 0.0)
    return float(np.exp(np.mean(np.sum(terms, axis=1))))


def inception_score(probs: np.ndarray, *, splits: int = 1) -> InceptionScore:
    r"""Inception Score of class probabilities p(y|x) of generated samples, mean and std over splits.

    .. math::

        \mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\|\, p(y)\big)\Big),
        \qquad p(y) = \mathbb E_x\, p(y \mid x),

    with :math:`0 \log 0 = 0`. The rows are cut into ``splits`` consecutive parts (rows
    ``i n // splits`` to ``(i+1) n // splits``), each with its own marginal, as in Salimans et al.'s
    code; the slide's ``IS = D x S = E KL`` omits the exponential.

    Parameters
    ----------
    probs : (n, K) array_like
        Rows on the probability simplex (each sums to 1 within 1e-5).
    splits : int
        Number of parts, 1 <= splits <= n.

    Returns
    -------
    InceptionScore
        ``mean`` and ``std`` (population) of the per-split scores; each score is in [1, K].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Inception Score'; Salimans et al., Improved techniques
    for training GANs, NeurIPS 2016; Barratt and Sharma, A note on the Inception Score, 2018.

    Examples
    --------
    K = 4 one-hot classes used equally often: each KL is log 4, so IS = K = 4 (the slide's upper bound):

    >>> float(inception_score(np.eye(4)).mean)
    4.0
    """
    p = _check_probs(probs)
    n = p.shape[0]
    splits = M.check_splits(splits, n)
    scores = np.array([_score(p[i * n // splits : (i + 1) * n // splits]) for i in range(splits)])
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)))


def inception_score_components(probs: np.ndarray) -> InceptionScoreComponents:
    r"""Inception Score with its sharpness and diversity factors, IS = D x S, over all rows.

    .. math::

        S = \exp\Big(\mathbb E_x \sum_y p(y|x)\log p(y|x)\Big) = e^{-\mathbb E_x H(p(y|x))},
        \qquad
        D = \exp\Big(-\mathbb E_x \sum_y p(y|x)\log p(y)\Big) = e^{H(p(y))},

    and :math:`\mathrm{IS} = D \times S` because
    :math:`\mathbb E_x \mathrm{KL}(p(y|x)\|p(y)) = H(p(y)) - \mathbb E_x H(p(y|x))`. The score is
    computed from the KL directly, so the identity is a check, not a definition. High sharpness: a
    confident classifier; high diversity: many classes.

    Parameters
    ----------
    probs : (n, K) array_like
        Rows on the probability simplex.

    Returns
    -------
    InceptionScoreComponents
        ``inception_score`` (as :func:`inception_score` with one split), ``sharpness`` in [1/K, 1],
        ``diversity`` in [1, K].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Inception Score' (IS = D x S, after the slides
    'Prediction sharpness' and 'Prediction Diversity'); Salimans et al., NeurIPS 2016.

    Examples
    --------
    Rows [1, 0] and [0, 1]: no entropy per row (S = 1), a uniform marginal (D = 2), IS = D x S = 2:

    >>> [round(float(v), 12) for v in inception_score_components(np.eye(2))]
    [2.0, 1.0, 2.0]
    """
    p = _check_probs(probs)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg_entropy = np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)  # -H(p(y|x)) per row
        p_y = p.mean(axis=0)
        entropy_y = -np.sum(np.where(p_y > 0, p_y * np.log(p_y), 0.0))
    return InceptionScoreComponents(_score(p), float(np.exp(np.mean(neg_entropy))), float(np.exp(entropy_y)))


def _check_embeddings(image_embeddings: object, text_embeddings: object) -> tuple[np.ndarray, ...]:
    """(E_I, E_C, |E_I|, |E_C|): finite float64 (..., d) embeddings, d >= 1, same d, batch axes that
    broadcast, no zero vector (the cosine is undefined there), and their norms along the last axis."""
    names = ("image_embeddings", "text_embeddings")
    E_I, E_C = C.as_float64(names[0], image_embeddings), C.as_float64(names[1], text_embeddings)
    for name, e in zip(names, (E_I, E_C)):
        C.check_ndim(name, e, 1)
        if e.shape[-1] == 0:
            raise ValueError(f"{name}: expected embeddings with d >= 1 along the last axis, got shape {e.shape}")
        C.check_finite(name, e)
    C.check_same_last_dim(names, (E_I, E_C))
    C.broadcast_batch(names, (E_I.shape[:-1], E_C.shape[:-1]))
    norms = np.linalg.norm(E_I, axis=-1), np.linalg.norm(E_C, axis=-1)
    for name, norm in zip(names, norms):
        if np.any(norm == 0):
            raise ValueError(
                f"{name}: expected non-zero embeddings (the cosine is undefined for a zero vector), "
                f"got {int(np.count_nonzero(norm == 0))} zero row(s)"
            )
    return E_I, E_C, *norms


def clip_score(image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
    r"""CLIP score of image-text pairs: 100 times the cosine similarity of the embeddings, clipped at 0.

    .. math::

        \mathrm{CLIPScore}(E_I, E_C) = 100 \cdot \max\Big(\frac{E_I \cdot E_C}{\|E_I\| \|E_C\|}, 0\Big).

    This is the torchmetrics convention (weight 100), the one most papers report averaged over pairs;
    Hessel et al. define CLIP-S with weight w = 2.5 (multiply by 0.025 to get it).

    Parameters
    ----------
    image_embeddings, text_embeddings : (..., d) array_like
        Embeddings from the same CLIP model (they need not be normalised; zero vectors are refused).
        Batch axes broadcast.

    Returns
    -------
    (...) ndarray
        One score per pair, in [0, 100]; average them for a model's score.

    Notes
    -----
    The cosine is also clamped above at 1, which only removes rounding (it changes a result by at
    most an ulp).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'CLIP score'; Hessel, Holtzman, Forbes, Le Bras, Choi,
    CLIPScore: a reference-free evaluation metric for image captioning, EMNLP 2021;
    Radford et al., Learning transferable visual models from natural language supervision, ICML 2021.

    Examples
    --------
    E_I = (2, 0) and E_C = (1, sqrt 3) make an angle of 60 degrees: cos = 1/2, score 50 (closed form):

    >>> round(float(clip_score(np.array([2.0, 0.0]), np.array([1.0, np.sqrt(3.0)]))), 10)
    50.0
    """
    E_I, E_C, norm_I, norm_C = _check_embeddings(image_embeddings, text_embeddings)
    cos = np.sum(E_I * E_C, axis=-1) / (norm_I * norm_C)
    return 100.0 * np.clip(cos, 0.0, 1.0)
