"""Optimal transport: W_p in 1-D and in R^d, entropic Sinkhorn, Sinkhorn divergence, sliced W_p, Gaussian W2.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7, recap slide 'Wasserstein distance' (transport plans
  gamma in Gamma(pi, p) and W = inf E ||x - y||), recap slide 'Theorem (Kantorovich-Rubinstein
  duality)' (checked as a theorem in :mod:`crosscheck.theorems.transport`), slide 'Wasserstein
  metric' (W_s = inf (E ||x - y||^s)^(1/s)) and the theorem on the same slide (W_2 between Gaussians,
  the formula of FID).

Conventions: a discrete measure is a point cloud ``x`` of shape (n, d) with weights ``a`` on the
simplex (``None``: uniform 1/n); the ground cost is ``C_ij = ||x_i - y_j||^p`` (Euclidean norm) and
every *distance* returned here is W_p itself, the p-th root of the optimal cost; results whose name
or flag says ``squared`` are W_2^2. The reference works in float64, solves exact OT with SciPy
(``linear_sum_assignment``, ``linprog`` with HiGHS) and runs Sinkhorn in the log domain.

One-sided names: none.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np
from scipy import optimize, sparse
from scipy.special import logsumexp

from . import _checks as C

__all__ = [
    "SinkhornConvergenceWarning",
    "SinkhornResult",
    "gaussian_w2",
    "sinkhorn",
    "sinkhorn_divergence",
    "sliced_wasserstein",
    "wasserstein",
    "wasserstein_1d",
]

# Eigenvalues of Sigma_1^{1/2} Sigma_2 Sigma_1^{1/2} (or of a covariance) below -PSD_RTOL * (largest
# eigenvalue) mean a covariance that is not positive semi-definite: a ValueError. Negative values above
# it are rounding of a PSD input and are clamped to 0 (see gaussian_w2).
PSD_RTOL = 1e-6

# Sinkhorn defaults shared by both sides (the accelerated side imports nothing from here, it repeats them).
DEFAULT_TOL = 1e-9  # L1 marginal error; float64 inputs
DEFAULT_MAX_ITER = 10_000
DEFAULT_SCALING = 0.5
DEFAULT_OVERRELAXATION = 1.5
DEFAULT_CHECK_EVERY = 10
DEFAULT_N_PROJECTIONS = 50


class SinkhornConvergenceWarning(RuntimeWarning):
    """Sinkhorn stopped at ``max_iter`` with a marginal error above ``tol``."""


# --------------------------------------------------------------------------- input checks (private)


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p: expected a real number >= 1, got {C.describe(p)}")
    value = float(p)
    if not (math.isfinite(value) and value >= 1.0):
        raise ValueError(f"p: expected a finite real number >= 1 (W_p is a metric for p >= 1), got {value!r}")
    return value


def _check_points(name: str, x: object) -> np.ndarray:
    x = C.as_float64(name, x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: expected a point cloud of shape (n, d) with n, d >= 1, got shape {x.shape}")
    C.check_finite(name, x)
    return x


def _check_same_dim(x: np.ndarray, y: np.ndarray, names: tuple[str, str] = ("x", "y")) -> None:
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"{names[0]} and {names[1]}: expected points of the same dimension d, got shapes {x.shape} and {y.shape}"
        )


def _check_weights(name: str, w: object, n: int, of: str) -> np.ndarray:
    """Weights of a point cloud: ``None`` means uniform; otherwise a (n,) probability vector."""
    if w is None:
        return np.full(n, 1.0 / n)
    w = C.as_float64(name, w)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) (one weight per point of {of}), got shape {w.shape}")
    C.check_simplex(name, w)
    return w / np.sum(w)  # a change within the 1e-5 simplex tolerance, so both marginals have mass 1


def _check_epsilon(epsilon: object) -> float:
    return C.check_positive_scalar("epsilon", epsilon)


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= {low}, got {C.describe(value)}")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return int(value)


def _check_sinkhorn_options(
    tol: object, max_iter: object, epsilon_scaling: object, overrelaxation: object, check_every: object
) -> tuple[float, int, float | None, float, int]:
    tol_value = DEFAULT_TOL if tol is None else C.check_real_scalar("tol", tol)
    if tol_value < 0:
        raise ValueError(f"tol: expected a marginal-error tolerance >= 0 (0: run exactly max_iter), got {tol!r}")
    max_iter = _check_int("max_iter", max_iter, 1)
    if epsilon_scaling is not None:
        epsilon_scaling = C.check_real_scalar("epsilon_scaling", epsilon_scaling)
        if not 0.0 < epsilon_scaling < 1.0:
            raise ValueError(
                f"epsilon_scaling: expected a ratio in (0, 1) or None (no annealing), got {epsilon_scaling}"
            )
    omega = C.check_real_scalar("overrelaxation", overrelaxation)
    if not 1.0 <= omega < 2.0:
        raise ValueError(f"overrelaxation: expected omega in [1, 2) (1: plain Sinkhorn), got {omega!r}")
    check_every = _check_int("check_every", check_every, 1)
    return tol_value, max_iter, epsilon_scaling, omega, check_every


# --------------------------------------------------------------------------- W_p in one dimension


def _quantile_cost(u: np.ndarray, u_w: np.ndarray | None, v: np.ndarray, v_w: np.ndarray | None, p: float) -> float:
    r"""W_p^p between two weighted 1-D samples: the integral of |F^{-1}(s) - G^{-1}(s)|^p over s in [0, 1].

    Both quantile functions are step functions. Their jumps are at the cumulative weights
    ``F(u_(k))`` and ``G(v_(k))``; merged and sorted they cut [0, 1] into intervals on which both
    quantiles are constant, read off at the midpoint of each interval.
    """
    order_u, order_v = np.argsort(u, kind="stable"), np.argsort(v, kind="stable")
    u_sorted, v_sorted = u[order_u], v[order_v]
    n, m = u.shape[0], v.shape[0]
    # Cumulative distribution functions at the sorted points, ending at exactly 1.
    F = np.arange(1, n + 1) / n if u_w is None else np.cumsum(u_w[order_u]) / np.sum(u_w)
    G = np.arange(1, m + 1) / m if v_w is None else np.cumsum(v_w[order_v]) / np.sum(v_w)
    s = np.sort(np.concatenate([F, G]))  # right ends of the intervals
    s_left = np.concatenate([[0.0], s[:-1]])
    ds = s - s_left
    mid = 0.5 * (s + s_left)
    F_inv = u_sorted[np.minimum(np.searchsorted(F, mid, side="left"), n - 1)]
    G_inv = v_sorted[np.minimum(np.searchsorted(G, mid, side="left"), m - 1)]
    return float(np.sum(ds * np.abs(F_inv - G_inv) ** p))


def _root(value: np.ndarray, p: float) -> np.ndarray:
    return np.maximum(value, 0.0) ** (1.0 / p)


def wasserstein_1d(
    u: np.ndarray,
    v: np.ndarray,
    *,
    p: float = 1,
    u_weights: np.ndarray | None = None,
    v_weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Exact W_p between weighted empirical measures on the real line, through quantile functions.

    .. math::

        W_p(\mu, \nu) = \Big( \int_0^1 \big| F^{-1}(s) - G^{-1}(s) \big|^p \, ds \Big)^{1/p},

    with :math:`F^{-1}, G^{-1}` the (left-continuous) quantile functions of
    :math:`\mu = \sum_i w_i \delta_{u_i}` and :math:`\nu = \sum_j w'_j \delta_{v_j}`. In one dimension
    the monotone (quantile) coupling is optimal for every convex cost :math:`|x - y|^p`, so this is the
    exact optimum of the slide's infimum. Both quantiles are step functions: the integral is a finite
    sum over the merged jumps of the two CDFs, O((n + m) log(n + m)) for the sorts.

    Parameters
    ----------
    u : (..., n) array_like
        Samples of the first measure along the last axis; leading axes are batch axes.
    v : (..., m) array_like
        Samples of the second measure; batch axes broadcast with those of ``u``.
    p : float >= 1
        Order of the distance.
    u_weights, v_weights : (..., n) and (..., m) array_like, optional
        Probability vectors (non-negative, summing to 1 within 1e-5; rescaled to sum exactly to 1);
        ``None`` means uniform weights. Batch axes broadcast.

    Returns
    -------
    (...) ndarray
        W_p (the p-th root taken).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Wasserstein metric'; Villani, Topics in Optimal Transportation
    (2003), Theorem 2.18; Peyre and Cuturi, Computational Optimal Transport (2019), Remark 2.30.
    """
    p = _check_p(p)
    u, v = C.as_float64("u", u), C.as_float64("v", v)
    for name, s in (("u", u), ("v", v)):
        C.check_ndim(name, s, 1)
        if s.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {s.shape}")
        C.check_finite(name, s)
    shapes = [u.shape[:-1], v.shape[:-1]]
    names = ["u", "v"]
    weights = {}
    for name, w, s in (("u_weights", u_weights, u), ("v_weights", v_weights, v)):
        if w is None:
            weights[name] = None
            continue
        w = C.as_float64(name, w)
        C.check_simplex(name, w)
        if w.shape[-1] != s.shape[-1]:
            raise ValueError(
                f"{name}: expected {s.shape[-1]} weights along the last axis (one per sample), got shape {w.shape}"
            )
        weights[name] = w
        shapes.append(w.shape[:-1])
        names.append(name)
    batch = C.broadcast_batch(names, shapes)
    u = np.broadcast_to(u, (*batch, u.shape[-1]))
    v = np.broadcast_to(v, (*batch, v.shape[-1]))
    u_w, v_w = weights["u_weights"], weights["v_weights"]
    u_w = None if u_w is None else np.broadcast_to(u_w, u.shape)
    v_w = None if v_w is None else np.broadcast_to(v_w, v.shape)
    cost = np.empty(batch)
    for k in np.ndindex(*batch):
        cost[k] = _quantile_cost(u[k], None if u_w is None else u_w[k], v[k], None if v_w is None else v_w[k], p)
    return _root(cost, p)


