"""Argument checks of :mod:`reference.score_matching` and :mod:`accelerated.score_matching` (pure Python).

The options (probe law, exact-trace method), the counts (probes, projections, basis chunks), the
noise-level scalars and the NCSN geometric-sequence arguments are refused the same way on both
sides; the array checks stay per side (``score_matching/_common.py``). No arrays, no formula.
"""

from __future__ import annotations

from . import count, describe, flag, option, optional_count, positive

__all__ = [
    "PROBE_KINDS",
    "TRACE_METHODS",
    "WEIGHTINGS",
    "check_distinct_levels",
    "check_model",
    "geometric_arguments",
    "kde_far_message",
    "kde_log_density_message",
    "levels_message",
    "levels_with_noise",
    "noise_level",
    "probe_arguments",
    "probes_message",
    "trace_arguments",
    "weighting",
]

PROBE_KINDS = ("gaussian", "rademacher")
TRACE_METHODS = ("auto", "factored", "vmap")
WEIGHTINGS = ("sigma2", "none")  # NCSN's per-level weight: Song and Ermon's sigma^2, or the L13 algorithm's none


def check_model(model: object, example: str = "") -> None:
    """A callable score model s(x) (any callable: objectives that only evaluate the model)."""
    if not callable(model):
        raise TypeError(
            f"model: expected a callable score model s(x) of the shape of x{example}, got {describe(model)}"
        )


def noise_level(sigma: object, noise_conditional: object) -> tuple[float, bool]:
    """(sigma, noise_conditional) of a denoising objective: a finite sigma > 0 and a flag."""
    return positive("sigma", sigma), flag("noise_conditional", noise_conditional)


def trace_arguments(chunk_size: object, method: object) -> tuple[int | None, str]:
    """(chunk_size, method) of the exact Jacobian trace: None or a count, and one of TRACE_METHODS."""
    return optional_count("chunk_size", chunk_size), option("method", method, TRACE_METHODS)


def probe_arguments(count_name: str, M: object, kind: object) -> tuple[int | None, str]:
    """(M, kind) of the probe-based estimators: None or a count of probes, and one of PROBE_KINDS."""
    return optional_count(count_name, M), option("kind", kind, PROBE_KINDS)


def probes_message(count_name: str, M: int | None, x_shape: tuple[int, ...], got: tuple[int, ...]) -> str:
    """The error message for probe vectors of the wrong shape (expected (M, *x.shape))."""
    expected = f"({'M' if M is None else M}, {', '.join(str(k) for k in x_shape)})"
    return (
        f"noise: expected probes of shape {expected} ({count_name} probes per sample, x has shape {x_shape}), "
        f"got shape {got}"
    )


def levels_message(L: int, low: int, high: int) -> str:
    """The error message for NCSN level indices outside [0, L)."""
    return f"levels: expected indices in [0, {L}) (L = {L} levels), got min {low} and max {high}"


def levels_with_noise(levels: object, noise: object) -> None:
    """Pre-drawn level indices go with pre-drawn noise, drawn ones with rng=."""
    if noise is None and levels is not None:
        raise ValueError("levels: pre-drawn levels go with noise= (with rng= the levels are drawn), got both")
    if noise is not None and levels is None:
        raise ValueError("levels: required with noise= (the pre-drawn level index of every sample), got None")


def geometric_arguments(sigma_1: object, sigma_L: object, L: object) -> tuple[float, float, int]:
    """(sigma_1, sigma_L, L) of NCSN's geometric levels: sigma_1 > sigma_L > 0 finite, L >= 2 levels."""
    sigma_1, sigma_L, L = positive("sigma_1", sigma_1), positive("sigma_L", sigma_L), count("L", L, minimum=2)
    if not sigma_L < sigma_1:
        raise ValueError(f"sigma_1, sigma_L: expected sigma_1 > sigma_L, got {sigma_1!r} and {sigma_L!r}")
    return sigma_1, sigma_L, L


def check_distinct_levels(decreasing: bool, sigma_1: float, sigma_L: float, L: int) -> None:
    """The computed geometric levels must be strictly decreasing in float64 (``decreasing``)."""
    if not decreasing:
        raise ValueError(
            f"sigma_1, sigma_L, L: the ratio sigma_1 / sigma_L = {sigma_1 / sigma_L!r} is too close to 1 for "
            f"{L} distinct float64 levels"
        )


def weighting(value: object) -> str:
    """The NCSN loss weight lambda(sigma): one of WEIGHTINGS ("sigma2": sigma^2, "none": 1)."""
    return option("weighting", value, WEIGHTINGS)


def kde_far_message(name: str = "x") -> str:
    """The error for finite points at which the KDE score is not finite in float64 (both sides)."""
    return (
        f"{name}: expected points at which the kernel density estimate's score is finite in float64, got points "
        f"whose squared distance to every data point, in units of the bandwidth, overflows (|x - x_k| / bandwidth "
        f"above about 1e154), or whose score (x_k - x) / bandwidth^2 overflows"
    )


def kde_log_density_message(name: str = "x") -> str:
    """The error for finite points at which the KDE log density is not finite in float64 (both sides)."""
    return (
        f"{name}: expected points at which the kernel density estimate's log density is finite, got points whose "
        f"squared distance to every data point, in units of the bandwidth, overflows (|x - x_k| / bandwidth above "
        f"about 1e154), or whose log density leaves the range of x's dtype"
    )
