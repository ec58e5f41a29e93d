"""Agreement pairs for ``transport`` (slides: see :mod:`reference.transport`).

Edge cases drawn on purpose: single points, ties between samples (values on a coarse grid), zero
weights, identical and shifted clouds, p = 1 (non-smooth cost) and non-integer p, batch axes that
broadcast, singular-looking covariances up to the condition bound, identical Gaussians (W_2^2 = 0).

Sinkhorn is compared as an algorithm, not only as an answer: both sides run the same iteration, so
at float64 they must agree on the iteration count, the convergence flag, the plan and the
potentials, with a tolerance of 1e-12 on the marginals. At float32 the cases ask for a fixed number
of iterations (``tol=0``): a float32 marginal error stalls near 1e-7, so a stopping test would decide
the iteration count by rounding.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from reference.transport import gaussian_w2 as reference_gaussian_w2

from .. import strategies as cs
from ..agree import Case
from ..registry import bad, register_pair

# --------------------------------------------------------------------------- transport-specific strategies


def orders() -> st.SearchStrategy[float]:
    """Orders p of W_p: the common integers and a non-integer one."""
    return st.sampled_from([1.0, 2.0, 1.5, 3.0])


@st.composite
def samples_1d(draw: st.DrawFn, shape: tuple[int, ...]) -> np.ndarray:
    """1-D samples in [-5, 5]; half the time on a grid of step 1/2, so that ties occur."""
    values = draw(cs.bounded_floats(shape, -5.0, 5.0))
    if draw(st.booleans()):
        values = np.round(2.0 * values) / 2.0
    return values


@st.composite
def weights_or_none(draw: st.DrawFn, n: int, batch: tuple[int, ...] = ()) -> np.ndarray | None:
    """None (uniform) or probability vectors of length n, exact zeros included."""
    if draw(st.booleans()):
        return None
    return draw(cs.probability_vectors(n, batch, spread=5.0))


@st.composite
def cloud_pairs(draw: st.DrawFn, max_n: int = 8, max_d: int = 3, bound: float = 3.0):
    """Two point clouds (n, d) and (m, d): independent, identical, or a small shift of one another."""
    d = draw(st.integers(1, max_d))
    n = draw(st.integers(1, max_n))
    x = draw(cs.point_clouds(n, d, bound=bound))
    kind = draw(st.sampled_from(["independent", "independent", "shifted", "identical"]))
    if kind == "identical":
        return x, x.copy()
    if kind == "shifted":
        return x, x + draw(cs.bounded_floats((n, d), -0.5, 0.5))
    m = draw(st.integers(1, max_n))
    return x, draw(cs.point_clouds(m, d, bound=bound))


def _max_cost(x: np.ndarray, y: np.ndarray, p: float) -> float:
    diff = x[:, None, :] - y[None, :, :]
    return float(np.max(np.sqrt(np.sum(diff * diff, axis=-1)) ** p))


# --------------------------------------------------------------------------- cases


@st.composite
def _wasserstein_1d_cases(draw: st.DrawFn, dtype: str) -> Case:
    n, m = draw(st.integers(1, 10)), draw(st.integers(1, 10))
    batch = draw(cs.batch_shapes(max_dims=2))
    v_batch = batch[draw(st.integers(0, len(batch))) :]  # v drops leading axes: broadcasting
    u = draw(samples_1d((*batch, n)))
    v = draw(samples_1d((*v_batch, m)))
    kwargs = {"p": draw(orders())}
    u_w = draw(weights_or_none(n, batch))
    v_w = draw(weights_or_none(m, ()))
    if u_w is not None:
        kwargs["u_weights"] = u_w
    if v_w is not None:
        kwargs["v_weights"] = v_w
    return Case((u, v), kwargs)


@st.composite
def _wasserstein_cases(draw: st.DrawFn, dtype: str) -> Case:
    x, y = draw(cloud_pairs())
    kwargs = {"p": draw(orders())}
    if draw(st.booleans()):
        kwargs["a"] = draw(cs.probability_vectors(x.shape[0], (), spread=5.0))
        kwargs["b"] = draw(cs.probability_vectors(y.shape[0], (), spread=5.0))
    return Case((x, y), kwargs)


@st.composite
def _sinkhorn_kwargs(draw: st.DrawFn, x: np.ndarray, y: np.ndarray, dtype: str) -> dict:
    """Options for sinkhorn: epsilon relative to the largest cost, converged or fixed-iteration runs.

    Converged runs (float64, tol 1e-12) take epsilon in [0.25, 5] x max C, where every kernel entry is
    at least e^-4 and Sinkhorn converges in at most a few thousand iterations; smaller ratios on a few
    clustered points (blocks coupled by e^(-C/eps)) crawl: measured, 2e-6 after 2e4 iterations at 0.1.
    Sharp plans, epsilon in [0.005, 0.25] x max C, are compared after a fixed number of iterations
    (tol = 0), which exercises the log-domain and stabilised-kernel numerics without waiting for
    convergence. At float32 every run is fixed-iteration with epsilon in [0.05, 1] x max C: float32
    exp turns the rounding of an exponent C/eps into a relative error of about 6e-8 C/eps (measured
    2.4e-5 at C/eps = 43), and a potential's absolute rounding grows like 1e-7 epsilon.
    """
    p = draw(st.sampled_from([1.0, 2.0, 1.5]))
    scale = max(_max_cost(x, y, p), 1e-2)
    sharp = draw(st.booleans())
    if dtype == "float64" and not sharp:
        ratio, tol, max_iter = draw(st.floats(0.25, 5.0)), 1e-12, 20_000
    elif dtype == "float64":
        ratio, tol, max_iter = draw(st.floats(0.005, 0.25)), 0.0, draw(st.integers(1, 60))
    else:
        ratio, tol, max_iter = draw(st.floats(0.05, 1.0)), 0.0, draw(st.integers(1, 60))
    kwargs = {"epsilon": float(scale * ratio), "p": p, "tol": tol, "max_iter": max_iter}
    if draw(st.booleans()):
        kwargs["a"] = draw(cs.probability_vectors(x.shape[0], (), spread=3.0))
        kwargs["b"] = draw(cs.probability_vectors(y.shape[0], (), spread=3.0))
    kwargs["epsilon_scaling"] = draw(st.sampled_from([0.5, 0.7, None]))
    # Far from convergence, over-relaxation amplifies float32 rounding of the potentials (measured, relative
    # to the cost scale: 1.0e-6 at omega = 1, 4.5e-6 at 1.5, 2.5e-5 at 1.8): float32 runs use omega = 1.
    kwargs["overrelaxation"] = draw(st.sampled_from([1.0, 1.5, 1.8])) if dtype == "float64" else 1.0
    return kwargs


def _sinkhorn_clouds(dtype: str) -> st.SearchStrategy:
    """Clouds in [-3, 3]^d at float64; in [-1/4, 1/4]^d at float32, so that max C <= 1.

    A float32 kernel exp((f + g - C)/eps) has entries with relative rounding ~ 6e-8 |exponent|, which
    the potentials inherit as an absolute error of about 1e-6 max C (measured 2.06e-6 at max C = 1.73
    on a potential whose value is 0, against atol 2e-6): choosing units with max C <= 1 keeps it below.
    """
    return cloud_pairs(bound=3.0 if dtype == "float64" else 0.25)


@st.composite
def _sinkhorn_cases(draw: st.DrawFn, dtype: str) -> Case:
    x, y = draw(_sinkhorn_clouds(dtype))
    kwargs = draw(_sinkhorn_kwargs(x, y, dtype))
    # Always ask for plan and potentials: they are compared too (and None fields cannot be).
    kwargs["return_plan"] = True
    kwargs["return_potentials"] = True
    return Case((x, y), kwargs)


@st.composite
def _divergence_cases(draw: st.DrawFn, dtype: str) -> Case:
    x, y = draw(_sinkhorn_clouds(dtype))
    kwargs = draw(_sinkhorn_kwargs(x, y, dtype))
    if kwargs.get("a") is not None and draw(st.booleans()) and x.shape == y.shape:
        kwargs["b"] = kwargs["a"].copy()
    return Case((x, y), kwargs)


@st.composite
def _sliced_cases(draw: st.DrawFn, dtype: str) -> Case:
    x, y = draw(cloud_pairs(max_n=10, max_d=4))
    L = draw(st.integers(1, 12))
    projections = draw(cs.bounded_floats((x.shape[1], L), -3.0, 3.0))
    # no direction that is zero, or rounds to zero in float32
    projections[0] = np.where(np.max(np.abs(projections), axis=0) < 1e-3, 1.0, projections[0])
    kwargs = {"p": draw(orders()), "projections": projections}
    if draw(st.booleans()):
        kwargs["a"] = draw(cs.probability_vectors(x.shape[0], (), spread=5.0))
    return Case((x, y), kwargs)


@st.composite
def _gaussian_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 5))
    batch = draw(cs.batch_shapes(max_dims=1))
    mu1 = draw(cs.bounded_floats((*batch, d), -5.0, 5.0))
    if draw(st.booleans()):
        # Identical Gaussians: W_2^2 = 0 up to rounding, compared squared (the root of a rounding error
        # has no reference value to agree with). The rounding is absolute, about d eps kappa lambda_max
        # (see reference.transport.gaussian_w2), so these covariances keep lambda_max <= 10 and
        # kappa <= 100, where it stays below the float64 atol of 1e-12.
        cov = draw(cs.spd_matrices(d, batch, max_condition=1e2, scale=(1e-2, 1e-1)))
        return Case((mu1, cov, mu1.copy(), cov.copy()), {"squared": True})
    cov1 = draw(cs.spd_matrices(d, batch, max_condition=1e3, scale=(1e-2, 1e1)))
    mu2 = draw(cs.bounded_floats((d,), -5.0, 5.0))
    cov2 = draw(cs.spd_matrices(d, (), max_condition=1e3, scale=(1e-2, 1e1)))
    squared = draw(st.booleans())
    if not squared:
        # The root amplifies the rounding of W_2^2 (about 1e-16 (tr cov1 + tr cov2)) by 1 / (2 W_2): a
        # root is comparable at rtol 1e-10 only where W_2^2 >= 1e-4 (1 + traces).
        w2 = reference_gaussian_w2(mu1, cov1, mu2, cov2, squared=True)
        traces = np.trace(cov1, axis1=-2, axis2=-1) + np.trace(cov2)
        assume(bool(np.all(w2 >= 1e-4 * (1.0 + traces))))
    return Case((mu1, cov1, mu2, cov2), {"squared": squared})


# --------------------------------------------------------------------------- bad inputs (both sides alike)

_X, _Y = np.zeros((2, 2)), np.ones((3, 2))  # two valid clouds in d = 2
_MU, _EYE = np.zeros(2), np.eye(2)
_NOT_PSD = np.array([[1.0, 2.0], [2.0, 1.0]])  # eigenvalues 3 and -1
_NOT_SYMMETRIC = np.array([[1.0, 0.5], [0.0, 1.0]])
_HUGE, _ORIGIN = np.array([[1e300, 0.0]]), np.zeros((1, 2))  # squared distance 1e600: overflows
_WIDE_X, _WIDE_Y = np.array([[-1e6, 1e6], [3e5, -2e5]]), np.array([[1e6, -1e6], [0.0, 5e5]])  # max C ~ 8e12


def _bad_sinkhorn_options() -> list:
    """Bad epsilons and options, shared by sinkhorn and sinkhorn_divergence."""
    return [
        *(bad(_X, _Y, epsilon=eps, match="epsilon: expected a finite positive number") for eps in (0.0, -1.0)),
        bad(_X, _Y, epsilon=float("inf"), match="epsilon: expected a finite positive number"),
        bad(_X, _Y, epsilon=float("nan"), match="epsilon: expected a finite positive number"),
        bad(_X, _Y, epsilon="0.1", error=TypeError, match="epsilon: expected a positive real number"),
        bad(_X, _Y, epsilon=0.1, overrelaxation=2.0, match=r"overrelaxation: expected omega in \[1, 2\)"),
        bad(_X, _Y, epsilon=0.1, epsilon_scaling=1.0, match="epsilon_scaling: expected a ratio in"),
        bad(_X, _Y, epsilon=0.1, tol=-1.0, match="tol: expected a marginal-error tolerance >= 0"),
        bad(_X, _Y, epsilon=0.1, max_iter=10.0, error=TypeError, match="max_iter: expected an integer"),
        bad(_X, _Y, epsilon=0.1, max_iter=True, error=TypeError, match="max_iter: expected an integer"),
        bad(_X, _Y, epsilon=0.1, max_iter=0, match="max_iter: expected an integer >= 1, got 0"),
        bad(_X, _Y, epsilon=0.1, check_every=2.0, error=TypeError, match="check_every: expected an integer"),
        bad(_X, _Y, epsilon=0.1, p=0.5, match="p: expected a finite real number >= 1"),
        bad(np.array([1.0, 2.0]), _Y, epsilon=0.1, match=r"x: expected a point cloud of shape \(n, d\)"),
        bad(np.array([[np.nan, 0.0]]), _Y, epsilon=0.1, match="x: expected finite values"),
        bad(_X, _Y, epsilon=0.1, b=np.array([1.5, -0.25, -0.25]), match="b: expected non-negative probabilities"),
        # A cost that overflows (without annealing: it used to return NaN; with annealing, the inputs that
        # hung are run in a subprocess with a timeout in tests/test_transport.py).
        bad(_HUGE, _ORIGIN, epsilon=0.1, epsilon_scaling=None, match="x and y: the squared distances .* overflow"),
        bad(_X, _Y, epsilon=0.1, p=1e300, epsilon_scaling=None, match=r"p: the cost \|\|x - y\|\|\^p overflows"),
        # An epsilon below the float64 resolution of the cost scale (used to stall or disagree between sides).
        bad(_WIDE_X, _WIDE_Y, epsilon=1e-300, match="epsilon: expected at least .* the cost scale"),
        bad(_WIDE_X, _WIDE_Y, epsilon=1e-4, match="epsilon: expected at least .* the cost scale"),
    ]


register_pair(
    "transport",
    "wasserstein_1d",
    cases=_wasserstein_1d_cases,
    errors=[
        bad(np.array([0.0]), np.array([1.0]), p=0.9, match="p: expected a finite real number >= 1"),
        bad(np.array([0.0]), np.array([1.0]), p="2", error=TypeError, match="p: expected a real number"),
        bad(np.array([0.0]), np.array([1.0]), p=True, error=TypeError, match="p: expected a real number"),
        bad(np.array([0.0]), np.array([np.inf]), match="v: expected finite values"),
        bad(np.zeros((2, 0)), np.array([1.0]), match="u: expected at least one sample along the last axis"),
        bad(np.array([0.0, 1.0, 2.0]), np.array([0.0]), u_weights=np.array([0.5, 0.5]), match="u_weights: expected 3"),
        bad(
            np.array([0.0, 1.0]), np.array([0.0]), v_weights=np.array([0.5]), match="v_weights: expected probabilities"
        ),
        bad(np.zeros((2, 3)), np.zeros((3, 3)), match="batch shapes do not broadcast"),
        # |u - v|^p overflows float64 (used to give NaN on the reference side, 0 on the accelerated one)
        bad(np.array([1e300]), np.array([-1e300]), p=2, match=r"u and v: the cost \|F\^-1 - G\^-1\|\^p overflows"),
        bad(np.array([1e308, 0.0]), np.array([-1e308]), match=r"u and v: the cost .* overflows float64"),
    ],
)
register_pair(
    "transport",
    "wasserstein",
    cases=_wasserstein_cases,
    errors=[
        bad(_X, np.ones((3, 3)), match="x and y: expected points of the same dimension"),
        bad(_X, _Y, p=0.5, match="p: expected a finite real number >= 1"),
        bad(_X, _Y, a=np.array([0.5, 0.6]), match="a: expected probabilities summing to 1"),
        bad(_X, _Y, a=np.full(3, 1 / 3), match=r"a: expected shape \(2,\)"),
        bad(np.zeros((0, 2)), _Y, match=r"x: expected a point cloud of shape \(n, d\) with n, d >= 1"),
        # The cost is built on distances scaled by a power of two (points 1e300 apart give W_p = 1e300,
        # tested in tests/test_transport.py); what stays refused: every scaled entry (D / 2^k)^p underflows
        # (p = 2000), and a W_p above the largest float (points near 1e308 of opposite signs).
        bad(_X, 100.0 * _Y, p=2000, match=r"p: the cost \|\|x_i - y_j\|\|\^p relative to the largest one underflows"),
        bad(_X, 100.0 * _Y, p=2000, a=np.array([0.25, 0.75]), match=r"p: the cost .* underflows float64"),
        bad(np.full((1, 2), 1e308), np.full((1, 2), -1e308), match="x, y: the result overflowed float64"),
    ],
)
register_pair(
    "transport",
    "sinkhorn",
    cases=_sinkhorn_cases,
    errors=[
        *_bad_sinkhorn_options(),
        # flags are True or False (the accelerated side took "yes", 1 and None)
        *(
            bad(_X, _Y, epsilon=0.1, error=TypeError, match=f"{name}: expected True or False", **{name: value})
            for name in ("return_plan", "return_potentials")
            for value in ("yes", 1, None)
        ),
    ],
)
register_pair("transport", "sinkhorn_divergence", cases=_divergence_cases, errors=_bad_sinkhorn_options())
register_pair(
    "transport",
    "sliced_wasserstein",
    cases=_sliced_cases,
    errors=[
        bad(_X, _Y, match="pass exactly one of projections="),
        bad(_X, _Y, p=0.5, projections=np.ones((2, 3)), match="p: expected a finite real number >= 1"),
        bad(_X, _Y, projections=np.ones((3, 4)), match=r"projections: expected shape \(d, L\)"),
        bad(_X, _Y, projections=np.array([[1.0, 0.0], [1.0, 0.0]]), match="projections: expected non-zero columns"),
        bad(_X, _Y, projections=np.array([[1.0, np.nan], [1.0, 1.0]]), match="projections: expected finite"),
        bad(_X, _Y, projections=np.ones((2, 4)), n_projections=5, match="n_projections: expected None or 4"),
        bad(_X, _Y, projections=np.ones((2, 4)), n_projections=4.0, error=TypeError, match="n_projections: expected"),
        bad(_HUGE, -_HUGE, projections=_EYE, match=r"x and y: the cost .* overflows float64"),
        bad(np.full((1, 2), 1.5e308), _ORIGIN, projections=np.ones((2, 1)), match=r"x and y: the cost .* overflows"),
    ],
)
register_pair(
    "transport",
    "gaussian_w2",
    cases=_gaussian_cases,
    errors=[
        bad(_MU, _EYE, _MU, _NOT_PSD, match="cov2: expected a positive semi-definite covariance"),
        bad(_MU, _NOT_PSD, _MU, _EYE, match="cov1: expected a positive semi-definite covariance"),
        bad(_MU, _NOT_SYMMETRIC, _MU, _EYE, match="cov1: expected symmetric matrices"),
        bad(_MU, _EYE, np.zeros(3), _EYE, match="mu2: expected dimension d = 2"),
        bad(np.array([np.nan, 0.0]), _EYE, _MU, _EYE, match="mu1: expected finite values"),
        bad(_MU, np.ones((2, 3)), _MU, _EYE, match=r"cov1: expected square matrices"),
        bad(_MU, _EYE, _MU, _EYE, squared=1, error=TypeError, match="squared: expected True or False"),
        bad(np.full(2, 1e300), _EYE, _MU, _EYE, match="mu1, cov1, mu2, cov2: the result overflowed float64"),
    ],
)
