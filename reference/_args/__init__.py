"""Argument checks shared by both sides: counts, scales, options, flags (pure Python, no arrays).

Both :mod:`reference` and :mod:`accelerated` import these, so that a count, a scale, an option or a
flag is refused the same way wherever it is passed. One rule for the error type:

* the wrong *type* (a float where a count is expected, a string where a number is, a number where a
  flag is) is a ``TypeError``;
* the right type with a wrong *value* (a count below its minimum, a scale that is not finite and
  positive, an option not in the list) is a ``ValueError``;
* Python and NumPy scalars are accepted alike (``5``, ``np.int64(5)``, ``0.1``, ``np.float32(0.1)``),
  through :mod:`numbers` (NumPy registers its scalar types there), so this module imports no NumPy;
* booleans are flags, never counts or numbers (``True`` is an ``int`` in Python, refused here).

Every message names the argument, what came and what was expected. Nothing here computes a formula,
and nothing changes a value: a check returns the value as a plain Python ``int``, ``float``, ``bool``
or ``str``. Array checks stay on each side (``reference._checks``, ``accelerated._checks``).
Topic-specific argument groups that both sides check alike live in submodules of this package.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Iterable, Sequence

__all__ = [
    "count",
    "describe",
    "flag",
    "nonnegative",
    "number_sequence",
    "option",
    "optional_count",
    "overflow_message",
    "positive",
    "real",
    "shape",
    "unit_interval",
]


def describe(x: object) -> str:
    """Short description of a received value for error messages: its type and repr."""
    shape = getattr(x, "shape", None)
    if shape is not None and getattr(x, "ndim", 0):
        return f"{type(x).__name__} of shape {tuple(shape)} and dtype {getattr(x, 'dtype', '?')}"
    return f"{type(x).__name__} {x!r}"[:120]


def _is_bool(x: object) -> bool:
    """Python bools and NumPy's ``bool_`` (which :mod:`numbers` does not register)."""
    return isinstance(x, bool) or (type(x).__name__ in ("bool_", "bool") and type(x).__module__ == "numpy")


def count(name: str, value: object, *, minimum: int = 1) -> int:
    """An integer at least ``minimum`` (Python or NumPy integer), as a Python ``int``.

    >>> count("n_steps", 10)
    10
    >>> count("n_steps", 2.0)
    Traceback (most recent call last):
        ...
    TypeError: n_steps: expected an integer >= 1, got float 2.0
    """
    if _is_bool(value) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {describe(value)}")
    n = operator.index(value)
    if n < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {n}")
    return n


def optional_count(name: str, value: object, *, minimum: int = 1) -> int | None:
    """``None`` or :func:`count`."""
    return None if value is None else count(name, value, minimum=minimum)


def _number(name: str, value: object, expected: str) -> float:
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected {expected}, got {describe(value)}")
    return float(value)


def real(name: str, value: object) -> float:
    """A finite real number (Python or NumPy, integer or float), as a Python ``float``."""
    x = _number(name, value, "a real number")
    if not math.isfinite(x):
        raise ValueError(f"{name}: expected a finite number, got {x!r}")
    return x


def positive(name: str, value: object) -> float:
    """A finite number > 0, as a Python ``float``.

    >>> positive("sigma", 0.5)
    0.5
    >>> positive("sigma", 0)
    Traceback (most recent call last):
        ...
    ValueError: sigma: expected a finite positive number, got 0.0
    """
    x = _number(name, value, "a positive real number")
    if not (math.isfinite(x) and x > 0):
        raise ValueError(f"{name}: expected a finite positive number, got {x!r}")
    return x


def nonnegative(name: str, value: object) -> float:
    """A finite number >= 0, as a Python ``float``."""
    x = _number(name, value, "a non-negative real number")
    if not (math.isfinite(x) and x >= 0):
        raise ValueError(f"{name}: expected a finite non-negative number, got {x!r}")
    return x


def unit_interval(name: str, value: object, *, open_low: bool = False, open_high: bool = False) -> float:
    """A number in [0, 1] (an end excluded where ``open_low`` / ``open_high``), as a Python ``float``."""
    x = _number(name, value, "a real number in [0, 1]")
    low_ok = x > 0 if open_low else x >= 0
    high_ok = x < 1 if open_high else x <= 1
    if not (low_ok and high_ok):
        interval = f"{'(' if open_low else '['}0, 1{')' if open_high else ']'}"
        raise ValueError(f"{name}: expected a number in {interval}, got {x!r}")
    return x


def flag(name: str, value: object) -> bool:
    """A boolean (Python or NumPy), as a Python ``bool``; 0 and 1 are not flags."""
    if not _is_bool(value):
        raise TypeError(f"{name}: expected True or False, got {describe(value)}")
    return bool(value)


def option(name: str, value: object, choices: Sequence[str]) -> str:
    """One of the strings ``choices``.

    >>> option("reduction", "sum", ("mean", "sum"))
    'sum'
    """
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {tuple(choices)}, got {describe(value)}")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {tuple(choices)}, got {value!r}")
    return value


def shape(name: str, value: object) -> tuple[int, ...]:
    """A shape: a non-negative integer or a sequence of them, as a tuple of Python ints."""
    if isinstance(value, numbers.Integral) and not _is_bool(value):
        value = (value,)
    if not isinstance(value, Iterable) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a shape (a tuple of non-negative integers), got {describe(value)}")
    dims = tuple(value)
    if not all(isinstance(s, numbers.Integral) and not _is_bool(s) for s in dims):
        raise TypeError(f"{name}: expected a shape (a tuple of non-negative integers), got {describe(value)}")
    if any(s < 0 for s in dims):
        raise ValueError(f"{name}: expected a shape of non-negative integers, got {dims}")
    return tuple(operator.index(s) for s in dims)


def number_sequence(name: str, values: object, *, minimum_length: int = 1) -> tuple[float, ...]:
    """A sequence (list or tuple) of real numbers, as a tuple of Python floats; values are not checked."""
    if not isinstance(values, (list, tuple)):
        raise TypeError(f"{name}: expected a list or tuple of numbers, got {describe(values)}")
    if len(values) < minimum_length:
        raise ValueError(f"{name}: expected at least {minimum_length} number(s), got {len(values)}")
    return tuple(_number(f"{name}[{i}]", v, "a real number") for i, v in enumerate(values))


def overflow_message(names: Sequence[str], dtype: str, largest: float) -> str:
    """The refusal of a result that overflowed ``dtype`` although its inputs ``names`` were finite.

    One wording for both sides' result checks (``reference._checks.check_result`` and
    ``accelerated._checks.check_result``): the data's own scale is beyond what the formula can
    represent, so the inputs are named and the largest magnitude among them is quoted.
    """
    joined = ", ".join(names)
    return f"{joined}: the result overflowed {dtype} from finite inputs (largest input magnitude {largest:.3g})"
