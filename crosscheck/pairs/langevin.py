"""Agreement cases for :mod:`reference.langevin` and :mod:`accelerated.langevin`.

The samplers take callables (``score_fn(x)``, ``score_fn(x, sigma)``, ``log_prob_fn(x)``), which
:func:`crosscheck.agree.assert_agree` cannot convert. The cases pass them as :class:`Method` and
:class:`NoisyScore`, subclasses of :class:`~crosscheck.agree.Twin`: the Twin builds a
``distributions.Gaussian`` or ``distributions.GaussianMixture`` on each side from the same arrays
(rounded to the tested dtype), and the subclass hands the sampler that object's bound method
(``score``, ``log_prob``) or the noise-conditional score ``x, sigma -> p.convolve(sigma).score(x)``.
The libraries' own API stays plain callables. (The reproducing snippet that a failure prints shows
the underlying Twin, i.e. the distribution; wrap it as here to rerun.)

Targets: a Gaussian or a mixture of up to three Gaussians in d = 1..3 with covariance eigenvalues in
[0.3, 6]; step sizes are drawn relative to the smallest eigenvalue lambda_min (eta <= lambda_min,
where the per-component update contracts), so chains stay in a bounded region and the float32 runs
do not amplify rounding more than a few steps' worth. Edge cases drawn on purpose: n_steps = 0,
empty and full ``record_steps``, one noise level, ``denoise`` on and off, uniforms near 0 and 1,
log-densities of -inf in the acceptance ratio.

MALA's accept test ``log u < r`` is discontinuous: a uniform within float32 rounding of the threshold
could flip a decision between the sides. The MALA cases therefore replay the chain with the
reference (on the inputs rounded to the tested dtype) and move any uniform that falls within a
margin of its threshold (1e-6 at float64, 0.02 at float32 in log u) to safely accept; the moved
uniform is just another valid draw.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import TORCH_DTYPES, Case, Exact, Twin
from crosscheck.registry import bad, register_pair
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


# --------------------------------------------------------------------------- cases


@st.composite
def _step_cases(draw: st.DrawFn) -> Case:
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    x = draw(cs.bounded_floats(shape, -10.0, 10.0))
    score = draw(cs.bounded_floats(shape, -100.0, 100.0))
    noise = draw(normals(shape))
    step_size = draw(st.one_of(st.floats(1e-6, 10.0), st.sampled_from([1e-2, 0.5, 1.0])))
    return Case((x, score), {"step_size": step_size, "noise": noise})


@st.composite
def _sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    K = draw(st.integers(0, 6))
    if draw(st.booleans()):  # one step size, or per-step sizes alpha_t (Advanced Course, Lecture 8)
        step_size = lam_min * draw(st.floats(0.01, 1.0))
    else:
        step_size = lam_min * np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=K, max_size=K)), dtype=np.float64)
    kwargs = {
        "step_size": step_size,
        "n_steps": K,
        "noise": draw(normals((K, *x0.shape))),
        "record_steps": draw(record_steps(K)),
    }
    return Case((Method(twin, "score", float64=dtype in LOW_PRECISION), x0), kwargs)


@st.composite
def _annealed_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    L = draw(st.integers(1, 4))
    sigma_1 = draw(st.floats(0.2, 5.0))
    ratio = draw(st.floats(1.2, 3.0))
    sigmas = sigma_1 / ratio ** np.arange(L)
    T = draw(st.integers(0, 3))
    # alpha_i = eta (sigma_i / sigma_L)^2 <= (lambda_min + sigma_i^2): each level's update contracts.
    limit = min((lam_min + s**2) * (sigmas[-1] / s) ** 2 for s in sigmas)
    kwargs = {
        "step_size": limit * draw(st.floats(0.01, 1.0)),
        "n_steps_each": T,
        "noise": draw(normals((L, T, *x0.shape))),
        "denoise": draw(st.booleans()),
        "record_steps": draw(record_steps(L * T)),
    }
    return Case((NoisyScore(twin, float64=dtype in LOW_PRECISION), x0, sigmas), kwargs)


def _safe_uniforms(
    twin: Twin, x0: np.ndarray, eta: float, noise: np.ndarray, uniforms: np.ndarray, dtype: str
) -> np.ndarray:
    """Replay the reference chain on the rounded inputs; move uniforms within the margin of their threshold."""
    from reference import langevin as R

    p = twin.build("reference", dtype, "cpu")
    margin = ACCEPT_MARGIN[dtype]
    x, noise, u = _rounded(x0, dtype), _rounded(noise, dtype), uniforms.copy()
    log_p, s = p.log_prob(x), p.score(x)
    for k in range(noise.shape[0]):
        x_prop = R.langevin_step(x, s, step_size=eta, noise=noise[k])
        log_p_prop, s_prop = p.log_prob(x_prop), p.score(x_prop)
        r = R.mala_log_acceptance_ratio(x, x_prop, log_p, log_p_prop, s, s_prop, step_size=eta)
        with np.errstate(divide="ignore", over="ignore", under="ignore"):
            log_u = np.log(_rounded(u[k], dtype))
            close = np.isfinite(r) & (np.abs(log_u - r) < margin)
            u[k] = np.where(close, np.exp(np.minimum(r - 2.0 * margin, 0.0)), u[k])
            accept = np.log(_rounded(u[k], dtype)) < r
        x = np.where(accept[:, None], x_prop, x)
        log_p = np.where(accept, log_p_prop, log_p)
        s = np.where(accept[:, None], s_prop, s)
    return u


@st.composite
def _mala_cases(draw: st.DrawFn, dtype: str) -> Case:
    twin, lam_min, x0 = draw(_chain_setup())
    K = draw(st.integers(0, 6))
    eta = lam_min * draw(st.floats(0.01, 2.0))
    noise = draw(normals((K, *x0.shape)))
    uniforms = _safe_uniforms(twin, x0, eta, noise, draw(open_uniforms((K, x0.shape[0]))), dtype)
    kwargs = {
        "step_size": eta,
        "n_steps": K,
        "noise": noise,
        "uniforms": uniforms,
        "record_steps": draw(record_steps(K)),
    }
    return Case((Method(twin, "log_prob"), Method(twin, "score"), x0), kwargs)


@st.composite
def _log_ratio_cases(draw: st.DrawFn) -> Case:
    d = draw(st.integers(1, 4))
    n = draw(st.integers(1, 6))
    eta = draw(st.one_of(st.floats(1e-4, 4.0), st.sampled_from([1e-2, 1.0])))
    x = draw(cs.bounded_floats((n, d), -5.0, 5.0))
    if draw(st.booleans()):  # a genuine Langevin proposal: the two q terms nearly cancel
        score_x = draw(cs.bounded_floats((n, d), -10.0, 10.0))
        x_prop = x + 0.5 * eta * score_x + math.sqrt(eta) * draw(normals((n, d)))
    else:
        score_x = draw(cs.bounded_floats((n, d), -10.0, 10.0))
        x_prop = draw(cs.bounded_floats((n, d), -5.0, 5.0))
    score_prop = draw(cs.bounded_floats((n, d), -10.0, 10.0))
    log_elements = st.one_of(st.floats(-50.0, 5.0, width=64), st.just(-np.inf))
    log_p = draw(hnp.arrays(np.float64, (n,), elements=log_elements))
    log_p_prop = draw(hnp.arrays(np.float64, (n,), elements=log_elements))
    return Case((x, x_prop, log_p, log_p_prop, score_x, score_prop), {"step_size": eta})


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

STEP_ERRORS = [
    bad(X, X, step_size=-1.0, noise=X, match="step_size: expected a finite positive number"),
    bad(X, X, step_size="0.1", noise=X, error=TypeError, match="step_size: expected a positive real number"),
    bad(X, np.zeros((3, 1)), step_size=0.1, noise=X, match=r"score: expected the shape of x"),
    bad(X, X, step_size=0.1, noise=np.zeros(3), match=r"noise: expected the shape of x"),
    bad(np.full((3, 2), np.nan), X, step_size=0.1, noise=X, match="x: expected finite values"),
    bad(X, np.full((3, 2), np.inf), step_size=0.1, noise=X, match="score: expected finite values"),
    bad(X, X, step_size=0.1, noise=np.full((3, 2), np.nan), match="noise: expected finite values"),
    bad(HUGE, HUGE, step_size=1e10, noise=X, match=f"x, score, noise, step_size: {OVERFLOWED}"),
]
SAMPLE_ERRORS = [
    bad(_score, X, step_size=0.1, n_steps=2, noise=np.zeros((2, 3)), match=r"noise: expected shape \(2, 3, 2\)"),
    bad(_score, X, step_size=0.0, n_steps=2, noise=NOISE, match="step_size: expected a finite positive number"),
    bad(_score, X, step_size=0.1, n_steps=-1, noise=NOISE, match="n_steps: expected an integer >= 0, got -1"),
    bad(_score, X, step_size=0.1, n_steps=2.0, noise=NOISE, error=TypeError, match="n_steps: expected an integer"),
    bad(_score, X, step_size=0.1, n_steps=True, noise=NOISE, error=TypeError, match="n_steps: expected an integer"),
    bad(_score, X, step_size=0.1, n_steps=2, match=r"noise / rng: pass exactly one of noise= .* got neither"),
    bad(_score, X, step_size=0.1, n_steps=2, rng=0, error=TypeError, match="rng: expected a"),
    bad("score", X, step_size=0.1, n_steps=2, noise=NOISE, error=TypeError, match="score_fn: expected a callable"),
    bad(lambda x: x[:, :1], X, step_size=0.1, n_steps=2, noise=NOISE, match=r"score_fn: expected .*shape"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(0, 3), match=r"record_steps: .* in \[0, 2\]"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(1, 1), match="record_steps: expected strictly"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, record_steps=(0.5,), error=TypeError, match="record_steps"),
    bad(_score, np.zeros((3, 0)), step_size=0.1, n_steps=0, noise=np.zeros((0, 3, 0)), match="x0: expected initial"),
    bad(_score, np.full((3, 2), np.nan), step_size=0.1, n_steps=2, noise=NOISE, match="x0: expected finite"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=np.full((2, 3, 2), np.inf), match="noise: expected finite"),
    bad(_score, X, step_size=0.1, n_steps=2, noise=NOISE, progress=1, error=TypeError, match="progress: expected"),
    bad(_steep_score, ONES, step_size=0.1, n_steps=2, noise=NOISE, match=DIVERGED),
    bad(
        _score, X, step_size=np.array([0.1, 0.0]), n_steps=2, noise=NOISE, match="step_size: expected finite step sizes"
    ),
    bad(_score, X, step_size=np.array([0.1, -1.0]), n_steps=2, noise=NOISE, match="step_size: expected finite step"),
    bad(_score, X, step_size=np.array([0.1, np.inf]), n_steps=2, noise=NOISE, match="step_size: expected finite step"),
    bad(_score, X, step_size=np.array([0.1]), n_steps=2, noise=NOISE, match=r"step_size: expected one step size per"),
    bad(_score, X, step_size=[0.1, 0.1, 0.1], n_steps=2, noise=NOISE, match=r"step_size: expected one step size per"),
    bad(_score, X, step_size=np.full((2, 1), 0.1), n_steps=2, noise=NOISE, match="step_size: expected a number or a"),
    bad(_score, X, step_size=[0.1, "0.1"], n_steps=2, noise=NOISE, error=TypeError, match=r"step_size\[1\]: expected"),
    bad(_nan_score, ONES, step_size=0.1, n_steps=2, noise=NOISE, match=DIVERGED),
]
ANNEALED = {"step_size": 0.1, "n_steps_each": 1, "noise": ANNEALED_NOISE}
ANNEALED_ERRORS = [
    *(bad(_noisy_score, X, np.array(s), **ANNEALED, match="sigmas: expected") for s in ([1.0, 2.0], [1.0, 1.0])),
    bad(_noisy_score, X, np.array([1.0, 0.0]), **ANNEALED, match="sigmas: expected"),
    bad(_noisy_score, X, np.array([np.nan, 1.0]), **ANNEALED, match="sigmas: expected"),
    bad(_noisy_score, X, np.zeros(0), **ANNEALED, match="sigmas: expected a vector of L >= 1"),
    bad(_noisy_score, X, [1.0, 2.0], **ANNEALED, match="sigmas: expected strictly decreasing"),
    bad(_noisy_score, X, [2.0, "1"], **ANNEALED, error=TypeError, match=r"sigmas\[1\]: expected a real number"),
    bad(_noisy_score, X, SIGMAS, **ANNEALED, denoise=1, error=TypeError, match="denoise: expected True or False"),
    bad(_noisy_steep_score, ONES, SIGMAS, **ANNEALED, match=DIVERGED),
    *(bad(_noisy_score, X, s, **ANNEALED, match=r"sigmas: the step sizes .* overflow") for s in ([1.0, 1e-300],)),
    bad(_noisy_score, X, np.array([1.0, 1e-300]), **ANNEALED, match=r"sigmas: the step sizes .* overflow"),
    bad(
        _noisy_score,
        X,
        SIGMAS,
        step_size=0.1,
        n_steps_each=1,
        noise=NOISE,
        match=r"noise: expected shape \(2, 1, 3, 2\)",
    ),
    bad(
        _noisy_score,
        X,
        SIGMAS,
        step_size=0.1,
        n_steps_each=1.0,
        noise=ANNEALED_NOISE,
        error=TypeError,
        match="n_steps_each",
    ),
]
RATIO_ERRORS = [
    bad(
        X, np.zeros((3, 1)), np.zeros(3), np.zeros(3), X, X, step_size=0.1, match="x_proposal: expected the shape of x"
    ),
    bad(X, X, np.array([0.0, np.nan, 0.0]), np.zeros(3), X, X, step_size=0.1, match="log_prob_x: expected no NaN"),
    bad(
        X, X, np.zeros(3), np.full(3, np.inf), X, X, step_size=0.1, match=r"log_prob_proposal: expected no NaN or \+inf"
    ),
    bad(
        HUGE,
        X,
        np.zeros(3),
        np.zeros(3),
        X,
        X,
        step_size=0.1,
        match=f"x, x_proposal, score_x, score_proposal: {OVERFLOWED}",
    ),
    bad(np.full((3, 2), np.nan), X, np.zeros(3), np.zeros(3), X, X, step_size=0.1, match="x: expected finite"),
    bad(X, X, np.zeros(3), np.zeros(3), X, np.full((3, 2), np.inf), step_size=0.1, match="score_proposal: expected"),
    bad(X, X, np.zeros(3), np.zeros(2), X, X, step_size=0.1, match=r"log_prob_proposal: expected shape \(3,\)"),
    bad(X, X, np.zeros(3), np.zeros(3), X, X, step_size=0.0, match="step_size: expected a finite positive number"),
    bad(
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        np.zeros(()),
        step_size=0.1,
        match="x: expected states",
    ),
]
MALA = {"step_size": 0.1, "n_steps": 2, "noise": NOISE}
MALA_ERRORS = [
    bad(_log_prob, _score, X, **MALA, match="uniforms: required with noise="),
    bad(
        _log_prob, _score, X, **MALA, uniforms=np.full((2, 3), 1.5), match=r"uniforms: expected values in \[0.0, 1.0\]"
    ),
    bad(_log_prob, _score, X, **MALA, uniforms=np.zeros((2, 3, 1)), match=r"uniforms: expected shape \(2, 3\)"),
    bad(lambda x: x, _score, X, **MALA, uniforms=U, match=r"log_prob_fn: expected .*shape"),
    bad(None, _score, X, **MALA, uniforms=U, error=TypeError, match="log_prob_fn: expected a callable"),
    bad(_log_prob, _score, X, step_size=0.1, n_steps=1.5, noise=NOISE, uniforms=U, error=TypeError, match="n_steps"),
    bad(_log_prob, _nan_score, ONES, **MALA, uniforms=U, match=DIVERGED),
    bad(
        _log_prob, _far_refusing_score, HUGE, **MALA, uniforms=U, match="x0: expected initial states at which score_fn"
    ),
    bad(_log_prob, _far_refusing_score, X, **{**MALA, "noise": np.full((2, 3, 2), 1e300)}, uniforms=U, match=DIVERGED),
]


register_pair(
    "langevin", "langevin_step", cases=lambda dtype: _step_cases(), dtypes=MIXED_PRECISION_DTYPES, errors=STEP_ERRORS
)
register_pair("langevin", "langevin_sample", cases=_sample_cases, dtypes=MIXED_PRECISION_DTYPES, errors=SAMPLE_ERRORS)
register_pair(
    "langevin", "annealed_langevin_sample", cases=_annealed_cases, dtypes=MIXED_PRECISION_DTYPES, errors=ANNEALED_ERRORS
)
register_pair("langevin", "mala_log_acceptance_ratio", cases=lambda dtype: _log_ratio_cases(), errors=RATIO_ERRORS)
register_pair("langevin", "mala_sample", cases=_mala_cases, errors=MALA_ERRORS)


# --------------------------------------------------------------------------- SDE basics (Euler-Maruyama)


class _Drift:
    """f(x, t) = -theta (1 + t) (x - mu) (Ornstein-Uhlenbeck, time-varying rate) or x - x^3 (the double well's
    score), on arrays and tensors alike (Python-float parameters keep x's dtype)."""

    def __init__(self, kind: str, theta: float = 1.0, mu: float = 0.0) -> None:
        self.kind, self.theta, self.mu = kind, theta, mu

    def __call__(self, x: Any, t: float) -> Any:
        if self.kind == "well":
            return x - x**3
        return -self.theta * (1.0 + t) * (x - self.mu)

    def __repr__(self) -> str:
        return f"_Drift({self.kind!r}, theta={self.theta!r}, mu={self.mu!r})"


class Diffusion(Twin):
    """g(t) = scale (1 + rate t): ``scale`` a Python float (a scalar g) or an (n,) array built on each side
    (one diffusion per sample)."""

    def __init__(self, scale: Any, rate: float) -> None:
        super().__init__("langevin.Diffusion", scale=scale)
        object.__setattr__(self, "rate", rate)

    def build(self, side: str, dtype: str, device: str) -> Any:
        from crosscheck.agree import _to_accelerated, _to_reference

        convert = _to_reference if side == "reference" else _to_accelerated
        scale, rate = convert(self.params["scale"], dtype, device), self.rate
        return lambda t: scale * (1.0 + rate * t)


@st.composite
def _sde_model(draw: st.DrawFn, n: int) -> tuple[_Drift, Diffusion, float]:
    """A drift, a diffusion (scalar or per sample) and the largest time step that keeps the states bounded."""
    if draw(st.booleans()):
        drift, dt_max = _Drift("well"), 0.1  # |x| <= 2: one step moves x by at most 0.6
    else:
        theta = draw(st.floats(0.1, 3.0))
        drift, dt_max = _Drift("ou", theta, draw(st.floats(-2.0, 2.0))), 0.5 / theta  # theta (1 + t) dt <= 1
    scale = draw(cs.bounded_floats((n,), 0.1, 2.0)) if draw(st.booleans()) else draw(st.floats(0.0, 2.0))
    return drift, Diffusion(scale, draw(st.floats(0.0, 1.0))), dt_max


@st.composite
def _em_step_cases(draw: st.DrawFn) -> Case:
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    drift, diffusion, dt_max = draw(_sde_model(n))
    x = draw(cs.bounded_floats((n, d), -2.0, 2.0))
    kwargs = {"dt": dt_max * draw(st.floats(0.01, 1.0)), "noise": draw(normals((n, d)))}
    return Case((drift, diffusion, x, draw(st.floats(0.0, 1.0))), kwargs)


@st.composite
def _em_solve_cases(draw: st.DrawFn) -> Case:
    n, d = draw(st.integers(1, 5)), draw(st.integers(1, 3))
    drift, diffusion, dt_max = draw(_sde_model(n))
    K = draw(st.integers(0, 6))
    steps = dt_max * np.array(draw(st.lists(st.floats(0.05, 1.0), min_size=K, max_size=K)))
    times = draw(st.floats(0.0, 0.5)) + np.concatenate([[0.0], np.cumsum(steps)])
    grid = Exact(times) if draw(st.booleans()) else tuple(float(t) for t in times)
    kwargs = {"noise": draw(normals((K, n, d))), "record_steps": draw(record_steps(K))}
    return Case((drift, diffusion, draw(cs.bounded_floats((n, d), -2.0, 2.0)), grid), kwargs)


def _ou(x: Any, t: float) -> Any:
    return -x


def _unit(t: float) -> float:
    return 1.0


def _steep_drift(x: Any, t: float) -> Any:
    return -3e200 * x


def _refusing_drift(x: Any, t: float) -> Any:
    raise ValueError("x: expected points at which the drift is defined")


TIMES = np.array([0.0, 0.5, 1.0])
EM = {"dt": 0.1, "noise": X}
EM_STEP_ERRORS = [
    bad(_ou, _unit, X, 0.0, dt=0.0, noise=X, match="dt: expected a finite positive number"),
    bad(_ou, _unit, X, math.nan, dt=0.1, noise=X, match="t: expected a finite number"),
    bad(_ou, _unit, X, "0", dt=0.1, noise=X, error=TypeError, match="t: expected a real number"),
    bad(_ou, _unit, X, 0.0, dt=0.1, noise=np.zeros(3), match=r"noise: expected the shape of x"),
    bad("f", _unit, X, 0.0, **EM, error=TypeError, match="drift_fn: expected a callable"),
    bad(_ou, 1.0, X, 0.0, **EM, error=TypeError, match="diffusion_fn: expected a callable"),
    bad(lambda x, t: x[:, :1], _unit, X, 0.0, **EM, match=r"drift_fn: expected .*shape"),
    bad(_ou, Diffusion(np.ones(2), 0.0), X, 0.0, **EM, match=r"diffusion_fn: expected a scalar or one value per"),
    bad(_ou, _unit, np.zeros((0, 2)), 0.0, dt=0.1, noise=np.zeros((0, 2)), match=r"x: expected states of shape"),
    bad(_ou, _unit, np.full((3, 2), np.nan), 0.0, **EM, match="x: expected finite values"),
    bad(_ou, lambda t: math.inf, ONES, 0.0, dt=0.1, noise=ONES, match=r"diffusion_fn\(t\): expected finite values"),
    bad(_ou, _unit, X, 0.0, dt=0.1, noise=np.full((3, 2), np.inf), match="noise: expected finite values"),
    bad(
        _ou,
        _unit,
        HUGE,
        0.0,
        dt=1e10,
        noise=X,
        match=f"x, drift_fn\\(x, t\\), diffusion_fn\\(t\\), noise, dt: {OVERFLOWED}",
    ),
]
EM_SOLVE_ERRORS = [
    bad(_ou, _unit, X, TIMES, noise=np.zeros((2, 3)), match=r"noise: expected shape \(2, 3, 2\)"),
    bad(_ou, _unit, X, TIMES, match=r"noise / rng: pass exactly one of noise= .* got neither"),
    bad(_ou, _unit, X, TIMES, rng=0, error=TypeError, match="rng: expected a"),
    bad(_ou, _unit, X, [0.0, 0.0, 1.0], noise=NOISE, match="times: expected strictly increasing"),
    bad(_ou, _unit, X, np.array([0.0, np.nan, 1.0]), noise=NOISE, match="times: expected finite times"),
    bad(_ou, _unit, X, np.zeros((3, 1)), noise=NOISE, match="times: expected a 1-D time grid"),
    bad(_ou, _unit, X, [], noise=np.zeros((0, 3, 2)), match="times: expected at least 1"),
    bad(_ou, _unit, X, "01", noise=NOISE, error=TypeError, match="times: expected a list or tuple"),
    bad(_ou, _unit, X, [-1e308, 1e308], noise=np.zeros((1, 3, 2)), match="times: expected time steps"),
    bad(None, _unit, X, TIMES, noise=NOISE, error=TypeError, match="drift_fn: expected a callable"),
    bad(lambda x, t: x[:, :1], _unit, X, TIMES, noise=NOISE, match=r"drift_fn: expected .*shape"),
    bad(_ou, Diffusion(np.ones(2), 0.0), X, TIMES, noise=NOISE, match=r"diffusion_fn: expected a scalar or one"),
    bad(_ou, _unit, X, TIMES, noise=NOISE, record_steps=(0, 3), match=r"record_steps: .* in \[0, 2\]"),
    bad(_ou, _unit, np.full((3, 2), np.nan), TIMES, noise=NOISE, match="x0: expected finite"),
    bad(_ou, _unit, X, TIMES, noise=np.full((2, 3, 2), np.inf), match="noise: expected finite"),
    bad(_ou, _unit, X, TIMES, noise=NOISE, progress=1, error=TypeError, match="progress: expected"),
    bad(_steep_drift, _unit, ONES, TIMES, noise=NOISE, match="times / noise / drift_fn / diffusion_fn: the solution"),
    bad(_ou, lambda t: math.nan, ONES, TIMES, noise=NOISE, match="times / noise / drift_fn / diffusion_fn: the"),
    bad(_refusing_drift, _unit, X, TIMES, noise=NOISE, match="x0: expected initial states at which drift_fn"),
]

register_pair("langevin", "euler_maruyama_step", cases=lambda dtype: _em_step_cases(), errors=EM_STEP_ERRORS)
register_pair("langevin", "euler_maruyama_solve", cases=lambda dtype: _em_solve_cases(), errors=EM_SOLVE_ERRORS)
