"""score_matching: known values, peers, torch.func vs analytic Jacobians, chunking, randomness, theorems, bad input."""

import importlib

import numpy as np
import pytest
import torch
from scipy import stats

from accelerated import models as acc_models
from accelerated import score_matching as acc
from accelerated import value_checks
from crosscheck.parity import parity_problems
from crosscheck.registry import PAIRS, THEOREMS, Side
from crosscheck.runner import check_theorem
from reference import models as ref_models
from reference import score_matching as ref

importlib.import_module("crosscheck.pairs.score_matching")
importlib.import_module("crosscheck.theorems.score_matching")

NAN = float("nan")


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def n(y):
    return y.detach().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


def mlp_params(d=3, hidden=5, cond_dim=0, seed=0):
    rng = np.random.default_rng(seed)
    return {
        "W1": rng.normal(size=(d + cond_dim, hidden)),
        "b1": rng.normal(size=hidden),
        "W2": rng.normal(size=(hidden, d)),
        "b2": rng.normal(size=d),
    }


def both_mlps(**kwargs):
    p = mlp_params(**kwargs)
    return ref_models.MLPScore(**p), acc_models.MLPScore(**{k: t(v) for k, v in p.items()})


def both_linear(W, b):
    return ref_models.LinearScore(W, b), acc_models.LinearScore(t(W), t(b))


def on_both(name, ref_args, acc_args, **kwargs):
    """Call reference and accelerated with separately built arguments; return two NumPy results."""
    acc_kwargs = {k: torch.as_tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()}
    return n(getattr(ref, name)(*ref_args, **kwargs)), n(getattr(acc, name)(*acc_args, **acc_kwargs))


RNG = np.random.default_rng(42)
X = RNG.normal(size=(7, 3))
EPS = RNG.normal(size=(7, 3))
W_LIN = RNG.normal(size=(3, 3))
B_LIN = RNG.normal(size=3)


# ---------------------------------------------------------------- known values


def test_fisher_divergence_known_value_has_the_half():
    s_p, s_q = np.array([[3.0, 4.0], [0.0, 0.0]]), np.zeros((2, 2))
    for out in on_both("fisher_divergence", (s_p, s_q), (t(s_p), t(s_q))):
        assert out == pytest.approx(0.5 * (25.0 + 0.0) / 2, rel=1e-15)  # mean of 1/2 |.|^2: not a distance
    for out in on_both("fisher_divergence", (s_p, s_p), (t(s_p), t(s_p))):
        assert out == 0.0


def test_linear_score_objectives_in_closed_form():
    # s(x) = x W + b: grad_x s = W^T, tr = tr W, v^T J v = v^T W v; DSM by hand.
    rm, am = both_linear(W_LIN, B_LIN)
    s = X @ W_LIN + B_LIN
    ism = np.mean(0.5 * np.sum(s**2, axis=1)) + np.trace(W_LIN)
    for out in on_both("implicit_score_matching", (rm, X), (am, t(X))):
        assert out == pytest.approx(ism, rel=1e-14)
    for out in on_both("jacobian_trace", (rm, X), (am, t(X))):
        np.testing.assert_allclose(out, np.full(7, np.trace(W_LIN)), rtol=1e-14)
    V = RNG.normal(size=(2, 7, 3))
    vWv = np.einsum("mni,ij,mnj->mn", V, W_LIN, V)
    for out in on_both("hutchinson_trace", (rm, X), (am, t(X)), noise=V):
        np.testing.assert_allclose(out, vWv.mean(axis=0), rtol=1e-13)
    vs = np.einsum("mni,ni->mn", V, s)
    for out in on_both("sliced_score_matching", (rm, X), (am, t(X)), noise=V):
        assert out == pytest.approx(np.mean(vWv + 0.5 * vs**2), rel=1e-13)
    for out in on_both("sliced_score_matching_vr", (rm, X), (am, t(X)), noise=V):
        assert out == pytest.approx(np.mean(vWv) + np.mean(0.5 * np.sum(s**2, axis=1)), rel=1e-13)
    sigma = 0.3
    s_tilde = (X + sigma * EPS) @ W_LIN + B_LIN
    dsm = np.mean(0.5 * np.sum((s_tilde + EPS / sigma) ** 2, axis=1))
    for out in on_both("denoising_score_matching", (rm, X, sigma), (am, t(X), sigma), noise=EPS):
        assert out == pytest.approx(dsm, rel=1e-14)


