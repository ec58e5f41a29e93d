"""Distributed metrics on two gloo processes with uneven shards equal the single-process ones on the whole set.

Each test spawns two fresh interpreters once (about 5-8 s on two cores, mostly imports) and runs
several cases in them (``crosscheck.distributed.on_gloo``). Expected values are those of
``accelerated.metrics`` on the concatenation of the shards in rank order: exactly for the counts of
PRDC, to float64 rounding (rtol 1e-12, a few hundred ulp for sums reordered over a few hundred terms)
for the sums of FID, KID and IS.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from accelerated import distributed, metrics
from crosscheck.distributed import on_gloo

RTOL = 1e-12  # float64 sums in a different order: n eps with n <= 500 terms is about 1e-13


def _shard(x: np.ndarray, cuts: list[int], rank: int) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x[cuts[rank] : cuts[rank + 1]]))


def _numbers(result) -> list[float]:
    return [float(v) for v in result]


# --------------------------------------------------------------------------- agreement


def _agreement_worker(rank: int, world: int, data: dict) -> dict:
    out = {}
    for name, case in data.items():
        kind = case["kind"]
        if kind == "prdc":
            real, fake = _shard(case["real"], case["real_cuts"], rank), _shard(case["fake"], case["fake_cuts"], rank)
            out[name] = _numbers(distributed.prdc(real, fake, k=case["k"], block_size=case["block_size"]))
        elif kind == "is":
            out[name] = _numbers(
                distributed.inception_score(_shard(case["p"], case["cuts"], rank), splits=case["splits"])
            )
        elif kind == "kid":
            a, b = _shard(case["a"], case["a_cuts"], rank), _shard(case["b"], case["b_cuts"], rank)
            rng = torch.Generator().manual_seed(case["seed"])
            out[name] = _numbers(distributed.kid(a, b, subset_size=case["m"], n_subsets=case["S"], rng=rng))
        elif kind == "fid":
            a, b = _shard(case["a"], case["a_cuts"], rank), _shard(case["b"], case["b_cuts"], rank)
            out[name] = float(distributed.fid(a, b))
    return out


def _prdc_case(rng, n, m, d, k, real_cuts, fake_cuts, block_size, dtype=np.float64):
    real = rng.normal(size=(n, d)).astype(dtype)
    fake = (rng.normal(size=(m, d)) * 1.2 + 0.3).astype(dtype)
    return {
        "kind": "prdc",
        "real": real,
        "fake": fake,
        "k": k,
        "block_size": block_size,
        "real_cuts": real_cuts,
        "fake_cuts": fake_cuts,
    }


def test_two_processes_equal_one_process():
    rng = np.random.default_rng(20261201)
    p_logits = rng.normal(size=(203, 7)) * 2
    p = np.exp(p_logits) / np.exp(p_logits).sum(axis=1, keepdims=True)
    p[:5, 0], p[:5, 1:] = 1.0, 0.0  # some one-hot rows: 0 log 0 = 0 on both paths
    data = {
        # uneven shards, chunks that do not divide them, k near its limit for the small set
        "prdc_uneven": _prdc_case(rng, 157, 96, 6, 5, [0, 101, 157], [0, 17, 96], 13),
        "prdc_default_block": _prdc_case(rng, 64, 80, 3, 3, [0, 1, 64], [0, 79, 80], None),
        "prdc_float32": _prdc_case(rng, 120, 120, 16, 4, [0, 70, 120], [0, 50, 120], 32, np.float32),
        "prdc_k_max": _prdc_case(rng, 9, 12, 2, 8, [0, 4, 9], [0, 6, 12], 2),
        "is_splits": {"kind": "is", "p": p, "cuts": [0, 77, 203], "splits": 10},
        "is_one_split": {"kind": "is", "p": p, "cuts": [0, 200, 203], "splits": 1},
        # 9 subsets: blocks of metrics._kid_chunk subsets, owned by alternating ranks
        "kid": {
            "kind": "kid",
            "a": rng.normal(size=(70, 4)),
            "b": rng.normal(size=(55, 4)) + 0.2,
            "a_cuts": [0, 3, 70],
            "b_cuts": [0, 40, 55],
            "m": 20,
            "S": 9,
            "seed": 5,
        },
        "kid_float32": {
            "kind": "kid",
            "a": rng.normal(size=(64, 8)).astype(np.float32),
            "b": rng.normal(size=(64, 8)).astype(np.float32),
            "a_cuts": [0, 32, 64],
            "b_cuts": [0, 10, 64],
            "m": 30,
            "S": 4,
            "seed": 6,
        },
        "fid": {
            "kind": "fid",
            "a": rng.normal(size=(90, 5)) + 50,
            "b": rng.normal(size=(60, 5)) * 2,
            "a_cuts": [0, 31, 90],
            "b_cuts": [0, 59, 60],
        },
    }
    results = on_gloo(_agreement_worker, 2, data)
    assert [r.error for r in results] == [None, None], [r.message for r in results]
    assert results[0].value == results[1].value  # every rank gets the same numbers
    got = results[0].value
    for name, case in data.items():
        if case["kind"] == "prdc":
            expected = metrics.prdc(
                torch.from_numpy(case["real"]),
                torch.from_numpy(case["fake"]),
                k=case["k"],
                block_size=case["block_size"],
            )
            assert got[name] == _numbers(expected), name  # counts: exactly
        elif case["kind"] == "is":
            expected = metrics.inception_score(torch.from_numpy(case["p"]), splits=case["splits"])
            np.testing.assert_allclose(got[name], _numbers(expected), rtol=RTOL, atol=1e-14, err_msg=name)
        elif case["kind"] == "kid":
            rng = torch.Generator().manual_seed(case["seed"])
            expected = metrics.kid(
                torch.from_numpy(case["a"]),
                torch.from_numpy(case["b"]),
                subset_size=case["m"],
                n_subsets=case["S"],
                rng=rng,
            )
            # the same subsets, and each subset's value from the same GEMMs (bitwise on the CPU, see
            # metrics._subset_mmd2); the all-reduce adds zeros only: exactly equal
            assert got[name] == _numbers(expected), name
        elif case["kind"] == "fid":
            expected = metrics.fid(torch.from_numpy(case["a"]), torch.from_numpy(case["b"]))
            np.testing.assert_allclose(got[name], float(expected), rtol=1e-10, err_msg=name)


def test_one_process_without_a_group_is_the_single_process_function():
    rng = np.random.default_rng(1)
    real, fake = torch.from_numpy(rng.normal(size=(30, 3))), torch.from_numpy(rng.normal(size=(25, 3)))
    assert _numbers(distributed.prdc(real, fake, k=3)) == _numbers(metrics.prdc(real, fake, k=3))
    p = torch.softmax(torch.from_numpy(rng.normal(size=(12, 4))), dim=1)
    assert _numbers(distributed.inception_score(p, splits=3)) == _numbers(metrics.inception_score(p, splits=3))
    assert float(distributed.fid(real, fake)) == float(metrics.fid(real, fake))


# --------------------------------------------------------------------------- bad input: errors on every rank


def _bad_input_worker(rank: int, world: int) -> dict:
    """Each case must raise on *both* ranks (the collective timeout is 30 s: a hang fails the run)."""
    rng = np.random.default_rng(rank)
    out = {}

    def attempt(name, call):
        try:
            call()
            out[name] = ("no error", "")
        except (TypeError, ValueError, RuntimeError) as err:
            out[name] = (type(err).__name__, str(err))

    x = torch.from_numpy(rng.normal(size=(10, 3)))
    empty = x[:0] if rank == 1 else x
    attempt("prdc_empty_shard", lambda: distributed.prdc(x, empty, k=2))
    wide = torch.from_numpy(rng.normal(size=(10, 4))) if rank == 1 else x
    attempt("prdc_dims_differ", lambda: distributed.prdc(wide, x, k=2))
    attempt("fid_dims_differ", lambda: distributed.fid(x, wide))
    nan = x.clone()
    if rank == 0:
        nan[3, 1] = float("nan")
    attempt("prdc_nan_on_one_rank", lambda: distributed.prdc(nan, x, k=2))
    attempt(
        "is_rank_refuses",
        lambda: distributed.inception_score(torch.softmax(x, dim=1) if rank == 0 else x[:, 0], splits=1),
    )
    attempt("prdc_wrong_group", lambda: distributed.prdc(x, x, k=2, group="world"))
    attempt("prdc_k_too_large_globally", lambda: distributed.prdc(x, x[:2], k=4))
    attempt("kid_subset_too_large", lambda: distributed.kid(x, x, subset_size=21))
    attempt("is_too_many_splits", lambda: distributed.inception_score(torch.softmax(x, dim=1), splits=21))
    flat = torch.full((10, 3), 1e300, dtype=torch.float64)  # finite: the mean term of FID and KID's kernel overflow
    attempt("fid_overflow", lambda: distributed.fid(flat, x))
    attempt("kid_overflow", lambda: distributed.kid(flat, x, subset_size=5, n_subsets=3))
    # after all of that the group still works
    out["still_works"] = _numbers(distributed.prdc(x, x, k=2))
    return out


def test_bad_input_raises_on_every_rank_and_does_not_hang():
    results = on_gloo(_bad_input_worker, 2, timeout=150)
    assert [r.error for r in results] == [None, None], [r.message for r in results]
    r0, r1 = results[0].value, results[1].value
    expected = {
        "prdc_empty_shard": ("ValueError", r"fake: rank\(s\) \[1\] hold an empty shard"),
        "prdc_dims_differ": ("ValueError", r"real: the feature dimension differs between ranks: \[3, 4\]"),
        "fid_dims_differ": ("ValueError", r"features2: the feature dimension differs between ranks"),
        "prdc_nan_on_one_rank": ("ValueError", r"real: rank\(s\) \[0\] hold NaN or infinite values"),
        "prdc_wrong_group": ("TypeError", r"group: expected None .*ProcessGroup, got str"),
        "prdc_k_too_large_globally": ("ValueError", r"k: expected 1 <= k <= n - 1 = 3 for fake with n = 4"),
        "kid_subset_too_large": (
            "ValueError",
            r"subset_size: expected 2 <= subset_size <= min\(n1, n2\) = 20|"
            r"kid: rank 0 refused the subset arguments",
        ),
        "is_too_many_splits": ("ValueError", r"splits: expected 1 <= splits <= n = 20"),
        "fid_overflow": ("ValueError", r"features1, features2: the result overflowed float64 from finite inputs"),
        "kid_overflow": ("ValueError", r"features1, features2: the result overflowed float64 from finite inputs"),
    }
    import re

    for name, (kind, pattern) in expected.items():
        for rank, got in enumerate((r0, r1)):
            assert got[name][0] == kind, (name, rank, got[name])
            assert re.search(pattern, got[name][1]), (name, rank, got[name][1])
    # one rank's own error names the argument; the other rank is told which rank refused
    assert r1["is_rank_refuses"][0] == "ValueError" and "probs: expected a 2-D tensor" in r1["is_rank_refuses"][1]
    assert r0["is_rank_refuses"][0] == "ValueError" and "rank(s) [1] refused" in r0["is_rank_refuses"][1]
    assert r0["still_works"] == r1["still_works"]


def test_group_must_be_a_process_group_even_on_one_process():
    x = torch.zeros(3, 2)
    with pytest.raises(TypeError, match="group: expected None"):
        distributed.prdc(x, x, k=1, group=0)


# --------------------------------------------------------------------------- StreamingStatistics.all_reduce


def _streaming_worker(rank: int, world: int, x: np.ndarray, cuts: list[int]) -> dict:
    s = metrics.StreamingStatistics(x.shape[1]).update(_shard(x, cuts, rank))
    first = s.all_reduce().finalize()
    second = s.all_reduce().finalize()  # idempotent: the other rank's rows are not counted twice
    out = {"n": (first.n, second.n), "same": bool(torch.equal(first.sigma, second.sigma)), "repr": repr(s)}
    out["mu"], out["sigma"] = first.mu.numpy(), first.sigma.numpy()
    try:
        s.update(_shard(x, cuts, rank))
        out["update_after_reduce"] = "no error"
    except ValueError as err:
        out["update_after_reduce"] = str(err)
    s.reset().update(_shard(x, cuts, rank)[:3])
    out["after_reset"] = s.all_reduce().n
    try:
        metrics.StreamingStatistics(3 + rank).all_reduce()
        out["dims_differ"] = "no error"
    except ValueError as err:
        out["dims_differ"] = str(err)
    return out


def test_all_reduce_twice_gives_the_same_totals_and_reset_starts_again():
    rng = np.random.default_rng(7)
    x = rng.normal(size=(41, 3)) + 1e3
    results = on_gloo(_streaming_worker, 2, x, [0, 29, 41])
    assert [r.error for r in results] == [None, None], [r.message for r in results]
    for r in results:
        v = r.value
        assert v["n"] == (41, 41) and v["same"]
        assert "all-reduced" in v["repr"]
        np.testing.assert_allclose(v["sigma"], np.cov(x, rowvar=False), rtol=1e-10)
        np.testing.assert_allclose(v["mu"], x.mean(axis=0), rtol=1e-14)
        assert "since all_reduce(); rows added now would be counted again" in v["update_after_reduce"]
        assert v["after_reset"] == 6  # three rows on each rank after reset()
        assert "the accumulators' dim differs between ranks: [3, 4]" in v["dims_differ"]


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_reset_forgets_every_row(side):
    import importlib

    lib = importlib.import_module(f"{side}.metrics")
    rng = np.random.default_rng(8)
    a, b = rng.normal(size=(20, 4)), rng.normal(size=(9, 4))
    to = (lambda v: v) if side == "reference" else torch.from_numpy
    s = lib.StreamingStatistics(4).update(to(a))
    fresh = lib.StreamingStatistics(4).update(to(b)).finalize()
    again = s.reset().update(to(b)).finalize()
    assert s.n == 9
    np.testing.assert_array_equal(np.asarray(again.sigma), np.asarray(fresh.sigma))
