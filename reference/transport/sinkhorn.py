r"""Entropic optimal transport: log-domain Sinkhorn with epsilon-scaling, and the debiased Sinkhorn divergence.

Slides: Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance' (the transport plans gamma in
Gamma(pi, p), here regularised by eps KL(gamma | a b^T)) and slide 'Wasserstein metric' (W_p^p, the
limit of the Sinkhorn divergence as eps -> 0). Cuturi 2013; Genevay et al. 2018; Feydy et al. 2019.
"""

from __future__ import annotations

import math
import warnings
from typing import NamedTuple

import numpy as np

from reference._args import flag
from reference._args import transport as S
from reference._args.transport import DEFAULT_CHECK_EVERY, DEFAULT_MAX_ITER, DEFAULT_OVERRELAXATION, DEFAULT_SCALING

from ._common import _check_clouds, _ground_cost

__all__ = ["SinkhornConvergenceWarning", "SinkhornResult", "sinkhorn", "sinkhorn_divergence"]

DEFAULT_TOL = 1e-9  # L1 marginal error; float64 inputs (the accelerated side: 1e-5 below float64)


class SinkhornConvergenceWarning(RuntimeWarning):
    """Sinkhorn stopped at ``max_iter`` with a marginal error above ``tol``.

    Examples
    --------
    One iteration at a small epsilon leaves the marginals far off: the run says so and warns:

    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = sinkhorn(np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]]), epsilon=0.01, max_iter=1)
    >>> result.converged, caught[0].category.__name__
    (False, 'SinkhornConvergenceWarning')
    """


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn` (the same fields on both sides).

    Examples
    --------
    One point against one point: the only plan is P = [[1]] (the whole mass, by hand):

    >>> sinkhorn(np.array([[0.0]]), np.array([[3.0]]), epsilon=0.1, return_plan=True).plan.tolist()
    [[1.0]]
    """

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


def _logsumexp(z: np.ndarray, axis: int) -> np.ndarray:
    r"""log sum exp of a 2-D ``z`` along ``axis``, shifted by the (finite) maximum: :math:`m + \log \sum_k e^{z_k - m}`.

    The formula of ``torch.logsumexp`` (and of ``scipy.special.logsumexp`` up to rounding), written
    out: scipy's array-API dispatch costs about ten times the arithmetic on the small matrices of
    a Sinkhorn iteration, which runs it twice per iteration for up to ``max_iter`` iterations.
    Entries -inf (points without mass) contribute 0; every row has a finite entry (the weights sum to 1).
    """
    m = z.max(axis=axis, keepdims=True)  # methods, not np.max / np.sum: half the call overhead
    return np.log(np.exp(z - m).sum(axis=axis)) + m.reshape(-1)  # (2-D z: m is one row or one column)


def _update_f(g: np.ndarray, log_b: np.ndarray, Cost: np.ndarray, eps: float) -> np.ndarray:
    r"""Sinkhorn update of f: :math:`f_i = -\varepsilon \log \sum_j b_j \exp((g_j - C_{ij})/\varepsilon)`."""
    return -eps * _logsumexp(log_b[None, :] + (g[None, :] - Cost) / eps, axis=1)


def _update_g(f: np.ndarray, log_a: np.ndarray, Cost: np.ndarray, eps: float) -> np.ndarray:
    r"""Sinkhorn update of g: :math:`g_j = -\varepsilon \log \sum_i a_i \exp((f_i - C_{ij})/\varepsilon)`."""
    return -eps * _logsumexp(log_a[:, None] + (f[:, None] - Cost) / eps, axis=0)


def _plan(f: np.ndarray, g: np.ndarray, log_a: np.ndarray, log_b: np.ndarray, Cost: np.ndarray, eps: float):
    r"""P_ij = a_i b_j exp((f_i + g_j - C_ij) / eps)."""
    return np.exp(log_a[:, None] + log_b[None, :] + (f[:, None] + g[None, :] - Cost) / eps)


def _marginal_error(P: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float(np.sum(np.abs(P.sum(axis=1) - a)) + np.sum(np.abs(P.sum(axis=0) - b)))


def _diameter(x: np.ndarray, y: np.ndarray, p: float, epsilon: float) -> float:
    """Upper bound on max C_ij: the diagonal of the common bounding box, to the power p.

    Checked by :func:`reference._args.transport.cost_scale`: an overflowing cost, or an epsilon below
    the float64 resolution of the cost, is a ValueError (see the Notes of :func:`sinkhorn`).
    """
    both = np.concatenate([x, y], axis=0)
    with np.errstate(over="ignore"):
        squared = float(np.sum((both.max(axis=0) - both.min(axis=0)) ** 2))
        diameter = float(np.sqrt(squared) ** p)
    info = np.finfo(np.float64)
    return S.cost_scale(squared, diameter, p, epsilon, float(info.max), float(info.eps))


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
        g_j = -\varepsilon \log \sum_i a_i e^{(f_i - C_{ij})/\varepsilon}.

    The iteration, identical on both sides:

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

    Notes
    -----
    The updates are log-sum-exp reductions: no kernel :math:`e^{-C/\varepsilon}` is formed, so any
    epsilon > 0 is safe from under- and overflow. A point of weight 0 has log-weight -inf and never
    receives mass; its terms are left out of the dual value.

    Refused with a ValueError before any iteration, on both sides alike (the checks of
    :func:`reference._args.transport.cost_scale`, against the float64 of this side): squared distances
    that overflow, i.e. a squared diagonal of the common bounding box above the largest float
    (``x and y``), a cost bound :math:`D` = diagonal^p that overflows (``p``), and an ``epsilon`` below
    :math:`D \cdot 2^{-52}`, where the exponents :math:`(f_i + g_j - C_{ij})/\varepsilon` round by more
    than 1 and the plan is rounding noise (such runs used to stall far from the marginals). The
    annealing has at most 100000 stages (``epsilon_scaling`` closer to 1 is refused).

    References
    ----------
    Isachenko, DGM Lecture 7, recap slide 'Wasserstein distance' (the plans gamma in Gamma(pi, p));
    Cuturi, Sinkhorn distances, NeurIPS 2013; Schmitzer, Stabilized sparse scaling algorithms for
    entropy regularized transport problems, SIAM J. Sci. Comput. 41 (2019) (log domain,
    epsilon-scaling); Thibault, Chizat, Dossal, Papadakis, Overrelaxed Sinkhorn-Knopp algorithm for
    regularized optimal transport (2017); Peyre and Cuturi, Computational Optimal Transport (2019), 4.

    Examples
    --------
    One point against one point: the only plan moves all the mass by 3, so <P, C> = 3^2 = 9 (by hand):

    >>> round(sinkhorn(np.array([[0.0]]), np.array([[3.0]]), epsilon=0.1).cost, 9)
    9.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p, uniform=True)
    options = S.sinkhorn_options(epsilon, tol, max_iter, epsilon_scaling, overrelaxation, check_every, DEFAULT_TOL)
    flags = flag("return_plan", return_plan), flag("return_potentials", return_potentials)
    return _sinkhorn(x, y, a, b, p, options, *flags)


def _sinkhorn(x, y, a, b, p, options: S.SinkhornOptions, return_plan, return_potentials) -> SinkhornResult:
    """:func:`sinkhorn` on checked inputs (uniform weights filled in)."""
    epsilon, tol, max_iter, epsilon_scaling, omega, check_every = options
    schedule = S.epsilon_schedule(_diameter(x, y, p, epsilon), epsilon, epsilon_scaling)  # checks the scale first
    Cost = _ground_cost(x, y, p)
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


def _symmetric_entropic_cost(x, a, p, options: S.SinkhornOptions) -> float:
    r"""OT_eps(alpha, alpha) = 2 <f, a> at the symmetric fixed point f = T_a(f).

    The alternating iteration is very slow on this problem (its plan is close to the identity and the
    potentials of different points are coupled only through entries of size exp(-C/eps)); the averaged
    symmetric update converges in a few iterations. Same annealing, check cadence and tolerance as
    :func:`sinkhorn` (no over-relaxation: the average is already a relaxation with omega = 1/2).
    """
    epsilon, tol, max_iter, epsilon_scaling, _, check_every = options
    schedule = S.epsilon_schedule(_diameter(x, x, p, epsilon), epsilon, epsilon_scaling)
    Cost = _ground_cost(x, x, p)
    log_a = _log_weights(a)
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
    :math:`\varepsilon \to \infty`.

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

    Notes
    -----
    The cross term is solved by the iteration of :func:`sinkhorn` with the given options; the two
    symmetric terms by the averaged update :math:`f \leftarrow \tfrac12(f + T_a(f))` (Feydy et al.
    2019), which converges in a few iterations where the alternating one crawls (the plan of a measure
    with itself is nearly the identity). When (x, a) and (y, b) are identical the three problems are
    one and 0 is returned exactly. A SinkhornConvergenceWarning is issued if a problem does not
    converge; near-identical but different inputs at small epsilon are the slow case. The cost scale
    and epsilon are checked as in :func:`sinkhorn` (a ValueError for an overflowing cost or an epsilon
    below the resolution of the cost).

    References
    ----------
    Genevay, Peyre, Cuturi, Learning generative models with Sinkhorn divergences, AISTATS 2018;
    Feydy, Sejourne, Vialard, Amari, Trouve, Peyre, Interpolating between optimal transport and MMD
    using Sinkhorn divergences, AISTATS 2019, Thm 1 (beyond the slides: its eps -> 0 limit is the W_p^p
    of Isachenko, DGM Lecture 7, slide 'Wasserstein metric').

    Examples
    --------
    The entropic bias cancels: S_eps(alpha, alpha) = 0, exactly (Feydy et al. 2019):

    >>> x = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> sinkhorn_divergence(x, x, epsilon=0.1)
    0.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p, uniform=True)
    options = S.sinkhorn_options(epsilon, tol, max_iter, epsilon_scaling, overrelaxation, check_every, DEFAULT_TOL)
    ot_xx = _symmetric_entropic_cost(x, a, p, options)
    if x.shape == y.shape and np.array_equal(x, y) and np.array_equal(a, b):
        return ot_xx - 0.5 * ot_xx - 0.5 * ot_xx  # alpha = beta: the three problems are one; exactly 0
    ot_yy = _symmetric_entropic_cost(y, b, p, options)
    ot_xy = _sinkhorn(x, y, a, b, p, options, False, False)
    return ot_xy.entropic_cost - 0.5 * ot_xx - 0.5 * ot_yy