def test_true_gaussian_score_minimises_fisher_and_dsm_slide_factors():
    # The true score of N(m, S) is linear: W = -S^-1, b = m S^-1. Its Fisher divergence to itself is 0,
    # and Beigy's DSM estimator 1/(2m) sum |z/sigma + s(x + sigma z)|^2 is exactly what is returned.
    S, m = np.array([[2.0, 0.3], [0.3, 0.5]]), np.array([1.0, -1.0])
    P = np.linalg.inv(S)
    rm, am = both_linear(-P, m @ P)
    x = np.random.default_rng(1).normal(size=(50, 2))
    true = -(x - m) @ P
    for out in on_both("fisher_divergence", (rm(x), true), (am(t(x)), t(true))):
        assert out == pytest.approx(0.0, abs=1e-13)
    z = np.random.default_rng(2).normal(size=(50, 2))
    sigma = 0.2
    beigy = np.sum((z / sigma + rm(x + sigma * z)) ** 2) / (2 * 50)
    assert float(ref.denoising_score_matching(rm, x, sigma, noise=z)) == pytest.approx(beigy, rel=1e-14)


def test_kde_score_known_values_and_far_points():
    data = np.array([[0.0, 0.0], [2.0, 0.0]])
    h = 0.5
    # Midway between two kernels the score is 0; with one data point it is (x_1 - x) / h^2.
    x = np.array([[1.0, 0.0], [1.0, 3.0]])
    for out in on_both("kde_score", (x, data, h), (t(x), t(data), h)):
        np.testing.assert_allclose(out[0], [0.0, 0.0], atol=1e-15)
        np.testing.assert_allclose(out[1], [0.0, -3.0 / h**2], atol=1e-12)
    for out in on_both("kde_score", (x, data[:1], h), (t(x), t(data[:1]), h)):
        np.testing.assert_allclose(out, (data[:1] - x) / h**2, rtol=1e-15)
    # Far from all data every kernel underflows (exp(-8e6)); the stable softmax still gives the nearest point.
    far = np.array([[1000.0, 1.0]])
    for out in on_both("kde_score", (far, data, h), (t(far), t(data), h)):
        np.testing.assert_allclose(out, (data[1:] - far) / h**2, rtol=1e-15)
    # float32 input: computed in float64 and cast back (the docstring's reason: exponents of ~1e6).
    out32 = acc.kde_score(t(far, torch.float32), t(data, torch.float32), h)
    assert out32.dtype == torch.float32
    np.testing.assert_allclose(n(out32), (data[1:] - far) / h**2, rtol=1e-6)


def test_kde_score_float64_evaluation_matters_for_float32_inputs():
    # Two kernels almost equidistant from a far point, h small: exponents ~ 2e5. Evaluating the softmax in
    # float32 moves each exponent by ~0.02 and the score's second component by 1.6 % (measured); the float64
    # evaluation gives the exact score of the float32-rounded inputs (what the reference computes).
    data = np.array([[0.0, 1.0], [0.0, -1.0]])
    x = np.array([[60.0, 0.001]], dtype=np.float32).astype(np.float64)
    h = 0.1
    exact = ref.kde_score(x, data, h)
    out = n(acc.kde_score(t(x, torch.float32), t(data, torch.float32), h))
    np.testing.assert_allclose(out, exact, rtol=1e-6)
    diff = t(data, torch.float32).unsqueeze(0) - t(x, torch.float32).unsqueeze(1)
    w = torch.softmax(-0.5 * (diff**2).sum(-1) / h**2, dim=1)
    naive = n(torch.einsum("nm,nmd->nd", w, diff) / h**2)
    assert np.max(np.abs(naive - exact) / np.abs(exact)) > 1e-2  # what the float64 evaluation avoids


def test_kde_score_peers_scipy_gaussian_kde_and_autograd():
    # Peer (1-D): scipy.stats.gaussian_kde with kernel standard deviation h (bw factor h / std of the data);
    # its log-density differentiated by central differences.
    rng = np.random.default_rng(3)
    data1 = rng.normal(size=40)
    h = 0.3
    kde = stats.gaussian_kde(data1, bw_method=h / np.std(data1, ddof=1))
    x1 = np.linspace(-2.0, 2.0, 9)
    step = 1e-5
    fd = (kde.logpdf(x1 + step) - kde.logpdf(x1 - step)) / (2 * step)
    for out in on_both("kde_score", (x1[:, None], data1[:, None], h), (t(x1[:, None]), t(data1[:, None]), h)):
        np.testing.assert_allclose(out[:, 0], fd, rtol=1e-7, atol=1e-7)
    # d = 3: the gradient of log q = logsumexp_k(-|x - x_k|^2 / 2h^2) by autograd.
    data, x = rng.normal(size=(30, 3)), rng.normal(size=(5, 3))
    xt = t(x).requires_grad_(True)
    log_q = torch.logsumexp(-0.5 * ((xt.unsqueeze(1) - t(data).unsqueeze(0)) ** 2).sum(-1) / h**2, dim=1)
    (grad,) = torch.autograd.grad(log_q.sum(), xt)
    for out in on_both("kde_score", (x, data, h), (t(x), t(data), h)):
        np.testing.assert_allclose(out, n(grad), rtol=1e-12, atol=1e-12)


