"""diffusion: known values, peers, autograd, float32, a sampler without host reads, slide theorems and bad input."""

import math

import numpy as np
import pytest
import torch

import crosscheck.pairs.diffusion
import crosscheck.theorems.diffusion  # registers the theorems
from accelerated import diffusion as acc
from accelerated import value_checks
from crosscheck.agree import Exact, Twin
from crosscheck.parity import parity_problems
from crosscheck.registry import PAIRS, THEOREMS, Side
from crosscheck.runner import check_pair, check_theorem
from reference import diffusion as ref

SIDES = [ref, acc]
IDS = ["reference", "accelerated"]


def t64(x, dtype=torch.float64):
    x = np.asarray(x)
    return torch.as_tensor(x, dtype=dtype) if x.dtype.kind == "f" else torch.as_tensor(x)


def conv(side, x):
    """NumPy input for the reference, tensors (float64 / int64) for the accelerated side."""
    if side is ref or not isinstance(x, (np.ndarray, list)):
        return x
    return t64(x)


def out(y):
    return y.detach().to(torch.float64).numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=np.float64)


def schedule(side, betas):
    return side.Schedule(conv(side, np.asarray(betas, dtype=np.float64)))


# ---------------------------------------------------------------- schedules


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_linear_schedule_is_linspace(side):
    np.testing.assert_allclose(out(side.linear_beta_schedule(1000)), np.linspace(1e-4, 0.02, 1000), rtol=1e-15)
    np.testing.assert_array_equal(out(side.linear_beta_schedule(1, 0.3, 0.5)), [0.3])


