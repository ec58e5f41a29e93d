"""gan: known values, peers (SciPy, torch.nn.functional), autograd, slide theorems and bad input, both sides."""

import math

import numpy as np
import pytest
import torch
from scipy import optimize, special, stats

from accelerated import gan as acc
from accelerated import value_checks
from crosscheck.registry import Side, load_all
from crosscheck.runner import check_theorem
from reference import gan as ref

LOG4 = math.log(4.0)


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def both(fn_name, *args, **kwargs):
    """Run reference and accelerated (float64 tensors) on the same NumPy input; return two NumPy results."""
    conv = {np.ndarray: t, list: t}
    r = getattr(ref, fn_name)(*args, **kwargs)
    a_args = [conv.get(type(v), lambda v: v)(v) for v in args]
    a_kwargs = {k: conv.get(type(v), lambda v: v)(v) for k, v in kwargs.items()}
    a = getattr(acc, fn_name)(*a_args, **a_kwargs)
    return np.asarray(r, dtype=np.float64), a.detach().numpy()


# ---------------------------------------------------------------- value function and D*


def test_gan_value_known_values():
    # Closed form: mean(log 0.8, log 0.4) + log(1 - 0.1).
    expected = 0.5 * (math.log(0.8) + math.log(0.4)) + math.log(0.9)
    r, a = both("gan_value", np.array([0.8, 0.4]), np.array([0.1]))
    assert r == pytest.approx(expected, rel=1e-15) and a == pytest.approx(expected, rel=1e-15)
    # Lecture 7 recap 'GAN optimality theorem': D = 1/2 everywhere gives V = -log 4.
    r, a = both("gan_value", np.full(5, 0.5), np.full(3, 0.5))
    assert r == pytest.approx(-LOG4, rel=1e-15) and a == pytest.approx(-LOG4, rel=1e-15)


def test_gan_value_ends_and_broadcasting():
    # D = 0 on a real sample or D = 1 on a fake one: V = -inf, never NaN.
    for d_real, d_fake in (([0.0, 0.5], [0.5]), ([0.5], [1.0, 0.2]), ([0.0], [1.0])):
        r, a = both("gan_value", np.array(d_real), np.array(d_fake))
        assert r == -np.inf and a == -np.inf
    # log1p(-D) keeps tiny fake outputs: log(1 - 1e-20) = -1e-20, lost by log(1 - D).
    r, a = both("gan_value", np.array([1.0]), np.array([1e-20]))
    assert r == pytest.approx(-1e-20, rel=1e-15) and a == pytest.approx(-1e-20, rel=1e-15)
    # Batch axes broadcast: (2, 1, 3) with (4, 2) -> (2, 4).
    rng = np.random.default_rng(0)
    d_real, d_fake = rng.uniform(size=(2, 1, 3)), rng.uniform(size=(4, 2))
    r, a = both("gan_value", d_real, d_fake)
    expected = np.log(d_real).mean(-1) + np.log1p(-d_fake).mean(-1)
    assert r.shape == a.shape == (2, 4)
    np.testing.assert_allclose(r, expected, rtol=1e-15)
    np.testing.assert_allclose(a, expected, rtol=1e-15)


def test_optimal_discriminator_known_values():
    # D* = p / (p + q) by hand; both zero -> 1/2 (off both supports, documented convention).
    p, q = np.array([1.0, 0.0, 0.0, 3.0, 2e-300]), np.array([1.0, 2.0, 0.0, 1.0, 6e-300])
    expected = [0.5, 0.0, 0.5, 0.75, 0.25]
    for out in both("optimal_discriminator", p, q):
        np.testing.assert_allclose(out, expected, rtol=1e-15)
    log_p = np.array([math.log(3.0), -np.inf, -np.inf, 0.0])
    log_q = np.array([0.0, 0.0, -np.inf, -np.inf])
    for out in both("optimal_discriminator_logit", log_p, log_q):
        np.testing.assert_array_equal(out, [math.log(3.0), -np.inf, 0.0, np.inf])
    # Slide 'Discriminator Training Objective': D* = sigma(log p_data / p_G).
    np.testing.assert_allclose(special.expit(math.log(3.0)), 0.75, rtol=1e-15)


