"""Score matching: Fisher divergence, explicit (KDE), implicit, sliced and denoising score matching, NCSN, Tweedie.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7: 'Fisher divergence' (D_F = 1/2 E ||s_theta - grad log pi||^2)
  and the 'Denoising score matching' slides (theorem, proof, the objective
  E ||s_theta,sigma(x + sigma eps) + eps / sigma||^2).
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models: 'Score Matching Via
  Fisher Divergence', 'Score Matching' (Hyvarinen's E[1/2 ||s||^2 + tr(grad s)]) with 'Proof: 1D',
  'Hard to scale', 'Sliced Score Matching', "Tweedie's Formula" and 'Denoising Score Matching'.
* Isachenko, Deep Generative Models, Lecture 13: 'Implicit score matching' (theorem and 1-D proof),
  'Sliced score matching (Hutchinson's trace estimation)', 'Denoising score matching' and
  'Noise Conditioned Score Network (NCSN)' (geometric sigma_1 > ... > sigma_L, the sigma^2-weighted
  objective, training with l ~ U[1, L]); Lecture 14 recaps them ('Recap of previous lecture').
* Beigy, Deep Generative Models: Score-Based Generative Models: 'Score Matching (SM)' (explicit score
  matching with a kernel density estimator), the implicit-SM and DSM slides (including the variance of
  DSM as sigma -> 0), the NCSN slide (decreasing geometric noise levels, loss weight sigma_t^2) and the
  sliced score matching estimator.

Submodules
----------
One per group of slides; every public name is re-exported here, so ``reference.score_matching.ncsn_loss``
is the API. ``explicit`` (fisher_divergence, sliced_fisher_divergence, kde_log_density, kde_score,
explicit_score_matching),
``implicit`` (jacobian_trace, implicit_score_matching, hutchinson_trace, sliced_score_matching,
sliced_score_matching_vr), ``energy_forms`` (the energy forms implicit_score_matching_energy and
sliced_score_matching_energy), ``denoising`` (denoising_score_matching, geometric_sigmas, ncsn_loss,
tweedie_denoise). The array checks they share are in ``_common``, the argument checks both sides share
in :mod:`reference._args.score_matching`.

Conventions
-----------
* **The 1/2 is always there.** Every objective here is written with the 1/2 of the Fisher divergence
  D_F = 1/2 E ||.||^2 (L7 'Fisher divergence', L8 'Score Matching Via Fisher Divergence', Beigy's
  D_FS), so that the slide identities hold literally: ``implicit_score_matching`` = D_F + const,
  ``denoising_score_matching`` = 1/2 E ||s - grad log q_sigma||^2 + const, and the sliced objectives
  equal ``implicit_score_matching`` in expectation. Slides that drop the 1/2 (L7's and L13's DSM
  theorem, L13's NCSN objective, Beigy's J_esm) state the same minimiser with twice the value; each
  function's docstring says which slide it matches exactly and by which factor it differs from the others.
* **Reductions.** Every objective is a *mean* over samples (and over projections / probes); the
  estimators of traces return one value per sample.
* **Shapes.** Samples lie along the first axis: ``x`` has shape ``(n, ...)``, a vector ``(n, d)`` or an
  image ``(n, C, H, W)`` per sample; norms and inner products are sums over all the feature axes (the
  flattened sample of D features, as in :mod:`reference.diffusion`). A score model maps ``x`` to an
  array of its shape and must treat samples independently.
* **Models on this side** have no autograd: objectives that need derivatives of the model take an
  analytic model, ``model(x)`` plus ``model.divergence(x)`` (the exact trace of the Jacobian, shape
  ``(n,)``) or ``model.jacobian(x)`` (``(n, D, D)``, entry ``[k, i, j] = d s_i / d x_j`` at ``x_k`` for
  the flattened features),
  e.g. :class:`reference.models.LinearScore` and :class:`reference.models.MLPScore`. Objectives that
  only evaluate the model (DSM, ESM, NCSN) take any callable.
* **Noise-conditional models** (NCSN's s_theta(x', sigma)) are called as ``model(x_tilde, sigma)``
  with ``sigma`` of shape ``(n,)`` holding each sample's noise level (the value sigma, not its index or
  its log: wrap the model to feed log sigma), the same call in training (:func:`ncsn_loss`,
  :func:`denoising_score_matching`) and in sampling (:func:`reference.langevin.annealed_langevin_sample`),
  as the time step t reaches a diffusion model; ``reference.models.MLPScore`` with ``cond_dim=1``
  takes it as its conditioning input. ``noise_conditional=`` selects the call; it never changes the
  formula.
* **Randomness** is an argument: ``noise=`` (pre-drawn standard normals, or the probe vectors of the
  sliced objectives; NCSN's level indices come with them as ``levels=``) or ``rng=`` (a
  ``numpy.random.Generator``), exactly one.
* **Non-finite values.** Samples, noise and probes are checked finite on entry. An objective (and a
  trace) whose value is still not finite, from a model's non-finite output or from finite inputs whose
  scale overflows float64 (noise at 1e300, squared), raises ``ValueError`` naming the first non-finite
  input (``"model(x)"`` for the model's output), else ``"<inputs>: the objective overflowed float64 from
  finite inputs"``: the words of the accelerated side's device-side check, never a returned inf or NaN.

One-sided names: none.
"""

from __future__ import annotations

from reference._args.score_matching import PROBE_KINDS, TRACE_METHODS  # noqa: F401  (the option sets)

from .denoising import denoising_score_matching, geometric_sigmas, ncsn_loss, tweedie_denoise
from .energy_forms import implicit_score_matching_energy, sliced_score_matching_energy
from .explicit import explicit_score_matching, fisher_divergence, kde_log_density, kde_score, sliced_fisher_divergence
from .implicit import (
    hutchinson_trace,
    implicit_score_matching,
    jacobian_trace,
    sliced_score_matching,
    sliced_score_matching_vr,
)

__all__ = [
    "denoising_score_matching",
    "explicit_score_matching",
    "fisher_divergence",
    "geometric_sigmas",
    "hutchinson_trace",
    "implicit_score_matching",
    "implicit_score_matching_energy",
    "jacobian_trace",
    "kde_log_density",
    "kde_score",
    "ncsn_loss",
    "sliced_fisher_divergence",
    "sliced_score_matching",
    "sliced_score_matching_energy",
    "sliced_score_matching_vr",
    "tweedie_denoise",
]
