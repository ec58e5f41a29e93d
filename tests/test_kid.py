"""KID and the unbiased MMD^2 (Binkowski et al. 2018): exact values, unbiasedness, subsets, generators, bad input.

The cubic kernel is k(x, y) = (x.y / d + 1)^3 and the estimate
MMD^2_u = sum_{i != j} k(x_i, x_j) / (m(m-1)) + sum_{i != j} k(y_i, y_j) / (n(n-1)) - 2 sum k(x_i, y_j) / (mn).
"""

import importlib
from fractions import Fraction

import numpy as np
import pytest
import torch

from accelerated import metrics as acc
from reference import metrics as ref

acc_kid = importlib.import_module("accelerated.metrics.kid")  # the submodule (acc.kid is the function)


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def f(x) -> float:
    return float(np.asarray(x.detach() if isinstance(x, torch.Tensor) else x, dtype=np.float64))


def exact_mmd2(X, Y) -> Fraction:
    """The estimator by an explicit loop over pairs, in exact rational arithmetic (integer features)."""
    d = len(X[0])

    def k(a, b):
        return (Fraction(sum(p * q for p, q in zip(a, b)), d) + 1) ** 3

    m, n = len(X), len(Y)
    xx = sum(k(X[i], X[j]) for i in range(m) for j in range(m) if i != j)
    yy = sum(k(Y[i], Y[j]) for i in range(n) for j in range(n) if i != j)
    xy = sum(k(a, b) for a in X for b in Y)
    return xx / (m * (m - 1)) + yy / (n * (n - 1)) - 2 * xy / (m * n)


X_INT = [[1, 0, 2], [0, 2, -1], [1, 1, 1]]
Y_INT = [[2, 1, 0], [0, 0, 0], [-1, 1, 3], [3, -2, 1]]


# ---------------------------------------------------------------- exact values


def test_mmd2_unbiased_matches_the_exact_double_loop():
    exact = exact_mmd2(X_INT, Y_INT)
    # -917/162: negative, since the estimator is unbiased, not a squared norm (the docstrings say so).
    assert exact == Fraction(-917, 162)
    r = ref.mmd2_unbiased(X_INT, Y_INT)
    assert r.shape == () and r.dtype == np.float64
    np.testing.assert_allclose(r, float(exact), rtol=1e-14)
    a = acc.mmd2_unbiased(t(X_INT), t(Y_INT))
    assert a.shape == () and a.dtype == torch.float64
    np.testing.assert_allclose(f(a), float(exact), rtol=1e-14)
    a32 = acc.mmd2_unbiased(t(X_INT, torch.float32), t(Y_INT, torch.float32))
    assert a32.dtype == torch.float32  # kernel GEMM in float32, sums in float64, cast back
    np.testing.assert_allclose(f(a32), float(exact), rtol=1e-6)
    # symmetric in its arguments
    np.testing.assert_allclose(ref.mmd2_unbiased(Y_INT, X_INT), float(exact), rtol=1e-14)
    np.testing.assert_allclose(f(acc.mmd2_unbiased(t(Y_INT), t(X_INT))), float(exact), rtol=1e-14)


def test_kid_is_mean_and_population_std_of_the_subset_values():
    idx1 = np.array([[0, 2], [1, 0], [2, 1]])
    idx2 = np.array([[3, 0], [1, 2], [0, 2]])
    X, Y = np.array(X_INT), np.array(Y_INT)
    values = [float(exact_mmd2(X[i].tolist(), Y[j].tolist())) for i, j in zip(idx1, idx2)]
    mean, std = np.mean(values), np.std(values)  # ddof = 0, as torch-fidelity's kid_subsets_std
    r = ref.kid(X, Y, indices=(idx1, idx2))
    np.testing.assert_allclose([r.mean, r.std], [mean, std], rtol=1e-13)
    a = acc.kid(t(X), t(Y), indices=(torch.from_numpy(idx1), torch.from_numpy(idx2)))
    assert a.mean.shape == a.std.shape == () and a.mean.dtype == torch.float64
    np.testing.assert_allclose([f(a.mean), f(a.std)], [mean, std], rtol=1e-13)
    a32 = acc.kid(
        t(X, torch.float32), t(Y, torch.float32), indices=[torch.from_numpy(idx1).int(), torch.from_numpy(idx2)]
    )
    assert a32.mean.dtype == a32.std.dtype == torch.float32  # int32 indices, as a list: accepted
    np.testing.assert_allclose([f(a32.mean), f(a32.std)], [mean, std], rtol=1e-6)


