"""Energy-based models in PyTorch: log p-hat = -E, score = -grad E by autograd, log ratios, log Z, Ising.

Same names and parameters as :mod:`reference.energy`; see it for the slides (Isachenko DGM
Lecture 7, 'Energy-based models' / 'Unnormalized density'; Advanced Course on DGM Lecture 8,
'Energy Based Models', 'Application of Energy Based Models', 'Example: Ising Model'; Beigy,
'Score Matching (SM)') and for the sign convention: E is the energy, p-hat = exp(-E), and Lecture 8's
f_theta is -E.

Differences from the reference:

* :func:`energy_score` takes *any* callable energy (an ``nn.Module`` EBM, a lambda) and
  differentiates it with autograd; the analytic ``grad`` methods of :class:`QuadraticEnergy` and
  :class:`DoubleWellEnergy` exist to check it. Under ``torch.no_grad()`` the score is a plain
  tensor; otherwise it keeps its graph (``create_graph=True``), so a loss built from it can be
  backpropagated to the energy's parameters (score matching of an EBM) and, if ``x`` requires grad,
  to ``x``.
* :class:`QuadraticEnergy` and :class:`DoubleWellEnergy` are ``nn.Module`` s (the quadratic one holds
  ``precision`` and ``mean`` as ``nn.Parameter`` s). They evaluate in float64 and cast back to the
  input dtype (a float32 quadratic form with a precision of condition 1e4 loses four digits); autograd
  goes through the casts.
* :func:`ising_log_potential` and :func:`ising_denoise` compute the potentials of all 2^(H W) states
  at once with two float64 matrix products of 0/1 matrices (exact integer counts), on the device of
  ``x``; results are float64 (probabilities) and int64 (images).

One-sided names: none.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import nn

from . import _checks as C

__all__ = [
    "DoubleWellEnergy",
    "IsingPosterior",
    "QuadraticEnergy",
    "energy_score",
    "ising_denoise",
    "ising_log_potential",
    "ising_states",
    "log_partition_function",
    "log_ratio",
    "unnormalized_log_density",
]

MAX_ISING_PIXELS = 16
F64 = torch.float64


def _points(name: str, x: object, d: int | None = None) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    if x.ndim < 1 or (d is not None and x.shape[-1] != d):
        want = f"(..., {d})" if d is not None else "(..., d)"
        raise ValueError(f"{name}: expected points of shape {want}, got shape {tuple(x.shape)}")
    C.check_finite(name, x)  # skipped automatically inside torch.func transforms
    return x


# --------------------------------------------------------------------------- analytic energies


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
        x = _points("x", x, self.dim)
        return x.to(F64) - self.mean.to(F64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) for x of shape (..., d); returns (...) in x's dtype."""
        diff = self._diff(x)
        return (0.5 * ((diff @ self.precision.to(F64)) * diff).sum(dim=-1)).to(x.dtype)

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
    """

    def __init__(self, a: float, b: float) -> None:
        super().__init__()
        self.a = C.check_positive_scalar("a", a)
        self.b = C.check_real_scalar("b", b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """E(x) for x of shape (..., d); returns (...) in x's dtype."""
        x64 = _points("x", x).to(F64)
        return (self.a * ((x64**2 - self.b) ** 2).sum(dim=-1)).to(x.dtype)

    def grad(self, x: torch.Tensor) -> torch.Tensor:
        """Analytic grad_x E(x) = 4 a x (x^2 - b); x (..., d) -> (..., d)."""
        x64 = _points("x", x).to(F64)
        return (4.0 * self.a * x64 * (x64**2 - self.b)).to(x.dtype)


