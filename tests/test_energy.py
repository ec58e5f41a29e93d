"""energy: known values, SciPy peers, autograd scores, quadrature error order, the Ising example, bad input."""

import importlib
import math

import numpy as np
import pytest
import torch
from scipy import integrate, special, stats

import accelerated.distributions  # noqa: F401  (the theorems reach it as side.lib.distributions)
import reference.distributions  # noqa: F401
from accelerated import energy as acc
from crosscheck import assert_agree
from crosscheck.agree import Twin
from crosscheck.parity import parity_problems
from crosscheck.registry import PAIRS, THEOREMS, Side
from crosscheck.runner import check_theorem
from reference import energy as ref

importlib.import_module("crosscheck.pairs.energy")
importlib.import_module("crosscheck.theorems.energy")

NAN = float("nan")
P = np.array([[2.0, 0.6], [0.6, 0.5]])
M = np.array([0.5, -1.0])
CLEAN = np.array([[1, 1, 1], [1, 1, 1], [0, 0, 0]])


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def n(y):
    return y.detach().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)


# ---------------------------------------------------------------- unnormalised density, ratio, score


def test_unnormalized_log_density_and_log_ratio_known_values():
    E = np.array([0.0, 2.5, np.inf])
    for side, conv in ((ref, np.asarray), (acc, t)):
        np.testing.assert_array_equal(n(side.unnormalized_log_density(conv(E))), [-0.0, -2.5, -np.inf])
        # L8 'Application of Energy Based Models': p(x) / p(x') = exp(f(x) - f(x')), f = -E.
        np.testing.assert_array_equal(n(side.log_ratio(conv([1.0, 3.0]), conv([4.0]))), [3.0, 1.0])


def test_log_ratio_is_the_density_ratio_of_the_normalised_gaussian():
    rng = np.random.default_rng(0)
    x, x_prime = rng.normal(size=(10, 2)), rng.normal(size=(10, 2))
    law = stats.multivariate_normal(M, np.linalg.inv(P))
    for side, conv in ((ref, np.asarray), (acc, t)):
        E = side.QuadraticEnergy(conv(P), conv(M))
        ratio = n(side.log_ratio(E(conv(x)), E(conv(x_prime))))
        np.testing.assert_allclose(np.exp(ratio), law.pdf(x) / law.pdf(x_prime), rtol=1e-13)


def test_energy_score_of_analytic_energies():
    x = np.random.default_rng(1).normal(size=(3, 4, 2))
    for side, conv in ((ref, np.asarray), (acc, t)):
        s = n(side.energy_score(side.QuadraticEnergy(conv(P), conv(M)), conv(x)))
        np.testing.assert_allclose(s, -(x - M) @ P, rtol=1e-14, atol=1e-15)
        s = n(side.energy_score(side.DoubleWellEnergy(0.5, 2.0), conv(x)))
        np.testing.assert_allclose(s, -2.0 * x * (x**2 - 2.0), rtol=1e-14, atol=1e-15)


def test_accelerated_energy_score_takes_any_callable():
    x = np.random.default_rng(2).normal(size=(5, 3))
    s = acc.energy_score(lambda z: (z**4).sum(-1) / 4, t(x))  # grad E = x^3
    np.testing.assert_allclose(n(s), -(x**3), rtol=1e-14)
    s = acc.energy_score(lambda z: torch.zeros(z.shape[:-1], dtype=z.dtype), t(x))  # E independent of x
    assert torch.equal(s, torch.zeros(5, 3, dtype=torch.float64))


