"""transport: known values, SciPy and POT peers, small epsilon, gradients, float32 and bad input on both sides."""

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance

from accelerated import transport as acc
from reference import transport as ref


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


# ---------------------------------------------------------------- known values (by hand)


def test_wasserstein_1d_known_values():
    # Point masses: W_p(delta_0, delta_1) = 1 for every p.
    for p in (1, 2, 3.5):
        assert ref.wasserstein_1d([0.0], [1.0], p=p) == pytest.approx(1.0, rel=1e-15)
        assert float(acc.wasserstein_1d(t([0.0]), t([1.0]), p=p)) == pytest.approx(1.0, rel=1e-15)
    # 1/4 delta_0 + 3/4 delta_1 against delta_0: mass 3/4 moves by 1, so W_1 = 3/4 and W_2 = sqrt(3/4).
    kw = {"u_weights": [0.25, 0.75]}
    assert ref.wasserstein_1d([0.0, 1.0], [0.0], p=1, **kw) == pytest.approx(0.75, rel=1e-15)
    assert ref.wasserstein_1d([0.0, 1.0], [0.0], p=2, **kw) == pytest.approx(math.sqrt(0.75), rel=1e-15)
    out = acc.wasserstein_1d(t([0.0, 1.0]), t([0.0]), p=2, u_weights=t([0.25, 0.75]))
    assert float(out) == pytest.approx(math.sqrt(0.75), rel=1e-15)


def test_wasserstein_known_values_both_solvers():
    # Unit square: bottom corners to top corners, every point moves by 1: W_p = 1 (assignment path).
    x, y = [[0.0, 0.0], [1.0, 0.0]], [[0.0, 1.0], [1.0, 1.0]]
    assert ref.wasserstein(x, y, p=2) == pytest.approx(1.0, rel=1e-15)
    assert float(acc.wasserstein(t(x), t(y), p=1)) == pytest.approx(1.0, rel=1e-15)
    # LP path: 1/2 at 0 and 1/2 at 2 against all mass at 1 on the line: W_p = 1 for every p.
    a, b = [0.5, 0.5], [1.0]
    assert ref.wasserstein([[0.0], [2.0]], [[1.0]], p=3, a=a, b=b) == pytest.approx(1.0, rel=1e-12)
    assert float(acc.wasserstein(t([[0.0], [2.0]]), t([[1.0]]), p=3, a=t(a), b=t(b))) == pytest.approx(1.0, rel=1e-12)


def test_gaussian_w2_known_values_and_fallbacks():
    # Commuting (diagonal) covariances: W_2^2 = |mu1 - mu2|^2 + sum (sqrt(l1) - sqrt(l2))^2 (by hand).
    mu1, mu2 = np.array([0.0, 0.0]), np.array([3.0, 4.0])
    cases = [
        (np.diag([1.0, 4.0]), np.diag([9.0, 1.0]), 25.0 + 4.0 + 1.0),  # both SPD: Cholesky of cov1
        (np.diag([1.0, 0.0]), np.diag([4.0, 9.0]), 25.0 + 1.0 + 9.0),  # cov1 singular: roles swapped
        (np.diag([1.0, 0.0]), np.diag([0.0, 4.0]), 25.0 + 1.0 + 4.0),  # both singular: eigh square root
    ]
    for cov1, cov2, expected in cases:
        assert ref.gaussian_w2(mu1, cov1, mu2, cov2, squared=True) == pytest.approx(expected, rel=1e-14)
        out = acc.gaussian_w2(t(mu1), t(cov1), t(mu2), t(cov2), squared=True)
        assert float(out) == pytest.approx(expected, rel=1e-14)
        assert ref.gaussian_w2(mu1, cov1, mu2, cov2) == pytest.approx(math.sqrt(expected), rel=1e-14)
    # Identical inputs: exactly 0 after the clamp, never NaN.
    cov = np.array([[2.0, 0.3], [0.3, 0.5]])
    assert ref.gaussian_w2(mu1, cov, mu1, cov) >= 0.0
    assert float(acc.gaussian_w2(t(mu1), t(cov), t(mu1), t(cov))) < 1e-7


def test_gaussian_w2_singular_covariance_from_few_samples():
    # FID with fewer samples than dimensions: cov1 has rank 3 in d = 6. Compare with the commuting
    # case reached by rotating a diagonal pair (W_2 is invariant under the same rotation of both).
    rng = np.random.default_rng(3)
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    l1, l2 = np.array([2.0, 1.0, 0.5, 0.0, 0.0, 0.0]), rng.uniform(0.5, 2.0, 6)
    cov1, cov2 = (Q * l1) @ Q.T, (Q * l2) @ Q.T
    cov1, cov2 = 0.5 * (cov1 + cov1.T), 0.5 * (cov2 + cov2.T)
    expected = float(np.sum((np.sqrt(l1) - np.sqrt(l2)) ** 2))
    mu = np.zeros(6)
    # The three null eigenvalues of cov1 come out as +-1e-16 after rounding; each square root can add
    # sqrt(1e-16) = 1e-8 (the documented sqrt(delta) sensitivity), so 3 x 2 x 1e-8 absolute at most.
    assert ref.gaussian_w2(mu, cov1, mu, cov2, squared=True) == pytest.approx(expected, abs=6e-8)
    assert float(acc.gaussian_w2(t(mu), t(cov1), t(mu), t(cov2), squared=True)) == pytest.approx(expected, abs=6e-8)