# --------------------------------------------------------------------------- exact discrete OT in R^d


def _ground_cost(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """C_ij = ||x_i - y_j||^p (Euclidean), shape (n, m)."""
    diff = x[:, None, :] - y[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1)) ** p


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
    result = optimize.linprog(Cost.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs-ds")
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
    points per side, for more use :func:`sinkhorn` or :func:`sliced_wasserstein`.

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

    References
    ----------
    Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance' and slide 'Wasserstein metric';
    Peyre and Cuturi, Computational Optimal Transport (2019), Sections 2.3 and 3.1.
    """
    p = _check_p(p)
    x, y = _check_points("x", x), _check_points("y", y)
    _check_same_dim(x, y)
    a_w = None if a is None else _check_weights("a", a, x.shape[0], "x")
    b_w = None if b is None else _check_weights("b", b, y.shape[0], "y")
    Cost = _ground_cost(x, y, p)
    gamma = _optimal_plan(Cost, a_w, b_w)
    return float(_root(np.sum(gamma * Cost), p))


# --------------------------------------------------------------------------- entropic OT: Sinkhorn


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn` (the same fields on both sides)."""

    cost: float
    """<P, C>: the transport cost of the entropic plan P (the linear term only, no entropy)."""
    entropic_cost: float
    """OT_eps = <P, C> + eps KL(P | a b^T), evaluated as the dual value at the returned potentials."""
    marginal_error: float
    """||P 1 - a||_1 + ||P^T 1 - b||_1 at the returned potentials."""
    n_iter: int
    """Iterations run, the one-per-stage annealing iterations included."""
    converged: bool
    """marginal_error <= tol (always False with tol = 0, which asks for exactly max_iter iterations)."""
    plan: np.ndarray | None
    """(n, m) entropic plan P (with return_plan=True), else None."""
    f: np.ndarray | None
    """(n,) dual potential of x (with return_potentials=True), else None."""
    g: np.ndarray | None
    """(m,) dual potential of y (with return_potentials=True), else None."""


def _log_weights(w: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(w)  # log 0 = -inf: a point without mass never receives any


def _update_f(g: np.ndarray, log_b: np.ndarray, Cost: np.ndarray, eps: float) -> np.ndarray:
    r"""Sinkhorn update of f: :math:`f_i = -\varepsilon \log \sum_j b_j \exp((g_j - C_{ij})/\varepsilon)`."""
    return -eps * logsumexp(log_b[None, :] + (g[None, :] - Cost) / eps, axis=1)


def _update_g(f: np.ndarray, log_a: np.ndarray, Cost: np.ndarray, eps: float) -> np.ndarray:
    r"""Sinkhorn update of g: :math:`g_j = -\varepsilon \log \sum_i a_i \exp((f_i - C_{ij})/\varepsilon)`."""
    return -eps * logsumexp(log_a[:, None] + (f[:, None] - Cost) / eps, axis=0)


def _plan(f: np.ndarray, g: np.ndarray, log_a: np.ndarray, log_b: np.ndarray, Cost: np.ndarray, eps: float):
    r"""P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)."""
    return np.exp(log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - Cost) / eps)


def _marginal_error(P: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.abs(P.sum(axis=1) - a)) + np.sum(np.abs(P.sum(axis=0) - b)))