def test_accelerated_energy_score_graph_rules():
    E = acc.QuadraticEnergy(t(P), t(M))
    x = t(np.ones((4, 2)))
    with torch.no_grad():
        assert not acc.energy_score(E, x).requires_grad  # no graph under no_grad
    s = acc.energy_score(E, x)  # grad mode on: differentiable in the energy's parameters
    s.pow(2).sum().backward()
    assert E.precision.grad is not None and E.mean.grad is not None
    # x requiring grad: second derivatives, e.g. div s = -tr P (the Laplacian of -E).
    xr = t(np.ones((1, 2))).requires_grad_(True)
    s = acc.energy_score(acc.DoubleWellEnergy(1.0, 1.0), xr)
    (h,) = torch.autograd.grad(s[0, 0], xr)
    assert float(h[0, 0]) == pytest.approx(-(12.0 * 1.0 - 4.0), rel=1e-14)  # -E'' = -(12 x^2 - 4 b)


def test_analytic_gradient_equals_autograd_and_float32_is_accurate():
    x = np.random.default_rng(3).normal(size=(6, 2)) * 2
    for energy in (acc.QuadraticEnergy(t(P), t(M)), acc.DoubleWellEnergy(0.7, 1.5)):
        np.testing.assert_allclose(n(acc.energy_score(energy, t(x))), -n(energy.grad(t(x))), rtol=1e-13, atol=1e-14)
    E32 = acc.QuadraticEnergy(t(P, torch.float32), t(M, torch.float32))
    s32 = acc.energy_score(E32, t(x, torch.float32))
    assert s32.dtype == torch.float32
    x32 = x.astype(np.float32).astype(np.float64)
    expected = -(x32 - M.astype(np.float32)) @ P.astype(np.float32).astype(np.float64)
    np.testing.assert_allclose(n(s32), expected, rtol=1e-6, atol=1e-6)  # float64 inside: float32 rounding only


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_energy_class_methods_agree(dtype):
    def grad(obj, x):
        return obj.grad(x)

    def value(obj, x):
        return obj(x)

    x = np.random.default_rng(4).normal(size=(3, 5, 2)) * 2
    for twin in (Twin("energy.QuadraticEnergy", precision=P, mean=M), Twin("energy.DoubleWellEnergy", a=0.8, b=1.2)):
        for fn in (value, grad):
            assert_agree(fn, fn, twin, x, dtype=dtype)


# ---------------------------------------------------------------- partition function


def test_log_partition_function_peers_and_closed_form():
    well = (ref.DoubleWellEnergy(1.0, 1.0), acc.DoubleWellEnergy(1.0, 1.0))
    Z_quad, _ = integrate.quad(lambda x: math.exp(-((x * x - 1) ** 2)), -np.inf, np.inf, epsabs=1e-15, epsrel=1e-13)
    closed = math.log(2 * math.pi) - 0.5 * math.log(np.linalg.det(P))  # (d/2) log 2 pi - 1/2 log det P
    for side, conv, E in ((ref, np.asarray, well[0]), (acc, t, well[1])):
        assert float(n(side.log_partition_function(E, conv(-4.0), conv(4.0), n_points=801))) == pytest.approx(
            math.log(Z_quad), abs=1e-13
        )
        Q = side.QuadraticEnergy(conv(P), conv(M))
        value = side.log_partition_function(Q, conv([-15.0, -20.0]), conv([16.0, 18.0]), n_points=151)
        assert float(n(value)) == pytest.approx(closed, abs=1e-13)


def test_log_partition_function_trapezoid_error_is_second_order_for_a_cut_integrand():
    # exp(-x) on [0, 1] does not vanish at the ends: the composite trapezoid rule errs by
    # h^2 / 12 (f'(1) - f'(0)) + O(h^4), so the error falls by 4 when h halves.
    exact = math.log(1 - math.exp(-1))
    for side, conv in ((ref, np.asarray), (acc, t)):
        errors = [
            float(n(side.log_partition_function(lambda x: x[:, 0], conv(0.0), conv(1.0), n_points=m))) - exact
            for m in (11, 21, 41)
        ]
        h = 0.1
        leading = h**2 / 12 * (math.exp(0) - math.exp(-1)) / (1 - math.exp(-1))  # relative error of Z ~ error of log Z
        assert errors[0] == pytest.approx(leading, rel=1e-2)
        assert errors[0] / errors[1] == pytest.approx(4.0, rel=1e-3)
        assert errors[1] / errors[2] == pytest.approx(4.0, rel=1e-3)


