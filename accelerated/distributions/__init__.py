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

Submodules: :mod:`~accelerated.distributions.gaussian`, :mod:`~accelerated.distributions.mixture`.

One-sided names: none.
"""

from __future__ import annotations

from .gaussian import Gaussian, gaussian_log_prob, gaussian_posterior_mean, gaussian_sample, gaussian_score
from .mixture import GaussianMixture, mixture_log_prob, mixture_posterior_mean, mixture_sample, mixture_score

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
