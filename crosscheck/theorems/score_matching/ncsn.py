"""Theorems on the Noise Conditioned Score Network (NCSN) slides, checked on both sides."""

from __future__ import annotations

import math

import numpy as np

from crosscheck.registry import Evidence, Side, theorem

from ._common import (
    COV,
    EPS,
    MEAN,
    _joint_sigma_points,
    _lib,
    _scalar,
)


@theorem(
    "sigma^2-weighted NCSN loss: one scale at every level (d/2 at s = 0, 1/2 tr(Sigma (Sigma + sigma^2)^-1) at best)",
    slide="Beigy, 'Denoising Score Matching (DSM)' (loss weight); L13, 'Noise Conditioned Score Network (NCSN)'",
)
def ncsn_equal_loss_scale(side: Side) -> Evidence:
    # sigma^2 * 1/2 |s + eps / sigma|^2 = 1/2 |sigma s + eps|^2. Zero model: 1/2 E|eps|^2 = d/2 at every level.
    # Exact noisy score s* = -(x~ - mu) A, A = (Sigma + sigma^2 I)^-1: sigma s* + eps = (I - sigma^2 A) eps
    # - sigma A (x - mu), so E|.|^2 = sum_i [lam_i^2 + sigma^2 lam_i] / (lam_i + sigma^2)^2 = tr(Sigma A):
    # the weighted loss at the optimum is 1/2 tr(Sigma (Sigma + sigma^2 I)^-1) in (0, d/2] for every sigma, while
    # the unweighted one is that / sigma^2. Exact over the joint sigma points; bound: rounding (64 eps).
    sm = _lib(side, "score_matching")
    x, eps = _joint_sigma_points(MEAN, COV)
    d = MEAN.shape[0]
    sigmas = np.array([1.0, 0.1, 0.01])
    n = x.shape[0]

    def optimum(y, sigma):
        sig = side.numpy(sigma)[:, None]
        out = np.stack([-(side.numpy(y)[i] - MEAN) @ np.linalg.inv(COV + sig[i, 0] ** 2 * np.eye(d)) for i in range(n)])
        return side.array(out)

    zero = lambda y, sigma: 0 * y  # noqa: E731
    worst, weighted, unweighted = 0.0, [], []
    for l, sigma in enumerate(sigmas):
        levels = side.array(np.full(n, l)).long() if side.name == "accelerated" else np.full(n, l)
        for model, expected in (
            (zero, d / 2),
            (optimum, 0.5 * float(np.trace(COV @ np.linalg.inv(COV + sigma**2 * np.eye(d))))),
        ):
            value = _scalar(
                side, sm.ncsn_loss(model, side.array(x), side.array(sigmas), levels=levels, noise=side.array(eps))
            )
            worst = max(worst, abs(value - expected) / (64 * EPS * max(expected, 1.0)))
            if model is optimum:
                weighted.append(value)
                unweighted.append(
                    _scalar(
                        side,
                        sm.ncsn_loss(
                            model,
                            side.array(x),
                            side.array(sigmas),
                            levels=levels,
                            noise=side.array(eps),
                            weighting="none",
                        ),
                    )
                )
        if not 0 < weighted[-1] <= d / 2 * (1 + 64 * EPS):
            worst = math.inf
    detail = (
        f"pi = N(mu, Sigma), d = 3, exact over the 12 joint sigma points; sigmas {sigmas.tolist()}; weighted loss "
        f"of the zero model d/2 = {d / 2} at every level; at the exact noisy score: "
        f"{', '.join(f'{v:.6g}' for v in weighted)} (closed form 1/2 tr(Sigma (Sigma + sigma^2 I)^-1) <= d/2); "
        f"unweighted at the optimum: {', '.join(f'{v:.6g}' for v in unweighted)}; measured: worst error in units of "
        "64 eps max(value, 1), bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "Noise levels' rule: sigma_1 = the largest pairwise distance makes the farthest data points' kernels overlap",
    slide="L13, 'Noise Conditioned Score Network (NCSN)'; Beigy, 'Denoising Score Matching (DSM)' (noise levels)",
)
def ncsn_sigma_1_rule(side: Side) -> Evidence:
    # Song and Ermon (2020, Technique 1, Proposition 1): for data points x_i, x_j at distance D and
    # r_j(x) = N(x; x_j, s^2 I) / sum_k N(x; x_k, s^2 I), E_{x ~ N(x_i, s^2 I)} r_j(x) = int p_i p_j / (p_i + p_j),
    # which lies between 1/2 erfc(D / (2 sqrt 2 s)) and erfc(D / (2 sqrt 2 s)) (min/2 <= p_i p_j / (p_i + p_j) <= min).
    # With s = sigma_1 = D (the rule) that is at least 0.31: Langevin at level 1 moves between the farthest modes;
    # at s = D / 10 at most 6e-7. r_j comes from the library's kde_log_density (two-point and one-point KDEs) along
    # the line through x_i and x_j (the other directions cancel), integrated by the trapezoid rule on z in
    # [-12, 12] (error far below 1e-9); the bounds are checked with that slack.
    sm = _lib(side, "score_matching")
    from scipy import special

    rng = np.random.default_rng(2020)
    data = np.concatenate([rng.normal(c, 0.3, size=(40, 2)) for c in ((0.0, 0.0), (4.0, 1.0), (-1.0, 3.5))])
    dist = np.sqrt(np.sum((data[:, None] - data[None]) ** 2, axis=-1))
    i, j = np.unravel_index(np.argmax(dist), dist.shape)
    D = float(dist[i, j])
    sigma_1 = _scalar(side, sm.geometric_sigmas(D, 0.01, 10)[0])
    u = (data[j] - data[i]) / D
    z = np.linspace(-12.0, 12.0, 4801)
    worst, parts = 0.0, []
    for s in (sigma_1, sigma_1 / 10):
        pts = side.array(data[i] + s * z[:, None] * u)
        pair = side.array(data[[i, j]])
        log_r = (
            side.numpy(sm.kde_log_density(pts, side.array(data[[j]]), s))
            - side.numpy(sm.kde_log_density(pts, pair, s))
            - math.log(2)
        )
        density = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        overlap = float(np.trapezoid(density * np.exp(log_r), z))
        low, high = 0.5 * special.erfc(D / (2 * math.sqrt(2) * s)), special.erfc(D / (2 * math.sqrt(2) * s))
        worst = max(worst, low - overlap, overlap - high)
        if s == sigma_1:  # the rule's purpose: a non-negligible overlap (>= 0.3) at the largest level
            worst = max(worst, 0.3 - overlap)
        parts.append(f"s = {s:.4g}: E r_j = {overlap:.4g} in [{low:.4g}, {high:.4g}]")
    detail = (
        f"3 clusters of 40 points in 2-D; largest pairwise distance D = {D:.6g} = sigma_1 (geometric_sigmas(D, "
        "0.01, 10)[0]); "
        + "; ".join(parts)
        + "; measured: worst violation of the erfc bounds (and of E r_j >= 0.3 at sigma_1), bound 1e-9"
    )
    return Evidence(max(worst, 0.0), 1e-9, detail)
