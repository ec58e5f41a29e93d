"""KID in chunks of batched GEMMs: time against the GEMM floor of its kernel sums.

What is measured (this process, ``--repeat`` interleaved rounds, median of each):

* ours: :func:`accelerated.metrics.kid` on n x d float32 features per set (default n = 10000,
  d = 2048), ``--n-subsets`` subsets of ``--subset-size`` rows (default 100 of 1000), drawn from a
  seeded ``torch.Generator`` inside the call: drawing the subsets, gathering their rows, the three
  kernel GEMMs per chunk, the in-place cube, the float64 sums, the input checks;
* floor: the three batched GEMMs (s, m, d) x (s, d, m) that the kernel sums need, XX^T, YY^T and
  XY^T, as plain ``torch.bmm`` over the same subsets, gathered beforehand in the same chunks as
  ``kid`` uses, each product written into one preallocated output (``out=``, as ``kid`` reuses its
  kernel buffer: a fresh output would add the page faults of a new allocation to the floor).
  Nothing cheaper computes the kernel matrices; ``kid`` adds drawing the subsets, gathering their
  rows, the ``+ 1`` of ``baddbmm``, the cube and the float64 sums (a few passes over each kernel
  block). Target: ratio ours / floor <= 1.5.

The two are timed in turn within each round (a shared machine's load then drifts over both alike);
one warm-up call of each runs first, on two subsets. Also printed, measured once: the time to draw
the subset indices and to gather the rows, and the KID value. The data are standard normal
(features1) and 1.02 N(0, 1) + 0.01 (features2), drawn by torch from a seeded generator directly in
the benchmark dtype. These are measurements, not tests: nothing is asserted about time.

Run: ``PYTHONPATH=. python benchmarks/bench_kid.py [--n 10000] [--d 2048] [--subset-size 1000]
[--n-subsets 100] [--repeat 5] [--device cpu|cuda]`` (the default run takes about four minutes on two
CPU cores; ``--n 2000 --d 256`` runs in seconds).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from accelerated import metrics


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device) -> tuple[float, object]:
    sync(device)
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="rows per feature set")
    parser.add_argument("--d", type=int, default=2048, help="feature dimension")
    parser.add_argument("--subset-size", type=int, default=1000)
    parser.add_argument("--n-subsets", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (median reported)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    n, d, m, S = args.n, args.d, args.subset_size, args.n_subsets

    gen = torch.Generator(device=device).manual_seed(args.seed)
    x = torch.randn(n, d, generator=gen, device=device, dtype=dtype)
    y = torch.randn(n, d, generator=gen, device=device, dtype=dtype).mul_(1.02).add_(0.01)

    def new_rng() -> torch.Generator:
        return torch.Generator(device=device).manual_seed(args.seed + 1)

    t_draw, (idx1, idx2) = timed(lambda: metrics._draw_kid_indices(n, n, m, S, new_rng(), device), device)
    chunk = min(S, metrics._kid_chunk(m, m, d, x.element_size()))  # as kid chunks
    starts = range(0, S, chunk)
    t_gather, blocks = timed(lambda: [(x[idx1[s : s + chunk]], y[idx2[s : s + chunk]]) for s in starts], device)

    kernel_buffer = x.new_empty(chunk * m * m)

    def floor() -> None:
        for xs, ys in blocks:
            K = kernel_buffer[: xs.shape[0] * m * m].view(xs.shape[0], m, m)
            torch.bmm(xs, xs.transpose(1, 2), out=K)
            torch.bmm(ys, ys.transpose(1, 2), out=K)
            torch.bmm(xs, ys.transpose(1, 2), out=K)

    def ours() -> metrics.KID:
        return metrics.kid(x, y, subset_size=m, n_subsets=S, rng=new_rng())

    # warm-up: code paths, thread pools, allocator (two subsets)
    metrics.kid(x, y, subset_size=m, n_subsets=min(2, S), rng=new_rng())
    xs, ys = blocks[0]
    torch.bmm(xs[:2], ys[:2].transpose(1, 2))
    sync(device)

    print(
        f"KID benchmark: n = {n} per set, d = {d}, {S} subsets of {m}, {args.dtype} on {device}, "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, {chunk} subsets per chunk"
    )
    times: dict[str, list[float]] = {"ours": [], "floor": []}
    result = None
    for r in range(args.repeat):
        for name, fn in (("ours", ours), ("floor", floor)) if r % 2 == 0 else (("floor", floor), ("ours", ours)):
            seconds, out = timed(fn, device)
            times[name].append(seconds)
            result = out if name == "ours" else result
        print(f"    round {r + 1}: ours {times['ours'][-1]:.3f} s, floor {times['floor'][-1]:.3f} s", flush=True)
    t_ours, t_floor = statistics.median(times["ours"]), statistics.median(times["floor"])
    flops = 3 * S * 2 * m * m * d
    print(f"  ours  metrics.kid (rng=, drawn inside)   {t_ours:10.3f} s   (median of {args.repeat})")
    print(
        f"  floor 3 x torch.bmm (s, m, d)(s, d, m)   {t_floor:10.3f} s   (median of {args.repeat}; "
        f"{flops / t_floor / 1e9:.0f} GFLOP/s)"
    )
    print(f"  ratio ours / floor                       {t_ours / t_floor:10.2f}   (target <= 1.5)")
    print(f"  inside ours, measured once: drawing the indices {t_draw:.3f} s, gathering the rows {t_gather:.3f} s")
    print(f"  result KID mean {float(result.mean):.6g}, std {float(result.std):.6g}")


if __name__ == "__main__":
    main()
