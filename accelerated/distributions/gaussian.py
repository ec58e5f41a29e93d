"""Gaussian and Gaussian-mixture families in PyTorch: log-density, score, sampling, noisy marginals.

Same classes, methods and functional forms as :mod:`reference.distributions` (see it for the slides:
Beigy, Score-Based Generative Models, 'Score function (One-dimensional Gaussian distribution)' and
'The score function of a mixture of two Gaussians'; Advanced Course on DGM, Lecture 8, the Tweedie
slides for the posterior mean).

Plain classes holding tensors (not ``nn.Module``: these are fixed analytic targets). The dtype and
device are those of the parameters; points passed to a method must have the same dtype and device.

Precision: the covariance algebra (Cholesky factors, triangular solves, log-determinants,
log-sum-exp over components) runs in float64 whatever the parameters' dtype, and results are cast
back to it. A float32 solve with a covariance of condition number 1e4 loses four of its seven digits;
the targets are small (d and K of a toy problem), so the float64 cost does not matter.

Autograd: every method is differentiable (through the float64 casts) in ``x`` and in the parameter
tensors; ``score(x)`` equals ``torch.autograd.grad(log_prob(x).sum(), x)`` (checked in the tests).

Value checks: methods check that ``x`` is finite, by a device-side assertion (no host read) that
``accelerated.value_checks(False)`` turns off; the samplers turn it off inside their loops. The check
is skipped inside ``torch.func`` transforms (``vmap`` cannot assert on data), so
``torch.func.vmap(target.score)`` and ``vmap(jacrev(target.log_prob))`` work.

One-sided names: none.
"""

from __future__ import annotations

import math

import torch

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
F64 = torch.float64


def _noise_level(sigma: object) -> float:
    sigma = C.check_real_scalar("sigma", sigma)
    if sigma < 0:
        raise ValueError(f"sigma: expected a noise standard deviation >= 0, got {sigma!r}")
    return sigma


