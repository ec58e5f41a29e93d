"""Agreement cases and bad inputs of the DDIM pairs (Song, Meng, Ermon 2021; beyond the slides).

Below float64 only steps and chains whose rounding-error bound fits in the tolerance are kept
(:mod:`.conditioning`).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case, Exact, Twin, _round
from crosscheck.registry import bad, register_pair
from crosscheck.tolerances import EPS, LOW_PRECISION
from reference import diffusion as ref

from .conditioning import _conditioned, _ddim_chain_conditioned, _ddim_result_and_scale
from .strategies import _any_dtype, _clip_ranges, _etas, _setting, betas_arrays, data, schedules


@st.composite
def _respaced_cases(draw: st.DrawFn) -> Case:
    T = draw(st.one_of(st.integers(1, 60), st.sampled_from([1, 2, 1000, 4000])))
    n_steps = draw(st.one_of(st.integers(1, T), st.sampled_from(sorted({1, min(2, T), min(50, T), T}))))
    if draw(st.booleans()):
        T, n_steps = np.int64(T), np.int64(n_steps)  # NumPy ints are accepted on both sides
    return Case((T, n_steps))


@st.composite
def _previous(draw: st.DrawFn, t: np.ndarray) -> np.ndarray:
    """t_prev in -1..t-1 elementwise (shape () only below every t), both ends drawn on purpose."""
    shape = t.shape if t.ndim and draw(st.integers(0, 4)) else ()
    top = np.broadcast_to(t, shape) if shape else np.min(t)
    u = draw(hnp.arrays(np.float64, shape, elements=st.one_of(st.floats(0.0, 1.0), st.sampled_from([0.0, 1.0]))))
    return np.asarray(np.minimum(np.floor(u * (top + 1)).astype(np.int64), top) - 1, dtype=np.int64)


@st.composite
def _ddim_step_cases(draw: st.DrawFn, dtype: str) -> Case:
    betas, shape, t = draw(_setting())
    t_prev = draw(_previous(t))
    x_t, eps, z = draw(data(shape)), draw(data(shape, 4.0)), draw(data(shape, 4.0))
    eta = draw(_etas())
    kwargs = {"eta": eta}
    if eta > 0.0 or draw(st.booleans()):  # eta = 0 needs no noise: both with and without
        kwargs["noise"] = z
    clip = draw(_clip_ranges())
    if clip is not None:
        kwargs["clip_x0"] = clip
    x_r, eps_r, z_r = (_round(a, dtype) for a in (x_t, eps, z))
    z_used = z_r if eta > 0 else None
    S = ref.Schedule(betas)
    result, scale, divisor = _ddim_result_and_scale(x_r, eps_r, z_used, t, t_prev, S, eta, clip, EPS[dtype] / 2.0)
    assume(_conditioned(dtype, result, scale, divisor))
    return Case((x_t, eps, t, t_prev, schedules(betas)), kwargs)


@st.composite
def _ddim_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    """Short chains (T <= 20, any S <= T) with the exact eps of Gaussian data, eta and clipping drawn.

    Below float64 only chains whose rounding-error bound fits in the tolerance are kept (see
    :func:`_ddim_chain_conditioned`).
    """
    betas = draw(betas_arrays(max_T=20, standard=False))
    schedule = schedules(betas)
    T = len(betas)
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    cov = draw(cs.spd_matrices(d, max_condition=1e2, scale=(0.05, 5.0)))
    mean = draw(cs.bounded_floats((d,), -2.0, 2.0))
    model = Twin("diffusion.GaussianEps", mean=Exact(mean), cov=Exact(cov), schedule=schedule)
    n_steps = draw(st.one_of(st.none(), st.integers(1, T)))
    S = T if n_steps is None else n_steps
    eta = draw(_etas())
    rows = 1 if eta == 0.0 and draw(st.booleans()) else S  # eta = 0: x_T alone is accepted
    kwargs = {"noise": draw(data((rows, n, d), 4.0)), "eta": eta}
    if n_steps is not None:
        kwargs["n_steps"] = n_steps
    clip = draw(_clip_ranges())
    if clip is not None:
        kwargs["clip_x0"] = clip
    assume(_ddim_chain_conditioned(dtype, betas, mean, cov, kwargs["noise"], S, eta, clip))
    return Case((model, (n, d), schedule), kwargs)


# --------------------------------------------------------------------------- bad inputs

S3 = Twin("diffusion.Schedule", betas=Exact(np.array([0.1, 0.2, 0.5])))
X = np.zeros((2, 3))
N3 = np.zeros((3, 2, 3))  # (T, n, d) noise for the 3-step schedule
T2 = np.array([2, 1])
TP = np.array([0, -1])
NAN_X = np.array([[np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]])
T_PREV = r"t_prev: expected positions with -1 <= t_prev < t"


def _f(x, t):
    return x


RESPACED_ERRORS = [
    bad(5, 0, match=r"n_steps: expected an integer >= 1, got 0"),
    bad(5, 6, match=r"n_steps: expected at most T = 5 steps"),
    bad(5, True, error=TypeError, match=r"n_steps: expected an integer >= 1, got bool"),
    bad(True, 1, error=TypeError, match=r"T: expected an integer >= 1, got bool"),
    bad(5.0, 2, error=TypeError, match=r"T: expected an integer >= 1, got float"),
    bad(5, 2.0, error=TypeError, match=r"n_steps: expected an integer >= 1, got float"),
    bad(0, 1, match=r"T: expected an integer >= 1, got 0"),
]
STEP_ERRORS = [
    bad(X, X, T2, TP, S3, eta=-0.1, match=r"eta: expected a number in \[0, 1\]"),
    bad(X, X, T2, TP, S3, eta=1.5, match=r"eta: expected a number in \[0, 1\]"),
    bad(X, X, T2, TP, S3, eta=float("nan"), match=r"eta: expected a finite number"),
    bad(X, X, T2, TP, S3, eta="0", error=TypeError, match=r"eta: expected a real number"),
    bad(X, X, T2, TP, S3, eta=True, error=TypeError, match=r"eta: expected a real number"),
    bad(X, X, T2, np.array([2, 0]), S3, match=T_PREV),
    bad(X, X, T2, np.array([-2, 0]), S3, match=T_PREV),
    bad(X, X, T2, np.array([0.0, 0.0]), S3, error=TypeError, match=r"t_prev: expected an integer"),
    bad(X, X, T2, np.zeros((2, 1), np.int64), S3, match=r"t_prev: expected integer positions of shape"),
    bad(X, X, T2, np.array([0, 0, 0]), S3, match=r"t_prev, x_t: expected one position per batch"),
    bad(X, X, np.array([3, 1]), TP, S3, match=r"t: expected integer positions in 0\.\.2"),
    bad(NAN_X, X, T2, TP, S3, match=r"x_t: expected finite values, got 1 NaN or infinite"),
    bad(X, NAN_X, T2, TP, S3, match=r"eps_pred: expected finite values, got 1 NaN or infinite"),
    bad(X, X, T2, TP, S3, NAN_X, eta=0.5, match=r"noise: expected finite values, got 1 NaN"),
    bad(X, X[:, :2], T2, TP, S3, match=r"x_t, eps_pred: expected"),
    bad(X, X, T2, TP, S3, eta=0.5, match=r"noise / rng: pass exactly one of noise=.*got neither"),
    bad(X, X, T2, TP, S3, np.zeros((2, 2)), match=r"noise: expected shape \(2, 3\)"),
    bad(X, X, T2, TP, S3, clip_x0=(1.0, -1.0), match=r"clip_x0: expected low < high"),
]
SAMPLE_ERRORS = [
    bad(_f, (2, 3), S3, noise=N3, n_steps=0, match=r"n_steps: expected an integer >= 1"),
    bad(_f, (2, 3), S3, noise=N3, n_steps=4, match=r"n_steps: expected at most T = 3"),
    bad(_f, (2, 3), S3, noise=N3, n_steps=2.0, error=TypeError, match=r"n_steps: expected an integer >= 1"),
    bad(_f, (2, 3), S3, noise=N3, n_steps=2, match=r"noise: expected shape \(2, 2, 3\) or \(1, 2, 3\)"),
    bad(_f, (2, 3), S3, noise=np.zeros((1, 2, 3)), eta=0.5, match=r"noise: expected shape \(3, 2, 3\), got"),
    bad(_f, (2, 3), S3, noise=N3, eta=2.0, match=r"eta: expected a number in \[0, 1\]"),
    bad(_f, (2, 3), S3, match=r"noise / rng: pass exactly one"),
    bad(None, (2, 3), S3, noise=N3, error=TypeError, match=r"eps_fn: expected a callable"),
    bad(_f, (2, 0), S3, noise=N3, match=r"shape: expected \(n, \.\.\.\)"),
    bad(_f, (2, 3), S3, noise=N3, progress=1, error=TypeError, match=r"progress: expected True or False"),
    bad(lambda x, t: x[:1], (2, 3), S3, noise=N3, match=r"eps_fn\(x_t, t\): expected"),
    bad(_f, (2, 3), S3, noise=np.full((3, 2, 3), np.inf), match=r"noise: expected finite"),
    bad(lambda x, t: x * np.nan, (2, 3), S3, noise=N3, match=r"eps_fn: the chain diverged"),
]

register_pair("diffusion", "respaced_timesteps", cases=_any_dtype(_respaced_cases), errors=RESPACED_ERRORS)
_ALL = ("float64", "float32", *LOW_PRECISION)
register_pair("diffusion", "ddim_step", cases=_ddim_step_cases, dtypes=_ALL, errors=STEP_ERRORS)
register_pair("diffusion", "ddim_sample", cases=_ddim_sample_cases, dtypes=_ALL, errors=SAMPLE_ERRORS)
