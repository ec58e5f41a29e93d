"""DDIM (Song, Meng, Ermon 2021): respacing, the step and the sampler on both sides.

Known values are derived here from the formulas (closed forms on the 3-step schedule betas = (0.1, 0.2,
0.5), whose alpha_bar = (0.9, 0.72, 0.36) are exact decimals), then: eta = 1 on every position is DDPM,
eta = 0 needs no noise and draws none, rng types, a generator on the wrong device, no host
reads and no graph breaks, autocast, autograd, the crosscheck pairs and the theorems.
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

import crosscheck.pairs.diffusion  # registers the pairs
import crosscheck.theorems.diffusion  # registers the theorems
from accelerated import diffusion as acc
from crosscheck.registry import PAIRS, THEOREMS, Side
from crosscheck.runner import check_pair, check_theorem
from crosscheck.training import count_host_reads, graph_breaks
from reference import diffusion as ref

SIDES = [ref, acc]
IDS = ["reference", "accelerated"]
B3 = np.array([0.1, 0.2, 0.5])  # alpha_bar = 0.9, 0.72, 0.36; 1 - alpha_bar = 0.1, 0.28, 0.64


def conv(side, x):
    """NumPy input for the reference, tensors (float64 / int64) for the accelerated side."""
    if side is ref or not isinstance(x, np.ndarray):
        return x
    return torch.from_numpy(np.array(x))


def out(y):
    return y.detach().to(torch.float64).numpy() if isinstance(y, torch.Tensor) else np.asarray(y, dtype=np.float64)


def schedule(side, betas=B3):
    return side.Schedule(conv(side, np.asarray(betas, dtype=np.float64)))


def gaussian_model(side, S):
    return side.GaussianEps(conv(side, np.array([0.5, -0.2])), conv(side, np.array([[0.3, 0.1], [0.1, 0.2]])), S)


# ---------------------------------------------------------------- respacing


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_respaced_timesteps_known_values(side):
    # tau_i = round(i (T - 1) / (S - 1)), ties up: 999 / 9 = 111 exactly; 5 / 2 = 2.5 -> 3; 7 / 2 = 3.5 -> 4
    np.testing.assert_array_equal(out(side.respaced_timesteps(1000, 10)), 111 * np.arange(10))
    np.testing.assert_array_equal(out(side.respaced_timesteps(6, 3)), [0, 3, 5])
    np.testing.assert_array_equal(out(side.respaced_timesteps(8, 3)), [0, 4, 7])
    np.testing.assert_array_equal(out(side.respaced_timesteps(5, 5)), np.arange(5))  # n_steps = T: all
    np.testing.assert_array_equal(out(side.respaced_timesteps(7, 1)), [6])  # one jump from T - 1
    np.testing.assert_array_equal(out(side.respaced_timesteps(1, 1)), [0])
    np.testing.assert_array_equal(out(side.respaced_timesteps(np.int64(4), np.int32(2))), [0, 3])
    tau = side.respaced_timesteps(50, 7)
    assert (tau.dtype == np.int64) if side is ref else (tau.dtype == torch.int64)


def test_respaced_timesteps_are_increasing_and_within_half_a_step_of_the_linspace():
    for T in (1, 2, 3, 10, 57, 1000):
        for S in sorted({min(s, T) for s in (1, 2, 3, T // 2 or 1, T - 1 or 1, T)}):
            r, a = ref.respaced_timesteps(T, S), acc.respaced_timesteps(T, S).numpy()
            np.testing.assert_array_equal(r, a)
            assert r[-1] == T - 1 and (S == 1 or r[0] == 0) and np.all(np.diff(r) >= 1)
            if S > 1:
                assert np.all(np.abs(r - np.linspace(0, T - 1, S)) <= 0.5 + 1e-12)


# ---------------------------------------------------------------- the step: closed forms


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_ddim_step_known_values(side):
    S = schedule(side)
    x, eps, z = np.array([[1.0, -2.0]]), np.array([[0.5, 0.25]]), np.array([[0.3, -1.0]])
    t, t0, tm1 = conv(side, np.array([2])), conv(side, np.array([0])), conv(side, np.array([-1]))
    x0_hat = (x - 0.8 * eps) / 0.6  # sqrt(1 - 0.36) = 0.8, sqrt(0.36) = 0.6
    # eta = 0 from position 2 to 0: sqrt(0.9) x0_hat + sqrt(0.1) eps, no noise needed
    got = side.ddim_step(conv(side, x), conv(side, eps), t, t0, S)
    np.testing.assert_allclose(out(got), math.sqrt(0.9) * x0_hat + math.sqrt(0.1) * eps, rtol=1e-14)
    # eta = 1: sigma^2 = (0.1 / 0.64) (1 - 0.36 / 0.9) = 0.09375, direction sqrt(0.1 - 0.09375)
    got = side.ddim_step(conv(side, x), conv(side, eps), t, t0, S, conv(side, z), eta=1.0)
    expected = math.sqrt(0.9) * x0_hat + math.sqrt(0.00625) * eps + math.sqrt(0.09375) * z
    np.testing.assert_allclose(out(got), expected, rtol=1e-14)
    # eta = 0.5: sigma^2 = 0.25 * 0.09375
    got = side.ddim_step(conv(side, x), conv(side, eps), t, t0, S, conv(side, z), eta=0.5)
    expected = math.sqrt(0.9) * x0_hat + math.sqrt(0.1 - 0.0234375) * eps + math.sqrt(0.0234375) * z
    np.testing.assert_allclose(out(got), expected, rtol=1e-14)
    # t_prev = -1 (alpha_bar = 1): x_prev = x0_hat, sigma = 0 whatever eta and noise
    for eta, noise in ((0.0, None), (1.0, z), (1.0, 100 * z)):
        got = side.ddim_step(conv(side, x), conv(side, eps), t, tm1, S, conv(side, noise), eta=eta)
        np.testing.assert_allclose(out(got), x0_hat, rtol=1e-14)
    # clip_x0: x0_hat clipped, eps re-derived from it, eps_hat = (x - 0.6 x0_c) / 0.8
    x0_c = np.clip(x0_hat, -1.0, 1.0)
    eps_hat = (x - 0.6 * x0_c) / 0.8
    got = side.ddim_step(conv(side, x), conv(side, eps), t, t0, S, clip_x0=(-1.0, 1.0))
    np.testing.assert_allclose(out(got), math.sqrt(0.9) * x0_c + math.sqrt(0.1) * eps_hat, rtol=1e-14)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_step_with_eta_one_to_the_previous_position_is_ddpm_step(side, clip):
    S = schedule(side, ref.cosine_beta_schedule(12))
    rng = np.random.default_rng(1)
    x, eps, z = (conv(side, rng.normal(size=(12, 2, 3))) for _ in range(3))
    t = np.arange(12)
    ddpm = side.ddpm_step(x, eps, conv(side, t), S, z, clip_x0=clip)
    ddim = side.ddim_step(x, eps, conv(side, t), conv(side, t - 1), S, z, eta=1.0, clip_x0=clip)
    np.testing.assert_allclose(out(ddim), out(ddpm), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_ddim_step_eta_zero_needs_no_noise_and_draws_none(side):
    S = schedule(side)
    rng = np.random.default_rng(2)
    x, eps = conv(side, rng.normal(size=(3, 2))), conv(side, rng.normal(size=(3, 2)))
    t, t_prev = conv(side, np.array([2, 2, 1])), conv(side, np.array([1, -1, 0]))
    plain = out(side.ddim_step(x, eps, t, t_prev, S))
    with_noise = out(side.ddim_step(x, eps, t, t_prev, S, conv(side, rng.normal(size=(3, 2)))))
    np.testing.assert_array_equal(plain, with_noise)
    gen = np.random.default_rng(5) if side is ref else torch.Generator().manual_seed(5)
    np.testing.assert_array_equal(out(side.ddim_step(x, eps, t, t_prev, S, rng=gen)), plain)
    if side is ref:
        assert gen.standard_normal() == np.random.default_rng(5).standard_normal()  # nothing drawn
    else:
        assert torch.equal(gen.get_state(), torch.Generator().manual_seed(5).get_state())


def test_ddim_step_shared_and_per_element_positions_agree():
    for side in SIDES:
        S = schedule(side, ref.linear_beta_schedule(30))
        rng = np.random.default_rng(3)
        x, eps, z = (conv(side, rng.normal(size=(4, 2, 2))) for _ in range(3))
        a = side.ddim_step(x, eps, conv(side, np.array(20)), conv(side, np.array(7)), S, z, eta=0.7)
        b = side.ddim_step(x, eps, conv(side, np.full(4, 20)), conv(side, np.full(4, 7)), S, z, eta=0.7)
        np.testing.assert_array_equal(out(a), out(b))


# ---------------------------------------------------------------- the sampler


@pytest.mark.parametrize("side", SIDES, ids=IDS)
@pytest.mark.parametrize("eta", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_sample_is_the_loop_of_ddim_step(side, eta, clip):
    S = schedule(side, ref.cosine_beta_schedule(20))
    model = gaussian_model(side, S)
    noise = np.random.default_rng(4).normal(size=(7, 4, 2))
    tau = ref.respaced_timesteps(20, 7)
    x = conv(side, noise[0])
    for k in range(7):
        t = conv(side, np.full(4, tau[6 - k]))
        t_prev = conv(side, np.full(4, tau[5 - k] if k < 6 else -1))
        z = conv(side, noise[k + 1] if k < 6 else np.zeros((4, 2)))
        x = side.ddim_step(x, model(x, t), t, t_prev, S, z, eta=eta, clip_x0=clip)
    sampled = side.ddim_sample(model, (4, 2), S, noise=conv(side, noise), n_steps=7, eta=eta, clip_x0=clip)
    np.testing.assert_allclose(out(sampled), out(x), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
@pytest.mark.parametrize("clip", [None, (-1.0, 1.0)])
def test_ddim_sample_with_eta_one_on_every_position_is_ddpm_sample(side, clip):
    S = schedule(side, ref.linear_beta_schedule(12, 1e-3, 0.3))
    model = gaussian_model(side, S)
    noise = conv(side, np.random.default_rng(5).normal(size=(12, 3, 2)))
    ddpm = side.ddpm_sample(model, (3, 2), S, noise=noise, clip_x0=clip)
    ddim = side.ddim_sample(model, (3, 2), S, noise=noise, eta=1.0, clip_x0=clip)
    np.testing.assert_allclose(out(ddim), out(ddpm), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("side", SIDES, ids=IDS)
def test_ddim_sample_passes_original_positions_and_eta_zero_uses_x_T_only(side):
    S = schedule(side, ref.linear_beta_schedule(100))
    seen = []

    def eps_fn(x, t):
        seen.append((out(t).astype(int).tolist(), tuple(t.shape), t.dtype))
        return 0.1 * x

    noise = np.random.default_rng(6).normal(size=(5, 3, 2))
    a = side.ddim_sample(eps_fn, (3, 2), S, noise=conv(side, noise), n_steps=5)
    assert [s[0][0] for s in seen] == [99, 74, 50, 25, 0] and all(s[0] == [s[0][0]] * 3 for s in seen)
    assert all(s[1] == (3,) for s in seen) and seen[0][2] in (np.int64, torch.int64)
    b = side.ddim_sample(eps_fn, (3, 2), S, noise=conv(side, noise[:1]), n_steps=5)  # x_T alone
    other = np.concatenate((noise[:1], np.random.default_rng(7).normal(size=(4, 3, 2))))
    c = side.ddim_sample(eps_fn, (3, 2), S, noise=conv(side, other), n_steps=5)
    np.testing.assert_array_equal(out(a), out(b))
    np.testing.assert_array_equal(out(a), out(c))
    # with eps = 0.1 x every step is linear: x_prev = x (1 + 0.1 w) / r, so x_0 = x_T * prod of the factors
    ab = np.cumprod(1 - ref.linear_beta_schedule(100))
    factor, tau = 1.0, [99, 74, 50, 25, 0]
    for i, t in enumerate(tau):
        a_p, m_p = (ab[tau[i + 1]], 1 - ab[tau[i + 1]]) if i < 4 else (1.0, 0.0)
        factor *= math.sqrt(a_p / ab[t]) * (1 - 0.1 * math.sqrt(1 - ab[t])) + 0.1 * math.sqrt(m_p)
    np.testing.assert_allclose(out(a), factor * noise[0], rtol=1e-12)


def test_ddim_sample_rng_draws_x_T_then_one_z_per_step():
    S_ref, S_acc = ref.Schedule(ref.linear_beta_schedule(10)), acc.Schedule(acc.linear_beta_schedule(10))
    for eta in (0.0, 0.6):
        # reference: the same draws, in the same order, as an explicit noise array
        drawn = np.random.default_rng(8).standard_normal((5, 2, 3))
        expected = ref.ddim_sample(lambda x, t: 0.1 * x, (2, 3), S_ref, noise=drawn, n_steps=5, eta=eta)
        got = ref.ddim_sample(lambda x, t: 0.1 * x, (2, 3), S_ref, rng=np.random.default_rng(8), n_steps=5, eta=eta)
        np.testing.assert_array_equal(got, expected)
        g = torch.Generator().manual_seed(8)
        draws = torch.stack([torch.randn((2, 3), generator=g) for _ in range(5)])
        expected = acc.ddim_sample(lambda x, t: 0.1 * x, (2, 3), S_acc, noise=draws, n_steps=5, eta=eta)
        got = acc.ddim_sample(
            lambda x, t: 0.1 * x, (2, 3), S_acc, rng=torch.Generator().manual_seed(8), n_steps=5, eta=eta
        )
        assert got.dtype == torch.get_default_dtype()
        torch.testing.assert_close(got, expected, rtol=0, atol=0)


def test_ddim_sample_progress_bar(capsys):
    S = acc.Schedule(acc.linear_beta_schedule(5))
    a = acc.ddim_sample(lambda x, t: 0.1 * x, (2, 3), S, rng=torch.Generator().manual_seed(0), progress=True)
    assert "DDIM sampling" in capsys.readouterr().err and a.shape == (2, 3)
    r = ref.ddim_sample(lambda x, t: 0.1 * x, (2, 3), ref.Schedule(B3), rng=np.random.default_rng(0), progress=True)
    assert "DDIM sampling" in capsys.readouterr().err and r.shape == (2, 3)


def test_ddim_sample_float32_agrees_with_the_reference():
    betas = ref.linear_beta_schedule(1000)
    noise = np.random.default_rng(10).normal(size=(50, 64, 2))
    mean, cov = np.array([1.0, -0.5]), np.array([[1.0, 0.6], [0.6, 0.5]])
    S_ref = ref.Schedule(betas)
    S = acc.Schedule(torch.from_numpy(betas))
    model = acc.GaussianEps(torch.from_numpy(mean), torch.from_numpy(cov), S)
    for eta in (0.0, 1.0):
        expected = ref.ddim_sample(ref.GaussianEps(mean, cov, S_ref), (64, 2), S_ref, noise=noise, n_steps=50, eta=eta)
        got = acc.ddim_sample(model, (64, 2), S, noise=torch.from_numpy(noise).float(), n_steps=50, eta=eta)
        assert got.dtype == torch.float32
        np.testing.assert_allclose(got.numpy(), expected, atol=2e-5)  # 50 float32 steps of O(1) terms


# ---------------------------------------------------------------- training readiness


def _linear_eps(d=3, seed=0):
    torch.manual_seed(seed)
    lin = nn.Linear(d, d)

    def eps_fn(x, t):
        return lin(x)

    return lin, eps_fn


def test_ddim_sample_makes_no_host_reads():
    S = acc.Schedule(acc.linear_beta_schedule(1000))
    noise = torch.randn(50, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    _, eps_fn = _linear_eps()
    eps64 = lambda x, t: eps_fn(x.float(), t).double()  # noqa: E731
    for eta in (0.0, 0.5):
        for clip in (None, (-1.0, 1.0)):
            reads = count_host_reads(acc.ddim_sample, eps64, (4, 3), S, noise=noise, n_steps=50, eta=eta, clip_x0=clip)
            assert reads.host_reads == 0, (eta, clip)
    gen = torch.Generator().manual_seed(2)
    reads = count_host_reads(acc.ddim_sample, eps64, (4, 3), S, rng=gen, n_steps=50, eta=0.5)
    assert reads.host_reads == 0
    # the step checks its values on the device: assertions, no reads
    x = noise[0]
    t, t_prev = torch.full((4,), 500), torch.full((4,), 400)
    reads = count_host_reads(acc.ddim_step, x, x, t, t_prev, S, noise[1], eta=0.5)
    assert reads.host_reads == 0 and reads.device_asserts == 1


def test_no_graph_breaks_with_noise():
    S = acc.Schedule(acc.linear_beta_schedule(100))
    noise = torch.randn(10, 4, 3, generator=torch.Generator().manual_seed(3))
    model = acc.GaussianEps(torch.zeros(3, dtype=torch.float64), torch.eye(3, dtype=torch.float64), S)
    t, t_prev = torch.full((4,), 50), torch.full((4,), 40)
    for eta, z in ((0.5, noise[1]), (0.0, None)):
        report = graph_breaks(
            lambda x, e, z=z, eta=eta: acc.ddim_step(x, e, t, t_prev, S, z, eta=eta), noise[0], noise[2]
        )
        assert report.count == 0, str(report)
    for eta in (0.0, 1.0):
        report = graph_breaks(lambda n, eta=eta: acc.ddim_sample(model, (4, 3), S, noise=n, n_steps=10, eta=eta), noise)
        assert report.count == 0, str(report)


def test_ddim_sample_under_autocast_keeps_the_state_float32():
    S = acc.Schedule(acc.linear_beta_schedule(100))
    _, eps_fn = _linear_eps()
    noise = torch.randn(10, 8, 3, generator=torch.Generator().manual_seed(4))
    seen = []

    def model(x, t):
        seen.append(x.dtype)
        eps = eps_fn(x, t)
        assert eps.dtype == torch.bfloat16  # what autocast's matmul returns
        return eps

    with torch.autocast("cpu", dtype=torch.bfloat16):
        x0 = acc.ddim_sample(model, (8, 3), S, noise=noise, n_steps=10, eta=0.5)
    assert x0.dtype == torch.float32 and set(seen) == {torch.float32} and bool(torch.isfinite(x0).all())
    # the step casts a bfloat16 eps_pred to x_t's dtype as well
    eps = noise[1].bfloat16()
    x = acc.ddim_step(noise[0], eps, torch.tensor(50), torch.tensor(40), S)
    expected = acc.ddim_step(noise[0], eps.float(), torch.tensor(50), torch.tensor(40), S)
    assert x.dtype == torch.float32 and torch.equal(x, expected)


def test_ddim_sample_composes_with_autograd():
    S = acc.Schedule(acc.linear_beta_schedule(100))
    lin, eps_fn = _linear_eps()
    noise = torch.randn(5, 8, 3, generator=torch.Generator().manual_seed(5))
    for clip in (None, (-1.0, 1.0)):
        lin.zero_grad()
        acc.ddim_sample(eps_fn, (8, 3), S, noise=noise, n_steps=5, eta=0.5, clip_x0=clip).square().sum().backward()
        assert lin.weight.grad is not None and bool(torch.isfinite(lin.weight.grad).all())
        assert float(lin.weight.grad.abs().sum()) > 0


class _ElsewhereGenerator(torch.Generator):
    """A CPU generator that reports a CUDA device (torch.Generator(device='meta') does not exist)."""

    @property
    def device(self):
        return torch.device("cuda")


def test_generator_on_the_wrong_device_is_a_value_error():
    S = acc.Schedule(acc.linear_beta_schedule(10))
    x, t, t_prev = torch.zeros(2, 3), torch.tensor([5, 5]), torch.tensor([2, 2])
    with pytest.raises(ValueError, match=r"rng: expected a torch\.Generator on cpu"):
        acc.ddim_step(x, x, t, t_prev, S, rng=_ElsewhereGenerator(), eta=0.5)
    # data on the meta device and a CPU generator: the same check, with real objects
    S_meta = S.to("meta")
    xm, tm, tpm = x.to("meta"), t.to("meta"), t_prev.to("meta")
    with pytest.raises(ValueError, match=r"rng: expected a torch\.Generator on meta"):
        acc.ddim_step(xm, xm, tm, tpm, S_meta, rng=torch.Generator(), eta=0.5)


# ---------------------------------------------------------------- bad input (the pairs' bad inputs are in the registry)

X = np.zeros((2, 3))
T2 = np.array([2, 1])
TP = np.array([0, -1])


def test_bad_input_generator_types():
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.ddim_step(X, X, T2, TP, ref.Schedule(B3), rng=torch.Generator(), eta=0.5)
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.ddim_step(
            *(torch.from_numpy(a) for a in (X, X, T2, TP)),
            acc.Schedule(torch.from_numpy(B3)),
            rng=np.random.default_rng(0),
        )
    with pytest.raises(ValueError, match=r"noise / rng: pass exactly one.*got both"):
        ref.ddim_step(X, X, T2, TP, ref.Schedule(B3), X, rng=np.random.default_rng(0))


# ---------------------------------------------------------------- crosscheck pairs and theorems

DDIM_PAIRS = [p for p in PAIRS if p.function in ("respaced_timesteps", "ddim_step", "ddim_sample")]
PAIR_CASES = [(p, d) for p in DDIM_PAIRS for d in p.dtypes]


def test_public_names_on_both_sides():
    for name in ("respaced_timesteps", "ddim_step", "ddim_sample"):
        assert name in ref.__all__ and name in acc.__all__
    assert {p.function for p in DDIM_PAIRS} == {"respaced_timesteps", "ddim_step", "ddim_sample"}
    assert {p.dtypes for p in DDIM_PAIRS if p.function != "respaced_timesteps"} == {
        ("float64", "float32", "bfloat16", "float16")
    }


@pytest.mark.parametrize(("pair", "dtype"), PAIR_CASES, ids=[f"{p.function}-{d}" for p, d in PAIR_CASES])
def test_pair_agrees_on_a_few_cases(pair, dtype):
    assert crosscheck.pairs.diffusion is not None
    assert check_pair(pair, dtype, max_examples=10, raise_errors=True).examples > 0


DDIM_THEOREMS = [(th, s) for th in THEOREMS if th.name.startswith("DDIM") for s in th.sides]


@pytest.mark.parametrize(("thm", "side"), DDIM_THEOREMS, ids=[f"{th.name}-{s}" for th, s in DDIM_THEOREMS])
def test_ddim_theorems(thm, side):
    assert len(DDIM_THEOREMS) == 4 and crosscheck.theorems.diffusion is not None
    ev = check_theorem(thm, Side(side, quick=True), raise_errors=True).evidence
    assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_device_respacing_equals_the_host_integer_formula():
    """The sampler builds its positions on the device (no host-to-device copy, capturable); they must be
    the exact integers of the host formula floor((2 i (T - 1) + S - 1) / (2 (S - 1)))."""
    from accelerated.diffusion.ddim import _respaced, _respaced_on

    for T in (1, 2, 3, 7, 10, 999, 1000, 4000):
        for S in sorted({1, 2, 3, T // 3 or 1, T // 2 or 1, T - 1 or 1, T}):
            assert _respaced_on(T, S, torch.device("cpu")).tolist() == _respaced(T, S), (T, S)
