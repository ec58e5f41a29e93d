"""Gaussian mixtures in PyTorch: log-density, score, responsibilities, sampling, E[x | y].

Same class and functional forms as :mod:`reference.distributions.mixture` (see it for the slides:
Beigy, 'The score function of a mixture of two Gaussians'; Advanced Course on DGM, Lecture 8,
"Tweedie's Formula"). The components are batched in float64 (see :mod:`accelerated.distributions`).
"""

from __future__ import annotations

import torch

import reference._args as A
import reference._args.distributions as AD

from .. import _checks as C
from .gaussian import F64, LOG_2PI, _mahalanobis_and_solve, _points

__all__ = ["GaussianMixture", "mixture_log_prob", "mixture_posterior_mean", "mixture_sample", "mixture_score"]


def _check_mixture(
    weights: object, means: object, covs: object
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Weights (K,) on the simplex, finite means (K, d), SPD covariances (K, d, d), of one dtype and
    device: ``(weights, means, covs, L)`` with covs = L L^T, L in float64."""
    names = ("weights", "means", "covs")
    weights, means, covs = tensors = [C.as_float_tensor(n, v) for n, v in zip(names, (weights, means, covs))]
    C.check_same_device_dtype(names, tensors)
    AD.mixture_sizes(weights.shape, means.shape, covs.shape)
    C.check_simplex("weights", weights)
    C.check_finite("means", means)
    return weights, means, covs, C.cholesky_spd("covs", covs.to(F64))


def _check_1d(means: object, stds: object) -> tuple[torch.Tensor, torch.Tensor]:
    """Means and standard deviations (K,) of a 1-D mixture: one shape, stds finite and > 0."""
    means, stds = C.as_float_tensor("means", means), C.as_float_tensor("stds", stds)
    AD.one_d_sizes(means.shape, stds.shape)
    C.check_finite("stds", stds)
    if C.value_checks_active() and bool((stds <= 0).any()):
        raise ValueError(f"stds: expected standard deviations > 0, got min {float(stds.min())!r}")
    return means, stds


def _finite_result(name: str, quantity: str, value: torch.Tensor) -> torch.Tensor:
    """``value``, refused on the device (no host read) with a ``ValueError`` naming ``name`` where it is not
    finite (the inputs are checked finite; see the reference's ``_finite_result``)."""
    if value.numel() and C.value_checks_active():
        C.require(C.result_flag(value), AD.far_points_message(name, quantity))
    return value


def _check_uniforms(uniforms: object, eps: torch.Tensor) -> torch.Tensor:
    """Uniforms in [0, 1], one per sample of the checked standard normals ``eps`` (..., d), of its dtype
    and device."""
    u = C.as_float_tensor("uniforms", uniforms)
    C.check_same_device_dtype(("uniforms", "noise"), (u, eps))
    AD.uniforms(u.shape, eps.shape)
    C.check_in_interval("uniforms", u, 0.0, 1.0)
    return u


class GaussianMixture:
    r"""Mixture of K Gaussians, batched over the components in float64 (see the reference).

    .. math::

        \log p(x) = \operatorname{logsumexp}_k \bigl(\log \pi_k + \log \mathcal N(x; \mu_k, \Sigma_k)\bigr),
        \qquad s(x) = \sum_k r_k(x)\, \bigl(-\Sigma_k^{-1}(x - \mu_k)\bigr).

    Parameters
    ----------
    weights : (K,) Tensor
        Weights on the simplex (zeros allowed).
    means : (K, d) Tensor
        Component means.
    covs : (K, d, d) Tensor
        Symmetric positive definite covariances. All three of one dtype and device.

    Notes
    -----
    The components are batched in float64 (Cholesky factors, solves, log-sum-exp); results are cast
    back to the parameters' dtype.
    Points at which the score, the responsibilities or the posterior mean are not finite (every squared
    Mahalanobis distance overflows) are refused as on the reference side, by a device-side check.

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.

    Examples
    --------
    Halfway between two mirrored components the component scores +1 and -1 cancel (by symmetry):

    >>> w, m, s = torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([-1.0, 1.0], dtype=F64), torch.ones(2, dtype=F64)
    >>> GaussianMixture.from_1d(w, m, s).score(torch.zeros(1, dtype=F64)).tolist()
    [0.0]
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> None:
        self.weights, self.means, self.covs, self.L = _check_mixture(weights, means, covs)  # L: (K, d, d) float64
        self._means64 = self.means.to(F64)
        self.log_weights = torch.log(self.weights.to(F64))  # -inf for a zero weight
        self._log_det = 2.0 * torch.log(torch.diagonal(self.L, dim1=-2, dim2=-1)).sum(dim=-1)  # (K,)
        index = torch.arange(self.n_components, device=self.device)
        self._last_positive = torch.where(self.weights > 0, index, -1).max()  # a tensor: no host read

    @classmethod
    def from_1d(cls, weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor) -> GaussianMixture:
        """A 1-D mixture sum_k w_k N(m_k, s_k^2) from (K,) weights, means and standard deviations.

        Notes
        -----
        Standard deviations whose square overflows the dtype (above about 1.3e154 in float64, 1.8e19 in
        float32) are refused with a ``ValueError`` naming ``stds`` (a device-side check, no host read).
        """
        means, stds = _check_1d(means, stds)
        variances = stds**2
        if variances.numel() and C.value_checks_active():
            C.require(C.finite_flag(variances), AD.stds_square_message(str(variances.dtype).removeprefix("torch.")))
        return cls(weights, means[:, None], variances[:, None, None])

    @property
    def dim(self) -> int:
        """The dimension d."""
        return self.means.shape[1]

    @property
    def n_components(self) -> int:
        """The number of components K."""
        return self.means.shape[0]

    @property
    def dtype(self) -> torch.dtype:
        return self.means.dtype

    @property
    def device(self) -> torch.device:
        return self.means.device

    def __repr__(self) -> str:
        return f"GaussianMixture(n_components={self.n_components}, dim={self.dim}, dtype={self.dtype})"

    def _log_probs_and_scores(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Float64 component terms log pi_k + log N_k (m, K) and component scores (m, K, d) of x (..., d)."""
        diff = x.to(F64).reshape(1, -1, self.dim) - self._means64[:, None, :]  # (K, m, d)
        mahalanobis, solved = _mahalanobis_and_solve(self.L, diff)  # (K, m), (K, m, d)
        log_probs = self.log_weights[:, None] - 0.5 * (mahalanobis + self._log_det[:, None] + self.dim * LOG_2PI)
        return log_probs.mT, (-solved).transpose(0, 1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x) by log-sum-exp over the components (float64); x (..., d) -> (...).

        Notes
        -----
        log p = -inf where every component's quadratic form overflows: the density is 0 in float64 (or the float64
        value is below the range of the parameters' dtype, e.g. float32); never NaN (finite x, since the
        parameters are checked finite).
        """
        x = _points("x", x, self.means, "means")
        log_probs, _ = self._log_probs_and_scores(x)
        return torch.logsumexp(log_probs, dim=-1).reshape(x.shape[:-1]).to(self.dtype)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """p(k | x) by a stable softmax of the component terms; x (..., d) -> (..., K)."""
        x = _points("x", x, self.means, "means")
        log_probs, _ = self._log_probs_and_scores(x)
        r = _finite_result("x", "p(k | x)", torch.softmax(log_probs, dim=-1))
        return r.reshape(*x.shape[:-1], self.n_components).to(self.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """sum_k r_k(x) s_k(x); x (..., d) -> (..., d)."""
        x = _points("x", x, self.means, "means")
        log_probs, scores = self._log_probs_and_scores(x)
        r = torch.softmax(log_probs, dim=-1)
        out = (r[..., None] * scores).sum(dim=-2).reshape(x.shape).to(self.dtype)
        return _finite_result("x", "score", out)

    def sample(self, noise: torch.Tensor, uniforms: torch.Tensor) -> torch.Tensor:
        r"""mean_k + L_k eps with k = #{j : c_j <= u} (inverse CDF of the cumulative weights c).

        Parameters
        ----------
        noise : (..., d) Tensor
            Standard normals.
        uniforms : (...) Tensor
            Uniforms in [0, 1], one per sample; same dtype and device as the parameters.
        """
        eps = _points("noise", noise, self.means, "means")
        u = _check_uniforms(uniforms, eps)
        c = torch.cumsum(self.weights.to(F64), dim=0)
        k = torch.searchsorted(c, u.to(F64).contiguous(), right=True)
        k = torch.minimum(k, self._last_positive)
        x = self._means64[k] + (self.L[k] @ eps.to(F64).unsqueeze(-1)).squeeze(-1)
        return x.to(self.dtype)

    def convolve(self, sigma: float) -> GaussianMixture:
        """The mixture with covariances cov_k + sigma^2 I: the law of x + sigma eps."""
        sigma = A.nonnegative("sigma", sigma)
        covs64 = self.covs.to(F64) + AD.squared("sigma", sigma) * torch.eye(self.dim, dtype=F64, device=self.device)
        noisy = GaussianMixture(self.weights, self.means, covs64.to(self.dtype))
        # As in Gaussian.convolve: the computations use the float64 sum, not its rounding.
        noisy.L = C.cholesky_spd("covs", covs64)
        noisy._log_det = 2.0 * torch.log(torch.diagonal(noisy.L, dim1=-2, dim2=-1)).sum(dim=-1)
        return noisy

    def posterior_mean(self, y: torch.Tensor, sigma: float) -> torch.Tensor:
        r"""Exact E[x | y] for y = x + sigma eps (see :meth:`reference.distributions.GaussianMixture.posterior_mean`).

        .. math::

            \mathbb E[x \mid y] = \sum_k \tilde r_k(y)\,
                \bigl(\mu_k + \Sigma_k (\Sigma_k + \sigma^2 I)^{-1}(y - \mu_k)\bigr).
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.means, "means")
        log_probs, noisy_scores = noisy._log_probs_and_scores(y)  # noisy_scores = -(S_k + s^2 I)^{-1}(y - m_k)
        r = torch.softmax(log_probs, dim=-1)  # (m, K)
        # mu_k + Sigma_k (Sigma_k + sigma^2 I)^{-1} (y - mu_k), rows: (m, K, d)
        means = self._means64 - torch.einsum("mkj,kij->mki", noisy_scores, self.covs.to(F64))
        out = (r[..., None] * means).sum(dim=-2).reshape(y.shape).to(self.dtype)
        return _finite_result("y", "posterior mean", out)


