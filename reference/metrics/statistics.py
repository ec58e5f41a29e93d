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

import os
import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from scipy.spatial.distance import cdist

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
    "load_statistics",
    "mmd2_unbiased",
    "prdc",
    "precision_recall",
    "save_statistics",
]


# --------------------------------------------------------------------------- shared input checks


def _features(name: str, x: object, *, min_rows: int = 1) -> np.ndarray:
    """A finite (n, d) float64 feature matrix with at least ``min_rows`` rows and d >= 1."""
    x = C.as_float64(name, x)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array of shape (n, d), one sample per row, got shape {x.shape}")
    if x.shape[0] < min_rows:
        raise ValueError(f"{name}: expected at least {min_rows} rows (samples), got shape {x.shape}")
    if x.shape[1] < 1:
        raise ValueError(f"{name}: expected at least one feature column, got shape {x.shape}")
    C.check_finite(name, x)
    return x


def _positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an int >= {minimum}, got {C.describe(value)}")
    if int(value) < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {int(value)}")
    return int(value)


def _check_k(k: object, sizes: Sequence[tuple[str, int]]) -> int:
    """k-NN order: 1 <= k <= n - 1 for every set whose radii are needed (self is not a neighbour)."""
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
    """Mean, unbiased covariance and sample count of a feature set (the Gaussian FID fits)."""

    mu: np.ndarray
    """(d,) sample mean."""
    sigma: np.ndarray
    """(d, d) unbiased sample covariance (divisor n - 1), exactly symmetric."""
    n: int
    """Number of samples (0 when loaded from a file that does not record it)."""


def feature_statistics(features: np.ndarray) -> FeatureStatistics:
    r"""Sample mean and unbiased sample covariance of a feature set.

    .. math::

        \mu = \frac1n \sum_{i=1}^n x_i, \qquad
        \Sigma = \frac{1}{n-1} \sum_{i=1}^n (x_i - \mu)(x_i - \mu)^\top.

    Computed by the two-pass formula (centre first, then multiply), which loses no digits to the
    cancellation of :math:`\sum x x^\top - n \mu\mu^\top`; the product is symmetrised exactly.

    Parameters
    ----------
    features : (n, d) array_like
        One sample per row, n >= 2, finite.

    Returns
    -------
    FeatureStatistics
        ``mu`` (d,), ``sigma`` (d, d), ``n``.

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Computing FID' ("fit a multivariate Gaussian");
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)'.
    """
    x = _features("features", features, min_rows=2)
    n = x.shape[0]
    mu = x.mean(axis=0)
    centred = x - mu
    sigma = centred.T @ centred / (n - 1)
    return FeatureStatistics(mu, 0.5 * (sigma + sigma.T), n)


class StreamingStatistics:
    r"""Mean and covariance accumulated over batches, mergeable across workers (Chan et al.).

    Keeps the count :math:`n`, the mean :math:`\mu` and the co-moment matrix
    :math:`M_2 = \sum_i (x_i - \mu)(x_i - \mu)^\top`. A batch (or another accumulator) with
    :math:`(n_b, \mu_b, M_{2,b})` is combined with the pairwise update

    .. math::

        n = n_a + n_b,\quad \delta = \mu_b - \mu_a,\quad
        \mu = \mu_a + \delta \frac{n_b}{n},\quad
        M_2 = M_{2,a} + M_{2,b} + \delta\delta^\top \frac{n_a n_b}{n},

    where each batch's own :math:`(\mu_b, M_{2,b})` is computed by the two-pass formula. The result of
    :meth:`finalize` equals :func:`feature_statistics` of all rows seen, for any batching, up to
    rounding (a few ulp: no sum of squares is ever formed around zero).

    Parameters
    ----------
    dim : int
        Feature dimension d.

    Notes
    -----
    Methods: ``update(batch)`` and ``merge(other)`` (both in place, returning ``self``),
    ``finalize()`` and ``reset()`` (forget every row). The accelerated twin adds
    ``all_reduce(group=None)`` over ``torch.distributed``.

    References
    ----------
    Chan, Golub, LeVeque, Updating formulae and a pairwise algorithm for computing sample variances,
    COMPSTAT 1982 (the pairwise combination); Advanced Course on DGM, Lecture 8, slide 'Computing FID'.
    """

    def __init__(self, dim: int):
        self.dim = _positive_int("dim", dim)
        self.reset()

    def reset(self) -> StreamingStatistics:
        """Forget every row: the state of a new accumulator; returns ``self``."""
        self.n = 0
        self.mean = np.zeros(self.dim)
        self.m2 = np.zeros((self.dim, self.dim))
        return self

    def __repr__(self) -> str:
        return f"StreamingStatistics(dim={self.dim}, n={self.n})"

    def _combine(self, n_b: int, mean_b: np.ndarray, m2_b: np.ndarray) -> None:
        if n_b == 0:
            return
        n_a = self.n
        n = n_a + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + np.outer(delta, delta) * (n_a * n_b / n)
        self.n = n

    def update(self, batch: np.ndarray) -> StreamingStatistics:
        """Add the rows of ``batch`` ((b, dim), finite; b = 0 is allowed and changes nothing)."""
        x = C.as_float64("batch", batch)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"batch: expected shape (b, {self.dim}), got shape {x.shape}")
        C.check_finite("batch", x)
        if x.shape[0] == 0:
            return self
        mean_b = x.mean(axis=0)
        centred = x - mean_b
        self._combine(x.shape[0], mean_b, centred.T @ centred)
        return self

    def merge(self, other: StreamingStatistics) -> StreamingStatistics:
        """Add everything ``other`` has seen (Chan et al.'s pairwise combination); ``other`` is unchanged."""
        if not isinstance(other, StreamingStatistics):
            raise TypeError(f"other: expected a reference StreamingStatistics, got {C.describe(other)}")
        if other.dim != self.dim:
            raise ValueError(f"other: expected dim = {self.dim}, got an accumulator with dim = {other.dim}")
        self._combine(other.n, other.mean, other.m2)
        return self

    def finalize(self) -> FeatureStatistics:
        """The statistics of every row seen so far (needs at least two rows)."""
        if self.n < 2:
            raise ValueError(f"finalize: the unbiased covariance needs at least 2 rows, got n = {self.n}")
        sigma = self.m2 / (self.n - 1)
        return FeatureStatistics(self.mean.copy(), 0.5 * (sigma + sigma.T), self.n)


