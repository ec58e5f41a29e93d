"""Gaussian and Gaussian-mixture families: log-density, score, sampling from given noise, noisy marginals.

These are the analytic targets that the theorems and demos of :mod:`langevin` and
:mod:`score_matching` use: everything a score-based method needs (log p, the score grad log p,
samples, and the exact posterior mean E[x | y] of the denoising problem y = x + sigma eps) is
available in closed form.

Slides implemented
------------------
* Beigy, Deep Generative Models: Score-Based Generative Models, slides 'Score function
  (One-dimensional Gaussian distribution)' (s(x) = (mu - x) / sigma^2; the extracted slide prints
  "mu x", a typo for "mu - x") and 'The score function of a mixture of two Gaussians' (the mixture
  score as a responsibility-weighted sum of component scores).
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models, the Tweedie slides
  (E[x | x + sigma eps] = y + sigma^2 grad log p_sigma(y)): :meth:`Gaussian.posterior_mean` and
  :meth:`GaussianMixture.posterior_mean` are the exact posterior means it is checked against.

Conventions: a point is a row ``x`` of shape ``(..., d)``; every method is batched over the leading
axes. Randomness is an argument: :meth:`Gaussian.sample` takes standard normals ``noise`` and
:meth:`GaussianMixture.sample` also the uniforms that pick the components. The module-level
functions (``gaussian_log_prob(x, mean, cov)``, ...) are the methods in functional form; they are the
pairs the crosscheck registers.

One-sided names: none.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, special

from . import _checks as C

__all__ = [
    "Gaussian",
    "GaussianMixture",
    "gaussian_log_prob",
    "gaussian_posterior_mean",
    "gaussian_sample",
    "gaussian_score",
    "mixture_log_prob",
    "mixture_posterior_mean",
    "mixture_sample",
    "mixture_score",
]

LOG_2PI = math.log(2.0 * math.pi)


def _noise_level(sigma: object) -> float:
    """sigma >= 0, finite (sigma = 0 is the noiseless limit: convolve is the identity)."""
    sigma = C.check_real_scalar("sigma", sigma)
    if sigma < 0:
        raise ValueError(f"sigma: expected a noise standard deviation >= 0, got {sigma!r}")
    return sigma


def _points(name: str, x: object, d: int) -> np.ndarray:
    """A float64 array of points of shape (..., d), finite."""
    x = C.as_float64(name, x)
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(f"{name}: expected points of shape (..., {d}) (d = {d} from the parameters), got {x.shape}")
    C.check_finite(name, x)
    return x


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
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian
    distribution)' (the 1-D case s(x) = (mu - x) / sigma^2).
    """

    def __init__(self, mean: np.ndarray, cov: np.ndarray) -> None:
        mean = C.as_float64("mean", mean)
        cov = C.as_float64("cov", cov)
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise ValueError(f"mean: expected a vector of shape (d,) with d >= 1, got shape {mean.shape}")
        d = mean.shape[0]
        if cov.shape != (d, d):
            raise ValueError(f"cov: expected shape ({d}, {d}) (d = {d} from mean), got shape {cov.shape}")
        C.check_finite("mean", mean)
        self.mean = mean
        self.cov = cov
        self.L = C.cholesky_spd("cov", cov)

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
        """
        x = _points("x", x, self.dim)
        diff = (x - self.mean).reshape(-1, self.dim)
        z = linalg.solve_triangular(self.L, diff.T, lower=True)  # (d, m)
        mahalanobis = np.sum(z * z, axis=0)
        log_det = 2.0 * np.sum(np.log(np.diag(self.L)))
        return (-0.5 * (mahalanobis + log_det + self.dim * LOG_2PI)).reshape(x.shape[:-1])

    def score(self, x: np.ndarray) -> np.ndarray:
        r"""The score :math:`-\Sigma^{-1}(x - \mu)` at points x of shape (..., d); returns (..., d)."""
        x = _points("x", x, self.dim)
        diff = (x - self.mean).reshape(-1, self.dim)
        return -linalg.cho_solve((self.L, True), diff.T).T.reshape(x.shape)

    def sample(self, noise: np.ndarray) -> np.ndarray:
        r"""Samples :math:`x = \mu + L \varepsilon` from standard normals ``noise`` of shape (..., d)."""
        eps = _points("noise", noise, self.dim)
        return self.mean + eps @ self.L.T

    def convolve(self, sigma: float) -> Gaussian:
        r"""The law of y = x + sigma eps, eps ~ N(0, I) independent of x: N(mean, cov + sigma^2 I).

        This is the noisy marginal p_sigma of denoising score matching and Tweedie's formula.
        """
        sigma = _noise_level(sigma)
        return Gaussian(self.mean, self.cov + sigma**2 * np.eye(self.dim))

    def posterior_mean(self, y: np.ndarray, sigma: float) -> np.ndarray:
        r"""E[x | y] for y = x + sigma eps, x ~ N(mean, cov): the Bayes-rule closed form.

        .. math::

            \mathbb E[x \mid y] = \mu + \Sigma (\Sigma + \sigma^2 I)^{-1} (y - \mu)
            = y + \sigma^2 \nabla_y \log p_\sigma(y),

        the second form being Tweedie's formula (Advanced Course on DGM, Lecture 8, Tweedie slides;
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
        y = _points("y", y, self.dim)
        diff = (y - self.mean).reshape(-1, self.dim)
        solved = linalg.cho_solve((noisy.L, True), diff.T)  # (Sigma + sigma^2 I)^{-1} (y - mu), (d, m)
        return (self.mean + (self.cov @ solved).T).reshape(y.shape)


