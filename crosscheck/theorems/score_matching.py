"""Slide theorems about score matching, each checked on both sides through :class:`~crosscheck.registry.Side`.

* implicit score matching = Fisher divergence + const in theta: exactly (Gaussian data, linear scores,
  expectations by sigma points) and by Monte Carlo with common random numbers (tanh-MLP scores);
* Hutchinson's trace estimator is unbiased for Gaussian and Rademacher probes;
* sliced score matching and its variance-reduced form equal implicit score matching in expectation;
* the sliced Fisher divergence = sliced score matching + a constant in theta, for each law of v (exactly);
* the energy forms of implicit and sliced score matching = the score forms with s = -grad E;
* denoising score matching = Fisher divergence to the noisy marginal + const in theta: exactly
  (Gaussian data, linear scores) and by Monte Carlo (MLP scores);
* explicit score matching with a Gaussian KDE of bandwidth h = DSM with sigma = h + const (Vincent 2011);
* Tweedie's formula gives the exact posterior mean for a Gaussian and for a mixture prior.

Exact expectations: for x ~ N(mu, Sigma) in d dimensions the 2d *sigma points* mu +- sqrt(d) L e_i
(Sigma = L L^T), equally weighted, have exactly the mean mu and covariance Sigma, so the average of a
polynomial of degree <= 3 over them *is* its Gaussian expectation. With a linear score
s(x) = x W + b every objective here is a quadratic in x (and in the DSM noise eps), so averaging the
library's sample-mean estimators over sigma points gives the population objectives, and the slide
identities hold to rounding for every theta. Monte-Carlo checks use a fixed seed and report
z-scores: the discrepancy divided by its standard error, computed exactly where the variance has a
closed form and from the per-sample terms otherwise.
"""

from __future__ import annotations

import importlib
import math

import numpy as np

from crosscheck.registry import Evidence, Side, theorem

EPS = float(np.finfo(np.float64).eps)
Z_BOUND = 5.0  # Monte-Carlo checks: |discrepancy| <= 5 standard errors (two-sided p = 5.7e-7 per check)

MEAN = np.array([0.5, -1.0, 0.25])
COV = np.array([[1.5, 0.4, -0.2], [0.4, 0.8, 0.1], [-0.2, 0.1, 0.5]])
MEAN_2D = np.array([0.3, -0.4])
COV_2D = np.array([[1.0, 0.3], [0.3, 0.6]])
MIX_WEIGHTS = np.array([0.5, 0.3, 0.2])
MIX_MEANS = np.array([[0.0, 0.0], [2.0, -1.0], [-1.5, 2.0]])
MIX_COVS = np.array([[[1.0, 0.3], [0.3, 0.5]], [[0.4, -0.1], [-0.1, 0.8]], [[0.3, 0.0], [0.0, 0.3]]])


