"""Agreement pairs for ``energy`` (slides: see :mod:`reference.energy`).

Energies enter as :class:`~crosscheck.agree.Twin` objects (``QuadraticEnergy`` with precisions of
condition number up to 1e3, ``DoubleWellEnergy`` with one or two wells): the reference takes their
analytic gradient, the accelerated side differentiates them with autograd. Edge cases drawn on
purpose: +inf energies (density 0), energies that cancel in the log ratio, boxes that cut off most
of the mass (log Z of a small region), n_points = 2 (a single trapezoid), Ising images with ties
between states (beta = alpha / 2 and alpha = 0), beta = 0 and negative weights.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as cs
from ..agree import Case, Twin
from ..registry import bad, register_pair


@st.composite
def energy_twins(draw: st.DrawFn, d: int | None = None) -> Twin:
    """A ``QuadraticEnergy`` or ``DoubleWellEnergy`` twin of dimension d (drawn in 1..3 if None)."""
    d = draw(st.integers(1, 3)) if d is None else d
    if draw(st.booleans()):
        precision = draw(cs.spd_matrices(d, max_condition=1e3, scale=(0.05, 10.0)))
        mean = draw(cs.bounded_floats((d,), -2.0, 2.0))
        return Twin("energy.QuadraticEnergy", precision=precision, mean=mean)
    a = draw(st.one_of(st.floats(0.05, 3.0), st.sampled_from([1.0, 0.25])))
    b = draw(st.one_of(st.floats(-2.0, 3.0), st.sampled_from([0.0, 1.0, 2.0])))
    return Twin("energy.DoubleWellEnergy", a=a, b=b)


def _dim(twin: Twin) -> int | None:
    return twin.params["mean"].shape[0] if "mean" in twin.params else None


@st.composite
def _unnormalized_cases(draw: st.DrawFn, dtype: str) -> Case:
    shape = draw(cs.batch_shapes(max_dims=3))
    elements = st.one_of(st.floats(-50.0, 1e3, width=64), st.just(np.inf), st.sampled_from([0.0, -0.0]))
    return Case((draw(hnp.arrays(np.float64, shape, elements=elements)),))


@st.composite
def _energy_score_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 3))
    twin = draw(energy_twins(d))
    x = draw(cs.bounded_floats((*draw(cs.batch_shapes()), d), -3.0, 3.0))
    return Case((twin, x))


@st.composite
def _log_ratio_cases(draw: st.DrawFn, dtype: str) -> Case:
    first = draw(cs.batch_shapes())
    second = tuple(1 if draw(st.booleans()) else s for s in first)[draw(st.integers(0, len(first))) :]
    E_x = draw(cs.bounded_floats(first, -1e3, 1e3))
    if draw(st.booleans()):  # nearly equal energies: the ratio is close to 1
        E_x_prime = np.asarray(E_x + draw(cs.bounded_floats(first, -1e-3, 1e-3)))  # 0-d stays an array
        return Case((E_x, E_x_prime))
    return Case((E_x, draw(cs.bounded_floats(second, -1e3, 1e3))))


@st.composite
def _log_partition_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 2))
    twin = draw(energy_twins(d))
    lower = draw(cs.bounded_floats((d,), -8.0, 1.0))
    width = draw(hnp.arrays(np.float64, (d,), elements=st.floats(0.25, 10.0, width=64)))
    upper = lower + width
    n_points = draw(st.one_of(st.integers(2, 64), st.sampled_from([2, 3, 101])))
    if d == 1 and draw(st.booleans()):  # a scalar box in 1-D
        return Case((twin, np.asarray(lower[0]), np.asarray(upper[0])), {"n_points": n_points})
    return Case((twin, lower, upper), {"n_points": n_points})


def binary_images(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """int64 arrays of 0/1 pixels."""
    return hnp.arrays(np.int64, shape, elements=st.integers(0, 1))


def _weights() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-2.0, 5.0), st.sampled_from([0.0, 0.5, 1.0, 2.0]))


@st.composite
def _ising_potential_cases(draw: st.DrawFn, dtype: str) -> Case:
    H, W = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    b_y, b_x = draw(cs.batch_shapes(max_dims=1)), draw(cs.batch_shapes(max_dims=1))
    if b_y and b_x and b_y != b_x:
        b_x = (1,)
    return Case(
        (draw(binary_images((*b_y, H, W))), draw(binary_images((*b_x, H, W)))),
        {"alpha": draw(_weights()), "beta": draw(_weights())},
    )


@st.composite
def _ising_states_cases(draw: st.DrawFn, dtype: str) -> Case:
    H = draw(st.integers(1, 3))
    return Case((H, draw(st.integers(1, 12 // H))))


@st.composite
def _ising_denoise_cases(draw: st.DrawFn, dtype: str) -> Case:
    H, W = draw(st.sampled_from([(3, 3), (1, 1), (2, 3), (3, 1), (2, 2)]))
    x = draw(binary_images((*draw(cs.batch_shapes(max_dims=1)), H, W)))
    alpha = draw(st.one_of(st.floats(0.0, 5.0), st.sampled_from([0.0, 1.0, 2.0])))
    beta = draw(st.one_of(st.floats(0.0, 5.0), st.just(alpha / 2), st.sampled_from([0.0, 1.0])))
    return Case((x,), {"alpha": alpha, "beta": beta})


# --------------------------------------------------------------------------- bad inputs

NAN = float("nan")
WELL = Twin("energy.DoubleWellEnergy", a=1.0, b=1.0)
GAUSSIAN = Twin("energy.QuadraticEnergy", precision=np.eye(2), mean=np.zeros(2))
W = {"alpha": 1.0, "beta": 1.0}
ZEROS = np.zeros((3, 3))

UNNORMALIZED_ERRORS = [
    bad(np.array([1.0, NAN]), match="energy: expected no NaN"),
    bad(np.array([1.0, -np.inf]), match="energy: expected energies > -inf"),
    bad("1.0", error=TypeError, match="energy: expected a"),
]
SCORE_ERRORS = [
    bad(GAUSSIAN, np.array([[0.0, NAN]]), match="x: expected finite"),
    bad(GAUSSIAN, np.zeros((4, 3)), match=r"x: expected points of shape \(\.\.\., 2\)"),
    bad(GAUSSIAN, np.array(1.0), match=r"x: expected points of shape \(\.\.\., d\)"),
    bad(3.0, np.zeros((1, 2)), error=TypeError, match="energy: expected"),
]
RATIO_ERRORS = [
    bad(np.array([1.0, np.inf]), np.array([0.0]), match="energy_x: expected finite"),
    bad(np.array([1.0, 2.0]), np.array([0.0, 1.0, 2.0]), match="do not broadcast"),
    bad(np.array([1.0]), np.array([NAN]), match="energy_x_prime: expected finite"),
]
PARTITION_ERRORS = [
    bad(WELL, np.array(1.0), np.array(0.0), match="lower, upper: expected lower < upper"),
    bad(
        WELL, np.zeros(3), np.ones(3), match=r"lower: expected a scalar or a vector of shape \(d,\) with d in \(1, 2\)"
    ),
    bad(WELL, np.zeros(2), np.ones(1), match=r"upper: expected shape \(2,\)"),
    bad(WELL, np.array(0.0), np.array(1.0), n_points=1, match="n_points: expected an integer >= 2, got 1"),
    bad(WELL, np.array(0.0), np.array(1.0), n_points=10.0, error=TypeError, match="n_points: expected an integer"),
    bad(WELL, np.array(0.0), np.array(1.0), n_points=True, error=TypeError, match="n_points: expected an integer"),
    bad(WELL, np.array(-np.inf), np.array(1.0), match="lower: expected finite"),
    bad("E", np.array(0.0), np.array(1.0), error=TypeError, match="energy: expected a callable"),
    bad(lambda x: x, np.array(0.0), np.array(1.0), match=r"energy\(points\): expected shape \(201,\)"),
    bad(lambda x: x[:, 0] * NAN, np.array(0.0), np.array(1.0), match=r"energy\(points\): expected no NaN"),
    bad(
        lambda x: x[:, 0] * 0.0 + np.inf,
        np.array(0.0),
        np.array(1.0),
        match="energy: expected energies whose log partition function is finite",
    ),
    bad(WELL, np.array(0.0), np.array(1.0), n_points=10**7, match=r"n_points: the grid of .* exceeds the cap"),
    bad(WELL, np.zeros(2), np.ones(2), n_points=2049, match=r"n_points: the grid of n_points\^d = 2049\^2"),
]
POTENTIAL_ERRORS = [
    bad(np.full((3, 3), 2), ZEROS, **W, match="y: expected pixel values in"),
    bad(ZEROS, np.zeros((3, 2)), **W, match="images of one size"),
    bad(np.zeros(3), np.zeros(3), **W, match="y: expected images of shape"),
    bad(ZEROS, ZEROS, alpha=NAN, beta=1.0, match="alpha: expected a finite"),
    bad(ZEROS, ZEROS, alpha=1.0, beta="1", error=TypeError, match="beta: expected a real number"),
    bad(np.zeros((2, 3, 3)), np.zeros((3, 3, 3)), **W, match="do not broadcast"),
    bad(np.zeros((3, 0)), np.zeros((3, 0)), **W, match=r"y: expected images of shape \(\.\.\., H, W\) with H, W >= 1"),
]
STATES_ERRORS = [
    bad(5, 4, match="height, width: exact enumeration is limited to 16 pixels"),
    bad(0, 4, match="height: expected an integer >= 1"),
    bad(3.0, 3, error=TypeError, match="height: expected an integer"),
    bad(3, True, error=TypeError, match="width: expected an integer"),
]
DENOISE_ERRORS = [
    bad(np.zeros((5, 4)), **W, match="x: exact enumeration is limited to 16 pixels"),
    bad(ZEROS, alpha=1.0, beta=True, error=TypeError, match="beta: expected a real number"),
    bad(np.full((3, 3), 0.5), **W, match="x: expected pixel values in"),
    bad(np.zeros(3), **W, match="x: expected images of shape"),
    bad(
        np.zeros((3, 0)), **W, match=r"x: expected images of shape \(\.\.\., H, W\) with H, W >= 1, got shape \(3, 0\)"
    ),
    bad(np.zeros((0, 2)), **W, match=r"x: expected images of shape .* with H, W >= 1"),
]

register_pair("energy", "unnormalized_log_density", cases=_unnormalized_cases, errors=UNNORMALIZED_ERRORS)
register_pair("energy", "energy_score", cases=_energy_score_cases, errors=SCORE_ERRORS)
register_pair("energy", "log_ratio", cases=_log_ratio_cases, errors=RATIO_ERRORS)
register_pair("energy", "log_partition_function", cases=_log_partition_cases, errors=PARTITION_ERRORS)
register_pair("energy", "ising_log_potential", cases=_ising_potential_cases, errors=POTENTIAL_ERRORS)
register_pair("energy", "ising_states", cases=_ising_states_cases, errors=STATES_ERRORS)
register_pair("energy", "ising_denoise", cases=_ising_denoise_cases, errors=DENOISE_ERRORS)


# --------------------------------------------------------------------------- maximum likelihood (learning)


@st.composite
def _cd_loss_cases(draw: st.DrawFn, dtype: str) -> Case:
    n, m = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    return Case((draw(cs.bounded_floats((n,), -1e3, 1e3)), draw(cs.bounded_floats((m,), -1e3, 1e3))))


@st.composite
def _log_lik_grad_cases(draw: st.DrawFn, dtype: str) -> Case:
    d = draw(st.integers(1, 2))
    precision = draw(cs.spd_matrices(d, max_condition=1e2, scale=(0.2, 5.0)))
    mean = draw(cs.bounded_floats((d,), -2.0, 2.0))
    twin = Twin("energy.QuadraticEnergy", precision=precision, mean=mean)
    x = draw(cs.bounded_floats((draw(st.integers(1, 6)), d), -4.0, 4.0))
    if draw(st.booleans()):  # the model expectation from negatives (contrastive divergence)
        return Case((twin, x, draw(cs.bounded_floats((draw(st.integers(1, 6)), d), -4.0, 4.0))))
    lower = draw(cs.bounded_floats((d,), -8.0, -1.0))  # a box around the mean (or cutting part of the mass)
    upper = draw(cs.bounded_floats((d,), 1.0, 8.0))
    n_points = draw(st.one_of(st.integers(2, 64), st.sampled_from([2, 101])))
    return Case((twin, x), {"lower": lower, "upper": upper, "n_points": n_points})


CD_ERRORS = [
    bad(np.array([1.0, np.inf]), np.array([0.0]), match="energy_pos: expected finite"),
    bad(np.array([1.0]), np.zeros(0), match=r"energy_neg: expected a non-empty vector of energies"),
    bad(np.zeros((2, 2)), np.zeros(2), match=r"energy_pos: expected a non-empty vector of energies of shape \(n,\)"),
    bad(np.array([1e308]), np.array([-1e308]), match="energy_pos, energy_neg: "),
]
GAUSSIAN_1 = Twin("energy.QuadraticEnergy", precision=np.eye(1), mean=np.zeros(1))
LOG_LIK_GRAD_ERRORS = [
    bad(GAUSSIAN, np.zeros((3, 2)), match="negatives, lower, upper: give either negatives"),
    bad(GAUSSIAN, np.zeros((3, 2)), np.zeros((2, 2)), lower=-np.ones(2), upper=np.ones(2), match="give either"),
    bad(GAUSSIAN, np.zeros((3, 2)), np.zeros((2, 3)), match=r"negatives: expected"),
    bad(GAUSSIAN, np.zeros((0, 2)), np.zeros((2, 2)), match=r"x: expected a non-empty batch"),
    bad(GAUSSIAN, np.array([[0.0, NAN]]), np.zeros((2, 2)), match="x: expected finite"),
    bad(GAUSSIAN, np.zeros((3, 2)), lower=-np.ones(1), upper=np.ones(1), match="lower: expected a box of dimension 2"),
    bad(GAUSSIAN_1, np.zeros((3, 1)), lower=np.ones(1), upper=-np.ones(1), match="expected lower < upper"),
    bad(WELL, np.zeros((3, 1)), np.zeros((2, 1)), error=TypeError, match="energy: expected"),
]

register_pair("energy", "contrastive_divergence_loss", cases=_cd_loss_cases, errors=CD_ERRORS)
register_pair("energy", "log_likelihood_gradient", cases=_log_lik_grad_cases, errors=LOG_LIK_GRAD_ERRORS)
