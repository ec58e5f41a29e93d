"""Theorems of the forward process and the ELBO (L13): composition of kernels, the Bayes posterior, the
eps-parametrised mean, L_t as a weighted eps error, the kernel score, NCSN <-> DDPM."""

from __future__ import annotations

import numpy as np
from scipy import stats

from crosscheck.registry import Evidence, Side, theorem

from ._common import EPS, L13, L14, T, _lib, _one_minus_alpha_bars, _positions, _schedules


@theorem(
    "q(x_t | x_0) is the composition of the one-step kernels q(x_t | x_(t-1))",
    slide=f"{L13}, recap 'ELBO of gaussian diffusion model' and 'DDPM vs NCSN'",
)
def forward_marginal_is_composition(side: Side) -> Evidence:
    D = _lib(side)
    worst, details = 0.0, []
    for name, (betas, S) in _schedules(side).items():
        n = len(betas)
        t = _positions(side, np.arange(n))
        ones, zeros = side.array(np.ones((n, 1))), side.array(np.zeros((n, 1)))
        # q_step is affine in (x_(t-1), eps): read its two coefficients off with unit inputs.
        a = side.numpy(D.q_step(ones, t, S, noise=zeros))[:, 0]
        b = side.numpy(D.q_step(zeros, t, S, noise=ones))[:, 0]
        mean_coef = np.cumprod(a)  # E[x_t | x_0] / x_0 after composing steps 0..t
        var = np.zeros(n)
        v = 0.0
        for i in range(n):
            v = a[i] ** 2 * v + b[i] ** 2
            var[i] = v
        q_mean = side.numpy(D.q_sample(ones, t, S, noise=zeros))[:, 0]
        q_var = side.numpy(D.q_sample(zeros, t, S, noise=ones))[:, 0] ** 2
        err = max(np.max(np.abs(mean_coef - q_mean) / q_mean), np.max(np.abs(var - q_var) / q_var))
        worst = max(worst, float(err))
        details.append(f"{name}: {err:.2g}")
    bound = 8 * T * EPS  # T composed steps, each a few roundings
    detail = (
        "composition of q_step's coefficients (mean prod sqrt(1 - beta), variance v <- a^2 v + beta) against "
        "q_sample's sqrt(alpha_bar) and 1 - alpha_bar at every position; measured max relative difference ("
        + "; ".join(details)
        + f"); bound 8 T eps with T = {T}"
    )
    return Evidence(worst, bound, detail)


def bayes_log_difference(x_t, x0, mean, var, alpha, beta, alpha_bar_prev, n_points: int = 41):
    """``(x, difference, scale)`` at one position: x on ``mean +- 6 sd`` (``n_points``), the difference
    log N(x; mean, var) - [log N(x_t; sqrt(alpha) x, beta) + log N(x; sqrt(alpha_bar_prev) x_0,
    1 - alpha_bar_prev)] (SciPy), constant in x (the log normaliser) for the true posterior, and its
    rounding scale 1 + max |log N(x; mean, var)| + max |log Bayes product|. Also drawn in report.html."""
    sd = np.sqrt(var)
    x = mean + sd * np.linspace(-6.0, 6.0, n_points)
    bayes = stats.norm.logpdf(x_t, np.sqrt(alpha) * x, np.sqrt(beta)) + stats.norm.logpdf(
        x, np.sqrt(alpha_bar_prev) * x0, np.sqrt(1.0 - alpha_bar_prev)
    )
    log_post = stats.norm.logpdf(x, mean, sd)
    scale = 1.0 + np.max(np.abs(log_post)) + np.max(np.abs(bayes))
    return x, log_post - bayes, scale


