r"""KID in PyTorch: the unbiased MMD^2 with the cubic kernel, batched over subsets, summed in float64.

Same formulas, names and parameters as :mod:`reference.metrics.kid`. KID, the Kernel Inception
Distance (Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD GANs, ICLR 2018), is on no slide:
the unbiased MMD^2 with the cubic kernel (x^T y / d + 1)^3 over random subsets, the likelihood-free
statistic of Advanced Course on DGM, Lecture 8, 'Two-Sample Tests', on the features of 'Computing FID'.

``mmd2_unbiased`` and ``kid`` form the kernel matrices with batched matrix products in the features'
dtype (float32 stays float32, for speed: a kernel entry then carries the float32 rounding of a
length-d dot product) and sum them in float64; ``kid`` chunks its subsets so that a chunk's gathered
rows and kernel block stay within 256 MiB, and returns the features' dtype.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from reference._args import metrics as M

from .. import _checks as C
from ._common import F64, _check_sets

__all__ = ["KID", "kid", "mmd2_unbiased"]

# Bytes of one chunk of subsets (gathered rows and a kernel block), entries of one kernel block,
# uniforms drawn at a time for the subsets.
_KID_CHUNK_BYTES = 1 << 28
_KERNEL_BLOCK_ENTRIES = 1 << 26
_DRAW_CHUNK_VALUES = 1 << 22
# Entries per float64 tile of a kernel block's sum on the CPU (the float64 buffer: 8 MiB).
_SUM_TILE_VALUES = 1 << 20


class KID(NamedTuple):
    """Kernel Inception Distance: mean and population std of the subsets' unbiased MMD^2 (inputs' dtype).

    Examples
    --------
    Every subset of X = {0, 0}, Y = {1, 1} is the whole sets, so the spread is 0 (see :func:`kid`):

    >>> float(KID(torch.tensor(7.0), torch.tensor(0.0)).std)
    0.0
    """

    mean: torch.Tensor
    std: torch.Tensor


def _sum_float64(K: torch.Tensor) -> torch.Tensor:
    """(s,) float64 sums of the blocks of a contiguous (s, r, n) tensor, every entry in a float64 accumulator.

    On the CPU a reduction with a dtype cast (``sum(dtype=float64)``) first materialises a float64
    copy of its whole input: for a kernel block of tens of MB a fresh allocation, page-faulted in on
    every call, at ~7 ns per entry (a tenth of the GEMM at d = 2048). Here the entries are copied
    to float64 in tiles of :data:`_SUM_TILE_VALUES` (8 MiB) through one reused buffer and each tile
    is summed there (~1.5 ns per entry, few parallel regions per block). Float64 input, small
    blocks, tensors that need a gradient and other devices (which cast on the fly) take one
    reduction.
    """
    s = K.shape[0]
    flat = K.reshape(s, -1)
    step = max(1, _SUM_TILE_VALUES // s)
    if not K.is_cpu or K.dtype == F64 or K.requires_grad or flat.shape[1] <= step:
        return flat.sum(dim=1, dtype=F64)
    buffer = torch.empty(s * step, dtype=F64)
    total = torch.zeros(s, dtype=F64)
    for start in range(0, flat.shape[1], step):
        tile = flat[:, start : start + step]
        total += buffer[: tile.numel()].view(tile.shape).copy_(tile).sum(dim=1)
    return total


def _kernel_sum(
    a: torch.Tensor, b: torch.Tensor, *, off_diagonal: bool, workspace: torch.Tensor | None = None
) -> torch.Tensor:
    r"""(s,) float64 sums of :math:`k(a_i, b_j) = (a_i^\top b_j / d + 1)^3` over each of s blocks.

    ``a`` (s, m, d), ``b`` (s, n, d). The kernel is one batched GEMM in the input dtype,
    ``baddbmm(1, a, b^T, alpha=1/d)``, cubed in place; each block is summed with a float64
    accumulator (:func:`_sum_float64`; no float64 copy of the block). With ``off_diagonal``
    (``a`` is ``b``) the terms i = j are left out exactly: the float64 sum of the block's own
    diagonal entries is subtracted. Rows of ``a`` are taken in slices so that one kernel block holds
    at most :data:`_KERNEL_BLOCK_ENTRIES` entries (one slice for KID's subsets, which :func:`kid`
    chunks to fit). Out-of-place (differentiable) when an input requires grad. ``workspace``, a
    contiguous 1-D tensor of the inputs' dtype, receives the kernel blocks when it is large enough
    (same values; on the CPU a fresh block of this size would be page-faulted in on every call).
    """
    s, m, d = a.shape
    n = b.shape[1]
    grad = torch.is_grad_enabled() and (a.requires_grad or b.requires_grad)
    one = torch.ones((), dtype=a.dtype, device=a.device)
    rows = max(1, _KERNEL_BLOCK_ENTRIES // max(1, s * n))
    bT = b.transpose(1, 2)
    total = torch.zeros(s, dtype=F64, device=a.device)
    for start in range(0, m, rows):
        stop = min(start + rows, m)
        size = s * (stop - start) * n
        if grad or workspace is None or workspace.numel() < size:
            K = torch.baddbmm(one, a[:, start:stop], bT, beta=1, alpha=1.0 / d)  # (s, rows, n): a.b / d + 1
        else:
            out = workspace[:size].view(s, stop - start, n)
            K = torch.baddbmm(one, a[:, start:stop], bT, beta=1, alpha=1.0 / d, out=out)
        K = K.pow(3) if grad else K.pow_(3)
        total = total + _sum_float64(K)
        if off_diagonal:  # entry (i, start + i) of this slice is the term i = j
            total = total - K[:, :, start:stop].diagonal(dim1=1, dim2=2).sum(dim=1, dtype=F64)
    return total


def _subset_mmd2(x: torch.Tensor, y: torch.Tensor, *, workspace: torch.Tensor | None = None) -> torch.Tensor:
    r"""(s,) float64 unbiased MMD^2 with the cubic kernel of s pairs of gathered subsets.

    .. math::

        \frac{\sum_{i \ne j} k(x_i, x_j)}{m(m-1)} + \frac{\sum_{i \ne j} k(y_i, y_j)}{m_2(m_2-1)}
        - \frac{2 \sum_{i,j} k(x_i, y_j)}{m m_2}

    ``x`` (s, m, d) and ``y`` (s, m2, d), same dtype and device, m, m2 >= 2 (not checked: the
    callers have). Three batched GEMMs per block of subsets (XX, YY, XY) in the input dtype, their
    cubes summed in float64, the diagonals of XX and YY subtracted exactly (:func:`_kernel_sum`).
    Each subset's value comes from its own GEMMs and sums. Batching it with other subsets changes at
    most the order of its float64 partial sums, hence their rounding; for float32 entries even that
    usually vanishes (float64 sums of float32 numbers of similar size are exact), and on the CPU the
    values are bitwise the same in any batch in the tests. A GPU library may pick its GEMM kernel by
    batch size, which can change the last bits. Used by :func:`kid`, :func:`mmd2_unbiased` and
    ``accelerated.distributed.kid``, so that all give the same numbers. ``workspace`` (optional, a
    contiguous 1-D tensor of at least s max(m, m2)^2 entries of the inputs' dtype) is reused for
    the three kernel blocks; it changes no value.
    """
    m, m2 = x.shape[1], y.shape[1]
    xx = _kernel_sum(x, x, off_diagonal=True, workspace=workspace)
    yy = _kernel_sum(y, y, off_diagonal=True, workspace=workspace)
    xy = _kernel_sum(x, y, off_diagonal=False, workspace=workspace)
    return xx / (m * (m - 1)) + yy / (m2 * (m2 - 1)) - xy * (2.0 / (m * m2))


def _kid_chunk(m1: int, m2: int, d: int, itemsize: int) -> int:
    """Subsets per chunk: the gathered (chunk, m1, d) and (chunk, m2, d) rows and one (chunk, m, m) kernel
    block take at most :data:`_KID_CHUNK_BYTES` (256 MiB) together; at least one subset."""
    per_subset = itemsize * ((m1 + m2) * d + max(m1, m2) ** 2)
    return max(1, _KID_CHUNK_BYTES // per_subset)


def _gather_rows(x: torch.Tensor, idx: torch.Tensor, buffer: torch.Tensor | None) -> torch.Tensor:
    """(s, m, d) rows ``x[idx]`` by one ``index_select``, into ``buffer`` (1-D, large enough) if given."""
    flat, d = idx.reshape(-1), x.shape[1]
    if buffer is None:
        return x.index_select(0, flat).view(*idx.shape, d)
    return torch.index_select(x, 0, flat, out=buffer[: flat.numel() * d].view(-1, d)).view(*idx.shape, d)


def mmd2_unbiased(features1: torch.Tensor, features2: torch.Tensor) -> torch.Tensor:
    r"""Unbiased MMD^2 with the cubic kernel, kernel GEMMs in the input dtype, sums in float64 (see the reference).

    .. math::

        k(x, y) = \Big(\frac{x^\top y}{d} + 1\Big)^3,\quad
        \widehat{\mathrm{MMD}}^2_u = \frac{\sum_{i \ne j} k(x_i, x_j)}{m(m-1)}
        + \frac{\sum_{i \ne j} k(y_i, y_j)}{n(n-1)} - \frac{2}{mn} \sum_{i, j} k(x_i, y_j).

    Unbiased, so it **can be negative** (near 0, of either sign, when the laws agree). Differentiable.

    Parameters
    ----------
    features1 : (m, d) Tensor
    features2 : (n, d) Tensor
        m, n >= 2; same dtype and device.

    Returns
    -------
    () Tensor
        In the features' dtype.

    Notes
    -----
    The kernel matrices are formed by matrix products in the features' dtype (float32 stays float32,
    for speed: each kernel entry then carries the float32 rounding of a length-d dot product,
    relative error about ``sqrt(d) * 6e-8``), in row blocks of at most 2**26 entries, so memory does
    not grow as m n; the entries are summed in float64 and the diagonals subtracted exactly.

    Features whose kernel values overflow (float64 sums, or the features' dtype in the GEMMs) are
    refused with a ``ValueError`` naming ``features1, features2`` (:func:`accelerated._checks.check_result`,
    a device-side assertion, no host read), as on the reference side.

    Examples
    --------
    X = {0, 0}, Y = {1, 1} in d = 1: k(0, 0) = 1, k(1, 1) = 2^3 = 8, k(0, 1) = 1, so the
    estimate is 1 + 8 - 2 * 1 = 7 (by hand):

    >>> float(mmd2_unbiased(torch.zeros(2, 1), torch.ones(2, 1)))
    7.0
    """
    x, y = _check_sets(("features1", "features2"), features1, features2, min_rows=(2, 2))
    value = _subset_mmd2(x[None], y[None])[0]
    return C.check_result(value, [("features1", x), ("features2", y)]).to(x.dtype)


def _draw_rows(n: int, m: int, S: int, rng: torch.Generator) -> torch.Tensor:
    """(S, m) int64: per row, the first m of ``argsort`` of n float64 uniforms from ``rng`` (on its device).

    Uniforms sort into a uniformly random permutation, so each row is m distinct rows drawn without
    replacement. Drawn in chunks of rows of at most 2**22 uniforms (32 MiB).
    """
    rows = max(1, _DRAW_CHUNK_VALUES // n)
    parts = []
    for start in range(0, S, rows):
        u = torch.rand((min(rows, S - start), n), generator=rng, device=rng.device, dtype=F64)
        parts.append(torch.argsort(u, dim=1)[:, :m])
    return torch.cat(parts)


def _draw_kid_indices(
    n1: int, n2: int, subset_size: int, n_subsets: int, rng: torch.Generator | None, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """KID's subsets: two int64 (n_subsets, subset_size) tensors of distinct row numbers, moved to ``device``.

    Drawn on ``rng``'s device: first every subset of ``range(n1)``, then every subset of ``range(n2)``
    (:func:`_draw_rows`), so a generator seeded alike gives the same subsets on every call and every
    process. ``rng=None`` draws from a fresh generator on ``device`` seeded from the operating
    system (not reproducible). Arguments are not checked here (:func:`_kid_indices` does that).
    """
    if rng is None:
        rng = torch.Generator(device=device)
        rng.seed()
    idx1 = _draw_rows(n1, subset_size, n_subsets, rng)
    idx2 = _draw_rows(n2, subset_size, n_subsets, rng)
    return idx1.to(device), idx2.to(device)


def _given_indices(
    indices: object, n1: int, n2: int, subset_size: object, n_subsets: object, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check given subset indices: two (S, m) integer tensors, rows of distinct indices in range, on ``device``."""
    M.check_index_pair(indices)
    idx = [C.as_int_tensor(f"indices[{i}]", v) for i, v in enumerate(indices)]
    M.check_index_shapes(indices, [tuple(ix.shape) for ix in idx], subset_size, n_subsets)
    idx = [ix.to(device=device, dtype=torch.int64) for ix in idx]
    if C.value_checks_active():
        for i, (ix, n) in enumerate(zip(idx, (n1, n2))):
            name = f"indices[{i}]"
            lo, hi = torch.aminmax(ix)
            C.require(
                lo.ge(0).logical_and_(hi.lt(n)),
                f"{name}: expected row indices in [0, {n - 1}] (features{i + 1} has {n} rows)",
                lambda name=name, n=n, ix=ix, i=i: (
                    f"{name}: expected row indices in [0, {n - 1}] (features{i + 1} has {n} rows), "
                    f"got min {int(ix.min())} and max {int(ix.max())}"
                ),
            )
            s = torch.sort(ix, dim=1).values
            C.require(
                (s[:, 1:] != s[:, :-1]).all(),
                f"{name}: expected distinct indices in each row (a subset is drawn without replacement)",
            )
    return idx[0], idx[1]


def _kid_indices(
    n1: int,
    n2: int,
    subset_size: object,
    n_subsets: object,
    rng: object,
    indices: object,
    device: torch.device | str = "cpu",
) -> tuple[torch.Tensor, torch.Tensor]:
    """KID's subsets, checked: the given ``indices`` or ``rng``'s draws, int64, on ``device``.

    The reference twin's contract (same first six arguments, same errors) plus ``device``, where the
    index tensors go: ``indices`` (a pair of (S, m) integer tensors, rows of distinct indices in
    range; moved to ``device``) or, if None, :func:`_draw_kid_indices` from ``rng`` (a
    ``torch.Generator`` on the CPU or on ``device``; None: fresh and unseeded) with the sizes of
    :func:`reference._args.metrics.kid_sizes`. Used by :func:`kid` and ``accelerated.distributed.kid``.
    """
    device = torch.device(device)
    M.one_of("indices / rng", indices, rng)
    if indices is not None:
        return _given_indices(indices, n1, n2, subset_size, n_subsets, device)
    m, S = M.kid_sizes(n1, n2, subset_size, n_subsets)
    if rng is not None:
        if not isinstance(rng, torch.Generator):
            raise TypeError(f"rng: expected a torch.Generator or None, got {C.describe(rng)}")
        if rng.device.type != "cpu":
            C.check_generator(rng, device)
    return _draw_kid_indices(n1, n2, m, S, rng, device)


def kid(
    features1: torch.Tensor,
    features2: torch.Tensor,
    *,
    subset_size: int | None = None,
    n_subsets: int | None = None,
    rng: torch.Generator | None = None,
    indices: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> KID:
    r"""Kernel Inception Distance: unbiased MMD^2 (cubic kernel) over random subsets, batched (see the reference).

    .. math::

        \mathrm{KID} = \frac1S \sum_{s=1}^S \widehat{\mathrm{MMD}}^2_u\big(X_{I_s}, Y_{J_s}\big),
        \qquad k(x, y) = \Big(\frac{x^\top y}{d} + 1\Big)^3,

    each subset drawing ``subset_size`` rows of each set independently, without replacement. The mean
    can be slightly negative when the laws agree.

    Randomness: with ``rng`` (a ``torch.Generator`` on the CPU or on the features' device) the
    subsets of ``features1`` are the first ``subset_size`` entries of ``argsort`` of a row of
    ``torch.rand((n_subsets, n1), dtype=float64)`` drawn on the generator's device (in chunks of
    2**22 values), then those of ``features2`` likewise (:func:`_draw_kid_indices`); the draws
    differ from the reference's, so the crosscheck passes both sides the same ``indices``. With
    neither ``rng`` nor ``indices``, a fresh generator seeded by the operating system is used: the
    result is then **not reproducible**.

    Parameters
    ----------
    features1 : (n1, d) Tensor
    features2 : (n2, d) Tensor
        n1, n2 >= 2; same dtype and device.
    subset_size : int, optional
        2 <= m <= min(n1, n2); default ``min(1000, n1, n2)``.
    n_subsets : int, optional
        S >= 1; default 100.
    rng : torch.Generator, optional
    indices : (idx1, idx2) pair of integer Tensors, optional
        Each (S, m), rows of distinct row numbers (on any device; moved to the features'). Overrides
        drawing: ``rng`` must be None, ``subset_size`` / ``n_subsets`` if given must match.

    Returns
    -------
    KID
        ``mean`` and population ``std`` (divisor S), 0-d tensors in the features' dtype.
        Differentiable (memory then holds every chunk's kernel blocks for the backward pass).

    Notes
    -----
    The subsets are processed in chunks (gathered rows and one kernel block of a chunk within 256 MiB):
    per chunk, three batched GEMMs (XX, YY, XY) in the features' dtype, cubed in place and summed
    in float64 with the diagonals left out exactly (:func:`_subset_mmd2`); mean and std of the S
    float64 values in float64, then cast.

    Features whose kernel values overflow (float64 sums, or the features' dtype in the GEMMs) are
    refused with a ``ValueError`` naming ``features1, features2`` (:func:`accelerated._checks.check_result`,
    a device-side assertion, no host read), as on the reference side.

    Examples
    --------
    With subsets of all rows every subset value is MMD^2_u({0, 0}, {1, 1}) = 1 + 8 - 2 = 7 (by hand):

    >>> r = kid(torch.zeros(2, 1), torch.ones(2, 1), n_subsets=3, rng=torch.Generator().manual_seed(0))
    >>> float(r.mean), float(r.std)
    (7.0, 0.0)
    """
    x, y = _check_sets(("features1", "features2"), features1, features2, min_rows=(2, 2))
    idx1, idx2 = _kid_indices(x.shape[0], y.shape[0], subset_size, n_subsets, rng, indices, x.device)
    S, m1, m2 = idx1.shape[0], idx1.shape[1], idx2.shape[1]
    d = x.shape[1]
    chunk = min(S, _kid_chunk(m1, m2, d, x.element_size()))
    if torch.is_grad_enabled() and (x.requires_grad or y.requires_grad):
        buffers = (None, None, None)
    else:  # one set of buffers for all chunks: on the CPU fresh ones are page-faulted in each time
        buffers = (x.new_empty(chunk * m1 * d), y.new_empty(chunk * m2 * d), x.new_empty(chunk * max(m1, m2) ** 2))
    values = []
    for s in range(0, S, chunk):
        xs = _gather_rows(x, idx1[s : s + chunk], buffers[0])
        ys = _gather_rows(y, idx2[s : s + chunk], buffers[1])
        values.append(_subset_mmd2(xs, ys, workspace=buffers[2]))
    values = torch.cat(values)
    result = torch.stack([values.mean(), values.std(correction=0)]).to(x.dtype)
    C.check_result(result, [("features1", x), ("features2", y)])
    return KID(result[0], result[1])
