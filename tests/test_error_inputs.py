"""Bad input, once for every pair: each registered :class:`~crosscheck.registry.ErrorInput` raises the
same exception type on both sides, with a message that matches its pattern and names an argument."""

import inspect
import re

import pytest

from crosscheck.agree import _to_accelerated, _to_reference
from crosscheck.registry import load_all

PAIRS, _ = load_all()
CASES = [(pair, i) for pair in PAIRS for i in range(len(pair.errors))]


def _parameters(fn) -> list[str]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    return [p for p in inspect.signature(target).parameters if p != "self"]


@pytest.mark.parametrize("side", ["reference", "accelerated"])
@pytest.mark.parametrize(("pair", "index"), CASES, ids=[f"{p.name}-{i}" for p, i in CASES])
def test_error_input(pair, index, side):
    bad = pair.errors[index]
    ref_fn, acc_fn = pair.functions()
    fn, convert = (ref_fn, _to_reference) if side == "reference" else (acc_fn, _to_accelerated)
    args = tuple(convert(a, "float64", "cpu") for a in bad.args)
    kwargs = {k: convert(v, "float64", "cpu") for k, v in bad.kwargs.items()}
    with pytest.raises((ValueError, TypeError)) as info:
        fn(*args, **kwargs)
    message = str(info.value)
    assert type(info.value) is bad.error, f"{side} raised {type(info.value).__name__}: {message}"
    assert re.search(bad.match, message), f"{side}: {message!r} does not match {bad.match!r}"
    named = [p for p in _parameters(ref_fn) if re.search(rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])", message)]
    assert named, f"{side}: the message {message!r} names none of the parameters {_parameters(ref_fn)}"


def test_every_pair_lists_error_inputs():
    assert [p.name for p in PAIRS if not p.errors] == []
