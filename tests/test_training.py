"""The accelerated side in a real training loop: one test per finding of the training-ready issue.

Each test failed before the change it guards: image batches refused by the score-matching losses,
sigma passed to a model as an (n, 1) column in training and as a float in sampling, an infinite
float16 NCSN loss, dtype errors under ``torch.autocast``, host reads in every training step with the
default settings, graph breaks under ``torch.compile``, generators on the wrong device drawn from
silently, and logits of shape (n, 1). Host reads are counted as calls of ``aten._local_scalar_dense``
(the operator behind ``.item()``, ``bool()``, ``float()`` and ``.tolist()``) under a
``TorchDispatchMode``; graph breaks with ``torch._dynamo.explain`` (eager backend), both through
:mod:`crosscheck.training`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import accelerated
from accelerated import diffusion as AD
from accelerated import gan as AG
from accelerated import langevin as AL
from accelerated import metrics as AM
from accelerated import models as AMOD
from accelerated import score_matching as AS
from accelerated import transport as AT
from crosscheck.training import count_host_reads, graph_breaks
from reference import langevin as RL
from reference import models as RMOD
from reference import score_matching as RS

F64 = torch.float64


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _numpy(value) -> np.ndarray:
    return value.detach().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)


def mlp(d_in: int, d_out: int, hidden: int = 16, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d_in, hidden), nn.SiLU(), nn.Linear(hidden, d_out))


class NoiseConditional(nn.Module):
    """s(x, sigma) = net([x, log sigma]) / sigma: calls tensor methods on sigma, as a real NCSN does."""

    def __init__(self, d: int, seed: int = 0) -> None:
        super().__init__()
        self.net = mlp(d + 1, d, seed=seed)
        self.seen: list[tuple[tuple[int, ...], torch.dtype, torch.device]] = []

    def forward(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        self.seen.append((tuple(sigma.shape), sigma.dtype, sigma.device))
        h = torch.cat([x, sigma.log().unsqueeze(-1).to(x.dtype)], dim=-1)
        return self.net(h) / sigma.view(-1, 1)


class TimeConditional(nn.Module):
    """eps(x_t, t) from an MLP of [x_t, t / T]: uses t as a tensor, as a diffusion U-Net does."""

    def __init__(self, d: int, T: int, seed: int = 0) -> None:
        super().__init__()
        self.net, self.T = mlp(d + 1, d, seed=seed), T

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, (t.to(x.dtype) / self.T).unsqueeze(-1)], dim=-1))


# ---------------------------------------------------------------- one data convention: (n, ...) of any rank


def test_score_matching_losses_take_image_batches_on_both_sides():
    """DSM, NCSN and sliced SM on (n, C, H, W) equal the same objectives on the flattened (n, D) samples.

    The model is the linear score s(x) = x W + b of the flattened features (``models.Flattened``):
    the norms of the slides are sums over all D = C H W features, so both shapes give one value.
    """
    rng = np.random.default_rng(1)
    n, shape = 5, (2, 3, 2)
    D = math.prod(shape)
    W, b = 0.1 * rng.normal(size=(D, D)), 0.1 * rng.normal(size=D)
    x, eps = rng.normal(size=(n, *shape)), rng.normal(size=(n, *shape))
    v = rng.normal(size=(3, n, *shape))
    sigmas = RS.geometric_sigmas(1.0, 0.05, 4)
    levels = np.array([0, 3, 1, 2, 3])

    def flat(a):
        return a.reshape(a.shape[0], -1) if a.ndim == 1 + len(shape) else a.reshape(a.shape[0], a.shape[1], -1)

    for side, lib, models, conv in (
        ("reference", RS, RMOD, np.asarray),
        ("accelerated", AS, AMOD, lambda a: torch.as_tensor(a, dtype=F64 if a.dtype.kind == "f" else None)),
    ):
        inner = models.LinearScore(conv(W), conv(b))
        image_model = models.Flattened(inner)
        pairs = [
            (
                lib.denoising_score_matching(image_model, conv(x), 0.3, noise=conv(eps)),
                lib.denoising_score_matching(inner, conv(flat(x)), 0.3, noise=conv(flat(eps))),
            ),
            (
                lib.ncsn_loss(
                    image_model, conv(x), conv(sigmas), noise_conditional=False, levels=conv(levels), noise=conv(eps)
                ),
                lib.ncsn_loss(
                    inner,
                    conv(flat(x)),
                    conv(sigmas),
                    noise_conditional=False,
                    levels=conv(levels),
                    noise=conv(flat(eps)),
                ),
            ),
            (
                lib.sliced_score_matching(image_model, conv(x), noise=conv(v)),
                lib.sliced_score_matching(inner, conv(flat(x)), noise=conv(flat(v))),
            ),
            (lib.implicit_score_matching(image_model, conv(x)), lib.implicit_score_matching(inner, conv(flat(x)))),
            (lib.fisher_divergence(conv(x), conv(eps)), lib.fisher_divergence(conv(flat(x)), conv(flat(eps)))),
        ]
        for image_value, flat_value in pairs:
            np.testing.assert_allclose(_numpy(image_value), _numpy(flat_value), rtol=1e-12, err_msg=side)


def test_a_convolutional_score_network_trains_on_images():
    """A conv net on (n, C, H, W): DSM, NCSN and sliced SM give finite losses and gradients for every parameter."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.SiLU(), nn.Conv2d(8, 3, 3, padding=1))
    x = torch.randn(4, 3, 8, 8)
    sigmas = AS.geometric_sigmas(1.0, 0.01, 10)
    losses = [
        AS.denoising_score_matching(net, x, 0.1, rng=gen(1)),
        AS.ncsn_loss(lambda y, s: net(y) / s.view(-1, 1, 1, 1), x, sigmas, rng=gen(2)),
        AS.sliced_score_matching(net, x, n_projections=2, rng=gen(3)),
    ]
    for loss in losses:
        assert loss.shape == () and torch.isfinite(loss)
        net.zero_grad()
        loss.backward()
        assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())


