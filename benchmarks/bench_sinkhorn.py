"""Sinkhorn benchmark: ``accelerated.transport.sinkhorn`` against a plain log-domain Sinkhorn.

Problem: n = m = 2000 points uniform in [0, 1]^2 (seeded), squared Euclidean cost, epsilon = 0.05,
float64, uniform weights. Printed, all measured in this one run on this machine:

* time of ``sinkhorn`` at its default tolerance (marginal L1 error 1e-9), iterations, final error;
* time of a plain log-domain Sinkhorn of exactly 1000 iterations (alternating f and g updates, each
  a ``torch.logsumexp`` over the full n x m matrix): the baseline, and its speed ratio;
* relative difference of both costs <P, C> to a fully converged solution (``sinkhorn`` at tol 1e-13);
* ablations: no over-relaxation (omega = 1), no epsilon-scaling;
* epsilon = 1e-3: our result is finite (a kernel-domain Sinkhorn, exp(-C/eps), underflows to NaN).

The physical floor: one plain iteration is two passes of exp over the n x m matrix; one of ours
(after one kernel pass per epsilon stage) is two matrix-vector products, a memory-bound read of K.
Not a test: no wall-clock assertion. Run from the repository root:
``python benchmarks/bench_sinkhorn.py`` (``--plain-iters`` to shorten the baseline).
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from accelerated import transport


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int = 1):
    """Median wall time over ``repeats`` runs and the last result."""
    times, out = [], None
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        out = fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def plain_log_sinkhorn(C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float, n_iter: int):
    """Textbook log-domain Sinkhorn: f, g alternately by logsumexp over the full matrix, n_iter times."""
    log_a, log_b = a.log(), b.log()
    f, g = torch.zeros_like(a), torch.zeros_like(b)
    for _ in range(n_iter):
        f = -eps * torch.logsumexp(log_b + (g - C) / eps, dim=1)
        g = -eps * torch.logsumexp(log_a[:, None] + (f[:, None] - C) / eps, dim=0)
    P = torch.exp(log_a[:, None] + log_b + (f[:, None] + g - C) / eps)
    error = (P.sum(1) - a).abs().sum() + (P.sum(0) - b).abs().sum()
    return (P * C).sum(), error


def naive_kernel_sinkhorn(C: torch.Tensor, a: torch.Tensor, b: torch.Tensor, eps: float, n_iter: int):
    """Kernel-domain Sinkhorn (K = exp(-C/eps), u = a / K v): what underflows at small epsilon."""
    K = torch.exp(-C / eps)
    v = torch.ones_like(b)
    for _ in range(n_iter):
        u = a / (K @ v)
        v = b / (K.T @ u)
    P = u[:, None] * K * v
    return (P * C).sum(), float((K == 0).double().mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--epsilon", type=float, default=0.05)
    parser.add_argument("--plain-iters", type=int, default=1000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    n, eps = args.n, args.epsilon
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(n, 2, generator=gen, dtype=torch.float64).to(device)
    y = torch.rand(n, 2, generator=gen, dtype=torch.float64).to(device)
    a = torch.full((n,), 1.0 / n, dtype=torch.float64, device=device)
    b = a.clone()
    C = ((x[:, None] - y[None]) ** 2).sum(-1)
    print(
        f"Sinkhorn benchmark: n = m = {n}, uniform [0,1]^2 (seed 0), p = 2, epsilon = {eps}, float64, {device}, "
        f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    )

    transport.sinkhorn(x[:50], y[:50], epsilon=eps)  # warm-up (allocator, BLAS threads)
    t_ours, ours = timed(lambda: transport.sinkhorn(x, y, epsilon=eps), device, repeats=3)
    t_omega1, omega1 = timed(lambda: transport.sinkhorn(x, y, epsilon=eps, overrelaxation=1.0), device, repeats=3)
    t_noscale, noscale = timed(lambda: transport.sinkhorn(x, y, epsilon=eps, epsilon_scaling=None), device, repeats=3)
    t_star, star = timed(lambda: transport.sinkhorn(x, y, epsilon=eps, tol=1e-13, max_iter=100_000), device)
    print(
        f"  converged reference: tol 1e-13, {star.n_iter} iterations, marginal error "
        f"{float(star.marginal_error):.2e}, cost {float(star.cost):.15f} ({t_star:.2f} s)"
    )
    print(f"  plain log-domain baseline: {args.plain_iters} iterations ...", flush=True)
    t_plain, (plain_cost, plain_error) = timed(lambda: plain_log_sinkhorn(C, a, b, eps, args.plain_iters), device)
    per_iter = t_plain / args.plain_iters

    def rel(cost: torch.Tensor) -> float:
        return abs(float(cost) - float(star.cost)) / abs(float(star.cost))

    # epsilon = 1e-3: finite and converged; the kernel domain underflows.
    small = 1e-3
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t_small, res_small = timed(lambda: transport.sinkhorn(x, y, epsilon=small, max_iter=20_000), device)
    with torch.no_grad():
        naive_cost, zero_fraction = naive_kernel_sinkhorn(C, a, b, small, 10)

    rows = [
        (
            "sinkhorn (default: eps-scaling 0.5, omega 1.5, K=10)",
            t_ours,
            ours.n_iter,
            ours.marginal_error,
            rel(ours.cost),
        ),
        (
            "  ablation: no over-relaxation (omega = 1)",
            t_omega1,
            omega1.n_iter,
            omega1.marginal_error,
            rel(omega1.cost),
        ),
        ("  ablation: no epsilon-scaling", t_noscale, noscale.n_iter, noscale.marginal_error, rel(noscale.cost)),
        (f"plain log-domain, {args.plain_iters} iterations", t_plain, args.plain_iters, plain_error, rel(plain_cost)),
    ]
    print()
    print(f"{'solver':55s} {'time [s]':>9s} {'speed-up':>9s} {'iters':>6s} {'marg. err':>10s} {'rel. cost err':>14s}")
    for name, seconds, iters, error, relative in rows:
        print(f"{name:55s} {seconds:9.3f} {t_plain / seconds:8.1f}x {iters:6d} {float(error):10.2e} {relative:14.2e}")
    print(f"(plain: {1e3 * per_iter:.1f} ms per iteration; relative cost error against the tol-1e-13 solution)")
    print()
    finite = math.isfinite(float(res_small.cost)) and math.isfinite(float(res_small.entropic_cost))
    print(
        f"epsilon = {small}: cost {float(res_small.cost):.10f}, entropic cost {float(res_small.entropic_cost):.10f} "
        f"(finite: {finite}), {res_small.n_iter} iterations, marginal error {float(res_small.marginal_error):.2e}, "
        f"converged {res_small.converged}, {t_small:.2f} s" + (f"; warning: {caught[0].message}" if caught else "")
    )
    print(
        f"  for comparison, the kernel-domain K = exp(-C/eps) at this epsilon: {100 * zero_fraction:.1f}% of its "
        f"entries are 0 (underflow), cost after 10 iterations {float(naive_cost):.6f} (unconverged)"
    )
    print()
    print(
        f"SUMMARY  speed-up vs {args.plain_iters} plain iterations: {t_plain / t_ours:.1f}x (target >= 10x); "
        f"relative cost difference to converged: {rel(ours.cost):.1e} (target <= 1e-6); marginal error "
        f"{float(ours.marginal_error):.1e} (target < 1e-9); iterations {ours.n_iter}; eps = 1e-3 finite: "
        f"{math.isfinite(float(res_small.cost))}"
    )


if __name__ == "__main__":
    main()