@theorem(
    "The posterior q(x_(t-1) | x_t, x_0) is the normalised Bayes product q(x_t | x_(t-1)) q(x_(t-1) | x_0)",
    slide=f"{L13}, recap 'ELBO of gaussian diffusion model'",
)
def posterior_is_bayes_product(side: Side) -> Evidence:
    D = _lib(side)
    rng = np.random.default_rng(7)
    worst, point_mass_error = 0.0, 0.0
    for betas, S in _schedules(side).values():
        n = len(betas)
        alphas = 1.0 - betas
        alpha_bars = np.cumprod(alphas)
        alpha_bars_prev = np.concatenate(([1.0], alpha_bars[:-1]))
        x0, x_t = rng.normal(0.0, 1.5, (n, 1)), rng.normal(0.0, 1.5, (n, 1))
        post = D.q_posterior(side.array(x0), side.array(x_t), _positions(side, np.arange(n)), S)
        mean, var = side.numpy(post.mean)[:, 0], np.broadcast_to(side.numpy(post.variance), (n, 1))[:, 0]
        point_mass_error = max(point_mass_error, abs(mean[0] - x0[0, 0]) + abs(var[0]))
        for i in range(1, n):
            _, difference, scale = bayes_log_difference(
                x_t[i, 0], x0[i, 0], mean[i], var[i], alphas[i], betas[i], alpha_bars_prev[i]
            )
            worst = max(worst, float(np.ptp(difference) / scale))
    measured = worst if point_mass_error == 0.0 else np.inf
    bound = 1e-11
    detail = (
        "for each position >= 1 of three schedules, log N(x; mu_tilde, beta_tilde) - [log N(x_t; sqrt(alpha) x, "
        "beta) + log N(x; sqrt(alpha_bar_prev) x_0, 1 - alpha_bar_prev)] (SciPy) on 41 points mu_tilde +- 6 sd "
        "must be constant (the log normaliser); measured max spread / (1 + max |log-density|) = "
        f"{worst:.3g}; bound 1e-11 (rounding of log-densities up to ~1e4 in size; a wrong mean or variance "
        f"gives O(1)); position 0 must be the point mass at x_0: |mean - x_0| + variance = {point_mass_error:.3g}"
    )
    return Evidence(measured, bound, detail)


@theorem(
    "The eps-parametrised mean with the true noise equals the posterior mean",
    slide=f"{L13}, recap 'Reparametrization'",
)
def eps_mean_is_posterior_mean(side: Side) -> Evidence:
    D = _lib(side)
    rng = np.random.default_rng(11)
    worst = 0.0
    for betas, S in _schedules(side).values():
        n = len(betas)
        t = _positions(side, np.arange(n))
        x0, eps = rng.normal(0.0, 1.0, (n, 5)), rng.normal(0.0, 1.0, (n, 5))
        x_t = D.q_sample(side.array(x0), t, S, noise=side.array(eps))
        mu_eps = side.numpy(D.p_mean_from_eps(x_t, side.array(eps), t, S))
        mu_tilde = side.numpy(D.q_posterior(side.array(x0), x_t, t, S).mean)
        # rounding scale of the two formulas: the absolute values of their terms
        alphas = 1.0 - betas
        one_minus_alpha_bars = 1.0 - np.cumprod(alphas)
        xt = side.numpy(x_t)
        k = (betas / np.sqrt(one_minus_alpha_bars))[:, None]
        scale = (np.abs(xt) + k * np.abs(eps)) / np.sqrt(alphas)[:, None] + np.abs(x0) + np.abs(xt)
        worst = max(worst, float(np.max(np.abs(mu_eps - mu_tilde) / (EPS * scale))))
    detail = (
        "x_t = q_sample(x_0, t, eps) at every position of three schedules (5 features); measured max "
        "|p_mean_from_eps(x_t, eps) - q_posterior(x_0, x_t).mean| in units of eps * (sum of the absolute terms "
        "of both formulas); bound 16 such units (a handful of roundings; a formula error is O(1 / eps))"
    )
    return Evidence(worst, 16.0, detail)


