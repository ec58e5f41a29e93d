"""diffusers' DDPMScheduler and DDIMScheduler against the reference, through ``crosscheck.check`` and thin adapters.

Run: ``python examples/check_diffusers.py [--examples N] [--strict]`` (needs ``pip install diffusers``).

What it checks, on the pairs' own inputs (linear, cosine, random and extreme betas, positions at both
ends, data of any shape), at float32 (diffusers keeps its tables in float32) with the pairs' float32
tolerance:

* ``DDPMScheduler.add_noise(x0, noise, t)`` against ``diffusion.q_sample(x0, t, schedule, noise)``;
* the posterior of ``DDPMScheduler.step`` (``prediction_type='sample'``, so the model output *is* x_0;
  ``clip_sample=False``) against ``diffusion.q_posterior(x0, x_t, t, schedule)``: the mean is the step
  with its noise term removed (the same generator seed on zero inputs gives that term alone, by
  linearity), the variance is the scheduler's ``_get_variance(t)`` (``variance_type='fixed_small'``,
  beta_tilde);
* ``DDIMScheduler.step`` (``prediction_type='epsilon'``, eta, ``variance_noise``) against
  ``diffusion.ddim_step(x_t, eps_pred, t, t_prev, schedule, noise, eta=, clip_x0=)``, from any t to any
  earlier t_prev, -1 (to x_0) included (see :func:`ddim_step` for how).

Each scheduler is built from the drawn betas (``trained_betas=``); diffusers' position t is the
reference's (t = slide step - 1).
Every drawn input is checked (``check(..., all_inputs=True)``): one line per check with the number of
inputs that disagree, then the first of them with a reproducer; exits 1 on a disagreement only with
``--strict``.
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


def _ddim_scheduler(betas: np.ndarray, stride: int, clip_range: float | None):
    """A DDIMScheduler on ``betas`` whose step goes from t to t - ``stride``."""
    from diffusers import DDIMScheduler

    sched = DDIMScheduler(
        num_train_timesteps=stride,  # with trained_betas only the step's stride reads it (see ddim_step)
        trained_betas=betas,
        prediction_type="epsilon",
        set_alpha_to_one=True,
        thresholding=False,
        clip_sample=clip_range is not None,
        clip_sample_range=1.0 if clip_range is None else clip_range,
    )
    sched.num_inference_steps = 1  # stride = num_train_timesteps // num_inference_steps; no set_timesteps
    return sched


def ddim_step(x_t, eps_pred, t, t_prev, schedule, noise=None, *, eta=0.0, clip_x0=None):
    """diffusion.ddim_step's signature on top of ``DDIMScheduler.step``, one sample at a time.

    How each input of the pair is expressed in diffusers 0.42 (``scheduling_ddim.py``), and what is assumed:

    * **Any t_prev.** ``step`` steps from ``timestep`` to ``timestep - config.num_train_timesteps //
      num_inference_steps``. With ``trained_betas`` the tables (``betas``, ``alphas_cumprod``) come from
      the betas, whatever ``num_train_timesteps`` says; apart from that stride, ``num_train_timesteps``
      is read only by ``set_timesteps`` (not called), the default ``timesteps`` array (unused by
      ``step``), ``__len__`` and the ``linear``/``scaled_linear``/cosine beta builders (not taken). So a
      scheduler built per sample with ``num_train_timesteps = t - t_prev`` and ``num_inference_steps = 1``
      set on it steps from t to exactly t_prev. Per-sample t and t_prev (shape (n,), or one shared by
      the batch) give per-sample strides: the step is taken one sample at a time, with diffusers' int
      ``timestep``, and the rows concatenated.
    * **t_prev = -1.** ``prev_timestep < 0`` reads ``final_alpha_cumprod``, which is 1 with
      ``set_alpha_to_one=True``: the reference's alpha_bar = 1 before the first step.
    * **eta and noise.** eta is passed as is; the drawn noise is passed as ``variance_noise`` (no
      generator), added only when eta > 0, as in the reference (with eta = 0 it is unused on both sides).
      diffusers' sigma is ``eta * sqrt(_get_variance(t, t_prev))``, ``_get_variance`` = (1 - alpha_bar_prev) /
      (1 - alpha_bar_t) (1 - alpha_bar_t / alpha_bar_prev), Song et al. eq. (16) as in the reference; its
      direction coefficient is the literal ``(1 - alpha_bar_prev - sigma^2) ** 0.5`` in float32 (the
      reference evaluates the same number without that cancellation).
    * **clip_x0.** The reference clips x0_hat and re-derives eps from the clipped x0_hat; diffusers does
      that with ``clip_sample=True`` and ``use_clipped_model_output=True``, but its range is symmetric,
      ``[-clip_sample_range, clip_sample_range]``. A symmetric ``(-r, r)`` maps to ``clip_sample_range=r``
      exactly. An asymmetric ``(low, high)`` (the pair draws ``(-0.5, 2.0)``) cannot be given to
      diffusers; it is expressed by a translation of the origin, exact in real arithmetic: with
      c = (low + high) / 2 and r = (high - low) / 2, diffusers steps ``x_t - sqrt(alpha_bar_t) c`` with
      range r, and ``sqrt(alpha_bar_prev) c`` is added back (x0_hat, eps_hat, the step and the noise all
      commute with that shift; alpha_bar from diffusers' own float32 table). Those inputs therefore also
      test this adapter's two extra float32 operations, not diffusers alone.
    * **Off:** ``thresholding=False``; ``prediction_type='epsilon'`` (the pair's eps_pred is the model
      output); no ``rescale_betas_zero_snr``; ``steps_offset`` and ``timestep_spacing`` only affect
      ``set_timesteps``.
    """
    betas = schedule.betas.detach().cpu().numpy()
    n = x_t.shape[0]
    ts, ps = t.reshape(-1).expand(n), t_prev.reshape(-1).expand(n)
    centre, half = 0.0, None
    if clip_x0 is not None:
        low, high = float(clip_x0[0]), float(clip_x0[1])
        centre, half = (low + high) / 2.0, (high - low) / 2.0
    rows = []
    for i in range(n):
        ti, pi = int(ts[i]), int(ps[i])
        sched = _ddim_scheduler(betas, ti - pi, half)
        sample, model_output = x_t[i : i + 1], eps_pred[i : i + 1]
        if centre != 0.0:
            a_t = sched.alphas_cumprod[ti]
            a_p = sched.alphas_cumprod[pi] if pi >= 0 else sched.final_alpha_cumprod
            sample = sample - a_t**0.5 * centre
        out = sched.step(
            model_output,
            ti,
            sample,
            eta=float(eta),
            use_clipped_model_output=clip_x0 is not None,
            variance_noise=None if noise is None else noise[i : i + 1],
        ).prev_sample
        if centre != 0.0:
            out = out + a_p**0.5 * centre
        rows.append(out)
    return torch.cat(rows)


CHECKS = [
    ("DDPMScheduler.add_noise", add_noise, "diffusion.q_sample"),
    ("DDPMScheduler.step (posterior)", q_posterior, "diffusion.q_posterior"),
    ("DDIMScheduler.step", ddim_step, "diffusion.ddim_step"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100, help="inputs per check (default 100)")
    parser.add_argument("--strict", action="store_true", help="exit 1 if diffusers disagrees with the reference")
    args = parser.parse_args(argv)
    import diffusers

    print(f"diffusers {diffusers.__version__}, torch {torch.__version__}, numpy {np.__version__}")
    failed = 0
    for label, fn, pair in CHECKS:
        # Every drawn input checked once (all_inputs): the count of disagreements, and the first one.
        r = check(fn, pair, dtype="float32", side="torch", max_examples=args.examples, all_inputs=True)
        drawn = r.examples + r.disagreed
        status = f"agrees on all {drawn} inputs" if r.passed else f"DISAGREES on {r.disagreed} of {drawn} inputs"
        print(
            f"{label} vs {pair}: {status} (over the agreeing: max abs {r.max_abs:.1e}, max rel {r.max_rel:.1e}, "
            f"tolerance use {r.usage:.1e})"
        )
        if not r.passed:
            failed += 1
            print(f"  the first, as drawn: {r.error}\n  the input (a reproducer):\n{r.reproducer}")
    return 1 if failed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
