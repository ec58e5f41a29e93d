"""Unadjusted Langevin on N(0, s^2): the stationary variance s^2 / (1 - eta / (4 s^2)), not s^2."""

from __future__ import annotations

import math

import numpy as np

from crosscheck.registry import Evidence, Side, theorem

from ._common import L7, L13, _lib, _rng


@theorem(
    "Unadjusted Langevin on N(0, s^2) has stationary variance s^2 / (1 - eta / (4 s^2))",
    slide=f"{L13}, 'Langevin dynamics'; {L7}, 'Langevin dynamic'",
)
def ula_stationary_variance(side: Side) -> Evidence:
    n = 5_000 if side.quick else 20_000
    K = 200
    s2 = 1.0
    etas = (0.25, 0.5, 1.0)
    worst, parts = 0.0, []
    for i, eta in enumerate(etas):
        x0 = side.array(np.zeros((n, 1)))
        out = _lib(side, "langevin").langevin_sample(
            lambda x: -x / s2, x0, step_size=eta, n_steps=K, rng=_rng(side, 10 + i)
        )
        x = side.numpy(out.samples)[:, 0]
        c = 1.0 - eta / (2.0 * s2)  # AR(1) factor: x' = c x + sqrt(eta) eps
        v = s2 / (1.0 - eta / (4.0 * s2))  # = eta / (1 - c^2)
        v_K = v * (1.0 - c ** (2 * K))  # started at 0: the variance after K steps (c^400 < 1e-23 here)
        v_hat = float(np.mean(x**2))  # the mean is known (0): SE of v_hat is v sqrt(2 / n)
        worst = max(worst, abs(v_hat / v_K - 1.0))
        z_naive = (v_hat - s2) / (v_K * math.sqrt(2.0 / n))
        parts.append(
            f"eta = {eta}: v_hat = {v_hat:.4f}, s^2/(1 - eta/4s^2) = {v:.4f}, z of v_hat against s^2 = {z_naive:.0f}"
        )
    bound = 4.0 * math.sqrt(2.0 / n)
    detail = (
        f"ULA chains x' = x + (eta/2)(-x/s^2) + sqrt(eta) eps, s^2 = 1, {n} chains from x0 = 0, {K} steps, "
        f"own rng; measured max |v_hat / v - 1| over eta; bound 4 standard errors of v_hat = mean(x^2) "
        f"(relative SE sqrt(2/n)); {'; '.join(parts)}"
    )
    return Evidence(worst, bound, detail)
