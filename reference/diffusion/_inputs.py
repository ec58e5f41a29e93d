"""The array checks of :mod:`reference.diffusion` (NumPy), one combined checker per argument group.

The accelerated side has the same helpers, under the same names, with the same arguments and returns
(:mod:`accelerated.diffusion._inputs`); the pure-Python checks (counts, eta, clip ranges, shapes) are
shared by both in :mod:`reference._args.diffusion`.

* ``_check_schedule(schedule)``: a :class:`~reference.diffusion.Schedule`;
* ``_check_data(name, x, min_ndim=0)``: a float array (finite here; on the accelerated side its
  values are checked on the device with the result);
* ``_check_positions(t, schedule, x=None, x_name="x")``: integer positions of shape () or (n,);
* ``_check_single`` / ``_check_pair`` / ``_check_triple``: one, two or three data arrays of one shape, the
  positions t and the schedule, returned converted;
* ``_at(schedule, name, t, like)``: the table ``name`` at t, shaped to broadcast over ``like``'s features.
"""

from __future__ import annotations

import numpy as np

import reference._args as A
import reference._args.diffusion as AD

from .. import _checks as C
from .schedules import Schedule


def _check_schedule(schedule: object) -> Schedule:
    if not isinstance(schedule, Schedule):
        raise TypeError(
            f"schedule: expected a reference.diffusion.Schedule (build it with Schedule(betas)), "
            f"got {C.describe(schedule)}"
        )
    return schedule


def _check_data(name: str, x: object, min_ndim: int = 0) -> np.ndarray:
    x = C.as_float64(name, x)
    C.check_ndim(name, x, min_ndim)
    C.check_finite(name, x)
    return x


def _check_same(names: tuple[str, ...], arrays: tuple[np.ndarray, ...]) -> None:
    if len({a.shape for a in arrays}) > 1:
        got = ", ".join(f"{n} {a.shape}" for n, a in zip(names, arrays))
        raise ValueError(f"{', '.join(names)}: expected arrays of one shape, got {got}")


def _check_batch(name: str, t: np.ndarray, x: np.ndarray | None, x_name: str) -> None:
    """Positions of shape () or (n,), with n = x.shape[0]."""
    if t.ndim > 1:
        raise ValueError(
            f"{name}: expected integer positions of shape () or (n,) (one per batch element), got shape {t.shape}"
        )
    if x is not None and t.ndim == 1 and (x.ndim == 0 or x.shape[0] != t.shape[0]):
        raise ValueError(
            f"{name}, {x_name}: expected one position per batch element ({name} of shape (n,) and {x_name} of "
            f"shape (n, ...)), got {name} {t.shape} and {x_name} {x.shape}"
        )


def _check_positions(t: object, schedule: Schedule, x: np.ndarray | None = None, x_name: str = "x") -> np.ndarray:
    """Integer positions 0..T-1, shape () or (n,) with n = x.shape[0]."""
    t = C.as_int_array("t", t)
    _check_batch("t", t, x, x_name)
    if t.size and (np.min(t) < 0 or np.max(t) >= schedule.T):
        raise ValueError(AD.positions_message(int(np.min(t)), int(np.max(t)), schedule.T))
    return t


def _check_after_first(t: np.ndarray, schedule: Schedule) -> np.ndarray:
    """Positions 1..T-1: position 0 is the reconstruction term of the ELBO, not a KL."""
    if t.size and np.min(t) == 0:
        raise ValueError(AD.positions_message(0, int(np.max(t)), schedule.T, low=1))
    return t


def _check_single(name: str, x: object, t: object, schedule: object):
    """One data array and the positions t, checked against the schedule and it."""
    schedule = _check_schedule(schedule)
    x = _check_data(name, x)
    return x, _check_positions(t, schedule, x, name), schedule


def _check_pair(names: tuple[str, str], a: object, b: object, t: object, schedule: object):
    """Two data arrays of one shape and the positions t, checked against the schedule and the first."""
    schedule = _check_schedule(schedule)
    a, b = _check_data(names[0], a), _check_data(names[1], b)
    _check_same(names, (a, b))
    return a, b, _check_positions(t, schedule, a, names[0]), schedule


