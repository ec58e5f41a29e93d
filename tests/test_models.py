"""models: known values, Jacobians against finite differences and torch.func, agreement of the methods, bad input."""

import importlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import accelerated.distributions  # noqa: F401  (the theorems reach it as side.lib.distributions)
import reference.distributions  # noqa: F401
from accelerated import models as acc
from crosscheck import assert_agree
from crosscheck.agree import Twin, _to_accelerated, _to_reference
from crosscheck.pairs.models import linear_twins, mlp_twins, model_inputs
from crosscheck.parity import parity_problems
from crosscheck.registry import THEOREMS, Side
from crosscheck.runner import check_theorem
from reference import distributions as ref_dist
from reference import models as ref

importlib.import_module("crosscheck.theorems.models")

NAN = float("nan")


def t(x, dtype=torch.float64):
    return torch.as_tensor(np.asarray(x, dtype=np.float64), dtype=dtype)


def params(d=3, H=5, k=0, seed=0):
    p = ref.init_mlp_params(d, H, cond_dim=k, rng=np.random.default_rng(seed))
    rng = np.random.default_rng(seed + 1)
    p["b1"], p["b2"] = rng.normal(size=H), rng.normal(size=d)  # non-zero biases for the tests
    return p


def both_mlps(p):
    return ref.MLPScore(**p), acc.MLPScore(**{k: t(v) for k, v in p.items()})


# ---------------------------------------------------------------- known values


def test_linear_score_known_values_and_gaussian_family():
    # N(m, S) has s(x) = -(x - m) S^{-1}: W = -S^{-1}, b = m S^{-1} (module docstring).
    m, S = np.array([1.0, -2.0]), np.array([[2.0, 0.5], [0.5, 1.0]])
    W, b = -np.linalg.inv(S), m @ np.linalg.inv(S)
    x = np.array([[0.0, 0.0], [1.0, -2.0], [3.0, 1.0]])
    expected = ref_dist.Gaussian(m, S).score(x)
    for model, xs in ((ref.LinearScore(W, b), x), (acc.LinearScore(t(W), t(b)), t(x))):
        out = model(xs)
        np.testing.assert_allclose(out.detach().numpy() if isinstance(out, torch.Tensor) else out, expected, atol=1e-15)
        J = model.jacobian(xs)
        J = J.detach().numpy() if isinstance(J, torch.Tensor) else J
        assert J.shape == (3, 2, 2)
        np.testing.assert_array_equal(J, np.broadcast_to(W.T, (3, 2, 2)))
        div = model.divergence(xs)
        div = div.detach().numpy() if isinstance(div, torch.Tensor) else div
        np.testing.assert_allclose(div, np.trace(W), rtol=1e-15)
    assert np.all(ref.LinearScore(W, b).forward(x) == ref.LinearScore(W, b)(x))


def test_mlp_known_value_by_hand():
    # d = 1, H = 2, k = 0: s(x) = w2 . tanh(w1 x + b1) + b2, J = sum_h w2_h (1 - h^2) w1_h.
    p = {
        "W1": np.array([[0.5, -1.0]]),
        "b1": np.array([0.1, 0.2]),
        "W2": np.array([[2.0], [1.0]]),
        "b2": np.array([0.3]),
    }
    x = 0.7
    h = np.tanh(np.array([0.5 * x + 0.1, -x + 0.2]))
    expected = 2.0 * h[0] + 1.0 * h[1] + 0.3
    expected_J = 2.0 * (1 - h[0] ** 2) * 0.5 + 1.0 * (1 - h[1] ** 2) * -1.0
    r, a = both_mlps(p)
    for model, xs in ((r, np.array([[x]])), (a, t([[x]]))):
        with torch.no_grad():
            assert float(model(xs)[0, 0]) == pytest.approx(expected, rel=1e-15)
            assert float(model.jacobian(xs)[0, 0, 0]) == pytest.approx(expected_J, rel=1e-14)
            assert float(model.divergence(xs)[0]) == pytest.approx(expected_J, rel=1e-14)


