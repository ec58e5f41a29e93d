"""Every registered pair agrees with its reference on hypothesis-drawn inputs, at float64 and float32."""

import pytest

from crosscheck.registry import load_all
from crosscheck.runner import check_pair

PAIRS, _ = load_all()
CASES = [(pair, dtype) for pair in PAIRS for dtype in pair.dtypes]


@pytest.mark.parametrize(("pair", "dtype"), CASES, ids=[f"{p.name}-{d}" for p, d in CASES])
def test_pair_agrees(pair, dtype):
    outcome = check_pair(pair, dtype, raise_errors=True)
    assert outcome.examples > 0