# ---------------------------------------------------------------- losses in logit form


def test_discriminator_loss_matches_torch_bce_with_logits():
    # Peer: torch.nn.functional.binary_cross_entropy_with_logits, labels 1 (real) and 0 (fake).
    rng = np.random.default_rng(1)
    l_real, l_fake = rng.uniform(-50, 50, size=(3, 17)), rng.uniform(-50, 50, size=(3, 11))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    peer = bce(t(l_real), torch.ones(3, 17, dtype=torch.float64), reduction="none").mean(-1) + bce(
        t(l_fake), torch.zeros(3, 11, dtype=torch.float64), reduction="none"
    ).mean(-1)
    for out in both("discriminator_loss", l_real, l_fake):
        np.testing.assert_allclose(out, peer.numpy(), rtol=1e-13)


def test_losses_saturate_without_nan():
    # softplus(-1000) = 0 exactly and softplus(1000) = 1000 (closed form); the logit +-inf limits too.
    for out in both("discriminator_loss", np.array([1000.0, np.inf]), np.array([-1000.0, -np.inf])):
        assert out == 0.0
    for out in both("discriminator_loss", np.array([-1000.0]), np.array([1000.0])):
        assert out == 2000.0
    for out in both("generator_loss", np.array([-1000.0, 1000.0]), kind="non_saturating"):
        assert out == 500.0
    for out in both("generator_loss", np.array([-1000.0, 1000.0]), kind="minimax"):
        assert out == -500.0
    # l = 0 (D = 1/2): minimax log(1/2), non-saturating -log(1/2).
    for kind, expected in (("minimax", -math.log(2.0)), ("non_saturating", math.log(2.0))):
        for out in both("generator_loss", np.zeros(4), kind=kind):
            assert out == pytest.approx(expected, rel=1e-15)


def test_generator_loss_gradients_show_saturation():
    # Lecture 7 recap 'Main problems of standard GAN': with D(G(z)) -> 0 (l = -10) the minimax
    # gradient -sigmoid(l) vanishes while the non-saturating one -sigmoid(-l) stays near -1.
    grads = {}
    for kind in ("minimax", "non_saturating"):
        l = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
        acc.generator_loss(l, kind=kind).backward()
        grads[kind] = float(l.grad[0])
    assert grads["minimax"] == pytest.approx(-special.expit(-10.0), rel=1e-12)
    assert grads["non_saturating"] == pytest.approx(-special.expit(10.0), rel=1e-12)


def test_generator_loss_kind_is_required():
    for side, x in ((ref, np.zeros(2)), (acc, torch.zeros(2))):
        with pytest.raises(TypeError):
            side.generator_loss(x)
        with pytest.raises(ValueError, match=r"kind: expected one of .*minimax.*non_saturating"):
            side.generator_loss(x, kind="wasserstein")


# ---------------------------------------------------------------- Wasserstein GAN


def test_wasserstein_critic_objective_known_value_and_float32_cancellation():
    for out in both("wasserstein_critic_objective", np.array([1.0, 2.0, 3.0]), np.array([0.5])):
        assert out == pytest.approx(1.5, rel=1e-15)
    # Means of 1000 values near 1e3 that differ by 1e-3: float32 sums would lose the difference;
    # the float64 accumulation keeps it to float32 rounding of the result.
    rng = np.random.default_rng(2)
    f_real = (1e3 + rng.uniform(0, 1, 1000)).astype(np.float32)
    f_fake = (f_real[::-1] - np.float32(1e-3)).astype(np.float32)
    exact = f_real.astype(np.float64).mean() - f_fake.astype(np.float64).mean()
    out = acc.wasserstein_critic_objective(torch.from_numpy(f_real), torch.from_numpy(f_fake))
    assert out.dtype == torch.float32
    assert float(out) == pytest.approx(exact, rel=1e-6)


