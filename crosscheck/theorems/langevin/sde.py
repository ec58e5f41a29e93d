"""SDE basics (Lecture 13): Euler-Maruyama on the Ornstein-Uhlenbeck SDE, and the Langevin SDE's stationary law.

* dx = -theta x dt + s dw from x0: the mean x0 e^{-theta T} and variance s^2 / (2 theta) (1 - e^{-2 theta T})
  at time T, within the Monte-Carlo error plus the scheme's O(dt) bias.
* dx = grad log p(x) dt + sqrt(2) dw leaves p stationary: on p = N(m, s^2) the Euler-Maruyama paths' mean,
  variance and histogram (Kolmogorov-Smirnov distance) match p within the Monte-Carlo error plus the
  O(dt) bias.

Both bounds are stated as (4 standard errors) + |bias of the Euler-Maruyama moments|, where the bias is the
closed form of the scheme's own moments (on a linear SDE the scheme is an AR(1) recursion
x' = c x + b eps, c = 1 - theta dt, b = s sqrt(dt), with mean c^K x0 and variance b^2 (1 - c^{2K}) / (1 - c^2))
minus the SDE's; it is O(dt), printed with its ratio to dt. A step that used dt for sqrt(dt), or the wrong
sign or factor of the drift, moves a moment by many times the bound.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import stats

from crosscheck.registry import Evidence, Side, theorem

from ._common import L13, _lib, _rng


def _ar1_moments(c: float, b2: float, x0: float, mean_target: float, K: int) -> tuple[float, float]:
    """Mean and variance after K steps of x' = c x + (1 - c) mean_target + b eps from x0 (closed form)."""
    mean = mean_target + (x0 - mean_target) * c**K
    var = b2 * (1.0 - c ** (2 * K)) / (1.0 - c * c)
    return mean, var


@theorem(
    "Euler-Maruyama on dx = -theta x dt + s dw: mean x0 e^{-theta T}, variance s^2/(2 theta)(1 - e^{-2 theta T})",
    slide=f"{L13} 'SDE basics'",
)
def sde_ornstein_uhlenbeck(side: Side) -> Evidence:
    n = 5_000 if side.quick else 20_000
    theta, s, x0, T, K = 1.5, 0.8, 2.0, 1.0, 50
    dt = T / K
    noise = np.random.default_rng(31).standard_normal((K, n, 1))  # given draws, the same on both sides
    out = _lib(side, "langevin").euler_maruyama_solve(
        lambda x, t: -theta * x,
        lambda t: s,
        side.array(np.full((n, 1), x0)),
        side.array(np.linspace(0.0, T, K + 1)),
        noise=side.array(noise),
    )
    x = side.numpy(out.samples)[:, 0]
    mean_sde = x0 * math.exp(-theta * T)
    var_sde = s**2 / (2.0 * theta) * (1.0 - math.exp(-2.0 * theta * T))
    mean_em, var_em = _ar1_moments(1.0 - theta * dt, s * s * dt, x0, 0.0, K)
    m_hat, v_hat = float(x.mean()), float(x.var(ddof=1))
    rows = (
        ("mean", m_hat, mean_sde, mean_em, math.sqrt(var_em / n)),
        ("variance", v_hat, var_sde, var_em, var_em * math.sqrt(2.0 / (n - 1))),  # Gaussian: SE v sqrt(2/(n-1))
    )
    worst, parts = 0.0, []
    for name, est, exact, em, se in rows:
        allowed = 4.0 * se + abs(em - exact)
        worst = max(worst, abs(est - exact) / allowed)
        parts.append(
            f"{name}: {est:.5f} vs closed form {exact:.5f} (|diff| {abs(est - exact):.2e}; EM bias {em - exact:+.2e} "
            f"= {(em - exact) / dt:+.3f} dt; 4 SE {4 * se:.2e})"
        )
    detail = (
        f"theta = {theta}, s = {s}, x0 = {x0}, T = {T}, K = {K} steps (dt = {dt}), {n} paths from given noise; "
        f"measured max over mean and variance of |estimate - closed form| / (4 SE + |EM bias|); bound 1. "
        + "; ".join(parts)
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "The Langevin SDE dx = grad log p(x) dt + sqrt(2) dw has p as its stationary law (Euler-Maruyama, N(m, s^2))",
    slide=f"{L13} 'Langevin dynamics'",
)
def sde_langevin_stationary(side: Side) -> Evidence:
    n = 5_000 if side.quick else 20_000
    m, s2, dt, K = 1.0, 0.5, 0.01, 500
    out = _lib(side, "langevin").euler_maruyama_solve(
        lambda x, t: -(x - m) / s2,  # the score of N(m, s^2)
        lambda t: math.sqrt(2.0),
        side.array(np.zeros((n, 1))),
        [k * dt for k in range(K + 1)],
        rng=_rng(side, 32),
    )
    x = side.numpy(out.samples)[:, 0]
    # The scheme: x' = c x + (1 - c) m + sqrt(2 dt) eps, c = 1 - dt / s^2; stationary variance s^2 / (1 - dt / (2 s^2)).
    mean_em, var_em = _ar1_moments(1.0 - dt / s2, 2.0 * dt, 0.0, m, K)
    m_hat, v_hat = float(x.mean()), float(x.var(ddof=1))
    worst, parts = 0.0, []
    for name, est, exact, em, se in (
        ("mean", m_hat, m, mean_em, math.sqrt(var_em / n)),
        ("variance", v_hat, s2, var_em, var_em * math.sqrt(2.0 / (n - 1))),
    ):
        allowed = 4.0 * se + abs(em - exact)
        worst = max(worst, abs(est - exact) / allowed)
        parts.append(f"{name}: {est:.5f} vs p's {exact:.5f} (EM bias {em - exact:+.2e}, 4 SE {4 * se:.2e})")
    # Histogram: KS distance to p, allowed the KS critical value at level 1e-3 plus the KS distance
    # between the scheme's own law N(mean_em, var_em) and p (sup of the CDF difference, on a fine grid).
    grid = np.linspace(m - 8.0, m + 8.0, 20_001)
    cdf_gap = float(np.max(np.abs(stats.norm.cdf(grid, mean_em, math.sqrt(var_em)) - stats.norm.cdf(grid, m, s2**0.5))))
    ks = float(stats.kstest(x, stats.norm(m, math.sqrt(s2)).cdf).statistic)
    ks_allowed = math.sqrt(-math.log(1e-3 / 2.0) / 2.0) / math.sqrt(n) + cdf_gap
    worst = max(worst, ks / ks_allowed)
    parts.append(
        f"KS distance {ks:.4f} (critical value at 1e-3 plus the scheme's CDF gap {cdf_gap:.1e}: {ks_allowed:.4f})"
    )
    detail = (
        f"p = N({m}, {s2}), drift its score, g = sqrt 2, dt = {dt}, K = {K} steps (T = {K * dt}) from x0 = 0, {n} "
        f"paths, own rng; measured max of |moment - p's| / (4 SE + |EM bias|) and KS / (critical + gap); bound 1. "
        + "; ".join(parts)
    )
    return Evidence(worst, 1.0, detail)


