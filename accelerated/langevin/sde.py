"""SDE basics in PyTorch: the Euler-Maruyama step and solver of dx = f(x, t) dt + g(t) dw, dw = eps sqrt(dt).

Same formulas, names and parameters as :mod:`reference.langevin.sde` (Isachenko, DGM Lecture 13,
recap 'SDE basics' and 'Langevin dynamics'). The time grid is a host object (a list, tuple, NumPy
array, or a tensor read once at entry); drift_fn and diffusion_fn receive t as a Python float, and
the loop reads no device value.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence

import numpy as np
import torch

import reference._args as A
from reference._args import langevin as AL

from .. import _checks as C
from ._common import _check_draws, _like_x, _per_chain, _Recorder, _standard_normals, _steps
from ._update import _update
from .sampler import LangevinResult

__all__ = ["euler_maruyama_solve", "euler_maruyama_step"]

_FUNCTIONS = ("drift_fn", "diffusion_fn")


def _check_states(name: str, x: object) -> torch.Tensor:
    x = C.as_float_tensor(name, x)
    if x.ndim < 1 or x.numel() == 0:
        raise ValueError(f"{name}: expected states of shape (n, ...), n >= 1, got shape {tuple(x.shape)}")
    return x


def _drift(drift_fn: Callable, x: torch.Tensor, t: float, wrap: bool, initial: bool = False) -> torch.Tensor:
    """drift_fn(x, t) like x (in the solver a ValueError of the model names its arguments, as on the reference)."""
    if wrap:
        value = AL.call_model("drift_fn", drift_fn, (x, t), _FUNCTIONS, initial, AL.sde_diverged_message())
    else:
        value = drift_fn(x, t)
    return _like_x("drift_fn", value, x, tuple(x.shape))


def _diffusion(diffusion_fn: Callable, x: torch.Tensor, t: float) -> float | torch.Tensor:
    """diffusion_fn(t): a Python float, or a tensor of shape () or (n,) on x's device, cast to x's dtype and
    shaped to broadcast over x's features (metadata checks only)."""
    g = diffusion_fn(t)
    if isinstance(g, numbers.Real) and not isinstance(g, bool):
        return float(g)
    if not isinstance(g, torch.Tensor):
        raise TypeError(f"diffusion_fn: expected it to return a real number or a torch.Tensor, got {C.describe(g)}")
    if not g.is_floating_point() or g.device != x.device:
        raise TypeError(
            f"diffusion_fn: expected a floating result on the device of x ({x.device}), got {g.dtype} on {g.device}"
        )
    if tuple(g.shape) not in ((), tuple(x.shape[:1])):
        raise ValueError(
            f"diffusion_fn: expected a scalar or one value per sample, shape {tuple(x.shape[:1])}, "
            f"got shape {tuple(g.shape)}"
        )
    g = g if g.dtype == x.dtype else g.to(x.dtype)
    return _per_chain(g, x) if g.ndim else g


def _em(x: torch.Tensor, f: torch.Tensor, g: float | torch.Tensor, z: torch.Tensor, dt: float) -> torch.Tensor:
    """x + f dt + g sqrt(dt) z as a new tensor (fused on CUDA for a Python g), without checks."""
    if isinstance(g, torch.Tensor):
        return torch.add(x, f, alpha=dt).addcmul_(g * math.sqrt(dt), z)
    return _update(x, f, z, dt, g * math.sqrt(dt))


def _times(times: object) -> tuple[float, ...]:
    """The time grid as Python floats: a tensor or a NumPy array is read once (one host read of K + 1 numbers)."""
    if isinstance(times, torch.Tensor | np.ndarray):
        if times.ndim != 1:
            raise ValueError(f"times: expected a 1-D time grid, got shape {tuple(times.shape)}")
        if isinstance(times, torch.Tensor):
            if times.is_complex() or times.dtype == torch.bool:
                raise TypeError(f"times: expected real times, got {C.describe(times)}")
            times = times.detach().to("cpu", torch.float64).tolist()
        else:
            if times.dtype.kind not in "fiu":
                raise TypeError(f"times: expected real times, got {C.describe(times)}")
            times = times.astype(np.float64).tolist()
    return AL.time_grid("times", times)


