"""Energy-based models: the analytic energies, log p-hat = -E, the score -grad E, log ratios, log Z.

Slides: Isachenko, DGM Lecture 7, 'Energy-based models' / 'Unnormalized density'; Advanced Course on
DGM, Lecture 8, 'Energy Based Models' and 'Application of Energy Based Models'; Beigy, Score-Based
Generative Models, 'Score Matching (SM)'. Sign convention: see :mod:`reference.energy`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import special

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


def _check_points(name: str, x: object, d: int | None = None) -> np.ndarray:
    """Points (..., d) (d given or any), finite, as float64."""
    x = C.as_float64(name, x)
    if x.ndim < 1 or (d is not None and x.shape[-1] != d):
        want = f"(..., {d})" if d is not None else "(..., d)"
        raise ValueError(f"{name}: expected points of shape {want}, got shape {x.shape}")
    C.check_finite(name, x)
    return x


def _check_energy_values(energy: object) -> np.ndarray:
    """Energy values E(x) as float64: no NaN, no -inf (+inf allowed: density 0)."""
    E = C.as_float64("energy", energy)
    C.check_not_nan("energy", E)
    if np.any(np.isneginf(E)):
        raise ValueError("energy: expected energies > -inf (+inf allowed: density 0), got -inf")
    return E


def _check_energy_pair(energy_x: object, energy_x_prime: object) -> tuple[np.ndarray, np.ndarray]:
    """Two finite energy arrays whose batch shapes broadcast, as float64."""
    E_x = C.as_float64("energy_x", energy_x)
    E_x_prime = C.as_float64("energy_x_prime", energy_x_prime)
    C.check_finite("energy_x", E_x)
    C.check_finite("energy_x_prime", E_x_prime)
    C.broadcast_batch(("energy_x", "energy_x_prime"), (E_x.shape, E_x_prime.shape))
    return E_x, E_x_prime


def _check_energy(energy: object, x: object) -> tuple[object, np.ndarray]:
    """An energy the side can differentiate (here: with an analytic ``grad``; no autograd) and points x."""
    if not callable(energy) or not callable(getattr(energy, "grad", None)):
        raise TypeError(
            f"energy: expected an analytic energy with __call__ and a grad(x) method (e.g. QuadraticEnergy, "
            f"DoubleWellEnergy; the reference has no autograd), got {C.describe(energy)}"
        )
    return energy, _check_points("x", x)


def _grad(energy: object, x: np.ndarray) -> np.ndarray:
    """energy.grad(x) as float64, checked to have the shape of x."""
    g = C.as_float64("energy.grad(x)", energy.grad(x))
    if g.shape != x.shape:
        raise ValueError(f"energy.grad(x): expected the shape of x {x.shape}, got {g.shape}")
    return g


def _check_box(
    energy: object, lower: object, upper: object, n_points: object
) -> tuple[object, np.ndarray, np.ndarray, int]:
    """A callable energy and the box [lower, upper] in 1-D or 2-D (finite, lower < upper), n_points >= 2."""
    AL.function("energy", energy, "mapping points (m, d) to energies (m,)")
    lower = np.atleast_1d(C.as_float64("lower", lower))
    upper = np.atleast_1d(C.as_float64("upper", upper))
    if lower.ndim != 1 or lower.shape[0] not in (1, 2):
        raise ValueError(
            f"lower: expected a scalar or a vector of shape (d,) with d in (1, 2), got shape {lower.shape}"
        )
    C.check_shape("upper", upper, lower.shape)
    C.check_finite("lower", lower)
    C.check_finite("upper", upper)
    if np.any(upper <= lower):
        raise ValueError(f"lower, upper: expected lower < upper in every coordinate, got {lower} and {upper}")
    return energy, lower, upper, AE.grid_points("n_points", A.count("n_points", n_points, minimum=2), lower.shape[0])


def _trapezoid_grid(lower: np.ndarray, upper: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The tensor-product trapezoid grid on [lower, upper]: points (n^d, d) and their log-weights (n^d,)."""
    d = lower.shape[0]
    h = (upper - lower) / (n - 1)
    g = np.arange(n, dtype=np.float64)
    axes = [lower[k] + g * h[k] for k in range(d)]
    log_c = np.where((g == 0) | (g == n - 1), math.log(0.5), 0.0)  # trapezoid end weights 1/2
    grids = np.meshgrid(*axes, indexing="ij")
    points = np.stack([G.reshape(-1) for G in grids], axis=-1)  # (n^d, d), first axis slowest
    log_w = np.log(h[0]) + log_c
    for k in range(1, d):
        log_w = (log_w[:, None] + (np.log(h[k]) + log_c)[None, :]).reshape(-1)
    return points, log_w


