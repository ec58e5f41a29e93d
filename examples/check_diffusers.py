"""diffusers' DDPMScheduler against the reference, through ``crosscheck.check`` and a thin adapter each.

Run: ``python examples/check_diffusers.py [--examples N] [--strict]`` (needs ``pip install diffusers``).

What it checks, on the pairs' own inputs (linear, cosine, random and extreme betas, positions at both
ends, data of any shape), at float32 (diffusers keeps its tables in float32) with the pairs' float32
tolerance:

* ``DDPMScheduler.add_noise(x0, noise, t)`` against ``diffusion.q_sample(x0, t, schedule, noise)``;
* the posterior of ``DDPMScheduler.step`` (``prediction_type='sample'``, so the model output *is* x_0;
  ``clip_sample=False``) against ``diffusion.q_posterior(x0, x_t, t, schedule)``: the mean is the step
  with its noise term removed (the same generator seed on zero inputs gives that term alone, by
  linearity), the variance is the scheduler's ``_get_variance(t)`` (``variance_type='fixed_small'``,
  beta_tilde).

Each scheduler is built from the drawn betas (``trained_betas=``); diffusers' position t is the
reference's (t = slide step - 1). DDIMScheduler is not checked here: its step goes from t to
t - T // num_inference_steps only, while the ``diffusion.ddim_step`` pair draws any earlier position.
Prints one line per check; exits 1 on a disagreement only with ``--strict``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from crosscheck import check


def _scheduler(schedule, **config):
    from diffusers import DDPMScheduler

    betas = schedule.betas.detach().cpu().numpy()
    return DDPMScheduler(num_train_timesteps=len(betas), trained_betas=betas, **config)


def add_noise(x0, t, schedule, noise):
    """diffusion.q_sample's signature on top of ``DDPMScheduler.add_noise``."""
    return _scheduler(schedule).add_noise(x0, noise, t.reshape(-1).expand(x0.shape[0]))


def q_posterior(x0, x_t, t, schedule):
    """diffusion.q_posterior's signature on top of ``DDPMScheduler.step`` (mean) and ``_get_variance``."""
    sched = _scheduler(schedule, prediction_type="sample", clip_sample=False, variance_type="fixed_small")
    ts = t.reshape(-1).expand(x0.shape[0])
    means, variances = [], []
    for i in range(x0.shape[0]):
        ti = int(ts[i])
        # diffusers' step wants (batch, features...): one sample, with a feature axis even for 1-D data
        a, b = x0[i : i + 1].reshape(1, -1), x_t[i : i + 1].reshape(1, -1)
        step = sched.step(a, ti, b, generator=torch.Generator().manual_seed(i)).prev_sample
        noise_term = sched.step(
            torch.zeros_like(a), ti, torch.zeros_like(b), generator=torch.Generator().manual_seed(i)
        )
        means.append((step - noise_term.prev_sample).reshape(x0[i : i + 1].shape))
        variances.append(torch.as_tensor(sched._get_variance(ti) if ti > 0 else 0.0, dtype=torch.float64))
    v = torch.stack(variances)  # one t shared by the batch (t.ndim == 0): one variance, shaped (1, ..., 1)
    variance = v[:1].reshape((1,) * x0.ndim) if t.ndim == 0 else v.reshape((-1,) + (1,) * (x0.ndim - 1))
    return torch.cat(means), variance


CHECKS = [("add_noise", add_noise, "diffusion.q_sample"), ("step (posterior)", q_posterior, "diffusion.q_posterior")]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="inputs per check (default 100)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if diffusers disagrees with the reference")
    args = parser.parse_args(argv)
    import diffusers

    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    failed = 0
    for label, fn, pair in CHECKS:
        r = check(fn, pair, dtype="float32", side="torch", max_examples=args.examples)
        status = "agrees" if r.passed else "DISAGREES"
        print(
            f"DDPMScheduler.{label} vs {pair}: {status} on {r.examples} inputs "
            f"(max abs {r.max_abs:.1e}, max rel {r.max_rel:.1e}, tolerance use {r.usage:.1e})"
        )
        if not r.passed:
            failed += 1
            print(f"  {r.error}\n  the input (a reproducer):\n{r.reproducer}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
