"""Theorems of the samplers: ddpm_sample reproduces Gaussian data (L13 'Sampling'); DDIM (beyond the
slides) with eta = 1 is DDPM, with eta = 0 deterministic and equal to its closed-form map."""

from __future__ import annotations

import numpy as np
import torch

from crosscheck.registry import Evidence, Side, theorem

from ._common import EPS, L13, T, _lib, _one_minus_alpha_bars


@theorem(
    "ddpm_sample with the exact eps of Gaussian data reproduces its mean and covariance",
    slide=f"{L13}, recap 'Sampling' (Ho et al. Algorithm 2)",
)
def sampler_reproduces_gaussian(side: Side) -> Evidence:
    D = _lib(side)
    n = 4_000 if side.quick else 20_000
    m = np.array([1.0, -0.5])
    Sigma = np.array([[1.0, 0.6], [0.6, 0.5]])
    betas = side.numpy(D.linear_beta_schedule(T))
    S = D.Schedule(side.array(betas))
    model = D.GaussianEps(side.array(m), side.array(Sigma), S)
    if side.name == "reference":
        x = side.numpy(D.ddpm_sample(model, (n, 2), S, rng=np.random.default_rng(2020)))
    else:
        # rng draws follow the default dtype; a loop of 1000 steps of tiny kernels gains nothing from
        # intra-op threads on the CPU (and loses 100x to them on an oversubscribed machine)
        previous = torch.get_default_dtype(), torch.get_num_threads()
        torch.set_default_dtype(torch.float64)
        if side.device == "cpu":
            torch.set_num_threads(1)
        try:
            rng = torch.Generator(device=side.device).manual_seed(2020)
            x = side.numpy(D.ddpm_sample(model, (n, 2), S, rng=rng))
        finally:
            torch.set_default_dtype(previous[0])
            torch.set_num_threads(previous[1])
    mean_hat, cov_hat = x.mean(axis=0), np.cov(x.T)
    se_mean = np.sqrt(np.diag(Sigma) / n)
    se_cov = np.sqrt((np.outer(np.diag(Sigma), np.diag(Sigma)) + Sigma**2) / (n - 1))
    z = np.concatenate([np.abs(mean_hat - m) / se_mean, (np.abs(cov_hat - Sigma) / se_cov)[np.triu_indices(2)]])
    # The law the sampler draws from, propagated exactly (it is linear-Gaussian for Gaussian data):
    # x_(t-1) = A_t x_t + c_t + sqrt(beta_tilde_t) z, with A_t = (I - k_t M_t) / sqrt(alpha_t).
    alphas = 1.0 - betas
    alpha_bars = np.cumprod(alphas)
    alpha_bars_prev = np.concatenate(([1.0], alpha_bars[:-1]))
    beta_tilde = betas * (1.0 - alpha_bars_prev) / (1.0 - alpha_bars)
    mu, P = np.zeros(2), np.eye(2)
    for t in range(T - 1, -1, -1):
        C_t = alpha_bars[t] * Sigma + (1.0 - alpha_bars[t]) * np.eye(2)
        M = np.sqrt(1.0 - alpha_bars[t]) * np.linalg.inv(C_t)
        k = betas[t] / np.sqrt(1.0 - alpha_bars[t])
        A = (np.eye(2) - k * M) / np.sqrt(alphas[t])
        c = k * M @ (np.sqrt(alpha_bars[t]) * m) / np.sqrt(alphas[t])
        mu, P = A @ mu + c, A @ P @ A.T + beta_tilde[t] * np.eye(2)
    bias = np.concatenate([np.abs(mu - m) / se_mean, (np.abs(P - Sigma) / se_cov)[np.triu_indices(2)]])
    relative_bias = float(np.max(np.abs(P - Sigma) / np.abs(Sigma)))
    detail = (
        f"data N(m, Sigma), m = {m.tolist()}, Sigma = {Sigma.tolist()}; GaussianEps (exact E[eps | x_t]) and "
        f"ddpm_sample over the linear T = {T} schedule, n = {n} samples from the side's generator; measured: "
        "max |sample mean - m| and |sample covariance - Sigma| in standard errors (2 means, 3 covariance "
        f"entries; sample mean {np.round(mean_hat, 4).tolist()}, covariance {np.round(cov_hat, 4).tolist()}); "
        "bound 5 standard errors. Not all of it is noise: the sampler's own law, propagated here in closed "
        f"form, has covariance {np.round(P, 4).tolist()}, off Sigma by {relative_bias:.2%} ({np.max(bias):.2f} "
        "standard errors at this n), because the reverse variance beta_tilde_t omits the posterior's "
        "c0^2 Var(x_0 | x_t) (Ho et al.'s lower choice of sigma_t^2); its mean is exact"
    )
    return Evidence(float(np.max(z)), 5.0, detail)


