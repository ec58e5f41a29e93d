"""Langevin dynamics samplers: the unadjusted step and chain, annealed Langevin (NCSN), MALA.

Slides implemented
------------------
* Isachenko, Deep Generative Models, Lecture 7, slides 'Langevin dynamic' (Theorem (informal):
  x_{I+1} = x_I + (eta/2) grad log p(x_I) + sqrt(eta) eps_I, and the sampling slide that writes the
  same update with the score s_theta).
* Isachenko, Deep Generative Models, Lecture 13, recap slide 'SDE basics' (dx = f(x, t) dt + g(t) dw,
  dw = eps sqrt(dt): the Euler-Maruyama step and solver, :mod:`.sde`).
* Isachenko, Deep Generative Models, Lecture 13, recap slide 'Langevin dynamics' (p is stationary for
  the Langevin SDE; the discrete chain only for small eta, see :func:`langevin_sample`) and slide
  'Noise Conditioned Score Network (NCSN)', 'Sampling (annealed Langevin dynamics)'.
* Isachenko, Deep Generative Models, Lecture 14, recap slide 'NCSN sampling (annealed Langevin
  dynamics)'.
* Advanced Course on DGM, Lecture 8: GANs, Samples, Energy/Score-based models, slide 'Langevin
  dynamics' (the same chain with a per-step size alpha_t).
* Beigy, Deep Generative Models: Score-Based Generative Models, slide 'Score-based generative models'
  (x^{k+1} = x^k + (eps^2/2) grad log p(x^k) + eps z^k: the same update with eta = eps^2), Example 3.3
  (Langevin on 0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2) from Uniform[-3, 3] starts) and the NCSN step-size
  rule eta_t = eta (sigma_t / sigma_T)^2.

Two parametrisations of one step: the Isachenko slides write the step size as eta (the variance of
the injected noise), the Beigy slides as eps with eta = eps^2. Every function here takes
``step_size = eta``; pass ``step_size=eps**2`` to follow the Beigy slides.

Conventions: ``x0`` holds n chains as one batch along its first axis, shape ``(n, ...)``: a vector
``(n, d)`` or an image ``(n, C, H, W)`` per chain, norms over all the feature axes (the samplers never
mix chains). A noise-conditional ``score_fn(x, sigma)`` receives sigma as an array of shape ``(n,)``
(one level per chain), the call that :func:`reference.score_matching.ncsn_loss` makes in training.
Randomness is an argument: every sampler takes pre-drawn standard normals ``noise`` (and, for MALA,
``uniforms``) covering every draw it makes, or a ``numpy.random.Generator`` ``rng`` that draws the
same arrays step by step, never both. Samplers return a named tuple with the final states and the
states at the steps listed in ``record_steps`` (one return type whatever the arguments).

Submodules
----------
One per group of slides; every public name is re-exported here, so ``reference.langevin.mala_sample``
is the API. ``sampler`` (the unadjusted step and chain, :class:`LangevinResult`), ``annealed``
(annealed Langevin, NCSN), ``mala`` (the Metropolis-adjusted chain and its log ratio,
:class:`MALAResult`), ``sde`` (the Euler-Maruyama step and solver of dx = f(x, t) dt + g(t) dw; the
solver returns a :class:`LangevinResult`).

One-sided names: none.
"""

from __future__ import annotations

from .annealed import annealed_langevin_sample
from .mala import MALAResult, mala_log_acceptance_ratio, mala_sample
from .sampler import LangevinResult, langevin_sample, langevin_step
from .sde import euler_maruyama_solve, euler_maruyama_step

__all__ = [
    "LangevinResult",
    "MALAResult",
    "annealed_langevin_sample",
    "euler_maruyama_solve",
    "euler_maruyama_step",
    "langevin_sample",
    "langevin_step",
    "mala_log_acceptance_ratio",
    "mala_sample",
]
