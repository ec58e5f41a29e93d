r"""Optimal transport in PyTorch: W_p in 1-D and R^d, Sinkhorn, Sinkhorn divergence, sliced W_p, Gaussian W2.

Same formulas, names and parameters as :mod:`reference.transport` (see it for the slides: Isachenko,
DGM Lecture 7, recap 'Wasserstein distance', recap 'Theorem (Kantorovich-Rubinstein duality)' and
'Wasserstein metric' with its Gaussian theorem).

Devices, precision and gradients:

* ``gaussian_w2`` does the covariance algebra in float64 on the inputs' device (Cholesky, two
  triangular-aware products, ``eigvalsh``) and casts the result to the input dtype; it reads one
  flag on the host (did a Cholesky factorisation fail, is a covariance not PSD).
* ``wasserstein_1d`` and ``sliced_wasserstein`` sort in the input dtype and integrate the quantile
  functions in float64 (the cumulative weights, the gaps and the sum), then cast back. Batched over
  leading axes; differentiable in the samples and the weights.
* ``wasserstein``: exact OT is a combinatorial problem (an assignment or a linear program) without a
  GPU solver here; the cost matrix is built in float64 with torch, copied to the host, and solved by
  SciPy (``linear_sum_assignment`` / ``linprog`` with HiGHS), as on the reference side. The result is
  a tensor on the inputs' device, differentiable in x and y through the cost of the optimal plan
  (the plan is held constant: by the envelope theorem this is the gradient wherever the optimal plan
  is unique, and a subgradient otherwise).
* ``sinkhorn`` runs without autograd in the input dtype as *stabilised-kernel* iterations: the
  potentials are absorbed into the kernel :math:`K = e^{(f \oplus g - C)/\varepsilon}` (one exp pass per
  epsilon stage, or when a scaling grows), which is then the plan up to the weights, so its entries
  stay below 1/min(a, b) and those that underflow are below 1e-300 of the mass; an iteration is two
  matrix-vector products on the scalings u, v, re-absorbed before :math:`|\log u|` or :math:`|\log v|`
  reaches :math:`\log(\text{max float})/8`. A stage or block that still produces a non-finite value is
  redone with ``torch.logsumexp`` in the log domain. This is the log-domain iteration of the reference
  step for step (same annealing, over-relaxation, safeguard and checks), so the two agree to rounding.
  The host is read once per annealing and once every ``check_every`` iterations (marginal error and
  scaling size, one small tensor), never per iteration. Gradients: ``entropic_cost`` carries the
  envelope gradient dOT_eps/dC = P, dOT_eps/da = f, dOT_eps/db = g (exact at convergence); ``cost`` =
  <P, C> carries its exact gradient with respect to C, :math:`P - \varepsilon\, \partial_\varepsilon P`,
  by the implicit-function formula of :func:`_linear_cost_gradient` (one conjugate-gradient solve), so
  both match finite differences at a converged solution. Plan and potentials are returned detached.
* ``tol=None`` means 1e-9 for float64 inputs and 1e-5 for lower precision (the float32 marginal error
  stalls near 1e-7).

One-sided names: none.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import NamedTuple

import numpy as np
import torch
from scipy import optimize, sparse

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

PSD_RTOL = 1e-6  # as reference.transport.PSD_RTOL

DEFAULT_TOL = {torch.float64: 1e-9}
DEFAULT_TOL_LOW_PRECISION = 1e-5
DEFAULT_MAX_ITER = 10_000
DEFAULT_SCALING = 0.5
DEFAULT_OVERRELAXATION = 1.5
DEFAULT_CHECK_EVERY = 10
DEFAULT_N_PROJECTIONS = 50

# gaussian_w2: the lower triangle of L^T S L is formed by blocks of this size when d > 2 * block.
_CONGRUENCE_BLOCK = 256

F64 = torch.float64


class SinkhornConvergenceWarning(RuntimeWarning):
    """Sinkhorn stopped at ``max_iter`` with a marginal error above ``tol``."""


# --------------------------------------------------------------------------- input checks (private)


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)):
        raise TypeError(f"p: expected a real number >= 1 (Python int or float), got {C.describe(p)}")
    value = float(p)
    if not (math.isfinite(value) and value >= 1.0):
        raise ValueError(f"p: expected a finite real number >= 1 (W_p is a metric for p >= 1), got {value!r}")
    return value


def _check_points(name: str, x: object) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name}: expected a point cloud of shape (n, d) with n, d >= 1, got shape {tuple(x.shape)}")
    return x


def _check_same_dim(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"x and y: expected points of the same dimension d, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )


def _check_cloud_pair(x: object, y: object, a: object, b: object) -> tuple[torch.Tensor, ...]:
    """x (n, d), y (m, d), a (n,) or None, b (m,) or None: one dtype, one device, finite points."""
    x, y = _check_points("x", x), _check_points("y", y)
    names, tensors = ["x", "y"], [x, y]
    for name, w in (("a", a), ("b", b)):
        if w is not None:
            names.append(name)
            tensors.append(C.as_float_tensor(name, w))
    C.check_same_device_dtype(names, tensors)
    _check_same_dim(x, y)
    C.check_finite("x", x)
    C.check_finite("y", y)
    return x, y


def _check_weights(name: str, w: torch.Tensor | None, n: int, of: str, like: torch.Tensor) -> torch.Tensor | None:
    """None stays None (uniform); otherwise a (n,) probability vector rescaled to sum exactly to 1."""
    if w is None:
        return None
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) (one weight per point of {of}), got shape {tuple(w.shape)}")
    C.check_simplex(name, w)
    return w / w.sum()


def _uniform(n: int, like: torch.Tensor) -> torch.Tensor:
    return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device)


def _check_int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an integer >= {low}, got {C.describe(value)}")
    if value < low:
        raise ValueError(f"{name}: expected an integer >= {low}, got {value!r}")
    return value


def _check_sinkhorn_options(
    tol: object, max_iter: object, epsilon_scaling: object, overrelaxation: object, check_every: object, dtype
) -> tuple[float, int, float | None, float, int]:
    if tol is None:
        tol_value = DEFAULT_TOL.get(dtype, DEFAULT_TOL_LOW_PRECISION)
    else:
        tol_value = C.check_real_scalar("tol", tol)
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


def _safe_root(value: torch.Tensor, p: float) -> torch.Tensor:
    """max(value, 0)^(1/p) with gradient 0 (not inf or NaN) at 0."""
    positive = value > 0
    safe = torch.where(positive, value, torch.ones_like(value))
    return torch.where(positive, safe ** (1.0 / p), torch.zeros_like(value))


# --------------------------------------------------------------------------- W_p in one dimension


def _cdf(w: torch.Tensor | None, order: torch.Tensor, n: int, like: torch.Tensor) -> torch.Tensor:
    """Cumulative weights (float64) of the sorted samples, ending at exactly 1."""
    if w is None:
        steps = torch.arange(1, n + 1, dtype=F64, device=like.device) / n
        return steps.expand(*order.shape)
    cum = torch.gather(w, -1, order).to(F64).cumsum(-1)
    return cum / cum[..., -1:]


def _quantile_cost(
    u: torch.Tensor, u_w: torch.Tensor | None, v: torch.Tensor, v_w: torch.Tensor | None, p: float
) -> torch.Tensor:
    """Batched W_p^p along the last axis (float64), shapes already broadcast to a common batch."""
    n, m = u.shape[-1], v.shape[-1]
    u_sorted, order_u = torch.sort(u, dim=-1, stable=True)
    v_sorted, order_v = torch.sort(v, dim=-1, stable=True)
    F = _cdf(u_w, order_u, n, u).contiguous()
    G = _cdf(v_w, order_v, m, v).contiguous()
    s, _ = torch.sort(torch.cat([F, G], dim=-1), dim=-1)
    s_left = torch.cat([torch.zeros_like(s[..., :1]), s[..., :-1]], dim=-1)
    ds = s - s_left
    mid = (0.5 * (s + s_left)).contiguous()
    i_u = torch.searchsorted(F, mid, side="left").clamp_(max=n - 1)
    i_v = torch.searchsorted(G, mid, side="left").clamp_(max=m - 1)
    gap = (torch.gather(u_sorted, -1, i_u).to(F64) - torch.gather(v_sorted, -1, i_v).to(F64)).abs()
    return (ds * gap**p).sum(-1)


def wasserstein_1d(
    u: torch.Tensor,
    v: torch.Tensor,
    *,
    p: float = 1,
    u_weights: torch.Tensor | None = None,
    v_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    r"""Exact W_p between weighted 1-D empirical measures via quantile functions, batched.

    .. math::

        W_p(\mu, \nu) = \Big( \int_0^1 \big| F^{-1}(s) - G^{-1}(s) \big|^p \, ds \Big)^{1/p}.

    The sorts run in the input dtype; the CDFs, interval lengths and the sum in float64.

    Parameters
    ----------
    u : (..., n) Tensor
    v : (..., m) Tensor
        Samples along the last axis; batch axes broadcast.
    p : float >= 1
    u_weights, v_weights : (..., n) and (..., m) Tensor, optional
        Probability vectors (``None``: uniform); batch axes broadcast.

    Returns
    -------
    (...) Tensor
        W_p in the input dtype.
    """
    p = _check_p(p)
    names, tensors = ["u", "v"], [C.as_float_tensor("u", u), C.as_float_tensor("v", v)]
    for name, w in (("u_weights", u_weights), ("v_weights", v_weights)):
        if w is not None:
            names.append(name)
            tensors.append(C.as_float_tensor(name, w))
    C.check_same_device_dtype(names, tensors)
    u, v = tensors[0], tensors[1]
    for name, s in (("u", u), ("v", v)):
        C.check_ndim(name, s, 1)
        if s.shape[-1] == 0:
            raise ValueError(f"{name}: expected at least one sample along the last axis, got shape {tuple(s.shape)}")
        C.check_finite(name, s)
    shapes = [u.shape[:-1], v.shape[:-1]]
    for name, w, s in (("u_weights", u_weights, u), ("v_weights", v_weights, v)):
        if w is not None:
            C.check_simplex(name, w)
            if w.shape[-1] != s.shape[-1]:
                raise ValueError(
                    f"{name}: expected {s.shape[-1]} weights along the last axis (one per sample), "
                    f"got shape {tuple(w.shape)}"
                )
            shapes.append(w.shape[:-1])
    batch = C.broadcast_batch(names, shapes)
    u = u.expand(*batch, u.shape[-1])
    v = v.expand(*batch, v.shape[-1])
    u_w = None if u_weights is None else u_weights.expand(*batch, u.shape[-1])
    v_w = None if v_weights is None else v_weights.expand(*batch, v.shape[-1])
    return _safe_root(_quantile_cost(u, u_w, v, v_w, p), p).to(u.dtype)


# --------------------------------------------------------------------------- exact discrete OT in R^d


def _ground_cost(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """C_ij = ||x_i - y_j||^p, differentiable (gradient 0 where x_i = y_j), in the dtype of x."""
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    sq = (diff * diff).sum(-1)
    if p == 2.0:
        return sq
    positive = sq > 0
    safe = torch.where(positive, sq, torch.ones_like(sq))
    return torch.where(positive, safe ** (0.5 * p), torch.zeros_like(sq))


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
    result = optimize.linprog(
        cost.ravel(), A_eq=A_eq, b_eq=np.concatenate([a, b[: m - 1]]), bounds=(0, None), method="highs-ds"
    )
    if result.status != 0:  # pragma: no cover - the transport LP is always feasible and bounded
        raise RuntimeError(f"linprog (HiGHS) failed on the transport LP: {result.message}")
    return np.maximum(result.x.reshape(n, m), 0.0)


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
    ``linprog`` with the HiGHS dual simplex. The cost matrix is formed in float64 on the device, copied
    to the host for the solver, and the optimal cost :math:`\langle \gamma^*, C\rangle` is evaluated on
    the device; gradients flow to x and y with the plan held constant (envelope theorem). At W_p = 0
    the root has gradient 0.

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    p : float >= 1
    a, b : (n,) and (m,) Tensor, optional
        Weights on the simplex (``None``: uniform). One dtype and device for all inputs.

    Returns
    -------
    () Tensor
        W_p in the input dtype, on the input device.
    """
    p = _check_p(p)
    x, y = _check_cloud_pair(x, y, a, b)
    a = _check_weights("a", a, x.shape[0], "x", x)
    b = _check_weights("b", b, y.shape[0], "y", y)
    cost = _ground_cost(x.to(F64), y.to(F64), p)
    host = [None if w is None else w.detach().to("cpu", F64).numpy() for w in (a, b)]
    plan = _host_optimal_plan(cost.detach().cpu().numpy(), host[0], host[1])
    gamma = torch.from_numpy(plan).to(cost.device)
    return _safe_root((gamma * cost).sum(), p).to(x.dtype)