# ---------------------------------------------------------------- one model-call protocol


def test_a_model_that_trains_is_a_model_that_samples():
    """ncsn_loss, DSM and annealed Langevin call model(x, sigma) with the same sigma: an (n,) tensor in x's dtype."""
    model = NoiseConditional(2)
    x = torch.randn(6, 2, generator=gen(0))
    sigmas = AS.geometric_sigmas(1.0, 0.05, 5)
    loss = AS.ncsn_loss(model, x, sigmas, rng=gen(1))
    loss.backward()
    AS.denoising_score_matching(model, x, 0.2, noise_conditional=True, rng=gen(2))
    trained = list(model.seen)
    with torch.no_grad():
        out = AL.annealed_langevin_sample(model, x, sigmas, step_size=1e-3, n_steps_each=2, rng=gen(3), denoise=True)
    sampled = model.seen[len(trained) :]
    assert torch.isfinite(out.samples).all()
    assert set(trained) == set(sampled) == {((6,), torch.float32, x.device)}


def test_the_reference_side_has_the_same_protocol():
    seen = []

    def model(x, sigma):
        seen.append((sigma.shape, str(sigma.dtype)))
        return -x / (np.log1p(sigma) + 1.0)[:, None]  # array methods on sigma

    x = np.random.default_rng(0).normal(size=(6, 2))
    sigmas = RS.geometric_sigmas(1.0, 0.05, 5)
    RS.ncsn_loss(model, x, sigmas, rng=np.random.default_rng(1))
    RS.denoising_score_matching(model, x, 0.2, noise_conditional=True, rng=np.random.default_rng(2))
    RL.annealed_langevin_sample(model, x, sigmas, step_size=1e-3, n_steps_each=2, rng=np.random.default_rng(3))
    assert set(seen) == {((6,), "float64")}