def test_gaussian_w2_batched_and_float32():
    rng = np.random.default_rng(4)
    A = rng.normal(size=(3, 4, 4))
    covs = A @ np.swapaxes(A, -1, -2) + 0.1 * np.eye(4)
    mus = rng.normal(size=(3, 4))
    out = ref.gaussian_w2(mus, covs, mus[0], covs[0])
    assert out.shape == (3,)
    assert out[0] == pytest.approx(0.0, abs=1e-6)
    np.testing.assert_allclose(out[1], ref.gaussian_w2(mus[1], covs[1], mus[0], covs[0]), rtol=1e-14)
    out32 = acc.gaussian_w2(
        t(mus, torch.float32), t(covs, torch.float32), t(mus[0], torch.float32), t(covs[0], torch.float32)
    )
    assert out32.dtype == torch.float32 and out32.shape == (3,)
    expected = ref.gaussian_w2(
        mus.astype(np.float32), covs.astype(np.float32), mus[0].astype(np.float32), covs[0].astype(np.float32)
    )
    np.testing.assert_allclose(out32[1:].numpy(), expected[1:], rtol=1e-6)


def test_sliced_in_one_dimension_is_wasserstein_1d():
    # In d = 1 every direction is +-1 and W_p is symmetric under reflection: SW_p = W_p exactly.
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(7, 1)), rng.normal(size=(9, 1))
    directions = np.array([[1.0, -2.0, 0.5]])
    expected = ref.wasserstein_1d(x[:, 0], y[:, 0], p=2)
    assert ref.sliced_wasserstein(x, y, projections=directions) == pytest.approx(expected, rel=1e-14)
    assert float(acc.sliced_wasserstein(t(x), t(y), projections=t(directions))) == pytest.approx(expected, rel=1e-14)


def test_sliced_with_rng_on_both_sides():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(20, 3)) + 1.0
    L = 400
    sw_ref = ref.sliced_wasserstein(x, y, rng=np.random.default_rng(0), n_projections=L)
    sw_acc = float(acc.sliced_wasserstein(t(x), t(y), rng=torch.Generator().manual_seed(0), n_projections=L))
    # Two independent Monte-Carlo means of W_2^2(theta) over L directions: their difference has standard
    # deviation sqrt(2) sd(W_2^2(theta)) / sqrt(L), the sd estimated from 2000 other directions.
    theta = rng.normal(size=(3, 2000))
    theta /= np.linalg.norm(theta, axis=0)
    per_direction = ref.wasserstein_1d((x @ theta).T, (y @ theta).T, p=2) ** 2
    se = math.sqrt(2.0) * per_direction.std(ddof=1) / math.sqrt(L)
    assert abs(sw_ref**2 - sw_acc**2) < 5 * se
    assert sw_ref <= ref.wasserstein(x, y, p=2) + 1e-12  # SW_p <= W_p


# ---------------------------------------------------------------- peers: SciPy and POT


def test_wasserstein_1d_matches_scipy_with_weights():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n, m = rng.integers(1, 12, size=2)
        u, v = rng.normal(size=n), rng.normal(size=m)
        wu, wv = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
        expected = wasserstein_distance(u, v, wu, wv)
        assert ref.wasserstein_1d(u, v, u_weights=wu, v_weights=wv) == pytest.approx(expected, rel=1e-12, abs=1e-15)
        out = acc.wasserstein_1d(t(u), t(v), u_weights=t(wu), v_weights=t(wv))
        assert float(out) == pytest.approx(expected, rel=1e-12, abs=1e-15)


def test_wasserstein_matches_assignment_and_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 3))
    C = np.linalg.norm(x[:, None] - y[None], axis=-1) ** 2
    rows, cols = linear_sum_assignment(C)
    assert ref.wasserstein(x, y) ** 2 == pytest.approx(C[rows, cols].mean(), rel=1e-13)
    a, b = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    expected = ot.emd2(a, b, np.linalg.norm(x[:, None] - y[None], axis=-1) ** 1.5)
    assert ref.wasserstein(x, y, p=1.5, a=a, b=b) ** 1.5 == pytest.approx(expected, rel=1e-9)
    assert float(acc.wasserstein(t(x), t(y), p=1.5, a=t(a), b=t(b))) ** 1.5 == pytest.approx(expected, rel=1e-9)