def test_explicit_score_matching_is_fisher_divergence_to_the_kde_at_kernel_draws():
    rm, am = both_mlps(d=2, seed=4)
    data, eps, h = RNG.normal(size=(6, 2)), RNG.normal(size=(6, 2)), 0.7
    x_tilde = data + h * eps
    expected = np.mean(0.5 * np.sum((rm(x_tilde) - ref.kde_score(x_tilde, data, h)) ** 2, axis=1))
    for out in on_both("explicit_score_matching", (rm, data, h), (am, t(data), h), noise=eps):
        assert out == pytest.approx(expected, rel=1e-13)


def test_geometric_sigmas_known_values():
    r = ref.geometric_sigmas(1.0, 0.01, 3)
    a = acc.geometric_sigmas(1.0, 0.01, 3)
    assert a.dtype == torch.float64 and r.dtype == np.float64
    for out in (r, n(a)):
        np.testing.assert_allclose(out, [1.0, 0.1, 0.01], rtol=1e-15)
    for out in (ref.geometric_sigmas(50.0, 0.01, 10), n(acc.geometric_sigmas(50.0, 0.01, 10))):
        assert out[0] == 50.0 and out[-1] == 0.01  # exact end points
        ratios = out[:-1] / out[1:]
        np.testing.assert_allclose(ratios, ratios[0], rtol=1e-13)  # sigma_1 / sigma_2 = ... (Beigy, NCSN)


def test_ncsn_loss_is_sigma_squared_weighted_dsm_and_passes_sigma_to_the_model():
    sigmas = ref.geometric_sigmas(2.0, 0.05, 4)
    rm, am = both_mlps(d=3, cond_dim=1, seed=5)
    for l in range(4):
        levels = np.full(7, l)
        dsm = ref.denoising_score_matching(rm, X, sigmas[l], noise=EPS, noise_conditional=True)
        for out in on_both(
            "ncsn_loss", (rm, X, sigmas), (am, t(X), t(sigmas)), levels=levels, noise=EPS, noise_conditional=True
        ):
            assert out == pytest.approx(sigmas[l] ** 2 * dsm, rel=1e-13)
    # Mixed levels: the mean of the per-sample weighted terms; the model sees each row's sigma.
    levels = np.array([0, 1, 2, 3, 0, 1, 2])
    seen = []

    def recording(x, sigma):  # the model-call protocol: sigma of shape (n,), one level per sample
        seen.append(n(sigma))
        return -x / (1.0 + sigma[:, None] ** 2)

    out = ref.ncsn_loss(recording, X, sigmas, levels=levels, noise=EPS)
    acc.ncsn_loss(recording, t(X), t(sigmas), levels=torch.as_tensor(levels), noise=t(EPS))
    for column in seen:
        np.testing.assert_array_equal(column, sigmas[levels])
    sig = sigmas[levels][:, None]
    s = -(X + sig * EPS) / (1.0 + sig**2)
    assert out == pytest.approx(np.mean(0.5 * sig[:, 0] ** 2 * np.sum((s + EPS / sig) ** 2, axis=1)), rel=1e-14)


def test_ncsn_loss_unweighted_is_the_slides_training_loss_per_level():
    """weighting="none" (L14 'NCSN training'): at each level the plain DSM loss, i.e. the weighted one / sigma_l^2."""
    sigmas = ref.geometric_sigmas(2.0, 0.05, 4)
    rm, am = both_mlps(d=3, cond_dim=1, seed=5)
    for l in range(4):
        levels = np.full(7, l)
        dsm = ref.denoising_score_matching(rm, X, sigmas[l], noise=EPS, noise_conditional=True)
        for out in on_both(
            "ncsn_loss", (rm, X, sigmas), (am, t(X), t(sigmas)), levels=levels, noise=EPS, weighting="none"
        ):
            assert out == pytest.approx(dsm, rel=1e-13)
    for lib, args in ((ref, (rm, X, sigmas)), (acc, (am, t(X), t(sigmas)))):
        with pytest.raises(ValueError, match="weighting: expected one of"):
            lib.ncsn_loss(*args, levels=np.zeros(7, dtype=np.int64), noise=EPS, weighting="lambda")