def _points(name: str, x: object, like: torch.Tensor, like_name: str) -> torch.Tensor:
    """A tensor of points (..., d) with the dtype and device of the parameter ``like``, finite."""
    x = C.as_float_tensor(name, x)
    C.check_same_device_dtype((name, like_name), (x, like))
    d = like.shape[-1]
    if x.ndim < 1 or x.shape[-1] != d:
        raise ValueError(
            f"{name}: expected points of shape (..., {d}) (d = {d} from the parameters), got {tuple(x.shape)}"
        )
    C.check_finite(name, x)  # skipped automatically inside torch.func transforms
    return x


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

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'Score function (One-dimensional Gaussian distribution)'.
    """

    def __init__(self, mean: torch.Tensor, cov: torch.Tensor) -> None:
        mean = C.as_float_tensor("mean", mean)
        cov = C.as_float_tensor("cov", cov)
        C.check_same_device_dtype(("mean", "cov"), (mean, cov))
        if mean.ndim != 1 or mean.shape[0] == 0:
            raise ValueError(f"mean: expected a vector of shape (d,) with d >= 1, got shape {tuple(mean.shape)}")
        d = mean.shape[0]
        if tuple(cov.shape) != (d, d):
            raise ValueError(f"cov: expected shape ({d}, {d}) (d = {d} from mean), got shape {tuple(cov.shape)}")
        C.check_finite("mean", mean)
        self.mean = mean
        self.cov = cov
        self.L = C.cholesky_spd("cov", cov.to(F64))  # float64, lower
        self._mean64 = mean.to(F64)

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
        """log N(x; mean, cov) for x of shape (..., d); returns (...), in the parameters' dtype."""
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
        """N(mean, cov + sigma^2 I): the law of x + sigma eps (the noisy marginal p_sigma)."""
        sigma = _noise_level(sigma)
        cov64 = self.cov.to(F64) + sigma**2 * torch.eye(self.dim, dtype=F64, device=self.device)
        noisy = Gaussian(self.mean, cov64.to(self.dtype))
        # Keep the float64 sum for the computations: rounding cov + sigma^2 I to float32 first would lose
        # a small sigma^2 against a large variance (the posterior mean then errs by 10% in float32).
        noisy.L = C.cholesky_spd("cov", cov64)
        return noisy

    def posterior_mean(self, y: torch.Tensor, sigma: float) -> torch.Tensor:
        r"""E[x | y] for y = x + sigma eps: :math:`\mu + \Sigma(\Sigma + \sigma^2 I)^{-1}(y - \mu)`.

        Equal to Tweedie's :math:`y + \sigma^2 \nabla_y \log p_\sigma(y)` (Advanced Course on DGM,
        Lecture 8, Tweedie slides). y (..., d) -> (..., d); sigma >= 0.
        """
        noisy = self.convolve(sigma)
        y = _points("y", y, self.mean, "mean")
        _, solved = _mahalanobis_and_solve(noisy.L, self._diff(y))
        out = self._mean64 + solved @ self.cov.to(F64).mT
        return out.reshape(y.shape).to(self.dtype)


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

    References
    ----------
    Beigy, Score-Based Generative Models, slide 'The score function of a mixture of two Gaussians'.
    """

    def __init__(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> None:
        weights = C.as_float_tensor("weights", weights)
        means = C.as_float_tensor("means", means)
        covs = C.as_float_tensor("covs", covs)
        C.check_same_device_dtype(("weights", "means", "covs"), (weights, means, covs))
        if weights.ndim != 1:
            raise ValueError(f"weights: expected a vector of shape (K,), got shape {tuple(weights.shape)}")
        C.check_simplex("weights", weights)
        K = weights.shape[0]
        if means.ndim != 2 or means.shape[0] != K or means.shape[1] == 0:
            raise ValueError(
                f"means: expected shape ({K}, d) with d >= 1 (K = {K} from weights), got {tuple(means.shape)}"
            )
        d = means.shape[1]
        if tuple(covs.shape) != (K, d, d):
            raise ValueError(f"covs: expected shape ({K}, {d}, {d}) (K, d from means), got shape {tuple(covs.shape)}")
        C.check_finite("means", means)
        self.weights, self.means, self.covs = weights, means, covs
        self.L = C.cholesky_spd("covs", covs.to(F64))  # (K, d, d) float64
        self._means64 = means.to(F64)
        self.log_weights = torch.log(weights.to(F64))  # -inf for a zero weight
        self._log_det = 2.0 * torch.log(torch.diagonal(self.L, dim1=-2, dim2=-1)).sum(dim=-1)  # (K,)
        index = torch.arange(K, device=weights.device)
        self._last_positive = torch.where(weights > 0, index, -1).max()  # a tensor: no host read

    @classmethod
    def from_1d(cls, weights: torch.Tensor, means: torch.Tensor, stds: torch.Tensor) -> GaussianMixture:
        """A 1-D mixture sum_k w_k N(m_k, s_k^2) from (K,) weights, means and standard deviations."""
        means = C.as_float_tensor("means", means)
        stds = C.as_float_tensor("stds", stds)
        if means.ndim != 1 or stds.shape != means.shape:
            raise ValueError(
                f"means, stds: expected two vectors of one shape (K,), got {tuple(means.shape)} and {tuple(stds.shape)}"
            )
        C.check_finite("stds", stds)
        if C.value_checks_active() and bool((stds <= 0).any()):
            raise ValueError(f"stds: expected standard deviations > 0, got min {float(stds.min())!r}")
        return cls(weights, means[:, None], (stds**2)[:, None, None])

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
        """log p(x) by log-sum-exp over the components (float64); x (..., d) -> (...)."""
        x = _points("x", x, self.means, "means")
        log_probs, _ = self._log_probs_and_scores(x)
        return torch.logsumexp(log_probs, dim=-1).reshape(x.shape[:-1]).to(self.dtype)

    def responsibilities(self, x: torch.Tensor) -> torch.Tensor:
        """p(k | x) by a stable softmax of the component terms; x (..., d) -> (..., K)."""
        x = _points("x", x, self.means, "means")
        log_probs, _ = self._log_probs_and_scores(x)
        r = torch.softmax(log_probs, dim=-1)
        return r.reshape(*x.shape[:-1], self.n_components).to(self.dtype)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """sum_k r_k(x) s_k(x); x (..., d) -> (..., d)."""
        x = _points("x", x, self.means, "means")
        log_probs, scores = self._log_probs_and_scores(x)
        r = torch.softmax(log_probs, dim=-1)
        return (r[..., None] * scores).sum(dim=-2).reshape(x.shape).to(self.dtype)

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
        u = C.as_float_tensor("uniforms", uniforms)
        C.check_same_device_dtype(("uniforms", "means"), (u, self.means))
        if u.shape != eps.shape[:-1]:
            raise ValueError(
                f"uniforms: expected shape {tuple(eps.shape[:-1])} (one per sample: noise has shape "
                f"{tuple(eps.shape)}), got {tuple(u.shape)}"
            )
        C.check_in_interval("uniforms", u, 0.0, 1.0)
        c = torch.cumsum(self.weights.to(F64), dim=0)
        k = torch.searchsorted(c, u.to(F64).contiguous(), right=True)
        k = torch.minimum(k, self._last_positive)
        x = self._means64[k] + (self.L[k] @ eps.to(F64).unsqueeze(-1)).squeeze(-1)
        return x.to(self.dtype)

    def convolve(self, sigma: float) -> GaussianMixture:
        """The mixture with covariances cov_k + sigma^2 I: the law of x + sigma eps."""
        sigma = _noise_level(sigma)
        covs64 = self.covs.to(F64) + sigma**2 * torch.eye(self.dim, dtype=F64, device=self.device)
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
        return (r[..., None] * means).sum(dim=-2).reshape(y.shape).to(self.dtype)


# --------------------------------------------------------------------------- functional forms


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).log_prob(x)``, x (..., d) -> (...)."""
    return Gaussian(mean, cov).log_prob(x)


def gaussian_score(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).score(x)``, x (..., d) -> (..., d)."""
    return Gaussian(mean, cov).score(x)


def gaussian_sample(noise: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).sample(noise)``, noise (..., d) -> (..., d)."""
    return Gaussian(mean, cov).sample(noise)


def gaussian_posterior_mean(y: torch.Tensor, sigma: float, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """``Gaussian(mean, cov).posterior_mean(y, sigma)``, y (..., d) -> (..., d)."""
    return Gaussian(mean, cov).posterior_mean(y, sigma)


def mixture_log_prob(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).log_prob(x)``, x (..., d) -> (...)."""
    return GaussianMixture(weights, means, covs).log_prob(x)


def mixture_score(x: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).score(x)``, x (..., d) -> (..., d)."""
    return GaussianMixture(weights, means, covs).score(x)


def mixture_sample(
    noise: torch.Tensor, uniforms: torch.Tensor, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor
) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).sample(noise, uniforms)``, noise (..., d), uniforms (...)."""
    return GaussianMixture(weights, means, covs).sample(noise, uniforms)


def mixture_posterior_mean(
    y: torch.Tensor, sigma: float, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor
) -> torch.Tensor:
    """``GaussianMixture(weights, means, covs).posterior_mean(y, sigma)``, y (..., d) -> (..., d)."""
    return GaussianMixture(weights, means, covs).posterior_mean(y, sigma)
