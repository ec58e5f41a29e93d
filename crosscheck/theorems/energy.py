"""Slide statements about energy-based models, checked on both sides through :class:`~crosscheck.registry.Side`.

* the score of an unnormalised density equals the normalised score (L7 'Unnormalized density');
* the log-ratio identity log p(x) - log p(x') = E(x') - E(x) with p normalised by quadrature;
* log Z of a Gaussian energy by quadrature equals (d/2) log 2 pi - 1/2 log det P;
* the 3x3 Ising denoising example (L8 'Example: Ising Model').
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from crosscheck.registry import Evidence, Side, theorem

EPS = float(np.finfo(np.float64).eps)

P2 = np.array([[2.0, 0.6], [0.6, 0.5]])  # precision of a correlated 2-D Gaussian energy
M2 = np.array([0.5, -1.0])


def _quadratic(side: Side, P: np.ndarray, m: np.ndarray):
    return side.lib.energy.QuadraticEnergy(side.array(P), side.array(m))


def _gaussian_box(P: np.ndarray, m: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray, float]:
    """The box m +- k marginal sd, and the bound sum_i 2 Phi(-k) on the mass of N(m, P^{-1}) outside it."""
    sd = np.sqrt(np.diag(np.linalg.inv(P)))
    outside = len(m) * 2.0 * 0.5 * math.erfc(k / math.sqrt(2.0))
    return m - k * sd, m + k * sd, outside


@theorem(
    "Score of an unnormalised density equals the normalised score",
    slide="L7, 'Unnormalized density'; Beigy, 'Score Matching (SM)'",
)
def unnormalized_score_is_normalized_score(side: Side) -> Evidence:
    energy, dist = side.lib.energy, side.lib.distributions
    rng = np.random.default_rng(21)
    # (1) QuadraticEnergy(P, m) against the normalised Gaussian N(m, P^{-1}).score.
    x = rng.normal(size=(64, 2)) * 2.0
    score_ebm = side.numpy(energy.energy_score(_quadratic(side, P2, M2), side.array(x)))
    score_gauss = side.numpy(dist.Gaussian(side.array(M2), side.array(np.linalg.inv(P2))).score(side.array(x)))
    err_gauss = float(np.max(np.abs(score_ebm - score_gauss) / (1.0 + np.abs(score_gauss))))
    # (2) A double well, normalised by quadrature: log p = -E - log Z, differentiated by central differences.
    well = energy.DoubleWellEnergy(1.0, 1.0)
    log_Z = float(side.numpy(energy.log_partition_function(well, side.array(-4.0), side.array(4.0), n_points=801)))
    h = 1e-5
    x1 = rng.uniform(-2.0, 2.0, size=(64, 1))

    def log_p(t: np.ndarray) -> np.ndarray:
        return -side.numpy(well(side.array(t))) - log_Z

    fd = (log_p(x1 + h) - log_p(x1 - h)) / (2 * h)
    score_well = side.numpy(energy.energy_score(well, side.array(x1)))[:, 0]
    err_well = float(np.max(np.abs(score_well - fd) / (1.0 + np.abs(score_well))))
    # (1): an explicit inverse of a 2x2 precision (condition 5.4) against P (x - m): rounding only.
    # (2): central differences, truncation h^2 / 6 |E'''| (|E'''| = 24 |x| <= 48: 8e-10) plus rounding
    # eps |log p| / h (|log p| <= 10: 2e-10).
    bound = 1e-9
    detail = (
        f"(1) energy_score(QuadraticEnergy(P, m)) vs Gaussian(m, P^-1).score at 64 points: {err_gauss:.2g}; "
        f"(2) energy_score(DoubleWellEnergy(1, 1)) vs central differences (h = {h:g}) of the normalised "
        f"log p = -E - log Z (log Z = {log_Z:.12f} by log_partition_function on [-4, 4], 801 points): "
        f"{err_well:.2g} (relative to 1 + |score|)"
    )
    return Evidence(max(err_gauss, err_well), bound, detail)


@theorem(
    "Log-ratio identity: log p(x) - log p(x') = E(x') - E(x)",
    slide="L8, 'Application of Energy Based Models'",
)
def log_ratio_identity(side: Side) -> Evidence:
    energy, dist = side.lib.energy, side.lib.distributions
    rng = np.random.default_rng(22)
    x, x_prime = rng.normal(size=(100, 2)) * 1.5, rng.normal(size=(100, 2)) * 1.5
    E = _quadratic(side, P2, M2)
    ratio = side.numpy(energy.log_ratio(E(side.array(x)), E(side.array(x_prime))))
    lower, upper, _ = _gaussian_box(P2, M2, 12.0)
    log_Z = energy.log_partition_function(E, side.array(lower), side.array(upper), n_points=201)
    log_p = side.numpy(energy.unnormalized_log_density(E(side.array(x)))) - float(side.numpy(log_Z))
    log_p_prime = side.numpy(energy.unnormalized_log_density(E(side.array(x_prime)))) - float(side.numpy(log_Z))
    gauss = dist.Gaussian(side.array(M2), side.array(np.linalg.inv(P2)))
    exact = side.numpy(gauss.log_prob(side.array(x))) - side.numpy(gauss.log_prob(side.array(x_prime)))
    errors = {
        "|log_ratio - (log p(x) - log p(x'))|, p = exp(-E) / Z by quadrature": float(
            np.max(np.abs(ratio - (log_p - log_p_prime)))
        ),
        "|log_ratio - (log N(x) - log N(x'))|, closed-form Gaussian": float(np.max(np.abs(ratio - exact))),
    }
    scale = float(np.max(np.abs(ratio)) + 1.0)
    bound = 64 * EPS * scale  # differences of O(10) energies and a log Z exact to 1e-15: rounding only
    detail = (
        "QuadraticEnergy(P, m), d = 2, 100 pairs (x, x'); "
        + "; ".join(f"{k} = {v:.3g}" for k, v in errors.items())
        + "; bound 64 eps (1 + max |log ratio|)"
    )
    return Evidence(max(errors.values()), bound, detail)


@theorem(
    "log Z of a Gaussian energy equals (d/2) log 2 pi - 1/2 log det P (trapezoid rule)",
    slide="L8, 'Energy Based Models'; L7, 'Unnormalized density'",
)
def log_partition_gaussian(side: Side) -> Evidence:
    energy = side.lib.energy
    cases = {
        "d = 1, P = 0.3": (np.array([[0.3]]), np.array([1.0])),
        "d = 2, correlated P": (P2, M2),
    }
    rows, worst, bound = [], 0.0, 0.0
    for name, (P, m) in cases.items():
        closed = 0.5 * len(m) * math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(P))
        lower, upper, outside = _gaussian_box(P, m, 10.0)
        for n in (101, 201):
            value = float(
                side.numpy(
                    energy.log_partition_function(
                        _quadratic(side, P, m), side.array(lower), side.array(upper), n_points=n
                    )
                )
            )
            err = abs(value - closed)
            worst = max(worst, err)
            rows.append(f"{name}, n = {n}: error {err:.2g}")
        # log Z_box = log Z + log(1 - mass outside): the box costs at most ~ the mass outside (1.5e-23 x d),
        # and the trapezoid rule on an integrand that vanished at the faces converges faster than any
        # power of h (Euler-Maclaurin): what is left is rounding in the log-sum-exp of n^d terms.
        bound = max(bound, outside + 1e3 * EPS)
    detail = (
        "box = mean +- 10 marginal sd, trapezoid rule in log space; "
        + "; ".join(rows)
        + "; bound = mass outside the box + 1000 eps (the rule's spectral error is below rounding here)"
    )
    return Evidence(worst, bound, detail)


# The worked example: two rows of ones over a row of zeros; the centre pixel flipped by the noise.
CLEAN = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 0]])
CORRUPTED = np.array([[1, 1, 1], [1, 0, 1], [0, 0, 0]])


@theorem(
    "Ising 3x3 denoising: the MAP recovers the clean image for alpha/2 < beta < alpha; beta = 0 gives x",
    slide="L8, 'Example: Ising Model'",
)
def ising_example(side: Side) -> Evidence:
    energy = side.lib.energy
    alpha = 4.0
    wrong, rows = 0, []
    for beta, expected, label in (
        (0.0, CORRUPTED, "x"),
        (1.2, CORRUPTED, "x"),
        (3.0, CLEAN, "y*"),
        (3.8, CLEAN, "y*"),
        (6.0, np.ones((3, 3), dtype=np.int64), "all ones"),
    ):
        result = energy.ising_denoise(side.array(CORRUPTED), alpha=alpha, beta=beta)
        y = side.numpy(result.y).astype(np.int64)
        p = float(side.numpy(result.probability))
        wrong += int(np.count_nonzero(y != expected))
        rows.append(
            f"beta = {beta}: MAP = {label} ({'ok' if np.array_equal(y, expected) else 'WRONG'}), p(MAP | x) = {p:.4f}"
        )
    # An independent check of the posterior of y* at beta = 3: brute force over all 512 images in NumPy.
    states = ((np.arange(512)[:, None] >> np.arange(9)) & 1).reshape(512, 3, 3)
    agree = np.sum(states == CORRUPTED, axis=(1, 2))
    smooth = np.sum(states[:, :, 1:] == states[:, :, :-1], axis=(1, 2)) + np.sum(
        states[:, 1:, :] == states[:, :-1, :], axis=(1, 2)
    )
    log_p = alpha * agree + 3.0 * smooth
    brute = float(np.exp(log_p[np.all(states == CLEAN, axis=(1, 2))][0] - special.logsumexp(log_p)))
    got = float(side.numpy(energy.ising_denoise(side.array(CORRUPTED), alpha=alpha, beta=3.0).probability))
    prob_error = abs(got - brute)
    detail = (
        f"clean y* = {CLEAN.tolist()}, x = y* with the centre flipped, alpha = {alpha}; "
        + "; ".join(rows)
        + f"; measured: wrong MAP pixels ({wrong}) + |p(y* | x) - brute force| ({prob_error:.2g}); bound 1e-14"
    )
    return Evidence(wrong + prob_error, 1e-14, detail)


@theorem(
    "EBM log-likelihood gradient: Langevin negatives agree with quadrature",
    slide="Beigy, 'Introduction' (the EBM slide); L8, 'Learning Energy Based Models'",
)
def log_likelihood_gradient_langevin_vs_quadrature(side: Side) -> Evidence:
    energy, langevin = side.lib.energy, side.lib.langevin
    rng = np.random.default_rng(23)
    E = _quadratic(side, P2, M2)
    Sigma = np.linalg.inv(P2)
    x = side.array(rng.normal(size=(50, 2)) * 1.3 + np.array([1.0, 0.0]))  # data off the model
    # Negatives: N chains of unadjusted Langevin (Du and Mordatch 2019), started at exact draws of
    # N(m, Sigma), K steps of eta. For a Gaussian target ULA keeps the mean m and moves the covariance
    # from Sigma monotonically (per eigen-direction of P) towards its stationary Sigma_eta =
    # Sigma (I - eta P / 4)^{-1}; so the bias of E[1/2 (x - m)(x - m)^T] is at most |Sigma_eta - Sigma| / 2
    # entrywise, and 0 for E[-P (x - m)].
    N, K, eta = 4000, 40, 0.02
    x0 = M2 + rng.normal(size=(N, 2)) @ np.linalg.cholesky(Sigma).T
    noise = rng.normal(size=(K, N, 2))

    def score(t):
        return energy.energy_score(E, t)

    neg = langevin.langevin_sample(score, side.array(x0), step_size=eta, n_steps=K, noise=side.array(noise)).samples
    g_cd = [side.numpy(g) for g in energy.log_likelihood_gradient(E, x, neg)]
    sd = np.sqrt(np.diag(Sigma))
    lo, hi = M2 - 12.0 * sd, M2 + 12.0 * sd  # mass outside: 4 Phi(-12) ~ 1e-32
    g_q = [side.numpy(g) for g in energy.log_likelihood_gradient(E, x, lower=side.array(lo), upper=side.array(hi))]
    # Monte Carlo standard errors of the negatives' means of grad_P E and grad_m E.
    negn = side.numpy(neg) - M2
    se_P = np.std(0.5 * negn[:, :, None] * negn[:, None, :], axis=0, ddof=1) / math.sqrt(N)
    se_m = np.std(-negn @ P2, axis=0, ddof=1) / math.sqrt(N)
    bias_P = 0.5 * np.abs(Sigma @ np.linalg.inv(np.eye(2) - eta * P2 / 4.0) - Sigma)
    z_P = (np.abs(g_cd[0] - g_q[0]) - bias_P) / se_P
    z_m = np.abs(g_cd[1] - g_q[1]) / se_m
    # Bound: 5 standard errors per entry (6 entries: a false failure has probability ~ 6 x 6e-7), after
    # removing the worst-case ULA bias; the quadrature itself errs by ~1e-13 (trapezoid rule, +-12 sd).
    measured = float(max(z_P.max(), z_m.max()))
    detail = (
        f"log_likelihood_gradient of QuadraticEnergy(P, m) at 50 data points, model expectation from {N} "
        f"Langevin negatives (eta = {eta}, {K} steps) vs by quadrature (201^2 grid, +-12 sd): |difference| "
        f"in grad_P {np.abs(g_cd[0] - g_q[0]).max():.2g} (ULA bias bound {bias_P.max():.2g}), in grad_m "
        f"{np.abs(g_cd[1] - g_q[1]).max():.2g}; worst entry {measured:.2f} standard errors beyond the bias"
    )
    return Evidence(measured, 5.0, detail)
