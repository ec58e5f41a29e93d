"""Score matching in PyTorch: Fisher divergence, ESM with a KDE, implicit, sliced and denoising SM, NCSN, Tweedie.

Same formulas, names, parameters and conventions as :mod:`reference.score_matching` (see it for the
slides: Isachenko DGM Lecture 7 'Fisher divergence' and 'Denoising score matching'; Advanced Course on
DGM Lecture 8 'Score Matching', 'Sliced Score Matching', "Tweedie's Formula", 'Denoising Score
Matching'; Isachenko DGM Lecture 13 'Implicit score matching', 'Sliced score matching (Hutchinson's
trace estimation)', 'Noise Conditioned Score Network (NCSN)'; Beigy 'Score Matching (SM)' and the DSM,
NCSN and sliced-SM slides). Every objective carries the 1/2 of the Fisher divergence and is a mean
over samples (and projections); see the reference module docstring for the factor conventions.

Submodules
----------
The same as on the reference side, every public name re-exported here: ``explicit``
(fisher_divergence, sliced_fisher_divergence, kde_log_density, kde_score,
explicit_score_matching), ``implicit`` (jacobian_trace,
implicit_score_matching, hutchinson_trace, sliced_score_matching, sliced_score_matching_vr),
``energy_forms`` (implicit_score_matching_energy, sliced_score_matching_energy),
``denoising`` (denoising_score_matching, geometric_sigmas, ncsn_loss, tweedie_denoise); the tensor
checks they share in ``_common``, the argument checks both sides share in
:mod:`reference._args.score_matching`.

Models
------
A model is any callable on tensors (typically an ``nn.Module``) mapping samples ``(n, ...)`` (a
vector ``(n, d)`` or an image ``(n, C, H, W)`` per sample) to scores of the same shape, with samples
treated independently (no batch statistics: put ``BatchNorm`` in eval mode). Norms and traces are
over all the D feature entries of a sample. A noise-conditional model is called as
``model(x_tilde, sigma)`` with ``sigma`` an ``(n,)`` tensor in x's dtype on x's device, in
training (:func:`denoising_score_matching`, :func:`ncsn_loss`) and in sampling
(:func:`accelerated.langevin.annealed_langevin_sample`) alike. Derivatives are vector-Jacobian
products of one batched forward pass, never a Python loop over dimensions.

* ``jacobian_trace`` / ``implicit_score_matching`` with ``method="vmap"`` (any model): the D
  Jacobian rows e_i^T J at every sample are d vjps (``torch.func.vjp``) of one forward pass,
  vectorised with ``torch.func.vmap`` over the basis directions (``chunk_size`` of them at a time,
  to bound memory: about ``chunk_size * n`` times the model's activations); only their diagonal
  entries are kept. The cost is that of d backward passes, batched: the same arithmetic as the
  per-dimension autograd loop, in a few large kernels instead of d small ones.
* the same with ``method="factored"`` (an MLP: ``nn.Sequential`` of ``nn.Linear`` and elementwise
  activations, or :mod:`accelerated.models`): the trace of the product of weights and activation
  derivatives, rotated cyclically so that no basis is pushed for up to two hidden layers
  (``accelerated/_mlp_trace.py``). ``method="auto"``, the default, takes it whenever the model is
  recognised. ``benchmarks/bench_score_matching.py`` measures both methods against the loop.
* ``hutchinson_trace`` / ``sliced_score_matching`` / ``sliced_score_matching_vr``: the M probe
  batches are stacked into one batch of M n rows, with one forward pass and one vjp
  (``torch.func.vjp`` with the probes as cotangents: ``torch.compile`` traces it, where
  ``torch.autograd.grad`` would break the graph, and it stays differentiable in the parameters under
  grad mode), so the cost is O(1) model passes per projection whatever d: a training step is one
  forward and about three backward-sized passes (measured 1.75-2.1x a DSM step on one CPU thread,
  d = 16..1024).

Results are differentiable with respect to the model's parameters (and to ``x`` where it requires
grad), so ``loss.backward()`` trains the model; under ``torch.no_grad`` only the value is computed
(no graph is kept). Inputs are never copied between devices: ``noise``, ``levels`` and ``sigmas``
must be on ``x``'s device (``sigmas`` may have any floating dtype and is cast to ``x``'s).

Precision: results follow ``x``'s dtype and device; a model's output may have another floating dtype
(``torch.autocast``), and the objectives then compute in the promoted dtype, accumulate their sums in
float32 at least and return float32 for float16 / bfloat16 inputs. ``ncsn_loss`` evaluates
sigma^2 ||s + eps / sigma||^2 as ||sigma s + eps||^2, which stays in float16's range.

Host reads: none. The value checks (a finite objective, Rademacher probes, decreasing positive sigmas)
are device-side assertions (:func:`accelerated._checks.require`): the objective's finiteness covers
every input and the model's output, since each enters it through sums with positive weights; level
indices are bounds-checked by the gather itself. Given ``noise`` is also checked finite on entry (one
device-side reduction), so that a model checking its own input does not blame ``x`` for it, and so is
``x`` of ``jacobian_trace`` and ``hutchinson_trace`` (a linear model's Jacobian does not depend on x, so
a NaN there need not reach the traces; the reference side refuses it alike); the finiteness of
``kde_score``'s result is asserted the same way. ``kde_score`` forms the differences x_k - x directly,
in float64 and in row chunks of at most ``2**22`` (rows m d entries), never the cancellation-prone
``|x|^2 - 2 x.x_k + |x_k|^2``, and casts the score back to x's dtype.

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
