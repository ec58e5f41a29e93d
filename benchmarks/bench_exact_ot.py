"""Exact OT benchmark: ``accelerated.transport.wasserstein`` against POT's ``ot.emd2`` on the same data.

Problems (seeded, float64, p = 2): n = m = 2000 points uniform in [0, 1]^8 with uniform weights, and
400 x 300 points uniform in [0, 1]^8 with Dirichlet weights. Printed, all measured in this one run:

* POT: ``ot.emd2(a, b, ot.dist(x, y))`` (the cost matrix included, as a user would call it) and
  ``ot.emd2`` alone on a precomputed cost, both with the same pivot budget as ours;
* ours: ``wasserstein(x, y)`` (or with ``a, b``) from the points, and the ratios ours / POT (target 1.1),
  the three called in turn, round after round (see ``interleaved``);
* the values' relative difference W_2^2 (target 1e-9), and the reference (SciPy) time, for information.

Not a test: no wall-clock assertion. Run from the repository root: ``python benchmarks/bench_exact_ot.py``.
"""

# ruff: noqa: B023 - each lambda is called by timed() within its own loop iteration
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import ot

from accelerated import transport as acc
from accelerated.transport.exact import _max_iter
from reference import transport as ref


def interleaved(fns: dict, rounds: int) -> tuple[dict, dict]:
    """Each callable once per round, in an order that rotates from round to round; returns the median
    time of each and its outputs. The machines are shared and their speed drifts by up to 2x within a
    minute: interleaving puts every contender under the same drift, and the ratios below are the medians
    of the per-round ratios (each from calls a fraction of a second apart)."""
    names, times, outs = list(fns), {name: [] for name in fns}, {}
    for r in range(rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            start = time.perf_counter()
            outs[name] = fns[name]()
            times[name].append(time.perf_counter() - start)
    return times, outs


def main() -> None:
    rng = np.random.default_rng(0)
    problems = [
        ("2000 x 2000, 8-D, uniform", rng.random((2000, 8)), rng.random((2000, 8)), None, None, 9),
        ("400 x 300, 8-D, weighted", rng.random((400, 8)), rng.random((300, 8)), rng.dirichlet(np.ones(400)), None, 61),
    ]
    problems[1] = (*problems[1][:4], rng.dirichlet(np.ones(300)), problems[1][5])
    acc.wasserstein(torch.zeros(2, 1, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64))  # imports POT
    print(
        f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}; "
        "interleaved rounds, medians in s, ratios = medians of the per-round ratios"
    )
    print(
        "| problem | rounds | POT dist+emd2 | POT emd2 | ours | ours / POT dist+emd2 | ours / POT emd2 "
        "| rel. diff | SciPy ref |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, x, y, a, b, rounds in problems:
        n, m = len(x), len(y)
        wa = np.full(n, 1.0 / n) if a is None else a
        wb = np.full(m, 1.0 / m) if b is None else b
        budget = _max_iter(n, m)
        M = ot.dist(x, y)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        kw = {} if a is None else {"a": torch.from_numpy(a), "b": torch.from_numpy(b)}
        times, outs = interleaved(
            {
                "full": lambda: ot.emd2(wa, wb, ot.dist(x, y), numItermax=budget),
                "emd": lambda: ot.emd2(wa, wb, M, numItermax=budget),
                "ours": lambda: acc.wasserstein(tx, ty, **kw),
            },
            rounds,
        )
        med = {key: statistics.median(v) for key, v in times.items()}
        ratio = {key: statistics.median(o / t for o, t in zip(times["ours"], times[key])) for key in ("full", "emd")}
        rkw = {} if a is None else {"a": a, "b": b}
        start = time.perf_counter()
        w_ref = ref.wasserstein(x, y, **rkw)
        t_ref = time.perf_counter() - start
        v_pot = outs["full"]
        rel = abs(float(outs["ours"]) ** 2 - v_pot) / v_pot
        print(
            f"| {name} | {rounds} | {med['full']:.4f} | {med['emd']:.4f} | {med['ours']:.4f} | {ratio['full']:.2f} "
            f"| {ratio['emd']:.2f} | {rel:.1e} | {t_ref:.3f} (rel. diff {abs(w_ref**2 - v_pot) / v_pot:.1e}) |"
        )


if __name__ == "__main__":
    main()
