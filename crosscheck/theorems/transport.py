"""Slide statements about optimal transport, checked on both sides.

* Isachenko DGM Lecture 7, slide 'Wasserstein metric' (theorem): W_2 between Gaussians in closed
  form, against the exact 1-D optimal transport of quantile points (in 1-D, and coordinate-wise for
  diagonal covariances seen in a rotated frame); W_s is a metric.
* Lecture 7, recap 'Theorem (Kantorovich-Rubinstein duality)': W_1 = max over 1-Lipschitz f of
  E_pi f - E_p f, the dual solved as a linear program on the support points.
* Lecture 7, recap 'Wasserstein distance' (the plans gamma in Gamma(pi, p)): the entropic plan's cost
  tends to the exact optimum as epsilon -> 0, within eps log(min(n, m)); the debiased Sinkhorn
  divergence is zero for identical measures and non-negative.
"""

from __future__ import annotations

import importlib
import itertools
import math
import warnings

import numpy as np
from scipy import optimize, stats

from ..registry import Evidence, Side, theorem

L7_METRIC = "L7, 'Wasserstein metric'"
L7_KR = "L7, recap 'Theorem (Kantorovich-Rubinstein duality)'"
L7_DISTANCE = "L7, recap 'Wasserstein distance'"


def _transport(side: Side):
    """The side's ``transport`` module (imported directly: it works before the topic is listed in TOPICS)."""
    return importlib.import_module(f"{side.name}.transport")


def _quantile_points(n: int) -> np.ndarray:
    """Standard normal quantiles z_i = Phi^{-1}((i - 1/2) / n), i = 1..n (mean 0 by symmetry)."""
    return stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)


def _quantile_gap_bound(n: int) -> float:
    """1 - mean(z_i^2) <= (log(n) + 1) / n: the midpoint rule misses the tails of int Phi^{-1}(s)^2 ds.

    The integrand is convex and grows like 2 log(1/s) near s = 0, so the midpoint rule underestimates,
    and the error is dominated by the two end cells of width 1/n: about (2/n) (log(2n) + 1) / 2.
    """
    return (math.log(n) + 1.0) / n


def _one_dimensional_gaussians(rng: np.random.Generator, count: int):
    m1, m2 = rng.normal(size=count), rng.normal(size=count)
    s1, s2 = rng.uniform(0.2, 3.0, count), rng.uniform(0.2, 3.0, count)
    return m1, s1, m2, s2, np.sqrt((m1 - m2) ** 2 + (s1 - s2) ** 2)


@theorem("W2 between 1-D Gaussians = sqrt((m1 - m2)^2 + (s1 - s2)^2)", slide=L7_METRIC)
def gaussian_w2_one_dimensional(side: Side) -> Evidence:
    m1, s1, m2, s2, closed = _one_dimensional_gaussians(np.random.default_rng(20), 50)
    w2 = side.numpy(
        _transport(side).gaussian_w2(
            side.array(m1[:, None]),
            side.array(s1[:, None, None] ** 2),
            side.array(m2[:, None]),
            side.array(s2[:, None, None] ** 2),
        )
    )
    return Evidence(
        float(np.max(np.abs(w2 - closed) / closed)),
        1e-14,
        "50 random pairs of 1-D Gaussians, gaussian_w2 with 1x1 covariances (batched): max relative error "
        "against the closed form",
    )


@theorem("Exact 1-D OT of quantile points converges to the 1-D Gaussian W2", slide=L7_METRIC)
def quantile_ot_converges(side: Side) -> Evidence:
    # u_i = m1 + s1 z_i, v_i = m2 + s2 z_i with z_i = Phi^{-1}((i - 1/2)/n): the exact 1-D OT of these
    # n-point measures (wasserstein_1d, p = 2) tends to sqrt((m1 - m2)^2 + (s1 - s2)^2).
    m1, s1, m2, s2, closed = _one_dimensional_gaussians(np.random.default_rng(20), 5)
    sizes = (100, 1000, 5000) if side.quick else (100, 1000, 20000)
    gaps = []
    for n in sizes:
        z = _quantile_points(n)
        u, v = m1[:, None] + s1[:, None] * z, m2[:, None] + s2[:, None] * z
        w_n = side.numpy(_transport(side).wasserstein_1d(side.array(u), side.array(v), p=2))
        gaps.append(float(np.max(np.abs(w_n - closed) / closed)))
    return Evidence(
        gaps[-1],
        _quantile_gap_bound(sizes[-1]),
        f"5 pairs of 1-D Gaussians, n = {sizes} quantile points: max relative gap "
        f"{', '.join(f'{g:.2e}' for g in gaps)}; bound (log n + 1)/n at n = {sizes[-1]}",
    )