def euler_maruyama_step(
    drift_fn: Callable[[torch.Tensor, float], torch.Tensor],
    diffusion_fn: Callable[[float], object],
    x: torch.Tensor,
    t: float,
    *,
    dt: float,
    noise: torch.Tensor,
) -> torch.Tensor:
    r"""One Euler-Maruyama step of dx = f(x, t) dt + g(t) dw (see :func:`reference.langevin.euler_maruyama_step`).

    .. math::

        x' = x + f(x, t)\, \Delta t + g(t)\, \sqrt{\Delta t}\, \varepsilon.

    Parameters
    ----------
    drift_fn : callable
        ``drift_fn(x, t) -> f(x, t)``, a tensor of x's shape on x's device (t a Python float; another
        floating dtype is cast to x's).
    diffusion_fn : callable
        ``diffusion_fn(t) -> g(t)``: a Python number, or a tensor of shape () or (n,) on x's device.
    x : (n, ...) Tensor
        Current states.
    t : float
        The time of x, finite.
    dt : float
        Delta t > 0.
    noise : (n, ...) Tensor
        Standard normals, x's shape, dtype and device.

    Returns
    -------
    (n, ...) Tensor
        The states at t + dt (a new tensor; differentiable).

    Notes
    -----
    A new state that is not finite is refused with a ``ValueError``, as on the reference side: one
    device assertion on the result (:func:`accelerated._checks.check_result`, no host read), naming the
    first non-finite input among x, the drift, the diffusion and noise, or the overflow. Skipped where
    value checks are off. With a Python diffusion the update is one fused kernel on CUDA.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'SDE basics'; Kloeden and Platen, Numerical Solution of
    Stochastic Differential Equations, Springer 1992, Section 9.1.

    Examples
    --------
    dx = -x dt + 2 dw, x = 1, dt = 0.25, eps = 0.5: x' = 1 - 0.25 + 2 * 0.5 * 0.5 = 1.25:

    >>> x = torch.ones(1, 1, dtype=torch.float64)
    >>> float(euler_maruyama_step(lambda x, t: -x, lambda t: 2.0, x, 0.0, dt=0.25, noise=torch.full_like(x, 0.5))[0, 0])
    1.25
    """
    AL.function("drift_fn", drift_fn)
    AL.function("diffusion_fn", diffusion_fn)
    t, dt = A.real("t", t), A.positive("dt", dt)
    x = _check_states("x", x)
    z = C.as_float_tensor("noise", noise)
    C.check_same_device_dtype(("x", "noise"), (x, z))
    if z.shape != x.shape:
        raise ValueError(f"noise: expected the shape of x, {tuple(x.shape)}, got shape {tuple(z.shape)}")
    f = _drift(drift_fn, x, t, wrap=False)
    g = _diffusion(diffusion_fn, x, t)
    out = _em(x, f, g, z, dt)
    if C.value_checks_active():
        g_t = g if isinstance(g, torch.Tensor) else torch.tensor(g, dtype=torch.float64)
        dt_t = torch.tensor(dt, dtype=torch.float64)
        C.check_result(out, (("x", x), ("drift_fn(x, t)", f), ("diffusion_fn(t)", g_t), ("noise", z), ("dt", dt_t)))
    return out