def test_a_time_conditional_model_sees_t_the_same_way_in_training_and_sampling():
    T = 20
    schedule = AD.Schedule(AD.linear_beta_schedule(T, 1e-3, 0.2))
    model = TimeConditional(2, T)
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append((args[1].shape, args[1].dtype)))
    x0, eps, t = torch.randn(5, 2), torch.randn(5, 2), torch.randint(0, T, (5,))
    AD.l_simple(eps, model(AD.q_sample(x0, t, schedule, eps), t)).mean().backward()
    with torch.no_grad():
        AD.ddpm_sample(model, (5, 2), schedule, rng=gen(0))
    assert set(seen) == {(torch.Size([5]), torch.int64)}


# ---------------------------------------------------------------- float16 and mixed precision


def test_ncsn_loss_in_float16_is_finite_where_the_value_is_representable():
    """At sigma = 0.01, eps / sigma = 100 and its squared norm over 64 features (6.4e5) overflows float16;
    the loss itself, 1/2 mean ||sigma s + eps||^2 (32 for unit entries and s = 0), is representable."""
    n, d = 4, 64
    eps = torch.ones(n, d)

    def zero_model(x, sigma):
        return torch.zeros_like(x)

    sigmas = torch.tensor([1.0, 0.01])
    levels = torch.ones(n, dtype=torch.int64)
    exact = 0.5 * d  # closed form: (1/n) sum_i (1/2) ||eps_i||^2 with every entry 1
    value = AS.ncsn_loss(zero_model, torch.zeros(n, d, dtype=torch.float16), sigmas, levels=levels, noise=eps.half())
    assert value.dtype == torch.float32 and value.item() == pytest.approx(exact, rel=1e-3)
    # DSM at the same sigma: 1/2 ||s + eps / sigma||^2 = 1/2 * 64 * 1e4, far above float16's 65504; the
    # loss is accumulated in float32 and returned there, so it is finite too.
    dsm = AS.denoising_score_matching(lambda x: torch.zeros_like(x), torch.zeros(n, d).half(), 0.01, noise=eps.half())
    assert dsm.dtype == torch.float32 and dsm.item() == pytest.approx(0.5 * d * 1e4, rel=1e-3)
    # l_simple of float16 inputs accumulates and returns in float32: 64 features of (2 - (-2))^2 = 16
    r = AD.l_simple(torch.full((n, d), 2.0).half(), torch.full((n, d), -2.0).half())
    assert r.dtype == torch.float32 and torch.equal(r, torch.full((n,), 16.0 * d))


def test_a_float16_ddpm_chain_with_clipping_stays_finite():
    """Late in this (extreme but valid) schedule alpha_bar_t < 1e-15, and the clipped x0 estimate divides by
    sqrt(alpha_bar_t), which rounds to 0 in float16 (smallest subnormal 6e-8): the old float16 step gave
    NaN. The chain keeps its state in float16 and steps in float32, so it ends at the float64 chain's
    value to within float16 rounding."""
    T = 20
    betas = AD.linear_beta_schedule(T, 0.8, 0.99)
    schedule = AD.Schedule(betas)
    assert float(schedule.alpha_bars[-1]) < 1e-15
    noise = torch.randn(T, 4, 2, generator=gen(0), dtype=F64)
    model = AD.GaussianEps(torch.zeros(2, dtype=F64), torch.eye(2, dtype=F64), schedule)
    exact = AD.ddpm_sample(model, (4, 2), schedule, noise=noise, clip_x0=(-1.0, 1.0))
    half = AD.ddpm_sample(model, (4, 2), schedule, noise=noise.half(), clip_x0=(-1.0, 1.0))
    assert half.dtype == torch.float16 and torch.isfinite(half).all()
    torch.testing.assert_close(half.double(), exact, rtol=0.0, atol=16 * 2.0**-11 * 4)  # 16 roundings of |x| <= 4
    step = AD.ddpm_step(
        noise[0].half(), noise[1].half(), torch.full((4,), T - 1), schedule, noise[2].half(), clip_x0=(-1.0, 1.0)
    )
    assert step.dtype == torch.float16 and torch.isfinite(step).all()


