"""Hypothesis strategies for the input domains of the formulas (public: use them to test your own code).

Every strategy draws NumPy float64 arrays (the reference's type); :func:`crosscheck.assert_agree`
converts them for the accelerated side. Edge cases are drawn on purpose: exact zeros and one-hot
rows in probability vectors, near-singular covariances (up to the condition-number bound), logits at
+-50, discriminator outputs at exactly 0 and 1 where the formula allows them.

Example
-------
>>> from hypothesis import given
>>> from crosscheck import strategies as cs
>>> @given(cs.probability_vectors(n=5))
... def test_my_entropy(p): ...
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

__all__ = [
    "batch_shapes",
    "beta_schedules",
    "bounded_floats",
    "discriminator_probabilities",
    "image_batches",
    "logits",
    "point_clouds",
    "probability_pairs",
    "probability_vectors",
    "schedule_twins",
    "spd_matrices",
    "time_steps",
    "uniforms",
]


def batch_shapes(max_dims: int = 2, max_side: int = 3) -> st.SearchStrategy[tuple[int, ...]]:
    """Leading batch shapes, including the empty shape (no batch)."""
    return hnp.array_shapes(min_dims=0, max_dims=max_dims, min_side=1, max_side=max_side)


def bounded_floats(
    shape: tuple[int, ...] | st.SearchStrategy, low: float = -10.0, high: float = 10.0
) -> st.SearchStrategy[np.ndarray]:
    """Float64 arrays with finite entries in [low, high] (both ends included)."""
    return hnp.arrays(np.float64, shape, elements=st.floats(low, high, allow_nan=False, width=64))


def uniforms(shape: tuple[int, ...] | st.SearchStrategy, *, open_interval: bool = True) -> st.SearchStrategy:
    """Uniform variates in (0, 1) (or [0, 1] with ``open_interval=False``), as ``noise=`` for samplers."""
    elements = st.floats(0.0, 1.0, exclude_min=open_interval, exclude_max=open_interval, width=64)
    return hnp.arrays(np.float64, shape, elements=elements)


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - np.max(z, axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@st.composite
def probability_vectors(
    draw: st.DrawFn,
    n: int | None = None,
    batch_shape: tuple[int, ...] | None = None,
    *,
    max_n: int = 8,
    allow_zeros: bool = True,
    spread: float = 20.0,
) -> np.ndarray:
    """Rows on the probability simplex, shape ``batch_shape + (n,)``, built as the softmax of logits.

    With ``allow_zeros`` some entries are exact zeros (logit -inf) and some rows are one-hot.
    ``spread`` bounds the logits, so the smallest non-zero probability is about ``exp(-2 spread) / n``.
    """
    n = draw(st.integers(1, max_n)) if n is None else n
    batch_shape = draw(batch_shapes()) if batch_shape is None else tuple(batch_shape)
    shape = (*batch_shape, n)
    elements = st.floats(-spread, spread, allow_nan=False, width=64)
    if allow_zeros:
        elements = st.one_of(elements, st.just(-np.inf))
    z = draw(hnp.arrays(np.float64, shape, elements=elements))
    dead = np.all(np.isneginf(z), axis=-1)
    z[dead, 0] = 0.0  # a row needs one finite logit
    if allow_zeros and draw(st.booleans()):
        hot = draw(st.integers(0, n - 1))
        z[..., :] = -np.inf
        z[..., hot] = 0.0
    return _softmax_rows(z)


@st.composite
def probability_pairs(
    draw: st.DrawFn,
    n: int | None = None,
    *,
    max_n: int = 8,
    allow_zeros: bool = True,
    spread: float = 20.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Two arrays of probability rows of one shape (p, q), sometimes equal, sometimes with disjoint zeros."""
    n = draw(st.integers(1, max_n)) if n is None else n
    batch = draw(batch_shapes())
    p = draw(probability_vectors(n, batch, allow_zeros=allow_zeros, spread=spread))
    kind = draw(st.sampled_from(["independent", "equal", "perturbed"]))
    if kind == "equal":
        return p, p.copy()
    if kind == "perturbed":
        noise = draw(bounded_floats(p.shape, -1e-3, 1e-3))
        z = np.log(np.where(p > 0, p, 1.0)) + noise
        q = _softmax_rows(np.where(p > 0, z, -np.inf))
        return p, q
    q = draw(probability_vectors(n, batch, allow_zeros=allow_zeros, spread=spread))
    return p, q


@st.composite
def spd_matrices(
    draw: st.DrawFn,
    d: int | None = None,
    batch_shape: tuple[int, ...] = (),
    *,
    max_d: int = 5,
    max_condition: float = 1e4,
    scale: tuple[float, float] = (1e-2, 1e2),
) -> np.ndarray:
    """Symmetric positive definite matrices Q diag(lambda) Q^T with condition number <= ``max_condition``.

    Q is the orthogonal factor of a Gaussian matrix (Haar-distributed up to signs); the eigenvalues are
    log-uniform in [s, s * max_condition] for a drawn overall scale s; the result is symmetrised exactly.
    """
    d = draw(st.integers(1, max_d)) if d is None else d
    shape = (*tuple(batch_shape), d, d)
    g = draw(bounded_floats(shape, -3.0, 3.0))
    g = g + 3.0 * np.eye(d)  # keeps QR away from rank deficiency without changing the Haar-ish spread much
    q, _ = np.linalg.qr(g)
    s = draw(st.floats(np.log(scale[0]), np.log(scale[1])))
    log_cond = draw(st.floats(0.0, np.log(max_condition)))
    u = draw(hnp.arrays(np.float64, (*tuple(batch_shape), d), elements=st.floats(0.0, 1.0)))
    lam = np.exp(s + log_cond * u)
    a = (q * lam[..., None, :]) @ np.swapaxes(q, -1, -2)
    return 0.5 * (a + np.swapaxes(a, -1, -2))


