r"""DDPM in PyTorch: schedules, forward process, posterior, ELBO terms, a sync-free sampler, guidance.

Same formulas, names and parameters as :mod:`reference.diffusion` (see it for the slides: Isachenko DGM
Lecture 13, 'ELBO of gaussian diffusion model', 'Reparametrization', 'Simplified objective',
'Training', 'Sampling', 'DDPM vs NCSN'; Lecture 14, 'Classifier guidance', 'Classifier-free guidance').

Conventions (as on the reference side)
--------------------------------------
* **Time indices are positions 0..T-1 into the schedule tables.** Position ``t`` holds the slide's step
  ``t + 1``; ``alpha_bars_prev[0] = 1`` (the value before the first step), as in the code of Ho et al.
* **Tables are float64** on the device of the betas (:class:`Schedule`, movable with ``.to(device)``).
  A function gathers the float64 entries at ``t``, forms its coefficients in float64 (so that
  1 - alpha_t is beta_t, never a float32 difference of numbers near 1), and casts each coefficient once
  to the data's dtype, where it is used. The data arithmetic follows the inputs' dtype and device and is
  differentiable with autograd, except where said below.
* **Batches.** ``t`` is an integer tensor on the schedule's device, shape ``(n,)`` for data of shape
  ``(n, ...)`` (any rank) or ``()``; coefficients broadcast as ``t.shape + (1,) * (x.ndim - t.ndim)``.
* **Norms and KLs are sums over the feature axes**, one value per batch element, in nats.
* **Randomness** only through ``noise=`` (standard normals) or ``rng=`` (a ``torch.Generator`` on the
  data's device), exactly one of them.

Precision. ``gaussian_kl``, ``l_simple``, ``prior_kl`` and ``weighted_dsm_loss`` accumulate their sums
over the feature axes in float64 and cast the result back. ``l_t`` and ``weighted_dsm_loss`` evaluate in
float64 throughout (inputs upcast, result cast back): both subtract two nearly equal quantities (the two
means, or x_t and sqrt(alpha_bar) x_0) and divide by a small variance (beta_tilde_t, 1 - alpha_bar_t, as
small as 1e-4), which in float32 leaves as few as two correct digits. Every other function computes in the
inputs' dtype: its float32 error is a few ulp of the largest term, times the factor the formula itself
divides by (1 / sqrt(alpha_bar_t) up to 158 at the end of the linear schedule, 2e4 at the end of the
clipped cosine one, for ``predict_x0_from_eps``; the conversions through v have no such factor).

Host synchronisation. Shape, dtype and device checks read metadata only. Value checks (``t`` in range,
finite data) are fused into one host read per call and are skipped inside ``torch.compile``, under CUDA
graph capture and with :func:`accelerated.value_checks` off. :func:`ddpm_sample` validates once, builds its
per-step coefficient tensors on the device before the loop, indexes them with a Python step counter and
makes no host read inside the loop (no ``.item()``, no branch on device values; this library's own
value checks are off inside it, so an ``eps_fn`` built from its functions does not read either), so the
loop can be captured in a CUDA graph (with ``noise=``, or a generator registered with the graph) or compiled.

One-sided names: none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch

from . import _checks as C

__all__ = [
    "GaussianEps",
    "Posterior",
    "Schedule",
    "classifier_free_guidance",
    "classifier_guided_eps",
    "classifier_guided_mean",
    "cosine_beta_schedule",
    "ddpm_sample",
    "ddpm_step",
    "elbo_weight",
    "eps_to_score",
    "gaussian_kl",
    "l_simple",
    "l_t",
    "linear_beta_schedule",
    "p_mean_from_eps",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "predict_x0_from_v",
    "prior_kl",
    "q_posterior",
    "q_sample",
    "q_score",
    "q_step",
    "score_to_eps",
    "velocity",
    "weighted_dsm_loss",
]

_F64 = torch.float64


# --------------------------------------------------------------------------- input helpers


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected a positive int, got {C.describe(value)}")
    if value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return value


def _open_unit(name: str, value: object) -> float:
    value = C.check_real_scalar(name, value)
    if not 0.0 < value < 1.0:
        raise ValueError(f"{name}: expected a number in the open interval (0, 1), got {value!r}")
    return value


def _schedule(schedule: object) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule: expected an accelerated.diffusion.Schedule (build it with Schedule(betas)), "
            f"got {C.describe(schedule)}"
        )
    return schedule


def _data(name: str, x: object, min_ndim: int = 0) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    C.check_ndim(name, x, min_ndim)
    return x


def _same(names: tuple[str, ...], tensors: tuple[torch.Tensor, ...]) -> None:
    """One shape, dtype and device for the data arguments."""
    C.check_same_device_dtype(names, tensors)
    if len({tuple(x.shape) for x in tensors}) > 1:
        got = ", ".join(f"{n} {tuple(x.shape)}" for n, x in zip(names, tensors))
        raise ValueError(f"{', '.join(names)}: expected tensors of one shape, got {got}")


def _positions(t: object, schedule: Schedule, x: torch.Tensor | None = None, x_name: str = "x") -> torch.Tensor:
    """Integer positions of shape () or (n,) on the schedule's device (range checked in _check_values)."""
    t = C.as_int_tensor("t", t)
    if t.dtype != torch.int64:
        t = t.long()  # a uint8 index would act as a mask
    if t.ndim > 1:
        raise ValueError(
            f"t: expected integer positions of shape () or (n,) (one per batch element), got shape {tuple(t.shape)}"
        )
    if x is not None and t.ndim == 1 and (x.ndim == 0 or x.shape[0] != t.shape[0]):
        raise ValueError(
            f"t, {x_name}: expected one position per batch element (t of shape (n,) and {x_name} of shape "
            f"(n, ...)), got t {tuple(t.shape)} and {x_name} {tuple(x.shape)}"
        )
    if t.device != schedule.device:
        raise ValueError(
            f"t: expected a tensor on the schedule's device {schedule.device}, got one on {t.device} "
            "(move the schedule with schedule.to(device))"
        )
    if x is not None and x.device != schedule.device:
        raise ValueError(
            f"{x_name}: expected a tensor on the schedule's device {schedule.device}, got one on {x.device} "
            "(move the schedule with schedule.to(device))"
        )
    return t


