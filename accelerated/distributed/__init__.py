r"""Sample-quality metrics over ``torch.distributed``: each process holds a shard, all get the global value.

The formulas are those of :mod:`accelerated.metrics` (slides: Isachenko DGM Lecture 7, 'Frechet
Inception Distance', 'Precision-Recall'; Advanced Course on DGM Lecture 8, 'Inception Score',
'Computing FID'; KID from Binkowski et al., Demystifying MMD GANs, ICLR 2018). What this module adds
is the reduction: a data set split across the processes of a group is evaluated *as one set*, with no
process ever holding all of it.

Conventions
-----------
* **Shards in rank order.** Every process passes its own rows; the global set is the concatenation of
  the shards in rank order (rank 0's rows first). That order matters only where the formula has one:
  ``inception_score``'s consecutive splits and ``kid``'s subset indices. Shard a data set without
  repeats (``DistributedSampler`` pads the last batch with repeated rows: do not feed those here).
* **Every process gets the same result**, equal to the single-process function of
  :mod:`accelerated.metrics` on the concatenated set: exactly for the counts of ``prdc``, to float64
  rounding for the sums of ``fid``, ``kid`` and ``inception_score`` (the order of the additions differs).
* **One process.** Without an initialised process group the functions *are* the single-process ones.
* **Errors on every rank.** The shapes, dtypes and finiteness of all shards are exchanged first, in
  one small all-gather; a problem on any rank (an empty shard, feature dimensions that differ between
  ranks, a non-finite value) raises on *every* rank before any other collective, so no process is left
  waiting. A ``group`` that is not a ``ProcessGroup`` is a ``TypeError``; an ``nccl`` group with CPU
  tensors a ``ValueError``.
* **Communication device.** ``nccl`` communicates the tensors where they are (CUDA); ``gloo`` on the
  CPU (CUDA inputs are copied there block by block, the results moved back).

Memory per process
------------------
``prdc`` never gathers the features: each rank's shard is broadcast to the others in chunks of
``block_size`` rows, and every rank compares its own rows with the chunk. A rank holds its two shards,
one chunk and one block of ``n_local x block_size`` squared distances, so with the same ``block_size``
(and with the defaults, which give each rank ``1 / world_size`` of the single block's entries) its
memory is about ``1 / world_size`` of :func:`accelerated.metrics.prdc`'s (see
``benchmarks/bench_distributed.py``). ``kid`` moves only the rows of each subset (zero-padded
(subsets, m, d) blocks, each row written by its owner, summed onto the rank that evaluates the
block: ``x + 0 = x`` exactly);
``fid`` and ``inception_score`` move O(d^2) and O(splits x K) numbers.

One-sided names: the whole module (NumPy has no process groups; the formulas it reduces are
crosschecked through :mod:`accelerated.metrics`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from . import _checks as C
from . import metrics

__all__ = ["fid", "inception_score", "kid", "prdc"]

F64 = torch.float64
_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)
# Entries of one block of squared distances when block_size is not given (as accelerated.metrics).
_DISTANCE_BLOCK_ENTRIES = 1 << 26


# --------------------------------------------------------------------------- the process group


def _dist():
    import torch.distributed as dist

    return dist


def _active(group: object) -> bool:
    """True if the call is distributed; a wrong ``group`` is a TypeError on every rank (no collective ran)."""
    dist = _dist()
    if group is not None and not (dist.is_available() and isinstance(group, dist.ProcessGroup)):
        raise TypeError(
            f"group: expected None (the default group) or a torch.distributed.ProcessGroup, got {C.describe(group)}"
        )
    initialised = dist.is_available() and dist.is_initialized()
    if group is not None and not initialised:
        raise RuntimeError(
            "group: torch.distributed is not initialised; call torch.distributed.init_process_group first"
        )
    return initialised


def _comm_device(group: object, data: torch.device | None) -> torch.device:
    """Where the collectives run: CUDA for nccl (the data's device), the CPU for gloo."""
    backend = _dist().get_backend(group)
    if backend == "nccl":
        if data is None:  # this rank's input was refused before it had a device: still take part
            return torch.device("cuda", torch.cuda.current_device())
        if data.type != "cuda":
            raise ValueError(f"group: an nccl process group communicates CUDA tensors, got tensors on {data}")
        return data
    if backend == "gloo":
        return torch.device("cpu")
    return data


def _global_rank(group: object, rank: int) -> int:
    return rank if group is None else _dist().get_global_rank(group, rank)


def _broadcast(tensor: torch.Tensor, src: int, group: object) -> None:
    _dist().broadcast(tensor, src=_global_rank(group, src), group=group)


class _Shards:
    """Sizes of every rank's shards, exchanged once; validation errors raised on every rank alike.

    ``rows[name]`` is the list of row counts in rank order, ``offset[name]`` this rank's first global row.
    """

    def __init__(
        self,
        fn: str,
        group: object,
        names: Sequence[str],
        tensors: Sequence[torch.Tensor | None],
        error: Exception | None,
        device: torch.device,
    ):
        dist = _dist()
        self.group, self.device = group, device
        self.world, self.rank = dist.get_world_size(group), dist.get_rank(group)
        # Per tensor: rows, columns, dtype code, finite flag; first entry: 1 if this rank refused its input.
        local = [torch.tensor([1 if error is not None else 0], dtype=torch.int64)]
        for x in tensors:
            if x is None:
                local.append(torch.tensor([0, 0, -1, 1], dtype=torch.int64))
                continue
            finite = (
                C.finite_flag(x).to(torch.int64).reshape(1).cpu() if x.numel() else torch.ones(1, dtype=torch.int64)
            )
            code = _DTYPES.index(x.dtype) if x.dtype in _DTYPES else len(_DTYPES)
            local.append(torch.cat([torch.tensor([x.shape[0], x.shape[1], code], dtype=torch.int64), finite]))
        mine = torch.cat(local).to(device)
        table = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(table, mine, group=group)
        rows = torch.stack(table).cpu().tolist()  # the one host read of the metadata
        if error is not None:
            raise error
        refused = [r for r, row in enumerate(rows) if row[0]]
        if refused:
            raise ValueError(
                f"{fn}: rank(s) {refused} refused their input (their error names the argument); "
                f"this rank's input was accepted"
            )
        self.rows, self.offset = {}, {}
        for i, name in enumerate(names):
            n = [row[1 + 4 * i] for row in rows]
            d = [row[2 + 4 * i] for row in rows]
            code = [row[3 + 4 * i] for row in rows]
            finite = [row[4 + 4 * i] for row in rows]
            empty = [r for r, k in enumerate(n) if k == 0]
            if empty:
                raise ValueError(
                    f"{name}: rank(s) {empty} hold an empty shard (0 rows); every rank needs at least "
                    f"one row (row counts by rank: {n})"
                )
            if len(set(d)) > 1:
                raise ValueError(
                    f"{name}: the feature dimension differs between ranks: {d} (by rank); "
                    f"expected the same d everywhere"
                )
            if len(set(code)) > 1:
                names_ = [str(_DTYPES[c]) if c < len(_DTYPES) else "other" for c in code]
                raise ValueError(f"{name}: the dtype differs between ranks: {names_} (by rank)")
            bad = [r for r, f in enumerate(finite) if not f]
            if bad:
                raise ValueError(f"{name}: rank(s) {bad} hold NaN or infinite values; expected finite features")
            self.rows[name] = n
            self.offset[name] = sum(n[: self.rank])
        dims = {rows[0][2 + 4 * i] for i in range(len(names))}
        if len(dims) > 1:
            raise ValueError(f"{', '.join(names)}: expected the same feature dimension, got {sorted(dims)}")

    def total(self, name: str) -> int:
        return sum(self.rows[name])


def _local_features(
    fn: str,
    names: Sequence[str],
    values: Sequence[object],
    group: object,
    min_rows: int = 1,
    check: Callable[[torch.Tensor], object] | None = None,
) -> tuple[list[torch.Tensor], _Shards]:
    """Check this rank's 2-D shards locally, then exchange the sizes; errors reach every rank.

    ``check`` (a value check of one tensor, such as the simplex check of the probabilities) runs in
    ``"sync"`` mode, unless value checks are off, so that its failure is known before the exchange.
    """
    tensors: list[torch.Tensor | None] = [None] * len(values)
    error: Exception | None = None
    try:
        for i, (name, x) in enumerate(zip(names, values)):
            t = C.as_float_tensor(name, x)
            if t.ndim != 2:
                raise ValueError(
                    f"{name}: expected a 2-D tensor of shape (n_local, d), one sample per row, "
                    f"got shape {tuple(t.shape)}"
                )
            tensors[i] = t.detach()
        C.check_same_device_dtype(names, [t for t in tensors if t is not None])
        if check is not None and C.get_value_checks() != "off":
            with C.value_checks("sync"):
                for t in tensors:
                    if t.numel():
                        check(t)
    except (TypeError, ValueError) as err:
        error = err
    data_device = None if error is not None else next(t.device for t in tensors if t is not None)
    device = _comm_device(group, data_device)
    shards = _Shards(fn, group, names, tensors if error is None else [None] * len(values), error, device)
    for name in names:
        total = shards.total(name)
        if total < min_rows:
            raise ValueError(f"{name}: expected at least {min_rows} rows over all ranks, got {total}")
    return tensors, shards


# --------------------------------------------------------------------------- FID


def fid(features1: torch.Tensor, features2: torch.Tensor, *, group: object = None) -> torch.Tensor:
    r"""FID of two feature sets sharded across ``group``: :func:`accelerated.metrics.fid` of their concatenations.

    Each set's statistics are accumulated in float64 by :class:`accelerated.metrics.StreamingStatistics`
    and combined across ranks by its ``all_reduce`` (the parallel-axis form of Chan et al.'s update);
    then :math:`\mathrm{FID} = \|\mu_1-\mu_2\|^2 + \operatorname{tr}(\Sigma_1+\Sigma_2-2(\Sigma_1\Sigma_2)^{1/2})`.

    Parameters
    ----------
    features1, features2 : (n_local, d) Tensor
        This rank's rows; same dtype and device; at least one row on every rank, two over all ranks.
    group : torch.distributed.ProcessGroup, optional
        Default: the world group. Without an initialised process group, this is ``metrics.fid``.

    Returns
    -------
    Tensor
        0-d, in the features' dtype, the same on every rank.
    """
    if not _active(group):
        return metrics.fid(features1, features2)
    (x, y), _ = _local_features("fid", ("features1", "features2"), (features1, features2), group, min_rows=2)
    stats = []
    for t in (x, y):
        s = metrics.StreamingStatistics(t.shape[1]).update(t)
        s.all_reduce(group)
        stats.append(s.finalize())
    value = metrics.frechet_distance(stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
    return value.to(x.dtype)


# --------------------------------------------------------------------------- Inception Score


def inception_score(probs: torch.Tensor, *, splits: int = 1, group: object = None) -> metrics.InceptionScore:
    r"""Inception Score of class probabilities sharded across ``group``, over consecutive global splits.

    Split :math:`s` holds the global rows ``s n // splits`` to ``(s+1) n // splits`` of the
    concatenation in rank order, as in :func:`accelerated.metrics.inception_score`. Its score needs
    only sums over its rows, which each rank computes for the rows it holds:

    .. math::

        n_s \,\mathbb E_x \mathrm{KL}\big(p(y|x)\,\|\,p_s(y)\big)
        = \sum_{x \in s}\sum_y p(y|x)\log p(y|x) \;-\; \sum_y c_{s,y} \log \frac{c_{s,y}}{n_s},
        \qquad c_{s,y} = \sum_{x \in s} p(y|x),

    with :math:`0 \log 0 = 0`. The (splits, K + 2) float64 table of counts, negative entropies and
    column sums is summed in one all-reduce; every rank then forms the same scores.

    Parameters
    ----------
    probs : (n_local, K) Tensor
        This rank's rows, on the probability simplex.
    splits : int
        1 <= splits <= n (global); every split needs a row.
    group : torch.distributed.ProcessGroup, optional
        Default: the world group. Without an initialised process group, this is ``metrics.inception_score``.

    Returns
    -------
    accelerated.metrics.InceptionScore
        ``mean`` and population ``std`` of the per-split scores, 0-d tensors in the inputs' dtype.
    """
    if not _active(group):
        return metrics.inception_score(probs, splits=splits)
    (p,), shards = _local_features("inception_score", ("probs",), (probs,), group, check=metrics._probs)
    n = shards.total("probs")
    splits = metrics._positive_int("splits", splits)
    if splits > n:
        raise ValueError(f"splits: expected 1 <= splits <= n = {n} (every split needs a row), got {splits}")
    lo = shards.offset["probs"]
    K = p.shape[1]
    table = torch.zeros(splits, K + 2, dtype=F64, device=p.device)
    p64 = p.to(F64)
    for s in range(splits):
        start, stop = max(s * n // splits, lo), min((s + 1) * n // splits, lo + p.shape[0])
        if stop <= start:
            continue
        rows = p64[start - lo : stop - lo]
        table[s, 0] = stop - start
        table[s, 1] = torch.xlogy(rows, rows).sum()
        table[s, 2:] = rows.sum(dim=0)
    table = _all_reduce_sum(table, shards)
    count, neg_entropy, c = table[:, 0], table[:, 1], table[:, 2:]
    cross = torch.xlogy(c, c / count[:, None]).sum(dim=1)
    scores = torch.exp((neg_entropy - cross) / count)
    return metrics.InceptionScore(scores.mean().to(p.dtype), scores.std(correction=0).to(p.dtype))


def _all_reduce_sum(t: torch.Tensor, shards: _Shards) -> torch.Tensor:
    buf = t.to(shards.device)
    _dist().all_reduce(buf, op=_dist().ReduceOp.SUM, group=shards.group)
    return buf.to(t.device)


# --------------------------------------------------------------------------- KID


def kid(
    features1: torch.Tensor,
    features2: torch.Tensor,
    *,
    subset_size: int | None = None,
    n_subsets: int | None = None,
    rng: torch.Generator | None = None,
    indices: tuple[torch.Tensor, torch.Tensor] | None = None,
    group: object = None,
) -> metrics.KID:
    r"""KID of two feature sets sharded across ``group``: :func:`accelerated.metrics.kid` of their concatenations.

    The subsets are drawn once, on rank 0 (from rank 0's ``rng``, by the same rule as ``metrics.kid``,
    so a generator seeded alike gives the same subsets as one process; the other ranks' ``rng`` and
    ``indices`` are not used), or taken from rank 0's ``indices`` (global row numbers in rank order),
    and broadcast. For each block of subsets every rank writes
    the rows it owns into a zero block, the blocks are summed (exact: each entry has one owner), and
    the rank that owns the block computes its unbiased MMD² values with the cubic kernel
    :math:`k(x, y) = (x^\top y / d + 1)^3`; one all-reduce gives every rank all values, then
    the mean and population std.

    Parameters
    ----------
    features1, features2 : (n_local, d) Tensor
        This rank's rows; same dtype and device.
    subset_size, n_subsets, rng, indices
        As in :func:`accelerated.metrics.kid`, with the global row counts.
    group : torch.distributed.ProcessGroup, optional
        Default: the world group. Without an initialised process group, this is ``metrics.kid``.

    Returns
    -------
    accelerated.metrics.KID
        ``mean`` and ``std``, 0-d tensors in the inputs' dtype, the same on every rank.
    """
    if not _active(group):
        return metrics.kid(features1, features2, subset_size=subset_size, n_subsets=n_subsets, rng=rng, indices=indices)
    (x, y), shards = _local_features("kid", ("features1", "features2"), (features1, features2), group, min_rows=2)
    n1, n2 = shards.total("features1"), shards.total("features2")
    idx1, idx2 = _kid_subsets(n1, n2, subset_size, n_subsets, rng, indices, shards, x.device)
    S, m1, m2 = idx1.shape[0], idx1.shape[1], idx2.shape[1]
    per_block = metrics._kid_chunk(m1, m2, x.shape[1], x.element_size())  # the blocks of metrics.kid
    values = torch.zeros(S, dtype=F64, device=x.device)
    for b, start in enumerate(range(0, S, per_block)):
        stop = min(start + per_block, S)
        owner = b % shards.world
        xs = _reduce_rows(x, idx1[start:stop], shards.offset["features1"], owner, shards)
        ys = _reduce_rows(y, idx2[start:stop], shards.offset["features2"], owner, shards)
        if owner == shards.rank:
            values[start:stop] = metrics._subset_mmd2(xs, ys)
    values = _all_reduce_sum(values, shards)
    return metrics.KID(values.mean().to(x.dtype), values.std(correction=0).to(x.dtype))


def _kid_subsets(n1, n2, subset_size, n_subsets, rng, indices, shards: _Shards, device):
    """Global subset indices, the same on every rank: checked and drawn on rank 0, then broadcast."""
    shape = torch.zeros(3, dtype=torch.int64)  # (S, m1, m2); all zeros: rank 0 refused the arguments
    error = None
    if shards.rank == 0:
        try:
            mode = "off" if C.get_value_checks() == "off" else "sync"  # a bad index is known before the broadcast
            with C.value_checks(mode):
                idx1, idx2 = metrics._kid_indices(n1, n2, subset_size, n_subsets, rng, indices, device)
            shape = torch.tensor([idx1.shape[0], idx1.shape[1], idx2.shape[1]], dtype=torch.int64)
        except (TypeError, ValueError) as err:
            error = err
    shape = shape.to(shards.device)
    _broadcast(shape, 0, shards.group)
    S, m1, m2 = shape.cpu().tolist()
    if error is not None:
        raise error
    if S == 0:
        raise ValueError(
            "kid: rank 0 refused the subset arguments (subset_size, n_subsets, rng, indices); "
            "its error names the argument"
        )
    if shards.rank != 0:
        idx1 = torch.empty(S, m1, dtype=torch.int64, device=device)
        idx2 = torch.empty(S, m2, dtype=torch.int64, device=device)
    for t in (idx1, idx2):
        buf = t.to(shards.device)
        _broadcast(buf, 0, shards.group)
        t.copy_(buf)
    return idx1, idx2


def _reduce_rows(x: torch.Tensor, idx: torch.Tensor, offset: int, owner: int, shards: _Shards) -> torch.Tensor:
    """The rows ``idx`` (s, m) of the global set, assembled on rank ``owner``: each rank adds the ones it holds."""
    local = idx - offset
    mine = (local >= 0) & (local < x.shape[0])
    block = x.new_zeros(*idx.shape, x.shape[1])
    block[mine] = x[local[mine]]
    buf = block.to(shards.device)
    dist = _dist()
    dist.reduce(buf, dst=_global_rank(shards.group, owner), op=dist.ReduceOp.SUM, group=shards.group)
    return buf.to(x.device)


# --------------------------------------------------------------------------- precision, recall, density, coverage


def prdc(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None, group: object = None
) -> metrics.PRDC:
    r"""Precision, recall, density and coverage of real and fake sets sharded across ``group``, exactly.

    The formulas of :func:`accelerated.metrics.prdc` (k-NN balls :math:`B_i = B(X_i, \mathrm{NND}_k(X_i))`
    in the real set, :math:`B'_j` in the fake set, closed balls), computed without gathering the
    features. Three rounds, in each of which every rank broadcasts its shard in chunks of
    ``block_size`` rows and every rank compares its own rows with each chunk:

    1. real chunks: each rank keeps the k smallest squared distances from its real rows to the other
       real rows (a running ``topk``), hence the radii of its own balls;
    2. fake chunks: the same for the fake radii;
    3. real chunks with their radii: each rank counts, for its fake rows, the balls that hold them
       (precision, density), and marks which of the chunk's real points lie in one of its fake balls
       (recall) and which of the chunk's balls hold one of its fakes (coverage).

    The counts and the (n,) marks are summed in one all-reduce. Each distance is
    :math:`\|a\|^2 + \|b\|^2 - 2 a \cdot b` as in the single-process function, so counts equal it
    exactly (up to the boundary ties it documents).

    Parameters
    ----------
    real : (n_local, d) Tensor
    fake : (m_local, d) Tensor
        This rank's rows; same dtype and device; at least one row of each on every rank.
    k : int
        1 <= k <= min(n, m) - 1 (global counts).
    block_size : int, optional
        Rows of a visiting chunk. A block holds ``max(n_local, m_local) x block_size`` squared distances;
        default: at most 2**26 / world_size entries per block, so that the blocks of the whole group
        hold what the one block of ``metrics.prdc`` holds (memory per rank then falls with the world size).
    group : torch.distributed.ProcessGroup, optional
        Default: the world group. Without an initialised process group, this is ``metrics.prdc``.

    Returns
    -------
    accelerated.metrics.PRDC
        0-d tensors in the inputs' dtype, the same on every rank.
    """
    if not _active(group):
        return metrics.prdc(real, fake, k=k, block_size=block_size)
    (X, Y), shards = _local_features("prdc", ("real", "fake"), (real, fake), group)
    n, m = shards.total("real"), shards.total("fake")
    k = metrics._check_k(k, [("real", n), ("fake", m)])
    block_size = metrics._check_block_size(block_size)
    local_rows = max(X.shape[0], Y.shape[0])
    # default: the group's blocks together hold what one process's block would (2**26 entries)
    chunk = block_size if block_size is not None else max(1, _DISTANCE_BLOCK_ENTRIES // (local_rows * shards.world))
    with torch.no_grad():
        X_sq, Y_sq = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
        r_real = _knn_squared_radii(X, X_sq, "real", k, chunk, shards)
        r_fake = _knn_squared_radii(Y, Y_sq, "fake", k, chunk, shards)
        counts = _memberships(X, X_sq, r_real, Y, Y_sq, r_fake, chunk, shards)
    counts = _all_reduce_sum(counts, shards)
    precise, in_balls = counts[0], counts[1]
    covered, recalled = counts[2 : 2 + n], counts[2 + n :]
    dtype = X.dtype
    return metrics.PRDC(
        (precise.to(F64) / m).to(dtype),
        (torch.count_nonzero(recalled).to(F64) / n).to(dtype),
        (in_balls.to(F64) / (k * m)).to(dtype),
        (torch.count_nonzero(covered).to(F64) / n).to(dtype),
    )


def _visiting_chunks(parts: Sequence[torch.Tensor], name: str, chunk: int, shards: _Shards):
    """Every rank's shard in chunks of ``chunk`` rows, in rank order: (global offset, chunk) pairs.

    ``parts`` are this rank's columns of the payload (the rows, their squared norms, their radii),
    joined per chunk by the owner, so no copy of the whole shard is made.
    """
    columns = sum(p.shape[1] if p.ndim == 2 else 1 for p in parts)
    start_of_rank = 0
    for q in range(shards.world):
        n_q = shards.rows[name][q]
        for start in range(0, n_q, chunk):
            rows = min(chunk, n_q - start)
            if q == shards.rank:
                piece = [p[start : start + rows].reshape(rows, -1) for p in parts]
                buf = torch.cat(piece, dim=1).to(shards.device)
            else:
                buf = torch.empty(rows, columns, dtype=parts[0].dtype, device=shards.device)
            _broadcast(buf, q, shards.group)
            yield start_of_rank + start, buf.to(parts[0].device)
        start_of_rank += n_q


def _split(B: torch.Tensor, d: int) -> tuple[torch.Tensor, ...]:
    """A visiting chunk [rows | squared norms | (radii)] back into its parts (the rows contiguous for the GEMM)."""
    return (B[:, :d].contiguous(), *B[:, d:].unbind(dim=1))


def _knn_squared_radii(
    X: torch.Tensor, X_sq: torch.Tensor, name: str, k: int, chunk: int, shards: _Shards
) -> torch.Tensor:
    """NND_k(x_i)^2 of this rank's rows among *all* other rows of the set, by a running top-k over chunks.

    A chunk travels with its rows' squared norms, as computed by their owner, so that every distance
    is formed from the same numbers as in the single-process function.
    """
    own_lo = shards.offset[name]
    best = X.new_full((X.shape[0], k), math.inf)
    for offset, B in _visiting_chunks((X, X_sq), name, chunk, shards):
        Bx, B_sq = _split(B, X.shape[1])
        D = metrics._squared_distances(X, Bx, X_sq, B_sq)
        lo, hi = max(own_lo, offset), min(own_lo + X.shape[0], offset + B.shape[0])
        if lo < hi:  # the chunk holds some of this rank's own rows: a point is not its own neighbour
            g = torch.arange(lo, hi, device=X.device)
            D[g - own_lo, g - offset] = math.inf
        j = min(k, B.shape[0])
        best = torch.topk(
            torch.cat([best, torch.topk(D, j, dim=1, largest=False).values], dim=1), k, dim=1, largest=False
        ).values
    return best[:, k - 1].clamp_min_(0)


def _memberships(X, X_sq, r_real, Y, Y_sq, r_fake, chunk: int, shards: _Shards) -> torch.Tensor:
    """[#fakes in some real ball, #(fake, ball) pairs, covered marks (n,), recalled marks (n,)] of this rank."""
    n = shards.total("real")
    counts = torch.zeros(2 + 2 * n, dtype=torch.int64, device=X.device)
    precise = torch.zeros(Y.shape[0], dtype=torch.bool, device=X.device)
    for offset, B in _visiting_chunks((X, X_sq, r_real), "real", chunk, shards):  # with its balls' radii
        Xq, Xq_sq, rq = _split(B, X.shape[1])
        D = metrics._squared_distances(Y, Xq, Y_sq, Xq_sq)  # (m_local, chunk)
        inside = D <= rq[None, :]
        precise |= inside.any(dim=1)
        counts[1] += torch.count_nonzero(inside)
        counts[2 + offset : 2 + offset + B.shape[0]] = inside.any(dim=0).to(torch.int64)
        recalled = (D <= r_fake[:, None]).any(dim=0)
        counts[2 + n + offset : 2 + n + offset + B.shape[0]] = recalled.to(torch.int64)
    counts[0] = torch.count_nonzero(precise)
    return counts