def test_clip_weights_reference_copies_accelerated_in_place():
    w = [np.array([-2.0, 0.5, 3.0]), np.array([[0.01, -0.02]])]
    clipped = ref.clip_weights(w, 0.1)
    np.testing.assert_array_equal(clipped[0], [-0.1, 0.1, 0.1])
    np.testing.assert_array_equal(clipped[1], [[0.01, -0.02]])
    np.testing.assert_array_equal(w[0], [-2.0, 0.5, 3.0])  # inputs untouched
    # Accelerated: in place, the same objects come back, mixed dtypes grouped.
    tensors = [t([-2.0, 0.5, 3.0]), t([[0.01, -0.02]], torch.float32)]
    out = acc.clip_weights(tensors, 0.1)
    assert all(o is i for o, i in zip(out, tensors))
    np.testing.assert_array_equal(tensors[0].numpy(), [-0.1, 0.1, 0.1])
    # An nn.Module: its parameters, in place, and autograd still works afterwards.
    critic = acc.TanhCritic(t([[3.0, -3.0]]), t([0.5, -0.05]), t([2.0, 1.0]))
    params = acc.clip_weights(critic, 0.2)
    assert [p is q for p, q in zip(params, critic.parameters())] == [True] * 3
    assert float(critic.W.detach().abs().max()) == 0.2 and float(critic.b.detach()[1]) == -0.05
    critic(t([[1.0]])).sum().backward()
    assert critic.W.grad is not None


def test_interpolate_ends_and_feature_axes():
    rng = np.random.default_rng(3)
    x_real, x_fake = rng.normal(size=(3, 2, 2, 2)), rng.normal(size=(3, 2, 2, 2))
    u = np.array([1.0, 0.0, 0.25])
    for out in both("interpolate", x_real, x_fake, u):
        np.testing.assert_array_equal(out[0], x_real[0])
        np.testing.assert_array_equal(out[1], x_fake[1])
        np.testing.assert_allclose(out[2], 0.25 * x_real[2] + 0.75 * x_fake[2], rtol=1e-15)


def test_gradient_penalty_from_gradients_known_value():
    # Row norms 1, 2, 0 (over the feature axes (2, 2)): 10 * mean(0, 1, 1) = 20/3.
    g = np.zeros((3, 2, 2))
    g[0, 0, 0] = 1.0
    g[1] = 1.0
    for out in both("gradient_penalty_from_gradients", g):
        assert out == pytest.approx(20.0 / 3.0, rel=1e-15)
    for out in both("gradient_penalty_from_gradients", g, weight=1.0):
        assert out == pytest.approx(2.0 / 3.0, rel=1e-15)


def _critic_params(D=4, H=5, seed=4):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(D, H)), rng.normal(size=H), rng.normal(size=H)