def test_tweedie_one_dimensional_gaussian():
    # x ~ N(m, s^2), y = x + sigma eps: E[x | y] = m + s^2 / (s^2 + sigma^2) (y - m), score -(y - m)/(s^2 + sigma^2).
    m, s2, sigma = 1.0, 2.0, 0.5
    y = np.array([[-3.0], [1.0], [4.0]])
    score = -(y - m) / (s2 + sigma**2)
    for out in on_both("tweedie_denoise", (y, score, sigma), (t(y), t(score), sigma)):
        np.testing.assert_allclose(out, m + s2 / (s2 + sigma**2) * (y - m), rtol=1e-15)


# ---------------------------------------------------------------- torch.func vs analytic and autograd


def test_torch_func_trace_matches_analytic_divergence_and_the_per_dimension_loop():
    _, am = both_mlps(d=4, hidden=6, seed=6)
    x = np.random.default_rng(7).normal(size=(9, 4))
    analytic = n(am.divergence(t(x)))
    # A generic nn.Module without analytic methods, against the per-dimension autograd loop.
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Softplus(), torch.nn.Linear(8, 4)).double()
    xt = t(x).requires_grad_(True)
    s = net(xt)
    loop = sum(torch.autograd.grad(s[:, i].sum(), xt, retain_graph=True)[0][:, i] for i in range(4))
    for method in acc.TRACE_METHODS:  # the factored MLP trace and the vmapped vjps, and auto (factored here)
        np.testing.assert_allclose(n(acc.jacobian_trace(am, t(x), method=method)), analytic, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(n(acc.jacobian_trace(net, t(x), method=method)), n(loop), rtol=1e-13, atol=1e-14)
    # Hutchinson with the basis vectors as probes (mean of e_j^T J e_j) is the exact trace divided by d.
    basis = np.broadcast_to(np.eye(4)[:, None, :], (4, 9, 4)).copy()
    np.testing.assert_allclose(4 * n(acc.hutchinson_trace(net, t(x), noise=t(basis))), n(loop), rtol=1e-13)


def test_parameter_gradients_match_the_analytic_objective():
    # d/dtheta of ISM through torch.func equals d/dtheta of the same objective written with the analytic
    # divergence; the sliced objectives pass gradcheck (create_graph through the vjp).
    _, am = both_mlps(d=3, hidden=4, seed=8)
    xt = t(X)
    (0.5 * (am(xt) ** 2).sum(-1) + am.divergence(xt)).mean().backward()
    analytic = [p.grad.clone() for p in am.parameters()]
    for method in ("factored", "vmap"):
        am.zero_grad()
        acc.implicit_score_matching(am, xt, method=method).backward()
        for g, p in zip(analytic, am.parameters()):
            np.testing.assert_allclose(n(p.grad), n(g), rtol=1e-12, atol=1e-14)
    V = t(RNG.normal(size=(2, 7, 3)))

    def ssm(W1, b1, W2, b2):
        def f(x):
            return torch.tanh(x @ W1 + b1) @ W2 + b2

        return acc.sliced_score_matching(f, xt, noise=V) + acc.sliced_score_matching_vr(f, xt, noise=V)

    params = tuple(t(v).requires_grad_(True) for v in mlp_params(d=3, hidden=4, seed=9).values())
    assert torch.autograd.gradcheck(ssm, params)


def test_gradients_reach_x_and_no_graph_under_no_grad():
    _, am = both_mlps(d=3, seed=10)
    xt = t(X).requires_grad_(True)
    acc.implicit_score_matching(am, xt).backward()
    assert xt.grad is not None and torch.isfinite(xt.grad).all()
    with torch.no_grad():
        value = acc.sliced_score_matching(am, t(X), noise=t(RNG.normal(size=(1, 7, 3))))
        trace = acc.jacobian_trace(am, t(X))
    assert not value.requires_grad and not trace.requires_grad
    np.testing.assert_allclose(n(trace), n(am.divergence(t(X))), rtol=1e-13)


def test_chunking_does_not_change_results(monkeypatch):
    _, am = both_mlps(d=5, hidden=7, seed=11)
    x = t(np.random.default_rng(12).normal(size=(6, 5)))
    full = n(acc.jacobian_trace(am, x, method="vmap"))
    for chunk in (1, 2, 3, 5, 100):
        got = acc.jacobian_trace(am, x, chunk_size=chunk, method="vmap")
        np.testing.assert_allclose(n(got), full, rtol=1e-15, atol=1e-15)
        assert float(acc.implicit_score_matching(am, x, chunk_size=chunk, method="vmap").detach()) == pytest.approx(
            float(acc.implicit_score_matching(am, x, method="vmap").detach()), rel=1e-15
        )
    # kde_score's row chunks (2**22 entries by default): force one row per chunk.
    data = t(np.random.default_rng(13).normal(size=(11, 5)))
    whole = n(acc.kde_score(x, data, 0.8))
    monkeypatch.setattr(acc.explicit, "_KDE_CHUNK_ENTRIES", 1)
    np.testing.assert_array_equal(n(acc.kde_score(x, data, 0.8)), whole)


def test_float32_follows_inputs():
    _, am = both_mlps(d=3, seed=14)
    am = am.float()
    x32 = t(X, torch.float32)
    for value in (
        acc.implicit_score_matching(am, x32),
        acc.sliced_score_matching(am, x32, rng=torch.Generator().manual_seed(0)),
        acc.denoising_score_matching(am, x32, 0.5, rng=torch.Generator().manual_seed(0)),
        acc.explicit_score_matching(am, x32, 0.5, rng=torch.Generator().manual_seed(0)),
    ):
        assert value.dtype == torch.float32 and torch.isfinite(value)
    sigmas64 = acc.geometric_sigmas(1.0, 0.1, 3)  # a float64 table is cast to the data's dtype
    cond = acc_models.MLPScore(**{k: t(v, torch.float32) for k, v in mlp_params(d=3, cond_dim=1).items()})
    assert acc.ncsn_loss(cond, x32, sigmas64, rng=torch.Generator().manual_seed(0)).dtype == torch.float32


# ---------------------------------------------------------------- randomness


def test_rng_draws_are_the_documented_ones():
    rm, am = both_mlps(d=3, cond_dim=1, seed=15)
    sigmas = ref.geometric_sigmas(1.0, 0.1, 3)
    g = np.random.default_rng(0)
    levels, eps = g.integers(0, 3, size=7), g.standard_normal((7, 3))
    assert ref.ncsn_loss(rm, X, sigmas, rng=np.random.default_rng(0)) == ref.ncsn_loss(
        rm, X, sigmas, levels=levels, noise=eps
    )
    g = torch.Generator().manual_seed(0)
    levels_t = torch.randint(0, 3, (7,), generator=g)
    eps_t = torch.randn((7, 3), generator=g, dtype=torch.float64)
    assert float(acc.ncsn_loss(am, t(X), t(sigmas), rng=torch.Generator().manual_seed(0)).detach()) == float(
        acc.ncsn_loss(am, t(X), t(sigmas), levels=levels_t, noise=eps_t).detach()
    )
    r_lin, a_lin = both_linear(W_LIN, B_LIN)
    v = 2.0 * np.random.default_rng(1).integers(0, 2, size=(3, 7, 3)) - 1.0
    kwargs = {"kind": "rademacher", "n_projections": 3}
    assert ref.sliced_score_matching(r_lin, X, rng=np.random.default_rng(1), **kwargs) == pytest.approx(
        float(ref.sliced_score_matching(r_lin, X, noise=v, **kwargs)), rel=1e-15
    )
    v_t = 2.0 * torch.randint(0, 2, (3, 7, 3), generator=torch.Generator().manual_seed(1)).double() - 1.0
    a = acc.sliced_score_matching(a_lin, t(X), rng=torch.Generator().manual_seed(1), **kwargs)
    assert float(n(a)) == pytest.approx(
        float(n(acc.sliced_score_matching(a_lin, t(X), noise=v_t, **kwargs))), rel=1e-15
    )
    # With rng and no n_probes: one probe per sample.
    assert ref.hutchinson_trace(r_lin, X, rng=np.random.default_rng(2)).shape == (7,)


# ---------------------------------------------------------------- theorems and parity


SM_THEOREMS = [
    (th, s) for th in THEOREMS if th.check.__module__.startswith("crosscheck.theorems.score_matching") for s in th.sides
]


@pytest.mark.parametrize(("thm", "side"), SM_THEOREMS, ids=[f"{th.name}-{s}" for th, s in SM_THEOREMS])
def test_score_matching_theorems(thm, side):
    ev = check_theorem(thm, Side(side, quick=True), raise_errors=True).evidence
    assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_parity_and_every_function_registered():
    assert parity_problems("score_matching") == []
    registered = {p.function for p in PAIRS if p.module == "score_matching"}
    assert set(ref.__all__) == registered


# ---------------------------------------------------------------- bad input


class NoDerivatives:
    """A callable score model without the analytic methods the reference needs."""

    def __call__(self, x):
        return -x


R_MLP, A_MLP = both_mlps(d=3, seed=16)
SIGMAS = np.array([1.0, 0.5, 0.1])

# The bad inputs of every pair are ErrorInputs in crosscheck/pairs/score_matching.py (tests/test_error_inputs.py
# runs them on both sides); what stays here are models, randomness and tensor-only metadata.


def test_numpy_scalars_are_accepted_alike_and_float_counts_refused():
    rm, am = R_MLP, A_MLP
    x, v = np.zeros((2, 3)), np.ones((2, 2, 3))
    for side, model, arr, probes in ((ref, rm, x, v), (acc, am, t(x), t(v))):
        sigmas = side.geometric_sigmas(np.float32(1.0), np.float64(0.1), np.int64(3))
        np.testing.assert_allclose(n(sigmas), [1.0, np.sqrt(0.1), 0.1], rtol=1e-7)
        side.hutchinson_trace(model, arr, n_probes=np.int64(2), noise=probes)
        side.jacobian_trace(model, arr, chunk_size=np.int32(2))
        side.denoising_score_matching(model, arr, np.float32(0.5), noise=arr)
        side.tweedie_denoise(arr, arr, np.float64(0.5))
        side.kde_score(arr, arr, np.float32(0.3))
        float_counts = (
            (side.hutchinson_trace, (model, arr), {"n_probes": 2.0, "noise": probes}, "n_probes"),
            (side.sliced_score_matching, (model, arr), {"n_projections": 2.0, "noise": probes}, "n_projections"),
            (side.jacobian_trace, (model, arr), {"chunk_size": 2.0}, "chunk_size"),
            (side.geometric_sigmas, (1.0, 0.1, 3.0), {}, "L"),
            (side.geometric_sigmas, (1.0, 0.1, True), {}, "L"),  # a flag is not a count
        )
        for fn, args, kwargs, name in float_counts:
            with pytest.raises(TypeError, match=rf"^{name}: expected an integer"):
                fn(*args, **kwargs)


def test_bad_input_models_and_randomness():
    x = np.zeros((2, 3))
    # The reference has no autograd: a model without divergence / jacobian is refused with the reason.
    for fn in (ref.implicit_score_matching, ref.jacobian_trace):
        with pytest.raises(
            TypeError, match=r"model: expected an analytic score model with __call__\(x\) and divergence"
        ):
            fn(NoDerivatives(), x)
    for fn in (ref.hutchinson_trace, ref.sliced_score_matching, ref.sliced_score_matching_vr):
        with pytest.raises(TypeError, match=r"and jacobian\(x\) \(the reference side has no autograd"):
            fn(NoDerivatives(), x, noise=np.ones((1, 2, 3)))
    # ... while the accelerated side differentiates any callable, and DSM needs no derivative on either side.
    assert float(acc.implicit_score_matching(lambda v: -v, t(x))) == pytest.approx(-3.0)
    assert float(ref.denoising_score_matching(NoDerivatives(), x, 1.0, noise=np.ones((2, 3)))) == 0.0
    for side, arr in ((ref, x), (acc, t(x))):
        with pytest.raises(TypeError, match="model: expected a callable"):
            side.denoising_score_matching("model", arr, 1.0, noise=arr)
        with pytest.raises(ValueError, match=r"model: expected scores of the shape of x"):
            side.denoising_score_matching(lambda v: v[:, :2], arr, 1.0, noise=arr)
        with pytest.raises(ValueError, match="pass exactly one of noise="):
            side.denoising_score_matching(lambda v: v, arr, 1.0)
    with pytest.raises(ValueError, match=r"model: expected scores of the shape of x"):
        acc.jacobian_trace(lambda v: v.sum(-1), t(x))
    with pytest.raises(ValueError, match=r"pass exactly one of noise=.*got both"):
        ref.denoising_score_matching(lambda v: v, x, 1.0, noise=x, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
        ref.sliced_score_matching(R_MLP, x, rng=torch.Generator())
    with pytest.raises(TypeError, match=r"rng: expected a torch\.Generator"):
        acc.sliced_score_matching(A_MLP, t(x), rng=np.random.default_rng(0))
    for side, rng, sig in ((ref, np.random.default_rng(0), SIGMAS), (acc, torch.Generator(), t(SIGMAS))):
        arr = x if side is ref else t(x)
        lv = np.zeros(2, dtype=np.int64) if side is ref else torch.zeros(2, dtype=torch.int64)
        with pytest.raises(ValueError, match="levels: pre-drawn levels go with noise="):
            side.ncsn_loss(lambda v, s: v, arr, sig, levels=lv, rng=rng)


def test_bad_input_accelerated_dtypes_and_devices():
    x = t(np.zeros((2, 3)))
    # a model's scores may come out of autocast in another precision than the target's: promoted
    assert acc.fisher_divergence(x, x.float()).dtype == torch.float64
    with pytest.raises(TypeError, match="x, noise: expected one floating dtype"):
        acc.denoising_score_matching(A_MLP, x, 1.0, noise=x.float())
    with pytest.raises(TypeError, match="x, data: expected one floating dtype"):
        acc.kde_score(x, x.float(), 1.0)
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        acc.implicit_score_matching(A_MLP, np.zeros((2, 3)))
    with pytest.raises(TypeError, match="noise: expected a floating-point tensor"):
        acc.hutchinson_trace(A_MLP, x, noise=torch.ones(1, 2, 3, dtype=torch.int64))
    # The 'meta' device stands in for a second device on a CPU-only machine: metadata checks see it.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.sliced_score_matching(A_MLP, x, noise=torch.ones(1, 2, 3, dtype=torch.float64, device="meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.tweedie_denoise(x, x.to("meta"), 1.0)
    with pytest.raises(ValueError, match="sigmas: expected the noise levels on x's device"):
        acc.ncsn_loss(A_MLP, x, t(SIGMAS).to("meta"), levels=torch.zeros(2, dtype=torch.int64), noise=x)
    with pytest.raises(ValueError, match="levels: expected the level indices on x's device"):
        acc.ncsn_loss(A_MLP, x, t(SIGMAS), levels=torch.zeros(2, dtype=torch.int64, device="meta"), noise=x)
    # Value checks can be switched off in a training loop: then NaN passes through silently.
    with value_checks(False):
        assert torch.isnan(acc.fisher_divergence(torch.full((1, 2), NAN, dtype=torch.float64), t(np.zeros((1, 2)))))


def test_explicit_score_matching_float32_keeps_a_bandwidth_below_the_data_resolution():
    """Issue 12: in float32, 1 + 1e-8 rounds to 1, so the KDE target lost the perturbation it is the score
    of and the objective came out a fraction of the reference's; the target is now formed in float64."""
    data, noise = np.array([[0.0], [1.0], [-2.0]]), np.array([[1.0], [1.0], [-0.5]])
    expected = float(ref.explicit_score_matching(lambda x: -x, data, 1e-8, noise=noise))
    data32, noise32 = torch.tensor(data, dtype=torch.float32), torch.tensor(noise, dtype=torch.float32)
    got = acc.explicit_score_matching(lambda x: -x, data32, 1e-8, noise=noise32)
    assert got.dtype == torch.float32
    assert float(got) == pytest.approx(expected, rel=1e-6)
    # ordinary bandwidths: float32 still agrees with the float64 reference to float32 rounding
    expected = float(ref.explicit_score_matching(lambda x: -x, data, 0.5, noise=noise))
    assert float(acc.explicit_score_matching(lambda x: -x, data32, 0.5, noise=noise32)) == pytest.approx(
        expected, rel=1e-5
    )


@pytest.mark.parametrize("side", [ref, acc])
def test_geometric_sigmas_whose_ratio_underflows(side):
    """Issue 12: (1e300, 1e-300, 3) was refused as "too close to 1" (sigma_L / sigma_1 underflowed to 0);
    the levels are now computed in log space there: the geometric mean of the end points is 1."""
    sigmas = np.asarray(side.geometric_sigmas(1e300, 1e-300, 5))
    np.testing.assert_allclose(sigmas, [1e300, 1e150, 1.0, 1e-150, 1e-300], rtol=1e-13)
    assert sigmas[0] == 1e300 and sigmas[-1] == 1e-300


@pytest.mark.parametrize("side", [ref, acc])
def test_a_model_returning_nan_is_named_on_both_sides(side):
    """Issue 12: the reference returned NaN where a model's output was NaN (only the samples and noise were
    checked on entry); both sides now refuse the objective, naming the model's output."""
    x, eps = np.zeros((2, 3)), np.ones((2, 3))
    if side is acc:
        x, eps = torch.tensor(x), torch.tensor(eps)
    with pytest.raises(ValueError, match=r"^model\(x\): expected finite values"):
        side.denoising_score_matching(lambda y: y * float("nan"), x, 1.0, noise=eps)
    with pytest.raises(ValueError, match=r"^model\(x\): expected finite values"):
        side.explicit_score_matching(lambda y: y * float("nan"), x, 1.0, noise=eps)


def test_sliced_fisher_divergence_averages_to_the_fisher_divergence_over_a_complete_probe_set():
    """sum_j v_j v_j^T = M I for the M = 2^d sign vectors: the sliced divergence is then exactly D_F."""
    rng = np.random.default_rng(3)
    s_p, s_q = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 3)).reshape(3, -1).T  # the 8 sign vectors
    v = np.broadcast_to(signs[:, None, :], (8, 5, 3)).copy()
    fd = ref.fisher_divergence(s_p, s_q)
    for out in on_both("sliced_fisher_divergence", (s_p, s_q), (t(s_p), t(s_q)), kind="rademacher", noise=v):
        assert out == pytest.approx(fd, rel=1e-13)
    out = ref.sliced_fisher_divergence(s_p, s_q, n_projections=3, rng=np.random.default_rng(0))
    assert out >= 0 and np.isfinite(out)
    assert float(acc.sliced_fisher_divergence(t(s_p), t(s_q), rng=torch.Generator().manual_seed(0))) >= 0


