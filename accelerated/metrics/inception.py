r"""Inception Score (with sharpness x diversity) and CLIP score in PyTorch, computed in float64.

Same formulas, names and parameters as :mod:`reference.metrics.inception` (slides: Advanced Course on
DGM, Lecture 8, 'Inception Score', 'Prediction sharpness', 'Prediction Diversity'; Isachenko, DGM
Lecture 7, 'CLIP score'). ``inception_score`` and ``inception_score_components`` work on a float64
copy of each split; ``clip_score`` accumulates its dot products and norms in float64.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from reference._args import metrics as M

from .. import _checks as C
from ._common import F64

__all__ = ["InceptionScore", "InceptionScoreComponents", "clip_score", "inception_score", "inception_score_components"]


class InceptionScore(NamedTuple):
    """Mean and population standard deviation of the per-split Inception Scores (inputs' dtype).

    Examples
    --------
    Two splits scoring 2 and 1 (see :func:`inception_score`): mean 1.5, population std 0.5:

    >>> float(InceptionScore(torch.tensor(1.5), torch.tensor(0.5)).std)
    0.5
    """

    mean: torch.Tensor
    std: torch.Tensor


class InceptionScoreComponents(NamedTuple):
    """Inception Score, sharpness S and diversity D with IS = D x S (inputs' dtype).

    Examples
    --------
    One-hot rows of two classes used equally often: S = 1, D = 2, IS = D x S = 2:

    >>> c = InceptionScoreComponents(torch.tensor(2.0), torch.tensor(1.0), torch.tensor(2.0))
    >>> bool(c.diversity * c.sharpness == c.inception_score)
    True
    """

    inception_score: torch.Tensor
    sharpness: torch.Tensor
    diversity: torch.Tensor


def _check_probs(probs: object) -> torch.Tensor:
    """(n, K) class probabilities, n >= 1, every row on the simplex (value check per mode)."""
    p = C.as_float_tensor("probs", probs)
    M.check_matrix_shape("probs", tuple(p.shape), min_cols=0, layout="(n, K) of class probabilities")
    C.check_simplex("probs", p)
    return p


def _score(p: torch.Tensor) -> torch.Tensor:
    """exp(mean_x KL(p(y|x) || p(y))) of one float64 split, with 0 log 0 = 0."""
    p_y = p.mean(dim=0)
    positive = p > 0
    ratio = p / torch.where(p_y > 0, p_y, torch.ones_like(p_y))  # p_y > 0 wherever p > 0
    terms = torch.where(positive, p * torch.log(torch.where(positive, ratio, torch.ones_like(ratio))), 0.0)
    return torch.exp(terms.sum(dim=1).mean())


def inception_score(probs: torch.Tensor, *, splits: int = 1) -> InceptionScore:
    r"""Inception Score, mean and std over consecutive splits, in float64 (see the reference for the slide).

    .. math::

        \mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\|\, p(y)\big)\Big).

    Parameters
    ----------
    probs : (n, K) Tensor
        Rows on the probability simplex.
    splits : int
        1 <= splits <= n; split i holds rows ``i n // splits`` to ``(i+1) n // splits``.

    Returns
    -------
    InceptionScore
        ``mean`` and population ``std`` of the per-split scores, 0-d tensors in the inputs' dtype.

    Notes
    -----
    Each split is scored on a float64 copy, with :math:`0 \log 0 = 0`.

    Examples
    --------
    K = 4 one-hot classes used equally often: each KL is log 4, so IS = K = 4 (the slide's upper bound):

    >>> round(float(inception_score(torch.eye(4)).mean), 6)
    4.0
    """
    p = _check_probs(probs)
    n = p.shape[0]
    splits = M.check_splits(splits, n)
    scores = torch.stack([_score(p[i * n // splits : (i + 1) * n // splits].to(F64)) for i in range(splits)])
    return InceptionScore(scores.mean().to(p.dtype), scores.std(correction=0).to(p.dtype))


def inception_score_components(probs: torch.Tensor) -> InceptionScoreComponents:
    r"""Inception Score with sharpness S and diversity D, IS = D x S, over all rows (see the reference).

    .. math::

        S = e^{-\mathbb E_x H(p(y|x))}, \qquad D = e^{H(p(y))}, \qquad
        \mathrm{IS} = e^{\mathbb E_x \mathrm{KL}(p(y|x) \| p(y))} = D \times S.

    Parameters
    ----------
    probs : (n, K) Tensor
        Rows on the probability simplex.

    Returns
    -------
    InceptionScoreComponents
        ``inception_score``, ``sharpness``, ``diversity``: 0-d tensors in the inputs' dtype.

    Notes
    -----
    Computed on a float64 copy, with ``xlogy`` for :math:`0 \log 0 = 0`.

    Examples
    --------
    Rows [1, 0] and [0, 1]: no entropy per row (S = 1), a uniform marginal (D = 2), IS = D x S = 2:

    >>> [round(float(v), 6) for v in inception_score_components(torch.eye(2))]
    [2.0, 1.0, 2.0]
    """
    p = _check_probs(probs)
    p64 = p.to(F64)
    neg_entropy = torch.xlogy(p64, p64).sum(dim=1)
    p_y = p64.mean(dim=0)
    entropy_y = -torch.xlogy(p_y, p_y).sum()
    return InceptionScoreComponents(
        _score(p64).to(p.dtype), torch.exp(neg_entropy.mean()).to(p.dtype), torch.exp(entropy_y).to(p.dtype)
    )


def _check_embeddings(image_embeddings: object, text_embeddings: object) -> tuple[torch.Tensor, ...]:
    """(E_I, a, b, |a|, |b|): the image embeddings as given, both in float64 (a, b) with their norms along
    the last axis; finite (..., d), d >= 1, same d, one dtype and device, batch axes that broadcast,
    no zero vector while value checks are on (the cosine is undefined there)."""
    names = ("image_embeddings", "text_embeddings")
    E_I, E_C = C.as_float_tensor(names[0], image_embeddings), C.as_float_tensor(names[1], text_embeddings)
    C.check_same_device_dtype(names, (E_I, E_C))
    for name, e in zip(names, (E_I, E_C)):
        C.check_ndim(name, e, 1)
        if e.shape[-1] == 0:
            raise ValueError(f"{name}: expected embeddings with d >= 1 along the last axis, got shape {tuple(e.shape)}")
        C.check_finite(name, e)
    C.check_same_last_dim(names, (E_I, E_C))
    C.broadcast_batch(names, (E_I.shape[:-1], E_C.shape[:-1]))
    a, b = E_I.to(F64), E_C.to(F64)
    norms = torch.linalg.vector_norm(a, dim=-1), torch.linalg.vector_norm(b, dim=-1)
    if C.value_checks_active():
        for name, norm in zip(names, norms):
            zeros = int((norm.detach() == 0).sum())
            if zeros:
                raise ValueError(
                    f"{name}: expected non-zero embeddings (the cosine is undefined for a zero vector), "
                    f"got {zeros} zero row(s)"
                )
    return E_I, a, b, *norms


def clip_score(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    r"""CLIP score per pair: 100 max(cos(E_I, E_C), 0) (torchmetrics' weight; see the reference).

    .. math::

        \mathrm{CLIPScore} = 100 \cdot \max\Big(\frac{E_I \cdot E_C}{\|E_I\|\|E_C\|}, 0\Big),

    Zero embeddings raise a ``ValueError`` while value checks are on; with them off they give NaN.

    Parameters
    ----------
    image_embeddings, text_embeddings : (..., d) Tensor
        Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        Scores in [0, 100]; differentiable.

    Notes
    -----
    The cosine is also clamped above at 1 (that removes only rounding). The dot product and norms
    are accumulated in float64 and the score cast back: for nearly orthogonal float32 embeddings a
    float32 dot product keeps no relative digits of the (small) score.

    Examples
    --------
    E_I = (2, 0) and E_C = (1, sqrt 3) make an angle of 60 degrees: cos = 1/2, score 50 (closed form):

    >>> round(float(clip_score(torch.tensor([2.0, 0.0]), torch.tensor([1.0, 3.0 ** 0.5]))), 4)
    50.0
    """
    E_I, a, b, norm_I, norm_C = _check_embeddings(image_embeddings, text_embeddings)
    cos = (a * b).sum(dim=-1) / (norm_I * norm_C)
    return (100.0 * cos.clamp(0.0, 1.0)).to(E_I.dtype)