def save_statistics(path: str | os.PathLike, stats: FeatureStatistics) -> None:
    """Write feature statistics to an uncompressed ``.npz`` file with float64 arrays ``mu``, ``sigma`` and ``n``.

    The keys ``mu`` and ``sigma`` are those of pytorch-fid and clean-fid, so their files load here and
    ours load there. Tensors on the CPU are accepted (``numpy.asarray`` reads them); move CUDA tensors
    to the CPU first. NumPy appends ``.npz`` to a path without that suffix.

    Parameters
    ----------
    path : str or os.PathLike
    stats : FeatureStatistics
        ``mu`` (d,), ``sigma`` (d, d), ``n`` (int; 0 if unknown).
    """
    if not (isinstance(stats, tuple) and len(stats) == 3):
        raise TypeError(f"stats: expected a FeatureStatistics (mu, sigma, n), got {C.describe(stats)}")
    mu = C.as_float64("stats.mu", stats[0])
    sigma = C.as_float64("stats.sigma", stats[1])
    n = stats[2]
    if hasattr(n, "item"):
        n = n.item()
    n = _positive_int("stats.n", n, minimum=0)
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(
            f"stats: expected mu of shape (d,) and sigma of shape (d, d), got {mu.shape} and {sigma.shape}"
        )
    np.savez(path, mu=mu, sigma=sigma, n=np.int64(n))


def load_statistics(path: str | os.PathLike) -> FeatureStatistics:
    """Read statistics written by :func:`save_statistics` (or by pytorch-fid / clean-fid: keys ``mu``, ``sigma``).

    The file is opened with ``allow_pickle=False``: an object array inside (which would run arbitrary
    code when unpickled) is refused with a ``ValueError``, never loaded.

    Parameters
    ----------
    path : str or os.PathLike
        An ``.npz`` file with arrays ``mu`` (d,) and ``sigma`` (d, d), and optionally ``n``.

    Returns
    -------
    FeatureStatistics
        float64 arrays; ``n = 0`` when the file does not record it.
    """
    with np.load(path, allow_pickle=False) as data:
        if not hasattr(data, "files"):
            raise ValueError(
                f"path: expected an .npz archive with arrays 'mu' and 'sigma', got a single array in {path}"
            )
        missing = [key for key in ("mu", "sigma") if key not in data.files]
        if missing:
            raise ValueError(f"path: expected arrays 'mu' and 'sigma' in {path}, missing {missing} (has {data.files})")
        arrays = {}
        for key in ("mu", "sigma", "n"):
            if key not in data.files:
                continue
            try:
                arrays[key] = data[key]
            except ValueError as err:  # NumPy refuses object arrays when allow_pickle=False
                raise ValueError(
                    f"path: array {key!r} in {path} is a pickled object array; refusing to unpickle it "
                    "(statistics files hold plain float arrays)"
                ) from err
    mu = _finite_array(f"{path}: mu", arrays["mu"])
    sigma = _finite_array(f"{path}: sigma", arrays["sigma"])
    if mu.ndim != 1 or sigma.shape != (mu.shape[0], mu.shape[0]):
        raise ValueError(f"path: expected mu (d,) and sigma (d, d) in {path}, got shapes {mu.shape} and {sigma.shape}")
    n = arrays.get("n", np.int64(0))
    if n.shape != () or n.dtype.kind not in "iu" or int(n) < 0:
        raise ValueError(f"path: expected a non-negative integer scalar 'n' in {path}, got {C.describe(n)}")
    return FeatureStatistics(mu, sigma, int(n))


def _finite_array(name: str, x: np.ndarray) -> np.ndarray:
    x = C.as_float64(name, x)
    C.check_finite(name, x)
    return x


