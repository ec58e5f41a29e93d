"""The probe of issue 12 (``python -m crosscheck.fuzz``): its mutations and its classification of outcomes."""

import numpy as np

from crosscheck import fuzz
from crosscheck.agree import Case


def _sqrt_sum(x, *, scale=1.0):
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("x: expected at least one entry")
    if not isinstance(scale, float):
        raise TypeError("an unnamed complaint")
    return np.sqrt(np.sum(x)) * scale


def test_mutations_cover_every_float_array_and_number():
    case = Case((np.ones((2, 3)), np.array([1, 2])), {"scale": 2.0, "flag": True})
    kinds = [(arg, kind) for arg, kind, _ in fuzz.mutations(case)]
    assert [k for a, k in kinds if a == "arg1"] == []  # an integer array is data of a fixed kind: left alone
    assert [k for a, k in kinds if a == "arg0"] == list(fuzz.ARRAY_MUTATIONS)
    assert [k for a, k in kinds if a == "scale"] == list(fuzz.NUMBER_MUTATIONS)
    assert {a for a, _ in kinds} == {"arg0", "scale"}  # integer arrays and flags are left alone
    strided = dict(((a, k), c) for a, k, c in fuzz.mutations(case))[("arg0", "strided")].args[0]
    assert not strided.flags.c_contiguous and np.array_equal(strided, np.ones((2, 3)))
    # the accelerated side receives the view itself, not a contiguous copy
    assert not fuzz._convert(strided, "accelerated").is_contiguous()


def test_outcomes_are_classified():
    import signal

    signal.signal(signal.SIGALRM, fuzz._alarm)
    params = ["x", "scale"]
    run = lambda *args, **kwargs: fuzz.outcome(_sqrt_sum, params, Case(args, kwargs), "reference", 5.0)  # noqa: E731
    assert run(np.ones(3)) == "finite"
    assert run(-np.ones(3)) == "nan"  # sqrt of a negative sum
    assert run(np.array([np.inf, 1.0])) == "inf"
    assert run(np.zeros(0)) == "refused"  # names x
    assert run(np.ones(3), scale=1) == "leak"  # a TypeError that names no parameter
    assert run(np.ones(3), scale=None) == "leak"


def test_disagreements_exclude_the_tensor_only_design():
    row = {"kind": "list", "reference": "finite", "accelerated": "refused"}
    assert not fuzz.disagrees(row)
    assert fuzz.disagrees({**row, "kind": "huge"})
    assert fuzz.disagrees({**row, "accelerated": "nonfinite"})
    assert not fuzz.disagrees({**row, "accelerated": "finite"})