def _diameter(x: np.ndarray, y: np.ndarray, p: float) -> float:
    """Upper bound on max C_ij: the diagonal of the common bounding box, to the power p."""
    both = np.concatenate([x, y], axis=0)
    return float(np.sqrt(np.sum((both.max(axis=0) - both.min(axis=0)) ** 2)) ** p)


def _epsilon_schedule(diameter: float, epsilon: float, scaling: float | None) -> list[float]:
    r"""Annealing :math:`\varepsilon_k = D s^k` while above the target, then the target itself."""
    schedule = []
    if scaling is not None:
        eps_k = diameter
        while eps_k > epsilon:
            schedule.append(eps_k)
            eps_k *= scaling
    return [*schedule, epsilon]


def _sinkhorn_solve(
    Cost: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    schedule: list[float],
    tol: float,
    max_iter: int,
    omega: float,
    check_every: int,
):
    """The iteration of :func:`sinkhorn`; returns (f, g, marginal error, n_iter)."""
    log_a, log_b = _log_weights(a), _log_weights(b)
    f, g = np.zeros(a.shape[0]), np.zeros(b.shape[0])
    n_iter = 0
    for eps_k in schedule[:-1]:  # annealing: one plain iteration per stage
        f = _update_f(g, log_b, Cost, eps_k)
        g = _update_g(f, log_a, Cost, eps_k)
        n_iter += 1
    eps = schedule[-1]
    previous_error = math.inf
    for i in range(1, max_iter + 1):
        # Over-relaxed alternating updates (omega = 1: plain Sinkhorn).
        f = (1.0 - omega) * f + omega * _update_f(g, log_b, Cost, eps)
        g = (1.0 - omega) * g + omega * _update_g(f, log_a, Cost, eps)
        n_iter += 1
        if tol > 0 and i % check_every == 0:
            error = _marginal_error(_plan(f, g, log_a, log_b, Cost, eps), a, b)
            if error <= tol:
                break
            if error > previous_error and omega > 1.0:
                omega = 0.5 * (1.0 + omega)  # safeguard: over-relaxation made things worse, relax less
            previous_error = error
    error = _marginal_error(_plan(f, g, log_a, log_b, Cost, eps), a, b)
    return f, g, error, n_iter