def _autocast():
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_training_losses_run_under_autocast_and_return_float32():
    """The network runs in bfloat16 under autocast, the data and the loss stay float32, and the loss is the
    float32 one to within the network's bfloat16 rounding (2**-8 relative per op: 5% allows for a few dozen)."""
    T = 50
    schedule = AD.Schedule(AD.linear_beta_schedule(T))
    eps_net, score_net = TimeConditional(2, T), NoiseConditional(2)
    plain_net = mlp(2, 2)
    x0, eps, t = torch.randn(16, 2, generator=gen(0)), torch.randn(16, 2, generator=gen(1)), torch.arange(16) * 3
    sigmas = AS.geometric_sigmas(1.0, 0.05, 4).float()
    levels = torch.arange(16) % 4

    def losses():
        x_t = AD.q_sample(x0, t, schedule, eps)
        return {
            "l_simple": AD.l_simple(eps, eps_net(x_t, t)).mean(),
            "l_simple mean": AD.l_simple(eps, eps_net(x_t, t), reduction="mean").mean(),
            "weighted_dsm_loss": AD.weighted_dsm_loss(plain_net(x_t), x_t, x0, t, schedule).mean(),
            "ncsn_loss": AS.ncsn_loss(score_net, x0, sigmas, levels=levels, noise=eps),
            "denoising_score_matching": AS.denoising_score_matching(plain_net, x0, 0.5, noise=eps),
            "sliced_score_matching": AS.sliced_score_matching(plain_net, x0, noise=eps.unsqueeze(0)),
            "fisher_divergence": AS.fisher_divergence(plain_net(x0), -x0),
        }

    reference_values = losses()
    with _autocast():
        mixed = losses()
    for name, value in mixed.items():
        assert value.dtype == torch.float32, name
        assert value.item() == pytest.approx(reference_values[name].item(), rel=5e-2, abs=1e-2), name
        value.backward()


def test_samplers_keep_their_state_in_x_dtype_under_autocast():
    T = 30
    schedule = AD.Schedule(AD.linear_beta_schedule(T, 1e-3, 0.1))
    eps_net, score_net = TimeConditional(2, T), NoiseConditional(2)
    x = torch.randn(8, 2, generator=gen(0))
    with torch.no_grad(), _autocast():
        assert eps_net(x, torch.zeros(8, dtype=torch.int64)).dtype == torch.bfloat16  # autocast is on
        outputs = {
            "ddpm_sample": AD.ddpm_sample(eps_net, (8, 2), schedule, rng=gen(1)),
            "ddpm_step": AD.ddpm_step(x, eps_net(x, torch.full((8,), 5)), torch.full((8,), 5), schedule, rng=gen(2)),
            "annealed": AL.annealed_langevin_sample(
                score_net, x, [1.0, 0.3, 0.1], step_size=1e-3, n_steps_each=3, rng=gen(3)
            ).samples,
            "langevin_sample": AL.langevin_sample(
                lambda y: score_net(y, torch.full((8,), 0.1)), x, step_size=1e-3, n_steps=5, rng=gen(4)
            ).samples,
            "langevin_step": AL.langevin_step(
                x, score_net(x, torch.full((8,), 0.1)), step_size=1e-3, noise=torch.randn(8, 2)
            ),
        }
    for name, out in outputs.items():
        assert out.dtype == torch.float32 and torch.isfinite(out).all(), name


# ---------------------------------------------------------------- value checks without host reads


T_STEPS = 100


def _ddpm_step(model, schedule, x0, g):
    t = torch.randint(0, schedule.T, (x0.shape[0],), generator=g)
    eps = torch.randn(x0.shape, generator=g)
    loss = AD.l_simple(eps, model(AD.q_sample(x0, t, schedule, eps), t)).mean()
    loss.backward()
    return loss


def _ncsn_step(model, sigmas, x, g):
    loss = AS.ncsn_loss(model, x, sigmas, rng=g)
    loss.backward()
    return loss