def point_clouds(
    n: int | st.SearchStrategy[int] | None = None,
    d: int | st.SearchStrategy[int] | None = None,
    *,
    bound: float = 10.0,
) -> st.SearchStrategy[np.ndarray]:
    """Point sets of shape (n, d) with coordinates in [-bound, bound] (n in 1..12, d in 1..4 by default)."""
    n = st.integers(1, 12) if n is None else n
    d = st.integers(1, 4) if d is None else d
    n_s = n if isinstance(n, st.SearchStrategy) else st.just(n)
    d_s = d if isinstance(d, st.SearchStrategy) else st.just(d)
    return st.tuples(n_s, d_s).flatmap(lambda nd: bounded_floats(nd, -bound, bound))


def logits(shape: tuple[int, ...] | st.SearchStrategy, bound: float = 50.0) -> st.SearchStrategy[np.ndarray]:
    """Discriminator logits in [-bound, bound], the ends (saturation) included."""
    elements = st.one_of(st.floats(-bound, bound, allow_nan=False, width=64), st.sampled_from([-bound, bound, 0.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


def discriminator_probabilities(
    shape: tuple[int, ...] | st.SearchStrategy, *, include_ends: bool = False
) -> st.SearchStrategy[np.ndarray]:
    """Discriminator outputs D(x) in (0, 1), or in [0, 1] with ``include_ends``."""
    inner = st.floats(0.0, 1.0, exclude_min=not include_ends, exclude_max=not include_ends, width=64)
    elements = st.one_of(inner, st.sampled_from([1e-300, 0.5, 1.0 - 1e-16]))
    if include_ends:
        elements = st.one_of(elements, st.sampled_from([0.0, 1.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


# --------------------------------------------------------------------------- diffusion
# The diffusion pairs' own strategies (crosscheck.pairs.diffusion.strategies), imported on first use so that
# importing this module does not register the pairs.


def beta_schedules(max_T: int = 12, min_T: int = 1, *, standard: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Betas of a DDPM schedule, each in (0, 1): the pairs' own draws.

    Linear and cosine schedules with drawn parameters, random betas, extreme betas (1e-8, where
    1 - alpha_bar cancels without care, and 0.9999, where 1 / sqrt(alpha) is 100) and, with
    ``standard``, the T = 1000 linear and cosine schedules of Ho et al. and Nichol & Dhariwal.
    Otherwise T is in [min_T, max_T].

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(beta_schedules(max_T=5, standard=False))
    ... def test_betas_in_unit_interval(betas):
    ...     assert ((betas > 0) & (betas < 1)).all() and 1 <= len(betas) <= 5
    >>> test_betas_in_unit_interval()
    """
    from .pairs.diffusion.strategies import betas_arrays

    return betas_arrays(max_T=max_T, min_T=min_T, standard=standard)


def schedule_twins(max_T: int = 12, min_T: int = 1, *, standard: bool = True) -> st.SearchStrategy:
    """Schedules on both sides, ``Twin("diffusion.Schedule", betas=Exact(betas))``, for :func:`assert_agree`.

    The betas are those of :func:`beta_schedules`; both sides build their float64 tables from the same
    float64 betas whatever the tested dtype (``Exact``: never rounded to it).

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(schedule_twins(max_T=4, standard=False))
    ... def test_twin(twin):
    ...     assert twin.qualname == "diffusion.Schedule"
    >>> test_twin()
    """
    from .pairs.diffusion.strategies import schedules

    return beta_schedules(max_T, min_T, standard=standard).map(schedules)


def time_steps(T: int, n: int, low: int = 0) -> st.SearchStrategy[np.ndarray]:
    """int64 positions t in [low, T - 1] (t = slide step - 1), shape (n,) or () (one t shared by the batch).

    Both ends are drawn on purpose: position 0, where the posterior variance beta_tilde is 0, and T - 1.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(time_steps(T=10, n=3, low=1))
    ... def test_range(t):
    ...     assert t.dtype == np.int64 and t.shape in ((), (3,)) and ((1 <= t) & (t <= 9)).all()
    >>> test_range()
    """
    if not isinstance(T, int) or T < 1 or not isinstance(low, int) or not 0 <= low < T:
        raise ValueError(f"T, low: expected ints with 0 <= low < T, got T={T!r}, low={low!r}")
    from .pairs.diffusion.strategies import positions

    return positions(T, n, low)


@st.composite
def image_batches(
    draw: st.DrawFn,
    n: int | None = None,
    channels: int | None = None,
    *,
    max_n: int = 4,
    max_side: int = 8,
    bound: float = 1.0,
) -> np.ndarray:
    """Image-shaped float64 batches (n, C, H, W), pixels in [-bound, bound] with the ends and 0 drawn on purpose.

    ``n`` is in 1..max_n, ``channels`` in (1, 3, 4) and H, W in 1..max_side unless given. The default
    bound matches the [-1, 1] scaling of DDPM data.

    Examples
    --------
    >>> from hypothesis import given
    >>> @given(image_batches(channels=3))
    ... def test_shape(x):
    ...     assert x.ndim == 4 and x.shape[1] == 3 and np.abs(x).max() <= 1.0
    >>> test_shape()
    """
    n = draw(st.integers(1, max_n)) if n is None else n
    c = draw(st.sampled_from([1, 3, 4])) if channels is None else channels
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    elements = st.one_of(st.floats(-bound, bound, width=64), st.sampled_from([-bound, 0.0, bound]))
    return draw(hnp.arrays(np.float64, (n, c, h, w), elements=elements))
