r"""FID and FID_inf in PyTorch: statistics and distance in float64, results in the features' dtype.

Same formulas, names and parameters as :mod:`reference.metrics.fid` (slides: Isachenko, DGM Lecture
7, 'Frechet Inception Distance' and 'Frechet Inception Distance (FID)' with its FID / FID_inf table;
Advanced Course on DGM, Lecture 8, 'Computing FID'). ``frechet_distance`` is
:func:`accelerated.transport.gaussian_w2` with ``squared=True`` (its dtype rules apply).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import torch

from reference._args import metrics as M

from .. import _checks as C
from .. import transport
from ._common import F64, _check_sets
from .statistics import _check_no_overflow, _covariance, _moments, _statistics

__all__ = ["FIDInfinity", "fid", "fid_infinity", "frechet_distance"]


def frechet_distance(mu1: torch.Tensor, sigma1: torch.Tensor, mu2: torch.Tensor, sigma2: torch.Tensor) -> torch.Tensor:
    r"""Frechet distance = squared 2-Wasserstein distance between two Gaussians (see the reference).

    .. math::

        \mathrm{FID} = \|\mu_1 - \mu_2\|^2
        + \operatorname{tr}\Big[\Sigma_1 + \Sigma_2 - 2\big(\Sigma_1^{1/2}\Sigma_2\Sigma_1^{1/2}\big)^{1/2}\Big].

    Parameters
    ----------
    mu1, mu2 : (..., d) Tensor
    sigma1, sigma2 : (..., d, d) Tensor
        Same dtype and device; batch axes broadcast.

    Returns
    -------
    (...) Tensor
        FID.

    Notes
    -----
    Exactly :func:`accelerated.transport.gaussian_w2` with ``squared=True``: a Cholesky factor and one
    symmetric eigenvalue problem in float64, batched, on the inputs' device; no ``sqrtm``, no
    eigenvalues of the non-symmetric product.

    An eigenvalue problem that does not converge (``torch.linalg.LinAlgError``: covariance entries
    around 1e154 and beyond, whose products overflow float64) is a ``ValueError`` naming
    ``sigma1, sigma2``, as on the reference side.

    Examples
    --------
    In 1-D, W_2^2(N(1, 4), N(2, 1)) = (1 - 2)^2 + (2 - 1)^2 = 2 (closed form):

    >>> t = torch.tensor
    >>> float(frechet_distance(t([1.0]), t([[4.0]]), t([2.0]), t([[1.0]])))
    2.0
    """
    try:
        return transport.gaussian_w2(mu1, sigma1, mu2, sigma2, squared=True)
    except torch.linalg.LinAlgError as err:  # (NumPy's is a ValueError: caught first)
        raise ValueError(f"sigma1, sigma2: {M.NOT_CONVERGED}") from err
    except (ValueError, TypeError) as err:  # name the arguments as the caller wrote them
        raise type(err)(re.sub(r"\bcov([12])\b", r"sigma\1", str(err))) from err


# The leading "mu1, sigma1, mu2, sigma2: " (or part of it) of frechet_distance's errors: replaced by the feature sets.
_ARGUMENTS = re.compile(r"^(?:(?:mu|sigma)[12](?:, |: ))+")


def _frechet_of_features(names: str, mu1, sigma1, mu2, sigma2) -> torch.Tensor:
    """:func:`frechet_distance` of two feature sets' statistics; its errors name the feature sets."""
    try:
        return frechet_distance(mu1, sigma1, mu2, sigma2)
    except ValueError as err:
        message = _ARGUMENTS.sub("", str(err), count=1)
        raise ValueError(f"{names}: {message}") from err


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

    Notes
    -----
    Statistics that overflow float64 are refused naming the feature set, and a Frechet distance that
    overflows from finite statistics is a ``ValueError`` naming ``features1, features2`` (a device-side
    assertion), as on the reference side.

    Examples
    --------
    Rows 0, 2 and rows 1, 3: both variances 2, means 1 and 2, so FID = (1 - 2)^2 + 0 = 1 (closed form):

    >>> round(float(fid(torch.tensor([[0.0], [2.0]]), torch.tensor([[1.0], [3.0]]))), 12)
    1.0
    """
    x, y = _check_sets(("features1", "features2"), features1, features2, min_rows=(2, 2))
    s1, s2 = _statistics("features1", x), _statistics("features2", y)
    return _frechet_of_features("features1, features2", s1.mu, s1.sigma, s2.mu, s2.sigma).to(x.dtype)


class FIDInfinity(NamedTuple):
    """Result of :func:`fid_infinity` (tensors in the features' dtype, ``n`` int64).

    Examples
    --------
    Fake rows that are all equal give the same FID_N = 2 at every N (see :func:`fid_infinity`):

    >>> r = FIDInfinity(torch.tensor(2.0), torch.tensor(0.0), torch.tensor([2, 3]), torch.tensor([2.0, 2.0]))
    >>> float(r.fid_inf), r.n.tolist()
    (2.0, [2, 3])
    """

    fid_inf: torch.Tensor
    """() intercept of the least-squares line at 1/N = 0."""
    slope: torch.Tensor
    """() slope of FID_N against 1/N."""
    n: torch.Tensor
    """(p,) int64 sample counts N."""
    fid_n: torch.Tensor
    """(p,) FID_N values."""


def _check_noise(noise: object, rng: object, shape: tuple[int, int], device: torch.device) -> torch.Tensor:
    """(p, m) float64 uniforms in [0, 1] on ``device``: the given ``noise``, or drawn by ``rng`` (on ``device``)."""
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        C.check_generator(rng, device)
        return torch.rand(shape, generator=rng, device=device, dtype=F64)
    u = C.as_float_tensor("noise", noise)
    C.check_shape("noise", u, shape)
    C.check_in_interval("noise", u, 0.0, 1.0)
    return u.to(device)


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
    from the generator (on its device).

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

    Notes
    -----
    The statistics of the subsets are gathered chunk by chunk in float64 (no subset is copied whole),
    and each FID_N is one :func:`accelerated.transport.gaussian_w2` call (one d x d problem in memory
    at a time). The line is fitted in float64 by the closed-form least squares.

    Examples
    --------
    Real rows 0, 2 (mean 1, variance 2) against fake rows all 1 (variance 0): every FID_N is
    (1 - 1)^2 + (sqrt 2 - 0)^2 = 2, so the line is flat at 2 (closed form):

    >>> real, fake = torch.tensor([[0.0], [2.0]], dtype=torch.float64), torch.ones(4, 1, dtype=torch.float64)
    >>> r = fid_infinity(real, fake, batch_sizes=[2, 4], rng=torch.Generator().manual_seed(0))
    >>> round(float(r.fid_inf), 12), round(float(r.slope), 12)
    (2.0, 0.0)
    """
    x, y = _check_sets(("real_features", "fake_features"), real_features, fake_features, min_rows=(2, 2))
    sizes = M.fid_infinity_sizes(y.shape[0], batch_sizes, n_points)
    u = _check_noise(noise, rng, (len(sizes), y.shape[0]), y.device)
    order = torch.argsort(u, dim=1, stable=True)  # (p, m): row j is a permutation

    real = _statistics("real_features", x)
    fid_n = []
    names = "real_features, fake_features"
    for j, N in enumerate(sizes):  # one d x d problem at a time: memory stays O(d^2)
        _, mu, m2 = _moments(y, order[j, :N])
        _check_no_overflow("fake_features", mu, m2)
        fid_n.append(_frechet_of_features(names, real.mu, real.sigma, mu, _covariance(m2, N)))
    fid_n = torch.stack(fid_n)

    inv_n = torch.tensor([1.0 / N for N in sizes], dtype=F64, device=y.device)
    dx = inv_n - inv_n.mean()
    slope = (dx * (fid_n - fid_n.mean())).sum() / (dx * dx).sum()
    intercept = fid_n.mean() - slope * inv_n.mean()
    n = torch.as_tensor(sizes, dtype=torch.int64, device=y.device)
    return FIDInfinity(intercept.to(y.dtype), slope.to(y.dtype), n, fid_n.to(y.dtype))
