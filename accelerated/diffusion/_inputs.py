"""The array checks of :mod:`accelerated.diffusion` (PyTorch), one combined checker per argument group.

The same helpers, under the same names, with the same arguments and returns, as
:mod:`reference.diffusion._inputs` (see it for the list); the pure-Python checks are shared by both in
:mod:`reference._args.diffusion`. Here the shape, dtype and device checks read metadata only, and the
value checks (finite data, positions in range) are one device assertion per call (:func:`_checked`,
:func:`_check_values`), so the data are finite-checked with the result, not before it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from .schedules import Schedule

_F64 = torch.float64


def _check_schedule(schedule: object) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule: expected an accelerated.diffusion.Schedule (build it with Schedule(betas)), "
            f"got {C.describe(schedule)}"
        )
    return schedule


def _check_data(name: str, x: object, min_ndim: int = 0) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    C.check_ndim(name, x, min_ndim)
    return x


def _check_same(names: tuple[str, ...], tensors: tuple[torch.Tensor, ...], *, one_dtype: bool = True) -> None:
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


def _check_batch(name: str, t: torch.Tensor, x: torch.Tensor | None, x_name: str) -> None:
    """Positions of shape () or (n,), with n = x.shape[0]."""
    if t.ndim > 1:
        raise ValueError(
            f"{name}: expected integer positions of shape () or (n,) (one per batch element), got shape "
            f"{tuple(t.shape)}"
        )
    if x is not None and t.ndim == 1 and (x.ndim == 0 or x.shape[0] != t.shape[0]):
        raise ValueError(
            f"{name}, {x_name}: expected one position per batch element ({name} of shape (n,) and {x_name} of "
            f"shape (n, ...)), got {name} {tuple(t.shape)} and {x_name} {tuple(x.shape)}"
        )


def _check_device(name: str, x: torch.Tensor, schedule: Schedule) -> None:
    if x.device != schedule.betas.device:
        raise ValueError(
            f"{name}: expected a tensor on the schedule's device {schedule.device}, got one on {x.device} "
            "(move the schedule with schedule.to(device))"
        )


def _as_positions(name: str, t: object) -> torch.Tensor:
    t = C.as_int_tensor(name, t)
    return t if t.dtype == torch.int64 else t.long()  # a uint8 index would act as a mask


def _check_positions(t: object, schedule: Schedule, x: torch.Tensor | None = None, x_name: str = "x") -> torch.Tensor:
    """Integer positions of shape () or (n,) on the schedule's device (range checked with the values)."""
    t = _as_positions("t", t)
    _check_batch("t", t, x, x_name)
    _check_device("t", t, schedule)
    if x is not None:
        _check_device(x_name, x, schedule)
    return t


def _check_previous(t_prev: object, t: torch.Tensor, schedule: Schedule, x: torch.Tensor) -> torch.Tensor:
    """DDIM targets of shape () or (n,) like ``t``, on the schedule's device (-1 <= t_prev < t: with the values)."""
    t_prev = _as_positions("t_prev", t_prev)
    _check_batch("t_prev", t_prev, x, "x_t")
    _check_device("t_prev", t_prev, schedule)
    return t_prev


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
            return AD.positions_message(int(t.min()), int(t.max()), T, low)
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
    are checked by the bounds check of the gather (:func:`_at`).
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
        raise ValueError(AD.positions_message(int(t.min()), int(t.max()), T)) from None


def _at(schedule: Schedule, name: str, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A table entry at t in like's dtype, shaped t.shape + (1,) * (like.ndim - t.ndim) to broadcast over its
    features: one gather from the cached (T, 1, ..., 1) table, no reshape."""
    ndim = like.ndim
    if ndim == 0:
        return _gather(schedule.cast(name, like.dtype), t, schedule.T)  # a 0-d coefficient
    try:  # a (1, 1, ..., 1) row for a shared 0-d t; (n, 1, ..., 1) rows for t of shape (n,)
        return schedule.cast(name, like.dtype, ndim).index_select(0, t if t.ndim else t.reshape(1))
    except IndexError:
        raise ValueError(AD.positions_message(int(t.min()), int(t.max()), schedule.T)) from None


def _noise(noise: object, rng: object, like: torch.Tensor, name: str = "noise") -> torch.Tensor:
    C.check_noise_or_rng(noise, rng, noise_name=name)
    if noise is None:
        C.check_generator(rng, like.device)
        return torch.randn(like.shape, generator=rng, device=like.device, dtype=like.dtype)
    z = C.as_float_tensor(name, noise)
    C.check_shape(name, z, like.shape)
    return z


def _sum_features(x: torch.Tensor) -> torch.Tensor:
    """Sum over every axis after the first, accumulated in float64."""
    if x.ndim == 1:
        return x.to(_F64)
    return x.sum(dim=tuple(range(1, x.ndim)), dtype=_F64)


def _check_pair(names: tuple[str, str], a: object, b: object, t: object, schedule: object):
    """Two data tensors of one shape and the positions t, checked against the schedule and the first.

    Metadata checks only: the caller checks its result with :func:`_checked`.
    """
    schedule = _check_schedule(schedule)
    a, b = _check_data(names[0], a), _check_data(names[1], b)
    _check_same(names, (a, b))
    t = _check_positions(t, schedule, a, names[0])
    return a, b, t, schedule


def _check_triple(names: tuple[str, str, str], a: object, b: object, c: object, t: object, schedule: object):
    """Three batches (n, ...) of one shape and device and the positions t (one per element of the first);
    the third, a model's output, may have another floating dtype (autocast). Metadata checks only."""
    schedule = _check_schedule(schedule)
    a, b, c = (_check_data(n, x, 1) for n, x in zip(names, (a, b, c)))
    _check_same(names, (a, b, c), one_dtype=False)
    _check_same(names[:2], (a, b))
    return a, b, c, _check_positions(t, schedule, a, names[0]), schedule


def _check_guided_mean(mean: object, variance: object, grad_log_py: object, scale: object):
    """mu and g of one shape, sigma^2 >= 0 broadcasting to it, and gamma, as (mu, sigma^2, g, gamma)."""
    mean, grad = _check_data("mean", mean), _check_data("grad_log_py", grad_log_py)
    variance = _check_data("variance", variance)
    _check_same(("mean", "grad_log_py"), (mean, grad))
    C.check_same_device_dtype(("mean", "variance"), (mean, variance))
    if tuple(C.broadcast_batch(("mean", "variance"), (mean.shape, variance.shape))) != tuple(mean.shape):
        raise ValueError(
            f"variance: expected a shape that broadcasts to mean's {tuple(mean.shape)}, got {tuple(variance.shape)}"
        )
    gamma = A.real("scale", scale)
    if C.value_checks_active():
        negative = (
            ((variance >= 0).all(), lambda: f"variance: expected variances >= 0, got min {float(variance.min())!r}"),
        )
        _check_values(None, 0, (("mean", mean), ("variance", variance), ("grad_log_py", grad)), extra=negative)
    return mean, variance, grad, gamma


def _check_single(name: str, x: object, t: object, schedule: object):
    """One data tensor and the positions t, checked against the schedule and it."""
    schedule = _check_schedule(schedule)
    x = _check_data(name, x)
    t = _check_positions(t, schedule, x, name)
    return x, t, schedule