# --------------------------------------------------------------------------- EBM formulas


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
    """
    E = C.as_float_tensor("energy", energy)
    C.check_not_nan("energy", E)
    if C.value_checks_active() and bool(torch.isneginf(E.detach()).any()):
        raise ValueError("energy: expected energies > -inf (+inf allowed: density 0), got -inf")
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

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'; Beigy, Score-Based Generative Models,
    slide 'Score Matching (SM)'.
    """
    if not callable(energy):
        raise TypeError(
            f"energy: expected a callable mapping points (..., d) to energies (...), got {C.describe(energy)}"
        )
    x = _points("x", x)
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
    """
    E_x = C.as_float_tensor("energy_x", energy_x)
    E_x_prime = C.as_float_tensor("energy_x_prime", energy_x_prime)
    C.check_same_device_dtype(("energy_x", "energy_x_prime"), (E_x, E_x_prime))
    C.broadcast_batch(("energy_x", "energy_x_prime"), (E_x.shape, E_x_prime.shape))
    C.check_finite("energy_x", E_x)
    C.check_finite("energy_x_prime", E_x_prime)
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

    The grid (x_g = lower + g h) and the log-weights are built in float64 on ``lower``'s device, the
    grid is cast to ``lower``'s dtype to evaluate the energy once on all n_points^d points, and the
    log-sum-exp runs in float64. Differentiable in the energy's parameters.

    Parameters
    ----------
    energy : callable
        Maps points (m, d) to energies (m,).
    lower, upper : () or (d,) Tensor
        The box, d in (1, 2), lower < upper; same dtype and device.
    n_points : int
        Grid points per axis, >= 2.

    Returns
    -------
    () Tensor
        log Z in ``lower``'s dtype.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Energy Based Models'; Isachenko, DGM Lecture 7,
    slide 'Unnormalized density'.
    """
    if not callable(energy):
        raise TypeError(f"energy: expected a callable mapping points (m, d) to energies (m,), got {C.describe(energy)}")
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
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points: expected an int >= 2 (grid points per axis), got {C.describe(n_points)}")
    n, d = n_points, lower.shape[0]
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
    E = energy(points.to(lower.dtype))
    if not isinstance(E, torch.Tensor) or tuple(E.shape) != (points.shape[0],):
        got = f"shape {tuple(E.shape)}" if isinstance(E, torch.Tensor) else C.describe(E)
        raise ValueError(
            f"energy(points): expected shape ({points.shape[0]},) for points {tuple(points.shape)}, got {got}"
        )
    C.check_not_nan("energy(points)", E)
    return torch.logsumexp(log_w - E.to(F64), dim=0).to(lower.dtype)


# --------------------------------------------------------------------------- Ising model (L8)


def _image_tensor(name: str, y: object) -> torch.Tensor:
    """A real tensor of shape (..., H, W) (metadata checks only)."""
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"{name}: expected a binary image tensor (bool, int or float 0/1), got {C.describe(y)}")
    if y.is_complex():
        raise TypeError(f"{name}: expected a real binary image tensor, got {C.describe(y)}")
    if y.ndim < 2:
        raise ValueError(f"{name}: expected images of shape (..., H, W), got shape {tuple(y.shape)}")
    return y


def _binary_image(name: str, y: torch.Tensor) -> torch.Tensor:
    """Entries in {0, 1} (a device assertion, skipped with value checks off)."""
    if C.value_checks_active() and y.numel():

        def detail() -> str:
            bad = y[(y != 0) & (y != 1)]
            return (
                f"{name}: expected pixel values in {{0, 1}}, got {bad.numel()} other values "
                f"(e.g. {bad.flatten()[0].item()!r})"
            )

        C.require(((y == 0) | (y == 1)).all(), f"{name}: expected pixel values in {{0, 1}}", detail)
    return y


def _n_smooth(y: torch.Tensor) -> torch.Tensor:
    """Number of equal 4-neighbour pairs, float64; (..., H, W) -> (...)."""
    horizontal = (y[..., :, 1:] == y[..., :, :-1]).sum(dim=(-2, -1))
    vertical = (y[..., 1:, :] == y[..., :-1, :]).sum(dim=(-2, -1))
    return (horizontal + vertical).to(F64)


