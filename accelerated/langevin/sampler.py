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
The step functions read no values (no finiteness check): they are the per-step primitive.

The log Metropolis-Hastings ratio of MALA is computed in float64 for every input dtype: its two
proposal terms cancel to O(eta^{3/2}), which float32 rounding of |x - x'|^2 / (2 eta) would swamp at
small eta.

One-sided names: ``langevin_step_`` (the in-place update of a tensor buffer; NumPy arrays of the
reference are not updated in place, and the reference favours the readable out-of-place form).
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from tqdm import tqdm

from . import _checks as C

__all__ = [
    "LangevinResult",
    "MALAResult",
    "annealed_langevin_sample",
    "langevin_sample",
    "langevin_step",
    "langevin_step_",
    "mala_log_acceptance_ratio",
    "mala_sample",
]

F64 = torch.float64

# Block size of the single-threaded CPU update: 4 MiB per tensor, so a block of x, s and z (12 MiB)
# stays in the last-level cache between the two passes. Measured on 10^7 float32 values, one thread,
# against the unblocked two passes (benchmarks/bench_langevin.py and its README section): 4 MiB blocks
# 1-11% faster, 1 and 16 MiB blocks no faster, 256 KiB blocks slower (per-block Python overhead).
CHUNK_BYTES = 4 * 2**20


class LangevinResult(NamedTuple):
    """Result of :func:`langevin_sample` and :func:`annealed_langevin_sample` (tensors like x0)."""

    samples: torch.Tensor
    """(n, ...) the states after the last step (after the denoising step, where asked for)."""
    trajectory: torch.Tensor
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""


class MALAResult(NamedTuple):
    """Result of :func:`mala_sample` (tensors like x0)."""

    samples: torch.Tensor
    """(n, ...) the states after the last step."""
    trajectory: torch.Tensor
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""
    acceptance_rate: torch.Tensor
    """(n,) per chain, the fraction of accepted proposals (NaN for n_steps = 0), in x0's dtype."""


# --------------------------------------------------------------------------- input checks


def _step_size(name: str, step_size: object) -> float:
    return C.check_positive_scalar(name, step_size)


def _count(name: str, n: object) -> int:
    """A number of steps: an int >= 0 (bool refused)."""
    if isinstance(n, bool):
        raise TypeError(f"{name}: expected an int >= 0, got {C.describe(n)}")
    try:
        value = operator.index(n)
    except TypeError as err:
        raise TypeError(f"{name}: expected an int >= 0, got {C.describe(n)}") from err
    if value < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {value}")
    return value


def _chains(x0: object) -> torch.Tensor:
    """Initial states (n, ...), at least one entry per state, finite (a device assertion), as a new buffer."""
    x0 = C.as_float_tensor("x0", x0)
    if x0.ndim < 1 or x0.numel() == 0:
        raise ValueError(f"x0: expected initial states of shape (n, ...), n >= 1, got shape {tuple(x0.shape)}")
    C.check_finite("x0", x0)
    return x0.clone(memory_format=torch.contiguous_format)  # the chains' own buffer, updated in place


def _callable(name: str, fn: object) -> None:
    if not callable(fn):
        raise TypeError(f"{name}: expected a callable, got {C.describe(fn)}")


