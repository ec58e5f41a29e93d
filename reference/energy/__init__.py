"""Energy-based models: unnormalised log-density, score = -grad E, log ratios, log Z by quadrature, Ising.

Sign convention. Everything here takes an *energy* E(x) and the unnormalised density
p-hat(x) = exp(-E(x)), p(x) = p-hat(x) / Z, Z = integral of exp(-E). This is Isachenko's Lecture 7
(p-hat = exp(-f_theta), f the energy) and Beigy's (p = exp(-E_theta) / Z_theta). The Advanced Course
on DGM, Lecture 8, writes p = exp(f_theta) / Z(theta): its f is *minus* the energy, f = -E, and its
ratio p(x) / p(x') = exp(f(x) - f(x')) reads exp(E(x') - E(x)) here.

Slides implemented
------------------
* Isachenko, DGM Lecture 7, slides 'Energy-based models' / 'Unnormalized density':
  p(x | theta) = p-hat(x | theta) / Z_theta, p-hat = exp(-f_theta(x)), and
  grad_x log p(x | theta) = grad_x log p-hat(x | theta) (Z drops out): :func:`unnormalized_log_density`,
  :func:`energy_score`.
* Advanced Course on DGM, Lecture 8: 'Energy Based Models' (Z(theta) = integral of exp(f_theta);
  computing it numerically is hard, feasible by quadrature in one or two dimensions:
  :func:`log_partition_function`), 'Application of Energy Based Models' (the ratio
  p(x) / p(x') = exp(f(x) - f(x')) needs no Z: :func:`log_ratio`), 'Example: Ising Model'
  (denoising a 3x3 binary image by maximising p(y | x): :func:`ising_log_potential`,
  :func:`ising_denoise`).
* Beigy, Score-Based Generative Models, the EBM slide of 'Introduction' (max_theta sum_k log p_theta(x_k)) and
  Advanced Course on DGM, Lecture 8, 'Learning Energy Based Models': the log-likelihood gradient
  -grad_theta E(x) + E_p[grad_theta E], the model expectation from negatives (contrastive divergence)
  or by quadrature in d <= 2: :func:`log_likelihood_gradient`, :func:`contrastive_divergence_loss`.
* Beigy, Score-Based Generative Models, slide 'Score Matching (SM)': the score of an EBM is
  grad_x log p_theta(x) = -grad_x E_theta(x), free of Z_theta.

Analytic energies: :class:`QuadraticEnergy` (a Gaussian) and :class:`DoubleWellEnergy` (a bimodal
product density) have ``__call__`` and an analytic ``grad``; the reference side has no autograd, so
:func:`energy_score` needs such an object.

Submodules: ``density`` (the analytic energies, log p-hat, the score, log ratios, log Z),
``learning`` (maximum likelihood: the log-likelihood gradient and the contrastive-divergence loss) and
``ising`` (the Ising example); every public name is re-exported here.

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
