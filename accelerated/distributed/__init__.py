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

import torch

from reference._args import metrics as M

from .. import metrics
from ..metrics.fid import _frechet_of_features
from ._collectives import F64, _active, _all_reduce_sum, _local_features
from ._kid import kid
from ._prdc import prdc

__all__ = ["fid", "inception_score", "kid", "prdc"]


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
    value = _frechet_of_features("features1, features2", stats[0].mu, stats[0].sigma, stats[1].mu, stats[1].sigma)
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
    (p,), shards = _local_features("inception_score", ("probs",), (probs,), group, check=metrics._check_probs)
    n = shards.total("probs")
    splits = M.check_splits(splits, n)
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
