"""The reference side's array checks of the GAN argument groups, one combined checker per group.

Each public function of :mod:`reference.gan` calls one ``_check_<group>`` here, which checks and converts
its group of arguments and returns them, then computes its formula. Pure-Python argument logic (loss
kinds, sample counts, the two-sample settings) is shared with the accelerated side in
:mod:`reference._args.gan`; the accelerated side has checkers of the same names and contracts.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

import reference._args as A
import reference._args.gan as G

from .. import _checks as C


def _softplus(x: np.ndarray) -> np.ndarray:
    """log(1 + exp(x)), exact to rounding for every x including +-inf."""
    return np.logaddexp(0.0, x)


def _per_sample(name: str, x: object) -> np.ndarray:
    """Per-sample values of shape (n,) or (n, 1) with n >= 1, as a float64 vector of shape (n,)."""
    x = C.as_float64(name, x)
    G.per_sample(name, x.shape)
    return x.reshape(-1)


# --------------------------------------------------------------------------- objectives


def _check_probabilities(d_real: object, d_fake: object) -> tuple[np.ndarray, np.ndarray]:
    """Discriminator outputs (n,) or (n, 1) in [0, 1] (NaN refused), as float64 vectors (n,)."""
    d_real, d_fake = _per_sample("d_real", d_real), _per_sample("d_fake", d_fake)
    C.check_in_interval("d_real", d_real, 0.0, 1.0)  # NaN included
    C.check_in_interval("d_fake", d_fake, 0.0, 1.0)
    return d_real, d_fake


def _check_densities(p_data: object, p_model: object) -> tuple[np.ndarray, np.ndarray]:
    """Two finite non-negative density arrays whose shapes broadcast, as float64."""
    p_data, p_model = C.as_float64("p_data", p_data), C.as_float64("p_model", p_model)
    for name, p in (("p_data", p_data), ("p_model", p_model)):
        C.check_finite(name, p)
        if np.any(p < 0):
            raise ValueError(f"{name}: expected non-negative density values, got min {np.min(p)!r}")
    C.broadcast_batch(("p_data", "p_model"), (p_data.shape, p_model.shape))
    return p_data, p_model


def _check_log_densities(log_p_data: object, log_p_model: object) -> tuple[np.ndarray, np.ndarray]:
    """Two log-density arrays (-inf allowed, +inf and NaN refused) whose shapes broadcast, as float64."""
    log_p_data, log_p_model = C.as_float64("log_p_data", log_p_data), C.as_float64("log_p_model", log_p_model)
    for name, log_p in (("log_p_data", log_p_data), ("log_p_model", log_p_model)):
        C.check_not_nan(name, log_p)
        if np.any(np.isposinf(log_p)):
            raise ValueError(f"{name}: expected log-densities < +inf (-inf allowed), got +inf")
    C.broadcast_batch(("log_p_data", "log_p_model"), (log_p_data.shape, log_p_model.shape))
    return log_p_data, log_p_model


def _check_discriminator_logits(logits_real: object, logits_fake: object, kind: object) -> tuple:
    """Finite logits (n,) or (n, 1) as float64 vectors, and a discriminator loss kind."""
    kind = G.loss_kind(kind, G.DISCRIMINATOR_LOSS_KINDS)
    l_real, l_fake = _per_sample("logits_real", logits_real), _per_sample("logits_fake", logits_fake)
    C.check_finite("logits_real", l_real)
    C.check_finite("logits_fake", l_fake)
    return l_real, l_fake, kind


def _check_generator_logits(logits_fake: object, kind: object) -> tuple[np.ndarray, str]:
    """Finite logits (n,) or (n, 1) as a float64 vector, and a generator loss kind."""
    kind = G.loss_kind(kind, G.GENERATOR_LOSS_KINDS)
    l = _per_sample("logits_fake", logits_fake)
    C.check_finite("logits_fake", l)
    return l, kind


# --------------------------------------------------------------------------- wasserstein


def _check_critic_values(f_real: object, f_fake: object) -> tuple[np.ndarray, np.ndarray]:
    """Finite critic values (n,) or (n, 1), as float64 vectors (n,)."""
    f_real, f_fake = _per_sample("f_real", f_real), _per_sample("f_fake", f_fake)
    C.check_finite("f_real", f_real)
    C.check_finite("f_fake", f_fake)
    return f_real, f_fake


def _check_weights(parameters: object, c: object) -> tuple[list[np.ndarray], float]:
    """The parameter arrays (one array or an iterable of them) without NaN as float64, and the bound c > 0."""
    c = A.positive("c", c)
    if isinstance(parameters, np.ndarray):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(f"parameters: expected an iterable of arrays, got {C.describe(parameters)}")
    weights = [C.as_float64(f"parameters[{i}]", w) for i, w in enumerate(parameters)]
    for i, w in enumerate(weights):
        C.check_not_nan(f"parameters[{i}]", w)  # clip would pass NaN through
    return weights, c


def _check_interpolation(x_real: object, x_fake: object, noise: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite samples x_real, x_fake of one shape (n, ...) and coefficients u (n,) in [0, 1], as float64."""
    x_real, x_fake = C.as_float64("x_real", x_real), C.as_float64("x_fake", x_fake)
    G.samples("x_real", x_real.shape)
    C.check_shape("x_fake", x_fake, x_real.shape)
    C.check_finite("x_real", x_real)
    C.check_finite("x_fake", x_fake)
    u = C.as_float64("noise", noise)
    C.check_shape("noise", u, x_real.shape[:1])
    C.check_in_interval("noise", u, 0.0, 1.0)
    return x_real, x_fake, u