def _gan_step(G, D, x_real, g):
    z = torch.randn(x_real.shape[0], 4, generator=g)
    x_fake = G(z)
    d_loss = AG.discriminator_loss(D(x_real), D(x_fake.detach())) + AG.gradient_penalty(D, x_real, x_fake, rng=g)
    d_loss.backward()
    g_loss = AG.generator_loss(D(x_fake), kind="non_saturating")
    g_loss.backward()
    return d_loss, g_loss


def test_training_steps_and_samplers_make_no_host_read_with_default_settings():
    assert accelerated._checks.get_value_checks() == "async"  # the default: checks on
    schedule = AD.Schedule(AD.linear_beta_schedule(T_STEPS))
    x = torch.randn(32, 2, generator=gen(0))
    sigmas = AS.geometric_sigmas(1.0, 0.01, 10)
    G, D = mlp(4, 2, seed=1), mlp(2, 1, seed=2)
    runs = {
        "DDPM training step": lambda: _ddpm_step(TimeConditional(2, T_STEPS), schedule, x, gen(1)),
        "NCSN training step": lambda: _ncsn_step(NoiseConditional(2), sigmas, x, gen(2)),
        "GAN step with gradient penalty": lambda: _gan_step(G, D, x, gen(3)),
    }
    for name, run in runs.items():
        seen = count_host_reads(run)
        assert seen.host_reads == 0, name
        assert seen.device_asserts >= 1, name  # the value checks ran, on the device
    eps_model = TimeConditional(2, 50)
    with torch.no_grad():
        samplers = {
            "ddpm_sample, 50 steps": lambda: AD.ddpm_sample(
                eps_model, (32, 2), AD.Schedule(AD.linear_beta_schedule(50)), rng=gen(4)
            ),
            "annealed_langevin_sample, 10 x 5 steps": lambda: AL.annealed_langevin_sample(
                NoiseConditional(2), x, sigmas, step_size=1e-4, n_steps_each=5, rng=gen(5)
            ),
            "langevin_sample, 50 steps": lambda: AL.langevin_sample(
                mlp(2, 2), x, step_size=1e-3, n_steps=50, rng=gen(6)
            ),
        }
        for name, run in samplers.items():
            assert count_host_reads(run).host_reads == 0, name


def test_value_checks_still_raise_with_the_argument_name():
    eps = torch.randn(4, 3)
    bad = eps.clone()
    bad[1, 2] = math.nan
    for mode in ("async", "sync"):
        with accelerated.value_checks(mode):
            with pytest.raises(ValueError, match="eps_pred: expected finite values, got 1 NaN"):
                AD.l_simple(eps, bad)
            with pytest.raises(ValueError, match="noise: expected finite values"):
                AS.denoising_score_matching(lambda x: x, eps, 0.1, noise=bad)
            with pytest.raises(ValueError, match=r"t: expected integer positions in 0\.\.9"):
                AD.q_sample(eps, torch.tensor([0, 1, 2, 10]), AD.Schedule(AD.linear_beta_schedule(10)), eps)
            with pytest.raises(ValueError, match=r"levels: expected indices in \[0, 3\)"):
                AS.ncsn_loss(
                    lambda x, s: x, eps, torch.tensor([1.0, 0.5, 0.1]), levels=torch.tensor([0, 1, 2, 3]), noise=eps
                )
            with pytest.raises(ValueError, match="sigmas: expected strictly decreasing"):
                AL.annealed_langevin_sample(
                    lambda x, s: x, eps, torch.tensor([0.1, 0.5]), step_size=0.1, n_steps_each=1, rng=gen()
                )
    with accelerated.value_checks(False):
        assert torch.isnan(AD.l_simple(eps, bad)[1])


def test_a_negative_position_is_refused_not_wrapped():
    """index_select's bounds check refuses t = -1 (Python indexing would silently take the last step)."""
    schedule = AD.Schedule(AD.linear_beta_schedule(10))
    x = torch.zeros(2, 3)
    with accelerated.value_checks(False), pytest.raises(ValueError, match="t: expected integer positions"):
        AD.q_sample(x, torch.tensor([0, -1]), schedule, x)