@theorem(
    "L_t as the Gaussian KL equals elbo_weight * ||eps - eps_theta||^2 for any eps_theta",
    slide=f"{L13}, recap 'ELBO of gaussian diffusion model' and 'Reparametrization'",
)
def l_t_is_weighted_eps_error(side: Side) -> Evidence:
    D = _lib(side)
    rng = np.random.default_rng(12)
    worst, largest_rel = 0.0, 0.0
    for betas, S in _schedules(side).values():
        n = len(betas)
        positions = np.arange(1, n)
        t = _positions(side, positions)
        x0, eps = rng.normal(0.0, 1.0, (n - 1, 3)), rng.normal(0.0, 1.0, (n - 1, 3))
        x_t = D.q_sample(side.array(x0), t, S, noise=side.array(eps))
        xt = side.numpy(x_t)
        weight = side.numpy(D.elbo_weight(t, S))
        for delta in (1.0, 1e-2, 1e-4, None):
            eps_theta = np.zeros_like(eps) if delta is None else eps + delta * rng.normal(0.0, 1.0, eps.shape)
            kl = side.numpy(D.l_t(side.array(x0), x_t, side.array(eps_theta), t, S))
            weighted = weight * side.numpy(D.l_simple(side.array(eps), side.array(eps_theta)))
            # Rounding model: each mean carries ~8 eps * M (M: its terms' size); KL = |dmu|^2 / (2 beta_tilde).
            alphas = 1.0 - betas[positions]
            M = (np.abs(xt) + np.abs(eps_theta)) / np.sqrt(alphas)[:, None] + np.abs(x0) + np.abs(xt)
            e = 8 * EPS * M
            beta_tilde = side.numpy(S.beta_tilde)[positions][:, None]
            dmu = np.sqrt(2.0 * beta_tilde * weight[:, None]) * np.abs(eps - eps_theta)
            bound_rows = np.sum((dmu * e + e**2) / beta_tilde, axis=1) + 8 * EPS * weighted
            worst = max(worst, float(np.max(np.abs(kl - weighted) / bound_rows)))
            largest_rel = max(largest_rel, float(np.max(np.abs(kl - weighted) / weighted)))
    detail = (
        "x_t = q_sample(x_0, t, eps) at positions 1..T-1 of three schedules; eps_theta = eps + delta N(0, I) "
        "for delta in (1, 1e-2, 1e-4) and eps_theta = 0; measured max |l_t - elbo_weight * l_simple| in units "
        "of its rounding bound (each mean to 8 eps of its terms' size, propagated through |dmu|^2 / (2 "
        f"beta_tilde)); bound 1 unit; largest relative difference {largest_rel:.3g}"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "eps_to_score of the true noise equals grad log q(x_t | x_0)",
    slide=f"{L13}, 'DDPM vs NCSN'; {L14}, recap 'NCSN objective' and 'DDPM objective'",
)
def eps_to_score_is_kernel_score(side: Side) -> Evidence:
    D = _lib(side)
    rng = np.random.default_rng(14)
    worst, round_trip = 0.0, 0.0
    for betas, S in _schedules(side).values():
        n = len(betas)
        t = _positions(side, np.arange(n))
        x0, eps = rng.normal(0.0, 1.0, (n, 2)), rng.normal(0.0, 1.0, (n, 2))
        x_t = side.numpy(D.q_sample(side.array(x0), t, S, noise=side.array(eps)))
        score = side.numpy(D.eps_to_score(side.array(eps), t, S))
        target = side.numpy(D.q_score(side.array(x_t), side.array(x0), t, S))
        back = side.numpy(D.score_to_eps(side.array(score), t, S))
        round_trip = max(round_trip, float(np.max(np.abs(back - eps))))
        # independent: central differences of SciPy's log N(x_t; sqrt(alpha_bar) x_0, (1 - alpha_bar) I)
        alpha_bars = np.cumprod(1.0 - betas)[:, None]
        loc, sd = np.sqrt(alpha_bars) * x0, np.sqrt(_one_minus_alpha_bars(betas))[:, None]
        h = 1e-3 * sd
        f_plus = stats.norm.logpdf(x_t + h, loc, sd)
        f_minus = stats.norm.logpdf(x_t - h, loc, sd)
        fd = (f_plus - f_minus) / (2.0 * h)  # exact for a quadratic up to rounding
        # rounding: of the log-densities (eps |f| / h) and of the arguments x_t +- h (slope |f'| times eps |x_t|)
        slope_term = 2 * EPS * (np.abs(x_t - loc) + h) * (np.abs(x_t) + h) / (sd**2 * h)
        rounding = 4 * EPS * (np.abs(f_plus) + 1.0) / h + slope_term + 1e-12 * np.abs(fd)
        worst = max(worst, float(np.max(np.abs(score - fd) / rounding)), float(np.max(np.abs(target - fd) / rounding)))
    measured = worst if round_trip < 1e-14 else np.inf
    detail = (
        "at every position of three schedules: eps_to_score(eps) and q_score(x_t, x_0) against central "
        "differences (h = 1e-3 sd) of scipy.stats.norm.logpdf(x_t; sqrt(alpha_bar) x_0, sqrt(1 - alpha_bar)), "
        "alpha_bar = np.cumprod(1 - beta) computed here; measured in units of the differencing rounding "
        "(4 eps |f| / h for the log-densities, 2 eps |f'| |x_t| / h for the arguments x_t +- h, 1e-12 "
        f"relative for the tables); bound 1 unit; score_to_eps(eps_to_score(eps)) - eps: {round_trip:.2g}"
    )
    return Evidence(measured, 1.0, detail)