# --------------------------------------------------------------------------- entropic OT: Sinkhorn


class SinkhornResult(NamedTuple):
    """Result of :func:`sinkhorn` (the same fields as :class:`reference.transport.SinkhornResult`)."""

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


def _log_weights(w: torch.Tensor) -> torch.Tensor:
    return torch.log(w)  # log 0 = -inf: no mass is ever sent to or from that point


def _update_f(g: torch.Tensor, log_b: torch.Tensor, cost: torch.Tensor, eps: float) -> torch.Tensor:
    """f_i = -eps log sum_j b_j exp((g_j - C_ij)/eps)."""
    return -eps * torch.logsumexp(log_b + (g - cost) / eps, dim=-1)


def _update_g(f: torch.Tensor, log_a: torch.Tensor, cost: torch.Tensor, eps: float) -> torch.Tensor:
    """g_j = -eps log sum_i a_i exp((f_i - C_ij)/eps)."""
    return -eps * torch.logsumexp(log_a.unsqueeze(-1) + (f.unsqueeze(-1) - cost) / eps, dim=-2)


def _diameter(x: torch.Tensor, y: torch.Tensor, p: float) -> float:
    """Diagonal of the common bounding box to the power p (host float64; one small host read)."""
    lo = torch.minimum(x.detach().min(0).values, y.detach().min(0).values)
    hi = torch.maximum(x.detach().max(0).values, y.detach().max(0).values)
    box = np.asarray(torch.stack([lo, hi]).to("cpu", F64).numpy())
    return float(np.sqrt(np.sum((box[1] - box[0]) ** 2)) ** p)