def _check_gradients(gradients: object, name: str, weight: object) -> tuple[np.ndarray, float]:
    """Finite input gradients (n, ...) with n >= 1 as float64, and the penalty weight ``name`` > 0."""
    weight = A.positive(name, weight)
    g = C.as_float64("gradients", gradients)
    G.samples("gradients", g.shape)
    C.check_finite("gradients", g)
    return g, weight


def _check_critic_parameters(W: object, b: object, a: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Finite tanh-critic parameters W (D, H), b (H,), a (H,), as float64."""
    W, b, a = C.as_float64("W", W), C.as_float64("b", b), C.as_float64("a", a)
    if W.ndim != 2:
        raise ValueError(f"W: expected a matrix of shape (D, H), got shape {W.shape}")
    C.check_shape("b", b, W.shape[1:])
    C.check_shape("a", a, W.shape[1:])
    for name, p in (("W", W), ("b", b), ("a", a)):
        C.check_finite(name, p)
    return W, b, a


def _check_analytic(name: str, critic: object) -> None:
    """The reference has no autograd: a critic must bring its input gradient as ``critic.grad(x)``."""
    if not callable(critic) or not callable(getattr(critic, "grad", None)):
        raise TypeError(
            f"{name}: expected an analytic critic with __call__(x) and grad(x) (the reference side has "
            f"no autograd; use reference.gan.TanhCritic or the accelerated side), got {C.describe(critic)}"
        )


def _check_critic_draw(critic: object, x_real: object, noise: object, rng: object) -> tuple[np.ndarray, object]:
    """An analytic critic, the real samples (n, ...) as float64, and u: ``noise`` or ``rng.random(n)``."""
    _check_analytic("critic", critic)
    C.check_noise_or_rng(noise, rng)
    x_real = C.as_float64("x_real", x_real)
    n = G.samples("x_real", x_real.shape)
    return x_real, rng.random(n) if noise is None else noise


def _check_critic_output(name: str, f: object, x: np.ndarray) -> None:
    """``critic(x)`` is an array of one value per sample, (n,) or (n, 1): the accelerated side's check."""
    if not isinstance(f, np.ndarray):
        raise TypeError(f"{name}: expected an array from {name}(x), got {C.describe(f)}")
    n = x.shape[0]
    if not (f.shape == (n,) or f.shape == (n, 1)):
        raise ValueError(
            f"{name}: expected outputs of shape (n,) or (n, 1), one value per sample, for x of shape "
            f"{x.shape}, got shape {f.shape}"
        )


def _input_gradient(name: str, critic: object, x: np.ndarray) -> np.ndarray:
    """``critic.grad(x)``, the gradient of sum_i f(x_i) in x, checked to have the shape of x, after
    ``critic(x)`` is checked to be one value per sample (as the accelerated side, which differentiates it)."""
    _check_critic_output(name, critic(x), x)
    g = C.as_float64(f"{name}.grad(x)", critic.grad(x))
    if g.shape != x.shape:
        raise ValueError(f"{name}: expected grad(x) of the shape of x, {x.shape}, got shape {g.shape}")
    return g


def _check_discriminator_samples(discriminator: object, name: str, x: object, gamma: object) -> tuple:
    """An analytic discriminator, finite samples ``name`` (n, ...) as float64, and gamma > 0."""
    _check_analytic("discriminator", discriminator)
    gamma = A.positive("gamma", gamma)
    x = C.as_float64(name, x)
    G.samples(name, x.shape)
    C.check_finite(name, x)
    return x, gamma


# --------------------------------------------------------------------------- truncation


def _check_truncation(psi: object, shape: object, noise: object, rng: object) -> tuple[float, np.ndarray]:
    """psi > 0 and the uniforms u in [0, 1]: ``noise`` (of ``shape`` if given) or ``rng.random(shape)``."""
    psi = A.positive("psi", psi)
    C.check_noise_or_rng(noise, rng)
    if shape is not None:
        shape = A.shape("shape", shape)
    if noise is None:
        if shape is None:
            raise ValueError("shape: required with rng= (the number of latents to draw), got None")
        return psi, rng.random(shape)
    u = C.as_float64("noise", noise)
    if shape is not None:
        C.check_shape("noise", u, shape)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return psi, u


def _check_latents(z: object, z_mean: object, psi: object) -> tuple[np.ndarray, np.ndarray, float]:
    """Finite latents z (..., d) and z_mean (..., d) with broadcasting batch axes, and a finite psi."""
    psi = A.real("psi", psi)
    z, z_hat = C.as_float64("z", z), C.as_float64("z_mean", z_mean)
    C.check_ndim("z", z, 1)
    C.check_ndim("z_mean", z_hat, 1)
    C.check_same_last_dim(("z", "z_mean"), (z, z_hat))
    C.broadcast_batch(("z", "z_mean"), (z.shape[:-1], z_hat.shape[:-1]))
    C.check_finite("z", z)
    C.check_finite("z_mean", z_hat)
    return z, z_hat, psi


# --------------------------------------------------------------------------- two_sample


def _check_two_samples(x: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    """Finite sample matrices x (n_x, d) and y (n_y, d), as float64."""
    x, y = C.as_float64("x", x), C.as_float64("y", y)
    for name, s in (("x", x), ("y", y)):
        if s.ndim != 2:
            raise ValueError(f"{name}: expected a matrix of shape (n, d), got shape {s.shape}")
        C.check_finite(name, s)
    C.check_same_last_dim(("x", "y"), (x, y))
    return x, y


def _check_split(noise: object, rng: object, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The split uniforms u (n_x + n_y,) in [0, 1]: ``noise``, or ``rng.random(n_x + n_y)``."""
    C.check_noise_or_rng(noise, rng)
    u = C.as_float64("noise", rng.random(len(x) + len(y)) if noise is None else noise)
    C.check_shape("noise", u, (len(x) + len(y),))
    C.check_in_interval("noise", u, 0.0, 1.0)
    return u


def _check_feature_scale(x: np.ndarray, y: np.ndarray) -> None:
    """Each feature's sum of squares over x and over y is finite (the logistic fit's Hessian can be formed)."""
    with np.errstate(over="ignore"):
        for name, s in (("x", x), ("y", y)):
            squares = np.sum(s * s, axis=0)
            if not np.all(np.isfinite(squares)):
                raise ValueError(
                    f"{name}: expected features whose sum of squares is finite in float64 (the Hessian of the "
                    f"logistic fit), got a feature scale that overflows (max |{name}| = {np.max(np.abs(s))!r})"
                )
