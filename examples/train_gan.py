"""A GAN on scikit-learn's 8x8 digits with an R1 penalty, on one process or many (DDP), evaluated at the end.

MLP generator (``--latent`` normals -> 64 pixels, tanh) and discriminator (64 pixels -> one logit),
LeakyReLU(0.2), trained alternately with the library's losses: ``--loss non_saturating``
(``accelerated.gan.discriminator_loss(kind="cross_entropy")`` and ``generator_loss(kind="non_saturating")``)
or ``--loss hinge`` (both ``kind="hinge"``), plus ``accelerated.gan.r1_penalty`` (gamma ``--r1-gamma``)
on the real batch in every discriminator step. Samples come from an EMA of the generator::

    python examples/train_gan.py
    torchrun --nproc_per_node=2 examples/train_gan.py

The logged ``loss`` (``metrics.json``: ``losses``, ``loss_first``, ``loss_last``) is the
discriminator's loss with its penalty; ``g_loss`` and ``r1`` are logged alongside (``other_losses``).
The discriminator's loss falls in the first steps, as it learns to tell the generator's samples
apart (what the test checks), then climbs back toward 2 log 2 = 1.39, the value where it cannot, as
the generator catches up: over a full run ``loss_last`` exceeds ``loss_first``. Neither loss measures
the samples: the closing FID, KID, IS and PRDC do.

DDP: both networks are wrapped. In the discriminator step one DDP forward scores real and generated
samples together, and the penalty calls the unwrapped discriminator (its gradients reach the
parameters in the same backward pass, which the DDP forward prepared, so they are all-reduced with
the rest). In the generator step the discriminator is called unwrapped with its parameters frozen, so
that no discriminator gradient is formed or all-reduced there. ``--compile`` compiles the two DDP
forwards; the penalty (a double backward) stays eager.
"""

from __future__ import annotations

import itertools

import _common as C
import torch
from torch import nn

from accelerated import gan

KINDS = {"non_saturating": ("cross_entropy", "non_saturating"), "hinge": ("hinge", "hinge")}


def mlp(sizes: list[int], last: nn.Module | None = None) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(0.2))
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


class Generator(nn.Module):
    def __init__(self, latent: int, width: int):
        super().__init__()
        self.net = mlp([latent, width, width, width, 64], nn.Tanh())

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, 1, 8, 8)


class Discriminator(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.net = mlp([64, width, width, width, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.flatten(1))  # (n, 1) logits


def main(argv: list[str] | None = None) -> dict | None:
    p = C.parser("gan", __doc__)
    p.add_argument("--loss", choices=tuple(KINDS), default="non_saturating")
    p.add_argument("--r1-gamma", type=float, default=1.0)
    p.add_argument("--latent", type=int, default=32)
    p.add_argument("--width", type=int, default=256)
    p.set_defaults(steps=3000, lr=2e-4)
    args = p.parse_args(argv)
    ctx = C.setup(args)
    try:
        d_kind, g_kind = KINDS[args.loss]
        G_raw = Generator(args.latent, args.width).to(ctx.device)
        D_raw = Discriminator(args.width).to(ctx.device)
        ema = C.EMA(G_raw, args.ema)
        opt_g = torch.optim.Adam(G_raw.parameters(), lr=args.lr, betas=(0.5, 0.99))
        opt_d = torch.optim.Adam(D_raw.parameters(), lr=args.lr, betas=(0.5, 0.99))
        G = C.maybe_compile(C.wrap(G_raw, ctx), args)
        D = C.maybe_compile(C.wrap(D_raw, ctx), args)
        state = {"generator": G_raw, "discriminator": D_raw, "g_optimizer": opt_g, "d_optimizer": opt_d, "ema": ema}
        trainer = C.Trainer(ctx, args, state)
        g = C.generator(ctx, args.seed, 0, trainer.step)

        def latent(n: int, rng: torch.Generator) -> torch.Tensor:
            return torch.randn((n, args.latent), device=ctx.device, generator=rng)

        def step(x: torch.Tensor, k: int) -> dict[str, torch.Tensor]:
            n = x.shape[0]
            # discriminator: one DDP forward on [real; generated], the penalty on the unwrapped network
            with torch.no_grad(), C.autocast(ctx, args):
                fake = G_raw(latent(n, g)).float()
            with C.autocast(ctx, args):
                logits = D(torch.cat([x, fake]))
                r1 = gan.r1_penalty(D_raw, x, gamma=args.r1_gamma)
            d_loss = gan.discriminator_loss(logits[:n], logits[n:], kind=d_kind)
            opt_d.zero_grad(set_to_none=True)
            (d_loss + r1).backward()
            opt_d.step()
            # generator: through the frozen, unwrapped discriminator
            D_raw.requires_grad_(False)
            with C.autocast(ctx, args):
                g_logits = D_raw(G(latent(n, g)))
            g_loss = gan.generator_loss(g_logits, kind=g_kind)
            opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            opt_g.step()
            D_raw.requires_grad_(True)
            ema.update(G_raw, k)
            return {"loss": (d_loss + r1).detach(), "g_loss": g_loss.detach(), "r1": r1.detach()}

        trainer.run(C.loader(ctx, C.digits(), args), step)

        def sample(n: int, rng: torch.Generator) -> torch.Tensor:
            return ema.module(latent(n, rng))

        return C.evaluate(ctx, args, trainer, sample)
    finally:
        C.teardown(ctx)


if __name__ == "__main__":
    main()
