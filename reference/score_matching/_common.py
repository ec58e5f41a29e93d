"""Array checks and helpers shared by the score-matching submodules (reference side).

Each has a namesake with the same arguments, returns and errors in ``accelerated/score_matching/_common.py``;
the pure-Python argument checks both sides share are in :mod:`reference._args.score_matching`.
"""

from __future__ import annotations

import numpy as np

import reference._args.score_matching as SA

from .. import _checks as C


def _samples(name: str, x: object) -> np.ndarray:
    """A float64 array of samples (n, ...), n >= 1 and at least one feature, finite."""
    x = C.as_float64(name, x)
    if x.ndim == 0 or x.shape[0] == 0 or x[0].size == 0:
        raise ValueError(f"{name}: expected samples of shape (n, ...) with n >= 1 and features, got shape {x.shape}")
    C.check_finite(name, x)
    return x


def _flat(x: np.ndarray) -> np.ndarray:
    """Samples (n, ...) as rows (n, D) of their D features (a view)."""
    return x.reshape(x.shape[0], -1)


def _sum_features(x: np.ndarray) -> np.ndarray:
    """Sum over every axis after the first: one value per sample."""
    return np.sum(_flat(x), axis=1)


def _checked(value: np.ndarray, inputs: tuple[tuple[str, np.ndarray], ...]) -> np.ndarray:
    """Refuse an objective's value that is not finite (``value`` is returned unchanged otherwise).

    The samples, noise and probes are checked on entry, but the model's output is not, and finite
    inputs can still overflow (noise at 1e300 squared): the refusal names the first non-finite input
    (the model's output ``"model(x)"``), else says the objective overflowed from finite inputs, in the
    words of the accelerated side's namesake, so both sides refuse alike rather than returning inf or NaN.
    """
    if value.size == 0 or np.all(np.isfinite(value)):
        return value
    for name, x in inputs:
        bad = int(np.count_nonzero(~np.isfinite(x)))
        if bad:
            raise ValueError(f"{name}: expected finite values, got {bad} NaN or infinite entries")
    raise ValueError(f"{', '.join(n for n, _ in inputs)}: the objective overflowed {value.dtype} from finite inputs")


def _analytic(model: object, method: str) -> None:
    """The reference has no autograd: a model whose derivatives are needed must supply them."""
    if not callable(model) or not callable(getattr(model, method, None)):
        raise TypeError(
            f"model: expected an analytic score model with __call__(x) and {method}(x) (the reference side "
            f"has no autograd; use reference.models.LinearScore or MLPScore, or the accelerated side, which "
            f"differentiates any torch model), got {C.describe(model)}"
        )


def _scores(model: object, x: np.ndarray, *cond: np.ndarray) -> np.ndarray:
    """model(x[, cond]) as float64, checked to have the shape of x."""
    s = C.as_float64("model(x)", model(x, *cond))
    if s.shape != x.shape:
        raise ValueError(f"model: expected scores of the shape of x {x.shape}, got shape {s.shape}")
    return s


def _standard_normals(name: str, noise: object, rng: object, x: np.ndarray) -> np.ndarray:
    """Standard normals of x's shape: the given ``noise`` (checked, finite) or drawn from ``rng``."""
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        return rng.standard_normal(x.shape)
    eps = C.as_float64(name, noise)
    C.check_shape(name, eps, x.shape)
    C.check_finite(name, eps)
    return eps


def _probes(x: np.ndarray, count_name: str, count: object, kind: object, noise: object, rng: object) -> np.ndarray:
    """Probe vectors v of shape (M, n, ...): the given ``noise`` (checked) or M draws of ``kind`` from ``rng``."""
    M, kind = SA.probe_arguments(count_name, count, kind)
    C.check_noise_or_rng(noise, rng)
    if noise is None:
        M = 1 if M is None else M
        if kind == "gaussian":
            return rng.standard_normal((M, *x.shape))
        return 2.0 * rng.integers(0, 2, size=(M, *x.shape)).astype(np.float64) - 1.0
    v = C.as_float64("noise", noise)
    if v.ndim != x.ndim + 1 or v.shape[1:] != x.shape or v.shape[0] == 0 or (M is not None and v.shape[0] != M):
        raise ValueError(SA.probes_message(count_name, M, x.shape, v.shape))
    C.check_finite("noise", v)
    if kind == "rademacher" and not np.all(np.abs(v) == 1.0):
        raise ValueError("noise: expected Rademacher probes (every entry -1 or +1) for kind='rademacher'")
    return v


def _check_probes(
    model: object, x: object, count_name: str, count: object, kind: object, noise: object, rng: object
) -> tuple[np.ndarray, np.ndarray]:
    """(x, v) of the probe-based estimators: an analytic model with a Jacobian, samples and (M, n, ...) probes."""
    _analytic(model, "jacobian")
    x = _samples("x", x)
    return x, _probes(x, count_name, count, kind, noise, rng)


def _sigma_table(sigmas: object, x: np.ndarray) -> np.ndarray:
    """NCSN noise levels sigma_1 > ... > sigma_L > 0 for the samples x, as float64 (x sets the device and
    dtype on the accelerated side; every table is float64 on this one)."""
    sigmas = C.as_float64("sigmas", sigmas)
    if sigmas.ndim != 1 or sigmas.shape[0] == 0:
        raise ValueError(f"sigmas: expected a vector of noise levels of shape (L,), got shape {sigmas.shape}")
    C.check_finite("sigmas", sigmas)
    if np.any(sigmas <= 0):
        raise ValueError(f"sigmas: expected positive noise levels, got min {np.min(sigmas)!r}")
    if np.any(np.diff(sigmas) >= 0):
        raise ValueError(
            f"sigmas: expected strictly decreasing noise levels sigma_1 > ... > sigma_L (NCSN), got {sigmas.tolist()}"
        )
    return sigmas