def test_energy_forms_accept_a_hess_method_and_are_differentiable_in_the_energy():
    """Reference: any energy with grad and hess; accelerated: any callable, differentiable in its parameters."""

    class Quartic:  # E = sum x^4 / 4: grad x^3, hess diag(3 x^2)
        def __call__(self, x):
            return np.sum(x**4, axis=-1) / 4

        def grad(self, x):
            return x**3

        def hess(self, x):
            return np.einsum("ni,ij->nij", 3 * x**2, np.eye(x.shape[1]))

    x = RNG.normal(size=(4, 2))
    expected = np.mean(0.5 * np.sum(x**6, axis=1) - np.sum(3 * x**2, axis=1))
    assert float(ref.implicit_score_matching_energy(Quartic(), x)) == pytest.approx(expected, rel=1e-13)
    scale = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    loss = acc.implicit_score_matching_energy(lambda y: scale * (y**4).sum(-1) / 4, t(x))
    assert float(loss.detach()) == pytest.approx(expected, rel=1e-13)
    (grad,) = torch.autograd.grad(loss, scale)  # d/dc of mean(c^2 |x^3|^2 / 2 - c tr) at c = 1
    assert float(grad) == pytest.approx(np.mean(np.sum(x**6, axis=1) - np.sum(3 * x**2, axis=1)), rel=1e-12)
    with pytest.raises(TypeError, match="energy: expected an analytic energy with grad"):
        ref.implicit_score_matching_energy(lambda y: y.sum(-1), x)