# ---------------------------------------------------------------- Jacobians


@pytest.mark.parametrize("k", [0, 2])
def test_mlp_jacobian_matches_finite_differences_and_torch_func(k):
    p = params(d=3, H=6, k=k)
    r, a = both_mlps(p)
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3))
    c = rng.normal(size=(5, k)) if k else None
    # Central differences, h = 1e-5: truncation ~ h^2 |s'''| / 6 ~ 1e-10, rounding ~ eps |s| / h ~ 1e-11.
    fd = np.zeros((5, 3, 3))
    for j in range(3):
        e = np.zeros(3)
        e[j] = 1e-5
        fd[:, :, j] = (r(x + e, c) - r(x - e, c)) / 2e-5
    np.testing.assert_allclose(r.jacobian(x, c), fd, atol=1e-9)
    np.testing.assert_allclose(r.divergence(x, c), np.trace(fd, axis1=1, axis2=2), atol=1e-9)
    # Accelerated: torch.func on single points (forward accepts x of shape (d,)), and autograd rows.
    ct = t(c) if k else None
    if k:
        J = torch.func.vmap(torch.func.jacrev(a.forward))(t(x), ct)
    else:
        J = torch.func.vmap(torch.func.jacrev(a.forward))(t(x))
    np.testing.assert_allclose(a.jacobian(t(x), ct).detach().numpy(), J.detach().numpy(), atol=1e-14)
    np.testing.assert_allclose(
        a.divergence(t(x), ct).detach().numpy(), torch.diagonal(J, dim1=1, dim2=2).sum(1).detach().numpy(), atol=1e-14
    )
    np.testing.assert_allclose(a.jacobian(t(x), ct).detach().numpy(), r.jacobian(x, c), atol=1e-14)


def test_conditioning_broadcasts_and_changes_the_output():
    p = params(d=2, H=4, k=1)
    r, a = both_mlps(p)
    x = np.random.default_rng(4).normal(size=(6, 2))
    c_row = np.array([[0.5]])
    full = r(x, np.repeat(c_row, 6, axis=0))
    np.testing.assert_array_equal(r(x, c_row), full)  # (1, k) broadcasts over the batch
    np.testing.assert_allclose(a(t(x), t(c_row)).detach().numpy(), full, rtol=1e-14, atol=1e-15)
    assert not np.allclose(r(x, c_row), r(x, c_row + 1.0))


def test_accelerated_modules_own_parameter_copies_and_train():
    p = params(d=2, H=3)
    tensors = {k: t(v).clone() for k, v in p.items()}
    model = acc.MLPScore(**tensors)
    assert [name for name, _ in model.named_parameters()] == ["W1", "b1", "W2", "b2"]
    tensors["W1"].add_(1.0)  # the module holds copies
    np.testing.assert_array_equal(model.W1.detach().numpy(), p["W1"])
    loss = model(t(np.ones((4, 2)))).pow(2).sum() + model.divergence(t(np.ones((4, 2)))).sum()
    loss.backward()
    assert all(q.grad is not None for q in model.parameters())
    lin = acc.LinearScore(t(np.eye(2), torch.float32), t(np.zeros(2), torch.float32))
    assert lin(t(np.ones((1, 2)), torch.float32)).dtype == torch.float32


def test_init_mlp_params_is_deterministic():
    a = ref.init_mlp_params(3, 8, cond_dim=2, rng=np.random.default_rng(7))
    b = ref.init_mlp_params(3, 8, cond_dim=2, rng=np.random.default_rng(7))
    assert {k: v.shape for k, v in a.items()} == {"W1": (5, 8), "b1": (8,), "W2": (8, 3), "b2": (3,)}
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert ref.MLPScore(**a).cond_dim == 2


# ---------------------------------------------------------------- agreement of the methods


