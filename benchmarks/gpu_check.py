"""One GPU run of every check that needs a GPU, in at most 8 minutes: a JSON of all figures and one table.

Run from the repository root::

    python benchmarks/gpu_check.py --out gpu-check                 # one GPU, about 5-8 minutes
    python benchmarks/gpu_check.py --out /tmp/gc --smoke --device cpu --skip crosscheck,example   # plumbing

It writes ``OUT/gpu_check.json`` (every figure; per stage its status ok / failed / skipped, seconds and
error text) and ``OUT/gpu_check.md`` (one markdown table: stage, figure, ratio, target, pass/fail), and
prints the table. Stages (all five by default; ``--skip a,b`` or ``--stages a,b`` to choose):

1. ``crosscheck``: ``python -m crosscheck --device cuda --quick --out OUT/crosscheck`` in a subprocess
   (timeout ``--crosscheck-timeout``, default 180 s): its exit code and summary line.
2. ``sync``: every training loss (forward and backward) and every sampler under
   ``torch.cuda.set_sync_debug_mode("error")`` with the library's default settings (value checks
   ``"async"``); each function is called once before the debug mode is switched on (first-call lazy
   initialisation: cuDNN / cuBLAS handles, the jiterator kernel, cached schedule tables). A host
   synchronisation raises: the function, the error and the library line that synchronised are recorded,
   and a second call under ``"warn"`` lists every synchronising line with its count.
3. ``graphs``: CUDA-graph capture and replay (side-stream warm-up, ``torch.cuda.graph``) of
   ``ddpm_sample`` with pre-drawn ``noise=`` and a fixed small model, of one training step (forward,
   backward, ``Adam(capturable=True)`` step) and of ``ddim_sample``; replay against an eager run
   (allclose) and the replay speed-up.
4. ``ratios``: the benchmarks' GPU ratios against their floors, measured in this run (CUDA
   synchronisation around every timing, warm-up, median of interleaved repeats): FID at d = 2048 against
   one ``eigvalsh`` (target <= 1.5), prdc at n = 50000, d = 2048 against the three blocked GEMMs (<= 1.3),
   Sinkhorn at n = 10000 against bench_sinkhorn's plain log-domain iterations (>= 10x), DDPM and DDIM
   samplers against hand-written loops (<= 1.1), Langevin against the copy bandwidth (>= 0.8).
5. ``example``: ``python examples/train_ddpm.py --device cuda --bf16 --compile --max-seconds 60
   --eval-samples 1000 --out OUT/train_ddpm --no-progress`` in a subprocess, and its ``metrics.json``
   (skipped with the reason if the file does not exist).

Stages 2-4 run one after another, each in its own child process of this script (a hard timeout, and a
device-side assertion or a failed capture cannot poison the next stage); stages 1 and 5 then run at the
same time (``--serial`` runs them one after the other), so that the timings of stage 4 have the GPU to
themselves. Every stage and every item in it is wrapped: an exception is recorded with its text and the
run goes on. A stage's time is capped by its budget and by ``--deadline-s`` (default 470 s for the whole
script); what a killed child had finished is kept. Without CUDA, or with ``--smoke``, every stage runs
at tiny sizes (the CUDA-only parts, the debug mode and the graphs, are recorded as "skipped: no CUDA" on
the CPU). The exit status is 0 once the report is written; the report says what passed.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import datetime as _dt
import functools
import json
import math
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
for _path in (str(ROOT), str(HERE)):  # the library, and the bench_* modules whose functions are reused
    if _path not in sys.path:
        sys.path.insert(0, _path)

STAGES = ("crosscheck", "sync", "graphs", "ratios", "example")
CHILD_STAGES = ("sync", "graphs", "ratios")  # run in a child process of this script, one after another
BUDGET_S = {"sync": 60.0, "graphs": 60.0, "ratios": 150.0}  # seconds, caps (expected: 20-30, 20, 30-60)
RESERVE_S = 8.0  # kept back from the deadline for writing the report
MIN_STAGE_S = 15.0  # a stage with less time than this left is skipped
LIB = str(ROOT / "accelerated")
EXAMPLE = ROOT / "examples" / "train_ddpm.py"
WARM_UP_NOTE = (
    "each function is called once before the debug mode is switched on (first-call lazy initialisation: "
    "cuDNN/cuBLAS handles, the jiterator kernel's compilation, the per-dtype schedule tables and cached 0-d "
    "constants; the NCSN sigma table is validated on first use and not again while unchanged); only the "
    "second call runs under set_sync_debug_mode('error')"
)


class Skip(Exception):
    """An item that cannot run here (no CUDA, not enough time): recorded as skipped, not failed."""


class Reported(Exception):
    """A failure whose table row the item has written itself (the item is recorded as failed)."""


# --------------------------------------------------------------------------- small models


@functools.cache
def _models() -> SimpleNamespace:
    """The small models of stages 2 and 3 (defined on first use: the parent process never imports torch
    when it is told ``--device cpu``, which keeps the smoke run short)."""
    import torch
    import torch.nn.functional as F
    from torch import nn

    class TinyNet(nn.Module):
        """Two 3x3 convolutions; an optional per-sample c (a position t or a level sigma, shape (n,)) enters the
        hidden channels as sin(c * freq): an eps model, or a (noise-conditional) score model, on (n, 1, 8, 8)."""

        def __init__(self, channels: int = 1, hidden: int = 32) -> None:
            super().__init__()
            self.a = nn.Conv2d(channels, hidden, 3, padding=1)
            self.b = nn.Conv2d(hidden, channels, 3, padding=1)
            self.register_buffer("freq", torch.linspace(0.01, 1.0, hidden))

        def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
            h = self.a(x)
            if c is not None:
                h = h + torch.sin(c.to(h.dtype)[:, None] * self.freq)[:, :, None, None]
            return self.b(F.silu(h))

    class TinyCritic(nn.Module):
        """A 3x3 convolution, SiLU, a linear layer to one logit per sample, shape (n, 1)."""

        def __init__(self, channels: int = 1, hidden: int = 16, side: int = 8) -> None:
            super().__init__()
            self.conv = nn.Conv2d(channels, hidden, 3, padding=1)
            self.head = nn.Linear(hidden * side * side, 1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(F.silu(self.conv(x)).flatten(1))

    class TinyGenerator(nn.Module):
        """z (n, 16) -> tanh(linear) images (n, 1, 8, 8)."""

        def __init__(self, z: int = 16, channels: int = 1, side: int = 8) -> None:
            super().__init__()
            self.shape = (channels, side, side)
            self.fc = nn.Linear(z, channels * side * side)

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return torch.tanh(self.fc(z)).view(-1, *self.shape)

    return SimpleNamespace(TinyNet=TinyNet, TinyCritic=TinyCritic, TinyGenerator=TinyGenerator)


# --------------------------------------------------------------------------- helpers


def _sync(device: torch.device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved(
    fns: dict[str, Callable[[], Any]], device: torch.device, reps: int, inner: int = 1, warmup: int = 1
) -> tuple[dict[str, float], dict[str, list[float]], dict[str, Any]]:
    """Median seconds per call of each function over ``reps`` rounds in rotating order (each round: ``inner``
    calls between two device synchronisations), after ``warmup`` calls of each; and the last outputs."""
    names, outs = list(fns), {}
    for name in names:
        for _ in range(warmup):
            outs[name] = fns[name]()
    _sync(device)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(reps):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            _sync(device)
            start = time.perf_counter()
            for _ in range(inner):
                outs[name] = fns[name]()
            _sync(device)
            times[name].append((time.perf_counter() - start) / inner)
    return {name: statistics.median(v) for name, v in times.items()}, times, outs


def _error_text(err: BaseException, limit: int = 1500) -> str:
    """``Type: message``, with the exceptions it was raised from or while handling (a failed capture's
    ``capture_end`` error hides the error that broke the capture)."""
    parts, seen = [], set()
    while err is not None and id(err) not in seen and len(parts) < 4:
        seen.add(id(err))
        parts.append(f"{type(err).__name__}: {str(err).strip()}")
        err = err.__cause__ or (None if err.__suppress_context__ else err.__context__)
    text = " <- raised while handling: ".join(parts)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _lib_site(frames: list[traceback.FrameSummary], fallback: bool = False) -> str | None:
    """The innermost frame inside accelerated/, as 'path:line (function): code'; with ``fallback``, else
    the innermost frame outside torch (a sync inside autograd's backward is seen at the ``backward`` call)."""
    inside = [f for f in frames if f.filename.startswith(LIB)]
    if not inside and fallback:
        skip = (f"{os.sep}torch{os.sep}", warnings.__file__)
        inside = [f for f in frames if not any(part in f.filename for part in skip)]
    if not inside:
        return None
    f = inside[-1]
    where = os.path.relpath(f.filename, ROOT) if f.filename.startswith(str(ROOT)) else f.filename
    return f"{where}:{f.lineno} ({f.name}): {(f.line or '').strip()}"


def _is_sync_error(err: BaseException) -> bool:
    return isinstance(err, RuntimeError) and "synchroniz" in str(err)


def environment(device: torch.device) -> dict[str, Any]:
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "device": str(device),
        "machine": platform.machine(),
        "cpu_threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        env.update(
            device_name=props.name,
            capability=f"{props.major}.{props.minor}",
            memory_gib=round(props.total_memory / 2**30, 1),
            cudnn=torch.backends.cudnn.version(),
            tf32_matmul=torch.backends.cuda.matmul.allow_tf32,
            tf32_cudnn=torch.backends.cudnn.allow_tf32,
        )
    return env


