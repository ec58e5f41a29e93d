"""The shared argument layer (``reference._args``): one rule for error types, NumPy and Python scalars
alike, booleans as flags only, and no array library (both sides import it)."""

import subprocess
import sys

import numpy as np
import pytest

import reference._args as A


@pytest.mark.parametrize("value", [5, np.int64(5), np.int32(5), np.uint8(5)])
def test_counts_accept_python_and_numpy_integers(value):
    assert A.count("n", value) == 5 and type(A.count("n", value)) is int


@pytest.mark.parametrize("value", [5.0, np.float64(5.0), True, np.bool_(True), "5", None])
def test_counts_refuse_other_types_with_a_type_error(value):
    with pytest.raises(TypeError, match=r"n: expected an integer >= 1, got"):
        A.count("n", value)


def test_a_count_below_its_minimum_is_a_value_error():
    with pytest.raises(ValueError, match="n_steps: expected an integer >= 2, got 1"):
        A.count("n_steps", np.int64(1), minimum=2)


@pytest.mark.parametrize("value", [0.1, np.float32(0.1), np.float64(0.1), 1, np.int64(1)])
def test_scales_accept_python_and_numpy_numbers(value):
    assert A.positive("sigma", value) == float(value) and type(A.positive("sigma", value)) is float


@pytest.mark.parametrize(
    ("check", "value", "error", "match"),
    [
        (A.positive, 0.0, ValueError, "sigma: expected a finite positive number, got 0.0"),
        (A.positive, float("inf"), ValueError, "sigma: expected a finite positive number"),
        (A.positive, True, TypeError, "sigma: expected a positive real number, got bool"),
        (A.nonnegative, -1e-9, ValueError, "sigma: expected a finite non-negative number"),
        (A.real, float("nan"), ValueError, "sigma: expected a finite number, got nan"),
        (A.real, "1", TypeError, "sigma: expected a real number, got str"),
        (A.unit_interval, 1.5, ValueError, r"sigma: expected a number in \[0, 1\], got 1.5"),
        (A.flag, 1, TypeError, "sigma: expected True or False, got int 1"),
    ],
)
def test_wrong_values_and_wrong_types(check, value, error, match):
    with pytest.raises(error, match=match):
        check("sigma", value)


def test_flags_options_shapes_and_sequences():
    assert A.flag("squared", np.bool_(False)) is False
    assert A.unit_interval("eta", 0.0) == 0.0
    with pytest.raises(ValueError, match=r"eta: expected a number in \(0, 1\], got 0.0"):
        A.unit_interval("eta", 0.0, open_low=True)
    assert A.option("kind", "hinge", ("minimax", "hinge")) == "hinge"
    with pytest.raises(ValueError, match=r"kind: expected one of \('minimax', 'hinge'\), got 'wgan'"):
        A.option("kind", "wgan", ("minimax", "hinge"))
    with pytest.raises(TypeError, match="kind: expected one of"):
        A.option("kind", 1, ("minimax", "hinge"))
    assert A.shape("shape", np.int64(3)) == (3,) and A.shape("shape", (2, np.int64(0))) == (2, 0)
    with pytest.raises(TypeError, match="shape: expected a shape"):
        A.shape("shape", (2.0, 3))
    with pytest.raises(ValueError, match="shape: expected a shape of non-negative integers"):
        A.shape("shape", (2, -1))
    assert A.number_sequence("sigmas", [1, np.float32(0.5)]) == (1.0, 0.5)
    with pytest.raises(TypeError, match=r"sigmas\[1\]: expected a real number"):
        A.number_sequence("sigmas", [1.0, "x"])
    assert A.optional_count("k", None) is None


def test_the_shared_layer_imports_no_array_library():
    code = (
        "import sys, pkgutil, importlib, reference._args as A\n"
        "for m in pkgutil.iter_modules(A.__path__): importlib.import_module(f'reference._args.{m.name}')\n"
        "print(sorted({'numpy', 'torch', 'scipy'} & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
