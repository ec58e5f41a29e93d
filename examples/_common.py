"""What the three training programs share: flags, process group, digits, loader, loop, checkpoints, evaluation.

One process (``python examples/train_ddpm.py``) or many (``torchrun --nproc_per_node=2 ...``): :func:`setup`
reads the ``torchrun`` environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``) and, when it is there,
joins a process group (``gloo`` on the CPU, ``nccl`` on CUDA). Everything below takes the resulting
:class:`Context`, so a program is written once for both cases.

The evaluation (:func:`evaluate`) is distributed too: each rank generates its share of
``--eval-samples``, holds one contiguous chunk of the 1797 real digits, and the metrics of
:mod:`accelerated.distributed` combine the shards, so that every rank gets the numbers that
:mod:`accelerated.metrics` gives on the concatenation of the shards in rank order.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset
from tqdm.auto import tqdm

HERE = Path(__file__).resolve().parent
if str(HERE.parent) not in sys.path:  # `python examples/train_x.py` from a checkout without an install
    sys.path.insert(0, str(HERE.parent))
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import digits_features  # noqa: E402

CHECKPOINT = "checkpoint.pt"


# --------------------------------------------------------------------------- flags


def parser(program: str, description: str | None) -> argparse.ArgumentParser:
    """The flags every program takes; a program adds its own (and may change defaults) before parsing."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--steps", type=int, default=2000, help="total optimisation steps (a resumed run continues to it)")
    p.add_argument("--max-seconds", type=float, default=None, help="stop training after this many seconds")
    p.add_argument("--batch-size", type=int, default=128, help="per process")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--ema", type=float, default=0.999, help="EMA decay of the weights that sample (0: no EMA)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads per process (torchrun: 1)")
    p.add_argument("--bf16", action="store_true", help="training forward under torch.autocast(bfloat16)")
    p.add_argument("--compile", action="store_true", help="torch.compile the model(s) used in training")
    p.add_argument("--out", type=Path, default=HERE / "out" / program, help="metrics.json, samples.png, checkpoint")
    p.add_argument("--eval-samples", type=int, default=1000, help="generated for the evaluation, over all ranks")
    p.add_argument("--eval-batch", type=int, default=500, help="samples generated at once per rank")
    p.add_argument("--is-splits", type=int, default=10, help="Inception Score splits")
    p.add_argument("--kid-subset-size", type=int, default=500)
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--features", type=Path, default=HERE / "out" / "digits_features.pt", help="digits classifier")
    p.add_argument("--log-every", type=int, default=10, help="steps between loss read-outs (and time checks)")
    p.add_argument("--checkpoint-every", type=int, default=500, help="steps between checkpoints (0: at the end only)")
    p.add_argument("--resume", action="store_true", help=f"continue from OUT/{CHECKPOINT} if it exists")
    p.add_argument("--no-progress", action="store_true", help="no tqdm bar (a log line every 10 read-outs)")
    return p


# --------------------------------------------------------------------------- processes and devices


@dataclass
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    distributed: bool = False  # a process group was initialised (torchrun), even with world 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def print(self, *args: object) -> None:
        if self.main:
            print(*args, flush=True)


def setup(args: argparse.Namespace) -> Context:
    """Join the torchrun process group if there is one, pick the device, seed this rank."""
    env = os.environ
    launched = "RANK" in env and "WORLD_SIZE" in env
    rank = int(env.get("RANK", 0))
    world = int(env.get("WORLD_SIZE", 1))
    local_rank = int(env.get("LOCAL_RANK", 0))
    want = args.device
    if want == "auto":
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device is available")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if launched:
        if device.type == "cuda":
            dist.init_process_group("nccl", device_id=device)
        else:
            dist.init_process_group("gloo")
    # Model initialisation is the same on every rank (DDP broadcasts rank 0's weights anyway); the
    # training and sampling draws come from explicit per-rank generators (`generator`).
    torch.manual_seed(args.seed)
    if args.eval_samples < world:
        raise SystemExit(f"--eval-samples {args.eval_samples}: every one of the {world} ranks needs a sample")
    return Context(rank, world, local_rank, device, launched)


def teardown(ctx: Context) -> None:
    if ctx.distributed:
        dist.destroy_process_group()


