r"""Sample-quality metrics in PyTorch: streaming statistics, FID and FID_inf, KID, PRDC in blocks, IS, CLIP score.

Same formulas, names and parameters as :mod:`reference.metrics` (see it for the slides: Isachenko DGM
Lecture 7, 'Frechet Inception Distance', 'Frechet Inception Distance (FID)', 'Precision-Recall',
'CLIP score'; Advanced Course on DGM Lecture 8, 'Inception Score', 'Computing FID', 'Two-Sample
Tests'). KID, the Kernel Inception Distance (Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD
GANs, ICLR 2018), is on no slide: the unbiased MMD^2 with the cubic kernel (x^T y / d + 1)^3 over
random subsets.

Precision and devices. Results live on the inputs' device. Where float32 loses the answer, the work
is done in float64 whatever the input dtype:

* ``feature_statistics`` and :class:`StreamingStatistics` accumulate in float64 (two-pass mean and
  co-moment per chunk of rows, Chan et al.'s combination across chunks and batches; never a float32
  covariance accumulator, never ``sum x x^T - n mu mu^T``) and **return float64 statistics** for any
  input dtype: a covariance rounded to float32 shifts a d = 2048 FID by more than its own rounding.
  Rows are cast in chunks of at most 2**23 values (64 MiB), so memory does not grow with n.
* ``frechet_distance`` is :func:`accelerated.transport.gaussian_w2` with ``squared=True`` (its dtype
  rules apply); ``fid`` and ``fid_infinity`` compute in float64 and return the features' dtype.
* ``mmd2_unbiased`` and ``kid`` form the kernel matrices with batched matrix products in the
  features' dtype (float32 stays float32, for speed: a kernel entry then carries the float32 rounding
  of a length-d dot product) and sum them in float64; ``kid`` chunks its subsets so that a chunk's
  gathered rows and kernel block stay within 256 MiB, and returns the features' dtype.
* ``inception_score`` and ``inception_score_components`` work on a float64 copy of each split;
  ``clip_score`` accumulates its dot products and norms in float64.

The k-NN metrics (``precision_recall``, ``density_coverage``, ``prdc``) never form an n x m matrix.
Squared distances are formed block by block as :math:`\|x\|^2 + \|y\|^2 - 2 x \cdot y` with one
matrix product in the input dtype, in effect clamped at 0 (rounding can make the expansion slightly
negative; the clamp is applied to the radii, which gives the same comparisons), k-NN radii by a
blocked ``topk``, and ball memberships by blocked ``<=`` comparisons of squared distances (closed
balls, as on the slide); a block holds ``block_size`` rows (default: as many as keep one block at 2**26 entries,
256 MiB in float32). Boundary ties: the expansion is exact only to about ``eps * (|x|^2 + |y|^2)``,
while the reference uses exact float64 distances, so a sample within that of a ball's boundary (for
instance an exact duplicate of a point, whose computed self-distance may be a few ulp above 0) can be
counted differently; for continuous data at float64 this does not happen in practice.

All of these functions read only metadata on the host, except the value checks at entry (switch
them off with :func:`accelerated.value_checks`) and ``StreamingStatistics.all_reduce``, which reads
the global count once.

Files: statistics are saved and loaded by :func:`reference.metrics.save_statistics` and
:func:`reference.metrics.load_statistics` (NumPy ``.npz``, no pickle), which accept CPU tensors.

One-sided names: none.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import torch

from . import _checks as C
from . import transport

__all__ = [
    "KID",
    "PRDC",
    "DensityCoverage",
    "FIDInfinity",
    "FeatureStatistics",
    "InceptionScore",
    "InceptionScoreComponents",
    "PrecisionRecall",
    "StreamingStatistics",
    "clip_score",
    "density_coverage",
    "feature_statistics",
    "fid",
    "fid_infinity",
    "frechet_distance",
    "inception_score",
    "inception_score_components",
    "kid",
    "mmd2_unbiased",
    "prdc",
    "precision_recall",
]

F64 = torch.float64

# Rows of a float64 copy made at a time by the statistics (2**23 values = 64 MiB).
_STAT_CHUNK_VALUES = 1 << 23
# Entries of one block of squared distances when block_size is not given (256 MiB in float32).
_DISTANCE_BLOCK_ENTRIES = 1 << 26
# KID: bytes of one chunk of subsets (gathered rows and a kernel block), entries of one kernel block,
# uniforms drawn at a time for the subsets.
_KID_CHUNK_BYTES = 1 << 28
_KERNEL_BLOCK_ENTRIES = 1 << 26
_DRAW_CHUNK_VALUES = 1 << 22
# Entries per float64 tile of a kernel block's sum on the CPU (the float64 buffer: 8 MiB).
_SUM_TILE_VALUES = 1 << 20


# --------------------------------------------------------------------------- shared input checks


def _features(name: str, x: object, *, min_rows: int = 1) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    if x.ndim != 2:
        raise ValueError(
            f"{name}: expected a 2-D tensor of shape (n, d), one sample per row, got shape {tuple(x.shape)}"
        )
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows (samples), got shape {tuple(x.shape)}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one feature column, got shape {tuple(x.shape)}")
    C.check_finite(name, x)
    return x


def _pair(names: tuple[str, str], a: object, b: object, *, min_rows: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    x = C.as_float_tensor(names[0], a)
    y = C.as_float_tensor(names[1], b)
    C.check_same_device_dtype(names, (x, y))
    x = _features(names[0], x, min_rows=min_rows[0])
    y = _features(names[1], y, min_rows=min_rows[1])
    C.check_same_last_dim(names, (x, y))
    return x, y


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {C.describe(value)}")
    if int(value) < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {int(value)}")
    return int(value)


def _check_k(k: object, sizes: Sequence[tuple[str, int]]) -> int:
    k = _positive_int("k", k)
    for name, n in sizes:
        if k > n - 1:
            raise ValueError(
                f"k: expected 1 <= k <= n - 1 = {n - 1} for {name} with n = {n} rows (the k-th nearest "
                f"neighbour among the other points of the set), got k = {k}"
            )
    return k


def _check_block_size(block_size: object) -> int | None:
    if block_size is None:
        return None
    return _positive_int("block_size", block_size)


# --------------------------------------------------------------------------- feature statistics


class FeatureStatistics(NamedTuple):
    """Mean, unbiased covariance and sample count of a feature set (float64 tensors)."""

    mu: torch.Tensor
    """(d,) float64 sample mean."""
    sigma: torch.Tensor
    """(d, d) float64 unbiased sample covariance (divisor n - 1), exactly symmetric."""
    n: int
    """Number of samples."""


def _moments(x: torch.Tensor, index: torch.Tensor | None = None) -> tuple[int, torch.Tensor, torch.Tensor]:
    """(n, mean, co-moment M2) in float64 of the rows ``x[index]`` (all rows if None), two passes over chunks.

    Only a chunk of rows is cast to float64 at a time; ``index`` gathers rows chunk by chunk, so a
    subset is never copied whole.
    """
    n = x.shape[0] if index is None else index.shape[0]
    d = x.shape[1]
    rows = max(1, _STAT_CHUNK_VALUES // d)

    def chunk(start: int) -> torch.Tensor:
        part = x[start : start + rows] if index is None else x[index[start : start + rows]]
        return part.to(F64)

    total = torch.zeros(d, dtype=F64, device=x.device)
    for start in range(0, n, rows):
        total = total + chunk(start).sum(dim=0)
    mu = total / n
    m2 = torch.zeros(d, d, dtype=F64, device=x.device)
    for start in range(0, n, rows):
        centred = chunk(start) - mu
        m2 = torch.addmm(m2, centred.T, centred)
    return n, mu, m2


def _covariance(m2: torch.Tensor, n: int) -> torch.Tensor:
    sigma = m2 / (n - 1)
    return 0.5 * (sigma + sigma.T)


def feature_statistics(features: torch.Tensor) -> FeatureStatistics:
    r"""Sample mean and unbiased covariance, accumulated in float64 (see the reference for the slides).

    .. math::

        \mu = \frac1n \sum_i x_i, \qquad \Sigma = \frac{1}{n-1}\sum_i (x_i - \mu)(x_i - \mu)^\top.

    Two passes over chunks of at most 2**23 values: the float64 mean, then the centred products
    accumulated in float64. Differentiable in ``features``.

    Parameters
    ----------
    features : (n, d) Tensor
        One sample per row, n >= 2, finite; any floating dtype.

    Returns
    -------
    FeatureStatistics
        ``mu`` (d,) and ``sigma`` (d, d) as **float64** tensors on the features' device, ``n`` (int).
    """
    x = _features("features", features, min_rows=2)
    n, mu, m2 = _moments(x)
    return FeatureStatistics(mu, _covariance(m2, n), n)


class StreamingStatistics:
    r"""Mean and covariance over batches in float64, mergeable and all-reducible (Chan et al.).

    .. math::

        n = n_a + n_b,\quad \delta = \mu_b - \mu_a,\quad \mu = \mu_a + \delta\frac{n_b}{n},\quad
        M_2 = M_{2,a} + M_{2,b} + \delta\delta^\top\frac{n_a n_b}{n}.

    The float64 accumulators ``n`` (int), ``mean`` (d,) and ``m2`` (d, d) are created on the device of
    the first batch (later batches must be on it). ``finalize()`` equals :func:`feature_statistics`
    of every row seen, for any batching, up to rounding. Batches are detached: the accumulators
    carry no autograd graph (use :func:`feature_statistics` for gradients).

    Parameters
    ----------
    dim : int
        Feature dimension d.

    Notes
    -----
    Methods: ``update(batch)``, ``merge(other)`` (both in place, returning ``self``), ``finalize()``,
    ``reset()`` (forget every row, to evaluate again) and ``all_reduce(group=None)``, which combines
    the accumulators of every process of a ``torch.distributed`` group so that each holds the
    statistics of all rows (the reference class has no such method: NumPy has no process groups).

    ``all_reduce`` keeps this process's own accumulators aside, so a second call gives the same totals
    (it does not count the other processes' rows again). After it, ``update`` and ``merge`` are
    refused with a ``ValueError``: rows added to a group's totals would be counted again by the next
    reduction. Call ``reset()`` to start a new evaluation.
    """

    def __init__(self, dim: int):
        self.dim = _positive_int("dim", dim)
        self.reset()

    def __repr__(self) -> str:
        device = None if self.mean is None else self.mean.device
        reduced = ", all-reduced" if self._local is not None else ""
        return f"StreamingStatistics(dim={self.dim}, n={self.n}, device={device}{reduced})"

    def reset(self) -> StreamingStatistics:
        """Forget every row (and any reduction): the state of a new accumulator; returns ``self``."""
        self.n = 0
        self.mean: torch.Tensor | None = None
        self.m2: torch.Tensor | None = None
        self._local: tuple[int, torch.Tensor | None, torch.Tensor | None] | None = None  # own rows, once reduced
        return self

    def _refuse_if_reduced(self, method: str) -> None:
        if self._local is not None:
            raise ValueError(
                f"{method}: this accumulator holds the totals of a process group since all_reduce(); rows added "
                "now would be counted again by the next reduction. Call reset() to start a new evaluation"
            )

    def _allocate(self, device: torch.device) -> None:
        if self.mean is None:
            self.mean = torch.zeros(self.dim, dtype=F64, device=device)
            self.m2 = torch.zeros(self.dim, self.dim, dtype=F64, device=device)

    def _combine(self, n_b: int, mean_b: torch.Tensor, m2_b: torch.Tensor) -> None:
        if n_b == 0:
            return
        self._allocate(mean_b.device)
        n_a = self.n
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + torch.outer(delta, delta) * (n_a * n_b / n)
        self.n = n

    def update(self, batch: torch.Tensor) -> StreamingStatistics:
        """Add the rows of ``batch`` ((b, dim), finite, any floating dtype; b = 0 changes nothing)."""
        self._refuse_if_reduced("update")
        x = C.as_float_tensor("batch", batch)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"batch: expected shape (b, {self.dim}), got shape {tuple(x.shape)}")
        if self.mean is not None and x.device != self.mean.device:
            raise ValueError(
                f"batch: expected a tensor on {self.mean.device} (the device of the first batch), got {x.device}"
            )
        C.check_finite("batch", x)
        if x.shape[0] == 0:
            return self
        self._combine(*_moments(x.detach()))
        return self

    def merge(self, other: StreamingStatistics) -> StreamingStatistics:
        """Add everything ``other`` has seen; its accumulators are moved to this one's device."""
        if not isinstance(other, StreamingStatistics):
            raise TypeError(f"other: expected an accelerated StreamingStatistics, got {C.describe(other)}")
        self._refuse_if_reduced("merge")
        if other.dim != self.dim:
            raise ValueError(f"other: expected dim = {self.dim}, got an accumulator with dim = {other.dim}")
        if other.n == 0:
            return self
        device = other.mean.device if self.mean is None else self.mean.device
        self._combine(other.n, other.mean.to(device), other.m2.to(device))
        return self

    def finalize(self) -> FeatureStatistics:
        """float64 statistics of every row seen so far (needs at least two rows)."""
        if self.n < 2:
            raise ValueError(f"finalize: the unbiased covariance needs at least 2 rows, got n = {self.n}")
        return FeatureStatistics(self.mean.clone(), _covariance(self.m2, self.n), self.n)

    def all_reduce(self, group: object = None) -> StreamingStatistics:
        r"""Combine the accumulators of all processes of ``group`` in place; every process gets the total.

        Two sums over the group. First :math:`N = \sum_r n_r` and :math:`\sum_r n_r \mu_r`, giving the
        global mean :math:`\mu`; then each process shifts its co-moment to that mean and the shifted
        co-moments are summed:

        .. math::

            M_2 = \sum_r \Big[ M_{2,r} + n_r (\mu_r - \mu)(\mu_r - \mu)^\top \Big],

        the parallel-axis form of Chan et al.'s combination. It never forms
        :math:`\sum_r n_r \mu_r\mu_r^\top - N\mu\mu^\top`, which cancels catastrophically when the
        mean is large against the spread. Processes without rows contribute zeros. The counts and
        dims of all processes are all-gathered first and read on the host once (a synchronisation,
        once per call): a dim that differs between ranks raises a ``ValueError`` on every rank.

        Idempotent: the process's own accumulators are kept, and a second call reduces them again, so
        it gives the same totals. ``update`` and ``merge`` are refused afterwards (see the class notes).

        Parameters
        ----------
        group : torch.distributed.ProcessGroup, optional
            Default: the world group. Accumulators live on the device of the first batch; one with no
            rows yet is created on the current CUDA device for NCCL and on the CPU otherwise.
        """
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "all_reduce: torch.distributed is not initialised; call torch.distributed.init_process_group first"
            )
        if group is not None and not isinstance(group, dist.ProcessGroup):
            raise TypeError(f"group: expected None (the default group) or a ProcessGroup, got {C.describe(group)}")
        if self._local is None:
            if self.mean is None:
                backend = dist.get_backend(group)
                cuda = backend == "nccl" and torch.cuda.is_available()
                self._allocate(torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu"))
            self._local = (self.n, self.mean, self.m2)
        n_own, mean_own, m2_own = self._local
        sizes = torch.tensor([n_own, self.dim], dtype=torch.int64, device=mean_own.device)
        table = [torch.empty_like(sizes) for _ in range(dist.get_world_size(group))]
        dist.all_gather(table, sizes, group=group)  # dims first: a mismatch raises on every rank, no hang
        counts, dims = torch.stack(table).T.tolist()  # the one host read
        if len(set(dims)) > 1:
            raise ValueError(f"all_reduce: the accumulators' dim differs between ranks: {dims} (by rank)")
        n_total = sum(counts)
        if n_total == 0:
            return self
        total = mean_own * n_own
        dist.all_reduce(total, op=dist.ReduceOp.SUM, group=group)
        mu = total / n_total
        shift = mean_own - mu
        m2 = m2_own + torch.outer(shift, shift) * n_own
        dist.all_reduce(m2, op=dist.ReduceOp.SUM, group=group)
        self.n, self.mean, self.m2 = n_total, mu, m2
        return self


# --------------------------------------------------------------------------- FID


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    r"""Frechet distance = squared 2-Wasserstein distance between two Gaussians (see the reference).

    .. math::

        \mathrm{FID} = \|\mu_1 - \mu_2\|^2
        + \operatorname{tr}\Big[\Sigma_1 + \Sigma_2 - 2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big].

    Exactly :func:`accelerated.transport.gaussian_w2` with ``squared=True``: a Cholesky factor and one
    symmetric eigenvalue problem in float64, batched, on the inputs' device; no ``sqrtm``, no
    eigenvalues of the non-symmetric product.

    Parameters
    ----------
    mu1, mu2 : (..., d) Tensor
    sigma1, sigma2 : (..., d, d) Tensor
        Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        FID.
    """
    try:
        return transport.gaussian_w2(mu1, sigma1, mu2, sigma2, squared=True)
    except (ValueError, TypeError) as err:  # name the arguments as the caller wrote them
        raise type(err)(re.sub(r"\bcov([12])\b", r"sigma\1", str(err))) from err


def fid(features1: torch.Tensor, features2: torch.Tensor) -> torch.Tensor:
    r"""FID between two feature sets (statistics and distance in float64; result in the features' dtype).

    .. math::

        \mathrm{FID}(X, Y) = W_2^2\big(\mathcal N(\mu_X, \Sigma_X), \mathcal N(\mu_Y, \Sigma_Y)\big).

    Parameters
    ----------
    features1 : (n, d) Tensor
    features2 : (m, d) Tensor
        n, m >= 2; same dtype and device.

    Returns
    -------
    () Tensor
        FID.
    """
    x, y = _pair(("features1", "features2"), features1, features2, min_rows=(2, 2))
    s1, s2 = feature_statistics(x), feature_statistics(y)
    return frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma).to(x.dtype)


