"""Slide statements about sample-quality metrics, checked on both sides.

* Isachenko DGM Lecture 7, 'Frechet Inception Distance': FID = W_2^2 of the fitted Gaussians, so FID
  of identical statistics is 0, FID is symmetric, and in 1-D it is (m1 - m2)^2 + (s1 - s2)^2;
  'Frechet Inception Distance (FID)' (the FID / FID_inf table: FID_N is extrapolated to 1/N = 0);
  'Precision-Recall' (identical sets: precision = recall = 1; far-apart sets: 0).
* Advanced Course on DGM Lecture 8, 'Inception Score': IS = D x S, 1 <= IS <= K, and IS = K for
  confident predictions spread evenly over K classes; 'Computing FID' (the fitted Gaussian does not
  depend on how the features were batched).
"""

from __future__ import annotations

import math

import numpy as np

from ..registry import Evidence, Side, theorem

L7_FID = "L7, 'Frechet Inception Distance'"
L7_FID_TABLE = "L7, 'Frechet Inception Distance (FID)'"
L7_PR = "L7, 'Precision-Recall'"
L8_IS = "L8, 'Inception Score'"
L8_FID = "L8, 'Computing FID'"


def _f(x: object) -> float:
    return float(np.asarray(x, dtype=np.float64))


def _spd(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.5 * np.eye(d)


@theorem("FID of identical statistics is 0, and FID is symmetric", slide=L7_FID)
def fid_zero_and_symmetric(side: Side) -> Evidence:
    rng = np.random.default_rng(21)
    metrics = side.lib.metrics
    worst_zero = worst_asym = 0.0
    for d in (1, 3, 16, 64):
        mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
        s1, s2 = _spd(rng, d), _spd(rng, d)
        M1, S1, M2, S2 = map(side.array, (mu1, s1, mu2, s2))
        scale = float(np.trace(s1) + np.trace(s2))
        worst_zero = max(worst_zero, abs(_f(side.numpy(metrics.frechet_distance(M1, S1, M1, S1)))) / scale)
        ab = _f(side.numpy(metrics.frechet_distance(M1, S1, M2, S2)))
        ba = _f(side.numpy(metrics.frechet_distance(M2, S2, M1, S1)))
        worst_asym = max(worst_asym, abs(ab - ba) / scale)
    return Evidence(
        max(worst_zero, worst_asym),
        1e-12,
        f"random SPD covariances, d in (1, 3, 16, 64): max |FID(a, a)| = {worst_zero:.2e} and "
        f"max |FID(a, b) - FID(b, a)| = {worst_asym:.2e}, both relative to tr S1 + tr S2 (float64)",
    )


@theorem("FID = W_2^2 of the Gaussians: (m1 - m2)^2 + (s1 - s2)^2 per independent coordinate", slide=L7_FID)
def fid_is_w2_squared(side: Side) -> Evidence:
    # For diagonal covariances the Bures term splits by coordinate: sum_i (m1_i - m2_i)^2 + (s1_i - s2_i)^2.
    m1, s1 = np.array([0.3, -1.0, 2.0, 0.0]), np.array([0.5, 1.5, 1.0, 3.0])
    m2, s2 = np.array([-0.2, 0.0, 2.5, 0.0]), np.array([1.1, 0.7, 2.0, 3.0])
    closed = float(np.sum((m1 - m2) ** 2 + (s1 - s2) ** 2))
    metrics = side.lib.metrics
    value = _f(
        side.numpy(
            metrics.frechet_distance(
                side.array(m1), side.array(np.diag(s1**2)), side.array(m2), side.array(np.diag(s2**2))
            )
        )
    )
    one_d = _f(
        side.numpy(
            metrics.frechet_distance(
                side.array(m1[:1]), side.array([[s1[0] ** 2]]), side.array(m2[:1]), side.array([[s2[0] ** 2]])
            )
        )
    )
    closed_1d = (m1[0] - m2[0]) ** 2 + (s1[0] - s2[0]) ** 2
    rel = max(abs(value - closed) / closed, abs(one_d - closed_1d) / closed_1d)
    return Evidence(
        rel,
        1e-14,
        f"4-D diagonal: closed form {closed:.15g}, library {value:.15g}; 1-D: {closed_1d:.15g} vs {one_d:.15g} "
        "(max relative difference)",
    )


@theorem("IS = D x S (diversity times sharpness)", slide=L8_IS)
def inception_score_factorises(side: Side) -> Evidence:
    rng = np.random.default_rng(22)
    worst = 0.0
    for n, K, conc in ((200, 10, 0.3), (50, 1000, 0.05), (500, 3, 5.0), (10, 7, 0.01)):
        p = rng.dirichlet(np.full(K, conc), size=n)
        p[0] = 0.0
        p[0, 0] = 1.0  # a one-hot row: exact zeros exercise 0 log 0 = 0
        c = side.lib.metrics.inception_score_components(side.array(p))
        IS, S, D = (_f(side.numpy(v)) for v in c)
        worst = max(worst, abs(IS - D * S) / IS)
    return Evidence(worst, 1e-13, "4 random Dirichlet tables up to K = 1000: max |IS - D S| / IS (float64)")


@theorem("1 <= IS <= K, and IS = K for confident predictions spread evenly over K classes", slide=L8_IS)
def inception_score_bounds(side: Side) -> Evidence:
    rng = np.random.default_rng(23)
    metrics = side.lib.metrics
    K = 10
    violation = 0.0
    for conc in (0.01, 0.3, 1.0, 100.0):
        p = rng.dirichlet(np.full(K, conc), size=300)
        result = metrics.inception_score(side.array(p), splits=3)
        for s in range(3):
            block = p[s * 100 : (s + 1) * 100]
            score = _f(side.numpy(metrics.inception_score(side.array(block)).mean))
            violation = max(violation, 1.0 - score, score - K)
        violation = max(violation, 1.0 - _f(side.numpy(result.mean)), _f(side.numpy(result.mean)) - K)
    same = np.tile(rng.dirichlet(np.ones(K)), (50, 1))  # every row equal: KL = 0, IS = 1
    violation = max(violation, abs(_f(side.numpy(metrics.inception_score(side.array(same)).mean)) - 1.0))
    one_hot = np.eye(K)[np.repeat(np.arange(K), 7)]  # 7 confident predictions per class: IS = K
    confident = _f(side.numpy(metrics.inception_score(side.array(one_hot)).mean))
    violation = max(violation, abs(confident - K) / K)
    return Evidence(
        max(violation, 0.0),
        1e-13,
        f"K = {K}: Dirichlet tables (4 concentrations, 3 splits), identical rows (IS = 1) and one-hot rows "
        f"7 per class (IS = {confident:.15g}, expected {K}): largest violation of 1 <= IS <= K or of the two "
        "exact values (relative for IS = K)",
    )


@theorem("Precision = recall = 1 for identical sets and 0 for far-apart sets", slide=L7_PR)
def precision_recall_extremes(side: Side) -> Evidence:
    rng = np.random.default_rng(24)
    metrics = side.lib.metrics
    worst = 0.0
    for n, d, k in ((200, 8, 3), (60, 2, 5), (300, 32, 1)):
        x = rng.normal(size=(n, d))
        X = side.array(x)
        same = [_f(side.numpy(v)) for v in metrics.prdc(X, X, k=k, block_size=37)]
        pr = [_f(side.numpy(v)) for v in metrics.precision_recall(X, X, k=k)]
        far = [_f(side.numpy(v)) for v in metrics.prdc(X, side.array(x + 1e3), k=k)]
        worst = max(worst, abs(same[0] - 1), abs(same[1] - 1), abs(same[3] - 1), abs(pr[0] - 1), abs(pr[1] - 1))
        worst = max(worst, *(abs(v) for v in far))
    return Evidence(
        worst,
        0.0,
        "Gaussian sets (n, d, k) in ((200, 8, 3), (60, 2, 5), (300, 32, 1)): identical sets give precision, "
        "recall and coverage 1; a copy shifted by 1e3 gives all four 0; measured = largest deviation",
    )


@theorem("Streaming statistics equal the one-shot statistics for any batching", slide=L8_FID)
def streaming_equals_one_shot(side: Side) -> Evidence:
    rng = np.random.default_rng(25)
    metrics = side.lib.metrics
    n, d = 500, 12
    x = rng.normal(size=(n, d)) * rng.uniform(0.1, 10.0, size=d) + 1e3  # large mean: the shift matters
    full = metrics.feature_statistics(side.array(x))
    mu, sigma = side.numpy(full.mu), side.numpy(full.sigma)
    worst = 0.0
    for _ in range(10):
        cuts = np.sort(rng.choice(np.arange(1, n), size=rng.integers(1, 12), replace=False))
        parts = np.split(x, cuts)
        a, b = metrics.StreamingStatistics(d), metrics.StreamingStatistics(d)
        for i, part in enumerate(parts):
            (a if i % 2 == 0 else b).update(side.array(part))
        s = a.merge(b).finalize()
        worst = max(
            worst,
            float(np.max(np.abs(side.numpy(s.mu) - mu)) / np.max(np.abs(mu))),
            float(np.max(np.abs(side.numpy(s.sigma) - sigma)) / np.max(np.abs(sigma))),
            abs(s.n - full.n),
        )
    return Evidence(
        worst,
        1e-13,
        "500 x 12 features with mean 1e3 and scales 0.1..10, 10 random batchings (1..12 cuts) fed "
        "alternately to two accumulators then merged: max relative difference to the one-shot mean and "
        "covariance (float64)",
    )


def fid_line_problem() -> dict:
    """The FID_inf theorem's construction (also drawn in report.html): ``a``, ``b``, ``sizes`` and the
    ``real``, ``fake`` and ``noise`` arrays for which FID_N = a + b / N exactly at each N in ``sizes``.

    The noise decides which rows form each subset, so the pool is built from disjoint groups, one per
    N, each with covariance exactly that of the real features and mean offset m_N e_1 with
    m_N^2 = a + b / N: FID_N = m_N^2 exactly (up to rounding) and the fit must return (a, b).
    """
    a, b = 20.16, 1.24e3  # the slide's FID_inf of Model-A as intercept, an arbitrary slope
    rng = np.random.default_rng(26)
    d = 3
    sizes = [20, 30, 45, 60, 90]
    real = rng.normal(size=(400, d)) @ np.array([[1.0, 0.2, 0.0], [0.0, 0.8, 0.3], [0.0, 0.0, 0.5]])
    real_cov = np.cov(real, rowvar=False)
    L_real = np.linalg.cholesky(real_cov)
    groups = []
    for N in sizes:
        g = rng.normal(size=(N, d))
        g -= g.mean(axis=0)
        g = g @ np.linalg.inv(np.linalg.cholesky(np.cov(g, rowvar=False))).T @ L_real.T  # cov(g) = real_cov
        offset = np.zeros(d)
        offset[0] = math.sqrt(a + b / N)
        groups.append(g + real.mean(axis=0) + offset)
    fake = np.concatenate(groups)
    noise = np.ones((len(sizes), fake.shape[0]))
    start = 0
    for j, N in enumerate(sizes):
        noise[j, start : start + N] = np.linspace(0.0, 0.5, N)  # group j sorts first in row j
        start += N
    return {"a": a, "b": b, "sizes": sizes, "real": real, "fake": fake, "noise": noise}


@theorem("FID_inf recovers the line when FID_N is exactly a + b / N", slide=L7_FID_TABLE)
def fid_infinity_recovers_line(side: Side) -> Evidence:
    problem = fid_line_problem()
    a, b, sizes, real, fake, noise = (problem[k] for k in ("a", "b", "sizes", "real", "fake", "noise"))
    result = side.lib.metrics.fid_infinity(
        side.array(real), side.array(fake), batch_sizes=sizes, noise=side.array(noise)
    )
    fid_inf, slope = _f(side.numpy(result.fid_inf)), _f(side.numpy(result.slope))
    rel = max(abs(fid_inf - a) / a, abs(slope - b) / b)
    return Evidence(
        rel,
        1e-10,
        f"FID_N = {a} + {b:g}/N at N = {sizes} by construction: fitted intercept {fid_inf:.12g}, slope "
        f"{slope:.12g} (max relative error)",
    )