def _epsilon_schedule(diameter: float, epsilon: float, scaling: float | None) -> list[float]:
    schedule = []
    if scaling is not None:
        eps_k = diameter
        while eps_k > epsilon:
            schedule.append(eps_k)
            eps_k *= scaling
    return [*schedule, epsilon]


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


def _sinkhorn(x, y, a, b, epsilon, p, options, return_plan, return_potentials, stacklevel=3) -> SinkhornResult:
    tol, max_iter, epsilon_scaling, omega, check_every = options
    cost = _ground_cost(x, y, p)
    cost_fixed = cost.detach()
    schedule = _epsilon_schedule(_diameter(x, y, p), epsilon, epsilon_scaling)
    with torch.no_grad():
        sol = _sinkhorn_solve(cost_fixed, a.detach(), b.detach(), schedule, tol, max_iter, omega, check_every)
    converged = bool(tol > 0 and float(sol.error) <= tol)
    if tol > 0 and not converged:
        warnings.warn(
            f"sinkhorn: not converged after {sol.n_iter} iterations (marginal error {float(sol.error):.3g} > tol "
            f"{tol:g}); raise max_iter or epsilon, or lower epsilon_scaling",
            SinkhornConvergenceWarning,
            stacklevel=stacklevel,
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
    ``check_every`` iterations), with the final stage run as stabilised-kernel matrix-vector products
    (module docstring). No autograd inside the loop; gradients by the envelope theorem
    (``entropic_cost``: dOT_eps/dC = P, dOT_eps/da = f, dOT_eps/db = g) and by the implicit-function
    formula of :func:`_linear_cost_gradient` (``cost``, with respect to x and y; the weights are held
    constant there), exact at convergence.

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
    """
    epsilon = C.check_positive_scalar("epsilon", epsilon)
    p = _check_p(p)
    x, y = _check_cloud_pair(x, y, a, b)
    options = _check_sinkhorn_options(tol, max_iter, epsilon_scaling, overrelaxation, check_every, x.dtype)
    a = _check_weights("a", a, x.shape[0], "x", x)
    b = _check_weights("b", b, y.shape[0], "y", y)
    a = _uniform(x.shape[0], x) if a is None else a
    b = _uniform(y.shape[0], y) if b is None else b
    return _sinkhorn(x, y, a, b, epsilon, p, options, return_plan, return_potentials)


def _symmetric_entropic_cost(x, a, epsilon, p, options) -> torch.Tensor:
    """OT_eps(alpha, alpha) = 2 <f, a> - eps (sum P - 1) at the symmetric fixed point, in float64 (with grad)."""
    tol, max_iter, epsilon_scaling, _, check_every = options
    cost = _ground_cost(x, x, p)
    cost_fixed = cost.detach()
    log_a = _log_weights(a.detach())
    schedule = _epsilon_schedule(_diameter(x, x, p), epsilon, epsilon_scaling)

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

    with the regularised :math:`\mathrm{OT}_\varepsilon` (``entropic_cost`` of :func:`sinkhorn`), the
    symmetric terms by the averaged symmetric update, and exactly 0 when (x, a) and (y, b) are equal
    (one host comparison). Non-negative for 1 <= p <= 2. Differentiable in x, y, a, b (envelope
    gradients of the three terms).

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
    """
    epsilon = C.check_positive_scalar("epsilon", epsilon)
    p = _check_p(p)
    x, y = _check_cloud_pair(x, y, a, b)
    options = _check_sinkhorn_options(tol, max_iter, epsilon_scaling, overrelaxation, check_every, x.dtype)
    a = _check_weights("a", a, x.shape[0], "x", x)
    b = _check_weights("b", b, y.shape[0], "y", y)
    a = _uniform(x.shape[0], x) if a is None else a
    b = _uniform(y.shape[0], y) if b is None else b
    ot_xx = _symmetric_entropic_cost(x, a, epsilon, p, options)
    if x.shape == y.shape and torch.equal(x, y) and torch.equal(a, b):
        return (ot_xx - 0.5 * ot_xx - 0.5 * ot_xx).to(x.dtype)  # alpha = beta: exactly 0
    ot_yy = _symmetric_entropic_cost(y, b, epsilon, p, options)
    ot_xy = _sinkhorn(x, y, a, b, epsilon, p, options, False, False, stacklevel=3).entropic_cost
    return (ot_xy.to(F64) - 0.5 * ot_xx - 0.5 * ot_yy).to(x.dtype)


