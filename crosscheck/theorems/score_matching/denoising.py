"""Theorems on denoising score matching, explicit SM with a KDE and Tweedie's formula, checked on both sides.

* denoising score matching = Fisher divergence to the noisy marginal + const in theta: exactly
  (Gaussian data, linear scores) and by Monte Carlo (MLP scores);
* explicit score matching with a Gaussian KDE of bandwidth h = DSM with sigma = h + const (Vincent 2011);
* Tweedie's formula gives the exact posterior mean for a Gaussian and for a mixture prior;
* the DSM optimum is the noisy score, and the variance of the DSM objective as sigma -> 0.
"""

from __future__ import annotations

import math

import numpy as np

from crosscheck.registry import Evidence, Side, theorem

from ._common import (
    COV,
    COV_2D,
    EPS,
    MEAN,
    MEAN_2D,
    MIX_COVS,
    MIX_MEANS,
    MIX_WEIGHTS,
    Z_BOUND,
    _gaussian,
    _joint_sigma_points,
    _lib,
    _linear_thetas,
    _mlp_scores,
    _mlp_thetas,
    _model,
    _scalar,
)

# --------------------------------------------------------------------------- denoising score matching


@theorem(
    "Denoising score matching = Fisher divergence to the noisy marginal + const (Gaussian data, exact)",
    slide="L7, 'Denoising score matching' (theorem and proof); L13, 'Denoising score matching'",
)
def dsm_minus_esm_exact(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    x, eps = _joint_sigma_points(MEAN, COV)
    d = MEAN.shape[0]
    worst, parts = 0.0, []
    for sigma in (0.1, 0.7, 2.0):
        x_tilde = x + sigma * eps  # the points denoising_score_matching evaluates the model at
        q_sigma = _gaussian(side, MEAN, COV).convolve(sigma)
        grad_log_q = q_sigma.score(side.array(x_tilde))
        c = d / (2 * sigma**2) - 0.5 * float(np.trace(np.linalg.inv(COV + sigma**2 * np.eye(d))))
        thetas = _linear_thetas(d, np.random.default_rng(2011), 5)
        diffs, scale = [], abs(c)
        for params in thetas:
            model = _model(side, "LinearScore", params)
            dsm = _scalar(side, sm.denoising_score_matching(model, side.array(x), sigma, noise=side.array(eps)))
            esm = _scalar(side, sm.fisher_divergence(model(side.array(x_tilde)), grad_log_q))
            diffs.append(dsm - esm)
            scale = max(scale, abs(dsm), abs(esm))
        err = max(abs(v - c) for v in diffs)
        worst = max(worst, err / (64 * EPS * scale))
        parts.append(f"sigma = {sigma}: const {c:.12g}, max |DSM - ESM - const| = {err:.3g}")
    detail = (
        "pi = N(mu, Sigma), d = 3; (x, eps) over the 12 joint sigma points (exact expectations of the "
        "quadratic objectives); 5 linear scores; ESM = fisher_divergence(s(x~), grad log q_sigma(x~)) with "
        "q_sigma = Gaussian.convolve(sigma); const = d / (2 sigma^2) - 1/2 tr((Sigma + sigma^2 I)^-1); "
        + "; ".join(parts)
        + "; measured: worst error in units of 64 eps max(|DSM|, |ESM|, |const|) (rounding), bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "Denoising score matching = Fisher divergence to the noisy marginal + const (MLP scores, Monte Carlo)",
    slide="L7, 'Denoising score matching'; Beigy, DSM slides (Vincent 2011)",
)
def dsm_minus_esm_mlp(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    n = 4_000 if side.quick else 20_000
    sigma, d = 0.5, 2
    rng = np.random.default_rng(2011)
    x = MEAN_2D + rng.standard_normal((n, d)) @ np.linalg.cholesky(COV_2D).T
    eps = rng.standard_normal((n, d))
    x_tilde = x + sigma * eps
    grad_log_q = _gaussian(side, MEAN_2D, COV_2D).convolve(sigma).score(side.array(x_tilde))
    g = side.numpy(grad_log_q)
    c = d / (2 * sigma**2) - 0.5 * float(np.trace(np.linalg.inv(COV_2D + sigma**2 * np.eye(d))))
    z_scores = []
    for params in _mlp_thetas(d, rng, 4):
        model = _model(side, "MLPScore", params)
        dsm = _scalar(side, sm.denoising_score_matching(model, side.array(x), sigma, noise=side.array(eps)))
        esm = _scalar(side, sm.fisher_divergence(model(side.array(x_tilde)), grad_log_q))
        s = _mlp_scores(params, x_tilde)
        per_sample = np.sum(s * (eps / sigma + g), axis=1) + 0.5 * np.sum((eps / sigma) ** 2 - g**2, axis=1)
        se = float(np.std(per_sample, ddof=1)) / math.sqrt(n)
        z_scores.append(abs(dsm - esm - c) / se)
    detail = (
        f"pi = N(mu, Sigma), d = 2, sigma = {sigma}, n = {n} pairs (x, eps) shared by 4 tanh-MLP scores; "
        f"z = |DSM - ESM - const| / SE, const = d / (2 sigma^2) - 1/2 tr((Sigma + sigma^2 I)^-1), SE from "
        f"the per-sample terms s.(eps / sigma + grad log q) + (|eps|^2 / sigma^2 - |grad log q|^2) / 2; "
        f"z-scores {', '.join(f'{z:.2f}' for z in z_scores)}; bound {Z_BOUND}"
    )
    return Evidence(max(z_scores), Z_BOUND, detail)


@theorem(
    "Explicit score matching with a Gaussian KDE = DSM with sigma = bandwidth + const (Vincent 2011)",
    slide="Beigy, 'Score Matching (SM)' (J_esm with a KDE) and the DSM slides",
)
def esm_kde_equals_dsm(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    m = 40
    repeats = 25 if side.quick else 50  # the KDE of the repeated data set is the same density
    h, d = 0.4, 2
    rng = np.random.default_rng(1661)
    data = np.tile(MEAN_2D + rng.standard_normal((m, d)) @ np.linalg.cholesky(COV_2D).T, (repeats, 1))
    eps = rng.standard_normal(data.shape)
    x_tilde = data + h * eps
    kde = side.numpy(sm.kde_score(side.array(x_tilde), side.array(data[:m]), h))
    thetas = _mlp_thetas(d, rng, 4)
    diffs, per_sample = [], []
    for params in thetas:
        model = _model(side, "MLPScore", params)
        esm = _scalar(side, sm.explicit_score_matching(model, side.array(data), h, noise=side.array(eps)))
        dsm = _scalar(side, sm.denoising_score_matching(model, side.array(data), h, noise=side.array(eps)))
        diffs.append(dsm - esm)
        per_sample.append(np.sum(_mlp_scores(params, x_tilde) * (eps / h + kde), axis=1))
    # DSM - ESM = mean_k [s(x~_k).(eps_k / h + grad log q(x~_k))] + (theta-free terms): differences between
    # thetas cancel the theta-free terms exactly (common random numbers); their SE comes from the first term.
    z_scores = []
    for k in range(1, len(thetas)):
        se = float(np.std(per_sample[k] - per_sample[0], ddof=1)) / math.sqrt(data.shape[0])
        z_scores.append(abs(diffs[k] - diffs[0]) / se)
    detail = (
        f"{m} data points (N(mu, Sigma), d = 2) repeated {repeats} times, h = sigma = {h}, one shared draw "
        f"eps per point; DSM - ESM for 4 tanh-MLP scores: {', '.join(f'{v:.6f}' for v in diffs)}; z-scores of "
        f"the differences to the first: {', '.join(f'{z:.2f}' for z in z_scores)}; bound {Z_BOUND}"
    )
    return Evidence(max(z_scores), Z_BOUND, detail)


# --------------------------------------------------------------------------- Tweedie


@theorem(
    "Tweedie's formula = exact posterior mean E[x | y] (Gaussian and mixture priors)",
    slide='L8, "Tweedie\'s Formula" and its proof',
)
def tweedie_exact(side: Side) -> Evidence:
    sm, dist = _lib(side, "score_matching"), _lib(side, "distributions")
    rng = np.random.default_rng(2011_06)
    priors = {
        "Gaussian d=3": (_gaussian(side, MEAN, COV), 3),
        "mixture d=2, K=3": (
            dist.GaussianMixture(side.array(MIX_WEIGHTS), side.array(MIX_MEANS), side.array(MIX_COVS)),
            2,
        ),
    }
    worst, parts = 0.0, []
    for name, (prior, d) in priors.items():
        for sigma in (0.05, 0.5, 2.0):
            y = rng.normal(scale=3.0, size=(200, d))
            y[:5] *= 10.0  # far from every component: the mixture responsibilities come from tiny densities
            ys = side.array(y)
            tweedie = side.numpy(sm.tweedie_denoise(ys, prior.convolve(sigma).score(ys), sigma))
            exact = side.numpy(prior.posterior_mean(ys, sigma))
            # y + sigma^2 s(y) cancels when sigma^2 s(y) ~ -y, and the solves mix coordinates: the rounding
            # is relative to the largest of |y|, |sigma^2 s|, |E[x|y]| over the row.
            scale = np.max(np.abs(y) + np.abs(tweedie - y) + np.abs(exact), axis=1, keepdims=True)
            err = float(np.max(np.abs(tweedie - exact) / scale))
            worst = max(worst, err)
            parts.append(f"{name}, sigma = {sigma}: {err:.2g}")
    # Two Cholesky solves with condition numbers <= 4.7 (Sigma + sigma^2 I is better conditioned than Sigma)
    # and a handful of sums: a few ulp times the condition number.
    bound = 64 * EPS
    detail = (
        "tweedie_denoise(y, p_sigma.score(y), sigma) vs distributions' closed-form posterior_mean, 200 points "
        "(5 of them 10x farther out) per prior and sigma; measured max |difference| / max over the row of "
        "(|y| + |sigma^2 s| + |E[x|y]|): "
        + ", ".join(parts)
        + "; bound 64 eps (rounding of two solves, condition <= 4.7)"
    )
    return Evidence(worst, bound, detail)


@theorem(
    "The DSM optimum is the score of the noisy law N(mu, Sigma + sigma^2 I), not of the data (linear scores, exact)",
    slide="Beigy, 'Denoising Score Matching (DSM)' (DSM matches the noisy law); L7, 'Denoising score matching'",
)
def dsm_optimum_is_noisy_score(side: Side) -> Evidence:
    # For a linear score s = x W + b the DSM objective is an exact quadratic in theta = (W, b) over the joint sigma
    # points, so central differences with any step give its exact gradient (up to rounding, |J| eps / step). At
    # theta* = (-(Sigma + sigma^2 I)^-1, mu (Sigma + sigma^2 I)^-1), the score of the noisy law, every component
    # must vanish (bound 1e4 eps |J| / step); at the data's own score (-Sigma^-1, mu Sigma^-1) the gradient must
    # not vanish (its norm at least 1e3 times that bound): a least-squares fit reaches q_sigma's score, not pi's.
    sm = _lib(side, "score_matching")
    x, eps = _joint_sigma_points(MEAN, COV)
    xs, es = side.array(x), side.array(eps)
    d, step = MEAN.shape[0], 1e-3

    def J(W: np.ndarray, b: np.ndarray, sigma: float) -> float:
        return _scalar(
            side, sm.denoising_score_matching(_model(side, "LinearScore", {"W": W, "b": b}), xs, sigma, noise=es)
        )

    def gradient(W: np.ndarray, b: np.ndarray, sigma: float) -> np.ndarray:
        theta = np.concatenate([W.ravel(), b])
        g = np.empty_like(theta)
        for k in range(theta.size):
            e = np.zeros_like(theta)
            e[k] = step
            up, down = theta + e, theta - e
            g[k] = (
                J(up[: d * d].reshape(d, d), up[d * d :], sigma) - J(down[: d * d].reshape(d, d), down[d * d :], sigma)
            ) / (2 * step)
        return g

    worst, parts = 0.0, []
    for sigma in (0.3, 1.0):
        A = np.linalg.inv(COV + sigma**2 * np.eye(d))
        W_star, b_star = -A, MEAN @ A
        bound = 1e4 * EPS * max(abs(J(W_star, b_star, sigma)), 1.0) / step
        g_star = float(np.max(np.abs(gradient(W_star, b_star, sigma))))
        P = np.linalg.inv(COV)
        g_data = float(np.max(np.abs(gradient(-P, MEAN @ P, sigma))))
        worst = max(worst, g_star / bound, 1e3 * bound / g_data)
        parts.append(
            f"sigma = {sigma}: max |grad J| at q_sigma's score {g_star:.3g}, at pi's score {g_data:.3g} "
            f"(bound {bound:.3g})"
        )
    detail = (
        "pi = N(mu, Sigma), d = 3; DSM exact over the 12 joint sigma points of (x, eps); gradient in (W, b) by "
        f"central differences (step {step}, exact for a quadratic); "
        + "; ".join(parts)
        + "; measured: max(|grad at theta*| / bound, 1e3 bound / |grad at the data score|), bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "DSM as sigma -> 0: Var(z^T grad log p / sigma) ~ sigma^-2 and Var(|z|^2 / sigma^2) ~ sigma^-4 (measured slopes)",
    slide="Beigy, 'Denoising Score Matching (DSM)' (the variance of DSM as sigma -> 0)",
)
def dsm_variance_slopes(side: Side) -> Evidence:
    # The DSM estimator with the zero model is the mean of |z|^2 / (2 sigma^2); with a model s minus that, the mean
    # of z^T s(x + sigma z) / sigma + 1/2 |s|^2, whose variance is E|s|^2 / sigma^2 + O(1) as sigma -> 0. The
    # per-sample variances are measured from B batch means (variance of the mean times the batch size) at sigma =
    # 1e-3 .. 1e-1, and the log-log slopes fitted. With B = 200 batches the variance estimates have a relative
    # standard error sqrt(2 / B) = 10 %, i.e. a slope error about 0.1 sqrt(2) / ln(100) = 0.03 per end:
    # |slope + 2| and |slope + 4| <= 0.25 (8 standard errors) separate the two rates and fail on 1/sigma.
    sm = _lib(side, "score_matching")
    rng = np.random.default_rng(2011)
    d, B, m = 2, 200 if side.quick else 400, 16
    x = rng.multivariate_normal(MEAN_2D, COV_2D, size=(B, m))
    z = rng.standard_normal((B, m, d))
    model = _model(side, "LinearScore", {"W": -np.linalg.inv(COV_2D), "b": MEAN_2D @ np.linalg.inv(COV_2D)})
    zero = _model(side, "LinearScore", {"W": np.zeros((d, d)), "b": np.zeros(d)})
    sigmas = np.array([1e-3, 3e-3, 1e-2, 3e-2, 1e-1])
    var_cross, var_norm = [], []
    for sigma in sigmas:
        norm_means = np.array(
            [
                2 * _scalar(side, sm.denoising_score_matching(zero, side.array(x[k]), sigma, noise=side.array(z[k])))
                for k in range(B)
            ]
        )
        full_means = np.array(
            [
                _scalar(side, sm.denoising_score_matching(model, side.array(x[k]), sigma, noise=side.array(z[k])))
                for k in range(B)
            ]
        )
        var_norm.append(m * np.var(norm_means, ddof=1))  # |z|^2 / sigma^2
        var_cross.append(m * np.var(full_means - norm_means / 2, ddof=1))  # z^T s / sigma + 1/2 |s|^2
    slope_cross = float(np.polyfit(np.log(sigmas), np.log(var_cross), 1)[0])
    slope_norm = float(np.polyfit(np.log(sigmas), np.log(var_norm), 1)[0])
    measured = max(abs(slope_cross + 2.0), abs(slope_norm + 4.0))
    detail = (
        f"pi = N(mu, Sigma) in d = 2, true linear score; {B} batches of {m}; sigma = {sigmas.tolist()}; per-sample "
        f"variances of z^T s / sigma (+ O(1)): {', '.join(f'{v:.3g}' for v in var_cross)} (slope {slope_cross:.3f}); "
        f"of |z|^2 / sigma^2: {', '.join(f'{v:.3g}' for v in var_norm)} (slope {slope_norm:.3f}, closed form 2d / "
        "sigma^4); measured max(|slope + 2|, |slope + 4|), bound 0.25 (8 standard errors of the fitted slopes)"
    )
    return Evidence(measured, 0.25, detail)