def test_defaults_subset_size_min_1000_n1_n2_and_100_subsets():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 2)), rng.normal(size=(7, 2)) + 1.0
    # subset_size defaults to min(1000, 5, 7) = 5 and n_subsets to 100: same draws as stating them
    r0 = ref.kid(x, y, rng=np.random.default_rng(1))
    r1 = ref.kid(x, y, subset_size=5, n_subsets=100, rng=np.random.default_rng(1))
    assert r0 == r1
    a0 = acc.kid(t(x), t(y), rng=torch.Generator().manual_seed(1))
    a1 = acc.kid(t(x), t(y), subset_size=5, n_subsets=100, rng=torch.Generator().manual_seed(1))
    assert torch.equal(a0.mean, a1.mean) and torch.equal(a0.std, a1.std)
    # subset_size = n1 = n2: every subset is the whole set, so std = 0 and mean = MMD^2_u of the sets
    y5 = y[:5]
    r = ref.kid(x, y5, n_subsets=4, rng=np.random.default_rng(2))
    np.testing.assert_allclose(r.mean, ref.mmd2_unbiased(x, y5), rtol=1e-13)
    assert r.std < 1e-13
    # n above 1000: the default subset has 1000 rows
    big_x, big_y = rng.normal(size=(1200, 2)), rng.normal(size=(1500, 2))
    b0 = acc.kid(t(big_x), t(big_y), n_subsets=2, rng=torch.Generator().manual_seed(3))
    b1 = acc.kid(t(big_x), t(big_y), subset_size=1000, n_subsets=2, rng=torch.Generator().manual_seed(3))
    assert torch.equal(b0.mean, b1.mean)


# ---------------------------------------------------------------- statistics


def expected_cubic_kernel(mu1, S1, mu2, S2) -> float:
    """E k(x, y) for independent x ~ N(mu1, S1), y ~ N(mu2, S2), in closed form.

    With z = x.y: k = 1 + 3 z/d + 3 z^2/d^2 + z^3/d^3, E z = mu1.mu2, E z^2 = tr(A1 A2) with
    A_i = S_i + mu_i mu_i^T, and (given y, z ~ N(mu1.y, y^T S1 y), whose third moment is
    a^3 + 3 a s^2) E z^3 = a^3 + 3 a mu1^T S2 mu1 + 3 [a (mu2^T S1 mu2 + tr(S1 S2)) + 2 mu1^T S2 S1 mu2],
    a = mu1.mu2. (Checked against 4e6 Monte-Carlo pairs while writing this test: within 0.5 standard errors.)
    """
    d = mu1.size
    A1, A2 = S1 + np.outer(mu1, mu1), S2 + np.outer(mu2, mu2)
    a = mu1 @ mu2
    Ez2 = np.trace(A1 @ A2)
    Ez3 = a**3 + 3 * a * (mu1 @ S2 @ mu1) + 3 * (a * (mu2 @ S1 @ mu2 + np.trace(S1 @ S2)) + 2 * mu1 @ S2 @ S1 @ mu2)
    return float(1 + 3 * a / d + 3 * Ez2 / d**2 + Ez3 / d**3)