def generator(ctx: Context, *keys: int) -> torch.Generator:
    """A generator on the device, seeded from (keys, rank): a different stream per rank and purpose."""
    seed = int(np.random.SeedSequence([*keys, ctx.rank]).generate_state(1, dtype=np.uint64)[0] >> 1)
    return torch.Generator(ctx.device).manual_seed(seed)


def wrap(module: nn.Module, ctx: Context) -> nn.Module:
    """DistributedDataParallel when there is more than one process, the module itself otherwise."""
    if ctx.world > 1:
        return DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)
    return module


def maybe_compile(module: nn.Module, args: argparse.Namespace) -> nn.Module:
    return torch.compile(module) if args.compile else module


def autocast(ctx: Context, args: argparse.Namespace):
    """The training forward's context: bfloat16 autocast with --bf16, a no-op otherwise."""
    return torch.autocast(ctx.device.type, dtype=torch.bfloat16, enabled=args.bf16)


# --------------------------------------------------------------------------- data


def digits() -> torch.Tensor:
    """scikit-learn's 1797 digits as float32 images (1797, 1, 8, 8) in [-1, 1] (pixels 0..16, no download)."""
    return digits_features.digits_images()


def real_shard(ctx: Context, images: torch.Tensor) -> torch.Tensor:
    """Chunk `rank` of `world` contiguous chunks (np.array_split), so that the shards in rank order are the set."""
    bounds = np.cumsum([0] + [len(c) for c in np.array_split(np.arange(len(images)), ctx.world)])
    return images[bounds[ctx.rank] : bounds[ctx.rank + 1]]


def share(ctx: Context, total: int) -> int:
    """This rank's part of `total` samples: np.array_split sizes, rank 0 first."""
    return len(np.array_split(np.arange(total), ctx.world)[ctx.rank])


def loader(ctx: Context, images: torch.Tensor, args: argparse.Namespace) -> DataLoader:
    """Shuffled batches of this rank's part of every epoch (a DistributedSampler with world 1 is a shuffle)."""
    sampler = DistributedSampler(
        TensorDataset(images), num_replicas=ctx.world, rank=ctx.rank, shuffle=True, seed=args.seed, drop_last=True
    )
    if args.batch_size > len(sampler):
        raise SystemExit(f"--batch-size {args.batch_size} exceeds the {len(sampler)} images of each rank")
    return DataLoader(TensorDataset(images), batch_size=args.batch_size, sampler=sampler, drop_last=True)


def batches(data: DataLoader, first_step: int, device: torch.device) -> Iterator[torch.Tensor]:
    """Endless batches on the device; the epoch (the sampler's shuffle) follows the step, also after a resume."""
    epoch = first_step // len(data)
    while True:
        data.sampler.set_epoch(epoch)
        for (x,) in data:
            yield x.to(device, non_blocking=True)
        epoch += 1


# --------------------------------------------------------------------------- EMA


