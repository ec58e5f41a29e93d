"""Agreement cases and bad inputs of the SDE basics: euler_maruyama_step and euler_maruyama_solve
(Ornstein-Uhlenbeck and double-well drifts, scalar or per-sample diffusions)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from crosscheck import strategies as cs
from crosscheck.agree import Case, Exact, Twin
from crosscheck.registry import bad, register_pair

from .strategies import HUGE, NOISE, ONES, OVERFLOWED, X, normals, record_steps


class _Drift:
    """f(x, t) = -theta (1 + t) (x - mu) (Ornstein-Uhlenbeck, time-varying rate) or x - x^3 (the double well's
    score), on arrays and tensors alike (Python-float parameters keep x's dtype)."""

    def __init__(self, kind: str, theta: float = 1.0, mu: float = 0.0) -> None:
        self.kind, self.theta, self.mu = kind, theta, mu

    def __call__(self, x: Any, t: float) -> Any:
        if self.kind == "well":
            return x - x**3
        return -self.theta * (1.0 + t) * (x - self.mu)

    def __repr__(self) -> str:
        return f"_Drift({self.kind!r}, theta={self.theta!r}, mu={self.mu!r})"


class Diffusion(Twin):
    """g(t) = scale (1 + rate t): ``scale`` a Python float (a scalar g) or an (n,) array built on each side
    (one diffusion per sample)."""

    def __init__(self, scale: Any, rate: float) -> None:
        super().__init__("langevin.Diffusion", scale=scale)
        object.__setattr__(self, "rate", rate)

    def build(self, side: str, dtype: str, device: str) -> Any:
        from crosscheck.agree import _to_accelerated, _to_reference

        convert = _to_reference if side == "reference" else _to_accelerated
        scale, rate = convert(self.params["scale"], dtype, device), self.rate
        return lambda t: scale * (1.0 + rate * t)


@st.composite
def _sde_model(draw: st.DrawFn, n: int) -> tuple[_Drift, Diffusion, float]:
    """A drift, a diffusion (scalar or per sample) and the largest time step that keeps the states bounded."""
    if draw(st.booleans()):
        drift, dt_max = _Drift("well"), 0.1  # |x| <= 2: one step moves x by at most 0.6
    else:
        theta = draw(st.floats(0.1, 3.0))
        drift, dt_max = _Drift("ou", theta, draw(st.floats(-2.0, 2.0))), 0.5 / theta  # theta (1 + t) dt <= 1
    scale = draw(cs.bounded_floats((n,), 0.1, 2.0)) if draw(st.booleans()) else draw(st.floats(0.0, 2.0))
    return drift, Diffusion(scale, draw(st.floats(0.0, 1.0))), dt_max


@st.composite
def _em_step_cases(draw: st.DrawFn) -> Case:
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    drift, diffusion, dt_max = draw(_sde_model(n))
    x = draw(cs.bounded_floats((n, d), -2.0, 2.0))
    kwargs = {"dt": dt_max * draw(st.floats(0.01, 1.0)), "noise": draw(normals((n, d)))}
    return Case((drift, diffusion, x, draw(st.floats(0.0, 1.0))), kwargs)


@st.composite
def _em_solve_cases(draw: st.DrawFn) -> Case:
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    drift, diffusion, dt_max = draw(_sde_model(n))
    K = draw(st.integers(0, 6))
    steps = dt_max * np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=K, max_size=K)))
    times = draw(st.floats(0.0, 0.5)) + np.concatenate([[0.0], np.cumsum(steps)])
    grid = Exact(times) if draw(st.booleans()) else tuple(float(t) for t in times)
    kwargs = {"noise": draw(normals((K, n, d))), "record_steps": draw(record_steps(K))}
    return Case((drift, diffusion, draw(cs.bounded_floats((n, d), -2.0, 2.0)), grid), kwargs)


def _ou(x: Any, t: float) -> Any:
    return -x


def _unit(t: float) -> float:
    return 1.0


def _steep_drift(x: Any, t: float) -> Any:
    return -3e200 * x


def _refusing_drift(x: Any, t: float) -> Any:
    raise ValueError("x: expected points at which the drift is defined")


