"""The unadjusted Langevin step and chain (ULA) in PyTorch: out of place, in place, and the sampler.

Same formulas as :mod:`reference.langevin.sampler` (Isachenko, DGM Lecture 7, 'Langevin dynamic';
Lecture 13, 'Langevin dynamics'; Beigy, 'Score-based generative models', eta = eps^2). The update
itself (fused on CUDA, in place and cache-blocked on the CPU) is in ``_update``.

One-sided names: ``langevin_step_`` (the in-place update of a tensor buffer; NumPy arrays of the
reference are not updated in place).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_chain, _check_draws, _check_state, _Recorder, _score, _standard_normals, _steps
from ._update import _advance, _update, _update_

__all__ = ["LangevinResult", "langevin_sample", "langevin_step", "langevin_step_"]


class LangevinResult(NamedTuple):
    """Result of :func:`langevin_sample`, :func:`annealed_langevin_sample` and :func:`euler_maruyama_solve` (tensors
    like x0).

    Examples
    --------
    Two chains, no recorded step:

    >>> list(LangevinResult(torch.zeros(2, 1), torch.empty(0, 2, 1)).trajectory.shape)
    [0, 2, 1]
    """

    samples: torch.Tensor
    """(n, ...) the states after the last step (after the denoising step, where asked for)."""
    trajectory: torch.Tensor
    """(len(record_steps), n, ...) the states after the steps listed in ``record_steps`` (0 = x0)."""


def _check_step(
    x: object, score: object, step_size: object, noise: object
) -> tuple[torch.Tensor, torch.Tensor, float, torch.Tensor]:
    """One step's inputs: eta > 0, x, score and noise of one shape on one device (x and noise of one dtype);
    as (x, s, eta, z), s cast to x's dtype (a network's score under torch.autocast comes in bfloat16 /
    float16: the state stays in x's dtype). Metadata checks only: the step reads no values."""
    eta = A.positive("step_size", step_size)
    x, s, z = C.as_float_tensor("x", x), C.as_float_tensor("score", score), C.as_float_tensor("noise", noise)
    C.check_same_device(("x", "score", "noise"), (x, s, z))
    C.check_same_device_dtype(("x", "noise"), (x, z))
    for name, t in (("score", s), ("noise", z)):
        if t.shape != x.shape:
            raise ValueError(f"{name}: expected the shape of x, {tuple(x.shape)}, got shape {tuple(t.shape)}")
    return x, (s if s.dtype == x.dtype else s.to(x.dtype)), eta, z


def _scalar(value: float) -> torch.Tensor:
    """A Python float as a 0-d float64 CPU tensor (named in a refusal's message; no device transfer)."""
    return torch.tensor(value, dtype=torch.float64)