def _evaluate(energy: Callable, points: np.ndarray) -> np.ndarray:
    """energy(points) as float64, checked: shape (m,) for points (m, d), no NaN."""
    E = C.as_float64("energy(points)", energy(points))
    if E.shape != (points.shape[0],):
        raise ValueError(
            f"energy(points): expected shape ({points.shape[0]},) for points {points.shape}, got {E.shape}"
        )
    C.check_not_nan("energy(points)", E)
    return E


class QuadraticEnergy:
    r"""Quadratic energy :math:`E(x) = \tfrac12 (x - m)^\top P (x - m)`: the Gaussian N(m, P^{-1}).

    .. math::

        E(x) = \tfrac12 (x - m)^\top P (x - m), \qquad \nabla_x E(x) = P (x - m), \qquad
        \log Z = \tfrac d2 \log 2\pi - \tfrac12 \log\det P.

    Parameters
    ----------
    precision : (d, d) array_like
        Symmetric positive definite precision matrix P.
    mean : (d,) array_like
        The minimiser m, finite.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'; Beigy, Score-Based Generative Models,
    slide 'Score function (One-dimensional Gaussian distribution)'.

    Examples
    --------
    P = 2, m = 1: E(3) = (1/2) 2 (3 - 1)^2 = 4 and grad E(3) = 2 (3 - 1) = 4 (closed form):

    >>> E = QuadraticEnergy(np.array([[2.0]]), np.array([1.0]))
    >>> float(E(np.array([3.0]))), float(E.grad(np.array([3.0]))[0])
    (4.0, 4.0)
    """

    def __init__(self, precision: np.ndarray, mean: np.ndarray) -> None:
        precision = C.as_float64("precision", precision)
        mean = C.as_float64("mean", mean)
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise ValueError(f"mean: expected a vector of shape (d,) with d >= 1, got shape {mean.shape}")
        d = mean.shape[0]
        if precision.shape != (d, d):
            raise ValueError(f"precision: expected shape ({d}, {d}) (d = {d} from mean), got shape {precision.shape}")
        C.check_finite("mean", mean)
        C.cholesky_spd("precision", precision)
        self.precision, self.mean = precision, mean

    @property
    def dim(self) -> int:
        return self.mean.shape[0]

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """E(x) for x of shape (..., d); returns (...).

        Notes
        -----
        E = +inf where the quadratic form overflows float64 (x near 1e300: the density exp(-E) is 0);
        never NaN (an overflow inside the product, inf * 0 or inf - inf, is +inf: E >= 0 for P positive
        definite).
        """
        x = _check_points("x", x, self.dim)
        with np.errstate(over="ignore", invalid="ignore"):
            diff = x - self.mean
            E = 0.5 * np.sum((diff @ self.precision) * diff, axis=-1)
        return np.where(np.isnan(E), np.inf, E)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """grad_x E(x) = P (x - m) for x of shape (..., d); returns (..., d)."""
        x = _check_points("x", x, self.dim)
        return (x - self.mean) @ self.precision  # P symmetric: (P (x - m))^T = (x - m)^T P


