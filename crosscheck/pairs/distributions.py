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
from ..registry import bad, register_pair

NAN = float("nan")


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


def _boundary_uniforms(weights: np.ndarray) -> list[float]:
    """Uniforms at the ends and exactly at the cumulative weights (rounded as both sides will see them).

    Clipped to [0, 1]: a cumulative sum of weights summing to 1 can round to 1.0000000000000002, which
    is not a uniform (both sides rightly refuse values above 1); the boundary it stands for is u = 1.
    """
    return [0.0, 1.0, *(float(c) for c in np.clip(np.cumsum(weights), 0.0, 1.0))]


@st.composite
def _mixture_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    weights, means, covs = draw(mixture_parameters())
    batch = draw(cs.batch_shapes())
    noise = _normals(draw, (*batch, means.shape[1]))
    elements = st.one_of(st.floats(0.0, 1.0, width=64), st.sampled_from(_boundary_uniforms(weights)))
    uniforms = draw(hnp.arrays(np.float64, batch, elements=elements))
    return Case((noise, uniforms, weights, means, covs))


@st.composite
def _mixture_posterior_cases(draw: st.DrawFn, dtype: str) -> Case:
    weights, means, covs = draw(mixture_parameters())
    return Case((_points(draw, means.shape[1], bound=15.0), draw(sigmas()), weights, means, covs))


# Bad inputs: the parameters (checked by the constructors the functional forms build) and the points.
MEAN, COV = np.array([1.0, -0.5, 0.25]), np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.7]])
X = np.zeros((4, 3))
W = np.array([0.5, 0.5])
MEANS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])
COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.8]], [[0.3, 0.0], [0.0, 0.3]]])
X2 = np.zeros((4, 2))
GAUSSIAN_ERRORS = [
    bad(X[:, :2], np.zeros((1, 2)), np.eye(2), match=r"mean: expected a vector of shape \(d,\)"),
    bad(X[:, :2], np.zeros(2), np.eye(3), match=r"cov: expected shape \(2, 2\)"),
    bad(X[:, :2], np.array([0.0, NAN]), np.eye(2), match="mean: expected finite"),
    bad(X[:, :2], np.zeros(2), np.array([[1.0, NAN], [NAN, 1.0]]), match="cov: expected finite"),
    bad(X[:, :2], np.zeros(2), np.array([[1.0, 2.0], [2.0, 1.0]]), match="cov: expected symmetric positive definite"),
    bad(X[:, :2], np.zeros(2), np.array([[1.0, 0.5], [0.0, 1.0]]), match="cov: expected symmetric matrices"),
    bad(X[:, :2], "ab", np.eye(2), error=TypeError, match="mean: expected a"),
]
MIXTURE_ERRORS = [
    bad(X2, np.array([0.5, 0.4]), MEANS[:2], COVS[:2], match="weights: expected probabilities summing to 1"),
    bad(X2, np.array([1.5, -0.5]), MEANS[:2], COVS[:2], match="weights: expected non-negative"),
    bad(X2, np.array([0.5, NAN]), MEANS[:2], COVS[:2], match="weights: expected finite"),
    bad(X2, W, MEANS, COVS[:2], match=r"means: expected shape \(2, d\)"),
    bad(X2, W, MEANS[:2], COVS, match=r"covs: expected shape \(2, 2, 2\)"),
    bad(X2, W, MEANS[:2], -COVS[:2], match="covs: expected symmetric positive"),
    bad(X2, np.full((1, 2), 0.5), MEANS[:2], COVS[:2], match="weights: expected a vector"),
]
SIGMA_ERRORS = [
    bad(X, -1.0, MEAN, COV, match="sigma: expected a finite non-negative number"),
    bad(X, NAN, MEAN, COV, match="sigma: expected a finite non-negative number"),
    bad(X, True, MEAN, COV, error=TypeError, match="sigma: expected a non-negative real number"),
    bad(X, "1.0", MEAN, COV, error=TypeError, match="sigma: expected a non-negative real number"),
    bad(X, 1e300, MEAN, COV, match="sigma: expected a scale whose square is finite"),  # sigma^2 overflows
]

register_pair("distributions", "gaussian_log_prob", cases=_gaussian_point_cases, errors=GAUSSIAN_ERRORS)
register_pair(
    "distributions",
    "gaussian_score",
    cases=_gaussian_point_cases,
    errors=[
        bad(np.zeros((4, 2)), MEAN, COV, match=r"x: expected points of shape \(\.\.\., 3\) \(d = 3 from mean\)"),
        bad(np.full((1, 3), NAN), MEAN, COV, match="x: expected finite"),
        bad(np.zeros(()), MEAN, COV, match=r"x: expected points of shape \(\.\.\., 3\)"),
    ],
)
register_pair(
    "distributions",
    "gaussian_sample",
    cases=_gaussian_sample_cases,
    errors=[bad(np.zeros((4, 2)), MEAN, COV, match=r"noise: expected points of shape \(\.\.\., 3\)")],
)
register_pair(
    "distributions",
    "gaussian_posterior_mean",
    cases=_gaussian_posterior_cases,
    errors=[*SIGMA_ERRORS, bad(np.zeros((1, 2)), 0.5, MEAN, COV, match=r"y: expected points of shape \(\.\.\., 3\)")],
)
register_pair("distributions", "mixture_log_prob", cases=_mixture_point_cases, errors=MIXTURE_ERRORS)
register_pair(
    "distributions",
    "mixture_score",
    cases=_mixture_point_cases,
    errors=[
        bad(X, W, MEANS[:2], COVS[:2], match=r"x: expected points of shape \(\.\.\., 2\) \(d = 2 from means\)"),
        bad(np.full((1, 2), np.inf), W, MEANS[:2], COVS[:2], match="x: expected finite"),
        # every squared Mahalanobis distance overflows: the softmax would be 0/0 (issue 12)
        bad(np.full((1, 2), 1e300), W, MEANS[:2], COVS[:2], match="x: expected points at which the mixture's score"),
    ],
)
register_pair(
    "distributions",
    "mixture_sample",
    cases=_mixture_sample_cases,
    errors=[
        bad(X, np.zeros(4), W, MEANS[:2], COVS[:2], match=r"noise: expected points of shape \(\.\.\., 2\)"),
        bad(X2, np.zeros(3), W, MEANS[:2], COVS[:2], match=r"uniforms: expected shape \(4,\)"),
        bad(X2[:2], np.array([0.5, 1.5]), W, MEANS[:2], COVS[:2], match=r"uniforms: expected values in \[0.0, 1.0\]"),
        bad(X2[:2], np.array([0.5, NAN]), W, MEANS[:2], COVS[:2], match="uniforms: expected no NaN"),
    ],
)
register_pair(
    "distributions",
    "mixture_posterior_mean",
    cases=_mixture_posterior_cases,
    errors=[
        bad(X2, -1.0, W, MEANS[:2], COVS[:2], match="sigma: expected a finite non-negative number"),
        bad(X2, np.inf, W, MEANS[:2], COVS[:2], match="sigma: expected a finite non-negative number"),
        bad(X2, 1e300, W, MEANS[:2], COVS[:2], match="sigma: expected a scale whose square is finite"),
        bad(X2, None, W, MEANS[:2], COVS[:2], error=TypeError, match="sigma: expected a non-negative real number"),
        bad(X, 0.5, W, MEANS[:2], COVS[:2], match=r"y: expected points of shape \(\.\.\., 2\)"),
        bad(np.full((1, 2), 1e300), 0.5, W, MEANS[:2], COVS[:2], match="y: expected points at which the mixture's"),
    ],
)
