"""Per-call cost of the training losses and of the DDIM sampler against the same arithmetic written by hand.

Each library call runs with the default settings (value checks on: device-side assertions, no host read)
beside the hand-written code a user would otherwise put in a training loop (the slide's formula, the
float64 schedule tables gathered and cast per call as guided-diffusion and diffusers do, PyTorch's own
``softplus`` and ``autograd.grad``), on the same inputs, which must give the same value (checked).

Cases, at batch (64, 2) and (64, 3, 32, 32), float32:

* ``ddpm``: ``q_sample``, the eps model, ``l_simple(...).mean()``;
* ``ncsn``: ``ncsn_loss`` (sigma-weighted DSM at one level per sample);
* ``dsm``: ``denoising_score_matching`` at sigma = 0.1;
* ``gan``: discriminator loss + WGAN-GP gradient penalty + non-saturating generator loss;
* ``ddim``: ``ddim_sample`` over 50 respaced steps (eta = 0), per step, against a hand loop with
  Python-float coefficients precomputed before the loop.

Two models: ``trivial`` (one elementwise kernel: the formula's own cost shows) and ``network`` (an MLP of
width 128 for vectors, two 3x3 convolutions with 32 channels for images: a training step's forward).
Times are per call, forward only (``fwd``, with grad mode on, as in training) and forward plus backward
(``fwd+bwd``); the library and the hand-written code are timed in interleaved rounds in rotating order,
and the median over rounds is printed with the ratio library / hand (target: at most 1.2). The physical
floor of both is the same arithmetic: the ratio says how much the library adds to it.

Run from the repository root::

    PYTHONPATH=. python benchmarks/bench_training.py                 # CPU, one intra-op thread
    PYTHONPATH=. python benchmarks/bench_training.py --device cuda   # GPU (and the no-sync check)
"""

from __future__ import annotations

import argparse
import math
import platform
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from accelerated import diffusion as D
from accelerated import gan as G
from accelerated import score_matching as SM
from accelerated import set_value_checks


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds (default 30)")
    parser.add_argument("--calls", type=int, default=0, help="calls per round (default: about 0.1 s per round)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads on the CPU (default 1)")
    parser.add_argument("--cases", default="ddpm,ncsn,dsm,gan,ddim", help="comma-separated subset")
    parser.add_argument(
        "--value-checks",
        default="async",
        choices=["async", "sync", "off"],
        help="the library's value checks (default async, the library's default: device-side assertions)",
    )
    parser.add_argument("--shapes", default="64x2,64x3x32x32", help="comma-separated batch shapes")
    return parser.parse_args()


# --------------------------------------------------------------------------- models


class Trivial(nn.Module):
    """pred = w x with one parameter w = 0.5: one elementwise kernel, so that the formula's own cost shows."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(0.5))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        return self.w * x


class VectorNet(nn.Module):
    """MLP of [x, c] with width 128 (c a per-sample scalar: t / T or log sigma)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d + 1, 128), nn.SiLU(), nn.Linear(128, 128), nn.SiLU(), nn.Linear(128, d))

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        c = torch.zeros(x.shape[0], device=x.device, dtype=x.dtype) if c is None else c.to(x.dtype)
        return self.f(torch.cat([x, c.unsqueeze(-1)], dim=-1))


class ImageNet(nn.Module):
    """Two 3x3 convolutions with 32 channels; c enters as a per-sample bias of the hidden channels."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.a, self.b = nn.Conv2d(channels, 32, 3, padding=1), nn.Conv2d(32, channels, 3, padding=1)
        self.w = nn.Parameter(torch.randn(32) * 0.1)

    def forward(self, x: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        h = self.a(x)
        if c is not None:
            h = h + c.to(x.dtype).view(-1, 1, 1, 1) * self.w.view(1, -1, 1, 1)
        return self.b(F.silu(h))


class Critic(nn.Module):
    """A discriminator: the network's features, flattened, then a linear layer to one logit, shape (n, 1)."""

    def __init__(self, body: nn.Module, features: int) -> None:
        super().__init__()
        self.body, self.head = body, nn.Linear(features, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).flatten(1))


