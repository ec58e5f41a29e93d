"""The factored MLP Jacobian trace (``method="factored"``) against the vmapped vjps and the autograd loop.

The factored method rests on tr(F_K ... F_1) = tr(F_1 F_K ... F_2) (cyclic invariance) and on the
Jacobian of an elementwise map being diagonal. Here it is checked on random chains of every shape the
recogniser accepts (0 to 5 linear layers, leading and trailing activations, consecutive linear layers
and activations, nested ``nn.Sequential``, ``nn.Identity``, eval-mode ``nn.Dropout``), in value and in
parameter gradient, against ``method="vmap"`` (itself crosschecked against the analytic divergence of
``reference.models.MLPScore``) and against the per-dimension autograd loop.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from accelerated import _mlp_trace
from accelerated import models as acc_models
from accelerated import score_matching as acc

ACTIVATIONS = [
    nn.Tanh,
    nn.SiLU,
    nn.GELU,
    nn.Softplus,
    nn.Sigmoid,
    nn.ELU,
    nn.Mish,
    nn.LeakyReLU,
    nn.CELU,
    nn.SELU,
    nn.Softsign,
    nn.LogSigmoid,
    nn.Tanhshrink,
]


def loop_trace(model, x):
    """The per-dimension autograd loop: d backward passes, one diagonal entry each (with a graph)."""
    x = x.detach().requires_grad_(True)
    s = model(x)
    return sum(torch.autograd.grad(s[:, i].sum(), x, create_graph=True)[0][:, i] for i in range(x.shape[1]))


@st.composite
def chains(draw):
    """A random recognised MLP (float64) mapping R^d to R^d, and samples x."""
    d = draw(st.integers(1, 6))
    torch.manual_seed(draw(st.integers(0, 2**16)))
    n_linear = draw(st.integers(0, 5))
    mods, width = [], d
    if n_linear == 0 or draw(st.booleans()):
        mods.append(draw(st.sampled_from(ACTIVATIONS))())
    for layer in range(n_linear):
        out = d if layer == n_linear - 1 else draw(st.integers(1, 9))
        mods.append(nn.Linear(width, out, bias=draw(st.booleans())))
        width = out
        if draw(st.integers(0, 9)) == 0:
            mods.append(nn.Linear(width, width))  # two linear layers in a row
        if layer < n_linear - 1 or draw(st.booleans()):
            mods.append(draw(st.sampled_from(ACTIVATIONS))())
            if draw(st.integers(0, 9)) == 0:
                mods.append(draw(st.sampled_from(ACTIVATIONS))())  # two activations in a row
        if draw(st.integers(0, 9)) == 0:
            mods.append(draw(st.sampled_from([nn.Identity(), nn.Dropout(0.5).eval()])))
    if len(mods) > 2 and draw(st.booleans()):
        cut = draw(st.integers(1, len(mods) - 1))
        mods = [nn.Sequential(*mods[:cut]), *mods[cut:]]  # nested Sequential
    model = nn.Sequential(*mods).double()
    x = torch.randn(draw(st.integers(1, 5)), d, dtype=torch.float64)
    return model, x


@given(chains(), st.one_of(st.none(), st.integers(1, 9)))
def test_factored_trace_equals_vmap_and_loop_in_value_and_gradient(chain, chunk_size):
    model, x = chain
    assert _mlp_trace.chain_of(model) is not None
    factored = acc.jacobian_trace(model, x, chunk_size=chunk_size, method="factored")
    vmapped = acc.jacobian_trace(model, x, method="vmap")
    loop = loop_trace(model, x)
    # Exact methods in float64: they differ by rounding only (entries O(10) at most here).
    torch.testing.assert_close(factored, vmapped, rtol=1e-11, atol=1e-12)
    torch.testing.assert_close(factored, loop, rtol=1e-11, atol=1e-12)
    params = list(model.parameters())
    if params:
        for got, want in zip(
            torch.autograd.grad(factored.sum(), params, allow_unused=True, materialize_grads=True),
            torch.autograd.grad(loop.sum(), params, allow_unused=True, materialize_grads=True),
        ):
            torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-11)
    ism = acc.implicit_score_matching(model, x, method="factored")
    torch.testing.assert_close(ism, (0.5 * (model(x) ** 2).sum(-1) + loop).mean(), rtol=1e-11, atol=1e-12)


def test_two_hidden_layer_trace_is_the_bilinear_form_of_the_module_docstring():
    # tr(W3 D2 W2 D1 W1) = delta1^T ((W1 W3) o W2^T) delta2, written out here from the weights.
    torch.manual_seed(3)
    net = nn.Sequential(nn.Linear(4, 7), nn.Tanh(), nn.Linear(7, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    x = torch.randn(6, 4, dtype=torch.float64)
    W1, W2, W3 = net[0].weight, net[2].weight, net[4].weight
    delta1 = 1 - torch.tanh(net[0](x)) ** 2
    delta2 = 1 - torch.tanh(net[2](torch.tanh(net[0](x)))) ** 2
    by_hand = torch.einsum("na,ab,nb->n", delta1, (W1 @ W3) * W2.mT, delta2)
    torch.testing.assert_close(acc.jacobian_trace(net, x, method="factored"), by_hand, rtol=1e-13, atol=1e-14)
    torch.testing.assert_close(loop_trace(net, x), by_hand, rtol=1e-13, atol=1e-14)


def test_float32_factored_trace_keeps_float32_accuracy():
    torch.manual_seed(4)
    net = nn.Sequential(nn.Linear(64, 256), nn.Tanh(), nn.Linear(256, 256), nn.Tanh(), nn.Linear(256, 64))
    x = torch.randn(32, 64)
    with torch.no_grad():
        exact = acc.jacobian_trace(net.double(), x.double(), method="vmap")
    net.float()
    for method in ("factored", "vmap"):
        with torch.no_grad():
            got = acc.jacobian_trace(net, x, method=method)
        assert got.dtype == torch.float32
        # float32 rounding of sums over 64 to 256 terms: measured 3.9e-7 of the scale for both methods;
        # 4e-6 (about 30 ulp of the largest trace) leaves room for other BLAS orderings.
        torch.testing.assert_close(got.double(), exact, rtol=0, atol=4e-6 * float(exact.abs().max()))


def test_no_graph_under_no_grad_and_gradients_reach_x():
    torch.manual_seed(5)
    net = nn.Sequential(nn.Linear(3, 8), nn.SiLU(), nn.Linear(8, 3)).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    with torch.no_grad():
        assert not acc.jacobian_trace(net, x, method="factored").requires_grad
    xg = x.clone().requires_grad_(True)
    (gx,) = torch.autograd.grad(acc.jacobian_trace(net, xg, method="factored").sum(), xg)
    xv = x.clone().requires_grad_(True)
    (gv,) = torch.autograd.grad(acc.jacobian_trace(net, xv, method="vmap").sum(), xv)
    torch.testing.assert_close(gx, gv, rtol=1e-12, atol=1e-13)


def _with_hook(module):
    module.register_forward_hook(lambda mod, inputs, out: out * 2)
    return module


class MySequential(nn.Sequential):
    def forward(self, x):
        return super().forward(x) + x**3


@pytest.mark.parametrize(
    "make",
    [
        lambda: MySequential(nn.Linear(3, 3)),  # a subclass may change forward
        lambda: nn.Sequential(nn.Linear(3, 4), nn.ReLU(inplace=True), nn.Linear(4, 3)),
        lambda: nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 3)),  # not elementwise
        lambda: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=-1), nn.Linear(4, 3)),
        lambda: _with_hook(nn.Sequential(nn.Linear(3, 3))),
        lambda: nn.Sequential(_with_hook(nn.Linear(3, 3))),
        lambda: torch.tanh,
        lambda: nn.Sequential(nn.Identity()),  # no steps: the identity map, trace d
    ],
)
def test_unrecognised_models_take_vmap_under_auto_and_are_refused_by_factored(make):
    model = make()
    if isinstance(model, nn.Module):
        model.double()
    assert _mlp_trace.chain_of(model) is None
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(acc.jacobian_trace(model, x), loop_trace(model, x), rtol=1e-12, atol=1e-13)
    with pytest.raises(TypeError, match=r"model: method='factored' needs an nn\.Sequential of nn\.Linear"):
        acc.jacobian_trace(model, x, method="factored")


def test_dropout_is_recognised_only_in_eval_mode():
    net = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Tanh(), nn.Linear(4, 3)).double()
    assert _mlp_trace.chain_of(net) is None  # training mode: a random mask, not a fixed chain
    net.eval()
    assert _mlp_trace.chain_of(net) is not None
    x = torch.randn(4, 3, dtype=torch.float64)
    torch.testing.assert_close(acc.jacobian_trace(net, x, method="factored"), loop_trace(net, x), rtol=1e-12, atol=0)


def test_conditional_mlp_score_is_not_factored_and_input_errors_are_the_models():
    rng = np.random.default_rng(0)
    cond = acc_models.MLPScore(*(torch.as_tensor(rng.normal(size=s)) for s in ((4, 5), (5,), (5, 3), (3,))))
    assert cond.cond_dim == 1 and _mlp_trace.chain_of(cond) is None
    net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 3)).double()
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 3\) \(the input width of the model's first"):
        acc.jacobian_trace(net, torch.zeros(2, 4, dtype=torch.float64), method="factored")
    with pytest.raises(TypeError, match="x, model parameters: expected one floating dtype"):
        acc.jacobian_trace(net, torch.zeros(2, 3), method="factored")
    wide = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 4)).double()
    with pytest.raises(ValueError, match=r"model: expected scores of the shape of x \(2, 3\), got shape \(2, 4\)"):
        acc.jacobian_trace(wide, torch.zeros(2, 3, dtype=torch.float64), method="factored")