# --------------------------------------------------------------------------- a stage's record (child side)


class Ctx:
    """What a stage records: items (status, seconds, error, figures), table rows, stage figures; saved to
    JSON after every item, so that a child killed at its timeout leaves what it had finished."""

    def __init__(self, stage: str, device: torch.device, tiny: bool, seconds: float, path: Path) -> None:
        self.stage, self.device, self.tiny, self.path = stage, device, tiny, path
        self.cuda = device.type == "cuda"
        self.t_end = time.monotonic() + seconds
        self.data: dict[str, Any] = {
            "stage": stage,
            "device": str(device),
            "tiny": tiny,
            "budget_s": seconds,
            "error": None,
            "done": False,
            "figures": {},
            "items": {},
            "rows": [],
        }

    @property
    def figures(self) -> dict[str, Any]:
        return self.data["figures"]

    def left(self) -> float:
        return self.t_end - time.monotonic()

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str))
        os.replace(tmp, self.path)

    def row(
        self,
        figure: str,
        *,
        ratio: float | None = None,
        ratio_text: str | None = None,
        target: str = "-",
        result: str = "info",
    ) -> None:
        if ratio_text is None:
            ratio_text = "-" if ratio is None else f"{ratio:.3g}"
        self.data["rows"].append(
            {
                "stage": self.stage,
                "figure": figure,
                "ratio": ratio,
                "ratio_text": ratio_text,
                "target": target,
                "result": result,
            }
        )

    def ratio_row(self, figure: str, ratio: float, op: str, bound: float, unit: str = "x") -> None:
        ok = math.isfinite(ratio) and (ratio <= bound if op == "<=" else ratio >= bound)
        result = "pass" if ok else "FAIL"
        self.row(
            figure,
            ratio=ratio,
            ratio_text=f"{ratio:.3g}{unit}",
            target=f"{op} {bound:g}{unit}",
            result=f"(tiny sizes, not judged: {result.lower()})" if self.tiny else result,
        )

    def run(self, name: str, fn: Callable[[dict], Any], *, need_s: float = 0.0, target: str = "-") -> Any:
        """Run one item: ``fn(rec)`` fills ``rec`` (a dict of its figures); an exception is recorded, not raised."""
        rec: dict[str, Any] = {"status": "running", "seconds": None, "error": None}
        self.data["items"][name] = rec
        if self.left() < need_s:
            rec.update(
                status="skipped", seconds=0.0, error=f"skipped: {self.left():.0f} s left, about {need_s:.0f} s needed"
            )
            self.row(f"{name}: {rec['error']}", target=target, result="skipped")
            self.save()
            return None
        self.save()
        start = time.perf_counter()
        try:
            out = fn(rec)
            rec["status"] = "ok"
            return out
        except Skip as why:
            rec.update(status="skipped", error=f"skipped: {why}")
            self.row(f"{name}: skipped: {why}", target=target, result="skipped")
        except Exception as err:
            rec.update(status="failed", error=_error_text(err))
            rec.setdefault("traceback", traceback.format_exc()[-4000:])
            if not isinstance(err, Reported):
                self.row(f"{name}: {_error_text(err, 200)}", target=target, result="FAIL")
        finally:
            rec["seconds"] = round(time.perf_counter() - start, 3)
            self.save()
        return None


# --------------------------------------------------------------------------- stage 2: host synchronisations


def _sync_sites(fn: Callable[[], Any], limit: int = 20) -> list[dict[str, Any]]:
    """Every library line that synchronises during ``fn()`` (sync debug mode 'warn'), with its count."""
    import torch

    counts: Counter[str] = Counter()

    def show(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):
            counts[_lib_site(traceback.extract_stack()[:-1], fallback=True) or f"{filename}:{lineno}"] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return [{"site": site, "count": n} for site, n in counts.most_common(limit)]


def _no_sync_item(ctx: Ctx, name: str, build: Callable[[], Callable[[], Any]]) -> Callable[[dict], None]:
    import torch

    def item(rec: dict) -> None:
        fn = build()  # inputs and models exist before the debug mode
        fn()  # warm-up (lazy initialisation)
        _sync(ctx.device)
        if not ctx.cuda:
            fn()
            rec["sync_check"] = "skipped: no CUDA (the function ran twice on the CPU)"
            ctx.row(
                f"{name}: ran on the CPU; sync debug mode skipped: no CUDA", target="no host sync", result="skipped"
            )
            return
        torch.cuda.set_sync_debug_mode("error")
        caught = None
        try:
            fn()
        except RuntimeError as err:
            if not _is_sync_error(err):
                raise
            caught = err
        finally:
            torch.cuda.set_sync_debug_mode("default")
        torch.cuda.synchronize()  # a failed device-side value check surfaces here, outside the debug mode
        if caught is None:
            rec["sync_check"] = "no host synchronisation"
            ctx.row(f"{name}: no host sync", target="no host sync", result="pass")
            return
        where = _lib_site(traceback.extract_tb(caught.__traceback__), fallback=True) or "(see the traceback)"
        rec.update(sync_check="synchronised", first_sync=where, traceback=traceback.format_exception(caught)[-6:])
        with contextlib.suppress(Exception):
            rec["sync_sites"] = _sync_sites(fn)
        ctx.row(f"{name}: host sync at {where}", target="no host sync", result="FAIL")
        raise Reported(f"host synchronisation at {where}: {caught}")

    return item


