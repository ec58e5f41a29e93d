r"""Entropic OT in PyTorch: Sinkhorn with epsilon-scaling (log-domain safe) and the Sinkhorn divergence.

Same formulas and iteration as :mod:`reference.transport.sinkhorn` (Isachenko, DGM Lecture 7, recap
slide 'Wasserstein distance', the plans gamma in Gamma(pi, p), and slide 'Wasserstein metric').

``sinkhorn`` runs without autograd in the input dtype as *stabilised-kernel* iterations (the private
``_solver``): the log-domain iteration of the reference step for step, so the two agree to rounding.
The host is read once per annealing and once every ``check_every`` iterations (marginal error and
scaling size, one small tensor), never per iteration. Gradients: ``entropic_cost`` carries the
envelope gradient dOT_eps/dC = P, dOT_eps/da = f, dOT_eps/db = g (exact at convergence); ``cost`` =
<P, C> carries its exact gradient with respect to C, :math:`P - \varepsilon\, \partial_\varepsilon P`,
by the implicit-function formula of ``_solver._linear_cost_gradient`` (one conjugate-gradient solve),
so both match finite differences at a converged solution. Plan and potentials are returned detached.
``tol=None`` means 1e-9 for float64 inputs and 1e-5 for lower precision (the float32 marginal error
stalls near 1e-7).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import torch

from reference._args import flag
from reference._args import transport as S
from reference._args.transport import DEFAULT_CHECK_EVERY, DEFAULT_MAX_ITER, DEFAULT_OVERRELAXATION, DEFAULT_SCALING

from ._common import F64, _check_clouds, _ground_cost
from ._solver import _linear_cost_gradient, _log_weights, _sinkhorn_solve, _update_f

__all__ = ["SinkhornConvergenceWarning", "SinkhornResult", "sinkhorn", "sinkhorn_divergence"]

DEFAULT_TOL = {torch.float64: 1e-9}
DEFAULT_TOL_LOW_PRECISION = 1e-5


class SinkhornConvergenceWarning(RuntimeWarning):
    """Sinkhorn stopped at ``max_iter`` with a marginal error above ``tol``.

    Examples
    --------
    One iteration at a small epsilon leaves the marginals far off: the run says so and warns:

    >>> import warnings
    >>> x, y = torch.tensor([[0.0], [1.0]]), torch.tensor([[0.0], [2.0]])
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     result = sinkhorn(x, y, epsilon=0.01, max_iter=1)
    >>> result.converged, caught[0].category.__name__
    (False, 'SinkhornConvergenceWarning')
    """


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn` (the same fields as :class:`reference.transport.SinkhornResult`).

    Examples
    --------
    One point against one point: the only plan is P = [[1]] (the whole mass, by hand):

    >>> x, y = torch.tensor([[0.0]]), torch.tensor([[3.0]])
    >>> sinkhorn(x, y, epsilon=0.1, return_plan=True).plan.tolist()
    [[1.0]]
    """

    cost: torch.Tensor
    """() <P, C>, the transport cost of the entropic plan (no entropy term), input dtype."""
    entropic_cost: torch.Tensor
    """() OT_eps = <P, C> + eps KL(P | a b^T) (dual value at the returned potentials), input dtype."""
    marginal_error: torch.Tensor
    """() float64: ||P 1 - a||_1 + ||P^T 1 - b||_1 at the returned potentials."""
    n_iter: int
    """Iterations run, annealing included."""
    converged: bool
    """marginal_error <= tol (False with tol = 0)."""
    plan: torch.Tensor | None
    """(n, m) plan (detached) with return_plan=True, else None."""
    f: torch.Tensor | None
    """(n,) potential (detached) with return_potentials=True, else None."""
    g: torch.Tensor | None
    """(m,) potential (detached) with return_potentials=True, else None."""


