r"""Precision, recall, density and coverage: k-nearest-neighbour balls as estimates of the data manifolds.

Slides implemented: Isachenko, DGM Lecture 7, 'Precision-Recall' (the indicator I(x, S) of the union
of k-th nearest-neighbour balls); Advanced Course on DGM, Lecture 8, 'Other measures' (precision and
recall). Density and coverage (Naeem et al. 2020) use the same balls around the real samples only.

This side forms the full n x m distance matrices (``scipy.spatial.distance.cdist``): it is the
oracle, for sizes a crosscheck uses. :mod:`accelerated.metrics.knn` works in blocks.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

from .._args import metrics as M
from ._common import _check_sets

__all__ = ["PRDC", "DensityCoverage", "PrecisionRecall", "density_coverage", "prdc", "precision_recall"]


class PrecisionRecall(NamedTuple):
    """Improved precision and recall (Kynkaanniemi et al. 2019).

    Examples
    --------
    Precision 1/3 and recall 1 of the line example of :func:`precision_recall`:

    >>> PrecisionRecall(1 / 3, 1.0).recall
    1.0
    """

    precision: float
    """Fraction of generated samples inside the real manifold estimate."""
    recall: float
    """Fraction of real samples inside the generated manifold estimate."""


class DensityCoverage(NamedTuple):
    """Density and coverage (Naeem et al. 2020).

    Examples
    --------
    Density 2/3 and coverage 1/2 of the line example of :func:`density_coverage`:

    >>> DensityCoverage(2 / 3, 0.5).coverage
    0.5
    """

    density: float
    """Average number of real k-NN balls containing a generated sample, divided by k (can exceed 1)."""
    coverage: float
    """Fraction of real k-NN balls that contain at least one generated sample."""


class PRDC(NamedTuple):
    """Precision, recall, density and coverage from one set of distances.

    Examples
    --------
    The line example of :func:`prdc`:

    >>> PRDC(1 / 3, 1.0, 2 / 3, 0.5).density
    0.6666666666666666
    """

    precision: float
    recall: float
    density: float
    coverage: float


def _knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """NND_k(x_i): distance from each point to its k-th nearest *other* point of the same set."""
    D = cdist(points, points)
    np.fill_diagonal(D, np.inf)  # a point is not its own neighbour; duplicates elsewhere still count
    return np.partition(D, k - 1, axis=1)[:, k - 1]


def _check_knn(real: object, fake: object, k: object, block_size: object, *, need_fake_radii: bool) -> tuple:
    """(X, Y, k): the two finite float64 sets, same d, and k checked against the sets whose radii are needed."""
    X, Y = _check_sets(("real", "fake"), real, fake, min_rows=(2, 2 if need_fake_radii else 1))
    k = M.check_k(k, [("real", X.shape[0])] + ([("fake", Y.shape[0])] if need_fake_radii else []))
    M.check_block_size(block_size)
    return X, Y, k


def _prdc_parts(X: np.ndarray, Y: np.ndarray, k: int, *, need_fake_radii: bool) -> dict:
    r_real = _knn_radii(X, k)  # (n,)
    D = cdist(Y, X)  # (m, n): D[j, i] = ||Y_j - X_i||
    in_real_ball = D <= r_real[None, :]  # Y_j in B(X_i, NND_k(X_i)), closed balls as on the slide
    parts = {
        "precision": float(np.mean(np.any(in_real_ball, axis=1))),
        "density": float(np.sum(in_real_ball) / (k * Y.shape[0])),
        "coverage": float(np.mean(np.any(in_real_ball, axis=0))),
    }
    if need_fake_radii:
        r_fake = _knn_radii(Y, k)  # (m,)
        in_fake_ball = D <= r_fake[:, None]  # X_i in B(Y_j, NND_k(Y_j))
        parts["recall"] = float(np.mean(np.any(in_fake_ball, axis=0)))
    return parts


def precision_recall(
    real: np.ndarray, fake: np.ndarray, *, k: int = 3, block_size: int | None = None
) -> PrecisionRecall:
    r"""Improved precision and recall of generated samples against real ones (k-NN manifold estimates).

    With :math:`\mathrm{NN}_k(x', S)` the k-th nearest neighbour of :math:`x'` among the *other*
    points of S, the manifold estimate of S is a union of closed balls:

    .. math::

        I(x, S) = \mathbb 1\big[\exists x' \in S: \|x - x'\|_2 \le \|x' - \mathrm{NN}_k(x', S)\|_2\big],

        \mathrm{Precision} = \frac1m \sum_{y \in S_p} I(y, S_\pi), \qquad
        \mathrm{Recall} = \frac1n \sum_{x \in S_\pi} I(x, S_p),

    with :math:`S_\pi` the n real and :math:`S_p` the m generated samples (the slide writes n for both).
    A point duplicated in S is its copy's neighbour at distance 0.

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    PrecisionRecall
        ``precision`` and ``recall`` in [0, 1].

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Precision-Recall'; Advanced Course on DGM, Lecture 8, slide
    'Other measures'; Kynkaanniemi, Karras, Laine, Lehtinen, Aila, Improved precision and recall
    metric for assessing generative models, NeurIPS 2019.

    Examples
    --------
    On the line, real {0, 1, 2, 3} (radii 1 at k = 1) and fake {0.5, 10, 11} (radii 9.5, 1, 1): only
    0.5 is in a real ball, and ball(0.5, 9.5) holds every real point (by hand):

    >>> real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0], [11.0]])
    >>> tuple(precision_recall(real, fake, k=1))
    (0.3333333333333333, 1.0)
    """
    X, Y, k = _check_knn(real, fake, k, block_size, need_fake_radii=True)
    parts = _prdc_parts(X, Y, k, need_fake_radii=True)
    return PrecisionRecall(parts["precision"], parts["recall"])


def density_coverage(
    real: np.ndarray, fake: np.ndarray, *, k: int = 5, block_size: int | None = None
) -> DensityCoverage:
    r"""Density and coverage of generated samples (Naeem et al. 2020): k-NN balls around real samples only.

    .. math::

        \mathrm{density} = \frac{1}{kM}\sum_{j=1}^M \sum_{i=1}^N \mathbb 1\big[Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],
        \qquad
        \mathrm{coverage} = \frac1N \sum_{i=1}^N \mathbb 1\big[\exists j: Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],

    with :math:`X_1..X_N` real, :math:`Y_1..Y_M` generated, :math:`\mathrm{NND}_k(X_i)` the distance
    from :math:`X_i` to its k-th nearest other real sample and B the closed ball. Density counts how
    many real balls hold each generated sample (it is not bounded by 1); coverage needs no generated
    radii, so it is robust to generated outliers.

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    DensityCoverage
        ``density`` in [0, n / k] and ``coverage`` in [0, 1].

    References
    ----------
    Naeem, Oh, Uh, Choi, Yoo, Reliable fidelity and diversity metrics for generative models, ICML 2020;
    Isachenko, DGM Lecture 7, slide 'Precision-Recall' (the same k-NN balls).

    Examples
    --------
    On the line, real {0, 1, 2, 3} (radii 1 at k = 1), fake {0.5, 10, 11}: 0.5 lies in the balls of
    0 and 1 (density 2 / 3), which are the covered ones (coverage 2 / 4) (by hand):

    >>> real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0], [11.0]])
    >>> tuple(density_coverage(real, fake, k=1))
    (0.6666666666666666, 0.5)
    """
    X, Y, k = _check_knn(real, fake, k, block_size, need_fake_radii=False)
    parts = _prdc_parts(X, Y, k, need_fake_radii=False)
    return DensityCoverage(parts["density"], parts["coverage"])


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = 5, block_size: int | None = None) -> PRDC:
    r"""Precision, recall, density and coverage from one set of distances (see the two functions above).

    .. math::

        \mathrm{precision} = \frac1M\sum_j \mathbb 1[\exists i: Y_j \in B_i],\quad
        \mathrm{recall} = \frac1N\sum_i \mathbb 1[\exists j: X_i \in B'_j],\quad
        \mathrm{density} = \frac{1}{kM}\sum_{i,j} \mathbb 1[Y_j \in B_i],\quad
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1[\exists j: Y_j \in B_i],

    with :math:`B_i = B(X_i, \mathrm{NND}_k(X_i))` around the real and
    :math:`B'_j = B(Y_j, \mathrm{NND}_k(Y_j))` around the generated samples, all with the same k
    (the prdc package's convention; :func:`precision_recall` defaults to k = 3 as Kynkaanniemi et al.).

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    PRDC
        ``precision``, ``recall``, ``density``, ``coverage``.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Precision-Recall'; Kynkaanniemi et al., NeurIPS 2019;
    Naeem et al., ICML 2020.

    Examples
    --------
    The line of :func:`precision_recall` and :func:`density_coverage` (by hand):

    >>> real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0], [11.0]])
    >>> tuple(prdc(real, fake, k=1))
    (0.3333333333333333, 1.0, 0.6666666666666666, 0.5)
    """
    X, Y, k = _check_knn(real, fake, k, block_size, need_fake_radii=True)
    parts = _prdc_parts(X, Y, k, need_fake_radii=True)
    return PRDC(parts["precision"], parts["recall"], parts["density"], parts["coverage"])