class FIDInfinity(NamedTuple):
    """Result of :func:`fid_infinity` (tensors in the features' dtype, ``n`` int64)."""

    fid_inf: torch.Tensor
    """() intercept of the least-squares line at 1/N = 0."""
    slope: torch.Tensor
    """() slope of FID_N against 1/N."""
    n: torch.Tensor
    """(p,) int64 sample counts N."""
    fid_n: torch.Tensor
    """(p,) FID_N values."""


def _fid_infinity_sizes(m: int, batch_sizes: object, n_points: object) -> np.ndarray:
    """The N values (host integers, as the reference computes them)."""
    if batch_sizes is not None and n_points is not None:
        raise ValueError(
            f"batch_sizes / n_points: pass at most one, got batch_sizes={batch_sizes!r} and n_points={n_points!r}"
        )
    if batch_sizes is None:
        p = _positive_int("n_points", 15 if n_points is None else n_points, minimum=2)
        sizes = np.linspace(m / 10, m, p).astype(np.int64)
    else:
        if isinstance(batch_sizes, torch.Tensor):
            batch_sizes = batch_sizes.tolist()
        sizes = np.asarray(batch_sizes)
        if sizes.ndim != 1 or sizes.dtype.kind not in "iu":
            raise TypeError(f"batch_sizes: expected a 1-D sequence of ints, got {C.describe(batch_sizes)}")
        sizes = sizes.astype(np.int64)
    if sizes.size and (sizes.min() < 2 or sizes.max() > m):
        raise ValueError(
            f"batch_sizes: expected sample counts N with 2 <= N <= {m} (the rows of fake_features), "
            f"got {sizes.tolist()}"
        )
    if np.unique(sizes).size < 2:
        raise ValueError(f"batch_sizes: the line fit needs at least two distinct N, got {sizes.tolist()}")
    return sizes


