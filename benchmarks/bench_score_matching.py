"""Score matching costs: the exact Jacobian trace against a per-dimension loop, and sliced vs denoising SM.

What is timed (best of ``--repeat`` interleaved runs each, in one process, on one machine; CUDA is
synchronised around every run):

1. Exact Jacobian trace of an MLP score model at d = 64 (``--d-trace``), batch 256, against the
   loop that implementations without ``torch.func`` use,
   ``for i in range(d): grad(s[:, i].sum(), x)[:, i]``. Both methods of
   :func:`accelerated.score_matching.jacobian_trace` are timed:

   * ``method="vmap"`` (any model): one forward pass, d vector-Jacobian products vmapped by
     ``torch.func``, with all d directions in one batch (``chunk_size=None``) and with
     ``chunk_size = 4096 // n`` (16 at n = 256), which keeps the vmapped activations in a CPU's
     cache. Its floor is one input-gradient (backward) pass of the model on n d rows, given its
     forward graph: the arithmetic it shares with the loop (d backward passes of a batch of n).
   * ``method="factored"`` (what ``"auto"`` picks for an ``nn.Sequential`` MLP): the trace of the
     product of weights and activation derivatives, rotated cyclically into one bilinear form per
     sample, O(h^2) instead of O(d h^2). One forward pass of the model is printed beside it.

   Then the same with three hidden layers, where the factored method has to push the identity of
   the input through the two inner layers: O(d h^2) like the loop, with fewer operations.

   Two uses: *value*, under ``torch.no_grad`` against the loop with ``create_graph=False``; and
   *training step*, the trace as a loss term, value plus ``backward()`` to the parameters (ours
   under grad mode, the loop with ``create_graph=True``). Target: ours >= 1.5x faster than the loop.
2. Sliced score matching against denoising score matching, per training step (forward and
   ``backward()`` to the parameters) of the same model, at d = 16, 64, 256, 1024 (``--dims``):
   :func:`~accelerated.score_matching.sliced_score_matching` and ``sliced_score_matching_vr`` with
   one projection per sample, against :func:`~accelerated.score_matching.denoising_score_matching`
   (the floor: one forward and one backward pass). Target: SSM <= 3x DSM, whatever d.

The model is a score MLP d -> 256 -> 256 -> d with tanh activations (``--hidden``), float32. Value
checks are off (``accelerated.set_value_checks(False)``, the training-loop setting). The thread
count is torch's default unless ``--threads`` is given (on a small shared CPU, one thread gives the
steadiest ratios). These are measurements, not tests: nothing is asserted about time.

Run: ``PYTHONPATH=. python benchmarks/bench_score_matching.py [--threads 1] [--repeat 20]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import nn

from accelerated import score_matching as sm
from accelerated import set_value_checks


def mlp(d: int, hidden: int, device: str, n_hidden: int = 2) -> nn.Module:
    """d -> hidden -> ... -> hidden -> d with ``n_hidden`` tanh hidden layers."""
    layers: list[nn.Module] = [nn.Linear(d, hidden), nn.Tanh()]
    for _ in range(n_hidden - 1):
        layers += [nn.Linear(hidden, hidden), nn.Tanh()]
    return nn.Sequential(*layers, nn.Linear(hidden, d)).to(device)


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def best_of_interleaved(fns: dict[str, Callable[[], object]], repeat: int, device: str) -> dict[str, float]:
    """Best wall time of each function over ``repeat`` rounds, the functions interleaved within a round."""
    for fn in fns.values():  # warm-up: allocator, kernels, functorch caches
        fn()
        fn()
    best = dict.fromkeys(fns, float("inf"))
    for _ in range(repeat):
        for name, fn in fns.items():
            sync(device)
            start = time.perf_counter()
            fn()
            sync(device)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def loop_trace(model: nn.Module, x: torch.Tensor, create_graph: bool) -> torch.Tensor:
    """The per-dimension autograd loop: d backward passes, one diagonal entry each."""
    x = x.detach().requires_grad_(True)
    s = model(x)
    trace = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
    for i in range(x.shape[1]):
        (g,) = torch.autograd.grad(s[:, i].sum(), x, create_graph=create_graph, retain_graph=True)
        trace = trace + g[:, i]
    return trace


def bench_trace(d: int, n: int, hidden: int, repeat: int, device: str, n_hidden: int = 2) -> None:
    torch.manual_seed(0)
    model = mlp(d, hidden, device, n_hidden)
    x = torch.randn(n, d, device=device)
    loop = loop_trace(model, x, create_graph=False)
    err = {
        method: float((sm.jacobian_trace(model, x, method=method) - loop).abs().max().detach() / loop.abs().max())
        for method in ("vmap", "factored")
    }
    rows = torch.randn(n * d, d, device=device, requires_grad=True)
    out_rows = model(rows)  # the forward pass is not part of the floor: both methods run it on n rows only
    cotangents = torch.randn_like(out_rows)

    def floor() -> None:
        torch.autograd.grad(out_rows, rows, grad_outputs=cotangents, retain_graph=True)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    chunk = max(1, 4096 // n)  # vmapped rows per chunk ~ 4096: the activations stay in cache on a CPU
    variants = {"vmap": ("vmap", None), "vmap_chunked": ("vmap", chunk), "factored": ("factored", None)}
    if n_hidden > 2:  # the factored method pushes a basis here, so chunk_size matters to it too
        variants["factored_chunked"] = ("factored", chunk)

    def ours_value(method: str, chunk_size: int | None) -> None:
        with torch.no_grad():
            sm.jacobian_trace(model, x, chunk_size=chunk_size, method=method)

    def ours_step(method: str, chunk_size: int | None) -> None:
        model.zero_grad(set_to_none=True)
        sm.jacobian_trace(model, x, chunk_size=chunk_size, method=method).mean().backward()

    def loop_value() -> None:
        loop_trace(model, x, create_graph=False)

    def loop_step() -> None:
        model.zero_grad(set_to_none=True)
        loop_trace(model, x, create_graph=True).mean().backward()

    fns: dict[str, Callable[[], object]] = {"floor": floor, "forward": forward, "loop_value": loop_value}
    fns["loop_step"] = loop_step
    for key, args in variants.items():
        fns[f"{key}_value"] = lambda args=args: ours_value(*args)
        fns[f"{key}_step"] = lambda args=args: ours_step(*args)
    t = best_of_interleaved(fns, repeat, device)
    shape = "-".join(map(str, [d] + [hidden] * n_hidden + [d]))
    print(f"\n1. Exact Jacobian trace, MLP {shape} (tanh), batch {n}, float32 on {device}")
    print(f"   max relative difference from the loop: vmap {err['vmap']:.2e}, factored {err['factored']:.2e}")
    print(
        f"   one forward pass {t['forward'] * 1e3:.2f} ms; floor of the d-pass methods (one input-gradient "
        f"pass on n d = {n * d} rows) {t['floor'] * 1e3:.2f} ms"
    )
    print("   method                                value ms  loop / ours     step ms  loop / ours")
    labels = {
        "loop": "per-dimension autograd loop (baseline)",
        "vmap": "vmap, all d at once",
        "vmap_chunked": f"vmap, chunk_size={chunk}",
        "factored": "factored (method='auto' picks it)",
    }
    if n_hidden > 2:
        labels["factored_chunked"] = f"factored, chunk_size={chunk}"
    for key, label in labels.items():
        value, step = t[f"{key}_value"], t[f"{key}_step"]
        print(
            f"   {label:38s} {value * 1e3:8.2f}  {t['loop_value'] / value:10.2f}x  {step * 1e3:9.2f}  "
            f"{t['loop_step'] / step:10.2f}x"
        )
    print("   (target: loop / ours >= 1.5x)")


def bench_sliced(dims: list[int], n: int, hidden: int, repeat: int, device: str) -> None:
    print(f"\n2. Training step (forward + backward to the parameters), MLP d-{hidden}-{hidden}-d, batch {n}, float32")
    print("       d     DSM ms    SSM ms  SSM-VR ms   SSM / DSM  SSM-VR / DSM   (target <= 3x)")
    for d in dims:
        torch.manual_seed(0)
        model = mlp(d, hidden, device)
        x, eps = torch.randn(n, d, device=device), torch.randn(n, d, device=device)
        v = torch.randn(1, n, d, device=device)

        def dsm(model=model, x=x, eps=eps) -> None:
            model.zero_grad(set_to_none=True)
            sm.denoising_score_matching(model, x, 0.5, noise=eps).backward()

        def ssm(model=model, x=x, v=v) -> None:
            model.zero_grad(set_to_none=True)
            sm.sliced_score_matching(model, x, noise=v).backward()

        def ssm_vr(model=model, x=x, v=v) -> None:
            model.zero_grad(set_to_none=True)
            sm.sliced_score_matching_vr(model, x, noise=v).backward()

        t = best_of_interleaved({"dsm": dsm, "ssm": ssm, "ssm_vr": ssm_vr}, repeat, device)
        print(
            f"    {d:4d}  {t['dsm'] * 1e3:9.2f} {t['ssm'] * 1e3:9.2f}  {t['ssm_vr'] * 1e3:9.2f}"
            f"   {t['ssm'] / t['dsm']:8.2f}x  {t['ssm_vr'] / t['dsm']:11.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--d-trace", type=int, default=64)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--dims", type=int, nargs="+", default=[16, 64, 256, 1024])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    set_value_checks(False)  # the training-loop setting: no host reads of the inputs (both sides alike)
    print(
        f"score-matching benchmark: torch {torch.__version__}, device {args.device}, "
        f"{torch.get_num_threads()} CPU threads, best of {args.repeat} interleaved runs"
    )
    bench_trace(args.d_trace, args.batch, args.hidden, args.repeat, args.device)
    bench_trace(args.d_trace, args.batch, args.hidden, args.repeat, args.device, n_hidden=3)
    bench_sliced(args.dims, args.batch, args.hidden, args.repeat, args.device)


if __name__ == "__main__":
    main()