def _sigma_points(mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """The 2d points mean +- sqrt(d) L e_i: equal weights give exactly the mean and covariance."""
    d = mean.shape[0]
    offsets = math.sqrt(d) * np.linalg.cholesky(cov).T  # row i: sqrt(d) (L e_i)^T
    return np.concatenate([mean + offsets, mean - offsets])


def _linear_thetas(d: int, rng: np.random.Generator, count: int) -> list[dict[str, np.ndarray]]:
    return [{"W": rng.normal(scale=0.8, size=(d, d)), "b": rng.normal(size=d)} for _ in range(count)]


def _mlp_thetas(d: int, rng: np.random.Generator, count: int, hidden: int = 6) -> list[dict[str, np.ndarray]]:
    return [
        {
            "W1": rng.normal(scale=0.8, size=(d, hidden)),
            "b1": rng.normal(scale=0.5, size=hidden),
            "W2": rng.normal(scale=0.8, size=(hidden, d)),
            "b2": rng.normal(scale=0.5, size=d),
        }
        for _ in range(count)
    ]


def _lib(side: Side, module: str):
    """``reference.<module>`` or ``accelerated.<module>`` (imported directly: not every topic is lazy)."""
    return importlib.import_module(f"{side.name}.{module}")


def _model(side: Side, family: str, params: dict[str, np.ndarray]):
    return getattr(_lib(side, "models"), family)(**{k: side.array(v) for k, v in params.items()})


def _gaussian(side: Side, mean: np.ndarray, cov: np.ndarray):
    return _lib(side, "distributions").Gaussian(side.array(mean), side.array(cov))


def _scalar(side: Side, value) -> float:
    return float(side.numpy(value))


def _mlp_jacobian(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """J[k, i, j] = d s_i / d x_j of tanh(x W1 + b1) W2 + b2, in NumPy (independent of both sides)."""
    h = np.tanh(x @ params["W1"] + params["b1"])
    return np.einsum("hi,kh,jh->kij", params["W2"], 1.0 - h**2, params["W1"])


def _mlp_scores(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    return np.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"]


def _quadratic_form_variance(A: np.ndarray, kind: str) -> np.ndarray:
    """Var(v^T A v) for E[v v^T] = I: 2 |A_sym|_F^2 (Gaussian), minus 2 sum_j A_jj^2 (Rademacher); A (..., d, d)."""
    A_sym = 0.5 * (A + np.swapaxes(A, -1, -2))
    var = 2.0 * np.sum(A_sym**2, axis=(-2, -1))
    if kind == "rademacher":
        var = var - 2.0 * np.sum(np.diagonal(A, axis1=-2, axis2=-1) ** 2, axis=-1)
    return var


def _probes(rng: np.random.Generator, kind: str, shape: tuple[int, ...]) -> np.ndarray:
    if kind == "gaussian":
        return rng.standard_normal(shape)
    return rng.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------- implicit score matching


@theorem(
    "Implicit score matching = Fisher divergence + const (Gaussian data, linear scores, exact)",
    slide="L13, 'Implicit score matching'; L8, 'Score Matching' and 'Proof: 1D'",
)
def ism_minus_fisher_exact(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    x = _sigma_points(MEAN, COV)
    pi = _gaussian(side, MEAN, COV)
    xs = side.array(x)
    grad_log_pi = pi.score(xs)
    thetas = _linear_thetas(3, np.random.default_rng(2005), 6)
    precision = np.linalg.inv(COV)
    thetas.append({"W": -precision, "b": MEAN @ precision})  # the true score: Fisher divergence 0
    c = -0.5 * float(np.trace(precision))  # -1/2 E |grad log pi|^2
    diffs, scale = [], 0.0
    for params in thetas:
        model = _model(side, "LinearScore", params)
        ism = _scalar(side, sm.implicit_score_matching(model, xs))
        fisher = _scalar(side, sm.fisher_divergence(model(xs), grad_log_pi))
        diffs.append(ism - fisher)
        scale = max(scale, abs(ism), abs(fisher))
    measured = max(abs(v - c) for v in diffs)
    bound = 64 * EPS * max(scale, abs(c), 1.0)  # sums of 6 quadratic terms over 6 points, each to a few ulp
    detail = (
        f"pi = N(mu, Sigma), d = 3; expectations exact over the 6 sigma points mu +- sqrt(3) L e_i; "
        f"{len(thetas)} linear scores s(x) = x W + b (6 random, 1 the true score); ISM - D_F = "
        f"{', '.join(f'{v:.15f}' for v in diffs)}; constant -1/2 tr(Sigma^-1) = {c:.15f}; "
        f"measured max |ISM - D_F - const|, bound 64 eps max(|ISM|, |D_F|, |const|) (rounding)"
    )
    return Evidence(measured, bound, detail)


@theorem(
    "Implicit score matching = Fisher divergence + const (MLP scores, Monte Carlo, common random numbers)",
    slide="L13, 'Implicit score matching'; Beigy, implicit score matching slides",
)
def ism_minus_fisher_mlp(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    n = 4_000 if side.quick else 20_000
    rng = np.random.default_rng(2019)
    L = np.linalg.cholesky(COV_2D)
    x = MEAN_2D + rng.standard_normal((n, 2)) @ L.T
    xs = side.array(x)
    grad_log_pi = _gaussian(side, MEAN_2D, COV_2D).score(xs)
    g = side.numpy(grad_log_pi)
    c = -0.5 * float(np.trace(np.linalg.inv(COV_2D)))
    z_scores = []
    for params in _mlp_thetas(2, rng, 4):
        model = _model(side, "MLPScore", params)
        ism = _scalar(side, sm.implicit_score_matching(model, xs))
        fisher = _scalar(side, sm.fisher_divergence(model(xs), grad_log_pi))
        s, tr = _mlp_scores(params, x), np.trace(_mlp_jacobian(params, x), axis1=1, axis2=2)
        per_sample = np.sum(s * g, axis=1) + tr - 0.5 * np.sum(g**2, axis=1)  # its mean is ISM - D_F
        se = float(np.std(per_sample, ddof=1)) / math.sqrt(n)
        z_scores.append(abs(ism - fisher - c) / se)
    detail = (
        f"pi = N(mu, Sigma), d = 2, n = {n} samples shared by 4 random tanh-MLP scores (H = 6); z = "
        f"|ISM - D_F - (-1/2 tr Sigma^-1)| / SE with SE from the per-sample terms s.g + tr J - |g|^2/2 "
        f"(Stein: E[s.g] = -E[tr J]); z-scores {', '.join(f'{z:.2f}' for z in z_scores)}; bound {Z_BOUND}"
    )
    return Evidence(max(z_scores), Z_BOUND, detail)


# --------------------------------------------------------------------------- Hutchinson and sliced SM


def _mlp_case(rng: np.random.Generator, d: int, n: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    return _mlp_thetas(d, rng, 1)[0], rng.normal(size=(n, d))


@theorem(
    "Hutchinson's trace estimator is unbiased (Gaussian and Rademacher probes)",
    slide="L13, 'Sliced score matching (Hutchinson's trace estimation)'",
)
def hutchinson_unbiased(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    M = 4_000 if side.quick else 20_000
    rng = np.random.default_rng(1989)
    params, x = _mlp_case(rng, 4, 6)
    model = _model(side, "MLPScore", params)
    J = _mlp_jacobian(params, x)
    exact = np.trace(J, axis1=1, axis2=2)
    z_scores = {}
    for kind in ("gaussian", "rademacher"):
        v = _probes(rng, kind, (M, *x.shape))
        estimate = side.numpy(sm.hutchinson_trace(model, side.array(x), kind=kind, noise=side.array(v)))
        se = np.sqrt(_quadratic_form_variance(J, kind) / M)
        z_scores[kind] = float(np.max(np.abs(estimate - exact) / se))
    detail = (
        f"tanh-MLP score, d = 4, 6 samples, M = {M} probes per sample and kind; exact trace from the analytic "
        f"Jacobian (NumPy); SE = sqrt(Var(v^T J v) / M) with the exact variance 2|J_sym|_F^2 (Gaussian), "
        f"2(|J_sym|_F^2 - sum J_jj^2) (Rademacher); max z-scores over samples: "
        f"{', '.join(f'{k} {z:.2f}' for k, z in z_scores.items())}; bound {Z_BOUND}"
    )
    return Evidence(max(z_scores.values()), Z_BOUND, detail)


@theorem(
    "Sliced score matching (plain and variance-reduced) = implicit score matching in expectation",
    slide="L8, 'Sliced Score Matching'; L13, 'Sliced score matching (Hutchinson's trace estimation)'",
)
def sliced_equals_implicit(side: Side) -> Evidence:
    sm = _lib(side, "score_matching")
    M = 4_000 if side.quick else 20_000
    rng = np.random.default_rng(2019_08)
    params, x = _mlp_case(rng, 3, 8)
    model = _model(side, "MLPScore", params)
    xs = side.array(x)
    ism = _scalar(side, sm.implicit_score_matching(model, xs))
    J, s = _mlp_jacobian(params, x), _mlp_scores(params, x)
    n = x.shape[0]
    z_scores = {}
    for kind in ("gaussian", "rademacher"):
        v = side.array(_probes(rng, kind, (M, n, 3)))
        plain = _scalar(side, sm.sliced_score_matching(model, xs, kind=kind, noise=v))
        vr = _scalar(side, sm.sliced_score_matching_vr(model, xs, kind=kind, noise=v))
        # plain: mean of v^T (J + s s^T / 2) v over n samples x M probes; VR: of v^T J v (plus |s|^2 / 2).
        A_plain = J + 0.5 * np.einsum("ki,kj->kij", s, s)
        se_plain = math.sqrt(float(np.sum(_quadratic_form_variance(A_plain, kind))) / (n**2 * M))
        se_vr = math.sqrt(float(np.sum(_quadratic_form_variance(J, kind))) / (n**2 * M))
        z_scores[f"{kind} SSM"] = abs(plain - ism) / se_plain
        z_scores[f"{kind} SSM-VR"] = abs(vr - ism) / se_vr
    detail = (
        f"tanh-MLP score, d = 3, n = 8 samples, M = {M} projections each; ISM (exact trace) = {ism:.6f}; "
        f"SE from the exact variance of the quadratic forms v^T A v (A = J + s s^T / 2 for SSM, J for "
        f"SSM-VR); z-scores: {', '.join(f'{k} {z:.2f}' for k, z in z_scores.items())}; bound {Z_BOUND}"
    )
    return Evidence(max(z_scores.values()), Z_BOUND, detail)


@theorem(
    "Sliced Fisher divergence = sliced score matching + const in theta, per law of v (Gaussian data, exact)",
    slide="L8, 'Sliced Score Matching'; Beigy, 'Denoising Score Matching (DSM)' (sliced Fisher divergence)",
)
def sliced_fisher_minus_sliced_sm_exact(side: Side) -> Evidence:
    # For each fixed direction v, integration by parts along v gives
    #   1/2 E_x (v^T s - v^T grad log pi)^2 = E_x [v^T (grad s) v + 1/2 (v^T s)^2] + 1/2 E_x (v^T grad log pi)^2,
    # so with the SAME probes at every sample (v broadcast over the 6 sigma points, which make the quadratic
    # x-expectations exact for linear scores) the difference D_SF - J_SSM is the same number for every theta,
    # and it is the theta-free constant 1/2 mean_j E_x (v_j^T grad log pi)^2, computed here independently.
    # A wrong sign or factor of the trace term makes it move with theta by O(1): the check can fail.
    sm = _lib(side, "score_matching")
    x = _sigma_points(MEAN, COV)
    n, d = x.shape
    xs = side.array(x)
    grad_log_pi = _gaussian(side, MEAN, COV).score(xs)
    g = np.linalg.solve(COV, (MEAN - x).T).T  # grad log pi in NumPy, independent of both sides
    thetas = _linear_thetas(d, np.random.default_rng(2019), 5)
    thetas.append({"W": np.zeros((d, d)), "b": np.zeros(d)})
    rng = np.random.default_rng(431)
    worst, parts = 0.0, []
    for kind in ("gaussian", "rademacher"):
        directions = _probes(rng, kind, (16, 1, d))
        v = np.broadcast_to(directions, (16, n, d)).copy()
        const = 0.5 * float(np.mean(np.einsum("mi,ni->mn", directions[:, 0], g) ** 2))
        diffs, scale = [], abs(const)
        for params in thetas:
            model = _model(side, "LinearScore", params)
            fd = _scalar(side, sm.sliced_fisher_divergence(model(xs), grad_log_pi, kind=kind, noise=side.array(v)))
            ssm = _scalar(side, sm.sliced_score_matching(model, xs, kind=kind, noise=side.array(v)))
            diffs.append(fd - ssm)
            scale = max(scale, abs(fd), abs(ssm))
        err = max(abs(v_ - const) for v_ in diffs)
        worst = max(worst, err / (256 * EPS * scale))
        parts.append(f"{kind}: const {const:.12g}, max |D_SF - J_SSM - const| = {err:.3g} over {len(thetas)} thetas")
    detail = (
        "pi = N(mu, Sigma), d = 3, x over the 6 sigma points (exact quadratic expectations), 16 probe "
        "directions of each law shared by every sample; linear scores s = x W + b (5 random, 1 zero); "
        + "; ".join(parts)
        + "; measured: worst error in units of 256 eps max(|D_SF|, |J_SSM|, |const|) (rounding of sums "
        "over 96 terms), bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "Energy forms of ISM and SSM = the score forms with s = -grad E (quadratic and double-well energies)",
    slide="Beigy, 'Score Matching (SM)' (ISM in terms of E) and 'Denoising Score Matching (DSM)' (SSM in terms of E)",
)
def energy_forms_equal_score_forms(side: Side) -> Evidence:
    # A quadratic energy E = 1/2 (x - m)^T P (x - m) has the linear score s = -P (x - m) = x (-P) + m P, so the
    # energy forms must equal implicit_score_matching / sliced_score_matching of LinearScore(-P, m P) (same
    # probes). A double-well energy is checked against its closed-form derivatives in NumPy,
    # 1/2 |4a x (x^2 - b)|^2 - 4a (3x^2 - b) summed over coordinates. The slide's printed forms (second
    # derivative squared, its sign +) differ by O(1) here: the check can fail. Bound: rounding of sums of
    # O(10) terms, 64 eps times the largest magnitude.
    sm = _lib(side, "score_matching")
    energy = _lib(side, "energy")
    rng = np.random.default_rng(2021)
    d, n, M = 3, 9, 5
    x = rng.normal(size=(n, d))
    worst, parts = 0.0, []
    for kind in ("gaussian", "rademacher"):
        v = _probes(rng, kind, (M, n, d))
        for _ in range(3):
            A = rng.normal(size=(d, d))
            P, m = A @ A.T + 0.5 * np.eye(d), rng.normal(size=d)
            E = energy.QuadraticEnergy(side.array(P), side.array(m))
            model = _model(side, "LinearScore", {"W": -P, "b": m @ P})
            pairs = [
                (sm.implicit_score_matching_energy(E, side.array(x)), sm.implicit_score_matching(model, side.array(x))),
                (
                    sm.sliced_score_matching_energy(E, side.array(x), kind=kind, noise=side.array(v)),
                    sm.sliced_score_matching(model, side.array(x), kind=kind, noise=side.array(v)),
                ),
            ]
            for a, b in pairs:
                a, b = _scalar(side, a), _scalar(side, b)
                worst = max(worst, abs(a - b) / (64 * EPS * max(abs(a), abs(b), 1.0)))
        a_, b_ = 0.7, 1.3
        g = 4 * a_ * x * (x**2 - b_)
        h = 4 * a_ * (3 * x**2 - b_)
        ism_np = float(np.mean(0.5 * np.sum(g**2, axis=1) - np.sum(h, axis=1)))
        ssm_np = float(np.mean(0.5 * np.einsum("mni,ni->mn", v, g) ** 2 - np.einsum("mni,ni,mni->mn", v, h, v)))
        well = energy.DoubleWellEnergy(a_, b_)
        ism = _scalar(side, sm.implicit_score_matching_energy(well, side.array(x)))
        ssm = _scalar(side, sm.sliced_score_matching_energy(well, side.array(x), kind=kind, noise=side.array(v)))
        for a, b in ((ism, ism_np), (ssm, ssm_np)):
            worst = max(worst, abs(a - b) / (64 * EPS * max(abs(a), abs(b), 1.0)))
        parts.append(f"{kind}: double well ISM {ism:.10g} (closed form {ism_np:.10g}), SSM {ssm:.10g} ({ssm_np:.10g})")
    detail = (
        f"n = {n} points in d = {d}, M = {M} probes; 3 random quadratic energies per probe law against "
        "LinearScore(-P, m P) through implicit_score_matching and sliced_score_matching; "
        + "; ".join(parts)
        + "; measured: worst |energy form - score form| in units of 64 eps max(|.|, 1) (rounding), bound 1"
    )
    return Evidence(worst, 1.0, detail)


# --------------------------------------------------------------------------- denoising score matching


def _joint_sigma_points(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sigma points of (x, eps) ~ N(mean, cov) x N(0, I): 4d rows, split into x and eps."""
    d = mean.shape[0]
    joint_cov = np.zeros((2 * d, 2 * d))
    joint_cov[:d, :d], joint_cov[d:, d:] = cov, np.eye(d)
    z = _sigma_points(np.concatenate([mean, np.zeros(d)]), joint_cov)
    return z[:, :d], z[:, d:]


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


# --------------------------------------------------------------------------- claims of the slides (issue 13)


@theorem(
    "Fisher divergence = 0 only where the scores agree (linear family through the true score, exact)",
    slide="L7, 'Fisher divergence'; Beigy, 'Score Matching (SM)' (Fisher divergence)",
)
def fisher_zero_only_at_truth(side: Side) -> Evidence:
    # s_t = s_pi + t * (x dW + db): D_F(t) = t^2 K with K = 1/2 E |x dW + db|^2
    #   = 1/2 (tr(dW^T Sigma dW) + |mu dW + db|^2) > 0 (closed form, NumPy), so D_F vanishes at t = 0 only.
    # Expectations exact over the sigma points. Bound: rounding; the differences s_t - s_pi of O(S) scores
    # (S = max |s_pi|) carry an absolute error ~ eps S, so |D_F(t) - t^2 K| <= 64 eps (D_F + S sqrt(D_F) + S^2 eps).
    sm = _lib(side, "score_matching")
    x = _sigma_points(MEAN, COV)
    xs = side.array(x)
    grad_log_pi = _gaussian(side, MEAN, COV).score(xs)
    precision = np.linalg.inv(COV)
    rng = np.random.default_rng(7)
    dW, db = rng.normal(size=(3, 3)), rng.normal(size=3)
    K = 0.5 * (float(np.trace(dW.T @ COV @ dW)) + float(np.sum((MEAN @ dW + db) ** 2)))
    S = float(np.max(np.abs((x - MEAN) @ precision))) + 1.0
    worst, values = 0.0, []
    for t_ in (0.0, 1e-3, 0.1, -0.5, 1.0, 3.0):
        model = _model(side, "LinearScore", {"W": -precision + t_ * dW, "b": MEAN @ precision + t_ * db})
        fd = _scalar(side, sm.fisher_divergence(model(xs), grad_log_pi))
        values.append(fd)
        err = abs(fd - t_**2 * K)
        worst = max(worst, err / (64 * EPS * (abs(fd) + S * math.sqrt(abs(fd)) + S**2 * EPS)))
        if t_ and not fd > 0:
            worst = math.inf  # zero away from the truth: the claim fails
    detail = (
        f"pi = N(mu, Sigma), d = 3, 6 sigma points; s_t = true score + t (x dW + db); K = {K:.12g} > 0; "
        f"D_F(t) for t = 0, 1e-3, 0.1, -0.5, 1, 3: {', '.join(f'{v:.6g}' for v in values)}; measured: worst "
        "|D_F(t) - t^2 K| / (64 eps (D_F + S sqrt(D_F) + S^2 eps)), S = 1 + max |grad log pi|; bound 1"
    )
    return Evidence(worst, 1.0, detail)


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


@theorem(
    "sigma^2-weighted NCSN loss: one scale at every level (d/2 at s = 0, 1/2 tr(Sigma (Sigma + sigma^2)^-1) at best)",
    slide="Beigy, 'Denoising Score Matching (DSM)' (loss weight); L13, 'Noise Conditioned Score Network (NCSN)'",
)
def ncsn_equal_loss_scale(side: Side) -> Evidence:
    # sigma^2 * 1/2 |s + eps / sigma|^2 = 1/2 |sigma s + eps|^2. Zero model: 1/2 E|eps|^2 = d/2 at every level.
    # Exact noisy score s* = -(x~ - mu) A, A = (Sigma + sigma^2 I)^-1: sigma s* + eps = (I - sigma^2 A) eps
    # - sigma A (x - mu), so E|.|^2 = sum_i [lam_i^2 + sigma^2 lam_i] / (lam_i + sigma^2)^2 = tr(Sigma A):
    # the weighted loss at the optimum is 1/2 tr(Sigma (Sigma + sigma^2 I)^-1) in (0, d/2] for every sigma, while
    # the unweighted one is that / sigma^2. Exact over the joint sigma points; bound: rounding (64 eps).
    sm = _lib(side, "score_matching")
    x, eps = _joint_sigma_points(MEAN, COV)
    d = MEAN.shape[0]
    sigmas = np.array([1.0, 0.1, 0.01])
    n = x.shape[0]

    def optimum(y, sigma):
        sig = side.numpy(sigma)[:, None]
        out = np.stack([-(side.numpy(y)[i] - MEAN) @ np.linalg.inv(COV + sig[i, 0] ** 2 * np.eye(d)) for i in range(n)])
        return side.array(out)

    zero = lambda y, sigma: 0 * y  # noqa: E731
    worst, weighted, unweighted = 0.0, [], []
    for l, sigma in enumerate(sigmas):
        levels = side.array(np.full(n, l)).long() if side.name == "accelerated" else np.full(n, l)
        for model, expected in (
            (zero, d / 2),
            (optimum, 0.5 * float(np.trace(COV @ np.linalg.inv(COV + sigma**2 * np.eye(d))))),
        ):
            value = _scalar(
                side, sm.ncsn_loss(model, side.array(x), side.array(sigmas), levels=levels, noise=side.array(eps))
            )
            worst = max(worst, abs(value - expected) / (64 * EPS * max(expected, 1.0)))
            if model is optimum:
                weighted.append(value)
                unweighted.append(
                    _scalar(
                        side,
                        sm.ncsn_loss(
                            model,
                            side.array(x),
                            side.array(sigmas),
                            levels=levels,
                            noise=side.array(eps),
                            weighting="none",
                        ),
                    )
                )
        if not 0 < weighted[-1] <= d / 2 * (1 + 64 * EPS):
            worst = math.inf
    detail = (
        f"pi = N(mu, Sigma), d = 3, exact over the 12 joint sigma points; sigmas {sigmas.tolist()}; weighted loss "
        f"of the zero model d/2 = {d / 2} at every level; at the exact noisy score: "
        f"{', '.join(f'{v:.6g}' for v in weighted)} (closed form 1/2 tr(Sigma (Sigma + sigma^2 I)^-1) <= d/2); "
        f"unweighted at the optimum: {', '.join(f'{v:.6g}' for v in unweighted)}; measured: worst error in units of "
        "64 eps max(value, 1), bound 1"
    )
    return Evidence(worst, 1.0, detail)


@theorem(
    "Noise levels' rule: sigma_1 = the largest pairwise distance makes the farthest data points' kernels overlap",
    slide="L13, 'Noise Conditioned Score Network (NCSN)'; Beigy, 'Denoising Score Matching (DSM)' (noise levels)",
)
def ncsn_sigma_1_rule(side: Side) -> Evidence:
    # Song and Ermon (2020, Technique 1, Proposition 1): for data points x_i, x_j at distance D and
    # r_j(x) = N(x; x_j, s^2 I) / sum_k N(x; x_k, s^2 I), E_{x ~ N(x_i, s^2 I)} r_j(x) = int p_i p_j / (p_i + p_j),
    # which lies between 1/2 erfc(D / (2 sqrt 2 s)) and erfc(D / (2 sqrt 2 s)) (min/2 <= p_i p_j / (p_i + p_j) <= min).
    # With s = sigma_1 = D (the rule) that is at least 0.31: Langevin at level 1 moves between the farthest modes;
    # at s = D / 10 at most 6e-7. r_j comes from the library's kde_log_density (two-point and one-point KDEs) along
    # the line through x_i and x_j (the other directions cancel), integrated by the trapezoid rule on z in
    # [-12, 12] (error far below 1e-9); the bounds are checked with that slack.
    sm = _lib(side, "score_matching")
    from scipy import special

    rng = np.random.default_rng(2020)
    data = np.concatenate([rng.normal(c, 0.3, size=(40, 2)) for c in ((0.0, 0.0), (4.0, 1.0), (-1.0, 3.5))])
    dist = np.sqrt(np.sum((data[:, None] - data[None]) ** 2, axis=-1))
    i, j = np.unravel_index(np.argmax(dist), dist.shape)
    D = float(dist[i, j])
    sigma_1 = _scalar(side, sm.geometric_sigmas(D, 0.01, 10)[0])
    u = (data[j] - data[i]) / D
    z = np.linspace(-12.0, 12.0, 4801)
    worst, parts = 0.0, []
    for s in (sigma_1, sigma_1 / 10):
        pts = side.array(data[i] + s * z[:, None] * u)
        pair = side.array(data[[i, j]])
        log_r = (
            side.numpy(sm.kde_log_density(pts, side.array(data[[j]]), s))
            - side.numpy(sm.kde_log_density(pts, pair, s))
            - math.log(2)
        )
        density = np.exp(-0.5 * z**2) / math.sqrt(2 * math.pi)
        overlap = float(np.trapezoid(density * np.exp(log_r), z))
        low, high = 0.5 * special.erfc(D / (2 * math.sqrt(2) * s)), special.erfc(D / (2 * math.sqrt(2) * s))
        worst = max(worst, low - overlap, overlap - high)
        if s == sigma_1:  # the rule's purpose: a non-negligible overlap (>= 0.3) at the largest level
            worst = max(worst, 0.3 - overlap)
        parts.append(f"s = {s:.4g}: E r_j = {overlap:.4g} in [{low:.4g}, {high:.4g}]")
    detail = (
        f"3 clusters of 40 points in 2-D; largest pairwise distance D = {D:.6g} = sigma_1 (geometric_sigmas(D, "
        "0.01, 10)[0]); "
        + "; ".join(parts)
        + "; measured: worst violation of the erfc bounds (and of E r_j >= 0.3 at sigma_1), bound 1e-9"
    )
    return Evidence(max(worst, 0.0), 1e-9, detail)
