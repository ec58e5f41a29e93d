"""gan: known values, peers (SciPy, torch.nn.functional), autograd, slide theorems and bad input, both sides.

The bad inputs of the pairs are registered with them (``crosscheck.pairs.gan``, run by
``tests/test_error_inputs.py``); the ones here are of things that are not pairs (a class, the rng
protocol, one-sided critics) or need both sides' own objects.
"""

import math
import re

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


def test_gan_value_ends_and_shapes():
    # D = 0 on a real sample or D = 1 on a fake one: V = -inf, never NaN.
    for d_real, d_fake in (([0.0, 0.5], [0.5]), ([0.5], [1.0, 0.2]), ([0.0], [1.0])):
        r, a = both("gan_value", np.array(d_real), np.array(d_fake))
        assert r == -np.inf and a == -np.inf
    # log1p(-D) keeps tiny fake outputs: log(1 - 1e-20) = -1e-20, lost by log(1 - D).
    r, a = both("gan_value", np.array([1.0]), np.array([1e-20]))
    assert r == pytest.approx(-1e-20, rel=1e-15) and a == pytest.approx(-1e-20, rel=1e-15)
    # (n,) and (n, 1) are the same samples; n_r = 3 real and n_f = 2 fake: a 0-d result.
    rng = np.random.default_rng(0)
    d_real, d_fake = rng.uniform(size=3), rng.uniform(size=2)
    expected = np.log(d_real).mean() + np.log1p(-d_fake).mean()
    for real, fake in ((d_real, d_fake), (d_real[:, None], d_fake), (d_real, d_fake[:, None])):
        r, a = both("gan_value", real, fake)
        assert r.shape == a.shape == ()
        np.testing.assert_allclose([r, a], expected, rtol=1e-15)


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
    # Peer: torch.nn.functional.binary_cross_entropy_with_logits, labels 1 (real) and 0 (fake), on the
    # (n, 1) logits of a Linear(h, 1) layer (17 real, 11 fake); default kind = "cross_entropy".
    rng = np.random.default_rng(1)
    l_real, l_fake = rng.uniform(-50, 50, size=(17, 1)), rng.uniform(-50, 50, size=(11, 1))
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    peer = bce(t(l_real), torch.ones(17, 1, dtype=torch.float64)) + bce(
        t(l_fake), torch.zeros(11, 1, dtype=torch.float64)
    )
    for kwargs in ({}, {"kind": "cross_entropy"}):
        for out in both("discriminator_loss", l_real, l_fake, **kwargs):
            assert out.shape == ()
            np.testing.assert_allclose(out, peer.numpy(), rtol=1e-13)


def test_hinge_losses_known_values_and_gradients():
    # By hand: relu(1 - [2, 0.5, -1]) = [0, 0.5, 2] (mean 5/6), relu(1 + [-3, 0, 0.5]) = [0, 1, 1.5] (mean 5/6).
    l_real, l_fake = np.array([2.0, 0.5, -1.0]), np.array([-3.0, 0.0, 0.5])
    for out in both("discriminator_loss", l_real, l_fake[:, None], kind="hinge"):
        assert out == pytest.approx(5.0 / 3.0, rel=1e-15)
    # Generator: -mean(l) = -(-2.5 / 3) = 5/6.
    for out in both("generator_loss", l_fake, kind="hinge"):
        assert out == pytest.approx(5.0 / 6.0, rel=1e-15)
    # At the kinks l_real = 1 and l_fake = -1 the loss is 0, and beyond them too.
    for out in both("discriminator_loss", np.array([1.0, 1e4]), np.array([-1.0, -1e4]), kind="hinge"):
        assert out == 0.0
    # Gradients: d/dl_i of the D hinge loss is -1/n_r where l_i < 1 (else 0), +1/n_f where l_j > -1.
    lr, lf = t(l_real).requires_grad_(True), t(l_fake).requires_grad_(True)
    acc.discriminator_loss(lr, lf, kind="hinge").backward()
    np.testing.assert_array_equal(lr.grad.numpy(), [0.0, -1.0 / 3.0, -1.0 / 3.0])
    np.testing.assert_array_equal(lf.grad.numpy(), [0.0, 1.0 / 3.0, 1.0 / 3.0])
    lf = t(l_fake).requires_grad_(True)
    acc.generator_loss(lf, kind="hinge").backward()
    np.testing.assert_array_equal(lf.grad.numpy(), [-1.0 / 3.0] * 3)


def test_losses_saturate_without_nan():
    # softplus(-1000) = 0 exactly and softplus(1000) = 1000 (closed form).
    for out in both("discriminator_loss", np.array([1000.0, 1e4]), np.array([-1000.0, -1e4])):
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