class DoubleWellEnergy:
    r"""Double-well energy, a sum over coordinates :math:`E(x) = a \sum_i (x_i^2 - b)^2`.

    .. math::

        E(x) = a \sum_{i=1}^d (x_i^2 - b)^2, \qquad \frac{\partial E}{\partial x_i} = 4 a\, x_i (x_i^2 - b).

    For b > 0 each coordinate has two wells at :math:`\pm\sqrt b` separated by a barrier of height
    a b^2 at 0 (a bimodal target for Langevin sampling); for b <= 0 a single well at 0.

    Parameters
    ----------
    a : float
        Scale, > 0 (exp(-E) is then integrable).
    b : float
        Location of the wells (squared), any finite real.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Energy Based Models' (any f_theta defines a density);
    Beigy, Score-Based Generative Models, slide 'Score Matching (SM)' (score = -grad E).

    Examples
    --------
    a = 1, b = 1: the wells at +-1 have E = 0, the barrier at 0 has E = a b^2 = 1 (closed form):

    >>> E = DoubleWellEnergy(1.0, 1.0)
    >>> E(np.array([[1.0], [-1.0], [0.0]])).tolist()
    [0.0, 0.0, 1.0]
    """

    def __init__(self, a: float, b: float) -> None:
        self.a = A.positive("a", a)
        self.b = A.real("b", b)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """E(x) for x of shape (..., d); returns (...).

        Notes
        -----
        E = +inf where x^4 overflows float64 (|x| above about 1e77: the density exp(-E) is 0); never NaN.
        """
        x = _check_points("x", x)
        with np.errstate(over="ignore"):
            return self.a * np.sum((x**2 - self.b) ** 2, axis=-1)

    def grad(self, x: np.ndarray) -> np.ndarray:
        """grad_x E(x) = 4 a x (x^2 - b), elementwise; x (..., d) -> (..., d).

        Notes
        -----
        ±inf (the sign of x) where x^3 overflows float64 (|x| above about 5e102); never NaN.
        """
        x = _check_points("x", x)
        with np.errstate(over="ignore"):
            return 4.0 * self.a * x * (x**2 - self.b)


def unnormalized_log_density(energy: np.ndarray) -> np.ndarray:
    r"""The log of the unnormalised density, :math:`\log \hat p(x) = -E(x)`, from energy values.

    .. math::

        \hat p(x \mid \theta) = \exp(-E_\theta(x)), \qquad \log \hat p(x \mid \theta) = -E_\theta(x)
        \quad (= f_\theta(x) \text{ in Lecture 8's sign convention}).

    Parameters
    ----------
    energy : (...) array_like
        Energy values E(x); +inf allowed (density 0), NaN rejected.

    Returns
    -------
    (...) ndarray
        log p-hat = -E.

    Notes
    -----
    -inf where the energy is +inf (an energy that overflowed: the density is 0); never NaN (NaN
    energies are refused).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'; Advanced Course on DGM, Lecture 8,
    slide 'Energy Based Models' (p = exp(f_theta) / Z, f = -E).

    Examples
    --------
    E = 2.5 gives log p-hat = -2.5, and E = +inf density 0 (the slide's p-hat = exp(-E)):

    >>> unnormalized_log_density(np.array([2.5, np.inf])).tolist()
    [-2.5, -inf]
    """
    E = _check_energy_values(energy)
    return -E


def energy_score(energy: object, x: np.ndarray) -> np.ndarray:
    r"""The score of an EBM, :math:`\nabla_x \log p(x) = -\nabla_x E(x)`, with the analytic gradient.

    .. math::

        \nabla_x \log p(x \mid \theta) = \nabla_x \log \hat p(x \mid \theta) - \nabla_x \log Z_\theta
        = -\nabla_x E_\theta(x),

    since Z_theta does not depend on x: the score needs no partition function.

    Parameters
    ----------
    energy : object
        An analytic energy with ``energy(x)`` (values) and ``energy.grad(x)`` (gradient of the
        energy at each point, shape like x), e.g. :class:`QuadraticEnergy`. The reference has no
        autograd; the accelerated side takes any callable and differentiates it.
    x : (..., d) array_like
        Points, finite.

    Returns
    -------
    (..., d) ndarray
        -grad E(x).

    Notes
    -----
    ±inf where the energy's gradient overflows float64 (points near 1e300 for :class:`QuadraticEnergy`,
    above about 5e102 for :class:`DoubleWellEnergy`); never NaN for these analytic energies.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Unnormalized density'; Beigy, Score-Based Generative Models,
    slide 'Score Matching (SM)'; Song and Kingma, How to Train Your Energy-Based Models, 2021, Section 3.

    Examples
    --------
    For the Gaussian energy E = x^2 / 2 the score is -x (closed form), -3 at x = 3:

    >>> float(energy_score(QuadraticEnergy(np.eye(1), np.zeros(1)), np.array([[3.0]]))[0, 0])
    -3.0
    """
    energy, x = _check_energy(energy, x)
    return -_grad(energy, x)


