"""Exact OT benchmark: ``accelerated.transport.wasserstein`` against POT's ``ot.emd2`` on the same data.

Problems (seeded, float64, p = 2): n = m = 2000 points uniform in [0, 1]^8 with uniform weights, and
400 x 300 points uniform in [0, 1]^8 with Dirichlet weights. Printed, all measured in this one run:

* POT: ``ot.emd2(a, b, ot.dist(x, y))`` (the cost matrix included, as a user would call it) and
  ``ot.emd2`` alone on a precomputed cost, both with the same pivot budget as ours;
* ours: ``wasserstein(x, y)`` (or with ``a, b``) from the points, and the ratios ours / POT (target 1.1);
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


def timed(fn, repeats: int):
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    rng = np.random.default_rng(0)
    problems = [
        ("2000 x 2000, 8-D, uniform", rng.random((2000, 8)), rng.random((2000, 8)), None, None),
        ("400 x 300, 8-D, weighted", rng.random((400, 8)), rng.random((300, 8)), rng.dirichlet(np.ones(400)), None),
    ]
    problems[1] = (*problems[1][:4], rng.dirichlet(np.ones(300)))
    acc.wasserstein(torch.zeros(2, 1, dtype=torch.float64), torch.ones(2, 1, dtype=torch.float64))  # imports POT
    print(f"torch {torch.__version__}, POT {ot.__version__}, threads {torch.get_num_threads()}; median of 3 runs, s")
    print(
        "| problem | POT dist+emd2 | POT emd2 | ours | ours / POT dist+emd2 | ours / POT emd2 | rel. diff | SciPy ref |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, x, y, a, b in problems:
        n, m = len(x), len(y)
        wa = np.full(n, 1.0 / n) if a is None else a
        wb = np.full(m, 1.0 / m) if b is None else b
        budget = _max_iter(n, m)
        M = ot.dist(x, y)
        t_full, v_pot = timed(lambda: ot.emd2(wa, wb, ot.dist(x, y), numItermax=budget), 3)
        t_emd, _ = timed(lambda: ot.emd2(wa, wb, M, numItermax=budget), 3)
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        kw = {} if a is None else {"a": torch.from_numpy(a), "b": torch.from_numpy(b)}
        t_ours, w = timed(lambda: acc.wasserstein(tx, ty, **kw), 3)
        rkw = {} if a is None else {"a": a, "b": b}
        t_ref, w_ref = timed(lambda: ref.wasserstein(x, y, **rkw), 1)
        rel = abs(float(w) ** 2 - v_pot) / v_pot
        print(
            f"| {name} | {t_full:.3f} | {t_emd:.3f} | {t_ours:.3f} | {t_ours / t_full:.2f} | {t_ours / t_emd:.2f} "
            f"| {rel:.1e} | {t_ref:.3f} (rel. diff {abs(w_ref**2 - v_pot) / v_pot:.1e}) |"
        )


if __name__ == "__main__":
    main()