def test_loss_kinds_on_both_sides():
    for side, x in ((ref, np.zeros(2)), (acc, torch.zeros(2))):
        with pytest.raises(TypeError):  # generator_loss: kind is required (the choice changes the value)
            side.generator_loss(x)
        with pytest.raises(ValueError, match=r"kind: expected one of .*minimax.*non_saturating.*hinge"):
            side.generator_loss(x, kind="wasserstein")
        with pytest.raises(TypeError, match=r"kind: expected a str, one of"):
            side.generator_loss(x, kind=None)
        with pytest.raises(ValueError, match=r"kind: expected one of \('cross_entropy', 'hinge'\)"):
            side.discriminator_loss(x, x, kind="non_saturating")
        with pytest.raises(TypeError, match=r"kind: expected a str, one of"):
            side.discriminator_loss(x, x, kind=1)
        # Issue 12: infinite logits are refused (they made the training losses inf), on both sides.
        infinite = np.array([np.inf, 0.0]) if side is ref else torch.tensor([np.inf, 0.0])
        for kind in ("minimax", "non_saturating", "hinge"):
            with pytest.raises(ValueError, match="logits_fake: expected finite values"):
                side.generator_loss(infinite, kind=kind)
        for kind in ("cross_entropy", "hinge"):
            with pytest.raises(ValueError, match="logits_real: expected finite values"):
                side.discriminator_loss(infinite, x, kind=kind)
            with pytest.raises(ValueError, match="logits_fake: expected finite values"):
                side.discriminator_loss(x, -infinite, kind=kind)
        # A penalty that overflows float64 from finite gradients is refused (it returned inf).
        huge = np.full((2, 2), 1e300) if side is ref else torch.full((2, 2), 1e300, dtype=torch.float64)
        with pytest.raises(ValueError, match="gradients: the result overflowed float64"):
            side.gradient_penalty_from_gradients(huge)
        with pytest.raises(ValueError, match="gradients: the result overflowed float64"):
            side.r1_penalty_from_gradients(huge, gamma=1.0)


# The per-sample GAN quantities: (function, other arguments after the first, keyword arguments).
PER_SAMPLE = [
    ("gan_value", "d_real", [[0.5]], {}),
    ("discriminator_loss", "logits_real", [[0.5]], {}),
    ("discriminator_loss", "logits_real", [[0.5]], {"kind": "hinge"}),
    ("generator_loss", "logits_fake", [], {"kind": "non_saturating"}),
    ("generator_loss", "logits_fake", [], {"kind": "hinge"}),
    ("wasserstein_critic_objective", "f_real", [[0.5]], {}),
]


@pytest.mark.parametrize("side", [ref, acc], ids=["reference", "accelerated"])
@pytest.mark.parametrize(
    ("name", "arg", "rest", "kwargs"), PER_SAMPLE, ids=[f"{p[0]}-{i}" for i, p in enumerate(PER_SAMPLE)]
)
def test_per_sample_shape_convention(side, name, arg, rest, kwargs):
    fn = getattr(side, name)
    conv = (lambda v: np.array(v, dtype=np.float64)) if side is ref else t
    values = [0.2, 0.7, 0.4]
    rest = [conv(r) for r in rest]
    flat = fn(conv(values), *rest, **kwargs)
    column = fn(conv([[v] for v in values]), *rest, **kwargs)  # the (n, 1) output of Linear(h, 1)
    assert np.shape(flat) == np.shape(column) == ()
    assert float(flat) == float(column)
    for shape in [(), (0,), (0, 1), (3, 2), (1, 3), (2, 1, 3), (2, 3, 1)]:
        bad = conv(np.full(shape, 0.5))
        with pytest.raises(
            ValueError, match=rf"{arg}: expected shape \(n,\) or \(n, 1\).*got shape {re.escape(str(shape))}"
        ):
            fn(bad, *rest, **kwargs)
        if rest:  # the second argument is named too
            other = "d_fake" if name == "gan_value" else "f_fake" if name.startswith("wasserstein") else "logits_fake"
            with pytest.raises(ValueError, match=rf"{other}: expected shape \(n,\) or \(n, 1\)"):
                fn(conv(values), bad, **kwargs)


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


class LinearCritic:
    """D(x) = w . vec(x) + b with its analytic input gradient w (the reference side has no autograd)."""

    def __init__(self, w, b):
        self.w, self.b = np.asarray(w, dtype=np.float64), float(b)

    def __call__(self, x):
        return x.reshape(len(x), -1) @ self.w + self.b

    def grad(self, x):
        return np.broadcast_to(self.w, (len(x), self.w.size)).reshape(x.shape)


class QuadraticCritic:
    """D(x) = 1/2 ||x||^2, input gradient x."""

    def __call__(self, x):
        return 0.5 * np.sum(x.reshape(len(x), -1) ** 2, axis=1)

    def grad(self, x):
        return np.array(x, dtype=np.float64)


def _linear_module(w, b):
    """nn.Flatten + nn.Linear(d, 1) with weights w and bias b: logits of shape (n, 1)."""
    layer = torch.nn.Linear(len(w), 1, dtype=torch.float64)
    with torch.no_grad():
        layer.weight.copy_(t(w)[None])
        layer.bias.fill_(b)
    return torch.nn.Sequential(torch.nn.Flatten(), layer)