def stage_sync(ctx: Ctx) -> None:
    import torch

    from accelerated import diffusion as D
    from accelerated import gan as G
    from accelerated import get_value_checks
    from accelerated import langevin as L
    from accelerated import score_matching as SM

    M = _models()
    dev = ctx.device
    ctx.figures.update(
        value_checks=get_value_checks(),
        warm_up=WARM_UP_NOTE,
        debug_mode="error" if ctx.cuda else "skipped: no CUDA",
    )
    n = 8 if ctx.tiny else 64
    shape, hidden = (n, 1, 8, 8), (8 if ctx.tiny else 32)
    T = 10 if ctx.tiny else 1000
    ddim_steps = 5 if ctx.tiny else 50
    K = 3 if ctx.tiny else 50  # Langevin and MALA steps
    K_each = 1 if ctx.tiny else 5  # annealed Langevin steps per level
    ctx.figures.update(shape=list(shape), T=T, ddim_steps=ddim_steps, langevin_steps=K, annealed_steps_each=K_each)
    gen = torch.Generator(dev).manual_seed(0)

    def randn(*size: int) -> torch.Tensor:
        return torch.randn(size, generator=gen, device=dev)

    torch.manual_seed(0)
    eps_model, score_model = M.TinyNet(hidden=hidden).to(dev), M.TinyNet(hidden=hidden).to(dev)
    critic, generator = M.TinyCritic().to(dev), M.TinyGenerator().to(dev)
    S = D.Schedule(D.linear_beta_schedule(T).to(dev))
    x0, eps = randn(*shape), randn(*shape)
    t = torch.randint(0, T, (n,), generator=gen, device=dev)
    sigmas = SM.geometric_sigmas(1.0, 0.01, 10).to(device=dev, dtype=torch.float32)
    sigma_list = [float(s) for s in SM.geometric_sigmas(1.0, 0.01, 10)]
    levels = torch.randint(0, 10, (n,), generator=gen, device=dev)
    probes = randn(1, *shape)
    z, u = randn(n, 16), torch.rand(n, generator=gen, device=dev)
    noise_T = randn(T, *shape)
    noise_K = randn(K, *shape)
    noise_LK = randn(10, K_each, *shape)
    xv, noise_v, uniforms = randn(n, 2), randn(K, n, 2), torch.rand(K, n, generator=gen, device=dev)

    def backward(loss: torch.Tensor) -> torch.Tensor:
        loss.backward()
        return loss

    def no_grad(fn: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> Any:
            with torch.no_grad():
                return fn()

        return run

    def log_prob(x: torch.Tensor) -> torch.Tensor:
        return -0.5 * (x * x).sum(dim=1)

    def gaussian_score(x: torch.Tensor) -> torch.Tensor:
        return -x

    cases: dict[str, Callable[[], Any]] = {
        "diffusion.l_simple (q_sample, eps model, backward)": lambda: backward(
            D.l_simple(eps, eps_model(D.q_sample(x0, t, S, eps), t)).mean()
        ),
        "score_matching.ncsn_loss (noise=, levels=; backward)": lambda: backward(
            SM.ncsn_loss(score_model, x0, sigmas, levels=levels, noise=eps)
        ),
        "score_matching.ncsn_loss (rng=; backward)": lambda: backward(SM.ncsn_loss(score_model, x0, sigmas, rng=gen)),
        "score_matching.denoising_score_matching (backward)": lambda: backward(
            SM.denoising_score_matching(score_model, x0, 0.1, noise=eps)
        ),
        "score_matching.sliced_score_matching (backward)": lambda: backward(
            SM.sliced_score_matching(score_model, x0, noise=probes)
        ),
        "gan.discriminator_loss (backward)": lambda: backward(
            G.discriminator_loss(critic(x0), critic(generator(z).detach()))
        ),
        "gan.generator_loss non_saturating (backward)": lambda: backward(
            G.generator_loss(critic(generator(z)), kind="non_saturating")
        ),
        "gan.r1_penalty (backward)": lambda: backward(G.r1_penalty(critic, x0, gamma=10.0)),
        "gan.gradient_penalty (noise=; backward)": lambda: backward(
            G.gradient_penalty(critic, x0, generator(z), noise=u)
        ),
        "diffusion.ddpm_sample (noise=)": no_grad(lambda: D.ddpm_sample(eps_model, shape, S, noise=noise_T)),
        "diffusion.ddpm_sample (rng=)": no_grad(lambda: D.ddpm_sample(eps_model, shape, S, rng=gen)),
        "diffusion.ddim_sample (noise=, eta 0)": no_grad(
            lambda: D.ddim_sample(eps_model, shape, S, noise=noise_T[:1], n_steps=ddim_steps, eta=0.0)
        ),
        "diffusion.ddim_sample (rng=, eta 1)": no_grad(
            lambda: D.ddim_sample(eps_model, shape, S, rng=gen, n_steps=ddim_steps, eta=1.0)
        ),
        "langevin.langevin_sample (noise=)": no_grad(
            lambda: L.langevin_sample(score_model, x0, step_size=1e-3, n_steps=K, noise=noise_K)
        ),
        "langevin.annealed_langevin_sample (sigmas tensor, noise=)": no_grad(
            lambda: L.annealed_langevin_sample(
                score_model, x0, sigmas, step_size=2e-5, n_steps_each=K_each, noise=noise_LK
            )
        ),
        "langevin.annealed_langevin_sample (sigmas list, rng=)": no_grad(
            lambda: L.annealed_langevin_sample(
                score_model, x0, sigma_list, step_size=2e-5, n_steps_each=K_each, rng=gen
            )
        ),
        "langevin.mala_sample (noise=, uniforms=)": no_grad(
            lambda: L.mala_sample(
                log_prob, gaussian_score, xv, step_size=0.1, n_steps=K, noise=noise_v, uniforms=uniforms
            )
        ),
    }
    for name, fn in cases.items():
        ctx.run(name, _no_sync_item(ctx, name, lambda fn=fn: fn), target="no host sync")


# --------------------------------------------------------------------------- stage 3: CUDA graphs


def _capture(fn: Callable[[], Any], warmup: int = 2) -> tuple[torch.cuda.CUDAGraph, Any]:
    """Warm ``fn`` up on a side stream, as the PyTorch docs describe, then capture one call."""
    import torch

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn()
    return graph, out


def _max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).abs().max())


