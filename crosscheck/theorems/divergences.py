"""Slide statements about KL and JSD, checked on both sides.

* Isachenko DGM Lecture 7, recap 'Informal theoretical results': disjoint supports give
  KL(pi || p) = KL(p || pi) = inf and JSD(pi || p) = log 2.
* Lecture 8 (GANs, Samples, Energy/Score-based models), 'Jensen-Shannon Divergence': the definition
  JSD = 1/2 KL(p || m) + 1/2 KL(q || m), symmetry, and 0 <= JSD <= log 2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import integrate, stats

from ..registry import Evidence, Side, theorem

L7 = "L7, recap 'Informal theoretical results'"
L8 = "L8, 'Jensen-Shannon Divergence'"


def _random_simplex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    z = rng.normal(scale=3.0, size=shape)
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _disjoint_pairs(rng: np.random.Generator, batch: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of distributions on {0..n-1} whose supports are disjoint (a random split of the points)."""
    p = _random_simplex(rng, (batch, n))
    q = _random_simplex(rng, (batch, n))
    split = rng.random((batch, n)) < 0.5
    split[:, 0], split[:, 1] = True, False  # both supports non-empty
    p, q = np.where(split, p, 0.0), np.where(split, 0.0, q)
    return p / p.sum(-1, keepdims=True), q / q.sum(-1, keepdims=True)


@theorem("Disjoint supports: KL = inf both ways and JSD = log 2", slide=L7)
def disjoint_supports(side: Side) -> Evidence:
    rng = np.random.default_rng(7)
    p, q = _disjoint_pairs(rng, 200, 12)
    P, Q = side.array(p), side.array(q)
    div = side.lib.divergences
    kl_pq, kl_qp = side.numpy(div.kl_divergence(P, Q)), side.numpy(div.kl_divergence(Q, P))
    jsd = side.numpy(div.js_divergence(P, Q))
    all_inf = bool(np.all(np.isposinf(kl_pq)) and np.all(np.isposinf(kl_qp)))
    measured = float(np.max(np.abs(jsd - math.log(2)))) if all_inf else math.inf
    return Evidence(
        measured,
        4e-16,  # log 2 * sum(m) with sum(m) = 1 up to a few ulp of the normalisation
        f"200 random pairs on 12 points with disjoint supports: KL infinite both ways: {all_inf}; "
        "measured = max |JSD - log 2|",
    )


@theorem("0 <= JSD <= log 2, JSD symmetric, JSD(p, p) = 0", slide=L8)
def jsd_bounds_and_symmetry(side: Side) -> Evidence:
    rng = np.random.default_rng(8)
    p = _random_simplex(rng, (500, 10))
    q = _random_simplex(rng, (500, 10))
    q[::5] = p[::5]  # some equal pairs
    p[1::7, 3:] = 0.0  # some exact zeros
    p /= p.sum(-1, keepdims=True)
    div = side.lib.divergences
    P, Q = side.array(p), side.array(q)
    pq, qp = side.numpy(div.js_divergence(P, Q)), side.numpy(div.js_divergence(Q, P))
    pp = side.numpy(div.js_divergence(P, P))
    violation = max(
        float(np.max(np.maximum(-pq, 0.0))),
        float(np.max(np.maximum(pq - math.log(2), 0.0))),
        float(np.max(np.abs(pq - qp))),
        float(np.max(np.abs(pp))),
    )
    return Evidence(
        violation,
        1e-15,
        "500 random pairs on 10 points (every 5th equal, some with zeros): largest violation of "
        "JSD >= 0, JSD <= log 2, |JSD(p,q) - JSD(q,p)| = 0, JSD(p,p) = 0",
    )


@theorem("JSD = 1/2 KL(p || m) + 1/2 KL(q || m), m = (p + q)/2", slide=L8)
def jsd_definition(side: Side) -> Evidence:
    rng = np.random.default_rng(9)
    p = _random_simplex(rng, (300, 8))
    q = _random_simplex(rng, (300, 8))
    m = 0.5 * (p + q)
    div = side.lib.divergences
    jsd = side.numpy(div.js_divergence(side.array(p), side.array(q)))
    via_kl = 0.5 * side.numpy(div.kl_divergence(side.array(p), side.array(m))) + 0.5 * side.numpy(
        div.kl_divergence(side.array(q), side.array(m))
    )
    rel = float(np.max(np.abs(jsd - via_kl) / np.abs(via_kl)))
    return Evidence(rel, 1e-12, "300 random pairs on 8 points: max relative difference between the two forms (float64)")