def test_kde_log_density_integrates_to_one_and_its_gradient_is_kde_score():
    """The 1/h^D normaliser (not the slide's 1/h): exp(log q) integrates to 1 in 1-D and 2-D (trapezoid rule)."""
    rng = np.random.default_rng(7)
    h = 0.4
    for d in (1, 2):
        data = rng.normal(size=(5, d))
        g = np.linspace(-6.0, 6.0, 601 if d == 1 else 241)
        grid = np.stack(np.meshgrid(*[g] * d, indexing="ij"), axis=-1).reshape(-1, d)
        for lib, conv in ((ref, np.asarray), (acc, t)):
            q = np.exp(n(lib.kde_log_density(conv(grid), conv(data), h))).reshape((g.size,) * d)
            for _ in range(d):
                q = np.trapezoid(q, g, axis=0)
            assert float(q) == pytest.approx(1.0, abs=1e-6)  # the tails beyond +-6 and the rule's error: < 1e-8
    data, x = rng.normal(size=(6, 3)), rng.normal(size=(4, 3))
    xt = t(x).requires_grad_(True)
    (grad,) = torch.autograd.grad(acc.kde_log_density(xt, t(data), 0.7).sum(), xt)
    np.testing.assert_allclose(n(grad), ref.kde_score(x, data, 0.7), rtol=1e-12, atol=1e-12)
    step = 1e-6  # central differences of the reference's log density: error O(step^2)
    fd = np.stack(
        [
            (ref.kde_log_density(x + step * e, data, 0.7) - ref.kde_log_density(x - step * e, data, 0.7)) / (2 * step)
            for e in np.eye(3)
        ],
        axis=1,
    )
    np.testing.assert_allclose(fd, ref.kde_score(x, data, 0.7), rtol=1e-6, atol=1e-7)
