"""Argument checks of the Langevin samplers that both sides share (pure Python, no arrays).

A callable argument (``score_fn``, ``log_prob_fn``, an energy), the steps whose states a sampler
records (``record_steps``) and noise levels given as a sequence of Python or NumPy numbers
(``sigmas``). Same error rule as :mod:`reference._args`: wrong type ``TypeError``, wrong value
``ValueError``, every message naming the argument.
"""

from __future__ import annotations

import itertools
import math
import numbers
import operator
from collections.abc import Callable, Sequence

from . import describe, number_sequence

__all__ = [
    "annealed_step_sizes",
    "call_model",
    "diverged_message",
    "function",
    "noise_levels",
    "record_steps",
    "sde_diverged_message",
    "step_sizes",
    "time_grid",
]


def function(name: str, fn: object, what: str = "") -> object:
    """A callable, returned unchanged; ``what`` describes it in the message.

    >>> function("score_fn", 3)
    Traceback (most recent call last):
        ...
    TypeError: score_fn: expected a callable, got int 3
    """
    if not callable(fn):
        raise TypeError(f"{name}: expected a callable{' ' + what if what else ''}, got {describe(fn)}")
    return fn


def diverged_message(*functions: str) -> str:
    """The error of a chain whose state (or a model's value there) became non-finite, or that a model refused.

    The same text on both sides; it names the sampler's own arguments that can make a chain diverge.

    >>> diverged_message("score_fn")  # doctest: +ELLIPSIS
    'step_size / noise / score_fn: the chain diverged (non-finite states or scores, or states that score_fn ...
    """
    fns = " / ".join(functions)
    return (
        f"step_size / noise / {fns}: the chain diverged (non-finite states or scores, or states that {fns} "
        f"refused): the step size is too large for the target, the noise is not standard normal, or {fns} "
        f"returned non-finite values"
    )


def sde_diverged_message() -> str:
    """The error of an SDE solution whose state (or drift / diffusion there) became non-finite, or that a model
    refused; the same text on both sides.

    >>> sde_diverged_message()  # doctest: +ELLIPSIS
    'times / noise / drift_fn / diffusion_fn: the solution diverged (non-finite states, drifts or diffusions...
    """
    return (
        "times / noise / drift_fn / diffusion_fn: the solution diverged (non-finite states, drifts or diffusions, "
        "or states that drift_fn refused): the time steps are too large for the drift, the noise is not standard "
        "normal, or drift_fn / diffusion_fn returned non-finite values"
    )


def call_model(
    name: str, fn: Callable, args: tuple, functions: tuple[str, ...], initial: bool = False, message: str = ""
) -> object:
    """``fn(*args)``, a sampler's call of its model ``name``; a ValueError the model raises is re-raised naming
    the sampler's arguments: ``x0`` at the initial states (``initial=True``), else that the chain diverged.

    A model that refuses its input (a mixture's score at |x| = 1e300) names its own argument (``x``),
    which is not the sampler's; the cause is the sampler's x0, or its step size / noise that carried the
    chain there.

    >>> def score(x):
    ...     raise ValueError("x: expected finite values")
    >>> call_model("score_fn", score, (1.0,), ("score_fn",), initial=True)
    Traceback (most recent call last):
        ...
    ValueError: x0: expected initial states at which score_fn is defined; score_fn(x0) raised: x: expected finite values

    ``message`` replaces the divergence text (the SDE solver's :func:`sde_diverged_message`).
    """
    try:
        return fn(*args)
    except ValueError as err:
        if initial:
            raise ValueError(
                f"x0: expected initial states at which {name} is defined; {name}(x0) raised: {err}"
            ) from err
        raise ValueError(f"{message or diverged_message(*functions)}; {name} raised: {err}") from err


def record_steps(value: object, n_total: int) -> tuple[int, ...]:
    """Strictly increasing step indices in [0, n_total] (Python or NumPy integers), as a tuple of ints.

    >>> record_steps(range(0, 5, 2), 4)
    (0, 2, 4)
    >>> record_steps((1, 1), 4)
    Traceback (most recent call last):
        ...
    ValueError: record_steps: expected strictly increasing step indices, got [1, 1]
    """
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, range)):
        raise TypeError(f"record_steps: expected a sequence of ints, got {describe(value)}")
    steps = []
    for k in value:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"record_steps: expected ints, got {describe(k)}")
        steps.append(operator.index(k))
    if any(b <= a for a, b in itertools.pairwise(steps)):
        raise ValueError(f"record_steps: expected strictly increasing step indices, got {steps}")
    if steps and (steps[0] < 0 or steps[-1] > n_total):
        raise ValueError(f"record_steps: expected step indices in [0, {n_total}] (the number of steps), got {steps}")
    return tuple(steps)