# --------------------------------------------------------------------------- sliced Wasserstein


def sliced_wasserstein(
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    p: float = 2,
    a: torch.Tensor | None = None,
    b: torch.Tensor | None = None,
    n_projections: int | None = None,
    projections: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> torch.Tensor:
    r"""Monte-Carlo sliced W_p (see :func:`reference.transport.sliced_wasserstein`).

    .. math::

        \mathrm{SW}_p \approx \Big( \frac1L \sum_{l} W_p^p(\langle\theta_l, x\rangle,
        \langle\theta_l, y\rangle) \Big)^{1/p}, \quad \theta_l = z_l / \|z_l\|.

    ``projections`` (d, L) are normalised column-wise here; with ``rng`` (a ``torch.Generator`` on the
    inputs' device) a (d, L) standard normal matrix is drawn, L = ``n_projections`` (default 50). The
    projections and the L one-dimensional problems (batched) are computed in float64.

    Parameters
    ----------
    x : (n, d) Tensor
    y : (m, d) Tensor
    p : float >= 1
    a, b : (n,) and (m,) Tensor, optional
    n_projections : int, optional
    projections : (d, L) Tensor, optional
    rng : torch.Generator, optional

    Returns
    -------
    () Tensor
        The estimate of SW_p in the input dtype.
    """
    p = _check_p(p)
    C.check_noise_or_rng(projections, rng, noise_name="projections")
    x, y = _check_cloud_pair(x, y, a, b)
    a = _check_weights("a", a, x.shape[0], "x", x)
    b = _check_weights("b", b, y.shape[0], "y", y)
    d = x.shape[1]
    if n_projections is not None:
        n_projections = _check_int("n_projections", n_projections, 1)
    if projections is not None:
        theta = C.as_float_tensor("projections", projections)
        C.check_same_device_dtype(("x", "projections"), (x, theta))
        if theta.ndim != 2 or theta.shape[0] != d or theta.shape[1] == 0:
            raise ValueError(
                f"projections: expected shape (d, L) = ({d}, L) with L >= 1, got shape {tuple(theta.shape)}"
            )
        C.check_finite("projections", theta)
        if n_projections is not None and n_projections != theta.shape[1]:
            raise ValueError(
                f"n_projections: expected None or {theta.shape[1]} (the number of columns of projections), "
                f"got {n_projections}"
            )
    else:
        L = DEFAULT_N_PROJECTIONS if n_projections is None else n_projections
        C.check_generator(rng, x.device)
        theta = torch.randn((d, L), generator=rng, dtype=x.dtype, device=x.device)
    theta = theta.to(F64)
    top = theta.abs().max(0).values
    if C.value_checks_active() and bool((top == 0).any()):
        raise ValueError(f"projections: expected non-zero columns (directions), got {int((top == 0).sum())} zero")
    theta = theta / top  # scale first, as in the reference
    theta = theta / (theta * theta).sum(0).sqrt()
    x_proj, y_proj = (x.to(F64) @ theta).T, (y.to(F64) @ theta).T  # (L, n), (L, m)
    L = theta.shape[1]
    a_w = None if a is None else a.expand(L, x.shape[0])
    b_w = None if b is None else b.expand(L, y.shape[0])
    w_pp = _quantile_cost(x_proj, a_w, y_proj, b_w, p)
    return _safe_root(w_pp.mean(), p).to(x.dtype)


# --------------------------------------------------------------------------- Gaussian W2 (Bures)


def _congruence(L: torch.Tensor, S: torch.Tensor, symmetric: bool) -> torch.Tensor:
    """M = L^T S L for lower-triangular L, batched (..., d, d), float64.

    ``symmetric=True`` (autograd): the full product, symmetrised as (M + M^T)/2, so that the symmetric
    gradient of ``eigvalsh`` flows to every entry. Otherwise, for d > 2 x block, only the lower block
    triangle is formed (``eigvalsh`` reads the lower triangle only), exploiting the zeros of L:
    W = S L by block columns J, W_J = S[:, J:] L[J:, J] (d^3 (1 + 1/nb) flops instead of 2 d^3), then
    block rows I of the lower part of L^T W, M[I, :I] = L[I:, I]^T W[I:, :I] (about d^3 / 3 instead of
    2 d^3). Entries above the diagonal blocks are left uninitialised and never read.
    """
    d = L.shape[-1]
    if symmetric or d <= 2 * _CONGRUENCE_BLOCK:
        M = L.mT @ (S @ L)
        return 0.5 * (M + M.mT)
    edges = [*range(0, d, _CONGRUENCE_BLOCK), d]
    blocks = list(itertools.pairwise(edges))
    W = torch.empty_like(S)
    for j0, j1 in blocks:
        W[..., :, j0:j1] = S[..., :, j0:] @ L[..., j0:, j0:j1]
    M = torch.empty_like(S)
    for i0, i1 in blocks:
        M[..., i0:i1, :i1] = L[..., i0:, i0:i1].mT @ W[..., i0:, :i1]
    return M


def _check_psd(names: list[str], lam: torch.Tensor) -> None:
    """ValueError if a row of eigenvalues shows a matrix that is clearly not PSD (one host read)."""
    if not C.value_checks_active() or lam.numel() == 0:
        return
    low, top = lam.min(-1).values, lam.max(-1).values.clamp(min=0.0)
    bad = (low < -PSD_RTOL * top) | ((top == 0) & (low < 0))
    if bool(bad.any()):
        k = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{names[k]}: expected a positive semi-definite covariance, got an eigenvalue {float(low[k]):.3g} "
            f"below -{PSD_RTOL:g} x the largest ({float(top[k]):.3g})"
        )