def _grid_law(drift, x0s: np.ndarray, dt: float, K: int, edges: np.ndarray) -> np.ndarray:
    """The Euler-Maruyama chain x' = x + f(x) dt + sqrt(2 dt) eps on a grid: the CDF at ``edges`` after K steps
    from the equal mixture of the points ``x0s`` (cell masses moved by the Gaussian kernel from cell centres)."""
    centres = 0.5 * (edges[1:] + edges[:-1])
    sd = math.sqrt(2.0 * dt)

    def kernel(points: np.ndarray) -> np.ndarray:  # rows: the next cell's mass from each point
        cdf = stats.norm.cdf((edges[None, :] - (points + drift(points) * dt)[:, None]) / sd)
        return np.diff(cdf, axis=1)

    mass = kernel(x0s).mean(axis=0)
    P = kernel(centres)
    for _ in range(K - 1):
        mass = mass @ P
    return np.concatenate([[0.0], np.cumsum(mass)])


def _well_score(x):
    """The score x - x^3 of p(x) ~ exp(x^2/2 - x^4/4): wells at +-1, barrier 1/4 (arrays and tensors alike)."""
    return x - x * x * x


@functools.lru_cache(maxsize=2)
def _double_well_laws(dt: float, K: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Grid edges, p's CDF there (trapezoid quadrature) and the KS gap between p and the scheme's own law after K
    steps from +-1 (propagated on the grid): the O(dt) bias plus the transient (side-independent, computed once)."""
    edges = np.linspace(-3.5, 3.5, 701)
    dens = np.exp(edges**2 / 2.0 - edges**4 / 4.0)
    cdf_p = np.concatenate([[0.0], np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(edges))])
    cdf_p /= cdf_p[-1]
    cdf_em = _grid_law(_well_score, np.array([1.0, -1.0]), dt, K, edges)
    return edges, cdf_p, float(np.max(np.abs(cdf_em - cdf_p)))


@theorem(
    "The Langevin SDE dx = grad log p(x) dt + sqrt(2) dw has p as its stationary law (double well e^{x^2/2 - x^4/4})",
    slide=f"{L13} 'Langevin dynamics'",
)
def sde_langevin_double_well(side: Side) -> Evidence:
    n = 5_000 if side.quick else 20_000
    dt, K = 0.01, 500
    x0 = np.where(np.arange(n) % 2 == 0, 1.0, -1.0)[:, None]  # half the paths in each well
    out = _lib(side, "langevin").euler_maruyama_solve(
        lambda x, t: _well_score(x),
        lambda t: math.sqrt(2.0),
        side.array(x0),
        [k * dt for k in range(K + 1)],
        rng=_rng(side, 33),
    )
    x = side.numpy(out.samples)[:, 0]
    edges, cdf_p, gap = _double_well_laws(dt, K)
    dens = np.exp(edges**2 / 2.0 - edges**4 / 4.0)
    ks = float(np.max(np.abs(np.searchsorted(np.sort(x), edges, side="right") / n - cdf_p)))
    # Bound: the KS critical value at level 1e-3 (asymptotic, sqrt(-log(5e-4) / 2) / sqrt(n)) plus the gap between
    # the chain's law and p (the KS distance on the grid edges is at most the continuous one).
    allowed = math.sqrt(-math.log(1e-3 / 2.0) / 2.0) / math.sqrt(n) + gap
    m2_hat = float(np.mean(x**2))
    m2_p = float(np.sum(edges**2 * dens) / np.sum(dens))
    detail = (
        f"p ~ exp(x^2/2 - x^4/4) (double well), drift its score x - x^3, g = sqrt 2, dt = {dt}, K = {K} steps from "
        f"x0 = +-1 (half each), {n} paths, own rng; measured the KS distance {ks:.4f} of the paths at T = {K * dt} "
        f"to p (on {edges.size - 1} grid cells); bound: critical value at 1e-3 + the KS gap {gap:.1e} between the "
        f"scheme's own law (propagated on the grid) and p = {allowed:.4f}. E x^2: {m2_hat:.4f} (p: {m2_p:.4f})"
    )
    return Evidence(ks, allowed, detail)