def test_tanh_critic_gradient_matches_finite_differences_and_autograd():
    W, b, a = _critic_params()
    x = np.random.default_rng(5).normal(size=(3, 2, 2))
    critic = ref.TanhCritic(W, b, a)
    # Central differences of sum_i f(x_i), h = 1e-5: truncation error O(h^2) ~ 1e-10, rounding ~ 1e-11.
    h, fd = 1e-5, np.zeros(x.size)
    for k in range(x.size):
        e = np.zeros(x.size)
        e[k] = h
        fd[k] = (critic((x.ravel() + e).reshape(x.shape)).sum() - critic((x.ravel() - e).reshape(x.shape)).sum()) / (
            2 * h
        )
    np.testing.assert_allclose(critic.grad(x).ravel(), fd, atol=1e-8)
    acc_critic = acc.TanhCritic(t(W), t(b), t(a))
    xt = t(x).requires_grad_(True)
    (g,) = torch.autograd.grad(acc_critic(xt).sum(), xt)
    np.testing.assert_allclose(g.numpy(), critic.grad(x), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(acc_critic.grad(t(x)).detach().numpy(), critic.grad(x), rtol=1e-13, atol=1e-15)


def test_gradient_penalty_autograd_reaches_critic_parameters():
    W, b, a = (t(p).requires_grad_(True) for p in _critic_params(D=3, H=4))
    rng = np.random.default_rng(6)
    x_real, x_fake, u = t(rng.normal(size=(5, 3))), t(rng.normal(size=(5, 3))), t(rng.uniform(size=5))

    def penalty(W, b, a):
        return acc.gradient_penalty(lambda x: torch.tanh(x @ W + b) @ a, x_real, x_fake, noise=u)

    # create_graph=True: the penalty is differentiable in the critic's parameters (gradcheck passes).
    assert torch.autograd.gradcheck(penalty, (W, b, a))
    # Same value as the reference's analytic critic.
    ref_value = ref.gradient_penalty(
        ref.TanhCritic(*(p.detach().numpy() for p in (W, b, a))), x_real.numpy(), x_fake.numpy(), noise=u.numpy()
    )
    assert float(penalty(W, b, a).detach()) == pytest.approx(float(ref_value), rel=1e-13)
    # The inputs are detached: no gradient flows to the generator's samples; works under no_grad.
    x_fake_leaf = x_fake.clone().requires_grad_(True)
    critic = acc.TanhCritic(W, b, a)
    acc.gradient_penalty(critic, x_real, x_fake_leaf, noise=u).backward()
    assert x_fake_leaf.grad is None and critic.W.grad is not None
    with torch.no_grad():
        value = acc.gradient_penalty(critic, x_real, x_fake, noise=u)
    assert float(value) == pytest.approx(float(ref_value), rel=1e-13)


def test_gradient_penalty_with_rng():
    W, b, a = _critic_params(D=2, H=3)
    x_real, x_fake = np.ones((4, 2)), np.zeros((4, 2))
    r = ref.gradient_penalty(ref.TanhCritic(W, b, a), x_real, x_fake, rng=np.random.default_rng(0))
    u = np.random.default_rng(0).random(4)
    assert r == ref.gradient_penalty(ref.TanhCritic(W, b, a), x_real, x_fake, noise=u)
    gen = torch.Generator().manual_seed(0)
    a_val = acc.gradient_penalty(acc.TanhCritic(t(W), t(b), t(a)), t(x_real), t(x_fake), rng=gen)
    assert torch.isfinite(a_val)


# ---------------------------------------------------------------- truncation trick


def test_truncated_normal_known_values_and_scipy_ppf():
    psi = 1.5
    u = np.array([0.0, 0.5, 1.0, 0.1, 0.9, 1e-12, 1.0 - 1e-12])
    expected = stats.truncnorm(-psi, psi).ppf(u)  # peer: SciPy's truncated normal quantile function
    for out in both("truncated_normal", psi, noise=u):
        np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(out[:3], [-psi, 0.0, psi], rtol=4e-16, atol=1e-16)  # F^-1(0, 1/2, 1)
    # Wide psi (Phi(-psi) underflows): the untruncated quantile Phi^{-1}(Phi(1)) = 1, and u = 0 -> -psi.
    for out in both("truncated_normal", 40.0, noise=np.array([special.ndtr(1.0), 0.0])):
        np.testing.assert_allclose(out, [1.0, -40.0], rtol=1e-14)
    # The upper tail keeps its digits: u = 1 - 1e-15 at psi = 10 is the mirror of u = 1e-15.
    r_hi, a_hi = both("truncated_normal", 10.0, noise=np.array([1.0 - 2**-50]))
    assert r_hi[0] == pytest.approx(-ref.truncated_normal(10.0, noise=np.array([2**-50]))[0], rel=1e-14)
    assert a_hi[0] == pytest.approx(r_hi[0], rel=1e-14)


def test_truncated_normal_rng_passes_ks_test():
    # Peer: SciPy's KS test against truncnorm at the 1% level, fixed seeds (deterministic).
    psi, n = 0.7, 20_000
    law = stats.truncnorm(-psi, psi)
    z_ref = ref.truncated_normal(psi, shape=(n,), rng=np.random.default_rng(0))
    z_acc = acc.truncated_normal(psi, shape=(n,), rng=torch.Generator().manual_seed(0))
    assert z_acc.dtype == torch.get_default_dtype()
    for z in (z_ref, z_acc.double().numpy()):
        assert np.all(np.abs(z) <= psi)
        assert stats.kstest(z, law.cdf).pvalue > 0.01


def test_truncated_normal_follows_noise_dtype_and_shapes():
    u32 = torch.tensor([[0.25, 0.75]], dtype=torch.float32)
    z = acc.truncated_normal(2.0, noise=u32, shape=(1, 2))
    assert z.dtype == torch.float32 and z.shape == (1, 2)
    assert float(z[0, 0]) == -float(z[0, 1])  # symmetric evaluation: exact mirror images
    assert ref.truncated_normal(2.0, noise=np.float64(0.5)).shape == ()
    assert acc.truncated_normal(2.0, noise=torch.tensor(0.5, dtype=torch.float64)).shape == ()


def test_truncate_latent_known_values():
    z, z_mean = np.array([[1.0, -2.0], [3.0, 4.0]]), np.array([1.0, 1.0])
    for psi, expected in ((1.0, z), (0.0, np.ones((2, 2))), (0.7, 1.0 + 0.7 * (z - 1.0))):
        for out in both("truncate_latent", z, z_mean, psi):
            np.testing.assert_allclose(out, expected, rtol=1e-15)


# ---------------------------------------------------------------- classifier two-sample test


def _gaussian_sets(shift, n_x=150, n_y=150, d=2, seed=8):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n_x, d)), rng.normal(size=(n_y, d)) + shift


