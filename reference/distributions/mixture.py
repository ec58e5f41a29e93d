"""Gaussian mixtures: log-density, score, responsibilities, sampling from given noise and uniforms, E[x | y].

Slides implemented
------------------
* Beigy, Deep Generative Models: Score-Based Generative Models, slide 'The score function of a
  mixture of two Gaussians' (the mixture score as a responsibility-weighted sum of component scores).
* Advanced Course on DGM, Lecture 8, slide "Tweedie's Formula": :meth:`GaussianMixture.posterior_mean`
  is the exact posterior mean it is checked against.
"""

from __future__ import annotations

import numpy as np
from scipy import special

import reference._args as A
import reference._args.distributions as AD

from .. import _checks as C
from .gaussian import Gaussian, _points

__all__ = ["GaussianMixture", "mixture_log_prob", "mixture_posterior_mean", "mixture_sample", "mixture_score"]


def _check_mixture(
    weights: object, means: object, covs: object
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Weights (K,) on the simplex, finite means (K, d), SPD covariances (K, d, d): ``(weights, means,
    covs, L)`` with covs = L L^T, float64."""
    weights, means, covs = C.as_float64("weights", weights), C.as_float64("means", means), C.as_float64("covs", covs)
    AD.mixture_sizes(weights.shape, means.shape, covs.shape)
    C.check_simplex("weights", weights)
    C.check_finite("means", means)
    return weights, means, covs, C.cholesky_spd("covs", covs)


def _check_1d(means: object, stds: object) -> tuple[np.ndarray, np.ndarray]:
    """Means and standard deviations (K,) of a 1-D mixture: one shape, stds finite and > 0."""
    means, stds = C.as_float64("means", means), C.as_float64("stds", stds)
    AD.one_d_sizes(means.shape, stds.shape)
    C.check_finite("stds", stds)
    if np.any(stds <= 0):
        raise ValueError(f"stds: expected standard deviations > 0, got min {np.min(stds)!r}")
    return means, stds


def _finite_result(name: str, quantity: str, value: np.ndarray) -> np.ndarray:
    """``value``, refused with a ``ValueError`` naming ``name`` where it is not finite (inputs are finite)."""
    if not np.all(np.isfinite(value)):
        raise ValueError(AD.far_points_message(name, quantity))
    return value


def _check_uniforms(uniforms: object, eps: np.ndarray) -> np.ndarray:
    """Uniforms in [0, 1], one per sample of the checked standard normals ``eps`` (..., d)."""
    u = C.as_float64("uniforms", uniforms)
    AD.uniforms(u.shape, eps.shape)
    C.check_in_interval("uniforms", u, 0.0, 1.0)
    return u


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

    Notes
    -----
    Finite points so far from every component that each squared Mahalanobis distance overflows
    float64 (every term is then -inf and the softmax 0/0), or whose component scores overflow, are
    refused with a ``ValueError`` naming the points (``x`` or ``y``) by :meth:`score`,
    :meth:`responsibilities` and :meth:`posterior_mean`, instead of a silent NaN. :meth:`log_prob`
    returns -inf there, the right limit.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians';
    Song and Ermon, Generative Modeling by Estimating Gradients of the Data Distribution, NeurIPS 2019
    (mixtures as the toy targets of score-based sampling).

    Examples
    --------
    Halfway between two mirrored components the component scores +1 and -1 cancel (by symmetry):

    >>> mixture = GaussianMixture.from_1d([0.5, 0.5], [-1.0, 1.0], [1.0, 1.0])
    >>> mixture.score(np.zeros(1)).tolist()
    [0.0]
    """

    def __init__(self, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> None:
        self.weights, self.means, self.covs, self.L = _check_mixture(weights, means, covs)
        self.components = [Gaussian(m, c) for m, c in zip(self.means, self.covs)]
        with np.errstate(divide="ignore"):
            self.log_weights = np.log(self.weights)

    @classmethod
    def from_1d(cls, weights: np.ndarray, means: np.ndarray, stds: np.ndarray) -> GaussianMixture:
        """A 1-D mixture sum_k w_k N(m_k, s_k^2) from (K,) weights, means and standard deviations.

        Notes
        -----
        Standard deviations whose square overflows float64 (above about 1.3e154) are refused with a
        ``ValueError`` naming ``stds``.
        """
        means, stds = _check_1d(means, stds)
        with np.errstate(over="ignore"):
            variances = stds**2
        if not np.all(np.isfinite(variances)):
            raise ValueError(AD.stds_square_message(str(variances.dtype)))
        return cls(weights, means[:, None], variances[:, None, None])

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
        """log p(x) by log-sum-exp over the components; x (..., d) -> (...).

        Notes
        -----
        log p = -inf where every component's quadratic form overflows: the density is 0 in float64; never NaN (finite
        x, since the parameters are checked finite).
        """
        x = _points("x", x, self.means, "means")
        return special.logsumexp(self._component_log_probs(x), axis=-1)

    def responsibilities(self, x: np.ndarray) -> np.ndarray:
        """Posterior component probabilities r_k(x) = p(k | x), a stable softmax; x (..., d) -> (..., K)."""
        x = _points("x", x, self.means, "means")
        with np.errstate(invalid="ignore", over="ignore"):
            r = special.softmax(self._component_log_probs(x), axis=-1)
        return _finite_result("x", "p(k | x)", r)

    def score(self, x: np.ndarray) -> np.ndarray:
        """The score sum_k r_k(x) s_k(x); x (..., d) -> (..., d)."""
        x = _points("x", x, self.means, "means")
        with np.errstate(invalid="ignore", over="ignore"):
            r = special.softmax(self._component_log_probs(x), axis=-1)
        scores = np.stack([g.score(x) for g in self.components], axis=-2)  # (..., K, d)
        with np.errstate(invalid="ignore", over="ignore"):
            return _finite_result("x", "score", np.sum(r[..., None] * scores, axis=-2))

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
        eps = _points("noise", noise, self.means, "means")
        u = _check_uniforms(uniforms, eps)
        k = self._component_indices(u)
        return self.means[k] + np.einsum("...ij,...j->...i", self.L[k], eps)

    def convolve(self, sigma: float) -> GaussianMixture:
        r"""The law of y = x + sigma eps: the mixture with covariances :math:`\Sigma_k + \sigma^2 I`."""
        sigma = A.nonnegative("sigma", sigma)
        return GaussianMixture(self.weights, self.means, self.covs + AD.squared("sigma", sigma) * np.eye(self.dim))

    def posterior_mean(self, y: np.ndarray, sigma: float) -> np.ndarray:
        r"""The exact E[x | y] for y = x + sigma eps, x from the mixture.

        .. math::

            \mathbb E[x \mid y] = \sum_k \tilde r_k(y)\,
                \bigl(\mu_k + \Sigma_k (\Sigma_k + \sigma^2 I)^{-1}(y - \mu_k)\bigr),

        with :math:`\tilde r_k(y)` the responsibilities under the *convolved* components
        :math:`\mathcal N(\mu_k, \Sigma_k + \sigma^2 I)` (the posterior of the component given y).
        It equals Tweedie's :math:`y + \sigma^2 \nabla_y \log p_\sigma(y)` (Advanced Course on DGM,
        Lecture 8, "Tweedie's Formula"); this is the ground truth the score-matching theorems use.

        Parameters
        ----------
        y : (..., d) array_like
            Noisy observations.
        sigma : float
            Noise standard deviation, >= 0.
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.means, "means")
        with np.errstate(invalid="ignore", over="ignore"):
            r = special.softmax(noisy._component_log_probs(y), axis=-1)  # (..., K)
            means = np.stack([g.posterior_mean(y, sigma) for g in self.components], axis=-2)  # (..., K, d)
            return _finite_result("y", "posterior mean", np.sum(r[..., None] * means, axis=-2))


def mixture_log_prob(x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).log_prob(x)``, x (..., d) -> (...).

    Notes
    -----
    log p = -inf where every component's quadratic form overflows: the density is 0 in float64; never NaN (finite
    x, since the parameters are checked finite).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.

    Examples
    --------
    At 0, both components N(-1, 1) and N(1, 1) have density exp(-1/2) / sqrt(2 pi), so
    log p(0) = -1/2 - log(2 pi) / 2 (closed form):

    >>> float(mixture_log_prob(np.zeros(1), np.full(2, 0.5), np.array([[-1.0], [1.0]]), np.ones((2, 1, 1))))
    -1.418939
    """
    return GaussianMixture(weights, means, covs).log_prob(x)


def mixture_score(x: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).score(x)``, x (..., d) -> (..., d).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.

    Examples
    --------
    Halfway between two mirrored components the responsibilities are 1/2 and the scores +1 and -1
    cancel (the slide's responsibility-weighted sum):

    >>> mixture_score(np.zeros(1), np.full(2, 0.5), np.array([[-1.0], [1.0]]), np.ones((2, 1, 1))).tolist()
    [0.0]
    """
    return GaussianMixture(weights, means, covs).score(x)


def mixture_sample(
    noise: np.ndarray, uniforms: np.ndarray, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).sample(noise, uniforms)``, noise (..., d), uniforms (...).

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.

    Examples
    --------
    u = 0.25 < 0.5 = c_1 picks the first component, so x = mu_1 + eps = -1 + 0 (the inverse CDF):

    >>> means = np.array([[-1.0], [1.0]])
    >>> mixture_sample(np.zeros(1), np.array(0.25), np.full(2, 0.5), means, np.ones((2, 1, 1))).tolist()
    [-1.0]
    """
    return GaussianMixture(weights, means, covs).sample(noise, uniforms)


def mixture_posterior_mean(
    y: np.ndarray, sigma: float, weights: np.ndarray, means: np.ndarray, covs: np.ndarray
) -> np.ndarray:
    """``GaussianMixture(weights, means, covs).posterior_mean(y, sigma)``, y (..., d) -> (..., d).

    References
    ----------
    Advanced Course on DGM, Lecture 8, slide "Tweedie's Formula" (the exact E[x | y] that it gives);
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.

    Examples
    --------
    A one-component mixture N(0, 1) with sigma = 1 has E[x | y] = y / 2 (Bayes' rule):

    >>> mixture_posterior_mean(np.full(1, 2.0), 1.0, np.ones(1), np.zeros((1, 1)), np.ones((1, 1, 1))).tolist()
    [1.0]
    """
    return GaussianMixture(weights, means, covs).posterior_mean(y, sigma)