def ising_log_potential(y: torch.Tensor, x: torch.Tensor, *, alpha: float, beta: float) -> torch.Tensor:
    r"""Ising denoising log-potential alpha #[x_i = y_i] + beta #[y_i = y_j] over 4-neighbour edges.

    .. math::

        \log \tilde p(y, x) = \sum_i \alpha\,[x_i = y_i] + \sum_{(i, j) \in E} \beta\,[y_i = y_j],
        \qquad y, x \in \{0, 1\}^{H \times W}.

    Parameters
    ----------
    y, x : (..., H, W) Tensor
        Binary images (bool, integer or 0/1 floating), same device; batch axes broadcast.
    alpha, beta : float
        Potential weights.

    Returns
    -------
    (...) Tensor
        float64 on the images' device.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model'.
    """
    alpha = C.check_real_scalar("alpha", alpha)
    beta = C.check_real_scalar("beta", beta)
    y = _image_tensor("y", y)
    x = _image_tensor("x", x)
    if y.device != x.device:
        raise ValueError(f"y, x: expected tensors on one device, got y on {y.device}, x on {x.device}")
    y = _binary_image("y", y)
    x = _binary_image("x", x)
    if y.shape[-2:] != x.shape[-2:]:
        raise ValueError(f"y, x: expected images of one size (H, W), got shapes {tuple(y.shape)} and {tuple(x.shape)}")
    C.broadcast_batch(("y", "x"), (y.shape[:-2], x.shape[:-2]))
    n_agree = (x.to(F64) == y.to(F64)).sum(dim=(-2, -1)).to(F64)
    return alpha * n_agree + beta * _n_smooth(y.to(F64))


def ising_states(height: int, width: int) -> torch.Tensor:
    """All 2^(H W) binary images (2^(H W), H, W) int64 on the CPU; state k has pixel i = bit i of k.

    Parameters
    ----------
    height, width : int
        Image size, H W <= 16.
    """
    for name, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {C.describe(v)}")
    N = height * width
    if N > MAX_ISING_PIXELS:
        raise ValueError(
            f"height, width: exact enumeration is limited to {MAX_ISING_PIXELS} pixels (2^16 states), "
            f"got {height} x {width} = {N}"
        )
    return _states(height, width, torch.device("cpu"))


def _states(height: int, width: int, device: torch.device) -> torch.Tensor:
    N = height * width
    k = torch.arange(2**N, dtype=torch.int64, device=device)
    bits = (k[:, None] >> torch.arange(N, dtype=torch.int64, device=device)) & 1
    return bits.reshape(2**N, height, width)


class IsingPosterior(NamedTuple):
    """Result of :func:`ising_denoise` (tensors on the device of ``x``)."""

    y: torch.Tensor
    """(..., H, W) int64: the MAP image (the lowest state index among ties)."""
    probability: torch.Tensor
    """(...) float64: p(y_MAP | x)."""
    posterior: torch.Tensor
    """(..., 2^(H W)) float64: p(y | x) for every state of :func:`ising_states`."""


def ising_denoise(x: torch.Tensor, *, alpha: float, beta: float) -> IsingPosterior:
    r"""Exact MAP denoising under the Ising model, all 2^(H W) states at once (see the reference).

    .. math::

        p(y \mid x) = \operatorname{softmax}_y
            \bigl(\alpha\, n_{\text{agree}}(y, x) + \beta\, n_{\text{smooth}}(y)\bigr),
        \qquad n_{\text{agree}} = x \cdot s + (1 - x) \cdot (1 - s),

    where the agreement counts of every observed image with every state s come from two float64
    matrix products of 0/1 matrices (exact integers), so the potentials equal the reference's bit for
    bit and ties resolve the same way (lowest state index).

    Parameters
    ----------
    x : (..., H, W) Tensor
        Observed binary images, H W <= 16.
    alpha, beta : float
        Potential weights.

    Returns
    -------
    IsingPosterior
        ``(y, probability, posterior)`` on the device of ``x``.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Example: Ising Model'.
    """
    alpha = C.check_real_scalar("alpha", alpha)
    beta = C.check_real_scalar("beta", beta)
    x = _binary_image("x", _image_tensor("x", x))
    H, W = x.shape[-2:]
    if H * W > MAX_ISING_PIXELS:
        raise ValueError(
            f"x: exact enumeration is limited to {MAX_ISING_PIXELS} pixels (2^16 states), got images {H} x {W}"
        )
    states = _states(H, W, x.device)  # (S, H, W)
    s = states.reshape(states.shape[0], H * W).to(F64)  # (S, N)
    xf = x.reshape(*x.shape[:-2], H * W).to(F64)  # (..., N)
    n_agree = xf @ s.mT + (1.0 - xf) @ (1.0 - s).mT  # (..., S), exact integers
    log_p = alpha * n_agree + beta * _n_smooth(states)
    posterior = torch.softmax(log_p, dim=-1)
    k = torch.argmax(log_p, dim=-1)
    probability = torch.gather(posterior, -1, k[..., None])[..., 0]
    return IsingPosterior(states[k], probability, posterior)