def test_mmd2_unbiased_is_unbiased_for_two_gaussians():
    # Population MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y) in closed form. The average of R
    # independent estimates has standard error s / sqrt(R) (s: their sample std); by the CLT a
    # 5-standard-error bound fails with probability ~6e-7. The biased V-statistic (diagonal kept)
    # is off by O(1/m), many standard errors here: the check can tell the two apart.
    d, m, n, R = 3, 12, 16, 4000
    mu1, mu2 = np.zeros(d), np.array([0.4, -0.2, 0.3])
    S1, S2 = np.eye(d), np.diag([1.5, 0.7, 1.0])
    population = (
        expected_cubic_kernel(mu1, S1, mu1, S1)
        + expected_cubic_kernel(mu2, S2, mu2, S2)
        - 2 * expected_cubic_kernel(mu1, S1, mu2, S2)
    )
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(R, m, d, generator=gen, dtype=torch.float64) @ torch.from_numpy(np.sqrt(S1)) + torch.from_numpy(mu1)
    y = torch.randn(R, n, d, generator=gen, dtype=torch.float64) @ torch.from_numpy(np.sqrt(S2)) + torch.from_numpy(mu2)
    values = acc._subset_mmd2(x, y).numpy()  # R estimates at once (batched GEMMs)
    se = values.std(ddof=1) / np.sqrt(R)
    assert abs(values.mean() - population) <= 5 * se, (values.mean(), population, se)
    # the same estimates one by one on the reference side
    for r in range(0, R, 400):
        np.testing.assert_allclose(ref.mmd2_unbiased(x[r].numpy(), y[r].numpy()), values[r], rtol=1e-12)

    def v_statistic(a, b):
        k = lambda p, q: (p @ q.transpose(1, 2) / d + 1) ** 3  # noqa: E731
        return k(a, a).mean(dim=(1, 2)) + k(b, b).mean(dim=(1, 2)) - 2 * k(a, b).mean(dim=(1, 2))

    biased = v_statistic(x, y).numpy()
    assert abs(biased.mean() - population) > 20 * biased.std(ddof=1) / np.sqrt(R)


@pytest.fixture(scope="module")
def pools():
    rng = np.random.default_rng(7)
    n, d = 2000, 16
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.5


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_kid_near_zero_for_one_law_and_clearly_positive_for_shifted_laws(pools, side):
    x, y_same, y_shift = pools
    n, m, S = x.shape[0], 100, 50
    if side == "reference":
        same = ref.kid(x, y_same, subset_size=m, n_subsets=S, rng=np.random.default_rng(0))
        shifted = ref.kid(x, y_shift, subset_size=m, n_subsets=S, rng=np.random.default_rng(0))
        pool = f(ref.mmd2_unbiased(x, y_same))
    else:  # float32 features: the kernel GEMMs run in float32
        x32, same32, shift32 = (t(v, torch.float32) for v in (x, y_same, y_shift))
        same = acc.kid(x32, same32, subset_size=m, n_subsets=S, rng=torch.Generator().manual_seed(0))
        shifted = acc.kid(x32, shift32, subset_size=m, n_subsets=S, rng=torch.Generator().manual_seed(0))
        pool = f(acc.mmd2_unbiased(t(x), t(y_same)))
    mean, std = f(same.mean), f(same.std)
    # mean = (mean - pool) + pool, pool = MMD^2_u of the whole pools. Given the pools the S subset
    # values are i.i.d. with mean `pool` (each subset is a uniform draw without replacement, so its
    # pairs are uniform over the pools' pairs), hence |mean - pool| <= 5 std / sqrt(S) (CLT).
    assert abs(mean - pool) <= 5 * std / np.sqrt(S), (mean, pool, std)
    # With equal laws MMD^2_u is a degenerate U-statistic: its std falls like 1 / (sample size), so the
    # pools' value has about (m / n) times the std of a subset's; a factor 2 covers that approximation.
    assert abs(pool) <= 5 * 2 * (m / n) * std, (pool, std)
    # A shift of 0.5 per coordinate: MMD^2 far above the noise.
    assert f(shifted.mean) > 0 and f(shifted.mean) > 20 * f(shifted.std) / np.sqrt(S)
    assert f(shifted.mean) > 20 * abs(mean)


# ---------------------------------------------------------------- randomness and subsets


def test_same_indices_give_the_same_kid_on_both_sides():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(40, 5)), rng.normal(size=(30, 5)) * 1.2
    idx1, idx2 = acc._draw_kid_indices(40, 30, 12, 7, torch.Generator().manual_seed(4), "cpu")
    r = ref.kid(x, y, indices=(idx1.numpy(), idx2.numpy()))
    a = acc.kid(t(x), t(y), indices=(idx1, idx2))
    np.testing.assert_allclose([f(a.mean), f(a.std)], [r.mean, r.std], rtol=1e-12)
    # rng= and the same draws passed as indices= agree
    b = acc.kid(t(x), t(y), subset_size=12, n_subsets=7, rng=torch.Generator().manual_seed(4))
    assert torch.equal(a.mean, b.mean) and torch.equal(a.std, b.std)


