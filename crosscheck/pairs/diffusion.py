"""Agreement cases for :mod:`reference.diffusion` and :mod:`accelerated.diffusion`.

Schedules are drawn as betas and passed as ``Twin("diffusion.Schedule", betas=...)``, so both sides build
their float64 tables from the same (dtype-rounded) betas. Kinds: the linear and cosine schedules with
drawn parameters, the standard T = 1000 ones, random betas, and extreme betas (1e-8, where
1 - alpha_bar would cancel without the log1p/expm1 table, and 0.9999, where 1 / sqrt(alpha) is 100).
Positions include both ends (0, where beta_tilde = 0, and T - 1) and are drawn per batch element or
shared (shape ()). Data have any number of feature axes. Eps models for the sampler are passed as
``Twin("diffusion.GaussianEps", mean=..., cov=..., schedule=Twin(...))``, the exact noise prediction of
Gaussian data, defined on both sides.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from crosscheck import strategies as cs
from crosscheck.agree import Case, Exact, Twin, _round
from crosscheck.registry import register_pair
from crosscheck.tolerances import EPS, LOW_PRECISION, tolerance_for
from reference import diffusion as ref

L13 = "L13"
L14 = "L14"


# --------------------------------------------------------------------------- diffusion-specific strategies


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


# --------------------------------------------------------------------------- float32 conditioning
#
# The accelerated side computes the conversions, p_mean_from_eps and ddpm_step in the inputs' dtype (as
# the common code bases do; the sampler's speed depends on it). In float32 such a formula is accurate to a
# few units of roundoff of its *terms*, not of its result: x_t - sqrt(1 - alpha_bar) eps cancels when the
# two are close, and the float32 rounding of a coefficient such as sqrt(alpha_bar) = 0.99998 alone moves
# the result by 3e-8 |x0|. Following DESIGN.md (reject ill-conditioned draws, as array-api-tests does),
# the float32 cases of these pairs keep only inputs whose rounding-error bound, 4 u * scale with
# u = 2^-24 and scale the sum of the absolute terms (over the divisor), fits in the default float32
# tolerance; float64 runs every draw. The factor 4 counts the roundings: coefficient cast, product,
# difference, division.

U32 = 2.0**-24


def _rounded(x: np.ndarray, dtype: str) -> np.ndarray:
    """What both sides see: x rounded to dtype (float32 here), back in float64."""
    return np.asarray(x, np.float32).astype(np.float64) if dtype == "float32" else np.asarray(x, np.float64)


def _at(table: np.ndarray, t: np.ndarray, ndim: int) -> np.ndarray:
    return table[t].reshape(t.shape + (1,) * (ndim - t.ndim))


def _float32_conditioned(dtype: str, result: np.ndarray, scale: np.ndarray) -> bool:
    if dtype != "float32":
        return True
    tol = tolerance_for(None, "float32")
    return bool(np.all(4.0 * U32 * scale <= tol.atol + tol.rtol * np.abs(result)))


def _conversion_scale(name: str, a: np.ndarray, b: np.ndarray, t: np.ndarray, S: ref.Schedule):
    """(result, scale) of the float64 reference formula of a two-array conversion on rounded inputs."""
    s_ab = _at(S.sqrt_alpha_bars, t, a.ndim)
    s_1m = _at(S.sqrt_one_minus_alpha_bars, t, a.ndim)
    if name == "predict_x0_from_eps":
        return (a - s_1m * b) / s_ab, (np.abs(a) + s_1m * np.abs(b)) / s_ab
    if name == "predict_eps_from_x0":
        return (a - s_ab * b) / s_1m, (np.abs(a) + s_ab * np.abs(b)) / s_1m
    if name == "q_score":
        return -(a - s_ab * b) / s_1m**2, (np.abs(a) + s_ab * np.abs(b)) / s_1m**2
    if name in ("p_mean_from_eps", "ddpm_step"):
        k = _at(S.betas / S.sqrt_one_minus_alpha_bars, t, a.ndim)
        sqrt_alpha = np.sqrt(_at(S.alphas, t, a.ndim))
        return (a - k * b) / sqrt_alpha, (np.abs(a) + k * np.abs(b)) / sqrt_alpha
    raise KeyError(name)


@st.composite
def _setting(draw: st.DrawFn, low: int = 0):
    betas = draw(betas_arrays(min_T=low + 1))
    shape = draw(data_shapes())
    t = draw(positions(len(betas), shape[0], low))
    return betas, shape, t


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
    kind = draw(st.sampled_from(["independent", "equal", "near", "zero"]))
    if kind == "equal":
        var_q = var_p.copy()
    elif kind == "near":
        var_q = var_p * (1.0 + draw(cs.bounded_floats(var_shape, -1e-3, 1e-3)))
    elif kind == "zero":
        var_q = np.zeros(var_shape)
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


def _clip_ranges() -> st.SearchStrategy:
    return st.one_of(st.none(), st.sampled_from([(-1.0, 1.0), (-0.5, 2.0)]))


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
    return Case((x_t, eps, t, schedules(betas)), kwargs)


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


def _scales() -> st.SearchStrategy[float]:
    return st.one_of(st.floats(-2.0, 20.0), st.sampled_from([0.0, 1.0, 3.0, 7.5]))


@st.composite
def _guided_eps_cases(draw: st.DrawFn) -> Case:
    betas, shape, t = draw(_setting())
    return Case((draw(data(shape, 4.0)), draw(data(shape, 10.0)), t, schedules(betas), draw(_scales())))


@st.composite
def _cfg_cases(draw: st.DrawFn) -> Case:
    shape = draw(data_shapes())
    return Case((draw(data(shape, 4.0)), draw(data(shape, 4.0)), draw(_scales())))


# --------------------------------------------------------------------------- registrations

ELBO = f"{L13}, recap 'ELBO of gaussian diffusion model'"
REPARAM = f"{L13}, recap 'Reparametrization'"
NCSN = f"{L13}, 'DDPM vs NCSN'; {L14}, recap 'DDPM vs NCSN'"
SALIMANS_HO = "Salimans & Ho 2022, v-parametrisation (not on the slides)"


def _any_dtype(builder):
    """A case builder whose draws do not depend on the tested dtype."""
    return lambda dtype: builder()


_REGISTRATIONS = [
    ("linear_beta_schedule", f"{ELBO} (Ho et al. 2020 linear betas)", _any_dtype(_linear_cases)),
    ("cosine_beta_schedule", "Nichol & Dhariwal 2021, eq. 17 (not on the slides)", _any_dtype(_cosine_cases)),
    ("q_step", f"{ELBO} (forward kernel q(x_t | x_(t-1)))", _any_dtype(_noising_cases)),
    ("q_sample", f"{L13}, recap 'Training'; {NCSN}", _any_dtype(_noising_cases)),
    ("q_posterior", ELBO, lambda d: _two_array_cases(d, "x0")),
    ("predict_x0_from_eps", REPARAM, lambda d: _two_array_cases(d, "eps", "predict_x0_from_eps")),
    ("predict_eps_from_x0", REPARAM, lambda d: _two_array_cases(d, "x0", "predict_eps_from_x0")),
    ("velocity", SALIMANS_HO, _two_array_cases),
    ("predict_x0_from_v", SALIMANS_HO, _two_array_cases),
    ("predict_eps_from_v", SALIMANS_HO, _two_array_cases),
    ("eps_to_score", NCSN, _any_dtype(_one_array_cases)),
    ("score_to_eps", NCSN, _any_dtype(_one_array_cases)),
    ("q_score", NCSN, lambda d: _two_array_cases(d, "x0", "q_score")),
    ("p_mean_from_eps", f"{REPARAM}; {L13}, recap 'Sampling'", lambda d: _two_array_cases(d, "eps", "p_mean_from_eps")),
    ("gaussian_kl", ELBO, _any_dtype(_gaussian_kl_cases)),
    ("elbo_weight", REPARAM, _any_dtype(_elbo_weight_cases)),
    ("l_t", f"{ELBO}; {REPARAM}", _any_dtype(_l_t_cases)),
    ("l_simple", f"{L13}, recap 'Simplified objective'", _any_dtype(_l_simple_cases)),
    ("prior_kl", ELBO, _any_dtype(_prior_kl_cases)),
    ("weighted_dsm_loss", f"{L13}, 'Noise Conditioned Score Network (NCSN)'; {NCSN}", _any_dtype(_dsm_cases)),
    ("ddpm_step", f"{L13}, recap 'Sampling'", _ddpm_step_cases),
    ("ddpm_sample", f"{L13}, recap 'Sampling' (Ho et al. Algorithm 2)", _ddpm_sample_cases),
    ("classifier_guided_mean", f"{L14}, 'Classifier guidance' (mean shift)", _any_dtype(_guided_mean_cases)),
    ("classifier_guided_eps", f"{L14}, 'Classifier guidance' (corrected eps)", _any_dtype(_guided_eps_cases)),
    ("classifier_free_guidance", f"{L14}, 'Classifier-free guidance'", _any_dtype(_cfg_cases)),
]

# The training losses and the per-step functions of a training loop or a sampler also run the
# mixed-precision pass (inputs rounded to bfloat16 and float16; see crosscheck.tolerances).
_MIXED_PRECISION = {"q_sample", "l_simple", "l_t", "weighted_dsm_loss", "ddpm_step", "ddpm_sample"}

for _name, _slide, _cases in _REGISTRATIONS:
    _dtypes = ("float64", "float32", *LOW_PRECISION) if _name in _MIXED_PRECISION else ("float64", "float32")
    register_pair("diffusion", _name, slide=_slide, cases=_cases, dtypes=_dtypes)


# --------------------------------------------------------------------------- DDIM (Song, Meng, Ermon 2021)
#
# The accelerated ddim_step computes (x_t + w eps) / r + sigma z in the data's dtype, from coefficients
# formed in float64 and cast once (w = r sqrt(1 - alpha_bar_prev - sigma^2) - sqrt(1 - alpha_bar_t), r =
# sqrt(alpha_bar_t / alpha_bar_prev); with clip_x0: the clipped x0_hat = (x_t - sqrt(1 - alpha_bar) eps) /
# sqrt(alpha_bar), then c_x0 x0_hat + c_xt x_t + sigma z). Its rounding error is a few units of roundoff of
# those terms, so the cases keep only draws whose bound, 4 u * scale (u = eps / 2 of the dtype; scale the
# sum of the absolute terms; 8 u at float64, where the reference rounds as much), fits in the dtype's
# tolerance, as the float32 filter above; and below float64 only draws whose divisors are normal numbers
# of the dtype (a subnormal r or sqrt(alpha_bar) keeps fewer digits: float16 below 6.1e-5).


def _ddim_coefficients(S: ref.Schedule, t: np.ndarray, t_prev: np.ndarray, eta: float, ndim: int):
    """sqrt(alpha_bar_t), sqrt(1 - alpha_bar_t), sqrt(alpha_bar_prev), direction and sigma, shaped to broadcast."""
    first = t_prev < 0
    i = np.where(first, 0, t_prev)
    a_t, m_t = S.alpha_bars[t], S.one_minus_alpha_bars[t]
    a_p, m_p = np.where(first, 1.0, S.alpha_bars[i]), np.where(first, 0.0, S.one_minus_alpha_bars[i])
    sigma2 = eta**2 * m_p / m_t * (1.0 - a_t / a_p)
    direction = np.sqrt(np.maximum(m_p - sigma2, 0.0))
    out = (np.sqrt(a_t), np.sqrt(m_t), np.sqrt(a_p), direction, np.sqrt(sigma2))
    return tuple(np.reshape(c, np.shape(c) + (1,) * (ndim - np.ndim(c))) for c in out)


def _ddim_result_and_scale(x, eps, z, t, t_prev, S, eta, clip, u=EPS["float64"]):
    """The step in float64, the sum of the absolute terms the accelerated side rounds, and its smallest divisor.

    ``u`` (the dtype's unit roundoff) decides which clipped x0_hat are surely clipped: those farther from
    the bound than their own rounding bound, 4 u * scale; the others count with their unclipped scale.
    """
    sa, sm, sa_p, d, sigma = _ddim_coefficients(S, t, t_prev, eta, x.ndim)
    noise_term = 0.0 if z is None else sigma * z
    noise_scale = 0.0 if z is None else sigma * np.abs(z)
    if clip is None:
        r = sa / sa_p
        w = d * r - sm
        return (x + w * eps) / r + noise_term, (np.abs(x) + np.abs(w * eps)) / r + noise_scale, np.min(r)
    x0_hat = (x - sm * eps) / sa
    scale_x0 = (np.abs(x) + sm * np.abs(eps)) / sa
    c0, c1 = sa_p - d * sa / sm, d / sm
    result = c0 * np.clip(x0_hat, *clip) + c1 * x + noise_term
    # a clipped x0_hat is exact unless it lies within its own rounding error of the clip bound
    margin = 4.0 * u * scale_x0
    clipped = (x0_hat < clip[0] - margin) | (x0_hat > clip[1] + margin)
    scale = np.abs(c0) * np.where(clipped, max(abs(clip[0]), abs(clip[1])), scale_x0) + c1 * np.abs(x) + noise_scale
    return result, scale, np.min(sa)


def _roundings(dtype: str) -> float:
    """Roundings of the terms per step: 4 on the accelerated side; at float64 the reference's count too."""
    return 8.0 if dtype == "float64" else 4.0


def _in_range(dtype: str, scale: np.ndarray, divisor: float) -> bool:
    """Below float64: normal divisors and terms well inside the dtype's range."""
    if dtype == "float64":
        return True
    info = np.finfo(np.float32) if dtype == "bfloat16" else np.finfo(dtype)
    return bool(divisor >= info.tiny and np.all(scale <= float(info.max) / 8.0))


def _conditioned(dtype: str, result: np.ndarray, scale: np.ndarray, divisor: float) -> bool:
    tol = tolerance_for("diffusion.ddim_step", dtype)
    bound = _roundings(dtype) * (EPS[dtype] / 2.0) * scale
    return _in_range(dtype, scale, divisor) and bool(np.all(bound <= tol.atol + tol.rtol * np.abs(result)))


def _etas() -> st.SearchStrategy[float]:
    return st.one_of(st.sampled_from([0.0, 1.0, 0.5]), st.floats(0.0, 1.0))


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


def _ddim_chain_conditioned(dtype: str, betas, mean, cov, noise, S: int, eta: float, clip) -> bool:
    """Whether a first-order bound on the chain's rounding error fits in the tolerance.

    The chain runs here in float64 on the rounded noise; each step adds its own rounding, 4 u * scale (as
    for ddim_step, 8 u at float64, where the reference rounds as much; it includes the rounding of the
    model's output to the dtype, u |w eps| / r), and carries the error so far through the step's Jacobian
    in x, which is linear for the exact eps of Gaussian data: |(I + w M_t) / r| with M_t = sqrt(1 -
    alpha_bar_t) (alpha_bar_t Sigma + (1 - alpha_bar_t) I)^-1, or, with clipping, |c_x0| |(I - sqrt(1 -
    alpha_bar_t) M_t) / sqrt(alpha_bar_t)| + c_xt (entrywise absolute values: a worst case). A jump to x_0
    from a late position divides by sqrt(alpha_bar_t) (up to 1e24 for these betas): such chains amplify
    the roundoff of their input accordingly, in any implementation (at float64 too: x_0 = sqrt(alpha_bar)
    x_T for unit-variance data comes out of a difference of two terms 1 / alpha_bar times larger).
    """
    schedule = ref.Schedule(betas)
    model = ref.GaussianEps(mean, cov, schedule)
    lam, Q = np.linalg.eigh(cov)
    u = EPS[dtype] / 2.0
    tau = ref.respaced_timesteps(len(betas), S)
    x = _round(noise[0], dtype)
    error = np.zeros_like(x)
    eye = np.eye(len(mean))
    for k in range(S):
        t, t_prev = tau[S - 1 - k], (tau[S - 2 - k] if k < S - 1 else -1)
        tt, tp = np.full(x.shape[0], t), np.full(x.shape[0], t_prev)
        z = _round(noise[k + 1], dtype) if eta > 0.0 and k < S - 1 else None
        result, scale, divisor = _ddim_result_and_scale(x, model(x, tt), z, tt, tp, schedule, eta, clip, u)
        if not _in_range(dtype, scale, divisor):
            return False
        sa, sm, sa_p, d, _ = (float(np.ravel(c)[0]) for c in _ddim_coefficients(schedule, tt, tp, eta, 2))
        M = sm * (Q / (sa**2 * lam + sm**2)) @ Q.T
        if clip is None:
            J = np.abs((sa_p / sa) * eye + (d - sa_p * sm / sa) * M)
        else:
            J = abs(sa_p - d * sa / sm) * np.abs((eye - sm * M) / sa) + (d / sm) * eye
        error = error @ J.T + _roundings(dtype) * u * scale
        x = result
    tol = tolerance_for("diffusion.ddim_sample", dtype)
    return bool(np.all(error <= tol.atol + tol.rtol * np.abs(x)))


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


_DDIM = "Song, Meng, Ermon 2021, eqs. 12 and 16 (beyond the slides)"
register_pair(
    "diffusion",
    "respaced_timesteps",
    slide="Nichol & Dhariwal 2021, Section 4 (respacing; beyond the slides)",
    cases=_any_dtype(_respaced_cases),
)
register_pair(
    "diffusion", "ddim_step", slide=_DDIM, cases=_ddim_step_cases, dtypes=("float64", "float32", *LOW_PRECISION)
)
register_pair(
    "diffusion",
    "ddim_sample",
    slide=f"{_DDIM}; respaced as Nichol & Dhariwal 2021, Section 4",
    cases=_ddim_sample_cases,
    dtypes=("float64", "float32", *LOW_PRECISION),
)
