"""Input checks for the reference side.

Every public function converts its array inputs with :func:`as_float64` and validates them with the
helpers below, so that bad input fails early with a ``ValueError`` (or ``TypeError``) that names the
argument, what was received and what was expected. No check here changes a value.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from reference._args import overflow_message
from reference._args import positive as check_positive_scalar  # noqa: F401  (re-exported)
from reference._args import real as check_real_scalar  # noqa: F401  (re-exported)

# Probability vectors must sum to one within this absolute tolerance. It admits vectors normalised
# in float32 (rounding of order n * 6e-8) and rejects vectors that are off by a visible amount.
SIMPLEX_ATOL = 1e-5


def describe(x: object) -> str:
    """Short description of a received value for error messages."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"[:120]


def as_float64(name: str, x: object) -> np.ndarray:
    """Convert ``x`` to a float64 array, refusing complex, string and object input."""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name}: expected a real array, got {describe(x)}") from err
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected a real numeric array, got {describe(arr)}")
    return arr.astype(np.float64, copy=False)


def as_int_array(name: str, x: object) -> np.ndarray:
    """Convert ``x`` to an int64 array, refusing floats that are not whole numbers."""
    arr = np.asarray(x)
    if arr.dtype.kind in "iu":
        return arr.astype(np.int64, copy=False)
    raise TypeError(f"{name}: expected an integer array, got {describe(arr)}")


def check_ndim(name: str, x: np.ndarray, min_ndim: int) -> None:
    if x.ndim < min_ndim:
        raise ValueError(f"{name}: expected at least {min_ndim} dimension(s), got shape {x.shape}")


def check_finite(name: str, x: np.ndarray) -> None:
    if not np.all(np.isfinite(x)):
        bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
        raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")


def check_not_nan(name: str, x: np.ndarray) -> None:
    if np.any(np.isnan(x)):
        raise ValueError(f"{name}: expected no NaN, got {int(np.count_nonzero(np.isnan(x)))} NaN entries")


def check_in_interval(name: str, x: np.ndarray, low: float, high: float) -> None:
    check_not_nan(name, x)
    if np.any(x < low) or np.any(x > high):
        raise ValueError(f"{name}: expected values in [{low}, {high}], got min {np.min(x)!r} and max {np.max(x)!r}")


def check_simplex(name: str, p: np.ndarray) -> None:
    """Probability vectors along the last axis: finite, non-negative, summing to one."""
    check_ndim(name, p, 1)
    if p.shape[-1] == 0:
        raise ValueError(f"{name}: expected at least one category along the last axis, got shape {p.shape}")
    check_finite(name, p)
    if np.any(p < 0):
        raise ValueError(f"{name}: expected non-negative probabilities, got min {np.min(p)!r}")
    total = p.sum(axis=-1)
    if total.size == 0:  # an empty batch of vectors: nothing to sum (the accelerated side agrees)
        return
    worst = np.max(np.abs(total - 1.0))
    if worst > SIMPLEX_ATOL:
        raise ValueError(
            f"{name}: expected probabilities summing to 1 along the last axis (within {SIMPLEX_ATOL}), "
            f"got a row summing to {1.0 + worst if np.any(total > 1) else 1.0 - worst!r}"
        )


def check_same_last_dim(names: Sequence[str], arrays: Sequence[np.ndarray]) -> None:
    sizes = [a.shape[-1] for a in arrays]
    if len(set(sizes)) != 1:
        got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"{' and '.join(names)}: expected the same size along the last axis, got {got}")


def broadcast_batch(names: Sequence[str], shapes: Sequence[tuple[int, ...]]) -> tuple[int, ...]:
    """Broadcast leading (batch) shapes, naming the arguments when they do not broadcast."""
    try:
        return np.broadcast_shapes(*shapes)
    except ValueError as err:
        got = ", ".join(f"{n} {s}" for n, s in zip(names, shapes))
        raise ValueError(f"{', '.join(names)}: batch shapes do not broadcast: {got}") from err


def check_square(name: str, a: np.ndarray) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{name}: expected square matrices of shape (..., d, d), got shape {a.shape}")


def check_symmetric(name: str, a: np.ndarray) -> None:
    scale = np.max(np.abs(a)) if a.size else 0.0
    asym = np.max(np.abs(a - np.swapaxes(a, -1, -2))) if a.size else 0.0
    if asym > 1e-8 * max(scale, 1e-300):
        raise ValueError(f"{name}: expected symmetric matrices, got max |A - A^T| = {asym:.3g} (max |A| = {scale:.3g})")


def cholesky_spd(name: str, a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of symmetric positive definite ``a``; ValueError naming ``name`` otherwise."""
    check_square(name, a)
    check_finite(name, a)
    check_symmetric(name, a)
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError as err:
        raise ValueError(
            f"{name}: expected symmetric positive definite matrices, got one whose Cholesky factorisation "
            f"fails (smallest eigenvalue {np.min(np.linalg.eigvalsh(a)):.3g})"
        ) from err


def check_noise_or_rng(noise: object, rng: object, *, noise_name: str = "noise") -> None:
    """Stochastic functions take exactly one of pre-drawn ``noise`` or a ``numpy.random.Generator``."""
    if (noise is None) == (rng is None):
        raise ValueError(
            f"{noise_name} / rng: pass exactly one of {noise_name}= (pre-drawn values) or rng= "
            f"(a numpy.random.Generator); got {'both' if noise is not None else 'neither'}"
        )
    if rng is not None and not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator, got {describe(rng)}")


def check_shape(name: str, x: np.ndarray, shape: tuple[int, ...]) -> None:
    if x.shape != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got shape {x.shape}")


def check_result(out: object, inputs: Sequence[tuple[str, object]]) -> object:
    """Refuse a non-finite result: name the first non-finite input, or say the result overflowed.

    The check of a formula whose value is a summary (a loss, a divergence, a distance, a metric):
    where every input is finite but the value is not, the data's own scale overflowed float64 (data at
    1e300 squared), and the refusal names the inputs rather than returning inf or NaN. ``out`` is
    returned unchanged. The accelerated side's :func:`accelerated._checks.check_result` words it alike.
    """
    values = np.asarray(out, dtype=np.float64) if not isinstance(out, np.ndarray) else out
    if values.size == 0 or np.all(np.isfinite(values)):
        return out
    for name, x in inputs:
        x = np.asarray(x)
        bad = int(np.count_nonzero(~np.isfinite(x))) if x.dtype.kind in "fc" else 0
        if bad:
            raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    sizes = [np.asarray(x) for _, x in inputs]
    largest = max((float(np.max(np.abs(x))) for x in sizes if x.size), default=0.0)
    raise ValueError(overflow_message([n for n, _ in inputs], str(values.dtype), largest))
