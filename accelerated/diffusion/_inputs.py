r"""Beta schedules and the float64 tables of :class:`Schedule`; the input helpers of the package.

Part of :mod:`accelerated.diffusion` (PyTorch); its docstring holds the conventions (time positions
0..T-1, float64 tables, batches, sums over features, randomness). Slides:
Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model' (the forward process with variances
beta_t, alpha_t = 1 - beta_t, alpha_bar_t their running product, and the posterior variance beta_tilde_t);
the linear schedule of Ho et al. (2020) and the cosine schedule of Nichol & Dhariwal (2021).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import _checks as C

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


def _same(names: tuple[str, ...], tensors: tuple[torch.Tensor, ...], *, one_dtype: bool = True) -> None:
    """One shape, dtype and device for the data arguments (``one_dtype=False``: dtypes may differ, as a
    model's output under autocast does from the data). Plain comparisons: this runs at every call."""
    first = tensors[0]
    for x in tensors[1:]:
        if x.device != first.device or (one_dtype and x.dtype != first.dtype):
            if one_dtype:
                C.check_same_device_dtype(names, tensors)
            C.check_same_device(names, tensors)
        if x.shape != first.shape:
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
    device = schedule.betas.device
    if t.device != device:
        raise ValueError(
            f"t: expected a tensor on the schedule's device {schedule.device}, got one on {t.device} "
            "(move the schedule with schedule.to(device))"
        )
    if x is not None and x.device != device:
        raise ValueError(
            f"{x_name}: expected a tensor on the schedule's device {schedule.device}, got one on {x.device} "
            "(move the schedule with schedule.to(device))"
        )
    return t


def _t_range_message(t: torch.Tensor, T: int, low: int) -> str:
    """The error for positions outside low..T-1 (reads t: failure path only)."""
    lo, hi = int(t.min()), int(t.max())
    if low == 1 and lo == 0 and hi < T:
        return (
            "t: expected positions 1..T-1; position 0 (the slide's step 1) is the reconstruction term "
            "E log p(x_0 | x_1), not a KL (beta_tilde = 0 there), got a 0"
        )
    return (
        f"t: expected integer positions in {low}..{T - 1} (position t is the slide's step t + 1; T = {T}), "
        f"got min {lo} and max {hi}"
    )


def _check_values(
    t: torch.Tensor | None,
    T: int,
    data: tuple[tuple[str, torch.Tensor], ...],
    *,
    positions: str = "0..T-1",
    extra: tuple[tuple[torch.Tensor, Callable[[], str]], ...] = (),
) -> None:
    """t in range, data finite and the ``extra`` (ok-flag, message) conditions, as one device assertion.

    No host read (see :func:`accelerated._checks.require`); the message of a failure is worked out on
    the failure path. Skipped when value checks are off (``accelerated.value_checks(False)``, compiling,
    graph capture).
    """
    if not C.value_checks_active():
        return
    low = 1 if positions == "1..T-1" else 0
    flags = [C.finite_flag(x) for _, x in data if x.numel()] + [ok for ok, _ in extra]
    if t is not None and t.numel():
        lo, hi = torch.aminmax(t)
        flags.append((lo >= low) & (hi < T))
    if not flags:
        return
    ok = flags[0]
    for flag in flags[1:]:
        ok = ok & flag

    def detail() -> str:
        if t is not None and t.numel() and not bool(((t >= low) & (t < T)).all()):
            return _t_range_message(t, T, low)
        for name, x in data:
            if x.numel() and C.count_non_finite(x):
                return f"{name}: expected finite values, got {C.count_non_finite(x)} NaN or infinite entries"
        for flag, message in extra:
            if not bool(flag):
                return message()
        return "expected valid inputs"  # pragma: no cover - one of the above failed

    names = ", ".join([name for name, _ in data] + (["t"] if t is not None else []))
    C.require(ok, f"{names}: expected finite values and t in {low}..{T - 1} (or a condition of the docstring)", detail)


def _checked(out: torch.Tensor, data: tuple[tuple[str, torch.Tensor], ...]) -> torch.Tensor:
    """Assert that the result ``out`` is finite: the value check of the per-step functions.

    Their coefficients are finite and positive, so a NaN or inf in any input reaches the result, and
    one reduction of the tensor the function writes anyway checks them all; the failure names the
    inputs that were not finite (or says the result overflowed from finite inputs). The positions t
    are checked by the bounds check of the gather (:func:`_coef`).
    """
    if out.numel() and C.value_checks_active():
        C.require(C.result_flag(out), _names_message, _result_detail, out, data)
    return out


def _names_message(out: torch.Tensor, data: tuple[tuple[str, torch.Tensor], ...]) -> str:
    return f"{', '.join(n for n, _ in data)}: expected finite values"


def _result_detail(out: torch.Tensor, data: tuple[tuple[str, torch.Tensor], ...]) -> str:
    """The failure path of :func:`_checked`: the first non-finite input, or the overflow."""
    for name, x in data:
        if x.numel() and C.count_non_finite(x):
            return f"{name}: expected finite values, got {C.count_non_finite(x)} NaN or infinite entries"
    largest = max(float(x.detach().abs().max()) for _, x in data if x.numel())
    names = ", ".join(n for n, _ in data)
    return f"{names}: the result overflowed {out.dtype} from finite inputs (largest input magnitude {largest:.3g})"


def _gather(table: torch.Tensor, t: torch.Tensor, T: int) -> torch.Tensor:
    """``table[t]`` by ``index_select``, whose bounds check refuses negative and too large positions (no wrap)."""
    try:
        if t.ndim == 1:
            return table.index_select(0, t)
        return table.index_select(0, t.reshape(1)).reshape(())
    except IndexError:
        raise ValueError(_t_range_message(t, T, 0)) from None


def _coef(schedule: Schedule, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A table entry at t in like's dtype, shaped t.shape + (1,) * (like.ndim - t.ndim) to broadcast over its
    features: one gather from the cached (T, 1, ..., 1) table, no reshape."""
    ndim = like.ndim
    if ndim == 0:
        return _gather(schedule.cast(name, like.dtype), t, schedule.T)  # a 0-d coefficient
    try:  # a (1, 1, ..., 1) row for a shared 0-d t; (n, 1, ..., 1) rows for t of shape (n,)
        return schedule.cast(name, like.dtype, ndim).index_select(0, t if t.ndim else t.reshape(1))
    except IndexError:
        raise ValueError(_t_range_message(t, schedule.T, 0)) from None


def _at(value: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A float64 coefficient gathered at t, cast to like's dtype and shaped to broadcast over its features."""
    return value.reshape(tuple(t.shape) + (1,) * max(like.ndim - t.ndim, 0)).to(like.dtype)


def _noise(noise: object, rng: object, like: torch.Tensor, name: str = "noise") -> torch.Tensor:
    C.check_noise_or_rng(noise, rng, noise_name=name)
    if noise is None:
        C.check_generator(rng, like.device)
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


REDUCTIONS = ("sum", "mean")


def _reduction(reduction: object) -> bool:
    """True for 'mean', False for 'sum' (over the feature axes)."""
    if not isinstance(reduction, str):
        raise TypeError(f"reduction: expected one of {REDUCTIONS} (a str), got {C.describe(reduction)}")
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    return reduction == "mean"


def _sum_features(x: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first, accumulated in float64."""
    if x.ndim == 1:
        return x.to(_F64)
    return x.sum(dim=tuple(range(1, x.ndim)), dtype=_F64)


def _pair(names: tuple[str, str], a: object, b: object, t: object, schedule: object):
    """Two data tensors of one shape and the positions t, checked against the schedule and the first.

    Metadata checks only: the caller checks its result with :func:`_checked`.
    """
    schedule = _schedule(schedule)
    a, b = _data(names[0], a), _data(names[1], b)
    _same(names, (a, b))
    t = _positions(t, schedule, a, names[0])
    return a, b, t, schedule


def _single(name: str, x: object, t: object, schedule: object):
    """One data tensor and the positions t, checked against the schedule and it."""
    schedule = _schedule(schedule)
    x = _data(name, x)
    t = _positions(t, schedule, x, name)
    return x, t, schedule


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
    "sqrt_alphas",
    "sqrt_betas",
    "sqrt_beta_tilde",
    "eps_coef",
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
    ``posterior_mean_coef_x0``, ``posterior_mean_coef_xt``, ``sqrt_alphas``, ``sqrt_betas``,
    ``sqrt_beta_tilde`` and ``eps_coef`` ((1 - alpha_t) / sqrt(1 - alpha_bar_t), the eps coefficient of
    mu_theta); ``T`` and ``device``. :meth:`cast` gives a table in another dtype, cast once and cached.
    The tables are built once, in float64, whatever the dtype of ``betas`` (a float32 tensor is upcast
    first).

    Parameters
    ----------
    betas : (T,) Tensor
        Forward-process variances, each in the open interval (0, 1) (checked once, by a device assertion;
        skipped with value checks off).

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
        if C.value_checks_active():
            low, high = torch.aminmax(betas)  # NaN propagates and fails both comparisons

            def detail() -> str:
                if bool(torch.isnan(betas).any()):
                    return f"betas: expected no NaN, got {int(torch.isnan(betas).sum())} NaN entries"
                return (
                    f"betas: expected every beta in the open interval (0, 1), got min {float(betas.min())!r} and "
                    f"max {float(betas.max())!r}"
                )

            C.require((low > 0) & (high < 1), "betas: expected every beta in the open interval (0, 1)", detail)
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
        self.sqrt_alphas = torch.sqrt(alphas)
        self.sqrt_betas = torch.sqrt(betas)
        self.sqrt_beta_tilde = torch.sqrt(beta_tilde)
        self.eps_coef = betas / self.sqrt_one_minus_alpha_bars

    def cast(self, name: str, dtype: torch.dtype, ndim: int = 1) -> torch.Tensor:
        """The float64 table ``name`` cast to ``dtype``, cast once and cached (the per-step functions gather from it).

        Casting the table and then gathering gives the same numbers as gathering and then casting, so the
        float64 tables stay the only source; only the per-call cast goes. With ``ndim`` > 1 the table
        is a (T, 1, ..., 1) view, so that the rows gathered at positions t of shape (n,) broadcast over
        data of that many dimensions without a reshape per call.
        """
        key = (name, dtype, ndim)
        table = self._cast_cache.get(key)
        if table is None:
            source = getattr(self, name)
            table = source if source.dtype == dtype else source.to(dtype)
            table = self._cast_cache[key] = table.view((table.shape[0],) + (1,) * (ndim - 1))
        return table

    @property
    def _cast_cache(self) -> dict:
        cache = self.__dict__.get("_cast_tables")
        if cache is None:
            cache = self.__dict__["_cast_tables"] = {}
        return cache

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