def test_log_partition_function_huge_energies_do_not_overflow():
    # E = 1000 + x^2 / 2 on a wide box: log Z = -1000 + log sqrt(2 pi), far below exp's range.
    for side, conv in ((ref, np.asarray), (acc, t)):
        value = side.log_partition_function(lambda x: 1000.0 + 0.5 * (x**2).sum(-1), conv(-12.0), conv(12.0))
        assert float(n(value)) == pytest.approx(-1000.0 + 0.5 * math.log(2 * math.pi), abs=1e-12)


def test_log_partition_function_is_differentiable_in_parameters():
    E = acc.QuadraticEnergy(t([[0.5]]), t([0.0]))
    logZ = acc.log_partition_function(E, t(-30.0), t(30.0), n_points=401)
    logZ.backward()
    # d log Z / d P = -1 / (2 P) for a 1-D Gaussian energy.
    assert float(E.precision.grad[0, 0]) == pytest.approx(-1.0, rel=1e-10)


# ---------------------------------------------------------------- Ising model (L8 'Example: Ising Model')


def test_ising_log_potential_known_values():
    zeros = np.zeros((3, 3), dtype=np.int64)
    checker = np.indices((3, 3)).sum(0) % 2
    for side, conv in ((ref, np.asarray), (acc, torch.as_tensor)):
        # y = x = 0: 9 agreeing pixels and all 12 edges equal.
        assert float(n(side.ising_log_potential(conv(zeros), conv(zeros), alpha=1.5, beta=0.5))) == 9 * 1.5 + 12 * 0.5
        # A checkerboard has no equal neighbours; against x = 0 it agrees on its 5 zeros.
        assert float(n(side.ising_log_potential(conv(checker), conv(zeros), alpha=2.0, beta=7.0))) == 10.0
        # The horizontal-edge image: 9 of 12 edges equal (the 3 vertical edges across the boundary differ).
        assert float(n(side.ising_log_potential(conv(CLEAN), conv(CLEAN), alpha=0.0, beta=1.0))) == 9.0


def test_ising_states_order():
    for side in (ref, acc):
        s = n(side.ising_states(3, 3))
        assert s.shape == (512, 3, 3)
        assert s[0].sum() == 0 and s[511].sum() == 9
        np.testing.assert_array_equal(s[1], [[1, 0, 0], [0, 0, 0], [0, 0, 0]])  # bit 0 = pixel (0, 0)
        np.testing.assert_array_equal(s[2**5], [[0, 0, 0], [0, 0, 1], [0, 0, 0]])
        assert len({tuple(r.ravel()) for r in s}) == 512


def test_ising_denoise_slide_example_window():
    # Clean y*: two rows of ones over a row of zeros; x: its centre flipped. log p~(y*, x) = 8 alpha + 9 beta,
    # log p~(x, x) = 9 alpha + 7 beta, all ones 5 alpha + 12 beta: y* wins for alpha / 2 < beta < alpha.
    x = CLEAN.copy()
    x[1, 1] = 0
    alpha = 4.0
    for side, conv in ((ref, np.asarray), (acc, torch.as_tensor)):
        for beta, expected in ((0.0, x), (1.9, x), (2.1, CLEAN), (3.9, CLEAN), (4.1, np.ones((3, 3)))):
            result = side.ising_denoise(conv(x), alpha=alpha, beta=beta)
            np.testing.assert_array_equal(n(result.y), expected)
            post = n(result.posterior)
            assert post.shape == (512,) and post.sum() == pytest.approx(1.0, abs=1e-14)
            assert float(n(result.probability)) == pytest.approx(post.max(), rel=1e-15)