def _call(method):
    def run(obj, *args):
        return getattr(obj, method)(*args)

    run.__name__ = method
    return run


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@settings(max_examples=20)
@given(data=st.data())
def test_methods_agree(dtype, data):
    twin = data.draw(st.one_of(mlp_twins(), linear_twins()))
    x, c = data.draw(model_inputs(twin))
    args = (x,) if twin.qualname == "models.LinearScore" else (x, c)
    for method in ("forward", "jacobian", "divergence"):
        # float32: sums of <= 8 products of weights <= 1.5 and tanh values; the default tolerance holds.
        assert_agree(_call(method), _call(method), twin, *args, dtype=dtype)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_theorems(side):
    thms = [th for th in THEOREMS if th.check.__module__ == "crosscheck.theorems.models"]
    assert len(thms) == 2
    for thm in thms:
        ev = check_theorem(thm, Side(side), raise_errors=True).evidence
        assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"


def test_parity():
    assert parity_problems("models") == []


# ---------------------------------------------------------------- bad input

# models registers no pairs (its names are classes), so its bad parameters stay a table here, built on
# each side by Twin: the registry's conversion (float64 arrays -> float64 tensors), not a copy of it.
P = params(d=2, H=3, k=1)
BAD = [
    ("LinearScore", {"W": np.eye(3), "b": np.zeros(2)}, r"W: expected shape \(2, 2\)"),
    ("LinearScore", {"W": np.eye(2), "b": np.zeros((1, 2))}, r"b: expected 1 dimension"),
    ("LinearScore", {"W": np.full((2, 2), NAN), "b": np.zeros(2)}, "W: expected finite"),
    ("MLPScore", {**P, "b2": np.zeros(3)}, r"b2: expected shape \(2,\)"),
    ("MLPScore", {**P, "b1": np.zeros(4)}, r"b1: expected shape \(3,\)"),
    ("MLPScore", {**P, "W1": P["W1"][:1]}, r"W1: expected shape \(d \+ k, 3\)"),
    ("MLPScore", {**P, "W1": P["W1"][:, :2]}, r"W1: expected shape \(d \+ k, 3\)"),
    ("MLPScore", {**P, "W1": P["W1"] * NAN}, "W1: expected finite"),
    ("MLPScore", {**P, "W1": P["W1"][0]}, "W1: expected 2 dimension"),
]


