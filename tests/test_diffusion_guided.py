"""Classifier-guided ancestral sampling (L14 'Guided sampling', algorithm 1) on both sides."""

import numpy as np
import torch

import accelerated.diffusion as AD
import reference.diffusion as RD


def _gradient(x, t):
    return 1.0 - 2.0 * x


def test_one_guided_step_is_the_algorithm_1_line():
    betas = np.array([0.1, 0.2, 0.5])
    S = RD.Schedule(betas)
    rng = np.random.default_rng(0)
    x, eps, z = rng.normal(size=(3, 4, 2))
    t = np.array([2, 1, 2, 1])
    for gamma in (1.0, 3.0):
        mu = RD.p_mean_from_eps(x, eps, t, S)
        bt = S.beta_tilde[t][:, None]
        by_hand = (
            mu + gamma * bt * _gradient(mu, t) + np.sqrt(bt) * z
        )  # x_{t-1} = mu + beta_tilde g + sqrt(beta_tilde) eps
        got = RD.ddpm_step(x, eps, t, S, z, guidance=_gradient, guidance_scale=gamma)
        np.testing.assert_allclose(got, by_hand, rtol=1e-14, atol=1e-14)
        shifted = RD.classifier_guided_mean(mu, bt, _gradient(mu, t), gamma) + np.sqrt(bt) * z
        np.testing.assert_allclose(got, shifted, rtol=1e-14, atol=1e-14)
        acc = AD.ddpm_step(
            *map(torch.tensor, (x, eps, t)),
            AD.Schedule(torch.tensor(betas)),
            torch.tensor(z),
            guidance=_gradient,
            guidance_scale=gamma,
        )
        np.testing.assert_allclose(acc.numpy(), by_hand, rtol=1e-13, atol=1e-13)


def test_guided_sampler_matches_its_steps_and_no_shift_at_position_0():
    betas = np.array([0.1, 0.2, 0.5])
    S = RD.Schedule(betas)
    noise = np.random.default_rng(1).normal(size=(3, 2, 2))
    model = RD.GaussianEps(np.zeros(2), np.eye(2), S)
    x = noise[0]
    for k, t in enumerate((2, 1, 0)):
        tt = np.full(2, t)
        z = noise[k + 1] if t else np.zeros((2, 2))
        x = RD.ddpm_step(x, model(x, tt), tt, S, z, guidance=_gradient, guidance_scale=2.0)
    ref = RD.ddpm_sample(model, (2, 2), S, noise, guidance=_gradient, guidance_scale=2.0)
    np.testing.assert_allclose(ref, x, rtol=1e-14, atol=1e-14)
    SA = AD.Schedule(torch.tensor(betas))
    modelA = AD.GaussianEps(torch.zeros(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64), SA)
    acc = AD.ddpm_sample(modelA, (2, 2), SA, torch.tensor(noise), guidance=_gradient, guidance_scale=2.0)
    np.testing.assert_allclose(acc.numpy(), ref, rtol=1e-13, atol=1e-13)
    # position 0: beta_tilde = 0, the guided step is the unguided one
    x1 = noise[1]
    t0 = np.zeros(2, dtype=np.int64)
    np.testing.assert_array_equal(
        RD.ddpm_step(x1, model(x1, t0), t0, S, noise[2], guidance=_gradient),
        RD.ddpm_step(x1, model(x1, t0), t0, S, noise[2]),
    )