# --------------------------------------------------------------------------- DDIM (Song, Meng, Ermon 2021)

DDIM = "Song, Meng, Ermon 2021, eqs. 12 and 16 (beyond the slides)"
U = EPS / 2.0  # unit roundoff of float64
DDIM_MEAN = np.array([1.0, -0.5])
DDIM_COV = np.array([[1.0, 0.6], [0.6, 0.5]])  # eigenvalues 0.22 and 1.28


class _Recorder:
    """An eps_fn that records every state x and model output it sees (host reads: for these checks only)."""

    def __init__(self, model, side: Side) -> None:
        self.model, self.side = model, side
        self.x: list[np.ndarray] = []
        self.eps: list[np.ndarray] = []

    def __call__(self, x, t):
        eps = self.model(x, t)
        self.x.append(self.side.numpy(x))
        self.eps.append(self.side.numpy(eps))
        return eps


class _OneThread:
    """One intra-op thread for a long loop of tiny kernels on the CPU (threads only cost there)."""

    def __init__(self, side: Side) -> None:
        self.active = side.name == "accelerated" and side.device == "cpu"

    def __enter__(self) -> None:
        if self.active:
            self.previous = torch.get_num_threads()
            torch.set_num_threads(1)

    def __exit__(self, *exc: object) -> None:
        if self.active:
            torch.set_num_threads(self.previous)


def _ddim_setting(side: Side, kind: str):
    """(betas, the side's Schedule, its exact eps of N(DDIM_MEAN, DDIM_COV)) for a standard T = 1000 schedule."""
    D = _lib(side)
    betas = side.numpy(D.linear_beta_schedule(T) if kind == "linear" else D.cosine_beta_schedule(T))
    S = D.Schedule(side.array(betas))
    return betas, S, D.GaussianEps(side.array(DDIM_MEAN), side.array(DDIM_COV), S)


