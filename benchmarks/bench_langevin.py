"""Memory bandwidth of the Langevin update x + (eta/2) s + sqrt(eta) z against a plain memory copy.

The update over n float32 values must read x, s and z and write x: 16 bytes per value. The physical
floor is the machine's copy bandwidth, measured in the same run as ``dst.copy_(src)`` (8 bytes per
value). Each variant's bandwidth is 16 bytes per value over its best time, and the printed ratio is
that over the copy bandwidth (target for ``accelerated.langevin.langevin_step_``: >= 0.8). All
variants are timed in interleaved rounds (best of ``--repeats``), so that a busy machine slows them
alike; absolute numbers mean little on a shared machine, the ratios are the result.

Variants:

* naive: ``x + a * s + b * z`` (three passes, two temporaries and a new result: ~40 bytes per value);
* two passes in place: ``x.add_(s, alpha=a).add_(z, alpha=b)`` (24 bytes per value from memory);
* ``langevin_step_``: the library's in-place step (two passes over 4 MiB blocks: 16 bytes per value);
* ``langevin_step``: the library's out-of-place step (a new tensor per call; on the CPU the page faults
  of a fresh 40 MB allocation dominate, on CUDA it is one fused kernel);
* ``--compile``: ``torch.compile`` of the in-place update (one fused loop; tens of seconds to compile).

Run: ``PYTHONPATH=. python benchmarks/bench_langevin.py [--n 10000000] [--repeats 30] [--device cpu]``.
"""

from __future__ import annotations

import argparse
import math
import time
from collections.abc import Callable

import torch

from accelerated import langevin


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000_000, help="values per tensor (default 1e7)")
    parser.add_argument("--repeats", type=int, default=30, help="interleaved rounds; best time kept (default 30)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu)")
    parser.add_argument("--compile", action="store_true", help="also time a torch.compile-fused update")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="wall: perf_counter; cpu: this process's CPU time with one thread (robust to preemption on a "
        "shared CPU machine; memory stalls still count)",
    )
    args = parser.parse_args(argv)
    if args.clock == "cpu":
        if args.device != "cpu":
            parser.error("--clock cpu: only for --device cpu")
        args.threads = 1
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time

    device = torch.device(args.device)
    g = torch.Generator(device=device).manual_seed(0)
    n = args.n
    x, s, z = (torch.randn(n, generator=g, device=device) for _ in range(3))
    src, dst = torch.randn(n, generator=g, device=device), torch.empty(n, device=device)
    x_naive = x.clone()
    eta = 1e-4  # small, so that repeated in-place updates keep x of order one
    a, b = eta / 2.0, math.sqrt(eta)

    # In-place variants and the copy are timed interleaved; the variants that allocate a new 40 MB tensor
    # per call (page faults, zeroing, unmapping on the CPU) run afterwards, so as not to disturb the others.
    variants: dict[str, Callable[[], object]] = {
        "copy (dst.copy_(src), 8 B/value)": lambda: dst.copy_(src),
        "two passes in place (add_, add_)": lambda: x.add_(s, alpha=a).add_(z, alpha=b),
        "langevin_step_ (in place, blocked)": lambda: langevin.langevin_step_(x, s, step_size=eta, noise=z),
    }
    if args.compile:

        def update_(x: torch.Tensor, s: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
            return x.add_(a * s + b * z)

        fused = torch.compile(update_, dynamic=False)
        start = time.perf_counter()
        fused(x, s, z)
        _sync(device)
        print(f"torch.compile: first call (compilation) {time.perf_counter() - start:.1f} s")
        variants["torch.compile fused in place"] = lambda: fused(x, s, z)
    allocating: dict[str, Callable[[], object]] = {
        "naive x + a*s + b*z (new tensors)": lambda: x_naive + a * s + b * z,
        "langevin_step (new tensor)": lambda: langevin.langevin_step(x, s, step_size=eta, noise=z),
    }

    best = dict.fromkeys([*variants, *allocating], math.inf)
    for group in (variants, allocating):
        for f in group.values():  # warm-up: allocator, page mapping, kernel caches
            f()
        _sync(device)
        for _ in range(args.repeats):
            for name, f in group.items():
                _sync(device)
                start = clock()
                f()
                _sync(device)
                best[name] = min(best[name], clock() - start)

    copy_name = next(iter(variants))
    copy_bw = 8 * n / best[copy_name]
    print(
        f"device {device}, {torch.get_num_threads()} CPU threads, n = {n:.0e} float32 values, "
        f"best of {args.repeats} interleaved rounds, {args.clock} clock"
    )
    print(f"copy bandwidth: {copy_bw / 1e9:.1f} GB/s (8 bytes per value)")
    print(f"{'variant':40s} {'best ms':>8s} {'GB/s at 16 B/value':>19s} {'ratio to copy':>14s}")
    for name, seconds in best.items():
        if name == copy_name:
            continue
        bw = 16 * n / seconds
        print(f"{name:40s} {seconds * 1e3:8.2f} {bw / 1e9:19.1f} {bw / copy_bw:14.2f}")
    ratio = 16 * n / best["langevin_step_ (in place, blocked)"] / copy_bw
    print(f"langevin_step_ moves its 16 B/value at {ratio:.2f} x the copy bandwidth (target >= 0.80)")


if __name__ == "__main__":
    main()