def stage_graphs(ctx: Ctx) -> None:
    import torch
    from torch import nn

    from accelerated import diffusion as D

    M = _models()
    dev = ctx.device
    n = 8 if ctx.tiny else 64
    shape, hidden = (n, 1, 8, 8), (8 if ctx.tiny else 32)
    T = 10 if ctx.tiny else 1000
    ddim_steps = 5 if ctx.tiny else 50
    warm_steps, steps = 3, (2 if ctx.tiny else 10)
    reps = 1 if ctx.tiny else 7
    ctx.figures.update(shape=list(shape), T=T, ddim_steps=ddim_steps, train_steps_compared=steps)
    gen = torch.Generator(dev).manual_seed(0)
    S = D.Schedule(D.linear_beta_schedule(T).to(dev))
    torch.manual_seed(0)
    model = M.TinyNet(hidden=hidden).to(dev).eval().requires_grad_(False)
    noise = torch.randn((T, *shape), generator=gen, device=dev)

    def sampler_item(label: str, sample: Callable[[torch.Tensor], torch.Tensor], noise_like: torch.Tensor):
        def item(rec: dict) -> None:
            with torch.no_grad():
                eager = sample(noise_like)
            _sync(dev)
            rec["eager_finite"] = bool(torch.isfinite(eager).all())
            if not ctx.cuda:
                raise Skip("no CUDA (the eager sampler ran on the CPU)")
            static_noise = noise_like.clone()

            def call() -> torch.Tensor:
                with torch.no_grad():
                    return sample(static_noise)

            graph, static_out = _capture(call)
            graph.replay()
            torch.cuda.synchronize()
            same = bool(torch.allclose(static_out, eager, rtol=1e-4, atol=1e-4))
            rec.update(max_abs_diff=_max_diff(static_out, eager), bitwise_equal=bool(torch.equal(static_out, eager)))
            fresh = torch.randn(noise_like.shape, generator=gen, device=dev)  # new inputs through the same graph
            static_noise.copy_(fresh)
            graph.replay()
            with torch.no_grad():
                eager_fresh = sample(fresh)
            torch.cuda.synchronize()
            same_fresh = bool(torch.allclose(static_out, eager_fresh, rtol=1e-4, atol=1e-4))
            rec["max_abs_diff_fresh_noise"] = _max_diff(static_out, eager_fresh)
            medians, _, _ = interleaved({"eager": call, "replay": graph.replay}, dev, reps)
            speedup = medians["eager"] / medians["replay"]
            rec.update(eager_s=medians["eager"], replay_s=medians["replay"], speedup=speedup)
            ctx.row(
                f"{label}: replay == eager (allclose 1e-4; max |diff| {rec['max_abs_diff']:.1e}, fresh noise "
                f"{rec['max_abs_diff_fresh_noise']:.1e})",
                target="allclose",
                result="pass" if same and same_fresh else "FAIL",
            )
            ctx.row(
                f"{label}: replay speed-up (eager {1e3 * medians['eager']:.2f} ms, "
                f"replay {1e3 * medians['replay']:.2f} ms)",
                ratio=speedup,
                ratio_text=f"{speedup:.3g}x",
                target="(recorded)",
            )

        return item

    ctx.run(
        f"ddpm_sample capture ({T} steps, noise=)",
        sampler_item(f"ddpm_sample graph, {T} steps", lambda z: D.ddpm_sample(model, shape, S, noise=z), noise),
        target="allclose",
    )

    def train_item(rec: dict) -> None:
        torch.manual_seed(1)
        base = M.TinyNet(hidden=hidden).to(dev)
        m_graph, m_eager = copy.deepcopy(base), copy.deepcopy(base)
        opt_graph = torch.optim.Adam(m_graph.parameters(), lr=1e-3, capturable=ctx.cuda)
        opt_eager = torch.optim.Adam(m_eager.parameters(), lr=1e-3, capturable=ctx.cuda)
        total = warm_steps + steps
        x0s = torch.randn((total, *shape), generator=gen, device=dev)
        epss = torch.randn((total, *shape), generator=gen, device=dev)
        ts = torch.randint(0, T, (total, n), generator=gen, device=dev)

        def loss_of(m: nn.Module, x0: torch.Tensor, t: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
            return D.l_simple(eps, m(D.q_sample(x0, t, S, eps), t)).mean()

        def eager_step(i: int) -> torch.Tensor:
            opt_eager.zero_grad(set_to_none=True)
            loss = loss_of(m_eager, x0s[i], ts[i], epss[i])
            loss.backward()
            opt_eager.step()
            return loss.detach()

        if not ctx.cuda:
            losses = [float(eager_step(i)) for i in range(total)]
            rec["eager_losses"] = losses
            raise Skip("no CUDA (the eager training steps ran on the CPU)")
        static = [x0s[0].clone(), ts[0].clone(), epss[0].clone()]

        def load(i: int) -> None:
            for buf, src in zip(static, (x0s[i], ts[i], epss[i])):
                buf.copy_(src)

        def body() -> torch.Tensor:
            loss = loss_of(m_graph, *static)
            loss.backward()
            opt_graph.step()
            return loss

        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):  # warm-up: Adam's state, the cached tables, cuDNN
            for i in range(warm_steps):
                load(i)
                opt_graph.zero_grad(set_to_none=True)
                body()
        torch.cuda.current_stream().wait_stream(side)
        for i in range(warm_steps):  # the eager model takes the same warm-up steps
            eager_step(i)
        opt_graph.zero_grad(set_to_none=True)  # backward inside the graph allocates the grads from its pool
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_loss = body()
        loss_graph, loss_eager = [], []
        for i in range(warm_steps, total):
            load(i)
            graph.replay()
            loss_graph.append(static_loss.detach().clone())
            loss_eager.append(eager_step(i))
        torch.cuda.synchronize()
        lg, le = torch.stack(loss_graph), torch.stack(loss_eager)
        p_graph = torch.cat([p.detach().flatten() for p in m_graph.parameters()])
        p_eager = torch.cat([p.detach().flatten() for p in m_eager.parameters()])
        same_loss = bool(torch.allclose(lg, le, rtol=1e-4, atol=1e-6))
        same_params = bool(torch.allclose(p_graph, p_eager, rtol=1e-3, atol=1e-5))
        rec.update(
            losses_graph=lg.tolist(),
            losses_eager=le.tolist(),
            max_abs_diff_loss=_max_diff(lg, le),
            max_abs_diff_params=_max_diff(p_graph, p_eager),
        )

        def replay_step() -> None:
            load(total - 1)
            graph.replay()

        medians, _, _ = interleaved({"eager": lambda: eager_step(total - 1), "replay": replay_step}, dev, reps, inner=5)
        speedup = medians["eager"] / medians["replay"]
        rec.update(eager_step_s=medians["eager"], replay_step_s=medians["replay"], speedup=speedup)
        ctx.row(
            f"training step graph (l_simple, backward, Adam capturable), {steps} steps: losses and parameters "
            f"== eager (max |diff| {rec['max_abs_diff_loss']:.1e}, {rec['max_abs_diff_params']:.1e})",
            target="allclose",
            result="pass" if same_loss and same_params else "FAIL",
        )
        ctx.row(
            f"training step replay speed-up (eager {1e6 * medians['eager']:.0f} us, replay "
            f"{1e6 * medians['replay']:.0f} us per step)",
            ratio=speedup,
            ratio_text=f"{speedup:.3g}x",
            target="(recorded)",
        )

    ctx.run("training step capture (forward, backward, Adam capturable=True)", train_item, target="allclose")
    ctx.run(  # last: a failed capture is the likeliest thing here to leave the process in a bad state
        f"ddim_sample capture ({ddim_steps} steps, noise=)",
        sampler_item(
            f"ddim_sample graph, {ddim_steps} steps",
            lambda z: D.ddim_sample(model, shape, S, noise=z, n_steps=ddim_steps, eta=0.0),
            noise[:1],
        ),
        target="allclose",
    )


# --------------------------------------------------------------------------- stage 4: ratios to the floors


