"""Theorems on implicit, sliced and explicit (Fisher) score matching, checked on both sides.

* implicit score matching = Fisher divergence + const in theta: exactly (Gaussian data, linear scores,
  expectations by sigma points) and by Monte Carlo with common random numbers (tanh-MLP scores);
* Hutchinson's trace estimator is unbiased for Gaussian and Rademacher probes;
* sliced score matching and its variance-reduced form equal implicit score matching in expectation;
* the sliced Fisher divergence = sliced score matching + a constant in theta, for each law of v (exactly);
* the energy forms of implicit and sliced score matching = the score forms with s = -grad E;
* the Fisher divergence is 0 only where the scores agree (L7 'Fisher divergence', Beigy 'Score Matching (SM)').
"""

from __future__ import annotations

import math

import numpy as np

from crosscheck.registry import Evidence, Side, theorem

from ._common import (
    COV,
    COV_2D,
    EPS,
    MEAN,
    MEAN_2D,
    Z_BOUND,
    _gaussian,
    _lib,
    _linear_thetas,
    _mlp_jacobian,
    _mlp_scores,
    _mlp_thetas,
    _model,
    _probes,
    _quadratic_form_variance,
    _scalar,
    _sigma_points,
)

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