def _dual_value(f, g, a, b, log_a, log_b, Cost, eps) -> float:
    r"""<f, a> + <g, b> - eps (sum P - 1): the entropic dual objective, = OT_eps at the optimum."""
    P = _plan(f, g, log_a, log_b, Cost, eps)
    return float(np.sum(np.where(a > 0, f * a, 0.0)) + np.sum(np.where(b > 0, g * b, 0.0)) - eps * (P.sum() - 1.0))


def sinkhorn(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epsilon: float,
    p: float = 2,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    epsilon_scaling: float | None = DEFAULT_SCALING,
    overrelaxation: float = DEFAULT_OVERRELAXATION,
    check_every: int = DEFAULT_CHECK_EVERY,
    return_plan: bool = False,
    return_potentials: bool = False,
) -> SinkhornResult:
    r"""Entropic optimal transport by log-domain Sinkhorn iterations with epsilon-scaling.

    Solves

    .. math::

        \mathrm{OT}_\varepsilon(\alpha, \beta) = \min_{P \in \Gamma(a, b)} \langle P, C \rangle
        + \varepsilon\, \mathrm{KL}(P \,\|\, a b^\top), \qquad C_{ij} = \|x_i - y_j\|^p,

    whose solution is :math:`P_{ij} = a_i b_j \exp((f_i + g_j - C_{ij})/\varepsilon)` for the dual
    potentials f, g, fixed points of the log-domain updates

    .. math::

        f_i = -\varepsilon \log \sum_j b_j e^{(g_j - C_{ij})/\varepsilon}, \qquad
        g_j = -\varepsilon \log \sum_i a_i e^{(f_i - C_{ij})/\varepsilon}

    (log-sum-exp: no kernel :math:`e^{-C/\varepsilon}` is formed, so any epsilon > 0 is safe from
    under- and overflow). The iteration, identical on both sides:

    1. *epsilon-scaling*: starting from f = g = 0, one update of f then g at each
       :math:`\varepsilon_k = D s^k` (k = 0, 1, ... while above ``epsilon``), D the p-th power of the
       diagonal of the bounding box of both clouds (an upper bound on max C), s =
       ``epsilon_scaling``; the potentials of each stage warm-start the next;
    2. at ``epsilon``: over-relaxed updates :math:`f \leftarrow (1-\omega) f + \omega\, T(g)`, then the
       same for g (omega = ``overrelaxation``; 1 is plain Sinkhorn), and every ``check_every``
       iterations the marginal error :math:`\|P\mathbf 1 - a\|_1 + \|P^\top \mathbf 1 - b\|_1` is
       compared with ``tol``; if it grew since the last check, omega is moved halfway back to 1;
    3. stop at ``tol`` or after ``max_iter`` iterations at ``epsilon``.

    Not converged is never silent: ``converged`` is False and a :class:`SinkhornConvergenceWarning` is
    issued. ``tol=0`` asks for exactly ``max_iter`` iterations (no checks, fixed omega; no warning).

    Parameters
    ----------
    x : (n, d) array_like
    y : (m, d) array_like
    epsilon : float > 0
        Regularisation strength, in the units of the cost C (for p = 2, squared distance).
    p : float >= 1
        Ground cost exponent.
    a, b : (n,) and (m,) array_like, optional
        Weights on the simplex (``None``: uniform).
    max_iter : int
        Most iterations at the target epsilon (the annealing iterations come on top).
    tol : float, optional
        Marginal-error tolerance; ``None``: 1e-9 (float64; the accelerated side uses 1e-5 for lower
        precision). 0 runs exactly ``max_iter`` iterations.
    epsilon_scaling : float in (0, 1) or None
        Ratio between consecutive annealing epsilons; ``None`` starts at the target.
    overrelaxation : float in [1, 2)
        Over-relaxation omega of the final stage.
    check_every : int
        Iterations between two convergence checks.
    return_plan, return_potentials : bool
        Also return P (n, m) and the potentials f (n,), g (m,).

    Returns
    -------
    SinkhornResult
        ``cost`` = :math:`\langle P, C\rangle` (the transport cost of the entropic plan, without the
        entropy term; POT's ``sinkhorn2`` value), ``entropic_cost`` = :math:`\mathrm{OT}_\varepsilon`
        (the dual value :math:`\langle f, a\rangle + \langle g, b\rangle - \varepsilon(\sum P - 1)`),
        ``marginal_error``, ``n_iter``, ``converged``, ``plan``, ``f``, ``g``.

    References
    ----------
    Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance' (the plans gamma in Gamma(pi, p));
    Cuturi, Sinkhorn distances, NeurIPS 2013; Schmitzer, Stabilized sparse scaling algorithms for
    entropy regularized transport problems, SIAM J. Sci. Comput. 41 (2019) (log domain,
    epsilon-scaling); Thibault, Chizat, Dossal, Papadakis, Overrelaxed Sinkhorn-Knopp algorithm for
    regularized optimal transport (2017); Peyre and Cuturi, Computational Optimal Transport (2019), 4.
    """
    epsilon = _check_epsilon(epsilon)
    p = _check_p(p)
    tol, max_iter, epsilon_scaling, omega, check_every = _check_sinkhorn_options(
        tol, max_iter, epsilon_scaling, overrelaxation, check_every
    )
    x, y = _check_points("x", x), _check_points("y", y)
    _check_same_dim(x, y)
    a = _check_weights("a", a, x.shape[0], "x")
    b = _check_weights("b", b, y.shape[0], "y")
    return _sinkhorn(
        x, y, epsilon, p, a, b, max_iter, tol, epsilon_scaling, omega, check_every, return_plan, return_potentials
    )


