"""The multivariate Gaussian N(mean, cov) in PyTorch: log-density, score, sampling, noisy marginal, E[x | y].

Same class and functional forms as :mod:`reference.distributions.gaussian` (see it for the slides:
Beigy, 'Score function (One-dimensional Gaussian distribution)'; Advanced Course on DGM, Lecture 8,
"Tweedie's Formula"). The covariance algebra runs in float64 (see :mod:`accelerated.distributions`).
"""

from __future__ import annotations

import math

import torch

import reference._args as A
import reference._args.distributions as AD

from .. import _checks as C

__all__ = ["Gaussian", "gaussian_log_prob", "gaussian_posterior_mean", "gaussian_sample", "gaussian_score"]

LOG_2PI = math.log(2.0 * math.pi)
F64 = torch.float64


def _points(name: str, x: object, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """A tensor of finite points (..., d), d = ``like.shape[-1]``, of the dtype and device of the parameter
    ``like`` (named ``like_name``)."""
    x = C.as_float_tensor(name, x)
    C.check_same_device_dtype((name, like_name), (x, like))
    AD.points(name, x.shape, like.shape[-1], like_name)
    C.check_finite(name, x)  # skipped automatically inside torch.func transforms
    return x


def _check_gaussian(mean: object, cov: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A finite mean (d,) and an SPD covariance (d, d) of one dtype and device: ``(mean, cov, L)`` with
    cov = L L^T, L in float64."""
    mean, cov = C.as_float_tensor("mean", mean), C.as_float_tensor("cov", cov)
    C.check_same_device_dtype(("mean", "cov"), (mean, cov))
    AD.gaussian_dim(mean.shape, cov.shape)
    C.check_finite("mean", mean)
    return mean, cov, C.cholesky_spd("cov", cov.to(F64))


def _mahalanobis_and_solve(L: torch.Tensor, diff: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For L (..., d, d) lower and diff (..., m, d): (||L^{-1} diff_i||^2 (..., m), Sigma^{-1} diff_i (..., m, d))."""
    z = torch.linalg.solve_triangular(L.mT, diff, upper=True, left=False)  # rows z_i^T = diff_i^T L^{-T}
    solved = torch.linalg.solve_triangular(L, z, upper=False, left=False)  # rows z_i^T L^{-1} = Sigma^{-1} diff_i
    return (z * z).sum(dim=-1), solved


class Gaussian:
    r"""Multivariate normal N(mean, cov) with a cached float64 Cholesky factor (see the reference).

    .. math::

        \log p(x) = -\tfrac12 \lVert L^{-1}(x - \mu) \rVert^2 - \sum_i \log L_{ii} - \tfrac d2 \log 2\pi,
        \qquad s(x) = -\Sigma^{-1}(x - \mu), \quad \Sigma = L L^\top.

    Parameters
    ----------
    mean : (d,) Tensor
        The mean, finite.
    cov : (d, d) Tensor
        Symmetric positive definite covariance; same dtype and device as ``mean``.

    Notes
    -----
    The Cholesky factor ``L`` and every solve are float64 whatever the parameters' dtype; results are
    cast back to it.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'.

    Examples
    --------
    log N(0; 0, 1) = -log(2 pi) / 2 (closed form):

    >>> float(Gaussian(torch.zeros(1, dtype=F64), torch.eye(1, dtype=F64)).log_prob(torch.zeros(1, dtype=F64)))
    -0.918939
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        self.mean, self.cov, self.L = _check_gaussian(mean, cov)  # L: float64, lower
        self._mean64 = self.mean.to(F64)

    @property
    def dim(self) -> int:
        """The dimension d."""
        return self.mean.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.mean.dtype

    @property
    def device(self) -> torch.device:
        return self.mean.device

    def __repr__(self) -> str:
        return f"Gaussian(dim={self.dim}, dtype={self.dtype}, device={self.device})"

    def _diff(self, x: torch.Tensor) -> torch.Tensor:
        return (x.to(F64) - self._mean64).reshape(-1, self.dim)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log N(x; mean, cov) for x of shape (..., d); returns (...), in the parameters' dtype.

        Notes
        -----
        log p = -inf where the quadratic form overflows: the density is 0 in float64 (or the float64
        value is below the range of the parameters' dtype, e.g. float32); never NaN (finite x, since the
        parameters are checked finite).
        """
        x = _points("x", x, self.mean, "mean")
        z = torch.linalg.solve_triangular(self.L.mT, self._diff(x), upper=True, left=False)
        log_det = 2.0 * torch.log(torch.diagonal(self.L)).sum()
        out = -0.5 * ((z * z).sum(dim=-1) + log_det + self.dim * LOG_2PI)
        return out.reshape(x.shape[:-1]).to(self.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """The score -cov^{-1}(x - mean) for x of shape (..., d); returns (..., d)."""
        x = _points("x", x, self.mean, "mean")
        _, solved = _mahalanobis_and_solve(self.L, self._diff(x))
        return (-solved).reshape(x.shape).to(self.dtype)

    def sample(self, noise: torch.Tensor) -> torch.Tensor:
        """Samples mean + L eps from standard normals ``noise`` of shape (..., d)."""
        eps = _points("noise", noise, self.mean, "mean")
        return (self._mean64 + eps.to(F64) @ self.L.mT).to(self.dtype)

    def convolve(self, sigma: float) -> Gaussian:
        """N(mean, cov + sigma^2 I): the law of x + sigma eps (the noisy marginal p_sigma).

        A sigma whose square overflows float64 (above about 1.3e154) is refused with a ``ValueError``
        naming ``sigma``.
        """
        sigma = A.nonnegative("sigma", sigma)
        cov64 = self.cov.to(F64) + AD.squared("sigma", sigma) * torch.eye(self.dim, dtype=F64, device=self.device)
        noisy = Gaussian(self.mean, cov64.to(self.dtype))
        # Keep the float64 sum for the computations: rounding cov + sigma^2 I to float32 first would lose
        # a small sigma^2 against a large variance (the posterior mean then errs by 10% in float32).
        noisy.L = C.cholesky_spd("cov", cov64)
        return noisy

    def posterior_mean(self, y: torch.Tensor, sigma: float) -> torch.Tensor:
        r"""E[x | y] for y = x + sigma eps: :math:`\mu + \Sigma(\Sigma + \sigma^2 I)^{-1}(y - \mu)`.

        Equal to Tweedie's :math:`y + \sigma^2 \nabla_y \log p_\sigma(y)` (Advanced Course on DGM,
        Lecture 8, "Tweedie's Formula"). y (..., d) -> (..., d); sigma >= 0.
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.mean, "mean")
        _, solved = _mahalanobis_and_solve(noisy.L, self._diff(y))
        out = self._mean64 + solved @ self.cov.to(F64).mT
        return out.reshape(y.shape).to(self.dtype)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).log_prob(x)``, x (..., d) -> (...).

    Notes
    -----
    log p = -inf where the quadratic form overflows: the density is 0 in float64 (or the float64
    value is below the range of the parameters' dtype, e.g. float32); never NaN (finite x, since the
    parameters are checked finite).

    **Slide typo.** Beigy's slide 'Score function (One-dimensional Gaussian distribution)' writes the
    log density as -log(sqrt(2 pi) sigma) 1/2 ((x - mu) / sigma)^2, a product: the minus sign between
    the two terms is missing. The correct form, computed here (in its d-dimensional version), is
    -log(sqrt(2 pi) sigma) - 1/2 ((x - mu) / sigma)^2, the log of
    exp(-1/2 ((x - mu) / sigma)^2) / (sqrt(2 pi) sigma).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'.

    Examples
    --------
    log N(0; 0, 1) = -log(2 pi) / 2 (closed form):

    >>> zero, one = torch.zeros(1, dtype=F64), torch.eye(1, dtype=F64)
    >>> float(gaussian_log_prob(zero, zero, one))
    -0.918939
    """
    return Gaussian(mean, cov).log_prob(x)


def gaussian_score(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).score(x)``, x (..., d) -> (..., d).

    Notes
    -----
    **Slide typo.** Beigy's slide 'Score function (One-dimensional Gaussian distribution)' derives the
    score from a log density printed without the minus sign between its two terms
    (-log(sqrt(2 pi) sigma) 1/2 ((x - mu) / sigma)^2) and prints the result as mu x / sigma^2. The
    correct score, computed here, is (mu - x) / sigma^2, the derivative of
    -log(sqrt(2 pi) sigma) - 1/2 ((x - mu) / sigma)^2 (in d dimensions -cov^{-1} (x - mean)).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'.

    Examples
    --------
    s(x) = (mu - x) / sigma^2 = (1.5 - 0) / 0.25 (Beigy's 1-D formula):

    >>> x, mu, var = torch.zeros(1, dtype=F64), torch.tensor([1.5], dtype=F64), torch.tensor([[0.25]], dtype=F64)
    >>> gaussian_score(x, mu, var).tolist()
    [6.0]
    """
    return Gaussian(mean, cov).score(x)


def gaussian_sample(noise: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).sample(noise)``, noise (..., d) -> (..., d).

    Examples
    --------
    x = mu + sigma eps = 1 + 2 * 0.5 for N(1, 4) (the reparametrisation):

    >>> eps, mu, var = torch.tensor([0.5], dtype=F64), torch.ones(1, dtype=F64), torch.tensor([[4.0]], dtype=F64)
    >>> gaussian_sample(eps, mu, var).tolist()
    [2.0]
    """
    return Gaussian(mean, cov).sample(noise)


def gaussian_posterior_mean(y: torch.Tensor, sigma: float, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).posterior_mean(y, sigma)``, y (..., d) -> (..., d).

    Examples
    --------
    For x ~ N(0, 1) and sigma = 1, E[x | y] = y / 2 (Bayes' rule for two Gaussians):

    >>> y, mu, var = torch.tensor([2.0], dtype=F64), torch.zeros(1, dtype=F64), torch.eye(1, dtype=F64)
    >>> gaussian_posterior_mean(y, 1.0, mu, var).tolist()
    [1.0]
    """
    return Gaussian(mean, cov).posterior_mean(y, sigma)