@theorem(
    "NCSN <-> DDPM: the sigma^2-weighted DSM term is the L_simple term, and L_t is elbo_weight times it",
    slide=(
        f"{L13}, 'Noise Conditioned Score Network (NCSN)' and 'DDPM vs NCSN'; "
        f"{L14}, recap 'NCSN objective' and 'DDPM objective'"
    ),
)
def ncsn_loss_is_ddpm_objective(side: Side) -> Evidence:
    D = _lib(side)
    rng = np.random.default_rng(15)
    worst = 0.0
    for betas, S in _schedules(side).values():
        n = len(betas)
        positions = np.arange(1, n)
        t = _positions(side, positions)
        x0, eps = rng.normal(0.0, 1.0, (n - 1, 3)), rng.normal(0.0, 1.0, (n - 1, 3))
        sigma = np.sqrt(_one_minus_alpha_bars(betas))[positions][:, None]
        s = -(eps + rng.normal(0.0, 1.0, eps.shape)) / sigma  # a score model with an O(1) noise error
        x0_s, x_t = side.array(x0), D.q_sample(side.array(x0), t, S, noise=side.array(eps))
        dsm = side.numpy(D.weighted_dsm_loss(side.array(s), x_t, x0_s, t, S))
        eps_theta = D.score_to_eps(side.array(s), t, S)
        simple = side.numpy(D.l_simple(side.array(eps), eps_theta))
        kl = side.numpy(D.l_t(x0_s, x_t, eps_theta, t, S))
        weighted = side.numpy(D.elbo_weight(t, S)) * dsm
        worst = max(worst, float(np.max(np.abs(dsm - simple) / simple)), float(np.max(np.abs(kl - weighted) / kl)))
    detail = (
        "positions 1..T-1 of three schedules, x_t = q_sample(x_0, t, eps), a score s = -(eps + N(0, I)) / sigma_t: "
        "max relative difference of weighted_dsm_loss(s) vs l_simple(eps, score_to_eps(s)) and of "
        "l_t(score_to_eps(s)) vs elbo_weight * weighted_dsm_loss(s); bound 1e-9 (the DSM target "
        "-(x_t - sqrt(alpha_bar) x_0) / sigma^2 cancels ~sigma / |x_t| digits, up to 1e-11 relative "
        "at sigma = 1e-2; a formula error is O(1))"
    )
    return Evidence(worst, 1e-9, detail)