def test_ising_denoise_beta_zero_returns_x_and_batches():
    # With beta = 0 the pixels are independent: p(y_i = x_i | x) = e^alpha / (1 + e^alpha), MAP = x.
    states = ref.ising_states(3, 3)
    for side, conv in ((ref, np.asarray), (acc, torch.as_tensor)):
        result = side.ising_denoise(conv(states), alpha=1.0, beta=0.0)  # all 512 images at once
        np.testing.assert_array_equal(n(result.y), states)
        np.testing.assert_allclose(n(result.probability), special.expit(1.0) ** 9, rtol=1e-13)
    # The batch equals image-by-image calls, with beta > 0 too.
    batch = acc.ising_denoise(torch.as_tensor(states[::37]), alpha=1.0, beta=0.8)
    for i, img in enumerate(states[::37]):
        single = ref.ising_denoise(img, alpha=1.0, beta=0.8)
        np.testing.assert_array_equal(n(batch.y[i]), single.y)
        np.testing.assert_allclose(n(batch.posterior[i]), single.posterior, rtol=1e-13, atol=1e-300)


def test_ising_accepts_bool_and_float_images():
    x = CLEAN.astype(bool)
    a = acc.ising_denoise(torch.as_tensor(x), alpha=2.0, beta=1.0)
    b = acc.ising_denoise(torch.as_tensor(CLEAN, dtype=torch.float32), alpha=2.0, beta=1.0)
    r = ref.ising_denoise(x.astype(float), alpha=2.0, beta=1.0)
    np.testing.assert_array_equal(n(a.y), r.y)
    np.testing.assert_array_equal(n(b.y), r.y)
    assert a.y.dtype == torch.int64 and a.posterior.dtype == torch.float64


# ---------------------------------------------------------------- crosscheck registrations


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_theorems(side):
    thms = [th for th in THEOREMS if th.check.__module__ == "crosscheck.theorems.energy"]
    assert len(thms) == 5
    for thm in thms:
        ev = check_theorem(thm, Side(side), raise_errors=True).evidence
        assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_parity_and_every_function_registered():
    assert parity_problems("energy") == []
    registered = {p.function for p in PAIRS if p.module == "energy"}
    functions = {name for name in ref.__all__ if not name[0].isupper()}
    assert functions == registered


# ---------------------------------------------------------------- bad input


class _NoGrad:
    def __call__(self, x):
        return (x**2).sum(-1)


def test_reference_energy_score_needs_an_analytic_gradient():
    with pytest.raises(TypeError, match=r"energy: expected an analytic energy with __call__ and a grad\(x\) method"):
        ref.energy_score(_NoGrad(), np.zeros((1, 2)))
    with pytest.raises(TypeError, match="energy: expected a callable"):
        acc.energy_score(3.0, t(np.zeros((1, 2))))
    with pytest.raises(ValueError, match=r"energy\(x\): expected one energy per point, shape \(4,\)"):
        acc.energy_score(lambda z: z.sum(), t(np.zeros((4, 2))))


# The bad inputs of the seven pairs are registered in crosscheck/pairs/energy.py and run on both sides by
# tests/test_error_inputs.py; the energy classes (not pairs) are checked here, built per side by Twin.
CLASS_BAD = [
    (
        Twin("energy.QuadraticEnergy", precision=np.eye(3), mean=np.zeros(2)),
        ValueError,
        r"precision: expected shape \(2, 2\)",
    ),
    (
        Twin("energy.QuadraticEnergy", precision=-np.eye(2), mean=np.zeros(2)),
        ValueError,
        "precision: expected symmetric positive definite",
    ),
    (
        Twin("energy.QuadraticEnergy", precision=np.eye(2), mean=np.array([NAN, 0.0])),
        ValueError,
        "mean: expected finite",
    ),
    (Twin("energy.DoubleWellEnergy", a=0.0, b=1.0), ValueError, "a: expected a finite positive number"),
    (Twin("energy.DoubleWellEnergy", a=1.0, b=NAN), ValueError, "b: expected a finite number"),
    (Twin("energy.DoubleWellEnergy", a="1", b=1.0), TypeError, "a: expected a positive real number"),
]


