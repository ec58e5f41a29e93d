"""Precision/recall/density/coverage in blocks: time against three plain GEMMs, peak memory above the data.

What is measured:

* time (this process, best of ``--repeat`` rounds that run the two in turn):
  :func:`accelerated.metrics.prdc` on n real and n fake float32 points in d = 2048 against the floor,
  the three n x n x d float32 matrix products it cannot avoid (real-real, fake-fake, real-fake),
  done as plain ``torch.mm`` with their full n x n outputs (target: ratio <= 1.5);
* peak memory (a fresh subprocess per measurement): ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
  (the resident-set high-water mark, KiB on Linux) read once after the inputs exist and a 200-point
  warm-up ``prdc`` has run (interpreter, torch, thread pools and the two n x d inputs: the baseline),
  and once after ``prdc`` on the full inputs. Reported: the growth of the high-water mark during the
  call, i.e. the extra memory ``prdc`` needed at its peak beyond the inputs (target: < 1 GB at
  n = 5000, < 4 GB at n = 50000). ``tracemalloc`` cannot see torch's allocations; ``ru_maxrss`` sees
  all of them. A child's mark starts at its parent's resident size at the fork, so the subprocesses
  run before this process allocates its own inputs. For comparison the script prints what the three
  full n x n float32 distance matrices of an unblocked implementation would take (computed, not run).
* ``--large``: n = 50000 (inputs 2 x 400 MB): time and peak memory of one ``prdc`` call in a
  subprocess, with progress lines while it runs; its floor, timed right after it in the same
  subprocess, is the same three products as ``torch.mm`` over the same row blocks with the outputs
  dropped (the three full 50000 x 50000 outputs, 28 GiB, do not fit in this machine's memory, which
  is the point of the blocks).

The data are standard normal (real) and 1.02 N(0, 1) + 0.01 (fake), drawn by torch from a seeded
generator directly in float32. These are measurements, not tests: nothing is asserted about time.

Run: ``PYTHONPATH=. python benchmarks/bench_prdc.py [--n 5000] [--d 2048] [--k 5] [--repeat 3] [--large]``
(the default run takes about a minute on two cores).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch

from accelerated import metrics

ROOT = Path(__file__).resolve().parents[1]


def data(n: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    real = torch.randn(n, d, generator=gen, dtype=torch.float32)
    fake = torch.randn(n, d, generator=gen, dtype=torch.float32).mul_(1.02).add_(0.01)
    return real, fake


def interleaved_best_of(fns: list[Callable[[], object]], repeat: int) -> list[tuple[float, object]]:
    """Best time of each function over ``repeat`` rounds that run them in turn (a shared machine's load
    then drifts over both alike)."""
    results = [(float("inf"), None)] * len(fns)
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            start = time.perf_counter()
            out = fn()
            results[i] = (min(results[i][0], time.perf_counter() - start), out)
    return results


def time_in_process(n: int, d: int, k: int, repeat: int) -> None:
    """Time prdc and its floor here and print both."""
    real, fake = data(n, d)

    def floor() -> None:
        torch.mm(real, real.T)
        torch.mm(fake, fake.T)
        torch.mm(real, fake.T)

    floor()  # warm-up
    (t_prdc, result), (t_floor, _) = interleaved_best_of([lambda: metrics.prdc(real, fake, k=k), floor], repeat)
    print(f"  ours  prdc                      {t_prdc:10.3f} s   (best of {repeat})")
    print(f"  floor 3 x torch.mm (n x n x d)  {t_floor:10.3f} s   (best of {repeat})")
    print(f"  ratio ours / floor              {t_prdc / t_floor:10.2f}   (target <= 1.5)")
    print("  result " + ", ".join(f"{name} {float(v):.4f}" for name, v in result._asdict().items()))


def child(n: int, d: int, k: int) -> None:
    """Subprocess body: print JSON with the baseline and peak ru_maxrss (KiB) and the time of one prdc."""
    real, fake = data(n, d)
    metrics.prdc(real[:200], fake[:200], k=k)  # warm-up: code paths, thread pools, allocator
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = metrics.prdc(real, fake, k=k)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    values = {name: float(v) for name, v in result._asdict().items()}
    out = {"baseline_kib": baseline, "peak_kib": peak, "seconds": seconds, "result": values}
    if n > 10_000:  # the floor in the same process: the three products in prdc's row blocks, outputs dropped
        rows = max(1, (1 << 26) // n)
        start = time.perf_counter()
        for a, b in ((real, real), (fake, fake), (fake, real)):
            for lo in range(0, n, rows):
                torch.mm(a[lo : lo + rows], b.T)
        out["floor_seconds"] = time.perf_counter() - start
    print(json.dumps(out))


def measure_in_subprocess(n: int, d: int, k: int, progress: bool) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cmd = [sys.executable, __file__, "--child", str(n), str(d), str(k)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    start, next_report = time.perf_counter(), 30.0
    while proc.poll() is None:
        time.sleep(1.0)
        elapsed = time.perf_counter() - start
        if progress and elapsed >= next_report:
            print(f"    ... prdc at n = {n} still running, {elapsed:.0f} s", flush=True)
            next_report += 30.0
    out, _ = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"subprocess failed with status {proc.returncode}")
    return json.loads(out.strip().splitlines()[-1])


def report_memory(n: int, d: int, m: dict) -> None:
    extra = (m["peak_kib"] - m["baseline_kib"]) / 1024**2
    inputs = 2 * n * d * 4 / 1024**3
    full = 3 * n * n * 4 / 1024**3
    print(
        f"  peak memory above the inputs    {extra:10.3f} GiB  (ru_maxrss growth during prdc; inputs {inputs:.2f} GiB)"
    )
    print(f"  unblocked: 3 n x n float32      {full:10.3f} GiB  (computed, for comparison)")


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        child(*map(int, sys.argv[2:]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", action="store_true", help="also run n = 50000 (several minutes)")
    args = parser.parse_args()
    n, d, k = args.n, args.d, args.k

    print(
        f"PRDC benchmark: n = {n} real and {n} fake, d = {d}, k = {k}, float32, torch {torch.__version__} "
        f"with {torch.get_num_threads()} threads"
    )
    # Memory first: a child's ru_maxrss starts from the parent's resident size at the fork, so the
    # subprocesses run while this process holds nothing but the interpreter and torch.
    memory = measure_in_subprocess(n, d, k, progress=False)
    large = None
    if args.large:
        big = 50_000
        print(f"  (running --large first: n = {big} in a subprocess, progress every 30 s)", flush=True)
        large = measure_in_subprocess(big, d, k, progress=True)
    time_in_process(n, d, k, args.repeat)
    report_memory(n, d, memory)

    if large is not None:
        floor_big = large["floor_seconds"]
        print(f"PRDC --large: n = {big}, d = {d}, k = {k} (one run of each in the same subprocess)")
        print(f"  ours  prdc                      {large['seconds']:10.1f} s")
        print(f"  floor 3 x torch.mm in row blocks {floor_big:9.1f} s   (same n x n x d products, outputs dropped)")
        print(f"  ratio ours / floor              {large['seconds'] / floor_big:10.2f}")
        print("  result " + ", ".join(f"{name} {v:.4f}" for name, v in large["result"].items()))
        report_memory(big, d, large)


if __name__ == "__main__":
    main()