def _sinkhorn(
    x, y, epsilon, p, a, b, max_iter, tol, epsilon_scaling, omega, check_every, return_plan, return_potentials
) -> SinkhornResult:
    Cost = _ground_cost(x, y, p)
    schedule = _epsilon_schedule(_diameter(x, y, p), epsilon, epsilon_scaling)
    f, g, error, n_iter = _sinkhorn_solve(Cost, a, b, schedule, tol, max_iter, omega, check_every)
    converged = bool(tol > 0 and error <= tol)
    if tol > 0 and not converged:
        warnings.warn(
            f"sinkhorn: not converged after {n_iter} iterations (marginal error {error:.3g} > tol {tol:g}); "
            "raise max_iter or epsilon, or lower epsilon_scaling",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    log_a, log_b = _log_weights(a), _log_weights(b)
    P = _plan(f, g, log_a, log_b, Cost, epsilon)
    cost = float(np.sum(P * Cost))
    entropic = _dual_value(f, g, a, b, log_a, log_b, Cost, epsilon)
    return SinkhornResult(
        cost=cost,
        entropic_cost=entropic,
        marginal_error=error,
        n_iter=n_iter,
        converged=converged,
        plan=P if return_plan else None,
        f=f if return_potentials else None,
        g=g if return_potentials else None,
    )


def _update_symmetric(f: np.ndarray, log_a: np.ndarray, Cost: np.ndarray, eps: float) -> np.ndarray:
    r"""Averaged symmetric update :math:`f \leftarrow \tfrac12 (f + T_a(f))` of Feydy et al. (2019)."""
    return 0.5 * (f + _update_f(f, log_a, Cost, eps))


def _symmetric_entropic_cost(x, a, epsilon, p, max_iter, tol, epsilon_scaling, check_every) -> float:
    r"""OT_eps(alpha, alpha) = 2 <f, a> at the symmetric fixed point f = T_a(f).

    The alternating iteration is very slow on this problem (its plan is close to the identity and the
    potentials of different points are coupled only through entries of size exp(-C/eps)); the averaged
    symmetric update converges in a few iterations. Same annealing, check cadence and tolerance as
    :func:`sinkhorn` (no over-relaxation: the average is already a relaxation with omega = 1/2).
    """
    Cost = _ground_cost(x, x, p)
    log_a = _log_weights(a)
    schedule = _epsilon_schedule(_diameter(x, x, p), epsilon, epsilon_scaling)
    f = np.zeros(a.shape[0])
    for eps_k in schedule[:-1]:
        f = _update_symmetric(f, log_a, Cost, eps_k)
    for i in range(1, max_iter + 1):
        f = _update_symmetric(f, log_a, Cost, epsilon)
        if tol > 0 and i % check_every == 0:
            if _marginal_error(_plan(f, f, log_a, log_a, Cost, epsilon), a, a) <= tol:
                break
    error = _marginal_error(_plan(f, f, log_a, log_a, Cost, epsilon), a, a)
    if tol > 0 and error > tol:
        warnings.warn(
            f"sinkhorn_divergence: the symmetric problem did not converge (marginal error {error:.3g} > tol {tol:g})",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    return _dual_value(f, f, a, a, log_a, log_a, Cost, epsilon)


def sinkhorn_divergence(
    x: np.ndarray,
    y: np.ndarray,
    *,
    epsilon: float,
    p: float = 2,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    epsilon_scaling: float | None = DEFAULT_SCALING,
    overrelaxation: float = DEFAULT_OVERRELAXATION,
    check_every: int = DEFAULT_CHECK_EVERY,
) -> float:
    r"""Debiased Sinkhorn divergence between two discrete measures.

    .. math::

        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha) - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),

    with :math:`\mathrm{OT}_\varepsilon` the *regularised* optimum (transport cost plus
    :math:`\varepsilon\,\mathrm{KL}(P \,\|\, a b^\top)`, the ``entropic_cost`` of :func:`sinkhorn`), not
    the transport cost of the plan. The entropic bias cancels: :math:`S_\varepsilon(\alpha, \alpha) = 0`
    (exactly here, the two terms are the same computation), :math:`S_\varepsilon \ge 0` whenever
    :math:`e^{-C/\varepsilon}` is a positive definite kernel, which holds for :math:`C = \|x - y\|^p`
    with 1 <= p <= 2 (Schoenberg; p = 1 Laplace, p = 2 Gaussian kernel), and
    :math:`S_\varepsilon \to W_p^p` as :math:`\varepsilon \to 0` and :math:`\to` an MMD as
    :math:`\varepsilon \to \infty`. The cross term is solved by the iteration of :func:`sinkhorn` with
    the given options; the two symmetric terms by the averaged update :math:`f \leftarrow \tfrac12(f +
    T_a(f))` (Feydy et al. 2019), which converges in a few iterations where the alternating one crawls
    (the plan of a measure with itself is nearly the identity). When (x, a) and (y, b) are identical the
    three problems are one and 0 is returned exactly. A SinkhornConvergenceWarning is issued if a
    problem does not converge; near-identical but different inputs at small epsilon are the slow case.

    Parameters
    ----------
    x : (n, d) array_like
    y : (m, d) array_like
    epsilon, p, a, b, max_iter, tol, epsilon_scaling, overrelaxation, check_every
        As in :func:`sinkhorn`.

    Returns
    -------
    float
        :math:`S_\varepsilon`, in the units of the cost (W_p^p as epsilon -> 0).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Wasserstein metric'; Genevay, Peyre, Cuturi, Learning generative
    models with Sinkhorn divergences, AISTATS 2018; Feydy, Sejourne, Vialard, Amari, Trouve, Peyre,
    Interpolating between optimal transport and MMD using Sinkhorn divergences, AISTATS 2019, Thm 1.
    """
    epsilon = _check_epsilon(epsilon)
    p = _check_p(p)
    options = _check_sinkhorn_options(tol, max_iter, epsilon_scaling, overrelaxation, check_every)
    tol, max_iter, epsilon_scaling, omega, check_every = options
    x, y = _check_points("x", x), _check_points("y", y)
    _check_same_dim(x, y)
    a = _check_weights("a", a, x.shape[0], "x")
    b = _check_weights("b", b, y.shape[0], "y")

    ot_xx = _symmetric_entropic_cost(x, a, epsilon, p, max_iter, tol, epsilon_scaling, check_every)
    if x.shape == y.shape and np.array_equal(x, y) and np.array_equal(a, b):
        return ot_xx - 0.5 * ot_xx - 0.5 * ot_xx  # alpha = beta: the three problems are one; exactly 0
    ot_yy = _symmetric_entropic_cost(y, b, epsilon, p, max_iter, tol, epsilon_scaling, check_every)
    ot_xy = _sinkhorn(x, y, epsilon, p, a, b, max_iter, tol, epsilon_scaling, omega, check_every, False, False)
    return ot_xy.entropic_cost - 0.5 * ot_xx - 0.5 * ot_yy


# --------------------------------------------------------------------------- sliced Wasserstein


def _unit_directions(projections: object, d: int) -> np.ndarray:
    theta = C.as_float64("projections", projections)
    if theta.ndim != 2 or theta.shape[0] != d or theta.shape[1] == 0:
        raise ValueError(f"projections: expected shape (d, L) = ({d}, L) with L >= 1, got shape {theta.shape}")
    C.check_finite("projections", theta)
    top = np.max(np.abs(theta), axis=0)
    if np.any(top == 0):
        raise ValueError(f"projections: expected non-zero columns (directions), got {int(np.sum(top == 0))} zero")
    theta = theta / top  # scale first: the squares of tiny directions would be subnormal
    return theta / np.sqrt(np.sum(theta * theta, axis=0))


def sliced_wasserstein(
    x: np.ndarray,
    y: np.ndarray,
    *,
    p: float = 2,
    a: np.ndarray | None = None,
    b: np.ndarray | None = None,
    n_projections: int | None = None,
    projections: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    r"""Monte-Carlo sliced Wasserstein distance SW_p over random directions on the unit sphere.

    .. math::

        \mathrm{SW}_p(\alpha, \beta) = \Big( \int_{S^{d-1}} W_p^p(\theta_\# \alpha, \theta_\# \beta)\,
        d\sigma(\theta) \Big)^{1/p}
        \approx \Big( \frac1L \sum_{l=1}^L W_p^p\big(\langle \theta_l, x\rangle, \langle \theta_l, y\rangle\big)
        \Big)^{1/p},

    each 1-D term computed exactly by :func:`wasserstein_1d` on the projected points (with weights a, b).
    Directions: pass exactly one of ``projections`` (d, L), whose columns are divided by their norms
    here (pass standard normal draws to get uniform directions, or unit vectors, which are kept up to
    rounding), or ``rng`` (a ``numpy.random.Generator``), from which a (d, L) standard normal matrix
    is drawn and normalised the same way, L = ``n_projections`` (default 50). SW_p <= W_p.

    Parameters
    ----------
    x : (n, d) array_like
    y : (m, d) array_like
    p : float >= 1
    a, b : (n,) and (m,) array_like, optional
        Weights on the simplex (``None``: uniform).
    n_projections : int, optional
        L with ``rng`` (default 50); with ``projections`` it must be None or equal their L.
    projections : (d, L) array_like, optional
        Directions (normalised here).
    rng : numpy.random.Generator, optional

    Returns
    -------
    float
        The estimate of SW_p (the p-th root of the mean of W_p^p over directions).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Wasserstein metric'; Rabin, Peyre, Delon, Bernot, Wasserstein
    barycenter and its application to texture mixing, SSVM 2011; Bonneel, Rabin, Peyre, Pfister,
    Sliced and Radon Wasserstein barycenters of measures, J. Math. Imaging Vis. 51 (2015).
    """
    p = _check_p(p)
    x, y = _check_points("x", x), _check_points("y", y)
    _check_same_dim(x, y)
    a_w = None if a is None else _check_weights("a", a, x.shape[0], "x")
    b_w = None if b is None else _check_weights("b", b, y.shape[0], "y")
    d = x.shape[1]
    C.check_noise_or_rng(projections, rng, noise_name="projections")
    if n_projections is not None:
        n_projections = _check_int("n_projections", n_projections, 1)
    if projections is not None:
        theta = _unit_directions(projections, d)
        if n_projections is not None and n_projections != theta.shape[1]:
            raise ValueError(
                f"n_projections: expected None or {theta.shape[1]} (the number of columns of projections), "
                f"got {n_projections}"
            )
    else:
        L = DEFAULT_N_PROJECTIONS if n_projections is None else n_projections
        theta = _unit_directions(rng.standard_normal((d, L)), d)
    x_proj, y_proj = (x @ theta).T, (y @ theta).T  # (L, n), (L, m): one 1-D problem per direction
    w_pp = wasserstein_1d(x_proj, y_proj, p=p, u_weights=a_w, v_weights=b_w) ** p
    return float(_root(np.mean(w_pp), p))


# --------------------------------------------------------------------------- Gaussian W2 (Bures)


def _psd_violation(name: str, lam: np.ndarray) -> None:
    """ValueError if eigenvalues lam show a matrix that is clearly not positive semi-definite."""
    top = max(float(np.max(lam)), 0.0)
    if float(np.min(lam)) < -PSD_RTOL * top or (top == 0.0 and float(np.min(lam)) < 0.0):
        raise ValueError(
            f"{name}: expected a positive semi-definite covariance, got an eigenvalue {float(np.min(lam)):.3g} "
            f"below -{PSD_RTOL:g} x the largest ({top:.3g})"
        )


def _symmetric_sqrt_psd(name: str, Sigma: np.ndarray) -> np.ndarray:
    """Symmetric PSD square root V diag(sqrt(max(lambda, 0))) V^T from eigh."""
    lam, V = np.linalg.eigh(Sigma)
    _psd_violation(name, lam)
    return (V * np.sqrt(np.maximum(lam, 0.0))) @ V.T


def _bures_cross_term(Sigma_pi: np.ndarray, Sigma_p: np.ndarray) -> float:
    r"""tr (Sigma_pi^{1/2} Sigma_p Sigma_pi^{1/2})^{1/2} for one pair of d x d covariances.

    With :math:`\Sigma_\pi = L L^\top`, :math:`L^\top \Sigma_p L` is similar to
    :math:`\Sigma_\pi \Sigma_p` and to :math:`\Sigma_\pi^{1/2} \Sigma_p \Sigma_\pi^{1/2}`: the same
    eigenvalues, but a symmetric matrix, so ``eigvalsh`` applies. The trace is symmetric in the two
    covariances, so a singular Sigma_pi falls back to the Cholesky factor of Sigma_p; when both are
    singular, to the eigh square root R of Sigma_pi and the eigenvalues of R Sigma_p R.
    """
    try:
        L = np.linalg.cholesky(Sigma_pi)
        M, other = L.T @ Sigma_p @ L, "cov2"
    except np.linalg.LinAlgError:
        try:
            L = np.linalg.cholesky(Sigma_p)
            M, other = L.T @ Sigma_pi @ L, "cov1"
        except np.linalg.LinAlgError:
            R = _symmetric_sqrt_psd("cov1", Sigma_pi)
            _psd_violation("cov2", np.linalg.eigvalsh(Sigma_p))
            M, other = R @ Sigma_p @ R, "cov2"
    lam = np.linalg.eigvalsh(M)  # reads the lower triangle: M is symmetric up to rounding
    _psd_violation(other, lam)
    return float(np.sum(np.sqrt(np.maximum(lam, 0.0))))


def gaussian_w2(
    mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray, *, squared: bool = False
) -> np.ndarray:
    r"""W_2 between Gaussians N(mu1, cov1) and N(mu2, cov2) in closed form (the Bures metric), batched.

    .. math::

        W_2^2(\pi, p) = \|\mu_\pi - \mu_p\|^2 + \operatorname{tr}\Big[\Sigma_\pi + \Sigma_p
        - 2 \big(\Sigma_\pi^{1/2} \Sigma_p \Sigma_\pi^{1/2}\big)^{1/2}\Big].

    The trace of the matrix square root is :math:`\sum_k \sqrt{\lambda_k}` over the eigenvalues of the
    symmetric matrix :math:`L^\top \Sigma_p L`, :math:`\Sigma_\pi = L L^\top` (Cholesky): similar to
    :math:`\Sigma_\pi \Sigma_p`, so the same eigenvalues, found by a *symmetric* eigensolver. Never
    the eigenvalues of the non-symmetric product, never ``scipy.linalg.sqrtm``. Fallbacks, in order:
    if Cholesky of cov1 fails (singular, e.g. fewer samples than dimensions), the roles are swapped
    (the trace term is symmetric) and cov2 is factored; if both fail, the symmetric PSD square root
    :math:`R = V \operatorname{diag}(\sqrt{\max(\lambda, 0)}) V^\top` of cov1 (eigh) and the
    eigenvalues of :math:`R \Sigma_p R` are used.

    Guards: eigenvalues in :math:`[-10^{-6}\lambda_{\max}, 0)` are rounding of a PSD input and are
    clamped to 0 before the square root (below that: ValueError, not PSD). A computed eigenvalue
    within :math:`\delta` of its exact value changes its square root by at most :math:`\sqrt{\delta}`,
    clamped or not; for float64 covariances :math:`\delta \approx d \cdot 10^{-16} \lambda_{\max}`.
    Near :math:`W_2 = 0` the result is a difference of nearly equal traces and its error is absolute:
    the small eigenvalues of :math:`L^\top \Sigma_p L` carry an error of about
    :math:`\epsilon_{\text{mach}} \lambda_{\max}(L^\top \Sigma_p L)`, which their square roots turn
    into about :math:`d\, \epsilon_{\text{mach}}\, \kappa\, \lambda_{\max}` on :math:`W_2^2`
    (:math:`\kappa` the condition number of the covariances; 1e-12 for d = 4, kappa = 1e3, lambda_max = 1).
    The final :math:`W_2^2` is clamped at 0 (rounding can make it slightly negative for identical
    inputs); the clamp changes the result only where it would be negative, by less than that error.

    Parameters
    ----------
    mu1, mu2 : (..., d) array_like
        Means.
    cov1, cov2 : (..., d, d) array_like
        Symmetric positive semi-definite covariances. Batch axes of all four broadcast.
    squared : bool
        Return :math:`W_2^2` (FID is this, in feature space) instead of :math:`W_2`.

    Returns
    -------
    (...) ndarray
        W_2, or W_2^2 with ``squared=True``.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Wasserstein metric' (theorem) and slide 'Frechet Inception
    Distance'; Dowson and Landau, The Frechet distance between multivariate normal distributions,
    J. Multivariate Anal. 12 (1982); Bhatia, Jain, Lim, On the Bures-Wasserstein distance between
    positive definite matrices, Expo. Math. 37 (2019).
    """
    if not isinstance(squared, bool):
        raise TypeError(f"squared: expected a bool, got {C.describe(squared)}")
    mu1, mu2 = C.as_float64("mu1", mu1), C.as_float64("mu2", mu2)
    cov1, cov2 = C.as_float64("cov1", cov1), C.as_float64("cov2", cov2)
    C.check_ndim("mu1", mu1, 1)
    C.check_ndim("mu2", mu2, 1)
    C.check_finite("mu1", mu1)
    C.check_finite("mu2", mu2)
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        C.check_square(name, cov)
        C.check_finite(name, cov)
        C.check_symmetric(name, cov)
    d = mu1.shape[-1]
    for name, arr in (("mu2", mu2), ("cov1", cov1), ("cov2", cov2)):
        if arr.shape[-1] != d:
            raise ValueError(f"{name}: expected dimension d = {d} (from mu1), got shape {arr.shape}")
    batch = C.broadcast_batch(
        ("mu1", "cov1", "mu2", "cov2"), (mu1.shape[:-1], cov1.shape[:-2], mu2.shape[:-1], cov2.shape[:-2])
    )
    mu1, mu2 = np.broadcast_to(mu1, (*batch, d)), np.broadcast_to(mu2, (*batch, d))
    cov1, cov2 = np.broadcast_to(cov1, (*batch, d, d)), np.broadcast_to(cov2, (*batch, d, d))
    w2_squared = np.empty(batch)
    for k in np.ndindex(*batch):
        Sigma_pi, Sigma_p = cov1[k], cov2[k]
        mean_term = float(np.sum((mu1[k] - mu2[k]) ** 2))
        trace_term = np.trace(Sigma_pi) + np.trace(Sigma_p) - 2.0 * _bures_cross_term(Sigma_pi, Sigma_p)
        w2_squared[k] = max(mean_term + trace_term, 0.0)
    return w2_squared if squared else np.sqrt(w2_squared)