# --------------------------------------------------------------------------- FID


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    r"""Frechet distance between N(mu1, sigma1) and N(mu2, sigma2): the squared 2-Wasserstein distance.

    .. math::

        \mathrm{FID} = W_2^2 = \|\mu_1 - \mu_2\|^2
        + \operatorname{tr}\Big[\Sigma_1 + \Sigma_2 - 2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big].

    Delegates to :func:`reference.transport.gaussian_w2` with ``squared=True`` (its Bures closed form
    uses the symmetric matrix :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}`, never the non-symmetric
    product :math:`\Sigma_1\Sigma_2` whose square root ``scipy.linalg.sqrtm`` returns with imaginary
    residue). Applied to statistics of Inception features this is the FID.

    Parameters
    ----------
    mu1, mu2 : (..., d) array_like
        Means.
    sigma1, sigma2 : (..., d, d) array_like
        Covariances, as :func:`reference.transport.gaussian_w2` accepts them; batch axes broadcast.

    Returns
    -------
    (...) ndarray
        FID, in squared feature units.

    References
    ----------
    Isachenko, DGM Lecture 7, slides 'Frechet Inception Distance' (FID = W_2^2) and 'Frechet
    Inception Distance (FID)'; Advanced Course on DGM, Lecture 8, slide 'Computing FID';
    Heusel et al., GANs trained by a two time-scale update rule converge to a local Nash
    equilibrium, NeurIPS 2017; Dowson and Landau, The Frechet distance between multivariate normal
    distributions, J. Multivariate Anal. 12 (1982).
    """
    try:
        return transport.gaussian_w2(mu1, sigma1, mu2, sigma2, squared=True)
    except (ValueError, TypeError) as err:  # name the arguments as the caller wrote them
        raise type(err)(re.sub(r"\bcov([12])\b", r"sigma\1", str(err))) from err


def fid(features1: np.ndarray, features2: np.ndarray) -> np.ndarray:
    r"""FID between two feature sets: the Frechet distance of their fitted Gaussians.

    .. math::

        \mathrm{FID}(X, Y) = W_2^2\big(\mathcal N(\mu_X, \Sigma_X), \mathcal N(\mu_Y, \Sigma_Y)\big),

    with the statistics of :func:`feature_statistics` (unbiased covariances).

    Parameters
    ----------
    features1 : (n, d) array_like
    features2 : (m, d) array_like
        Feature sets (n, m >= 2), same d.

    Returns
    -------
    () ndarray
        FID.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)'; Heusel et al., NeurIPS 2017.
    """
    x = _features("features1", features1, min_rows=2)
    y = _features("features2", features2, min_rows=2)
    C.check_same_last_dim(("features1", "features2"), (x, y))
    s1, s2 = feature_statistics(x), feature_statistics(y)
    return frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma)


class FIDInfinity(NamedTuple):
    """Result of :func:`fid_infinity`: the fitted line FID_N = fid_inf + slope / N and its data."""

    fid_inf: float
    """Intercept of the least-squares line at 1/N = 0: the extrapolated, effectively unbiased FID."""
    slope: float
    """Slope of FID_N against 1/N."""
    n: np.ndarray
    """(p,) int64 sample counts N at which FID_N was computed."""
    fid_n: np.ndarray
    """(p,) FID_N values."""


def _fid_infinity_sizes(m: int, batch_sizes: object, n_points: object) -> np.ndarray:
    """The N values: given, or ``n_points`` evenly spaced from m/10 to m (truncated), as Chong & Forsyth."""
    if batch_sizes is not None and n_points is not None:
        raise ValueError(
            f"batch_sizes / n_points: pass at most one, got batch_sizes={batch_sizes!r} and n_points={n_points!r}"
        )
    if batch_sizes is None:
        p = _positive_int("n_points", 15 if n_points is None else n_points, minimum=2)
        sizes = np.linspace(m / 10, m, p).astype(np.int64)
    else:
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
    real_features: np.ndarray,
    fake_features: np.ndarray,
    *,
    batch_sizes: Sequence[int] | None = None,
    n_points: int | None = None,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> FIDInfinity:
    r"""FID_inf: FID extrapolated to infinitely many generated samples (Chong and Forsyth 2020).

    FID computed from N generated samples is biased, :math:`\mathbb E\,\mathrm{FID}_N \approx
    \mathrm{FID}_\infty + b/N`, and the bias depends on the generator, so models compared at one N can
    swap places. For each N in ``batch_sizes`` a random subset of N rows of ``fake_features`` is drawn
    and :math:`\mathrm{FID}_N` is computed against the statistics of all of ``real_features``; the
    least-squares line

    .. math::

        \min_{a, b} \sum_j \big(\mathrm{FID}_{N_j} - a - b / N_j\big)^2

    is fitted and :math:`\mathrm{FID}_\infty = a`, its value at :math:`1/N = 0`.

    Randomness: subset j is the first :math:`N_j` entries of the permutation
    ``argsort(noise[j], stable)`` (uniforms sort into a uniformly random permutation); with ``rng``
    the uniforms are drawn as ``rng.random((p, m))``. Ties in ``noise`` are broken by index.

    Parameters
    ----------
    real_features : (n, d) array_like
        Features of the data (n >= 2); used in full.
    fake_features : (m, d) array_like
        Features of generated samples, the pool the subsets are drawn from.
    batch_sizes : sequence of p ints, optional
        The sample counts N (2 <= N <= m; at least two distinct). Default: ``n_points`` counts evenly
        spaced from m/10 to m, truncated to ints (Chong and Forsyth use 5000..50000 for m = 50000).
    n_points : int, optional
        Number of default counts (default 15); give either this or ``batch_sizes``, not both.
    noise : (p, m) array_like, optional
        Uniforms in [0, 1], one row per N. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional

    Returns
    -------
    FIDInfinity
        ``fid_inf`` (intercept), ``slope``, ``n`` (the N values), ``fid_n`` (FID at each N).

    Notes
    -----
    Covariances of N <= d samples are singular; whether that is allowed is up to
    :func:`reference.transport.gaussian_w2`. Chong and Forsyth use N >= 5000 > d = 2048.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)' (its FID / FID_inf table);
    Chong and Forsyth, Effectively unbiased FID and Inception Score and where to find them, CVPR 2020.
    """
    x = _features("real_features", real_features, min_rows=2)
    y = _features("fake_features", fake_features, min_rows=2)
    C.check_same_last_dim(("real_features", "fake_features"), (x, y))
    m = y.shape[0]
    sizes = _fid_infinity_sizes(m, batch_sizes, n_points)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        u = rng.random((sizes.size, m))
    else:
        u = C.as_float64("noise", noise)
        C.check_shape("noise", u, (sizes.size, m))
        C.check_in_interval("noise", u, 0.0, 1.0)

    real = feature_statistics(x)
    fid_n = np.empty(sizes.size)
    for j, N in enumerate(sizes):
        subset = y[np.argsort(u[j], kind="stable")[:N]]
        fake = feature_statistics(subset)
        fid_n[j] = frechet_distance(real.mu, real.sigma, fake.mu, fake.sigma)
    slope, intercept = np.polyfit(1.0 / sizes, fid_n, 1)
    return FIDInfinity(float(intercept), float(slope), sizes, fid_n)