def fid_infinity(
    real_features: torch.Tensor,
    fake_features: torch.Tensor,
    *,
    batch_sizes: Sequence[int] | None = None,
    n_points: int | None = None,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
) -> FIDInfinity:
    r"""FID_inf by a least-squares line through FID_N against 1/N (Chong and Forsyth; see the reference).

    .. math::

        \min_{a, b} \sum_j \big(\mathrm{FID}_{N_j} - a - b/N_j\big)^2, \qquad \mathrm{FID}_\infty = a.

    Subset j is the first :math:`N_j` rows of ``fake_features`` in the order
    ``argsort(noise[j], stable=True)``; with ``rng`` the uniforms are ``torch.rand((p, m))`` in float64
    from the generator (on its device). The statistics of the subsets are gathered chunk by chunk in
    float64 (no subset is copied whole), and each FID_N is one
    :func:`accelerated.transport.gaussian_w2` call (one d x d problem in memory at a time).

    Parameters
    ----------
    real_features : (n, d) Tensor
    fake_features : (m, d) Tensor
        Same dtype and device.
    batch_sizes : sequence of p ints, optional
        Default ``n_points`` counts evenly spaced from m/10 to m, truncated to ints.
    n_points : int, optional
        Default 15; give either this or ``batch_sizes``.
    noise : (p, m) Tensor, optional
        Uniforms in [0, 1]. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        On the features' device (a ValueError otherwise); draws the subset orders there.

    Returns
    -------
    FIDInfinity
        ``fid_inf``, ``slope``, ``fid_n`` in the features' dtype; ``n`` int64; all on their device.
    """
    x, y = _pair(("real_features", "fake_features"), real_features, fake_features, min_rows=(2, 2))
    m = y.shape[0]
    sizes = _fid_infinity_sizes(m, batch_sizes, n_points)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, y.device)
        u = torch.rand((sizes.size, m), generator=rng, device=y.device, dtype=F64)
    else:
        u = C.as_float_tensor("noise", noise)
        C.check_shape("noise", u, (sizes.size, m))
        C.check_in_interval("noise", u, 0.0, 1.0)
    order = torch.argsort(u.to(y.device), dim=1, stable=True)  # (p, m): row j is a permutation

    n_real, mu_r, m2_r = _moments(x)
    sigma_r = _covariance(m2_r, n_real)
    fid_n = []
    for j, N in enumerate(sizes.tolist()):  # one d x d problem at a time: memory stays O(d^2)
        _, mu, m2 = _moments(y, order[j, :N])
        fid_n.append(frechet_distance(mu_r, sigma_r, mu, _covariance(m2, N)))
    fid_n = torch.stack(fid_n)

    inv_n = torch.as_tensor(1.0 / sizes, dtype=F64, device=y.device)
    dx = inv_n - inv_n.mean()
    slope = (dx * (fid_n - fid_n.mean())).sum() / (dx * dx).sum()
    intercept = fid_n.mean() - slope * inv_n.mean()
    n = torch.as_tensor(sizes, dtype=torch.int64, device=y.device)
    return FIDInfinity(intercept.to(y.dtype), slope.to(y.dtype), n, fid_n.to(y.dtype))