# ---------------------------------------------------------------- no graph breaks under torch.compile


def _diffusion_calls():
    T = 10
    S = AD.Schedule(AD.linear_beta_schedule(T, 1e-3, 0.2))
    x, e = torch.randn(3, 2, generator=gen(0)), torch.randn(3, 2, generator=gen(1))
    t, t1 = torch.tensor([0, 4, 9]), torch.tensor([1, 4, 9])
    var = torch.full((3, 1), 0.5)

    def eps_fn(y, s):
        return 0.1 * y

    calls = {
        "linear_beta_schedule": lambda: AD.linear_beta_schedule(T),
        "cosine_beta_schedule": lambda: AD.cosine_beta_schedule(T),
        "q_step": lambda: AD.q_step(x, t, S, e),
        "q_sample": lambda: AD.q_sample(x, t, S, e),
        "q_posterior": lambda: AD.q_posterior(x, e, t, S),
        "predict_x0_from_eps": lambda: AD.predict_x0_from_eps(x, e, t, S),
        "predict_eps_from_x0": lambda: AD.predict_eps_from_x0(x, e, t, S),
        "velocity": lambda: AD.velocity(x, e, t, S),
        "predict_x0_from_v": lambda: AD.predict_x0_from_v(x, e, t, S),
        "predict_eps_from_v": lambda: AD.predict_eps_from_v(x, e, t, S),
        "eps_to_score": lambda: AD.eps_to_score(e, t, S),
        "score_to_eps": lambda: AD.score_to_eps(e, t, S),
        "q_score": lambda: AD.q_score(x, e, t, S),
        "p_mean_from_eps": lambda: AD.p_mean_from_eps(x, e, t, S),
        "gaussian_kl": lambda: AD.gaussian_kl(x, var, e, var),
        "elbo_weight": lambda: AD.elbo_weight(t1, S),
        "l_t": lambda: AD.l_t(x, e, x, t1, S),
        "l_simple": lambda: AD.l_simple(x, e),
        "prior_kl": lambda: AD.prior_kl(x, S),
        "weighted_dsm_loss": lambda: AD.weighted_dsm_loss(e, x, x, t, S),
        "ddpm_step": lambda: AD.ddpm_step(x, e, t, S, e),
        "ddpm_sample": lambda: AD.ddpm_sample(eps_fn, (3, 2), S, noise=torch.randn(T, 3, 2)),
        "classifier_guided_mean": lambda: AD.classifier_guided_mean(x, var, e, 2.0),
        "classifier_guided_eps": lambda: AD.classifier_guided_eps(e, x, t, S, 2.0),
        "classifier_free_guidance": lambda: AD.classifier_free_guidance(e, x, 3.0),
        "decoder_log_likelihood": lambda: AD.decoder_log_likelihood(x, x, e, S),
        "nll_bound": lambda: AD.nll_bound(eps_fn, x, S, noise=torch.randn(T, 3, 2)),
    }
    for name in ("ddim_step", "ddim_sample"):  # DDIM, where it is part of the package
        if hasattr(AD, name):
            calls[name] = _ddim_call(name, S, x, e, eps_fn)
    return calls


def _ddim_call(name, S, x, e, eps_fn):
    if name == "ddim_step":
        return lambda: AD.ddim_step(x, e, torch.tensor([9, 4, 2]), torch.tensor([4, 2, 0]), S, e, eta=0.5)
    return lambda: AD.ddim_sample(eps_fn, (3, 2), S, noise=torch.randn(5, 3, 2), n_steps=5, eta=1.0)


DIFFUSION_CALLS = _diffusion_calls()


def test_every_diffusion_function_is_covered():
    import inspect

    functions = {n for n in AD.__all__ if inspect.isfunction(getattr(AD, n))}
    assert functions - {"respaced_timesteps"} <= set(DIFFUSION_CALLS)


@pytest.mark.parametrize("name", sorted(DIFFUSION_CALLS))
def test_diffusion_functions_compile_without_graph_breaks(name):
    breaks = graph_breaks(DIFFUSION_CALLS[name])
    assert breaks.count == 0, str(breaks)