def test_r1_r2_known_values():
    # Closed form: a linear discriminator D(x) = w . x + b has gradient w at every x, so
    # R1 = R2 = gamma/2 ||w||^2 = 0.05 * (9 + 16 + 144) = 8.45, whatever the samples.
    w, b, gamma = np.array([3.0, -4.0, 12.0]), 0.7, 0.1
    x = np.random.default_rng(12).normal(size=(5, 1, 3))  # feature axes (1, 3): the norm is over both
    for fn in ("r1_penalty", "r2_penalty"):
        r = getattr(ref, fn)(LinearCritic(w, b), x, gamma=gamma)
        a = getattr(acc, fn)(_linear_module(w, b), t(x), gamma=gamma)
        assert r == pytest.approx(8.45, rel=1e-15) and float(a.detach()) == pytest.approx(8.45, rel=1e-15)
    # Closed form: D(x) = 1/2 ||x||^2 has gradient x, so R1 = gamma/2 mean_i ||x_i||^2.
    expected = 0.5 * 2.0 * np.mean(np.sum(x.reshape(5, -1) ** 2, axis=1))
    assert ref.r1_penalty(QuadraticCritic(), x, gamma=2.0) == pytest.approx(expected, rel=1e-15)
    quadratic = lambda v: 0.5 * v.flatten(1).square().sum(1)  # noqa: E731 - logits of shape (n,)
    assert float(acc.r2_penalty(quadratic, t(x), gamma=2.0).detach()) == pytest.approx(expected, rel=1e-15)


def test_r1_penalty_from_gradients_known_value():
    # Squared row norms 1, 4, 0 (over the feature axes (2, 2)): gamma/2 * mean = 1 * 5/3.
    g = np.zeros((3, 2, 2))
    g[0, 0, 0] = 1.0
    g[1] = 1.0
    for out in both("r1_penalty_from_gradients", g, gamma=2.0):
        assert out == pytest.approx(5.0 / 3.0, rel=1e-15)


def _mlp(d=3, h=8, seed=13, dtype=torch.float64, out=1):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(d, h), torch.nn.Tanh(), torch.nn.Linear(h, out)).to(dtype)


def _grads(module):
    return [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in module.parameters()]


def _explicit_penalties(D, x_real, x_fake, u, gamma=10.0, weight=10.0):
    """R1, R2 and WGAN-GP by an explicit double backward: autograd.grad with create_graph=True."""

    def input_grad(x):
        x = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(D(x).sum(), x, create_graph=True)
        return g.flatten(1)

    x_hat = u[:, None] * x_real + (1 - u[:, None]) * x_fake
    return {
        "r1": 0.5 * gamma * input_grad(x_real).square().sum(1).mean(),
        "r2": 0.5 * gamma * input_grad(x_fake).square().sum(1).mean(),
        "gp": weight * ((input_grad(x_hat).norm(dim=1) - 1) ** 2).mean(),
    }


def _library_penalties(D, x_real, x_fake, u, gamma=10.0, weight=10.0):
    return {
        "r1": acc.r1_penalty(D, x_real, gamma=gamma),
        "r2": acc.r2_penalty(D, x_fake, gamma=gamma),
        "gp": acc.gradient_penalty(D, x_real, x_fake, weight=weight, noise=u),
    }


@pytest.mark.parametrize("path", ["autograd", "torch_func"])
def test_penalties_backward_matches_explicit_double_backward(path, monkeypatch):
    # Both ways of taking the input gradient (eager: autograd.grad; traced: torch.func.vjp, run here
    # eagerly through the module's private switch) give the explicit double backward's parameter gradients.
    D = _mlp()
    rng = np.random.default_rng(14)
    x_real, x_fake, u = t(rng.normal(size=(6, 3))), t(rng.normal(size=(6, 3))), t(rng.uniform(size=6))
    expected = {}
    for key, value in _explicit_penalties(D, x_real, x_fake, u).items():
        D.zero_grad()
        value.backward()
        expected[key] = (float(value.detach()), _grads(D))
    if path == "torch_func":
        monkeypatch.setattr(acc._common, "_TORCH_FUNC_IN_EAGER", True)
    for key, value in _library_penalties(D, x_real, x_fake, u).items():
        D.zero_grad()
        value.backward()
        assert float(value.detach()) == pytest.approx(expected[key][0], rel=1e-14), key
        for got, want in zip(_grads(D), expected[key][1]):
            np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-12, atol=1e-15, err_msg=key)


def test_penalties_inside_torch_func_grad_over_the_parameters():
    # A functional training step, torch.func.grad of the penalty in the parameters (functional_call),
    # gives the parameter gradients of penalty.backward().
    D = _mlp()
    x, y, u = torch.randn(5, 3, dtype=torch.float64), torch.randn(5, 3, dtype=torch.float64), torch.rand(5).double()
    params = {k: v.detach() for k, v in D.named_parameters()}

    def r1(critic):
        return acc.r1_penalty(critic, x, gamma=2.0)

    def gp(critic):
        return acc.gradient_penalty(critic, x, y, noise=u)

    for fn in (r1, gp):

        def functional(p, fn=fn):
            return fn(lambda v: torch.func.functional_call(D, p, (v,)))

        grads = torch.func.grad(functional)(params)
        D.zero_grad()
        fn(D).backward()
        for (name, _), want in zip(D.named_parameters(), _grads(D)):
            np.testing.assert_allclose(grads[name].numpy(), want.numpy(), rtol=1e-12, atol=1e-15, err_msg=name)