# --------------------------------------------------------------------------- KID


class KID(NamedTuple):
    """Kernel Inception Distance: mean and population std of the subsets' unbiased MMD^2 (inputs' dtype)."""

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

    Unbiased, so it **can be negative** (near 0, of either sign, when the laws agree). The kernel
    matrices are formed by matrix products in the features' dtype (float32 stays float32, for
    speed: each kernel entry then carries the float32 rounding of a length-d dot product, relative
    error about ``sqrt(d) * 6e-8``), in row blocks of at most 2**26 entries, so memory does not grow
    as m n; the entries are summed in float64 and the diagonals subtracted exactly. Differentiable.

    Parameters
    ----------
    features1 : (m, d) Tensor
    features2 : (n, d) Tensor
        m, n >= 2; same dtype and device.

    Returns
    -------
    () Tensor
        In the features' dtype.
    """
    x, y = _pair(("features1", "features2"), features1, features2, min_rows=(2, 2))
    return _subset_mmd2(x[None], y[None])[0].to(x.dtype)


def _kid_sizes(n1: int, n2: int, subset_size: object, n_subsets: object) -> tuple[int, int]:
    """(subset_size, n_subsets) with the defaults min(1000, n1, n2) and 100, checked against the row counts."""
    S = 100 if n_subsets is None else _positive_int("n_subsets", n_subsets)
    m = min(1000, n1, n2) if subset_size is None else _positive_int("subset_size", subset_size, minimum=2)
    if m > min(n1, n2):
        raise ValueError(
            f"subset_size: expected 2 <= subset_size <= min(n1, n2) = {min(n1, n2)} (rows are drawn without "
            f"replacement from features1 with n1 = {n1} and features2 with n2 = {n2} rows), got {m}"
        )
    return m, S


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
    system (not reproducible). Arguments are not checked here (``_kid_indices`` does that).
    """
    if rng is None:
        rng = torch.Generator(device=device)
        rng.seed()
    idx1 = _draw_rows(n1, subset_size, n_subsets, rng)
    idx2 = _draw_rows(n2, subset_size, n_subsets, rng)
    return idx1.to(device), idx2.to(device)


