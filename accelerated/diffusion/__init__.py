r"""DDPM in PyTorch: schedules, forward process, posterior, ELBO terms, a sync-free sampler, guidance.

Same formulas, names and parameters as :mod:`reference.diffusion` (see it for the slides: Isachenko DGM
Lecture 13, 'ELBO of gaussian diffusion model', 'Reparametrization', 'Simplified objective',
'Training', 'Sampling', 'DDPM vs NCSN'; Lecture 14, 'Classifier guidance', 'Classifier-free guidance').

Submodules
----------
One per group of slides, each a few hundred lines; every public name is re-exported here, so
``accelerated.diffusion.q_sample`` is the API. ``schedules`` (beta schedules, :class:`Schedule`),
``forward`` (q_step, q_sample, q_posterior), ``conversions`` (eps / x_0 / v / score, the
eps-parametrised mean), ``elbo`` (Gaussian KL, L_t, L_simple, prior KL, weighted DSM), ``likelihood`` (the decoder's
log p(x_0 | x_1), discretised for grid data, and the assembled NLL bound), ``sampling``
(ddpm_step, ddpm_sample, GaussianEps), ``guidance`` (classifier and classifier-free), ``ddim``
(respaced_timesteps, ddim_step, ddim_sample: DDIM with eta, Song et al. 2021, beyond the slides). The
private ``_inputs`` holds the array checks, one combined checker per argument group, with the same names
and contracts on both sides; the pure-Python checks are shared in :mod:`reference._args.diffusion`.

Conventions (as on the reference side)
--------------------------------------
* **Time indices are positions 0..T-1 into the schedule tables.** Position ``t`` holds the slide's step
  ``t + 1``; ``alpha_bars_prev[0] = 1`` (the value before the first step), as in the code of Ho et al.
* **Tables are float64** on the device of the betas (:class:`Schedule`, movable with ``.to(device)``).
  A function gathers the float64 entries at ``t``, forms its coefficients in float64 (so that
  1 - alpha_t is beta_t, never a float32 difference of numbers near 1), and casts each coefficient once
  to the data's dtype, where it is used. The data arithmetic follows the inputs' dtype and device and is
  differentiable with autograd, except where said below.
* **Batches.** ``t`` is an integer tensor on the schedule's device, shape ``(n,)`` for data of shape
  ``(n, ...)`` (any rank) or ``()``; coefficients broadcast as ``t.shape + (1,) * (x.ndim - t.ndim)``.
* **Norms and KLs are sums over the feature axes**, one value per batch element, in nats.
* **Randomness** only through ``noise=`` (standard normals) or ``rng=`` (a ``torch.Generator`` on the
  data's device), exactly one of them.

Precision. ``gaussian_kl``, ``l_simple``, ``prior_kl`` and ``weighted_dsm_loss`` accumulate their sums
over the feature axes in float64 and cast the result back. ``l_t`` and ``weighted_dsm_loss`` evaluate in
float64 throughout (inputs upcast, result cast back): both subtract two nearly equal quantities (the two
means, or x_t and sqrt(alpha_bar) x_0) and divide by a small variance (beta_tilde_t, 1 - alpha_bar_t, as
small as 1e-4), which in float32 leaves as few as two correct digits. Every other function computes in the
inputs' dtype: its float32 error is a few ulp of the largest term, times the factor the formula itself
divides by (1 / sqrt(alpha_bar_t) up to 158 at the end of the linear schedule, 2e4 at the end of the
clipped cosine one, for ``predict_x0_from_eps``; the conversions through v have no such factor).

Host synchronisation. Shape, dtype and device checks read metadata only. Value checks make no host
read: the per-step functions and losses assert on the device that their result is finite (one
reduction: a NaN or inf in any input, or an overflow, reaches it), positions ``t`` are bounds-checked by
the gather itself (``index_select``, which also refuses negative positions instead of wrapping), and the
other functions fuse their conditions into one device assertion; all are skipped inside
``torch.compile``, under CUDA graph capture and with :func:`accelerated.value_checks` off.

Mixed precision. Model outputs (``eps_pred``, ``score``) may have another floating dtype than the data
(``torch.autocast``): the losses compute in the promoted dtype and return float32 at least for half
inputs; the samplers keep their state in the sampling dtype and cast the model's output to it, and a
float16 / bfloat16 chain steps in float32 (1 / sqrt(alpha_bar_t) overflows float16).

Samplers. :func:`ddpm_sample` and :func:`ddim_sample` validate once, build their per-step coefficient
tensors on the device before the loop, index them with a Python step counter and make no host read
inside the loop (no ``.item()``, no branch on device values; this library's own value checks are off
inside it, so an ``eps_fn`` built from its functions adds no assertion per step), so the loop can be
captured in a CUDA graph (with ``noise=``, or a generator registered with the graph) or compiled.

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
