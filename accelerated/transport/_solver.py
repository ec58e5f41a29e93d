r"""The Sinkhorn iteration of :mod:`accelerated.transport.sinkhorn` (private): log-domain updates, the
stabilised-kernel final stage, and the implicit-function gradient of the transport cost.

The potentials are absorbed into the kernel :math:`K = e^{(f \oplus g - C)/\varepsilon}` (one exp pass
per epsilon stage, or when a scaling grows), which is then the plan up to the weights, so its entries
stay below 1/min(a, b) and those that underflow are below 1e-300 of the mass; an iteration is two
matrix-vector products on the scalings u, v, re-absorbed before :math:`|\log u|` or :math:`|\log v|`
reaches :math:`\log(\text{max float})/8`. A stage or block that still produces a non-finite value is
redone with ``torch.logsumexp`` in the log domain. This is the log-domain iteration of the reference
step for step (same annealing, over-relaxation, safeguard and checks), so the two agree to rounding.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from ._common import F64

__all__: list[str] = []


def _log_weights(w: torch.Tensor) -> torch.Tensor:
    return torch.log(w)  # log 0 = -inf: no mass is ever sent to or from that point


def _update_f(g: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, eps: float) -> torch.Tensor:
    """f_i = -eps log sum_j b_j exp((g_j - C_ij)/eps)."""
    return -eps * torch.logsumexp(log_b + (g - cost) / eps, dim=-1)


def _update_g(f: torch.Tensor, log_a: torch.Tensor, cost: torch.Tensor, eps: float) -> torch.Tensor:
    """g_j = -eps log sum_i a_i exp((f_i - C_ij)/eps)."""
    return -eps * torch.logsumexp(log_a.unsqueeze(-1) + (f.unsqueeze(-1) - cost) / eps, dim=-2)


class _Solution(NamedTuple):
    f: torch.Tensor
    g: torch.Tensor
    plan: torch.Tensor  # P = diag(a u) K diag(b v), input dtype
    error: torch.Tensor  # float64
    n_iter: int


def _absorb(f, g, cost, eps, unused):
    """Kernel K_ij = exp((f_i + g_j - C_ij)/eps) at the current potentials, 0 where ``unused``.

    After an update of g, sum_i a_i K_ij = 1, so K_ij <= 1/a_i (and <= 1/b_j after one of f): no
    overflow unless a weight is below 1/(largest float). Between two points that both have zero
    weight K is unbounded, but such an entry is multiplied by a_i = 0 or b_j = 0 wherever the iteration
    uses it, so it is stored as 0 (``unused``).
    """
    K = f.unsqueeze(-1) + g  # in place from here on: one (n, m) buffer, four passes over it
    K.sub_(cost).mul_(1.0 / eps).exp_()
    return K.masked_fill_(unused, 0.0)


def _sinkhorn_solve(
    cost: torch.Tensor,
    a: torch.Tensor,
    b: torch.Tensor,
    schedule: list[float],
    tol: float,
    max_iter: int,
    omega: float,
    check_every: int,
) -> _Solution:
    """The iteration of :func:`reference.transport.sinkhorn`, its final stage in stabilised-kernel form.

    Invariant of the final stage: the potentials are ``f + eps log u`` and ``g + eps log v`` with the
    kernel ``K = exp((f + g - C)/eps)`` absorbed at (f, g); the f-update is ``u <- 1/(K (b v))`` and the
    g-update ``v <- 1/(K^T (a u))`` (over-relaxed: ``u <- u^(1 - omega) (1/(K (b v)))^omega``), the
    log-domain updates of the reference exponentiated. Row and column sums of the plan
    ``diag(a u) K diag(b v)`` come for free from the products the next updates need.
    """
    dtype, device = cost.dtype, cost.device
    log_a, log_b = _log_weights(a), _log_weights(b)
    f = torch.zeros(a.shape[0], dtype=dtype, device=device)
    g = torch.zeros(b.shape[0], dtype=dtype, device=device)
    unused = (a == 0).unsqueeze(-1) & (b == 0)
    # Annealing, one iteration per stage, each as one kernel pass and two products: with K absorbed at
    # (f, g) and eps_k, f + eps_k log(1/(K b)) is the log-domain f-update and g + eps_k log(1/(K^T (a u)))
    # the g-update. The potentials of the previous stage bound K by (1/a_i)^(eps_{k-1}/eps_k); a row
    # that underflows entirely (possible in float32 after a large change of g) shows as a non-finite
    # potential, and the annealing is then redone in the log domain (one host read decides).
    f_start, g_start = f, g
    for eps_k in schedule[:-1]:
        K = _absorb(f, g, cost, eps_k, unused)
        u = 1.0 / (K @ b)
        f = f + eps_k * u.log()
        g = g - eps_k * (K.T @ (a * u)).log()
    if len(schedule) > 1 and not bool(torch.isfinite(f).all() & torch.isfinite(g).all()):
        f, g = f_start, g_start
        for eps_k in schedule[:-1]:
            f = _update_f(g, log_b, cost, eps_k)
            g = _update_g(f, log_a, cost, eps_k)
    n_iter = len(schedule) - 1
    eps = schedule[-1]
    tau = math.log(torch.finfo(dtype).max) / 8.0  # re-absorb once a |log scaling| exceeds this
    K = _absorb(f, g, cost, eps, unused)
    u, v = torch.ones_like(f), torch.ones_like(g)
    Kbv, KTau = K @ b, K.T @ a  # K (b v) and K^T (a u) at u = v = 1
    previous_error = math.inf
    error = torch.zeros((), dtype=F64, device=device)
    i = 0
    while i < max_iter:
        block = min(check_every, max_iter - i)
        start = (f, g, u, v)
        for _ in range(block):
            u_new = 1.0 / Kbv
            u = u_new if omega == 1.0 else u.pow(1.0 - omega) * u_new.pow(omega)
            KTau = K.T @ (a * u)
            v_new = 1.0 / KTau
            v = v_new if omega == 1.0 else v.pow(1.0 - omega) * v_new.pow(omega)
            Kbv = K @ (b * v)
        i += block
        log_u, log_v = u.log(), v.log()
        error = (a * u * Kbv - a).abs().sum(dtype=F64) + (b * v * KTau - b).abs().sum(dtype=F64)
        size = torch.maximum(log_u.abs().max(), log_v.abs().max()).to(F64)
        host_error, host_size = torch.stack([error, size]).tolist()  # the one host read per block
        if not (math.isfinite(host_error) and math.isfinite(host_size)):
            # A scaling over- or underflowed inside the block: redo the block in the log domain.
            f0, g0, u0, v0 = start
            f, g = f0 + eps * u0.log(), g0 + eps * v0.log()
            for _ in range(block):
                f = (1.0 - omega) * f + omega * _update_f(g, log_b, cost, eps)
                g = (1.0 - omega) * g + omega * _update_g(f, log_a, cost, eps)
            K = _absorb(f, g, cost, eps, unused)
            u, v = torch.ones_like(f), torch.ones_like(g)
            log_u, log_v = torch.zeros_like(f), torch.zeros_like(g)
            Kbv, KTau = K @ b, K.T @ a
            error = (u * Kbv * a - a).abs().sum(dtype=F64) + (KTau * b - b).abs().sum(dtype=F64)
            host_error, host_size = float(error), 0.0
        if tol > 0 and host_error <= tol:
            break
        if tol > 0 and host_error > previous_error and omega > 1.0:
            omega = 0.5 * (1.0 + omega)  # safeguard, as in the reference
        previous_error = host_error
        if host_size > tau:
            f, g = f + eps * log_u, g + eps * log_v
            K = _absorb(f, g, cost, eps, unused)
            u, v = torch.ones_like(f), torch.ones_like(g)
            Kbv, KTau = K @ b, K.T @ a
    n_iter += i
    f_total, g_total = f + eps * u.log(), g + eps * v.log()
    plan = (a * u).unsqueeze(-1) * K * (b * v)
    return _Solution(f_total, g_total, plan, error, n_iter)


def _linear_cost_gradient(
    plan: torch.Tensor, cost: torch.Tensor, f: torch.Tensor, g: torch.Tensor, eps: float
) -> torch.Tensor:
    r"""Gradient of the transport cost :math:`L(C) = \langle P^*(C), C\rangle` with respect to C (float64).

    Since :math:`L = \mathrm{OT}_\varepsilon - \varepsilon\, \partial_\varepsilon \mathrm{OT}_\varepsilon`
    and :math:`\partial_C \mathrm{OT}_\varepsilon = P`, :math:`\partial_C L = P - \varepsilon\,
    \partial_\varepsilon P`. Differentiating :math:`P_{ij} = a_i b_j e^{h_{ij}}`,
    :math:`h = (f \oplus g - C)/\varepsilon`, at fixed marginals gives

    .. math::

        \partial_C L = P \circ (1 + h - f' \oplus g'), \qquad
        \begin{pmatrix} \operatorname{diag}(P\mathbf 1) & P \\ P^\top & \operatorname{diag}(P^\top \mathbf 1)
        \end{pmatrix} \begin{pmatrix} f' \\ g' \end{pmatrix}
        = \begin{pmatrix} (P \circ h)\mathbf 1 \\ (P \circ h)^\top \mathbf 1 \end{pmatrix},

    a positive semi-definite system (the dual Hessian; its null vector (1, -1) is orthogonal to the
    right-hand side) solved by Jacobi-preconditioned conjugate gradients, two products with P per step.
    """
    P = plan.to(F64)
    h = (f.to(F64).unsqueeze(-1) + g.to(F64) - cost.to(F64)) / eps
    Ph = P * h
    r, c = P.sum(-1), P.sum(-2)
    n = r.shape[0]
    rhs = torch.cat([Ph.sum(-1), Ph.sum(-2)])
    diag = torch.cat([r, c])
    precond = torch.where(diag > 0, 1.0 / torch.where(diag > 0, diag, torch.ones_like(diag)), torch.ones_like(diag))

    def H(z: torch.Tensor) -> torch.Tensor:
        zf, zg = z[:n], z[n:]
        return torch.cat([r * zf + P @ zg, P.T @ zf + c * zg])

    z = torch.zeros_like(rhs)
    res = rhs.clone()
    s = precond * res
    direction = s.clone()
    rs = torch.dot(res, s)
    target = (1e-13 * torch.linalg.vector_norm(rhs)) ** 2
    for k in range(1, 2 * rhs.shape[0] + 1):
        Hd = H(direction)
        curvature = torch.dot(direction, Hd)
        alpha = torch.where(curvature > 0, rs / torch.where(curvature > 0, curvature, torch.ones_like(curvature)), 0.0)
        z = z + alpha * direction
        res = res - alpha * Hd
        s = precond * res
        rs_new = torch.dot(res, s)
        direction = s + torch.where(rs > 0, rs_new / torch.where(rs > 0, rs, torch.ones_like(rs)), 0.0) * direction
        rs = rs_new
        if k % 10 == 0 and bool(torch.dot(res, res) <= target):  # one host read every 10 steps
            break
    f_prime, g_prime = z[:n], z[n:]
    return P * (1.0 + h - f_prime.unsqueeze(-1) - g_prime)