def _diameter(x: torch.Tensor, y: torch.Tensor, p: float, epsilon: float) -> float:
    """Diagonal of the common bounding box to the power p (host float64; one small host read).

    Checked by :func:`reference._args.transport.cost_scale` against the largest float and the
    resolution of the input dtype (see the Notes of :func:`sinkhorn`).
    """
    lo = torch.minimum(x.detach().min(0).values, y.detach().min(0).values)
    hi = torch.maximum(x.detach().max(0).values, y.detach().max(0).values)
    box = np.asarray(torch.stack([lo, hi]).to("cpu", F64).numpy())
    with np.errstate(over="ignore"):
        squared = float(np.sum((box[1] - box[0]) ** 2))
        diameter = float(np.sqrt(squared) ** p)
    info = torch.finfo(x.dtype)
    return S.cost_scale(squared, diameter, p, epsilon, float(info.max), float(info.eps))


def _default_tol(dtype: torch.dtype) -> float:
    """``tol=None``: 1e-9 for float64 inputs, 1e-5 below (the float32 marginal error stalls near 1e-7)."""
    return DEFAULT_TOL.get(dtype, DEFAULT_TOL_LOW_PRECISION)


def _sinkhorn(x, y, a, b, p, options: S.SinkhornOptions, return_plan, return_potentials) -> SinkhornResult:
    """:func:`sinkhorn` on checked inputs (uniform weights filled in)."""
    epsilon, tol, max_iter, epsilon_scaling, omega, check_every = options
    schedule = S.epsilon_schedule(_diameter(x, y, p, epsilon), epsilon, epsilon_scaling)  # checks the scale first
    cost = _ground_cost(x, y, p)
    cost_fixed = cost.detach()
    with torch.no_grad():
        sol = _sinkhorn_solve(cost_fixed, a.detach(), b.detach(), schedule, tol, max_iter, omega, check_every)
    converged = bool(tol > 0 and float(sol.error) <= tol)
    if tol > 0 and not converged:
        warnings.warn(
            f"sinkhorn: not converged after {sol.n_iter} iterations (marginal error {float(sol.error):.3g} > tol "
            f"{tol:g}); raise max_iter or epsilon, or lower epsilon_scaling",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    P, f, g = sol.plan, sol.f, sol.g
    P64 = P.to(F64)
    cost_value = (P64 * cost_fixed.to(F64)).sum()
    a_fixed, b_fixed = a.detach(), b.detach()
    dual_value = (a_fixed.to(F64) * f.to(F64)).sum() + (b_fixed.to(F64) * g.to(F64)).sum() - epsilon * (P64.sum() - 1.0)
    # Gradients by surrogates whose value is 0 and whose derivative is the right one (see the module doc).
    if torch.is_grad_enabled() and (cost.requires_grad or a.requires_grad or b.requires_grad):
        delta_cost = (cost - cost_fixed).to(F64)
        entropic = (
            dual_value
            + (P64 * delta_cost).sum()
            + ((a - a_fixed).to(F64) * f.to(F64)).sum()
            + ((b - b_fixed).to(F64) * g.to(F64)).sum()
        )
        if cost.requires_grad:
            G = _linear_cost_gradient(P, cost_fixed, f, g, epsilon)
            cost_value = cost_value + (G * delta_cost).sum()
    else:
        entropic = dual_value
    return SinkhornResult(
        cost=cost_value.to(x.dtype),
        entropic_cost=entropic.to(x.dtype),
        marginal_error=sol.error,
        n_iter=sol.n_iter,
        converged=converged,
        plan=P if return_plan else None,
        f=f if return_potentials else None,
        g=g if return_potentials else None,
    )


def sinkhorn(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    epsilon_scaling: float | None = DEFAULT_SCALING,
    overrelaxation: float = DEFAULT_OVERRELAXATION,
    check_every: int = DEFAULT_CHECK_EVERY,
    return_plan: bool = False,
    return_potentials: bool = False,
) -> SinkhornResult:
    r"""Entropic OT by Sinkhorn with epsilon-scaling, log-domain safe (see :func:`reference.transport.sinkhorn`).

    .. math::

        \mathrm{OT}_\varepsilon = \min_{P \in \Gamma(a, b)} \langle P, C\rangle
        + \varepsilon \mathrm{KL}(P \,\|\, a b^\top), \quad
        P_{ij} = a_i b_j e^{(f_i + g_j - C_{ij})/\varepsilon}.

    Same iteration as the reference (annealing epsilon_k = D s^k with one update per stage, then
    over-relaxed alternating updates with the same safeguard and the same checks every
    ``check_every`` iterations).

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    epsilon : float > 0
        In the units of C (squared distance for p = 2).
    p : float >= 1
    a, b : (n,) and (m,) Tensor, optional
        Weights on the simplex (``None``: uniform). One dtype and device for all tensors.
    max_iter, tol, epsilon_scaling, overrelaxation, check_every, return_plan, return_potentials
        As in the reference; ``tol=None`` is 1e-9 for float64 inputs and 1e-5 otherwise.

    Returns
    -------
    SinkhornResult
        ``cost`` = <P, C> and ``entropic_cost`` = OT_eps as () tensors in the input dtype (accumulated
        in float64), ``marginal_error`` a () float64 tensor, ``n_iter``, ``converged``, and the
        detached ``plan`` (n, m), ``f`` (n,), ``g`` (m,) when asked for.

    Notes
    -----
    The final stage runs as stabilised-kernel matrix-vector products (the private ``_solver``), redone
    in the log domain where a value over- or underflows. No autograd inside the loop; gradients by the
    envelope theorem (``entropic_cost``: dOT_eps/dC = P, dOT_eps/da = f, dOT_eps/db = g) and by the
    implicit-function formula of ``_solver._linear_cost_gradient`` (``cost``, with respect to x and y;
    the weights are held constant there), exact at convergence.

    As in the reference, a ValueError before any iteration for squared distances or a cost bound D
    (bounding-box diagonal^p) above the largest float of the input dtype, and for an ``epsilon`` below
    D times its resolution (``torch.finfo(dtype).eps``: 1.2e-7 in float32, where such runs returned an
    inf cost); so float32 data refuses a small epsilon that float64 still runs. At most 100000
    annealing stages.

    Examples
    --------
    One point against one point: the only plan moves all the mass by 3, so <P, C> = 3^2 = 9 (by hand):

    >>> x, y = torch.tensor([[0.0]], dtype=torch.float64), torch.tensor([[3.0]], dtype=torch.float64)
    >>> round(float(sinkhorn(x, y, epsilon=0.1).cost), 9)
    9.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p, uniform=True)
    options = S.sinkhorn_options(
        epsilon, tol, max_iter, epsilon_scaling, overrelaxation, check_every, _default_tol(x.dtype)
    )
    flags = flag("return_plan", return_plan), flag("return_potentials", return_potentials)
    return _sinkhorn(x, y, a, b, p, options, *flags)


def _symmetric_entropic_cost(x, a, p, options: S.SinkhornOptions) -> torch.Tensor:
    """OT_eps(alpha, alpha) = 2 <f, a> - eps (sum P - 1) at the symmetric fixed point, in float64 (with grad)."""
    epsilon, tol, max_iter, epsilon_scaling, _, check_every = options
    schedule = S.epsilon_schedule(_diameter(x, x, p, epsilon), epsilon, epsilon_scaling)
    cost = _ground_cost(x, x, p)
    cost_fixed = cost.detach()
    log_a = _log_weights(a.detach())

    with torch.no_grad():
        f = torch.zeros_like(a)
        for eps_k in schedule[:-1]:
            f = 0.5 * (f + _update_f(f, log_a, cost_fixed, eps_k))
        for i in range(1, max_iter + 1):
            f = 0.5 * (f + _update_f(f, log_a, cost_fixed, epsilon))
            if tol > 0 and i % check_every == 0:
                P = torch.exp(log_a.unsqueeze(-1) + log_a + (f.unsqueeze(-1) + f - cost_fixed) / epsilon)
                if float(2 * (P.sum(-1) - a).abs().sum(dtype=F64)) <= tol:
                    break
        P = torch.exp(log_a.unsqueeze(-1) + log_a + (f.unsqueeze(-1) + f - cost_fixed) / epsilon)
        error = float((P.sum(-1) - a).abs().sum(dtype=F64) + (P.sum(-2) - a).abs().sum(dtype=F64))
    if tol > 0 and error > tol:
        warnings.warn(
            f"sinkhorn_divergence: the symmetric problem did not converge (marginal error {error:.3g} > tol {tol:g})",
            SinkhornConvergenceWarning,
            stacklevel=3,
        )
    P64, f64 = P.to(F64), f.to(F64)
    value = 2.0 * (a.detach().to(F64) * f64).sum() - epsilon * (P64.sum() - 1.0)
    if torch.is_grad_enabled() and (cost.requires_grad or a.requires_grad):
        value = value + (P64 * (cost - cost_fixed).to(F64)).sum() + 2.0 * ((a - a.detach()).to(F64) * f64).sum()
    return value


def sinkhorn_divergence(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epsilon: float,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    max_iter: int = DEFAULT_MAX_ITER,
    tol: float | None = None,
    epsilon_scaling: float | None = DEFAULT_SCALING,
    overrelaxation: float = DEFAULT_OVERRELAXATION,
    check_every: int = DEFAULT_CHECK_EVERY,
) -> torch.Tensor:
    r"""Debiased Sinkhorn divergence (see :func:`reference.transport.sinkhorn_divergence`).

    .. math::

        S_\varepsilon(\alpha, \beta) = \mathrm{OT}_\varepsilon(\alpha, \beta)
        - \tfrac12 \mathrm{OT}_\varepsilon(\alpha, \alpha) - \tfrac12 \mathrm{OT}_\varepsilon(\beta, \beta),

    with the regularised :math:`\mathrm{OT}_\varepsilon` (``entropic_cost`` of :func:`sinkhorn`).
    Non-negative for 1 <= p <= 2. Differentiable in x, y, a, b (envelope gradients of the three terms).

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    epsilon, p, a, b, max_iter, tol, epsilon_scaling, overrelaxation, check_every
        As in :func:`sinkhorn`.

    Returns
    -------
    () Tensor
        :math:`S_\varepsilon` in the input dtype (accumulated in float64).

    Notes
    -----
    The symmetric terms are solved by the averaged symmetric update, as in the reference, and the
    result is exactly 0 when (x, a) and (y, b) are equal (one host comparison). The cost scale and
    epsilon are checked as in :func:`sinkhorn`.

    Examples
    --------
    The entropic bias cancels: S_eps(alpha, alpha) = 0, exactly (Feydy et al. 2019):

    >>> x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    >>> float(sinkhorn_divergence(x, x, epsilon=0.1))
    0.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p, uniform=True)
    options = S.sinkhorn_options(
        epsilon, tol, max_iter, epsilon_scaling, overrelaxation, check_every, _default_tol(x.dtype)
    )
    ot_xx = _symmetric_entropic_cost(x, a, p, options)
    if x.shape == y.shape and torch.equal(x, y) and torch.equal(a, b):
        return (ot_xx - 0.5 * ot_xx - 0.5 * ot_xx).to(x.dtype)  # alpha = beta: exactly 0
    ot_yy = _symmetric_entropic_cost(y, b, p, options)
    ot_xy = _sinkhorn(x, y, a, b, p, options, False, False).entropic_cost
    return (ot_xy.to(F64) - 0.5 * ot_xx - 0.5 * ot_yy).to(x.dtype)