def stage_ratios(ctx: Ctx) -> None:
    import torch

    from accelerated import diffusion as D
    from accelerated import langevin as L
    from accelerated import metrics, transport, value_checks

    dev, tiny = ctx.device, ctx.tiny
    reps = 1 if tiny else 7
    f64 = torch.float64

    def fid_item(rec: dict) -> None:
        d = 32 if tiny else 2048
        gen = torch.Generator(dev).manual_seed(0)
        eye = torch.eye(d, dtype=f64, device=dev)
        mats = []
        for _ in range(2):
            a = torch.randn((d, d), generator=gen, device=dev, dtype=f64)
            mats.append(a @ a.T / d + 0.5 * eye)
        s1, s2 = mats
        m1, m2 = (torch.randn(d, generator=gen, device=dev, dtype=f64) for _ in range(2))
        medians, _, outs = interleaved(
            {
                "frechet_distance": lambda: metrics.frechet_distance(m1, s1, m2, s2),
                "eigvalsh": lambda: torch.linalg.eigvalsh(s1),
            },
            dev,
            reps,
            warmup=2,
        )
        value = float(outs["frechet_distance"])
        cpu = float(metrics.frechet_distance(m1.cpu(), s1.cpu(), m2.cpu(), s2.cpu()))
        rel = abs(value - cpu) / abs(cpu)
        ratio = medians["frechet_distance"] / medians["eigvalsh"]
        rec.update(
            d=d,
            ours_s=medians["frechet_distance"],
            eigvalsh_s=medians["eigvalsh"],
            ratio=ratio,
            fid=value,
            fid_cpu=cpu,
            rel_diff_cpu=rel,
        )
        ctx.ratio_row(
            f"FID d={d} f64: frechet_distance {1e3 * medians['frechet_distance']:.1f} ms / eigvalsh "
            f"{1e3 * medians['eigvalsh']:.1f} ms",
            ratio,
            "<=",
            1.5,
        )
        ctx.ratio_row(f"FID d={d}: value on {dev} vs the CPU (relative difference)", rel, "<=", 1e-8, unit="")

    def prdc_item(rec: dict) -> None:
        import bench_prdc

        n, d, k = (200, 16, 5) if tiny else (50_000, 2048, 5)
        real, fake = (t.to(dev) for t in bench_prdc.data(n, d))
        rows = max(1, (1 << 26) // n)  # bench_prdc's floor blocking: prdc's own default rows per block
        lib_rows = metrics._block_rows(None, n) if hasattr(metrics, "_block_rows") else None
        rec.update(n=n, d=d, k=k, rows_per_block=rows, prdc_rows_per_block=lib_rows)

        def floor() -> None:
            for a, b in ((real, real), (fake, fake), (fake, real)):
                for lo in range(0, n, rows):
                    torch.mm(a[lo : lo + rows], b.T)

        medians, _, outs = interleaved(
            {"prdc": lambda: metrics.prdc(real, fake, k=k), "3 GEMMs": floor}, dev, 1 if tiny else 3
        )
        ratio = medians["prdc"] / medians["3 GEMMs"]
        rec.update(
            prdc_s=medians["prdc"],
            floor_s=medians["3 GEMMs"],
            ratio=ratio,
            result={name: float(v) for name, v in outs["prdc"]._asdict().items()},
        )
        ctx.ratio_row(
            f"prdc n={n} d={d} f32: {medians['prdc']:.3f} s / 3 blocked GEMMs {medians['3 GEMMs']:.3f} s",
            ratio,
            "<=",
            1.3,
        )

    def sinkhorn_item(rec: dict) -> None:
        import bench_sinkhorn

        n, eps = (100 if tiny else 10_000), 0.05
        plain_iters = 10 if tiny else 200
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(n, 2, generator=gen, dtype=f64).to(dev)
        y = torch.rand(n, 2, generator=gen, dtype=f64).to(dev)
        a = torch.full((n,), 1.0 / n, dtype=f64, device=dev)
        b = a.clone()
        C = ((x[:, None] - y[None]) ** 2).sum(-1)
        transport.sinkhorn(x[:50], y[:50], epsilon=eps)  # warm-up
        bench_sinkhorn.plain_log_sinkhorn(C, a, b, eps, 2)
        medians, _, outs = interleaved(
            {
                "sinkhorn": lambda: transport.sinkhorn(x, y, epsilon=eps),
                "plain": lambda: bench_sinkhorn.plain_log_sinkhorn(C, a, b, eps, plain_iters),
            },
            dev,
            1 if tiny else 3,
            warmup=0,
        )
        ours = outs["sinkhorn"]
        plain_1000 = medians["plain"] / plain_iters * 1000
        speedup = plain_1000 / medians["sinkhorn"]
        iters = int(ours.n_iter)
        per_iter = medians["sinkhorn"] / max(iters, 1) / (medians["plain"] / plain_iters)
        rec.update(
            n=n,
            epsilon=eps,
            sinkhorn_s=medians["sinkhorn"],
            plain_s=medians["plain"],
            plain_iters=plain_iters,
            plain_1000_s_extrapolated=plain_1000,
            speedup_vs_1000_plain=speedup,
            iterations=iters,
            marginal_error=float(ours.marginal_error),
            converged=bool(ours.converged),
            per_iteration_ratio_ours_to_plain=per_iter,
        )
        ctx.ratio_row(
            f"Sinkhorn n={n} eps={eps} f64: {medians['sinkhorn']:.3f} s ({iters} it.) vs 1000 plain log-domain "
            f"iterations {plain_1000:.2f} s (from {plain_iters}); speed-up",
            speedup,
            ">=",
            10,
        )

    def ddpm_item(rec: dict) -> None:
        import bench_ddpm

        T, shape = (20, (4, 3, 8, 8)) if tiny else (1000, (8, 3, 16, 16))
        schedule = D.Schedule(D.linear_beta_schedule(T).to(dev))
        noise = torch.randn((T, *shape), generator=torch.Generator(dev).manual_seed(0), device=dev)
        eps_fn = bench_ddpm.TrivialEps(dev, torch.float32)
        medians, _, outs = interleaved(
            {
                "ddpm_sample": lambda: D.ddpm_sample(eps_fn, shape, schedule, noise=noise),
                "hand": lambda: bench_ddpm.hand_written_loop(eps_fn, schedule, noise),
                "floor": lambda: bench_ddpm.model_only_loop(eps_fn, schedule, noise),
            },
            dev,
            reps + 2,
        )
        ratio = medians["ddpm_sample"] / medians["hand"]
        above = (medians["ddpm_sample"] - medians["floor"]) / max(medians["hand"] - medians["floor"], 1e-12)
        identical = bool(torch.equal(outs["ddpm_sample"], outs["hand"]))
        rec.update(
            T=T,
            shape=list(shape),
            us_per_step={k: 1e6 * v / T for k, v in medians.items()},
            ratio=ratio,
            overhead_ratio_above_model=above,
            identical=identical,
        )
        ctx.ratio_row(
            f"DDPM T={T} {shape}: ddpm_sample {1e6 * medians['ddpm_sample'] / T:.1f} us/step / hand loop "
            f"{1e6 * medians['hand'] / T:.1f} us/step (identical: {identical})",
            ratio,
            "<=",
            1.1,
        )

    def ddim_item(rec: dict) -> None:
        import bench_training

        shape = (4, 3, 8, 8) if tiny else (64, 3, 32, 32)
        model = bench_training.make_model("trivial", shape, dev)
        library, hand = bench_training.ddim_case(model, shape, dev, torch.Generator(dev).manual_seed(1))
        torch.testing.assert_close(library(), hand(), rtol=2e-3, atol=1e-2)  # as bench_training checks
        steps = bench_training.DDIM_STEPS
        medians, _, _ = interleaved({"ddim_sample": library, "hand": hand}, dev, reps + 2, inner=1 if tiny else 5)
        ratio = medians["ddim_sample"] / medians["hand"]
        rec.update(
            shape=list(shape), steps=steps, us_per_step={k: 1e6 * v / steps for k, v in medians.items()}, ratio=ratio
        )
        ctx.ratio_row(
            f"DDIM {steps} steps {shape}: ddim_sample {1e6 * medians['ddim_sample'] / steps:.1f} us/step / hand loop "
            f"{1e6 * medians['hand'] / steps:.1f} us/step",
            ratio,
            "<=",
            1.1,
        )

    def langevin_item(rec: dict) -> None:
        N, K = (2**12, 5) if tiny else (2**25, 40)
        shape = (N // 64, 64)
        gen = torch.Generator(dev).manual_seed(0)
        x0 = torch.randn(shape, generator=gen, device=dev)
        noise = torch.randn((K, *shape), generator=gen, device=dev)
        s_fixed = torch.randn(shape, generator=gen, device=dev)
        eta = 1e-4

        def score(x: torch.Tensor) -> torch.Tensor:  # one elementwise kernel: 8 B/value
            return x.neg()

        def sampler() -> torch.Tensor:
            with torch.no_grad():
                return L.langevin_sample(score, x0, step_size=eta, n_steps=K, noise=noise).samples

        def sampler_unchecked() -> torch.Tensor:
            with value_checks(False):
                return sampler()

        def score_only() -> torch.Tensor:
            out = x0
            for _ in range(K):
                out = score(x0)
            return out

        def clone_floor() -> torch.Tensor:
            x = x0
            for _ in range(K):
                x = x.clone()
            return x

        def steps_only() -> torch.Tensor:
            x = x0
            for k in range(K):
                x = L.langevin_step(x, s_fixed, step_size=eta, noise=noise[k])
            return x

        medians, _, _ = interleaved(
            {
                "langevin_sample": sampler,
                "langevin_sample, checks off": sampler_unchecked,
                "score_fn": score_only,
                "clone": clone_floor,
                "langevin_step": steps_only,
            },
            dev,
            reps + 2,
            inner=1 if tiny else 3,
        )
        per = {k: v / K for k, v in medians.items()}
        copy_bw = 8 * N / per["clone"]
        step_bw = 16 * N / per["langevin_step"]
        upd = max(per["langevin_sample"] - per["score_fn"], 1e-12)
        upd_off = max(per["langevin_sample, checks off"] - per["score_fn"], 1e-12)
        sampler_ratio, sampler_ratio_off = 16 * N / upd / copy_bw, 16 * N / upd_off / copy_bw
        rec.update(
            values=N,
            steps=K,
            us_per_step={k: 1e6 * v for k, v in per.items()},
            copy_gb_s=copy_bw / 1e9,
            langevin_step_gb_s=step_bw / 1e9,
            langevin_step_ratio=step_bw / copy_bw,
            sampler_update_ratio=sampler_ratio,
            sampler_update_ratio_checks_off=sampler_ratio_off,
            sampler_per_step_over_clone=per["langevin_sample"] / per["clone"],
            fused_kernel_failed=bool(L._fused_state.get("failed")) if hasattr(L, "_fused_state") else None,
        )
        ctx.ratio_row(
            f"Langevin n={N}: langevin_step (16 B/value) at {step_bw / 1e9:.0f} GB/s / clone (8 B/value) "
            f"{copy_bw / 1e9:.0f} GB/s",
            step_bw / copy_bw,
            ">=",
            0.8,
            unit="",
        )
        ctx.ratio_row(
            f"Langevin n={N}, {K} steps: langevin_sample update (step - score_fn, 16 B/value) bandwidth / clone "
            f"bandwidth; {1e6 * per['langevin_sample']:.0f} us/step vs clone {1e6 * per['clone']:.0f} us/step",
            sampler_ratio,
            ">=",
            0.8,
            unit="",
        )
        ctx.row(
            f"Langevin: the same with value checks off (the entry scans of x0 and the {K} noise draws excluded)",
            ratio=sampler_ratio_off,
            ratio_text=f"{sampler_ratio_off:.3g}",
        )

    items = [
        ("fid", fid_item, 10, "<= 1.5x"),
        ("prdc", prdc_item, 25, "<= 1.3x"),
        ("sinkhorn", sinkhorn_item, 20, ">= 10x"),
        ("ddpm", ddpm_item, 10, "<= 1.1x"),
        ("ddim", ddim_item, 8, "<= 1.1x"),
        ("langevin", langevin_item, 10, ">= 0.8"),
    ]
    for name, fn, need_s, target in items:
        ctx.run(name, fn, need_s=need_s, target=target)
        if ctx.cuda:  # the item's tensors are gone: give their memory back before the next one
            torch.cuda.empty_cache()


STAGE_FUNCS: dict[str, Callable[[Ctx], None]] = {"sync": stage_sync, "graphs": stage_graphs, "ratios": stage_ratios}


def child_main(args: argparse.Namespace) -> int:
    import torch

    out = Path(args.out)
    device = torch.device(args.device)
    ctx = Ctx(args.child, device, args.tiny, args.child_seconds, out / "stages" / f"{args.child}.json")
    try:
        if device.type == "cpu" and args.tiny:  # the plumbing on a small, possibly shared CPU machine
            torch.set_num_threads(1)
        ctx.data["env"] = environment(device)
        ctx.save()
        STAGE_FUNCS[args.child](ctx)
    except Exception as err:
        ctx.data["error"] = _error_text(err)
        ctx.data["traceback"] = traceback.format_exc()[-4000:]
    finally:
        ctx.data["done"] = True
        ctx.save()
    return 0


# --------------------------------------------------------------------------- the parent: subprocesses


class Job:
    """A subprocess in its own session (killed with its children at its timeout), output to a log file."""

    def __init__(self, stage: str, cmd: list[str], log: Path, timeout_s: float) -> None:
        self.stage, self.cmd, self.log, self.timeout_s = stage, cmd, log, timeout_s
        self.proc: subprocess.Popen | None = None
        self.rc: int | None = None
        self.timed_out = False
        self.seconds = 0.0
        self.start_error: str | None = None

    def start(self) -> None:
        self.t0 = time.monotonic()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
        try:
            with open(self.log, "w") as log:
                log.write("$ " + " ".join(self.cmd) + "\n")
                log.flush()
                self.proc = subprocess.Popen(
                    self.cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
                )
        except Exception as err:
            self.start_error = _error_text(err)

    def poll(self) -> bool:
        """True once finished (or killed at its timeout)."""
        if self.proc is None or self.rc is not None:
            return True
        rc = self.proc.poll()
        elapsed = time.monotonic() - self.t0
        if rc is None and elapsed > self.timeout_s:
            self.timed_out = True
            _kill(self.proc)
            rc = self.proc.wait()
        if rc is not None:
            self.rc, self.seconds = rc, time.monotonic() - self.t0
            return True
        return False

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def _kill(proc: subprocess.Popen) -> None:
    """SIGTERM to the child's process group (its session: the child and what it started), then SIGKILL."""
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def run_jobs(jobs: list[Job]) -> None:
    for job in jobs:
        job.start()
    while not all([job.poll() for job in jobs]):  # a list: every job is polled (and timed out) every round
        time.sleep(0.25)


def _stage_record(status: str, seconds: float, error: str | None, **extra: Any) -> dict[str, Any]:
    return {"status": status, "seconds": round(seconds, 2), "error": error, **extra}


def finish_child(job: Job, path: Path) -> dict[str, Any]:
    if job.start_error:
        return _stage_record("failed", 0.0, job.start_error, rows=[])
    data: dict[str, Any] = {}
    with contextlib.suppress(Exception):
        data = json.loads(path.read_text())
    items = data.get("items", {})
    errors = [f"{name}: {rec.get('error')}" for name, rec in items.items() if rec.get("status") == "failed"]
    if data.get("error"):
        errors.insert(0, f"stage: {data['error']}")
    if job.timed_out:
        errors.insert(0, f"timed out after {job.timeout_s:.0f} s (killed; the items it had finished are kept)")
    elif job.rc != 0:
        errors.insert(0, f"child exit code {job.rc}: {job.tail(800)}")
    elif not data.get("done"):
        errors.insert(0, f"the child wrote no complete record: {job.tail(800)}")
    running = [name for name, rec in items.items() if rec.get("status") == "running"]
    if running:
        errors.append(f"unfinished: {', '.join(running)}")
    status = "failed" if errors else "ok"
    if not errors and items and all(rec.get("status") == "skipped" for rec in items.values()):
        status = "skipped"
    rows = data.get("rows", [])
    return _stage_record(
        status,
        job.seconds,
        "; ".join(errors) if errors else None,
        budget_s=round(job.timeout_s, 1),
        log=str(job.log),
        figures=data.get("figures", {}),
        items=items,
        env=data.get("env"),
        rows=rows,
    )


def crosscheck_job(out: Path, device: str, tiny: bool, timeout_s: float) -> Job:
    cmd = [sys.executable, "-m", "crosscheck", "--device", device, "--quick", "--out", str(out / "crosscheck")]
    if tiny:  # the plumbing only: one formula
        cmd += ["--filter", "diffusion.l_simple"]
    (out / "crosscheck").mkdir(parents=True, exist_ok=True)
    return Job("crosscheck", cmd, out / "logs" / "crosscheck.log", timeout_s)


def finish_crosscheck(job: Job, out: Path) -> dict[str, Any]:
    if job.start_error:
        return _stage_record("failed", 0.0, job.start_error, rows=[])
    text = ""
    with contextlib.suppress(OSError):
        text = job.log.read_text(errors="replace")
    lines = text.splitlines()
    summary = next((line.strip() for line in reversed(lines) if "formula checks" in line), None)
    failed = [line for line in lines if line.startswith("FAILED ")][:30]
    report = out / "crosscheck" / "report.md"
    ok = job.rc == 0 and not job.timed_out
    if job.timed_out:
        error = f"timed out after {job.timeout_s:.0f} s (killed)"
    elif job.rc != 0:
        error = f"exit code {job.rc}: " + (summary or text[-800:])
    else:
        error = None
    row = {
        "stage": "crosscheck",
        "figure": "python -m crosscheck --quick: " + (summary or error or "no summary line"),
        "ratio": None,
        "ratio_text": "-",
        "target": "ALL PASSED, exit 0",
        "result": "pass" if ok else "FAIL",
    }
    rows = [row] + [
        {"stage": "crosscheck", "figure": line[:200], "ratio": None, "ratio_text": "-", "target": "-", "result": "FAIL"}
        for line in failed[:10]
    ]
    return _stage_record(
        "ok" if ok else "failed",
        job.seconds,
        error,
        budget_s=round(job.timeout_s, 1),
        command=" ".join(job.cmd),
        log=str(job.log),
        figures={
            "exit_code": job.rc,
            "summary": summary,
            "failed": failed,
            "report": str(report) if report.exists() else None,
        },
        rows=rows,
    )


def _shown(path: Path) -> str:
    """A path relative to the repository root where it is inside it."""
    return os.path.relpath(path, ROOT) if path.is_relative_to(ROOT) else str(path)


def example_cmd(script: Path, out: Path, device: str, tiny: bool) -> list[str]:
    cmd = [sys.executable, _shown(script), "--device", device]
    if tiny:  # plumbing: a few seconds, no bf16 / compile on the CPU
        cmd += ["--max-seconds", "5", "--eval-samples", "64"]
    else:
        cmd += ["--bf16", "--compile", "--max-seconds", "60", "--eval-samples", "1000"]
    return [*cmd, "--out", str(out / "train_ddpm"), "--no-progress"]


def finish_example(job: Job, out: Path) -> dict[str, Any]:
    if job.start_error:
        return _stage_record("failed", 0.0, job.start_error, rows=[])
    path = out / "train_ddpm" / "metrics.json"
    metrics, read_error = None, None
    if path.exists():
        try:
            metrics = json.loads(path.read_text())
        except Exception as err:
            read_error = _error_text(err)
    ok = job.rc == 0 and not job.timed_out and metrics is not None
    if job.timed_out:
        error = f"timed out after {job.timeout_s:.0f} s (killed)"
    elif job.rc != 0:
        error = f"exit code {job.rc}: {job.tail(800)}"
    elif metrics is None:
        error = f"no readable {path}" + (f": {read_error}" if read_error else "")
    else:
        error = None
    rows = [
        {
            "stage": "example",
            "figure": f"{job.cmd[1]}: exit {job.rc}, {job.seconds:.0f} s, metrics.json "
            + ("read" if metrics is not None else "missing"),
            "ratio": None,
            "ratio_text": "-",
            "target": "exit 0 and metrics.json",
            "result": "pass" if ok else "FAIL",
        }
    ]
    if isinstance(metrics, dict):
        scalars = [(k, v) for k, v in metrics.items() if isinstance(v, (int, float, str, bool))]
        for key, value in scalars[:12]:
            text = f"{value:.6g}" if isinstance(value, float) else str(value)
            rows.append(
                {
                    "stage": "example",
                    "figure": f"metrics.json {key} = {text}"[:200],
                    "ratio": None,
                    "ratio_text": "-",
                    "target": "-",
                    "result": "info",
                }
            )
    return _stage_record(
        "ok" if ok else "failed",
        job.seconds,
        error,
        budget_s=round(job.timeout_s, 1),
        command=" ".join(job.cmd),
        log=str(job.log),
        figures={"exit_code": job.rc, "metrics_path": str(path), "metrics": metrics},
        rows=rows,
    )


# --------------------------------------------------------------------------- the report


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def markdown(report: dict[str, Any]) -> str:
    env = report.get("env", {})
    head = (
        f"GPU check, {report['started_utc']}; device {env.get('device')}"
        + (f" ({env['device_name']})" if env.get("device_name") else "")
        + f"; torch {env.get('torch')}; {'tiny sizes (smoke / no CUDA)' if report['tiny'] else 'full sizes'}; "
        f"{report.get('total_seconds', 0):.0f} s of the {report['deadline_s']:.0f} s deadline"
    )
    lines = ["# GPU check", "", head, "", "| stage | figure | ratio | target | pass/fail |", "|---|---|---|---|---|"]
    for stage in STAGES:
        rec = report["stages"].get(stage)
        if rec is None:
            continue
        status = f"stage {rec['status']} ({rec['seconds']:.1f} s)"
        if rec.get("error"):
            status += ": " + rec["error"][:300]
        lines.append(f"| {stage} | {_cell(status)} | - | - | {rec['status']} |")
        for row in rec.get("rows", []):
            lines.append(
                f"| {stage} | {_cell(row['figure'])} | {_cell(row['ratio_text'])} | {_cell(row['target'])} | "
                f"{_cell(row['result'])} |"
            )
    return "\n".join(lines) + "\n"


def write_report(report: dict[str, Any], out: Path, t0: float) -> None:
    report["total_seconds"] = round(time.monotonic() - t0, 2)
    report["rows"] = [row for stage in STAGES for row in report["stages"].get(stage, {}).get("rows", [])]
    tmp = out / "gpu_check.json.tmp"
    tmp.write_text(json.dumps(report, indent=1, default=str))
    os.replace(tmp, out / "gpu_check.json")
    (out / "gpu_check.md").write_text(markdown(report))


def _torch_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("torch")
    except metadata.PackageNotFoundError:
        return None


def _progress(report: dict[str, Any], stage: str, t0: float) -> None:
    rec = report["stages"][stage]
    line = f"[{time.monotonic() - t0:6.1f} s] {stage}: {rec['status']} ({rec['seconds']:.1f} s)"
    print(line + (f": {rec['error'][:300]}" if rec.get("error") else ""), flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu_check.json, gpu_check.md and the logs")
    parser.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes everywhere (the plumbing, in seconds)")
    parser.add_argument("--deadline-s", type=float, default=470.0, help="wall-clock limit of the whole run (470)")
    parser.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated subset of {', '.join(STAGES)}")
    parser.add_argument("--skip", default="", help="comma-separated stages to skip, e.g. crosscheck,example")
    parser.add_argument("--crosscheck-timeout", type=float, default=180.0, help="seconds for stage 1 (180)")
    parser.add_argument("--serial", action="store_true", help="run crosscheck and example one after the other")
    parser.add_argument("--child", choices=CHILD_STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--child-seconds", type=float, default=60.0, help=argparse.SUPPRESS)
    parser.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--example-script", type=Path, default=EXAMPLE, help=argparse.SUPPRESS)  # for the tests
    args = parser.parse_args(argv)
    names = {s.strip() for s in (args.stages + "," + args.skip).split(",") if s.strip()}
    unknown = names - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}; stages: {', '.join(STAGES)}")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args)
    t0 = time.monotonic()
    out = Path(args.out).resolve()
    for sub in ("", "stages", "logs"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    env: dict[str, Any] = {"python": platform.python_version(), "torch": _torch_version()}
    device = args.device
    if device is None or device.startswith("cuda"):  # the parent imports torch only to find a GPU
        import torch

        cuda_ok = torch.cuda.is_available()
        env["cuda_runtime"] = torch.version.cuda
        if device is None:
            device = "cuda" if cuda_ok else "cpu"
        if device.startswith("cuda") and not cuda_ok:
            notes.append(f"--device {device} asked for, but CUDA is not available: everything runs on the CPU")
            device = "cpu"
        # (no CUDA context here: the GPU's name comes from the first child's record)
    env["device"] = device
    tiny = args.smoke or not device.startswith("cuda")
    wanted = [s.strip() for s in args.stages.split(",") if s.strip()]
    skipped = {s.strip() for s in args.skip.split(",") if s.strip()}
    selected = [s for s in STAGES if s in wanted and s not in skipped]

    def left() -> float:
        return args.deadline_s - (time.monotonic() - t0)

    report: dict[str, Any] = {
        "script": "benchmarks/gpu_check.py",
        "argv": sys.argv[1:] if argv is None else argv,
        "started_utc": f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        "device": device,
        "tiny": tiny,
        "deadline_s": args.deadline_s,
        "env": env,
        "notes": notes,
        "order_run": [],
        "stages": {
            s: _stage_record("skipped", 0.0, "skipped: not selected (--stages / --skip)", rows=[])
            for s in STAGES
            if s not in selected
        },
    }
    print(
        f"gpu_check: device {device}, {'tiny' if tiny else 'full'} sizes, stages {', '.join(selected)}, "
        f"deadline {args.deadline_s:.0f} s; writing {out}",
        flush=True,
    )
    write_report(report, out, t0)

    for stage in [s for s in CHILD_STAGES if s in selected]:
        limit = min(BUDGET_S[stage], left() - RESERVE_S)
        if limit < MIN_STAGE_S:
            report["stages"][stage] = _stage_record("skipped", 0.0, f"skipped: deadline ({left():.0f} s left)", rows=[])
            write_report(report, out, t0)
            continue
        path = out / "stages" / f"{stage}.json"
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        cmd = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--out",
            str(out),
            "--device",
            device,
            "--child",
            stage,
            "--child-seconds",
            f"{max(limit - 10.0, 5.0):.0f}",
        ] + (["--tiny"] if tiny else [])
        job = Job(stage, cmd, out / "logs" / f"{stage}.log", limit)
        report["order_run"].append(stage)
        try:
            run_jobs([job])
            report["stages"][stage] = finish_child(job, path)
            child_env = report["stages"][stage].get("env") or {}
            for key in ("device_name", "capability", "memory_gib", "cudnn", "tf32_matmul", "cpu_threads"):
                if key in child_env:
                    report["env"].setdefault(key, child_env[key])
        except Exception as err:
            report["stages"][stage] = _stage_record("failed", job.seconds, _error_text(err), rows=[])
        _progress(report, stage, t0)
        write_report(report, out, t0)

    # Stages 1 and 5: subprocesses, at the same time (or one after the other with --serial).
    makers: list[tuple[str, Callable[[float], Job], Callable[[Job, Path], dict]]] = []
    if "crosscheck" in selected:
        makers.append(
            (
                "crosscheck",
                lambda avail: crosscheck_job(out, device, tiny, min(args.crosscheck_timeout, avail)),
                finish_crosscheck,
            )
        )
    script = args.example_script.resolve()
    if "example" in selected and not script.exists():
        why = f"skipped: {_shown(script)} does not exist"
        report["stages"]["example"] = _stage_record("skipped", 0.0, why, rows=[])
    elif "example" in selected:
        log = out / "logs" / "example.log"
        makers.append(
            (
                "example",
                lambda avail: Job("example", example_cmd(script, out, device, tiny), log, avail),
                finish_example,
            )
        )
    batches = [[m] for m in makers] if args.serial else ([makers] if makers else [])
    for batch in batches:
        available = left() - RESERVE_S
        if available < MIN_STAGE_S:
            for stage, _, _ in batch:
                why = f"skipped: deadline ({left():.0f} s left)"
                report["stages"][stage] = _stage_record("skipped", 0.0, why, rows=[])
            continue
        started: list[tuple[Job, Callable[[Job, Path], dict]]] = []
        for stage, make, finish in batch:
            try:
                started.append((make(available), finish))
                report["order_run"].append(stage)
            except Exception as err:
                report["stages"][stage] = _stage_record("failed", 0.0, _error_text(err), rows=[])
        try:
            run_jobs([job for job, _ in started])
        except Exception as err:
            for job, _ in started:
                report["stages"][job.stage] = _stage_record("failed", job.seconds, _error_text(err), rows=[])
            continue
        for job, finish in started:
            try:
                report["stages"][job.stage] = finish(job, out)
            except Exception as err:
                report["stages"][job.stage] = _stage_record("failed", job.seconds, _error_text(err), rows=[])
            _progress(report, job.stage, t0)
        write_report(report, out, t0)

    write_report(report, out, t0)
    print()
    print((out / "gpu_check.md").read_text())
    print(f"written: {out / 'gpu_check.json'} and {out / 'gpu_check.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