def mixture_log_prob(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).log_prob(x)``, x (..., d) -> (...).

    Notes
    -----
    log p = -inf where every component's quadratic form overflows: the density is 0 in float64 (or the float64
    value is below the range of the parameters' dtype, e.g. float32); never NaN (finite x, since the
    parameters are checked finite).

    Examples
    --------
    At 0, N(-1, 1) and N(1, 1) both have density exp(-1/2) / sqrt(2 pi): log p(0) = -1/2 - log(2 pi) / 2:

    >>> w, m = torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([[-1.0], [1.0]], dtype=F64)
    >>> c = torch.ones(2, 1, 1, dtype=F64)
    >>> float(mixture_log_prob(torch.zeros(1, dtype=F64), w, m, c))
    -1.418939
    """
    return GaussianMixture(weights, means, covs).log_prob(x)


def mixture_score(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).score(x)``, x (..., d) -> (..., d).

    Examples
    --------
    Halfway between two mirrored components the scores +1 and -1 cancel (responsibilities 1/2 each):

    >>> w, m = torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([[-1.0], [1.0]], dtype=F64)
    >>> c = torch.ones(2, 1, 1, dtype=F64)
    >>> mixture_score(torch.zeros(1, dtype=F64), w, m, c).tolist()
    [0.0]
    """
    return GaussianMixture(weights, means, covs).score(x)


