"""Agreement cases and bad inputs of the unadjusted Langevin pairs: langevin_step, langevin_sample and
annealed_langevin_sample (the noise-conditional chain over decreasing sigmas)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case
from crosscheck.registry import bad, register_pair
from crosscheck.tolerances import LOW_PRECISION

from .strategies import (
    ANNEALED_NOISE,
    DIVERGED,
    HUGE,
    MIXED_PRECISION_DTYPES,
    NOISE,
    ONES,
    OVERFLOWED,
    SIGMAS,
    Method,
    NoisyScore,
    X,
    _chain_setup,
    _nan_score,
    _noisy_score,
    _noisy_steep_score,
    _score,
    _steep_score,
    normals,
    record_steps,
)


@st.composite
def _step_cases(draw: st.DrawFn) -> Case:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(cs.bounded_floats(shape, -10.0, 10.0))
    score = draw(cs.bounded_floats(shape, -100.0, 100.0))
    noise = draw(normals(shape))
    step_size = draw(st.one_of(st.floats(1e-6, 10.0), st.sampled_from([1e-2, 0.5, 1.0])))
    return Case((x, score), {"step_size": step_size, "noise": noise})


@st.composite
def _sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    K = draw(st.integers(0, 6))
    if draw(st.booleans()):  # one step size, or per-step sizes alpha_t (Advanced Course, Lecture 8)
        step_size = lam_min * draw(st.floats(0.01, 1.0))
    else:
        step_size = lam_min * np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=K, max_size=K)), dtype=np.float64)
    kwargs = {
        "step_size": step_size,
        "n_steps": K,
        "noise": draw(normals((K, *x0.shape))),
        "record_steps": draw(record_steps(K)),
    }
    return Case((Method(twin, "score", float64=dtype in LOW_PRECISION), x0), kwargs)


@st.composite
def _annealed_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    L = draw(st.integers(1, 4))
    sigma_1 = draw(st.floats(0.2, 5.0))
    ratio = draw(st.floats(1.2, 3.0))
    sigmas = sigma_1 / ratio ** np.arange(L)
    T = draw(st.integers(0, 3))
    # alpha_i = eta (sigma_i / sigma_L)^2 <= (lambda_min + sigma_i^2): each level's update contracts.
    limit = min((lam_min + s**2) * (sigmas[-1] / s) ** 2 for s in sigmas)
    kwargs = {
        "step_size": limit * draw(st.floats(0.01, 1.0)),
        "n_steps_each": T,
        "noise": draw(normals((L, T, *x0.shape))),
        "denoise": draw(st.booleans()),
        "record_steps": draw(record_steps(L * T)),
    }
    return Case((NoisyScore(twin, float64=dtype in LOW_PRECISION), x0, sigmas), kwargs)


STEP_ERRORS = [
    bad(X, X, step_size=-1.0, noise=X, match="step_size: expected a finite positive number"),
    bad(X, X, step_size="0.1", noise=X, error=TypeError, match="step_size: expected a positive real number"),
    bad(X, np.zeros((3, 1)), step_size=0.1, noise=X, match=r"score: expected the shape of x"),
    bad(X, X, step_size=0.1, noise=np.zeros(3), match=r"noise: expected the shape of x"),
    bad(np.full((3, 2), np.nan), X, step_size=0.1, noise=X, match="x: expected finite values"),
    bad(X, np.full((3, 2), np.inf), step_size=0.1, noise=X, match="score: expected finite values"),
    bad(X, X, step_size=0.1, noise=np.full((3, 2), np.nan), match="noise: expected finite values"),
    bad(HUGE, HUGE, step_size=1e10, noise=X, match=f"x, score, noise, step_size: {OVERFLOWED}"),
]
SAMPLE_ERRORS = [
    bad(_score, X, step_size=0.1, n_steps=2, noise=np.zeros((2, 3)), match=r"noise: expected shape \(2, 3, 2\)"),
    bad(_score, X, step_size=0.0, n_steps=2, noise=NOISE, match="step_size: expected a finite positive number"),
    bad(_score, X, step_size=0.1, n_steps=-1, noise=NOISE, match="n_steps: expected an integer >= 0, got -1"),
    bad(_score, X, step_size=0.1, n_steps=2.0, noise=NOISE, error=TypeError, match="n_steps: expected an integer"),
    bad(_score, X, step_size=0.1, n_steps=True, noise=NOISE, error=TypeError, match="n_steps: expected an integer"),
    bad(_score, X, step_size=0.1, n_steps=2, match=r"noise / rng: pass exactly one of noise= .* got neither"),
    bad(_score, X, step_size=0.1, n_steps=2, rng=0, error=TypeError, match="rng: expected a"),
    bad("score", X, step_size=0.1, n_steps=2, noise=NOISE, error=TypeError, match="score_fn: expected a callable"),
    bad(lambda x: x[:, :1], X, step_size=0.1, n_steps=2, noise=NOISE, match=r"score_fn: expected .*shape"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(0, 3), match=r"record_steps: .* in \[0, 2\]"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(1, 1), match="record_steps: expected strictly"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(0.5,), error=TypeError, match="record_steps"),
    bad(_score, np.zeros((3, 0)), step_size=0.1, n_steps=0, noise=np.zeros((0, 3, 0)), match="x0: expected initial"),
    bad(_score, np.full((3, 2), np.nan), step_size=0.1, n_steps=2, noise=NOISE, match="x0: expected finite"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=np.full((2, 3, 2), np.inf), match="noise: expected finite"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, progress=1, error=TypeError, match="progress: expected"),
    bad(_steep_score, ONES, step_size=0.1, n_steps=2, noise=NOISE, match=DIVERGED),
    bad(
        _score, X, step_size=np.array([0.1, 0.0]), n_steps=2, noise=NOISE, match="step_size: expected finite step sizes"
    ),
    bad(_score, X, step_size=np.array([0.1, -1.0]), n_steps=2, noise=NOISE, match="step_size: expected finite step"),
    bad(_score, X, step_size=np.array([0.1, np.inf]), n_steps=2, noise=NOISE, match="step_size: expected finite step"),
    bad(_score, X, step_size=np.array([0.1]), n_steps=2, noise=NOISE, match=r"step_size: expected one step size per"),
    bad(_score, X, step_size=[0.1, 0.1, 0.1], n_steps=2, noise=NOISE, match=r"step_size: expected one step size per"),
    bad(_score, X, step_size=np.full((2, 1), 0.1), n_steps=2, noise=NOISE, match="step_size: expected a number or a"),
    bad(_score, X, step_size=[0.1, "0.1"], n_steps=2, noise=NOISE, error=TypeError, match=r"step_size\[1\]: expected"),
    bad(_nan_score, ONES, step_size=0.1, n_steps=2, noise=NOISE, match=DIVERGED),
]
ANNEALED = {"step_size": 0.1, "n_steps_each": 1, "noise": ANNEALED_NOISE}
ANNEALED_ERRORS = [
    *(bad(_noisy_score, X, np.array(s), **ANNEALED, match="sigmas: expected") for s in ([1.0, 2.0], [1.0, 1.0])),
    bad(_noisy_score, X, np.array([1.0, 0.0]), **ANNEALED, match="sigmas: expected"),
    bad(_noisy_score, X, np.array([np.nan, 1.0]), **ANNEALED, match="sigmas: expected"),
    bad(_noisy_score, X, np.zeros(0), **ANNEALED, match="sigmas: expected a vector of L >= 1"),
    bad(_noisy_score, X, [1.0, 2.0], **ANNEALED, match="sigmas: expected strictly decreasing"),
    bad(_noisy_score, X, [2.0, "1"], **ANNEALED, error=TypeError, match=r"sigmas\[1\]: expected a real number"),
    bad(_noisy_score, X, SIGMAS, **ANNEALED, denoise=1, error=TypeError, match="denoise: expected True or False"),
    bad(_noisy_steep_score, ONES, SIGMAS, **ANNEALED, match=DIVERGED),
    *(bad(_noisy_score, X, s, **ANNEALED, match=r"sigmas: the step sizes .* overflow") for s in ([1.0, 1e-300],)),
    bad(_noisy_score, X, np.array([1.0, 1e-300]), **ANNEALED, match=r"sigmas: the step sizes .* overflow"),
    bad(
        _noisy_score,
        X,
        SIGMAS,
        step_size=0.1,
        n_steps_each=1,
        noise=NOISE,
        match=r"noise: expected shape \(2, 1, 3, 2\)",
    ),
    bad(
        _noisy_score,
        X,
        SIGMAS,
        step_size=0.1,
        n_steps_each=1.0,
        noise=ANNEALED_NOISE,
        error=TypeError,
        match="n_steps_each",
    ),
]


register_pair(
    "langevin", "langevin_step", cases=lambda dtype: _step_cases(), dtypes=MIXED_PRECISION_DTYPES, errors=STEP_ERRORS
)
register_pair("langevin", "langevin_sample", cases=_sample_cases, dtypes=MIXED_PRECISION_DTYPES, errors=SAMPLE_ERRORS)
register_pair(
    "langevin", "annealed_langevin_sample", cases=_annealed_cases, dtypes=MIXED_PRECISION_DTYPES, errors=ANNEALED_ERRORS
)