def _check_values(
    t: torch.Tensor | None,
    T: int,
    data: tuple[tuple[str, torch.Tensor], ...],
    *,
    positions: str = "0..T-1",
    extra: tuple[tuple[torch.Tensor, Callable[[], str]], ...] = (),
) -> None:
    """t in range, data finite and the ``extra`` (ok-flag, message) conditions, in one host read.

    Skipped when value checks are off (``accelerated.value_checks(False)``, compiling, graph capture).
    """
    if not C.value_checks_active():
        return
    low = 1 if positions == "1..T-1" else 0
    flags = [torch.isfinite(x.detach()).all() for _, x in data] + [ok for ok, _ in extra]
    if t is not None and t.numel():
        flags.append(((t >= low) & (t < T)).all())
    if not flags or bool(torch.stack([f.to(flags[0].device) for f in flags]).all()):
        return
    if t is not None and t.numel() and not bool(((t >= low) & (t < T)).all()):
        if low == 1 and bool(((t >= 0) & (t < T)).all()):
            raise ValueError(
                "t: expected positions 1..T-1; position 0 (the slide's step 1) is the reconstruction term "
                "E log p(x_0 | x_1), not a KL (beta_tilde = 0 there), got a 0"
            )
        raise ValueError(
            f"t: expected integer positions in {low}..{T - 1} (position t is the slide's step t + 1; T = {T}), "
            f"got min {int(t.min())} and max {int(t.max())}"
        )
    for name, x in data:
        C.check_finite(name, x)
    for ok, message in extra:
        if not bool(ok):
            raise ValueError(message())


def _at(value: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A float64 coefficient gathered at t, cast to like's dtype and shaped to broadcast over its features."""
    return value.reshape(tuple(t.shape) + (1,) * max(like.ndim - t.ndim, 0)).to(like.dtype)


def _noise(noise: object, rng: object, like: torch.Tensor, name: str = "noise") -> torch.Tensor:
    C.check_noise_or_rng(noise, rng, noise_name=name)
    if noise is None:
        if rng.device != like.device:
            raise ValueError(f"rng: expected a generator on {like.device} (the data's device), got one on {rng.device}")
        return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)
    z = C.as_float_tensor(name, noise)
    C.check_shape(name, z, like.shape)
    return z


def _clip_range(clip_x0: object) -> tuple[float, float] | None:
    if clip_x0 is None:
        return None
    if not isinstance(clip_x0, (tuple, list)) or len(clip_x0) != 2:
        raise TypeError(f"clip_x0: expected None or a pair (low, high), got {C.describe(clip_x0)}")
    low, high = C.check_real_scalar("clip_x0[0]", clip_x0[0]), C.check_real_scalar("clip_x0[1]", clip_x0[1])
    if not low < high:
        raise ValueError(f"clip_x0: expected low < high, got ({low!r}, {high!r})")
    return low, high