def mixture_sample(
    noise: torch.Tensor, uniforms: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor
) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).sample(noise, uniforms)``, noise (..., d), uniforms (...).

    Examples
    --------
    u = 0.25 < 0.5 = c_1 picks the first component, so x = mu_1 + eps = -1 + 0 (the inverse CDF):

    >>> w, m = torch.tensor([0.5, 0.5], dtype=F64), torch.tensor([[-1.0], [1.0]], dtype=F64)
    >>> c = torch.ones(2, 1, 1, dtype=F64)
    >>> mixture_sample(torch.zeros(1, dtype=F64), torch.tensor(0.25, dtype=F64), w, m, c).tolist()
    [-1.0]
    """
    return GaussianMixture(weights, means, covs).sample(noise, uniforms)


def mixture_posterior_mean(
    y: torch.Tensor, sigma: float, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor
) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).posterior_mean(y, sigma)``, y (..., d) -> (..., d).

    Examples
    --------
    A one-component mixture N(0, 1) with sigma = 1 has E[x | y] = y / 2 (Bayes' rule):

    >>> w, m, c = torch.ones(1, dtype=F64), torch.zeros(1, 1, dtype=F64), torch.ones(1, 1, 1, dtype=F64)
    >>> mixture_posterior_mean(torch.full((1,), 2.0, dtype=F64), 1.0, w, m, c).tolist()
    [1.0]
    """
    return GaussianMixture(weights, means, covs).posterior_mean(y, sigma)