def _check_given_indices(
    indices: object, n1: int, n2: int, subset_size: object, n_subsets: object, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(indices, (tuple, list)) and len(indices) == 2):
        raise TypeError(f"indices: expected a pair (idx1, idx2) of integer tensors, got {C.describe(indices)}")
    idx = [C.as_int_tensor(f"indices[{i}]", v) for i, v in enumerate(indices)]
    for i, ix in enumerate(idx):
        name = f"indices[{i}]"
        if ix.ndim != 2 or ix.shape[0] < 1 or ix.shape[1] < 2:
            raise ValueError(
                f"{name}: expected shape (n_subsets, subset_size) with n_subsets >= 1 and subset_size >= 2, "
                f"got shape {tuple(ix.shape)}"
            )
    if idx[0].shape != idx[1].shape:
        raise ValueError(
            f"indices: expected two tensors of one shape, got {tuple(idx[0].shape)} and {tuple(idx[1].shape)}"
        )
    S, m = idx[0].shape
    for name, value, size in (("subset_size", subset_size, m), ("n_subsets", n_subsets, S)):
        if value is not None and _positive_int(name, value) != size:
            raise ValueError(
                f"{name}: expected None or {size} (the shape of indices, {tuple(idx[0].shape)}), got {value}"
            )
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
    device: torch.device | str,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Checked subset indices for :func:`kid` and ``accelerated.distributed.kid``: given or drawn, int64, on ``device``.

    ``indices`` (checked: a pair of (S, m) integer tensors, rows of distinct indices in range; moved
    to ``device``) or, if None, :func:`_draw_kid_indices` from ``rng`` (a ``torch.Generator`` on the
    CPU or on ``device``; None: fresh and unseeded) with the sizes of :func:`_kid_sizes`.
    """
    device = torch.device(device)
    if indices is not None:
        if rng is not None:
            raise ValueError("indices / rng: pass at most one of indices= (given subsets) and rng=, got both")
        return _check_given_indices(indices, n1, n2, subset_size, n_subsets, device)
    m, S = _kid_sizes(n1, n2, subset_size, n_subsets)
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

    each subset drawing ``subset_size`` rows of each set independently, without replacement. The
    subsets are processed in chunks (gathered rows and one kernel block of a chunk within 256 MiB):
    per chunk, three batched GEMMs (XX, YY, XY) in the features' dtype, cubed in place and summed
    in float64 with the diagonals left out exactly (:func:`_subset_mmd2`); mean and std of the S
    float64 values in float64, then cast. The mean can be slightly negative when the laws agree.

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
    """
    x, y = _pair(("features1", "features2"), features1, features2, min_rows=(2, 2))
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
    return KID(values.mean().to(x.dtype), values.std(correction=0).to(x.dtype))


