"""metrics: known values, peers (the sqrtm FID, naive k-NN definitions), streaming, distributed, files, bad input.

The bad inputs of the pairs are in crosscheck/pairs/metrics.py; tests/test_error_inputs.py runs them on both sides.
"""

import io
import math
import pickle
import socket
import zipfile

import numpy as np
import pytest
import scipy.linalg
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from accelerated import metrics as acc
from accelerated import value_checks
from crosscheck.pairs.metrics import feature_sets, probability_tables
from reference import metrics as ref


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def f(x) -> float:
    return float(np.asarray(x.detach() if isinstance(x, torch.Tensor) else x, dtype=np.float64))


def spd(rng, d, floor=0.5):
    a = rng.normal(size=(d, d))
    return a @ a.T / d + floor * np.eye(d)


# ---------------------------------------------------------------- feature statistics


def test_feature_statistics_match_numpy_and_return_float64():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 4)) * [1.0, 2.0, 0.1, 5.0] + [1.0, -2.0, 0.0, 3.0]
    s = ref.feature_statistics(x)
    np.testing.assert_allclose(s.mu, x.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(s.sigma, np.cov(x, rowvar=False), rtol=1e-13)  # unbiased, divisor n - 1
    assert s.n == 50 and np.array_equal(s.sigma, s.sigma.T)
    a = acc.feature_statistics(t(x, torch.float32))
    assert a.mu.dtype == a.sigma.dtype == torch.float64 and a.n == 50  # float64 statistics, documented
    x32 = t(x, torch.float32).double().numpy()
    np.testing.assert_allclose(a.sigma.numpy(), np.cov(x32, rowvar=False), rtol=1e-13)
    assert torch.equal(a.sigma, a.sigma.T)


def test_float32_features_accumulate_in_float64():
    # 200000 float32 rows with mean 1e3 and spread 1: a float32 running sum loses ~1e-4 of the mean
    # and a float32 sum of squares minus n mu^2 loses the variance entirely; ours keeps 1e-12.
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(200_000, 3)) + 1e3).astype(np.float32)
    expected_mu = x.astype(np.float64).mean(axis=0)
    expected_sigma = np.cov(x.astype(np.float64), rowvar=False)
    s = acc.feature_statistics(torch.from_numpy(x))
    np.testing.assert_allclose(s.mu.numpy(), expected_mu, rtol=1e-13)
    np.testing.assert_allclose(s.sigma.numpy(), expected_sigma, rtol=1e-10, atol=1e-12)
    X = torch.from_numpy(x)
    mean32 = X.mean(dim=0)
    naive = X.T @ X / X.shape[0] - torch.outer(mean32, mean32)  # float32 one-pass: what we avoid
    assert float((naive.double() - torch.from_numpy(expected_sigma)).abs().max()) > 1e-2


@settings(max_examples=40)
@given(x=feature_sets(max_n=30), cuts=st.lists(st.integers(0, 30), max_size=6), split=st.integers(0, 6))
def test_streaming_equals_one_shot_for_any_batching(x, cuts, split):
    n, d = x.shape
    cuts = sorted({c for c in cuts if 0 < c < n})
    parts = np.split(x, cuts)
    expected = ref.feature_statistics(x)
    for side, lib, conv in (("reference", ref, np.asarray), ("accelerated", acc, t)):
        a, b = lib.StreamingStatistics(d), lib.StreamingStatistics(d)
        for i, part in enumerate(parts):
            (a if i < split else b).update(conv(part))
        a.update(conv(np.zeros((0, d))))  # empty batches change nothing
        s = a.merge(b).finalize()
        scale = np.max(np.abs(expected.sigma))
        np.testing.assert_allclose(np.asarray(s.mu), expected.mu, rtol=1e-12, atol=1e-12, err_msg=side)
        np.testing.assert_allclose(np.asarray(s.sigma), expected.sigma, rtol=1e-11, atol=1e-13 * scale, err_msg=side)
        assert s.n == n


