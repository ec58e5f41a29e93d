"""KID over a process group: the subsets drawn once on rank 0, their rows assembled on the rank that evaluates them."""

from __future__ import annotations

import torch

from .. import _checks as C
from ..metrics import kid as _single_process_kid
from ..metrics.kid import KID, _kid_chunk, _kid_indices, _subset_mmd2
from ._collectives import F64, _active, _all_reduce_sum, _broadcast, _dist, _global_rank, _local_features, _Shards

__all__ = ["kid"]


def kid(
    features1: torch.Tensor,
    features2: torch.Tensor,
    *,
    subset_size: int | None = None,
    n_subsets: int | None = None,
    rng: torch.Generator | None = None,
    indices: tuple[torch.Tensor, torch.Tensor] | None = None,
    group: object = None,
) -> KID:
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
        return _single_process_kid(
            features1, features2, subset_size=subset_size, n_subsets=n_subsets, rng=rng, indices=indices
        )
    (x, y), shards = _local_features("kid", ("features1", "features2"), (features1, features2), group, min_rows=2)
    n1, n2 = shards.total("features1"), shards.total("features2")
    idx1, idx2 = _kid_subsets(n1, n2, subset_size, n_subsets, rng, indices, shards, x.device)
    S, m1, m2 = idx1.shape[0], idx1.shape[1], idx2.shape[1]
    per_block = _kid_chunk(m1, m2, x.shape[1], x.element_size())  # the blocks of metrics.kid
    values = torch.zeros(S, dtype=F64, device=x.device)
    for b, start in enumerate(range(0, S, per_block)):
        stop = min(start + per_block, S)
        owner = b % shards.world
        xs = _reduce_rows(x, idx1[start:stop], shards.offset["features1"], owner, shards)
        ys = _reduce_rows(y, idx2[start:stop], shards.offset["features2"], owner, shards)
        if owner == shards.rank:
            values[start:stop] = _subset_mmd2(xs, ys)
    values = _all_reduce_sum(values, shards)
    result = torch.stack([values.mean(), values.std(correction=0)]).to(x.dtype)
    C.check_result(result, [("features1", x), ("features2", y)])  # the same values, so the same outcome, on every rank
    return KID(result[0], result[1])


def _kid_subsets(n1, n2, subset_size, n_subsets, rng, indices, shards: _Shards, device):
    """Global subset indices, the same on every rank: checked and drawn on rank 0, then broadcast."""
    shape = torch.zeros(3, dtype=torch.int64)  # (S, m1, m2); all zeros: rank 0 refused the arguments
    error = None
    if shards.rank == 0:
        try:
            mode = "off" if C.get_value_checks() == "off" else "sync"  # a bad index is known before the broadcast
            with C.value_checks(mode):
                idx1, idx2 = _kid_indices(n1, n2, subset_size, n_subsets, rng, indices, device)
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
