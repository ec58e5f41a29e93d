"""GAN formulas in PyTorch: value function, optimal discriminator, losses, WGAN, R1/R2, truncation, C2ST.

Same formulas, names and parameters as :mod:`reference.gan` (see it for the slides: Advanced Course
on DGM Lecture 8, 'Two-Sample Tests', 'Discriminator Training Objective', 'Generator Training
Objective', 'For an Optimal Discriminator'; Isachenko DGM Lecture 7, 'GAN optimality theorem',
'Main problems of standard GAN', 'WGAN objective', 'Truncation trick'; beyond the slides the hinge
loss of Lim and Ye 2017 / Miyato et al. 2018 and the R1 / R2 penalties of Mescheder et al. 2018).

Shapes: every per-sample GAN quantity (``d_real`` / ``d_fake``, the logits of the losses, the critic
values of :func:`wasserstein_critic_objective`) has shape ``(n,)`` or ``(n, 1)``: one value per sample
along the first axis, so the ``(n, 1)`` output of a final ``nn.Linear(h, 1)`` goes in as it is (it is
flattened with a view, not copied). The result is a 0-d tensor. The real and the generated set may
have different sizes n. Any other shape, a 0-d tensor, ``(n, 2)`` or leading batch axes, is refused
with a ``ValueError``: ``(n, 1)`` logits against ``(n,)`` labels would otherwise broadcast to an
``(n, n)`` loss. Critic and discriminator inputs ``x`` have shape ``(n, ...)``, any number of feature
axes; gradient norms are taken over all feature axes.

Mixed precision: the losses and penalties take float16 / bfloat16 inputs and run inside
``torch.autocast``. The two per-sample arguments may differ in dtype (autocast makes a discriminator's
logits bfloat16; a generator's samples may be bfloat16 while the data is float32): they are computed
in the promoted dtype, reductions accumulate in at least float32, and the result has
``accumulation_dtype`` of that dtype (float32 for half inputs, so that ``GradScaler`` cannot overflow
it). Results are differentiable with autograd. Other precision choices:

* ``wasserstein_critic_objective`` and the hinge ``generator_loss`` accumulate their means in float64
  (the difference of two nearly equal float32 means, or a mean of logits of both signs, loses the
  answer otherwise);
* ``truncated_normal`` evaluates the inverse normal CDF in float64 for every input dtype and casts
  the samples back: measured on float32 uniforms, the float32 evaluation is off by up to 1.3e-6
  (3 ulp at |z| = 4..8) and keeps no relative precision for |z| < 1e-7, the float64 one by half an
  ulp of the result (the final rounding); latents are small, so the cost does not matter;
* ``classifier_two_sample_test`` runs its Newton solve and returns all its results in float64, on
  the inputs' device, whatever their dtype; it reads the gradient norm on the host once per Newton
  iteration (it is an evaluation procedure, not a training step);
* ``clip_weights`` works *in place* on the given tensors (the reference returns copies).

Penalties (``gradient_penalty``, ``r1_penalty``, ``r2_penalty``) need the critic's input gradient. It is
taken at the *detached* samples (the penalty trains the critic, not the generator), with autograd
switched on inside even under ``torch.no_grad``, and with a graph to the critic's parameters
(``create_graph`` semantics: ``penalty.backward()`` trains them). Under ``torch.compile`` it is
``torch.func.vjp`` of the critic with cotangent ones, which dynamo traces without a graph break (the
same inside the caller's own ``torch.func`` transforms, e.g. ``torch.func.grad`` over the
parameters). In plain eager mode it is ``torch.autograd.grad(..., create_graph=True)``: the same
numbers and parameter gradients (tested against each other and an explicit double backward), 14-17%
less time per penalty forward and backward than an eager ``torch.func.vjp`` (measured on the CPU, a
3-layer MLP critic at batch 64), and it accepts critics that update buffers in the call (BatchNorm in
training mode), which ``torch.func`` refuses (such a critic cannot be compiled inside the penalty).
Under ``torch.no_grad`` the penalty's value is computed and returned without a graph, like any value
computed there; ``torch.inference_mode`` is not supported (autograd cannot record there).

Randomness: an ``rng=`` generator must be on the device of the data it is drawn for (one
``ValueError`` otherwise, never a draw elsewhere and a copy per step); a ``torch.Generator`` cannot
be traced by dynamo, so compiled code draws outside and passes ``noise=``.

Value checks (NaN, finite, in range) are device assertions without a host read (see
``accelerated._checks``); the losses check their 0-d result where that is equivalent (a
cross-entropy or hinge loss is NaN exactly when an input is) and name the offending argument on the
failure path, one assertion per call.

Logit-form losses use ``accelerated._numerics.softplus``: ``F.softplus`` with a dtype-aware threshold
(37 for float64, where the default 20 drops a 2e-9 that a float64 comparison sees), accurate to an ulp
for every input, +-inf included, with gradient sigmoid(x) everywhere.

Submodules
----------
One per group of slides; every public name is re-exported here, so ``accelerated.gan.gan_value`` is the
API. ``objectives`` (V(G, D), D* and its logit, the discriminator and generator losses),
``wasserstein`` (critic objective, weight clipping, interpolates, WGAN-GP, :class:`TanhCritic`),
``zero_centred`` (the R1 / R2 penalties), ``truncation`` (BigGAN truncated normal, StyleGAN psi),
``two_sample`` (the classifier two-sample test and the mean-difference and variance-ratio tests).
The argument checks of each group are one combined
checker per group in the private ``_common`` (tensors), with the pure-Python part shared by both sides in
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
