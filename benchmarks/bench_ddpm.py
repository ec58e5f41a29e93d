"""DDPM sampler overhead: ``accelerated.diffusion.ddpm_sample`` against a hand-written loop of the same arithmetic.

Both run T = 1000 ancestral steps on a small batch with the same trivial eps model (one elementwise
multiply) and the same pre-drawn noise, and must return the same tensor bit for bit. The hand-written
baseline is what a user would write with everything precomputed: per-step coefficient tensors on the
device, indexed by a Python int, the mean as ``addcmul`` + ``div_`` and the noise as ``addcmul``. The
physical floor is the eps model alone (the loop with no sampler arithmetic); the per-step *overhead* of a
sampler is its time per step minus that floor.

The three loops are interleaved in rotating order; the median and the minimum over the repeats are
printed (on a loaded machine the median is the stable one: the minimum of two identical loops can
differ by 30% there). Only the ratios mean much.
On a CUDA device the script also runs the sampler under ``torch.cuda.set_sync_debug_mode("error")`` (with
value checks off, since those read the host once before the loop) to show that the loop never synchronises.

Run from the repository root::

    python benchmarks/bench_ddpm.py                  # CPU, one intra-op thread
    python benchmarks/bench_ddpm.py --device cuda
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from accelerated import diffusion as D
from accelerated import value_checks


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--T", type=int, default=1000, help="diffusion steps (default 1000)")
    parser.add_argument("--shape", default="8,3,16,16", help="batch shape, comma-separated (default 8,3,16,16)")
    parser.add_argument("--repeats", type=int, default=21, help="interleaved repeats (default 21)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU (default 1)")
    return parser.parse_args()


class TrivialEps:
    """eps(x_t, t) = 0.1 x_t: one elementwise kernel, no host reads."""

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.c = torch.tensor(0.1, device=device, dtype=dtype)

    def __call__(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return x * self.c


def hand_written_loop(eps_fn, schedule: D.Schedule, noise: torch.Tensor) -> torch.Tensor:
    """The baseline: the same arithmetic as ddpm_sample, written inline with precomputed coefficients."""
    T, n = schedule.T, noise.shape[1]
    device, dtype = noise.device, noise.dtype
    neg_k = list((-schedule.betas / schedule.sqrt_one_minus_alpha_bars).to(device, dtype).unbind(0))
    sqrt_alpha = list(torch.sqrt(schedule.alphas).to(device, dtype).unbind(0))
    sigma = list(torch.sqrt(schedule.beta_tilde).to(device, dtype).unbind(0))
    steps = torch.arange(T, device=device).unsqueeze(1).expand(T, n).contiguous().unbind(0)
    x = noise[0]
    for k in range(T):
        t = T - 1 - k
        eps = eps_fn(x, steps[t])
        mean = torch.addcmul(x, eps, neg_k[t]).div_(sqrt_alpha[t])
        x = mean if t == 0 else torch.addcmul(mean, noise[k + 1], sigma[t])
    return x


def model_only_loop(eps_fn, schedule: D.Schedule, noise: torch.Tensor) -> torch.Tensor:
    """The floor: T calls of the eps model and nothing else."""
    T, n = schedule.T, noise.shape[1]
    steps = torch.arange(T, device=noise.device).unsqueeze(1).expand(T, n).contiguous().unbind(0)
    x = noise[0]
    for k in range(T):
        x = eps_fn(x, steps[T - 1 - k])
    return x


def timed(fn, device: torch.device) -> tuple[float, torch.Tensor]:
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start, out


def main() -> None:
    args = parse_args()
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    shape = tuple(int(s) for s in args.shape.split(","))
    T = args.T
    schedule = D.Schedule(D.linear_beta_schedule(T).to(device))
    noise = torch.randn((T, *shape), generator=torch.Generator(device).manual_seed(0), device=device, dtype=dtype)
    eps_fn = TrivialEps(device, dtype)

    runs = {
        "ddpm_sample": lambda: D.ddpm_sample(eps_fn, shape, schedule, noise=noise),
        "hand-written loop": lambda: hand_written_loop(eps_fn, schedule, noise),
        "eps model only (floor)": lambda: model_only_loop(eps_fn, schedule, noise),
    }
    for fn in runs.values():  # warm-up (allocator, first-call costs)
        timed(fn, device)
    samples: dict[str, list[float]] = {name: [] for name in runs}
    outputs = {}
    names = list(runs)
    for r in range(args.repeats):
        for name in names[r % 3 :] + names[: r % 3]:  # rotate the order: no run always goes first
            seconds, outputs[name] = timed(runs[name], device)
            samples[name].append(seconds)
    identical = torch.equal(outputs["ddpm_sample"], outputs["hand-written loop"])

    threads = f", {torch.get_num_threads()} intra-op thread(s)" if device.type == "cpu" else ""
    print(f"DDPM sampler, T = {T}, batch {shape}, {args.dtype} on {device}{threads}")
    print(f"torch {torch.__version__}, {platform.machine()}, {args.repeats} interleaved repeats")
    print(f"  {'':24s} {'median':>9s} {'min':>9s}  (us per step)")
    per_step = {}
    for name, seconds in samples.items():
        per_step[name] = {"median": 1e6 * statistics.median(seconds) / T, "min": 1e6 * min(seconds) / T}
        print(f"  {name:24s} {per_step[name]['median']:9.2f} {per_step[name]['min']:9.2f}")
    for stat in ("median", "min"):
        lib, hand = per_step["ddpm_sample"][stat], per_step["hand-written loop"][stat]
        floor = per_step["eps model only (floor)"][stat]
        print(
            f"  {stat:6s}: ratio ddpm_sample / hand-written {lib / hand:.3f} per step, "
            f"{(lib - floor) / (hand - floor):.3f} per-step overhead above the eps-model floor (target <= 1.2)"
        )
    print(f"  outputs identical bit for bit: {identical}")

    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
        try:
            with value_checks(False):
                D.ddpm_sample(eps_fn, shape, schedule, noise=noise)
            print("  no host synchronisation inside ddpm_sample (sync debug mode 'error' raised nothing)")
        finally:
            torch.cuda.set_sync_debug_mode("default")


if __name__ == "__main__":
    main()
