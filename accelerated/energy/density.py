"""Energy-based models in PyTorch: the analytic energies, log p-hat = -E, the score by autograd, log ratios, log Z.

Same formulas as :mod:`reference.energy.density` (Isachenko, DGM Lecture 7, 'Unnormalized density';
Advanced Course on DGM, Lecture 8, 'Energy Based Models', 'Application of Energy Based Models';
Beigy, 'Score Matching (SM)'); see :mod:`accelerated.energy` for the differences.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

import reference._args as A
from reference._args import energy as AE
from reference._args import langevin as AL

from .. import _checks as C

__all__ = [
    "DoubleWellEnergy",
    "QuadraticEnergy",
    "energy_score",
    "log_partition_function",
    "log_ratio",
    "unnormalized_log_density",
]

F64 = torch.float64


def _check_points(name: str, x: object, d: int | None = None) -> torch.Tensor:
    """Points (..., d) (d given or any), finite (a device assertion), as the floating tensor given."""
    x = C.as_float_tensor(name, x)
    if x.ndim < 1 or (d is not None and x.shape[-1] != d):
        want = f"(..., {d})" if d is not None else "(..., d)"
        raise ValueError(f"{name}: expected points of shape {want}, got shape {tuple(x.shape)}")
    C.check_finite(name, x)  # skipped automatically inside torch.func transforms
    return x


def _check_energy_values(energy: object) -> torch.Tensor:
    """Energy values E(x): no NaN, no -inf (+inf allowed: density 0)."""
    E = C.as_float_tensor("energy", energy)
    C.check_not_nan("energy", E)
    if C.value_checks_active() and bool(torch.isneginf(E.detach()).any()):
        raise ValueError("energy: expected energies > -inf (+inf allowed: density 0), got -inf")
    return E


def _check_energy_pair(energy_x: object, energy_x_prime: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite energy tensors of one dtype and device whose batch shapes broadcast."""
    E_x = C.as_float_tensor("energy_x", energy_x)
    E_x_prime = C.as_float_tensor("energy_x_prime", energy_x_prime)
    C.check_same_device_dtype(("energy_x", "energy_x_prime"), (E_x, E_x_prime))
    C.broadcast_batch(("energy_x", "energy_x_prime"), (E_x.shape, E_x_prime.shape))
    C.check_finite("energy_x", E_x)
    C.check_finite("energy_x_prime", E_x_prime)
    return E_x, E_x_prime


def _check_energy(energy: object, x: object) -> tuple[Callable, torch.Tensor]:
    """An energy the side can differentiate (here: any callable, by autograd) and points x."""
    AL.function("energy", energy, "mapping points (..., d) to energies (...)")
    return energy, _check_points("x", x)


def _check_box(
    energy: object, lower: object, upper: object, n_points: object
) -> tuple[Callable, torch.Tensor, torch.Tensor, int]:
    """A callable energy and the box [lower, upper] in 1-D or 2-D (finite, lower < upper), n_points >= 2."""
    AL.function("energy", energy, "mapping points (m, d) to energies (m,)")
    lower = C.as_float_tensor("lower", lower)
    upper = C.as_float_tensor("upper", upper)
    C.check_same_device_dtype(("lower", "upper"), (lower, upper))
    lower, upper = lower.reshape(-1) if lower.ndim == 0 else lower, upper.reshape(-1) if upper.ndim == 0 else upper
    if lower.ndim != 1 or lower.shape[0] not in (1, 2):
        raise ValueError(
            f"lower: expected a scalar or a vector of shape (d,) with d in (1, 2), got shape {tuple(lower.shape)}"
        )
    C.check_shape("upper", upper, lower.shape)
    C.check_finite("lower", lower)
    C.check_finite("upper", upper)
    if C.value_checks_active() and bool((upper <= lower).any()):
        raise ValueError(f"lower, upper: expected lower < upper in every coordinate, got {lower} and {upper}")
    return energy, lower, upper, AE.grid_points("n_points", A.count("n_points", n_points, minimum=2), lower.shape[0])


