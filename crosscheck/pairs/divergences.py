"""Agreement pairs for ``divergences`` (slides: see :mod:`reference.divergences`)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as cs
from ..agree import Case
from ..registry import register_pair

L7_DISJOINT = "L7, recap 'Informal theoretical results'"
L8_JSD = "L8, 'Jensen-Shannon Divergence'"


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


register_pair("divergences", "kl_divergence", slide=L7_DISJOINT, cases=_pq_cases)
register_pair("divergences", "js_divergence", slide=L8_JSD, cases=_pq_cases)
register_pair(
    "divergences",
    "kl_gaussian",
    slide="L13, recap 'ELBO of gaussian diffusion model' (its KL terms)",
    cases=_gaussian_cases,
)
register_pair("divergences", "js_divergence_mc", slide=L8_JSD + " (Monte-Carlo form)", cases=_mc_cases)
