"""The multivariate Gaussian N(mean, cov): log-density, score, sampling from given noise, noisy marginal, E[x | y].

Slides implemented
------------------
* Beigy, Deep Generative Models: Score-Based Generative Models, slide 'Score function
  (One-dimensional Gaussian distribution)': s(x) = (mu - x) / sigma^2, here for any d,
  s(x) = -Sigma^{-1}(x - mu).
* Advanced Course on DGM, Lecture 8, slide "Tweedie's Formula": :meth:`Gaussian.posterior_mean`
  is the exact E[x | x + sigma eps] it is checked against.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg

import reference._args as A
import reference._args.distributions as AD

from .. import _checks as C

__all__ = ["Gaussian", "gaussian_log_prob", "gaussian_posterior_mean", "gaussian_sample", "gaussian_score"]

LOG_2PI = math.log(2.0 * math.pi)


def _points(name: str, x: object, like: np.ndarray, like_name: str) -> np.ndarray:
    """A float64 array of finite points of shape (..., d), d = ``like.shape[-1]`` (the parameter ``like_name``)."""
    x = C.as_float64(name, x)
    AD.points(name, x.shape, like.shape[-1], like_name)
    C.check_finite(name, x)
    return x


def _check_gaussian(mean: object, cov: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A finite mean (d,) and an SPD covariance (d, d): ``(mean, cov, L)`` with cov = L L^T, float64."""
    mean, cov = C.as_float64("mean", mean), C.as_float64("cov", cov)
    AD.gaussian_dim(mean.shape, cov.shape)
    C.check_finite("mean", mean)
    return mean, cov, C.cholesky_spd("cov", cov)