TIMES = np.array([0.0, 0.5, 1.0])
EM = {"dt": 0.1, "noise": X}
EM_STEP_ERRORS = [
    bad(_ou, _unit, X, 0.0, dt=0.0, noise=X, match="dt: expected a finite positive number"),
    bad(_ou, _unit, X, math.nan, dt=0.1, noise=X, match="t: expected a finite number"),
    bad(_ou, _unit, X, "0", dt=0.1, noise=X, error=TypeError, match="t: expected a real number"),
    bad(_ou, _unit, X, 0.0, dt=0.1, noise=np.zeros(3), match=r"noise: expected the shape of x"),
    bad("f", _unit, X, 0.0, **EM, error=TypeError, match="drift_fn: expected a callable"),
    bad(_ou, 1.0, X, 0.0, **EM, error=TypeError, match="diffusion_fn: expected a callable"),
    bad(lambda x, t: x[:, :1], _unit, X, 0.0, **EM, match=r"drift_fn: expected .*shape"),
    bad(_ou, Diffusion(np.ones(2), 0.0), X, 0.0, **EM, match=r"diffusion_fn: expected a scalar or one value per"),
    bad(_ou, _unit, np.zeros((0, 2)), 0.0, dt=0.1, noise=np.zeros((0, 2)), match=r"x: expected states of shape"),
    bad(_ou, _unit, np.full((3, 2), np.nan), 0.0, **EM, match="x: expected finite values"),
    bad(_ou, lambda t: math.inf, ONES, 0.0, dt=0.1, noise=ONES, match=r"diffusion_fn\(t\): expected finite values"),
    bad(_ou, _unit, X, 0.0, dt=0.1, noise=np.full((3, 2), np.inf), match="noise: expected finite values"),
    bad(
        _ou,
        _unit,
        HUGE,
        0.0,
        dt=1e10,
        noise=X,
        match=f"x, drift_fn\\(x, t\\), diffusion_fn\\(t\\), noise, dt: {OVERFLOWED}",
    ),
]
EM_SOLVE_ERRORS = [
    bad(_ou, _unit, X, TIMES, noise=np.zeros((2, 3)), match=r"noise: expected shape \(2, 3, 2\)"),
    bad(_ou, _unit, X, TIMES, match=r"noise / rng: pass exactly one of noise= .* got neither"),
    bad(_ou, _unit, X, TIMES, rng=0, error=TypeError, match="rng: expected a"),
    bad(_ou, _unit, X, [0.0, 0.0, 1.0], noise=NOISE, match="times: expected strictly increasing"),
    bad(_ou, _unit, X, np.array([0.0, np.nan, 1.0]), noise=NOISE, match="times: expected finite times"),
    bad(_ou, _unit, X, np.zeros((3, 1)), noise=NOISE, match="times: expected a 1-D time grid"),
    bad(_ou, _unit, X, [], noise=np.zeros((0, 3, 2)), match="times: expected at least 1"),
    bad(_ou, _unit, X, "01", noise=NOISE, error=TypeError, match="times: expected a list or tuple"),
    bad(_ou, _unit, X, [-1e308, 1e308], noise=np.zeros((1, 3, 2)), match="times: expected time steps"),
    bad(None, _unit, X, TIMES, noise=NOISE, error=TypeError, match="drift_fn: expected a callable"),
    bad(lambda x, t: x[:, :1], _unit, X, TIMES, noise=NOISE, match=r"drift_fn: expected .*shape"),
    bad(_ou, Diffusion(np.ones(2), 0.0), X, TIMES, noise=NOISE, match=r"diffusion_fn: expected a scalar or one"),
    bad(_ou, _unit, X, TIMES, noise=NOISE, record_steps=(0, 3), match=r"record_steps: .* in \[0, 2\]"),
    bad(_ou, _unit, np.full((3, 2), np.nan), TIMES, noise=NOISE, match="x0: expected finite"),
    bad(_ou, _unit, X, TIMES, noise=np.full((2, 3, 2), np.inf), match="noise: expected finite"),
    bad(_ou, _unit, X, TIMES, noise=NOISE, progress=1, error=TypeError, match="progress: expected"),
    bad(_steep_drift, _unit, ONES, TIMES, noise=NOISE, match="times / noise / drift_fn / diffusion_fn: the solution"),
    bad(_ou, lambda t: math.nan, ONES, TIMES, noise=NOISE, match="times / noise / drift_fn / diffusion_fn: the"),
    bad(_refusing_drift, _unit, X, TIMES, noise=NOISE, match="x0: expected initial states at which drift_fn"),
]

register_pair("langevin", "euler_maruyama_step", cases=lambda dtype: _em_step_cases(), errors=EM_STEP_ERRORS)
register_pair("langevin", "euler_maruyama_solve", cases=lambda dtype: _em_solve_cases(), errors=EM_SOLVE_ERRORS)