def test_c2st_same_law_not_rejected_and_shifted_law_rejected():
    x, y = _gaussian_sets(0.0)
    noise = np.random.default_rng(9).random(len(x) + len(y))
    r = ref.classifier_two_sample_test(x, y, noise=noise)
    a = acc.classifier_two_sample_test(t(x), t(y), noise=t(noise))
    assert r.n_test == a.n_test == 150 and r.p_value > 0.01
    assert float(a.accuracy) == r.accuracy and float(a.p_value) == pytest.approx(r.p_value, rel=1e-10)
    x, y = _gaussian_sets(3.0)
    r = ref.classifier_two_sample_test(x, y, rng=np.random.default_rng(0))
    a = acc.classifier_two_sample_test(t(x), t(y), rng=torch.Generator().manual_seed(0))
    assert r.accuracy > 0.9 and float(a.accuracy) > 0.9
    assert r.p_value < 1e-20 and float(a.p_value) < 1e-20


def test_c2st_peers_binomial_tail_and_optimizer():
    x, y = _gaussian_sets(0.4, n_x=60, n_y=101, d=3)
    noise = np.random.default_rng(10).random(len(x) + len(y))
    r = ref.classifier_two_sample_test(x, y, test_fraction=0.3, noise=noise)
    a = acc.classifier_two_sample_test(t(x), t(y), test_fraction=0.3, noise=t(noise))
    m_x, m_y = round(0.3 * 60), round(0.3 * 101)
    assert r.n_test == m_x + m_y
    correct = round(r.accuracy * r.n_test)
    # Peer: SciPy's exact binomial test, one-sided, with p0 = the larger class fraction (conservative).
    p0 = max(m_x, m_y) / r.n_test
    peer = stats.binomtest(correct, r.n_test, p0, alternative="greater").pvalue
    assert r.p_value == pytest.approx(peer, rel=1e-12)
    assert float(a.p_value) == pytest.approx(peer, rel=1e-10)
    # Peer: the same penalised log-loss minimised by SciPy's BFGS on the same training split.
    order_x, order_y = np.argsort(noise[:60], kind="stable"), np.argsort(noise[60:], kind="stable")
    X = np.concatenate([x[order_x][m_x:], y[order_y][m_y:]])
    lab = np.concatenate([np.ones(60 - m_x), np.zeros(101 - m_y)])

    def objective(theta):
        s = X @ theta[:-1] + theta[-1]
        return np.mean(np.logaddexp(0, s) - lab * s) + 0.5e-2 * theta[:-1] @ theta[:-1]

    best = optimize.minimize(objective, np.zeros(4), method="BFGS", options={"gtol": 1e-12}).x
    np.testing.assert_allclose(r.weights, best[:-1], atol=1e-6)
    assert r.bias == pytest.approx(best[-1], abs=1e-6)
    np.testing.assert_allclose(a.weights.numpy(), r.weights, rtol=1e-10, atol=1e-12)