class Gaussian:
    r"""Multivariate normal N(mean, cov) with a cached Cholesky factor cov = L L^T.

    .. math::

        \log p(x) = -\tfrac12 (x - \mu)^\top \Sigma^{-1} (x - \mu) - \tfrac12 \log\det \Sigma
                    - \tfrac d2 \log 2\pi, \qquad
        s(x) = \nabla_x \log p(x) = -\Sigma^{-1} (x - \mu).

    Parameters
    ----------
    mean : (d,) array_like
        The mean mu, finite.
    cov : (d, d) array_like
        The covariance Sigma, symmetric positive definite (checked by a Cholesky factorisation).

    Attributes
    ----------
    mean, cov, L : ndarray
        The parameters (float64) and the lower Cholesky factor of ``cov``.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'
    (the 1-D case s(x) = (mu - x) / sigma^2).

    Examples
    --------
    log N(0; 0, 1) = -log(2 pi) / 2 (closed form):

    >>> float(Gaussian(np.zeros(1), np.eye(1)).log_prob(np.zeros(1)))
    -0.918939
    """

    def __init__(self, mean: np.ndarray, cov: np.ndarray) -> None:
        self.mean, self.cov, self.L = _check_gaussian(mean, cov)

    @property
    def dim(self) -> int:
        """The dimension d."""
        return self.mean.shape[0]

    def __repr__(self) -> str:
        return f"Gaussian(dim={self.dim})"

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        r"""log N(x; mean, cov) for points x of shape (..., d); returns (...).

        The Mahalanobis term is :math:`\lVert L^{-1}(x - \mu)\rVert^2` (a triangular solve) and
        :math:`\log\det\Sigma = 2 \sum_i \log L_{ii}`.

        Notes
        -----
        log p = -inf where the quadratic form overflows: the density is 0 in float64; never NaN (finite
        x, since the parameters are checked finite).
        """
        x = _points("x", x, self.mean, "mean")
        diff = (x - self.mean).reshape(-1, self.dim)
        z = linalg.solve_triangular(self.L, diff.T, lower=True)  # (d, m)
        with np.errstate(over="ignore"):  # an overflow is the documented -inf
            mahalanobis = np.sum(z * z, axis=0)
        log_det = 2.0 * np.sum(np.log(np.diag(self.L)))
        return (-0.5 * (mahalanobis + log_det + self.dim * LOG_2PI)).reshape(x.shape[:-1])

    def score(self, x: np.ndarray) -> np.ndarray:
        r"""The score :math:`-\Sigma^{-1}(x - \mu)` at points x of shape (..., d); returns (..., d)."""
        x = _points("x", x, self.mean, "mean")
        diff = (x - self.mean).reshape(-1, self.dim)
        return -linalg.cho_solve((self.L, True), diff.T).T.reshape(x.shape)

    def sample(self, noise: np.ndarray) -> np.ndarray:
        r"""Samples :math:`x = \mu + L \varepsilon` from standard normals ``noise`` of shape (..., d)."""
        eps = _points("noise", noise, self.mean, "mean")
        return self.mean + eps @ self.L.T

    def convolve(self, sigma: float) -> Gaussian:
        r"""The law of y = x + sigma eps, eps ~ N(0, I) independent of x: N(mean, cov + sigma^2 I).

        This is the noisy marginal p_sigma of denoising score matching and Tweedie's formula.

        A sigma whose square overflows float64 (above about 1.3e154) is refused with a ``ValueError``
        naming ``sigma``.
        """
        sigma = A.nonnegative("sigma", sigma)
        return Gaussian(self.mean, self.cov + AD.squared("sigma", sigma) * np.eye(self.dim))

    def posterior_mean(self, y: np.ndarray, sigma: float) -> np.ndarray:
        r"""E[x | y] for y = x + sigma eps, x ~ N(mean, cov): the Bayes-rule closed form.

        .. math::

            \mathbb E[x \mid y] = \mu + \Sigma (\Sigma + \sigma^2 I)^{-1} (y - \mu)
            = y + \sigma^2 \nabla_y \log p_\sigma(y),

        the second form being Tweedie's formula (Advanced Course on DGM, Lecture 8, "Tweedie's Formula";
        Efron, Tweedie's Formula and Selection Bias, JASA 2011). Computed by the first form with a
        Cholesky solve of :math:`\Sigma + \sigma^2 I`.

        Parameters
        ----------
        y : (..., d) array_like
            Noisy observations.
        sigma : float
            Noise standard deviation, >= 0 (sigma = 0 returns y).
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.mean, "mean")
        diff = (y - self.mean).reshape(-1, self.dim)
        solved = linalg.cho_solve((noisy.L, True), diff.T)  # (Sigma + sigma^2 I)^{-1} (y - mu), (d, m)
        return (self.mean + (self.cov @ solved).T).reshape(y.shape)


def gaussian_log_prob(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).log_prob(x)``: log N(x; mean, cov), x (..., d) -> (...).

    Notes
    -----
    log p = -inf where the quadratic form overflows: the density is 0 in float64; never NaN (finite
    x, since the parameters are checked finite).

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

    >>> float(gaussian_log_prob(np.zeros(1), np.zeros(1), np.eye(1)))
    -0.918939
    """
    return Gaussian(mean, cov).log_prob(x)


def gaussian_score(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).score(x)``: -cov^{-1}(x - mean), x (..., d) -> (..., d).

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
    s(x) = (mu - x) / sigma^2 = (1.5 - 0) / 0.25 (the slide's 1-D formula):

    >>> gaussian_score(np.zeros(1), np.full(1, 1.5), np.full((1, 1), 0.25)).tolist()
    [6.0]
    """
    return Gaussian(mean, cov).score(x)


def gaussian_sample(noise: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).sample(noise)``: mean + L noise, noise (..., d) -> (..., d).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'.

    Examples
    --------
    x = mu + sigma eps = 1 + 2 * 0.5 for N(1, 4) (the reparametrisation):

    >>> gaussian_sample(np.full(1, 0.5), np.ones(1), np.full((1, 1), 4.0)).tolist()
    [2.0]
    """
    return Gaussian(mean, cov).sample(noise)


def gaussian_posterior_mean(y: np.ndarray, sigma: float, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).posterior_mean(y, sigma)``: E[x | x + sigma eps = y], y (..., d) -> (..., d).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide "Tweedie's Formula" (the exact E[x | y] that it gives);
    Efron, Tweedie's Formula and Selection Bias, JASA 2011.

    Examples
    --------
    For x ~ N(0, 1) and sigma = 1, E[x | y] = y / 2 (Bayes' rule for two Gaussians):

    >>> gaussian_posterior_mean(np.full(1, 2.0), 1.0, np.zeros(1), np.eye(1)).tolist()
    [1.0]
    """
    return Gaussian(mean, cov).posterior_mean(y, sigma)
