"""Agreement pairs for ``distributions`` (slides: see :mod:`reference.distributions`).

The classes are checked through their functional forms (``gaussian_log_prob(x, mean, cov)`` is
``Gaussian(mean, cov).log_prob(x)``, ...). Edge cases drawn on purpose: d = 1, covariances with
condition numbers up to 1e3, points far from every component (log-sum-exp over tiny terms),
mixture weights with exact zeros and one-hot weights, uniforms at 0, 1 and exactly at a cumulative
weight (the inverse-CDF boundary), sigma = 0 (the posterior mean is y).
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as cs
from ..agree import Case
from ..registry import register_pair

BEIGY_GAUSSIAN = "Beigy, 'Score function (One-dimensional Gaussian distribution)'"
BEIGY_MIXTURE = "Beigy, 'The score function of a mixture of two Gaussians'"
L8_TWEEDIE = "L8, Tweedie's formula slides (exact posterior mean E[x | y])"


def sigmas() -> st.SearchStrategy[float]:
    """Noise levels, 0 (no noise) included."""
    return st.one_of(st.floats(0.0, 5.0), st.sampled_from([0.0, 0.01, 1.0, 3.0]))


@st.composite
def gaussian_parameters(draw: st.DrawFn, d: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    d = draw(st.integers(1, 4)) if d is None else d
    mean = draw(cs.bounded_floats((d,), -5.0, 5.0))
    cov = draw(cs.spd_matrices(d, max_condition=1e3, scale=(0.05, 20.0)))
    return mean, cov


@st.composite
def mixture_parameters(draw: st.DrawFn, d: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = draw(st.integers(1, 3)) if d is None else d
    K = draw(st.integers(1, 4))
    weights = draw(cs.probability_vectors(K, (), spread=5.0))
    means = draw(cs.bounded_floats((K, d), -5.0, 5.0))
    covs = draw(cs.spd_matrices(d, (K,), max_condition=1e2, scale=(0.05, 5.0)))
    return weights, means, covs


def _points(draw: st.DrawFn, d: int, bound: float = 10.0) -> np.ndarray:
    batch = draw(cs.batch_shapes(max_dims=2))
    return draw(cs.bounded_floats((*batch, d), -bound, bound))


def _normals(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    return draw(hnp.arrays(np.float64, shape, elements=st.floats(-4.0, 4.0, width=64)))


@st.composite
def _gaussian_point_cases(draw: st.DrawFn, dtype: str) -> Case:
    mean, cov = draw(gaussian_parameters())
    return Case((_points(draw, mean.shape[0]), mean, cov))


@st.composite
def _gaussian_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    mean, cov = draw(gaussian_parameters())
    return Case((_normals(draw, (*draw(cs.batch_shapes()), mean.shape[0])), mean, cov))


@st.composite
def _gaussian_posterior_cases(draw: st.DrawFn, dtype: str) -> Case:
    mean, cov = draw(gaussian_parameters())
    return Case((_points(draw, mean.shape[0]), draw(sigmas()), mean, cov))


@st.composite
def _mixture_point_cases(draw: st.DrawFn, dtype: str) -> Case:
    weights, means, covs = draw(mixture_parameters())
    return Case((_points(draw, means.shape[1], bound=15.0), weights, means, covs))


@st.composite
def _mixture_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    weights, means, covs = draw(mixture_parameters())
    batch = draw(cs.batch_shapes())
    noise = _normals(draw, (*batch, means.shape[1]))
    # Uniforms at the ends and exactly at the cumulative weights (rounded as both sides will see them).
    cumulative = [float(c) for c in np.cumsum(weights)]
    elements = st.one_of(st.floats(0.0, 1.0, width=64), st.sampled_from([0.0, 1.0, *cumulative]))
    uniforms = draw(hnp.arrays(np.float64, batch, elements=elements))
    return Case((noise, uniforms, weights, means, covs))


@st.composite
def _mixture_posterior_cases(draw: st.DrawFn, dtype: str) -> Case:
    weights, means, covs = draw(mixture_parameters())
    return Case((_points(draw, means.shape[1], bound=15.0), draw(sigmas()), weights, means, covs))


register_pair("distributions", "gaussian_log_prob", slide=BEIGY_GAUSSIAN, cases=_gaussian_point_cases)
register_pair("distributions", "gaussian_score", slide=BEIGY_GAUSSIAN, cases=_gaussian_point_cases)
register_pair("distributions", "gaussian_sample", slide=BEIGY_GAUSSIAN, cases=_gaussian_sample_cases)
register_pair("distributions", "gaussian_posterior_mean", slide=L8_TWEEDIE, cases=_gaussian_posterior_cases)
register_pair("distributions", "mixture_log_prob", slide=BEIGY_MIXTURE, cases=_mixture_point_cases)
register_pair("distributions", "mixture_score", slide=BEIGY_MIXTURE, cases=_mixture_point_cases)
register_pair("distributions", "mixture_sample", slide=BEIGY_MIXTURE, cases=_mixture_sample_cases)
register_pair("distributions", "mixture_posterior_mean", slide=L8_TWEEDIE, cases=_mixture_posterior_cases)