def _other_calls():
    x, e = torch.randn(6, 2, generator=gen(0)), torch.randn(6, 2, generator=gen(1))
    net = mlp(2, 2)
    critic = mlp(2, 1)
    sigmas = AS.geometric_sigmas(1.0, 0.05, 4)
    levels = torch.tensor([0, 1, 2, 3, 0, 1])
    f1, f2 = torch.randn(40, 3, dtype=F64, generator=gen(2)), torch.randn(30, 3, dtype=F64, generator=gen(3))
    m1, m2 = f1.mean(0), f2.mean(0)
    c1, c2 = torch.cov(f1.T), torch.cov(f2.T)
    logits = torch.randn(6, 1)
    conditional = NoiseConditional(2)
    return {
        "annealed_langevin_sample": lambda: AL.annealed_langevin_sample(
            conditional, x, sigmas, step_size=1e-3, n_steps_each=2, noise=torch.randn(4, 2, 6, 2)
        ),
        "langevin_sample": lambda: AL.langevin_sample(net, x, step_size=1e-3, n_steps=3, noise=torch.randn(3, 6, 2)),
        "langevin_step": lambda: AL.langevin_step(x, net(x), step_size=1e-3, noise=e),
        "discriminator_loss": lambda: AG.discriminator_loss(logits, logits.flip(0)),
        "generator_loss": lambda: AG.generator_loss(logits, kind="non_saturating"),
        "wasserstein_critic_objective": lambda: AG.wasserstein_critic_objective(logits, logits.flip(0)),
        "gradient_penalty": lambda: AG.gradient_penalty(critic, x, e, noise=torch.rand(6)),
        "denoising_score_matching": lambda: AS.denoising_score_matching(net, x, 0.1, noise=e),
        "ncsn_loss": lambda: AS.ncsn_loss(conditional, x, sigmas, levels=levels, noise=e),
        "sliced_score_matching": lambda: AS.sliced_score_matching(net, x, noise=e.unsqueeze(0)),
        "frechet_distance": lambda: AM.frechet_distance(m1, c1, m2, c2),
        "fid": lambda: AM.fid(f1, f2),
        "prdc": lambda: AM.prdc(f1, f2, k=3),
    }


OTHER_CALLS = _other_calls()


@pytest.mark.parametrize("name", sorted(OTHER_CALLS))
def test_samplers_losses_and_metrics_compile_without_graph_breaks(name):
    breaks = graph_breaks(OTHER_CALLS[name])
    assert breaks.count == 0, str(breaks)


def _step_losses():
    """The forward pass of one training step of each kind, on fixed draws (what a user compiles)."""
    T = 20
    S = AD.Schedule(AD.linear_beta_schedule(T, 1e-3, 0.2))
    eps_model, score_model = TimeConditional(2, T, seed=1), NoiseConditional(2, seed=2)
    G, D = mlp(4, 2, seed=3), mlp(2, 1, seed=4)
    x = torch.randn(8, 2, generator=gen(0))
    e, z, u = torch.randn(8, 2, generator=gen(1)), torch.randn(8, 4, generator=gen(2)), torch.rand(8, generator=gen(3))
    t, levels = torch.arange(8) * 2, torch.arange(8) % 4
    sigmas = AS.geometric_sigmas(1.0, 0.05, 4)

    def ddpm():
        return AD.l_simple(e, eps_model(AD.q_sample(x, t, S, e), t)).mean()

    def ncsn():
        return AS.ncsn_loss(score_model, x, sigmas, levels=levels, noise=e)

    def gan():
        x_fake = G(z)
        d_loss = AG.discriminator_loss(D(x), D(x_fake.detach())) + AG.gradient_penalty(D, x, x_fake, noise=u)
        return d_loss + AG.generator_loss(D(x_fake), kind="non_saturating")

    return {"DDPM": (ddpm, eps_model), "NCSN": (ncsn, score_model), "GAN": (gan, nn.ModuleList([G, D]))}


