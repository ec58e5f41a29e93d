"""PRDC over a process group: every rank's shard visits the others in chunks; the features are never gathered."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from reference._args import metrics as M

from ..metrics import knn
from ._collectives import F64, _active, _all_reduce_sum, _broadcast, _dist, _local_features, _Shards

__all__ = ["prdc"]

# Entries of one block of squared distances when block_size is not given (as accelerated.metrics).
_DISTANCE_BLOCK_ENTRIES = knn._DISTANCE_BLOCK_ENTRIES


def prdc(
    real: torch.Tensor, fake: torch.Tensor, *, k: int = 5, block_size: int | None = None, group: object = None
) -> knn.PRDC:
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

    Notes
    -----
    Both sets are centred first, as in :mod:`accelerated.metrics.knn` (the per-coordinate midrange of
    the real set, and of the fake set for the fake radii), so data far from the origin lose no
    distances to cancellation; the centres come from one all-reduce of the per-rank maxima and minima,
    exact in any order, so they equal the single-process centres bit for bit.
    """
    if not _active(group):
        return knn.prdc(real, fake, k=k, block_size=block_size)
    (X, Y), shards = _local_features("prdc", ("real", "fake"), (real, fake), group)
    n, m = shards.total("real"), shards.total("fake")
    k = M.check_k(k, [("real", n), ("fake", m)])
    block_size = M.check_block_size(block_size)
    local_rows = max(X.shape[0], Y.shape[0])
    # default: the group's blocks together hold what one process's block would (2**26 entries)
    chunk = block_size if block_size is not None else max(1, _DISTANCE_BLOCK_ENTRIES // (local_rows * shards.world))
    with torch.no_grad():
        centre_real, centre_fake = _centres(X, Y, shards)
        Yf = Y - centre_fake  # the fake radii about the fake set's own centre, as metrics.prdc
        r_fake = _knn_squared_radii(Yf, (Yf * Yf).sum(dim=1), "fake", k, chunk, shards)
        del Yf
        X, Y = X - centre_real, Y - centre_real
        X_sq, Y_sq = (X * X).sum(dim=1), (Y * Y).sum(dim=1)
        r_real = _knn_squared_radii(X, X_sq, "real", k, chunk, shards)
        counts = _memberships(X, X_sq, r_real, Y, Y_sq, r_fake, chunk, shards)
    counts = _all_reduce_sum(counts, shards)
    precise, in_balls = counts[0], counts[1]
    covered, recalled = counts[2 : 2 + n], counts[2 + n :]
    dtype = X.dtype
    return knn.PRDC(
        (precise.to(F64) / m).to(dtype),
        (torch.count_nonzero(recalled).to(F64) / n).to(dtype),
        (in_balls.to(F64) / (k * m)).to(dtype),
        (torch.count_nonzero(covered).to(F64) / n).to(dtype),
    )


def _centres(X: torch.Tensor, Y: torch.Tensor, shards: _Shards) -> tuple[torch.Tensor, torch.Tensor]:
    """The global per-coordinate midranges of the real and the fake set (one all-reduce of maxima).

    Maxima (and maxima of the negated rows) are exact in any reduction order, so the centres equal
    those :func:`accelerated.metrics.prdc` finds on all rows in one process, bit for bit.
    """
    extremes = torch.cat([X.amax(dim=0), -X.amin(dim=0), Y.amax(dim=0), -Y.amin(dim=0)])
    buf = extremes.to(shards.device)
    _dist().all_reduce(buf, op=_dist().ReduceOp.MAX, group=shards.group)
    hi_x, neg_lo_x, hi_y, neg_lo_y = buf.to(X.device).chunk(4)
    return knn._midrange(-neg_lo_x, hi_x), knn._midrange(-neg_lo_y, hi_y)


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
        D = knn._squared_distances(X, Bx, X_sq, B_sq)
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
        D = knn._squared_distances(Y, Xq, Y_sq, Xq_sq)  # (m_local, chunk)
        inside = D <= rq[None, :]
        precise |= inside.any(dim=1)
        counts[1] += torch.count_nonzero(inside)
        counts[2 + offset : 2 + offset + B.shape[0]] = inside.any(dim=0).to(torch.int64)
        recalled = (D <= r_fake[:, None]).any(dim=0)
        counts[2 + n + offset : 2 + n + offset + B.shape[0]] = recalled.to(torch.int64)
    counts[0] = torch.count_nonzero(precise)
    return counts