# --------------------------------------------------------------------------- k-NN metrics, blocked


class PrecisionRecall(NamedTuple):
    """Improved precision and recall (0-d tensors in the inputs' dtype)."""

    precision: torch.Tensor
    recall: torch.Tensor


class DensityCoverage(NamedTuple):
    """Density and coverage (0-d tensors in the inputs' dtype)."""

    density: torch.Tensor
    coverage: torch.Tensor


class PRDC(NamedTuple):
    """Precision, recall, density and coverage (0-d tensors in the inputs' dtype)."""

    precision: torch.Tensor
    recall: torch.Tensor
    density: torch.Tensor
    coverage: torch.Tensor


def _block_rows(block_size: int | None, n_cols: int) -> int:
    if block_size is not None:
        return block_size
    return max(1, _DISTANCE_BLOCK_ENTRIES // max(n_cols, 1))


def _squared_distances(a: torch.Tensor, b: torch.Tensor, a_sq: torch.Tensor, b_sq: torch.Tensor) -> torch.Tensor:
    """(rows of a) x (rows of b) squared distances |a|^2 + |b|^2 - 2 a.b by one GEMM, *not* clamped.

    Rounding can leave entries slightly below 0. The clamp at 0 is applied to the radii only: a
    comparison ``D <= r`` with ``r >= 0`` has the same outcome for D as for max(D, 0), and the k-th
    smallest of the clamped values is the clamped k-th smallest, so no pass over the block is spent on it.
    """
    D = torch.addmm(a_sq[:, None], a, b.T, beta=1, alpha=-2)
    return D.add_(b_sq[None, :])


def _knn_squared_radii(X: torch.Tensor, X_sq: torch.Tensor, k: int, rows: int) -> torch.Tensor:
    """NND_k(x_i)^2 for every row, k-th smallest squared distance to the *other* rows, block by block."""
    n = X.shape[0]
    radii = X.new_empty(n)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        D = _squared_distances(X[start:stop], X, X_sq[start:stop], X_sq)
        own = torch.arange(stop - start, device=X.device)
        D[own, own + start] = math.inf  # a point is not its own neighbour
        radii[start:stop] = torch.topk(D, k, dim=1, largest=False, sorted=True).values[:, k - 1]
    return radii.clamp_min_(0)


def _prdc_parts(
    real: object, fake: object, k: object, block_size: object, *, need_fake_radii: bool
) -> dict[str, torch.Tensor]:
    X, Y = _pair(("real", "fake"), real, fake, min_rows=(2, 2 if need_fake_radii else 1))
    n, m = X.shape[0], Y.shape[0]
    k = _check_k(k, [("real", n)] + ([("fake", m)] if need_fake_radii else []))
    block_size = _check_block_size(block_size)
    with torch.no_grad():
        X, Y = X.detach(), Y.detach()
        X_sq, Y_sq = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
        r_real = _knn_squared_radii(X, X_sq, k, _block_rows(block_size, n))
        r_fake = _knn_squared_radii(Y, Y_sq, k, _block_rows(block_size, m)) if need_fake_radii else None

        precise = torch.zeros((), dtype=torch.int64, device=X.device)  # fakes inside some real ball
        in_balls = torch.zeros((), dtype=torch.int64, device=X.device)  # sum_j #{i: Y_j in B_i}
        covered = torch.zeros(n, dtype=torch.bool, device=X.device)  # real balls holding a fake
        recalled = torch.zeros(n, dtype=torch.bool, device=X.device)  # reals inside some fake ball
        rows = _block_rows(block_size, n)
        for start in range(0, m, rows):
            stop = min(start + rows, m)
            D = _squared_distances(Y[start:stop], X, Y_sq[start:stop], X_sq)  # (b, n)
            inside = D <= r_real[None, :]
            precise += torch.count_nonzero(inside.any(dim=1))
            in_balls += torch.count_nonzero(inside)  # (count_nonzero of a bool block is ~10x a .sum())
            covered |= inside.any(dim=0)
            if r_fake is not None:
                recalled |= (D <= r_fake[start:stop, None]).any(dim=0)

    dtype = X.dtype
    return {
        "precision": (precise.to(F64) / m).to(dtype),
        "recall": (recalled.sum().to(F64) / n).to(dtype),
        "density": (in_balls.to(F64) / (k * m)).to(dtype),
        "coverage": (covered.sum().to(F64) / n).to(dtype),
    }


def precision_recall(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 3, block_size: int | None = None
) -> PrecisionRecall:
    r"""Improved precision and recall (Kynkaanniemi et al. 2019) in blocks (see the reference for the slide).

    .. math::

        I(x, S) = \mathbb 1\big[\exists x' \in S: \|x - x'\|_2 \le \|x' - \mathrm{NN}_k(x', S)\|_2\big],\quad
        \mathrm{Precision} = \frac1m \sum_{y \in S_p} I(y, S_\pi),\quad
        \mathrm{Recall} = \frac1n \sum_{x \in S_\pi} I(x, S_p).

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= min(n, m) - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block. Peak extra
        memory is about ``block_size * max(n, m) * (itemsize + 1)`` bytes.

    Returns
    -------
    PrecisionRecall
        0-d tensors in the inputs' dtype.
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=True)
    return PrecisionRecall(parts["precision"], parts["recall"])


def density_coverage(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None
) -> DensityCoverage:
    r"""Density and coverage (Naeem et al. 2020) in blocks (see the reference).

    .. math::

        \mathrm{density} = \frac{1}{kM}\sum_{j}\sum_{i} \mathbb 1\big[Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],\quad
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1\big[\exists j: Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big].

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= n - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block.

    Returns
    -------
    DensityCoverage
        0-d tensors in the inputs' dtype.
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=False)
    return DensityCoverage(parts["density"], parts["coverage"])


