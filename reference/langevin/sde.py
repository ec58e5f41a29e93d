"""SDE basics: the Euler-Maruyama step and solver of dx = f(x, t) dt + g(t) dw, dw = eps sqrt(dt).

Slides: Isachenko, DGM Lecture 13, recap 'SDE basics' (the SDE and dw = eps sqrt(dt)) and recap
'Langevin dynamics' (p is stationary for the Langevin SDE dx = grad log p(x) dt + sqrt(2) dw, whose
Euler-Maruyama step of size dt = eta / 2 is the unadjusted Langevin step of :mod:`.sampler`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from tqdm import tqdm

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_draws, _trajectory
from .sampler import LangevinResult

__all__ = ["euler_maruyama_solve", "euler_maruyama_step"]

_FUNCTIONS = ("drift_fn", "diffusion_fn")


def _check_states(name: str, x: object) -> np.ndarray:
    x = C.as_float64(name, x)
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"{name}: expected states of shape (n, ...), n >= 1, got shape {x.shape}")
    return x


def _drift(drift_fn: Callable, x: np.ndarray, t: float, wrap: bool, initial: bool = False) -> np.ndarray:
    """drift_fn(x, t) as float64 of x's shape (in the solver a ValueError of the model names its arguments)."""
    if wrap:
        value = AL.call_model("drift_fn", drift_fn, (x, t), _FUNCTIONS, initial, AL.sde_diverged_message())
    else:
        value = drift_fn(x, t)
    f = C.as_float64("drift_fn(x, t)", value)
    if f.shape != x.shape:
        raise ValueError(f"drift_fn: expected a drift of the shape of x, {x.shape}, got shape {f.shape}")
    return f


def _diffusion(diffusion_fn: Callable, x: np.ndarray, t: float) -> np.ndarray:
    """diffusion_fn(t) as float64: a scalar, or one value per sample (n,) shaped to broadcast over x's features."""
    g = C.as_float64("diffusion_fn(t)", diffusion_fn(t))
    if g.shape not in ((), x.shape[:1]):
        raise ValueError(
            f"diffusion_fn: expected a scalar or one value per sample, shape {x.shape[:1]}, got shape {g.shape}"
        )
    return g.reshape(g.shape + (1,) * (x.ndim - 1)) if g.ndim else g


def _em(x: np.ndarray, f: np.ndarray, g: np.ndarray, z: np.ndarray, dt: float) -> np.ndarray:
    """x + f dt + g sqrt(dt) z, without checks (the solver's inner step)."""
    return x + dt * f + (g * math.sqrt(dt)) * z


def euler_maruyama_step(
    drift_fn: Callable[[np.ndarray, float], np.ndarray],
    diffusion_fn: Callable[[float], object],
    x: np.ndarray,
    t: float,
    *,
    dt: float,
    noise: np.ndarray,
) -> np.ndarray:
    r"""One Euler-Maruyama step of the SDE dx = f(x, t) dt + g(t) dw from states x at time t.

    .. math::

        x' = x + f(x, t)\, \Delta t + g(t)\, \sqrt{\Delta t}\, \varepsilon,
        \qquad d\mathbf w = \varepsilon \sqrt{dt}, \quad \varepsilon \sim \mathcal N(0, I).

    Parameters
    ----------
    drift_fn : callable
        ``drift_fn(x, t) -> f(x, t)``: states of the shape of x and a Python float t to an array of
        x's shape.
    diffusion_fn : callable
        ``diffusion_fn(t) -> g(t)``: a Python float t to a scalar, or to an array of shape (n,) (one
        diffusion per sample, broadcast over the feature axes).
    x : (n, ...) array_like
        Current states.
    t : float
        The time of x, finite.
    dt : float
        The time step Delta t > 0.
    noise : (n, ...) array_like
        Standard normals eps, of x's shape.

    Returns
    -------
    (n, ...) ndarray
        The states x' at time t + dt (a new array).

    Notes
    -----
    A new state that is not finite is refused with a ``ValueError``
    (:func:`reference._checks.check_result`) naming the first non-finite input among x, the drift, the
    diffusion and noise, or saying that the step overflowed float64 from finite inputs. A ``ValueError``
    of drift_fn or diffusion_fn propagates unchanged (their input is this call's x and t).

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'SDE basics'; Kloeden and Platen, Numerical Solution of
    Stochastic Differential Equations, Springer 1992, Section 9.1 (the Euler-Maruyama scheme).

    Examples
    --------
    dx = -x dt + 2 dw, x = 1, dt = 0.25, eps = 0.5: x' = 1 - 0.25 + 2 * 0.5 * 0.5 = 1.25:

    >>> float(euler_maruyama_step(lambda x, t: -x, lambda t: 2.0, np.ones((1, 1)), 0.0, dt=0.25,
    ...                           noise=np.full((1, 1), 0.5))[0, 0])
    1.25
    """
    AL.function("drift_fn", drift_fn)
    AL.function("diffusion_fn", diffusion_fn)
    t, dt = A.real("t", t), A.positive("dt", dt)
    x = _check_states("x", x)
    z = C.as_float64("noise", noise)
    if z.shape != x.shape:
        raise ValueError(f"noise: expected the shape of x, {x.shape}, got shape {z.shape}")
    f = _drift(drift_fn, x, t, wrap=False)
    g = _diffusion(diffusion_fn, x, t)
    with np.errstate(over="ignore", invalid="ignore"):
        out = _em(x, f, g, z, dt)
    inputs = (("x", x), ("drift_fn(x, t)", f), ("diffusion_fn(t)", g), ("noise", z), ("dt", dt))
    return C.check_result(out, inputs)