@theorem("Gaussian W2 closed form = exact 1-D OT of quantiles, coordinate-wise in a rotated frame", slide=L7_METRIC)
def gaussian_w2_against_quantile_ot(side: Side) -> Evidence:
    # N(mu_k, Q diag(s_k^2) Q^T), k = 1, 2, with the same rotation Q: W_2 is invariant under the
    # isometry Q^T, and for diagonal covariances it splits into independent 1-D problems, each solved
    # exactly by the quantile coupling of the quantile points m + s z_i.
    rng = np.random.default_rng(21)
    d = 4
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = rng.uniform(0.3, 2.0, d), rng.uniform(0.3, 2.0, d)
    cov1, cov2 = (Q * s1**2) @ Q.T, (Q * s2**2) @ Q.T
    cov1, cov2 = 0.5 * (cov1 + cov1.T), 0.5 * (cov2 + cov2.T)
    tr = _transport(side)
    closed = float(side.numpy(tr.gaussian_w2(*map(side.array, (Q @ m1, cov1, Q @ m2, cov2)), squared=True)))
    n = 2000 if side.quick else 20000
    z = _quantile_points(n)
    u, v = m1[:, None] + s1[:, None] * z, m2[:, None] + s2[:, None] * z  # (d, n): one 1-D problem per axis
    per_axis = side.numpy(tr.wasserstein_1d(side.array(u), side.array(v), p=2)) ** 2
    quantile = float(np.sum(per_axis))
    relative = abs(quantile - closed) / closed
    return Evidence(
        relative,
        _quantile_gap_bound(n),
        f"d = 4, rotated diagonal covariances: closed form W_2^2 = {closed:.10f}, sum of 1-D quantile OT on "
        f"n = {n} points = {quantile:.10f}; bound (log n + 1)/n on the relative gap",
    )