def _check_triple(names: tuple[str, str, str], a: object, b: object, c: object, t: object, schedule: object):
    """Three batches (n, ...) of one shape and the positions t (one per element of the first); the third
    is a model's output (of another floating dtype on the accelerated side, under autocast)."""
    schedule = _check_schedule(schedule)
    a, b, c = (_check_data(n, x, 1) for n, x in zip(names, (a, b, c)))
    _check_same(names, (a, b, c))
    return a, b, c, _check_positions(t, schedule, a, names[0]), schedule


def _check_guided_mean(mean: object, variance: object, grad_log_py: object, scale: object):
    """mu and g of one shape, sigma^2 >= 0 broadcasting to it, and gamma, as (mu, sigma^2, g, gamma)."""
    mean, grad = _check_data("mean", mean), _check_data("grad_log_py", grad_log_py)
    variance = _check_data("variance", variance)
    _check_same(("mean", "grad_log_py"), (mean, grad))
    if np.any(variance < 0):
        raise ValueError(f"variance: expected variances >= 0, got min {np.min(variance)!r}")
    if C.broadcast_batch(("mean", "variance"), (mean.shape, variance.shape)) != mean.shape:
        raise ValueError(f"variance: expected a shape that broadcasts to mean's {mean.shape}, got {variance.shape}")
    return mean, variance, grad, A.real("scale", scale)


def _check_gaussians(mean_q: object, var_q: object, mean_p: object, var_p: object):
    """Two diagonal Gaussians (var_q > 0, var_p > 0) and their broadcast batch shape (n, ...)."""
    names = ("mean_q", "var_q", "mean_p", "var_p")
    mean_q, var_q, mean_p, var_p = (_check_data(n, x) for n, x in zip(names, (mean_q, var_q, mean_p, var_p)))
    if np.any(var_q <= 0):
        raise ValueError(f"var_q: expected variances > 0, got min {np.min(var_q)!r}")
    if np.any(var_p <= 0):
        raise ValueError(f"var_p: expected variances > 0, got min {np.min(var_p)!r}")
    shape = C.broadcast_batch(names, (mean_q.shape, var_q.shape, mean_p.shape, var_p.shape))
    if len(shape) == 0:
        raise ValueError("mean_q, mean_p: expected a batch axis (shape (n, ...)), got scalars")
    return mean_q, var_q, mean_p, var_p, shape


def _check_previous(t_prev: object, t: np.ndarray, schedule: Schedule, x: np.ndarray) -> np.ndarray:
    """DDIM targets -1..t-1 (``-1``: before the first step), shape () or (n,) like ``t``."""
    t_prev = C.as_int_array("t_prev", t_prev)
    _check_batch("t_prev", t_prev, x, "x_t")
    bad = (t_prev < -1) | (t_prev >= t)
    if np.any(bad):
        p, q = np.broadcast_arrays(t_prev, t)
        i = np.flatnonzero(bad)[0]
        raise ValueError(AD.t_prev_message(int(np.sum(bad)), int(p.flat[i]), int(q.flat[i]), schedule.T))
    return t_prev


def _at(schedule: Schedule, name: str, t: np.ndarray, like: np.ndarray) -> np.ndarray:
    """The float64 table ``name`` at t, shaped t.shape + (1,) * (like.ndim - t.ndim) to broadcast over like."""
    return getattr(schedule, name)[t].reshape(t.shape + (1,) * max(like.ndim - t.ndim, 0))


def _noise(noise: object, rng: object, like: np.ndarray, name: str = "noise") -> np.ndarray:
    """Standard normals of like's shape: ``noise`` checked, or drawn from ``rng`` (exactly one of them)."""
    C.check_noise_or_rng(noise, rng, noise_name=name)
    if noise is None:
        return rng.standard_normal(like.shape)
    z = _check_data(name, noise)
    C.check_shape(name, z, like.shape)
    return z


def _sum_features(x: np.ndarray) -> np.ndarray:
    """Sum over every axis after the first (batch) axis."""
    return np.sum(x, axis=tuple(range(1, x.ndim)))