def test_r1_gradcheck_detached_inputs_and_no_grad():
    W, b, a = (t(p).requires_grad_(True) for p in _critic_params(D=3, H=4))
    x = t(np.random.default_rng(15).normal(size=(5, 3)))

    def penalty(W, b, a):
        return acc.r1_penalty(lambda v: torch.tanh(v @ W + b) @ a, x, gamma=3.0)

    assert torch.autograd.gradcheck(penalty, (W, b, a))  # differentiable in the parameters
    ref_value = ref.r1_penalty(ref.TanhCritic(*(p.detach().numpy() for p in (W, b, a))), x.numpy(), gamma=3.0)
    assert float(penalty(W, b, a).detach()) == pytest.approx(float(ref_value), rel=1e-13)
    # The samples are detached: no gradient reaches them (nor the generator behind x_fake).
    critic = acc.TanhCritic(W, b, a)
    x_leaf = x.clone().requires_grad_(True)
    (acc.r1_penalty(critic, x_leaf, gamma=3.0) + acc.r2_penalty(critic, x_leaf, gamma=3.0)).backward()
    assert x_leaf.grad is None and critic.W.grad is not None
    # Under no_grad: the value (autograd runs inside for the input gradient), without a graph.
    with torch.no_grad():
        values = [
            acc.r1_penalty(critic, x, gamma=3.0),
            acc.gradient_penalty(critic, x, x.flip(0), noise=x[:, 0].sigmoid()),
        ]
    assert float(values[0]) == pytest.approx(float(ref_value), rel=1e-13)
    assert not any(v.requires_grad for v in values)


def test_penalties_accept_a_batchnorm_critic_in_eager_mode():
    # BatchNorm in training mode updates its running statistics inside the call, which torch.func
    # refuses; the eager path takes the gradient with autograd and updates the statistics once.
    torch.manual_seed(16)
    D = torch.nn.Sequential(torch.nn.Linear(3, 8), torch.nn.BatchNorm1d(8), torch.nn.SiLU(), torch.nn.Linear(8, 1))
    x = torch.randn(6, 3)
    acc.r1_penalty(D, x, gamma=1.0).backward()
    assert int(D[1].num_batches_tracked) == 1 and D[0].weight.grad is not None


# ---------------------------------------------------------------- training readiness: compile, host reads, devices


def _gan_modules(dtype=torch.float64):
    torch.manual_seed(17)
    G = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.SiLU(), torch.nn.Linear(16, 4)).to(dtype)
    D = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.SiLU(), torch.nn.Linear(16, 1)).to(dtype)
    return G, D


def _gan_step(G, D, penalty):
    """One GAN iteration's losses: D (cross-entropy + penalty) and non-saturating G, forward only."""

    def step(x_real, z, u):
        x_fake = G(z)
        d_loss = acc.discriminator_loss(D(x_real), D(x_fake.detach()))
        if penalty == "gp":
            d_loss = d_loss + acc.gradient_penalty(D, x_real, x_fake, noise=u)
        else:
            d_loss = d_loss + acc.r1_penalty(D, x_real, gamma=10.0)
        return d_loss, acc.generator_loss(D(x_fake), kind="non_saturating")

    return step


def test_no_graph_breaks_in_losses_penalties_and_a_gan_step():
    from crosscheck.training import graph_breaks

    G, D = _gan_modules(torch.float32)
    critic = acc.TanhCritic(torch.randn(4, 5), torch.randn(5), torch.randn(5))  # outputs (n,); D gives (n, 1)
    x, y, u, z = torch.randn(8, 4), torch.randn(8, 4), torch.rand(8), torch.randn(8, 2)
    l_real, l_fake = torch.randn(8, 1), torch.randn(6)
    calls = {
        "gradient_penalty (n, 1)": lambda x, y, u: acc.gradient_penalty(D, x, y, noise=u),
        "gradient_penalty (n,)": lambda x, y, u: acc.gradient_penalty(critic, x, y, noise=u),
        "r1_penalty": lambda x, y, u: acc.r1_penalty(D, x, gamma=10.0),
        "r2_penalty": lambda x, y, u: acc.r2_penalty(critic, y, gamma=0.1),
    }
    for name, fn in calls.items():
        report = graph_breaks(fn, x, y, u)
        assert report.count == 0, f"{name}: {report}"
    losses = {
        "discriminator_loss": lambda a, b: acc.discriminator_loss(a, b),
        "discriminator_loss hinge": lambda a, b: acc.discriminator_loss(a, b, kind="hinge"),
        "generator_loss": lambda a, b: [acc.generator_loss(b, kind=k) for k in ("minimax", "non_saturating", "hinge")],
        "wasserstein_critic_objective": lambda a, b: acc.wasserstein_critic_objective(a, b),
        "gan_value": lambda a, b: acc.gan_value(a.sigmoid(), b.sigmoid()),
        "gradients": lambda a, b: [acc.gradient_penalty_from_gradients(a), acc.r1_penalty_from_gradients(a, gamma=1.0)],
    }
    for name, fn in losses.items():
        report = graph_breaks(fn, l_real, l_fake)
        assert report.count == 0, f"{name}: {report}"
    for penalty in ("gp", "r1"):
        report = graph_breaks(_gan_step(G, D, penalty), x, z, u)
        assert report.count == 0, f"GAN step with {penalty}: {report}"


