"""distributions: known values, SciPy peers, autograd, sampling laws, Tweedie, agreement of the methods, bad input."""

import importlib
import math

import numpy as np
import pytest
import torch
from scipy import special, stats

import accelerated
from accelerated import distributions as acc
from crosscheck import assert_agree
from crosscheck.agree import Twin, _to_accelerated, _to_reference
from crosscheck.parity import parity_problems
from crosscheck.registry import PAIRS, THEOREMS, Side
from crosscheck.runner import check_theorem
from reference import distributions as ref

importlib.import_module("crosscheck.pairs.distributions")
importlib.import_module("crosscheck.theorems.distributions")

NAN = float("nan")
MEAN = np.array([1.0, -0.5, 0.25])
COV = np.array([[2.0, 0.5, -0.3], [0.5, 1.0, 0.2], [-0.3, 0.2, 0.7]])
W = np.array([0.5, 0.0, 0.3, 0.2])  # one zero-weight component
MEANS = np.array([[0.0, 0.0], [9.0, 9.0], [2.0, -1.0], [-1.5, 2.0]])
COVS = np.array(
    [[[1.0, 0.3], [0.3, 0.5]], [[1.0, 0.0], [0.0, 1.0]], [[0.4, -0.1], [-0.1, 0.8]], [[0.3, 0.0], [0.0, 0.3]]]
)


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def both_gaussians(mean=MEAN, cov=COV):
    return ref.Gaussian(mean, cov), acc.Gaussian(t(mean), t(cov))


def both_mixtures(weights=W, means=MEANS, covs=COVS):
    return ref.GaussianMixture(weights, means, covs), acc.GaussianMixture(t(weights), t(means), t(covs))


def n(y):
    return y.detach().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


# ---------------------------------------------------------------- known values and peers


def test_one_dimensional_gaussian_known_values():
    # Beigy 'Score function (One-dimensional Gaussian distribution)': log N = -log(sqrt(2 pi) s) - (x - mu)^2 / (2 s^2),
    # s(x) = (mu - x) / s^2 (the extracted slide prints "mu x": a typo for mu - x).
    mu, s, x = 1.5, 0.5, np.array([[0.0], [1.5], [3.0]])
    expected_log = -math.log(math.sqrt(2 * math.pi) * s) - (x[:, 0] - mu) ** 2 / (2 * s**2)
    expected_score = (mu - x) / s**2
    for g in both_gaussians(np.array([mu]), np.array([[s**2]])):
        xs = x if isinstance(g, ref.Gaussian) else t(x)
        np.testing.assert_allclose(n(g.log_prob(xs)), expected_log, rtol=1e-15)
        np.testing.assert_allclose(n(g.score(xs)), expected_score, rtol=1e-15)
        assert g.dim == 1