@pytest.mark.parametrize("side", ["reference", "accelerated"])
@pytest.mark.parametrize(("cls", "kwargs", "match"), BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_parameters(side, cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        Twin(f"models.{cls}", **kwargs).build(side, "float64", "cpu")


def test_counts_of_init_mlp_params_take_numpy_integers_and_refuse_floats():
    """The counts are checked by the shared reference._args: NumPy integers accepted, floats a TypeError."""
    a = ref.init_mlp_params(np.int64(2), np.int32(3), cond_dim=np.int64(0), rng=np.random.default_rng(0))
    b = ref.init_mlp_params(2, 3, cond_dim=0, rng=np.random.default_rng(0))
    assert all(np.array_equal(a[k], b[k]) for k in b)
    for kwargs in ({"d": 2.0}, {"hidden": 3.0}, {"cond_dim": 1.0}, {"d": True}):
        with pytest.raises(TypeError, match="expected an integer"):
            ref.init_mlp_params(**{"d": 2, "hidden": 3, "cond_dim": 0, **kwargs}, rng=np.random.default_rng(0))


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_bad_inputs(side):
    def conv(v):
        return (_to_reference if side == "reference" else _to_accelerated)(v, "float64", "cpu")

    model = Twin("models.MLPScore", **P).build(side, "float64", "cpu")
    x = conv(np.zeros((4, 2)))
    with pytest.raises(ValueError, match="c: required, this model has a conditioning input of size k = 1"):
        model(x)
    with pytest.raises(ValueError, match=r"c: expected shape \(\.\.\., 1\)"):
        model(x, conv(np.zeros((4, 2))))
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 2\)"):
        model.jacobian(conv(np.zeros((4, 3))), conv(np.zeros((4, 1))))
    with pytest.raises(ValueError, match="batch shapes do not broadcast"):
        model.divergence(x, conv(np.zeros((3, 1))))
    unconditional = Twin("models.LinearScore", W=np.eye(2), b=np.zeros(2)).build(side, "float64", "cpu")
    with pytest.raises(ValueError, match=r"x: expected shape \(\.\.\., 2\)"):
        unconditional(conv(np.zeros(3)))
    mlp0 = Twin("models.MLPScore", **params(d=2, H=3, k=0)).build(side, "float64", "cpu")
    with pytest.raises(ValueError, match="c: this model has no conditioning input"):
        mlp0(x, conv(np.zeros((4, 1))))
    if side == "reference":
        with pytest.raises(TypeError, match=r"rng: expected a numpy\.random\.Generator"):
            ref.init_mlp_params(2, 3, rng=0)
        with pytest.raises(ValueError, match="hidden: expected an integer >= 1, got 0"):
            ref.init_mlp_params(2, 0, rng=np.random.default_rng(0))


def test_bad_input_accelerated_types_dtypes_devices():
    model = acc.LinearScore(t(np.eye(2)), t(np.zeros(2)))
    with pytest.raises(TypeError, match=r"x: expected a torch\.Tensor"):
        model(np.zeros((1, 2)))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        model(t(np.zeros((1, 2)), torch.float32))
    with pytest.raises(TypeError, match="expected one floating dtype"):
        acc.LinearScore(t(np.eye(2)), t(np.zeros(2), torch.float32))
    # The 'meta' device stands in for a second device on a CPU-only machine.
    with pytest.raises(ValueError, match="expected tensors on one device"):
        model(t(np.zeros((1, 2))).to("meta"))
    with pytest.raises(ValueError, match="expected tensors on one device"):
        acc.MLPScore(*(t(P[k]) for k in ("W1", "b1", "W2")), t(P["b2"]).to("meta"))


# ---------------------------------------------------------------- issue 12: NaN input, both sides alike


@pytest.mark.parametrize("kind", ["linear", "mlp", "mlp-c"])
def test_nan_x_or_c_is_refused_on_both_sides(kind):
    """The accelerated models returned NaN where the reference raises: both refuse, naming the argument."""
    rng = np.random.default_rng(0)
    bad = np.array([[0.5, np.nan]])
    if kind == "linear":
        models = (ref.LinearScore(np.eye(2), np.zeros(2)), acc.LinearScore(t(np.eye(2)), t(np.zeros(2))))
        calls = [lambda m, conv: m(conv(bad))]
        name = "x"
    else:
        p = ref.init_mlp_params(2, 3, cond_dim=1 if kind == "mlp-c" else 0, rng=rng)
        models = both_mlps(p)
        if kind == "mlp":
            calls = [lambda m, conv: m(conv(bad)), lambda m, conv: m.jacobian(conv(bad))]
            name = "x"
        else:
            calls = [lambda m, conv: m(conv(np.zeros((1, 2))), conv(np.array([np.nan])))]
            name = "c"
    for model, conv in zip(models, (np.asarray, t)):
        for call in calls:
            with pytest.raises(ValueError, match=rf"{name}: expected finite values"):
                call(model, conv)


@pytest.mark.parametrize("side", ["reference", "accelerated"])
def test_flattened_handles_an_empty_batch(side):
    """Issue 12: Flattened on x of shape (0, 2, 2) leaked the reshape error of (0, -1); now empty results."""
    if side == "reference":
        model, x = ref.Flattened(ref.LinearScore(np.eye(4), np.ones(4))), np.zeros((0, 2, 2))
    else:
        model, x = (
            acc.Flattened(acc.LinearScore(t(np.eye(4)), t(np.ones(4)))),
            torch.zeros(0, 2, 2, dtype=torch.float64),
        )
    assert tuple(model(x).shape) == (0, 2, 2)
    assert tuple(model.jacobian(x).shape) == (0, 4, 4)
    assert tuple(model.divergence(x).shape) == (0,)
