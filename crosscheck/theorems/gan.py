"""Slide theorems about GANs, each checked on both sides through :class:`~crosscheck.registry.Side`.

* GAN optimum V(G, D*) = 2 JSD - log 4, for two Gaussians (quadrature) and on a finite support (exact);
* D* = 1/2 and V = -log 4 when p_G = p_data;
* D* maximises V(G, .);
* the discriminator's cross-entropy in logit form is -V;
* the inverse-CDF truncated normal has the truncated Gaussian law.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, special, stats

from crosscheck.registry import Evidence, Side, theorem

L7 = "L7"
L8 = "L8"
EPS = float(np.finfo(np.float64).eps)

# p_data = N(0, 1), p_G = N(1.5, 0.7^2): overlapping, unequal variances (neither density ratio is monotone).
P_DATA = stats.norm(0.0, 1.0)
P_G = stats.norm(1.5, 0.7)

# A finite support with integer counts out of N: the sample means of gan_value are then exact
# expectations. The last two points carry mass under only one distribution (D* = 1 and D* = 0 there).
COUNTS_DATA = np.array([3, 5, 1, 6, 2, 3, 0])
COUNTS_G = np.array([1, 2, 6, 3, 4, 0, 4])
N_COUNTS = 20


def _jsd_by_quadrature() -> float:
    """JSD(p_data, p_G) from the defining integral (SciPy quad), independent of the library."""

    def integrand(x: float) -> float:
        p, q = P_DATA.pdf(x), P_G.pdf(x)
        m = 0.5 * (p + q)
        return 0.5 * (special.xlogy(p, p / m) if p > 0 else 0.0) + 0.5 * (special.xlogy(q, q / m) if q > 0 else 0.0)

    value, _ = integrate.quad(integrand, -np.inf, np.inf, epsabs=1e-14, epsrel=1e-13, limit=200)
    return float(value)


def _value_at_optimum_on_quantiles(side: Side, n: int) -> float:
    """V(G, D*) by the midpoint rule in probability space: x_i = F^{-1}((i - 1/2) / n) of each law."""
    u = (np.arange(1, n + 1) - 0.5) / n
    x_real, x_fake = P_DATA.ppf(u), P_G.ppf(u)
    gan = side.lib.gan
    D_real = gan.optimal_discriminator(side.array(P_DATA.pdf(x_real)), side.array(P_G.pdf(x_real)))
    D_fake = gan.optimal_discriminator(side.array(P_DATA.pdf(x_fake)), side.array(P_G.pdf(x_fake)))
    return float(side.numpy(gan.gan_value(D_real, D_fake)))


@theorem(
    "GAN optimum: V(G, D*) = 2 JSD(p_data || p_G) - log 4",
    slide=f"{L8}, 'For an Optimal Discriminator'; {L7}, recap 'GAN optimality theorem'",
)
def gan_optimum_gaussians(side: Side) -> Evidence:
    n = 20_000
    target = 2.0 * _jsd_by_quadrature() - math.log(4.0)
    V_n = _value_at_optimum_on_quantiles(side, n)
    V_half = _value_at_optimum_on_quantiles(side, n // 2)
    measured = abs(V_n - target)
    # The midpoint rule on the quantile grid converges like c / n (log(1 - D*) has log singularities
    # at the ends of the grid: it falls like -z^2 ~ log u in the tails), so the error at n is about
    # V_{n/2} - V_n; the bound doubles that a-posteriori estimate (observed: error * n = 0.18 for
    # n from 1e3 to 1e5). A constant error in V or D* cancels in V_{n/2} - V_n and is not excused.
    bound = 2.0 * abs(V_half - V_n) + 1e-12
    detail = (
        f"p_data = N(0, 1), p_G = N(1.5, 0.7^2); V(G, D*) = {V_n:.12f} by gan_value at D* = "
        f"optimal_discriminator(p_data(x), p_G(x)) on n = {n} quantile midpoints of each law; "
        f"2 JSD - log 4 = {target:.12f} with JSD from scipy.integrate.quad of the defining integral; "
        f"bound = 2 |V_(n/2) - V_n| (a-posteriori estimate of the O(1/n) quadrature error)"
    )
    return Evidence(measured, bound, detail)


@theorem(
    "D* = 1/2 and V = -log 4 when p_G = p_data",
    slide=f"{L7}, recap 'GAN optimality theorem'; {L8}, 'For an Optimal Discriminator'",
)
def optimum_at_equal_distributions(side: Side) -> Evidence:
    gan = side.lib.gan
    x = np.linspace(-40.0, 40.0, 401)  # |x| > 38.6: both densities underflow to 0 (D* = 1/2 by convention)
    p = P_DATA.pdf(x)
    log_p = P_DATA.logpdf(x)
    D_star = gan.optimal_discriminator(side.array(p), side.array(p))
    logit = gan.optimal_discriminator_logit(side.array(log_p), side.array(log_p))
    V = gan.gan_value(D_star, D_star)
    errors = {
        "max |D* - 1/2|": float(np.max(np.abs(side.numpy(D_star) - 0.5))),
        "max |logit D*|": float(np.max(np.abs(side.numpy(logit)))),
        "|V + log 4|": abs(float(side.numpy(V)) + math.log(4.0)),
    }
    bound = 8 * EPS * math.log(4.0)  # a mean of 401 equal logs: a few ulp of log 4
    detail = (
        "p_G = p_data = N(0, 1) at 401 points in [-40, 40] (density and log-density forms); "
        + ", ".join(f"{k} = {v:.3g}" for k, v in errors.items())
        + "; bound: 8 ulp of log 4"
    )
    return Evidence(max(errors.values()), bound, detail)


def _discrete_value(side: Side, D: np.ndarray) -> float:
    """V(G, D) on the finite support: sample arrays that repeat D_k COUNTS[k] times, then gan_value."""
    d_real = np.repeat(D, COUNTS_DATA)
    d_fake = np.repeat(D, COUNTS_G)
    return float(side.numpy(side.lib.gan.gan_value(side.array(d_real), side.array(d_fake))))


@theorem("D* maximises V(G, .)", slide=f"{L8}, 'Discriminator Training Objective'")
def optimal_discriminator_maximises_value(side: Side) -> Evidence:
    p, q = COUNTS_DATA / N_COUNTS, COUNTS_G / N_COUNTS
    D_star = side.numpy(side.lib.gan.optimal_discriminator(side.array(p), side.array(q)))
    V_star = _discrete_value(side, D_star)
    rng = np.random.default_rng(20140610)
    gains = []
    for scale in (0.3, 0.03, 3e-3):
        for _ in range(100):
            D = np.clip(D_star + scale * rng.standard_normal(D_star.shape), 0.0, 1.0)
            gains.append(_discrete_value(side, D) - V_star)
    gains_arr = np.array(gains)
    smallest_loss = float(np.min(-gains_arr[np.isfinite(gains_arr)]))
    detail = (
        f"support of {len(p)} points, p_data and p_G with counts out of {N_COUNTS} (one point only under "
        f"each); V(G, D*) = {V_star:.12f}; measured: the largest V(G, D) - V(G, D*) over 300 perturbed "
        f"discriminators D = clip(D* + s N(0, 1), 0, 1), s in (0.3, 0.03, 0.003) (must be < 0; "
        f"smallest finite loss {smallest_loss:.3g}; V = -inf where a perturbation reaches 0 or 1)"
    )
    return Evidence(float(np.max(gains_arr)), 0.0, detail)


@theorem(
    "Discrete GAN optimum: V(G, D*) = 2 JSD - log 4 exactly on a finite support",
    slide=f"{L8}, 'For an Optimal Discriminator' and 'Jensen-Shannon Divergence'",
)
def gan_optimum_discrete(side: Side) -> Evidence:
    p, q = COUNTS_DATA / N_COUNTS, COUNTS_G / N_COUNTS
    D_star = side.numpy(side.lib.gan.optimal_discriminator(side.array(p), side.array(q)))
    V_star = _discrete_value(side, D_star)
    jsd = float(side.numpy(side.lib.divergences.js_divergence(side.array(p), side.array(q))))
    measured = abs(V_star - (2.0 * jsd - math.log(4.0)))
    bound = 64 * EPS  # two means of 20 logs and a sum of 7 JSD terms, each exact to a few ulp
    detail = (
        f"counts {COUNTS_DATA.tolist()} and {COUNTS_G.tolist()} out of {N_COUNTS}; V(G, D*) = {V_star:.15f} "
        f"(gan_value on repeated samples: exact expectations), 2 JSD - log 4 = {2 * jsd - math.log(4):.15f} "
        f"(divergences.js_divergence); bound 64 eps (rounding)"
    )
    return Evidence(measured, bound, detail)


@theorem("Discriminator loss = -V in logit form", slide=f"{L8}, 'Discriminator Training Objective'")
def discriminator_loss_is_minus_value(side: Side) -> Evidence:
    rng = np.random.default_rng(7)
    l_real = rng.uniform(-20.0, 20.0, size=(4, 257))
    l_fake = rng.uniform(-20.0, 20.0, size=(4, 129))
    D_real, D_fake = special.expit(l_real), special.expit(l_fake)
    gan = side.lib.gan
    # One loss per batch: the losses take (n,) or (n, 1) per-sample values (the (n, 1) form for the fakes).
    loss = np.array(
        [side.numpy(gan.discriminator_loss(side.array(r), side.array(f[:, None]))) for r, f in zip(l_real, l_fake)]
    )
    V = np.array([side.numpy(gan.gan_value(side.array(r), side.array(f[:, None]))) for r, f in zip(D_real, D_fake)])
    measured = float(np.max(np.abs(loss + V)))
    # D = sigmoid(l) is rounded to eps/2 relative; log D then moves by eps/2 and log(1 - D) by
    # (eps/2) D / (1 - D), which is large where D is near 1. Add a few ulp of |V| for the logs and means.
    conditioning = 0.5 * EPS * (1.0 + np.mean(D_fake / (1.0 - D_fake), axis=-1))
    bound = float(np.max(conditioning + 8 * EPS * (1.0 + np.abs(V))))
    detail = (
        "4 batches of 257 real and 129 fake logits uniform in [-20, 20]; measured max |discriminator_loss(l) "
        "+ gan_value(sigmoid(l))|; bound from the rounding of D = sigmoid(l) propagated through "
        "log(1 - D), plus 8 ulp of |V|"
    )
    return Evidence(measured, bound, detail)


@theorem("Truncated normal matches the truncated Gaussian law", slide=f"{L7}, 'Truncation trick' (BigGAN)")
def truncated_normal_law(side: Side) -> Evidence:
    n = 2_000
    u = (np.arange(1, n + 1) - 0.5) / n
    ks_worst, inverse_worst, outside = 0.0, 0.0, 0
    psis = (0.3, 0.7, 1.0, 2.0, 4.0, 10.0)
    for psi in psis:
        z = np.sort(side.numpy(side.lib.gan.truncated_normal(psi, noise=side.array(u))))
        outside += int(np.count_nonzero(np.abs(z) > psi))
        F = stats.truncnorm(-psi, psi).cdf(z)
        i = np.arange(1, n + 1)
        ks = float(np.max(np.maximum(i / n - F, F - (i - 1) / n)))
        ks_worst = max(ks_worst, ks)
        inverse_worst = max(inverse_worst, float(np.max(np.abs(F - u))))
    # An exact inverse-CDF sampler has F(z_i) = u_i, with F SciPy's truncnorm CDF (an independent
    # implementation); 1e-10 allows for the rounding of z and of that CDF. Then the KS distance of the
    # quantile-midpoint sample is exactly 1/(2n), reported in the detail.
    bound = 1e-10
    detail = (
        f"max |F(z_i) - u_i| with F = scipy.stats.truncnorm(-psi, psi).cdf, z_i = truncated_normal(psi, "
        f"noise=u_i), u_i = (i - 1/2)/n, n = {n}, worst over psi in {psis}; KS distance {ks_worst:.6g} "
        f"(exact sampler: 1/(2n) = {0.5 / n:g}); samples outside [-psi, psi]: {outside}"
    )
    measured = inverse_worst if outside == 0 else math.inf
    return Evidence(measured, bound, detail)
