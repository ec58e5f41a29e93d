"""Agreement pairs for ``divergences`` (slides: see :mod:`reference.divergences`)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as cs
from ..agree import Case
from ..registry import bad, register_pair

NAN = float("nan")
HALF = np.array([0.5, 0.5])


def _pq_cases(dtype: str) -> st.SearchStrategy:
    return cs.probability_pairs().map(lambda pq: Case(pq))


@st.composite
def _gaussian_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 4))
    batch = draw(cs.batch_shapes(max_dims=1))
    mu_p = draw(cs.bounded_floats((*batch, d), -5.0, 5.0))
    mu_q = draw(st.one_of(st.just(mu_p), cs.bounded_floats((d,), -5.0, 5.0)))
    cov_p = draw(cs.spd_matrices(d, batch, max_condition=1e3))
    cov_q = draw(st.one_of(st.just(cov_p), cs.spd_matrices(d, (), max_condition=1e3)))
    return Case((mu_p, cov_p, mu_q, cov_q))


@st.composite
def _mc_cases(draw: st.DrawFn, dtype: str) -> Case:
    n = draw(st.integers(1, 16))
    m = draw(st.integers(1, 16))
    batch = draw(cs.batch_shapes(max_dims=1))
    finite = st.floats(-60.0, 5.0, width=64)
    maybe_zero = st.one_of(finite, st.just(-np.inf))  # the other density may vanish at a sample
    log_p_x = draw(hnp.arrays(np.float64, (*batch, n), elements=finite))
    log_q_x = draw(hnp.arrays(np.float64, (*batch, n), elements=maybe_zero))
    log_p_y = draw(hnp.arrays(np.float64, (m,), elements=maybe_zero))
    log_q_y = draw(hnp.arrays(np.float64, (m,), elements=finite))
    return Case((log_p_x, log_q_x, log_p_y, log_q_y))


# The same bad probability rows for KL and JSD (both check them with _check_pq).
PQ_ERRORS = [
    bad(np.array([0.5, 0.6]), HALF, match="p: expected probabilities summing to 1"),
    bad(HALF, np.array([1.5, -0.5]), match="q: expected non-negative probabilities"),
    bad(np.array([NAN, 1.0]), HALF, match="p: expected finite values"),
    bad(HALF, np.full(3, 1.0 / 3.0), match="p and q: expected the same size along the last axis"),
    bad(np.full((2, 2), 0.5), np.full((3, 2), 0.5), match="p, q: batch shapes do not broadcast"),
    bad(np.array(1.0), np.array(1.0), match=r"p: expected at least 1 dimension"),
    bad("ab", HALF, error=TypeError, match="p: expected a"),
    bad(np.zeros((0, 2)), HALF, match=r"p: expected at least one probability row .*got shape \(0, 2\)"),
    bad(HALF, np.zeros((2, 0, 2)), match=r"q: expected at least one probability row"),
]
NOT_SPD = np.array([[1.0, 2.0], [2.0, 1.0]])
NOT_SYMMETRIC = np.array([[1.0, 0.5], [0.0, 1.0]])
Z2, I2 = np.zeros(2), np.eye(2)
# log-densities at 3 samples of p and of q (0: density 1)
Z3 = np.zeros(3)

register_pair("divergences", "kl_divergence", cases=_pq_cases, errors=PQ_ERRORS)
register_pair("divergences", "js_divergence", cases=_pq_cases, errors=PQ_ERRORS)
register_pair(
    "divergences",
    "kl_gaussian",
    cases=_gaussian_cases,
    errors=[
        bad(Z2, I2, Z2, NOT_SPD, match="cov_q: expected symmetric positive definite"),
        bad(Z2, I2, Z2, NOT_SYMMETRIC, match="cov_q: expected symmetric matrices"),
        bad(Z2, np.ones((2, 3)), Z2, I2, match="cov_p: expected square matrices"),
        bad(Z2, I2, np.zeros(3), I2, match="mu_q: expected dimension d = 2"),
        bad(np.array([0.0, NAN]), I2, Z2, I2, match="mu_p: expected finite values"),
        bad(
            np.zeros((2, 2)),
            np.eye(2) * np.ones((2, 1, 1)),
            Z2,
            np.eye(2) * np.ones((3, 1, 1)),
            match="do not broadcast",
        ),
        bad(np.array(0.0), I2, Z2, I2, match="mu_p: expected at least 1 dimension"),
        bad(np.zeros(1), np.array(1.0), np.zeros(1), np.eye(1), match=r"cov_p: expected square matrices"),
        bad(np.zeros(1), np.eye(1), np.zeros(1), np.array(1.0), match=r"cov_q: expected square matrices"),
        bad(np.full(1, 1e300), np.eye(1), np.zeros(1), np.eye(1), match="the result overflowed float64"),
    ],
)
register_pair(
    "divergences",
    "js_divergence_mc",
    cases=_mc_cases,
    errors=[
        bad(
            np.array([0.0, -np.inf, 0.0]), Z3, Z3, Z3, match="log_p_x: the density must be positive at its own samples"
        ),
        bad(
            Z3, Z3, Z3, np.array([0.0, -np.inf, 0.0]), match="log_q_y: the density must be positive at its own samples"
        ),
        bad(Z3, np.array([NAN, 0.0, 0.0]), Z3, Z3, match="log_q_x: expected no NaN"),
        bad(Z3, Z3, np.array([0.0, np.inf, 0.0]), Z3, match=r"log_p_y: expected log-densities below \+inf"),
        bad(Z3, np.zeros(4), Z3, Z3, match="log_p_x and log_q_x: expected the same number of samples"),
        bad(np.zeros(0), np.zeros(0), Z3, Z3, match="log_p_x: expected at least one sample"),
        bad(np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((3, 3)), match="do not broadcast"),
    ],
)
