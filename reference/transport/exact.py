r"""Exact discrete optimal transport in R^d: the assignment problem or the transport linear program.

Slides: Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance' (transport plans gamma in
Gamma(pi, p), W = inf E ||x - y||) and slide 'Wasserstein metric' (W_s with the cost ||x - y||^s).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, sparse

from reference._args import transport as S

from ._common import _check_clouds, _ground_cost, _root

__all__ = ["wasserstein"]


def _optimal_plan(Cost: np.ndarray, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    r"""An optimal plan gamma of min <gamma, C> over Gamma(a, b) (exact; see :func:`wasserstein`)."""
    n, m = Cost.shape
    if a is None and b is None and n == m:
        # Birkhoff: some optimal plan is a permutation matrix / n, found by the assignment problem.
        rows, cols = optimize.linear_sum_assignment(Cost)
        gamma = np.zeros((n, m))
        gamma[rows, cols] = 1.0 / n
        return gamma
    a = np.full(n, 1.0 / n) if a is None else a
    b = np.full(m, 1.0 / m) if b is None else b
    # Variables gamma_ij, row-major. Row sums = a (n equations); column sums = b for j < m - 1 (the last
    # column equation follows from the others since sum(a) = sum(b) = 1, and dropping it keeps the LP
    # feasible when the two totals differ by rounding).
    row_sums = sparse.kron(sparse.eye(n), np.ones((1, m)))
    col_sums = sparse.kron(np.ones((1, n)), sparse.eye(m))
    A_eq = sparse.vstack([row_sums, col_sums.tocsr()[: m - 1]]).tocsc()
    b_eq = np.concatenate([a, b[: m - 1]])
    # HiGHS treats cost entries above 1e20 as infinite: the LP is solved on C / 2^k, with 2^k the power
    # of two at or below max C (an exact scaling, the same optimal plans).
    top = float(Cost.max())
    scaled = Cost if top == 0.0 else np.ldexp(Cost, -math.frexp(top)[1])
    result = optimize.linprog(scaled.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs-ds")
    if result.status != 0:  # pragma: no cover - the transport LP is always feasible and bounded
        raise RuntimeError(f"linprog (HiGHS) failed on the transport LP: {result.message}")
    return np.maximum(result.x.reshape(n, m), 0.0)


def wasserstein(
    x: np.ndarray,
    y: np.ndarray,
    *,
    p: float = 2,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
) -> float:
    r"""Exact W_p between discrete measures in R^d with ground cost ||x - y||^p.

    .. math::

        W_p(\alpha, \beta) = \Big( \min_{\gamma \in \Gamma(a, b)} \sum_{ij} \gamma_{ij}
        \|x_i - y_j\|^p \Big)^{1/p}, \quad
        \Gamma(a, b) = \{\gamma \ge 0 : \gamma \mathbf 1 = a,\ \gamma^\top \mathbf 1 = b\}.

    Solver: with ``a`` and ``b`` both ``None`` and n = m, some optimal plan is a permutation matrix
    divided by n (Birkhoff), found by ``scipy.optimize.linear_sum_assignment`` (a shortest augmenting
    path method, O(n^3)). Otherwise the linear program over the n m entries of gamma is solved by
    ``scipy.optimize.linprog`` with the HiGHS dual simplex (``method='highs-ds'``: an optimal vertex,
    exact to rounding; polynomial in practice, exponential in the worst case); fine for a few hundred
    points per side, for more use :func:`~reference.transport.sinkhorn` or
    :func:`~reference.transport.sliced_wasserstein`.

    Parameters
    ----------
    x : (n, d) array_like
        Support of the first measure.
    y : (m, d) array_like
        Support of the second measure.
    p : float >= 1
        Order; the ground cost is the Euclidean distance to the power p.
    a, b : (n,) and (m,) array_like, optional
        Weights on the simplex (``None``: uniform).

    Returns
    -------
    float
        W_p, the p-th root of the optimal transport cost.

    Notes
    -----
    The LP drops the last column-sum equation (implied by the others), so that weights whose totals
    differ by rounding still give a feasible problem; entries of the plan below 0 by rounding are
    clamped to 0. The LP is solved on the cost divided by the power of two at or below its largest
    entry (exact; HiGHS takes costs above 1e20 for infinite and failed from about 1e10 on). A cost
    matrix that overflows float64 is a ValueError naming x and y (squared distances above the largest
    float) or p (their p-th power), on both sides alike.

    References
    ----------
    Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance'; Isachenko, DGM Lecture 7, slide
    'Wasserstein metric'; Peyre and Cuturi, Computational Optimal Transport (2019), Sections 2.3 and 3.1.

    Examples
    --------
    The bottom corners of the unit square against the top corners: every point moves by 1, W_2 = 1:

    >>> float(wasserstein(np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0]])))
    1.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p)
    with np.errstate(over="ignore"):
        Cost = _ground_cost(x, y, p)
        if not np.all(np.isfinite(Cost)):
            S.check_cost_finite(False, bool(np.all(np.isfinite(_ground_cost(x, y, 2.0)))), p)
    gamma = _optimal_plan(Cost, a, b)
    return float(_root(np.sum(gamma * Cost), p))