def _sum_features(x: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first, accumulated in float64."""
    if x.ndim == 1:
        return x.to(_F64)
    return x.sum(dim=tuple(range(1, x.ndim)), dtype=_F64)


# --------------------------------------------------------------------------- schedules


def linear_beta_schedule(T: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> torch.Tensor:
    r"""Linear variance schedule of Ho et al. (see :func:`reference.diffusion.linear_beta_schedule`).

    .. math::

        \beta_t = \beta_{\text{start}} + \frac{t - 1}{T - 1} (\beta_{\text{end}} - \beta_{\text{start}}),
        \qquad t = 1, \dots, T.

    Parameters
    ----------
    T : int
        Number of steps, >= 1.
    beta_start, beta_end : float
        Each in (0, 1); no rescaling for T != 1000.

    Returns
    -------
    (T,) Tensor
        float64 betas on the CPU (``Schedule(betas.to(device))`` for another device).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    Section 4.
    """
    T = _positive_int("T", T)
    beta_start = _open_unit("beta_start", beta_start)
    beta_end = _open_unit("beta_end", beta_end)
    return torch.linspace(beta_start, beta_end, T, dtype=_F64)


def cosine_beta_schedule(T: int, s: float = 0.008, max_beta: float = 0.999) -> torch.Tensor:
    r"""Cosine schedule of Nichol & Dhariwal (see :func:`reference.diffusion.cosine_beta_schedule`).

    .. math::

        \bar\alpha(t) = \frac{f(t)}{f(0)}, \quad f(t) = \cos^2\Bigl(\frac{t / T + s}{1 + s} \cdot \frac{\pi}{2}\Bigr),
        \qquad \beta_t = \min\Bigl(1 - \frac{\bar\alpha(t)}{\bar\alpha(t - 1)}, \beta_{\max}\Bigr).

    Parameters
    ----------
    T : int
        Number of steps, >= 1.
    s : float
        Offset >= 0.
    max_beta : float
        Clip in (0, 1).

    Returns
    -------
    (T,) Tensor
        float64 betas on the CPU.

    References
    ----------
    Nichol, Dhariwal, Improved Denoising Diffusion Probabilistic Models, ICML 2021, eq. (17).
    """
    T = _positive_int("T", T)
    s = C.check_real_scalar("s", s)
    if s < 0:
        raise ValueError(f"s: expected a finite number >= 0, got {s!r}")
    max_beta = _open_unit("max_beta", max_beta)
    steps = torch.arange(T + 1, dtype=_F64) / T
    f = torch.cos((steps + s) / (1.0 + s) * (torch.pi / 2.0)) ** 2
    alpha_bar = f / f[0]
    return torch.clamp(1.0 - alpha_bar[1:] / alpha_bar[:-1], max=max_beta)


_TABLES = (
    "betas",
    "alphas",
    "alpha_bars",
    "alpha_bars_prev",
    "one_minus_alpha_bars",
    "sqrt_alpha_bars",
    "sqrt_one_minus_alpha_bars",
    "beta_tilde",
    "log_beta_tilde_clipped",
    "posterior_mean_coef_x0",
    "posterior_mean_coef_xt",
)


class Schedule:
    r"""The float64 tables of a DDPM forward process on the betas' device (see :class:`reference.diffusion.Schedule`).

    .. math::

        \alpha_t = 1 - \beta_t, \quad \bar\alpha_t = \prod_{s \le t} \alpha_s, \quad
        \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t, \quad
        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t.

    Attributes: the ``(T,)`` float64 tensors ``betas``, ``alphas``, ``alpha_bars``, ``alpha_bars_prev``
    (1 at position 0), ``one_minus_alpha_bars`` (-expm1(cumsum(log1p(-beta))), no cancellation),
    ``sqrt_alpha_bars``, ``sqrt_one_minus_alpha_bars``, ``beta_tilde`` (0 at position 0),
    ``log_beta_tilde_clipped`` (position 0 takes the position-1 value, log beta_1 if T = 1),
    ``posterior_mean_coef_x0``, ``posterior_mean_coef_xt``; ``T`` and ``device``. The tables are built
    once, in float64, whatever the dtype of ``betas`` (a float32 tensor is upcast first).

    Parameters
    ----------
    betas : (T,) Tensor
        Forward-process variances, each in the open interval (0, 1) (checked once, one host read; skipped
        with value checks off).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    eqs. (4), (6), (7).
    """

    def __init__(self, betas: torch.Tensor) -> None:
        betas = C.as_float_tensor("betas", betas)
        if betas.ndim != 1 or betas.shape[0] == 0:
            raise ValueError(
                f"betas: expected a non-empty 1-D tensor (one beta per step), got shape {tuple(betas.shape)}"
            )
        betas = betas.detach().to(_F64).clone()
        if C.value_checks_active() and not bool(((betas > 0) & (betas < 1)).all()):
            C.check_not_nan("betas", betas)
            raise ValueError(
                f"betas: expected every beta in the open interval (0, 1), got min {float(betas.min())!r} and "
                f"max {float(betas.max())!r}"
            )
        alphas = 1.0 - betas
        alpha_bars = torch.cumprod(alphas, dim=0)
        one = torch.ones(1, dtype=_F64, device=betas.device)
        alpha_bars_prev = torch.cat((one, alpha_bars[:-1]))
        one_minus_alpha_bars = -torch.expm1(torch.cumsum(torch.log1p(-betas), dim=0))
        one_minus_alpha_bars_prev = torch.cat((torch.zeros_like(one), one_minus_alpha_bars[:-1]))
        beta_tilde = betas * one_minus_alpha_bars_prev / one_minus_alpha_bars
        clipped = torch.cat((beta_tilde[1:2], beta_tilde[1:])) if betas.shape[0] > 1 else betas
        self.betas = betas
        self.alphas = alphas
        self.alpha_bars = alpha_bars
        self.alpha_bars_prev = alpha_bars_prev
        self.one_minus_alpha_bars = one_minus_alpha_bars
        self.sqrt_alpha_bars = torch.sqrt(alpha_bars)
        self.sqrt_one_minus_alpha_bars = torch.sqrt(one_minus_alpha_bars)
        self.beta_tilde = beta_tilde
        self.log_beta_tilde_clipped = torch.log(clipped)
        self.posterior_mean_coef_x0 = torch.sqrt(alpha_bars_prev) * betas / one_minus_alpha_bars
        self.posterior_mean_coef_xt = torch.sqrt(alphas) * one_minus_alpha_bars_prev / one_minus_alpha_bars

    @property
    def T(self) -> int:
        """Number of diffusion steps."""
        return int(self.betas.shape[0])

    @property
    def device(self) -> torch.device:
        return self.betas.device

    def to(self, device: torch.device | str) -> Schedule:
        """The same tables on another device (copied, not recomputed, so they stay bit-identical)."""
        moved = object.__new__(Schedule)
        for name in _TABLES:
            setattr(moved, name, getattr(self, name).to(device))
        return moved

    def __len__(self) -> int:
        return self.T

    def __repr__(self) -> str:
        return f"Schedule(T={self.T}, device={self.device})"


# --------------------------------------------------------------------------- forward process


def q_step(x_prev: torch.Tensor, t: torch.Tensor, schedule: Schedule, noise: torch.Tensor | None = None, *, rng=None):
    r"""One forward step x_t = sqrt(1 - beta_t) x_{t-1} + sqrt(beta_t) eps.

    .. math::

        q(x_t \mid x_{t-1}) = \mathcal N(\sqrt{1 - \beta_t}\, x_{t-1}, \beta_t I).

    Parameters
    ----------
    x_prev : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        eps; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        On the data's device.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (2).
    """
    schedule = _schedule(schedule)
    x_prev = _data("x_prev", x_prev)
    t = _positions(t, schedule, x_prev, "x_prev")
    eps = _noise(noise, rng, x_prev)
    _same(("x_prev", "noise"), (x_prev, eps))
    _check_values(t, schedule.T, (("x_prev", x_prev), ("noise", eps)))
    beta = schedule.betas[t]
    return _at(torch.sqrt(1.0 - beta), t, x_prev) * x_prev + _at(torch.sqrt(beta), t, x_prev) * eps


def q_sample(x0: torch.Tensor, t: torch.Tensor, schedule: Schedule, noise: torch.Tensor | None = None, *, rng=None):
    r"""Closed-form noising x_t = sqrt(alpha_bar_t) x_0 + sqrt(1 - alpha_bar_t) eps.

    .. math::

        q(x_t \mid x_0) = \mathcal N(\sqrt{\bar\alpha_t}\, x_0, (1 - \bar\alpha_t) I).

    Parameters
    ----------
    x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        eps; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Training' and 'DDPM vs NCSN'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).
    """
    schedule = _schedule(schedule)
    x0 = _data("x0", x0)
    t = _positions(t, schedule, x0, "x0")
    eps = _noise(noise, rng, x0)
    _same(("x0", "noise"), (x0, eps))
    _check_values(t, schedule.T, (("x0", x0), ("noise", eps)))
    return _at(schedule.sqrt_alpha_bars[t], t, x0) * x0 + _at(schedule.sqrt_one_minus_alpha_bars[t], t, x0) * eps


class Posterior(NamedTuple):
    """Mean and variance of q(x_{t-1} | x_t, x_0); the variance broadcasts against the mean."""

    mean: torch.Tensor
    variance: torch.Tensor


def q_posterior(x0: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> Posterior:
    r"""Mean and variance of q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I).

    .. math::

        \tilde\mu_t = \frac{\sqrt{\bar\alpha_{t-1}} \beta_t}{1 - \bar\alpha_t} x_0
                    + \frac{\sqrt{\alpha_t} (1 - \bar\alpha_{t-1})}{1 - \bar\alpha_t} x_t,
        \qquad \tilde\beta_t = \frac{1 - \bar\alpha_{t-1}}{1 - \bar\alpha_t} \beta_t.

    Parameters
    ----------
    x0, x_t : (n, ...) Tensor
        One shape, dtype and device.
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    Posterior
        ``mean`` (n, ...) and ``variance`` of shape ``t.shape + (1,) * (x.ndim - t.ndim)``, in the data's dtype.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020,
    eqs. (6)-(7).
    """
    schedule = _schedule(schedule)
    x0, x_t = _data("x0", x0), _data("x_t", x_t)
    _same(("x0", "x_t"), (x0, x_t))
    t = _positions(t, schedule, x0, "x0")
    _check_values(t, schedule.T, (("x0", x0), ("x_t", x_t)))
    coef_x0 = _at(schedule.posterior_mean_coef_x0[t], t, x0)
    coef_xt = _at(schedule.posterior_mean_coef_xt[t], t, x0)
    return Posterior(coef_x0 * x0 + coef_xt * x_t, _at(schedule.beta_tilde[t], t, x0))


# --------------------------------------------------------------------------- conversions


def _pair(names: tuple[str, str], a: object, b: object, t: object, schedule: object):
    schedule = _schedule(schedule)
    a, b = _data(names[0], a), _data(names[1], b)
    _same(names, (a, b))
    t = _positions(t, schedule, a, names[0])
    _check_values(t, schedule.T, ((names[0], a), (names[1], b)))
    return a, b, t, schedule


def _single(name: str, x: object, t: object, schedule: object):
    schedule = _schedule(schedule)
    x = _data(name, x)
    t = _positions(t, schedule, x, name)
    _check_values(t, schedule.T, ((name, x),))
    return x, t, schedule


def predict_x0_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""x_0 = (x_t - sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_bar_t).

    .. math::

        \hat x_0 = \frac{x_t - \sqrt{1 - \bar\alpha_t}\, \epsilon}{\sqrt{\bar\alpha_t}}.

    Parameters
    ----------
    x_t, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (15).
    """
    x_t, eps, t, schedule = _pair(("x_t", "eps"), x_t, eps, t, schedule)
    sqrt_one_minus_alpha_bar = _at(schedule.sqrt_one_minus_alpha_bars[t], t, x_t)
    return (x_t - sqrt_one_minus_alpha_bar * eps) / _at(schedule.sqrt_alpha_bars[t], t, x_t)


