"""Gaussian and Gaussian-mixture families: log-density, score, sampling from given noise, noisy marginals.

These are the analytic targets that the theorems and demos of :mod:`langevin` and
:mod:`score_matching` use: everything a score-based method needs (log p, the score grad log p,
samples, and the exact posterior mean E[x | y] of the denoising problem y = x + sigma eps) is
available in closed form.

Submodules: :mod:`~reference.distributions.gaussian` (:class:`Gaussian` and its functional forms),
:mod:`~reference.distributions.mixture` (:class:`GaussianMixture` and its functional forms).

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