@pytest.mark.parametrize("penalty", ["gp", "r1"])
def test_compiled_gan_step_gives_the_eager_gradients(penalty):
    G, D = _gan_modules()
    rng = np.random.default_rng(18)
    x, z, u = t(rng.normal(size=(8, 4))), t(rng.normal(size=(8, 2))), t(rng.uniform(size=8))
    step = _gan_step(G, D, penalty)
    results = []
    for fn in (step, torch.compile(step, backend="aot_eager")):
        G.zero_grad()
        D.zero_grad()
        d_loss, g_loss = fn(x, z, u)
        (d_loss + g_loss).backward()
        results.append(([float(d_loss.detach()), float(g_loss.detach())], _grads(G) + _grads(D)))
    torch._dynamo.reset()
    (eager_values, eager_grads), (compiled_values, compiled_grads) = results
    np.testing.assert_allclose(compiled_values, eager_values, rtol=1e-13)
    assert any(float(g.abs().max()) > 0 for g in eager_grads)
    for got, want in zip(compiled_grads, eager_grads):
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-11, atol=1e-14)


def test_gan_iteration_makes_no_host_reads():
    from crosscheck.training import count_host_reads

    G, D = _gan_modules(torch.float32)
    x, z, u = torch.randn(64, 4), torch.randn(64, 2), torch.rand(64)
    gen = torch.Generator().manual_seed(0)

    def iteration():
        for kind in ("cross_entropy", "hinge"):
            x_fake = G(z)
            d_loss = acc.discriminator_loss(D(x), D(x_fake.detach()), kind=kind)
            d_loss = d_loss + acc.gradient_penalty(D, x, x_fake, noise=u) + acc.gradient_penalty(D, x, x_fake, rng=gen)
            d_loss = d_loss + acc.r1_penalty(D, x, gamma=10.0) + acc.r2_penalty(D, x_fake, gamma=10.0)
            g_loss = acc.generator_loss(D(x_fake), kind="non_saturating" if kind == "cross_entropy" else "hinge")
            (d_loss + g_loss).backward()

    reads = count_host_reads(iteration)
    assert reads.host_reads == 0, reads.ops
    assert reads.device_asserts > 0  # the value checks ran, as device assertions


class _GeneratorElsewhere(torch.Generator):
    """A CPU generator that reports another device: how a CUDA generator looks to CPU data."""

    @property
    def device(self):
        return torch.device("cuda", 0)


def test_rng_on_another_device_is_refused():
    gen, x = _GeneratorElsewhere(), torch.zeros(4, 2)
    critic = acc.TanhCritic(torch.ones(2, 3), torch.zeros(3), torch.ones(3))
    with pytest.raises(
        ValueError, match=r"rng: expected a torch\.Generator on cpu \(the data's device\), got one on cuda:0"
    ):
        acc.gradient_penalty(critic, x, x, rng=gen)
    with pytest.raises(ValueError, match=r"rng: expected a torch\.Generator on cpu"):
        acc.classifier_two_sample_test(torch.randn(8, 2), torch.randn(8, 2), rng=gen)


# ---------------------------------------------------------------- mixed precision


