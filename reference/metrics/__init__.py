"""Sample-quality metrics: feature statistics, FID and FID_inf, KID, precision/recall, density/coverage, IS, CLIP.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7: 'Frechet Inception Distance'
  (FID(pi, p) = W_2^2(pi, p) between the Gaussians fitted to the embeddings), 'Frechet Inception
  Distance (FID)' (the closed form, and the table of FID against FID_inf for Model-A and Model-B),
  'Precision-Recall' (the indicator I(x, S) of the union of k-th nearest-neighbour balls) and
  'CLIP score' (text-image relevance of a conditional model).
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models: 'Inception Score'
  (sharpness S, diversity D and IS = D x S), 'Computing FID', 'Other measures' (precision and recall),
  'Two-Sample Tests' (a likelihood-free statistic comparing two sample sets: KID below is one).
* KID, the Kernel Inception Distance, is on no slide; it is from Binkowski, Sutherland, Arbel,
  Gretton, Demystifying MMD GANs, ICLR 2018: the unbiased estimate of the squared maximum mean
  discrepancy between the feature sets with the cubic kernel k(x, y) = (x^T y / d + 1)^3
  (:func:`mmd2_unbiased`), averaged over random subsets (:func:`kid`). It sits beside FID on the
  slides' 'Computing FID' features and, unlike FID, has no bias that depends on the sample count.

Submodules
----------
One per group of slides; every public name is re-exported here, so ``reference.metrics.fid`` is the
API. ``statistics`` (FeatureStatistics, feature_statistics, StreamingStatistics, the ``.npz`` files),
``fid`` (frechet_distance, fid, FIDInfinity, fid_infinity), ``kid`` (KID, mmd2_unbiased, kid),
``knn`` (precision/recall, density/coverage, PRDC), ``inception`` (Inception Score and its
components, CLIP score). The argument checks both sides share are in :mod:`reference._args.metrics`.

Conventions: feature sets are ``(n, d)`` arrays, one sample per row; probabilities lie along the last
axis; natural logarithms. Covariances are the unbiased ones (divisor n - 1). FID is the *squared*
2-Wasserstein distance between the two Gaussians, as everywhere in the literature; it is computed by
:func:`reference.transport.gaussian_w2` with ``squared=True`` and nowhere else.

This side forms the full n x m distance matrices (``scipy.spatial.distance.cdist``) for the k-NN
metrics: it is the oracle, for sizes a crosscheck uses. :mod:`accelerated.metrics` works in blocks.

One-sided names: ``save_statistics`` and ``load_statistics`` (they read and write NumPy ``.npz``
files; one implementation of a file format is enough, it accepts CPU tensors, and the accelerated
command line uses it; two sided functions would need a numerical agreement pair, and a function that
writes a file returns nothing to compare).

Methods (not parity-checked): :class:`StreamingStatistics` here has ``update``, ``merge`` and
``finalize``; the accelerated class adds ``all_reduce`` (``torch.distributed``), which has no NumPy
counterpart.
"""

from __future__ import annotations

from .fid import FIDInfinity, fid, fid_infinity, frechet_distance
from .inception import InceptionScore, InceptionScoreComponents, clip_score, inception_score, inception_score_components
from .kid import KID, kid, mmd2_unbiased
from .knn import PRDC, DensityCoverage, PrecisionRecall, density_coverage, prdc, precision_recall
from .statistics import FeatureStatistics, StreamingStatistics, feature_statistics, load_statistics, save_statistics

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
    "load_statistics",
    "mmd2_unbiased",
    "prdc",
    "precision_recall",
    "save_statistics",
]
