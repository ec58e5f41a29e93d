"""The accelerated side's tensor checks of the GAN argument groups, one combined checker per group.

Each public function of :mod:`accelerated.gan` calls one ``_check_<group>`` here, which checks and
converts its group (same names and contracts as in ``reference.gan._common``), then computes its
formula. Pure-Python argument logic is shared with the reference in :mod:`reference._args.gan`. Value
checks are device assertions without a host read; where a loss is NaN exactly when an input is, the
check is one assertion on the 0-d result (``_require_finite``, ``C.check_result``), named on the
failure path.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

import torch
from torch import nn

import reference._args as A
import reference._args.gan as G

from .. import _checks as C

# Take critic input gradients with torch.func also in eager mode (the tests run that path eagerly).
_TORCH_FUNC_IN_EAGER = False


def _per_sample(name: str, x: object) -> torch.Tensor:
    """Per-sample values of shape (n,) or (n, 1) with n >= 1, as a view of shape (n,)."""
    x = C.as_float_tensor(name, x)
    G.per_sample(name, tuple(x.shape))
    return x if x.ndim == 1 else x.squeeze(1)


def _per_sample_pair(names: tuple[str, str], a: object, b: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Both per-sample arguments (n,) in their promoted dtype (one device)."""
    a, b = _per_sample(names[0], a), _per_sample(names[1], b)
    dtype = C.promoted_dtype(names, (a, b))
    return a.to(dtype), b.to(dtype)


def _first_bad(names: tuple[str, ...], tensors: tuple, fallback: str, *, nan: bool = False) -> Callable[[], str]:
    """Failure-path message: the first argument with NaN (or non-finite) entries and their count, else ``fallback``."""

    def detail() -> str:
        for name, x in zip(names, tensors):
            count = int(torch.isnan(x.detach()).sum()) if nan else C.count_non_finite(x)
            if count:
                what = "no NaN" if nan else "finite values"
                return f"{name}: expected {what}, got {count} {'NaN' if nan else 'NaN or infinite'} entries"
        return fallback

    return detail


# --------------------------------------------------------------------------- objectives


