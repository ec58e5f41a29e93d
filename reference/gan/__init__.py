"""Generative adversarial networks: value function, optimal discriminator, losses, WGAN, R1/R2, truncation, C2ST.

Slides implemented
------------------
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models:
  'Two-Sample Tests' and the log-odds slide after them (classifier two-sample test; the mean-difference and variance
  statistics: Welch t and F tests),
  'Discriminator Training Objective' (V(G, D) and D*), 'Generator Training Objective',
  'For an Optimal Discriminator' (V(G, D*) = 2 JSD - log 4), 'GAN training algorithm'.
* Isachenko, Deep Generative Models, Lecture 7: recap slides 'GAN optimality theorem' and
  'Main problems of standard GAN' (non-saturating generator loss), 'WGAN objective'
  (critic objective, weight clipping to [-c, c]; the gradient penalty of Gulrajani et al. enforces the
  same Lipschitz constraint softly), 'Truncation trick' (BigGAN truncated normal, StyleGAN psi).
* Beyond the slides: the hinge loss (Lim and Ye 2017, Geometric GAN; Miyato et al. 2018, Spectral
  Normalization, eq. (17)) and the R1 / R2 gradient penalties (Mescheder, Geiger, Nowozin 2018,
  Which Training Methods for GANs do actually Converge?, eq. (9) and (10)).

Conventions: discriminator outputs ``D`` are probabilities in [0, 1]; *logits* are ``l = logit(D)``
and all logit-form losses use the stable softplus ``log(1 + e^l) = logaddexp(0, l)``, never
``log(sigmoid(l))``, so logits of +-1000 give exact finite losses.

Shapes: every per-sample GAN quantity (``d_real`` / ``d_fake`` of :func:`gan_value`, the logits of
:func:`discriminator_loss` and :func:`generator_loss`, the critic values of
:func:`wasserstein_critic_objective`) has shape ``(n,)`` or ``(n, 1)``: one value per sample along the
first axis, so the ``(n, 1)`` output of a final ``Linear(h, 1)`` layer goes in as it is. The result is
a 0-d scalar (the mean over the samples). The real and the generated set may have different sizes n.
Any other shape, a 0-d value, ``(n, 2)`` or leading batch axes, is refused with a ``ValueError``: a
silent broadcast of ``(n, 1)`` against ``(n,)`` or a mean over the wrong axis would give a loss of the
wrong shape or value. Critic and discriminator inputs ``x`` have shape ``(n, ...)``: one sample per
row, any number of feature axes; gradient norms are taken over all feature axes.

Submodules
----------
One per group of slides; every public name is re-exported here, so ``reference.gan.gan_value`` is the
API. ``objectives`` (V(G, D), D* and its logit, the discriminator and generator losses),
``wasserstein`` (critic objective, weight clipping, interpolates, WGAN-GP, :class:`TanhCritic`),
``zero_centred`` (the R1 / R2 penalties), ``truncation`` (BigGAN truncated normal, StyleGAN psi),
``two_sample`` (the classifier two-sample test and the mean-difference and variance-ratio tests).
The argument checks of each group are one combined
checker per group in the private ``_common`` (arrays), with the pure-Python part shared by both sides in
``reference._args.gan``.

One-sided names: none.
"""

from __future__ import annotations

from reference._args.gan import DISCRIMINATOR_LOSS_KINDS, GENERATOR_LOSS_KINDS  # noqa: F401  (re-exported)

from .objectives import (
    discriminator_loss,
    gan_value,
    generator_loss,
    optimal_discriminator,
    optimal_discriminator_logit,
)
from .truncation import truncate_latent, truncated_normal
from .two_sample import C2STResult, classifier_two_sample_test, mean_difference_test, variance_ratio_test
from .wasserstein import (
    TanhCritic,
    clip_weights,
    gradient_penalty,
    gradient_penalty_from_gradients,
    interpolate,
    wasserstein_critic_objective,
)
from .zero_centred import r1_penalty, r1_penalty_from_gradients, r2_penalty

__all__ = [
    "C2STResult",
    "TanhCritic",
    "classifier_two_sample_test",
    "clip_weights",
    "discriminator_loss",
    "gan_value",
    "generator_loss",
    "gradient_penalty",
    "gradient_penalty_from_gradients",
    "interpolate",
    "mean_difference_test",
    "optimal_discriminator",
    "optimal_discriminator_logit",
    "r1_penalty",
    "r1_penalty_from_gradients",
    "r2_penalty",
    "truncate_latent",
    "truncated_normal",
    "variance_ratio_test",
    "wasserstein_critic_objective",
]