def test_seeded_generators_reproduce_and_unseeded_calls_draw_afresh():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(60, 3))
    kw = {"subset_size": 10, "n_subsets": 5}
    assert ref.kid(x, y, rng=np.random.default_rng(9), **kw) == ref.kid(x, y, rng=np.random.default_rng(9), **kw)
    assert ref.kid(x, y, rng=np.random.default_rng(9), **kw) != ref.kid(x, y, rng=np.random.default_rng(8), **kw)
    X, Y = t(x), t(y)
    a1 = acc.kid(X, Y, rng=torch.Generator().manual_seed(9), **kw)
    a2 = acc.kid(X, Y, rng=torch.Generator().manual_seed(9), **kw)
    a3 = acc.kid(X, Y, rng=torch.Generator().manual_seed(8), **kw)
    assert torch.equal(a1.mean, a2.mean) and not torch.equal(a1.mean, a3.mean)
    # neither rng nor indices: a fresh unseeded generator (documented as not reproducible)
    assert ref.kid(x, y, **kw) != ref.kid(x, y, **kw)
    assert not torch.equal(acc.kid(X, Y, **kw).mean, acc.kid(X, Y, **kw).mean)


def test_draw_kid_indices_contract(monkeypatch):
    gen = torch.Generator().manual_seed(0)
    idx1, idx2 = acc._draw_kid_indices(50, 70, 20, 9, gen, torch.device("cpu"))
    for idx, n in ((idx1, 50), (idx2, 70)):
        assert idx.dtype == torch.int64 and idx.shape == (9, 20) and idx.device.type == "cpu"
        assert int(idx.min()) >= 0 and int(idx.max()) < n
        assert all(len(set(row.tolist())) == 20 for row in idx)  # without replacement
    again = acc._draw_kid_indices(50, 70, 20, 9, torch.Generator().manual_seed(0), "cpu")
    assert torch.equal(again[0], idx1) and torch.equal(again[1], idx2)
    assert len({tuple(row.tolist()) for row in idx1}) == 9  # the subsets differ from each other
    monkeypatch.setattr(acc_kid, "_DRAW_CHUNK_VALUES", 100)  # chunked draws (one row per chunk): still valid
    small = acc._draw_kid_indices(50, 70, 20, 9, torch.Generator().manual_seed(0), "cpu")
    assert small[0].shape == (9, 20) and all(len(set(row.tolist())) == 20 for row in small[1])
    unseeded = acc._draw_kid_indices(50, 70, 20, 3, None, "cpu")
    assert unseeded[0].shape == (3, 20) and unseeded[1].shape == (3, 20)
    # every row of range(n) is equally likely to be drawn: 20 of 50 per subset, 0.4 each
    many, _ = acc._draw_kid_indices(50, 50, 20, 2000, torch.Generator().manual_seed(1), "cpu")
    freq = torch.bincount(many.flatten(), minlength=50).double() / 2000
    assert float((freq - 0.4).abs().max()) < 5 * np.sqrt(0.4 * 0.6 / 2000)  # 5 binomial standard errors


def test_chunks_and_row_blocks_do_not_change_the_values(monkeypatch):
    rng = np.random.default_rng(11)
    x, y = t(rng.normal(size=(60, 4))), t(rng.normal(size=(50, 4)) + 0.2)
    kw = {"subset_size": 25, "n_subsets": 6}
    whole = acc.kid(x, y, rng=torch.Generator().manual_seed(2), **kw)
    whole_mmd = acc.mmd2_unbiased(x, y)
    whole32 = acc.kid(x.float(), y.float(), rng=torch.Generator().manual_seed(2), **kw)
    monkeypatch.setattr(acc_kid, "_KID_CHUNK_BYTES", 1)  # one subset per chunk
    monkeypatch.setattr(acc_kid, "_KERNEL_BLOCK_ENTRIES", 7 * 25)  # kernel rows in slices of 7 (not dividing 25)
    monkeypatch.setattr(acc_kid, "_SUM_TILE_VALUES", 40)  # float64 partial sums over tiles of 40 entries
    assert acc_kid._kid_chunk(25, 25, 4, 8) == 1
    K = torch.rand(3, 17, 13, generator=torch.Generator().manual_seed(0))  # float32: the tiled float64 sum
    np.testing.assert_allclose(acc_kid._sum_float64(K).numpy(), K.double().sum(dim=(1, 2)).numpy(), rtol=1e-15)
    x32, y32 = x.float(), y.float()
    k32 = acc.kid(x32, y32, rng=torch.Generator().manual_seed(2), **kw)  # one subset per chunk, tiles of 40 entries
    parts = acc.kid(x, y, rng=torch.Generator().manual_seed(2), **kw)
    np.testing.assert_allclose([f(parts.mean), f(parts.std)], [f(whole.mean), f(whole.std)], rtol=1e-13)
    np.testing.assert_allclose(f(acc.mmd2_unbiased(x, y)), f(whole_mmd), rtol=1e-13)
    np.testing.assert_allclose([f(k32.mean), f(k32.std)], [f(whole32.mean), f(whole32.std)], rtol=1e-6)