def test_c2st_float32_input_solves_in_float64():
    x, y = _gaussian_sets(0.5, n_x=40, n_y=40)
    noise = np.random.default_rng(11).random(80)
    a = acc.classifier_two_sample_test(t(x, torch.float32), t(y, torch.float32), noise=t(noise))
    assert a.weights.dtype == torch.float64 and a.accuracy.dtype == torch.float64
    r = ref.classifier_two_sample_test(x.astype(np.float32), y.astype(np.float32), noise=noise)
    np.testing.assert_allclose(a.weights.numpy(), r.weights, rtol=1e-10)
    assert r._fields == a._fields == ("accuracy", "p_value", "n_test", "weights", "bias")


# ---------------------------------------------------------------- slide theorems


_, _THEOREMS = load_all()
GAN_THEOREMS = [(th, s) for th in _THEOREMS if th.check.__module__ == "crosscheck.theorems.gan" for s in th.sides]


@pytest.mark.parametrize(("thm", "side"), GAN_THEOREMS, ids=[f"{th.name}-{s}" for th, s in GAN_THEOREMS])
def test_gan_theorems(thm, side):
    ev = check_theorem(thm, Side(side), raise_errors=True).evidence
    assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_all_five_slide_theorems_registered():
    names = {th.name for th, _ in GAN_THEOREMS}
    assert {
        "GAN optimum: V(G, D*) = 2 JSD(p_data || p_G) - log 4",
        "D* = 1/2 and V = -log 4 when p_G = p_data",
        "D* maximises V(G, .)",
        "Discriminator loss = -V in logit form",
        "Truncated normal matches the truncated Gaussian law",
    } <= names


# ---------------------------------------------------------------- bad input

W3, B3, A3 = _critic_params(D=2, H=3)
NAN = float("nan")

