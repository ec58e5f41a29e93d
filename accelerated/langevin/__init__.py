"""Langevin dynamics samplers in PyTorch: the unadjusted step and chain, annealed Langevin (NCSN), MALA.

Same formulas, names and parameters as :mod:`reference.langevin` (see it for the slides: Isachenko
DGM Lecture 7 'Langevin dynamic', Lecture 13 'Langevin dynamics' and 'Noise Conditioned Score Network
(NCSN)', Lecture 14 'NCSN sampling (annealed Langevin dynamics)', Advanced Course on DGM Lecture 8
'Langevin dynamics', Beigy 'Score-based generative models' and Example 3.3). ``step_size`` is eta;
the Beigy slides' eps is ``step_size=eps**2``.

Shapes: ``x0`` holds n chains along its first axis, ``(n, ...)`` (vectors or images); the
noise-conditional ``score_fn(x, sigma)`` of :func:`annealed_langevin_sample` receives sigma as an
``(n,)`` tensor in x's dtype on x's device, the call :func:`accelerated.score_matching.ncsn_loss`
makes in training (a model that trains is a model that samples); MALA's ``log_prob_fn`` returns (n,).

Devices, dtypes and host synchronisation: every result follows the dtype and device of ``x0`` (or
``x``); pre-drawn ``noise`` / ``uniforms`` must share them, a ``torch.Generator`` must be on x0's
device (a ValueError otherwise: no silent draw elsewhere and copy per step). A score in another
floating dtype (a network under ``torch.autocast``) is cast to the chain's dtype, in which the state
stays. The sampling loops never read a value on the host: no ``.item()``, no data-dependent Python
branch; the MALA accept test is a ``torch.where`` and the acceptance count is accumulated on the
device. ``sigmas`` (a tensor, or a sequence of floats copied to the device once) become per-level
coefficient tensors alpha_i / 2 and sqrt(alpha_i) on the device before the loop. The input checks
(finite ``x0`` and ``noise``, uniforms in [0, 1], decreasing positive ``sigmas``) run once, at entry,
as device-side assertions (no host read; :func:`accelerated.value_checks`). Inside the loops this
library's own checks are off, so a ``score_fn`` built from :mod:`accelerated.distributions` adds no
assertion per step. No progress bar object is built unless ``progress=True``, so with ``noise=`` the
samplers trace under ``torch.compile`` without a graph break.

Memory traffic of the update x + (eta/2) s + sqrt(eta) z: the obvious expression makes three
passes with two temporaries (about 40 bytes per float32 value); here

* :func:`langevin_step_` (in place, used by the samplers on the CPU) makes two in-place passes
  (``add_``, no temporaries); with one intra-op thread it runs them over blocks of 4 MiB per tensor,
  so the second pass finds x in the cache and the memory traffic is the 16 bytes per value of reading
  x, s, z and writing x (with several threads the blocks' extra parallel regions cost more than they
  save on a busy machine; see ``_blocks``);
* :func:`langevin_step` returns a new tensor (the same two passes, into it); on CUDA it is one fused
  elementwise kernel (``torch.cuda.jiterator``, falling back to two passes if that is unavailable),
  and the CUDA samplers use it, since the caching allocator makes the new tensor free.

Both are differentiable with autograd: when an input requires grad they use the plain
out-of-place form. So are the samplers; run them under ``torch.no_grad()`` unless you differentiate
through the chain (with a score network whose parameters require grad, autograd would otherwise
record every step). ``benchmarks/bench_langevin.py`` measures the update against a memory copy.
The step functions check their result by one device assertion (no host read: a non-finite new state
is a ``ValueError`` naming the first non-finite input, or the overflow, as on the reference side); the
samplers do not call them per step (their loops update the buffer through the private ``_update``).

The log Metropolis-Hastings ratio of MALA is computed in float64 for every input dtype: its two
proposal terms cancel to O(eta^{3/2}), which float32 rounding of |x - x'|^2 / (2 eta) would swamp at
small eta.

Submodules: ``sampler`` (langevin_step, langevin_step_, langevin_sample), ``annealed``
(annealed_langevin_sample), ``mala`` (mala_log_acceptance_ratio, mala_sample), ``sde``
(euler_maruyama_step, euler_maruyama_solve: Lecture 13 'SDE basics'), as on the reference side;
every public name is re-exported here. The update kernels are in the private ``_update``.

One-sided names: ``langevin_step_`` (the in-place update of a tensor buffer; NumPy arrays of the
reference are not updated in place, and the reference favours the readable out-of-place form).
"""

from __future__ import annotations

from ._update import CHUNK_BYTES, _blocks, _fused_state  # noqa: F401  (tests and benchmarks read them here)
from .annealed import annealed_langevin_sample
from .mala import MALAResult, mala_log_acceptance_ratio, mala_sample
from .sampler import LangevinResult, langevin_sample, langevin_step, langevin_step_
from .sde import euler_maruyama_solve, euler_maruyama_step

__all__ = [
    "LangevinResult",
    "MALAResult",
    "annealed_langevin_sample",
    "euler_maruyama_solve",
    "euler_maruyama_step",
    "langevin_sample",
    "langevin_step",
    "langevin_step_",
    "mala_log_acceptance_ratio",
    "mala_sample",
]
