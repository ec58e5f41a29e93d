"""Strategies and shared helpers of the Langevin pairs: the callable twins, targets, noise, record steps.

The samplers take callables (``score_fn(x)``, ``score_fn(x, sigma)``, ``log_prob_fn(x)``), which
:func:`crosscheck.agree.assert_agree` cannot convert: :class:`Method` and :class:`NoisyScore` build them on
each side (see :mod:`crosscheck.pairs.langevin`). Also the plain score / log-density callables and the
arrays that the bad inputs of :mod:`.ula`, :mod:`.mala` and :mod:`.sde` share.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import TORCH_DTYPES, Exact, Twin
from crosscheck.tolerances import LOW_PRECISION

# The per-step update and the samplers also run the mixed-precision pass (states rounded to bfloat16 / float16).
MIXED_PRECISION_DTYPES = ("float64", "float32", *LOW_PRECISION)

# Margins (in log u) around MALA's accept threshold, per tested dtype; see the module docstring.
ACCEPT_MARGIN = {"float64": 1e-6, "float32": 0.02}


def _in_float64(fn: Any) -> Any:
    """fn evaluated at float64 states (a float64 model beside a half-precision chain: the sampler casts
    the float64 scores it returns to the chain's dtype)."""

    def wrapped(x: Any, *args: Any) -> Any:
        return fn(x.to(torch.float64) if isinstance(x, torch.Tensor) else np.asarray(x, np.float64), *args)

    return wrapped


def _float64_twin(twin: Twin) -> Twin:
    """The same twin with every floating parameter passed as ``Exact`` (float64 on both sides)."""
    params = {k: Exact(v) if isinstance(v, np.ndarray) and v.dtype.kind == "f" else v for k, v in twin.params.items()}
    return Twin(twin.qualname, **params)


class Method(Twin):
    """The bound method ``method`` of an object built on each side by ``twin`` (e.g. its ``score``).

    With ``float64=True`` the object is built from float64 parameters and evaluated at float64 states
    (the mixed-precision pass: only the chain runs in the tested dtype)."""

    def __init__(self, twin: Twin, method: str, float64: bool = False) -> None:
        super().__init__(twin.qualname, **(_float64_twin(twin) if float64 else twin).params)
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "float64", float64)

    def build(self, side: str, dtype: str, device: str) -> Any:
        fn = getattr(super().build(side, dtype, device), self.method)
        return _in_float64(fn) if self.float64 else fn


class _ConvolvedScore:
    """s(x, sigma) = grad log (p * N(0, sigma^2 I))(x), one convolved law per sigma, built once."""

    def __init__(self, p: Any) -> None:
        self.p = p
        self.levels: dict[float, Any] = {}

    def __call__(self, x: Any, sigma: Any) -> Any:
        level = float(sigma[0])  # the samplers pass one level per chain, shape (n,), all equal
        if level not in self.levels:
            self.levels[level] = self.p.convolve(level)
        return self.levels[level].score(x)


class NoisyScore(Twin):
    """The noise-conditional score of the distribution built on each side: ``x, sigma -> p_sigma.score(x)``
    (with ``float64=True``, from float64 parameters at float64 states, as :class:`Method`)."""

    def __init__(self, twin: Twin, float64: bool = False) -> None:
        super().__init__(twin.qualname, **(_float64_twin(twin) if float64 else twin).params)
        object.__setattr__(self, "float64", float64)

    def build(self, side: str, dtype: str, device: str) -> Any:
        fn = _ConvolvedScore(super().build(side, dtype, device))
        return _in_float64(fn) if self.float64 else fn


def _rounded(a: np.ndarray, dtype: str) -> np.ndarray:
    """``a`` rounded to ``dtype`` and back to float64: what assert_agree hands the reference."""
    return torch.from_numpy(np.array(a, dtype=np.float64)).to(TORCH_DTYPES[dtype]).to(torch.float64).numpy()


# --------------------------------------------------------------------------- strategies


