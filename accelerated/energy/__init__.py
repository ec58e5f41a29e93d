"""Energy-based models in PyTorch: log p-hat = -E, score = -grad E by autograd, log ratios, log Z, Ising.

Same names and parameters as :mod:`reference.energy`; see it for the slides (Isachenko DGM
Lecture 7, 'Energy-based models' / 'Unnormalized density'; Advanced Course on DGM Lecture 8,
'Energy Based Models', 'Application of Energy Based Models', 'Example: Ising Model'; Beigy,
'Score Matching (SM)') and for the sign convention: E is the energy, p-hat = exp(-E), and Lecture 8's
f_theta is -E.

Differences from the reference:

* :func:`energy_score` takes *any* callable energy (an ``nn.Module`` EBM, a lambda) and
  differentiates it with autograd; the analytic ``grad`` methods of :class:`QuadraticEnergy` and
  :class:`DoubleWellEnergy` exist to check it. Under ``torch.no_grad()`` the score is a plain
  tensor; otherwise it keeps its graph (``create_graph=True``), so a loss built from it can be
  backpropagated to the energy's parameters (score matching of an EBM) and, if ``x`` requires grad,
  to ``x``.
* :class:`QuadraticEnergy` and :class:`DoubleWellEnergy` are ``nn.Module`` s (the quadratic one holds
  ``precision`` and ``mean`` as ``nn.Parameter`` s). They evaluate in float64 and cast back to the
  input dtype (a float32 quadratic form with a precision of condition 1e4 loses four digits); autograd
  goes through the casts.
* :func:`ising_log_potential` and :func:`ising_denoise` compute the potentials of all 2^(H W) states
  at once with two float64 matrix products of 0/1 matrices (exact integer counts), on the device of
  ``x``; results are float64 (probabilities) and int64 (images).

Submodules: ``density``, ``learning`` and ``ising``, as on the reference side; every public name is re-exported here.

One-sided names: none.
"""

from __future__ import annotations

from reference._args.energy import MAX_ISING_PIXELS  # noqa: F401  (the enumeration limit, 16 pixels)

from .density import (
    DoubleWellEnergy,
    QuadraticEnergy,
    energy_score,
    log_partition_function,
    log_ratio,
    unnormalized_log_density,
)
from .ising import IsingPosterior, ising_denoise, ising_log_potential, ising_states
from .learning import contrastive_divergence_loss, log_likelihood_gradient

__all__ = [
    "DoubleWellEnergy",
    "IsingPosterior",
    "QuadraticEnergy",
    "contrastive_divergence_loss",
    "energy_score",
    "ising_denoise",
    "ising_log_potential",
    "ising_states",
    "log_likelihood_gradient",
    "log_partition_function",
    "log_ratio",
    "unnormalized_log_density",
]