def log_ratio(energy_x: np.ndarray, energy_x_prime: np.ndarray) -> np.ndarray:
    r"""log p(x) - log p(x') = E(x') - E(x): the density ratio of an EBM without Z.

    .. math::

        \log \frac{p_\theta(x)}{p_\theta(x')} = \log \hat p(x) - \log \hat p(x') = E(x') - E(x)
        \quad \bigl(= f_\theta(x) - f_\theta(x') \text{ with Lecture 8's } f = -E\bigr).

    Parameters
    ----------
    energy_x, energy_x_prime : (...) array_like
        Energies E(x) and E(x'), finite; batch axes broadcast.

    Returns
    -------
    (...) ndarray
        The log ratio.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Application of Energy Based Models'.

    Examples
    --------
    E(x) = 1, E(x') = 4: p(x) / p(x') = exp(4 - 1), a log ratio of 3 (the slide's exp(f(x) - f(x'))):

    >>> float(log_ratio(np.array(1.0), np.array(4.0)))
    3.0
    """
    E_x, E_x_prime = _check_energy_pair(energy_x, energy_x_prime)
    return E_x_prime - E_x


def log_partition_function(
    energy: Callable[[np.ndarray], np.ndarray], lower: np.ndarray, upper: np.ndarray, *, n_points: int = 201
) -> np.ndarray:
    r"""log Z = log of the integral of exp(-E) over a box in 1-D or 2-D, by the trapezoid rule in log space.

    .. math::

        \log Z \approx \operatorname{logsumexp}_{g}\bigl(\log w_g - E(x_g)\bigr), \qquad
        w_g = \prod_{k=1}^{d} h_k\, c_{g_k}, \quad h_k = \frac{u_k - l_k}{n - 1},
        \quad c = (\tfrac12, 1, \dots, 1, \tfrac12),

    on the regular grid :math:`x_{g,k} = l_k + g_k h_k`, :math:`g_k = 0, \dots, n - 1` (the tensor
    product of composite trapezoid rules). Mass outside the box is not counted: choose the box to hold it.

    Parameters
    ----------
    energy : callable
        Maps points (m, d) to energies (m,) (e.g. :class:`QuadraticEnergy`); +inf allowed.
    lower, upper : float or (d,) array_like
        The box [lower, upper], d in (1, 2), lower < upper.
    n_points : int
        Grid points per axis (>= 2); the grid has n_points^d points, at most 2^22 (see Notes).

    Returns
    -------
    () ndarray
        log Z (natural log).

    Notes
    -----
    The log-sum-exp keeps it exact for energies of any size (no overflow of exp(-E)). Error: the
    composite trapezoid rule errs by :math:`-\tfrac{(u - l) h^2}{12} f''(\xi)` per axis, O(h^2); when
    exp(-E) and its derivatives have decayed to (numerically) zero at the box's faces, the
    Euler-Maclaurin correction terms vanish and the error falls faster than any power of h
    (exponentially for analytic integrands, e.g. 1e-15 relative for a Gaussian on +-10 sd with
    n = 201). The energy is evaluated on the whole grid at once, so the grid is capped at
    :data:`reference._args.energy.MAX_GRID_POINTS` = 2^22 points (n_points <= 2^22 in 1-D, 2048 in
    2-D): a larger one is refused with a ``ValueError`` naming ``n_points``.

    A log Z that is not finite in float64 (energies that are +inf, or overflow, at every grid point, so
    that exp(-E) is 0 on the whole box; or energies near -1e300) is refused with a ``ValueError`` naming
    ``energy``: log Z is a summary value, never returned as ±inf.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Energy Based Models' (Z(theta); "computing Z(theta)
    numerically is hard" - feasible by quadrature only in low dimension); Isachenko, DGM Lecture 7,
    slide 'Unnormalized density' (Z_theta = integral of p-hat).

    Examples
    --------
    E = x^2 / 2 on [-12, 12]: Z = sqrt(2 pi), log Z = 0.9189385332 (the Gaussian integral):

    >>> round(float(log_partition_function(QuadraticEnergy(np.eye(1), np.zeros(1)), -12.0, 12.0)), 10)
    0.9189385332
    """
    energy, lower, upper, n = _check_box(energy, lower, upper, n_points)
    points, log_w = _trapezoid_grid(lower, upper, n)
    E = _evaluate(energy, points)
    with np.errstate(over="ignore", invalid="ignore"):
        log_z = np.asarray(special.logsumexp(log_w - E))
    if not np.isfinite(log_z):
        raise ValueError(AE.log_z_message("float64"))
    return log_z