def prdc(real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None) -> PRDC:
    r"""Precision, recall, density and coverage from one blocked pass over each distance matrix.

    .. math::

        \mathrm{precision} = \frac1M\sum_j \mathbb 1[\exists i: Y_j \in B_i],\
        \mathrm{recall} = \frac1N\sum_i \mathbb 1[\exists j: X_i \in B'_j],\
        \mathrm{density} = \frac{1}{kM}\sum_{i,j} \mathbb 1[Y_j \in B_i],\
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1[\exists j: Y_j \in B_i].

    Three blocked matrix products in all (real-real and fake-fake for the radii, fake-real for the
    four memberships), the same work as three plain n x m x d products, in memory that grows
    linearly in n.

    Parameters
    ----------
    real : (n, d) Tensor
    fake : (m, d) Tensor
        Same dtype and device.
    k : int
        1 <= k <= min(n, m) - 1.
    block_size : int, optional
        Rows of squared distances per block; default: at most 2**26 entries per block.

    Returns
    -------
    PRDC
        0-d tensors in the inputs' dtype.
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=True)
    return PRDC(parts["precision"], parts["recall"], parts["density"], parts["coverage"])


# --------------------------------------------------------------------------- Inception Score


class InceptionScore(NamedTuple):
    """Mean and population standard deviation of the per-split Inception Scores (inputs' dtype)."""

    mean: torch.Tensor
    std: torch.Tensor


class InceptionScoreComponents(NamedTuple):
    """Inception Score, sharpness S and diversity D with IS = D x S (inputs' dtype)."""

    inception_score: torch.Tensor
    sharpness: torch.Tensor
    diversity: torch.Tensor


def _probs(probs: object) -> torch.Tensor:
    p = C.as_float_tensor("probs", probs)
    if p.ndim != 2:
        raise ValueError(
            f"probs: expected a 2-D tensor of shape (n, K) of class probabilities, got shape {tuple(p.shape)}"
        )
    if p.shape[0] < 1:
        raise ValueError(f"probs: expected at least one row, got shape {tuple(p.shape)}")
    C.check_simplex("probs", p)
    return p


def _score(p: torch.Tensor) -> torch.Tensor:
    """exp(mean_x KL(p(y|x) || p(y))) of one float64 split, with 0 log 0 = 0."""
    p_y = p.mean(dim=0)
    positive = p > 0
    ratio = p / torch.where(p_y > 0, p_y, torch.ones_like(p_y))  # p_y > 0 wherever p > 0
    terms = torch.where(positive, p * torch.log(torch.where(positive, ratio, torch.ones_like(ratio))), 0.0)
    return torch.exp(terms.sum(dim=1).mean())


def inception_score(probs: torch.Tensor, *, splits: int = 1) -> InceptionScore:
    r"""Inception Score, mean and std over consecutive splits, in float64 (see the reference for the slide).

    .. math::

        \mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\|\, p(y)\big)\Big).

    Parameters
    ----------
    probs : (n, K) Tensor
        Rows on the probability simplex.
    splits : int
        1 <= splits <= n; split i holds rows ``i n // splits`` to ``(i+1) n // splits``.

    Returns
    -------
    InceptionScore
        ``mean`` and population ``std`` of the per-split scores, 0-d tensors in the inputs' dtype.
    """
    p = _probs(probs)
    n = p.shape[0]
    splits = _positive_int("splits", splits)
    if splits > n:
        raise ValueError(f"splits: expected 1 <= splits <= n = {n} (every split needs a row), got {splits}")
    scores = torch.stack([_score(p[i * n // splits : (i + 1) * n // splits].to(F64)) for i in range(splits)])
    return InceptionScore(scores.mean().to(p.dtype), scores.std(correction=0).to(p.dtype))


def inception_score_components(probs: torch.Tensor) -> InceptionScoreComponents:
    r"""Inception Score with sharpness S and diversity D, IS = D x S, over all rows (see the reference).

    .. math::

        S = e^{-\mathbb E_x H(p(y|x))}, \qquad D = e^{H(p(y))}, \qquad
        \mathrm{IS} = e^{\mathbb E_x \mathrm{KL}(p(y|x) \| p(y))} = D \times S.

    Parameters
    ----------
    probs : (n, K) Tensor
        Rows on the probability simplex.

    Returns
    -------
    InceptionScoreComponents
        ``inception_score``, ``sharpness``, ``diversity``: 0-d tensors in the inputs' dtype.
    """
    p = _probs(probs)
    p64 = p.to(F64)
    neg_entropy = torch.xlogy(p64, p64).sum(dim=1)
    p_y = p64.mean(dim=0)
    entropy_y = -torch.xlogy(p_y, p_y).sum()
    return InceptionScoreComponents(
        _score(p64).to(p.dtype), torch.exp(neg_entropy.mean()).to(p.dtype), torch.exp(entropy_y).to(p.dtype)
    )


# --------------------------------------------------------------------------- CLIP score


def clip_score(image_embeddings: torch.Tensor, text_embeddings: torch.Tensor) -> torch.Tensor:
    r"""CLIP score per pair: 100 max(cos(E_I, E_C), 0) (torchmetrics' weight; see the reference).

    .. math::

        \mathrm{CLIPScore} = 100 \cdot \max\Big(\frac{E_I \cdot E_C}{\|E_I\|\|E_C\|}, 0\Big),

    with the cosine also clamped above at 1 (that removes only rounding). The dot product and norms
    are accumulated in float64 and the score cast back: for nearly orthogonal float32 embeddings a
    float32 dot product keeps no relative digits of the (small) score. Zero embeddings raise a
    ``ValueError`` while value checks are on; with them off they give NaN.

    Parameters
    ----------
    image_embeddings, text_embeddings : (..., d) Tensor
        Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        Scores in [0, 100]; differentiable.
    """
    names = ("image_embeddings", "text_embeddings")
    E_I = C.as_float_tensor(names[0], image_embeddings)
    E_C = C.as_float_tensor(names[1], text_embeddings)
    C.check_same_device_dtype(names, (E_I, E_C))
    for name, e in zip(names, (E_I, E_C)):
        C.check_ndim(name, e, 1)
        if e.shape[-1] == 0:
            raise ValueError(f"{name}: expected embeddings with d >= 1 along the last axis, got shape {tuple(e.shape)}")
        C.check_finite(name, e)
    C.check_same_last_dim(names, (E_I, E_C))
    C.broadcast_batch(names, (E_I.shape[:-1], E_C.shape[:-1]))
    a, b = E_I.to(F64), E_C.to(F64)
    norm_I = torch.linalg.vector_norm(a, dim=-1)
    norm_C = torch.linalg.vector_norm(b, dim=-1)
    if C.value_checks_active():
        for name, norm in zip(names, (norm_I, norm_C)):
            zeros = int((norm.detach() == 0).sum())
            if zeros:
                raise ValueError(
                    f"{name}: expected non-zero embeddings (the cosine is undefined for a zero vector), "
                    f"got {zeros} zero row(s)"
                )
    cos = (a * b).sum(dim=-1) / (norm_I * norm_C)
    return (100.0 * cos.clamp(0.0, 1.0)).to(E_I.dtype)