def test_subset_mmd2_contract_and_chunk_size():
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(5, 8, 3, generator=gen), torch.randn(5, 6, 3, generator=gen)
    values = acc._subset_mmd2(x, y)
    assert values.dtype == torch.float64 and values.shape == (5,)  # float64 from float32 blocks
    for s in range(5):
        expected = ref.mmd2_unbiased(x[s].double().numpy(), y[s].double().numpy())
        np.testing.assert_allclose(float(values[s]), expected, rtol=1e-5, atol=1e-6)
    # Each subset's value comes from its own GEMMs: on the CPU bitwise the same in any batch (the
    # distributed KID batches its subsets differently). Batching may reorder the float64 partial sums,
    # but float64 sums of these float32 entries are exact, so the order does not show.
    alone = torch.cat([acc._subset_mmd2(x[s : s + 1], y[s : s + 1]) for s in range(5)])
    assert torch.equal(alone, values)
    assert torch.equal(torch.cat([acc._subset_mmd2(x[:2], y[:2]), acc._subset_mmd2(x[2:], y[2:])]), values)
    assert torch.equal(acc._subset_mmd2(x, y, workspace=torch.empty(5 * 8 * 8)), values)  # kid's reused buffer
    idx1, idx2 = acc._draw_kid_indices(8, 6, 4, 3, torch.Generator().manual_seed(1), "cpu")
    xf, yf = x[0], y[0]
    k = acc.kid(xf, yf, indices=(idx1, idx2))  # kid = mean / std of _subset_mmd2 on the gathered rows, bitwise
    v = acc._subset_mmd2(xf[idx1], yf[idx2])
    assert torch.equal(k.mean, v.mean().float()) and torch.equal(k.std, v.std(correction=0).float())
    # KID's default chunk at m = 1000, d = 2048, float32: gathered rows + one kernel block within 256 MiB
    chunk = acc_kid._kid_chunk(1000, 1000, 2048, 4)
    assert chunk * 4 * (2 * 1000 * 2048 + 1000**2) <= 1 << 28 < (chunk + 1) * 4 * (2 * 1000 * 2048 + 1000**2)


def test_mmd2_unbiased_is_differentiable():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.randn(4, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(acc.mmd2_unbiased, (x, y))
    k = acc.kid(x, y, indices=(torch.tensor([[0, 1, 2], [4, 3, 1]]), torch.tensor([[0, 1, 2], [3, 2, 0]])))
    k.mean.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- bad input


# The pairs' bad inputs (features, sizes, indices) are in crosscheck/pairs/metrics.py; the generator
# protocol (each side's own generator type) stays here.


def test_kid_refuses_rng_with_indices_and_foreign_generators():
    x, y = np.zeros((8, 3)), np.ones((10, 3))
    with pytest.raises(ValueError, match="indices / rng: pass at most one"):
        ref.kid(x, y, rng=np.random.default_rng(0), indices=(np.array([[0, 1]]), np.array([[0, 1]])))
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.kid(x, y, rng=torch.Generator())
    X, Y = t(x), t(y)
    with pytest.raises(ValueError, match="indices / rng: pass at most one"):
        acc.kid(X, Y, rng=torch.Generator(), indices=(torch.tensor([[0, 1]]), torch.tensor([[0, 1]])))
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.kid(X, Y, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"features1: expected a torch\.Tensor"):
        acc.kid(x, Y)
    with pytest.raises(TypeError, match="expected one floating dtype"):
        acc.mmd2_unbiased(X, Y.float())