def _drawn(name: str, values: object, like: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """Pre-drawn noise or uniforms: dtype and device of x0, exactly ``shape``, finite (a device assertion)."""
    values = C.as_float_tensor(name, values)
    C.check_same_device_dtype(("x0", name), (like, values))
    if tuple(values.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape} ({what}), got shape {tuple(values.shape)}")
    C.check_finite(name, values)
    return values


def _record_steps(record_steps: object, n_total: int) -> tuple[int, ...]:
    """Strictly increasing step indices in [0, n_total]."""
    if isinstance(record_steps, (str, bytes)) or not isinstance(record_steps, (Sequence, range)):
        raise TypeError(f"record_steps: expected a sequence of ints, got {C.describe(record_steps)}")
    steps = []
    for k in record_steps:
        if isinstance(k, bool):
            raise TypeError(f"record_steps: expected ints, got {C.describe(k)}")
        try:
            steps.append(operator.index(k))
        except TypeError as err:
            raise TypeError(f"record_steps: expected ints, got {C.describe(k)}") from err
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError(f"record_steps: expected strictly increasing step indices, got {steps}")
    if steps and (steps[0] < 0 or steps[-1] > n_total):
        raise ValueError(f"record_steps: expected step indices in [0, {n_total}] (the number of steps), got {steps}")
    return tuple(steps)


def _like_x(name: str, value: object, x: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """A callable's output: a floating tensor of ``shape`` on x's device, cast to x's dtype (metadata checks only).

    Under ``torch.autocast`` a network returns bfloat16 or float16 while the chain's state stays in
    x's dtype: the output is cast (a no-op when the dtypes agree).
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name}: expected it to return a torch.Tensor, got {C.describe(value)}")
    if not value.is_floating_point() or value.device != x.device:
        raise TypeError(
            f"{name}: expected a floating result on the device of x ({x.device}), got {value.dtype} on {value.device}"
        )
    if tuple(value.shape) != shape:
        raise ValueError(
            f"{name}: expected a result of shape {shape} (x has shape {tuple(x.shape)}), got {tuple(value.shape)}"
        )
    return value if value.dtype == x.dtype else value.to(x.dtype)


def _score(score_fn: Callable, x: torch.Tensor, *sigma: torch.Tensor) -> torch.Tensor:
    return _like_x("score_fn", score_fn(x, *sigma), x, tuple(x.shape))


def _log_prob(log_prob_fn: Callable, x: torch.Tensor) -> torch.Tensor:
    return _like_x("log_prob_fn", log_prob_fn(x), x, tuple(x.shape[:1]))


def _standard_normals(rng: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)


def _per_chain(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-chain (n,) tensor as (n, 1, ..., 1), broadcasting over x's feature axes (a view)."""
    return value.view(x.shape[:1] + (1,) * (x.ndim - 1))


def _steps(total: int, progress: object, desc: str):
    """range(total), or a tqdm bar over it with ``progress=True`` (no bar object is built otherwise)."""
    if not isinstance(progress, bool):
        raise TypeError(f"progress: expected a bool, got {C.describe(progress)}")
    return tqdm(range(total), desc=desc, unit="step") if progress else range(total)


class _Recorder:
    """The states at the listed steps, copied into one preallocated (len(steps), *x0.shape) tensor."""

    def __init__(self, steps: tuple[int, ...], x: torch.Tensor) -> None:
        self.slot = {k: j for j, k in enumerate(steps)}
        self.trajectory = x.new_empty((len(steps), *x.shape))

    def __call__(self, k: int, x: torch.Tensor) -> None:
        j = self.slot.get(k)
        if j is not None:
            self.trajectory[j].copy_(x)


# --------------------------------------------------------------------------- the update x + a s + b z


_FUSED_SOURCE = "template <typename T> T langevin_update(T x, T s, T z, T a, T b) { return x + a * s + b * z; }"
_fused_state: dict[str, object] = {"kernel": None, "failed": False}


def _fused_cuda(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: float, b: float) -> torch.Tensor | None:
    """x + a s + b z in one CUDA kernel (jiterator, compiled once per dtype); None where unavailable.

    ``torch.cuda.jiterator`` is a beta API that some builds lack: any failure to build or launch the
    kernel (other than running out of memory) turns the fused path off for the process, and the
    caller makes two passes instead.
    """
    if _fused_state["failed"] or x.dtype not in (torch.float32, torch.float64):
        return None
    try:
        if _fused_state["kernel"] is None:
            from torch.cuda import jiterator

            _fused_state["kernel"] = jiterator._create_jit_fn(_FUSED_SOURCE, a=0.0, b=0.0)
        return _fused_state["kernel"](x, s, z, a=a, b=b)
    except torch.cuda.OutOfMemoryError:
        raise
    except (RuntimeError, AssertionError, AttributeError, ImportError, NotImplementedError):
        _fused_state["failed"] = True
        return None


def _needs_grad(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def _blocks(x: torch.Tensor, *others: torch.Tensor) -> int | None:
    """Block length for a cache-blocked CPU update, or None where blocking does not apply or help.

    Only with one intra-op thread: with several, every block's two ``add_`` are two parallel regions
    whose barriers wait for a descheduled thread on a busy machine (measured on the 2-core development
    machine under load: 280 ms per 10^7-value update blocked against 25 ms in two passes), and the
    gain on an idle machine (about 10%) does not pay for that risk.
    """
    if x.device.type != "cpu" or torch.compiler.is_compiling() or torch.get_num_threads() != 1:
        return None  # (a compiled graph fuses the update itself)
    if not all(t.is_contiguous() for t in (x, *others)):
        return None
    block = max(1, CHUNK_BYTES // x.element_size())
    return block if x.numel() > block else None


Coefficient = float | torch.Tensor  # a Python float, or a 0-d tensor on x's device (no host read)


def _axpy2_(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x += a s + b z in place, two passes: ``add_`` with Python coefficients, ``addcmul_`` with 0-d tensors."""
    if isinstance(a, torch.Tensor):
        return x.addcmul_(s, a).addcmul_(z, b)
    return x.add_(s, alpha=a).add_(z, alpha=b)


def _update_(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x += a s + b z in place (two passes, cache-blocked on the CPU); returns x."""
    block = None if _needs_grad(x, s, z) else _blocks(x, s, z)
    if block is None:
        return _axpy2_(x, s, z, a, b)
    xf, sf, zf = x.view(-1), s.view(-1), z.view(-1)
    for start in range(0, xf.numel(), block):
        stop = start + block
        _axpy2_(xf[start:stop], sf[start:stop], zf[start:stop], a, b)
    return x


def _update(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """x + a s + b z as a new tensor: one fused kernel on CUDA (Python coefficients), else two passes."""
    tensor_coefficients = isinstance(a, torch.Tensor)
    if _needs_grad(x, s, z) or tensor_coefficients:
        if tensor_coefficients:
            return torch.addcmul(x, s, a).addcmul_(z, b)
        return torch.add(x, s, alpha=a).add_(z, alpha=b)
    if x.is_cuda:
        fused = _fused_cuda(x, s, z, a, b)
        if fused is not None:
            return fused
    block = _blocks(x, s, z)
    if block is None:
        return torch.add(x, s, alpha=a).add_(z, alpha=b)
    out = torch.empty_like(x, memory_format=torch.contiguous_format)
    xf, sf, zf, of = x.view(-1), s.view(-1), z.view(-1), out.view(-1)
    for start in range(0, xf.numel(), block):
        stop = start + block
        torch.add(xf[start:stop], sf[start:stop], alpha=a, out=of[start:stop]).add_(zf[start:stop], alpha=b)
    return out


def _advance(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor, a: Coefficient, b: Coefficient) -> torch.Tensor:
    """The samplers' step on their own buffer x: in place on the CPU, fused out of place on CUDA.

    With autograd recording, out of place (an in-place update would overwrite a state that the
    backward pass of score_fn may need).
    """
    if x.is_cuda or _needs_grad(x, s, z):
        return _update(x, s, z, a, b)
    return _update_(x, s, z, a, b)


def _step_inputs(x: object, score: object, noise: object) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    x = C.as_float_tensor("x", x)
    s = C.as_float_tensor("score", score)
    z = C.as_float_tensor("noise", noise)
    C.check_same_device(("x", "score", "noise"), (x, s, z))
    C.check_same_device_dtype(("x", "noise"), (x, z))
    for name, t in (("score", s), ("noise", z)):
        if t.shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {tuple(x.shape)}, got shape {tuple(t.shape)}")
    # a network's score under torch.autocast comes in bfloat16 / float16: the state stays in x's dtype
    return x, (s if s.dtype == x.dtype else s.to(x.dtype)), z


def langevin_step(x: torch.Tensor, score: torch.Tensor, *, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    r"""One unadjusted Langevin step (see :func:`reference.langevin.langevin_step`), as a new tensor.

    .. math::

        x' = x + \frac{\eta}{2}\, s(x) + \sqrt{\eta}\, \varepsilon \qquad
        (\text{Beigy: } x + \tfrac{\epsilon^2}{2} s(x) + \epsilon z, \ \eta = \epsilon^2).

    One fused kernel on CUDA; on the CPU two passes into the new tensor (over 4 MiB blocks with one
    intra-op thread, see :func:`langevin_step_`). For a loop that owns its buffer,
    :func:`langevin_step_` avoids the new allocation (on the CPU a large new tensor costs page faults
    that dominate the step). Differentiable; reads no values.

    Parameters
    ----------
    x : (n, ...) Tensor
        Current states (any shape; ``score`` and ``noise`` have the same, dtype and device).
    score : (n, ...) Tensor
        The score s(x).
    step_size : float
        eta > 0.
    noise : (n, ...) Tensor
        Standard normals eps.

    Returns
    -------
    (n, ...) Tensor
        The new states.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Beigy, Score-Based Generative Models, slide
    'Score-based generative models'; Roberts and Tweedie, Bernoulli 2(4), 1996.
    """
    eta = _step_size("step_size", step_size)
    x, s, z = _step_inputs(x, score, noise)
    return _update(x, s, z, eta / 2.0, math.sqrt(eta))


def langevin_step_(x: torch.Tensor, score: torch.Tensor, *, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    r"""In-place unadjusted Langevin step: x <- x + (eta/2) s + sqrt(eta) eps; returns x.

    .. math::

        x \leftarrow x + \frac{\eta}{2}\, s(x) + \sqrt{\eta}\, \varepsilon.

    Two in-place ``add_`` passes, no temporaries. On the CPU with one intra-op thread they run over
    blocks of 4 MiB per tensor, so that the second pass reads x from the cache and the memory traffic
    is the 16 bytes per float32 value of reading x, s, eps and writing x; with several threads, over
    the whole tensor (24 bytes per value; the blocks' extra parallel regions stall on a busy machine).
    ``benchmarks/bench_langevin.py`` compares it with a memory copy. On CUDA the two passes move 24
    bytes per value; the out-of-place :func:`langevin_step` is one
    fused kernel there. ``score`` may be x itself (an elementwise alias); a partial overlap is
    refused by PyTorch. Autograd records it as two in-place additions (x must not be a leaf that
    requires grad). Reads no values.

    Parameters
    ----------
    x : (n, ...) Tensor
        States, updated in place.
    score : (n, ...) Tensor
        The score s(x), same shape, dtype and device.
    step_size : float
        eta > 0.
    noise : (n, ...) Tensor
        Standard normals eps.

    Returns
    -------
    (n, ...) Tensor
        x, updated.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Roberts and Tweedie, Bernoulli 2(4), 1996.
    """
    eta = _step_size("step_size", step_size)
    x, s, z = _step_inputs(x, score, noise)
    return _update_(x, s, z, eta / 2.0, math.sqrt(eta))


def langevin_sample(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    step_size: float,
    n_steps: int,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Unadjusted Langevin chains (see :func:`reference.langevin.langevin_sample`), one batch, no host syncs.

    .. math::

        x_{k+1} = x_k + \frac{\eta}{2}\, s(x_k) + \sqrt{\eta}\, \varepsilon_k, \quad k = 0, \dots, K - 1.

    For p = N(0, s^2) the stationary variance of the chain is s^2 / (1 - eta / (4 s^2)), not s^2.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x) -> s(x)``, a tensor of x's shape, dtype and device.
    x0 : (n, ...) Tensor
        Initial states, finite (copied: x0 is never modified).
    step_size : float
        eta > 0 (eps^2 in the Beigy parametrisation).
    n_steps : int
        K >= 0.
    noise : (n_steps, n, d) Tensor, optional
        Standard normals, x0's dtype and device. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x0.shape, generator=rng, device=x0.device, dtype=x0.dtype)`` once per step.
    record_steps : sequence of int
        Strictly increasing steps in [0, n_steps] whose states go into ``trajectory`` (0 = x0).
    progress : bool
        Show a tqdm progress bar (it changes no result and reads no device value).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) and ``trajectory`` (len(record_steps), n, ...).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Beigy, Score-Based Generative Models, Example 3.3; Roberts and Tweedie, Bernoulli 2(4), 1996.
    """
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    K = _count("n_steps", n_steps)
    x = _chains(x0)
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _drawn("noise", noise, x, (K, *x.shape), "one standard normal per step and state: (n_steps, *x0.shape)")
    else:
        C.check_generator(rng, x.device)
    record = _Recorder(_record_steps(record_steps, K), x)
    record(0, x)
    a, b = eta / 2.0, math.sqrt(eta)
    steps = _steps(K, progress, "Langevin")
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in steps:
            eps = noise[k] if noise is not None else _standard_normals(rng, x)
            x = _advance(x, _score(score_fn, x), eps, a, b)
            record(k + 1, x)
    return LangevinResult(x, record.trajectory)


# --------------------------------------------------------------------------- annealed Langevin (NCSN)


def _sigmas(sigmas: object, x: torch.Tensor) -> torch.Tensor:
    """Noise levels sigma_1 > ... > sigma_L > 0 as a float64 (L,) tensor on x's device, without a host read.

    A sequence of Python floats is checked on the host (it is there already) and copied to the device
    once; a tensor is checked by one device assertion and copied to x's device if it is elsewhere.
    """
    if isinstance(sigmas, torch.Tensor):
        if not sigmas.is_floating_point():
            raise TypeError(f"sigmas: expected floating-point noise levels, got {C.describe(sigmas)}")
        if sigmas.ndim != 1 or sigmas.shape[0] == 0:
            raise ValueError(f"sigmas: expected a vector of L >= 1 noise levels, got shape {tuple(sigmas.shape)}")
        table = sigmas.detach().to(device=x.device, dtype=F64)
        if C.value_checks_active():
            ok = (table.amin() > 0) & (table.amax() < math.inf)
            if table.shape[0] > 1:
                ok = ok & (table[1:] < table[:-1]).all()

            def detail() -> str:
                values = table.tolist()
                if not all(math.isfinite(v) and v > 0 for v in values):
                    return f"sigmas: expected finite noise levels > 0, got {values}"
                return f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {values}"

            C.require(ok, "sigmas: expected finite, positive, strictly decreasing noise levels", detail)
        return table
    if isinstance(sigmas, Sequence) and not isinstance(sigmas, (str, bytes)):
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in sigmas):
            raise TypeError(f"sigmas: expected a sequence of Python floats or a 1-D tensor, got {C.describe(sigmas)}")
        values = [float(v) for v in sigmas]
    else:
        raise TypeError(f"sigmas: expected a 1-D tensor or a sequence of floats, got {C.describe(sigmas)}")
    if not values:
        raise ValueError("sigmas: expected a vector of L >= 1 noise levels, got an empty one")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"sigmas: expected finite noise levels > 0, got {values}")
    if any(b >= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {values}")
    return C.from_host("sigmas", values, F64, x.device)


def annealed_langevin_sample(
    score_fn: Callable[[torch.Tensor, float], torch.Tensor],
    x0: torch.Tensor,
    sigmas: torch.Tensor,
    *,
    step_size: float,
    n_steps_each: int,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    denoise: bool = False,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Annealed Langevin dynamics, NCSN (see :func:`reference.langevin.annealed_langevin_sample`).

    .. math::

        \alpha_i = \eta\, \frac{\sigma_i^2}{\sigma_L^2}, \qquad
        x_t = x_{t-1} + \frac{\alpha_i}{2}\, s(x_{t-1}, \sigma_i) + \sqrt{\alpha_i}\, \varepsilon_t,

    T steps at each level i = 1..L, then optionally :math:`x + \sigma_L^2 s(x, \sigma_L)` (Tweedie
    denoising). ``sigma`` reaches ``score_fn`` as an (n,) tensor of the level, in x's dtype on its
    device (the protocol of ``ncsn_loss``: a model that trains is a model that samples); no device
    value is read in the loop.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x, sigma) -> s(x, sigma)``; x of x0's shape, sigma an (n,) tensor of the level.
    x0 : (n, ...) Tensor
        Initial states, finite.
    sigmas : (L,) Tensor or sequence of float
        Strictly decreasing noise levels > 0 (a tensor is checked on the device, a sequence on the
        host and copied to the device without a blocking copy).
    step_size : float
        eta > 0, the step at the last level.
    n_steps_each : int
        T >= 0.
    noise : (L, T, n, d) Tensor, optional
        Standard normals; exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x0.shape, ...)`` once per step, level by level.
    denoise : bool
        Apply the final Tweedie step.
    record_steps : sequence of int
        Strictly increasing global steps in [0, L T] (recorded before the denoising step).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) and ``trajectory`` (len(record_steps), n, ...).

    References
    ----------
    Isachenko, DGM Lecture 13, 'Sampling (annealed Langevin dynamics)'; Lecture 14, 'NCSN sampling
    (annealed Langevin dynamics)'; Beigy, Score-Based Generative Models, eta_t = eta (sigma_t /
    sigma_T)^2; Song and Ermon, NeurIPS 2019, Algorithm 1; Song and Ermon, NeurIPS 2020 (denoising).
    """
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    T = _count("n_steps_each", n_steps_each)
    x = _chains(x0)
    sigma = _sigmas(sigmas, x)
    L, n = sigma.shape[0], x.shape[0]
    if not isinstance(denoise, bool):
        raise TypeError(f"denoise: expected a bool, got {C.describe(denoise)}")
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        noise = _drawn("noise", noise, x, (L, T, *x.shape), "one standard normal per level, step and state")
    else:
        C.check_generator(rng, x.device)
    record = _Recorder(_record_steps(record_steps, L * T), x)
    record(0, x)
    # Per level, on the device: alpha_i = eta (sigma_i / sigma_L)^2 in float64, then a = alpha_i / 2 and
    # b = sqrt(alpha_i) cast once to x's dtype; the model's sigma is an (n,) view of the level.
    alpha = eta * (sigma / sigma[-1]) ** 2
    a_i, b_i = (c.unbind(0) for c in torch.stack((alpha / 2.0, torch.sqrt(alpha))).to(x.dtype))
    levels = sigma.to(x.dtype).unsqueeze(1).expand(L, n).unbind(0)
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in _steps(L * T, progress, "annealed Langevin"):
            i, t = divmod(k, T)  # level i, step t within it
            eps = noise[i, t] if noise is not None else _standard_normals(rng, x)
            x = _advance(x, _score(score_fn, x, levels[i]), eps, a_i[i], b_i[i])
            record(k + 1, x)
    if denoise:
        x = torch.addcmul(x, _score(score_fn, x, levels[-1]), levels[-1][0] ** 2)
    return LangevinResult(x, record.trajectory)


# --------------------------------------------------------------------------- MALA


def _log_q(x_to: torch.Tensor, x_from: torch.Tensor, score_from: torch.Tensor, eta: float) -> torch.Tensor:
    """log q(x_to | x_from) up to a constant, float64 inputs."""
    r = x_to - x_from - (eta / 2.0) * score_from
    return -(r * r).sum(dim=tuple(range(1, r.ndim))) / (2.0 * eta)


def _log_ratio(
    x: torch.Tensor,
    x_prop: torch.Tensor,
    log_p: torch.Tensor,
    log_p_prop: torch.Tensor,
    s: torch.Tensor,
    s_prop: torch.Tensor,
    eta: float,
) -> torch.Tensor:
    """The MALA log ratio in float64 (see the module docstring), without checks."""
    x, x_prop, s, s_prop = (t.to(F64) for t in (x, x_prop, s, s_prop))
    return log_p_prop.to(F64) - log_p.to(F64) + _log_q(x, x_prop, s_prop, eta) - _log_q(x_prop, x, s, eta)


def mala_log_acceptance_ratio(
    x: torch.Tensor,
    x_proposal: torch.Tensor,
    log_prob_x: torch.Tensor,
    log_prob_proposal: torch.Tensor,
    score_x: torch.Tensor,
    score_proposal: torch.Tensor,
    *,
    step_size: float,
) -> torch.Tensor:
    r"""Log Metropolis-Hastings ratio of the Langevin proposal (see the reference), computed in float64.

    .. math::

        r = \log p(x') - \log p(x) + \log q(x \mid x') - \log q(x' \mid x), \qquad
        \log q(x' \mid x) = -\frac{\lVert x' - x - \frac{\eta}{2} s(x) \rVert^2}{2\eta} + \text{const}.

    Parameters
    ----------
    x, x_proposal : (n, ...) Tensor
        Current states and proposals.
    log_prob_x, log_prob_proposal : (n,) Tensor
        log p (up to a constant) at x and x'; -inf allowed.
    score_x, score_proposal : (n, ...) Tensor
        The scores there. All six of one dtype and device.
    step_size : float
        eta > 0.

    Returns
    -------
    (n,) Tensor
        r, in the inputs' dtype (computed in float64).

    References
    ----------
    Roberts and Tweedie, Bernoulli 2(4), 1996; Isachenko, DGM Lecture 7, slide 'Langevin dynamic'.
    """
    eta = _step_size("step_size", step_size)
    names = ("x", "x_proposal", "log_prob_x", "log_prob_proposal", "score_x", "score_proposal")
    values = (x, x_proposal, log_prob_x, log_prob_proposal, score_x, score_proposal)
    t = {name: C.as_float_tensor(name, v) for name, v in zip(names, values)}
    C.check_same_device_dtype(names, tuple(t.values()))
    x = t["x"]
    if x.ndim < 1:
        raise ValueError(f"x: expected states of shape (n, ...), got shape {tuple(x.shape)}")
    for name in ("x_proposal", "score_x", "score_proposal"):
        if t[name].shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {tuple(x.shape)}, got shape {tuple(t[name].shape)}")
    for name in ("log_prob_x", "log_prob_proposal"):
        if t[name].shape != x.shape[:1]:
            raise ValueError(
                f"{name}: expected shape {tuple(x.shape[:1])} (one per state of x {tuple(x.shape)}), "
                f"got {tuple(t[name].shape)}"
            )
        C.check_not_nan(name, t[name])
    r = _log_ratio(x, t["x_proposal"], t["log_prob_x"], t["log_prob_proposal"], t["score_x"], t["score_proposal"], eta)
    return r.to(x.dtype)


def mala_sample(
    log_prob_fn: Callable[[torch.Tensor], torch.Tensor],
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    step_size: float,
    n_steps: int,
    noise: torch.Tensor | None = None,
    uniforms: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> MALAResult:
    r"""Metropolis-adjusted Langevin algorithm (see :func:`reference.langevin.mala_sample`), no host syncs.

    .. math::

        x' = x_k + \frac{\eta}{2} s(x_k) + \sqrt{\eta}\, \varepsilon_k, \qquad
        x_{k+1} = x' \text{ where } \log u_k < r(x_k, x'), \text{ else } x_k.

    The accept test is a ``torch.where`` on the device; the per-chain count of acceptances is
    accumulated there and divided by n_steps at the end. The log ratio r is computed in float64.

    Parameters
    ----------
    log_prob_fn : callable
        ``log_prob_fn(x) -> log p(x)`` (up to a constant), (n, ...) -> (n,), on x's device.
    score_fn : callable
        ``score_fn(x) -> grad log p(x)``, (n, ...) -> (n, ...).
    x0 : (n, ...) Tensor
        Initial states, finite.
    step_size : float
        eta > 0.
    n_steps : int
        K >= 0.
    noise : (n_steps, n, d) Tensor, optional
        Standard normals of the proposals, with ``uniforms``; or ``rng``.
    uniforms : (n_steps, n) Tensor, optional
        Uniforms in [0, 1] of the accept tests.
    rng : torch.Generator, optional
        Draws, per step, ``torch.randn(x0.shape, ...)`` then ``torch.rand(x0.shape[:1], ...)``, on x0's
        device (where the generator must be).
    record_steps : sequence of int
        Strictly increasing steps in [0, n_steps] whose states go into ``trajectory`` (0 = x0).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    MALAResult
        ``samples`` (n, ...), ``trajectory`` (len(record_steps), n, ...), ``acceptance_rate`` (n,).

    References
    ----------
    Roberts and Tweedie, Exponential convergence of Langevin distributions and their discrete
    approximations, Bernoulli 2(4), 1996; Isachenko, DGM Lecture 7, slide 'Langevin dynamic'.
    """
    _callable("log_prob_fn", log_prob_fn)
    _callable("score_fn", score_fn)
    eta = _step_size("step_size", step_size)
    K = _count("n_steps", n_steps)
    x = _chains(x0)
    C.check_noise_or_rng(noise, rng)
    if noise is not None:
        if uniforms is None:
            raise ValueError(
                "uniforms: required with noise= (the accept tests' uniforms, shape (n_steps, n)), got None"
            )
        noise = _drawn("noise", noise, x, (K, *x.shape), "one standard normal per step and state: (n_steps, *x0.shape)")
        uniforms = _drawn("uniforms", uniforms, x, (K, *x.shape[:1]), "one uniform per step and chain")
        C.check_in_interval("uniforms", uniforms, 0.0, 1.0)
    elif uniforms is not None:
        raise ValueError("uniforms: pass uniforms= together with noise=, not with rng= (rng draws both)")
    else:
        C.check_generator(rng, x.device)
    record = _Recorder(_record_steps(record_steps, K), x)
    record(0, x)
    a, b = eta / 2.0, math.sqrt(eta)
    log_p, s = _log_prob(log_prob_fn, x), _score(score_fn, x)
    accepted = torch.zeros(x.shape[:1], dtype=x.dtype, device=x.device)
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in _steps(K, progress, "MALA"):
            if noise is not None:
                eps, u = noise[k], uniforms[k]
            else:
                eps = _standard_normals(rng, x)
                u = torch.rand(x.shape[:1], generator=rng, device=x.device, dtype=x.dtype)
            x_prop = _update(x, s, eps, a, b)
            log_p_prop, s_prop = _log_prob(log_prob_fn, x_prop), _score(score_fn, x_prop)
            accept = torch.log(u.to(F64)) < _log_ratio(x, x_prop, log_p, log_p_prop, s, s_prop, eta)
            move = _per_chain(accept, x)
            x = torch.where(move, x_prop, x)
            log_p = torch.where(accept, log_p_prop, log_p)
            s = torch.where(move, s_prop, s)
            accepted += accept
            record(k + 1, x)
    return MALAResult(x, record.trajectory, accepted / K if K > 0 else torch.full_like(accepted, math.nan))
