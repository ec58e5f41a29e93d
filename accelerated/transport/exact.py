r"""Exact discrete optimal transport in R^d in PyTorch; the plan by a network simplex on the host.

Same formula as :mod:`reference.transport.exact` (Isachenko, DGM Lecture 7, recap slide 'Wasserstein
distance' and slide 'Wasserstein metric'). Exact OT is a combinatorial problem (an assignment or a
linear program) without a GPU solver here: the cost matrix is built in float64 with torch, copied to the
host, and solved by POT's network simplex (``ot.emd``, the optional dependency ``pip install pot``), or,
where POT is not installed, by SciPy (``linear_sum_assignment`` / ``linprog`` with HiGHS) as on the
reference side. The result is a tensor on the inputs' device, differentiable in x and y through the cost of the
optimal plan (the plan is held constant: by the envelope theorem this is the gradient wherever the
optimal plan is unique, and a subgradient otherwise).
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings

import numpy as np
import torch
from scipy import optimize, sparse

from reference._args import transport as S

from .. import _checks as C
from ._common import F64, _check_clouds, _safe_root

__all__ = ["wasserstein"]


def _pot_emd():
    """POT's network simplex ``ot.emd``, or ``None`` where POT is not installed (imported once, on first use).

    The weights are checked and renormalised here, and the dual potentials are not used, so POT is asked
    to skip both (``check_marginals``, ``center_dual``: POT >= 0.9.3, the extras' pin); an older POT is
    called without them.
    """
    global _EMD
    if _EMD is _UNSET:
        try:
            from ot.lp import emd
        except ImportError:  # the SciPy path (see wasserstein's Notes)
            emd = None
        if emd is not None and {"check_marginals", "center_dual"} <= set(inspect.signature(emd).parameters):
            emd = functools.partial(emd, check_marginals=False, center_dual=False)
        _EMD = emd
    return _EMD


_UNSET = object()
_EMD: object = _UNSET


def _max_iter(n: int, m: int) -> int:
    """Pivot budget of the network simplex: POT's default 100_000 ran out at n = m = 2000 after 50_000."""
    return max(1_000_000, 1000 * (n + m))


def _support(plan: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows, columns and masses of the positive entries of a dense (n, m) plan (torch's nonzero: about
    five times NumPy's on a 2000 x 2000 plan, the scan that a dense solver output cannot avoid)."""
    rows, cols = torch.from_numpy(plan).nonzero().unbind(1)
    rows, cols = rows.numpy(), cols.numpy()
    return rows, cols, np.maximum(plan[rows, cols], 0.0)


def _host_optimal_plan(
    cost: np.ndarray, a: np.ndarray | None, b: np.ndarray | None, *, support: bool = True
) -> tuple[float, tuple[np.ndarray, np.ndarray, np.ndarray] | None]:
    """The optimal cost min <gamma, C> over Gamma(a, b) and, with ``support``, the support
    ``(rows, cols, masses)`` of an optimal plan, on the host (float64): POT's network simplex, else SciPy
    (the assignment problem for a = b = None and n = m, else the LP by HiGHS). ``cost``: C-contiguous
    float64, scaled into [0, 1) by the caller (HiGHS takes costs above 1e20 for infinite); ``a``, ``b``:
    weights summing to 1, or ``None`` (uniform). POT's cost is its own sum over the plan's flows; the
    support then costs a scan of the dense plan, so it is skipped where no gradient is wanted."""
    n, m = cost.shape
    emd = _pot_emd()
    if emd is None and a is None and b is None and n == m:
        rows, cols = optimize.linear_sum_assignment(cost)
        return float(cost[rows, cols].sum()) / n, (rows, cols, np.full(n, 1.0 / n))
    a = np.full(n, 1.0 / n) if a is None else a
    b = np.full(m, 1.0 / m) if b is None else b
    if emd is not None:
        with warnings.catch_warnings():  # POT warns where it stops early; that is an error here
            warnings.simplefilter("ignore", UserWarning)
            plan, log = emd(a, b, cost, numItermax=_max_iter(n, m), log=True)  # see _pot_emd for the rest
        if log["result_code"] != 1:  # 1: optimal; 0 infeasible, 2 unbounded, 3 pivot budget spent
            raise RuntimeError(
                f"ot.emd (POT's network simplex) did not reach the optimum on the {n} x {m} transport problem: "
                f"{log['warning']} (result code {log['result_code']})"
            )
        return float(log["cost"]), (_support(plan) if support else None)
    # Row-sum equations for all i, column-sum equations for j < m - 1 (the last one is implied).
    rows = sparse.kron(sparse.eye(n), np.ones((1, m)))
    cols = sparse.kron(np.ones((1, n)), sparse.eye(m)).tocsr()[: m - 1]
    A_eq = sparse.vstack([rows, cols]).tocsc()
    b_eq = np.concatenate([a, b[: m - 1]])
    # As the reference: HiGHS's interior point with crossover at feasibility tolerances 1e-10 (its dual
    # simplex at the default 1e-7 stopped up to 2e-5 above the optimum on weighted problems).
    options = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}
    result = optimize.linprog(cost.ravel(), A_eq=A_eq, b_eq=b_eq, bounds=(0, None), method="highs-ipm", options=options)
    if result.status != 0:  # pragma: no cover - the transport LP is always feasible and bounded
        raise RuntimeError(f"linprog (HiGHS) failed on the transport LP: {result.message}")
    rows, cols, masses = _support(np.ascontiguousarray(result.x.reshape(n, m)))
    return float(np.sum(masses * cost[rows, cols])), (rows, cols, masses)


def _pow2(z: torch.Tensor, e: int) -> torch.Tensor:
    """z * 2^e in two exact steps (2^e alone can overflow or underflow for |e| > 1022)."""
    return z * 2.0 ** (e // 2) * 2.0 ** (e - e // 2)


def _scale_exponents(x: torch.Tensor, y: torch.Tensor) -> int | None:
    """``s`` with max |x_ic - y_jc| / 2^s in [1/2, 1), from the extremes of each coordinate (None if x = y).

    Rounding is monotone, so the largest rounded difference is the rounded difference of the extremes;
    the coordinates are halved first if the data reach 2^1022 (x_ic - y_jc could overflow).
    """
    # The per-coordinate extremes of both clouds in one host read (4 x d numbers), the rest in NumPy's
    # float64, which rounds as torch's does.
    lo_hi = torch.stack([*x.aminmax(dim=0), *y.aminmax(dim=0)]).cpu().numpy()
    half = 0.5 if float(np.abs(lo_hi).max()) >= 2.0**1022 else 1.0
    x_lo, x_hi, y_lo, y_hi = lo_hi * half
    top = float(np.maximum(x_hi - y_lo, y_hi - x_lo).max())
    if top == 0.0:
        return None
    return math.frexp(top)[1] + (1 if half == 0.5 else 0)


def wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Exact W_p between discrete measures in R^d (cost ||x - y||^p); plan by a network simplex on the host.

    .. math::

        W_p = \Big( \min_{\gamma \in \Gamma(a, b)} \sum_{ij} \gamma_{ij} \|x_i - y_j\|^p \Big)^{1/p}.

    Solver: POT's network simplex ``ot.emd`` where POT is installed (``pip install pot``); else, as in
    :func:`reference.transport.wasserstein`, the assignment problem (``linear_sum_assignment``) for
    ``a = b = None`` and n = m and the transport LP by ``linprog`` with HiGHS (interior point and crossover).

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    p : float >= 1
        Order (the ground cost is ||x - y||^p). The slides' W and WGAN's critic objective are W_1
        (p = 1); the default p = 2 is the W_2 of the Gaussian closed form and of FID. Pass ``p=1`` for
        the slides' distance.
    a, b : (n,) and (m,) Tensor, optional
        Weights on the simplex (``None``: uniform). One dtype and device for all inputs.

    Returns
    -------
    () Tensor
        W_p in the input dtype, on the input device.

    Notes
    -----
    With POT the plan is a vertex of the transport polytope, found to the rounding of float64 (the
    HiGHS fallback stops within its feasibility tolerances, about 1e-7 relative on weighted problems);
    POT is imported on the first call (about 2 s) and runs with a pivot budget of
    max(10^6, 1000 (n + m)); a run that spends it is a RuntimeError. Without POT the SciPy path runs,
    silently (no warning), 2-40x slower on large problems. The cost matrix is formed in float64 on the
    device (no graph) and copied to the host for the solver. Where x or y requires a gradient, the
    optimal cost :math:`\langle \gamma^*, C\rangle` is evaluated again on the device over the plan's support,
    and gradients flow to x and y with the plan held constant (envelope theorem); otherwise W_p is the
    solver's own optimal cost (its sum over the plan's flows), which spares the scan of the dense plan.
    At W_p = 0 the root has gradient 0. The weights are renormalised in float64 on the host (float16
    weights made the LP infeasible). As in
    the reference, the problem is solved on the cost :math:`(\|x_i - y_j\| / 2^k)^p` in [0, 1), with
    2^k the power of two above the largest distance, built from differences scaled by powers of two
    before they are squared (exact: no overflow at 1e300, no underflow at 1e-200), and
    :math:`W_p = 2^k (\sum_{ij} \gamma_{ij} (\|x_i - y_j\| / 2^k)^p)^{1/p}`. An entry whose p-th power
    underflows float64 and decides the result (a large p with distances of very different scales) is
    a ValueError naming p; a W_p above the largest float of the input dtype is a ValueError naming x
    and y (the result overflowed), on both sides alike (see :func:`reference.transport.wasserstein`).

    Examples
    --------
    The bottom corners of the unit square against the top corners: every point moves by 1, W_2 = 1:

    >>> float(wasserstein(torch.tensor([[0.0, 0.0], [1.0, 0.0]]), torch.tensor([[0.0, 1.0], [1.0, 1.0]])))
    1.0
    """
    x, y, a, b, p = _check_clouds(x, y, a, b, p)
    x64, y64 = x.to(F64), y.to(F64)
    with torch.no_grad():  # the dense cost, for the solver only (no graph over n x m entries)
        s = _scale_exponents(x64, y64)
        s = 0 if s is None else s
        xs, ys = _pow2(x64, -s), _pow2(y64, -s)
        D = torch.cdist(xs, ys, compute_mode="donot_use_mm_for_euclid_dist")
        top = float(D.max())  # max ||x_i - y_j|| / 2^s; rounding is monotone, so top^2 = max D_ij^2
        e2 = (math.frexp(top * top)[1] + 1) // 2  # max D^2 / 4^e2 in [1/4, 1) (or D = 0)
        # (||x_i - y_j|| / 2^k)^p, k = s + e2, in [0, 1): in place for p = 2 (no second n x m array).
        cost = D.square_().mul_(4.0**-e2) if p == 2.0 else (D * 2.0**-e2) ** p
    k = s + e2
    # Weights renormalised in float64 on the host: float16 weights pass the simplex check with their
    # own rounding, but totals that differ by 1e-3 make the transport LP infeasible.
    host = [None if w is None else w.detach().to("cpu", F64).numpy() for w in (a, b)]
    host = [None if w is None else w / w.sum() for w in host]
    cost_host = cost.cpu().numpy()
    grad = torch.is_grad_enabled() and (x.requires_grad or y.requires_grad)
    total, plan = _host_optimal_plan(cost_host, host[0], host[1], support=grad)
    if total < S.RESOLVED_TOTAL:  # rare: tiny scaled costs; D still holds the distances where p != 2
        Q_host = cost_host if p == 2.0 else (D * D * 4.0**-e2).cpu().numpy()
        tiny = np.finfo(np.float64).tiny
        S.check_cost_resolved(total, int(np.count_nonzero((Q_host >= S.NEGLIGIBLE_Q) & (cost_host < tiny))), p)
    if not grad:  # the solver's optimal cost
        out = _pow2(_safe_root(torch.tensor(total, dtype=F64, device=x.device), p), k).to(x.dtype)
        return C.check_result(out, [("x", x), ("y", y)])
    # The optimal cost on the device, differentiable, over the plan's support only (the plan is constant).
    rows, cols, weights = plan
    i, j = (torch.from_numpy(z).to(x.device) for z in (rows, cols))
    xs, ys = _pow2(x64, -s), _pow2(y64, -s)  # again, in the graph
    u = xs[i] - ys[j]
    q = (u * u).sum(-1) * 4.0**-e2
    if p == 2.0:
        c = q
    else:  # gradient 0 where x_i = y_j
        positive = q > 0
        c = torch.where(positive, torch.where(positive, q, torch.ones_like(q)) ** (0.5 * p), torch.zeros_like(q))
    gamma = torch.from_numpy(weights).to(x.device)
    out = _pow2(_safe_root((gamma * c).sum(), p), k).to(x.dtype)
    return C.check_result(out, [("x", x), ("y", y)])