def euler_maruyama_solve(
    drift_fn: Callable[[np.ndarray, float], np.ndarray],
    diffusion_fn: Callable[[float], object],
    x0: np.ndarray,
    times: Sequence[float],
    *,
    noise: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Euler-Maruyama solution of dx = f(x, t) dt + g(t) dw over the time grid t_0 < ... < t_K.

    .. math::

        x_{k+1} = x_k + f(x_k, t_k)\, \Delta t_k + g(t_k) \sqrt{\Delta t_k}\, \varepsilon_k,
        \qquad \Delta t_k = t_{k+1} - t_k, \quad k = 0, \dots, K - 1.

    The Langevin SDE :math:`dx = \nabla \log p(x)\, dt + \sqrt 2\, dw` (drift the score, g = sqrt 2)
    on the uniform grid dt = eta / 2 gives exactly the unadjusted Langevin chain of
    :func:`langevin_sample` with step size eta.

    Parameters
    ----------
    drift_fn : callable
        ``drift_fn(x, t) -> f(x, t)``, x of the shape of x0 and t a Python float, an array of x's shape.
    diffusion_fn : callable
        ``diffusion_fn(t) -> g(t)``: a scalar, or an array of shape (n,) (one per sample).
    x0 : (n, ...) array_like
        Initial states x(t_0), finite.
    times : (K + 1,) array_like
        The time grid, strictly increasing and finite (a list, tuple or 1-D array; K = 0 returns a
        copy of x0).
    noise : (K, n, ...) array_like, optional
        Standard normals eps_k. Exactly one of ``noise`` and ``rng``.
    rng : numpy.random.Generator, optional
        Draws eps_k with ``rng.standard_normal(x0.shape)`` once per step, in step order.
    record_steps : sequence of int
        Strictly increasing steps in [0, K] whose states go into ``trajectory`` (0 is x0, k the state
        at t_k).
    progress : bool
        Show a tqdm progress bar (it changes no result).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) = x_K (the states at t_K) and ``trajectory`` (len(record_steps), n, ...).

    Notes
    -----
    A solution that diverges (a state, drift or diffusion turns non-finite: the time steps are too
    large for the drift, or the model returned non-finite values) raises a ``ValueError`` naming
    times / noise / drift_fn / diffusion_fn; the state is checked after every step, so a non-finite
    state never reaches drift_fn (the accelerated side checks once, after the loop, with the same
    message). A ``ValueError`` that drift_fn raises at a later state is re-raised as the same
    divergence, its message appended; at x0 it names x0. Where the grid's steps overflow float64
    (times = [-1e308, 1e308]) it is refused naming ``times``. The strong error of the scheme is
    O(sqrt(dt)), the weak error (of moments) O(dt): the crosscheck theorems bound the second on the
    Ornstein-Uhlenbeck SDE.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'SDE basics'; Lecture 13, recap slide 'Langevin dynamics';
    Kloeden and Platen, Numerical Solution of Stochastic Differential Equations, Springer 1992,
    Sections 9.1 and 14.1 (strong and weak order).

    Examples
    --------
    Without noise the scheme is Euler's method for dx/dt = -x: two steps of dt = 0.5 from 1 give
    (1 - 0.5)^2 = 0.25:

    >>> out = euler_maruyama_solve(lambda x, t: -x, lambda t: 1.0, np.ones((1, 1)), [0.0, 0.5, 1.0],
    ...                            noise=np.zeros((2, 1, 1)), record_steps=[1])
    >>> float(out.samples[0, 0]), float(out.trajectory[0, 0, 0])
    (0.25, 0.5)
    """
    AL.function("drift_fn", drift_fn)
    AL.function("diffusion_fn", diffusion_fn)
    x = _check_states("x0", x0).copy()  # the solution's own buffer: the caller's array is never aliased
    C.check_finite("x0", x)
    C.check_noise_or_rng(noise, rng)
    grid = AL.time_grid("times", C.as_float64("times", times).tolist() if _is_array(times) else times)
    K = len(grid) - 1
    noise, record = _check_draws(noise, x, (K,), record_steps)
    states = [x.copy()] if 0 in record else []
    for k in tqdm(range(K), disable=not A.flag("progress", progress), desc="Euler-Maruyama", unit="step"):
        t, dt = grid[k], grid[k + 1] - grid[k]
        eps = noise[k] if noise is not None else rng.standard_normal(x.shape)
        f = _drift(drift_fn, x, t, wrap=True, initial=k == 0)
        g = _diffusion(diffusion_fn, x, t)
        with np.errstate(over="ignore", invalid="ignore"):
            x = _em(x, f, g, eps, dt)
        if not np.all(np.isfinite(x)):
            raise ValueError(AL.sde_diverged_message())
        if k + 1 in record:
            states.append(x.copy())
    return LangevinResult(x, _trajectory(states, x))


def _is_array(times: object) -> bool:
    """A 1-D array (not a list or tuple, which :func:`reference._args.langevin.time_grid` checks entry by entry)."""
    if isinstance(times, np.ndarray):
        if times.ndim != 1:
            raise ValueError(f"times: expected a 1-D time grid, got shape {times.shape}")
        return True
    return False
