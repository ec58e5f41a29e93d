r"""Precision, recall, density and coverage in PyTorch, in blocks: never an n x m distance matrix.

Same formulas, names and parameters as :mod:`reference.metrics.knn` (slide: Isachenko, DGM Lecture 7,
'Precision-Recall'; Kynkaanniemi et al. 2019; Naeem et al. 2020). Squared distances are formed block
by block as :math:`\|x\|^2 + \|y\|^2 - 2 x \cdot y` with one matrix product in the input dtype, in
effect clamped at 0 (rounding can make the expansion slightly negative; the clamp is applied to the
radii, which gives the same comparisons), k-NN radii by a blocked ``topk``, and ball memberships by
blocked ``<=`` comparisons of squared distances (closed balls, as on the slide); a block holds
``block_size`` rows (default: as many as keep one block at 2**26 entries, 256 MiB in float32).

Boundary ties: the expansion is exact only to about ``eps * (|x|^2 + |y|^2)``, while the reference
uses exact float64 distances, so a sample within that of a ball's boundary (for instance an exact
duplicate of a point, whose computed self-distance may be a few ulp above 0) can be counted
differently; for continuous data at float64 this does not happen in practice.

Centring: before the expansion each set is translated by a centre, the per-coordinate midrange
:math:`(\min + \max) / 2` of the real set (for the real radii and the fake-real memberships) and of
the fake set (for the fake radii). Distances, hence radii and counts, are translation invariant, so
the formulas are unchanged; the rounding of the expansion becomes ``eps * diameter**2`` instead of
``eps * |x|**2``, which for data far from the origin (an offset of 1e8 in float64, 1e4 in float32)
would otherwise swamp the distances. The midrange, unlike the mean, is exact under any reduction
order, so :func:`accelerated.distributed.prdc` finds the same centres (by one all-reduce of maxima).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from reference._args import metrics as M

from ._common import F64, _check_sets

__all__ = ["PRDC", "DensityCoverage", "PrecisionRecall", "density_coverage", "prdc", "precision_recall"]

# Entries of one block of squared distances when block_size is not given (256 MiB in float32).
_DISTANCE_BLOCK_ENTRIES = 1 << 26


class PrecisionRecall(NamedTuple):
    """Improved precision and recall (0-d tensors in the inputs' dtype).

    Examples
    --------
    Precision 1/3 and recall 1 of the line example of :func:`precision_recall`:

    >>> float(PrecisionRecall(torch.tensor(1 / 3), torch.tensor(1.0)).recall)
    1.0
    """

    precision: torch.Tensor
    recall: torch.Tensor


class DensityCoverage(NamedTuple):
    """Density and coverage (0-d tensors in the inputs' dtype).

    Examples
    --------
    Density 2/3 and coverage 1/2 of the line example of :func:`density_coverage`:

    >>> float(DensityCoverage(torch.tensor(2 / 3), torch.tensor(0.5)).coverage)
    0.5
    """

    density: torch.Tensor
    coverage: torch.Tensor


class PRDC(NamedTuple):
    """Precision, recall, density and coverage (0-d tensors in the inputs' dtype).

    Examples
    --------
    The line example of :func:`prdc`:

    >>> r = PRDC(*torch.tensor([1 / 3, 1.0, 2 / 3, 0.5], dtype=torch.float64))
    >>> round(float(r.density), 6)
    0.666667
    """

    precision: torch.Tensor
    recall: torch.Tensor
    density: torch.Tensor
    coverage: torch.Tensor


def _block_rows(block_size: int | None, n_cols: int) -> int:
    if block_size is not None:
        return block_size
    return max(1, _DISTANCE_BLOCK_ENTRIES // max(n_cols, 1))


def _midrange(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """(lo + hi) / 2 per coordinate, halved first in float64 (no overflow), in the inputs' dtype: the centre."""
    return (lo.to(F64) / 2 + hi.to(F64) / 2).to(lo.dtype)


def _squared_distances(a: torch.Tensor, b: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """(rows of a) x (rows of b) squared distances |a|^2 + |b|^2 - 2 a.b by one GEMM, *not* clamped.

    Rounding can leave entries slightly below 0. The clamp at 0 is applied to the radii only: a
    comparison ``D <= r`` with ``r >= 0`` has the same outcome for D as for max(D, 0), and the k-th
    smallest of the clamped values is the clamped k-th smallest, so no pass over the block is spent on it.
    """
    D = torch.addmm(a_sq[:, None], a, b.T, beta=1, alpha=-2)
    return D.add_(b_sq[None, :])


def _knn_squared_radii(X: torch.Tensor, X_sq: torch.Tensor, k: int, rows: int) -> torch.Tensor:
    """NND_k(x_i)^2 for every row, k-th smallest squared distance to the *other* rows, block by block."""
    n = X.shape[0]
    radii = X.new_empty(n)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        D = _squared_distances(X[start:stop], X, X_sq[start:stop], X_sq)
        own = torch.arange(stop - start, device=X.device)
        D[own, own + start] = math.inf  # a point is not its own neighbour
        radii[start:stop] = torch.topk(D, k, dim=1, largest=False, sorted=True).values[:, k - 1]
    return radii.clamp_min_(0)


def _check_knn(real: object, fake: object, k: object, block_size: object, *, need_fake_radii: bool) -> tuple:
    """(X, Y, k, block_size): the two finite sets (one dtype and device, same d), k checked against the
    sets whose radii are needed, and the block size (None: the default)."""
    X, Y = _check_sets(("real", "fake"), real, fake, min_rows=(2, 2 if need_fake_radii else 1))
    k = M.check_k(k, [("real", X.shape[0])] + ([("fake", Y.shape[0])] if need_fake_radii else []))
    return X, Y, k, M.check_block_size(block_size)


def _prdc_parts(
    X: torch.Tensor, Y: torch.Tensor, k: int, block_size: int | None, *, need_fake_radii: bool
) -> dict[str, torch.Tensor]:
    n, m = X.shape[0], Y.shape[0]
    with torch.no_grad():
        X, Y = X.detach(), Y.detach()
        if need_fake_radii:  # the fake radii from the fake set about its own centre
            Yf = Y - _midrange(Y.amin(dim=0), Y.amax(dim=0))
            r_fake = _knn_squared_radii(Yf, (Yf * Yf).sum(dim=1), k, _block_rows(block_size, m))
            del Yf
        else:
            r_fake = None
        centre = _midrange(X.amin(dim=0), X.amax(dim=0))  # see the module docstring (centring)
        X, Y = X - centre, Y - centre
        X_sq, Y_sq = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
        r_real = _knn_squared_radii(X, X_sq, k, _block_rows(block_size, n))

        precise = torch.zeros((), dtype=torch.int64, device=X.device)  # fakes inside some real ball
        in_balls = torch.zeros((), dtype=torch.int64, device=X.device)  # sum_j #{i: Y_j in B_i}
        covered = torch.zeros(n, dtype=torch.bool, device=X.device)  # real balls holding a fake
        recalled = torch.zeros(n, dtype=torch.bool, device=X.device)  # reals inside some fake ball
        rows = _block_rows(block_size, n)
        for start in range(0, m, rows):
            stop = min(start + rows, m)
            D = _squared_distances(Y[start:stop], X, Y_sq[start:stop], X_sq)  # (b, n)
            inside = D <= r_real[None, :]
            precise += torch.count_nonzero(inside.any(dim=1))
            in_balls += torch.count_nonzero(inside)  # (count_nonzero of a bool block is ~10x a .sum())
            covered |= inside.any(dim=0)
            if r_fake is not None:
                recalled |= (D <= r_fake[start:stop, None]).any(dim=0)

    dtype = X.dtype
    return {
        "precision": (precise.to(F64) / m).to(dtype),
        "recall": (recalled.sum().to(F64) / n).to(dtype),
        "density": (in_balls.to(F64) / (k * m)).to(dtype),
        "coverage": (covered.sum().to(F64) / n).to(dtype),
    }


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, block_size: int | None = None
) -> PrecisionRecall:
    r"""Improved precision and recall (Kynkaanniemi et al. 2019) in blocks (see the reference for the slide).

    .. math::

        I(x, S) = \mathbb 1\big[\exists x' \in S: \|x - x'\|_2 \le \|x' - \mathrm{NN}_k(x', S)\|_2\big],\quad
        \mathrm{Precision} = \frac1m \sum_{y \in S_p} I(y, S_\pi),\quad
        \mathrm{Recall} = \frac1n \sum_{x \in S_\pi} I(x, S_p).

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= min(n, m) - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block. Peak extra
        memory is about ``block_size * max(n, m) * (itemsize + 1)`` bytes.

    Returns
    -------
    PrecisionRecall
        0-d tensors in the inputs' dtype.

    Notes
    -----
    Each set is centred (its per-coordinate midrange subtracted) before the distance expansion, so
    data far from the origin lose no distances to cancellation; see the module docstring ('Centring').

    Examples
    --------
    On the line, real {0, 1, 2, 3} (radii 1 at k = 1) and fake {0.5, 10, 11} (radii 9.5, 1, 1): only
    0.5 is in a real ball, and ball(0.5, 9.5) holds every real point (by hand):

    >>> real, fake = torch.tensor([[0.0], [1.0], [2.0], [3.0]]), torch.tensor([[0.5], [10.0], [11.0]])
    >>> [round(float(v), 6) for v in precision_recall(real, fake, k=1)]
    [0.333333, 1.0]
    """
    X, Y, k, block_size = _check_knn(real, fake, k, block_size, need_fake_radii=True)
    parts = _prdc_parts(X, Y, k, block_size, need_fake_radii=True)
    return PrecisionRecall(parts["precision"], parts["recall"])


def density_coverage(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None
) -> DensityCoverage:
    r"""Density and coverage (Naeem et al. 2020) in blocks (see the reference).

    .. math::

        \mathrm{density} = \frac{1}{kM}\sum_{j}\sum_{i} \mathbb 1\big[Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],\quad
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1\big[\exists j: Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big].

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= n - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block.

    Returns
    -------
    DensityCoverage
        0-d tensors in the inputs' dtype.

    Notes
    -----
    Each set is centred (its per-coordinate midrange subtracted) before the distance expansion, so
    data far from the origin lose no distances to cancellation; see the module docstring ('Centring').

    Examples
    --------
    On the line, real {0, 1, 2, 3} (radii 1 at k = 1), fake {0.5, 10, 11}: 0.5 lies in the balls of
    0 and 1 (density 2 / 3), which are the covered ones (coverage 2 / 4) (by hand):

    >>> real, fake = torch.tensor([[0.0], [1.0], [2.0], [3.0]]), torch.tensor([[0.5], [10.0], [11.0]])
    >>> [round(float(v), 6) for v in density_coverage(real, fake, k=1)]
    [0.666667, 0.5]
    """
    X, Y, k, block_size = _check_knn(real, fake, k, block_size, need_fake_radii=False)
    parts = _prdc_parts(X, Y, k, block_size, need_fake_radii=False)
    return DensityCoverage(parts["density"], parts["coverage"])


def prdc(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None) -> PRDC:
    r"""Precision, recall, density and coverage from one blocked pass over each distance matrix.

    .. math::

        \mathrm{precision} = \frac1M\sum_j \mathbb 1[\exists i: Y_j \in B_i],\
        \mathrm{recall} = \frac1N\sum_i \mathbb 1[\exists j: X_i \in B'_j],\
        \mathrm{density} = \frac{1}{kM}\sum_{i,j} \mathbb 1[Y_j \in B_i],\
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1[\exists j: Y_j \in B_i].

    Three blocked matrix products in all (real-real and fake-fake for the radii, fake-real for the
    four memberships), the same work as three plain n x m x d products, in memory that grows
    linearly in n.

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= min(n, m) - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block.

    Returns
    -------
    PRDC
        0-d tensors in the inputs' dtype.

    Notes
    -----
    Each set is centred (its per-coordinate midrange subtracted) before the distance expansion, so
    data far from the origin lose no distances to cancellation; see the module docstring ('Centring').

    Examples
    --------
    The line of :func:`precision_recall` and :func:`density_coverage` (by hand):

    >>> real, fake = torch.tensor([[0.0], [1.0], [2.0], [3.0]]), torch.tensor([[0.5], [10.0], [11.0]])
    >>> [round(float(v), 6) for v in prdc(real, fake, k=1)]
    [0.333333, 1.0, 0.666667, 0.5]
    """
    X, Y, k, block_size = _check_knn(real, fake, k, block_size, need_fake_radii=True)
    parts = _prdc_parts(X, Y, k, block_size, need_fake_radii=True)
    return PRDC(parts["precision"], parts["recall"], parts["density"], parts["coverage"])
