"""Shapes of the Gaussian and Gaussian-mixture arguments, checked alike on both sides (pure Python).

Each function takes shapes (tuples, or ``torch.Size``), raises the ``ValueError`` that names the
argument, and returns the sizes read from them. The array checks (finite, simplex, positive definite)
stay on each side.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence

__all__ = [
    "far_points_message",
    "gaussian_dim",
    "mixture_sizes",
    "one_d_sizes",
    "points",
    "squared",
    "stds_square_message",
    "uniforms",
]


def gaussian_dim(mean: Sequence[int], cov: Sequence[int]) -> int:
    """d of a mean (d,) and a covariance (d, d), d >= 1.

    >>> gaussian_dim((2,), (2, 2))
    2
    """
    mean, cov = tuple(mean), tuple(cov)
    if len(mean) != 1 or mean[0] == 0:
        raise ValueError(f"mean: expected a vector of shape (d,) with d >= 1, got shape {mean}")
    d = mean[0]
    if cov != (d, d):
        raise ValueError(f"cov: expected shape ({d}, {d}) (d = {d} from mean), got shape {cov}")
    return d


def mixture_sizes(weights: Sequence[int], means: Sequence[int], covs: Sequence[int]) -> tuple[int, int]:
    """(K, d) of weights (K,), means (K, d) with d >= 1 and covariances (K, d, d).

    >>> mixture_sizes((3,), (3, 2), (3, 2, 2))
    (3, 2)
    """
    weights, means, covs = tuple(weights), tuple(means), tuple(covs)
    if len(weights) != 1:
        raise ValueError(f"weights: expected a vector of shape (K,), got shape {weights}")
    K = weights[0]
    if len(means) != 2 or means[0] != K or means[1] == 0:
        raise ValueError(f"means: expected shape ({K}, d) with d >= 1 (K = {K} from weights), got {means}")
    d = means[1]
    if covs != (K, d, d):
        raise ValueError(f"covs: expected shape ({K}, {d}, {d}) (K, d from means), got shape {covs}")
    return K, d


def one_d_sizes(means: Sequence[int], stds: Sequence[int]) -> int:
    """K of the means (K,) and standard deviations (K,) of a 1-D mixture."""
    means, stds = tuple(means), tuple(stds)
    if len(means) != 1 or stds != means:
        raise ValueError(f"means, stds: expected two vectors of one shape (K,), got {means} and {stds}")
    return means[0]


def stds_square_message(dtype: str) -> str:
    """The error for standard deviations whose squares (the variances) overflow ``dtype``: both sides raise it.

    >>> stds_square_message("float64")[:5]
    'stds:'
    """
    return (
        f"stds: expected standard deviations whose squares (the variances) are finite in {dtype}, got one whose "
        f"square overflows"
    )


def points(name: str, shape: Sequence[int], d: int, d_from: str) -> None:
    """Points of shape (..., d), d read from the parameter ``d_from``."""
    shape = tuple(shape)
    if len(shape) < 1 or shape[-1] != d:
        raise ValueError(f"{name}: expected points of shape (..., {d}) (d = {d} from {d_from}), got {shape}")


def uniforms(shape: Sequence[int], noise: Sequence[int]) -> None:
    """One uniform per sample: the batch shape of ``noise`` (..., d)."""
    shape, noise = tuple(shape), tuple(noise)
    if shape != noise[:-1]:
        raise ValueError(
            f"uniforms: expected shape {noise[:-1]} (one per sample: noise has shape {noise}), got {shape}"
        )


def squared(name: str, value: float, *, divisor: bool = False) -> float:
    """``value**2`` of a checked scale (a Python float), refused where the square overflows float64.

    A scale above about 1.3e154 squares past float64's largest value (Python raises ``OverflowError``):
    refused with a ``ValueError`` naming the argument. With ``divisor=True`` (a square the formula
    divides by, e.g. a kernel bandwidth) a square below the smallest normal float64 (a scale below
    about 1.5e-154, whose reciprocal overflows) is refused too.

    >>> squared("sigma", 3.0)
    9.0
    """
    try:
        s = value**2
    except OverflowError:
        s = math.inf
    if s == math.inf:
        raise ValueError(
            f"{name}: expected a scale whose square is finite in float64 (below about 1.3e154), got {value!r}"
        )
    if divisor and s < sys.float_info.min:
        raise ValueError(
            f"{name}: expected a scale whose square is a normal float64 (above about 1.5e-154: the formula divides "
            f"by it), got {value!r}"
        )
    return s


def far_points_message(name: str, quantity: str) -> str:
    """The error for finite points at which a mixture's ``quantity`` (score, responsibilities, posterior
    mean) is not finite in float64: both sides raise it (the reference at once, the accelerated side
    through a device-side check)."""
    return (
        f"{name}: expected points at which the mixture's {quantity} is finite in float64, got points whose "
        f"squared Mahalanobis distance to every component overflows (|{name} - mean_k| too large for the "
        f"covariances), or whose component scores overflow"
    )
