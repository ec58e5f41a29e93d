"""Argument checks of ``transport`` that both sides share: the order p, the Sinkhorn options and their
epsilon schedule, the number of projections of sliced W_p (pure Python, no arrays, no formula).

The defaults live here too, so that both sides have one copy of them.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from . import count, positive, real

__all__ = [
    "DEFAULT_CHECK_EVERY",
    "DEFAULT_MAX_ITER",
    "DEFAULT_N_PROJECTIONS",
    "DEFAULT_OVERRELAXATION",
    "DEFAULT_SCALING",
    "MAX_ANNEALING_STAGES",
    "SinkhornOptions",
    "check_cost_resolved",
    "cost_scale",
    "epsilon_schedule",
    "n_projections",
    "order",
    "sinkhorn_options",
]

DEFAULT_MAX_ITER = 10_000
DEFAULT_SCALING = 0.5
DEFAULT_OVERRELAXATION = 1.5
DEFAULT_CHECK_EVERY = 10
DEFAULT_N_PROJECTIONS = 50
MAX_ANNEALING_STAGES = 100_000  # an epsilon schedule longer than this is refused (epsilon_scaling too close to 1)


def order(p: object) -> float:
    """The order p >= 1 of W_p (Python or NumPy, integer or float), as a Python ``float``.

    >>> order(2)
    2.0
    >>> order(0.5)
    Traceback (most recent call last):
        ...
    ValueError: p: expected a finite real number >= 1 (W_p is a metric for p >= 1), got 0.5
    """
    value = real("p", p)
    if value < 1.0:
        raise ValueError(f"p: expected a finite real number >= 1 (W_p is a metric for p >= 1), got {value!r}")
    return value


class SinkhornOptions(NamedTuple):
    """The checked options of a Sinkhorn run, as plain Python numbers."""

    epsilon: float
    tol: float
    max_iter: int
    epsilon_scaling: float | None
    omega: float
    check_every: int


def sinkhorn_options(
    epsilon: object,
    tol: object,
    max_iter: object,
    epsilon_scaling: object,
    overrelaxation: object,
    check_every: object,
    default_tol: float,
) -> SinkhornOptions:
    """Check the options of ``sinkhorn`` / ``sinkhorn_divergence``; ``tol=None`` becomes ``default_tol``.

    >>> sinkhorn_options(0.1, None, 100, 0.5, 1.5, 10, 1e-9).tol
    1e-09
    >>> sinkhorn_options(0.1, None, 10.0, 0.5, 1.5, 10, 1e-9)
    Traceback (most recent call last):
        ...
    TypeError: max_iter: expected an integer >= 1, got float 10.0
    """
    epsilon = positive("epsilon", epsilon)
    tol_value = default_tol if tol is None else real("tol", tol)
    if tol_value < 0:
        raise ValueError(f"tol: expected a marginal-error tolerance >= 0 (0: run exactly max_iter), got {tol!r}")
    max_iter = count("max_iter", max_iter)
    if epsilon_scaling is not None:
        epsilon_scaling = real("epsilon_scaling", epsilon_scaling)
        if not 0.0 < epsilon_scaling < 1.0:
            raise ValueError(
                f"epsilon_scaling: expected a ratio in (0, 1) or None (no annealing), got {epsilon_scaling}"
            )
    omega = real("overrelaxation", overrelaxation)
    if not 1.0 <= omega < 2.0:
        raise ValueError(f"overrelaxation: expected omega in [1, 2) (1: plain Sinkhorn), got {omega!r}")
    check_every = count("check_every", check_every)
    return SinkhornOptions(epsilon, tol_value, max_iter, epsilon_scaling, omega, check_every)


def cost_scale(
    squared_diagonal: float, diameter: float, p: float, epsilon: float, largest: float, resolution: float
) -> float:
    r"""Check the cost scale D of a Sinkhorn problem against the working precision; returns D.

    ``squared_diagonal`` is the squared diagonal of the common bounding box of both clouds (the
    largest squared distance the cost computes, up to sqrt(d)), ``diameter`` = D = its root to the
    power p (an upper bound on max C), ``largest`` and ``resolution`` the largest float and the
    machine epsilon of the working dtype. Refused, with a ValueError: squared distances that overflow
    (``x and y``), a cost ``||x - y||^p`` that overflows (``p``), and an ``epsilon`` below
    ``D * resolution``, where the exponents (f + g - C)/epsilon of the plan round by more than 1 (the
    plan would be rounding noise: inf or NaN in float32, a stalled iteration in float64).

    >>> cost_scale(4.0, 4.0, 2.0, 0.1, 1e308, 2.2e-16)
    4.0
    >>> cost_scale(float("inf"), float("inf"), 2.0, 0.1, 1e308, 2.2e-16)
    Traceback (most recent call last):
        ...
    ValueError: x and y: the squared distances between the points overflow (squared diagonal of their
    bounding box inf > 1e+308, the largest float); rescale the data
    """
    if not squared_diagonal <= largest:  # also NaN
        raise ValueError(
            f"x and y: the squared distances between the points overflow (squared diagonal of their bounding box "
            f"{squared_diagonal:.3g} > {largest:.3g}, the largest float); rescale the data"
        )
    if not diameter <= largest:
        raise ValueError(
            f"p: the cost ||x - y||^p overflows: the diagonal of the bounding box of the points, "
            f"{math.sqrt(squared_diagonal):.3g}, to the power p = {p!r} exceeds {largest:.3g}, the largest float"
        )
    if epsilon < diameter * resolution:
        raise ValueError(
            f"epsilon: expected at least {diameter * resolution:.3g} = the cost scale {diameter:.3g} times the "
            f"precision {resolution:.3g} of the data's dtype (below it the exponents (f + g - C)/epsilon round by "
            f"more than 1), got {epsilon!r}"
        )
    return diameter


# The exact transport problem is solved on the scaled cost (D_ij / 2^k)^p (largest entry in [2^-p, 1)).
# An entry below the smallest normal float (2^-1022) is harmless if its squared scaled distance is below
# NEGLIGIBLE_Q (its distance below 2^-52 of the largest: below that distance's rounding) or if the
# optimal cost is at least RESOLVED_TOTAL (its error is then below the rounding of W_p).
NEGLIGIBLE_Q = 2.0**-104
RESOLVED_TOTAL = 2.0**-970


def check_cost_resolved(total: float, unresolved: int, p: float) -> None:
    r"""ValueError naming p where entries of the scaled cost that underflowed float64 decide the result.

    ``total``: the optimal scaled cost; ``unresolved``: the number of entries whose p-th power is below
    2^-1022 although their squared scaled distance is at least :data:`NEGLIGIBLE_Q` (each side counts
    them on its arrays, only where ``total`` < :data:`RESOLVED_TOTAL`).

    >>> check_cost_resolved(0.5, 0, 1.0)
    >>> check_cost_resolved(0.0, 1, 2000.0)
    Traceback (most recent call last):
        ...
    ValueError: p: the cost ||x_i - y_j||^p relative to the largest one underflows float64 at p = 2000.0 for 1
    pair(s) whose distances are not negligible, and the optimal cost depends on them; expected a smaller p (or
    distances of one scale)
    """
    if total >= RESOLVED_TOTAL or not unresolved:
        return
    raise ValueError(
        f"p: the cost ||x_i - y_j||^p relative to the largest one underflows float64 at p = {p!r} for "
        f"{unresolved} pair(s) whose distances are not negligible, and the optimal cost "
        "depends on them; expected a smaller p (or distances of one scale)"
    )


def epsilon_schedule(diameter: float, epsilon: float, scaling: float | None) -> list[float]:
    r"""Annealing :math:`\varepsilon_k = D s^k` while above the target, then the target itself.

    At most :data:`MAX_ANNEALING_STAGES` stages: a finite ``diameter`` is required, and a longer
    schedule (``scaling`` too close to 1 for the ratio D / epsilon) is a ValueError.

    >>> epsilon_schedule(1.0, 0.2, 0.5)
    [1.0, 0.5, 0.25, 0.2]
    >>> epsilon_schedule(1.0, 0.2, None)
    [0.2]
    """
    if not math.isfinite(diameter):
        raise ValueError(f"x and y: the cost scale of the points (diameter^p) is not finite: {diameter!r}")
    schedule = []
    if scaling is not None:
        eps_k = diameter
        while eps_k > epsilon:
            if len(schedule) >= MAX_ANNEALING_STAGES:
                raise ValueError(
                    f"epsilon_scaling: the annealing from the cost scale {diameter:.3g} down to epsilon = "
                    f"{epsilon:.3g} by the ratio {scaling!r} takes more than {MAX_ANNEALING_STAGES} stages; "
                    "expected a smaller ratio (or epsilon_scaling=None)"
                )
            schedule.append(eps_k)
            eps_k *= scaling
    return [*schedule, epsilon]


def n_projections(value: object, columns: int | None) -> int:
    """The number L of directions of sliced W_p.

    ``columns`` is the number of given projections (``None`` with ``rng``): ``value`` must then be
    ``None`` or equal to it; with ``rng``, ``value`` is a count (``None``: 50).

    >>> n_projections(None, None), n_projections(8, None), n_projections(None, 3)
    (50, 8, 3)
    """
    L = None if value is None else count("n_projections", value)
    if columns is None:
        return DEFAULT_N_PROJECTIONS if L is None else L
    if L is not None and L != columns:
        raise ValueError(f"n_projections: expected None or {columns} (the number of columns of projections), got {L}")
    return columns