# --------------------------------------------------------------------------- KID


class KID(NamedTuple):
    """Kernel Inception Distance: mean and spread of the unbiased MMD^2 over random subsets."""

    mean: float
    """Average of the subsets' unbiased MMD^2; near 0 (either sign) when the two laws agree."""
    std: float
    """Population standard deviation (divisor = number of subsets), as torch-fidelity's ``kid_subsets_std``."""


def _cubic_kernel(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """k(a_i, b_j) = (a_i . b_j / d + 1)^3 for all pairs: the (m, n) kernel matrix of Binkowski et al."""
    d = a.shape[1]
    return (a @ b.T / d + 1.0) ** 3


def _mmd2(X: np.ndarray, Y: np.ndarray) -> float:
    """Unbiased MMD^2 of two validated float64 sets (m, n >= 2): the off-diagonal means minus twice the cross mean."""
    m, n = X.shape[0], Y.shape[0]
    K_XX, K_YY, K_XY = _cubic_kernel(X, X), _cubic_kernel(Y, Y), _cubic_kernel(X, Y)
    sum_XX = K_XX.sum() - np.trace(K_XX)  # sum over i != j
    sum_YY = K_YY.sum() - np.trace(K_YY)
    return float(sum_XX / (m * (m - 1)) + sum_YY / (n * (n - 1)) - 2.0 * K_XY.sum() / (m * n))


def mmd2_unbiased(features1: np.ndarray, features2: np.ndarray) -> np.ndarray:
    r"""Unbiased estimate of the squared MMD with the cubic polynomial kernel (KID's estimator).

    .. math::

        k(x, y) = \Big(\frac{x^\top y}{d} + 1\Big)^3,

        \widehat{\mathrm{MMD}}^2_u = \frac{1}{m(m-1)} \sum_{i \ne j} k(x_i, x_j)
        + \frac{1}{n(n-1)} \sum_{i \ne j} k(y_i, y_j) - \frac{2}{mn} \sum_{i, j} k(x_i, y_j),

    with d the feature dimension. Leaving out the terms i = j makes it an unbiased estimate of
    :math:`\mathrm{MMD}^2 = \mathbb E k(x, x') + \mathbb E k(y, y') - 2 \mathbb E k(x, y)`, at the
    price that it **can be negative** (it is near 0, of either sign, when the two laws agree). It is
    symmetric in its two arguments.

    Parameters
    ----------
    features1 : (m, d) array_like
    features2 : (n, d) array_like
        Feature sets, m, n >= 2, same d, finite.

    Returns
    -------
    () ndarray
        The estimate, float64.

    References
    ----------
    Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD GANs, ICLR 2018 (the cubic kernel and
    KID); Gretton, Borgwardt, Rasch, Schoelkopf, Smola, A kernel two-sample test, JMLR 13 (2012),
    Lemma 6 (the unbiased estimator); Advanced Course on DGM, Lecture 8, slide 'Two-Sample Tests'
    (a statistic that compares two sets of samples, likelihood-free).
    """
    X = _features("features1", features1, min_rows=2)
    Y = _features("features2", features2, min_rows=2)
    C.check_same_last_dim(("features1", "features2"), (X, Y))
    return np.asarray(_mmd2(X, Y))


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


def _kid_indices(indices: object, n1: int, n2: int, subset_size: object, n_subsets: object) -> tuple[np.ndarray, ...]:
    """Check given subset indices: two (S, m) integer arrays, rows of distinct indices in range."""
    if not (isinstance(indices, (tuple, list)) and len(indices) == 2):
        raise TypeError(f"indices: expected a pair (idx1, idx2) of integer arrays, got {C.describe(indices)}")
    idx = [C.as_int_array(f"indices[{i}]", v) for i, v in enumerate(indices)]
    for i, (ix, n) in enumerate(zip(idx, (n1, n2))):
        name = f"indices[{i}]"
        if ix.ndim != 2 or ix.shape[0] < 1 or ix.shape[1] < 2:
            raise ValueError(
                f"{name}: expected shape (n_subsets, subset_size) with n_subsets >= 1 and subset_size >= 2, "
                f"got shape {ix.shape}"
            )
        if np.any(ix < 0) or np.any(ix >= n):
            raise ValueError(
                f"{name}: expected row indices in [0, {n - 1}] (features{i + 1} has {n} rows), "
                f"got min {int(ix.min())} and max {int(ix.max())}"
            )
        s = np.sort(ix, axis=1)
        repeated = np.any(s[:, 1:] == s[:, :-1], axis=1)
        if np.any(repeated):
            raise ValueError(
                f"{name}: expected distinct indices in each row (a subset is drawn without replacement), "
                f"got repeated indices in row(s) {np.flatnonzero(repeated)[:5].tolist()}"
            )
    if idx[0].shape != idx[1].shape:
        raise ValueError(f"indices: expected two arrays of one shape, got {idx[0].shape} and {idx[1].shape}")
    S, m = idx[0].shape
    for name, value, size in (("subset_size", subset_size, m), ("n_subsets", n_subsets, S)):
        if value is not None and _positive_int(name, value) != size:
            raise ValueError(f"{name}: expected None or {size} (the shape of indices, {idx[0].shape}), got {value}")
    return idx[0], idx[1]


def kid(
    features1: np.ndarray,
    features2: np.ndarray,
    *,
    subset_size: int | None = None,
    n_subsets: int | None = None,
    rng: np.random.Generator | None = None,
    indices: tuple[np.ndarray, np.ndarray] | None = None,
) -> KID:
    r"""Kernel Inception Distance: the unbiased MMD^2 of :func:`mmd2_unbiased`, averaged over random subsets.

    .. math::

        \mathrm{KID} = \frac1S \sum_{s=1}^S \widehat{\mathrm{MMD}}^2_u\big(X_{I_s}, Y_{J_s}\big),
        \qquad k(x, y) = \Big(\frac{x^\top y}{d} + 1\Big)^3,

    where each subset s draws ``subset_size`` rows :math:`I_s` of ``features1`` and, independently,
    :math:`J_s` of ``features2``, each without replacement (as Binkowski et al.'s code and
    torch-fidelity do). Unlike FID, KID is an unbiased estimate of a distance between the feature laws
    (the squared MMD), so it does not drift with the number of samples; it has no Gaussian
    assumption, and its mean can be slightly negative when the laws agree.

    Randomness: with ``rng``, subset s draws ``rng.choice(n1, subset_size, replace=False)`` and then
    ``rng.choice(n2, subset_size, replace=False)``, for s = 1..S in turn. ``indices`` gives the subsets
    instead. With neither, a fresh unseeded ``numpy.random.default_rng()`` is used: the result is then
    **not reproducible**.

    Parameters
    ----------
    features1 : (n1, d) array_like
    features2 : (n2, d) array_like
        Feature sets (n1, n2 >= 2), same d, finite. KID is symmetric in them in distribution.
    subset_size : int, optional
        Rows per subset m, 2 <= m <= min(n1, n2); default ``min(1000, n1, n2)`` (1000 as Binkowski
        et al. and torch-fidelity).
    n_subsets : int, optional
        Number of subsets S >= 1; default 100.
    rng : numpy.random.Generator, optional
        Draws the subsets. Not together with ``indices``.
    indices : (idx1, idx2), optional
        Two integer arrays of shape (S, m): row s holds the distinct row numbers of subset s in
        ``features1`` (idx1) and ``features2`` (idx2). Overrides drawing (``rng`` must then be None);
        ``subset_size`` and ``n_subsets``, if given, must equal this shape.

    Returns
    -------
    KID
        ``mean`` and population ``std`` (divisor S) of the S subset values, floats.

    References
    ----------
    Binkowski, Sutherland, Arbel, Gretton, Demystifying MMD GANs, ICLR 2018 (KID, its cubic kernel and
    the subset estimate); Advanced Course on DGM, Lecture 8, slides 'Two-Sample Tests' and
    'Computing FID' (features of a pretrained classifier); Isachenko, DGM Lecture 7, slide
    'Frechet Inception Distance (FID)' (FID's dependence on the sample count, which KID avoids).
    """
    X = _features("features1", features1, min_rows=2)
    Y = _features("features2", features2, min_rows=2)
    C.check_same_last_dim(("features1", "features2"), (X, Y))
    n1, n2 = X.shape[0], Y.shape[0]
    if indices is not None:
        if rng is not None:
            raise ValueError("indices / rng: pass at most one of indices= (given subsets) and rng=, got both")
        idx1, idx2 = _kid_indices(indices, n1, n2, subset_size, n_subsets)
    else:
        m, S = _kid_sizes(n1, n2, subset_size, n_subsets)
        if rng is None:
            rng = np.random.default_rng()  # fresh, unseeded: not reproducible (documented)
        elif not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng: expected a numpy.random.Generator or None, got {C.describe(rng)}")
        idx1, idx2 = np.empty((S, m), dtype=np.int64), np.empty((S, m), dtype=np.int64)
        for s in range(S):
            idx1[s] = rng.choice(n1, m, replace=False)
            idx2[s] = rng.choice(n2, m, replace=False)
    values = np.array([_mmd2(X[i], Y[j]) for i, j in zip(idx1, idx2)])
    return KID(float(np.mean(values)), float(np.std(values)))


# --------------------------------------------------------------------------- k-NN metrics


class PrecisionRecall(NamedTuple):
    """Improved precision and recall (Kynkaanniemi et al. 2019)."""

    precision: float
    """Fraction of generated samples inside the real manifold estimate."""
    recall: float
    """Fraction of real samples inside the generated manifold estimate."""


class DensityCoverage(NamedTuple):
    """Density and coverage (Naeem et al. 2020)."""

    density: float
    """Average number of real k-NN balls containing a generated sample, divided by k (can exceed 1)."""
    coverage: float
    """Fraction of real k-NN balls that contain at least one generated sample."""


class PRDC(NamedTuple):
    """Precision, recall, density and coverage from one set of distances."""

    precision: float
    recall: float
    density: float
    coverage: float


def _knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """NND_k(x_i): distance from each point to its k-th nearest *other* point of the same set."""
    D = cdist(points, points)
    np.fill_diagonal(D, np.inf)  # a point is not its own neighbour; duplicates elsewhere still count
    return np.partition(D, k - 1, axis=1)[:, k - 1]


def _prdc_parts(real: object, fake: object, k: object, block_size: object, *, need_fake_radii: bool) -> dict:
    X = _features("real", real, min_rows=2)
    Y = _features("fake", fake, min_rows=2 if need_fake_radii else 1)
    C.check_same_last_dim(("real", "fake"), (X, Y))
    sizes = [("real", X.shape[0])] + ([("fake", Y.shape[0])] if need_fake_radii else [])
    k = _check_k(k, sizes)
    _check_block_size(block_size)

    r_real = _knn_radii(X, k)  # (n,)
    D = cdist(Y, X)  # (m, n): D[j, i] = ||Y_j - X_i||
    in_real_ball = D <= r_real[None, :]  # Y_j in B(X_i, NND_k(X_i)), closed balls as on the slide
    parts = {
        "precision": float(np.mean(np.any(in_real_ball, axis=1))),
        "density": float(np.sum(in_real_ball) / (k * Y.shape[0])),
        "coverage": float(np.mean(np.any(in_real_ball, axis=0))),
    }
    if need_fake_radii:
        r_fake = _knn_radii(Y, k)  # (m,)
        in_fake_ball = D <= r_fake[:, None]  # X_i in B(Y_j, NND_k(Y_j))
        parts["recall"] = float(np.mean(np.any(in_fake_ball, axis=0)))
    return parts


def precision_recall(
    real: np.ndarray, fake: np.ndarray, *, k: int = 3, block_size: int | None = None
) -> PrecisionRecall:
    r"""Improved precision and recall of generated samples against real ones (k-NN manifold estimates).

    With :math:`\mathrm{NN}_k(x', S)` the k-th nearest neighbour of :math:`x'` among the *other*
    points of S, the manifold estimate of S is a union of closed balls:

    .. math::

        I(x, S) = \mathbb 1\big[\exists x' \in S: \|x - x'\|_2 \le \|x' - \mathrm{NN}_k(x', S)\|_2\big],

        \mathrm{Precision} = \frac1m \sum_{y \in S_p} I(y, S_\pi), \qquad
        \mathrm{Recall} = \frac1n \sum_{x \in S_\pi} I(x, S_p),

    with :math:`S_\pi` the n real and :math:`S_p` the m generated samples (the slide writes n for both).
    A point duplicated in S is its copy's neighbour at distance 0.

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    PrecisionRecall
        ``precision`` and ``recall`` in [0, 1].

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Precision-Recall'; Advanced Course on DGM, Lecture 8, slide
    'Other measures'; Kynkaanniemi, Karras, Laine, Lehtinen, Aila, Improved precision and recall
    metric for assessing generative models, NeurIPS 2019.
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=True)
    return PrecisionRecall(parts["precision"], parts["recall"])


def density_coverage(
    real: np.ndarray, fake: np.ndarray, *, k: int = 5, block_size: int | None = None
) -> DensityCoverage:
    r"""Density and coverage of generated samples (Naeem et al. 2020): k-NN balls around real samples only.

    .. math::

        \mathrm{density} = \frac{1}{kM}\sum_{j=1}^M \sum_{i=1}^N \mathbb 1\big[Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],
        \qquad
        \mathrm{coverage} = \frac1N \sum_{i=1}^N \mathbb 1\big[\exists j: Y_j \in B(X_i, \mathrm{NND}_k(X_i))\big],

    with :math:`X_1..X_N` real, :math:`Y_1..Y_M` generated, :math:`\mathrm{NND}_k(X_i)` the distance
    from :math:`X_i` to its k-th nearest other real sample and B the closed ball. Density counts how
    many real balls hold each generated sample (it is not bounded by 1); coverage needs no generated
    radii, so it is robust to generated outliers.

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    DensityCoverage
        ``density`` in [0, n / k] and ``coverage`` in [0, 1].

    References
    ----------
    Naeem, Oh, Uh, Choi, Yoo, Reliable fidelity and diversity metrics for generative models, ICML 2020;
    Isachenko, DGM Lecture 7, slide 'Precision-Recall' (the same k-NN balls).
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=False)
    return DensityCoverage(parts["density"], parts["coverage"])