def _check_probabilities(d_real: object, d_fake: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Discriminator outputs (n,) or (n, 1) in [0, 1] (NaN refused), as (n,) in the promoted dtype."""
    d_real, d_fake = _per_sample_pair(("d_real", "d_fake"), d_real, d_fake)
    C.check_in_interval("d_real", d_real, 0.0, 1.0)
    C.check_in_interval("d_fake", d_fake, 0.0, 1.0)
    return d_real, d_fake


def _density(name: str, p: object) -> torch.Tensor:
    """Finite non-negative density values: one device assertion."""
    p = C.as_float_tensor(name, p)
    if p.numel() and C.value_checks_active():
        low, high = torch.aminmax(p.detach())

        def detail() -> str:
            bad = C.count_non_finite(p)
            if bad:
                return f"{name}: expected finite values, got {bad} NaN or infinite entries"
            return f"{name}: expected non-negative density values, got min {float(p.min())!r}"

        C.require((low >= 0) & (high < math.inf), f"{name}: expected finite non-negative density values", detail)
    return p


def _log_density(name: str, log_p: object) -> torch.Tensor:
    """Log-densities below +inf (-inf allowed) without NaN: one device assertion."""
    log_p = C.as_float_tensor(name, log_p)
    if log_p.numel() and C.value_checks_active():
        high = log_p.detach().max()  # NaN propagates
        fallback = f"{name}: expected log-densities < +inf (-inf allowed), got +inf"
        message = f"{name}: expected log-densities < +inf (-inf allowed) and no NaN"
        C.require(high < math.inf, message, _first_bad((name,), (log_p,), fallback, nan=True))
    return log_p


def _check_densities(p_data: object, p_model: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two finite non-negative density tensors of one dtype and device whose shapes broadcast."""
    p_data, p_model = _density("p_data", p_data), _density("p_model", p_model)
    C.check_same_device_dtype(("p_data", "p_model"), (p_data, p_model))
    C.broadcast_batch(("p_data", "p_model"), (p_data.shape, p_model.shape))
    return p_data, p_model


def _check_log_densities(log_p_data: object, log_p_model: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Two log-density tensors (-inf allowed, +inf and NaN refused), one dtype and device, broadcasting."""
    log_p_data, log_p_model = _log_density("log_p_data", log_p_data), _log_density("log_p_model", log_p_model)
    C.check_same_device_dtype(("log_p_data", "log_p_model"), (log_p_data, log_p_model))
    C.broadcast_batch(("log_p_data", "log_p_model"), (log_p_data.shape, log_p_model.shape))
    return log_p_data, log_p_model


def _check_discriminator_logits(logits_real: object, logits_fake: object, kind: object) -> tuple:
    """Finite logits (n,) or (n, 1) as (n,) in the promoted dtype (device assertions, no host read), and a
    discriminator loss kind."""
    kind = G.loss_kind(kind, G.DISCRIMINATOR_LOSS_KINDS)
    l_real, l_fake = _per_sample_pair(("logits_real", "logits_fake"), logits_real, logits_fake)
    C.check_finite("logits_real", l_real)
    C.check_finite("logits_fake", l_fake)
    return l_real, l_fake, kind


def _check_generator_logits(logits_fake: object, kind: object) -> tuple[torch.Tensor, str]:
    """Finite logits (n,) or (n, 1) as (n,) (a device assertion, no host read), and a generator loss kind."""
    kind = G.loss_kind(kind, G.GENERATOR_LOSS_KINDS)
    l = _per_sample("logits_fake", logits_fake)
    C.check_finite("logits_fake", l)
    return l, kind


# --------------------------------------------------------------------------- wasserstein


def _check_critic_values(f_real: object, f_fake: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Critic values (n,) or (n, 1) as (n,) views, on one device; finiteness is checked on the objective."""
    f_real, f_fake = _per_sample("f_real", f_real), _per_sample("f_fake", f_fake)
    C.promoted_dtype(("f_real", "f_fake"), (f_real, f_fake))
    return f_real, f_fake


def _require_finite(result: torch.Tensor, names: tuple[str, ...], tensors: tuple) -> None:
    """One device assertion that a float64 mean of the inputs is finite, which it is exactly when they are."""
    if C.value_checks_active():
        detail = _first_bad(names, tensors, f"{', '.join(names)}: expected finite means")
        C.require(torch.isfinite(result.detach()), f"{', '.join(names)}: expected finite values", detail)


def _check_weights(parameters: object, c: object) -> tuple[list[torch.Tensor], float]:
    """The tensors to clip (an nn.Module's parameters, one tensor, or an iterable of them) without NaN
    (one device assertion each), and c > 0."""
    c = A.positive("c", c)
    if isinstance(parameters, nn.Module):
        parameters = parameters.parameters()
    elif isinstance(parameters, torch.Tensor):
        parameters = [parameters]
    if isinstance(parameters, (str, bytes)) or not isinstance(parameters, Iterable):
        raise TypeError(f"parameters: expected an nn.Module or tensors, got {C.describe(parameters)}")
    weights = [C.as_float_tensor(f"parameters[{i}]", w) for i, w in enumerate(parameters)]
    for i, w in enumerate(weights):
        C.check_not_nan(f"parameters[{i}]", w)  # clamp would pass NaN through; checked before any change
    return weights, c


def _check_interpolation(
    x_real: object, x_fake: object, noise: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Finite samples x_real, x_fake of one shape (n, ...) and coefficients u (n,) in [0, 1], on one device."""
    x_real = C.as_float_tensor("x_real", x_real)
    G.samples("x_real", tuple(x_real.shape))
    x_fake, u = C.as_float_tensor("x_fake", x_fake), C.as_float_tensor("noise", noise)
    C.check_same_device(("x_real", "x_fake", "noise"), (x_real, x_fake, u))
    C.check_shape("x_fake", x_fake, x_real.shape)
    C.check_shape("noise", u, x_real.shape[:1])
    C.check_finite("x_real", x_real)
    C.check_finite("x_fake", x_fake)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return x_real, x_fake, u


def _check_gradients(gradients: object, name: str, weight: object) -> tuple[torch.Tensor, float]:
    """Finite input gradients (n, ...), n >= 1, and the penalty weight ``name`` > 0."""
    weight = A.positive(name, weight)
    g = C.as_float_tensor("gradients", gradients)
    G.samples("gradients", tuple(g.shape))
    C.check_finite("gradients", g)
    return g, weight


def _check_critic_parameters(W: object, b: object, a: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Finite tanh-critic parameters W (D, H), b (H,), a (H,) of one dtype and device."""
    W, b, a = C.as_float_tensor("W", W), C.as_float_tensor("b", b), C.as_float_tensor("a", a)
    C.check_same_device_dtype(("W", "b", "a"), (W, b, a))
    if W.ndim != 2:
        raise ValueError(f"W: expected a matrix of shape (D, H), got shape {tuple(W.shape)}")
    C.check_shape("b", b, W.shape[1:])
    C.check_shape("a", a, W.shape[1:])
    for name, p in (("W", W), ("b", b), ("a", a)):
        C.check_finite(name, p)
    return W, b, a


def _check_critic_draw(critic: object, x_real: object, x_fake: object, weight: object, noise: object, rng: object):
    """A callable critic, samples (n, ...) of one shape, lambda > 0 and u: ``noise`` (checked with the
    penalty, see :func:`_require_finite_penalty`) or drawn by ``rng`` on the samples' device and dtype."""
    if not callable(critic):
        raise TypeError(f"critic: expected a callable (e.g. an nn.Module), got {C.describe(critic)}")
    weight = A.positive("weight", weight)
    C.check_noise_or_rng(noise, rng)
    x_real, x_fake = C.as_float_tensor("x_real", x_real), C.as_float_tensor("x_fake", x_fake)
    n = G.samples("x_real", tuple(x_real.shape))
    C.check_shape("x_fake", x_fake, x_real.shape)
    dtype = C.promoted_dtype(("x_real", "x_fake"), (x_real, x_fake))
    if noise is None:
        rng = C.check_generator(rng, x_real.device)
        return x_real, x_fake, weight, torch.rand(n, generator=rng, device=x_real.device, dtype=dtype)
    u = C.as_float_tensor("noise", noise)
    C.check_same_device(("x_real", "noise"), (x_real, u))
    C.check_shape("noise", u, (n,))
    return x_real, x_fake, weight, u


def _check_discriminator_samples(discriminator: object, name: str, x: object, gamma: object) -> tuple:
    """A callable discriminator, samples ``name`` (n, ...) (finiteness checked with the penalty), gamma > 0."""
    if not callable(discriminator):
        raise TypeError(f"discriminator: expected a callable (e.g. an nn.Module), got {C.describe(discriminator)}")
    gamma = A.positive("gamma", gamma)
    x = C.as_float_tensor(name, x)
    G.samples(name, tuple(x.shape))
    return x, gamma


def _input_gradient(name: str, critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """grad_x sum_i critic(x)_i at the detached x, with a graph to the critic's parameters (see the module doc).

    ``torch.func.vjp`` while dynamo traces (no graph break) and inside the caller's ``torch.func``
    transforms (where autograd.grad is refused), ``torch.autograd.grad(create_graph=True)`` in plain
    eager mode (faster there, and it accepts critics that update buffers in the call). The critic's
    own value checks (e.g. :class:`accelerated.gan.TanhCritic`'s finite x) are off during the call
    (``C.off_in_loop``): the penalty's one assertion afterwards covers the samples and names them.
    """
    x = x.detach()
    with torch.enable_grad(), C.off_in_loop():
        if _TORCH_FUNC_IN_EAGER or torch.compiler.is_compiling() or C.inside_functorch_transform():
            f, pullback = torch.func.vjp(critic, x)
            _check_critic_output(name, f, x)
            (g,) = pullback(torch.ones_like(f))
            return g
        x.requires_grad_(True)
        f = critic(x)
        _check_critic_output(name, f, x)
        if not f.requires_grad:  # f depends neither on x nor on a parameter: its gradient is 0
            return torch.zeros_like(x)
        (g,) = torch.autograd.grad(f, x, torch.ones_like(f), create_graph=True, materialize_grads=True)
    return g


def _check_critic_output(name: str, f: object, x: torch.Tensor) -> None:
    if not isinstance(f, torch.Tensor):
        raise TypeError(f"{name}: expected a tensor from {name}(x), got {C.describe(f)}")
    n = x.shape[0]
    if not (f.shape == (n,) or f.shape == (n, 1)):
        raise ValueError(
            f"{name}: expected outputs of shape (n,) or (n, 1), one value per sample, for x of shape "
            f"{tuple(x.shape)}, got shape {tuple(f.shape)}"
        )


def _require_finite_penalty(
    penalty: torch.Tensor,
    x: torch.Tensor,
    names: tuple[str, ...],
    samples: tuple[torch.Tensor, ...],
    critic: str,
    g: torch.Tensor,
    u: torch.Tensor | None = None,
) -> None:
    """One device assertion: finite samples ``x`` (the interpolates stand for both sets: lerp is
    non-finite wherever either input is), a finite penalty (finite critic input gradients) and, where
    given, pre-drawn coefficients ``u`` in [0, 1].

    The flag is that of the sum of x plus the penalty: a NaN or inf in either makes it non-finite (a
    sum that overflows float32 needs samples near its largest value, 3e38, and is reported too)."""
    if C.value_checks_active():

        def detail() -> str:  # failure path only
            if u is not None and not bool(C.interval_flag(u, 0.0, 1.0)):
                nan = int(torch.isnan(u).sum())
                if nan:
                    return f"noise: expected no NaN, got {nan} NaN entries"
                return f"noise: expected values in [0.0, 1.0], got min {float(u.min())!r} and max {float(u.max())!r}"
            fallback = f"{critic}: expected finite input gradients, got {C.count_non_finite(g)} non-finite entries"
            return _first_bad(names, samples, fallback)()

        message = f"{', '.join(names)}, {critic}: expected finite samples and input gradients"
        if u is not None:
            message += ", noise: expected values in [0, 1]"
        total = x.detach().sum(dtype=C.accumulation_dtype(x.dtype)) + penalty.detach()
        ok = C.result_flag(total)
        if u is not None:
            ok = ok.logical_and_(C.interval_flag(u, 0.0, 1.0))
        C.require(ok, message, detail)


# --------------------------------------------------------------------------- truncation


def _check_truncation(psi: object, shape: object, noise: object, rng: object) -> tuple[float, torch.Tensor]:
    """psi > 0 and the uniforms u in [0, 1]: ``noise`` (of ``shape`` if given), or drawn by ``rng`` with
    ``torch.rand(shape)`` on the generator's device in the default dtype."""
    psi = A.positive("psi", psi)
    C.check_noise_or_rng(noise, rng)
    if shape is not None:
        shape = A.shape("shape", shape)
    if noise is None:
        if shape is None:
            raise ValueError("shape: required with rng= (the number of latents to draw), got None")
        return psi, torch.rand(shape, generator=rng, device=rng.device, dtype=torch.get_default_dtype())
    u = C.as_float_tensor("noise", noise)
    if shape is not None:
        C.check_shape("noise", u, shape)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return psi, u


def _check_latents(z: object, z_mean: object, psi: object) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Finite latents z (..., d), z_mean (..., d) of one dtype and device, broadcasting, and a finite psi."""
    psi = A.real("psi", psi)
    z, z_hat = C.as_float_tensor("z", z), C.as_float_tensor("z_mean", z_mean)
    C.check_same_device_dtype(("z", "z_mean"), (z, z_hat))
    for name, v in (("z", z), ("z_mean", z_hat)):
        C.check_ndim(name, v, 1)
    C.check_same_last_dim(("z", "z_mean"), (z, z_hat))
    C.broadcast_batch(("z", "z_mean"), (z.shape[:-1], z_hat.shape[:-1]))
    for name, v in (("z", z), ("z_mean", z_hat)):
        C.check_finite(name, v)
    return z, z_hat, psi


# --------------------------------------------------------------------------- two_sample


def _check_two_samples(x: object, y: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Finite sample matrices x (n_x, d), y (n_y, d) of one dtype and device."""
    x, y = C.as_float_tensor("x", x), C.as_float_tensor("y", y)
    C.check_same_device_dtype(("x", "y"), (x, y))
    for name, s in (("x", x), ("y", y)):
        if s.ndim != 2:
            raise ValueError(f"{name}: expected a matrix of shape (n, d), got shape {tuple(s.shape)}")
        C.check_finite(name, s)
    C.check_same_last_dim(("x", "y"), (x, y))
    return x, y


def _check_split(noise: object, rng: object, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The split uniforms u (n_x + n_y,) in [0, 1] as float64 on x's device: ``noise``, or drawn by an
    ``rng`` on that device."""
    n = x.shape[0] + y.shape[0]
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        noise = torch.rand(n, generator=C.check_generator(rng, x.device), device=x.device, dtype=torch.float64)
    u = C.as_float_tensor("noise", noise)
    C.check_shape("noise", u, (n,))
    C.check_in_interval("noise", u, 0.0, 1.0)
    return u.to(device=x.device, dtype=torch.float64)


def _check_feature_scale(x: torch.Tensor, y: torch.Tensor) -> None:
    """Each feature's sum of squares over x and over y (float64) is finite: one device assertion per set."""
    if C.value_checks_active():
        for name, s in (("x", x), ("y", y)):

            def detail(name: str = name, s: torch.Tensor = s) -> str:
                return (
                    f"{name}: expected features whose sum of squares is finite in float64 (the Hessian of the "
                    f"logistic fit), got a feature scale that overflows (max |{name}| = {float(s.abs().max())!r})"
                )

            message = (
                f"{name}: expected features whose sum of squares is finite in float64 (the Hessian of the logistic fit)"
            )
            C.require(C.finite_flag((s * s).sum(0)), message, detail)