def _cosine_by_hand(T, s=0.008, max_beta=0.999):
    """Nichol & Dhariwal eq. 17 written out step by step (as their betas_for_alpha_bar)."""

    def f(u):
        return math.cos((u + s) / (1 + s) * math.pi / 2) ** 2

    return np.array([min(1 - f((i + 1) / T) / f(i / T), max_beta) for i in range(T)])


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_cosine_schedule_matches_the_paper(side):
    # 1 - ratio near 1: the two evaluation orders differ by eps / beta_1 ~ 5e-12 relative
    for T, kwargs in ((1000, {}), (7, {"s": 0.0, "max_beta": 0.5})):
        np.testing.assert_allclose(
            out(side.cosine_beta_schedule(T, **kwargs)), _cosine_by_hand(T, **kwargs), rtol=1e-10
        )
    assert out(side.cosine_beta_schedule(1000))[-1] == 0.999  # the clip binds at t = T


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_schedule_tables_known_values(side):
    S = schedule(side, [0.1, 0.2, 0.5])
    expected = {
        "alphas": [0.9, 0.8, 0.5],
        "alpha_bars": [0.9, 0.72, 0.36],
        "alpha_bars_prev": [1.0, 0.9, 0.72],
        "one_minus_alpha_bars": [0.1, 0.28, 0.64],
        "beta_tilde": [0.0, 0.2 * 0.1 / 0.28, 0.5 * 0.28 / 0.64],
        "posterior_mean_coef_x0": [1.0, math.sqrt(0.9) * 0.2 / 0.28, math.sqrt(0.72) * 0.5 / 0.64],
        "posterior_mean_coef_xt": [0.0, math.sqrt(0.8) * 0.1 / 0.28, math.sqrt(0.5) * 0.28 / 0.64],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(out(getattr(S, name)), values, rtol=1e-14, atol=1e-16, err_msg=name)
    # log beta_tilde clipped: position 0 takes position 1's value (log 0 = -inf otherwise)
    np.testing.assert_allclose(
        out(S.log_beta_tilde_clipped), np.log([0.2 * 0.1 / 0.28, 0.2 * 0.1 / 0.28, 0.5 * 0.28 / 0.64])
    )
    assert out(S.beta_tilde)[0] == 0.0 and S.T == len(S) == 3
    np.testing.assert_allclose(out(schedule(side, [0.3]).log_beta_tilde_clipped), [math.log(0.3)])  # T = 1
    # elbo_weight = (1 - alpha)^2 / (2 beta_tilde alpha (1 - alpha_bar)) = beta / (2 alpha (1 - alpha_bar_prev))
    w = out(side.elbo_weight(conv(side, np.array([1, 2])), S))
    np.testing.assert_allclose(w, [0.2 / (2 * 0.8 * 0.1), 0.5 / (2 * 0.5 * 0.28)], rtol=1e-14)


def test_tiny_betas_keep_one_minus_alpha_bar_exact():
    # 1 - cumprod(1 - beta) loses all but ~8 digits at beta = 1e-8; the log1p/expm1 table keeps them.
    betas = np.full(3, 1e-8)
    for side in SIDES:
        S = schedule(side, betas)
        np.testing.assert_allclose(
            out(S.one_minus_alpha_bars), -np.expm1(3 * np.log1p(-1e-8) * np.array([1, 2, 3]) / 3), rtol=1e-15
        )
        np.testing.assert_allclose(out(S.beta_tilde)[1], 1e-8 * 1e-8 / (1 - (1 - 1e-8) ** 2), rtol=1e-7)


def test_accelerated_schedule_is_float64_and_moves_bit_for_bit():
    S = acc.Schedule(acc.linear_beta_schedule(10).float())
    assert S.alpha_bars.dtype == torch.float64 and S.device == torch.device("cpu")
    moved = S.to("cpu")
    assert all(torch.equal(getattr(S, k), getattr(moved, k)) for k in ("betas", "alpha_bars", "beta_tilde"))
    R = ref.Schedule(np.asarray(acc.linear_beta_schedule(10).float(), dtype=np.float64))
    np.testing.assert_allclose(out(S.posterior_mean_coef_xt), R.posterior_mean_coef_xt, rtol=1e-15)
    with pytest.raises(ValueError, match="read-only"):
        R.alpha_bars[0] = 1.0


# ---------------------------------------------------------------- forward process, posterior, conversions


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_coefficients_broadcast_over_any_rank(side):
    rng = np.random.default_rng(0)
    S = schedule(side, ref.linear_beta_schedule(100))
    x0, eps = rng.normal(size=(3, 2, 4, 5)), rng.normal(size=(3, 2, 4, 5))
    t = np.array([0, 50, 99])
    x_t = out(side.q_sample(conv(side, x0), conv(side, t), S, conv(side, eps)))
    ab = np.cumprod(1 - ref.linear_beta_schedule(100))[t][:, None, None, None]
    np.testing.assert_allclose(x_t, np.sqrt(ab) * x0 + np.sqrt(1 - ab) * eps, rtol=1e-13, atol=1e-15)
    # a shared position (t of shape ()) equals the per-element one
    shared = out(side.q_sample(conv(side, x0), conv(side, np.array(50)), S, conv(side, eps)))
    per_element = out(side.q_sample(conv(side, x0), conv(side, np.array([50, 50, 50])), S, conv(side, eps)))
    np.testing.assert_array_equal(shared, per_element)
    post = side.q_posterior(conv(side, x0), conv(side, x_t), conv(side, t), S)
    assert tuple(post.variance.shape) == (3, 1, 1, 1) and tuple(post.mean.shape) == x0.shape


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_conversions_are_mutually_inverse(side):
    rng = np.random.default_rng(1)
    S = schedule(side, ref.cosine_beta_schedule(50))
    x0, eps = conv(side, rng.normal(size=(50, 3))), conv(side, rng.normal(size=(50, 3)))
    t = conv(side, np.arange(50))
    x_t = side.q_sample(x0, t, S, eps)
    np.testing.assert_allclose(out(side.predict_x0_from_eps(x_t, eps, t, S)), out(x0), atol=1e-9)
    np.testing.assert_allclose(out(side.predict_eps_from_x0(x_t, x0, t, S)), out(eps), atol=1e-12)
    v = side.velocity(x0, eps, t, S)
    np.testing.assert_allclose(out(side.predict_x0_from_v(x_t, v, t, S)), out(x0), atol=1e-14)
    np.testing.assert_allclose(out(side.predict_eps_from_v(x_t, v, t, S)), out(eps), atol=1e-14)
    score = side.eps_to_score(eps, t, S)
    np.testing.assert_allclose(out(side.score_to_eps(score, t, S)), out(eps), rtol=1e-15)
    np.testing.assert_allclose(out(score), out(side.q_score(x_t, x0, t, S)), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_q_sample_with_rng_has_the_right_moments(side):
    S = schedule(side, ref.linear_beta_schedule(10))
    rng = np.random.default_rng(3) if side is ref else torch.Generator().manual_seed(3)
    x0 = conv(side, np.full((20000, 1), 2.0))
    x_t = out(side.q_sample(x0, conv(side, np.array(9)), S, rng=rng))
    ab = np.cumprod(1 - ref.linear_beta_schedule(10))[9]
    assert abs(x_t.mean() - 2 * math.sqrt(ab)) < 4 * math.sqrt((1 - ab) / 20000)
    assert abs(x_t.var() / (1 - ab) - 1) < 4 * math.sqrt(2 / 20000)


# ---------------------------------------------------------------- ELBO terms


def test_gaussian_kl_matches_torch_distributions():
    rng = np.random.default_rng(4)
    mq, mp = rng.normal(size=(4, 3, 2)), rng.normal(size=(4, 3, 2))
    vq, vp = rng.uniform(0.01, 3, size=(4, 1, 1)), rng.uniform(0.01, 3, size=(4, 3, 2))
    Normal = torch.distributions.Normal
    peer = torch.distributions.kl_divergence(Normal(t64(mq), t64(vq).sqrt()), Normal(t64(mp), t64(vp).sqrt()))
    peer = peer.sum(dim=(1, 2)).numpy()
    for side in SIDES:
        kl = out(side.gaussian_kl(conv(side, mq), conv(side, vq), conv(side, mp), conv(side, vp)))
        np.testing.assert_allclose(kl, peer, rtol=1e-12)
        same = out(side.gaussian_kl(conv(side, mq), conv(side, vq), conv(side, mq), conv(side, vq)))
        np.testing.assert_array_equal(same, 0.0)
        with pytest.raises(ValueError, match=r"var_q: expected variances > 0"):  # a point mass: KL = +inf
            side.gaussian_kl(conv(side, mq), conv(side, np.zeros((4, 1, 1))), conv(side, mp), conv(side, vp))


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_prior_kl_is_the_gaussian_kl_to_a_standard_normal(side):
    x0 = np.random.default_rng(5).normal(size=(3, 2, 2))
    S = schedule(side, ref.linear_beta_schedule(1000))
    ab = np.cumprod(1 - ref.linear_beta_schedule(1000))[-1]
    expected = ref.gaussian_kl(math.sqrt(ab) * x0, np.full((3, 1, 1), 1 - ab), np.zeros_like(x0), np.ones((3, 1, 1)))
    np.testing.assert_allclose(out(side.prior_kl(conv(side, x0), S)), expected, rtol=1e-9)
    assert np.all(out(side.prior_kl(conv(side, x0), S)) < 1e-3)  # ~0: alpha_bar_T = 4e-5


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_l_simple_sums_over_features(side):
    eps, eps_pred = np.ones((2, 3, 4)), np.zeros((2, 3, 4))
    np.testing.assert_array_equal(out(side.l_simple(conv(side, eps), conv(side, eps_pred))), [12.0, 12.0])


def test_l_t_gradient_is_the_weighted_eps_error_gradient():
    # l_t = w ||eps - eps_theta||^2 (theorem) => d l_t / d eps_theta = -2 w (eps - eps_theta)
    rng = np.random.default_rng(6)
    S = acc.Schedule(acc.linear_beta_schedule(100))
    x0, eps = t64(rng.normal(size=(3, 4))), t64(rng.normal(size=(3, 4)))
    t = torch.tensor([1, 40, 99])
    x_t = acc.q_sample(x0, t, S, eps)
    eps_theta = (eps + 0.3 * t64(rng.normal(size=(3, 4)))).requires_grad_(True)
    acc.l_t(x0, x_t, eps_theta, t, S).sum().backward()
    w = acc.elbo_weight(t, S)[:, None]
    torch.testing.assert_close(eps_theta.grad, -2 * w * (eps - eps_theta.detach()), rtol=1e-8, atol=1e-10)


def test_float32_losses_are_computed_in_float64():
    # L_t divides a difference of nearly equal means by beta_tilde ~ 1e-4: float32 arithmetic would keep
    # ~3 digits; the float64 evaluation is correct to the float32 rounding of the result.
    rng = np.random.default_rng(7)
    S_acc = acc.Schedule(acc.linear_beta_schedule(1000))
    S_ref = ref.Schedule(ref.linear_beta_schedule(1000))
    x0, eps = rng.normal(size=(8, 16)).astype(np.float32), rng.normal(size=(8, 16)).astype(np.float32)
    eps_pred = (eps + 1e-3 * rng.normal(size=(8, 16))).astype(np.float32)
    t = np.array([1, 2, 5, 10, 100, 500, 900, 999])
    x_t = ref.q_sample(x0, t, S_ref, eps).astype(np.float32)
    expected = ref.l_t(x0, x_t, eps_pred, t, S_ref)
    got = acc.l_t(torch.from_numpy(x0), torch.from_numpy(x_t), torch.from_numpy(eps_pred), torch.from_numpy(t), S_acc)
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, rtol=2e-7)


# ---------------------------------------------------------------- sampling


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_ddpm_step_last_step_is_noise_free_and_clipping_bounds_x0(side):
    S = schedule(side, ref.linear_beta_schedule(20))
    rng = np.random.default_rng(8)
    x_t, eps = conv(side, rng.normal(size=(5, 3))), conv(side, rng.normal(size=(5, 3)))
    t0 = conv(side, np.zeros(5, dtype=np.int64))
    a = out(side.ddpm_step(x_t, eps, t0, S, conv(side, rng.normal(size=(5, 3)))))
    b = out(side.ddpm_step(x_t, eps, t0, S, conv(side, rng.normal(size=(5, 3)))))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, out(side.p_mean_from_eps(x_t, eps, t0, S)))
    # clip_x0 at position 0 returns the clipped x0 prediction itself (posterior mean coefficient 1 on x_0)
    x_big = conv(side, 50.0 * np.ones((5, 3)))
    clipped = out(side.ddpm_step(x_big, eps, t0, S, conv(side, np.zeros((5, 3))), clip_x0=(-1.0, 1.0)))
    np.testing.assert_allclose(clipped, 1.0, rtol=1e-12)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddpm_sample_is_the_loop_of_ddpm_step(side, clip):
    betas = ref.cosine_beta_schedule(12)
    S = schedule(side, betas)
    model = side.GaussianEps(conv(side, np.array([0.5, -0.2])), conv(side, np.array([[0.3, 0.1], [0.1, 0.2]])), S)
    noise = np.random.default_rng(9).normal(size=(12, 4, 2))
    x = conv(side, noise[0])
    for k in range(12):
        t = conv(side, np.full(4, 11 - k))
        z = conv(side, noise[k + 1] if k < 11 else np.zeros((4, 2)))
        x = side.ddpm_step(x, model(x, t), t, S, z, clip_x0=clip)
    sampled = side.ddpm_sample(model, (4, 2), S, noise=conv(side, noise), clip_x0=clip)
    np.testing.assert_allclose(out(sampled), out(x), rtol=1e-13, atol=1e-14)