def prdc(real: np.ndarray, fake: np.ndarray, *, k: int = 5, block_size: int | None = None) -> PRDC:
    r"""Precision, recall, density and coverage from one set of distances (see the two functions above).

    .. math::

        \mathrm{precision} = \frac1M\sum_j \mathbb 1[\exists i: Y_j \in B_i],\quad
        \mathrm{recall} = \frac1N\sum_i \mathbb 1[\exists j: X_i \in B'_j],\quad
        \mathrm{density} = \frac{1}{kM}\sum_{i,j} \mathbb 1[Y_j \in B_i],\quad
        \mathrm{coverage} = \frac1N\sum_i \mathbb 1[\exists j: Y_j \in B_i],

    with :math:`B_i = B(X_i, \mathrm{NND}_k(X_i))` around the real and
    :math:`B'_j = B(Y_j, \mathrm{NND}_k(Y_j))` around the generated samples, all with the same k
    (the prdc package's convention; :func:`precision_recall` defaults to k = 3 as Kynkaanniemi et al.).

    Parameters
    ----------
    real : (n, d) array_like
        Real (data) features, finite.
    fake : (m, d) array_like
        Generated features, same d.
    k : int
        Neighbour order, 1 <= k <= n - 1 (and <= m - 1 where the generated radii are needed).
    block_size : int, optional
        Memory knob of the accelerated twin (rows of distances per block); results do not depend on
        it. Accepted and validated here, where the full distance matrices are formed.

    Returns
    -------
    PRDC
        ``precision``, ``recall``, ``density``, ``coverage``.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Precision-Recall'; Kynkaanniemi et al., NeurIPS 2019;
    Naeem et al., ICML 2020.
    """
    parts = _prdc_parts(real, fake, k, block_size, need_fake_radii=True)
    return PRDC(parts["precision"], parts["recall"], parts["density"], parts["coverage"])