class GaussianMixture:
    r"""Mixture of K Gaussians, :math:`p(x) = \sum_k \pi_k\, \mathcal N(x; \mu_k, \Sigma_k)`.

    .. math::

        \log p(x) = \operatorname{logsumexp}_k \bigl(\log \pi_k + \log \mathcal N(x; \mu_k, \Sigma_k)\bigr),
        \qquad
        s(x) = \sum_k r_k(x)\, \bigl(-\Sigma_k^{-1}(x - \mu_k)\bigr),
        \quad r_k(x) = \operatorname{softmax}_k\bigl(\log \pi_k + \log \mathcal N(x; \mu_k, \Sigma_k)\bigr).

    Components with weight 0 are allowed (log 0 = -inf: they never contribute); their covariance must
    still be symmetric positive definite.

    Parameters
    ----------
    weights : (K,) array_like
        Mixture weights pi on the simplex (non-negative, summing to 1 within 1e-5).
    means : (K, d) array_like
        Component means, finite.
    covs : (K, d, d) array_like
        Component covariances, symmetric positive definite.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians';
    Song and Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS 2019
    (mixtures as the toy targets of score-based sampling).
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
        weights = C.as_float64("weights", weights)
        means = C.as_float64("means", means)
        covs = C.as_float64("covs", covs)
        if weights.ndim != 1:
            raise ValueError(f"weights: expected a vector of shape (K,), got shape {weights.shape}")
        C.check_simplex("weights", weights)
        K = weights.shape[0]
        if means.ndim != 2 or means.shape[0] != K or means.shape[1] == 0:
            raise ValueError(f"means: expected shape ({K}, d) with d >= 1 (K = {K} from weights), got {means.shape}")
        d = means.shape[1]
        if covs.shape != (K, d, d):
            raise ValueError(f"covs: expected shape ({K}, {d}, {d}) (K, d from means), got shape {covs.shape}")
        C.check_finite("means", means)
        self.weights, self.means, self.covs = weights, means, covs
        self.L = C.cholesky_spd("covs", covs)
        self.components = [Gaussian(means[k], covs[k]) for k in range(K)]
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(weights)

    @classmethod
    def from_1d(cls, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> GaussianMixture:
        """A 1-D mixture sum_k w_k N(m_k, s_k^2) from (K,) weights, means and standard deviations."""
        means = C.as_float64("means", means)
        stds = C.as_float64("stds", stds)
        if means.ndim != 1 or stds.shape != means.shape:
            raise ValueError(f"means, stds: expected two vectors of one shape (K,), got {means.shape} and {stds.shape}")
        C.check_finite("stds", stds)
        if np.any(stds <= 0):
            raise ValueError(f"stds: expected standard deviations > 0, got min {np.min(stds)!r}")
        return cls(weights, means[:, None], (stds**2)[:, None, None])

    @property
    def dim(self) -> int:
        """The dimension d."""
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        """The number of components K."""
        return self.means.shape[0]

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim})"

    def _component_log_probs(self, x: np.ndarray) -> np.ndarray:
        """log pi_k + log N(x; mu_k, Sigma_k), shape (..., K)."""
        return np.stack([lw + g.log_prob(x) for lw, g in zip(self.log_weights, self.components)], axis=-1)

    def log_prob(self, x: np.ndarray) -> np.ndarray:
        """log p(x) by log-sum-exp over the components; x (..., d) -> (...)."""
        x = _points("x", x, self.dim)
        return special.logsumexp(self._component_log_probs(x), axis=-1)

    def responsibilities(self, x: np.ndarray) -> np.ndarray:
        """Posterior component probabilities r_k(x) = p(k | x), a stable softmax; x (..., d) -> (..., K)."""
        x = _points("x", x, self.dim)
        return special.softmax(self._component_log_probs(x), axis=-1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """The score sum_k r_k(x) s_k(x); x (..., d) -> (..., d)."""
        x = _points("x", x, self.dim)
        r = self.responsibilities(x)
        scores = np.stack([g.score(x) for g in self.components], axis=-2)  # (..., K, d)
        return np.sum(r[..., None] * scores, axis=-2)

    def _component_indices(self, uniforms: np.ndarray) -> np.ndarray:
        """Inverse CDF of the component law at u: k = #{j : c_j <= u}, c the cumulative weights.

        Capped at the last component of positive weight (u = 1, or a cumulative sum that rounds
        below 1), so a zero-weight component is never chosen.
        """
        c = np.cumsum(self.weights)
        last_positive = int(np.flatnonzero(self.weights > 0)[-1])
        return np.minimum(np.searchsorted(c, uniforms, side="right"), last_positive)

    def sample(self, noise: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
        r"""Samples :math:`x = \mu_k + L_k \varepsilon` with k drawn by the inverse CDF of the weights.

        .. math::

            k = \#\{j : c_j \le u\}, \quad c_j = \sum_{i \le j} \pi_i, \qquad x = \mu_k + L_k \varepsilon,

        so k = j with probability pi_j for u ~ U[0, 1].

        Parameters
        ----------
        noise : (..., d) array_like
            Standard normals eps.
        uniforms : (...) array_like
            Uniforms u in [0, 1], one per sample (the batch shape of ``noise``).
        """
        eps = _points("noise", noise, self.dim)
        u = C.as_float64("uniforms", uniforms)
        if u.shape != eps.shape[:-1]:
            raise ValueError(
                f"uniforms: expected shape {eps.shape[:-1]} (one per sample: noise has shape {eps.shape}), "
                f"got {u.shape}"
            )
        C.check_in_interval("uniforms", u, 0.0, 1.0)
        k = self._component_indices(u)
        return self.means[k] + np.einsum("...ij,...j->...i", self.L[k], eps)

    def convolve(self, sigma: float) -> GaussianMixture:
        r"""The law of y = x + sigma eps: the mixture with covariances :math:`\Sigma_k + \sigma^2 I`."""
        sigma = _noise_level(sigma)
        return GaussianMixture(self.weights, self.means, self.covs + sigma**2 * np.eye(self.dim))

    def posterior_mean(self, y: np.ndarray, sigma: float) -> np.ndarray:
        r"""The exact E[x | y] for y = x + sigma eps, x from the mixture.

        .. math::

            \mathbb E[x \mid y] = \sum_k \tilde r_k(y)\,
                \bigl(\mu_k + \Sigma_k (\Sigma_k + \sigma^2 I)^{-1}(y - \mu_k)\bigr),

        with :math:`\tilde r_k(y)` the responsibilities under the *convolved* components
        :math:`\mathcal N(\mu_k, \Sigma_k + \sigma^2 I)` (the posterior of the component given y).
        It equals Tweedie's :math:`y + \sigma^2 \nabla_y \log p_\sigma(y)` (Advanced Course on DGM,
        Lecture 8, Tweedie slides); this is the ground truth the score-matching theorems use.

        Parameters
        ----------
        y : (..., d) array_like
            Noisy observations.
        sigma : float
            Noise standard deviation, >= 0.
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.dim)
        r = noisy.responsibilities(y)  # (..., K)
        means = np.stack([g.posterior_mean(y, sigma) for g in self.components], axis=-2)  # (..., K, d)
        return np.sum(r[..., None] * means, axis=-2)


