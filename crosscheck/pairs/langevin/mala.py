"""Agreement cases and bad inputs of the MALA pairs: mala_log_acceptance_ratio and mala_sample.

The accept test's uniforms are moved off the threshold by :func:`_safe_uniforms` (see
:mod:`crosscheck.pairs.langevin`)."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case, Twin
from crosscheck.registry import bad, register_pair

from .strategies import (
    ACCEPT_MARGIN,
    DIVERGED,
    HUGE,
    NOISE,
    ONES,
    OVERFLOWED,
    Method,
    U,
    X,
    _chain_setup,
    _far_refusing_score,
    _log_prob,
    _nan_score,
    _rounded,
    _score,
    normals,
    open_uniforms,
    record_steps,
)


def _safe_uniforms(
    twin: Twin, x0: np.ndarray, eta: float, noise: np.ndarray, uniforms: np.ndarray, dtype: str
) -> np.ndarray:
    """Replay the reference chain on the rounded inputs; move uniforms within the margin of their threshold."""
    from reference import langevin as R

    p = twin.build("reference", dtype, "cpu")
    margin = ACCEPT_MARGIN[dtype]
    x, noise, u = _rounded(x0, dtype), _rounded(noise, dtype), uniforms.copy()
    log_p, s = p.log_prob(x), p.score(x)
    for k in range(noise.shape[0]):
        x_prop = R.langevin_step(x, s, step_size=eta, noise=noise[k])
        log_p_prop, s_prop = p.log_prob(x_prop), p.score(x_prop)
        r = R.mala_log_acceptance_ratio(x, x_prop, log_p, log_p_prop, s, s_prop, step_size=eta)
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            log_u = np.log(_rounded(u[k], dtype))
            close = np.isfinite(r) & (np.abs(log_u - r) < margin)
            u[k] = np.where(close, np.exp(np.minimum(r - 2.0 * margin, 0.0)), u[k])
            accept = np.log(_rounded(u[k], dtype)) < r
        x = np.where(accept[:, None], x_prop, x)
        log_p = np.where(accept, log_p_prop, log_p)
        s = np.where(accept[:, None], s_prop, s)
    return u


@st.composite
def _mala_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    K = draw(st.integers(0, 6))
    eta = lam_min * draw(st.floats(0.01, 2.0))
    noise = draw(normals((K, *x0.shape)))
    uniforms = _safe_uniforms(twin, x0, eta, noise, draw(open_uniforms((K, x0.shape[0]))), dtype)
    kwargs = {
        "step_size": eta,
        "n_steps": K,
        "noise": noise,
        "uniforms": uniforms,
        "record_steps": draw(record_steps(K)),
    }
    return Case((Method(twin, "log_prob"), Method(twin, "score"), x0), kwargs)


@st.composite
def _log_ratio_cases(draw: st.DrawFn) -> Case:
    d = draw(st.integers(1, 4))
    n = draw(st.integers(1, 6))
    eta = draw(st.one_of(st.floats(1e-4, 4.0), st.sampled_from([1e-2, 1.0])))
    x = draw(cs.bounded_floats((n, d), -5.0, 5.0))
    if draw(st.booleans()):  # a genuine Langevin proposal: the two q terms nearly cancel
        score_x = draw(cs.bounded_floats((n, d), -10.0, 10.0))
        x_prop = x + 0.5 * eta * score_x + math.sqrt(eta) * draw(normals((n, d)))
    else:
        score_x = draw(cs.bounded_floats((n, d), -10.0, 10.0))
        x_prop = draw(cs.bounded_floats((n, d), -5.0, 5.0))
    score_prop = draw(cs.bounded_floats((n, d), -10.0, 10.0))
    log_elements = st.one_of(st.floats(-50.0, 5.0, width=64), st.just(-np.inf))
    log_p = draw(hnp.arrays(np.float64, (n,), elements=log_elements))
    log_p_prop = draw(hnp.arrays(np.float64, (n,), elements=log_elements))
    return Case((x, x_prop, log_p, log_p_prop, score_x, score_prop), {"step_size": eta})


RATIO_ERRORS = [
    bad(
        X, np.zeros((3, 1)), np.zeros(3), np.zeros(3), X, X, step_size=0.1, match="x_proposal: expected the shape of x"
    ),
    bad(X, X, np.array([0.0, np.nan, 0.0]), np.zeros(3), X, X, step_size=0.1, match="log_prob_x: expected no NaN"),
    bad(
        X, X, np.zeros(3), np.full(3, np.inf), X, X, step_size=0.1, match=r"log_prob_proposal: expected no NaN or \+inf"
    ),
    bad(
        HUGE,
        X,
        np.zeros(3),
        np.zeros(3),
        X,
        X,
        step_size=0.1,
        match=f"x, x_proposal, score_x, score_proposal: {OVERFLOWED}",
    ),
    bad(np.full((3, 2), np.nan), X, np.zeros(3), np.zeros(3), X, X, step_size=0.1, match="x: expected finite"),
    bad(X, X, np.zeros(3), np.zeros(3), X, np.full((3, 2), np.inf), step_size=0.1, match="score_proposal: expected"),
    bad(X, X, np.zeros(3), np.zeros(2), X, X, step_size=0.1, match=r"log_prob_proposal: expected shape \(3,\)"),
    bad(X, X, np.zeros(3), np.zeros(3), X, X, step_size=0.0, match="step_size: expected a finite positive number"),
    bad(
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        step_size=0.1,
        match="x: expected states",
    ),
]
MALA = {"step_size": 0.1, "n_steps": 2, "noise": NOISE}
MALA_ERRORS = [
    bad(_log_prob, _score, X, **MALA, match="uniforms: required with noise="),
    bad(
        _log_prob, _score, X, **MALA, uniforms=np.full((2, 3), 1.5), match=r"uniforms: expected values in \[0.0, 1.0\]"
    ),
    bad(_log_prob, _score, X, **MALA, uniforms=np.zeros((2, 3, 1)), match=r"uniforms: expected shape \(2, 3\)"),
    bad(lambda x: x, _score, X, **MALA, uniforms=U, match=r"log_prob_fn: expected .*shape"),
    bad(None, _score, X, **MALA, uniforms=U, error=TypeError, match="log_prob_fn: expected a callable"),
    bad(_log_prob, _score, X, step_size=0.1, n_steps=1.5, noise=NOISE, uniforms=U, error=TypeError, match="n_steps"),
    bad(_log_prob, _nan_score, ONES, **MALA, uniforms=U, match=DIVERGED),
    bad(
        _log_prob, _far_refusing_score, HUGE, **MALA, uniforms=U, match="x0: expected initial states at which score_fn"
    ),
    bad(_log_prob, _far_refusing_score, X, **{**MALA, "noise": np.full((2, 3, 2), 1e300)}, uniforms=U, match=DIVERGED),
]


register_pair("langevin", "mala_log_acceptance_ratio", cases=lambda dtype: _log_ratio_cases(), errors=RATIO_ERRORS)
register_pair("langevin", "mala_sample", cases=_mala_cases, errors=MALA_ERRORS)