def test_sinkhorn_matches_pot_log_domain():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(9)
    x, y = rng.random((12, 2)), rng.random((9, 2))
    a, b = rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(9))
    M = np.sum((x[:, None] - y[None]) ** 2, axis=-1)
    plan = ot.sinkhorn(a, b, M, 0.05, method="sinkhorn_log", stopThr=1e-14, numItermax=100_000)
    ours = ref.sinkhorn(x, y, epsilon=0.05, a=a, b=b, tol=1e-12, return_plan=True)
    # POT minimises <P, M> - eps H(P); with KL(P | a b^T) the optimal plan is the same.
    np.testing.assert_allclose(ours.plan, plan, atol=1e-10)
    assert ours.cost == pytest.approx(float(np.sum(plan * M)), rel=1e-9)
    out = acc.sinkhorn(t(x), t(y), epsilon=0.05, a=t(a), b=t(b), tol=1e-12)
    assert float(out.cost) == pytest.approx(float(np.sum(plan * M)), rel=1e-9)
    assert out.converged and float(out.marginal_error) <= 1e-12


def test_sliced_and_bures_match_pot():
    ot = pytest.importorskip("ot")
    rng = np.random.default_rng(10)
    x, y = rng.normal(size=(15, 3)), rng.normal(size=(11, 3))
    theta = rng.normal(size=(3, 25))
    unit = theta / np.linalg.norm(theta, axis=0)
    expected = ot.sliced_wasserstein_distance(x, y, projections=unit, p=2)
    assert ref.sliced_wasserstein(x, y, projections=theta) == pytest.approx(expected, rel=1e-12)
    assert float(acc.sliced_wasserstein(t(x), t(y), projections=t(theta))) == pytest.approx(expected, rel=1e-12)
    A, B = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    S1, S2 = A @ A.T + 0.1 * np.eye(3), B @ B.T + 0.1 * np.eye(3)
    bures = float(ot.gaussian.bures_wasserstein_distance(x[0], y[0], S1, S2))
    assert ref.gaussian_w2(x[0], S1, y[0], S2) == pytest.approx(bures, rel=1e-10)
    assert float(acc.gaussian_w2(t(x[0]), t(S1), t(y[0]), t(S2))) == pytest.approx(bures, rel=1e-10)


# ---------------------------------------------------------------- small epsilon, convergence report


def test_small_epsilon_is_finite_and_correct():
    # eps = 1e-3 on the unit square: C / eps reaches 2000, exp(-C/eps) underflows to 0 (a kernel-domain
    # Sinkhorn returns NaN). Ours converges, and 0 <= <P, C> - W_2^2 <= eps log n at convergence.
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(200, 2, generator=g, dtype=torch.float64), torch.rand(200, 2, generator=g, dtype=torch.float64)
    assert float(torch.exp(-((x[:, None] - y[None]) ** 2).sum(-1) / 1e-3).min()) == 0.0  # the naive kernel underflows
    out = acc.sinkhorn(x, y, epsilon=1e-3, max_iter=5000)
    exact = float(acc.wasserstein(x, y)) ** 2
    assert out.converged and math.isfinite(float(out.cost)) and math.isfinite(float(out.entropic_cost))
    assert 0.0 <= float(out.cost) - exact <= 1e-3 * math.log(200)
    out32 = acc.sinkhorn(x.float(), y.float(), epsilon=1e-3, max_iter=5000)
    assert out32.converged and out32.cost.dtype == torch.float32
    assert float(out32.cost) == pytest.approx(float(out.cost), rel=1e-4)
    # The reference on fewer points: finite at the same epsilon.
    xs, ys = x[:40].numpy(), y[:40].numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ref.SinkhornConvergenceWarning)
        small = ref.sinkhorn(xs, ys, epsilon=1e-3, max_iter=300)
    assert math.isfinite(small.cost) and math.isfinite(small.entropic_cost)


def test_not_converged_is_reported_and_warned():
    rng = np.random.default_rng(11)
    x, y = rng.random((10, 2)), rng.random((10, 2))
    with pytest.warns(ref.SinkhornConvergenceWarning, match="not converged"):
        out = ref.sinkhorn(x, y, epsilon=0.01, max_iter=3)
    assert not out.converged and out.marginal_error > 1e-9 and out.n_iter > 3  # annealing iterations on top
    with pytest.warns(acc.SinkhornConvergenceWarning, match="not converged"):
        out_t = acc.sinkhorn(t(x), t(y), epsilon=0.01, max_iter=3)
    assert not out_t.converged and out_t.n_iter == out.n_iter
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol = 0: a fixed budget was asked for, no warning
        fixed = acc.sinkhorn(t(x), t(y), epsilon=0.01, max_iter=3, tol=0.0)
    assert not fixed.converged and float(fixed.marginal_error) == pytest.approx(out.marginal_error, rel=1e-9)


