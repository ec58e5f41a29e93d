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
from ..registry import register_pair
from ..tolerances import EPS, LOW_PRECISION, tolerance_for
from .models import linear_twins, mlp_twins

# The training objectives also run the mixed-precision pass (inputs rounded to bfloat16 and float16).
MIXED_PRECISION_DTYPES = ("float64", "float32", *LOW_PRECISION)

L7 = "L7"
L8 = "L8"
L13 = "L13"
BEIGY = "Beigy"


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
    slide=f"{L7}, 'Fisher divergence'; {L8}, 'Score Matching Via Fisher Divergence'",
    cases=lambda dtype: _fisher_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
)
register_pair(
    "score_matching", "kde_score", slide=f"{BEIGY}, 'Score Matching (SM)' (KDE)", cases=lambda dtype: _kde_cases()
)
register_pair(
    "score_matching",
    "explicit_score_matching",
    slide=f"{BEIGY}, 'Score Matching (SM)' (J_esm with a KDE)",
    cases=lambda dtype: _esm_cases(),
)
register_pair(
    "score_matching",
    "jacobian_trace",
    slide=f"{L8}, 'Hard to scale'; {L13}, 'Implicit score matching'",
    cases=lambda dtype: _trace_cases(),
)
register_pair(
    "score_matching",
    "implicit_score_matching",
    slide=f"{L13}, 'Implicit score matching'; {L8}, 'Score Matching'",
    cases=lambda dtype: _trace_cases(),
)
register_pair(
    "score_matching",
    "hutchinson_trace",
    slide=f"{L13}, 'Sliced score matching (Hutchinson's trace estimation)'",
    cases=lambda dtype: _probe_cases("n_probes"),
)
register_pair(
    "score_matching",
    "sliced_score_matching",
    slide=f"{L8}, 'Sliced Score Matching'; {BEIGY}, sliced score matching estimator",
    cases=lambda dtype: _probe_cases("n_projections", dtype, "sliced_score_matching"),
    dtypes=MIXED_PRECISION_DTYPES,
)
register_pair(
    "score_matching",
    "sliced_score_matching_vr",
    slide=f"{L13}, 'Sliced score matching (Hutchinson's trace estimation)' (Song et al. 2019, SSM-VR)",
    cases=lambda dtype: _probe_cases("n_projections", dtype, "sliced_score_matching_vr"),
    dtypes=MIXED_PRECISION_DTYPES,
)
register_pair(
    "score_matching",
    "denoising_score_matching",
    slide=f"{L7}, 'Denoising score matching'; {L8}, 'Denoising Score Matching'",
    cases=lambda dtype: _dsm_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
)
register_pair(
    "score_matching",
    "geometric_sigmas",
    slide=f"{L13}, 'Noise Conditioned Score Network (NCSN)'; {BEIGY}, NCSN noise levels",
    cases=lambda dtype: _geometric_cases(),
)
register_pair(
    "score_matching",
    "ncsn_loss",
    slide=f"{L13}, 'Noise Conditioned Score Network (NCSN)' (weighted objective, training)",
    cases=lambda dtype: _ncsn_cases(),
    dtypes=MIXED_PRECISION_DTYPES,
)
register_pair(
    "score_matching",
    "tweedie_denoise",
    slide=f'{L8}, "Tweedie\'s Formula"',
    cases=lambda dtype: _tweedie_cases(),
)
