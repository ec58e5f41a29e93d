"""The figures that report.html draws itself, for the theorems people would rather look at than read.

Each returns PNG bytes, computed with the reference side in well under a second:

* :func:`ula_variance_figure`: the ULA stationary variance on N(0, 1) against the step size (Isachenko,
  DGM Lecture 11, 'Langevin dynamics'; Beigy, Lecture 3, the ULA bias), the closed form against a run;
* :func:`fid_infinity_figure`: FID_N against 1/N and the fitted line of FID_inf (Isachenko, DGM
  Lecture 7, slide 'Frechet Inception Distance (FID)', its FID / FID_inf table), on the theorem's own
  construction and on Gaussian features whose limit is known in closed form;
* :func:`posterior_figure`: the DDPM posterior q(x_(t-1) | x_t, x_0) against the normalised Bayes
  product (Isachenko, DGM Lecture 13, recap 'ELBO of gaussian diffusion model'), the densities and the
  log-density difference that the theorem requires to be constant.

:mod:`crosscheck.html_report` adds a figure where its theorem is in the run; they need matplotlib.
"""

from __future__ import annotations

import io

import numpy as np

__all__ = ["fid_infinity_figure", "png", "posterior_figure", "ula_variance_figure"]


def png(fig) -> bytes:
    """The figure as PNG bytes (100 dpi); the figure is closed."""
    from matplotlib import pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def ula_variance_figure(seed: int = 0) -> bytes:
    """The ULA stationary variance on N(0, 1) against the step size: closed form and a measured run.

    The closed form s^2 / (1 - eta / (4 s^2)) (the AR(1) chain x' = (1 - eta/2) x + sqrt(eta) z) is drawn
    next to mean(x^2) of 4000 reference ULA chains after 200 steps from 0 at nine step sizes (0.2 s).
    """
    from matplotlib import pyplot as plt

    from reference.langevin import langevin_sample

    etas = np.array([0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.25, 1.5])
    n, steps = 4000, 200
    measured = []
    for i, eta in enumerate(etas):
        out = langevin_sample(
            lambda x: -x, np.zeros((n, 1)), step_size=float(eta), n_steps=steps, rng=np.random.default_rng(seed + i)
        )
        measured.append(float(np.mean(np.asarray(out.samples) ** 2)))
    grid = np.linspace(0.0, 1.6, 200)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    ax.plot(grid, 1.0 / (1.0 - grid / 4.0), "k-", lw=1.2, label="closed form s^2 / (1 - eta / (4 s^2))")
    ax.axhline(1.0, color="gray", ls=":", lw=1, label="target variance s^2 = 1")
    ax.errorbar(
        etas, measured, yerr=2 * np.array(measured) * np.sqrt(2.0 / n), fmt="o", color="tab:blue", ms=4,
        label=f"measured mean(x^2), {n} chains, {steps} steps (2 SE)",
    )  # fmt: skip
    ax.set_xlabel("step size eta")
    ax.set_ylabel("stationary variance")
    ax.set_title("ULA on N(0, 1): the stationary variance grows with the step")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return png(fig)


def _fit_panel(ax, inv_n: np.ndarray, fid_n: np.ndarray, fid_inf: float, slope: float, title: str) -> None:
    grid = np.linspace(0.0, 1.05 * float(inv_n.max()), 100)
    ax.plot(inv_n, fid_n, "o", color="tab:blue", ms=4, label="FID_N (reference fid_infinity)")
    ax.plot(grid, fid_inf + slope * grid, "-", color="tab:orange", lw=1.2, label="least-squares line a + b / N")
    ax.plot([0.0], [fid_inf], "s", color="tab:orange", ms=6, label=f"FID_inf = a = {fid_inf:.4g}")
    ax.set_xlabel("1 / N")
    ax.set_ylabel("FID")
    ax.set_title(title, fontsize=10)


def fid_infinity_figure(seed: int = 0) -> bytes:
    """FID_N against 1/N with the fitted line and its intercept FID_inf, in two panels.

    Left: the theorem's construction (:func:`crosscheck.theorems.metrics.fid_line_problem`), where
    FID_N = a + b / N exactly, so the points lie on the line and the intercept is a. Right: 64-D
    Gaussian features (10000 real rows from N(0, I), a pool of 10000 fake rows from
    N(0.1 * 1, diag(1.6, 1, ..., 1))) at the default 15 N from 1000 to 10000: FID_N falls as N grows (the
    bias b / N), and the intercept lands on the limit, which is the Frechet distance from the real
    features' statistics to the fake population's N(mu, Sigma), in closed form (reference
    frechet_distance): 0.8016 against 0.8013 at seed 0.
    """
    from matplotlib import pyplot as plt

    from reference.metrics import fid_infinity, frechet_distance

    from .theorems.metrics import fid_line_problem

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    problem = fid_line_problem()
    exact = fid_infinity(problem["real"], problem["fake"], batch_sizes=problem["sizes"], noise=problem["noise"])
    inv_n = 1.0 / np.asarray(exact.n, dtype=float)
    _fit_panel(left, inv_n, np.asarray(exact.fid_n), float(exact.fid_inf), float(exact.slope), "")
    left.axhline(problem["a"], color="gray", ls=":", lw=1, label=f"the construction's a = {problem['a']}")
    left.set_title("The theorem's construction: FID_N = a + b / N exactly", fontsize=10)
    left.legend(fontsize=7)

    rng = np.random.default_rng(seed)
    d = 64
    mu = np.full(d, 0.1)
    sigma = np.eye(d)
    sigma[0, 0] = 1.6
    real = rng.normal(size=(10000, d))
    fake = mu + rng.normal(size=(10000, d)) @ np.linalg.cholesky(sigma).T
    result = fid_infinity(real, fake, rng=rng)
    limit = float(frechet_distance(real.mean(axis=0), np.cov(real, rowvar=False), mu, sigma))
    inv_n = 1.0 / np.asarray(result.n, dtype=float)
    _fit_panel(
        right, inv_n, np.asarray(result.fid_n), float(result.fid_inf), float(result.slope),
        "Gaussian features, d = 64: the bias b / N and its extrapolation",
    )  # fmt: skip
    right.plot([0.0], [limit], "*", color="k", ms=9, label=f"limit N -> inf (closed form) = {limit:.4g}")
    right.legend(fontsize=7)
    fig.tight_layout()
    return png(fig)