def test_sinkhorn_result_fields_and_float32_default_tolerance():
    rng = np.random.default_rng(12)
    x, y = rng.random((6, 2)), rng.random((5, 2))
    out = ref.sinkhorn(x, y, epsilon=0.1, return_plan=True, return_potentials=True)
    assert out.plan.shape == (6, 5) and out.f.shape == (6,) and out.g.shape == (5,)
    np.testing.assert_allclose(out.plan.sum(axis=1), np.full(6, 1 / 6), atol=1e-9)
    assert out.entropic_cost >= out.cost  # OT_eps = <P, C> + eps KL, KL >= 0
    plain = ref.sinkhorn(x, y, epsilon=0.1)
    assert plain.plan is None and plain.f is None and plain.g is None
    out32 = acc.sinkhorn(t(x, torch.float32), t(y, torch.float32), epsilon=0.1)
    assert out32.converged and float(out32.marginal_error) <= 1e-5  # tol=None is 1e-5 in float32
    assert float(out32.cost) == pytest.approx(out.cost, rel=1e-5)


def test_sinkhorn_divergence_zero_nonnegative_and_symmetric_terms():
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(8, 2)), rng.normal(size=(6, 2)) + 0.5
    assert ref.sinkhorn_divergence(x, x, epsilon=0.1) == 0.0  # even where OT_eps(x, x) crawls
    assert float(acc.sinkhorn_divergence(t(x), t(x), epsilon=0.1)) == 0.0
    s = ref.sinkhorn_divergence(x, y, epsilon=0.5)
    assert s > 0
    assert float(acc.sinkhorn_divergence(t(x), t(y), epsilon=0.5)) == pytest.approx(s, rel=1e-9)
    # As epsilon grows S_eps stays finite and positive; as it shrinks it tends to W_2^2.
    w2 = ref.wasserstein(x, y) ** 2
    assert abs(ref.sinkhorn_divergence(x, y, epsilon=0.02, max_iter=50_000) - w2) < 0.1 * w2


# ---------------------------------------------------------------- gradients


def test_sinkhorn_gradients_match_finite_differences():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(5, 2, generator=g, dtype=torch.float64)
    y = torch.rand(4, 2, generator=g, dtype=torch.float64)
    kw = {"epsilon": 0.1, "p": 1.5, "tol": 1e-14}
    xr = x.clone().requires_grad_()
    out = acc.sinkhorn(xr, y, **kw)
    (grad_cost,) = torch.autograd.grad(out.cost, xr, retain_graph=True)
    (grad_entropic,) = torch.autograd.grad(out.entropic_cost, xr)
    h = 1e-6
    fd_cost, fd_entropic = torch.zeros_like(x), torch.zeros_like(x)
    for i in range(5):
        for j in range(2):
            xp, xm = x.clone(), x.clone()
            xp[i, j] += h
            xm[i, j] -= h
            up, dn = acc.sinkhorn(xp, y, **kw), acc.sinkhorn(xm, y, **kw)
            fd_cost[i, j] = (up.cost - dn.cost) / (2 * h)
            fd_entropic[i, j] = (up.entropic_cost - dn.entropic_cost) / (2 * h)
    assert torch.isfinite(grad_cost).all() and torch.isfinite(grad_entropic).all()
    torch.testing.assert_close(grad_cost, fd_cost, rtol=1e-6, atol=1e-8)
    torch.testing.assert_close(grad_entropic, fd_entropic, rtol=1e-6, atol=1e-8)


def test_other_gradients_are_finite():
    g = torch.Generator().manual_seed(4)
    x = torch.rand(6, 2, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(6, 2, generator=g, dtype=torch.float64)
    for value in (
        acc.wasserstein(x, y, p=1),
        acc.wasserstein(x, x.detach()),  # W = 0: the root's gradient is 0, not NaN
        acc.sliced_wasserstein(x, y, projections=torch.randn(2, 8, generator=g, dtype=torch.float64)),
        acc.sinkhorn_divergence(x, y, epsilon=0.2),
    ):
        (grad,) = torch.autograd.grad(value, x)
        assert torch.isfinite(grad).all()
    # Exact OT, envelope theorem: with a unique optimal plan the gradient of W_2^2 in x_i is 2 (x_i - y_sigma(i))/n.
    w = acc.wasserstein(x, y) ** 2
    (grad,) = torch.autograd.grad(w, x)
    C = ((x.detach()[:, None] - y[None]) ** 2).sum(-1).numpy()
    _, cols = linear_sum_assignment(C)
    np.testing.assert_allclose(grad.numpy(), 2 * (x.detach().numpy() - y.numpy()[cols]) / 6, rtol=1e-12)
    mu = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    cov = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).requires_grad_()
    value = acc.gaussian_w2(mu, cov, torch.ones(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64))
    grads = torch.autograd.grad(value, [mu, cov])
    assert all(torch.isfinite(gr).all() for gr in grads)