def test_ddpm_sample_progress_bar_and_rng(capsys):
    S = acc.Schedule(acc.linear_beta_schedule(5))
    a = acc.ddpm_sample(lambda x, t: 0.1 * x, (2, 3), S, rng=torch.Generator().manual_seed(0), progress=True)
    b = acc.ddpm_sample(lambda x, t: 0.1 * x, (2, 3), S, rng=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and a.dtype == torch.get_default_dtype()
    assert "DDPM sampling" in capsys.readouterr().err
    r = ref.ddpm_sample(
        lambda x, t: 0.1 * x, (2, 3), ref.Schedule(ref.linear_beta_schedule(5)), rng=np.random.default_rng(0)
    )
    assert r.shape == (2, 3) and np.all(np.isfinite(r))


def test_ddpm_sample_loop_makes_no_host_reads(monkeypatch):
    """Inside the loop nothing may read a tensor on the host (.item, bool, float, int, tolist, numpy)."""
    S = acc.Schedule(acc.linear_beta_schedule(50))
    noise = torch.randn(50, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    in_loop = {"on": False}
    reads = []

    def guard(name):
        original = getattr(torch.Tensor, name)

        def wrapped(self, *args, **kwargs):
            if in_loop["on"]:
                reads.append(name)
            return original(self, *args, **kwargs)

        monkeypatch.setattr(torch.Tensor, name, wrapped)

    for name in ("item", "__bool__", "__float__", "__int__", "__index__", "tolist", "numpy"):
        guard(name)

    def eps_fn(x, t):
        in_loop["on"] = True  # validation is over once the model is first called
        return 0.1 * x

    for clip in (None, (-1.0, 1.0)):
        in_loop["on"] = False
        acc.ddpm_sample(eps_fn, (4, 3), S, noise=noise, clip_x0=clip)
    in_loop["on"] = False
    assert reads == []


def test_ddpm_sample_float32_agrees_with_the_reference():
    betas = ref.linear_beta_schedule(200)
    noise = np.random.default_rng(10).normal(size=(200, 64, 2))
    mean, cov = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    S_ref = ref.Schedule(betas)
    expected = ref.ddpm_sample(ref.GaussianEps(mean, cov, S_ref), (64, 2), S_ref, noise=noise)
    S = acc.Schedule(torch.from_numpy(betas))
    model = acc.GaussianEps(t64(mean), t64(cov), S)
    got = acc.ddpm_sample(model, (64, 2), S, noise=torch.from_numpy(noise).float())
    assert got.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected, atol=2e-5)  # 200 float32 steps


# ---------------------------------------------------------------- guidance


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_guidance_conventions(side):
    rng = np.random.default_rng(11)
    e_c, e_u = conv(side, rng.normal(size=(3, 2))), conv(side, rng.normal(size=(3, 2)))
    np.testing.assert_array_equal(out(side.classifier_free_guidance(e_c, e_u, 1.0)), out(e_c))
    np.testing.assert_array_equal(out(side.classifier_free_guidance(e_c, e_u, 0.0)), out(e_u))
    # gamma = 1 + w: Ho & Salimans' (1 + w) eps(x, y) - w eps(x)
    w = 2.5
    np.testing.assert_allclose(
        out(side.classifier_free_guidance(e_c, e_u, 1.0 + w)), (1 + w) * out(e_c) - w * out(e_u), rtol=1e-14
    )
    S = schedule(side, ref.linear_beta_schedule(10))
    g = conv(side, rng.normal(size=(3, 2)))
    t = conv(side, np.array([0, 4, 9]))
    sigma = np.sqrt(1 - np.cumprod(1 - ref.linear_beta_schedule(10)))[[0, 4, 9]][:, None]
    np.testing.assert_allclose(
        out(side.classifier_guided_eps(e_u, g, t, S, 3.0)), out(e_u) - 3.0 * sigma * out(g), rtol=1e-14
    )
    post = side.q_posterior(e_c, e_u, t, S)
    shifted = out(side.classifier_guided_mean(post.mean, post.variance, g, 2.0))
    np.testing.assert_allclose(shifted, out(post.mean) + 2.0 * out(post.variance) * out(g), rtol=1e-14)


# ---------------------------------------------------------------- crosscheck registration, parity, theorems


def test_parity_and_every_function_has_a_pair():
    import inspect

    assert parity_problems("diffusion") == []
    registered = {p.function for p in PAIRS if p.module == "diffusion"}
    functions = {n for n in ref.__all__ if inspect.isfunction(getattr(ref, n))}
    assert functions == registered


DIFFUSION_PAIRS = [p for p in PAIRS if p.module == "diffusion"]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("pair", DIFFUSION_PAIRS, ids=[p.function for p in DIFFUSION_PAIRS])
def test_pair_agrees_on_a_few_cases(pair, dtype):
    assert crosscheck.pairs.diffusion is not None
    assert check_pair(pair, dtype, max_examples=8, raise_errors=True).examples > 0


DIFFUSION_THEOREMS = [
    (th, s) for th in THEOREMS if th.check.__module__.startswith("crosscheck.theorems.diffusion") for s in th.sides
]


@pytest.mark.parametrize(("thm", "side"), DIFFUSION_THEOREMS, ids=[f"{th.name}-{s}" for th, s in DIFFUSION_THEOREMS])
def test_diffusion_theorems(thm, side):
    ev = check_theorem(thm, Side(side, quick=True), raise_errors=True).evidence
    assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


# ---------------------------------------------------------------- bad input (the pairs' bad inputs are in the registry)

B3 = np.array([0.1, 0.2, 0.3])
X = np.zeros((2, 3))
T2 = np.array([0, 2])
S3 = Twin("diffusion.Schedule", betas=Exact(B3))

# Classes are not pairs: their bad inputs, built on each side as crosscheck builds a Twin.
CLASS_BAD = [
    (Twin("diffusion.Schedule", betas=Exact(np.array([0.1, 1.0]))), r"betas: expected every beta in the open interval"),
    (Twin("diffusion.Schedule", betas=Exact(np.array([0.0, 0.5]))), r"betas: expected every beta in the open interval"),
    (Twin("diffusion.Schedule", betas=Exact(np.array([-0.1]))), r"betas: expected every beta in the open interval"),
    (Twin("diffusion.Schedule", betas=Exact(np.array([0.1, np.nan]))), r"betas: expected no NaN"),
    (Twin("diffusion.Schedule", betas=Exact(np.zeros((2, 2)) + 0.1)), r"betas: expected a non-empty 1-D"),
    (Twin("diffusion.Schedule", betas=Exact(np.zeros(0))), r"betas: expected a non-empty 1-D"),
    (
        Twin("diffusion.GaussianEps", mean=np.zeros(2), cov=np.array([[1.0, 2.0], [2.0, 1.0]]), schedule=S3),
        r"cov: expected symmetric positive definite",
    ),
    (Twin("diffusion.GaussianEps", mean=np.zeros(2), cov=np.eye(3), schedule=S3), r"cov: expected shape \(2, 2\)"),
    (
        Twin("diffusion.GaussianEps", mean=np.zeros(0), cov=np.zeros((0, 0)), schedule=S3),
        r"mean: expected at least one dimension",
    ),
]


@pytest.mark.parametrize("side", SIDES, ids=IDS)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_gaussian_eps_refuses_a_non_finite_x_t(side, value):
    """The model checks x_t on every call, as the models of accelerated.models do (not inside sampler loops)."""
    S = schedule(side, B3)
    model = side.GaussianEps(conv(side, np.zeros(2)), conv(side, np.eye(2)), S)
    x_t = np.zeros((3, 2))
    x_t[1, 0] = value
    with pytest.raises(ValueError, match=r"x_t: expected finite values"):
        model(conv(side, x_t), conv(side, np.array([0, 1, 2])))
    if side is acc:
        with value_checks(False):  # as inside a sampler's loop: no check, the NaN passes through
            assert np.isnan(out(model(conv(side, x_t), conv(side, np.array([0, 1, 2]))))).any()


@pytest.mark.parametrize("side", IDS)
@pytest.mark.parametrize(("twin", "match"), CLASS_BAD, ids=[f"{t.qualname}-{i}" for i, (t, _) in enumerate(CLASS_BAD)])
def test_bad_class_input(side, twin, match):
    with pytest.raises(ValueError, match=match):
        twin.build(side, "float64", "cpu")


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_numpy_scalars_are_accepted_and_float_counts_refused_alike(side):
    """T, n_steps, s, max_beta, eta and scale as NumPy scalars: the same result as Python's on both sides."""
    for T in (np.int64(10), np.int32(10)):
        np.testing.assert_array_equal(out(side.linear_beta_schedule(T)), out(side.linear_beta_schedule(10)))
        np.testing.assert_array_equal(out(side.cosine_beta_schedule(T)), out(side.cosine_beta_schedule(10)))
        np.testing.assert_array_equal(out(side.respaced_timesteps(T, np.int64(4))), out(side.respaced_timesteps(10, 4)))
    got = side.linear_beta_schedule(10, np.float32(1e-3), np.float64(0.05))
    np.testing.assert_array_equal(out(got), out(side.linear_beta_schedule(10, float(np.float32(1e-3)), 0.05)))
    cosine = side.cosine_beta_schedule(10, s=np.float32(0.01), max_beta=np.float64(0.9))
    np.testing.assert_array_equal(out(cosine), out(side.cosine_beta_schedule(10, float(np.float32(0.01)), 0.9)))
    e = conv(side, np.ones((2, 3)))
    np.testing.assert_array_equal(out(side.classifier_free_guidance(e, e, np.float32(2.0))), out(e))
    for call in (
        lambda: side.linear_beta_schedule(10.0),
        lambda: side.cosine_beta_schedule(np.float64(10)),
        lambda: side.respaced_timesteps(10, 4.0),
        lambda: side.linear_beta_schedule(True),
    ):
        with pytest.raises(TypeError, match=r"(T|n_steps): expected an integer"):
            call()


def test_bad_input_noise_and_rng_types():
    S_ref, S_acc = ref.Schedule(B3), acc.Schedule(t64(B3))
    with pytest.raises(ValueError, match="pass exactly one of noise="):
        ref.q_sample(X, T2, S_ref, X, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.ddpm_step(X, X, T2, S_ref, rng=torch.Generator())
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.ddpm_step(t64(X), t64(X), t64(T2), S_acc, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="progress: expected True or False"):
        acc.ddpm_sample(lambda x, t: x, (2, 3), S_acc, rng=torch.Generator(), progress=1)


def test_bad_input_accelerated_dtypes_and_devices():
    S = acc.Schedule(t64(B3))
    x64, x32 = t64(X), t64(X, torch.float32)
    with pytest.raises(TypeError, match="x_t, eps: expected one floating dtype"):
        acc.predict_x0_from_eps(x64, x32, t64(T2), S)
    with pytest.raises(TypeError, match=r"x0: expected a torch\.Tensor"):
        acc.q_sample(X, t64(T2), S, x64)
    with pytest.raises(TypeError, match="t: expected an integer"):
        acc.q_sample(x64, torch.tensor([0.0, 2.0]), S, x64)
    with pytest.raises(ValueError, match="t: expected a tensor on the schedule's device"):
        acc.q_sample(x64, t64(T2).to("meta"), S, x64)
    with pytest.raises(ValueError, match=r"eps_fn\(x_t, t\): expected a floating tensor of shape \(2, 3\)"):
        acc.ddpm_sample(lambda x, t: x[:1], (2, 3), S, noise=torch.zeros(3, 2, 3, dtype=torch.float64))
    # another floating dtype (autocast's) is cast to the sampling dtype: the chain stays float64
    out = acc.ddpm_sample(lambda x, t: x.float(), (2, 3), S, noise=torch.zeros(3, 2, 3, dtype=torch.float64))
    assert out.dtype == torch.float64
    # value checks can be switched off for a training loop: then the range is not read on the host
    with value_checks(False):
        acc.eps_to_score(x64, t64(np.array([1, 2])), S)


def test_gaussian_eps_accepts_half_parameters_as_the_reference_does():
    """float16 mean / cov: the SPD check runs in float64 (torch has no half Cholesky on the CPU)."""
    betas = np.linspace(1e-3, 0.2, 10)
    mean, cov = np.array([0.5, -1.0]), np.array([[2.0, 0.5], [0.5, 1.0]])
    x, t = np.array([[0.3, 0.1]]), np.array([4])
    half = acc.GaussianEps(
        torch.tensor(mean, dtype=torch.float16),
        torch.tensor(cov, dtype=torch.float16),
        acc.Schedule(torch.tensor(betas)),
    )
    expected = ref.GaussianEps(mean.astype(np.float16), cov.astype(np.float16), ref.Schedule(betas))(x, t)
    np.testing.assert_allclose(half(torch.tensor(x), torch.tensor(t)).numpy(), expected, rtol=1e-13, atol=1e-13)
    with pytest.raises(ValueError, match="cov: expected symmetric positive definite"):
        acc.GaussianEps(
            torch.zeros(2, dtype=torch.float16), -torch.eye(2, dtype=torch.float16), acc.Schedule(torch.tensor(betas))
        )