def langevin_step(x: torch.Tensor, score: torch.Tensor, *, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    r"""One unadjusted Langevin step (see :func:`reference.langevin.langevin_step`), as a new tensor.

    .. math::

        x' = x + \frac{\eta}{2}\, s(x) + \sqrt{\eta}\, \varepsilon \qquad
        (\text{Beigy: } x + \tfrac{\epsilon^2}{2} s(x) + \epsilon z, \ \eta = \epsilon^2).

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

    Notes
    -----
    One fused kernel on CUDA; on the CPU two passes into the new tensor (over 4 MiB blocks with one
    intra-op thread, see :func:`langevin_step_`). For a loop that owns its buffer,
    :func:`langevin_step_` avoids the new allocation (on the CPU a large new tensor costs page faults
    that dominate the step). Differentiable.

    A new state that is not finite is refused with a ``ValueError``, as on the reference side: one
    device assertion on the result (:func:`accelerated._checks.check_result`, no host read; on CUDA a
    failure surfaces at the next synchronisation), naming the first non-finite input among x, score and
    noise, or saying that the step overflowed from finite inputs (x, score, noise or step_size near
    1e300). Skipped where value checks are off (inside this library's sampler loops, under
    ``torch.compile``); the samplers do not call it per step.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Beigy, Score-Based Generative Models, slide
    'Score-based generative models'; Roberts and Tweedie, Bernoulli 2(4), 1996.

    Examples
    --------
    eta = 0.04: x' = 1 + 0.02 * 0.5 + 0.2 * 0.1 = 1.03 (the slide's update by hand):

    >>> one = lambda v: torch.tensor([v], dtype=torch.float64)
    >>> round(float(langevin_step(one(1.0), one(0.5), step_size=0.04, noise=one(0.1))[0]), 12)
    1.03
    """
    x, s, eta, z = _check_step(x, score, step_size, noise)
    out = _update(x, s, z, eta / 2.0, math.sqrt(eta))
    if C.value_checks_active():
        C.check_result(out, (("x", x), ("score", s), ("noise", z), ("step_size", _scalar(eta))))
    return out


def langevin_step_(x: torch.Tensor, score: torch.Tensor, *, step_size: float, noise: torch.Tensor) -> torch.Tensor:
    r"""In-place unadjusted Langevin step: x <- x + (eta/2) s + sqrt(eta) eps; returns x.

    .. math::

        x \leftarrow x + \frac{\eta}{2}\, s(x) + \sqrt{\eta}\, \varepsilon.

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

    Notes
    -----
    Two in-place ``add_`` passes, no temporaries. On the CPU with one intra-op thread they run over
    blocks of 4 MiB per tensor, so that the second pass reads x from the cache and the memory traffic
    is the 16 bytes per float32 value of reading x, s, eps and writing x; with several threads, over
    the whole tensor (24 bytes per value; the blocks' extra parallel regions stall on a busy machine).
    ``benchmarks/bench_langevin.py`` compares it with a memory copy. On CUDA the two passes move 24
    bytes per value; the out-of-place :func:`langevin_step` is one fused kernel there. ``score`` may be
    x itself (an elementwise alias); a partial overlap is refused by PyTorch, and an x whose elements
    share memory (an expanded view) with a ``ValueError`` naming x. Autograd records it as two
    in-place additions (x must not be a leaf that requires grad).

    A new state that is not finite (non-finite x, score or noise, or an overflow from finite inputs near
    1e300, including a float16 / bfloat16 x whose update exceeds its range) is refused with a
    ``ValueError`` naming score or noise where they are not finite, else x and step_size (x was not
    finite, or the step overflowed: the old x is gone, so the message cannot tell which), by one device
    assertion after the update (no host read). **After a refusal x has been updated**: it
    holds the new, non-finite states (on CUDA the failure surfaces at the next synchronisation, after
    later work may have used x); pass ``x.clone()`` to keep the old states. Skipped where value checks
    are off.

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Roberts and Tweedie, Bernoulli 2(4), 1996.

    Examples
    --------
    The same step as :func:`langevin_step`, into x: 1 + 0.02 * 0.5 + 0.2 * 0.1 = 1.03:

    >>> x, s, z = (torch.tensor([v], dtype=torch.float64) for v in (1.0, 0.5, 0.1))
    >>> _ = langevin_step_(x, s, step_size=0.04, noise=z)
    >>> round(float(x[0]), 12)
    1.03
    """
    x, s, eta, z = _check_step(x, score, step_size, noise)
    if torch._debug_has_internal_overlap(x) == 1:  # metadata only: an expanded (stride-0) or overlapping view
        raise ValueError(
            f"x: expected a tensor whose elements occupy distinct memory to update in place, got an expanded or "
            f"overlapping view ({C.describe(x)}, strides {x.stride()}); pass x.clone() or use langevin_step"
        )
    _update_(x, s, z, eta / 2.0, math.sqrt(eta))
    if C.value_checks_active():  # one device assertion on the updated x (no host read)
        C.require(C.result_flag(x), _in_place_message, _in_place_detail, s, z, x, eta)
    return x


def _in_place_message(s: torch.Tensor, z: torch.Tensor, x: torch.Tensor, eta: float) -> str:
    return "x, score, noise, step_size: expected finite values (the updated x is not finite; x holds it)"


def _in_place_detail(s: torch.Tensor, z: torch.Tensor, x: torch.Tensor, eta: float) -> str:
    """The failure path of :func:`langevin_step_`: a non-finite score or noise, else x or the overflow (x's
    old values are gone, so the two cannot be told apart)."""
    for name, t in (("score", s), ("noise", z)):
        bad = C.count_non_finite(t)
        if bad:
            return f"{name}: expected finite values, got {bad} NaN or infinite entries (x holds the non-finite update)"
    largest = max(float(s.detach().abs().max()), float(z.detach().abs().max()), eta)
    return (
        f"x, step_size: the updated states x + (eta/2) score + sqrt(eta) noise are not finite in "
        f"{str(x.dtype).removeprefix('torch.')} from finite score and noise: x was non-finite, or the step "
        f"overflowed (largest |score|, |noise|, step_size: {largest:.3g}); x holds the non-finite update"
    )


def _step_size_detail(table: torch.Tensor) -> str:
    """The failure path: the host check's message (the values are read only here)."""
    try:
        AL.step_sizes("step_size", table.tolist(), table.shape[0])
    except ValueError as err:
        return str(err)
    return "step_size: expected finite step sizes > 0"


def _coefficients(step_size: object, n_steps: int, x: torch.Tensor) -> tuple[Sequence, Sequence]:
    """Per-step coefficients (alpha_k / 2, sqrt(alpha_k)): Python floats from a host sequence or array, or
    (K,) tensors in x's dtype on x's device from a tensor (checked by one device assertion, no host read)."""
    if not isinstance(step_size, torch.Tensor):
        values = np.asarray(step_size, dtype=np.float64) if isinstance(step_size, np.ndarray) else None
        if values is not None and values.ndim != 1:
            raise ValueError(f"step_size: expected a number or a vector of n_steps sizes, got shape {values.shape}")
        sizes = AL.step_sizes("step_size", values.tolist() if values is not None else step_size, n_steps)
        return tuple(v / 2.0 for v in sizes), tuple(math.sqrt(v) for v in sizes)
    if not step_size.is_floating_point():
        raise TypeError(f"step_size: expected floating-point step sizes, got {C.describe(step_size)}")
    if step_size.ndim != 1:
        raise ValueError(
            f"step_size: expected a number or a vector of n_steps sizes, got shape {tuple(step_size.shape)}"
        )
    if step_size.shape[0] != n_steps:
        raise ValueError(f"step_size: expected one step size per step, {n_steps} (n_steps), got {step_size.shape[0]}")
    table = step_size.detach().to(device=x.device, dtype=torch.float64)
    if C.value_checks_active() and n_steps:
        ok = (table.amin() > 0) & (table.amax() < math.inf)
        C.require(ok, "step_size: expected finite step sizes > 0", _step_size_detail, table)
    return (table / 2.0).to(x.dtype), table.sqrt().to(x.dtype)


def langevin_sample(
    score_fn: Callable[[torch.Tensor], torch.Tensor],
    x0: torch.Tensor,
    *,
    step_size: float | torch.Tensor,
    n_steps: int,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Unadjusted Langevin chains (see :func:`reference.langevin.langevin_sample`), one batch, no host syncs.

    .. math::

        x_{k+1} = x_k + \frac{\eta_k}{2}\, s(x_k) + \sqrt{\eta_k}\, \varepsilon_k, \quad k = 0, \dots, K - 1,

    with one step size eta_k = eta or per-step sizes alpha_t (Advanced Course, Lecture 8).

    For p = N(0, s^2) the stationary variance of the chain is s^2 / (1 - eta / (4 s^2)), not s^2.

    Parameters
    ----------
    score_fn : callable
        ``score_fn(x) -> s(x)``, a tensor of x's shape, dtype and device.
    x0 : (n, ...) Tensor
        Initial states, finite (copied: x0 is never modified).
    step_size : float or (n_steps,) Tensor
        eta > 0 (eps^2 in the Beigy parametrisation), or one step size per step alpha_0, ..., alpha_(K-1)
        > 0: a 1-D tensor (any device; copied to x0's once, checked by one device assertion) or a NumPy
        array, list or tuple (checked on the host) of exactly n_steps finite numbers.
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

    Notes
    -----
    A chain that diverges (a state overflows or turns NaN: the step size is too large for the target,
    or score_fn returned non-finite values) raises a ``ValueError`` saying so, with the reference's
    message: one device assertion after the loop, no host read (on CUDA it surfaces at the next
    synchronisation; skipped with value checks off, where the non-finite states are returned).
    A ``ValueError`` that score_fn raises at a state (a model that refuses far points, e.g. a
    mixture's score at |x| = 1e300) is re-raised as the same divergence, the model's message appended.
    Per-step sizes of the wrong length (not n_steps) or not 1-D are refused naming ``step_size``; entries
    that are not finite and > 0 too (a tensor: by one device assertion at entry, no host read; the
    per-step coefficients alpha_k / 2 and sqrt(alpha_k) are 0-d device tensors, read by no Python branch).

    References
    ----------
    Isachenko, DGM Lecture 7, slide 'Langevin dynamic'; Lecture 13, recap slide 'Langevin dynamics';
    Advanced Course on DGM, Lecture 8, slide 'Langevin dynamics' (the per-step alpha_t); Beigy, Score-Based
    Generative Models, Example 3.3; Roberts and Tweedie, Bernoulli 2(4), 1996.

    Examples
    --------
    On N(0, 1) without noise each step multiplies x by the AR(1) factor 1 - eta/2 = 0.75 (eta = 0.5),
    so two steps from 1 give 0.75^2 = 0.5625:

    >>> x0 = torch.ones(1, 1, dtype=torch.float64)
    >>> out = langevin_sample(lambda x: -x, x0, step_size=0.5, n_steps=2, noise=torch.zeros(2, 1, 1, dtype=x0.dtype))
    >>> float(out.samples[0, 0])
    0.5625

    Per-step sizes alpha_t = (0.5, 1.0): factors 0.75 and 0.5, so 0.375:

    >>> alphas = torch.tensor([0.5, 1.0], dtype=torch.float64)
    >>> out = langevin_sample(lambda x: -x, x0, step_size=alphas, n_steps=2, noise=torch.zeros(2, 1, 1, dtype=x0.dtype))
    >>> float(out.samples[0, 0])
    0.375
    """
    per_step = isinstance(step_size, torch.Tensor | np.ndarray | list | tuple)
    x, eta = _check_chain(score_fn, x0, 1.0 if per_step else step_size, noise, rng)
    K = A.count("n_steps", n_steps, minimum=0)
    a, b = _coefficients(step_size, K, x) if per_step else ((eta / 2.0,) * K, (math.sqrt(eta),) * K)
    noise, record = _check_draws(noise, x, (K,), record_steps)
    record = _Recorder(record, x)
    record(0, x)
    steps = _steps(K, progress, "Langevin")
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in steps:
            eps = noise[k] if noise is not None else _standard_normals(rng, x)
            x = _advance(x, _score(score_fn, x), eps, a[k], b[k])
            record(k + 1, x)
    _check_state(x, "score_fn")
    return LangevinResult(x, record.trajectory)