def noise_levels(name: str, values: object) -> tuple[float, ...]:
    """Noise levels sigma_1 > ... > sigma_L > 0 given as a list or tuple of numbers, as Python floats.

    >>> noise_levels("sigmas", [2, 1.0])
    (2.0, 1.0)
    >>> noise_levels("sigmas", [1.0, 2.0])
    Traceback (most recent call last):
        ...
    ValueError: sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got [1.0, 2.0]
    """
    levels = number_sequence(name, values)
    if not all(math.isfinite(v) and v > 0 for v in levels):
        raise ValueError(f"{name}: expected finite noise levels > 0, got {list(levels)}")
    if any(b >= a for a, b in itertools.pairwise(levels)):
        raise ValueError(
            f"{name}: expected strictly decreasing noise levels sigma_1 > ... > sigma_L, got {list(levels)}"
        )
    return levels


def step_size_overflow(name: str, eta: float, first: float, last: float) -> str:
    """The error of annealed step sizes that overflow (shared by both sides' messages)."""
    return (
        f"{name}: the step sizes step_size (sigma_1 / sigma_L)^2 overflow float64 (sigma_1 = {first!r}, "
        f"sigma_L = {last!r}, step_size = {eta!r}); use noise levels of a narrower range"
    )


def annealed_step_sizes(name: str, eta: float, first: float, last: float) -> float:
    """The largest annealed step eta (sigma_1 / sigma_L)^2, refused where it overflows float64.

    >>> annealed_step_sizes("sigmas", 0.1, 2.0, 1.0)
    0.4
    >>> annealed_step_sizes("sigmas", 0.1, 1.0, 1e-300)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: sigmas: the step sizes step_size (sigma_1 / sigma_L)^2 overflow float64 (sigma_1 = 1.0, ...
    """
    ratio = first / last
    largest = eta * ratio * ratio  # Python float products overflow to inf (only ** raises OverflowError)
    if not math.isfinite(largest):
        raise ValueError(step_size_overflow(name, eta, first, last))
    return largest


def time_grid(name: str, values: Sequence[float]) -> tuple[float, ...]:
    """A time grid t_0 < t_1 < ... < t_K of finite numbers (K >= 0), as Python floats, with finite steps.

    >>> time_grid("times", [0, 0.5, 1.0])
    (0.0, 0.5, 1.0)
    >>> time_grid("times", [0.0, 0.0])
    Traceback (most recent call last):
        ...
    ValueError: times: expected strictly increasing times t_0 < ... < t_K, got [0.0, 0.0]
    """
    grid = number_sequence(name, values)
    if not all(math.isfinite(t) for t in grid):
        raise ValueError(f"{name}: expected finite times, got {list(grid)}")
    if any(b <= a for a, b in itertools.pairwise(grid)):
        raise ValueError(f"{name}: expected strictly increasing times t_0 < ... < t_K, got {list(grid)}")
    if not all(math.isfinite(b - a) for a, b in itertools.pairwise(grid)):
        raise ValueError(f"{name}: expected time steps t_(k+1) - t_k finite in float64, got {list(grid)}")
    return grid


def step_sizes(name: str, values: Sequence[float], n_steps: int) -> tuple[float, ...]:
    """Per-step step sizes alpha_0, ..., alpha_(K-1): K finite numbers > 0, as Python floats.

    >>> step_sizes("step_size", [0.5, 0.25], 2)
    (0.5, 0.25)
    >>> step_sizes("step_size", [0.5, 0.0], 2)
    Traceback (most recent call last):
        ...
    ValueError: step_size: expected finite step sizes > 0, got [0.5, 0.0]
    """
    sizes = number_sequence(name, values, minimum_length=0)
    if len(sizes) != n_steps:
        raise ValueError(f"{name}: expected one step size per step, {n_steps} (n_steps), got {len(sizes)}")
    if not all(math.isfinite(a) and a > 0 for a in sizes):
        raise ValueError(f"{name}: expected finite step sizes > 0, got {list(sizes)}")
    return sizes