def _symmetric_sqrt_psd(name: str, S: torch.Tensor) -> torch.Tensor:
    lam, V = torch.linalg.eigh(S)
    _check_psd([name], lam.unsqueeze(0))
    return (V * _safe_root(lam, 2.0).unsqueeze(-2)) @ V.mT


def _safe_sqrt_psd(S: torch.Tensor) -> torch.Tensor:
    """The symmetric square roots of a (N, d, d) stack of PSD matrices by eigh, unchecked."""
    lam, V = torch.linalg.eigh(S)
    return (V * _safe_root(lam, 2.0).unsqueeze(-2)) @ V.mT


def _bures_cross_term(S1: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    """tr (S1^{1/2} S2 S1^{1/2})^{1/2} for (N, d, d) float64 stacks, with the reference's fallbacks."""
    symmetric = torch.is_grad_enabled() and (S1.requires_grad or S2.requires_grad)
    if torch.compiler.is_compiling():
        # No host branch inside a compiled graph: the symmetric square root of S1 by eigh, valid for
        # every PSD S1 (the fallback below), in place of the faster Cholesky path that needs a read.
        R = _safe_sqrt_psd(S1)
        M = R @ S2 @ R
        return _safe_root(torch.linalg.eigvalsh(0.5 * (M + M.mT)), 2.0).sum(-1)
    L, info = torch.linalg.cholesky_ex(S1)
    failed = info != 0
    if not bool(failed.any()):  # the common case: one host read
        M = _congruence(L, S2, symmetric)
        names = ["cov2"] * S1.shape[0]
    else:
        names, parts = [], []
        for k in range(S1.shape[0]):
            if not bool(failed[k]):
                parts.append(_congruence(torch.linalg.cholesky(S1[k]), S2[k], symmetric))
                names.append("cov2")
                continue
            L2, info2 = torch.linalg.cholesky_ex(S2[k])
            if int(info2) == 0:
                parts.append(_congruence(L2, S1[k], symmetric))  # the trace term is symmetric
                names.append("cov1")
            else:
                R = _symmetric_sqrt_psd("cov1", S1[k])
                _check_psd(["cov2"], torch.linalg.eigvalsh(S2[k].detach()).unsqueeze(0))
                M_k = R @ S2[k] @ R
                parts.append(0.5 * (M_k + M_k.mT))
                names.append("cov2")
        M = torch.stack(parts)
    lam = torch.linalg.eigvalsh(M)
    _check_psd(names, lam.detach())
    return _safe_root(lam, 2.0).sum(-1)


def gaussian_w2(
    mu1: torch.Tensor, cov1: torch.Tensor, mu2: torch.Tensor, cov2: torch.Tensor, *, squared: bool = False
) -> torch.Tensor:
    r"""W_2 between Gaussians in closed form (Bures), batched, covariance algebra in float64.

    .. math::

        W_2^2 = \|\mu_1 - \mu_2\|^2 + \operatorname{tr}\Sigma_1 + \operatorname{tr}\Sigma_2
        - 2 \sum_k \sqrt{\lambda_k(L^\top \Sigma_2 L)}, \qquad \Sigma_1 = L L^\top.

    Same method, fallbacks (Cholesky of cov2 with the roles swapped, then the eigh square root of
    cov1) and guards (eigenvalues in [-1e-6 lambda_max, 0) clamped to 0, W_2^2 clamped at 0, see
    :func:`reference.transport.gaussian_w2`) as the reference. ``torch.linalg.cholesky_ex`` and
    ``eigvalsh`` run batched on the inputs' device; without autograd, the lower triangle of
    :math:`L^\top \Sigma_2 L` is formed blockwise, exploiting the triangular L (about 1.4 d^3 flops in
    place of 4 d^3 for two full products), and nothing is symmetrised (``eigvalsh`` reads one
    triangle). With autograd the full product is symmetrised; gradients are finite where the
    eigenvalues are distinct and positive. The host reads whether a factorisation failed and, with
    value checks on, whether an eigenvalue is too negative.

    Parameters
    ----------
    mu1, mu2 : (..., d) Tensor
    cov1, cov2 : (..., d, d) Tensor
        Symmetric positive semi-definite. One dtype and device; batch axes broadcast.
    squared : bool
        Return W_2^2 (FID) instead of W_2.

    Returns
    -------
    (...) Tensor
        W_2 or W_2^2, in the input dtype.
    """
    if not isinstance(squared, bool):
        raise TypeError(f"squared: expected a bool, got {C.describe(squared)}")
    names = ("mu1", "cov1", "mu2", "cov2")
    tensors = [C.as_float_tensor(n, t) for n, t in zip(names, (mu1, cov1, mu2, cov2))]
    C.check_same_device_dtype(names, tensors)
    mu1, cov1, mu2, cov2 = tensors
    C.check_ndim("mu1", mu1, 1)
    C.check_ndim("mu2", mu2, 1)
    C.check_square("cov1", cov1)
    C.check_square("cov2", cov2)
    d = mu1.shape[-1]
    for name, arr in (("mu2", mu2), ("cov1", cov1), ("cov2", cov2)):
        if arr.shape[-1] != d:
            raise ValueError(f"{name}: expected dimension d = {d} (from mu1), got shape {tuple(arr.shape)}")
    batch = C.broadcast_batch(names, (mu1.shape[:-1], cov1.shape[:-2], mu2.shape[:-1], cov2.shape[:-2]))
    C.check_finite("mu1", mu1)
    C.check_finite("mu2", mu2)
    for name, cov in (("cov1", cov1), ("cov2", cov2)):
        C.check_symmetric(name, cov)  # includes finiteness, in one device assertion
    S1 = cov1.to(F64).expand(*batch, d, d).reshape(-1, d, d)
    S2 = cov2.to(F64).expand(*batch, d, d).reshape(-1, d, d)
    cross = _bures_cross_term(S1, S2).reshape(batch)
    delta = mu1.to(F64) - mu2.to(F64)
    mean_term = (delta * delta).sum(-1).expand(batch)
    traces = torch.diagonal(cov1.to(F64), dim1=-2, dim2=-1).sum(-1) + torch.diagonal(
        cov2.to(F64), dim1=-2, dim2=-1
    ).sum(-1)
    w2_squared = (mean_term + traces - 2.0 * cross).clamp(min=0.0)
    return (w2_squared if squared else _safe_root(w2_squared, 2.0)).to(mu1.dtype)
