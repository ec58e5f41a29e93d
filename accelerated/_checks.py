"""Input checks for the accelerated side.

Shape, dtype and device checks are free (they read metadata) and always run. Value checks (finite,
in range, on the simplex, positive definite) read the data. They are on by default and, in the default
``"async"`` mode, cost **no host read**: each check reduces its condition to a 0-d boolean tensor on
the data's device and hands it to ``torch._assert_async`` through :func:`require`. The mode machinery
(``"async"``, ``"sync"``, ``"off"``, :func:`value_checks`, :func:`value_checks_active`, :func:`require`,
:func:`validated`) lives in :mod:`accelerated._modes` and is imported here, so every topic module
reaches all of it as ``C.<name>``. Scalar arguments (counts, scales, options, flags) are checked by the
shared :mod:`reference._args`; ``check_positive_scalar`` and ``check_real_scalar`` are its ``positive``
and ``real``.

Every failure raises ``ValueError`` or ``TypeError`` naming the argument, what was received and what
was expected; no check changes a value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from reference._args import overflow_message
from reference._args import positive as check_positive_scalar  # noqa: F401  (re-exported)
from reference._args import real as check_real_scalar  # noqa: F401  (re-exported)

from ._modes import (  # noqa: F401  (re-exported: the topic modules use C.<name>)
    _VALIDATED,
    DEVICE_MESSAGE,
    MODES,
    _failure_text,
    _functorch_level,
    _inside_functorch_transform,
    _is_compiling,
    _mode,
    _state,
    get_value_checks,
    inside_functorch_transform,
    mark_validated,
    off_in_loop,
    require,
    set_value_checks,
    validated,
    value_checks,
    value_checks_active,
)

# Same tolerance as the reference side; float16/bfloat16 rows are allowed their own rounding.
SIMPLEX_ATOL = 1e-5

_HALF = (torch.float16, torch.bfloat16)


_CONSTANTS: dict[tuple[float, torch.dtype, torch.device], torch.Tensor] = {}


def _constant(value: float, like: torch.Tensor) -> torch.Tensor:
    """A cached 0-d tensor of ``value`` in like's dtype and device: comparing two tensors skips the
    wrapping of a Python number, half the cost of a comparison of 0-d tensors."""
    key = (value, like.dtype, like.device)
    c = _CONSTANTS.get(key)
    if c is None:
        c = _CONSTANTS[key] = torch.full((), value, dtype=like.dtype, device=like.device)
    return c


def finite_flag(x: torch.Tensor) -> torch.Tensor:
    """0-d boolean tensor: every entry of the (non-empty) ``x`` is finite.

    One pass without temporaries (``torch.aminmax``, which propagates NaN), then two comparisons of
    0-d tensors: exact for every dtype (no sum that a large finite entry could overflow).
    """
    low, high = torch.aminmax(x.detach())
    return high.lt(_constant(math.inf, high)).logical_and_(low.gt(_constant(-math.inf, low)))


def result_flag(x: torch.Tensor) -> torch.Tensor:
    """0-d boolean tensor: the (non-empty) result ``x`` of a formula is finite, by one sum and two 0-d ops.

    NaN and infinities propagate into the sum s, and d = s - s is 0 for a finite s and NaN otherwise,
    so ``d == d`` is the flag. The sum runs in the accumulation dtype (float32 for half inputs), so it
    can only overflow for entries within a factor of the number of entries of that dtype's largest
    value, which a result there has overflowed anyway: the check then reports the overflow. Three
    dispatches for a tensor, two for a 0-d loss: the cheapest device-side finiteness test, for the
    per-step functions of a training loop (inputs are checked exactly with :func:`finite_flag`).
    """
    if x.requires_grad:
        x = x.detach()
    s = (x.sum(dtype=torch.float32) if x.dtype in _HALF else x.sum()) if x.ndim else x
    d = s.sub(s)
    return d.eq(d)


def count_non_finite(x: torch.Tensor) -> int:
    """The number of NaN or infinite entries (a host read: for error messages only)."""
    return int((~torch.isfinite(x.detach())).sum())


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype a loss accumulates and returns in: float32 for float16 / bfloat16, else ``dtype``.

    A float16 loss would overflow when ``torch.amp.GradScaler`` multiplies it by up to 2**16, and a
    bfloat16 sum of many terms keeps about three digits; autocast's own losses return float32 too.
    """
    return torch.float32 if dtype in _HALF else dtype