def predict_eps_from_x0(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""eps = (x_t - sqrt(alpha_bar_t) x_0) / sqrt(1 - alpha_bar_t).

    .. math::

        \epsilon = \frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (4).
    """
    x_t, x0, t, schedule = _pair(("x_t", "x0"), x_t, x0, t, schedule)
    sqrt_alpha_bar = _at(schedule.sqrt_alpha_bars[t], t, x_t)
    return (x_t - sqrt_alpha_bar * x0) / _at(schedule.sqrt_one_minus_alpha_bars[t], t, x_t)


def velocity(x0: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""The v target of Salimans & Ho: v = sqrt(alpha_bar_t) eps - sqrt(1 - alpha_bar_t) x_0.

    .. math::

        v_t = \sqrt{\bar\alpha_t}\, \epsilon - \sqrt{1 - \bar\alpha_t}\, x_0.

    Parameters
    ----------
    x0, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, Progressive Distillation for Fast Sampling of Diffusion Models, ICLR 2022, Section 4.
    """
    x0, eps, t, schedule = _pair(("x0", "eps"), x0, eps, t, schedule)
    return _at(schedule.sqrt_alpha_bars[t], t, x0) * eps - _at(schedule.sqrt_one_minus_alpha_bars[t], t, x0) * x0


def predict_x0_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""x_0 = sqrt(alpha_bar_t) x_t - sqrt(1 - alpha_bar_t) v.

    .. math::

        \hat x_0 = \sqrt{\bar\alpha_t}\, x_t - \sqrt{1 - \bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.
    """
    x_t, v, t, schedule = _pair(("x_t", "v"), x_t, v, t, schedule)
    return _at(schedule.sqrt_alpha_bars[t], t, x_t) * x_t - _at(schedule.sqrt_one_minus_alpha_bars[t], t, x_t) * v


def predict_eps_from_v(x_t: torch.Tensor, v: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""eps = sqrt(1 - alpha_bar_t) x_t + sqrt(alpha_bar_t) v.

    .. math::

        \hat\epsilon = \sqrt{1 - \bar\alpha_t}\, x_t + \sqrt{\bar\alpha_t}\, v_t.

    Parameters
    ----------
    x_t, v : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Salimans, Ho, ICLR 2022, Section 4.
    """
    x_t, v, t, schedule = _pair(("x_t", "v"), x_t, v, t, schedule)
    return _at(schedule.sqrt_one_minus_alpha_bars[t], t, x_t) * x_t + _at(schedule.sqrt_alpha_bars[t], t, x_t) * v


def eps_to_score(eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Score from noise prediction, s = -eps / sqrt(1 - alpha_bar_t) (L14 reparametrisation).

    .. math::

        s_\theta(x_t, t) = -\frac{\epsilon_\theta(x_t, t)}{\sqrt{1 - \bar\alpha_t}}.

    Parameters
    ----------
    eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Lecture 14, recap 'DDPM vs NCSN'.
    """
    eps, t, schedule = _single("eps", eps, t, schedule)
    return -eps / _at(schedule.sqrt_one_minus_alpha_bars[t], t, eps)


def score_to_eps(score: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Noise prediction from a score, eps = -sqrt(1 - alpha_bar_t) s.

    .. math::

        \epsilon_\theta(x_t, t) = -\sqrt{1 - \bar\alpha_t}\, s_\theta(x_t, t).

    Parameters
    ----------
    score : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM vs NCSN'.
    """
    score, t, schedule = _single("score", score, t, schedule)
    return -_at(schedule.sqrt_one_minus_alpha_bars[t], t, score) * score


def q_score(x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""grad_{x_t} log q(x_t | x_0) = -(x_t - sqrt(alpha_bar_t) x_0) / (1 - alpha_bar_t).

    .. math::

        \nabla_{x_t} \log q(x_t \mid x_0) = -\frac{x_t - \sqrt{\bar\alpha_t}\, x_0}{1 - \bar\alpha_t}.

    Parameters
    ----------
    x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, 'DDPM vs NCSN'; Vincent, Neural Computation 2011.
    """
    x_t, x0, t, schedule = _pair(("x_t", "x0"), x_t, x0, t, schedule)
    sqrt_alpha_bar = _at(schedule.sqrt_alpha_bars[t], t, x_t)
    return -(x_t - sqrt_alpha_bar * x0) / _at(schedule.one_minus_alpha_bars[t], t, x_t)


def _p_mean(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    k = schedule.betas[t] / schedule.sqrt_one_minus_alpha_bars[t]  # (1 - alpha_t) / sqrt(1 - alpha_bar_t), float64
    return (x_t - _at(k, t, x_t) * eps) / _at(torch.sqrt(schedule.alphas[t]), t, x_t)


def p_mean_from_eps(x_t: torch.Tensor, eps: torch.Tensor, t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Reverse-step mean mu_theta = (x_t - (1 - alpha_t) / sqrt(1 - alpha_bar_t) eps) / sqrt(alpha_t).

    .. math::

        \mu_\theta(x_t, t) = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta(x_t, t)\Bigr).

    Parameters
    ----------
    x_t, eps : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization' and 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (11).
    """
    x_t, eps, t, schedule = _pair(("x_t", "eps"), x_t, eps, t, schedule)
    return _p_mean(x_t, eps, t, schedule)


# --------------------------------------------------------------------------- ELBO terms


def _kl_terms(mean_q, var_q, mean_p, var_p) -> torch.Tensor:
    ratio, r = var_q / var_p, (var_q - var_p) / var_p
    variance_term = torch.where(r.abs() < 0.5, r - torch.log1p(r), ratio - 1.0 - torch.log(ratio))
    return 0.5 * (variance_term + (mean_q - mean_p) ** 2 / var_p)


def gaussian_kl(mean_q: torch.Tensor, var_q: torch.Tensor, mean_p: torch.Tensor, var_p: torch.Tensor) -> torch.Tensor:
    r"""KL(N(mean_q, var_q I) || N(mean_p, var_p I)) per batch element, summed over the feature axes.

    .. math::

        \mathrm{KL} = \frac12 \sum_i \Bigl[\frac{\sigma_q^2}{\sigma_p^2} - 1 - \log\frac{\sigma_q^2}{\sigma_p^2}
        + \frac{(\mu_{q,i} - \mu_{p,i})^2}{\sigma_p^2}\Bigr],

    the variance term as r - log1p(r), r = (var_q - var_p) / var_p, for |r| < 1/2 and as
    ratio - 1 - log(ratio) otherwise (see the reference); the sum accumulates in float64 and is
    cast back to the inputs' dtype.

    Parameters
    ----------
    mean_q, mean_p : (n, ...) Tensor
    var_q : Tensor
        >= 0 (0 gives +inf), broadcast against the means.
    var_p : Tensor
        > 0, broadcast against the means.

    Returns
    -------
    (n,) Tensor
        KL in nats.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).
    """
    names = ("mean_q", "var_q", "mean_p", "var_p")
    tensors = tuple(_data(n, x) for n, x in zip(names, (mean_q, var_q, mean_p, var_p)))
    C.check_same_device_dtype(names, tensors)
    shape = C.broadcast_batch(names, tuple(x.shape for x in tensors))
    if len(shape) == 0:
        raise ValueError("mean_q, mean_p: expected a batch axis (shape (n, ...)), got scalars")
    mean_q, var_q, mean_p, var_p = tensors
    extra = (
        ((var_q >= 0).all(), lambda: f"var_q: expected variances >= 0, got min {float(var_q.min())!r}"),
        ((var_p > 0).all(), lambda: f"var_p: expected variances > 0, got min {float(var_p.min())!r}"),
    )
    _check_values(None, 0, tuple(zip(names, tensors)), extra=extra if C.value_checks_active() else ())
    kl = _kl_terms(mean_q, var_q, mean_p, var_p)
    return _sum_features(kl.expand(shape)).to(mean_q.dtype)


def elbo_weight(t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""Weight of ||eps - eps_theta||^2 in L_t: (1 - alpha_t)^2 / (2 beta_tilde_t alpha_t (1 - alpha_bar_t)).

    .. math::

        \lambda_t = \frac{(1 - \alpha_t)^2}{2 \tilde\beta_t \alpha_t (1 - \bar\alpha_t)}.

    Positions 1..T-1 only (position 0 is the reconstruction term; refused).

    Parameters
    ----------
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    () or (n,) Tensor
        float64 (the tables' dtype).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Reparametrization'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (12).
    """
    schedule = _schedule(schedule)
    t = _positions(t, schedule)
    _check_values(t, schedule.T, (), positions="1..T-1")
    return _elbo_weight(t, schedule)


def _elbo_weight(t: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    beta, alpha, beta_tilde = schedule.betas[t], schedule.alphas[t], schedule.beta_tilde[t]
    return beta**2 / (2.0 * beta_tilde * alpha * schedule.one_minus_alpha_bars[t])


def l_t(x0: torch.Tensor, x_t: torch.Tensor, eps_pred: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    r"""L_t = KL(q(x_{t-1} | x_t, x_0) || N(mu_theta(x_t, t), beta_tilde_t I)), as a Gaussian KL.

    .. math::

        \mathcal L_t = \frac{1}{2 \tilde\beta_t} \|\tilde\mu_t(x_t, x_0) - \mu_\theta(x_t, t)\|^2.

    Evaluated in float64 (inputs upcast, result cast back; autograd flows through the casts): the two
    means agree to many digits and their difference is divided by beta_tilde_t.

    Parameters
    ----------
    x0, x_t, eps_pred : (n, ...) Tensor
        One shape, dtype and device.
    t : () or (n,) int Tensor
        Positions 1..T-1.
    schedule : Schedule

    Returns
    -------
    (n,) Tensor
        KL in nats, in the inputs' dtype.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' and 'Reparametrization';
    Ho, Jain, Abbeel, NeurIPS 2020, eqs. (5), (8).
    """
    schedule = _schedule(schedule)
    names = ("x0", "x_t", "eps_pred")
    x0, x_t, eps_pred = (_data(n, x, 1) for n, x in zip(names, (x0, x_t, eps_pred)))
    _same(names, (x0, x_t, eps_pred))
    t = _positions(t, schedule, x0, "x0")
    _check_values(t, schedule.T, tuple(zip(names, (x0, x_t, eps_pred))), positions="1..T-1")
    dtype = x0.dtype
    x0, x_t, eps_pred = x0.to(_F64), x_t.to(_F64), eps_pred.to(_F64)
    beta_tilde = _at(schedule.beta_tilde[t], t, x0)
    mu_tilde = (
        _at(schedule.posterior_mean_coef_x0[t], t, x0) * x0 + _at(schedule.posterior_mean_coef_xt[t], t, x0) * x_t
    )
    mu_theta = _p_mean(x_t, eps_pred, t, schedule)
    return _sum_features(_kl_terms(mu_tilde, beta_tilde, mu_theta, beta_tilde)).to(dtype)


def l_simple(eps: torch.Tensor, eps_pred: torch.Tensor) -> torch.Tensor:
    r"""||eps - eps_theta||^2 per batch element, summed over the feature axes (accumulated in float64).

    .. math::

        \mathcal L_{\text{simple}} = \|\epsilon - \epsilon_\theta(x_t, t)\|^2.

    Parameters
    ----------
    eps, eps_pred : (n, ...) Tensor

    Returns
    -------
    (n,) Tensor
        In the inputs' dtype.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Simplified objective'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (14).
    """
    eps, eps_pred = _data("eps", eps, 1), _data("eps_pred", eps_pred, 1)
    _same(("eps", "eps_pred"), (eps, eps_pred))
    _check_values(None, 0, (("eps", eps), ("eps_pred", eps_pred)))
    return _sum_features((eps - eps_pred) ** 2).to(eps.dtype)


def prior_kl(x0: torch.Tensor, schedule: Schedule) -> torch.Tensor:
    r"""KL(q(x_T | x_0) || N(0, I)) per batch element.

    .. math::

        \frac12 \Bigl[ D \bigl(-\bar\alpha_T - \log(1 - \bar\alpha_T)\bigr) + \bar\alpha_T \|x_0\|^2 \Bigr].

    Parameters
    ----------
    x0 : (n, ...) Tensor
        On the schedule's device.
    schedule : Schedule

    Returns
    -------
    (n,) Tensor
        KL in nats, in x0's dtype (the sum accumulated in float64).

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'; Ho, Jain, Abbeel, NeurIPS 2020, eq. (5).
    """
    schedule = _schedule(schedule)
    x0 = _data("x0", x0, 1)
    if x0.device != schedule.device:
        raise ValueError(
            f"x0: expected a tensor on the schedule's device {schedule.device}, got one on {x0.device} "
            "(move the schedule with schedule.to(device))"
        )
    _check_values(None, 0, (("x0", x0),))
    alpha_bar_T = schedule.alpha_bars[-1]
    D = x0[0].numel()
    kl = 0.5 * (D * (-alpha_bar_T - torch.log1p(-alpha_bar_T)) + alpha_bar_T * _sum_features(x0**2))
    return kl.to(x0.dtype)


def weighted_dsm_loss(score: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor, t: torch.Tensor, schedule: Schedule):
    r"""NCSN's sigma^2-weighted DSM term on q(x_t | x_0): (1 - alpha_bar_t) ||s - grad log q(x_t | x_0)||^2.

    .. math::

        \sigma_t^2 \bigl\|s_\theta(x_t, t) - \nabla_{x_t} \log q(x_t \mid x_0)\bigr\|^2,
        \qquad \sigma_t^2 = 1 - \bar\alpha_t.

    Evaluated in float64 (the target subtracts nearly equal x_t and sqrt(alpha_bar) x_0 and divides by
    1 - alpha_bar); result in the inputs' dtype. See :func:`reference.diffusion.weighted_dsm_loss` for the
    identities with L_simple and L_t.

    Parameters
    ----------
    score, x_t, x0 : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule

    Returns
    -------
    (n,) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, 'Noise Conditioned Score Network (NCSN)' and 'DDPM vs NCSN';
    Song, Ermon, NeurIPS 2019, eq. (6).
    """
    schedule = _schedule(schedule)
    names = ("score", "x_t", "x0")
    score, x_t, x0 = (_data(n, x, 1) for n, x in zip(names, (score, x_t, x0)))
    _same(names, (score, x_t, x0))
    t = _positions(t, schedule, x_t, "x_t")
    _check_values(t, schedule.T, tuple(zip(names, (score, x_t, x0))))
    dtype = x_t.dtype
    score, x_t, x0 = score.to(_F64), x_t.to(_F64), x0.to(_F64)
    sigma2 = _at(schedule.one_minus_alpha_bars[t], t, x_t)
    target = -(x_t - _at(schedule.sqrt_alpha_bars[t], t, x_t) * x0) / sigma2
    return _sum_features(sigma2 * (score - target) ** 2).to(dtype)


# --------------------------------------------------------------------------- sampling


def _step(x_t, eps_pred, t, schedule, z, clip) -> torch.Tensor:
    if clip is None:
        mean = _p_mean(x_t, eps_pred, t, schedule)
    else:
        x0_hat = (x_t - _at(schedule.sqrt_one_minus_alpha_bars[t], t, x_t) * eps_pred) / _at(
            schedule.sqrt_alpha_bars[t], t, x_t
        )
        x0_hat = x0_hat.clamp(clip[0], clip[1])
        mean = (
            _at(schedule.posterior_mean_coef_x0[t], t, x_t) * x0_hat
            + _at(schedule.posterior_mean_coef_xt[t], t, x_t) * x_t
        )
    return mean + _at(torch.sqrt(schedule.beta_tilde[t]), t, x_t) * z


def ddpm_step(
    x_t: torch.Tensor,
    eps_pred: torch.Tensor,
    t: torch.Tensor,
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
) -> torch.Tensor:
    r"""One ancestral step x_{t-1} = mu_theta(x_t, t) + sqrt(beta_tilde_t) z (no noise at position 0).

    .. math::

        x_{t-1} = \frac{1}{\sqrt{\alpha_t}} \Bigl(x_t - \frac{1 - \alpha_t}{\sqrt{1 - \bar\alpha_t}}
        \epsilon_\theta\Bigr) + \sqrt{\tilde\beta_t}\, z.

    beta_tilde = 0 at position 0, so the last step adds no noise; per-element ``t`` needs no branch.
    ``clip_x0=(low, high)`` uses mu_tilde_t(x_t, clip(x0_hat)) instead (see
    :func:`reference.diffusion.ddpm_step`). For a whole chain use :func:`ddpm_sample`, which skips the
    per-call checks of this function.

    Parameters
    ----------
    x_t, eps_pred : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    noise : (n, ...) Tensor, optional
        z; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
    clip_x0 : (float, float), optional

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.
    """
    schedule = _schedule(schedule)
    x_t, eps_pred = _data("x_t", x_t), _data("eps_pred", eps_pred)
    _same(("x_t", "eps_pred"), (x_t, eps_pred))
    t = _positions(t, schedule, x_t, "x_t")
    clip = _clip_range(clip_x0)
    z = _noise(noise, rng, x_t)
    _same(("x_t", "noise"), (x_t, z))
    _check_values(t, schedule.T, (("x_t", x_t), ("eps_pred", eps_pred), ("noise", z)))
    return _step(x_t, eps_pred, t, schedule, z, clip)


def _shape(shape: object) -> tuple[int, ...]:
    if not isinstance(shape, (tuple, list, torch.Size)) or not all(
        isinstance(s, int) and not isinstance(s, bool) for s in shape
    ):
        raise TypeError(f"shape: expected a tuple of ints (n, ...), got {C.describe(shape)}")
    shape = tuple(shape)
    if len(shape) == 0 or any(s < 1 for s in shape):
        raise ValueError(f"shape: expected (n, ...) with every size >= 1, got {shape}")
    return shape


def _progress(iterable: range, progress: object, total: int):
    if not isinstance(progress, bool):
        raise TypeError(f"progress: expected a bool, got {C.describe(progress)}")
    if not progress:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, total=total, desc="DDPM sampling", unit="step")


def _sampler_coefficients(schedule: Schedule, device: torch.device, dtype: torch.dtype, clip: bool) -> dict:
    """Per-step coefficients, formed in float64, cast once, moved to the device and split into 0-d views."""
    s = schedule
    if clip:
        table = {
            "neg_sqrt_one_minus_alpha_bar": -s.sqrt_one_minus_alpha_bars,
            "sqrt_alpha_bar": s.sqrt_alpha_bars,
            "coef_x0": s.posterior_mean_coef_x0,
            "coef_xt": s.posterior_mean_coef_xt,
        }
    else:
        table = {"neg_k": -s.betas / s.sqrt_one_minus_alpha_bars, "sqrt_alpha": torch.sqrt(s.alphas)}
    table["sigma"] = torch.sqrt(s.beta_tilde)
    stacked = torch.stack(list(table.values())).to(device=device, dtype=dtype)
    return {name: list(row.unbind(0)) for name, row in zip(table, stacked)}


def ddpm_sample(
    eps_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    shape: tuple[int, ...],
    schedule: Schedule,
    noise: torch.Tensor | None = None,
    *,
    rng=None,
    clip_x0: tuple[float, float] | None = None,
    progress: bool = False,
) -> torch.Tensor:
    r"""Ancestral DDPM sampling from x_T ~ N(0, I) down to x_0, with no host synchronisation per step.

    .. math::

        x_{t-1} = \mu_\theta(x_t, t) + \sqrt{\tilde\beta_t}\, z_t \quad (t = T, \dots, 1;\ z_1 = 0).

    ``eps_fn(x_t, t)`` gets the batch and an int64 tensor of shape (n,) (all entries the position) and must
    return a tensor of the batch's shape and dtype (checked on the first step's output). Noise layout as in
    :func:`reference.diffusion.ddpm_sample`: ``noise[0]`` is x_T, ``noise[k]`` the z of the k-th step
    (k = 1..T-1); shape ``(T, *shape)``. With ``rng`` the draws are made per step on the generator's device
    in ``torch.get_default_dtype()``.

    Everything is validated before the loop, by metadata only: ``noise`` is not scanned for NaN (that
    pass over all T draws costs as much as the sampling arithmetic; a NaN would reach the output). The
    per-step coefficients are formed in float64, cast to the
    sampling dtype and moved to the device once; the loop indexes Python lists of 0-d device tensors
    with its step counter, so it makes no host read, and the last step's "no noise" is a branch on that
    counter, not on device values. Per step: ``eps_fn``, then two fused kernels for the mean
    (``addcmul`` and a division) and one for the noise (``addcmul``); two more with ``clip_x0``.

    Parameters
    ----------
    eps_fn : callable
    shape : tuple of int
        (n, ...).
    schedule : Schedule
        Any device: its coefficients are copied to the sampling device.
    noise : (T, n, ...) Tensor, optional
        Exactly one of ``noise`` and ``rng``; its dtype and device are the sampling dtype and device.
    rng : torch.Generator, optional
    clip_x0 : (float, float), optional
    progress : bool
        tqdm progress bar.

    Returns
    -------
    (n, ...) Tensor
        x_0.

    References
    ----------
    Isachenko, DGM Lecture 13, recap 'Sampling'; Ho, Jain, Abbeel, NeurIPS 2020, Algorithm 2.
    """
    if not callable(eps_fn):
        raise TypeError(f"eps_fn: expected a callable eps_fn(x_t, t), got {C.describe(eps_fn)}")
    shape = _shape(shape)
    schedule = _schedule(schedule)
    clip = _clip_range(clip_x0)
    T = schedule.T
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = C.as_float_tensor("noise", noise)
        C.check_shape("noise", noise, (T, *shape))
        device, dtype = noise.device, noise.dtype
        x = noise[0]
    else:
        device, dtype = rng.device, torch.get_default_dtype()
        x = torch.randn(shape, generator=rng, device=device, dtype=dtype)
    steps = _progress(range(T), progress, T)
    coef = _sampler_coefficients(schedule, device, dtype, clip is not None)
    positions = torch.arange(T, device=device).unsqueeze(1).expand(T, shape[0]).contiguous().unbind(0)
    sigma = coef["sigma"]
    if clip is None:
        neg_k, sqrt_alpha = coef["neg_k"], coef["sqrt_alpha"]
    else:
        neg_s, sqrt_ab, c0, c1 = (
            coef[k] for k in ("neg_sqrt_one_minus_alpha_bar", "sqrt_alpha_bar", "coef_x0", "coef_xt")
        )
        low, high = clip
    with C.value_checks(False):  # validated at entry: no host reads inside the loop
        for k in steps:
            t = T - 1 - k
            eps = eps_fn(x, positions[t])
            if k == 0 and (not isinstance(eps, torch.Tensor) or eps.shape != x.shape or eps.dtype != x.dtype):
                raise ValueError(
                    f"eps_fn(x_t, t): expected a tensor of shape {shape} and dtype {dtype}, got {C.describe(eps)}"
                )
            if clip is None:
                mean = torch.addcmul(x, eps, neg_k[t]).div_(sqrt_alpha[t])
            else:
                x0_hat = torch.addcmul(x, eps, neg_s[t]).div_(sqrt_ab[t]).clamp_(low, high)
                mean = torch.addcmul(x0_hat.mul_(c0[t]), x, c1[t])
            if t == 0:
                x = mean
            else:
                z = noise[k + 1] if noise is not None else torch.randn(shape, generator=rng, device=device, dtype=dtype)
                x = torch.addcmul(mean, z, sigma[t])
    return x


class GaussianEps:
    r"""Exact eps*(x_t, t) = E[eps | x_t] for Gaussian data N(m, Sigma) (as :class:`reference.diffusion.GaussianEps`).

    .. math::

        \epsilon^*(x_t, t) = \sqrt{1 - \bar\alpha_t}\, \bigl(\bar\alpha_t \Sigma + (1 - \bar\alpha_t) I\bigr)^{-1}
        (x_t - \sqrt{\bar\alpha_t} m).

    Evaluated in float64 through the eigendecomposition of Sigma and cast to x_t's dtype. A test model for
    small d: its call makes no value checks (it runs inside sampling loops) and multiplies by Q with
    broadcast sums rather than BLAS (n x d x d temporaries).

    Parameters
    ----------
    mean : (d,) Tensor
    cov : (d, d) Tensor
        Symmetric positive definite; same dtype and device as ``mean``.
    schedule : Schedule
        On the device of ``mean``.

    References
    ----------
    Isachenko, DGM Lecture 14, recap 'DDPM vs NCSN'; Ho, Jain, Abbeel, NeurIPS 2020, Section 3.2.
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor, schedule: Schedule) -> None:
        mean, cov = C.as_float_tensor("mean", mean), C.as_float_tensor("cov", cov)
        C.check_same_device_dtype(("mean", "cov"), (mean, cov))
        if mean.ndim != 1:
            raise ValueError(f"mean: expected a vector of shape (d,), got shape {tuple(mean.shape)}")
        C.check_shape("cov", cov, (mean.shape[0], mean.shape[0]))
        C.check_finite("mean", mean)
        C.cholesky_spd("cov", cov)
        self.schedule = _schedule(schedule)
        if mean.device != self.schedule.device:
            raise ValueError(
                f"mean: expected a tensor on the schedule's device {self.schedule.device}, got {mean.device}"
            )
        self.mean = mean.detach().to(_F64)
        self.cov = cov.detach().to(_F64)
        self.eigenvalues, self.eigenvectors = torch.linalg.eigh(self.cov)

    def __call__(self, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        x_t = C.as_float_tensor("x_t", x_t)
        if x_t.ndim != 2 or x_t.shape[1] != self.mean.shape[0]:
            raise ValueError(f"x_t: expected shape (n, {self.mean.shape[0]}), got shape {tuple(x_t.shape)}")
        t = _positions(t, self.schedule, x_t, "x_t")
        s = self.schedule
        alpha_bar = s.alpha_bars[t].reshape(tuple(t.shape) + (1,) * (2 - t.ndim))
        one_minus_alpha_bar = s.one_minus_alpha_bars[t].reshape(alpha_bar.shape)
        Q = self.eigenvectors
        # (x - sqrt(alpha_bar) m) Q, scaled, times Q^T, as broadcast sums: no BLAS call (whose threads
        # dominate at the small d of a test model), (n, d, d) temporaries.
        y = ((x_t.to(_F64) - torch.sqrt(alpha_bar) * self.mean).unsqueeze(-1) * Q).sum(dim=-2)
        y = y * (torch.sqrt(one_minus_alpha_bar) / (alpha_bar * self.eigenvalues + one_minus_alpha_bar))
        return (y.unsqueeze(-2) * Q).sum(dim=-1).to(x_t.dtype)


# --------------------------------------------------------------------------- guidance


def classifier_guided_mean(mean: torch.Tensor, variance: torch.Tensor, grad_log_py: torch.Tensor, scale: float):
    r"""Classifier guidance as a mean shift mu + gamma sigma^2 g (L14; the slide's sigma (.) g is a typo).

    .. math::

        \hat\mu = \mu + \gamma\, \sigma^2\, \nabla_{x_{t-1}} \log p(y \mid x_{t-1}) \big|_{x_{t-1} = \mu}.

    Parameters
    ----------
    mean, grad_log_py : (n, ...) Tensor
    variance : Tensor
        >= 0, broadcast against ``mean``.
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance'; Dhariwal, Nichol, NeurIPS 2021, Algorithm 1.
    """
    mean, grad = _data("mean", mean), _data("grad_log_py", grad_log_py)
    variance = _data("variance", variance)
    _same(("mean", "grad_log_py"), (mean, grad))
    C.check_same_device_dtype(("mean", "variance"), (mean, variance))
    if tuple(C.broadcast_batch(("mean", "variance"), (mean.shape, variance.shape))) != tuple(mean.shape):
        raise ValueError(
            f"variance: expected a shape that broadcasts to mean's {tuple(mean.shape)}, got {tuple(variance.shape)}"
        )
    gamma = C.check_real_scalar("scale", scale)
    negative = (
        (((variance >= 0).all()), lambda: f"variance: expected variances >= 0, got min {float(variance.min())!r}"),
    )
    data = (("mean", mean), ("variance", variance), ("grad_log_py", grad))
    _check_values(None, 0, data, extra=negative if C.value_checks_active() else ())
    return mean + gamma * variance * grad


def classifier_guided_eps(
    eps: torch.Tensor, grad_log_py: torch.Tensor, t: torch.Tensor, schedule: Schedule, scale: float
) -> torch.Tensor:
    r"""Classifier guidance on the noise: eps_hat = eps - gamma sqrt(1 - alpha_bar_t) grad log p(y | x_t).

    .. math::

        \hat\epsilon_\theta = \epsilon_\theta - \gamma \sqrt{1 - \bar\alpha_t}\, \nabla_{x_t} \log p(y \mid x_t).

    Parameters
    ----------
    eps, grad_log_py : (n, ...) Tensor
    t : () or (n,) int Tensor
    schedule : Schedule
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier guidance'; Dhariwal, Nichol, NeurIPS 2021, Algorithm 2.
    """
    eps, grad, t, schedule = _pair(("eps", "grad_log_py"), eps, grad_log_py, t, schedule)
    gamma = C.check_real_scalar("scale", scale)
    return eps - _at(gamma * schedule.sqrt_one_minus_alpha_bars[t], t, eps) * grad


def classifier_free_guidance(eps_cond: torch.Tensor, eps_uncond: torch.Tensor, scale: float) -> torch.Tensor:
    r"""Classifier-free guidance eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t).

    .. math::

        \hat\epsilon_\theta = \gamma\, \epsilon_\theta(x_t, y, t) + (1 - \gamma)\, \epsilon_\theta(x_t, t).

    gamma (``scale``) is the ``guidance_scale`` of the common pipelines; Ho & Salimans' w is gamma - 1
    (their (1 + w) eps(x_t, y) - w eps(x_t)). Slide form: gamma = 1 returns ``eps_cond`` exactly.

    Parameters
    ----------
    eps_cond, eps_uncond : (n, ...) Tensor
    scale : float
        gamma.

    Returns
    -------
    (n, ...) Tensor

    References
    ----------
    Isachenko, DGM Lecture 14, 'Classifier-free guidance'; Ho, Salimans, arXiv:2207.12598, eq. (6).
    """
    eps_cond, eps_uncond = _data("eps_cond", eps_cond), _data("eps_uncond", eps_uncond)
    _same(("eps_cond", "eps_uncond"), (eps_cond, eps_uncond))
    gamma = C.check_real_scalar("scale", scale)
    _check_values(None, 0, (("eps_cond", eps_cond), ("eps_uncond", eps_uncond)))
    return gamma * eps_cond + (1.0 - gamma) * eps_uncond
