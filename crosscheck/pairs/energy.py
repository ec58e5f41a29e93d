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
from ..registry import register_pair

L7_UNNORMALIZED = "L7, 'Unnormalized density'"
L8_EBM = "L8, 'Energy Based Models'"
L8_RATIO = "L8, 'Application of Energy Based Models'"
L8_ISING = "L8, 'Example: Ising Model'"
BEIGY_SM = "Beigy, 'Score Matching (SM)'"


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


register_pair("energy", "unnormalized_log_density", slide=L7_UNNORMALIZED, cases=_unnormalized_cases)
register_pair("energy", "energy_score", slide=f"{L7_UNNORMALIZED}; {BEIGY_SM}", cases=_energy_score_cases)
register_pair("energy", "log_ratio", slide=L8_RATIO, cases=_log_ratio_cases)
register_pair("energy", "log_partition_function", slide=L8_EBM, cases=_log_partition_cases)
register_pair("energy", "ising_log_potential", slide=L8_ISING, cases=_ising_potential_cases)
register_pair("energy", "ising_states", slide=L8_ISING, cases=_ising_states_cases)
register_pair("energy", "ising_denoise", slide=L8_ISING, cases=_ising_denoise_cases)
