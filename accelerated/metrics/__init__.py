r"""Sample-quality metrics in PyTorch: streaming statistics, FID and FID_inf, KID, PRDC in blocks, IS, CLIP score.

Same formulas, names and parameters as :mod:`reference.metrics` (see it for the slides: Isachenko DGM
Lecture 7, 'Frechet Inception Distance', 'Frechet Inception Distance (FID)', 'Precision-Recall',
'CLIP score'; Advanced Course on DGM Lecture 8, 'Inception Score', 'Computing FID', 'Two-Sample
Tests'). KID, the Kernel Inception Distance (Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD
GANs, ICLR 2018), is on no slide: the unbiased MMD^2 with the cubic kernel (x^T y / d + 1)^3 over
random subsets.

Submodules, as on the reference side: ``statistics`` (FeatureStatistics, feature_statistics,
StreamingStatistics with ``all_reduce``), ``fid`` (frechet_distance, fid, FIDInfinity,
fid_infinity), ``kid`` (KID, mmd2_unbiased, kid), ``knn`` (precision/recall, density/coverage, PRDC
in blocks), ``inception`` (Inception Score and its components, CLIP score); every public name is
re-exported here. The argument checks both sides share are in :mod:`reference._args.metrics`.

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
matrix product in the input dtype, in effect clamped at 0, k-NN radii by a blocked ``topk``, and ball
memberships by blocked ``<=`` comparisons of squared distances (closed balls, as on the slide); a
block holds ``block_size`` rows (default: as many as keep one block at 2**26 entries, 256 MiB in
float32). Boundary ties are discussed in :mod:`accelerated.metrics.knn`.

All of these functions read only metadata on the host, except the value checks at entry (switch
them off with :func:`accelerated.value_checks`) and ``StreamingStatistics.all_reduce``, which reads
the global count once.

Files: statistics are saved and loaded by :func:`reference.metrics.save_statistics` and
:func:`reference.metrics.load_statistics` (NumPy ``.npz``, no pickle), which accept CPU tensors.

One-sided names: none.
"""

from __future__ import annotations

from .fid import FIDInfinity, fid, fid_infinity, frechet_distance
from .inception import (
    InceptionScore,
    InceptionScoreComponents,
    _check_probs,  # noqa: F401  (accelerated.distributed)
    clip_score,
    inception_score,
    inception_score_components,
)
from .kid import (  # noqa: F401  (the private names: accelerated.distributed, benchmarks/bench_kid.py)
    KID,
    _draw_kid_indices,
    _kid_chunk,
    _kid_indices,
    _subset_mmd2,
    kid,
    mmd2_unbiased,
)
from .knn import (  # noqa: F401  (the private names: accelerated.distributed, benchmarks/gpu_check.py)
    PRDC,
    DensityCoverage,
    PrecisionRecall,
    _block_rows,
    _squared_distances,
    density_coverage,
    prdc,
    precision_recall,
)
from .statistics import FeatureStatistics, StreamingStatistics, feature_statistics

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
