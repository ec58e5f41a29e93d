"""Facts about the tiny score models, checked on both sides through :class:`~crosscheck.registry.Side`.

* the analytic Jacobian and divergence (trace) of ``MLPScore`` equal autograd (accelerated side) and
  central differences (reference side), with and without conditioning;
* ``LinearScore`` with W = -S^{-1}, b = m S^{-1} is the score of N(m, S).
"""

from __future__ import annotations

import numpy as np
import torch

from crosscheck.registry import Evidence, Side, theorem

EPS = float(np.finfo(np.float64).eps)


def _mlp_params(d: int, H: int, k: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(d + k, H)),
        "b1": rng.normal(size=H),
        "W2": rng.normal(size=(H, d)) / np.sqrt(H),
        "b2": rng.normal(size=d),
    }


@theorem(
    "MLPScore analytic Jacobian and divergence equal autograd / finite differences",
    slide="Beigy, 'Score Matching (SM)' (tr grad_x s_theta); L7, 'Score matching'",
)
def mlp_jacobian_matches_derivatives(side: Side) -> Evidence:
    worst, h = 0.0, 1e-5
    for d, H, k in ((1, 4, 0), (3, 8, 0), (4, 6, 2)):
        params = _mlp_params(d, H, k, seed=d * 100 + H + k)
        model = side.lib.models.MLPScore(**{name: side.array(v) for name, v in params.items()})
        rng = np.random.default_rng(d + H + k)
        x = rng.normal(size=(16, d)) * 1.5
        c = rng.normal(size=(16, k)) if k else None
        c_side = side.array(c) if k else None
        J = side.numpy(model.jacobian(side.array(x), c_side))
        div = side.numpy(model.divergence(side.array(x), c_side))
        if side.name == "accelerated":
            xt = side.array(x)
            if k:
                J_ref = torch.func.vmap(torch.func.jacrev(model.forward))(xt, c_side)
            else:
                J_ref = torch.func.vmap(torch.func.jacrev(model.forward))(xt)
            J_ref = side.numpy(J_ref)
        else:
            J_ref = np.zeros((16, d, d))
            for j in range(d):
                e = np.zeros(d)
                e[j] = h
                J_ref[:, :, j] = (side.numpy(model(x + e, c)) - side.numpy(model(x - e, c))) / (2 * h)
        trace_ref = np.trace(J_ref, axis1=-2, axis2=-1)
        worst = max(worst, float(np.max(np.abs(J - J_ref))), float(np.max(np.abs(div - trace_ref))))
    if side.name == "accelerated":
        bound = 1e-13  # autograd of the same float64 operations: rounding of sums of <= 8 terms
        how = "torch.func.vmap(torch.func.jacrev(model.forward))"
    else:
        # central differences: truncation h^2 / 6 max|s'''| (|s'''| <= sum_h |W2| |W1|^3 * 2 ~ 1e2 here: 2e-9)
        # and rounding eps |s| / h (|s| <= 10: 2e-10)
        bound = 5e-9
        how = f"central differences with h = {h:g}"
    detail = (
        "MLPScore with (d, H, k) in ((1, 4, 0), (3, 8, 0), (4, 6, 2)), N(0, 1) weights, 16 points each; measured "
        f"max |J - J_ref| and max |divergence - tr J_ref|, J_ref by {how}"
    )
    return Evidence(worst, bound, detail)


@theorem(
    "LinearScore with W = -S^{-1}, b = m S^{-1} is the score of N(m, S)",
    slide="Beigy, 'Score function (One-dimensional Gaussian distribution)'",
)
def linear_score_is_gaussian_score(side: Side) -> Evidence:
    m = np.array([0.5, -1.0, 2.0])
    S = np.array([[1.5, 0.4, 0.1], [0.4, 0.8, -0.2], [0.1, -0.2, 0.6]])
    S_inv = np.linalg.inv(S)
    model = side.lib.models.LinearScore(side.array(-S_inv), side.array(m @ S_inv))
    gauss = side.lib.distributions.Gaussian(side.array(m), side.array(S))
    x = np.random.default_rng(13).normal(size=(64, 3)) * 2.0
    s_model = side.numpy(model(side.array(x)))
    s_gauss = side.numpy(gauss.score(side.array(x)))
    measured = float(np.max(np.abs(s_model - s_gauss) / (1.0 + np.abs(s_gauss))))
    J = side.numpy(model.jacobian(side.array(x)))
    measured = max(measured, float(np.max(np.abs(J - (-S_inv).T))))
    bound = 1e-13  # an explicit inverse (condition 6) against a Cholesky solve: rounding only
    detail = (
        "N(m, S) with d = 3; LinearScore(W = -S^{-1}, b = m S^{-1}) vs Gaussian(m, S).score at 64 points; "
        "measured max relative difference of the scores and max |jacobian - (-S^{-1})^T|"
    )
    return Evidence(measured, bound, detail)
