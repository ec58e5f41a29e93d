"""One tolerance table, keyed by dtype, with commented per-formula overrides.

The comparison is ``np.testing.assert_allclose(accelerated, reference, rtol=..., atol=...)``: it
passes where ``|accelerated - reference| <= atol + rtol * |reference|`` elementwise. The reference
always receives the inputs *after* rounding to the tested dtype (upcast back to float64), so the
tolerances measure the accelerated side's arithmetic only, not the rounding of its inputs.

How the defaults were chosen:

* float64: both sides compute the same formula in the same precision, so they differ by the rounding of
  a different order of operations: a few ulp (eps = 2.2e-16) per reduction. ``rtol = atol = 1e-13``
  (450 ulp) leaves room for reductions over thousands of terms, and a difference of one ulp still uses
  2e-3 of it, above the report's headroom flag (1e-3): a tolerance 1000 times wider than anything the
  twins can differ by could not fail. Measured (benchmarks/README.md, "Tolerance usage"): over the 30
  CI inputs and 150 random ones per pair, the 89 pairs without an override used at most 0.08 of it
  (median 2.7e-3; 17 agreed bitwise); the others are chains, iterations and cancellations, with an
  override below that says why. (Until issue 11 the default was 1e-10,
  and the median pair used 2e-6 of it.)
* float32: one ulp is 1.2e-7; reductions over ~1e3 terms and ``log``/``exp`` chains reach ~1e-5.
* float16/bfloat16 (the training losses and samplers, which must run under mixed precision): derived from
  the unit roundoff u = eps / 2 of the dtype (float16 eps = 2**-10, bfloat16 eps = 2**-7), as
  :func:`rounding_tolerance` with a count of roundings. The default allows 8 eps = 16 roundings of
  O(1) terms on the result (each elementwise step of a half-precision formula rounds once, and the
  losses accumulate in float32, so a loss meets it with room; a sampler's state rounds once per step
  and its pairs size the count to their number of steps, in an override that says so).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """``|acc - ref| <= atol + rtol |ref|``; ``why`` says why an override is not the default."""

    rtol: float
    atol: float
    why: str = field(default="", compare=False)


def override(rtol: float, atol: float, *, why: str) -> Tolerance:
    """A per-pair tolerance; ``why`` (required, a sentence at least) says what the default misses."""
    if not isinstance(why, str) or len(why.split()) < 5:
        raise ValueError(f"why: expected a sentence saying why the default tolerance is not enough, got {why!r}")
    return Tolerance(rtol=rtol, atol=atol, why=why)


EPS = {"float64": 2.0**-52, "float32": 2.0**-23, "float16": 2.0**-10, "bfloat16": 2.0**-7}


def rounding_tolerance(dtype: str, roundings: float, scale: float = 1.0) -> Tolerance:
    """Tolerance for ``roundings`` roundings of terms of size ``scale`` in ``dtype``: each costs u = eps / 2.

    ``rtol = roundings * eps / 2`` and ``atol = rtol * scale`` (absolute where the result cancels to
    below the size of its terms).
    """
    rtol = roundings * EPS[dtype] / 2.0
    return Tolerance(rtol=rtol, atol=rtol * scale)


DEFAULT: dict[str, Tolerance] = {
    "float64": Tolerance(rtol=1e-13, atol=1e-13),
    "float32": Tolerance(rtol=2e-5, atol=2e-6),
    "float16": rounding_tolerance("float16", 16),  # rtol = atol = 8 eps = 7.8e-3
    "bfloat16": rounding_tolerance("bfloat16", 16),  # rtol = atol = 8 eps = 6.3e-2
}

# The dtypes of the mixed-precision pass: training losses and samplers register these too.
LOW_PRECISION = ("bfloat16", "float16")

# (pair name, dtype) -> Tolerance, each built by override(..., why=...): the report prints the why.
_FID_WHY = (
    "FID = tr S1 + tr S2 - 2 sum sqrt(lambda_i) cancels to 0 for equal feature sets: its absolute rounding "
    "error is a few ulp of the traces times d (measured 1.9e-12 for tr S ~ 20, d = 3: ~40 ulp of 20), and both "
    "sides clamp at 0 only what comes out negative; the strategies' traces stay below ~1e3, so 1e-10 absolute "
    "covers the cancellation, the relative part stays at the default"
)
_CHAIN_WHY = (
    "a sampler's chain applies S steps whose coefficients divide by sqrt(alpha_bar) and sqrt(1 - alpha_bar) "
    "(up to ~1e2 near the ends of the schedule), so each step amplifies the previous rounding; measured worst "
    "over 180 inputs: {measured} relative, so 1e-12 leaves a factor of ~10"
)
_UPCAST_WHY = (
    "the loss converts half-precision inputs to its float32 (or float64) accumulation dtype before any "
    "arithmetic, so the only half-precision rounding is that of the inputs, which the reference sees too; what "
    "is left is float32 rounding: 64 roundings of O(1) terms (rtol = atol = 3.8e-6) instead of the half-precision "
    "default (7.8e-3, 6.3e-2), which these losses used less than 1e-5 of"
)
_FLOAT64_WHY = (
    "the accelerated side builds this in float64 whatever the input dtype (the schedule tables, the streaming "
    "statistics' accumulators, the 16-pixel Ising enumeration), so at float32 the sides differ by float64 "
    "rounding only: the float64 default, not the float32 one (which they used ~1e-11 of)"
)
OVERRIDES: dict[tuple[str, str], Tolerance] = {
    ("metrics.fid", "float64"): override(1e-10, 1e-10, why=_FID_WHY),
    ("metrics.frechet_distance", "float64"): override(1e-10, 1e-10, why=_FID_WHY),
    ("metrics.fid_infinity", "float64"): override(1e-10, 1e-10, why=_FID_WHY),
    ("transport.sinkhorn", "float64"): override(
        1e-11,
        1e-11,
        why="both sides run the same log-domain Sinkhorn iteration, but their log-sum-exp reductions add in a "
        "different order, and hundreds of iterations carry that rounding into the potentials and the plan; "
        "measured worst over 180 inputs: 5.4e-13 relative (4.3e-12 absolute), so 1e-11 leaves a factor of ~10",
    ),
    ("diffusion.ddim_sample", "float64"): override(1e-12, 1e-12, why=_CHAIN_WHY.format(measured="1.1e-13")),
    ("diffusion.ddpm_sample", "float64"): override(1e-12, 1e-12, why=_CHAIN_WHY.format(measured="4.0e-14")),
    ("distributions.gaussian_posterior_mean", "float64"): override(
        1e-12,
        1e-12,
        why="E[x | y] solves a linear system with Sigma + sigma^2 I, whose condition number (up to ~1e2 on these "
        "draws) multiplies the rounding of the solve; measured worst over 180 inputs: 2.0e-14 relative",
    ),
    ("diffusion.l_t", "float64"): override(
        1e-12,
        1e-12,
        why="L_t divides ||mu_tilde - mu_theta||^2 by 2 beta_tilde_t, which is ~1e-4 at the first positions, so "
        "the rounding of the means is amplified by 1 / beta_tilde; measured worst over 180 inputs: 1.6e-14 "
        "relative (3.6e-12 absolute on values ~1e2)",
    ),
    # Formulas that upcast half-precision inputs before any arithmetic: the rounding that the half-precision
    # default sizes never happens, so the float32 rounding of their arithmetic (or result) is what is left.
    **{
        (name, dtype): override(*[rounding_tolerance("float32", 64).rtol] * 2, why=_UPCAST_WHY)
        for name in (
            "gan.wasserstein_critic_objective",
            "gan.gradient_penalty_from_gradients",
            "gan.r1_penalty_from_gradients",
            "diffusion.l_t",
            "diffusion.weighted_dsm_loss",
        )
        for dtype in LOW_PRECISION
    },
    # Tables and statistics that the accelerated side computes in float64 whatever the input dtype.
    **{
        (name, "float32"): override(1e-13, 1e-13, why=_FLOAT64_WHY)
        for name in (
            "metrics.feature_statistics",
            "energy.ising_denoise",
            "score_matching.geometric_sigmas",
            "diffusion.linear_beta_schedule",
            "diffusion.cosine_beta_schedule",
            "diffusion.elbo_weight",
        )
    },
    ("score_matching.hutchinson_trace", "float32"): override(
        1e-4,
        5e-5,
        why="Hutchinson's estimate averages v^T J v over probes whose terms have both signs and cancel to a "
        "small trace; the float32 products carry rounding relative to |v|^2 ||J|| (up to ~10 on these draws), "
        "not to the small result. Measured worst over 600 random draws: 2.4e-5 absolute at rel 1.9e-5 (usage "
        "0.87 of the default); formula errors (a missing factor, a transposed probe) show at 1e-1",
    ),
    ("gan.classifier_two_sample_test", "float64"): override(
        1e-8,
        1e-10,
        why="the C2ST fits a logistic regression by Newton's method on each side; both stop at a gradient norm "
        "of 1e-10 (float64), so the fitted weights agree to about that, and accuracy and p-value are exact "
        "counts unless a held-out point sits within 1e-10 of the decision boundary",
    ),
    ("gan.classifier_two_sample_test", "float32"): override(
        1e-8,
        1e-10,
        why="tighter than the float32 default: the Newton solve runs in float64 internally (see accelerated.gan), "
        "so the only float32 effect is the rounding of the inputs, which the reference sees too",
    ),
}


def dtype_name(dtype: object) -> str:
    """Canonical short name ('float32', ...) of a torch or NumPy dtype, or of such a name."""
    if isinstance(dtype, str):
        name = dtype.removeprefix("torch.")
    else:
        name = str(dtype).removeprefix("torch.")
        if name not in DEFAULT:
            name = np.dtype(dtype).name
    if name not in DEFAULT:
        raise ValueError(f"dtype: expected one of {sorted(DEFAULT)}, got {dtype!r}")
    return name


def tolerance_for(pair_name: str | None, dtype: object) -> Tolerance:
    """Tolerance for one formula at one dtype: the override if there is one, else the default."""
    name = dtype_name(dtype)
    if pair_name is not None and (pair_name, name) in OVERRIDES:
        return OVERRIDES[(pair_name, name)]
    return DEFAULT[name]


# --------------------------------------------------------------------------- your code (crosscheck.check)
#
# The pair tolerances above measure the accelerated twin, which computes the FID family in float64 at any
# input dtype. A function of yours that computes FID in float32 rounds its covariances, and the trace of
# the matrix square root is not Lipschitz at singular matrices (sqrt(lambda + delta) - sqrt(lambda) is up
# to sqrt(delta)): rounding the entries of S1^(1/2) S2 S1^(1/2), whose eigenvalues are of size s^2, by
# u s^2 moves tr sqrt(.) by up to d sqrt(u) s, where s = tr S1 + tr S2 + ||mu1 - mu2||^2 is the size of
# the terms FID cancels. So below float64 :func:`crosscheck.check` compares these formulas with
# atol = (64 u + d sqrt(u)) s for each input (u = eps / 2): for float32 and d = 4, 1e-3 of s. Measured
# (400 of the pair's float32 inputs, an eigh-based torch FID and a scipy.linalg.sqrtm one, both in
# float32): worst use 0.095 and 0.033 of it, where the pair's default failed 28 and 34 of the 400. A
# wrong formula (a covariance without its n - 1, a missing 2 on the cross term) is off by O(s) and
# still fails (tests/test_check.py).


def _trace_scale(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> tuple[float, int]:
    """s = tr S1 + tr S2 + ||mu1 - mu2||^2 (the largest over any batch axes) and d."""
    s = np.trace(sigma1, axis1=-2, axis2=-1) + np.trace(sigma2, axis1=-2, axis2=-1)
    s = s + np.sum((np.asarray(mu1) - np.asarray(mu2)) ** 2, axis=-1)
    return float(np.max(np.abs(s))), int(np.shape(sigma1)[-1])


def _feature_scale(x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    s = np.sum(np.var(x, axis=-2, ddof=1), axis=-1) + np.sum(np.var(y, axis=-2, ddof=1), axis=-1)
    s = s + np.sum((x.mean(axis=-2) - y.mean(axis=-2)) ** 2, axis=-1)
    return float(np.max(np.abs(s))), int(x.shape[-1])


# pair -> (scale of the terms that cancel, d) from the reference's arguments by name
CANCELLING: dict[str, object] = {
    "metrics.fid": lambda a: _feature_scale(a["features1"], a["features2"]),
    "metrics.frechet_distance": lambda a: _trace_scale(a["mu1"], a["sigma1"], a["mu2"], a["sigma2"]),
}


def tolerance_for_your_code(pair_name: str, dtype: object, arguments: dict) -> Tolerance:
    """The tolerance :func:`crosscheck.check` applies to your function on one input (``arguments``: the
    reference's arguments by name): the pair's, widened below float64 for the formulas in
    :data:`CANCELLING` to atol = (64 u + d sqrt(u)) s of that input (see the comment above)."""
    tol = tolerance_for(pair_name, dtype)
    name = dtype_name(dtype)
    if name == "float64" or pair_name not in CANCELLING:
        return tol
    s, d = CANCELLING[pair_name](arguments)
    u = EPS[name] / 2.0
    atol = (64 * u + d * np.sqrt(u)) * s
    if atol <= tol.atol:
        return tol
    return Tolerance(rtol=tol.rtol, atol=float(atol), why="float32 rounding of a cancelling formula (tolerances.py)")
