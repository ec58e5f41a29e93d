r"""Feature statistics in float64: one-shot, streaming over batches, mergeable and all-reducible.

Same formulas, names and parameters as :mod:`reference.metrics.statistics` (slides: Advanced Course
on DGM, Lecture 8, 'Computing FID'; Isachenko, DGM Lecture 7, 'Frechet Inception Distance (FID)';
Chan, Golub and LeVeque's pairwise combination). Both accumulate in float64 whatever the input dtype
(two-pass mean and co-moment per chunk of rows; never a float32 covariance accumulator, never
``sum x x^T - n mu mu^T``) and **return float64 statistics**: a covariance rounded to float32 shifts a
d = 2048 FID by more than its own rounding. Rows are cast in chunks of at most 2**23 values (64 MiB).

Files: statistics are saved and loaded by :func:`reference.metrics.save_statistics` and
:func:`reference.metrics.load_statistics` (NumPy ``.npz``, no pickle), which accept CPU tensors.

One-sided names: none (the file functions of the reference twin are one-sided there).
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from reference._args import metrics as M

from .. import _checks as C
from ._common import F64, _features

__all__ = ["FeatureStatistics", "StreamingStatistics", "feature_statistics"]

# Rows of a float64 copy made at a time by the statistics (2**23 values = 64 MiB).
_STAT_CHUNK_VALUES = 1 << 23


class FeatureStatistics(NamedTuple):
    """Mean, unbiased covariance and sample count of a feature set (float64 tensors).

    Examples
    --------
    The statistics of the rows 1, 2, 3: mean 2, unbiased variance ((-1)^2 + 0 + 1^2) / 2 = 1:

    >>> s = FeatureStatistics(torch.tensor([2.0]), torch.tensor([[1.0]]), 3)
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """

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


def _check_no_overflow(name: str, mean: torch.Tensor, m2: torch.Tensor) -> None:
    """A ValueError naming ``name`` where the mean or co-moments overflowed (a device assertion, no host read)."""
    if C.value_checks_active():
        C.require(C.finite_flag(mean) & C.finite_flag(m2), f"{name}: {M.OVERFLOW}")


def _statistics(name: str, x: torch.Tensor) -> FeatureStatistics:
    """:func:`feature_statistics` of checked features ``x``; a ValueError naming ``name`` if they overflow."""
    n, mu, m2 = _moments(x)
    _check_no_overflow(name, mu, m2)
    return FeatureStatistics(mu, _covariance(m2, n), n)


def feature_statistics(features: torch.Tensor) -> FeatureStatistics:
    r"""Sample mean and unbiased covariance, accumulated in float64 (see the reference for the slides).

    .. math::

        \mu = \frac1n \sum_i x_i, \qquad \Sigma = \frac{1}{n-1}\sum_i (x_i - \mu)(x_i - \mu)^\top.

    Differentiable in ``features``.

    Parameters
    ----------
    features : (n, d) Tensor
        One sample per row, n >= 2, finite; any floating dtype.

    Returns
    -------
    FeatureStatistics
        ``mu`` (d,) and ``sigma`` (d, d) as **float64** tensors on the features' device, ``n`` (int).

    Notes
    -----
    Two passes over chunks of at most 2**23 values: the float64 mean, then the centred products
    accumulated in float64.

    Features whose mean or centred products overflow float64 are refused with a ``ValueError``
    naming ``features`` (a device assertion, no host read), as on the reference side.

    Examples
    --------
    Rows 1, 2, 3: mean 2, unbiased variance ((-1)^2 + 0^2 + 1^2) / (3 - 1) = 1 (the definition):

    >>> s = feature_statistics(torch.tensor([[1.0], [2.0], [3.0]]))
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """
    return _statistics("features", _features("features", features, min_rows=2))


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

    Safeguards, as on the reference side: ``dim`` is at most ``MAX_STREAMING_DIM`` = 65536
    (:data:`reference._args.metrics.MAX_STREAMING_DIM`), and an allocation that fails is a
    ``ValueError`` naming ``dim``; a batch (or merged accumulator, or a reduction) whose rows make the
    mean or co-moments overflow float64 is refused with a ``ValueError`` naming ``batch`` (``other``,
    ``all_reduce``), checked by a device assertion (no host read). On the CPU the accumulator then
    keeps its previous state; on CUDA the assertion fires asynchronously, after the state changed.

    ``all_reduce`` keeps this process's own accumulators aside, so a second call gives the same totals
    (it does not count the other processes' rows again). After it, ``update`` and ``merge`` are
    refused with a ``ValueError``: rows added to a group's totals would be counted again by the next
    reduction. Call ``reset()`` to start a new evaluation.

    Examples
    --------
    Rows 1, 2 in one batch and 3 in another give the one-shot statistics of 1, 2, 3 (mean 2, variance 1):

    >>> s = StreamingStatistics(1).update(torch.tensor([[1.0], [2.0]])).update(torch.tensor([[3.0]])).finalize()
    >>> s.mu.tolist(), s.sigma.tolist(), s.n
    ([2.0], [[1.0]], 3)
    """

    def __init__(self, dim: int):
        self.dim = M.check_dim(dim)
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
            try:
                self.mean = torch.zeros(self.dim, dtype=F64, device=device)
                self.m2 = torch.zeros(self.dim, self.dim, dtype=F64, device=device)
            except (MemoryError, RuntimeError) as err:
                self.mean = self.m2 = None
                self._refuse_allocation(err, device)
                raise

    def _refuse_allocation(self, err: BaseException, device: torch.device) -> None:
        """Raise a ValueError naming dim if ``err`` is a failed allocation (torch's or the CPU allocator's)."""
        if isinstance(err, (MemoryError, torch.OutOfMemoryError)) or "alloc" in str(err).lower():
            raise ValueError(
                f"dim: cannot allocate the ({self.dim}, {self.dim}) float64 co-moment matrix of dim = "
                f"{self.dim} on {device} ({err})"
            ) from err

    def _combine(self, name: str, n_b: int, mean_b: torch.Tensor, m2_b: torch.Tensor) -> None:
        if n_b == 0:
            return
        self._allocate(mean_b.device)
        n_a = self.n
        n = n_a + n_b
        if n_a == 0:  # no delta term: delta * delta could overflow although it is multiplied by n_a = 0
            mean, m2 = mean_b.clone(), m2_b.clone()
        else:
            delta = mean_b - self.mean
            mean = self.mean + delta * (n_b / n)
            m2 = self.m2 + m2_b + torch.outer(delta, delta) * (n_a * n_b / n)
        _check_no_overflow(name, mean, m2)  # before any change (on the CPU; on CUDA the assertion is async)
        self.n, self.mean, self.m2 = n, mean, m2

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
        try:
            moments = _moments(x.detach())  # allocates the batch's own (dim, dim) co-moments
        except (MemoryError, RuntimeError) as err:
            self._refuse_allocation(err, x.device)
            raise
        self._combine("batch", *moments)
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
        self._combine("other", other.n, other.mean.to(device), other.m2.to(device))
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
        _check_no_overflow("all_reduce", mu, m2)
        self.n, self.mean, self.m2 = n_total, mu, m2
        return self