# --------------------------------------------------------------------------- Inception Score


class InceptionScore(NamedTuple):
    """Mean and standard deviation of the Inception Score over splits."""

    mean: float
    std: float
    """Population standard deviation (divisor = number of splits), as in Salimans et al.'s code; 0 for one split."""


class InceptionScoreComponents(NamedTuple):
    """Inception Score and its factors IS = D x S (Lecture 8)."""

    inception_score: float
    """exp(E_x KL(p(y|x) || p(y))), computed from the KL directly."""
    sharpness: float
    """S = exp(-E_x H(p(y|x))), in [1/K, 1]."""
    diversity: float
    """D = exp(H(p(y))), in [1, K]."""


def _probs(probs: object) -> np.ndarray:
    p = C.as_float64("probs", probs)
    if p.ndim != 2:
        raise ValueError(f"probs: expected a 2-D array of shape (n, K) of class probabilities, got shape {p.shape}")
    if p.shape[0] < 1:
        raise ValueError(f"probs: expected at least one row, got shape {p.shape}")
    C.check_simplex("probs", p)
    return p


def _score(p: np.ndarray) -> float:
    """exp(mean_x KL(p(y|x) || p(y))) for one split, with 0 log 0 = 0."""
    p_y = p.mean(axis=0)  # marginal c(y); p_y > 0 wherever some p(y|x) > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / p_y), 0.0)
    return float(np.exp(np.mean(np.sum(terms, axis=1))))


