"""Facts about the Gaussian and mixture targets, checked on both sides through :class:`~crosscheck.registry.Side`.

* the score equals the gradient of log_prob (autograd on the accelerated side, central differences
  on the reference side);
* log_prob integrates to 1 (1-D quadrature);
* the Gaussian posterior mean equals the Bayes-rule closed form in precision form;
* the mixture posterior mean equals E[x | y] by quadrature in 1-D (the Tweedie ground truth used
  by the score-matching theorems).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import integrate

from crosscheck.registry import Evidence, Side, theorem

EPS = float(np.finfo(np.float64).eps)
SQRT_2PI = math.sqrt(2.0 * math.pi)

# Beigy's worked example 3.3 mixture 0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2), and a 2-D three-component mixture.
BEIGY_WEIGHTS, BEIGY_MEANS, BEIGY_STDS = np.array([0.6, 0.4]), np.array([2.0, -2.0]), np.array([0.5, 0.2])
MIX2_WEIGHTS = np.array([0.5, 0.3, 0.2])
MIX2_MEANS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])
MIX2_COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.8]], [[0.3, 0.0], [0.0, 0.3]]])
GAUSS_MEAN = np.array([1.0, -0.5, 0.25])
GAUSS_COV = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.7]])


def _beigy_mixture(side: Side):
    return side.lib.distributions.GaussianMixture.from_1d(
        side.array(BEIGY_WEIGHTS), side.array(BEIGY_MEANS), side.array(BEIGY_STDS)
    )


def _targets(side: Side) -> dict:
    dist = side.lib.distributions
    return {
        "Gaussian d=3": dist.Gaussian(side.array(GAUSS_MEAN), side.array(GAUSS_COV)),
        "mixture d=2, K=3": dist.GaussianMixture(
            side.array(MIX2_WEIGHTS), side.array(MIX2_MEANS), side.array(MIX2_COVS)
        ),
        "Beigy mixture d=1": _beigy_mixture(side),
    }


@theorem(
    "Score equals the gradient of log_prob (Gaussian and mixtures)",
    slide="Beigy, 'Score function (One-dimensional Gaussian distribution)' and "
    "'The score function of a mixture of two Gaussians'",
)
def score_is_gradient_of_log_prob(side: Side) -> Evidence:
    rng = np.random.default_rng(11)
    worst, h, max_log_p = 0.0, 1e-4, 0.0
    for target in _targets(side).values():
        d = target.dim
        x = rng.uniform(-3.0, 3.0, size=(50, d))
        s = side.numpy(target.score(side.array(x)))
        if side.name == "accelerated":
            xt = side.array(x).requires_grad_(True)
            (g,) = torch.autograd.grad(target.log_prob(xt).sum(), xt)
            g = side.numpy(g)
        else:
            g = np.zeros_like(x)
            for j in range(d):
                e = np.zeros(d)
                e[j] = h
                f = [side.numpy(target.log_prob(side.array(x + k * e))) for k in (-2, -1, 1, 2)]
                g[:, j] = (f[0] - 8.0 * f[1] + 8.0 * f[2] - f[3]) / (12.0 * h)
                max_log_p = max(max_log_p, max(float(np.max(np.abs(v))) for v in f))
        worst = max(worst, float(np.max(np.abs(s - g) / (1.0 + np.abs(s)))))
    if side.name == "accelerated":
        # autograd differentiates the same float64 operations: rounding only.
        bound = 1e-12
        how = "torch.autograd.grad of sum log_prob"
    else:
        # five-point central differences: rounding (1 + 8 + 8 + 1) eps max|log p| / (12 h) <= 1.5 eps
        # max|log p| / h (max|log p| = 25 here: 8e-11), truncation h^4 / 30 |f^(5)|, measured
        # 7.7e-8 at h = 1e-3, hence 8e-12 at h = 1e-4 (it scales like h^4); bound: twice their sum.
        bound = 2.0 * (1.5 * EPS * max_log_p / h + 8e-12)
        how = f"five-point central differences with h = {h:g}"
    detail = (
        f"{', '.join(_targets(side))}; 50 points uniform in [-3, 3]^d each; measured max |score - grad| / "
        f"(1 + |score|), grad by {how}"
    )
    return Evidence(worst, bound, detail)


@theorem("log_prob integrates to 1 (1-D quadrature)", slide="Beigy, 'The score function of a mixture of two Gaussians'")
def log_prob_integrates_to_one(side: Side) -> Evidence:
    dist = side.lib.distributions
    targets = {
        "Beigy mixture 0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2)": _beigy_mixture(side),
        "N(0.3, 1.7^2)": dist.Gaussian(side.array([0.3]), side.array([[1.7**2]])),
    }
    errors = {}
    for name, target in targets.items():
        x = np.linspace(-20.0, 20.0, 40_001)
        p = np.exp(side.numpy(target.log_prob(side.array(x[:, None]))))
        errors[name] = abs(float(integrate.trapezoid(p, x)) - 1.0)
    # Trapezoid on [-20, 20] with h = 1e-3: the densities vanish (< 1e-20) at the ends, so the error is
    # spectrally small; the mass outside is < 1e-30. What remains is rounding of 4e4 terms.
    bound = 1e-12
    detail = "trapezoid rule on 40001 points of [-20, 20]: " + ", ".join(
        f"{k}: |1 - Z| = {v:.2g}" for k, v in errors.items()
    )
    return Evidence(max(errors.values()), bound, detail)


@theorem(
    "Gaussian posterior_mean equals the Bayes-rule closed form",
    slide="L8, Tweedie's formula slides (E[x | y] for y = x + sigma eps)",
)
def gaussian_posterior_mean_bayes(side: Side) -> Evidence:
    gauss = side.lib.distributions.Gaussian(side.array(GAUSS_MEAN), side.array(GAUSS_COV))
    rng = np.random.default_rng(12)
    y = rng.normal(size=(20, 3)) * 2.0
    worst = 0.0
    for sigma in (0.1, 0.5, 1.0, 3.0):
        # Bayes' rule in precision form: posterior precision = Sigma^{-1} + I / sigma^2.
        P = np.linalg.inv(GAUSS_COV)
        post_cov = np.linalg.inv(P + np.eye(3) / sigma**2)
        expected = (post_cov @ (P @ GAUSS_MEAN[:, None] + y.T / sigma**2)).T
        got = side.numpy(gauss.posterior_mean(side.array(y), sigma))
        worst = max(worst, float(np.max(np.abs(got - expected) / (1.0 + np.abs(expected)))))
    bound = 1e-13  # two 3x3 inversions (condition <= 1e2) against one Cholesky solve: a few hundred eps
    detail = (
        "N(m, S) with d = 3, 20 observations y, sigma in (0.1, 0.5, 1, 3); expected "
        "(S^{-1} + I/sigma^2)^{-1} (S^{-1} m + y / sigma^2) by NumPy inverses; measured max relative error"
    )
    return Evidence(worst, bound, detail)


def _quadrature_posterior_mean(y: float, sigma: float) -> float:
    """E[x | y] = int x p(x) N(y; x, sigma^2) dx / int p(x) N(y; x, sigma^2) dx by SciPy quad (independent)."""

    components = [(float(w), float(m), float(s)) for w, m, s in zip(BEIGY_WEIGHTS, BEIGY_MEANS, BEIGY_STDS)]

    def prior(x: float) -> float:  # plain-math densities: quad calls this thousands of times
        return sum(w * math.exp(-0.5 * ((x - m) / s) ** 2) / (s * SQRT_2PI) for w, m, s in components)

    def joint(x: float) -> float:
        return prior(x) * math.exp(-0.5 * ((y - x) / sigma) ** 2)

    points = [-2.0, 2.0, y]
    kwargs = {"points": points, "epsabs": 0.0, "epsrel": 1e-13, "limit": 400}
    num, _ = integrate.quad(lambda x: x * joint(x), -12.0, 12.0, **kwargs)
    den, _ = integrate.quad(joint, -12.0, 12.0, **kwargs)
    return num / den


@theorem(
    "Mixture posterior_mean equals E[x | y] by quadrature (1-D)",
    slide="L8, Tweedie's formula slides; Beigy, 'The score function of a mixture of two Gaussians'",
)
def mixture_posterior_mean_quadrature(side: Side) -> Evidence:
    mixture = _beigy_mixture(side)
    ys = np.array([-3.0, -2.0, -0.5, 0.0, 0.7, 2.0, 4.0])
    worst = 0.0
    for sigma in (0.1, 0.5, 1.5):
        got = side.numpy(mixture.posterior_mean(side.array(ys[:, None]), sigma))[:, 0]
        expected = np.array([_quadrature_posterior_mean(float(y), sigma) for y in ys])
        worst = max(worst, float(np.max(np.abs(got - expected))))
    bound = 1e-10  # quad at epsrel 1e-13 on [-12, 12] (the prior's mass outside is < 1e-30)
    detail = (
        "Beigy mixture 0.6 N(2, 0.5^2) + 0.4 N(-2, 0.2^2), y in (-3, -2, -0.5, 0, 0.7, 2, 4), sigma in "
        "(0.1, 0.5, 1.5); expected by scipy.integrate.quad of x p(x) N(y; x, sigma^2) over p(x) N(y; x, sigma^2)"
    )
    return Evidence(worst, bound, detail)