# --------------------------------------------------------------------------- functional forms


def gaussian_log_prob(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).log_prob(x)``: log N(x; mean, cov), x (..., d) -> (...)."""
    return Gaussian(mean, cov).log_prob(x)


def gaussian_score(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).score(x)``: -cov^{-1}(x - mean), x (..., d) -> (..., d)."""
    return Gaussian(mean, cov).score(x)


def gaussian_sample(noise: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).sample(noise)``: mean + L noise, noise (..., d) -> (..., d)."""
    return Gaussian(mean, cov).sample(noise)


def gaussian_posterior_mean(y: np.ndarray, sigma: float, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """``Gaussian(mean, cov).posterior_mean(y, sigma)``: E[x | x + sigma eps = y], y (..., d) -> (..., d)."""
    return Gaussian(mean, cov).posterior_mean(y, sigma)


def mixture_log_prob(x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).log_prob(x)``, x (..., d) -> (...)."""
    return GaussianMixture(weights, means, covs).log_prob(x)


def mixture_score(x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).score(x)``, x (..., d) -> (..., d)."""
    return GaussianMixture(weights, means, covs).score(x)


def mixture_sample(
    noise: np.ndarray, uniforms: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).sample(noise, uniforms)``, noise (..., d), uniforms (...)."""
    return GaussianMixture(weights, means, covs).sample(noise, uniforms)


def mixture_posterior_mean(
    y: np.ndarray, sigma: float, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).posterior_mean(y, sigma)``, y (..., d) -> (..., d)."""
    return GaussianMixture(weights, means, covs).posterior_mean(y, sigma)
