"""divergences: known values, SciPy peers, edge cases and bad input on both sides."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from scipy.spatial.distance import jensenshannon
from scipy.special import rel_entr

from accelerated import divergences as acc
from crosscheck import strategies as cs
from reference import divergences as ref

LOG2 = math.log(2.0)


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


# ---------------------------------------------------------------- known values


def test_kl_known_value():
    # KL([1/2, 1/2] || [1/4, 3/4]) = 1/2 log 2 + 1/2 log(2/3), by hand.
    p, q = [0.5, 0.5], [0.25, 0.75]
    expected = 0.5 * math.log(2.0) + 0.5 * math.log(2.0 / 3.0)
    assert ref.kl_divergence(p, q) == pytest.approx(expected, rel=1e-15)
    assert float(acc.kl_divergence(t(p), t(q))) == pytest.approx(expected, rel=1e-15)


def test_jsd_known_value_and_disjoint():
    # JSD of [1, 0] and [1/2, 1/2]: m = [3/4, 1/4]; 1/2 log(4/3) + 1/2 (1/2 log(2/3) + 1/2 log 2), by hand.
    expected = 0.5 * math.log(4 / 3) + 0.25 * math.log(2 / 3) + 0.25 * math.log(2)
    assert ref.js_divergence([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected, rel=1e-15)
    assert float(acc.js_divergence(t([1.0, 0.0]), t([0.5, 0.5]))) == pytest.approx(expected, rel=1e-15)
    # Lecture 7 recap 'Informal theoretical results': disjoint supports.
    assert ref.kl_divergence([1.0, 0.0], [0.0, 1.0]) == np.inf
    assert ref.js_divergence([1.0, 0.0], [0.0, 1.0]) == LOG2
    assert float(acc.js_divergence(t([0.0, 1.0]), t([1.0, 0.0]))) == LOG2


def test_jsd_nearly_equal_keeps_its_digits():
    # For q = p + delta with small delta, JSD = 1/8 sum delta_i^2 / m_i + O(delta^4) (Taylor expansion).
    p = np.array([0.25, 0.25, 0.5])
    delta = np.array([1e-9, -2e-9, 1e-9])
    expected = 0.125 * np.sum(delta**2 / (p + 0.5 * delta))
    assert ref.js_divergence(p, p + delta) == pytest.approx(expected, rel=1e-6)
    assert float(acc.js_divergence(t(p), t(p + delta))) == pytest.approx(expected, rel=1e-6)
    with np.errstate(invalid="ignore"):
        scipy_value = jensenshannon(p, p + delta) ** 2  # NaN or zero: SciPy loses it entirely
    assert not (scipy_value == pytest.approx(expected, rel=1e-3))


def test_kl_subnormal_q_stays_finite():
    # q_1 = 1e-320 is subnormal: p/q overflows, log p - log q does not. KL = 0.5 log(0.5/1e-320) + ...
    p, q = np.array([0.5, 0.5]), np.array([1e-320, 1.0 - 1e-320])
    expected = 0.5 * (math.log(0.5) - math.log(1e-320)) + 0.5 * math.log(0.5)
    assert ref.kl_divergence(p, q) == pytest.approx(expected, rel=1e-12)
    assert float(acc.kl_divergence(t(p), t(q))) == pytest.approx(expected, rel=1e-12)


def test_kl_gaussian_known_values():
    # Multivariate closed form with diagonal covariances reduces to a sum of 1-D KLs (by hand).
    mu_p, mu_q = np.zeros(2), np.ones(2)
    cov_p, cov_q = np.eye(2), 2 * np.eye(2)
    expected = math.log(2.0)  # 1/2 [tr = 1 + mahalanobis 1 - 2 + logdet 2 log 2]
    assert ref.kl_gaussian(mu_p, cov_p, mu_q, cov_q) == pytest.approx(expected, rel=1e-15)
    assert float(acc.kl_gaussian(t(mu_p), t(cov_p), t(mu_q), t(cov_q))) == pytest.approx(expected, rel=1e-15)
    assert ref.kl_gaussian(mu_p, cov_p, mu_p, cov_p) == 0.0


def test_kl_gaussian_equals_cross_entropy_minus_entropy():
    # KL(p || q) = H(p, q) - H(p), with H(p) from scipy.stats.multivariate_normal.entropy and the
    # Gaussian cross-entropy H(p, q) = 1/2 (d log 2 pi + log det S_q + tr(S_q^-1 S_p) + maha), formed
    # here with explicit inverses (an independent route from the library's Cholesky solves).
    from scipy.stats import multivariate_normal

    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    cov_p = a @ a.T + 0.5 * np.eye(3)
    b = rng.normal(size=(3, 3))
    cov_q = b @ b.T + 0.5 * np.eye(3)
    mu_p, mu_q = rng.normal(size=3), rng.normal(size=3)
    h_p = multivariate_normal(mu_p, cov_p).entropy()
    inv_q = np.linalg.inv(cov_q)
    dm = mu_q - mu_p
    cross = 0.5 * (3 * math.log(2 * math.pi) + np.linalg.slogdet(cov_q)[1] + np.trace(inv_q @ cov_p) + dm @ inv_q @ dm)
    assert ref.kl_gaussian(mu_p, cov_p, mu_q, cov_q) == pytest.approx(cross - h_p, rel=1e-12)


def test_batched_broadcasting():
    p = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    q = np.array([0.4, 0.6])
    out = ref.kl_divergence(p, q)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [ref.kl_divergence(row, q) for row in p], rtol=1e-15)
    out_t = acc.kl_divergence(t(p), t(q))
    assert out_t.shape == (3,)


# ---------------------------------------------------------------- peers (SciPy)


@given(cs.probability_pairs())
def test_kl_equals_sum_of_scipy_rel_entr(pq):
    p, q = pq
    with np.errstate(divide="ignore", over="ignore"):
        expected = rel_entr(p, q).sum(axis=-1)
    np.testing.assert_allclose(ref.kl_divergence(p, q), expected, rtol=1e-13, atol=1e-15)


@given(cs.probability_pairs())
def test_jsd_is_the_square_of_scipy_distance_where_scipy_is_finite(pq):
    p, q = pq
    ours = ref.js_divergence(p, q)
    with np.errstate(invalid="ignore"):
        theirs = jensenshannon(p, q, axis=-1) ** 2
    finite = np.isfinite(theirs)
    # SciPy's JSD is a difference of sums and loses absolute accuracy ~1e-16 per term; ours does not.
    np.testing.assert_allclose(ours[finite], theirs[finite], rtol=1e-9, atol=1e-14)
    assert np.all(np.isfinite(ours))
    assert np.all(ours >= 0) and np.all(ours <= LOG2 * (1 + 1e-12))


def test_jsd_finite_where_scipy_returns_nan():
    # SciPy's jensenshannon takes sqrt of a rounded difference that can be -1e-17 and returns NaN.
    rng = np.random.default_rng(2)
    p = rng.dirichlet(np.ones(4), size=200)
    q = p + rng.normal(scale=1e-10, size=p.shape) * p
    q /= q.sum(-1, keepdims=True)
    with np.errstate(invalid="ignore"):
        theirs = jensenshannon(p, q, axis=-1)
    ours = ref.js_divergence(p, q)
    assert np.all(np.isfinite(ours)) and np.all(ours >= 0)
    # Second-order Taylor value 1/8 sum (p - q)^2 / m is accurate to O(|p - q|^4) here.
    taylor = 0.125 * np.sum((p - q) ** 2 / (0.5 * (p + q)), axis=-1)
    np.testing.assert_allclose(ours, taylor, rtol=1e-6)
    assert np.all(np.isnan(theirs) | (theirs >= 0))  # where SciPy is NaN, ours is still the Taylor value


# ---------------------------------------------------------------- float32 and autograd


def test_float32_follows_input_dtype_and_is_accurate():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(50), size=4)
    q = rng.dirichlet(np.ones(50), size=4)
    for fn in ("kl_divergence", "js_divergence"):
        out = getattr(acc, fn)(t(p, torch.float32), t(q, torch.float32))
        assert out.dtype == torch.float32
        expected = getattr(ref, fn)(p.astype(np.float32), q.astype(np.float32))
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-5)


def test_gradients_are_finite_at_zeros_and_equal_inputs():
    p = t([0.5, 0.5, 0.0]).requires_grad_()
    q = t([0.5, 0.5, 0.0]).requires_grad_()
    acc.js_divergence(p, q).backward()
    assert torch.isfinite(p.grad).all() and torch.isfinite(q.grad).all()
    # d/dp_i KL(p||q) = log(p_i / q_i) + 1 at p_i > 0
    p2 = t([0.25, 0.75]).requires_grad_()
    acc.kl_divergence(p2, t([0.5, 0.5])).backward()
    np.testing.assert_allclose(p2.grad.numpy(), np.log([0.5, 1.5]) + 1, rtol=1e-14)


def test_js_divergence_mc_matches_discrete_identity():
    # With log-densities evaluated at the support points and "samples" weighted exactly, the MC form
    # reproduces the discrete JSD: use p on two points, x = each point repeated in proportion to p.
    p, q = np.array([0.25, 0.75]), np.array([0.5, 0.5])
    x_idx = np.array([0, 1, 1, 1])  # exact quadrature of E_p with p = (1/4, 3/4)
    y_idx = np.array([0, 1])  # exact quadrature of E_q with q = (1/2, 1/2)
    est = ref.js_divergence_mc(np.log(p[x_idx]), np.log(q[x_idx]), np.log(p[y_idx]), np.log(q[y_idx]))
    assert est == pytest.approx(ref.js_divergence(p, q), rel=1e-14)


# ---------------------------------------------------------------- bad input
# Bad input that both sides refuse alike is in the pair registry (crosscheck/pairs/divergences.py,
# run by tests/test_error_inputs.py); here are the accelerated side's own type, dtype and device checks.


def test_bad_types_and_dtypes_on_the_accelerated_side():
    with pytest.raises(TypeError, match=r"p: expected a torch\.Tensor"):
        acc.kl_divergence(np.array([0.5, 0.5]), t([0.5, 0.5]))
    with pytest.raises(TypeError, match="one floating dtype"):
        acc.js_divergence(t([0.5, 0.5], torch.float32), t([0.5, 0.5]))
    with pytest.raises(TypeError, match="floating-point"):
        acc.js_divergence(torch.tensor([1, 0]), torch.tensor([0, 1]))
    with pytest.raises(TypeError, match="one floating dtype"):
        acc.kl_gaussian(t([0.0]), t([[1.0]]), t([0.0], torch.float32), t([[1.0]]))


def test_value_checks_can_be_disabled_for_hot_loops():
    import accelerated

    bad = t([0.7, 0.7])
    with accelerated.value_checks(False):
        out = acc.kl_divergence(bad, t([0.5, 0.5]))  # no host read, no error: the caller vouches
    assert torch.isfinite(out)
    with pytest.raises(ValueError):
        acc.kl_divergence(bad, t([0.5, 0.5]))


def test_mismatched_devices_are_refused():
    # The 'meta' device stands in for a second device on a CPU-only machine: metadata checks see it.
    p = t([0.5, 0.5])
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.js_divergence(p, p.to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.kl_gaussian(t([0.0]), t([[1.0]]), t([0.0]).to("meta"), t([[1.0]]))


@pytest.mark.parametrize("where", [(0, 299), (299, 0), (150, 151)])
def test_tiled_symmetry_check_catches_one_asymmetric_entry(where):
    # d = 300 > 2 x 128 takes the tiled path of accelerated._checks.check_symmetric.
    cov = np.eye(300)
    cov[where] = 1e-3
    with pytest.raises(ValueError, match="cov_q: expected symmetric matrices"):
        acc.kl_gaussian(t(np.zeros(300)), t(np.eye(300)), t(np.zeros(300)), t(cov))