@pytest.mark.parametrize("side", ["reference", "accelerated"])
@pytest.mark.parametrize(
    ("twin", "error", "match"), CLASS_BAD, ids=[f"{b[0].qualname}-{i}" for i, b in enumerate(CLASS_BAD)]
)
def test_bad_energy_parameters(side, twin, error, match):
    with pytest.raises(error, match=match):
        twin.build(side, "float64", "cpu")


@pytest.mark.parametrize("side", [ref, acc], ids=["reference", "accelerated"])
def test_numpy_scalars_are_accepted_alike_and_float_counts_refused(side):
    conv = np.asarray if side is ref else t
    np.testing.assert_array_equal(n(side.ising_states(np.int64(2), np.int32(3))), n(side.ising_states(2, 3)))
    E = side.DoubleWellEnergy(np.float32(0.5), np.int64(1))
    assert n(E(conv([[0.0]]))).tolist() == [0.5]  # a b^2
    plain = side.log_partition_function(E, conv(-3.0), conv(3.0), n_points=51)
    numpy = side.log_partition_function(E, conv(-3.0), conv(3.0), n_points=np.int64(51))
    assert float(n(plain)) == float(n(numpy))
    image = CLEAN.copy()
    image[1, 1] = 0
    image = image if side is ref else torch.as_tensor(image)
    result = side.ising_denoise(image, alpha=np.float64(4.0), beta=np.float32(3.0))
    np.testing.assert_array_equal(n(result.y), CLEAN)
    for bad in (51.0, np.float64(51.0), True):
        with pytest.raises(TypeError, match="n_points: expected an integer"):
            side.log_partition_function(E, conv(-3.0), conv(3.0), n_points=bad)
    with pytest.raises(TypeError, match="height: expected an integer"):
        side.ising_states(3.0, 3)