def make_model(kind: str, shape: tuple[int, ...], device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    if kind == "trivial":
        return Trivial().to(device)
    return (VectorNet(shape[1]) if len(shape) == 2 else ImageNet(shape[1])).to(device)


# --------------------------------------------------------------------------- the cases: (library, hand)


def _view(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[0],) + (1,) * (len(shape) - 1)


def ddpm_case(model, shape, device, g):
    T = 1000
    S = D.Schedule(D.linear_beta_schedule(T).to(device))
    x0, eps = torch.randn(shape, generator=g, device=device), torch.randn(shape, generator=g, device=device)
    t = torch.randint(0, T, (shape[0],), generator=g, device=device)
    sqrt_ab, sqrt_1m = S.sqrt_alpha_bars, S.sqrt_one_minus_alpha_bars  # float64 tables, as in guided-diffusion
    dims, v = tuple(range(1, len(shape))), _view(shape)

    def library():
        x_t = D.q_sample(x0, t, S, eps)
        return D.l_simple(eps, model(x_t, t)).mean()

    def hand():
        x_t = sqrt_ab[t].float().view(v) * x0 + sqrt_1m[t].float().view(v) * eps
        return ((eps - model(x_t, t)) ** 2).sum(dim=dims).mean()

    return library, hand


def ncsn_case(model, shape, device, g):
    L = 10
    sigmas = SM.geometric_sigmas(1.0, 0.01, L).to(device=device, dtype=torch.float32)
    x, eps = torch.randn(shape, generator=g, device=device), torch.randn(shape, generator=g, device=device)
    levels = torch.randint(0, L, (shape[0],), generator=g, device=device)
    v = _view(shape)

    def library():
        return SM.ncsn_loss(model, x, sigmas, levels=levels, noise=eps)

    def hand():
        sigma = sigmas[levels].view(v)
        s = model(x + sigma * eps, sigma.flatten())
        return (0.5 * sigma.flatten() ** 2 * ((s + eps / sigma) ** 2).flatten(1).sum(dim=1)).mean()

    return library, hand


def dsm_case(model, shape, device, g):
    sigma = 0.1
    x, eps = torch.randn(shape, generator=g, device=device), torch.randn(shape, generator=g, device=device)

    def library():
        return SM.denoising_score_matching(model, x, sigma, noise=eps)

    def hand():
        s = model(x + sigma * eps)
        return (0.5 * ((s + eps / sigma) ** 2).flatten(1).sum(dim=1)).mean()

    return library, hand


def gan_case(model, shape, device, g):
    features = math.prod(shape[1:])
    D_ = Critic(model, features).to(device)
    x_real = torch.randn(shape, generator=g, device=device)
    x_fake = torch.randn(shape, generator=g, device=device).requires_grad_(True)  # a generator's output
    u = torch.rand(shape[0], generator=g, device=device)
    v = _view(shape)

    def library():
        d_loss = G.discriminator_loss(D_(x_real), D_(x_fake.detach()))
        gp = G.gradient_penalty(D_, x_real, x_fake, noise=u)
        return d_loss + gp + G.generator_loss(D_(x_fake), kind="non_saturating")

    def hand():
        d_loss = F.softplus(-D_(x_real)).mean() + F.softplus(D_(x_fake.detach())).mean()
        x_hat = (u.view(v) * x_real + (1.0 - u.view(v)) * x_fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(D_(x_hat).sum(), x_hat, create_graph=True)
        gp = 10.0 * ((grad.flatten(1).norm(dim=1) - 1.0) ** 2).mean()
        return d_loss + gp + F.softplus(-D_(x_fake)).mean()

    return library, hand


DDIM_STEPS = 50


def ddim_case(model, shape, device, g):
    T = 1000
    S = D.Schedule(D.linear_beta_schedule(T).to(device))
    x_T = torch.randn(shape, generator=g, device=device)
    noise = x_T.unsqueeze(0)  # eta = 0: only x_T is drawn
    tau = D.respaced_timesteps(T, DDIM_STEPS).tolist()
    alpha_bars = S.alpha_bars.tolist()  # Python floats, once, before the loop (as a scheduler does)
    steps = torch.tensor(tau, device=device).unsqueeze(1).expand(DDIM_STEPS, shape[0]).contiguous().unbind(0)

    def library():
        with torch.no_grad():
            return D.ddim_sample(model, shape, S, noise=noise, n_steps=DDIM_STEPS, eta=0.0)

    def hand():
        with torch.no_grad():
            x = x_T
            for i in reversed(range(DDIM_STEPS)):
                ab = alpha_bars[tau[i]]
                ab_prev = alpha_bars[tau[i - 1]] if i > 0 else 1.0
                eps = model(x, steps[i])
                x0 = (x - math.sqrt(1.0 - ab) * eps) / math.sqrt(ab)
                x = math.sqrt(ab_prev) * x0 + math.sqrt(1.0 - ab_prev) * eps
            return x

    return library, hand


CASES: dict[str, Callable] = {"ddpm": ddpm_case, "ncsn": ncsn_case, "dsm": dsm_case, "gan": gan_case, "ddim": ddim_case}


# --------------------------------------------------------------------------- timing


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def per_call(fn: Callable[[], torch.Tensor], calls: int, device: torch.device, backward: bool) -> float:
    _sync(device)
    start = time.perf_counter()
    for _ in range(calls):
        out = fn()
        if backward:
            out.backward()
    _sync(device)
    return (time.perf_counter() - start) / calls


def calibrate(fn: Callable[[], torch.Tensor], device: torch.device, backward: bool, target: float = 0.1) -> int:
    once = per_call(fn, 3, device, backward)
    return max(3, int(target / max(once, 1e-7)))


def measure(library, hand, args, device, backward: bool) -> tuple[float, float]:
    calls = args.calls or calibrate(hand, device, backward)
    for fn in (library, hand):
        per_call(fn, max(3, calls // 10), device, backward)  # warm-up
    samples = {"library": [], "hand": []}
    order = [("library", library), ("hand", hand)]
    for r in range(args.rounds):
        for name, fn in order[r % 2 :] + order[: r % 2]:
            samples[name].append(per_call(fn, calls, device, backward))
    return statistics.median(samples["library"]), statistics.median(samples["hand"])


def main() -> None:
    args = parse_args()
    set_value_checks(args.value_checks)
    device = torch.device(args.device)
    if device.type == "cpu":
        torch.set_num_threads(args.threads)
    threads = f", {torch.get_num_threads()} intra-op thread(s)" if device.type == "cpu" else ""
    print(f"training losses and DDIM, float32 on {device}{threads}; torch {torch.__version__}, {platform.machine()}")
    print(
        f"median over {args.rounds} interleaved rounds; us per call (DDIM: per step); ratio = library / hand; "
        f"value checks {args.value_checks}"
    )
    header = f"  {'case':5s} {'batch':15s} {'model':8s} {'lib fwd':>9s} {'hand fwd':>9s} {'ratio':>6s}"
    print(header + f" {'lib f+b':>9s} {'hand f+b':>9s} {'ratio':>6s}")
    for case in args.cases.split(","):
        for shape in [tuple(int(k) for k in spec.split("x")) for spec in args.shapes.split(",")]:
            for kind in ("trivial", "network"):
                model = make_model(kind, shape, device)
                library, hand = CASES[case](model, shape, device, torch.Generator(device).manual_seed(1))
                a, b = library(), hand()
                # the same arithmetic, up to float32 rounding (DDIM: 50 steps of differently grouped terms)
                tol = {"rtol": 2e-3, "atol": 1e-2} if case == "ddim" else {"rtol": 2e-4, "atol": 1e-4}
                torch.testing.assert_close(a, b, **tol)
                fwd = measure(library, hand, args, device, backward=False)
                scale = 1e6 / (DDIM_STEPS if case == "ddim" else 1)
                line = f"  {case:5s} {shape!s:15s} {kind:8s} {fwd[0] * scale:9.1f} {fwd[1] * scale:9.1f} "
                line += f"{fwd[0] / fwd[1]:6.2f}"
                if case != "ddim":
                    both = measure(library, hand, args, device, backward=True)
                    line += f" {both[0] * scale:9.1f} {both[1] * scale:9.1f} {both[0] / both[1]:6.2f}"
                print(line, flush=True)
    if device.type == "cuda":
        torch.cuda.set_sync_debug_mode("error")
        try:
            for case in args.cases.split(","):
                library, _ = CASES[case](
                    make_model("network", (64, 2), device), (64, 2), device, torch.Generator(device)
                )
                out = library()
                if case != "ddim":
                    out.backward()
            print("  no host synchronisation in any library call (sync debug mode 'error' raised nothing)")
        finally:
            torch.cuda.set_sync_debug_mode("default")


if __name__ == "__main__":
    main()