# ---------------------------------------------------------------- bad input beyond the registry
# The bad inputs of every pair are in crosscheck/pairs/transport.py (errors=[bad(...)]), run on both
# sides by tests/test_error_inputs.py. Here: scalars, and what only one side has (generators, devices).


def test_numpy_scalars_are_accepted_alike_and_float_counts_refused():
    x, y = np.array([[0.0, 0.0], [1.0, 0.0]]), np.array([[0.0, 1.0], [1.0, 1.0], [0.5, 0.5]])
    kw = {"epsilon": np.float32(0.5), "p": np.int64(2), "max_iter": np.int64(40), "check_every": np.int64(5)}
    kw |= {"tol": np.float64(1e-9), "epsilon_scaling": np.float32(0.5), "overrelaxation": np.float64(1.2)}
    out_ref, out_acc = ref.sinkhorn(x, y, **kw), acc.sinkhorn(t(x), t(y), **kw)
    plain = {"epsilon": 0.5, "p": 2, "max_iter": 40, "check_every": 5, "tol": 1e-9, "overrelaxation": 1.2}
    assert out_ref.cost == ref.sinkhorn(x, y, **plain, epsilon_scaling=float(np.float32(0.5))).cost
    assert float(out_acc.cost) == pytest.approx(out_ref.cost, rel=1e-12)
    assert out_acc.n_iter == out_ref.n_iter
    assert ref.sinkhorn_divergence(x, y, **kw) == pytest.approx(float(acc.sinkhorn_divergence(t(x), t(y), **kw)))
    directions = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    sw_ref = ref.sliced_wasserstein(x, y, p=np.float32(1.5), projections=directions, n_projections=np.int64(3))
    sw_acc = acc.sliced_wasserstein(t(x), t(y), p=np.float32(1.5), projections=t(directions), n_projections=np.int64(3))
    assert float(sw_acc) == pytest.approx(sw_ref, rel=1e-12)
    L = np.int64(7)
    assert np.isfinite(ref.sliced_wasserstein(x, y, rng=np.random.default_rng(0), n_projections=L))
    assert torch.isfinite(acc.sliced_wasserstein(t(x), t(y), rng=torch.Generator().manual_seed(0), n_projections=L))
    assert ref.wasserstein_1d([0.0], [1.0], p=np.int64(3)) == float(
        acc.wasserstein_1d(t([0.0]), t([1.0]), p=np.int64(3))
    )
    assert ref.gaussian_w2(np.zeros(1), np.eye(1), np.ones(1), np.eye(1), squared=np.bool_(True)) == 1.0
    assert float(acc.gaussian_w2(t([0.0]), t([[1.0]]), t([1.0]), t([[1.0]]), squared=np.bool_(True))) == 1.0
    for name, value in (("max_iter", 40.0), ("check_every", 5.0), ("max_iter", np.float64(40))):
        with pytest.raises(TypeError, match=f"{name}: expected an integer"):
            ref.sinkhorn(x, y, epsilon=0.5, **{name: value})
        with pytest.raises(TypeError, match=f"{name}: expected an integer"):
            acc.sinkhorn(t(x), t(y), epsilon=0.5, **{name: value})
    for side, rng in ((ref, np.random.default_rng(0)), (acc, torch.Generator())):
        args = (x, y) if side is ref else (t(x), t(y))
        with pytest.raises(TypeError, match="n_projections: expected an integer"):
            side.sliced_wasserstein(*args, rng=rng, n_projections=7.0)


def test_bad_generators():
    x, y = np.zeros((2, 2)), np.ones((3, 2))
    with pytest.raises(ValueError, match="pass exactly one of projections="):
        acc.sliced_wasserstein(t(x), t(y), projections=t(np.ones((2, 3))), rng=torch.Generator())
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.sliced_wasserstein(t(x), t(y), rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.sliced_wasserstein(x, y, rng=torch.Generator())


def test_mismatched_dtypes_and_devices_are_refused():
    x = t(np.zeros((2, 2)))
    with pytest.raises(TypeError, match="one floating dtype"):
        acc.sinkhorn(x, x.float(), epsilon=0.1)
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        acc.wasserstein(np.zeros((2, 2)), x)
    # The 'meta' device stands in for a second device on a CPU-only machine: metadata checks see it.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.wasserstein(x, x.to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.gaussian_w2(t([0.0]), t([[1.0]]), t([0.0]).to("meta"), t([[1.0]]))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.sliced_wasserstein(x, x, projections=t(np.ones((2, 3))).to("meta"))


# ---------------------------------------------------------------- extreme input (issue 12)

_OVERFLOW_SCRIPT = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))  # these inputs used to grow past 20 GB
import numpy as np, torch
from reference import transport as ref
from accelerated import transport as acc
cases = [(np.array([[1e300, 0.0]]), {}, "x and y"), (np.array([[1e160, 0.0]]), {"p": 2}, "x and y"),
         (np.array([[2.0, 0.0]]), {"p": 1e300}, "p")]