def test_losses_and_penalties_under_bfloat16_autocast():
    G, D = _gan_modules(torch.float32)
    x, z, u = torch.randn(16, 4), torch.randn(16, 2), torch.rand(16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        x_fake = G(z)
        l_real, l_fake = D(x), D(x_fake)
        assert l_real.dtype == x_fake.dtype == torch.bfloat16 and l_real.shape == (16, 1)
        out = {
            "ce": acc.discriminator_loss(l_real, l_fake),
            "hinge": acc.discriminator_loss(l_real, l_fake, kind="hinge"),
            **{k: acc.generator_loss(l_fake, kind=k) for k in ("minimax", "non_saturating", "hinge")},
            "wgan": acc.wasserstein_critic_objective(l_real, l_fake),
            "value": acc.gan_value(l_real.sigmoid(), l_fake.sigmoid()),
            "gp": acc.gradient_penalty(D, x, x_fake, noise=u),  # float32 data, bfloat16 fakes: promoted
            "r1": acc.r1_penalty(D, x, gamma=10.0),
            "r2": acc.r2_penalty(D, x_fake, gamma=10.0),
        }
    for name, value in out.items():
        assert value.dtype == torch.float32 and value.shape == () and torch.isfinite(value), name
    sum(out.values()).backward()
    assert all(torch.isfinite(p.grad).all() for p in D.parameters() if p.grad is not None)
    # Accumulated in float32: the same value as the float32 formula on the bfloat16 logits, up to the
    # one bfloat16 rounding of each softplus term (2**-9 relative, terms >= 0: no cancellation).
    expected = acc.discriminator_loss(l_real.float(), l_fake.float())
    assert float(out["ce"].detach()) == pytest.approx(float(expected.detach()), rel=2.0**-8)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_inputs_return_float32_and_promote(dtype):
    logits = torch.tensor([[-3.0], [0.5], [2.0]])
    for fn, kwargs in ((acc.discriminator_loss, {}), (acc.discriminator_loss, {"kind": "hinge"})):
        half = fn(logits.to(dtype), logits[:2, 0].to(dtype), **kwargs)
        mixed = fn(logits.to(dtype), logits[:2, 0], **kwargs)  # half real logits, float32 fake ones
        assert half.dtype == mixed.dtype == torch.float32
        # the logits are exact in both half dtypes: the float32 formula's value to float32 rounding
        assert float(mixed) == pytest.approx(float(fn(logits, logits[:2, 0], **kwargs)), rel=1e-6)
    assert acc.generator_loss(logits.to(dtype), kind="hinge").dtype == torch.float32
    assert acc.wasserstein_critic_objective(logits.to(dtype), logits.double()).dtype == torch.float64
    # float16 squares of gradients of 300 (9e4 > 65504) would overflow: summed in float32, exact.
    g = torch.full((2, 3), 300.0, dtype=dtype)
    assert float(acc.r1_penalty_from_gradients(g, gamma=1.0)) == 0.5 * 6 * 90000.0 / 2
    gp = acc.gradient_penalty_from_gradients(g, weight=1.0)
    assert gp.dtype == torch.float32 and float(gp) == pytest.approx((300.0 * math.sqrt(3.0) - 1.0) ** 2, rel=1e-6)
    # Cross-entropy of float16 logits near the range end (-6e4): softplus(6e4) = 6e4, finite.
    big = torch.tensor([-60000.0], dtype=dtype)
    assert float(acc.discriminator_loss(big, -big)) == pytest.approx(2 * float(big.abs()), rel=1e-6)


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


def test_bad_tanh_critic_parameters_on_both_sides():
    # A class, not a pair: its bad parameters are checked here (the pairs' bad inputs are in crosscheck.pairs.gan).
    for args, match in (
        ((np.ones(3), np.ones(3), np.ones(3)), r"W: expected a matrix"),
        ((W3, np.ones(2), A3), r"b: expected shape \(3,\)"),
    ):
        with pytest.raises(ValueError, match=match):
            ref.TanhCritic(*args)
        with pytest.raises(ValueError, match=match):
            acc.TanhCritic(*(t(a) for a in args))


def test_numpy_scalars_accepted_alike_and_float_counts_refused():
    # Counts and scales: NumPy scalars are accepted on both sides with the same result as Python ones.
    x, y = _gaussian_sets(1.0, n_x=10, n_y=10)
    noise = np.random.default_rng(19).random(20)
    kwargs = {
        "test_fraction": np.float32(0.5),
        "weight_decay": np.float64(1e-2),
        "max_iter": np.int64(50),
        "tol": np.float32(1e-8),
    }
    r = ref.classifier_two_sample_test(x, y, noise=noise, **kwargs)
    a = acc.classifier_two_sample_test(t(x), t(y), noise=t(noise), **kwargs)
    assert r.accuracy == float(a.accuracy) and r.n_test == a.n_test == 10
    g = np.ones((2, 3))
    for side, conv in ((ref, np.asarray), (acc, t)):
        assert float(side.r1_penalty_from_gradients(conv(g), gamma=np.float32(2.0))) == 3.0
        assert float(side.gradient_penalty_from_gradients(conv(g), weight=np.int64(1))) == pytest.approx(
            (3**0.5 - 1) ** 2
        )
        assert np.shape(
            side.truncated_normal(np.float64(1.0), shape=(np.int64(2), 3), noise=conv(np.full((2, 3), 0.5)))
        ) == (2, 3)
        assert float(side.truncate_latent(conv(np.ones(2)), conv(np.zeros(2)), np.float32(0.5))[0]) == 0.5
        # A float where a count is expected is a TypeError; a bool is not a count either.
        for bad in (50.0, True):
            with pytest.raises(TypeError, match="max_iter: expected an integer"):
                side.classifier_two_sample_test(conv(x), conv(y), noise=conv(noise), max_iter=bad)
        with pytest.raises(TypeError, match="shape: expected a shape"):
            side.truncated_normal(1.0, shape=(2.0,), noise=conv(np.full(2, 0.5)))


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


def test_gradient_penalty_refuses_non_finite_samples_on_both_sides():
    # Also where the interpolate does not use the bad sample's value: u = 1 takes x_real alone (the
    # accelerated side checks the interpolates, and lerp makes inf * 0 a NaN there).
    critic_ref, critic_acc = ref.TanhCritic(W3, B3, A3), acc.TanhCritic(t(W3), t(B3), t(A3))
    good, bad = np.zeros((2, 2)), np.array([[np.inf, 0.0], [0.0, NAN]])
    for u in ([1.0, 1.0], [0.0, 0.0], [0.3, 0.8]):
        for x_real, x_fake, name in ((good, bad, "x_fake"), (bad, good, "x_real")):
            with pytest.raises(ValueError, match=f"{name}: expected finite values"):
                ref.gradient_penalty(critic_ref, x_real, x_fake, noise=np.array(u))
            with pytest.raises(ValueError, match=f"{name}: expected finite values"):
                acc.gradient_penalty(critic_acc, t(x_real), t(x_fake), noise=t(u))


@pytest.mark.parametrize("fn", ["r1_penalty", "r2_penalty"])
def test_bad_input_r1_r2_same_errors_on_both_sides(fn):
    arg = "x_real" if fn == "r1_penalty" else "x_fake"
    x = np.zeros((2, 2))
    cases = [  # (reference critic, accelerated critic, x, kwargs, error, match)
        ("tanh", x, {}, TypeError, "gamma"),  # gamma is a required keyword
        ("tanh", x, {"gamma": 0.0}, ValueError, "gamma: expected a finite positive number"),
        ("tanh", x, {"gamma": -1.0}, ValueError, "gamma: expected a finite positive number"),
        ("tanh", x, {"gamma": "10"}, TypeError, "gamma: expected a positive real number"),
        ("tanh", np.zeros((0, 2)), {"gamma": 1.0}, ValueError, f"{arg}: expected at least one sample"),
        ("tanh", np.array([[0.0, NAN], [0.0, 0.0]]), {"gamma": 1.0}, ValueError, f"{arg}: expected finite values"),
        ("tanh", np.array([[np.inf, 0.0], [0.0, 0.0]]), {"gamma": 1.0}, ValueError, f"{arg}: expected finite values"),
        ("none", x, {"gamma": 1.0}, TypeError, "discriminator: expected"),
        ("wide", x, {"gamma": 1.0}, ValueError, "discriminator: expected"),
    ]
    for critic, xv, kwargs, error, match in cases:
        ref_critic = {"tanh": ref.TanhCritic(W3, B3, A3), "none": "D", "wide": _WideRefCritic()}[critic]
        acc_critic = {"tanh": acc.TanhCritic(t(W3), t(B3), t(A3)), "none": "D", "wide": lambda v: v}[critic]
        with pytest.raises(error, match=match):
            getattr(ref, fn)(ref_critic, xv, **kwargs)
        with pytest.raises(error, match=match):
            getattr(acc, fn)(acc_critic, t(xv), **kwargs)
    # The accelerated side names the shape it needs from the discriminator: (n,) or (n, 1).
    with pytest.raises(
        ValueError, match=r"discriminator: expected outputs of shape \(n,\) or \(n, 1\).*got shape \(2, 2\)"
    ):
        getattr(acc, fn)(lambda v: v, t(x), gamma=1.0)
    with pytest.raises(ValueError, match=r"critic: expected outputs of shape \(n,\) or \(n, 1\)"):
        acc.gradient_penalty(lambda v: v, t(x), t(x), noise=t([0.5, 0.5]))
    with pytest.raises(ValueError, match="critic: expected grad"):
        ref.gradient_penalty(_WideRefCritic(), x, x, noise=np.array([0.5, 0.5]))


class _WideRefCritic:
    """An analytic critic whose grad has the wrong shape (its values are one per sample, as checked first)."""

    def __call__(self, x):
        return x.sum(axis=1)

    def grad(self, x):
        return np.zeros((len(x), 7))


def test_bad_input_accelerated_types_and_dtypes():
    half = torch.full((3,), 0.5, dtype=torch.float64)
    # Mixed floating dtypes promote (autocast gives bfloat16 model outputs beside float32 data) ...
    assert acc.gan_value(half, half.float()).dtype == torch.float64
    assert acc.interpolate(torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.bfloat16), half).dtype == torch.float32
    # ... but not across devices.
    with pytest.raises(ValueError, match="logits_real, logits_fake: expected tensors on one device"):
        acc.discriminator_loss(half, half.to("meta"))
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


