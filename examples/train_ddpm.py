"""DDPM on scikit-learn's 8x8 digits, on one process or many (DDP), ending with a distributed evaluation.

A residual-MLP eps-model with a sinusoidal time embedding (``_common.ResMLP``; ``--arch unet`` for a small
U-Net, about 25 times slower per step on a CPU) is trained with
``accelerated.diffusion.l_simple`` (the mean form, ``F.mse_loss``) on a linear beta schedule of
``--timesteps`` steps, its betas scaled by 1000 / T (Nichol and Dhariwal's rescaling, so that
alpha_bar_T stays near exp(-10) for any T), and sampled from an EMA of its weights with
``accelerated.diffusion.ddpm_sample`` (``--sampler ddpm``, T steps) or ``ddim_sample`` (``--sampler
ddim``, ``--sample-steps`` steps)::

    python examples/train_ddpm.py                                 # one process
    torchrun --nproc_per_node=2 examples/train_ddpm.py            # two (gloo on the CPU, nccl on CUDA)

Writes ``examples/out/ddpm/metrics.json``, ``samples.png``, ``checkpoint.pt`` and one ``eval_rank{r}.pt``
per rank (see ``_common.evaluate``).
"""

from __future__ import annotations

import _common as C
import torch

from accelerated import diffusion


def main(argv: list[str] | None = None) -> dict | None:
    p = C.parser("ddpm", __doc__)
    p.add_argument("--timesteps", type=int, default=250, help="T of the linear schedule (>= 21)")
    p.add_argument("--sampler", choices=("ddpm", "ddim"), default="ddpm")
    p.add_argument("--sample-steps", type=int, default=50, help="DDIM steps (--sampler ddim)")
    C.add_network_flags(p)
    p.set_defaults(steps=2000, lr=2e-3)
    args = p.parse_args(argv)
    ctx = C.setup(args)
    try:
        T = args.timesteps
        schedule = diffusion.Schedule(diffusion.linear_beta_schedule(T, 0.1 / T, 20.0 / T).to(ctx.device))
        net = C.conditional_network(args).to(ctx.device)
        ema = C.EMA(net, args.ema)
        opt = torch.optim.Adam(net.parameters(), lr=args.lr)
        model = C.maybe_compile(C.wrap(net, ctx), args)
        trainer = C.Trainer(ctx, args, {"model": net, "optimizer": opt, "ema": ema})
        g = C.generator(ctx, args.seed, 0, trainer.step)  # training draws: per rank, fresh after a resume

        def step(x0: torch.Tensor, k: int) -> torch.Tensor:
            t = torch.randint(0, T, (x0.shape[0],), device=ctx.device, generator=g)
            eps = torch.randn(x0.shape, device=ctx.device, generator=g)
            x_t = diffusion.q_sample(x0, t, schedule, eps)
            with C.autocast(ctx, args):
                eps_pred = model(x_t, t)
            loss = diffusion.l_simple(eps, eps_pred, reduction="mean").mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            ema.update(net, k)
            return loss.detach()

        trainer.run(C.loader(ctx, C.digits(), args), step)

        def sample(n: int, rng: torch.Generator) -> torch.Tensor:
            shape = (n, 1, 8, 8)
            if args.sampler == "ddpm":
                return diffusion.ddpm_sample(ema.module, shape, schedule, rng=rng, clip_x0=(-1.0, 1.0))
            return diffusion.ddim_sample(
                ema.module, shape, schedule, rng=rng, n_steps=args.sample_steps, clip_x0=(-1.0, 1.0)
            )

        return C.evaluate(ctx, args, trainer, sample)
    finally:
        C.teardown(ctx)


if __name__ == "__main__":
    main()