class EMA:
    """Exponential moving average of a module's weights, with the usual warm-up min(decay, (1+k)/(10+k))."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module, step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        ema, new = list(self.module.parameters()), list(module.parameters())
        torch._foreach_lerp_(ema, new, 1.0 - d)
        for b_ema, b in zip(self.module.buffers(), module.buffers()):
            b_ema.copy_(b)

    def state_dict(self) -> dict:
        return self.module.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.module.load_state_dict(state)


# --------------------------------------------------------------------------- training loop


class Trainer:
    """Step counter, loss log, time budget, progress bar and checkpoints of one training run.

    ``state`` names the objects with ``state_dict``/``load_state_dict`` (models, optimizers, EMA) that
    make up a checkpoint: ``torch.save`` of ``{name: obj.state_dict(), "step", "losses", "seconds"}``
    by rank 0; every rank loads it with ``weights_only=True`` (nothing but tensors and plain containers).
    """

    def __init__(self, ctx: Context, args: argparse.Namespace, state: dict[str, object]):
        self.ctx, self.args, self.state = ctx, args, state
        self.step = 0
        self.losses: list[float] = []  # per step, mean over ranks
        self.extra: dict[str, list[float]] = {}  # other logged values (the GAN's generator loss)
        self.seconds = 0.0  # training time over all runs so far
        self.path = args.out / CHECKPOINT
        if args.resume and self.path.exists():
            ckpt = torch.load(self.path, map_location=ctx.device, weights_only=True)
            for name, obj in state.items():
                obj.load_state_dict(ckpt[name])
            self.step, self.losses, self.seconds = ckpt["step"], ckpt["losses"], ckpt["seconds"]
            self.extra = ckpt.get("extra", {})
            ctx.print(f"resumed from {self.path} at step {self.step}")

    def save(self) -> None:
        if self.ctx.main:
            self.args.out.mkdir(parents=True, exist_ok=True)
            ckpt = {name: obj.state_dict() for name, obj in self.state.items()}
            ckpt.update(step=self.step, losses=self.losses, seconds=self.seconds, extra=self.extra)
            tmp = self.path.with_suffix(".tmp")
            torch.save(ckpt, tmp)
            os.replace(tmp, self.path)
        self.ctx.barrier()

    def run(self, data: DataLoader, step_fn: Callable[[torch.Tensor, int], torch.Tensor | dict]) -> None:
        """Call ``step_fn(batch, step)`` until ``--steps`` or ``--max-seconds``.

        ``step_fn`` returns the detached loss (a 0-d tensor) or a dict of them whose ``"loss"`` entry is
        the logged loss. The values stay on the device and are read out every ``--log-every`` steps,
        averaged over the ranks in the same all-reduce that carries the stop flag of the time budget,
        so all ranks stop at the same step.
        """
        ctx, args = self.ctx, self.args
        bar = tqdm(
            total=args.steps,
            initial=self.step,
            disable=not ctx.main or args.no_progress,
            dynamic_ncols=True,
            leave=True,
        )
        start = time.monotonic()
        pending: list[torch.Tensor] = []
        names: list[str] = []
        reads = 0
        it = batches(data, self.step, ctx.device)
        while self.step < args.steps:
            out = step_fn(next(it), self.step)
            if isinstance(out, torch.Tensor):
                out = {"loss": out}
            names = list(out)
            pending.append(torch.stack([out[k].detach().float() for k in names]))
            self.step += 1
            if len(pending) == args.log_every or self.step == args.steps:
                elapsed = time.monotonic() - start
                over = args.max_seconds is not None and self.seconds + elapsed >= args.max_seconds
                values = torch.stack(pending).flatten()
                buf = torch.cat([values, torch.tensor([float(over)], device=values.device)])
                if ctx.distributed:
                    dist.all_reduce(buf)
                values = (buf[:-1] / ctx.world).view(len(pending), len(names)).cpu()
                stop = bool(buf[-1] > 0)
                for j, name in enumerate(names):
                    target = self.losses if name == "loss" else self.extra.setdefault(name, [])
                    target.extend(values[:, j].tolist())
                bar.update(len(pending))
                bar.set_postfix({k: f"{values[-1, j]:.4f}" for j, k in enumerate(names)})
                reads += 1
                if args.no_progress and reads % 10 == 0:
                    ctx.print(
                        f"step {self.step}: " + ", ".join(f"{k} {values[-1, j]:.4f}" for j, k in enumerate(names))
                    )
                pending = []
                if stop:
                    ctx.print(f"--max-seconds {args.max_seconds} reached at step {self.step}")
                    break
            if args.checkpoint_every and self.step % args.checkpoint_every == 0 and self.step < args.steps:
                self.seconds_add(start)
                start = time.monotonic()
                self.save()
        bar.close()
        self.seconds_add(start)
        self.save()

    def seconds_add(self, start: float) -> None:
        # rank 0's clock for everyone, so that the checkpoints and metrics agree
        t = torch.tensor([time.monotonic() - start], dtype=torch.float64, device=self.ctx.device)
        if self.ctx.distributed:
            dist.broadcast(t, 0)
        self.seconds += float(t)


def mean_first_last(losses: list[float]) -> tuple[float, float]:
    """Means over the first and the last 10% of the steps (at least one step each)."""
    m = max(1, math.ceil(len(losses) / 10))
    return float(np.mean(losses[:m])), float(np.mean(losses[-m:]))


# --------------------------------------------------------------------------- evaluation


def features_net(ctx: Context, path: Path) -> nn.Module:
    """The digits classifier at `path`; trained first (rank 0, the others wait) if the file is missing."""
    if ctx.main and not path.exists():
        ctx.print(f"{path} is missing: training the digits classifier")
        digits_features.train(path, seed=0, verbose=True)
    ctx.barrier()
    return digits_features.load_features_net(path, ctx.device)


def metrics_of(
    fake_features: torch.Tensor,
    fake_logits: torch.Tensor,
    real_features: torch.Tensor,
    *,
    args: argparse.Namespace,
    n_fake: int,
    n_real: int,
    fid: Callable,
    kid: Callable,
    prdc: Callable,
    inception_score: Callable,
    **group,
) -> dict[str, float]:
    """FID, KID, IS and PRDC with the given functions (``accelerated.distributed`` or ``accelerated.metrics``).

    ``n_fake`` and ``n_real`` are the global set sizes (the KID subset size and the IS splits depend on
    them only, so a one-process recomputation passes the same). The tests call this with
    ``accelerated.metrics`` on the concatenated shards.
    """
    probs = torch.softmax(fake_logits, dim=1)
    f = fid(fake_features, real_features, **group)
    k = kid(
        fake_features,
        real_features,
        subset_size=min(args.kid_subset_size, n_fake, n_real),
        n_subsets=args.kid_subsets,
        rng=torch.Generator().manual_seed(args.seed),
        **group,
    )
    s = inception_score(probs, splits=min(args.is_splits, n_fake), **group)
    r = prdc(real_features, fake_features, k=5, **group)
    return {
        "fid": float(f),
        "kid_mean": float(k.mean),
        "kid_std": float(k.std),
        "inception_score": float(s.mean),
        "inception_score_std": float(s.std),
        "precision": float(r.precision),
        "recall": float(r.recall),
        "density": float(r.density),
        "coverage": float(r.coverage),
    }


def evaluate(
    ctx: Context,
    args: argparse.Namespace,
    trainer: Trainer,
    sample: Callable[[int, torch.Generator], torch.Tensor],
) -> dict | None:
    """Generate this rank's share, compute the distributed metrics, write the files; rank 0 returns the metrics.

    ``sample(n, rng)`` returns n images (n, 1, 8, 8) in [-1, 1]. Every rank writes
    ``OUT/eval_rank{r}.pt`` = {"samples": its images}; rank 0 writes ``OUT/metrics.json`` and
    ``OUT/samples.png`` (its first 64 samples).
    """
    from accelerated import distributed

    t0 = time.monotonic()
    net = features_net(ctx, args.features)
    rng = generator(ctx, args.seed, 1)
    n = share(ctx, args.eval_samples)
    parts = []
    with torch.no_grad():
        for i in range(0, n, args.eval_batch):
            parts.append(sample(min(args.eval_batch, n - i), rng).float().clamp(-1, 1))
    samples = torch.cat(parts).cpu()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save({"samples": samples}, args.out / f"eval_rank{ctx.rank}.pt")

    fake_features, fake_logits = digits_features.features_and_logits(net, samples.to(ctx.device))
    real_features, _ = digits_features.features_and_logits(net, real_shard(ctx, digits()).to(ctx.device))
    result = metrics_of(
        fake_features,
        fake_logits,
        real_features,
        args=args,
        n_fake=args.eval_samples,
        n_real=len(digits()),
        fid=distributed.fid,
        kid=distributed.kid,
        prdc=distributed.prdc,
        inception_score=distributed.inception_score,
    )
    if not ctx.main:
        ctx.barrier()
        return None
    first, last = mean_first_last(trainer.losses)
    out = {
        "losses": trainer.losses,
        "loss_first": first,
        "loss_last": last,
        **result,
        "world_size": ctx.world,
        "steps": trainer.step,
        "seconds": trainer.seconds,
        "eval_seconds": time.monotonic() - t0,
        "device": str(ctx.device),
        "other_losses": trainer.extra,
    }
    (args.out / "metrics.json").write_text(json.dumps(out, indent=1) + "\n")
    save_grid(samples[:64], args.out / "samples.png")
    ctx.print(
        f"steps {trainer.step} ({trainer.seconds:.0f} s), loss {first:.4f} -> {last:.4f}; "
        + ", ".join(f"{k} {v:.4g}" for k, v in result.items())
    )
    ctx.print(f"wrote {args.out / 'metrics.json'} and {args.out / 'samples.png'}")
    ctx.barrier()
    return out


def save_grid(images: torch.Tensor, path: Path, *, scale: int = 4, pad: int = 1) -> None:
    """A PNG of up to 64 images (n, 1, 8, 8) in [-1, 1], eight per row, white digits on black, enlarged."""
    from PIL import Image

    n = len(images)
    cols = 8
    rows = max(1, math.ceil(n / cols))
    h, w = images.shape[-2:]
    cell_h, cell_w = h * scale + pad, w * scale + pad
    grid = np.full((rows * cell_h + pad, cols * cell_w + pad), 128, dtype=np.uint8)
    pixels = ((images[:, 0].clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    for i, img in enumerate(pixels):
        r, c = divmod(i, cols)
        big = np.kron(img, np.ones((scale, scale), dtype=np.uint8))
        grid[pad + r * cell_h : pad + r * cell_h + h * scale, pad + c * cell_w : pad + c * cell_w + w * scale] = big
    Image.fromarray(grid, mode="L").save(path)


# --------------------------------------------------------------------------- conditional networks


class SinusoidalEmbedding(nn.Module):
    """Transformer sinusoids of a real (n,) condition (a time step or a mapped noise level), then an MLP."""

    def __init__(self, dim: int, out: int, max_period: float = 10_000.0):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(max_period) * torch.arange(half) / half), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * half, out), nn.SiLU(), nn.Linear(out, out))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        a = c.float()[:, None] * self.freqs[None]
        return self.mlp(torch.cat([a.sin(), a.cos()], dim=1))


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb, cout)
        self.norm2 = nn.GroupNorm(8, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x)))
        h = h + self.emb(e)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return self.skip(x) + h


class SmallUNet(nn.Module):
    """A two-level U-Net for 8x8 images: (n, 1, 8, 8) and a real (n,) condition -> (n, 1, 8, 8).

    8x8 at ``ch`` channels, 4x4 at ``2 ch``, one skip connection; GroupNorm (no running statistics,
    so nothing for DDP to synchronise but gradients); the output layer starts at zero.
    """

    def __init__(self, ch: int = 32, emb: int = 128):
        super().__init__()
        self.embed = SinusoidalEmbedding(ch, emb)
        self.inp = nn.Conv2d(1, ch, 3, padding=1)
        self.down = ResBlock(ch, ch, emb)
        self.pool = nn.Conv2d(ch, 2 * ch, 3, stride=2, padding=1)
        self.mid1 = ResBlock(2 * ch, 2 * ch, emb)
        self.mid2 = ResBlock(2 * ch, 2 * ch, emb)
        self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(2 * ch, ch, 3, padding=1))
        self.dec = ResBlock(2 * ch, ch, emb)
        self.out = nn.Sequential(nn.GroupNorm(8, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        e = self.embed(c)
        h0 = self.down(self.inp(x), e)
        h = self.mid2(self.mid1(self.pool(h0), e), e)
        h = self.dec(torch.cat([self.up(h), h0], dim=1), e)
        return self.out(h)


class MLPBlock(nn.Module):
    def __init__(self, width: int, emb: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.lin1 = nn.Linear(width, width)
        self.emb = nn.Linear(emb, width)
        self.lin2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
        z = self.lin1(nn.functional.silu(self.norm(h))) + self.emb(e)
        return h + self.lin2(nn.functional.silu(z))


class ResMLP(nn.Module):
    """A residual MLP on the flattened image: (n, 1, 8, 8) and a real (n,) condition -> (n, 1, 8, 8).

    ``depth`` pre-norm residual blocks of ``width`` units, the condition's embedding added inside each;
    the output layer starts at zero. About 25 times cheaper per step than :class:`SmallUNet` on a
    CPU core, which is what lets the examples train in minutes there.
    """

    def __init__(self, dim: int = 64, width: int = 512, depth: int = 3, emb: int = 128):
        super().__init__()
        self.embed = SinusoidalEmbedding(128, emb)
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(MLPBlock(width, emb) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        e = self.embed(c)
        h = self.inp(x.flatten(1))
        for block in self.blocks:
            h = block(h, e)
        return self.out(h).view(x.shape)


def add_network_flags(p: argparse.ArgumentParser) -> None:
    """--arch, --width, --depth, --channels of the conditional network (DDPM and NCSN)."""
    p.add_argument("--arch", choices=("mlp", "unet"), default="mlp", help="ResMLP (fast on a CPU) or SmallUNet")
    p.add_argument("--width", type=int, default=512, help="ResMLP width")
    p.add_argument("--depth", type=int, default=3, help="ResMLP blocks")
    p.add_argument("--channels", type=int, default=32, help="SmallUNet width at 8x8")


def conditional_network(args: argparse.Namespace) -> nn.Module:
    if args.arch == "unet":
        return SmallUNet(args.channels)
    return ResMLP(64, args.width, args.depth)
