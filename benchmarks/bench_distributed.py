"""Distributed PRDC on gloo processes: peak memory per rank against one process, and the result identical.

What is measured (target of the distributed-metrics issue: with 2 processes on n = 20000 real and
n = 20000 fake float32 points in d = 512, peak memory per rank at most 0.6x that of one process):

* one process: :func:`accelerated.metrics.prdc` on the whole sets, in a spawned process;
* ``--world`` processes (default 2): :func:`accelerated.distributed.prdc`, each rank holding its
  contiguous shard of both sets (n / world rows each), in spawned gloo processes.

Peak memory of a process is the growth of its resident-set high-water mark
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``) from just before it creates its data (after the
imports, the process-group set-up and a 200-row warm-up call that sets up BLAS and gloo workspaces)
to the end of the call: its inputs, the visiting chunks, the
distance blocks and the communication buffers, everything the evaluation costs that process. The data
are generated in blocks of 1000 rows from one seeded torch generator per block, so every rank makes
exactly its own rows and the sets are the same in both runs. Both runs use the same ``--block-size``
(rows per block of the single-process function, rows per visiting chunk of the distributed one); the
default ``None`` (each block at 2**26 entries) is also printed with ``--default-block``.

Allocator. By default the spawned processes run with ``MALLOC_MMAP_THRESHOLD_=1048576``: glibc then
maps every block above 1 MiB on its own and returns it to the system when freed. Without it glibc
raises its threshold after the first large free and serves later blocks from the heap, which it does
not shrink, so the high-water mark depends on the history of allocations more than on the algorithm
(measured at block_size 1024: 0.57 with the default allocator against 0.52 with the fixed threshold, the
same code; ``--glibc-default`` shows it). On a GPU, ``torch.cuda.max_memory_allocated`` plays this role.

Time is printed too (the two processes share this machine's cores with each other, so on a 2-core
machine the distributed run is no faster; on a GPU per rank it divides the work by the world size).

Run: ``PYTHONPATH=. python benchmarks/bench_distributed.py [--n 20000] [--d 512] [--block-size 1024]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch

ROWS = 1000  # rows per generated block


def _rows(kind: int, lo: int, hi: int, d: int) -> torch.Tensor:
    """Rows lo..hi of set ``kind`` (0 real: N(0, 1); 1 fake: 1.05 N(0, 1) + 0.02), block-wise seeded."""
    out = torch.empty(hi - lo, d)
    for b in range(lo // ROWS, (hi + ROWS - 1) // ROWS):
        g = torch.Generator().manual_seed(1_000_003 * kind + b)
        x = torch.randn(ROWS, d, generator=g)
        if kind == 1:
            x = x * 1.05 + 0.02
        a, z = max(lo, b * ROWS), min(hi, (b + 1) * ROWS)
        out[a - lo : z - lo] = x[a - b * ROWS : z - b * ROWS]
    return out


def _rss_kib() -> int:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() // 1024


def _worker(rank: int, world: int, n: int, d: int, k: int, block_size: int | None, single: bool) -> dict:
    from accelerated import distributed, metrics

    # warm-up: the process group's buffers, BLAS and thread-pool workspaces are not the evaluation's
    warm = _rows(0, 0, 200, d)
    (metrics.prdc if single else distributed.prdc)(warm, warm + 0.5, k=k, block_size=block_size)
    del warm
    before = _rss_kib()
    lo, hi = (0, n) if single else (rank * n // world, (rank + 1) * n // world)
    real, fake = _rows(0, lo, hi, d), _rows(1, lo, hi, d)
    start = time.perf_counter()
    if single:
        out = metrics.prdc(real, fake, k=k, block_size=block_size)
    else:
        out = distributed.prdc(real, fake, k=k, block_size=block_size)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"prdc": [float(v) for v in out], "peak_mib": (peak - before) / 1024, "seconds": seconds}


def run(n: int, d: int, k: int, world: int, block_size: int | None) -> dict:
    from crosscheck.distributed import on_gloo

    one = on_gloo(_worker, 1, n, d, k, block_size, True, timeout=3600, collective_timeout=3600)
    many = on_gloo(_worker, world, n, d, k, block_size, False, timeout=3600, collective_timeout=3600)
    for r in one + many:
        if r.error is not None:
            raise RuntimeError(f"rank {r.rank}: {r.error}: {r.message}")
    single = one[0].value
    ranks = [r.value for r in many]
    peak = max(r["peak_mib"] for r in ranks)
    return {
        "single": single,
        "ranks": ranks,
        "ratio": peak / single["peak_mib"],
        "identical": all(r["prdc"] == single["prdc"] for r in ranks),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20000, help="rows of each set (default 20000)")
    parser.add_argument("--d", type=int, default=512)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--world", type=int, default=2)
    parser.add_argument("--block-size", type=int, default=1024)
    parser.add_argument("--default-block", action="store_true", help="also run with block_size=None")
    parser.add_argument(
        "--glibc-default", action="store_true", help="keep glibc's dynamic mmap threshold (see the docstring)"
    )
    args = parser.parse_args()
    if not args.glibc_default:  # read by glibc at start-up: set before the processes are spawned
        os.environ["MALLOC_MMAP_THRESHOLD_"] = str(1 << 20)
    sizes = [args.block_size] + ([None] if args.default_block else [])
    print(f"prdc, n = {args.n} real and {args.n} fake float32 points, d = {args.d}, k = {args.k}")
    print(
        f"{'block_size':>10} {'1 proc MiB':>11} {'per rank MiB':>14} {'ratio':>6} {'1 proc s':>9} "
        f"{'ranks s':>14} identical"
    )
    for block in sizes:
        r = run(args.n, args.d, args.k, args.world, block)
        ranks_mib = "/".join(f"{v['peak_mib']:.0f}" for v in r["ranks"])
        ranks_s = "/".join(f"{v['seconds']:.1f}" for v in r["ranks"])
        print(
            f"{block!s:>10} {r['single']['peak_mib']:11.0f} {ranks_mib:>14} {r['ratio']:6.2f} "
            f"{r['single']['seconds']:9.1f} {ranks_s:>14} {r['identical']}"
        )
        print(f"{'':>10} prdc = {r['single']['prdc']}")


if __name__ == "__main__":
    main()