def _kantorovich_dual_1d(z: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """max sum_i f_i (a_i - b_i) over f with |f_{i+1} - f_i| <= z_{i+1} - z_i, f_0 = 0 (linprog, HiGHS).

    On the real line a function on sorted points is 1-Lipschitz iff consecutive differences are, and
    any such function extends to a 1-Lipschitz function on R (linear interpolation).
    """
    k = z.shape[0]
    gaps = np.diff(z)
    D = np.zeros((k - 1, k))
    D[np.arange(k - 1), np.arange(k - 1)] = -1.0
    D[np.arange(k - 1), np.arange(1, k)] = 1.0
    A_ub = np.vstack([D, -D])
    b_ub = np.concatenate([gaps, gaps])
    bounds = [(0.0, 0.0)] + [(None, None)] * (k - 1)
    result = optimize.linprog(-(a - b), A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs-ds")
    return float(-result.fun)


@theorem("Kantorovich-Rubinstein in 1-D: primal W_1 = dual max over 1-Lipschitz f (LP)", slide=L7_KR)
def kantorovich_rubinstein_1d(side: Side) -> Evidence:
    rng = np.random.default_rng(22)
    worst, scale = 0.0, 0.0
    for _ in range(20):
        n, m = rng.integers(1, 15, size=2)
        u, v = rng.normal(size=n), rng.normal(1.0, 2.0, size=m)
        a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
        primal = float(
            side.numpy(
                _transport(side).wasserstein_1d(
                    side.array(u), side.array(v), p=1, u_weights=side.array(a), v_weights=side.array(b)
                )
            )
        )
        z = np.concatenate([u, v])
        order = np.argsort(z)
        mass_a = np.concatenate([a, np.zeros(m)])[order]
        mass_b = np.concatenate([np.zeros(n), b])[order]
        dual = _kantorovich_dual_1d(z[order], mass_a, mass_b)
        worst, scale = max(worst, abs(primal - dual)), max(scale, primal)
    return Evidence(
        worst / scale,
        1e-9,
        "20 random weighted pairs (n, m <= 14): max |W_1 - dual| / max W_1 (the dual LP by HiGHS, exact to "
        "its 1e-9 feasibility tolerance)",
    )


@theorem("W_p is a metric: W(x, x) = 0, symmetry, triangle inequality (exact OT)", slide=L7_METRIC)
def wasserstein_is_a_metric(side: Side) -> Evidence:
    rng = np.random.default_rng(23)
    violation = 0.0
    count = 10 if side.quick else 40
    tr = _transport(side)
    for k in range(count):
        p = [1.0, 2.0, 3.0, 1.5][k % 4]
        clouds = [rng.normal(size=(rng.integers(1, 7), 2)) for _ in range(3)]
        weights = [rng.dirichlet(np.ones(c.shape[0])) for c in clouds]
        x, y, z = (side.array(c) for c in clouds)
        a, b, c = (side.array(w) for w in weights)

        def W(s, t, ws, wt, p=p):
            return float(side.numpy(tr.wasserstein(s, t, p=p, a=ws, b=wt)))

        w_xy, w_yx = W(x, y, a, b), W(y, x, b, a)
        w_yz, w_xz = W(y, z, b, c), W(x, z, a, c)
        violation = max(violation, W(x, x, a, a), abs(w_xy - w_yx), w_xz - w_xy - w_yz)
    return Evidence(
        violation,
        1e-9,
        f"{count} random triples of weighted clouds in R^2 (1 to 6 points), p in (1, 2, 3, 1.5): largest of "
        "W(x, x), |W(x, y) - W(y, x)|, W(x, z) - W(x, y) - W(y, z) (LP solutions exact to ~1e-9)",
    )


@theorem("Sinkhorn transport cost -> exact OT as eps -> 0, within eps log min(n, m)", slide=L7_DISTANCE)
def sinkhorn_tends_to_exact(side: Side) -> Evidence:
    # 0 <= <P_eps, C> - W_p^p <= OT_eps - W_p^p <= eps KL(P* | a b^T) <= eps log min(n, m) (P* an exact
    # plan; <P_eps, C> <= OT_eps since KL >= 0), up to the marginal error of the computed plan.
    rng = np.random.default_rng(24)
    n, m = 20, 15
    x, y = rng.random((n, 2)), rng.random((m, 2))
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    tr = _transport(side)
    args = dict(a=side.array(a), b=side.array(b))
    exact = float(side.numpy(tr.wasserstein(side.array(x), side.array(y), p=2, **args))) ** 2
    epsilons = [0.3, 0.1, 0.03, 0.01] if side.quick else [0.3, 0.1, 0.03, 0.01, 0.003]
    gaps, worst_ratio = [], 0.0
    for eps in epsilons:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a non-converged solve fails the check
            result = tr.sinkhorn(side.array(x), side.array(y), epsilon=eps, p=2, tol=1e-10, max_iter=50_000, **args)
        gap = float(side.numpy(result.cost)) - exact
        gaps.append(gap)
        worst_ratio = max(worst_ratio, gap / (eps * math.log(min(n, m))), -gap / 1e-9)
    shrinking = all(g1 > g2 for g1, g2 in itertools.pairwise(gaps))
    return Evidence(
        worst_ratio if shrinking else math.inf,
        1.0,
        f"n = 20, m = 15 random weighted points in [0,1]^2, p = 2, exact W_2^2 = {exact:.8f}; gap <P_eps, C> - "
        f"W_2^2 at eps = {epsilons}: {', '.join(f'{g:.2e}' for g in gaps)} (strictly decreasing: {shrinking}); "
        "measured = max gap / (eps log min(n, m)), and a negative gap beyond 1e-9 counts as a failure",
    )


@theorem("Sinkhorn divergence: S(a, a) = 0 and S(a, b) >= 0", slide=L7_METRIC)
def sinkhorn_divergence_zero_and_nonnegative(side: Side) -> Evidence:
    rng = np.random.default_rng(25)
    tr = _transport(side)
    worst_zero, worst_negative, smallest = 0.0, 0.0, math.inf
    count = 6 if side.quick else 20
    for k in range(count):
        p = 1.0 if k % 2 else 2.0
        x = rng.normal(size=(rng.integers(2, 12), 2))
        y = x + rng.normal(scale=[1.0, 0.3, 0.1][k % 3], size=x.shape) if k % 4 == 0 else rng.normal(size=(7, 2))
        a = rng.dirichlet(np.ones(x.shape[0]))
        eps = 0.5
        X, Y, A = side.array(x), side.array(y), side.array(a)
        s_xx = float(side.numpy(tr.sinkhorn_divergence(X, X, epsilon=eps, p=p, a=A, b=A)))
        s_xy = float(side.numpy(tr.sinkhorn_divergence(X, Y, epsilon=eps, p=p, a=A)))
        worst_zero = max(worst_zero, abs(s_xx))
        worst_negative = max(worst_negative, -s_xy)
        smallest = min(smallest, s_xy)
    return Evidence(
        max(worst_zero, worst_negative),
        1e-9,
        f"{count} random pairs in R^2 (p = 1 and 2, eps = 0.5): max |S(a, a)| = {worst_zero:.1e}, "
        f"smallest S(a, b) = {smallest:.3e}; bound 1e-9, the Sinkhorn tolerance",
    )


def _kantorovich_dual_lp(x: np.ndarray, y: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """max sum_i a_i f_i + sum_j b_j g_j over f_i + g_j <= ||x_i - y_j|| (the Kantorovich dual LP, HiGHS)."""
    n, m = len(a), len(b)
    cost = np.linalg.norm(x[:, None, :] - y[None, :, :], axis=-1).reshape(-1)
    A = np.zeros((n * m, n + m))
    rows = np.arange(n * m)
    A[rows, rows // m] = 1.0
    A[rows, n + rows % m] = 1.0
    result = optimize.linprog(
        -np.concatenate([a, b]), A_ub=A, b_ub=cost, bounds=[(None, None)] * (n + m), method="highs-ds"
    )
    return float(-result.fun)


@theorem("Kantorovich-Rubinstein in 2-D: primal W_1 (exact OT) = the dual LP", slide=L7_KR)
def kantorovich_rubinstein_2d(side: Side) -> Evidence:
    rng = np.random.default_rng(24)
    worst, scale = 0.0, 0.0
    for _ in range(15):
        n, m = rng.integers(1, 11, size=2)
        x, y = rng.normal(size=(n, 2)), rng.normal(1.0, 2.0, size=(m, 2))
        a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
        primal = float(
            side.numpy(
                _transport(side).wasserstein(side.array(x), side.array(y), p=1, a=side.array(a), b=side.array(b))
            )
        )
        dual = _kantorovich_dual_lp(x, y, a, b)
        worst, scale = max(worst, abs(primal - dual)), max(scale, primal)
    # Bound: LP strong duality makes them equal; both are solved by HiGHS to its 1e-9 feasibility
    # tolerance (the dual's pairs f_i + g_j <= c_ij are the c-concave pairs whose sup is the 1-Lipschitz
    # form of the theorem: for c a metric, g = -f at the optimum).
    return Evidence(
        worst / scale,
        1e-9,
        "15 random weighted pairs in R^2 (n, m <= 10): max |W_1 (transport.wasserstein, p = 1) - dual LP| / "
        "max W_1, the dual max a.f + b.g s.t. f_i + g_j <= ||x_i - y_j|| by scipy linprog (HiGHS)",
    )


@theorem("Kantorovich-Rubinstein: a clipped critic's objective <= K W_1, K its Lipschitz bound", slide=L7_KR)
def clipped_critic_below_k_w1(side: Side) -> Evidence:
    gan = importlib.import_module(f"{side.name}.gan")
    rng = np.random.default_rng(25)
    worst, c = -np.inf, 0.1
    for _ in range(30):
        n, H = rng.integers(2, 12), rng.integers(1, 9)
        x, y = rng.normal(size=(n, 2)), rng.normal(0.5, 1.5, size=(n, 2))
        params = gan.clip_weights(
            [side.array(rng.normal(size=(2, H))), side.array(rng.normal(size=H)), side.array(rng.normal(size=H))], c
        )
        W, bias, out = params
        critic = gan.TanhCritic(W, bias, out)
        value = float(side.numpy(gan.wasserstein_critic_objective(critic(side.array(x)), critic(side.array(y)))))
        # f(x) = a^T tanh(W^T x + b): |grad f| = |W ((1 - h^2) * a)| <= ||W||_2 ||a||_2 since 0 < 1 - h^2 <= 1,
        # so K = ||W||_2 ||a||_2 (<= c sqrt(2 H) c sqrt(H) after clipping at c) and E_x f - E_y f <= K W_1.
        K = float(np.linalg.norm(side.numpy(W), 2) * np.linalg.norm(side.numpy(out)))
        w1 = float(side.numpy(_transport(side).wasserstein(side.array(x), side.array(y), p=1)))
        worst = max(worst, (value - K * w1) / (K * w1))
    # Bound: the inequality is exact; rounding of the critic values and of W_1 is ~1e-15 relative.
    return Evidence(
        worst,
        1e-12,
        f"30 random tanh critics (H <= 8 units, weights clipped at c = {c} by gan.clip_weights) on point sets in "
        "R^2: max (critic objective - K W_1) / (K W_1) with K = ||W||_2 ||a||_2 (must be <= 0)",
    )