def inception_score(probs: np.ndarray, *, splits: int = 1) -> InceptionScore:
    r"""Inception Score of class probabilities p(y|x) of generated samples, mean and std over splits.

    .. math::

        \mathrm{IS} = \exp\Big(\mathbb E_x\, \mathrm{KL}\big(p(y \mid x) \,\|\, p(y)\big)\Big),
        \qquad p(y) = \mathbb E_x\, p(y \mid x),

    with :math:`0 \log 0 = 0`. The rows are cut into ``splits`` consecutive parts (rows
    ``i n // splits`` to ``(i+1) n // splits``), each with its own marginal, as in Salimans et al.'s
    code; the slide's ``IS = D x S = E KL`` omits the exponential.

    Parameters
    ----------
    probs : (n, K) array_like
        Rows on the probability simplex (each sums to 1 within 1e-5).
    splits : int
        Number of parts, 1 <= splits <= n.

    Returns
    -------
    InceptionScore
        ``mean`` and ``std`` (population) of the per-split scores; each score is in [1, K].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide 'Inception Score'; Salimans et al., Improved techniques
    for training GANs, NeurIPS 2016; Barratt and Sharma, A note on the Inception Score, 2018.
    """
    p = _probs(probs)
    n = p.shape[0]
    splits = _positive_int("splits", splits)
    if splits > n:
        raise ValueError(f"splits: expected 1 <= splits <= n = {n} (every split needs a row), got {splits}")
    scores = np.array([_score(p[i * n // splits : (i + 1) * n // splits]) for i in range(splits)])
    return InceptionScore(float(np.mean(scores)), float(np.std(scores)))


def inception_score_components(probs: np.ndarray) -> InceptionScoreComponents:
    r"""Inception Score with its sharpness and diversity factors, IS = D x S, over all rows.

    .. math::

        S = \exp\Big(\mathbb E_x \sum_y p(y|x)\log p(y|x)\Big) = e^{-\mathbb E_x H(p(y|x))},
        \qquad
        D = \exp\Big(-\mathbb E_x \sum_y p(y|x)\log p(y)\Big) = e^{H(p(y))},

    and :math:`\mathrm{IS} = D \times S` because
    :math:`\mathbb E_x \mathrm{KL}(p(y|x)\|p(y)) = H(p(y)) - \mathbb E_x H(p(y|x))`. The score is
    computed from the KL directly, so the identity is a check, not a definition. High sharpness: a
    confident classifier; high diversity: many classes.

    Parameters
    ----------
    probs : (n, K) array_like
        Rows on the probability simplex.

    Returns
    -------
    InceptionScoreComponents
        ``inception_score`` (as :func:`inception_score` with one split), ``sharpness`` in [1/K, 1],
        ``diversity`` in [1, K].

    References
    ----------
    Advanced Course on DGM, Lecture 8, slides 'Prediction sharpness', 'Prediction Diversity' and
    'Inception Score'; Salimans et al., NeurIPS 2016.
    """
    p = _probs(probs)
    with np.errstate(divide="ignore", invalid="ignore"):
        neg_entropy = np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=1)  # -H(p(y|x)) per row
        p_y = p.mean(axis=0)
        entropy_y = -np.sum(np.where(p_y > 0, p_y * np.log(p_y), 0.0))
    return InceptionScoreComponents(_score(p), float(np.exp(np.mean(neg_entropy))), float(np.exp(entropy_y)))


# --------------------------------------------------------------------------- CLIP score


def clip_score(image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
    r"""CLIP score of image-text pairs: 100 times the cosine similarity of the embeddings, clipped at 0.

    .. math::

        \mathrm{CLIPScore}(E_I, E_C) = 100 \cdot \max\Big(\frac{E_I \cdot E_C}{\|E_I\| \|E_C\|}, 0\Big).

    This is the torchmetrics convention (weight 100), the one most papers report averaged over pairs;
    Hessel et al. define CLIP-S with weight w = 2.5 (multiply by 0.025 to get it). The cosine is also
    clamped above at 1, which only removes rounding (it changes a result by at most an ulp).

    Parameters
    ----------
    image_embeddings, text_embeddings : (..., d) array_like
        Embeddings from the same CLIP model (they need not be normalised; zero vectors are refused).
        Batch axes broadcast.

    Returns
    -------
    (...) ndarray
        One score per pair, in [0, 100]; average them for a model's score.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'CLIP score'; Hessel, Holtzman, Forbes, Le Bras, Choi,
    CLIPScore: a reference-free evaluation metric for image captioning, EMNLP 2021;
    Radford et al., Learning transferable visual models from natural language supervision, ICML 2021.
    """
    E_I = C.as_float64("image_embeddings", image_embeddings)
    E_C = C.as_float64("text_embeddings", text_embeddings)
    for name, e in (("image_embeddings", E_I), ("text_embeddings", E_C)):
        C.check_ndim(name, e, 1)
        if e.shape[-1] == 0:
            raise ValueError(f"{name}: expected embeddings with d >= 1 along the last axis, got shape {e.shape}")
        C.check_finite(name, e)
    C.check_same_last_dim(("image_embeddings", "text_embeddings"), (E_I, E_C))
    C.broadcast_batch(("image_embeddings", "text_embeddings"), (E_I.shape[:-1], E_C.shape[:-1]))
    norm_I = np.linalg.norm(E_I, axis=-1)
    norm_C = np.linalg.norm(E_C, axis=-1)
    for name, norm in (("image_embeddings", norm_I), ("text_embeddings", norm_C)):
        if np.any(norm == 0):
            raise ValueError(
                f"{name}: expected non-zero embeddings (the cosine is undefined for a zero vector), "
                f"got {int(np.count_nonzero(norm == 0))} zero row(s)"
            )
    cos = np.sum(E_I * E_C, axis=-1) / (norm_I * norm_C)
    return 100.0 * np.clip(cos, 0.0, 1.0)