def test_streaming_merge_is_order_free_and_leaves_other_unchanged():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(30, 3)), rng.normal(size=(11, 3)) + 5
    a, b = acc.StreamingStatistics(3).update(t(x)), acc.StreamingStatistics(3).update(t(y))
    ab = acc.StreamingStatistics(3).merge(a).merge(b).finalize()
    ba = acc.StreamingStatistics(3).merge(b).merge(a).finalize()
    torch.testing.assert_close(ab.sigma, ba.sigma, rtol=1e-14, atol=1e-14)
    assert b.n == 11 and ab.n == 41


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_all_reduce_single_process_gloo():
    import torch.distributed as dist

    rng = np.random.default_rng(3)
    x = rng.normal(size=(40, 5)) + 100.0
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        s = acc.StreamingStatistics(5).update(t(x[:17])).update(t(x[17:]))
        s.all_reduce()
        out = s.finalize()
        empty = acc.StreamingStatistics(5).all_reduce()  # no rows anywhere: stays empty
        assert empty.n == 0
    finally:
        dist.destroy_process_group()
    np.testing.assert_allclose(out.sigma.numpy(), np.cov(x, rowvar=False), rtol=1e-12)
    np.testing.assert_allclose(out.mu.numpy(), x.mean(axis=0), rtol=1e-14)


def _all_reduce_worker(rank: int, port: int, x: np.ndarray, splits: list, results) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        for case, cuts in enumerate(splits):
            s = acc.StreamingStatistics(x.shape[1])
            lo, hi = cuts[rank], cuts[rank + 1]
            if hi > lo:
                s.update(torch.from_numpy(x[lo:hi]))
            s.all_reduce()
            out = s.finalize()
            results.put((case, rank, out.mu.numpy(), out.sigma.numpy(), out.n))
    finally:
        dist.destroy_process_group()


def test_all_reduce_two_processes():
    """Two gloo processes with different row counts (in the second case one has none) end with the statistics
    of all rows. One spawn of two fresh interpreters (about 8 s on two cores, mostly imports)."""
    import torch.multiprocessing as mp

    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 4)) * [1.0, 3.0, 0.5, 2.0] + 1e4
    expected_sigma = np.cov(x, rowvar=False)
    splits = [[0, 23, 60], [0, 0, 60]]
    results = mp.get_context("spawn").SimpleQueue()
    mp.start_processes(
        _all_reduce_worker, args=(_free_port(), x, splits, results), nprocs=2, join=True, start_method="spawn"
    )
    got = [results.get() for _ in range(2 * len(splits))]
    assert sorted((case, rank) for case, rank, *_ in got) == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for _, _, mu, sigma, n in got:
        assert n == 60
        np.testing.assert_allclose(mu, x.mean(axis=0), rtol=1e-14)
        np.testing.assert_allclose(sigma, expected_sigma, rtol=1e-10)


def test_all_reduce_needs_an_initialised_group():
    with pytest.raises(RuntimeError, match="init_process_group"):
        acc.StreamingStatistics(2).all_reduce()


# ---------------------------------------------------------------- FID


def test_fid_one_dimensional_closed_form():
    # W_2^2 between N(m1, s1^2) and N(m2, s2^2) is (m1 - m2)^2 + (s1 - s2)^2: here 1 + 1 = 2.
    args = (np.array([1.0]), np.array([[4.0]]), np.array([2.0]), np.array([[1.0]]))
    assert f(ref.frechet_distance(*args)) == pytest.approx(2.0, rel=1e-15)
    assert f(acc.frechet_distance(*map(t, args))) == pytest.approx(2.0, rel=1e-15)