def euler_maruyama_solve(
    drift_fn: Callable[[torch.Tensor, float], torch.Tensor],
    diffusion_fn: Callable[[float], object],
    x0: torch.Tensor,
    times: Sequence[float],
    *,
    noise: torch.Tensor | None = None,
    rng: torch.Generator | None = None,
    record_steps: Sequence[int] = (),
    progress: bool = False,
) -> LangevinResult:
    r"""Euler-Maruyama solution over t_0 < ... < t_K (see :func:`reference.langevin.euler_maruyama_solve`).

    .. math::

        x_{k+1} = x_k + f(x_k, t_k)\, \Delta t_k + g(t_k) \sqrt{\Delta t_k}\, \varepsilon_k.

    Parameters
    ----------
    drift_fn : callable
        ``drift_fn(x, t) -> f(x, t)``, a tensor like x (t a Python float).
    diffusion_fn : callable
        ``diffusion_fn(t) -> g(t)``: a Python number, or a tensor of shape () or (n,) on x's device.
    x0 : (n, ...) Tensor
        Initial states, finite (copied: x0 is never modified).
    times : (K + 1,) sequence, array or Tensor
        The time grid, strictly increasing and finite; a tensor is read to the host once, at entry.
    noise : (K, n, ...) Tensor, optional
        Standard normals, x0's dtype and device. Exactly one of ``noise`` and ``rng``.
    rng : torch.Generator, optional
        Draws ``torch.randn(x0.shape, generator=rng, device=x0.device, dtype=x0.dtype)`` once per step.
    record_steps : sequence of int
        Strictly increasing steps in [0, K] whose states go into ``trajectory`` (0 = x0).
    progress : bool
        Show a tqdm progress bar (it changes no result and reads no device value).

    Returns
    -------
    LangevinResult
        ``samples`` (n, ...) at t_K and ``trajectory`` (len(record_steps), n, ...).

    Notes
    -----
    A solution that diverges raises a ``ValueError`` naming times / noise / drift_fn / diffusion_fn,
    with the reference's message: one device assertion after the loop, no host read (on CUDA it
    surfaces at the next synchronisation; skipped with value checks off). A ``ValueError`` of drift_fn
    at x0 names x0, at a later state it is re-raised as the divergence. A grid whose steps overflow
    float64 is refused naming ``times``.

    References
    ----------
    Isachenko, DGM Lecture 13, slide 'SDE basics'; Lecture 13, recap slide 'Langevin dynamics';
    Kloeden and Platen, Numerical Solution of Stochastic Differential Equations, Springer 1992.

    Examples
    --------
    Without noise, Euler's method for dx/dt = -x: two steps of 0.5 from 1 give 0.25:

    >>> x0 = torch.ones(1, 1, dtype=torch.float64)
    >>> out = euler_maruyama_solve(lambda x, t: -x, lambda t: 1.0, x0, [0.0, 0.5, 1.0],
    ...                            noise=torch.zeros(2, 1, 1, dtype=x0.dtype), record_steps=[1])
    >>> float(out.samples[0, 0]), float(out.trajectory[0, 0, 0])
    (0.25, 0.5)
    """
    AL.function("drift_fn", drift_fn)
    AL.function("diffusion_fn", diffusion_fn)
    x = _check_states("x0", x0)
    C.check_finite("x0", x)
    C.check_noise_or_rng(noise, rng)
    if rng is not None:
        C.check_generator(rng, x.device)
    x = x.clone(memory_format=torch.contiguous_format)
    grid = _times(times)
    K = len(grid) - 1
    noise, record = _check_draws(noise, x, (K,), record_steps)
    record = _Recorder(record, x)
    record(0, x)
    steps = _steps(K, progress, "Euler-Maruyama")
    with C.off_in_loop():  # validated at entry: this library's checks are off inside the loop
        for k in steps:
            t, dt = grid[k], grid[k + 1] - grid[k]
            eps = noise[k] if noise is not None else _standard_normals(rng, x)
            f = _drift(drift_fn, x, t, wrap=True, initial=k == 0)
            x = _em(x, f, _diffusion(diffusion_fn, x, t), eps, dt)
            record(k + 1, x)
    if C.value_checks_active():
        C.require(C.finite_flag(x), AL.sde_diverged_message())
    return LangevinResult(x, record.trajectory)