def test_bad_input_accelerated_types_dtypes_devices():
    E = acc.QuadraticEnergy(t(P), t(M))
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        E(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        E(t(np.zeros((1, 2)), torch.float32))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        acc.log_ratio(t([1.0]), t([1.0], torch.float32))
    with pytest.raises(TypeError, match="y: expected a binary image tensor"):
        acc.ising_log_potential(np.zeros((3, 3)), torch.zeros(3, 3), alpha=1.0, beta=1.0)
    # The 'meta' device stands in for a second device on a CPU-only machine.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.log_ratio(t([1.0]), t([1.0]).to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        E(t(np.zeros((1, 2))).to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.QuadraticEnergy(t(P), t(M).to("meta"))
    with pytest.raises(ValueError, match="y, x: expected tensors on one device"):
        acc.ising_log_potential(torch.zeros(3, 3), torch.zeros(3, 3, device="meta"), alpha=1.0, beta=1.0)


def test_energies_work_under_torch_func_transforms():
    E = acc.DoubleWellEnergy(1.0, 2.0)
    x = t(np.random.default_rng(9).normal(size=(5, 3)))
    np.testing.assert_allclose(n(torch.func.vmap(torch.func.grad(E))(x)), n(E.grad(x)), rtol=1e-14)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_energies_are_inf_never_nan_where_they_overflow(side):
    """Issue 12: the analytic energies at 1e300 are ±inf (density 0), never NaN, documented in each Notes;
    an overflow inside the quadratic form (x - m = inf, then inf * 0) is +inf, not NaN."""
    mod = ref if side == "reference" else acc

    def conv(v):
        return np.asarray(v, dtype=np.float64) if side == "reference" else torch.tensor(v, dtype=torch.float64)

    quadratic = mod.QuadraticEnergy(conv(np.eye(2)), conv([-1e308, 0.0]))
    well = mod.DoubleWellEnergy(1.0, 1.0)
    x = conv([[1e308, 0.0], [1e300, -1e300], [0.5, 0.0]])
    e_q, e_w, g_w = (
        np.asarray(v.detach() if torch.is_tensor(v) else v)
        for v in (quadratic(conv([[1e308, 0.0], [-1e308, 0.5]])), well(x), well.grad(x))
    )
    assert e_q.tolist() == [math.inf, 0.125]
    assert e_w.tolist()[:2] == [math.inf, math.inf] and np.isfinite(e_w[2])
    assert g_w[1].tolist() == [math.inf, -math.inf] and np.all(np.isfinite(g_w[2]))
    assert np.asarray(mod.unnormalized_log_density(conv([math.inf]))).tolist() == [-math.inf]
    score = np.asarray(mod.energy_score(well, x[1:]).tolist())
    assert score[0].tolist() == [-math.inf, math.inf] and not np.any(np.isnan(score))
    call = mod.QuadraticEnergy.__call__ if side == "reference" else mod.QuadraticEnergy.forward
    well_call = mod.DoubleWellEnergy.__call__ if side == "reference" else mod.DoubleWellEnergy.forward
    for fn in (call, well_call, mod.DoubleWellEnergy.grad, mod.unnormalized_log_density, mod.energy_score):
        notes = fn.__doc__.split("Notes")[1]
        assert "inf" in notes and "never NaN" in notes, fn.__qualname__


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_log_partition_function_refuses_a_log_z_that_is_not_finite(side):
    """Issue 12: a double well with b = 1e300 has E = inf on the whole box, and log Z was returned as -inf."""
    mod = ref if side == "reference" else acc

    def conv(v):
        return np.asarray(v, dtype=np.float64) if side == "reference" else torch.tensor(v, dtype=torch.float64)

    with pytest.raises(ValueError, match="energy: expected energies whose log partition function is finite"):
        mod.log_partition_function(mod.DoubleWellEnergy(1.0, 1e300), conv(-1.0), conv(1.0))


def test_contrastive_divergence_loss_backward_is_minus_the_log_likelihood_gradient():
    import accelerated.energy as AEN

    g = torch.Generator().manual_seed(0)
    E = AEN.QuadraticEnergy(
        torch.tensor([[2.0, 0.3], [0.3, 1.0]], dtype=torch.float64), torch.zeros(2, dtype=torch.float64)
    )
    x = torch.randn(7, 2, generator=g, dtype=torch.float64)
    neg = torch.randn(9, 2, generator=g, dtype=torch.float64)
    AEN.contrastive_divergence_loss(E(x), E(neg)).backward()
    grads = AEN.log_likelihood_gradient(E, x, neg)
    for p, gr in zip(E.parameters(), grads, strict=True):
        torch.testing.assert_close(p.grad, -gr, rtol=1e-14, atol=1e-14)


def test_reference_quadrature_log_likelihood_gradient_matches_finite_differences_of_log_p():
    import reference.energy as REN

    P, m = np.array([[1.5, 0.2], [0.2, 0.8]]), np.array([0.3, -0.2])
    x = np.array([[1.0, 0.5], [-0.5, 0.2]])
    box = {"lower": np.array([-10.0, -10.0]), "upper": np.array([10.0, 10.0]), "n_points": 301}
    g_P, g_m = REN.log_likelihood_gradient(REN.QuadraticEnergy(P, m), x, **box)

    def log_lik(P_, m_):
        E = REN.QuadraticEnergy(P_, m_)
        return float(-np.mean(E(x)) - REN.log_partition_function(E, **box))

    h = 1e-5
    for i in range(2):
        e = np.eye(2)[i] * h
        assert abs((log_lik(P, m + e) - log_lik(P, m - e)) / (2 * h) - g_m[i]) < 1e-7
    E01 = np.zeros((2, 2))
    E01[0, 1] = E01[1, 0] = h  # a symmetric perturbation: the derivative is g_P[0, 1] + g_P[1, 0]
    fd = (log_lik(P + E01, m) - log_lik(P - E01, m)) / (2 * h)
    assert abs(fd - (g_P[0, 1] + g_P[1, 0])) < 1e-7