y = np.zeros((1, 2))
for x, kw, name in cases:
    for side, conv in ((ref, np.asarray), (acc, torch.tensor)):
        for fn in (side.sinkhorn, side.sinkhorn_divergence):
            try:
                fn(conv(x), conv(y), epsilon=0.1, **kw)
            except ValueError as error:
                assert str(error).startswith(name + ":"), (fn, kw, str(error))
            else:
                sys.exit(f"{fn.__module__}.{fn.__name__} {kw}: no ValueError")
print("ok")
"""


def test_overflowing_cost_is_refused_without_hanging():
    # Run in a subprocess with a timeout and a memory cap: before the fix these inputs looped forever.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _OVERFLOW_SCRIPT], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


def test_epsilon_schedule_is_bounded():
    from reference._args import transport as S

    with pytest.raises(ValueError, match=r"epsilon_scaling: the annealing .* takes more than 100000 stages"):
        S.epsilon_schedule(1.0, 1e-10, 1.0 - 1e-15)
    with pytest.raises(ValueError, match="x and y: the cost scale"):
        S.epsilon_schedule(math.inf, 0.1, 0.5)


def test_epsilon_below_the_float32_resolution_is_refused():
    # Data in [-1e6, 1e6]: float32 at epsilon 1e-4 returned an inf cost. The bound is the cost scale
    # times the resolution of the dtype, so float32 refuses where float64 (and the reference) still run.
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1.0, 1.0, (5, 2)), rng.uniform(-1.0, 1.0, (5, 2))
    with pytest.raises(ValueError, match=r"epsilon: expected at least .* precision 1\.19e-07"):
        acc.sinkhorn(t(1e6 * x, torch.float32), t(1e6 * y, torch.float32), epsilon=1e-4)
    with pytest.raises(ValueError, match="epsilon: expected at least"):
        acc.sinkhorn_divergence(t(x, torch.float32), t(y, torch.float32), epsilon=1e-8)
    out64 = acc.sinkhorn(t(x), t(y), epsilon=1e-8, max_iter=50, tol=0.0)
    assert math.isfinite(float(out64.cost))


def test_wasserstein_1d_empty_batch_with_weights_is_empty_on_both_sides():
    # The reference raised NumPy's "zero-size array to reduction" (its simplex check of an empty batch).
    u, v, w = np.zeros((0, 2)), np.zeros(1), np.zeros((0, 2))
    assert ref.wasserstein_1d(u, v, u_weights=w).shape == (0,)
    assert acc.wasserstein_1d(t(u), t(v), u_weights=t(w)).shape == (0,)
    with pytest.raises(ValueError, match="u_weights: expected at least one category"):
        ref.wasserstein_1d(np.zeros(2), v, u_weights=np.zeros(0))


def test_wasserstein_lp_at_large_cost_scales_and_float16_weights():
    # HiGHS takes costs above 1e20 for infinite: the LP failed from a cost scale of about 1e20 on (and
    # found a worse plan at p = 200, where the costs span 1e-30 .. 1e30); it now runs on C / 2^k.
    rng = np.random.default_rng(0)
    x, y = rng.random((3, 2)), rng.random((4, 2))
    base = ref.wasserstein(x, y)
    for scale in (1e10, 1e100):
        assert ref.wasserstein(scale * x, scale * y) == pytest.approx(scale * base, rel=1e-12)
        assert float(acc.wasserstein(t(scale * x), t(scale * y))) == pytest.approx(scale * base, rel=1e-12)
    # p = 200 through the LP (3 against 4 points) agrees with brute force over the vertices of 3 x 3
    # uniform plans (permutations), checked on the square case through the assignment solver.
    sq = ref.wasserstein(x, y[:3], p=200)
    assert ref.wasserstein(x, y[:3], p=200, a=np.full(3, 1 / 3)) == pytest.approx(sq, rel=1e-12)
    # float16 weights pass the simplex check with their own rounding; their totals made the LP infeasible.
    a = torch.tensor([0.333, 0.333, 0.333], dtype=torch.float16)
    b = torch.tensor([1.0, 0.0, 0.0, 0.0], dtype=torch.float16)
    value = acc.wasserstein(t(x, torch.float16), t(y, torch.float16), a=a, b=b)
    assert value.dtype == torch.float16 and torch.isfinite(value)


def test_reference_logsumexp_is_scipys_and_a_fixed_budget_runs_quickly():
    # The reference's Sinkhorn wrote out log-sum-exp in place of scipy.special.logsumexp, whose
    # dispatch cost ten times the arithmetic: tol=0 with the default max_iter = 10_000 ran past the
    # fuzzer's 3 s alarm. Same values (to rounding), zero-mass entries (-inf) included.
    from scipy.special import logsumexp

    from reference.transport.sinkhorn import _logsumexp

    z = np.random.default_rng(3).normal(size=(5, 4)) * 50.0
    z[1, 2] = z[3, 0] = -np.inf
    for axis in (0, 1):
        np.testing.assert_allclose(_logsumexp(z, axis), logsumexp(z, axis=axis), rtol=1e-15, atol=0)
    rng = np.random.default_rng(4)
    x, y = rng.random((5, 2)), rng.random((4, 2))
    out, out_t = ref.sinkhorn(x, y, epsilon=0.1, tol=0.0), acc.sinkhorn(t(x), t(y), epsilon=0.1, tol=0.0)
    assert not out.converged and out.n_iter == out_t.n_iter > 10_000  # the budget, plus the annealing stages
    assert float(out_t.cost) == pytest.approx(out.cost, rel=1e-12)


@pytest.mark.parametrize("p", [1, 2, 3])
@pytest.mark.parametrize("gap", [1e300, 1e-200])
def test_wasserstein_of_extreme_distances(p, gap):
    # The ground cost ||x - y||^p underflowed at 1e-200 (W = 0) and was refused as overflowing at 1e300;
    # the distances are now scaled by a power of two before they are squared, on both sides alike.
    x, y = np.array([[0.0, 0.0]]), np.array([[gap, 0.0]])
    one = np.ones(1)
    for kw in ({}, {"a": one, "b": one}):  # the assignment path and the LP path
        assert ref.wasserstein(x, y, p=p, **kw) == pytest.approx(gap, rel=1e-14)
        tkw = {name: t(w) for name, w in kw.items()}
        assert float(acc.wasserstein(t(x), t(y), p=p, **tkw)) == pytest.approx(gap, rel=1e-14)
    # two points per side with weights: the small distance carries 0.2 of the mass, W_p = 0.2^(1/p) gap
    x2, y2 = np.array([[0.0], [1.0]]) * gap, np.array([[1.0], [1.0]]) * gap
    a, b = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    want = 0.2 ** (1 / p) * gap
    assert ref.wasserstein(x2, y2, p=p, a=a, b=b) == pytest.approx(want, rel=1e-12)
    assert float(acc.wasserstein(t(x2), t(y2), p=p, a=t(a), b=t(b))) == pytest.approx(want, rel=1e-12)


def test_wasserstein_network_simplex_and_the_scipy_fallback_agree(monkeypatch):
    # The accelerated side solves by POT's network simplex (ot.emd) where POT is installed, else by SciPy
    # as the reference does; the optimal value is unique even where the plans differ.
    pytest.importorskip("ot", reason="POT (pip install pot) is the accelerated side's exact-OT solver")
    from accelerated.transport import exact

    rng = np.random.default_rng(11)
    x, y, z = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)), rng.normal(size=(7, 3))
    a, b = rng.dirichlet(np.ones(12)), rng.dirichlet(np.ones(7))
    assert exact._pot_emd() is not None
    with_pot = [float(acc.wasserstein(t(x), t(y), p=p)) for p in (1, 2, 3)]
    weighted = float(acc.wasserstein(t(x), t(z), p=1.5, a=t(a), b=t(b)))
    monkeypatch.setattr(exact, "_EMD", None)  # as if POT were missing: SciPy's assignment and HiGHS
    for p, value in zip((1, 2, 3), with_pot):
        assert float(acc.wasserstein(t(x), t(y), p=p)) == pytest.approx(value, rel=1e-13)
        assert ref.wasserstein(x, y, p=p) == pytest.approx(value, rel=1e-13)
    # Weighted: HiGHS stops within its feasibility tolerances (1e-7), the network simplex at the vertex.
    assert float(acc.wasserstein(t(x), t(z), p=1.5, a=t(a), b=t(b))) == pytest.approx(weighted, rel=1e-6)
    import ot

    exact_value = ot.emd2(a, b, np.linalg.norm(x[:, None] - z[None], axis=-1) ** 1.5, numItermax=10**7) ** (1 / 1.5)
    assert weighted == pytest.approx(exact_value, rel=1e-13)


def test_wasserstein_network_simplex_out_of_pivots_is_an_error(monkeypatch):
    pytest.importorskip("ot", reason="POT (pip install pot) is the accelerated side's exact-OT solver")
    from accelerated.transport import exact

    monkeypatch.setattr(exact, "_max_iter", lambda n, m: 1)
    rng = np.random.default_rng(12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # POT's own warning is not passed on: the error says it
        with pytest.raises(RuntimeError, match=r"ot.emd .* did not reach the optimum .*result code 3"):
            acc.wasserstein(t(rng.normal(size=(30, 2))), t(rng.normal(size=(30, 2))))


def test_wasserstein_gradient_over_the_support_is_the_dense_formula():
    from accelerated.transport.exact import _host_optimal_plan

    # The differentiable cost is formed over the plan's support only; its gradient is that of <gamma*, C>.
    rng = np.random.default_rng(13)
    x = torch.tensor(rng.normal(size=(6, 2)), requires_grad=True)
    y = torch.tensor(rng.normal(size=(5, 2)), requires_grad=True)
    a, b = t(rng.dirichlet(np.ones(6))), t(rng.dirichlet(np.ones(5)))
    for p in (1.0, 2.0, 3.0):
        out = acc.wasserstein(x, y, p=p, a=a, b=b)
        gx, gy = torch.autograd.grad(out, (x, y))
        xd, yd = x.detach().requires_grad_(), y.detach().requires_grad_()
        cost = torch.cdist(xd, yd) ** p
        _, (rows, cols, masses) = _host_optimal_plan(cost.detach().numpy(), a.numpy(), b.numpy())
        plan = torch.zeros(6, 5, dtype=torch.float64)
        plan[rows, cols] = torch.from_numpy(masses)
        dense = (plan * cost).sum() ** (1 / p)
        assert float(out.detach()) == pytest.approx(float(dense.detach()), rel=1e-12)
        hx, hy = torch.autograd.grad(dense, (xd, yd))
        torch.testing.assert_close(gx, hx, rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(gy, hy, rtol=1e-10, atol=1e-12)


def test_reference_lp_reaches_the_optimum_on_weighted_problems():
    """The reference's LP (HiGHS) at its default feasibility tolerances (1e-7) stopped up to 2e-5
    (relative) above the optimum on weighted problems; at 1e-10 with interior point and crossover it
    agrees with POT's network simplex (an independent exact solver) to rounding, p = 200 included."""
    ot = pytest.importorskip("ot", reason="POT (pip install pot) is the independent exact solver here")
    rng = np.random.default_rng(0)
    worst = 0.0
    for _ in range(60):
        n, m = rng.integers(2, 12, 2)
        x, y = rng.normal(size=(n, 2)), rng.normal(size=(m, 2))
        a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
        p = float(rng.choice([1.0, 2.0, 3.0, 7.5]))
        exact = ot.emd2(a, b, ot.dist(x, y, metric="euclidean") ** p, numItermax=10**7) ** (1 / p)
        worst = max(worst, abs(ref.wasserstein(x, y, p=p, a=a, b=b) - exact) / exact)
    assert worst < 1e-12