def promoted_dtype(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> torch.dtype:
    """The promoted floating dtype of tensors on one device (autocast mixes float32 data with half outputs)."""
    check_same_device(names, tensors)
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _same_device(a: torch.device, b: torch.device) -> bool:
    if a.type != b.type:
        return False
    if a.index == b.index or a.type == "cpu":
        return True
    current = torch.cuda.current_device() if a.type == "cuda" else 0
    return (current if a.index is None else a.index) == (current if b.index is None else b.index)


def check_generator(rng: object, device: torch.device, name: str = "rng") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` (the data's); never a silent draw elsewhere and a copy per step."""
    if not isinstance(rng, torch.Generator):
        raise TypeError(f"{name}: expected a torch.Generator, got {describe(rng)}")
    if not _same_device(rng.device, device):
        raise ValueError(
            f"{name}: expected a torch.Generator on {device} (the data's device), got one on {rng.device} "
            f"(build it with torch.Generator(device={str(device)!r}).manual_seed(seed))"
        )
    return rng


def from_host(name: str, values: object, dtype: torch.dtype, device: torch.device | str) -> torch.Tensor:
    """A tensor of Python numbers on ``device`` without a blocking copy.

    ``torch.tensor(values, device="cuda")`` copies from pageable host memory, which waits for the
    device (a synchronisation that ``torch.cuda.set_sync_debug_mode`` reports, and that a CUDA graph
    capture cannot contain). Here the tensor is built on the CPU, pinned and copied asynchronously
    when ``device`` is CUDA; the caching host allocator keeps the pinned buffer until the copy is done.
    Inside a CUDA graph capture a host copy would be replayed from a buffer that no longer holds these
    values: refused with a ``ValueError`` naming ``name`` (make the tensor before the capture).
    """
    t = torch.tensor(values, dtype=dtype)
    device = torch.device(device)
    if device.type == "cuda" and torch.cuda.is_current_stream_capturing():
        raise ValueError(
            f"{name}: a sequence of Python numbers cannot be copied to the device inside a CUDA graph "
            "capture; pass a tensor made on the device before the capture"
        )
    if device.type == "cuda":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def describe(x: object) -> str:
    if isinstance(x, torch.Tensor):
        return f"tensor of shape {tuple(x.shape)}, dtype {x.dtype}, device {x.device}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_float_tensor(name: str, x: object) -> torch.Tensor:
    """Require a floating-point tensor (inputs are never copied to another device or dtype)."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(
            f"{name}: expected a torch.Tensor, got {describe(x)} (convert with torch.as_tensor, "
            "or use the reference side for NumPy input)"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name}: expected a floating-point tensor, got {describe(x)}")
    return x


def as_int_tensor(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected an integer torch.Tensor, got {describe(x)}")
    if x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer tensor, got {describe(x)}")
    return x


def check_same_device(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    device = tensors[0].device
    if any(t.device != device for t in tensors[1:]):
        got = ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
        raise ValueError(f"{', '.join(names)}: expected tensors on one device, got {got}")


def check_same_device_dtype(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    check_same_device(names, tensors)
    dtype = tensors[0].dtype
    if any(t.dtype != dtype for t in tensors[1:]):
        got = ", ".join(f"{n} {t.dtype}" for n, t in zip(names, tensors))
        raise TypeError(f"{', '.join(names)}: expected one floating dtype, got {got}")


def check_ndim(name: str, x: torch.Tensor, min_ndim: int) -> None:
    if x.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got shape {tuple(x.shape)}")


def check_shape(name: str, x: torch.Tensor, shape: Sequence[int]) -> None:
    if tuple(x.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got shape {tuple(x.shape)}")


def check_same_last_dim(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    sizes = [t.shape[-1] for t in tensors]
    if len(set(sizes)) != 1:
        got = ", ".join(f"{n} {tuple(t.shape)}" for n, t in zip(names, tensors))
        raise ValueError(f"{' and '.join(names)}: expected the same size along the last axis, got {got}")


def broadcast_batch(names: Sequence[str], shapes: Sequence[Sequence[int]]) -> torch.Size:
    try:
        return torch.broadcast_shapes(*shapes)
    except RuntimeError as err:
        got = ", ".join(f"{n} {tuple(s)}" for n, s in zip(names, shapes))
        raise ValueError(f"{', '.join(names)}: batch shapes do not broadcast: {got}") from err


def check_finite(name: str, x: torch.Tensor) -> None:
    """All entries finite: one pass (:func:`finite_flag`) and a device assertion, no host read."""
    if x.numel() == 0 or not value_checks_active():
        return
    require(
        finite_flag(x),
        f"{name}: expected finite values, got NaN or infinite entries",
        lambda: f"{name}: expected finite values, got {count_non_finite(x)} NaN or infinite entries",
    )


def check_not_nan(name: str, x: torch.Tensor) -> None:
    if x.numel() == 0 or not value_checks_active():
        return
    x = x.detach()
    require(
        ~torch.isnan(x).any(),
        f"{name}: expected no NaN, got NaN entries",
        lambda: f"{name}: expected no NaN, got {int(torch.isnan(x).sum())} NaN entries",
    )


def interval_flag(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """0-d boolean tensor: no NaN and every entry of the (non-empty) ``x`` in [low, high] (one pass)."""
    lo, hi = torch.aminmax(x.detach())  # NaN propagates into both, and fails both comparisons
    return lo.ge(_constant(low, lo)).logical_and_(hi.le(_constant(high, hi)))


def check_in_interval(name: str, x: torch.Tensor, low: float, high: float) -> None:
    """No NaN and every entry in [low, high], as one device assertion."""
    if x.numel() == 0 or not value_checks_active():
        return
    x = x.detach()

    def detail() -> str:
        nan = int(torch.isnan(x).sum())
        if nan:
            return f"{name}: expected no NaN, got {nan} NaN entries"
        return f"{name}: expected values in [{low}, {high}], got min {float(x.min())!r} and max {float(x.max())!r}"

    require(interval_flag(x, low, high), f"{name}: expected values in [{low}, {high}] (and no NaN)", detail)


def simplex_atol(dtype: torch.dtype) -> float:
    return max(SIMPLEX_ATOL, 8 * torch.finfo(dtype).eps)


def check_simplex(name: str, p: torch.Tensor) -> None:
    check_ndim(name, p, 1)
    if p.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one category along the last axis, got shape {tuple(p.shape)}")
    if p.numel() == 0 or not value_checks_active():
        return
    p = p.detach()
    atol = simplex_atol(p.dtype)
    lo, hi = torch.aminmax(p)
    total = p.sum(dim=-1, dtype=torch.float64)
    ok = (lo >= 0) & (hi < math.inf) & ((total - 1.0).abs().amax() <= atol)

    def detail() -> str:
        bad = count_non_finite(p)
        if bad:
            return f"{name}: expected finite values, got {bad} NaN or infinite entries"
        if bool((p < 0).any()):
            return f"{name}: expected non-negative probabilities, got min {float(p.min())!r}"
        worst = float((total - 1.0).abs().max())
        return (
            f"{name}: expected probabilities summing to 1 along the last axis (within {atol:g}), "
            f"got a row off by {worst!r}"
        )

    require(ok, f"{name}: expected finite non-negative probabilities summing to 1 along the last axis", detail)


def check_square(name: str, a: torch.Tensor) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: expected square matrices of shape (..., d, d), got shape {tuple(a.shape)}")


def _max_asymmetry(a: torch.Tensor, block: int = 128) -> torch.Tensor:
    """max |A - A^T| as a 0-d tensor, by row blocks against column blocks (each pair read once, in
    cache-sized tiles: 2.5x faster than forming A - A^T at d = 2048)."""
    d = a.shape[-1]
    if d <= 2 * block:
        return (a - a.transpose(-1, -2)).abs_().amax()
    worst = a.new_zeros(())
    for i0 in range(0, d, block):
        i1 = min(i0 + block, d)
        tile = a[..., i0:i1, i0:] - a[..., i0:, i0:i1].transpose(-1, -2)
        worst = torch.maximum(worst, tile.abs_().amax())
    return worst


def check_symmetric(name: str, a: torch.Tensor) -> None:
    """Finite and symmetric (within 1e-8, float32: 1e-5, of max |A|), as one device assertion.

    A non-finite entry makes the max/min scale non-finite, so finiteness needs no pass of its own; the
    exact count and the asymmetry are read only to word the error.
    """
    if a.numel() == 0 or not value_checks_active():
        return
    a = a.detach()
    low, high = torch.aminmax(a)
    scale = torch.maximum(high, -low)
    asym = _max_asymmetry(a)
    rel = 1e-8 if a.dtype == torch.float64 else 1e-5
    ok = (scale < math.inf) & (asym <= rel * torch.clamp(scale, min=1e-300))

    def detail() -> str:
        if not math.isfinite(float(scale)):
            return f"{name}: expected finite values, got {count_non_finite(a)} NaN or infinite entries"
        return (
            f"{name}: expected symmetric matrices, got max |A - A^T| = {float(asym):.3g} (max |A| = {float(scale):.3g})"
        )

    require(ok, f"{name}: expected finite symmetric matrices", detail)


def cholesky_spd(name: str, a: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor; a ValueError naming ``name`` if ``a`` is not symmetric positive definite.

    The factorisation's status is asserted on the device (no host read); with value checks off, a
    failed factorisation yields NaN instead of an error.
    """
    check_square(name, a)
    check_symmetric(name, a)  # includes finiteness
    L, info = torch.linalg.cholesky_ex(a)
    if value_checks_active() and a.numel():

        def detail() -> str:
            smallest = float(torch.linalg.eigvalsh(a.detach()).min())
            return (
                f"{name}: expected symmetric positive definite matrices, got one whose Cholesky factorisation "
                f"fails (smallest eigenvalue {smallest:.3g})"
            )

        require((info == 0).all(), f"{name}: expected symmetric positive definite matrices", detail)
    return L


def check_noise_or_rng(noise: object, rng: object, *, noise_name: str = "noise") -> None:
    if (noise is None) == (rng is None):
        raise ValueError(
            f"{noise_name} / rng: pass exactly one of {noise_name}= (pre-drawn values) or rng= "
            f"(a torch.Generator); got {'both' if noise is not None else 'neither'}"
        )
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng: expected a torch.Generator, got {describe(rng)}")


def check_result(out: torch.Tensor, inputs: Sequence[tuple[str, torch.Tensor]]) -> torch.Tensor:
    """Assert on the device that a formula's result is finite (no host read); ``out`` is returned.

    The check of a formula whose value is a summary (a loss, a divergence, a distance, a metric): a
    NaN or inf in any input, or an overflow of the data's own scale, makes the result non-finite, and
    one :func:`result_flag` of the result checks them all. The failure path (CPU, or
    ``value_checks("sync")``) names the first non-finite input, or says the result overflowed from
    finite inputs, in the words of :func:`reference._checks.check_result`.
    """
    if out.numel() and value_checks_active():
        require(result_flag(out), _result_message, _result_detail, out, tuple(inputs))
    return out


def _result_message(out: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    return f"{', '.join(n for n, _ in inputs)}: expected finite values (the result is not finite)"


def _result_detail(out: torch.Tensor, inputs: tuple[tuple[str, torch.Tensor], ...]) -> str:
    for name, x in inputs:
        bad = count_non_finite(x) if x.numel() and x.is_floating_point() else 0
        if bad:
            return f"{name}: expected finite values, got {bad} NaN or infinite entries"
    largest = max((float(x.detach().abs().max()) for _, x in inputs if x.numel()), default=0.0)
    dtype = str(out.dtype).removeprefix("torch.")
    return overflow_message([n for n, _ in inputs], dtype, largest)