def test_gaussian_matches_scipy_multivariate_normal():
    x = np.random.default_rng(0).normal(size=(4, 5, 3)) * 2
    peer = stats.multivariate_normal(MEAN, COV).logpdf(x)
    r, a = both_gaussians()
    np.testing.assert_allclose(r.log_prob(x), peer, rtol=1e-13)
    np.testing.assert_allclose(n(a.log_prob(t(x))), peer, rtol=1e-13)
    assert r.log_prob(x).shape == a.log_prob(t(x)).shape == (4, 5)
    expected_score = -(x - MEAN) @ np.linalg.inv(COV)
    np.testing.assert_allclose(r.score(x), expected_score, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(n(a.score(t(x))), expected_score, rtol=1e-12, atol=1e-14)


def test_mixture_matches_scipy_logsumexp_of_components():
    x = np.random.default_rng(1).normal(size=(7, 2)) * 3
    with np.errstate(divide="ignore"):
        terms = np.stack([np.log(w) + stats.multivariate_normal(m, c).logpdf(x) for w, m, c in zip(W, MEANS, COVS)], -1)
    peer = special.logsumexp(terms, axis=-1)
    r, a = both_mixtures()
    np.testing.assert_allclose(r.log_prob(x), peer, rtol=1e-13)
    np.testing.assert_allclose(n(a.log_prob(t(x))), peer, rtol=1e-13)
    resp = special.softmax(terms, axis=-1)
    np.testing.assert_allclose(r.responsibilities(x), resp, atol=1e-15)
    np.testing.assert_allclose(n(a.responsibilities(t(x))), resp, atol=1e-15)
    assert np.all(resp[:, 1] == 0)  # the zero-weight component never contributes
    assert r.n_components == a.n_components == 4 and r.dim == a.dim == 2


def test_mixture_far_from_every_component_is_finite():
    # At x = 1e3 every component density underflows (log N ~ -1e6): log-sum-exp keeps log p and the score.
    x = np.array([[1e3, -1e3]])
    for g in both_mixtures():
        xs = x if isinstance(g, ref.GaussianMixture) else t(x)
        lp, s = n(g.log_prob(xs)), n(g.score(xs))
        assert np.all(np.isfinite(lp)) and lp[0] < -1e5
        assert np.all(np.isfinite(s))


def test_from_1d_constructor_beigy_mixture():
    r = ref.GaussianMixture.from_1d([0.6, 0.4], [2.0, -2.0], [0.5, 0.2])
    a = acc.GaussianMixture.from_1d(t([0.6, 0.4]), t([2.0, -2.0]), t([0.5, 0.2]))
    x = np.linspace(-4, 4, 9)[:, None]
    peer = np.log(0.6 * stats.norm.pdf(x[:, 0], 2, 0.5) + 0.4 * stats.norm.pdf(x[:, 0], -2, 0.2))
    np.testing.assert_allclose(r.log_prob(x), peer, rtol=1e-12)
    np.testing.assert_allclose(n(a.log_prob(t(x))), peer, rtol=1e-12)


# ---------------------------------------------------------------- autograd


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_accelerated_score_is_autograd_gradient_of_log_prob(dtype):
    x = np.random.default_rng(2).normal(size=(6, 2)) * 2
    for target in (
        acc.Gaussian(t(MEAN[:2], dtype), t(COV[:2, :2], dtype)),
        acc.GaussianMixture(*(t(v, dtype) for v in (W, MEANS, COVS))),
    ):
        xt = t(x, dtype).requires_grad_(True)
        (g,) = torch.autograd.grad(target.log_prob(xt).sum(), xt)
        s = target.score(t(x, dtype))
        assert s.dtype == g.dtype == dtype
        tol = 1e-12 if dtype == torch.float64 else 1e-6
        np.testing.assert_allclose(n(s), n(g), rtol=tol, atol=tol)


def test_parameters_are_differentiable():
    mean = t(MEAN).requires_grad_(True)
    lp = acc.Gaussian(mean, t(COV)).log_prob(t(np.zeros(3))).sum()
    (g,) = torch.autograd.grad(lp, mean)
    np.testing.assert_allclose(n(g), -np.linalg.solve(COV, MEAN), rtol=1e-12)  # d/dmu log N(0; mu, S) = -S^{-1} mu


# ---------------------------------------------------------------- sampling


def test_gaussian_sample_is_mean_plus_cholesky_times_noise():
    eps = np.random.default_rng(3).normal(size=(5, 3))
    L = np.linalg.cholesky(COV)
    for g in both_gaussians():
        e = eps if isinstance(g, ref.Gaussian) else t(eps)
        np.testing.assert_allclose(n(g.sample(e)), MEAN + eps @ L.T, rtol=1e-14)


def test_gaussian_sample_moments():
    eps = np.random.default_rng(4).normal(size=(200_000, 3))
    x = ref.Gaussian(MEAN, COV).sample(eps)
    # Standard errors: sqrt(S_ii / n) <= 3.2e-3 for the mean; sample covariance entries ~ 2 / sqrt(n) ~ 5e-3.
    np.testing.assert_allclose(x.mean(0), MEAN, atol=0.015)
    np.testing.assert_allclose(np.cov(x.T), COV, atol=0.03)


def test_mixture_sample_component_frequencies_are_the_weights():
    # Uniforms on the midpoint grid: the inverse CDF assigns exactly round(n w_k) samples to component k.
    m = 1000
    u = (np.arange(m) + 0.5) / m
    eps = np.zeros((m, 2))
    for g in both_mixtures():
        uu, ee = (u, eps) if isinstance(g, ref.GaussianMixture) else (t(u), t(eps))
        x = n(g.sample(ee, uu))
        counts = [int(np.sum(np.all(x == MEANS[k], axis=1))) for k in range(4)]  # eps = 0: x is the mean
        assert counts == [500, 0, 300, 200]


def test_mixture_sample_inverse_cdf_boundaries():
    # c = (0.5, 0.5, 0.8, 1.0): u = 0 -> component 0; u = 0.5 -> the next positive one (2, not the
    # zero-weight 1); u = 1 -> the last positive one; weights (1, 0): u = 1 stays on component 0.
    u = np.array([0.0, 0.4999, 0.5, 0.8, 1.0])
    eps = np.zeros((5, 2))
    expected = MEANS[[0, 0, 2, 3, 3]]
    for g in both_mixtures():
        uu, ee = (u, eps) if isinstance(g, ref.GaussianMixture) else (t(u), t(eps))
        np.testing.assert_array_equal(n(g.sample(ee, uu)), expected)
    for g in both_mixtures(np.array([1.0, 0.0]), MEANS[:2], COVS[:2]):
        uu, ee = (np.array([1.0]), np.zeros((1, 2)))
        if isinstance(g, acc.GaussianMixture):
            uu, ee = t(uu), t(ee)
        np.testing.assert_array_equal(n(g.sample(ee, uu)), MEANS[:1])


# ---------------------------------------------------------------- noisy marginal and posterior mean (Tweedie)


def test_convolve_adds_sigma_squared_identity():
    for g in both_gaussians():
        np.testing.assert_allclose(n(g.convolve(0.5).cov), COV + 0.25 * np.eye(3), rtol=1e-15)
    for g in both_mixtures():
        np.testing.assert_allclose(n(g.convolve(2.0).covs), COVS + 4.0 * np.eye(2), rtol=1e-15)


@pytest.mark.parametrize("kind", ["gaussian", "mixture"])
def test_posterior_mean_is_tweedie_and_sigma_zero_is_identity(kind):
    # Tweedie (L8): E[x | y] = y + sigma^2 grad log p_sigma(y); the exact posterior mean must satisfy it.
    rng = np.random.default_rng(5)
    pair = both_gaussians() if kind == "gaussian" else both_mixtures()
    d = pair[0].dim
    y = rng.normal(size=(8, d)) * 2
    for g in pair:
        ys = y if g is pair[0] else t(y)
        for sigma in (0.3, 1.0, 2.5):
            tweedie = n(ys) + sigma**2 * n(g.convolve(sigma).score(ys))
            np.testing.assert_allclose(n(g.posterior_mean(ys, sigma)), tweedie, rtol=1e-11, atol=1e-12)
        np.testing.assert_allclose(n(g.posterior_mean(ys, 0.0)), y, rtol=1e-13, atol=1e-13)


# ---------------------------------------------------------------- agreement of the class methods


def _call(method):
    def run(obj, *args):
        return getattr(obj, method)(*args)

    run.__name__ = method
    return run


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_class_methods_agree(dtype):
    rng = np.random.default_rng(6)
    x, x2 = rng.normal(size=(3, 4, 3)) * 2, rng.normal(size=(5, 2)) * 3
    gauss = Twin("distributions.Gaussian", mean=MEAN, cov=COV)
    mixture = Twin("distributions.GaussianMixture", weights=W, means=MEANS, covs=COVS)
    for method, args in (("log_prob", (x,)), ("score", (x,)), ("sample", (x,)), ("posterior_mean", (x, 0.7))):
        assert_agree(_call(method), _call(method), gauss, *args, dtype=dtype)
    u = rng.uniform(size=5)
    for method, args in (
        ("log_prob", (x2,)),
        ("score", (x2,)),
        ("responsibilities", (x2,)),
        ("sample", (x2, u)),
        ("posterior_mean", (x2, 1.3)),
    ):
        assert_agree(_call(method), _call(method), mixture, *args, dtype=dtype)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_theorems(side):
    thms = [th for th in THEOREMS if th.check.__module__ == "crosscheck.theorems.distributions"]
    assert len(thms) == 4
    for thm in thms:
        ev = check_theorem(thm, Side(side), raise_errors=True).evidence
        assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_parity_and_every_function_registered():
    assert parity_problems("distributions") == []
    registered = {p.function for p in PAIRS if p.module == "distributions"}
    functions = {name for name in ref.__all__ if not name[0].isupper()}
    assert functions == registered


def test_float32_parameters_give_float32_results():
    g = acc.Gaussian(t(MEAN, torch.float32), t(COV, torch.float32))
    x = t(np.ones((2, 3)), torch.float32)
    assert g.log_prob(x).dtype == g.score(x).dtype == g.sample(x).dtype == torch.float32
    assert g.L.dtype == torch.float64  # the covariance algebra stays in float64


# ---------------------------------------------------------------- bad input
# Bad input of the functional forms (the constructors' parameters, the points, sigma) is in the pair
# registry (crosscheck/pairs/distributions.py, run by tests/test_error_inputs.py); here are the
# methods that are not pairs, built on each side by Twin (the registry's conversion).


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_bad_method_input(side):
    convert = _to_reference if side == "reference" else _to_accelerated
    lib = ref if side == "reference" else acc
    m = Twin("distributions.GaussianMixture", weights=W, means=MEANS, covs=COVS).build(side, "float64", "cpu")
    with pytest.raises(ValueError, match="sigma: expected a finite non-negative number"):
        m.convolve(NAN)
    with pytest.raises(TypeError, match="sigma: expected a non-negative real number"):
        m.convolve(True)
    half, zeros = convert(np.array([0.5, 0.5]), "float64", "cpu"), convert(np.zeros(2), "float64", "cpu")
    with pytest.raises(ValueError, match="stds: expected standard deviations > 0"):
        lib.GaussianMixture.from_1d(half, zeros, convert(np.array([1.0, 0.0]), "float64", "cpu"))
    with pytest.raises(ValueError, match=r"means, stds: expected two vectors of one shape"):
        lib.GaussianMixture.from_1d(half, zeros, convert(np.ones(3), "float64", "cpu"))


def test_numpy_scalars_are_accepted_alike_as_sigma():
    """sigma is checked by the shared reference._args on both sides: NumPy and Python scalars alike."""
    y = np.array([[0.5, -1.0, 2.0]])
    for sigma in (np.float32(0.5), np.float64(0.5), 0.5):
        r, a = both_gaussians()
        expected = r.posterior_mean(y, 0.5)
        np.testing.assert_array_equal(r.posterior_mean(y, sigma), expected)
        np.testing.assert_allclose(n(a.posterior_mean(t(y), sigma)), expected, rtol=1e-13)
    for g in both_mixtures():
        assert g.convolve(np.int64(1)).covs.shape == (4, 2, 2)
        with pytest.raises(TypeError, match="sigma: expected a non-negative real number"):
            g.convolve(np.bool_(True))


def test_bad_input_accelerated_types_dtypes_devices():
    g = acc.Gaussian(t(MEAN), t(COV))
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        g.log_prob(np.zeros((1, 3)))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        g.score(t(np.zeros((1, 3)), torch.float32))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        acc.Gaussian(t(MEAN, torch.float32), t(COV))
    with pytest.raises(TypeError, match="x: expected a floating-point tensor"):
        g.log_prob(torch.zeros(1, 3, dtype=torch.int64))
    # The 'meta' device stands in for a second device on a CPU-only machine: metadata checks see it.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        g.log_prob(t(np.zeros((1, 3))).to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.GaussianMixture(t(W), t(MEANS).to("meta"), t(COVS))


def test_value_checks_can_be_disabled_for_sampling_loops():
    g = acc.Gaussian(t(MEAN), t(COV))
    with accelerated.value_checks(False):
        out = g.score(t(np.full((1, 3), NAN)))  # no host read: NaN propagates
    assert torch.isnan(out).all()


def test_methods_work_under_torch_func_transforms():
    # The finite-value check is skipped inside torch.func (vmap cannot read data): per-point Jacobians work.
    m = acc.GaussianMixture(t(W), t(MEANS), t(COVS))
    x = t(np.random.default_rng(8).normal(size=(4, 2)))
    grads = torch.func.vmap(torch.func.grad(m.log_prob))(x)
    np.testing.assert_allclose(n(grads), n(m.score(x)), rtol=1e-12, atol=1e-14)
    hessians = torch.func.vmap(torch.func.jacrev(m.score))(x)
    assert hessians.shape == (4, 2, 2)
    np.testing.assert_allclose(n(hessians), n(hessians.mT), atol=1e-12)  # a Hessian is symmetric


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_convolve_refuses_a_sigma_whose_square_overflows(side):
    """Issue 12: sigma = 1e300 raised Python's OverflowError from sigma**2; now a ValueError naming sigma."""
    if side == "reference":
        gaussian = ref.Gaussian(np.zeros(1), np.eye(1))
        mixture = ref.GaussianMixture(np.ones(1), np.zeros((1, 1)), np.ones((1, 1, 1)))
    else:
        f64 = torch.float64
        gaussian = acc.Gaussian(torch.zeros(1, dtype=f64), torch.eye(1, dtype=f64))
        mixture = acc.GaussianMixture(
            torch.ones(1, dtype=f64), torch.zeros(1, 1, dtype=f64), torch.ones(1, 1, 1, dtype=f64)
        )
    for law in (gaussian, mixture):
        with pytest.raises(ValueError, match="sigma: expected a scale whose square is finite"):
            law.convolve(1e300)
    assert float(gaussian.convolve(1e-200).cov[0, 0]) == 1.0  # a tiny sigma is fine (nothing divides by it)


def test_mixture_sample_strategy_offers_only_uniforms_in_the_unit_interval():
    """Issue 12: the strategy offered np.cumsum(weights) as uniforms, whose last entry can round to
    1.0000000000000002 (these Dirichlet weights), which the reference rightly refuses; now clipped."""
    from crosscheck.pairs.distributions import _boundary_uniforms

    weights = np.array([0.14823487802658275, 0.04261162845789876, 0.7425961549655369, 0.050620511702244804])
    weights = np.append(weights, 0.015936826847736944)
    assert np.cumsum(weights)[-1] > 1.0  # the rounding the strategy must not pass on
    uniforms = _boundary_uniforms(weights)
    assert all(0.0 <= u <= 1.0 for u in uniforms) and 1.0 in uniforms
    ref.mixture_sample(np.zeros((len(uniforms), 1)), np.array(uniforms), weights, np.zeros((5, 1)), np.ones((5, 1, 1)))


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_from_1d_refuses_stds_whose_square_overflows(side):
    """Issue 12: stds at 1e300 squared to inf and the refusal named the internal "covs"; now it names stds."""
    mod, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    with pytest.raises(ValueError, match="stds: expected standard deviations whose squares"):
        mod.GaussianMixture.from_1d(conv([0.5, 0.5]), conv([0.0, 1.0]), conv([1.0, 1e300]))
    mixture = mod.GaussianMixture.from_1d(conv([0.5, 0.5]), conv([0.0, 1.0]), conv([1.0, 1e150]))
    assert float(mixture.covs[1, 0, 0]) == pytest.approx(1e300)  # a large, finite variance is fine


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_log_prob_is_minus_inf_never_nan_where_the_quadratic_form_overflows(side):
    """Issue 12: the log densities at 1e300 are -inf (density 0 in float64), documented in each docstring's Notes."""
    mod, conv = (ref, np.asarray) if side == "reference" else (acc, t)
    x = conv([[1e300, 0.0], [0.0, 0.0]])
    gaussian = mod.Gaussian(conv(MEANS[0]), conv(COVS[0]))
    mixture = mod.GaussianMixture(conv(W), conv(MEANS), conv(COVS))
    for out in (gaussian.log_prob(x), mixture.log_prob(x)):
        out = np.asarray(out)
        assert out[0] == -np.inf and np.isfinite(out[1])
    for fn in (mod.gaussian_log_prob, mod.mixture_log_prob, mod.Gaussian.log_prob, mod.GaussianMixture.log_prob):
        notes = fn.__doc__.split("Notes")[1]
        assert "-inf" in notes and "never NaN" in notes, fn.__qualname__