@st.composite
def targets(draw: st.DrawFn, d: int) -> tuple[Twin, float]:
    """A Gaussian or a 1-3 component mixture in dimension d, and its smallest covariance eigenvalue."""
    spd = cs.spd_matrices
    if draw(st.booleans()):
        mean = draw(cs.bounded_floats((d,), -2.0, 2.0))
        cov = draw(spd(d, scale=(0.3, 2.0), max_condition=3.0))
        return Twin("distributions.Gaussian", mean=mean, cov=cov), float(np.linalg.eigvalsh(cov).min())
    K = draw(st.integers(1, 3))
    weights = draw(cs.probability_vectors(K, (), allow_zeros=False, spread=1.5))
    means = draw(cs.bounded_floats((K, d), -2.0, 2.0))
    covs = draw(spd(d, (K,), scale=(0.3, 2.0), max_condition=3.0))
    twin = Twin("distributions.GaussianMixture", weights=weights, means=means, covs=covs)
    return twin, float(np.linalg.eigvalsh(covs).min())


def normals(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Stand-ins for standard normals: values in [-4, 4] with 0 and +-4 drawn on purpose."""
    elements = st.one_of(st.floats(-4.0, 4.0, width=64), st.sampled_from([0.0, -4.0, 4.0, 1.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


def open_uniforms(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Uniforms in (0, 1] with values near 0 and exactly 1 drawn on purpose."""
    elements = st.one_of(st.floats(0.0, 1.0, exclude_min=True, width=64), st.sampled_from([1e-30, 1e-3, 0.5, 1.0]))
    return hnp.arrays(np.float64, shape, elements=elements)


@st.composite
def record_steps(draw: st.DrawFn, n_total: int) -> tuple[int, ...]:
    """A strictly increasing subset of 0..n_total (empty and full included)."""
    kind = draw(st.sampled_from(["none", "all", "some"]))
    if kind == "none":
        return ()
    if kind == "all":
        return tuple(range(n_total + 1))
    return tuple(sorted(draw(st.sets(st.integers(0, n_total), max_size=n_total + 1))))


@st.composite
def _chain_setup(draw: st.DrawFn) -> tuple[Twin, float, np.ndarray]:
    d = draw(st.integers(1, 3))
    n = draw(st.integers(1, 6))
    twin, lam_min = draw(targets(d))
    x0 = draw(cs.bounded_floats((n, d), -4.0, 4.0))
    return twin, lam_min, x0


# --------------------------------------------------------------------------- bad inputs


def _score(x: Any) -> Any:
    """The score of N(0, 2 I), on arrays and tensors alike."""
    return -x / 2.0


def _noisy_score(x: Any, sigma: Any) -> Any:
    """The score of N(0, I) convolved with N(0, sigma^2 I); sigma one level per chain, shape (n,)."""
    return -x / (1.0 + sigma[:, None] ** 2)


def _log_prob(x: Any) -> Any:
    return -(x**2).sum(-1) / 4.0


def _steep_score(x: Any) -> Any:
    """A score whose chains overflow at step size 0.1 (each step multiplies x by about -1.5e199)."""
    return -3e200 * x


def _noisy_steep_score(x: Any, sigma: Any) -> Any:
    return -3e200 * x


def _nan_score(x: Any) -> Any:
    return x * math.nan


def _far_refusing_score(x: Any) -> Any:
    """The score of N(0, 2 I) that refuses far points naming its own x, as a mixture's score does at 1e300."""
    if (abs(x) > 1e200).any():
        raise ValueError("x: expected points at which the score is finite")
    return -x / 2.0


X = np.zeros((3, 2))
ONES = np.ones((3, 2))
DIVERGED = r"step_size / noise / score_fn.*: the chain diverged \(non-finite states or scores"
HUGE = np.full((3, 2), 1e300)
OVERFLOWED = "the result overflowed float64 from finite inputs"
NOISE = np.zeros((2, 3, 2))
U = np.zeros((2, 3))
SIGMAS = np.array([2.0, 1.0])
ANNEALED_NOISE = np.zeros((2, 1, 3, 2))