@theorem(
    "Gaussian KL = sum of 1-D closed forms for independent coordinates",
    slide="L13, recap 'ELBO of gaussian diffusion model' (its KL terms)",
)
def gaussian_kl_closed_form(side: Side) -> Evidence:
    # KL(N(m1, s1^2) || N(m2, s2^2)) = log(s2/s1) + (s1^2 + (m1 - m2)^2) / (2 s2^2) - 1/2, elementwise
    # over a diagonal 3-D Gaussian (the KL of independent coordinates adds up).
    m1, s1 = np.array([0.3, -1.0, 2.0]), np.array([0.5, 1.5, 1.0])
    m2, s2 = np.array([-0.2, 0.0, 2.5]), np.array([1.1, 0.7, 2.0])
    closed = float(np.sum(np.log(s2 / s1) + (s1**2 + (m1 - m2) ** 2) / (2 * s2**2) - 0.5))
    kl = float(
        side.numpy(
            side.lib.divergences.kl_gaussian(
                side.array(m1), side.array(np.diag(s1**2)), side.array(m2), side.array(np.diag(s2**2))
            )
        )
    )
    return Evidence(abs(kl - closed) / closed, 1e-14, f"closed form {closed:.15g}, library {kl:.15g} (relative)")


@theorem("Monte-Carlo JSD agrees with quadrature within 5 standard errors", slide=L8)
def jsd_monte_carlo(side: Side) -> Evidence:
    p, q = stats.norm(0.0, 1.0), stats.norm(1.0, 0.6)

    def integrand(x: float) -> float:
        px, qx = p.pdf(x), q.pdf(x)
        mx = 0.5 * (px + qx)
        return 0.5 * (px * math.log(px / mx) + qx * math.log(qx / mx)) if mx > 0 else 0.0

    exact, _ = integrate.quad(integrand, -12, 12, epsabs=1e-13, limit=200)
    rng = np.random.default_rng(10)
    n = 20_000 if side.quick else 200_000
    x, y = p.rvs(n, random_state=rng), q.rvs(n, random_state=rng)
    lpx, lqx, lpy, lqy = p.logpdf(x), q.logpdf(x), p.logpdf(y), q.logpdf(y)
    est = float(side.numpy(side.lib.divergences.js_divergence_mc(*map(side.array, (lpx, lqx, lpy, lqy)))))
    # standard error of log 2 - 1/2 mean softplus(.) - 1/2 mean softplus(.) from the sample variances
    sp_x, sp_y = np.logaddexp(0, lqx - lpx), np.logaddexp(0, lpy - lqy)
    se = 0.5 * math.sqrt(sp_x.var(ddof=1) / n + sp_y.var(ddof=1) / n)
    return Evidence(
        abs(est - exact),
        5 * se,
        f"N(0,1) vs N(1,0.6^2), n = {n} samples each (seed 10): quadrature {exact:.6f}, MC {est:.6f}",
    )


@theorem("JSD is not the symmetric KL (slide typo): JSD <= (KL(p||q) + KL(q||p)) / 4, finite where it is inf", slide=L8)
def jsd_is_not_the_symmetric_kl(side: Side) -> Evidence:
    div = side.lib.divergences
    rng = np.random.default_rng(12)
    p, q = rng.dirichlet(np.ones(5), size=200), rng.dirichlet(np.ones(5), size=200)
    jsd = side.numpy(div.js_divergence(side.array(p), side.array(q)))
    sym = 0.5 * (
        side.numpy(div.kl_divergence(side.array(p), side.array(q)))
        + side.numpy(div.kl_divergence(side.array(q), side.array(p)))
    )
    # Lin (1991): KL(p || m) <= KL(p || p) / 2 + KL(p || q) / 2 by convexity, so JSD <= sym / 2, i.e. the
    # slide's "symmetric KL" overstates JSD at least twofold (rounding: 1e-15 relative); and for p = (1, 0),
    # q = (1/2, 1/2) the symmetric KL is inf while JSD = 3/4 log(4/3) is finite.
    excess = float(np.max((jsd - 0.5 * sym) / (1.0 + sym)))
    a, b = side.array(np.array([1.0, 0.0])), side.array(np.array([0.5, 0.5]))
    jsd_ab = float(side.numpy(div.js_divergence(a, b)))
    sym_ab = 0.5 * float(side.numpy(div.kl_divergence(a, b)) + side.numpy(div.kl_divergence(b, a)))
    closed = 0.75 * math.log(4.0 / 3.0)  # 1/2 KL((1, 0) || (3/4, 1/4)) + 1/2 KL((1/2, 1/2) || (3/4, 1/4))
    ok = math.isinf(sym_ab) and math.isfinite(jsd_ab)
    measured = max(excess, abs(jsd_ab - closed)) if ok else math.inf
    detail = (
        f"200 random pairs on 5 points: max (JSD - symKL / 2) / (1 + symKL) = {excess:.2g} (must be <= 0); "
        f"p = (1, 0), q = (1/2, 1/2): symmetric KL = {sym_ab}, JSD = {jsd_ab:.12f} (closed form {closed:.12f})"
    )
    return Evidence(measured, 1e-14, detail)
