"""Every slide theorem registered in crosscheck holds on both sides."""

import pytest

from crosscheck.registry import Side, load_all
from crosscheck.runner import check_theorem

_, THEOREMS = load_all()
CASES = [(t, side) for t in THEOREMS for side in t.sides]


@pytest.mark.parametrize(("thm", "side"), CASES, ids=[f"{t.name}-{s}" for t, s in CASES])
def test_theorem_holds(thm, side):
    outcome = check_theorem(thm, Side(side, quick=True), raise_errors=True)
    ev = outcome.evidence
    assert ev.passed, f"{thm.name} [{side}]: measured {ev.measured!r} > bound {ev.bound!r}; {ev.detail}"
