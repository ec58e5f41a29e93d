r"""Exact discrete optimal transport in R^d in PyTorch; the plan by SciPy on the host.

Same formula as :mod:`reference.transport.exact` (Isachenko, DGM Lecture 7, recap slide 'Wasserstein
distance' and slide 'Wasserstein metric'). Exact OT is a combinatorial problem (an assignment or a
linear program) without a GPU solver here: the cost matrix is built in float64 with torch, copied to the
host, and solved by SciPy (``linear_sum_assignment`` / ``linprog`` with HiGHS), as on the reference
side. The result is a tensor on the inputs' device, differentiable in x and y through the cost of the
optimal plan (the plan is held constant: by the envelope theorem this is the gradient wherever the
optimal plan is unique, and a subgradient otherwise).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import optimize, sparse

from reference._args import transport as S

from .. import _checks as C
from ._common import F64, _check_clouds, _safe_root

__all__ = ["wasserstein"]


def _host_optimal_plan(cost: np.ndarray, a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray:
    """An optimal plan of min <gamma, C> over Gamma(a, b), by SciPy on the host (float64)."""
    n, m = cost.shape
    if a is None and b is None and n == m:
        rows, cols = optimize.linear_sum_assignment(cost)
        plan = np.zeros((n, m))
        plan[rows, cols] = 1.0 / n
        return plan
    a = np.full(n, 1.0 / n) if a is None else a
    b = np.full(m, 1.0 / m) if b is None else b
    # Row-sum equations for all i, column-sum equations for j < m - 1 (the last one is implied).
    rows = sparse.kron(sparse.eye(n), np.ones((1, m)))
    cols = sparse.kron(np.ones((1, n)), sparse.eye(m)).tocsr()[: m - 1]
    A_eq = sparse.vstack([rows, cols]).tocsc()
    top = float(cost.max())  # the LP on C / 2^k, as in the reference (HiGHS: costs above 1e20 are infinite)
    scaled = cost if top == 0.0 else np.ldexp(cost, -math.frexp(top)[1])
    result = optimize.linprog(
        scaled.ravel(), A_eq=A_eq, b_eq=np.concatenate([a, b[: m - 1]]), bounds=(0, None), method="highs-ds"
    )
    if result.status != 0:  # pragma: no cover - the transport LP is always feasible and bounded
        raise RuntimeError(f"linprog (HiGHS) failed on the transport LP: {result.message}")
    return np.maximum(result.x.reshape(n, m), 0.0)


def _scaled_squared_distances(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, int]:
    r"""``(Q, k)`` with ``||x_i - y_j||^2 = 4^k Q_ij`` and ``max Q`` in [1/4, 1), differentiable (float64).

    The steps of ``reference.transport.exact._scaled_squared_distances``, all by powers of two (exact):
    halve the data if they reach 2^1022, divide the differences by the power of two above the largest
    component, square and sum, divide by the power of four above the largest sum (two host reads).
    """
    big = max(float(x.detach().abs().max()), float(y.detach().abs().max()))
    halve = big >= 2.0**1022
    diff = x.unsqueeze(-2) * 0.5 - y.unsqueeze(-3) * 0.5 if halve else x.unsqueeze(-2) - y.unsqueeze(-3)
    top = float(diff.detach().abs().max())
    if top == 0.0:
        return (diff * 0.0).sum(-1), 0
    e1 = math.frexp(top)[1]
    u = diff * 2.0 ** (-e1 // 2) * 2.0 ** (-e1 - (-e1 // 2))
    q = (u * u).sum(-1)
    e2 = (math.frexp(float(q.detach().max()))[1] + 1) // 2
    return q * 4.0**-e2, e1 + e2 + int(halve)


def wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Exact W_p between discrete measures in R^d (cost ||x - y||^p); plan by SciPy on the host.

    .. math::

        W_p = \Big( \min_{\gamma \in \Gamma(a, b)} \sum_{ij} \gamma_{ij} \|x_i - y_j\|^p \Big)^{1/p}.

    Solver as in :func:`reference.transport.wasserstein`: the assignment problem
    (``linear_sum_assignment``, O(n^3)) for ``a = b = None`` and n = m, else the transport LP by
    ``linprog`` with the HiGHS dual simplex.

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
    The cost matrix is formed in float64 on the device, copied to the host for the solver, and the
    optimal cost :math:`\langle \gamma^*, C\rangle` is evaluated on the device; gradients flow to x
    and y with the plan held constant (envelope theorem). At W_p = 0 the root has gradient 0. The
    weights are renormalised in float64 on the host (float16 weights made the LP infeasible). As in
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
    Q, k = _scaled_squared_distances(x.to(F64), y.to(F64))
    if p == 2.0:
        cost = Q
    else:  # (||x_i - y_j|| / 2^k)^p with gradient 0 where x_i = y_j
        positive = Q > 0
        cost = torch.where(positive, torch.where(positive, Q, torch.ones_like(Q)) ** (0.5 * p), torch.zeros_like(Q))
    # Weights renormalised in float64 on the host: float16 weights pass the simplex check with their
    # own rounding, but totals that differ by 1e-3 make the transport LP infeasible.
    host = [None if w is None else w.detach().to("cpu", F64).numpy() for w in (a, b)]
    host = [None if w is None else w / w.sum() for w in host]
    cost_host = cost.detach().cpu().numpy()  # the cost is on the host for the solver anyway
    plan = _host_optimal_plan(cost_host, host[0], host[1])
    total = float(np.sum(plan * cost_host))
    if total < S.RESOLVED_TOTAL:
        Q_host, tiny = Q.detach().cpu().numpy(), np.finfo(np.float64).tiny
        S.check_cost_resolved(total, int(np.count_nonzero((Q_host >= S.NEGLIGIBLE_Q) & (cost_host < tiny))), p)
    gamma = torch.from_numpy(plan).to(cost.device)
    out = (_safe_root((gamma * cost).sum(), p) * 2.0 ** (k // 2) * 2.0 ** (k - k // 2)).to(x.dtype)
    return C.check_result(out, [("x", x), ("y", y)])