def posterior_figure(seed: int = 7) -> bytes:
    """The DDPM posterior against the normalised Bayes product, on the linear T = 1000 schedule.

    Top, at t = 1, 100 and 999 (x_0 and x_t drawn from N(0, 1.5^2)): the density N(x; mu_tilde,
    beta_tilde) of the reference ``q_posterior`` (line) and the product q(x_t | x) q(x | x_0) of the
    slide's two Gaussians normalised on a grid by the trapezoid rule (markers). Bottom: on the
    theorem's 41 points mu_tilde +- 6 sd, the log-density difference minus its mean, relative to the
    theorem's scale; the theorem requires it within 1e-11 (constant: the log normaliser), and it sits at
    the rounding of float64.
    """
    from matplotlib import pyplot as plt
    from scipy import stats

    from crosscheck.registry import Side
    from reference import diffusion as D

    from .theorems.diffusion._common import _schedules
    from .theorems.diffusion.forward import bayes_log_difference

    betas, S = _schedules(Side("reference"))["linear T=1000"]
    alphas = 1.0 - betas
    alpha_bars_prev = np.concatenate(([1.0], np.cumprod(alphas)[:-1]))
    rng = np.random.default_rng(seed)
    fig = plt.figure(figsize=(11, 6.5))
    grid = fig.add_gridspec(2, 3, height_ratios=[1.0, 0.9])
    bottom = fig.add_subplot(grid[1, :])
    for k, (t, color) in enumerate(zip((1, 100, 999), ("tab:blue", "tab:orange", "tab:green"))):
        x0, x_t = rng.normal(0.0, 1.5, 2)
        post = D.q_posterior(np.array([[x0]]), np.array([[x_t]]), np.array([t]), S)
        mean, var = float(post.mean[0, 0]), float(np.asarray(post.variance).reshape(-1)[0])
        sd = np.sqrt(var)
        x = np.linspace(mean - 5 * sd, mean + 5 * sd, 401)
        log_bayes = stats.norm.logpdf(x_t, np.sqrt(alphas[t]) * x, np.sqrt(betas[t])) + stats.norm.logpdf(
            x, np.sqrt(alpha_bars_prev[t]) * x0, np.sqrt(1.0 - alpha_bars_prev[t])
        )
        bayes = np.exp(log_bayes - log_bayes.max())
        bayes /= np.sum((bayes[1:] + bayes[:-1]) * np.diff(x)) / 2.0  # the trapezoid rule
        ax = fig.add_subplot(grid[0, k])
        ax.plot(x, stats.norm.pdf(x, mean, sd), "-", color=color, lw=1.2, label="N(mu_tilde, beta_tilde)")
        ax.plot(x[::16], bayes[::16], "o", color="k", ms=2.5, label="Bayes product, normalised")
        ax.set_title(f"t = {t}: x_0 = {x0:.2f}, x_t = {x_t:.2f}, sd = {sd:.2g}", fontsize=9)
        ax.set_xlabel("x_(t-1)")
        ax.tick_params(labelsize=7)
        if k == 0:
            ax.set_ylabel("density")
            ax.legend(fontsize=7)
        pts, difference, scale = bayes_log_difference(x_t, x0, mean, var, alphas[t], betas[t], alpha_bars_prev[t])
        spread = np.abs(difference - difference.mean()) / scale
        label = f"t = {t}"
        bottom.semilogy((pts - mean) / sd, np.maximum(spread, 1e-18), "o-", color=color, ms=3, lw=0.8, label=label)
    bottom.axhline(1e-11, color="k", ls=":", lw=1, label="the theorem's bound 1e-11")
    bottom.set_xlabel("(x_(t-1) - mu_tilde) / sqrt(beta_tilde)")
    bottom.set_ylabel("|difference - its mean| / scale")
    bottom.set_title("log N(x; mu_tilde, beta_tilde) - log Bayes product: constant to rounding", fontsize=10)
    bottom.legend(fontsize=7, ncol=4)
    fig.suptitle("q(x_(t-1) | x_t, x_0): the closed form is Bayes' rule", fontsize=11)
    fig.tight_layout()
    return png(fig)
