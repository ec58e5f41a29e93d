"""Agreement cases for :mod:`reference.score_matching` and :mod:`accelerated.score_matching`.

Models are ``Twin("models.MLPScore", ...)`` (drawn by :func:`crosscheck.pairs.models.mlp_twins`) and
``Twin("models.LinearScore", ...)``: the reference differentiates them analytically, the accelerated
side by ``torch.func`` (or, for the exact trace, by the factored MLP trace), so every pair that needs a
Jacobian also checks autograd against the analytic formula. Edge cases drawn on purpose: d = 1, a
single sample, identical score arrays (Fisher divergence 0), KDE evaluation points far from the data
(softmax weights that all underflow without the max shift) and data with repeated points, Rademacher
probes, one and several projections per sample, ``chunk_size`` from 1 to d, both exact-trace methods
(factored and vmap), small and large sigma (eps / sigma up to 400), every NCSN level, L = 2 and
noise-conditional and unconditional calls.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from .. import strategies as cs
from ..agree import Case, Twin, _round
from ..registry import bad, register_pair
from ..tolerances import EPS, LOW_PRECISION, tolerance_for
from .energy import energy_twins
from .models import linear_twins, mlp_twins

# The training objectives also run the mixed-precision pass (inputs rounded to bfloat16 and float16).
MIXED_PRECISION_DTYPES = ("float64", "float32", *LOW_PRECISION)

# The model of the error inputs: an unconditional MLP on d = 3 features.
MLP = Twin("models.MLPScore", W1=np.full((3, 2), 0.1), b1=np.zeros(2), W2=np.full((2, 3), 0.1), b2=np.zeros(3))
COND_MLP = Twin("models.MLPScore", W1=np.full((4, 2), 0.1), b1=np.zeros(2), W2=np.full((2, 3), 0.1), b2=np.zeros(3))
LINEAR = Twin("models.LinearScore", W=np.eye(3), b=np.zeros(3))  # its Jacobian does not depend on x
X = np.zeros((2, 3))
HUGE = np.full((2, 3), 1e300)  # finite, but its square overflows float64
SIGMAS = np.array([1.0, 0.5, 0.1])
NAN = float("nan")


def _dims(twin: Twin) -> tuple[int, int]:
    """(d, k): data and conditioning dimensions of a model twin (of the inner model of a Flattened one)."""
    if "inner" in twin.params:
        return _dims(twin.params["inner"])
    if "W2" in twin.params:
        d = twin.params["W2"].shape[1]
        return d, twin.params["W1"].shape[0] - d
    return twin.params["b"].shape[0], 0


@st.composite
def _shaped(draw: st.DrawFn, model: Twin) -> tuple[Twin, tuple[int, ...]]:
    """The model and the feature shape of its samples: (d,), or, a third of the time, an image-like shape
    with d features in all ((1, d), (d, 1, 1), (2, d / 2) ...), the model then wrapped in ``Flattened``
    so that the objectives see samples (n, ...) of rank 3 or 4 as a training loop on images does."""
    d, _ = _dims(model)
    if draw(st.integers(0, 2)) != 0:
        return model, (d,)
    shapes = [(1, d), (d, 1, 1), (1, 1, d)] + ([(2, d // 2), (1, 2, d // 2)] if d % 2 == 0 else [])
    return Twin("models.Flattened", inner=model), draw(st.sampled_from(shapes))


def _normals(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    """Standard-normal-like noise: values in [-4, 4], zeros included."""
    return hnp.arrays(np.float64, shape, elements=st.floats(-4.0, 4.0, width=64))


def _rademacher(shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    return hnp.arrays(np.float64, shape, elements=st.sampled_from([-1.0, 1.0]))


def _unconditional_models() -> st.SearchStrategy[Twin]:
    return st.one_of(mlp_twins(cond_dim=0), linear_twins())


def _noise_levels() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(0.01, 10.0), st.sampled_from([0.01, 0.1, 1.0, 5.0]))


# --------------------------------------------------------------------------- cases


@st.composite
def _fisher_cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 12))
    shape = (n, *draw(st.sampled_from([(1,), (3,), (5,), (2, 2), (1, 2, 3)])))
    s_p = draw(cs.bounded_floats(shape, -10.0, 10.0))
    s_q = s_p.copy() if draw(st.booleans()) and draw(st.booleans()) else draw(cs.bounded_floats(shape, -10.0, 10.0))
    return Case((s_p, s_q))


@st.composite
def _sliced_fisher_cases(draw: st.DrawFn) -> Case:
    n, M = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    shape = (n, *draw(st.sampled_from([(1,), (3,), (5,), (2, 2), (1, 2, 3)])))
    s_p = draw(cs.bounded_floats(shape, -10.0, 10.0))
    s_q = s_p.copy() if draw(st.booleans()) and draw(st.booleans()) else draw(cs.bounded_floats(shape, -10.0, 10.0))
    kind = draw(st.sampled_from(["gaussian", "rademacher"]))
    noise = draw(_normals((M, *shape)) if kind == "gaussian" else _rademacher((M, *shape)))
    kwargs = {"kind": kind, "noise": noise}
    if draw(st.booleans()):
        kwargs["n_projections"] = M
    return Case((s_p, s_q), kwargs)


@st.composite
def _kde_cases(draw: st.DrawFn) -> Case:
    n, m, d = draw(st.integers(1, 8)), draw(st.integers(1, 10)), draw(st.integers(1, 4))
    data = draw(cs.bounded_floats((m, d), -3.0, 3.0))
    if m > 1 and draw(st.booleans()):  # repeated data points
        data[-1] = data[0]
    far = draw(st.booleans())
    x = draw(cs.bounded_floats((n, d), -20.0, 20.0)) if far else draw(cs.bounded_floats((n, d), -4.0, 4.0))
    h = draw(st.one_of(st.floats(0.1, 5.0), st.sampled_from([0.1, 0.3, 1.0])))
    if far:
        h = max(h, 1.0)  # exponents up to ~300: every kernel underflows (exp(-300) < 1e-130) without the shift
    return Case((x, data, h))


@st.composite
def _esm_cases(draw: st.DrawFn) -> Case:
    model, features = draw(_shaped(draw(_unconditional_models())))
    m = draw(st.integers(1, 10))
    data = draw(cs.bounded_floats((m, *features), -3.0, 3.0))
    h = draw(st.one_of(st.floats(0.1, 3.0), st.sampled_from([0.1, 0.5, 1.0])))
    return Case((model, data, h), {"noise": draw(_normals((m, *features)))})


@st.composite
def _trace_cases(draw: st.DrawFn) -> Case:
    model, features = draw(_shaped(draw(_unconditional_models())))
    d, _ = _dims(model)
    x = draw(cs.bounded_floats((draw(st.integers(1, 8)), *features), -3.0, 3.0))
    kwargs = {"chunk_size": draw(st.one_of(st.none(), st.integers(1, d)))}
    # both accelerated methods (None: the default); the factored one is for plain MLPs of (n, d) only
    methods = [None, "auto", "factored", "vmap"] if len(features) == 1 else [None, "auto", "vmap"]
    method = draw(st.sampled_from(methods))
    if method is not None:
        kwargs["method"] = method
    return Case((model, x), kwargs)


@st.composite
def _probe_cases(draw: st.DrawFn, count_name: str, dtype: str = "float64", objective: str | None = None) -> Case:
    model, features = draw(_shaped(draw(_unconditional_models())))
    n, M = draw(st.integers(1, 8)), draw(st.integers(1, 4))
    x = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    kind = draw(st.sampled_from(["gaussian", "rademacher"]))
    noise = draw(_normals((M, n, *features)) if kind == "gaussian" else _rademacher((M, n, *features)))
    kwargs = {"kind": kind, "noise": noise}
    if draw(st.booleans()):
        kwargs[count_name] = M
    if objective is not None and dtype in LOW_PRECISION:
        assume(_half_conditioned(dtype, objective, model, x, noise))
    return Case((model, x), kwargs)


# Roundings per term of a sliced objective in half precision: the model's forward pass (two products,
# a bias, tanh) and its vector-Jacobian product each round a few times in the tested dtype.
HALF_ROUNDINGS = 8


def _half_conditioned(dtype: str, objective: str, model: Twin, x: np.ndarray, v: np.ndarray) -> bool:
    """Whether the half-precision rounding bound of a sliced objective fits in the tolerance.

    The sliced objectives are means of terms of both signs (v^T J v is negative wherever the model's
    Jacobian is): their float16 / bfloat16 error is a few units of roundoff of the *terms*, not of the
    result, which cancels. As for the float32 conversions of the diffusion pairs (DESIGN.md: reject
    ill-conditioned draws), only draws whose bound HALF_ROUNDINGS u * scale, scale the mean of the
    absolute terms computed here in float64 on the rounded inputs, fits in the tolerance are kept.
    """
    ref_model = model.build("reference", dtype, "cpu")
    x, v = _round(x, dtype), _round(v, dtype)
    n = x.shape[0]
    flat_v = v.reshape(v.shape[0], n, -1)
    J = np.asarray(ref_model.jacobian(x)).reshape(n, flat_v.shape[2], flat_v.shape[2])
    s = np.asarray(ref_model(x)).reshape(n, -1)
    vJv = np.einsum("mni,nij,mnj->mn", flat_v, J, flat_v)
    if objective == "sliced_score_matching":
        quadratic = 0.5 * np.einsum("mni,ni->mn", flat_v, s) ** 2
        result, scale = np.mean(vJv + quadratic), np.mean(np.abs(vJv) + quadratic)
    else:  # the variance-reduced form: the exact 1/2 ||s||^2
        half_norm = 0.5 * np.sum(s**2, axis=1)
        result, scale = np.mean(vJv) + np.mean(half_norm), np.mean(np.abs(vJv)) + np.mean(half_norm)
    tol = tolerance_for(f"score_matching.{objective}", dtype)
    return bool(HALF_ROUNDINGS * (EPS[dtype] / 2.0) * scale <= tol.atol + tol.rtol * abs(result))


@st.composite
def _energy_ism_cases(draw: st.DrawFn) -> Case:
    d = draw(st.integers(1, 3))
    x = draw(cs.bounded_floats((draw(st.integers(1, 8)), d), -3.0, 3.0))
    return Case((draw(energy_twins(d)), x))


@st.composite
def _energy_ssm_cases(draw: st.DrawFn) -> Case:
    d, n, M = draw(st.integers(1, 3)), draw(st.integers(1, 8)), draw(st.integers(1, 4))
    x = draw(cs.bounded_floats((n, d), -3.0, 3.0))
    kind = draw(st.sampled_from(["gaussian", "rademacher"]))
    noise = draw(_normals((M, n, d)) if kind == "gaussian" else _rademacher((M, n, d)))
    kwargs = {"kind": kind, "noise": noise}
    if draw(st.booleans()):
        kwargs["n_projections"] = M
    return Case((draw(energy_twins(d)), x), kwargs)


@st.composite
def _dsm_cases(draw: st.DrawFn) -> Case:
    conditional = draw(st.booleans())
    model = draw(mlp_twins(cond_dim=1)) if conditional else draw(_unconditional_models())
    model, features = draw(_shaped(model))
    n = draw(st.integers(1, 10))
    x = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    kwargs = {"noise_conditional": conditional, "noise": draw(_normals((n, *features)))}
    return Case((model, x, draw(_noise_levels())), kwargs)


@st.composite
def _geometric_cases(draw: st.DrawFn) -> Case:
    sigma_L = draw(st.one_of(st.floats(1e-3, 1.0), st.sampled_from([0.01, 0.001])))
    sigma_1 = sigma_L * draw(st.one_of(st.floats(1.5, 1e4), st.sampled_from([10.0, 1e3])))
    return Case((sigma_1, sigma_L, draw(st.integers(2, 20))))


@st.composite
def _ncsn_cases(draw: st.DrawFn) -> Case:
    conditional = draw(st.booleans())
    model = draw(mlp_twins(cond_dim=1)) if conditional else draw(_unconditional_models())
    model, features = draw(_shaped(model))
    n, L = draw(st.integers(1, 10)), draw(st.integers(2, 10))
    sigma_L = draw(st.sampled_from([0.01, 0.1]))
    sigmas = sigma_L * (draw(st.sampled_from([10.0, 100.0, 1000.0])) ** (np.arange(L)[::-1] / (L - 1)))
    x = draw(cs.bounded_floats((n, *features), -3.0, 3.0))
    levels = draw(hnp.arrays(np.int64, (n,), elements=st.integers(0, L - 1)))
    kwargs = {"noise_conditional": conditional, "levels": levels, "noise": draw(_normals((n, *features)))}
    weighting = draw(st.sampled_from([None, "sigma2", "none"]))  # None: the default (sigma2)
    if weighting is not None:
        kwargs["weighting"] = weighting
    return Case((model, x, sigmas), kwargs)


@st.composite
def _tweedie_cases(draw: st.DrawFn) -> Case:
    shape = (*draw(cs.batch_shapes(max_dims=2)), draw(st.integers(1, 4)))
    y = draw(cs.bounded_floats(shape, -10.0, 10.0))
    score = draw(cs.bounded_floats(shape, -100.0, 100.0))
    return Case((y, score, draw(_noise_levels())))


register_pair(
    "score_matching",
    "fisher_divergence",
    cases=lambda dtype: _fisher_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
    errors=[
        bad(X, np.zeros((2, 2)), match=r"score_q: expected shape \(2, 3\)"),
        bad(np.zeros(()), np.zeros(()), match=r"score_p: expected samples of shape \(n, \.\.\.\)"),
        bad(np.full((1, 2), NAN), np.zeros((1, 2)), match="score_p: expected finite"),
        bad("scores", X, error=TypeError, match="score_p: expected"),
        bad(HUGE, X, match="score_p, score_q: the objective overflowed float64 from finite inputs"),
    ],
)
register_pair(
    "score_matching",
    "sliced_fisher_divergence",
    cases=lambda dtype: _sliced_fisher_cases(),
    errors=[
        bad(X, np.zeros((2, 2)), noise=np.ones((1, 2, 3)), match=r"score_q: expected shape \(2, 3\)"),
        bad(X, X, match="pass exactly one of noise="),
        bad(X, X, noise=np.ones((2, 3)), match=r"noise: expected probes"),
        bad(X, X, noise=np.ones((2, 2, 3)), n_projections=3, match=r"\(3, 2, 3\)"),
        bad(X, X, noise=np.full((1, 2, 3), 0.5), kind="rademacher", match="noise: expected Rademacher probes"),
        bad(X, X, noise=np.ones((1, 2, 3)), kind="normal", match="kind: expected one of"),
        bad(np.full((2, 3), NAN), X, noise=np.ones((1, 2, 3)), match="score_p: expected finite"),
        bad(HUGE, X, noise=np.ones((1, 2, 3)), match="score_p, score_q, noise: the objective overflowed float64"),
    ],
)
register_pair(
    "score_matching",
    "kde_score",
    cases=lambda dtype: _kde_cases(),
    errors=[
        bad(X, np.zeros((4, 2)), 1.0, match="x and data: expected the same feature shape"),
        bad(X, np.zeros((4, 3)), 0.0, match="bandwidth: expected a finite positive"),
        bad(X, np.zeros((4, 3)), 1e300, match="bandwidth: expected a scale whose square is finite"),
        bad(X, np.zeros((4, 3)), 1e-300, match="bandwidth: expected a scale whose square is a normal float64"),
        bad(X, np.zeros((4, 3)), "1", error=TypeError, match="bandwidth: expected a positive real number"),
        bad(X, np.zeros((0, 3)), 1.0, match="data: expected samples of shape"),
        bad(np.full((2, 3), NAN), np.zeros((4, 3)), 1.0, match="x: expected finite"),
        bad(np.full((2, 3), 1e300), np.zeros((4, 3)), 1.0, match="x: expected points at which the kernel density"),
    ],
)
register_pair(
    "score_matching",
    "kde_log_density",
    cases=lambda dtype: _kde_cases(),
    errors=[
        bad(X, np.zeros((4, 2)), 1.0, match="x and data: expected the same feature shape"),
        bad(X, np.zeros((4, 3)), 0.0, match="bandwidth: expected a finite positive"),
        bad(X, np.zeros((4, 3)), 1e-300, match="bandwidth: expected a scale whose square is a normal float64"),
        bad(X, np.zeros((0, 3)), 1.0, match="data: expected samples of shape"),
        bad(np.full((2, 3), NAN), np.zeros((4, 3)), 1.0, match="x: expected finite"),
        bad(np.full((2, 3), 1e300), np.zeros((4, 3)), 1.0, match="x: expected points at which the kernel density"),
    ],
)
register_pair(
    "score_matching",
    "explicit_score_matching",
    cases=lambda dtype: _esm_cases(),
    errors=[
        bad(MLP, np.zeros((4, 3)), 1.0, match="pass exactly one of noise="),
        bad(MLP, np.zeros((4, 3)), 1.0, noise=np.zeros((3, 3)), match=r"noise: expected shape \(4, 3\)"),
        bad(
            "model", np.zeros((4, 3)), 1.0, noise=np.zeros((4, 3)), error=TypeError, match="model: expected a callable"
        ),
        bad(MLP, np.zeros((4, 3)), -1.0, noise=np.zeros((4, 3)), match="bandwidth: expected a finite positive"),
        bad(MLP, np.zeros((4, 3)), 1e300, noise=np.zeros((4, 3)), match="bandwidth: expected a scale whose square"),
        bad(MLP, np.full((4, 3), NAN), 1.0, noise=np.zeros((4, 3)), match="data: expected finite"),
        bad(MLP, X, 1.0, noise=HUGE, match=r"data, noise, model\(x\): the objective overflowed float64 from finite"),
    ],
)
register_pair(
    "score_matching",
    "jacobian_trace",
    cases=lambda dtype: _trace_cases(),
    errors=[
        bad(MLP, np.full((2, 3), NAN), match="x: expected finite"),
        bad(LINEAR, np.full((2, 3), NAN), match="x: expected finite"),
        bad(MLP, X, method="jacfwd", match=r"method: expected one of \("),
        bad(MLP, X, chunk_size=2.0, error=TypeError, match="chunk_size: expected an integer >= 1, got float"),
        bad(MLP, X, chunk_size=0, match="chunk_size: expected an integer >= 1, got 0"),
    ],
)
register_pair(
    "score_matching",
    "implicit_score_matching",
    cases=lambda dtype: _trace_cases(),
    errors=[
        bad(MLP, X, chunk_size=0, match="chunk_size: expected"),
        bad(MLP, np.zeros((2, 4)), match=r"x: expected shape \(\.\.\., 3\)"),
        bad(MLP, X, method=None, error=TypeError, match="method: expected one of"),
        bad(LINEAR, HUGE, match=r"x, model\(x\): the objective overflowed float64 from finite inputs"),
    ],
)
register_pair(
    "score_matching",
    "hutchinson_trace",
    cases=lambda dtype: _probe_cases("n_probes"),
    errors=[
        bad(MLP, X, noise=np.ones((2, 3)), match=r"noise: expected probes"),
        bad(MLP, X, noise=np.ones((2, 2, 3)), n_probes=3, match=r"\(3, 2, 3\)"),
        bad(MLP, X, match="pass exactly one of noise="),
        bad(LINEAR, np.full((2, 3), NAN), noise=np.ones((1, 2, 3)), match="x: expected finite"),
        bad(LINEAR, X, noise=np.full((1, 2, 3), 1e200), match="x, noise: the objective overflowed float64 from finite"),
        bad(MLP, X, noise=np.ones((1, 2, 3)), kind="normal", match="kind: expected one of"),
        bad(MLP, X, noise=np.ones((1, 2, 3)), kind=1, error=TypeError, match="kind: expected one of"),
        bad(MLP, X, noise=np.ones((2, 2, 3)), n_probes=2.0, error=TypeError, match="n_probes: expected an integer"),
    ],
)
register_pair(
    "score_matching",
    "sliced_score_matching",
    cases=lambda dtype: _probe_cases("n_projections", dtype, "sliced_score_matching"),
    dtypes=MIXED_PRECISION_DTYPES,
    errors=[
        bad(MLP, X, noise=np.full((1, 2, 3), 0.5), kind="rademacher", match="noise: expected Rademacher probes"),
        bad(MLP, X, noise=np.full((1, 2, 3), NAN), match="noise: expected finite"),
        bad(MLP, X, noise=np.ones((1, 2, 3)), n_projections=True, error=TypeError, match="n_projections: expected"),
        bad(LINEAR, HUGE, noise=np.ones((1, 2, 3)), match=r"x, noise, model\(x\): the objective overflowed float64"),
    ],
)
register_pair(
    "score_matching",
    "sliced_score_matching_vr",
    cases=lambda dtype: _probe_cases("n_projections", dtype, "sliced_score_matching_vr"),
    dtypes=MIXED_PRECISION_DTYPES,
    errors=[
        bad(MLP, X, n_projections=0, noise=np.ones((1, 2, 3)), match="n_projections: expected an integer >= 1"),
        bad(MLP, X, n_projections=2.0, noise=np.ones((2, 2, 3)), error=TypeError, match="n_projections: expected"),
        bad(LINEAR, HUGE, noise=np.ones((1, 2, 3)), match=r"x, noise, model\(x\): the objective overflowed float64"),
    ],
)
QUADRATIC = Twin("energy.QuadraticEnergy", precision=np.eye(3), mean=np.zeros(3))
WELL = Twin("energy.DoubleWellEnergy", a=1.0, b=1.0)
register_pair(
    "score_matching",
    "implicit_score_matching_energy",
    cases=lambda dtype: _energy_ism_cases(),
    errors=[
        bad(QUADRATIC, np.full((2, 3), NAN), match="x: expected finite"),
        bad(QUADRATIC, np.zeros((2, 1, 3)), match=r"x: expected points of shape \(n, d\)"),
        bad(QUADRATIC, np.zeros((2, 2)), match=r"x: expected"),
        bad("energy", X, error=TypeError, match="energy: expected"),
        bad(WELL, np.full((2, 3), 1e120), match=r"energy.grad\(x\): expected finite values"),
    ],
)
register_pair(
    "score_matching",
    "sliced_score_matching_energy",
    cases=lambda dtype: _energy_ssm_cases(),
    errors=[
        bad(QUADRATIC, X, match="pass exactly one of noise="),
        bad(QUADRATIC, X, noise=np.ones((2, 3)), match=r"noise: expected probes"),
        bad(WELL, X, noise=np.full((1, 2, 3), 0.5), kind="rademacher", match="noise: expected Rademacher probes"),
        bad(WELL, X, noise=np.ones((1, 2, 3)), kind="normal", match="kind: expected one of"),
        bad(QUADRATIC, np.zeros((2, 1, 3)), noise=np.ones((1, 2, 1, 3)), match=r"x: expected points of shape \(n, d\)"),
        bad(3.0, X, noise=np.ones((1, 2, 3)), error=TypeError, match="energy: expected"),
        bad(WELL, X, noise=np.full((1, 2, 3), 1e200), match=r"x, noise, energy.grad\(x\): the objective overflowed"),
    ],
)
register_pair(
    "score_matching",
    "denoising_score_matching",
    cases=lambda dtype: _dsm_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
    errors=[
        bad(MLP, X, 0.0, noise=X, match="sigma: expected a finite positive"),
        bad(MLP, X, -1.0, noise=X, match="sigma: expected a finite positive"),
        bad(MLP, X, 1.0, noise=np.zeros((3, 3)), match=r"noise: expected shape \(2, 3\)"),
        bad(MLP, X, 1.0, noise=X, noise_conditional=1, error=TypeError, match="noise_conditional: expected True or"),
        bad(MLP, X, 1.0, noise=np.full((2, 3), NAN), match="noise: expected finite"),
        bad("model", X, 1.0, noise=X, error=TypeError, match="model: expected a callable"),
        bad(
            MLP, X, 1.0, noise=HUGE, match=r"x, noise, model\(x\): the objective overflowed float64 from finite inputs"
        ),
    ],
)
register_pair(
    "score_matching",
    "geometric_sigmas",
    cases=lambda dtype: _geometric_cases(),
    errors=[
        bad(0.1, 1.0, 5, match="sigma_1, sigma_L: expected sigma_1 > sigma_L"),
        bad(1.0, 0.1, 1, match="L: expected an integer >= 2, got 1"),
        bad(1.0, 0.1, 3.0, error=TypeError, match="L: expected an integer >= 2, got float"),
        bad(1.0, 0.0, 3, match="sigma_L: expected a finite positive"),
        bad(1.0 + 1e-15, 1.0, 50, match="too close to 1"),
    ],
)
_LEVELS0 = np.zeros(2, dtype=np.int64)
register_pair(
    "score_matching",
    "ncsn_loss",
    cases=lambda dtype: _ncsn_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
    errors=[
        bad(MLP, X, SIGMAS[::-1].copy(), levels=_LEVELS0, noise=X, noise_conditional=False, match="sigmas: expected"),
        bad(MLP, X, np.array([1.0, 0.0]), levels=_LEVELS0, noise=X, noise_conditional=False, match="sigmas: expected"),
        bad(COND_MLP, X, SIGMAS, levels=np.array([0, 3]), noise=X, match=r"levels: expected indices in \[0, 3\)"),
        bad(COND_MLP, X, SIGMAS, levels=np.array([-1, 0]), noise=X, match=r"levels: expected indices in \[0, 3\)"),
        bad(
            COND_MLP, X, SIGMAS, levels=np.array([0.0, 1.0]), noise=X, error=TypeError, match="levels: expected an int"
        ),
        bad(COND_MLP, X, SIGMAS, noise=X, match="levels: required with noise="),
        bad(COND_MLP, X, SIGMAS, levels=_LEVELS0, noise=HUGE, match=r"x, noise, model\(x\): the objective overflowed"),
        bad(COND_MLP, X, SIGMAS, levels=np.array([0, 1, 2]), noise=X, match=r"levels: expected shape \(2,\)"),
        bad(COND_MLP, X, SIGMAS, levels=_LEVELS0, noise=X, weighting="sigma", match=r"weighting: expected one of"),
        bad(COND_MLP, X, SIGMAS, levels=_LEVELS0, noise=X, weighting=2, error=TypeError, match="weighting: expected"),
        bad(
            COND_MLP,
            X,
            SIGMAS,
            levels=_LEVELS0,
            noise=X,
            noise_conditional="yes",
            error=TypeError,
            match="noise_conditional: expected True or False",
        ),
    ],
)
register_pair(
    "score_matching",
    "tweedie_denoise",
    cases=lambda dtype: _tweedie_cases(),
    errors=[
        bad(X, np.zeros((2, 2)), 1.0, match=r"score: expected shape \(2, 3\)"),
        bad(X, X, 0.0, match="sigma: expected a finite positive"),
        bad(X, X, 1e300, match="sigma: expected a scale whose square is finite"),
        bad(X, np.full((2, 3), NAN), 1.0, match="score: expected finite"),
        bad(np.zeros(()), np.zeros(()), 1.0, match="y: expected at least 1 dimension"),
        bad(X, X, None, error=TypeError, match="sigma: expected a positive real number"),
    ],
)