# (function name, args, kwargs, exception, message fragment); run on both sides with the same arrays.
BAD = [
    ("gan_value", ([0.5, 1.5], [0.5]), {}, ValueError, r"d_real: expected values in \[0.0, 1.0\]"),
    ("gan_value", ([0.5], [-0.1]), {}, ValueError, r"d_fake: expected values in \[0.0, 1.0\]"),
    ("gan_value", ([0.5, NAN], [0.5]), {}, ValueError, "d_real: expected no NaN"),
    ("gan_value", (np.zeros((2, 0)), [0.5]), {}, ValueError, "d_real: expected at least one sample"),
    ("gan_value", (np.full((2, 3), 0.5), np.full((3, 2), 0.5)), {}, ValueError, "do not broadcast"),
    ("optimal_discriminator", ([1.0, -1.0], [1.0, 1.0]), {}, ValueError, "p_data: expected non-negative"),
    ("optimal_discriminator", ([1.0], [np.inf]), {}, ValueError, "p_model: expected finite"),
    ("optimal_discriminator", ([NAN], [1.0]), {}, ValueError, "p_data: expected finite"),
    ("optimal_discriminator_logit", ([np.inf], [0.0]), {}, ValueError, r"log_p_data: expected log-densities < \+inf"),
    ("optimal_discriminator_logit", ([0.0], [NAN]), {}, ValueError, "log_p_model: expected no NaN"),
    ("discriminator_loss", ([NAN], [0.0]), {}, ValueError, "logits_real: expected no NaN"),
    ("generator_loss", ([NAN],), {"kind": "minimax"}, ValueError, "logits_fake: expected no NaN"),
    ("wasserstein_critic_objective", ([1.0], [np.inf]), {}, ValueError, "f_fake: expected finite"),
    ("clip_weights", ([[1.0]], 0.0), {}, ValueError, "c: expected a finite positive number"),
    ("clip_weights", ([[1.0]], -1.0), {}, ValueError, "c: expected a finite positive number"),
    ("clip_weights", ([[1.0]], NAN), {}, ValueError, "c: expected a finite positive number"),
    ("clip_weights", ([[1.0]], "1"), {}, TypeError, "c: expected a positive real number"),
    ("clip_weights", (5, 1.0), {}, TypeError, "parameters: expected"),
    ("interpolate", (np.zeros((2, 3)), np.zeros((2, 3)), [0.5, 1.5]), {}, ValueError, r"noise: expected values in"),
    ("interpolate", (np.zeros((2, 3)), np.zeros((2, 3)), [0.5]), {}, ValueError, r"noise: expected shape \(2,\)"),
    ("interpolate", (np.zeros((2, 3)), np.zeros((2, 2)), [0.5, 0.5]), {}, ValueError, r"x_fake: expected shape"),
    ("interpolate", (np.full((2, 1), NAN), np.zeros((2, 1)), [0.5, 0.5]), {}, ValueError, "x_real: expected finite"),
    ("gradient_penalty_from_gradients", (np.ones((2, 2)),), {"weight": 0.0}, ValueError, "weight: expected"),
    ("gradient_penalty_from_gradients", (np.full((2, 2), NAN),), {}, ValueError, "gradients: expected finite"),
    ("gradient_penalty_from_gradients", (np.zeros((0, 2)),), {}, ValueError, "gradients: expected at least one"),
    ("TanhCritic", (np.ones(3), np.ones(3), np.ones(3)), {}, ValueError, r"W: expected a matrix"),
    ("TanhCritic", (W3, np.ones(2), A3), {}, ValueError, r"b: expected shape \(3,\)"),
    ("truncated_normal", (0.0,), {"noise": [0.5]}, ValueError, "psi: expected a finite positive number"),
    ("truncated_normal", (-1.0,), {"noise": [0.5]}, ValueError, "psi: expected a finite positive number"),
    ("truncated_normal", (np.inf,), {"noise": [0.5]}, ValueError, "psi: expected a finite positive number"),
    ("truncated_normal", (1.0,), {"noise": [1.5]}, ValueError, r"noise: expected values in \[0.0, 1.0\]"),
    ("truncated_normal", (1.0,), {"noise": [NAN]}, ValueError, "noise: expected no NaN"),
    ("truncated_normal", (1.0,), {"noise": [0.5], "shape": (2,)}, ValueError, r"noise: expected shape \(2,\)"),
    ("truncated_normal", (1.0,), {"noise": [0.5], "shape": "x"}, TypeError, "shape: expected a tuple"),
    ("truncated_normal", (1.0,), {}, ValueError, "pass exactly one of noise="),
    ("truncate_latent", (np.zeros((2, 3)), np.zeros(2), 0.7), {}, ValueError, "same size along the last axis"),
    ("truncate_latent", (np.zeros((2, 3)), np.zeros(3), NAN), {}, ValueError, "psi: expected a finite number"),
    ("truncate_latent", (np.full((2, 3), np.inf), np.zeros(3), 0.7), {}, ValueError, "z: expected finite"),
    ("classifier_two_sample_test", (np.zeros(4), np.zeros((4, 1))), {}, ValueError, r"x: expected a matrix"),
    ("classifier_two_sample_test", (np.zeros((4, 2)), np.zeros((4, 1))), {}, ValueError, "same size along"),
    (
        "classifier_two_sample_test",
        (np.zeros((4, 1)), np.zeros((4, 1))),
        {"test_fraction": 1.0},
        ValueError,
        r"test_fraction: expected a number in \(0, 1\)",
    ),
    (
        "classifier_two_sample_test",
        (np.zeros((1, 1)), np.zeros((4, 1))),
        {},
        ValueError,
        "x / test_fraction: expected at least one training and one held-out point",
    ),
    (
        "classifier_two_sample_test",
        (np.zeros((4, 1)), np.zeros((4, 1))),
        {"weight_decay": 0.0},
        ValueError,
        "weight_decay: expected a finite positive number",
    ),
    (
        "classifier_two_sample_test",
        (np.zeros((4, 1)), np.zeros((4, 1))),
        {"max_iter": 0},
        ValueError,
        "max_iter: expected a positive int",
    ),
    (
        "classifier_two_sample_test",
        (np.zeros((4, 1)), np.zeros((4, 1))),
        {"noise": [0.5] * 7},
        ValueError,
        r"noise: expected shape \(8,\)",
    ),
    ("classifier_two_sample_test", (np.zeros((4, 1)), np.full((4, 1), NAN)), {}, ValueError, "y: expected finite"),
]


