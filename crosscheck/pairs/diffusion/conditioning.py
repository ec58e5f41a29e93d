"""Which float32 / half-precision draws the diffusion pairs keep: bounds on the rounding error of a draw.

Following DESIGN.md (reject ill-conditioned draws, as array-api-tests does), the cases below float64
keep only inputs whose first-order rounding-error bound fits in the dtype's tolerance.
"""

from __future__ import annotations

import numpy as np

from crosscheck.agree import _round
from crosscheck.tolerances import EPS, tolerance_for
from reference import diffusion as ref

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
