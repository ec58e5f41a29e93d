"""Argument groups, callables' outputs and the recorder shared by the accelerated samplers (private).

The same argument helpers, with the same names, arguments, returns and errors, live in
``reference/langevin/_common.py``; the pure-Python checks are in :mod:`reference._args.langevin`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from tqdm import tqdm

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C


def _check_chain(
    score_fn: object, x0: object, step_size: object, noise: object, rng: object
) -> tuple[torch.Tensor, float]:
    """A sampler's model, start and step: ``score_fn`` callable, eta > 0, x0 (n, ...) finite (a device
    assertion), one of noise / rng (a generator on x0's device).

    Returns the chains' own buffer x (a contiguous copy of x0, updated in place) and eta.
    """
    AL.function("score_fn", score_fn)
    eta = A.positive("step_size", step_size)
    x = C.as_float_tensor("x0", x0)
    if x.ndim < 1 or x.numel() == 0:
        raise ValueError(f"x0: expected initial states of shape (n, ...), n >= 1, got shape {tuple(x.shape)}")
    C.check_finite("x0", x)
    C.check_noise_or_rng(noise, rng)
    if rng is not None:
        C.check_generator(rng, x.device)
    return x.clone(memory_format=torch.contiguous_format), eta  # the chains' own buffer


def _check_drawn(name: str, values: object, x: torch.Tensor, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """Pre-drawn noise or uniforms: dtype and device of x, exactly ``shape``, finite (a device assertion)."""
    values = C.as_float_tensor(name, values)
    C.check_same_device_dtype(("x0", name), (x, values))
    if tuple(values.shape) != shape:
        raise ValueError(f"{name}: expected shape {shape} ({what}), got shape {tuple(values.shape)}")
    C.check_finite(name, values)
    return values


def _check_draws(
    noise: object, x: torch.Tensor, steps: tuple[int, ...], record_steps: object
) -> tuple[torch.Tensor | None, tuple[int, ...]]:
    """The noise of ``steps`` (K,) or (L, T) steps of the chains x (None with rng=), and the steps to record."""
    if noise is not None:
        what = "one standard normal per " + ("step" if len(steps) == 1 else "level, step") + " and state"
        noise = _check_drawn("noise", noise, x, (*steps, *x.shape), what)
    return noise, AL.record_steps(record_steps, math.prod(steps))


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


def _score(
    score_fn: Callable, x: torch.Tensor, *sigma: torch.Tensor, functions: tuple[str, ...] = ("score_fn",), initial=False
) -> torch.Tensor:
    """score_fn(x[, sigma]) like x (a ValueError of the model re-raised naming the sampler's arguments,
    :func:`reference._args.langevin.call_model`, as on the reference side)."""
    return _like_x("score_fn", AL.call_model("score_fn", score_fn, (x, *sigma), functions, initial), x, tuple(x.shape))


def _log_prob(log_prob_fn: Callable, x: torch.Tensor, functions: tuple[str, ...], initial=False) -> torch.Tensor:
    value = AL.call_model("log_prob_fn", log_prob_fn, (x,), functions, initial)
    return _like_x("log_prob_fn", value, x, tuple(x.shape[:1]))


def _finite_states(x: torch.Tensor) -> torch.Tensor | None:
    """0-d flag that the states x are finite (None where value checks are off)."""
    return C.finite_flag(x) if C.value_checks_active() else None


def _check_state(x: torch.Tensor, *functions: str, ok: torch.Tensor | None = None) -> None:
    """After the loop: the final states x (and the flag ``ok`` accumulated in the loop) finite, else a
    ValueError that the chain diverged. One device assertion, no host read (a CUDA failure surfaces at
    the next synchronisation); skipped where value checks are off."""
    if not C.value_checks_active():
        return
    flag = C.finite_flag(x)
    C.require(flag if ok is None else flag.logical_and(ok), AL.diverged_message(*functions))


def _standard_normals(rng: torch.Generator, x: torch.Tensor) -> torch.Tensor:
    return torch.randn(x.shape, generator=rng, device=x.device, dtype=x.dtype)


def _per_chain(value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A per-chain (n,) tensor as (n, 1, ..., 1), broadcasting over x's feature axes (a view)."""
    return value.view(x.shape[:1] + (1,) * (x.ndim - 1))


def _steps(total: int, progress: object, desc: str):
    """range(total), or a tqdm bar over it with ``progress=True`` (no bar object is built otherwise)."""
    return tqdm(range(total), desc=desc, unit="step") if A.flag("progress", progress) else range(total)


class _Recorder:
    """The states at the listed steps, copied into one preallocated (len(steps), *x0.shape) tensor."""

    def __init__(self, steps: tuple[int, ...], x: torch.Tensor) -> None:
        self.slot = {k: j for j, k in enumerate(steps)}
        self.trajectory = x.new_empty((len(steps), *x.shape))

    def __call__(self, k: int, x: torch.Tensor) -> None:
        j = self.slot.get(k)
        if j is not None:
            self.trajectory[j].copy_(x)
