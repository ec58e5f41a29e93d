r"""FID and FID_inf: the squared 2-Wasserstein distance between the Gaussians fitted to two feature sets.

Slides implemented: Isachenko, DGM Lecture 7, 'Frechet Inception Distance' (FID(pi, p) = W_2^2(pi, p)
between the fitted Gaussians) and 'Frechet Inception Distance (FID)' (the closed form, and the table
of FID against FID_inf for Model-A and Model-B); Advanced Course on DGM, Lecture 8, 'Computing FID'.
FID is computed by :func:`reference.transport.gaussian_w2` with ``squared=True`` and nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .. import _checks as C
from .. import transport
from .._args import metrics as M
from ._common import _check_sets
from .statistics import _statistics

__all__ = ["FIDInfinity", "fid", "fid_infinity", "frechet_distance"]


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    r"""Frechet distance between N(mu1, sigma1) and N(mu2, sigma2): the squared 2-Wasserstein distance.

    .. math::

        \mathrm{FID} = W_2^2 = \|\mu_1 - \mu_2\|^2
        + \operatorname{tr}\Big[\Sigma_1 + \Sigma_2 - 2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big].

    Applied to statistics of Inception features this is the FID.

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

    Notes
    -----
    Delegates to :func:`reference.transport.gaussian_w2` with ``squared=True``: its Bures closed form
    uses the symmetric matrix :math:`\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}`, never the non-symmetric
    product :math:`\Sigma_1\Sigma_2` whose square root ``scipy.linalg.sqrtm`` returns with imaginary
    residue. Its errors are renamed to ``sigma1`` / ``sigma2``.

    An eigenvalue problem that does not converge (``LinAlgError``: covariance entries around 1e154
    and beyond, whose products overflow float64) is a ``ValueError`` naming ``sigma1, sigma2``.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance' (FID = W_2^2, and the closed form on
    the next slide); Advanced Course on DGM, Lecture 8, slide 'Computing FID';
    Heusel et al., GANs trained by a two time-scale update rule converge to a local Nash
    equilibrium, NeurIPS 2017; Dowson and Landau, The Frechet distance between multivariate normal
    distributions, J. Multivariate Anal. 12 (1982).

    Examples
    --------
    In 1-D, W_2^2(N(1, 4), N(2, 1)) = (1 - 2)^2 + (2 - 1)^2 = 2 (closed form):

    >>> float(frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([2.0]), np.array([[1.0]])))
    2.0
    """
    try:
        return transport.gaussian_w2(mu1, sigma1, mu2, sigma2, squared=True)
    except np.linalg.LinAlgError as err:  # (NumPy's is a ValueError: caught first)
        raise ValueError(f"sigma1, sigma2: {M.NOT_CONVERGED}") from err
    except (ValueError, TypeError) as err:  # name the arguments as the caller wrote them
        raise type(err)(re.sub(r"\bcov([12])\b", r"sigma\1", str(err))) from err


# The leading "mu1, sigma1, mu2, sigma2: " (or part of it) of frechet_distance's errors: replaced by the feature sets.
_ARGUMENTS = re.compile(r"^(?:(?:mu|sigma)[12](?:, |: ))+")


def _frechet_of_features(names: str, s1: tuple, s2: tuple) -> np.ndarray:
    """:func:`frechet_distance` of two feature sets' statistics; its errors name the feature sets."""
    try:
        return frechet_distance(s1.mu, s1.sigma, s2.mu, s2.sigma)
    except ValueError as err:
        message = _ARGUMENTS.sub("", str(err), count=1)
        raise ValueError(f"{names}: {message}") from err


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

    Notes
    -----
    Statistics that overflow float64 are refused naming the feature set (``features1`` or
    ``features2``); a Frechet distance that overflows from finite statistics (means around 1e154 and
    beyond) is a ``ValueError`` naming ``features1, features2``, never inf or NaN.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)'; Heusel et al., NeurIPS 2017.

    Examples
    --------
    Rows 0, 2 and rows 1, 3: both variances 2, means 1 and 2, so FID = (1 - 2)^2 + 0 = 1 (closed form):

    >>> float(fid(np.array([[0.0], [2.0]]), np.array([[1.0], [3.0]])))
    1.0
    """
    x, y = _check_sets(("features1", "features2"), features1, features2, min_rows=(2, 2))
    s1, s2 = _statistics("features1", x), _statistics("features2", y)
    return _frechet_of_features("features1, features2", s1, s2)


class FIDInfinity(NamedTuple):
    """Result of :func:`fid_infinity`: the fitted line FID_N = fid_inf + slope / N and its data.

    Examples
    --------
    Fake rows that are all equal give the same FID_N = 2 at every N (see :func:`fid_infinity`):

    >>> r = FIDInfinity(2.0, 0.0, np.array([2, 3]), np.array([2.0, 2.0]))
    >>> r.fid_inf, r.n.tolist()
    (2.0, [2, 3])
    """

    fid_inf: float
    """Intercept of the least-squares line at 1/N = 0: the extrapolated, effectively unbiased FID."""
    slope: float
    """Slope of FID_N against 1/N."""
    n: np.ndarray
    """(p,) int64 sample counts N at which FID_N was computed."""
    fid_n: np.ndarray
    """(p,) FID_N values."""


def _check_noise(noise: object, rng: object, shape: tuple[int, int]) -> np.ndarray:
    """(p, m) uniforms in [0, 1]: the given ``noise``, or drawn as ``rng.random(shape)``; exactly one of them."""
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        return rng.random(shape)
    u = C.as_float64("noise", noise)
    C.check_shape("noise", u, shape)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return u


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
    Isachenko, DGM Lecture 7, slide 'Frechet Inception Distance (FID)', its FID / FID_inf table;
    Chong and Forsyth, Effectively unbiased FID and Inception Score and where to find them, CVPR 2020.

    Examples
    --------
    Real rows 0, 2 (mean 1, variance 2) against fake rows all 1 (variance 0): every FID_N is
    (1 - 1)^2 + (sqrt 2 - 0)^2 = 2, so the line is flat at 2 (closed form):

    >>> r = fid_infinity(np.array([[0.0], [2.0]]), np.ones((4, 1)), batch_sizes=[2, 4], rng=np.random.default_rng(0))
    >>> round(r.fid_inf, 12), round(r.slope, 12)
    (2.0, 0.0)
    """
    x, y = _check_sets(("real_features", "fake_features"), real_features, fake_features, min_rows=(2, 2))
    sizes = np.array(M.fid_infinity_sizes(y.shape[0], batch_sizes, n_points), dtype=np.int64)
    u = _check_noise(noise, rng, (sizes.size, y.shape[0]))

    real = _statistics("real_features", x)
    fid_n = np.empty(sizes.size)
    for j, N in enumerate(sizes):
        fake = _statistics("fake_features", y[np.argsort(u[j], kind="stable")[:N]])
        fid_n[j] = _frechet_of_features("real_features, fake_features", real, fake)
    slope, intercept = np.polyfit(1.0 / sizes, fid_n, 1)
    return FIDInfinity(float(intercept), float(slope), sizes, fid_n)