def _trapezoid_grid(lower: torch.Tensor, upper: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The tensor-product trapezoid grid on [lower, upper] in float64: points (n^d, d), log-weights (n^d,)."""
    d = lower.shape[0]
    lo, hi = lower.detach().to(F64), upper.detach().to(F64)
    h = (hi - lo) / (n - 1)
    g = torch.arange(n, dtype=F64, device=lower.device)
    axes = [lo[k] + g * h[k] for k in range(d)]
    grids = torch.meshgrid(*axes, indexing="ij")
    points = torch.stack([G.reshape(-1) for G in grids], dim=-1)  # (n^d, d), first axis slowest
    log_c = torch.zeros(n, dtype=F64, device=lower.device)  # trapezoid end weights 1/2
    log_c[0] = log_c[-1] = math.log(0.5)
    log_w = torch.log(h[0]) + log_c
    for k in range(1, d):
        log_w = (log_w[:, None] + (torch.log(h[k]) + log_c)[None, :]).reshape(-1)
    return points, log_w


def _evaluate(energy: Callable, points: torch.Tensor) -> torch.Tensor:
    """energy(points), checked: a tensor of shape (m,) for points (m, d), no NaN."""
    E = energy(points)
    if not isinstance(E, torch.Tensor) or tuple(E.shape) != (points.shape[0],):
        got = f"shape {tuple(E.shape)}" if isinstance(E, torch.Tensor) else C.describe(E)
        raise ValueError(
            f"energy(points): expected shape ({points.shape[0]},) for points {tuple(points.shape)}, got {got}"
        )
    C.check_not_nan("energy(points)", E)
    return E


class QuadraticEnergy(nn.Module):
    r"""E(x) = 1/2 (x - m)^T P (x - m) as an ``nn.Module`` (float64 inside, see the module docstring).

    .. math::

        E(x) = \tfrac12 (x - m)^\top P (x - m), \qquad \nabla_x E(x) = P (x - m).

    Parameters
    ----------
    precision : (d, d) Tensor
        Symmetric positive definite precision P.
    mean : (d,) Tensor
        Minimiser m; same dtype and device.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'.

    Examples
    --------
    P = 2, m = 1: E(3) = (1/2) 2 (3 - 1)^2 = 4 and grad E(3) = 2 (3 - 1) = 4 (closed form):

    >>> E = QuadraticEnergy(torch.tensor([[2.0]], dtype=torch.float64), torch.tensor([1.0], dtype=torch.float64))
    >>> three = torch.tensor([3.0], dtype=torch.float64)
    >>> float(E(three).detach()), float(E.grad(three)[0].detach())
    (4.0, 4.0)
    """

    def __init__(self, precision: torch.Tensor, mean: torch.Tensor) -> None:
        super().__init__()
        precision = C.as_float_tensor("precision", precision)
        mean = C.as_float_tensor("mean", mean)
        C.check_same_device_dtype(("precision", "mean"), (precision, mean))
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise ValueError(f"mean: expected a vector of shape (d,) with d >= 1, got shape {tuple(mean.shape)}")
        d = mean.shape[0]
        if tuple(precision.shape) != (d, d):
            raise ValueError(
                f"precision: expected shape ({d}, {d}) (d = {d} from mean), got shape {tuple(precision.shape)}"
            )
        C.check_finite("mean", mean)
        C.cholesky_spd("precision", precision.to(F64))
        self.precision = nn.Parameter(precision.detach().clone())
        self.mean = nn.Parameter(mean.detach().clone())

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def _diff(self, x: torch.Tensor) -> torch.Tensor:
        x = C.as_float_tensor("x", x)
        C.check_same_device_dtype(("x", "mean"), (x, self.mean))
        x = _check_points("x", x, self.dim)
        return x.to(F64) - self.mean.to(F64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) for x of shape (..., d); returns (...) in x's dtype.

        Notes
        -----
        E = +inf where the quadratic form overflows float64 (x near 1e300), or the float64 value beyond the
        range of x's dtype (float32 x near 1e30): the density exp(-E) is 0; never NaN (an overflow inside
        the product, inf * 0 or inf - inf, is +inf: E >= 0 for P positive definite).
        """
        diff = self._diff(x)
        E = 0.5 * ((diff @ self.precision.to(F64)) * diff).sum(dim=-1)
        return torch.where(E.isnan(), math.inf, E).to(x.dtype)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic grad_x E(x) = P (x - m); x (..., d) -> (..., d)."""
        return (self._diff(x) @ self.precision.to(F64)).to(x.dtype)


class DoubleWellEnergy(nn.Module):
    r"""E(x) = a sum_i (x_i^2 - b)^2 as an ``nn.Module`` without parameters (float64 inside).

    .. math::

        E(x) = a \sum_i (x_i^2 - b)^2, \qquad \partial_i E = 4 a x_i (x_i^2 - b).

    Parameters
    ----------
    a : float
        Scale, > 0.
    b : float
        Squared location of the wells, finite.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Energy Based Models'.

    Examples
    --------
    a = 1, b = 1: the wells at +-1 have E = 0, the barrier at 0 has E = a b^2 = 1 (closed form):

    >>> DoubleWellEnergy(1.0, 1.0)(torch.tensor([[1.0], [-1.0], [0.0]], dtype=torch.float64)).tolist()
    [0.0, 0.0, 1.0]
    """

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a = A.positive("a", a)
        self.b = A.real("b", b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) for x of shape (..., d); returns (...) in x's dtype.

        Notes
        -----
        E = +inf where x^4 overflows float64 (|x| above about 1e77), or the float64 value beyond the range of
        x's dtype (float32 x near 1e30): the density exp(-E) is 0; never NaN.
        """
        x64 = _check_points("x", x).to(F64)
        return (self.a * ((x64**2 - self.b) ** 2).sum(dim=-1)).to(x.dtype)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic grad_x E(x) = 4 a x (x^2 - b); x (..., d) -> (..., d).

        Notes
        -----
        ±inf (the sign of x) where x^3 overflows float64 (|x| above about 5e102), or the float64 value
        beyond the range of x's dtype; never NaN.
        """
        x64 = _check_points("x", x).to(F64)
        return (4.0 * self.a * x64 * (x64**2 - self.b)).to(x.dtype)


def unnormalized_log_density(energy: torch.Tensor) -> torch.Tensor:
    r"""log p-hat(x) = -E(x) from energy values (see :func:`reference.energy.unnormalized_log_density`).

    .. math::

        \log \hat p(x \mid \theta) = -E_\theta(x).

    Parameters
    ----------
    energy : (...) Tensor
        Energies; +inf allowed, NaN and -inf rejected.

    Returns
    -------
    (...) Tensor
        -E.

    Notes
    -----
    -inf where the energy is +inf (an energy that overflowed: the density is 0); never NaN (NaN
    energies are refused).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'.

    Examples
    --------
    E = 2.5 gives log p-hat = -2.5, and E = +inf density 0 (the slide's p-hat = exp(-E)):

    >>> unnormalized_log_density(torch.tensor([2.5, float("inf")], dtype=torch.float64)).tolist()
    [-2.5, -inf]
    """
    E = _check_energy_values(energy)
    return -E


def energy_score(energy: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    r"""The EBM score -grad_x E(x) by autograd (Z drops out).

    .. math::

        \nabla_x \log p(x \mid \theta) = \nabla_x \log \hat p(x \mid \theta) = -\nabla_x E_\theta(x).

    Rows must be independent (E of row i depends on x_i only): the gradient of sum_i E(x_i) is taken.
    Autograd is enabled inside even under ``torch.no_grad()``; the graph is kept
    (``create_graph=True``) exactly when grad mode was on at the call, so the score is differentiable
    in the energy's parameters (and in ``x`` if ``x`` requires grad) unless called under ``no_grad``.

    Parameters
    ----------
    energy : callable
        Maps points (..., d) to energies (...) (an ``nn.Module`` EBM, :class:`QuadraticEnergy`, ...).
    x : (..., d) Tensor
        Points.

    Returns
    -------
    (..., d) Tensor
        -grad E(x), dtype and device of ``x``.

    Notes
    -----
    ±inf where the energy's gradient overflows (points near 1e300 for :class:`QuadraticEnergy`, above
    about 5e102 for :class:`DoubleWellEnergy`, or beyond the range of x's dtype); never NaN for these
    analytic energies.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'; Beigy, Score-Based Generative Models,
    slide 'Score Matching (SM)'.

    Examples
    --------
    For E = x^4 / 4 (any callable, by autograd) the score is -x^3 (closed form), -8 at x = 2:

    >>> float(energy_score(lambda x: (x**4).sum(-1) / 4, torch.tensor([[2.0]], dtype=torch.float64))[0, 0].detach())
    -8.0
    """
    energy, x = _check_energy(energy, x)
    create_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        x_in = x if (create_graph and x.requires_grad) else x.detach().requires_grad_(True)
        E = energy(x_in)
        if not isinstance(E, torch.Tensor) or tuple(E.shape) != tuple(x.shape[:-1]):
            got = f"shape {tuple(E.shape)}" if isinstance(E, torch.Tensor) else C.describe(E)
            raise ValueError(f"energy(x): expected one energy per point, shape {tuple(x.shape[:-1])}, got {got}")
        if not E.requires_grad:  # the energy does not depend on x
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(E.sum(), x_in, create_graph=create_graph, allow_unused=True)
    if g is None:  # the energy's graph does not reach x
        return torch.zeros_like(x)
    return -g


def log_ratio(energy_x: torch.Tensor, energy_x_prime: torch.Tensor) -> torch.Tensor:
    r"""log p(x) - log p(x') = E(x') - E(x), no partition function needed.

    .. math::

        \log \frac{p_\theta(x)}{p_\theta(x')} = E(x') - E(x) = f_\theta(x) - f_\theta(x') \ (f = -E).

    Parameters
    ----------
    energy_x, energy_x_prime : (...) Tensor
        Finite energies; same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Application of Energy Based Models'.

    Examples
    --------
    E(x) = 1, E(x') = 4: p(x) / p(x') = exp(4 - 1), a log ratio of 3 (the slide's exp(f(x) - f(x'))):

    >>> float(log_ratio(torch.tensor(1.0), torch.tensor(4.0)))
    3.0
    """
    E_x, E_x_prime = _check_energy_pair(energy_x, energy_x_prime)
    return E_x_prime - E_x


def log_partition_function(
    energy: Callable[[torch.Tensor], torch.Tensor],
    lower: torch.Tensor,
    upper: torch.Tensor,
    *,
    n_points: int = 201,
) -> torch.Tensor:
    r"""log Z by the tensor-product trapezoid rule in log space on a 1-D or 2-D box (see the reference).

    .. math::

        \log Z \approx \operatorname{logsumexp}_g \bigl(\log w_g - E(x_g)\bigr), \qquad
        w_g = \prod_k h_k c_{g_k}, \quad c = (\tfrac12, 1, \dots, 1, \tfrac12).

    Differentiable in the energy's parameters.

    Parameters
    ----------
    energy : callable
        Maps points (m, d) to energies (m,).
    lower, upper : () or (d,) Tensor
        The box, d in (1, 2), lower < upper; same dtype and device.
    n_points : int
        Grid points per axis, >= 2; the grid has n_points^d points, at most 2^22 (see Notes).

    Returns
    -------
    () Tensor
        log Z in ``lower``'s dtype.

    Notes
    -----
    The grid (x_g = lower + g h) and the log-weights are built in float64 on ``lower``'s device, the
    grid is cast to ``lower``'s dtype to evaluate the energy once on all n_points^d points, and the
    log-sum-exp runs in float64. The grid is capped at 2^22 points (n_points <= 2^22 in 1-D, 2048 in
    2-D), as on the reference: a larger one is refused with a ``ValueError`` naming ``n_points``.

    A log Z that is not finite in ``lower``'s dtype (energies that are +inf, or overflow, at every grid
    point; or energies near -1e300) is refused with a ``ValueError`` naming ``energy`` (a device-side
    check, no host read), as on the reference.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Energy Based Models'; Isachenko, DGM Lecture 7,
    slide 'Unnormalized density'.

    Examples
    --------
    E = x^2 / 2 on [-12, 12]: Z = sqrt(2 pi), log Z = 0.9189385332 (the Gaussian integral):

    >>> E = QuadraticEnergy(torch.eye(1, dtype=torch.float64), torch.zeros(1, dtype=torch.float64))
    >>> bound = torch.tensor(12.0, dtype=torch.float64)
    >>> round(float(log_partition_function(E, -bound, bound).detach()), 10)
    0.9189385332
    """
    energy, lower, upper, n = _check_box(energy, lower, upper, n_points)
    points, log_w = _trapezoid_grid(lower, upper, n)
    E = _evaluate(energy, points.to(lower.dtype))
    log_z = torch.logsumexp(log_w - E.to(F64), dim=0).to(lower.dtype)
    if C.value_checks_active():
        C.require(C.result_flag(log_z), AE.log_z_message(str(log_z.dtype).removeprefix("torch.")))
    return log_z