def sqrtm_fid(mu1, s1, mu2, s2):
    """The pytorch-fid / clean-fid method: covmean = sqrtm(s1 @ s2), real part, trace formula."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    covmean = np.real(covmean)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_fid_matches_the_sqrtm_method_on_a_well_conditioned_case():
    rng = np.random.default_rng(5)
    d = 12
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = spd(rng, d), spd(rng, d)
    expected = sqrtm_fid(mu1, s1, mu2, s2)
    assert f(ref.frechet_distance(mu1, s1, mu2, s2)) == pytest.approx(expected, rel=1e-10)
    assert f(acc.frechet_distance(t(mu1), t(s1), t(mu2), t(s2))) == pytest.approx(expected, rel=1e-10)


def test_fid_of_features_equals_frechet_of_statistics_and_follows_dtype():
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(80, 5)), rng.normal(size=(60, 5)) * 1.3 + 0.2
    sx, sy = ref.feature_statistics(x), ref.feature_statistics(y)
    expected = sqrtm_fid(sx.mu, sx.sigma, sy.mu, sy.sigma)
    assert f(ref.fid(x, y)) == pytest.approx(expected, rel=1e-10)
    out = acc.fid(t(x), t(y))
    assert out.dtype == torch.float64 and f(out) == pytest.approx(expected, rel=1e-10)
    out32 = acc.fid(t(x, torch.float32), t(y, torch.float32))
    assert out32.dtype == torch.float32 and f(out32) == pytest.approx(expected, rel=1e-5)
    assert abs(f(acc.fid(t(x), t(x)))) < 1e-12 * np.trace(sx.sigma)


def test_fid_infinity_rng_is_the_documented_noise():
    rng = np.random.default_rng(7)
    x, y = rng.normal(size=(100, 3)), rng.normal(size=(90, 3)) + 0.1
    sizes = [20, 40, 60, 90]
    r1 = ref.fid_infinity(x, y, batch_sizes=sizes, rng=np.random.default_rng(11))
    r2 = ref.fid_infinity(x, y, batch_sizes=sizes, noise=np.random.default_rng(11).random((4, 90)))
    assert r1.fid_inf == r2.fid_inf and np.array_equal(r1.fid_n, r2.fid_n)
    a1 = acc.fid_infinity(t(x), t(y), batch_sizes=sizes, rng=torch.Generator().manual_seed(3))
    noise = torch.rand((4, 90), generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    a2 = acc.fid_infinity(t(x), t(y), batch_sizes=sizes, noise=noise)
    assert torch.equal(a1.fid_n, a2.fid_n)
    r3 = ref.fid_infinity(x, y, batch_sizes=sizes, noise=noise.numpy())
    np.testing.assert_allclose(a2.fid_n.numpy(), r3.fid_n, rtol=1e-10)
    # The largest N takes every row: FID_90 is the FID of the full sets, whatever the noise.
    assert r1.fid_n[-1] == pytest.approx(f(ref.fid(x, y)), rel=1e-12)
    # The fit is ordinary least squares of FID_N on 1/N (numpy.polyfit as an independent route).
    slope, intercept = np.polyfit(1.0 / np.array(sizes), r1.fid_n, 1)
    assert r1.fid_inf == pytest.approx(intercept, rel=1e-12) and r1.slope == pytest.approx(slope, rel=1e-12)


def test_fid_infinity_default_sizes_follow_chong_and_forsyth():
    # Their code: np.linspace(5000, 50000, 15).astype('int32') for 50000 images, i.e. m/10 .. m.
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=(50, 2)), rng.normal(size=(100, 2))
    r = ref.fid_infinity(x, y, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(r.n, np.linspace(10, 100, 15).astype(np.int64))
    a = acc.fid_infinity(t(x), t(y), n_points=4, rng=torch.Generator().manual_seed(0))
    np.testing.assert_array_equal(a.n.numpy(), [10, 40, 70, 100])


def test_fid_autograd_through_the_features():
    rng = np.random.default_rng(9)
    x = t(rng.normal(size=(30, 3))).requires_grad_(True)
    y = t(rng.normal(size=(25, 3)) + 0.5)
    acc.fid(x, y).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# ---------------------------------------------------------------- precision, recall, density, coverage


def naive_prdc(real, fake, k):
    """Straight from the definitions (Kynkaanniemi et al. 2019; Naeem et al. 2020), with Python loops."""
    N, M = len(real), len(fake)

    def dist(a, b):
        return math.sqrt(sum((ai - bi) ** 2 for ai, bi in zip(a, b)))

    def radius(points, i):
        others = sorted(dist(points[i], points[j]) for j in range(len(points)) if j != i)
        return others[k - 1]

    r_real = [radius(real, i) for i in range(N)]
    r_fake = [radius(fake, j) for j in range(M)]
    precision = sum(any(dist(y, real[i]) <= r_real[i] for i in range(N)) for y in fake) / M
    recall = sum(any(dist(x, fake[j]) <= r_fake[j] for j in range(M)) for x in real) / N
    density = sum(dist(y, real[i]) <= r_real[i] for y in fake for i in range(N)) / (k * M)
    coverage = sum(any(dist(y, real[i]) <= r_real[i] for y in fake) for i in range(N)) / N
    return precision, recall, density, coverage


@pytest.mark.parametrize(("n", "m", "d", "k", "shift"), [(25, 30, 3, 3, 0.5), (40, 15, 2, 5, 0.0), (12, 12, 6, 1, 1.5)])
def test_prdc_matches_naive_definitions(n, m, d, k, shift):
    rng = np.random.default_rng(n + m + d)
    real, fake = rng.normal(size=(n, d)), rng.normal(size=(m, d)) * 1.2 + shift
    expected = naive_prdc(real.tolist(), fake.tolist(), k)
    assert tuple(ref.prdc(real, fake, k=k)) == pytest.approx(expected, abs=1e-15)
    for block_size in (None, 1, 7):
        got = acc.prdc(t(real), t(fake), k=k, block_size=block_size)
        assert tuple(map(f, got)) == pytest.approx(expected, abs=1e-15)
    pr_r, pr_a = ref.precision_recall(real, fake, k=k), acc.precision_recall(t(real), t(fake), k=k)
    dc_r, dc_a = ref.density_coverage(real, fake, k=k), acc.density_coverage(t(real), t(fake), k=k)
    assert tuple(pr_r) == pytest.approx(expected[:2], abs=1e-15) and tuple(map(f, pr_a)) == tuple(pr_r)
    assert tuple(dc_r) == pytest.approx(expected[2:], abs=1e-15) and tuple(map(f, dc_a)) == tuple(dc_r)


def test_prdc_known_values_on_a_line():
    # real = {0, 1, 2, 3}, k = 1: every radius is 1, so the real balls cover [-1, 4]. fake = {0.5, 10, 11}:
    # 0.5 lies in the balls of 0 and 1 (density counts 2), 10 and 11 in none; the fake radii are
    # 9.5, 1, 1, so ball(0.5, 9.5) holds every real point: recall 1. Coverage: balls of 0 and 1 only.
    real, fake = np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([[0.5], [10.0], [11.0]])
    expected = (1 / 3, 1.0, 2 / 3, 2 / 4)
    assert tuple(ref.prdc(real, fake, k=1)) == pytest.approx(expected, rel=1e-15)
    assert tuple(map(f, acc.prdc(t(real), t(fake), k=1))) == pytest.approx(expected, rel=1e-15)


def test_prdc_float32_follows_dtype():
    rng = np.random.default_rng(10)
    real, fake = rng.normal(size=(50, 8)), rng.normal(size=(40, 8)) + 0.3
    out = acc.prdc(t(real, torch.float32), t(fake, torch.float32), k=4, block_size=9)
    assert all(v.dtype == torch.float32 for v in out)
    assert tuple(map(f, out)) == pytest.approx(tuple(ref.prdc(real, fake, k=4)), abs=1e-7)


@pytest.mark.parametrize(("offset", "dtype"), [(1e8, np.float64), (1e4, np.float32)])
def test_prdc_far_from_the_origin_equals_the_reference(offset, dtype):
    """|x|^2 + |y|^2 - 2 x.y cancels for data far from 0: the sets are centred first, in every blocked path
    (before: density 5.7 and 10.5 against 1.08). The distributed path runs on a one-rank gloo group."""
    import torch.distributed as dist

    from accelerated import distributed

    rng = np.random.default_rng(8)
    real, fake = (rng.normal(size=(50, 4)) + offset).astype(dtype), (rng.normal(size=(40, 4)) + offset).astype(dtype)
    expected = [float(v) for v in ref.prdc(real, fake, k=3)]
    assert expected[2] < 1.5
    X, Y = torch.from_numpy(real), torch.from_numpy(fake)
    for block_size in (None, 7):
        assert [float(v) for v in acc.prdc(X, Y, k=3, block_size=block_size)] == pytest.approx(expected, abs=1e-6)
    assert [float(v) for v in acc.precision_recall(X, Y, k=3)] == pytest.approx(expected[:2], abs=1e-6)
    assert [float(v) for v in acc.density_coverage(X, Y, k=3)] == pytest.approx(expected[2:], abs=1e-6)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{_free_port()}", rank=0, world_size=1)
    try:
        got = [float(v) for v in distributed.prdc(X, Y, k=3, block_size=7)]
    finally:
        dist.destroy_process_group()
    assert got == pytest.approx(expected, abs=1e-6)


def test_duplicates_are_neighbours_at_distance_zero():
    # A duplicated real point has radius 0 for k = 1 (its copy is its nearest other point), and a fake
    # point equal to it lies in that closed ball. real radii: 0, 0, sqrt 2, sqrt 2; fake (0, 0) is in the
    # first two balls, (20, 20) in none: density 2 / (1 * 2) = 1, coverage 2 / 4.
    real = np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0], [6.0, 6.0]])
    fake = np.array([[0.0, 0.0], [20.0, 20.0]])
    assert tuple(ref.density_coverage(real, fake, k=1)) == (1.0, 0.5)
    assert tuple(map(f, acc.density_coverage(t(real), t(fake), k=1))) == (1.0, 0.5)


# ---------------------------------------------------------------- Inception Score


def test_inception_score_known_values():
    # p = [[1, 0], [1/2, 1/2]]: p(y) = [3/4, 1/4]; KL rows log(4/3) and 1/2 log(2/3) + 1/2 log 2.
    p = np.array([[1.0, 0.0], [0.5, 0.5]])
    expected = math.exp(0.5 * (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2.0)))
    assert ref.inception_score(p).mean == pytest.approx(expected, rel=1e-15)
    assert f(acc.inception_score(t(p)).mean) == pytest.approx(expected, rel=1e-15)
    # K one-hot classes used equally often: IS = K; identical rows: IS = 1.
    one_hot = np.eye(4)[[0, 1, 2, 3, 0, 1, 2, 3]]
    assert ref.inception_score(one_hot).mean == pytest.approx(4.0, rel=1e-15)
    assert f(acc.inception_score(t(one_hot)).mean) == pytest.approx(4.0, rel=1e-15)
    assert ref.inception_score(np.full((5, 3), 1 / 3)).mean == pytest.approx(1.0, rel=1e-15)
    # Two splits of the one-hot table, each with all four classes: both 4, std 0.
    s = ref.inception_score(one_hot, splits=2)
    assert s.mean == pytest.approx(4.0) and s.std == pytest.approx(0.0, abs=1e-15)


def test_inception_score_splits_population_std():
    # Split 1 = [[1, 0], [0, 1]] (IS 2), split 2 = [[1, 0], [1, 0]] (IS 1): mean 1.5, population std 0.5.
    p = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert tuple(ref.inception_score(p, splits=2)) == pytest.approx((1.5, 0.5), rel=1e-15)
    assert tuple(map(f, acc.inception_score(t(p), splits=2))) == pytest.approx((1.5, 0.5), rel=1e-15)


@given(probability_tables())
def test_inception_score_equals_diversity_times_sharpness(p):
    for lib, conv in ((ref, np.asarray), (acc, t)):
        IS, S, D = map(f, lib.inception_score_components(conv(p)))
        assert IS == pytest.approx(D * S, rel=1e-12)
        K = p.shape[1]
        assert 1 - 1e-12 <= IS <= K * (1 + 1e-12) and 1 / K * (1 - 1e-12) <= S <= 1 + 1e-12


# ---------------------------------------------------------------- CLIP score


def test_clip_score_known_values():
    image = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    text = np.array([[3.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [1.0, math.sqrt(3.0)]])  # cos 1, 0, -1, 1/2
    expected = [100.0, 0.0, 0.0, 50.0]
    np.testing.assert_allclose(ref.clip_score(image, text), expected, rtol=1e-15, atol=1e-13)
    np.testing.assert_allclose(acc.clip_score(t(image), t(text)).numpy(), expected, rtol=1e-15, atol=1e-13)
    out32 = acc.clip_score(t(image, torch.float32), t(text, torch.float32))
    assert out32.dtype == torch.float32


def test_clip_score_zero_embedding_is_refused():
    with pytest.raises(ValueError, match="image_embeddings: expected non-zero embeddings"):
        ref.clip_score(np.zeros((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValueError, match="text_embeddings: expected non-zero embeddings"):
        acc.clip_score(t(np.ones((2, 3))), t(np.zeros((2, 3))))
    with value_checks(False):
        assert torch.isnan(acc.clip_score(t(np.ones((1, 3))), t(np.zeros((1, 3))))).all()


# ---------------------------------------------------------------- files


def test_statistics_round_trip(tmp_path):
    rng = np.random.default_rng(12)
    s = ref.feature_statistics(rng.normal(size=(10, 3)))
    ref.save_statistics(tmp_path / "s.npz", s)
    back = ref.load_statistics(tmp_path / "s.npz")
    assert np.array_equal(back.mu, s.mu) and np.array_equal(back.sigma, s.sigma) and back.n == 10
    a = acc.feature_statistics(t(rng.normal(size=(10, 3))))
    ref.save_statistics(tmp_path / "a.npz", a)  # CPU tensors are accepted
    assert np.array_equal(ref.load_statistics(tmp_path / "a.npz").sigma, a.sigma.numpy())
    np.savez(tmp_path / "pytorch_fid.npz", mu=s.mu, sigma=s.sigma)  # pytorch-fid's keys, no n
    assert ref.load_statistics(tmp_path / "pytorch_fid.npz").n == 0


def test_pickled_object_array_is_refused(tmp_path):
    class Boom:
        def __reduce__(self):
            return (print, ("unpickled!",))

    path = tmp_path / "evil.npz"
    np.savez(path, mu=np.zeros(2), sigma=np.array([Boom(), Boom()], dtype=object))
    with pytest.raises(ValueError, match="pickled object array; refusing to unpickle"):
        ref.load_statistics(path)
    assert pickle.dumps(Boom())  # the payload is a real pickle


def test_load_statistics_bad_files(tmp_path):
    np.savez(tmp_path / "x.npz", features=np.zeros((3, 2)))
    with pytest.raises(ValueError, match="expected arrays 'mu' and 'sigma'"):
        ref.load_statistics(tmp_path / "x.npz")
    np.savez(tmp_path / "y.npz", mu=np.zeros(2), sigma=np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"mu \(d,\) and sigma \(d, d\)"):
        ref.load_statistics(tmp_path / "y.npz")


def _hostile_files(tmp_path):
    """(file, regex) pairs: each file is refused by load_statistics with a ValueError naming it and the problem."""
    good = tmp_path / "good.npz"
    np.savez(good, mu=np.zeros(3), sigma=np.eye(3), n=np.int64(5))
    raw = good.read_bytes()
    cases = []

    def case(file_name, data, match):
        path = tmp_path / file_name
        path.write_bytes(data)
        cases.append((path, match))

    case("empty.npz", b"", "cannot read .* as an .npz archive")
    case("truncated.npz", raw[: len(raw) // 2], "cannot read .* as an .npz archive")
    flipped = bytearray(raw)
    offset = raw.index(np.eye(3).tobytes()) + 8  # one byte of sigma's data
    flipped[offset] ^= 0xFF
    case("corrupted.npz", bytes(flipped), "cannot read .* as an .npz archive .*CRC")
    case("text.npz", b"not a zip file at all" * 10, "cannot read .* as an .npz archive")
    # a header claiming 2e9 elements (45000 x 45000) in a tiny file: refused before allocating
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False, "shape": (45000, 45000)})
    with zipfile.ZipFile(tmp_path / "huge.npz", "w") as z:
        z.writestr("mu.npy", _npy(np.zeros(45000)))
        z.writestr("sigma.npy", header.getvalue())
    cases.append((tmp_path / "huge.npz", r"1 <= d <= max_dim = 8192 .*got d = 45000"))
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as z:  # header (3, 3), data of 2 x 3
        z.writestr("mu.npy", _npy(np.zeros(3)))
        z.writestr("sigma.npy", _npy(np.eye(3))[:-24])
    cases.append((tmp_path / "short.npz", r"holds 48 bytes of data, its header declares 72"))
    with zipfile.ZipFile(tmp_path / "badheader.npz", "w") as z:
        z.writestr("mu.npy", _npy(np.zeros(3)))
        z.writestr("sigma.npy", b"\x93NUMPY\x01\x00garbage")
    cases.append((tmp_path / "badheader.npz", "array 'sigma' in .* has no valid .npy header"))
    for file_name, arrays, match in [
        ("zero_d.npz", dict(mu=np.zeros(0), sigma=np.zeros((0, 0))), "1 <= d <= max_dim .*got d = 0"),
        ("asym.npz", dict(mu=np.zeros(2), sigma=np.array([[1.0, 0.5], [0.0, 1.0]])), "sigma in .* is not symmetric"),
        ("indef.npz", dict(mu=np.zeros(2), sigma=np.array([[1.0, 2.0], [2.0, 1.0]])), "not positive semi-definite"),
        ("nan.npz", dict(mu=np.array([0.0, np.nan]), sigma=np.eye(2)), "mu: expected finite"),
        ("complex.npz", dict(mu=np.zeros(2, complex), sigma=np.eye(2)), "has dtype complex128, expected a plain"),
        ("floatn.npz", dict(mu=np.zeros(2), sigma=np.eye(2), n=np.float64(3)), "'n' in .* has dtype float64"),
    ]:
        np.savez(tmp_path / file_name, **arrays)
        cases.append((tmp_path / file_name, match))
    (tmp_path / "single.npz").write_bytes(_npy(np.zeros(3)))  # an .npy under an .npz name
    cases.append((tmp_path / "single.npz", "got a single array"))
    return cases


def _npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def test_hostile_statistics_files_are_refused_clearly(tmp_path):
    for path, match in _hostile_files(tmp_path):
        with pytest.raises(ValueError, match=match) as info:
            ref.load_statistics(path)
        assert str(path) in str(info.value), (path, info.value)
        assert "unpickle" not in str(info.value)
    # the cap is a parameter; a rounding-level asymmetry or negative eigenvalue is accepted and symmetrised
    np.savez(tmp_path / "d4.npz", mu=np.zeros(4), sigma=np.eye(4))
    with pytest.raises(ValueError, match="max_dim = 3"):
        ref.load_statistics(tmp_path / "d4.npz", max_dim=3)
    x = np.random.default_rng(0).normal(size=(3, 6))
    sigma = np.cov(x, rowvar=False)  # rank 2: eigenvalues around -1e-16
    sigma[0, 1] += 1e-14
    np.savez(tmp_path / "rounding.npz", mu=x.mean(axis=0), sigma=sigma)
    back = ref.load_statistics(tmp_path / "rounding.npz")
    assert np.array_equal(back.sigma, back.sigma.T) and back.n == 0


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(("lib", "conv"), [(ref, np.asarray), (acc, t)], ids=["reference", "accelerated"])
def test_streaming_statistics_refuses_bad_input(lib, conv):
    # The pairs' bad inputs are in crosscheck/pairs/metrics.py (tests/test_error_inputs.py runs them);
    # the methods of StreamingStatistics are not pairs.
    s = lib.StreamingStatistics(3)
    with pytest.raises(ValueError, match=r"batch: expected shape \(b, 3\)"):
        s.update(conv(np.zeros((2, 4))))
    with pytest.raises(ValueError, match="batch: expected finite"):
        s.update(conv(np.full((2, 3), np.inf)))
    with pytest.raises(ValueError, match="finalize: the unbiased covariance needs at least 2 rows"):
        s.update(conv(np.zeros((1, 3)))).finalize()
    with pytest.raises(ValueError, match="other: expected dim = 3"):
        s.merge(lib.StreamingStatistics(2))
    with pytest.raises(ValueError, match="dim: expected an integer >= 1"):
        lib.StreamingStatistics(0)
    with pytest.raises(TypeError, match="dim: expected an integer"):
        lib.StreamingStatistics(3.0)
    x = conv(np.random.default_rng(13).normal(size=(10, 3)))
    lib.density_coverage(x, x[:1], k=5)  # coverage needs no fake radii: one fake row is enough


@pytest.mark.parametrize(("lib", "conv"), [(ref, np.asarray), (acc, t)], ids=["reference", "accelerated"])
def test_streaming_statistics_refuse_overflow_and_huge_dims(lib, conv, monkeypatch):
    """Rows of 1e300 (finite; their squares overflow) were accumulated into a NaN sigma that fid then blamed on
    "sigma1"; StreamingStatistics(10**7) allocated (or tried to) a 10**14-entry matrix."""
    overflow = "the mean or covariance overflows float64"
    s = lib.StreamingStatistics(2).update(conv(np.array([[1.0, 2.0], [3.0, 5.0]])))
    with pytest.raises(ValueError, match=f"batch: {overflow}"):
        s.update(conv(np.array([[1e300, -1e300], [-1e300, 1e300]])))
    assert s.n == 2 and np.array_equal(np.asarray(s.finalize().sigma), [[2.0, 3.0], [3.0, 4.5]])  # unchanged
    with pytest.raises(ValueError, match=f"batch: {overflow}"):  # each batch fine, the merge of means overflows
        lib.StreamingStatistics(1).update(conv(np.array([[1e200]]))).update(conv(np.array([[-1e200]])))
    far = lib.StreamingStatistics(1).update(conv(np.array([[-1e200], [-1e200]])))
    with pytest.raises(ValueError, match=f"other: {overflow}"):
        lib.StreamingStatistics(1).update(conv(np.array([[1e200], [1e200]]))).merge(far)
    with pytest.raises(ValueError, match=r"dim: expected 1 <= dim <= 65536, got 10000000"):
        lib.StreamingStatistics(10**7)
    from reference._args import metrics as M

    assert M.check_dim(65536) == 65536  # the cap itself is allowed
    # an allocation of the (dim, dim) matrix that fails anyway is a ValueError naming dim
    module, error = (np, MemoryError) if lib is ref else (torch, torch.OutOfMemoryError)
    zeros = module.zeros

    def failing_zeros(*shape, **kwargs):
        if len(shape) == 2 or (len(shape) == 1 and isinstance(shape[0], tuple) and len(shape[0]) == 2):
            raise error("out of memory")
        return zeros(*shape, **kwargs)

    monkeypatch.setattr(module, "zeros", failing_zeros)
    with pytest.raises(ValueError, match=r"dim: cannot allocate the \(4, 4\) float64"):
        lib.StreamingStatistics(4).update(conv(np.zeros((2, 4))))


@pytest.mark.parametrize(("lib", "conv"), [(ref, np.asarray), (acc, t)], ids=["reference", "accelerated"])
def test_numpy_scalar_counts_are_accepted_and_float_counts_refused(lib, conv):
    """One rule on both sides (reference._args): NumPy integers are counts, floats and bools are not."""
    rng = np.random.default_rng(15)
    x, y = conv(rng.normal(size=(12, 2))), conv(rng.normal(size=(20, 2)) + 0.3)
    p = conv(np.eye(3)[[0, 1, 2, 0, 1, 2]])
    i64 = np.int64
    assert tuple(map(f, lib.prdc(x, y, k=i64(3), block_size=i64(4)))) == tuple(map(f, lib.prdc(x, y, k=3)))
    assert f(lib.inception_score(p, splits=i64(2)).mean) == pytest.approx(3.0)
    assert lib.StreamingStatistics(np.int32(2)).dim == 2
    noise = conv(np.random.default_rng(0).random((3, 20)))
    assert len(lib.fid_infinity(x, y, n_points=i64(3), noise=noise).n) == 3
    rows = np.array([[0, 1, 2]]) if lib is ref else torch.tensor([[0, 1, 2]])
    same = lib.kid(x, y, indices=(rows, rows), subset_size=i64(3), n_subsets=i64(1))
    assert f(same.mean) == f(lib.kid(x, y, indices=(rows, rows)).mean)
    for call in (
        lambda: lib.prdc(x, y, k=3.0),
        lambda: lib.prdc(x, y, k=3, block_size=4.0),
        lambda: lib.inception_score(p, splits=np.float64(2.0)),
        lambda: lib.StreamingStatistics(np.float32(2.0)),
        lambda: lib.fid_infinity(x, y, n_points=3.0, noise=noise),
        lambda: lib.kid(x, y, subset_size=3.0),
        lambda: lib.kid(x, y, n_subsets=True),
    ):
        with pytest.raises(TypeError, match="expected an integer"):
            call()


def test_accelerated_refuses_numpy_mixed_devices_and_dtypes():
    x = t(np.random.default_rng(14).normal(size=(6, 2)))
    with pytest.raises(TypeError, match=r"features: expected a torch\.Tensor"):
        acc.feature_statistics(np.zeros((3, 2)))
    # The 'meta' device stands in for a second device on a CPU-only machine: metadata checks see it.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.fid(x, x.to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.prdc(x, x.to("meta"), k=2)
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.clip_score(x, x.to("meta"))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        acc.prdc(x, x.float(), k=2)
    s = acc.StreamingStatistics(2).update(x)
    with pytest.raises(ValueError, match="batch: expected a tensor on cpu"):
        s.update(x.to("meta"))
    with pytest.raises(TypeError, match="other: expected an accelerated StreamingStatistics"):
        s.merge(ref.StreamingStatistics(2))
