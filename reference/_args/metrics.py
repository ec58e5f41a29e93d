"""Argument checks of the sample-quality metrics that both sides share (pure Python, no arrays).

Shapes arrive as tuples of ints (``tuple(x.shape)`` of an array or a tensor), counts as Python or
NumPy integers; nothing here imports NumPy or torch or computes a formula. The error types follow
:mod:`reference._args`: a wrong type is a ``TypeError``, a wrong value a ``ValueError``, and every
message names the argument.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

from . import count, describe, optional_count

__all__ = [
    "MAX_STREAMING_DIM",
    "check_block_size",
    "check_dim",
    "check_index_pair",
    "check_index_shapes",
    "check_k",
    "check_matrix_shape",
    "check_splits",
    "fid_infinity_sizes",
    "kid_sizes",
    "one_of",
]


def check_matrix_shape(
    name: str,
    shape: tuple[int, ...],
    *,
    min_rows: int = 1,
    min_cols: int = 1,
    layout: str = "(n, d), one sample per row",
) -> None:
    """A 2-D shape with at least ``min_rows`` rows and ``min_cols`` columns (``layout`` says what a row is)."""
    if len(shape) != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape {layout}, got shape {shape}")
    if shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} row{'s' if min_rows != 1 else ''}, got shape {shape}")
    if shape[1] < min_cols:
        raise ValueError(f"{name}: expected at least {min_cols} feature column(s), got shape {shape}")


MAX_STREAMING_DIM = 1 << 16
"""Largest ``dim`` of a ``StreamingStatistics``: its (dim, dim) float64 co-moment matrix then holds 32 GiB."""


def check_dim(dim: object) -> int:
    """The feature dimension of a ``StreamingStatistics``: an integer ``1 <= dim <= MAX_STREAMING_DIM``."""
    d = count("dim", dim)
    if d > MAX_STREAMING_DIM:
        raise ValueError(
            f"dim: expected 1 <= dim <= {MAX_STREAMING_DIM}, got {d} (its (dim, dim) float64 co-moment matrix "
            f"would hold {8 * d * d / 2**30:.3g} GiB)"
        )
    return d


OVERFLOW = "the mean or covariance overflows float64 (squared deviations beyond 1.8e308); rescale the features"
"""The end of the message (after ``name: ``) of statistics that overflow, the same on both sides."""
NOT_CONVERGED = (
    "the Frechet distance cannot be computed: its eigenvalue problem did not converge (covariance entries "
    "around 1e154 or beyond overflow its products); rescale the features"
)
"""The message (after ``sigma1, sigma2: ``) of a Frechet distance whose linear algebra fails, on both sides."""


def check_k(k: object, sizes: Sequence[tuple[str, int]]) -> int:
    """k-NN order: 1 <= k <= n - 1 for every set whose radii are needed (self is not a neighbour)."""
    k = count("k", k)
    for name, n in sizes:
        if k > n - 1:
            raise ValueError(
                f"k: expected 1 <= k <= n - 1 = {n - 1} for {name} with n = {n} rows (the k-th nearest "
                f"neighbour among the other points of the set), got k = {k}"
            )
    return k


def check_block_size(block_size: object) -> int | None:
    """``None`` (the side's default block) or a count of rows >= 1."""
    return optional_count("block_size", block_size)


def check_splits(splits: object, n: int) -> int:
    """Inception Score splits: 1 <= splits <= n, every split needs a row."""
    splits = count("splits", splits)
    if splits > n:
        raise ValueError(f"splits: expected 1 <= splits <= n = {n} (every split needs a row), got {splits}")
    return splits


def one_of(names: str, *values: object) -> None:
    """At most one of ``values`` is not None (``names`` as ``"indices / rng"``)."""
    given = [v for v in values if v is not None]
    if len(given) > 1:
        shown = ", ".join(f"{n.strip()}={v!r}"[:60] for n, v in zip(names.split("/"), values))
        raise ValueError(f"{names}: pass at most one, got {shown}")


def kid_sizes(n1: int, n2: int, subset_size: object, n_subsets: object) -> tuple[int, int]:
    """(subset_size, n_subsets) with the defaults min(1000, n1, n2) and 100, checked against the row counts."""
    S = 100 if n_subsets is None else count("n_subsets", n_subsets)
    m = min(1000, n1, n2) if subset_size is None else count("subset_size", subset_size, minimum=2)
    if m > min(n1, n2):
        raise ValueError(
            f"subset_size: expected 2 <= subset_size <= min(n1, n2) = {min(n1, n2)} (rows are drawn without "
            f"replacement from features1 with n1 = {n1} and features2 with n2 = {n2} rows), got {m}"
        )
    return m, S


def check_index_shapes(
    indices: object, shapes: Sequence[tuple[int, ...]], subset_size: object, n_subsets: object
) -> tuple[int, int]:
    """Given KID subsets: two (S, m) index arrays with S >= 1, m >= 2, one shape, matching the given sizes.

    ``indices`` is the argument as passed (a pair is required); ``shapes`` the shapes of its two
    integer arrays once converted. Returns (S, m).
    """
    for i, shape in enumerate(shapes):
        if len(shape) != 2 or shape[0] < 1 or shape[1] < 2:
            raise ValueError(
                f"indices[{i}]: expected shape (n_subsets, subset_size) with n_subsets >= 1 and subset_size >= 2, "
                f"got shape {shape}"
            )
    if shapes[0] != shapes[1]:
        raise ValueError(f"indices: expected two arrays of one shape, got {shapes[0]} and {shapes[1]}")
    S, m = shapes[0]
    for name, value, size in (("subset_size", subset_size, m), ("n_subsets", n_subsets, S)):
        if value is not None and count(name, value) != size:
            raise ValueError(f"{name}: expected None or {size} (the shape of indices, {shapes[0]}), got {value}")
    return S, m


def check_index_pair(indices: object) -> None:
    """``indices`` is a pair (idx1, idx2) (a tuple or a list of two)."""
    if not (isinstance(indices, (tuple, list)) and len(indices) == 2):
        raise TypeError(f"indices: expected a pair (idx1, idx2) of integer arrays, got {describe(indices)}")


def _int_list(batch_sizes: object) -> list[int]:
    values = batch_sizes.tolist() if hasattr(batch_sizes, "tolist") else batch_sizes
    if isinstance(values, (list, tuple)) and values:
        if all(isinstance(v, numbers.Integral) and type(v).__name__ not in ("bool", "bool_") for v in values):
            return [int(v) for v in values]
    raise TypeError(f"batch_sizes: expected a 1-D sequence of ints, got {describe(batch_sizes)}")


def fid_infinity_sizes(m: int, batch_sizes: object, n_points: object) -> tuple[int, ...]:
    """The N values of FID_inf: given, or ``n_points`` evenly spaced from m/10 to m (truncated), as Chong & Forsyth.

    The even spacing is ``numpy.linspace(m / 10, m, p).astype(int64)`` computed in Python floats the
    way NumPy does (``i * step + start``, the last value exactly m), so both sides get the same ints.
    """
    one_of("batch_sizes / n_points", batch_sizes, n_points)
    if batch_sizes is None:
        p = count("n_points", 15 if n_points is None else n_points, minimum=2)
        start, step = m / 10, (m - m / 10) / (p - 1)
        sizes = [int(float(i) * step + start) for i in range(p - 1)] + [int(m)]
    else:
        sizes = _int_list(batch_sizes)
    if min(sizes) < 2 or max(sizes) > m:
        raise ValueError(
            f"batch_sizes: expected sample counts N with 2 <= N <= {m} (the rows of fake_features), got {sizes}"
        )
    if len(set(sizes)) < 2:
        raise ValueError(f"batch_sizes: the line fit needs at least two distinct N, got {sizes}")
    return tuple(sizes)
