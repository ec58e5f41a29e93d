"""Slide statements about Langevin sampling, each checked on both sides through :class:`~crosscheck.registry.Side`.

* Unadjusted Langevin on N(0, s^2) has the stationary variance s^2 / (1 - eta / (4 s^2)), not s^2
  (the slides' "p is stationary" holds for the SDE, eta -> 0); its bias shrinks linearly as eta -> 0.
* Beigy, Example 3.3 (0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2), 10000 starts uniform on [-3, 3], 100
  steps), reproduced with its histogram figure: the ULA and MALA samples follow the exact laws of
  their chains (computed independently by propagating the density on a grid); the mode *weights*
  they give are those of the starting basins, not 0.6; annealed Langevin (NCSN) recovers 0.6.
* MALA leaves its target invariant (exact samples stay exact, where ULA visibly drifts).
* MALA's acceptance rate equals its exact expectation and tends to 1 as eta -> 0.
* SDE basics (Lecture 13): Euler-Maruyama on the Ornstein-Uhlenbeck SDE matches its closed-form mean and
  variance at T; the Langevin SDE leaves p = N(m, s^2) and a double well stationary (within Monte-Carlo
  error + O(dt)).

Submodules: ``stationary`` (ULA's stationary variance), ``example`` (Beigy Example 3.3 with its
figure), ``mala`` (invariance and acceptance rate), ``sde`` (Euler-Maruyama); importing this package
registers them all.

Every check draws with its side's own generator (``numpy.random.Generator`` or ``torch.Generator``)
from a fixed seed: the Monte-Carlo bounds are stated in standard errors of the estimate, and the
checks are reproducible.
"""

# Registration order is the report's order: ULA's stationary variance, Example 3.3, MALA, then the SDE.
from .stationary import ula_bias_linear_in_step, ula_stationary_variance  # isort: skip
from .example import beigy_example_annealed, beigy_example_mala, beigy_example_ula  # isort: skip
from .mala import mala_acceptance_to_one, mala_invariance  # isort: skip
from .sde import sde_langevin_double_well, sde_langevin_stationary, sde_ornstein_uhlenbeck  # isort: skip

__all__ = [
    "beigy_example_annealed",
    "beigy_example_mala",
    "beigy_example_ula",
    "mala_acceptance_to_one",
    "mala_invariance",
    "sde_langevin_double_well",
    "sde_langevin_stationary",
    "sde_ornstein_uhlenbeck",
    "ula_bias_linear_in_step",
    "ula_stationary_variance",
]