@theorem(
    "DDIM with eta = 1 on every position is ancestral DDPM sampling (same noise)",
    slide=f"{DDIM}; {L13}, recap 'Sampling' (Ho et al. Algorithm 2)",
)
def ddim_eta_one_is_ddpm(side: Side) -> Evidence:
    D = _lib(side)
    n = 32 if side.quick else 128
    worst, parts = 0.0, []
    for kind in ("linear", "cosine"):
        betas, S, model = _ddim_setting(side, kind)
        noise = np.random.default_rng(21).normal(0.0, 1.0, (T, n, 2))
        ddpm, ddim = _Recorder(model, side), _Recorder(model, side)
        with _OneThread(side):
            a = side.numpy(D.ddpm_sample(ddpm, (n, 2), S, noise=side.array(noise)))
            b = side.numpy(D.ddim_sample(ddim, (n, 2), S, noise=side.array(noise), eta=1.0))
        # The bound: per step (position t, from the k-th state), both samplers round at most 8 times each
        # relative to the step's terms, (|x_t| + k_t |eps|) / sqrt(alpha_t) + sqrt(beta_tilde_t) |z| with
        # k_t = beta_t / sqrt(1 - alpha_bar_t); DDIM's sigma = sqrt((1 - alpha_bar_prev) / (1 - alpha_bar_t))
        # sqrt(1 - alpha_bar_t / alpha_bar_prev) carries the 2 u absolute rounding of the table ratio
        # alpha_bar_t / alpha_bar_prev (2 u / beta_t relative; DDPM's sqrt(beta_tilde) comes from beta_t
        # itself). An error made at one step passes the later ones with gain at most 1 (the exact-eps
        # steps contract in every eigendirection of Sigma with eigenvalue <= 2), so the errors add.
        alphas = 1.0 - betas
        one_minus = _one_minus_alpha_bars(betas)
        one_minus_prev = np.concatenate(([0.0], one_minus[:-1]))
        beta_tilde = betas * one_minus_prev / one_minus
        bound = 0.0
        for k in range(T):
            t = T - 1 - k
            X, E = np.max(np.abs(ddpm.x[k])), np.max(np.abs(ddpm.eps[k]))
            Z = np.max(np.abs(noise[k + 1])) if k < T - 1 else 0.0
            terms = (X + betas[t] / np.sqrt(one_minus[t]) * E) / np.sqrt(alphas[t]) + np.sqrt(beta_tilde[t]) * Z
            bound += 16.0 * U * terms + (2.0 * U / betas[t]) * np.sqrt(beta_tilde[t]) * Z
        diff = float(np.max(np.abs(a - b)))
        worst = max(worst, diff / bound)
        parts.append(f"{kind}: {diff:.3g} (bound {bound:.3g})")
    detail = (
        f"data N(m, Sigma), m = {DDIM_MEAN.tolist()}, Sigma = {DDIM_COV.tolist()}, GaussianEps, T = {T}, "
        f"n = {n}, one noise array (T, n, 2) for both: ddim_sample(eta = 1, every position) vs ddpm_sample; "
        f"max |difference| {'; '.join(parts)}. The two are one formula (Song et al. eq. 16 with sigma^2 = "
        "beta_tilde: sqrt(alpha_bar_prev) x0_hat + sqrt(1 - alpha_bar_prev - beta_tilde) eps = mu_tilde(x_t, "
        "x0_hat)) evaluated differently; the bound sums, over the T steps, 16 u times each step's terms "
        "(8 roundings per sampler) and DDIM's sigma rounding (2 u / beta_t relative), the errors passing later "
        "steps with gain <= 1; measured: max |difference| / bound; bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "DDIM with eta = 0 is deterministic and equals its closed-form map for Gaussian data",
    slide=f"{DDIM} (eq. 14: an Euler step of the probability-flow ODE in sigma_bar^2 = (1 - alpha_bar) / alpha_bar)",
)
def ddim_eta_zero_is_deterministic(side: Side) -> Evidence:
    D = _lib(side)
    n = 32 if side.quick else 128
    steps = (1, 10, 100) if side.quick else (1, 10, 100, 1000)
    lam, Q = np.linalg.eigh(DDIM_COV)
    deterministic, worst, parts = True, 0.0, []
    for kind in ("linear", "cosine"):
        betas, S, model = _ddim_setting(side, kind)
        alpha_bars = np.cumprod(1.0 - betas)
        one_minus = _one_minus_alpha_bars(betas)
        sigma_bar = np.sqrt(one_minus / alpha_bars)
        rng = np.random.default_rng(22)
        for n_steps in steps:
            noise = rng.normal(0.0, 1.0, (n_steps, n, 2))
            other = np.concatenate((noise[:1], rng.normal(0.0, 1.0, (n_steps - 1, n, 2))))
            recorder = _Recorder(model, side)
            with _OneThread(side):
                out = side.numpy(D.ddim_sample(recorder, (n, 2), S, noise=side.array(noise), n_steps=n_steps))
                out_other = side.numpy(D.ddim_sample(model, (n, 2), S, noise=side.array(other), n_steps=n_steps))
                out_x_T = side.numpy(D.ddim_sample(model, (n, 2), S, noise=side.array(noise[:1]), n_steps=n_steps))
            deterministic = deterministic and np.array_equal(out, out_other) and np.array_equal(out, out_x_T)
            # Closed form: in x_bar = x / sqrt(alpha_bar), eps* = sigma_bar (Sigma + sigma_bar^2 I)^-1 (x_bar - m),
            # and a step is x_bar_prev = x_bar + (sigma_bar_prev - sigma_bar) eps*, so along each eigenvector of
            # Sigma (eigenvalue lambda) x_bar - m is multiplied by (lambda + sigma_bar_prev sigma_bar) /
            # (lambda + sigma_bar^2); sigma_bar = 0 before the first step, where x_bar = x_0.
            tau = np.round(np.linspace(0.0, T - 1.0, n_steps) + 1e-9).astype(int) if n_steps > 1 else np.array([T - 1])
            gain, bound = np.ones_like(lam), 0.0
            for k in range(n_steps):
                t = tau[n_steps - 1 - k]
                s_prev = sigma_bar[tau[n_steps - 2 - k]] if k < n_steps - 1 else 0.0
                gain = gain * (lam + s_prev * sigma_bar[t]) / (lam + sigma_bar[t] ** 2)
                # rounding of this step: 8 u of its terms (|x| + |w eps|) / r, r = sqrt(alpha_bar_t /
                # alpha_bar_prev), w = r sqrt(1 - alpha_bar_prev) - sqrt(1 - alpha_bar_t), in x_bar units of the
                # state it writes (divided by sqrt(alpha_bar_prev)); later steps pass it with gain <= 1
                a_prev = alpha_bars[tau[n_steps - 2 - k]] if k < n_steps - 1 else 1.0
                m_prev = one_minus[tau[n_steps - 2 - k]] if k < n_steps - 1 else 0.0
                r = np.sqrt(alpha_bars[t] / a_prev)
                w = r * np.sqrt(m_prev) - np.sqrt(one_minus[t])
                terms = np.max(np.abs(recorder.x[k]) + np.abs(w * recorder.eps[k])) / r
                bound += 8.0 * U * np.sqrt(2.0) * terms / np.sqrt(a_prev)
            y = (noise[0] / np.sqrt(alpha_bars[-1]) - DDIM_MEAN) @ Q
            closed = DDIM_MEAN + (y * gain) @ Q.T
            # the closed form's own rounding: 3 per factor of the product, and the x_bar and rotation steps
            bound += U * (3.0 * n_steps + 8.0) * np.sqrt(2.0) * np.max(np.abs(y * gain) + np.abs(DDIM_MEAN))
            flow = DDIM_MEAN + (y * np.sqrt(lam / (lam + sigma_bar[-1] ** 2))) @ Q.T
            diff = float(np.max(np.abs(out - closed)))
            worst = max(worst, diff / bound)
            parts.append(
                f"{kind} S={n_steps}: {diff:.2g} (bound {bound:.2g}, ODE gap {np.max(np.abs(closed - flow)):.2g})"
            )
    measured = worst if deterministic else np.inf
    detail = (
        f"data N(m, Sigma), m = {DDIM_MEAN.tolist()}, Sigma = {DDIM_COV.tolist()}, GaussianEps, T = {T}, n = {n}, "
        f"S = {steps} respaced steps, eta = 0: outputs with the same x_T and other z, and with noise (1, n, 2), "
        f"{'are' if deterministic else 'are NOT'} bit-identical; vs the closed form x_0 = m + Q diag(prod_k "
        "(lambda + sigma_bar_prev sigma_bar_k) / (lambda + sigma_bar_k^2)) Q^T (x_T / sqrt(alpha_bar_T) - m) "
        "(alpha_bar by np.cumprod here): max |difference| "
        f"{'; '.join(parts)}. The bound: 8 u of each step's terms, carried in x_bar units with gain <= 1 "
        "(sqrt(2) for the rotation to eigencoordinates), plus the closed form's own rounding; measured: max "
        "|difference| / bound; bound 1. The 'ODE gap' is the distance to the exact probability-flow map "
        "(x_bar - m scaled by sqrt(lambda / (lambda + sigma_bar_T^2))): Euler's first-order error, ~1/S"
    )
    return Evidence(measured, 1.0, detail)