STEPS = _step_losses()


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_a_whole_training_step_compiles_without_graph_breaks_and_gives_the_eager_gradients(kind):
    loss_fn, module = STEPS[kind]
    breaks = graph_breaks(loss_fn)
    assert breaks.count == 0, str(breaks)

    def gradients(fn):
        module.zero_grad()
        loss = fn()
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in module.parameters()]

    torch._dynamo.reset()
    eager_loss, eager_grads = gradients(loss_fn)
    compiled_loss, compiled_grads = gradients(torch.compile(loss_fn, backend="aot_eager", fullgraph=True))
    torch._dynamo.reset()
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-6, atol=1e-7)
    for a, b in zip(compiled_grads, eager_grads):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_compiled_fid_equals_eager_fid():
    """Compiled, FID takes the branch-free eigh square root of sigma1 instead of the Cholesky host branch."""
    f1, f2 = torch.randn(60, 4, dtype=F64, generator=gen(5)), torch.randn(50, 4, dtype=F64, generator=gen(6)) + 0.3
    torch._dynamo.reset()
    compiled = torch.compile(AM.fid, backend="aot_eager", fullgraph=True)(f1, f2)
    torch._dynamo.reset()
    torch.testing.assert_close(compiled, AM.fid(f1, f2), rtol=1e-10, atol=1e-12)


# ---------------------------------------------------------------- generators on the wrong device


def _wrong_device_calls():
    """Every rng= path, with the data on the 'meta' device and a CPU generator (value checks off: meta tensors
    hold no values; the device check reads metadata only)."""
    m = torch.zeros(4, 2, device="meta")
    S = AD.Schedule(AD.linear_beta_schedule(10)).to("meta")
    t = torch.zeros(4, dtype=torch.int64, device="meta")
    sigmas = torch.tensor([1.0, 0.5], device="meta")

    def f(x, *_):
        return x

    calls = {
        "q_step": lambda g: AD.q_step(m, t, S, rng=g),
        "q_sample": lambda g: AD.q_sample(m, t, S, rng=g),
        "ddpm_step": lambda g: AD.ddpm_step(m, m, t, S, rng=g),
        "denoising_score_matching": lambda g: AS.denoising_score_matching(f, m, 0.1, rng=g),
        "ncsn_loss": lambda g: AS.ncsn_loss(f, m, sigmas, rng=g),
        "sliced_score_matching": lambda g: AS.sliced_score_matching(f, m, rng=g),
        "hutchinson_trace": lambda g: AS.hutchinson_trace(f, m, rng=g),
        "explicit_score_matching": lambda g: AS.explicit_score_matching(f, m, 0.5, rng=g),
        "langevin_sample": lambda g: AL.langevin_sample(f, m, step_size=0.1, n_steps=1, rng=g),
        "annealed_langevin_sample": lambda g: AL.annealed_langevin_sample(
            f, m, [1.0], step_size=0.1, n_steps_each=1, rng=g
        ),
        "mala_sample": lambda g: AL.mala_sample(lambda x: x.sum(1), f, m, step_size=0.1, n_steps=1, rng=g),
        "gradient_penalty": lambda g: AG.gradient_penalty(lambda x: x.sum(1), m, m, rng=g),
        "sliced_wasserstein": lambda g: AT.sliced_wasserstein(m, m, rng=g),
        "fid_infinity": lambda g: AM.fid_infinity(
            torch.zeros(20, 2, device="meta"), torch.zeros(20, 2, device="meta"), rng=g
        ),
    }
    if hasattr(AD, "ddim_step"):
        calls["ddim_step"] = lambda g: AD.ddim_step(m, m, t + 5, t, S, rng=g, eta=1.0)
    return calls


WRONG_DEVICE = _wrong_device_calls()


@pytest.mark.parametrize("name", sorted(WRONG_DEVICE))
def test_a_generator_on_another_device_is_one_clear_error(name):
    with accelerated.value_checks(False), pytest.raises(ValueError, match=r"rng: expected a torch\.Generator on meta"):
        WRONG_DEVICE[name](gen())
