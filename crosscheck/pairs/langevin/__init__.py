"""Agreement cases for :mod:`reference.langevin` and :mod:`accelerated.langevin`.

The samplers take callables (``score_fn(x)``, ``score_fn(x, sigma)``, ``log_prob_fn(x)``), which
:func:`crosscheck.agree.assert_agree` cannot convert. The cases pass them as :class:`Method` and
:class:`NoisyScore`, subclasses of :class:`~crosscheck.agree.Twin`: the Twin builds a
``distributions.Gaussian`` or ``distributions.GaussianMixture`` on each side from the same arrays
(rounded to the tested dtype), and the subclass hands the sampler that object's bound method
(``score``, ``log_prob``) or the noise-conditional score ``x, sigma -> p.convolve(sigma).score(x)``.
The libraries' own API stays plain callables. (The reproducing snippet that a failure prints shows
the underlying Twin, i.e. the distribution; wrap it as here to rerun.)

Targets: a Gaussian or a mixture of up to three Gaussians in d = 1..3 with covariance eigenvalues in
[0.3, 6]; step sizes are drawn relative to the smallest eigenvalue lambda_min (eta <= lambda_min,
where the per-component update contracts), so chains stay in a bounded region and the float32 runs
do not amplify rounding more than a few steps' worth. Edge cases drawn on purpose: n_steps = 0,
empty and full ``record_steps``, one noise level, ``denoise`` on and off, uniforms near 0 and 1,
log-densities of -inf in the acceptance ratio.

MALA's accept test ``log u < r`` is discontinuous: a uniform within float32 rounding of the threshold
could flip a decision between the sides. The MALA cases therefore replay the chain with the
reference (on the inputs rounded to the tested dtype) and move any uniform that falls within a
margin of its threshold (1e-6 at float64, 0.02 at float32 in log u) to safely accept; the moved
uniform is just another valid draw.

Submodules, one per slide group: ``strategies`` (the callable twins :class:`Method` and :class:`NoisyScore`,
targets, noise, record steps, the shared bad-input callables), ``ula`` (langevin_step, langevin_sample,
annealed_langevin_sample), ``mala`` (mala_log_acceptance_ratio, mala_sample) and ``sde`` (Euler-Maruyama).
"""

from . import ula, mala, sde  # noqa: I001 (registration order: ULA, MALA, SDE)
from .sde import Diffusion
from .strategies import (
    ACCEPT_MARGIN,
    MIXED_PRECISION_DTYPES,
    Method,
    NoisyScore,
    normals,
    open_uniforms,
    record_steps,
    targets,
)

__all__ = [
    "ACCEPT_MARGIN",
    "MIXED_PRECISION_DTYPES",
    "Diffusion",
    "Method",
    "NoisyScore",
    "mala",
    "normals",
    "open_uniforms",
    "record_steps",
    "sde",
    "targets",
    "ula",
]
