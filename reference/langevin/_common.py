"""Argument groups and the update shared by the reference samplers (private).

The same helpers, with the same names, arguments, returns and errors, live in
``accelerated/langevin/_common.py``; the pure-Python checks are in :mod:`reference._args.langevin`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C


def _check_chain(
    score_fn: object, x0: object, step_size: object, noise: object, rng: object
) -> tuple[np.ndarray, float]:
    """A sampler's model, start and step: ``score_fn`` callable, eta > 0, x0 (n, ...) finite, one of noise / rng.

    Returns the chains' own buffer x (a float64 copy of x0) and eta.
    """
    AL.function("score_fn", score_fn)
    eta = A.positive("step_size", step_size)
    x = C.as_float64("x0", x0)
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"x0: expected initial states of shape (n, ...), n >= 1, got shape {x.shape}")
    C.check_finite("x0", x)
    C.check_noise_or_rng(noise, rng)
    return x.copy(), eta  # the chains' own buffer: the caller's array is never aliased


def _check_drawn(name: str, values: object, x: np.ndarray, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Pre-drawn noise or uniforms: float64 of exactly ``shape``, finite."""
    values = C.as_float64(name, values)
    if values.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} ({what}), got shape {values.shape}")
    C.check_finite(name, values)
    return values


def _check_draws(
    noise: object, x: np.ndarray, steps: tuple[int, ...], record_steps: object
) -> tuple[np.ndarray | None, tuple[int, ...]]:
    """The noise of ``steps`` (K,) or (L, T) steps of the chains x (None with rng=), and the steps to record."""
    if noise is not None:
        what = "one standard normal per " + ("step" if len(steps) == 1 else "level, step") + " and state"
        noise = _check_drawn("noise", noise, x, (*steps, *x.shape), what)
    return noise, AL.record_steps(record_steps, math.prod(steps))


def _score(
    score_fn: Callable, x: np.ndarray, *sigma: np.ndarray, functions: tuple[str, ...] = ("score_fn",), initial=False
) -> np.ndarray:
    """score_fn(x[, sigma]) as float64, checked to have the shape of x (a ValueError of the model re-raised
    naming the sampler's arguments, :func:`reference._args.langevin.call_model`)."""
    s = C.as_float64("score_fn(x)", AL.call_model("score_fn", score_fn, (x, *sigma), functions, initial))
    if s.shape != x.shape:
        raise ValueError(f"score_fn: expected a score of the shape of x, {x.shape}, got shape {s.shape}")
    return s


def _log_prob(log_prob_fn: Callable, x: np.ndarray, functions: tuple[str, ...], initial=False) -> np.ndarray:
    """log_prob_fn(x) as float64, checked to have the batch shape of x (a ValueError of the model re-raised
    as in :func:`_score`)."""
    log_p = C.as_float64("log_prob_fn(x)", AL.call_model("log_prob_fn", log_prob_fn, (x,), functions, initial))
    if log_p.shape != x.shape[:1]:
        raise ValueError(
            f"log_prob_fn: expected log-densities of shape {x.shape[:1]} (one per chain; x has shape "
            f"{x.shape}), got shape {log_p.shape}"
        )
    return log_p


def _trajectory(states: list[np.ndarray], x0: np.ndarray) -> np.ndarray:
    return np.stack(states) if states else np.empty((0, *x0.shape))


def _check_state(x: np.ndarray, *functions: str) -> None:
    """A finite chain state (or score), else a ValueError that the chain diverged (checked after every step
    here, so that a non-finite state never reaches the model; the accelerated side checks once after the loop)."""
    if not np.all(np.isfinite(x)):
        raise ValueError(AL.diverged_message(*functions))


def _update(x: np.ndarray, s: np.ndarray, z: np.ndarray, eta: float) -> np.ndarray:
    """x + (eta/2) s + sqrt(eta) z, without checks (the loops' inner step)."""
    return x + (eta / 2.0) * s + np.sqrt(eta) * z
