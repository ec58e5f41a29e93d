r"""Denoising diffusion (DDPM): schedules, forward process, posterior, ELBO terms, ancestral sampling, guidance.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 13: recap slides 'ELBO of gaussian diffusion model'
  (the ELBO, q(x_{t-1} | x_t, x_0) = N(mu_tilde_t, beta_tilde_t I), L_t as a Gaussian KL),
  'Reparametrization' (mu_theta from eps_theta, the weight of ||eps - eps_theta||^2), 'Simplified
  objective' (L_simple), 'Training' and 'Sampling' (Ho et al. Algorithms 1 and 2), and
  'DDPM vs NCSN' (grad log q(x_t | x_0) = -eps / sqrt(1 - alpha_bar_t), the score reparametrisation).
* Isachenko, Deep Generative Models, Lecture 14: recap 'DDPM objective', 'Classifier guidance' (the
  mean shift mu + sigma^2 g and the corrected eps_hat = eps - gamma sqrt(1 - alpha_bar) grad log p(y | x_t)),
  'Classifier-free guidance' (eps_hat = gamma eps(x_t, y) + (1 - gamma) eps(x_t)).

Submodules
----------
One per group of slides, each a few hundred lines; every public name is re-exported here, so
``reference.diffusion.q_sample`` is the API. ``schedules`` (beta schedules, :class:`Schedule`),
``forward`` (q_step, q_sample, q_posterior), ``conversions`` (eps / x_0 / v / score, the
eps-parametrised mean), ``elbo`` (Gaussian KL, L_t, L_simple, prior KL, weighted DSM), ``likelihood`` (the decoder's
log p(x_0 | x_1), discretised for grid data, and the assembled NLL bound), ``sampling``
(ddpm_step, ddpm_sample, GaussianEps), ``guidance`` (classifier and classifier-free), ``ddim``
(respaced_timesteps, ddim_step, ddim_sample: DDIM with eta, Song et al. 2021, beyond the slides). The
private ``_inputs`` holds the array checks, one combined checker per argument group, with the same names
and contracts on both sides; the pure-Python checks are shared in :mod:`reference._args.diffusion`.

Conventions
-----------
* **Time indices are positions 0..T-1 into the schedule tables.** Position ``t`` holds the slide's step
  ``t + 1``: ``alpha_bars[t]`` is the slide's :math:`\bar\alpha_{t+1} = \prod_{s \le t+1} \alpha_s`,
  ``alpha_bars_prev[t]`` is :math:`\bar\alpha_t`, and the value before the first step is 1
  (``alpha_bars_prev[0] = 1``), as in the DDPM code bases of Ho et al. and Nichol & Dhariwal. Position 0
  is the last reverse step (x_1 -> x_0 in the slide's numbering).
* **Tables are float64** (built once by :class:`Schedule`); the accelerated side builds the same float64
  tables and casts a gathered coefficient to the data's dtype where it is used.
* **Batches.** ``t`` is an integer array with one position per batch element, shape ``(n,)`` for data of
  shape ``(n, ...)`` (any number of feature axes), or shape ``()`` for one position shared by the batch.
  A coefficient gathered at ``t`` is reshaped to ``t.shape + (1,) * (x.ndim - t.ndim)`` and broadcast over
  the remaining axes.
* **Norms and KLs are sums over the feature axes** (the slide's :math:`\|\cdot\|^2`; the KL of the joint
  Gaussian), one value per batch element, in nats. The common code bases average over features
  (``mean_flat``) and report bits: divide by the number of features and by log 2 to compare.
* **Guidance scale.** ``scale`` is the slide's gamma in all three guidance functions; see
  :func:`classifier_free_guidance` for the w = gamma - 1 convention of Ho & Salimans.
* **Randomness** only through ``noise=`` (pre-drawn standard normals) or ``rng=`` (a
  ``numpy.random.Generator``), exactly one of them.

Slide typos. L14 'Classifier guidance' writes the shifted mean as mu + sigma (.) g and completes the
square with it; the square completes with mu + sigma^2 g (the next slide's algorithm uses
mu + beta_tilde g, which is right). :func:`classifier_guided_mean` implements mu + gamma sigma^2 g.

One-sided names: none.
"""

from __future__ import annotations

from .conversions import (
    eps_to_score,
    p_mean_from_eps,
    predict_eps_from_v,
    predict_eps_from_x0,
    predict_x0_from_eps,
    predict_x0_from_v,
    q_score,
    score_to_eps,
    velocity,
)
from .ddim import ddim_sample, ddim_step, respaced_timesteps
from .elbo import (
    elbo_weight,
    gaussian_kl,
    l_simple,
    l_t,
    prior_kl,
    weighted_dsm_loss,
)
from .forward import Posterior, q_posterior, q_sample, q_step
from .guidance import classifier_free_guidance, classifier_guided_eps, classifier_guided_mean
from .likelihood import decoder_log_likelihood, nll_bound
from .sampling import GaussianEps, ddpm_sample, ddpm_step
from .schedules import Schedule, cosine_beta_schedule, linear_beta_schedule

__all__ = [
    "GaussianEps",
    "Posterior",
    "Schedule",
    "classifier_free_guidance",
    "classifier_guided_eps",
    "classifier_guided_mean",
    "cosine_beta_schedule",
    "ddim_sample",
    "ddim_step",
    "ddpm_sample",
    "ddpm_step",
    "decoder_log_likelihood",
    "elbo_weight",
    "eps_to_score",
    "gaussian_kl",
    "l_simple",
    "l_t",
    "linear_beta_schedule",
    "nll_bound",
    "p_mean_from_eps",
    "predict_eps_from_v",
    "predict_eps_from_x0",
    "predict_x0_from_eps",
    "predict_x0_from_v",
    "prior_kl",
    "q_posterior",
    "q_sample",
    "q_score",
    "q_step",
    "respaced_timesteps",
    "score_to_eps",
    "velocity",
    "weighted_dsm_loss",
]
