"""Agreement cases and bad inputs of the DDPM pairs: schedules, forward process, conversions, ELBO, sampling, guidance.

Eps models for the sampler are passed as ``Twin("diffusion.GaussianEps", mean=..., cov=..., schedule=Twin(...))``,
the exact noise prediction of Gaussian data, defined on both sides. The bad inputs use the 3-step schedule
betas = (0.1, 0.2, 0.3) (:data:`S3`) and zeros of shape (2, 3).
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case, Exact, Twin
from crosscheck.registry import bad, register_pair
from crosscheck.tolerances import LOW_PRECISION
from reference import diffusion as ref

from .conditioning import _at, _conversion_scale, _ddim_chain_conditioned, _float32_conditioned, _rounded
from .strategies import (
    _any_dtype,
    _clip_ranges,
    _scales,
    _setting,
    betas_arrays,
    data,
    data_shapes,
    positions,
    schedules,
)

# --------------------------------------------------------------------------- cases


@st.composite
def _linear_cases(draw: st.DrawFn) -> Case:
    T = draw(st.one_of(st.integers(1, 50), st.sampled_from([1, 2, 1000, 4000])))
    kwargs = {}
    if draw(st.booleans()):
        kwargs = {"beta_start": draw(st.floats(1e-6, 0.1)), "beta_end": draw(st.floats(1e-6, 0.999))}
    return Case((T,), kwargs)


@st.composite
def _cosine_cases(draw: st.DrawFn) -> Case:
    T = draw(st.one_of(st.integers(1, 50), st.sampled_from([1, 2, 1000, 4000])))
    kwargs = {}
    if draw(st.booleans()):
        kwargs = {"s": draw(st.floats(0.0, 0.1)), "max_beta": draw(st.floats(0.01, 0.9999))}
    return Case((T,), kwargs)


@st.composite
def _noising_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting())
    return Case((draw(data(shape)), t, schedules(betas)), {"noise": draw(data(shape, 4.0))})


@st.composite
def _two_array_cases(draw: st.DrawFn, dtype: str, consistent: str | None = None, name: str | None = None) -> Case:
    """(a, b, t, schedule); with ``consistent`` the first array is x_t = q_sample(x0, t, eps) of the second.

    With ``name``, float32 draws are kept only where that formula is well conditioned (see above).
    """
    betas, shape, t = draw(_setting())
    a, b = draw(data(shape)), draw(data(shape, 4.0))
    if consistent is not None and draw(st.booleans()):
        x0, eps = a, b
        x_t = ref.q_sample(x0, t, ref.Schedule(betas), eps)
        a, b = x_t, (eps if consistent == "eps" else x0)
    if name is not None:
        S = ref.Schedule(_rounded(betas, dtype))
        result, scale = _conversion_scale(name, _rounded(a, dtype), _rounded(b, dtype), t, S)
        assume(_float32_conditioned(dtype, result, scale))
    return Case((a, b, t, schedules(betas)))


@st.composite
def _one_array_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting())
    return Case((draw(data(shape, 4.0)), t, schedules(betas)))


@st.composite
def _gaussian_kl_cases(draw: st.DrawFn) -> Case:
    shape = draw(data_shapes())
    mean_q, mean_p = draw(data(shape)), draw(data(shape))
    var_shape = draw(st.sampled_from([shape, (shape[0],) + (1,) * (len(shape) - 1), ()]))
    var_p = draw(hnp.arrays(np.float64, var_shape, elements=st.floats(1e-4, 10.0)))
    kind = draw(st.sampled_from(["independent", "equal", "near"]))  # var_q = 0 (KL = +inf) is refused
    if kind == "equal":
        var_q = var_p.copy()
    elif kind == "near":
        var_q = var_p * (1.0 + draw(cs.bounded_floats(var_shape, -1e-3, 1e-3)))
    else:
        var_q = draw(hnp.arrays(np.float64, var_shape, elements=st.floats(1e-4, 10.0)))
    return Case((mean_q, np.asarray(var_q), mean_p, var_p))


@st.composite
def _elbo_weight_cases(draw: st.DrawFn) -> Case:
    betas = draw(betas_arrays(min_T=2))
    t = draw(positions(len(betas), draw(st.integers(1, 5)), low=1))
    return Case((t, schedules(betas)))


@st.composite
def _l_t_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting(low=1))
    x0, eps = draw(data(shape)), draw(data(shape, 4.0))
    if draw(st.booleans()):
        x_t = ref.q_sample(x0, t, ref.Schedule(betas), eps)
        scale = draw(st.sampled_from([1.0, 1e-2, 1e-4]))
        eps_pred = eps + scale * draw(data(shape))
    else:
        x_t, eps_pred = draw(data(shape)), eps
    return Case((x0, x_t, eps_pred, t, schedules(betas)))


@st.composite
def _l_simple_cases(draw: st.DrawFn) -> Case:
    shape = draw(data_shapes())
    return Case((draw(data(shape, 4.0)), draw(data(shape, 4.0))), {"reduction": draw(st.sampled_from(["sum", "mean"]))})


@st.composite
def _prior_kl_cases(draw: st.DrawFn) -> Case:
    return Case((draw(data(draw(data_shapes()))), schedules(draw(betas_arrays()))))


@st.composite
def _dsm_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting())
    x0, eps = draw(data(shape)), draw(data(shape, 4.0))
    x_t = ref.q_sample(x0, t, ref.Schedule(betas), eps) if draw(st.booleans()) else draw(data(shape))
    return Case((draw(data(shape, 100.0)), x_t, x0, t, schedules(betas)))


@st.composite
def _ddpm_step_cases(draw: st.DrawFn, dtype: str) -> Case:
    betas, shape, t = draw(_setting())
    x_t, eps, z = draw(data(shape)), draw(data(shape, 4.0)), draw(data(shape, 4.0))
    kwargs = {"noise": z}
    clip = draw(_clip_ranges())
    S = ref.Schedule(_rounded(betas, dtype))
    x_r, eps_r, z_r = _rounded(x_t, dtype), _rounded(eps, dtype), _rounded(z, dtype)
    sigma = np.sqrt(_at(S.beta_tilde, t, x_t.ndim))
    if clip is None:
        mean, scale = _conversion_scale("ddpm_step", x_r, eps_r, t, S)
    else:
        kwargs["clip_x0"] = clip
        x0_hat, scale_x0 = _conversion_scale("predict_x0_from_eps", x_r, eps_r, t, S)
        c0, c1 = _at(S.posterior_mean_coef_x0, t, x_t.ndim), _at(S.posterior_mean_coef_xt, t, x_t.ndim)
        mean = c0 * np.clip(x0_hat, *clip) + c1 * x_r
        # a clipped x0_hat is exact unless it lies within its own rounding error of the clip bound
        scale = c0 * np.where((x0_hat < clip[0]) | (x0_hat > clip[1]), np.abs(x0_hat), scale_x0) + c1 * np.abs(x_r)
    assume(_float32_conditioned(dtype, mean + sigma * z_r, scale + sigma * np.abs(z_r)))
    if dtype == "float64" and draw(st.booleans()):  # classifier guidance, L14 'Guided sampling' (algorithm 1)
        kwargs["guidance"], kwargs["guidance_scale"] = toy_gradient, draw(_scales())
    return Case((x_t, eps, t, schedules(betas)), kwargs)


def toy_gradient(x, t):
    """A classifier gradient for the guided pairs, one expression on NumPy arrays and tensors."""
    return 0.5 - 0.25 * x


@st.composite
def _ddpm_sample_cases(draw: st.DrawFn, dtype: str) -> Case:
    """Short chains (T <= 20) with the exact eps of Gaussian data.

    At float32 and below the betas are capped at 0.95: a reverse step at beta close to 1 cancels x_t against
    (1 - alpha) / sqrt(1 - alpha_bar) eps, which is nearly x_t there, and its float32 result carries
    1 / (1 - beta) times the roundoff (1e4 at beta = 0.9999, found by a random soak); when such a step is
    among the last, no later step dilutes it. The single step at any beta is covered by ddpm_step's
    conditioning filter.
    """
    betas = draw(betas_arrays(max_T=20, standard=False))
    if dtype != "float64":
        betas = np.minimum(betas, 0.95)
    schedule = schedules(betas)
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    cov = draw(cs.spd_matrices(d, max_condition=1e2, scale=(0.05, 5.0)))
    # The model is float64 on both sides (it evaluates in float64 and casts to x_t's dtype): only the chain
    # runs in the tested dtype.
    mean = draw(cs.bounded_floats((d,), -2.0, 2.0))
    model = Twin("diffusion.GaussianEps", mean=Exact(mean), cov=Exact(cov), schedule=schedule)
    kwargs = {"noise": draw(data((len(betas), n, d), 4.0))}
    clip = draw(_clip_ranges())
    if clip is not None:
        kwargs["clip_x0"] = clip
    if dtype in LOW_PRECISION:
        # DDPM is DDIM with eta = 1 on every position (the theorem of the DDIM pairs): the same chain, so
        # the first-order bound on its rounding error of _ddim_chain_conditioned applies.
        assume(_ddim_chain_conditioned(dtype, betas, mean, cov, kwargs["noise"], len(betas), 1.0, clip))
    return Case((model, (n, d), schedule), kwargs)


@st.composite
def _guided_mean_cases(draw: st.DrawFn) -> Case:
    shape = draw(data_shapes())
    var_shape = draw(st.sampled_from([shape, (shape[0],) + (1,) * (len(shape) - 1), ()]))
    variance = draw(hnp.arrays(np.float64, var_shape, elements=st.floats(0.0, 1.0)))
    return Case((draw(data(shape)), variance, draw(data(shape, 10.0)), draw(_scales())))


@st.composite
def _guided_eps_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting())
    return Case((draw(data(shape, 4.0)), draw(data(shape, 10.0)), t, schedules(betas), draw(_scales())))


@st.composite
def _cfg_cases(draw: st.DrawFn) -> Case:
    shape = draw(data_shapes())
    return Case((draw(data(shape, 4.0)), draw(data(shape, 4.0)), draw(_scales())))


def _grid_or_data(draw: st.DrawFn, shape: tuple[int, ...], bits: int | None) -> np.ndarray:
    """Continuous data, or grid values 2 k / (2^bits - 1) - 1 in [-1, 1] (both edges drawn on purpose)."""
    if bits is None:
        return draw(data(shape))
    top = 2**bits - 1
    k = draw(hnp.arrays(np.int64, shape, elements=st.one_of(st.integers(0, top), st.sampled_from([0, top]))))
    return 2.0 * k / top - 1.0


@st.composite
def _decoder_cases(draw: st.DrawFn) -> Case:
    betas, shape, _ = draw(_setting())
    bits = draw(st.sampled_from([None, 1, 3, 8, 16]))
    x0 = _grid_or_data(draw, shape, bits)
    eps, eps_pred = draw(data(shape, 4.0)), draw(data(shape, 4.0))
    x_1 = (
        ref.q_sample(x0, np.zeros((), np.int64), ref.Schedule(betas), eps) if draw(st.booleans()) else draw(data(shape))
    )
    return Case((x0, x_1, eps_pred, schedules(betas)), {"bits": bits})


@st.composite
def _nll_bound_cases(draw: st.DrawFn) -> Case:
    """Short schedules (T <= 12) and the exact eps of Gaussian data as the model."""
    betas = draw(betas_arrays(standard=False))
    schedule = schedules(betas)
    n, d = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    cov = draw(cs.spd_matrices(d, max_condition=1e2, scale=(0.05, 5.0)))
    model = Twin(
        "diffusion.GaussianEps", mean=Exact(draw(cs.bounded_floats((d,), -1.0, 1.0))), cov=Exact(cov), schedule=schedule
    )
    bits = draw(st.sampled_from([None, 1, 8]))
    kwargs = {
        "noise": draw(data((len(betas), n, d), 4.0)),
        "bits": bits,
        "unit": draw(st.sampled_from(["nats", "bits/dim"])),
    }
    return Case((model, _grid_or_data(draw, (n, d), bits), schedule), kwargs)


# --------------------------------------------------------------------------- bad inputs

S3 = Twin("diffusion.Schedule", betas=Exact(np.array([0.1, 0.2, 0.3])))
X = np.zeros((2, 3))
T2 = np.array([0, 2])
NAN_X = np.array([[np.nan, 0.0, 0.0], [0.0, 0.0, 0.0]])
NAN = float("nan")
HUGE_X = np.array([[1e300, 0.0, 0.0], [0.0, 0.0, 0.0]])  # finite data whose square overflows float64
OVERFLOWED = r"the result overflowed"
POSITIONS = r"t: expected integer positions in 0\.\.2"
AFTER_FIRST = r"t: expected positions 1\.\.T-1.*reconstruction"


def _same_shape(a: str, b: str) -> str:
    return rf"{a}, {b}: expected (arrays|tensors) of one shape"


ERRORS = {
    "linear_beta_schedule": [
        bad(0, match=r"T: expected an integer >= 1, got 0"),
        bad(10.0, error=TypeError, match=r"T: expected an integer >= 1, got float"),
        bad(True, error=TypeError, match=r"T: expected an integer >= 1, got bool"),
        bad(10, 0.0, match=r"beta_start: expected a number in \(0, 1\)"),
        bad(10, 0.1, NAN, match=r"beta_end: expected a number in \(0, 1\)"),
    ],
    "cosine_beta_schedule": [
        bad(10, max_beta=1.0, match=r"max_beta: expected a number in \(0, 1\)"),
        bad(10, s=-0.1, match=r"s: expected a finite non-negative number"),
        bad(10.0, error=TypeError, match=r"T: expected an integer >= 1, got float"),
    ],
    "q_step": [
        bad(X, np.array([0, 3]), S3, noise=X, match=POSITIONS),
        bad(NAN_X, T2, S3, noise=X, match=r"x_prev: expected finite"),
    ],
    "q_sample": [
        bad(X, np.array([0, 3]), S3, noise=X, match=POSITIONS),
        bad(X, np.array([-1, 0]), S3, noise=X, match=r"got min -1"),
        bad(X, np.array([0.0, 1.0]), S3, noise=X, error=TypeError, match=r"t: expected an integer"),
        bad(X, np.zeros((2, 1), np.int64), S3, noise=X, match=r"t: expected integer positions of shape \(\) or \(n,\)"),
        bad(X, np.array([0, 1, 2]), S3, noise=X, match=r"t, x0: expected one position per batch element"),
        bad(X, T2, S3, noise=np.zeros((2, 2)), match=r"noise: expected shape \(2, 3\)"),
        bad(X, T2, S3, match=r"pass exactly one of noise="),
        bad(X, T2, "S", noise=X, error=TypeError, match=r"schedule: expected an? .*Schedule"),
        bad(NAN_X, T2, S3, noise=X, match=r"x0: expected finite"),
    ],
    "q_posterior": [bad(X, np.zeros((2, 2)), T2, S3, match=_same_shape("x0", "x_t"))],
    "predict_x0_from_eps": [bad(X, np.zeros((3, 3)), T2, S3, match=r"x_t, eps: expected")],
    "predict_eps_from_x0": [bad(X, X, np.array([0, 5]), S3, match=POSITIONS)],
    "velocity": [bad(X, X[:, :2], T2, S3, match=r"x0, eps: expected")],
    "predict_x0_from_v": [bad(X, NAN_X, T2, S3, match=r"v: expected finite")],
    "predict_eps_from_v": [bad(X, X, T2, 0.5, error=TypeError, match=r"schedule: expected an? .*Schedule")],
    "eps_to_score": [bad(X, np.array([5, 0]), S3, match=POSITIONS)],
    "score_to_eps": [bad(NAN_X, T2, S3, match=r"score: expected finite")],
    "q_score": [bad(X, X, np.array([0, 1, 2]), S3, match=r"t, x_t: expected one position per batch element")],
    "p_mean_from_eps": [bad(X, np.zeros((2, 4)), T2, S3, match=_same_shape("x_t", "eps"))],
    "gaussian_kl": [
        bad(X, np.ones((2, 1)), X, np.zeros(1), match=r"var_p: expected variances > 0"),
        bad(X, -np.ones(1), X, np.ones(1), match=r"var_q: expected variances > 0"),
        bad(X, np.zeros(1), X, np.ones(1), match=r"var_q: expected variances > 0"),
        bad(HUGE_X, np.ones(1), X, np.ones(1), match=OVERFLOWED),
        bad(X, np.ones(2), X, np.ones(2), match=r"do not broadcast"),
    ],
    "elbo_weight": [bad(np.array([0, 1]), S3, match=AFTER_FIRST)],
    "l_t": [
        bad(X, X, X, np.array([0, 1]), S3, match=r"t: expected positions 1\.\.T-1"),
        bad(X, X, X[:1], np.array([1, 1]), S3, match=r"x0, x_t, eps_pred: expected"),
        bad(HUGE_X, X, X, np.array([1, 1]), S3, match=OVERFLOWED),
    ],
    "l_simple": [
        bad(X, X[:, :1], match=r"eps, eps_pred: expected"),
        bad(X, X, reduction="max", match=r"reduction: expected one of \('sum', 'mean'\)"),
        bad(X, X, reduction=1, error=TypeError, match=r"reduction: expected one of"),
        bad(HUGE_X, X, match=OVERFLOWED),
    ],
    "prior_kl": [
        bad(np.zeros(()), S3, match=r"x0: expected"),
        bad(NAN_X, S3, match=r"x0: expected finite"),
        bad(np.zeros((0, 3)), S3, match=r"x0: expected a batch of n >= 1"),
        bad(HUGE_X, S3, match=OVERFLOWED),
    ],
    "weighted_dsm_loss": [
        bad(X, X, X, np.array([0, 3]), S3, match=POSITIONS),
        bad(HUGE_X, X, X, T2, S3, match=OVERFLOWED),
    ],
    "decoder_log_likelihood": [
        bad(X, X, X, S3, bits=0, match=r"bits: expected an integer >= 1"),
        bad(X, X, X, S3, bits=17, match=r"bits: expected a bit depth in 1\.\.16"),
        bad(X, X, X, S3, bits=8.0, error=TypeError, match=r"bits: expected an integer"),
        bad(X + 2.0, X, X, S3, bits=8, match=r"x0: expected values in \[-1\.0, 1\.0\]"),
        bad(X, X[:, :2], X, S3, match=r"x0, x_1, eps_pred: expected"),
        bad(HUGE_X, X, X, S3, match=OVERFLOWED),
    ],
    "nll_bound": [
        bad(lambda x, t: x, X, S3, np.zeros((2, 2, 3)), match=r"noise: expected shape \(3, 2, 3\)"),
        bad(lambda x, t: x, X, S3, np.zeros((3, 2, 3)), unit="bits", match=r"unit: expected one of"),
        bad(lambda x, t: x * np.nan, X, S3, np.zeros((3, 2, 3)), match=r"eps_fn\(x_t, t\): expected finite values"),
        bad(lambda x, t: x[:, :1], X, S3, np.zeros((3, 2, 3)), match=r"eps_fn\(x_t, t\): expected"),
        bad("model", X, S3, np.zeros((3, 2, 3)), error=TypeError, match=r"eps_fn: expected a callable"),
        bad(lambda x, t: x, X, S3, match=r"pass exactly one of noise="),
        bad(lambda x, t: x, X - 2.0, S3, np.zeros((3, 2, 3)), bits=8, match=r"x0: expected values in"),
    ],
    "ddpm_step": [
        bad(X, X, T2, S3, noise=X, clip_x0=(1.0, -1.0), match=r"clip_x0: expected low < high"),
        bad(X, X, T2, S3, noise=X, clip_x0=1.0, error=TypeError, match=r"clip_x0: expected None or a pair"),
        bad(X, X, T2, S3, noise=X, guidance=1.0, error=TypeError, match=r"guidance: expected None or a callable"),
        bad(X, X, T2, S3, noise=X, guidance=lambda x, t: x[:, :1], match=r"guidance\(x, t\): expected"),
        bad(
            X, X, T2, S3, noise=X, guidance=toy_gradient, guidance_scale=NAN, match=r"guidance_scale: expected a finite"
        ),
    ],
    "ddpm_sample": [
        bad(lambda x, t: x, (2, 3), S3, noise=np.zeros((2, 2, 3)), match=r"noise: expected shape \(3, 2, 3\)"),
        bad(lambda x, t: x[:, :1], (2, 3), S3, noise=np.zeros((3, 2, 3)), match=r"eps_fn\(x_t, t\): expected"),
        bad("model", (2, 3), S3, noise=np.zeros((3, 2, 3)), error=TypeError, match=r"eps_fn: expected a callable"),
        bad(lambda x, t: x, (0, 3), S3, noise=np.zeros((3, 0, 3)), match=r"shape: expected"),
        bad(lambda x, t: x, "2,3", S3, noise=np.zeros((3, 2, 3)), error=TypeError, match=r"shape: expected a tuple"),
        bad(lambda x, t: x, (2, 3), S3, noise=np.zeros((3, 2, 3)), progress=1, error=TypeError, match=r"progress"),
        bad(lambda x, t: x, (2, 3), S3, noise=np.full((3, 2, 3), np.nan), match=r"noise: expected finite"),
        bad(lambda x, t: x * np.nan, (2, 3), S3, noise=np.zeros((3, 2, 3)), match=r"eps_fn: the chain diverged"),
    ],
    "classifier_guided_mean": [
        bad(X, -np.ones((2, 1)), X, 1.0, match=r"variance: expected variances >= 0"),
        bad(X, np.ones((4, 2, 3)), X, 1.0, match=r"variance: expected a shape"),
        bad(X, np.ones((2, 1)), X, NAN, match=r"scale: expected a finite number"),
    ],
    "classifier_guided_eps": [bad(X, X, T2, S3, NAN, match=r"scale: expected a finite number")],
    "classifier_free_guidance": [bad(X, X, "2", error=TypeError, match=r"scale: expected a real number")],
}

# --------------------------------------------------------------------------- registrations

_REGISTRATIONS = [
    ("linear_beta_schedule", _any_dtype(_linear_cases)),
    ("cosine_beta_schedule", _any_dtype(_cosine_cases)),
    ("q_step", _any_dtype(_noising_cases)),
    ("q_sample", _any_dtype(_noising_cases)),
    ("q_posterior", lambda d: _two_array_cases(d, "x0")),
    ("predict_x0_from_eps", lambda d: _two_array_cases(d, "eps", "predict_x0_from_eps")),
    ("predict_eps_from_x0", lambda d: _two_array_cases(d, "x0", "predict_eps_from_x0")),
    ("velocity", _two_array_cases),
    ("predict_x0_from_v", _two_array_cases),
    ("predict_eps_from_v", _two_array_cases),
    ("eps_to_score", _any_dtype(_one_array_cases)),
    ("score_to_eps", _any_dtype(_one_array_cases)),
    ("q_score", lambda d: _two_array_cases(d, "x0", "q_score")),
    ("p_mean_from_eps", lambda d: _two_array_cases(d, "eps", "p_mean_from_eps")),
    ("gaussian_kl", _any_dtype(_gaussian_kl_cases)),
    ("elbo_weight", _any_dtype(_elbo_weight_cases)),
    ("l_t", _any_dtype(_l_t_cases)),
    ("l_simple", _any_dtype(_l_simple_cases)),
    ("prior_kl", _any_dtype(_prior_kl_cases)),
    ("weighted_dsm_loss", _any_dtype(_dsm_cases)),
    ("decoder_log_likelihood", _any_dtype(_decoder_cases)),
    ("nll_bound", _any_dtype(_nll_bound_cases)),
    ("ddpm_step", _ddpm_step_cases),
    ("ddpm_sample", _ddpm_sample_cases),
    ("classifier_guided_mean", _any_dtype(_guided_mean_cases)),
    ("classifier_guided_eps", _any_dtype(_guided_eps_cases)),
    ("classifier_free_guidance", _any_dtype(_cfg_cases)),
]

# The training losses and the per-step functions of a training loop or a sampler also run the
# mixed-precision pass (inputs rounded to bfloat16 and float16; see crosscheck.tolerances).
_MIXED_PRECISION = {"q_sample", "l_simple", "l_t", "weighted_dsm_loss", "ddpm_step", "ddpm_sample"}

# The ELBO's decoder and bound are evaluated in float64 on the accelerated side whatever the data's dtype
# (a log-density summed over features, compared in float64 here).
_FLOAT64_ONLY = {"decoder_log_likelihood", "nll_bound"}

for _name, _cases in _REGISTRATIONS:
    _dtypes = ("float64", "float32", *LOW_PRECISION) if _name in _MIXED_PRECISION else ("float64", "float32")
    _dtypes = ("float64",) if _name in _FLOAT64_ONLY else _dtypes
    register_pair("diffusion", _name, cases=_cases, dtypes=_dtypes, errors=ERRORS[_name])
