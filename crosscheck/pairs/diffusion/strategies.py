"""Strategies of the diffusion pairs: betas, schedules on both sides, positions, data, clip ranges, scales, eta.

Schedules are drawn as betas and passed as ``Twin("diffusion.Schedule", betas=Exact(...))``, so both sides
build their float64 tables from the same betas. Kinds: the linear and cosine schedules with drawn
parameters, the standard T = 1000 ones, random betas, and extreme betas (1e-8, where 1 - alpha_bar would
cancel without the log1p/expm1 table, and 0.9999, where 1 / sqrt(alpha) is 100). Positions include both
ends (0, where beta_tilde = 0, and T - 1) and are drawn per batch element or shared (shape ()). Data have
any number of feature axes.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Exact, Twin
from reference import diffusion as ref


@st.composite
def betas_arrays(draw: st.DrawFn, max_T: int = 12, min_T: int = 1, standard: bool = True) -> np.ndarray:
    """Betas in (0, 1) for a schedule: linear, cosine, standard T = 1000 (if allowed), random or extreme."""
    kind = draw(st.sampled_from(["linear", "cosine", "random", "extreme"] + (["standard"] if standard else [])))
    if kind == "standard":
        T = 1000
        return ref.linear_beta_schedule(T) if draw(st.booleans()) else ref.cosine_beta_schedule(T)
    T = draw(st.integers(min_T, max_T))
    if kind == "linear":
        start = draw(st.floats(1e-5, 0.05))
        end = draw(st.floats(1e-5, 0.5))
        return ref.linear_beta_schedule(T, start, end)
    if kind == "cosine":
        return ref.cosine_beta_schedule(T, draw(st.floats(0.0, 0.05)), draw(st.floats(0.5, 0.999)))
    if kind == "random":
        return draw(cs.bounded_floats((T,), 1e-4, 0.9))
    return draw(hnp.arrays(np.float64, (T,), elements=st.sampled_from([1e-8, 1e-4, 0.02, 0.5, 0.9, 0.9999])))


def schedules(betas: np.ndarray) -> Twin:
    """A schedule on both sides from the same float64 betas (tables are float64 whatever the data's dtype)."""
    return Twin("diffusion.Schedule", betas=Exact(betas))


@st.composite
def positions(draw: st.DrawFn, T: int, n: int, low: int = 0) -> np.ndarray:
    """int64 positions in [low, T - 1], shape (n,) or () (shared), with both ends drawn on purpose."""
    elements = st.one_of(st.integers(low, T - 1), st.sampled_from([low, T - 1]))
    shape = () if draw(st.integers(0, 4)) == 0 else (n,)
    return draw(hnp.arrays(np.int64, shape, elements=elements))


def data_shapes() -> st.SearchStrategy[tuple[int, ...]]:
    """(n, ...) with n in 1..4 and zero to three feature axes."""
    return st.tuples(st.integers(1, 4), hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)).map(
        lambda nf: (nf[0], *nf[1])
    )


def data(shape: tuple[int, ...], bound: float = 3.0) -> st.SearchStrategy[np.ndarray]:
    elements = st.one_of(st.floats(-bound, bound, width=64), st.sampled_from([0.0, 1.0, -1.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def _setting(draw: st.DrawFn, low: int = 0):
    betas = draw(betas_arrays(min_T=low + 1))
    shape = draw(data_shapes())
    t = draw(positions(len(betas), shape[0], low))
    return betas, shape, t


def _clip_ranges() -> st.SearchStrategy:
    return st.one_of(st.none(), st.sampled_from([(-1.0, 1.0), (-0.5, 2.0)]))


def _scales() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-2.0, 20.0), st.sampled_from([0.0, 1.0, 3.0, 7.5]))


def _etas() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))


def _any_dtype(builder):
    """A case builder whose draws do not depend on the tested dtype."""
    return lambda dtype: builder()