def test_clip_weights_refuses_nan_before_changing_anything():
    # issue 12: clip passed NaN through; now refused, and the accelerated side clips nothing first.
    tensors = [t([-2.0, 3.0]), t([0.5, float("nan")])]
    with pytest.raises(ValueError, match=r"parameters\[1\]: expected no NaN"):
        acc.clip_weights(tensors, 1.0)
    np.testing.assert_array_equal(tensors[0].numpy(), [-2.0, 3.0])
    with pytest.raises(ValueError, match=r"parameters\[0\]: expected no NaN"):
        ref.clip_weights([np.array([np.nan])], 1.0)
    # +-inf is clipped to the bound on both sides
    np.testing.assert_array_equal(ref.clip_weights([np.array([np.inf, -np.inf])], 1.0)[0], [1.0, -1.0])
    assert acc.clip_weights([t([float("inf"), -float("inf")])], 1.0)[0].tolist() == [1.0, -1.0]


def test_tanh_critic_on_another_dtype_computes_in_the_promoted_one():
    # issue 12: float32 parameters on float64 x failed inside matmul ("expected m1 and m2 to have the same dtype").
    W, b, a = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([0.1, -0.2]), np.array([1.0, -3.0])
    x = np.array([[0.3, -0.7], [1.2, 0.4]])
    critic = acc.TanhCritic(t(W, torch.float32), t(b, torch.float32), t(a, torch.float32))
    f = critic(t(x))
    assert f.dtype == torch.float64 and critic.grad(t(x)).dtype == torch.float64
    expected = ref.TanhCritic(np.float32(W), np.float32(b), np.float32(a))
    np.testing.assert_allclose(f.detach().numpy(), expected(x), rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(critic.grad(t(x)).detach().numpy(), expected.grad(x), rtol=1e-13, atol=1e-13)
    assert critic(t(x, torch.float16)).dtype == torch.float32  # half x on float32 parameters: float32
    penalty = acc.gradient_penalty(critic, t(x), t(x), noise=t([0.5, 0.5]))
    assert float(penalty.detach()) == pytest.approx(
        float(ref.gradient_penalty(expected, x, x, noise=np.full(2, 0.5))), rel=1e-12
    )


class _ListCritic:
    """A critic that returns a list (the reference side's analytic form, with grad)."""

    def __call__(self, x):
        return [0.0] * len(x)

    def grad(self, x):
        return np.zeros_like(x)


class _WideCritic(_ListCritic):
    """A critic with d + 1 outputs per sample instead of one."""

    def __call__(self, x):
        return np.zeros((len(x), x.shape[1] + 1))


class _ListModule(torch.nn.Module):
    def forward(self, x):
        return list(x.sum(1))


class _WideModule(torch.nn.Module):
    def forward(self, x):
        return torch.cat([x, x[:, :1]], dim=1)


@pytest.mark.parametrize("penalty", ["gradient_penalty", "r1_penalty", "r2_penalty"])
def test_a_critic_output_that_is_not_one_array_value_per_sample_is_refused_alike(penalty):
    # issue 12: a list or an (n, d + 1) output: the accelerated side refused, the reference returned a penalty.
    name = "critic" if penalty == "gradient_penalty" else "discriminator"
    z, u = np.zeros((2, 2)), np.full(2, 0.5)
    kwargs = {"noise": u} if penalty == "gradient_penalty" else {"gamma": 1.0}
    samples = (z, z) if penalty == "gradient_penalty" else (z,)
    tk = {k: (t(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    for side, critic, args, kw in (
        (ref, _ListCritic(), samples, kwargs),
        (acc, _ListModule(), tuple(map(t, samples)), tk),
    ):
        with pytest.raises(TypeError, match=rf"{name}: expected an? (array|tensor) from {name}\(x\), got list"):
            getattr(side, penalty)(critic, *args, **kw)
    shape = r"expected outputs of shape \(n,\) or \(n, 1\), one value per sample, for x of shape \(2, 2\), got shape "
    shape += r"\(2, 3\)"
    for side, critic, args, kw in (
        (ref, _WideCritic(), samples, kwargs),
        (acc, _WideModule(), tuple(map(t, samples)), tk),
    ):
        with pytest.raises(ValueError, match=rf"{name}: {shape}"):
            getattr(side, penalty)(critic, *args, **kw)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_tanh_critic_refuses_non_finite_samples(side):
    """Issue 12: x with inf or NaN gave NaN values and gradients (inf * 0 inside W^T x); now refused naming x."""
    mod = ref if side == "reference" else acc

    def conv(v):
        return np.asarray(v, dtype=np.float64) if side == "reference" else torch.tensor(v, dtype=torch.float64)

    critic = mod.TanhCritic(conv([[1.0, 0.0], [0.0, 1.0]]), conv([0.0, 0.0]), conv([1.0, 1.0]))
    for bad_x in ([[np.inf, 0.0]], [[NAN, 0.0]]):
        for method in (critic, critic.grad):
            with pytest.raises(ValueError, match="x: expected finite values"):
                method(conv(bad_x))


def test_mean_difference_and_variance_ratio_tests_match_scipy():
    from reference import gan as R

    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(3, 15)), 0.4 + 2.0 * rng.normal(size=(3, 11))
    t, p = R.mean_difference_test(x, y)
    peer = stats.ttest_ind(x, y, axis=-1, equal_var=False)
    np.testing.assert_allclose(t, peer.statistic, rtol=1e-13)
    np.testing.assert_allclose(p, peer.pvalue, rtol=1e-12)
    F, p = R.variance_ratio_test(x, y)
    F_peer = np.var(x, axis=-1, ddof=1) / np.var(y, axis=-1, ddof=1)
    np.testing.assert_allclose(F, F_peer, rtol=1e-13)
    np.testing.assert_allclose(p, 2 * np.minimum(stats.f.cdf(F_peer, 14, 10), stats.f.sf(F_peer, 14, 10)), rtol=1e-12)