def _to_side(side, value):
    if side is ref or not isinstance(value, (list, np.ndarray)) or (isinstance(value, list) and not value):
        return value
    if isinstance(value, list) and isinstance(value[0], list):
        return [t(v) for v in value]  # clip_weights: a list of parameter arrays
    return t(value)


@pytest.mark.parametrize("side", [ref, acc], ids=["reference", "accelerated"])
@pytest.mark.parametrize(
    ("name", "args", "kwargs", "error", "match"), BAD, ids=[f"{b[0]}-{i}" for i, b in enumerate(BAD)]
)
def test_bad_input(side, name, args, kwargs, error, match):
    args = tuple(_to_side(side, a) for a in args)
    kwargs = {k: _to_side(side, v) for k, v in kwargs.items()}
    if name == "classifier_two_sample_test" and "noise" not in kwargs:
        kwargs["noise"] = _to_side(side, [0.5] * 8)
    with pytest.raises(error, match=match):
        getattr(side, name)(*args, **kwargs)


def test_bad_input_sampler_arguments():
    critic_ref, critic_acc = ref.TanhCritic(W3, B3, A3), acc.TanhCritic(t(W3), t(B3), t(A3))
    x = np.zeros((2, 2))
    with pytest.raises(ValueError, match="pass exactly one of noise="):
        ref.gradient_penalty(critic_ref, x, x, noise=np.ones(2), rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="pass exactly one of noise="):
        acc.gradient_penalty(critic_acc, t(x), t(x))
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.truncated_normal(1.0, shape=(2,), rng=torch.Generator())
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.truncated_normal(1.0, shape=(2,), rng=np.random.default_rng(0))
    for side, rng in ((ref, np.random.default_rng(0)), (acc, torch.Generator())):
        with pytest.raises(ValueError, match="shape: required with rng="):
            side.truncated_normal(1.0, rng=rng)
    # The reference has no autograd: a critic without .grad is refused with an explanation.
    with pytest.raises(TypeError, match="critic: expected an analytic critic with __call__"):
        ref.gradient_penalty(lambda v: v.sum(axis=1), x, x, noise=np.ones(2))
    with pytest.raises(TypeError, match="critic: expected a callable"):
        acc.gradient_penalty("critic", t(x), t(x), noise=t([0.5, 0.5]))
    with pytest.raises(ValueError, match="x: expected samples with 2 features"):
        critic_ref(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="x: expected samples with 2 features"):
        critic_acc(t(np.zeros((2, 3))))


def test_bad_input_accelerated_types_and_dtypes():
    half = torch.full((3,), 0.5, dtype=torch.float64)
    with pytest.raises(TypeError, match="d_real, d_fake: expected one floating dtype"):
        acc.gan_value(half, half.float())
    with pytest.raises(TypeError, match="x_real, x_fake, noise: expected one floating dtype"):
        acc.interpolate(torch.zeros(3, 2), torch.zeros(3, 2), half)
    with pytest.raises(TypeError, match="W, b, a: expected one floating dtype"):
        acc.TanhCritic(t(W3), t(B3).float(), t(A3))
    with pytest.raises(TypeError, match="z, z_mean: expected one floating dtype"):
        acc.truncate_latent(torch.zeros(2, 3), torch.zeros(3, dtype=torch.float64), 0.7)
    with pytest.raises(TypeError, match=r"d_real: expected a torch\.Tensor"):
        acc.gan_value(np.full(3, 0.5), half)
    with pytest.raises(TypeError, match=r"parameters\[0\]: expected a floating-point tensor"):
        acc.clip_weights([torch.ones(2, dtype=torch.int64)], 1.0)
    with pytest.raises(TypeError, match="gradients: expected a floating-point tensor"):
        acc.gradient_penalty_from_gradients(torch.ones(2, 2, dtype=torch.int64))
    # Value checks can be switched off for a training loop: then NaN passes through silently.
    with value_checks(False):
        assert torch.isnan(acc.gan_value(torch.tensor([NAN], dtype=torch.float64), half))
