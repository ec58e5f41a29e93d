"""Input checks for the accelerated side.

Shape, dtype and device checks are free (they read metadata) and always run. Value checks (finite,
on the simplex, positive definite) read the data and therefore synchronise a GPU with the host; they
run at public entry points only, never inside per-step loops, and can be switched off for a training
loop with :func:`accelerated.value_checks` (``with value_checks(False): ...``). They are skipped
automatically while ``torch.compile`` traces, a CUDA graph is being captured, or a ``torch.func``
transform (vmap, grad, jacrev) runs, where a host read is impossible. Every failure raises
``ValueError`` or ``TypeError`` naming the argument, what was received and what was expected; no
check changes a value.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Sequence

import torch

# Same tolerance as the reference side; float16/bfloat16 rows are allowed their own rounding.
SIMPLEX_ATOL = 1e-5

_state = {"value_checks": True}


def set_value_checks(enabled: bool) -> None:
    """Turn the data-reading input checks on or off globally (they are on by default)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled: expected a bool, got {type(enabled).__name__}")
    _state["value_checks"] = enabled


@contextlib.contextmanager
def value_checks(enabled: bool) -> Iterator[None]:
    """Context manager: ``with value_checks(False):`` skips the data-reading checks inside the block."""
    previous = _state["value_checks"]
    set_value_checks(enabled)
    try:
        yield
    finally:
        _state["value_checks"] = previous


def _inside_functorch_transform() -> bool:
    """True inside ``torch.func`` transforms (vmap, grad, jacrev, ...), where tensors cannot be read."""
    level = getattr(torch._C._functorch, "maybe_current_level", None)
    return level is not None and level() is not None


def value_checks_active() -> bool:
    """Whether data-reading checks run now: enabled, and not tracing, capturing or inside torch.func."""
    if not _state["value_checks"]:
        return False
    if torch.compiler.is_compiling() or _inside_functorch_transform():
        return False
    return not (torch.cuda.is_available() and torch.cuda.is_current_stream_capturing())


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


def check_same_device_dtype(names: Sequence[str], tensors: Sequence[torch.Tensor]) -> None:
    devices = {t.device for t in tensors}
    if len(devices) > 1:
        got = ", ".join(f"{n} on {t.device}" for n, t in zip(names, tensors))
        raise ValueError(f"{', '.join(names)}: expected tensors on one device, got {got}")
    dtypes = {t.dtype for t in tensors}
    if len(dtypes) > 1:
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
    """All entries finite. One read pass and no temporary: a sum is finite when every entry is (NaN and
    inf propagate); only a non-finite sum (or an overflowing one) triggers the exact elementwise test."""
    if not value_checks_active() or x.numel() == 0:
        return
    x = x.detach()
    if bool(torch.isfinite(x.sum())) or bool(torch.isfinite(x).all()):
        return
    bad = int((~torch.isfinite(x)).sum())
    raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")


def check_not_nan(name: str, x: torch.Tensor) -> None:
    x = x.detach()
    if value_checks_active() and bool(torch.isnan(x).any()):
        raise ValueError(f"{name}: expected no NaN, got {int(torch.isnan(x).sum())} NaN entries")


def check_in_interval(name: str, x: torch.Tensor, low: float, high: float) -> None:
    x = x.detach()
    check_not_nan(name, x)
    if value_checks_active() and x.numel() and bool(((x < low) | (x > high)).any()):
        raise ValueError(
            f"{name}: expected values in [{low}, {high}], got min {float(x.min())!r} and max {float(x.max())!r}"
        )


def simplex_atol(dtype: torch.dtype) -> float:
    return max(SIMPLEX_ATOL, 8 * torch.finfo(dtype).eps)


def check_simplex(name: str, p: torch.Tensor) -> None:
    check_ndim(name, p, 1)
    if p.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one category along the last axis, got shape {tuple(p.shape)}")
    if not value_checks_active():
        return
    p = p.detach()
    check_finite(name, p)
    if bool((p < 0).any()):
        raise ValueError(f"{name}: expected non-negative probabilities, got min {float(p.min())!r}")
    total = p.sum(dim=-1, dtype=torch.float64)
    worst = float((total - 1.0).abs().max()) if total.numel() else 0.0
    atol = simplex_atol(p.dtype)
    if worst > atol:
        raise ValueError(
            f"{name}: expected probabilities summing to 1 along the last axis (within {atol:g}), "
            f"got a row off by {worst!r}"
        )


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
    """Finite and symmetric (within 1e-8, float32: 1e-5, of max |A|), with one host read.

    A non-finite entry makes the max/min scale non-finite, so finiteness needs no pass of its own; the
    exact count is taken only to word the error.
    """
    if not value_checks_active() or a.numel() == 0:
        return
    a = a.detach()
    low, high = torch.aminmax(a)
    scale_asym = torch.stack([torch.maximum(high, -low), _max_asymmetry(a)])
    scale, asym = scale_asym.tolist()  # one host read for both
    if not math.isfinite(scale):
        bad = int((~torch.isfinite(a)).sum())
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    tol = (1e-8 if a.dtype == torch.float64 else 1e-5) * max(scale, 1e-300)
    if asym > tol:
        raise ValueError(f"{name}: expected symmetric matrices, got max |A - A^T| = {asym:.3g} (max |A| = {scale:.3g})")


def cholesky_spd(name: str, a: torch.Tensor) -> torch.Tensor:
    """Lower Cholesky factor; a ValueError naming ``name`` if ``a`` is not symmetric positive definite.

    With value checks off, a failed factorisation yields NaN instead of an error (no host read).
    """
    check_square(name, a)
    check_symmetric(name, a)  # includes finiteness
    L, info = torch.linalg.cholesky_ex(a)
    if value_checks_active() and bool((info != 0).any()):
        smallest = float(torch.linalg.eigvalsh(a.detach()).min())
        raise ValueError(
            f"{name}: expected symmetric positive definite matrices, got one whose Cholesky factorisation "
            f"fails (smallest eigenvalue {smallest:.3g})"
        )
    return L


def check_positive_scalar(name: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name}: expected a positive real number (Python int or float), got {describe(x)}")
    value = float(x)
    if not (value > 0 and value < float("inf")):
        raise ValueError(f"{name}: expected a finite positive number, got {value!r}")
    return value


def check_real_scalar(name: str, x: object) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        raise TypeError(f"{name}: expected a real number (Python int or float), got {describe(x)}")
    value = float(x)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return value


def check_noise_or_rng(noise: object, rng: object, *, noise_name: str = "noise") -> None:
    if (noise is None) == (rng is None):
        raise ValueError(
            f"{noise_name} / rng: pass exactly one of {noise_name}= (pre-drawn values) or rng= "
            f"(a torch.Generator); got {'both' if noise is not None else 'neither'}"
        )
    if rng is not None and not isinstance(rng, torch.Generator):
        raise TypeError(f"rng: expected a torch.Generator, got {describe(rng)}")