def test_wasserstein_value_without_a_graph_is_the_solver_cost():
    # Without a gradient the value is POT's own optimal cost (no scan of the dense plan); with one it is
    # <gamma*, C> formed again on the support. Both are sums of the same n + m - 1 products: equal to rounding.
    rng = np.random.default_rng(14)
    x, y = rng.normal(size=(40, 3)), rng.normal(size=(30, 3))
    a, b = t(rng.dirichlet(np.ones(40))), t(rng.dirichlet(np.ones(30)))
    for p in (1.0, 2.0, 3.0):
        plain = acc.wasserstein(t(x), t(y), p=p, a=a, b=b)
        xg = t(x).requires_grad_()
        graphed = acc.wasserstein(xg, t(y), p=p, a=a, b=b)
        assert not plain.requires_grad and graphed.requires_grad
        assert float(plain) == pytest.approx(float(graphed.detach()), rel=1e-14)
        assert float(plain) == pytest.approx(ref.wasserstein(x, y, p=p, a=a.numpy(), b=b.numpy()), rel=1e-12)


def test_pot_is_asked_to_skip_what_wasserstein_did_already(monkeypatch):
    # The weights are checked and renormalised before the solve and the duals are not used: POT >= 0.9.3
    # is called with check_marginals=False and center_dual=False (through _pot_emd); an older POT,
    # whose emd has neither keyword, is called without them.
    pytest.importorskip("ot", reason="POT (pip install pot) is the accelerated side's exact-OT solver")
    from accelerated.transport import exact

    monkeypatch.setattr(exact, "_EMD", exact._UNSET)
    assert exact._pot_emd().keywords == {"check_marginals": False, "center_dual": False}
    import ot.lp

    calls, real_emd = [], ot.lp.emd

    def old_emd(a, b, M, numItermax=100000, log=False):  # POT 0.9.0's signature
        calls.append(numItermax)
        return real_emd(a, b, M, numItermax=numItermax, log=log)

    monkeypatch.setattr(ot.lp, "emd", old_emd)
    monkeypatch.setattr(exact, "_EMD", exact._UNSET)
    assert exact._pot_emd() is old_emd
    rng = np.random.default_rng(15)
    x, y = rng.normal(size=(9, 2)), rng.normal(size=(7, 2))
    value = float(acc.wasserstein(t(x), t(y)))
    assert calls and value == pytest.approx(ref.wasserstein(x, y), rel=1e-12)
