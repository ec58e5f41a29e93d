"""Run a registered pair over hypothesis-drawn inputs, or a theorem on one side, and summarise."""

from __future__ import annotations

import time
from dataclasses import dataclass

from hypothesis import given, settings

from .agree import Case, assert_agree
from .registry import Evidence, Pair, Side, Theorem


@dataclass
class PairOutcome:
    pair: Pair
    dtype: str
    examples: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    usage: float = 0.0
    time_reference: float = 0.0
    time_accelerated: float = 0.0
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.examples > 0


def check_pair(
    pair: Pair,
    dtype: str,
    *,
    device: str = "cpu",
    max_examples: int | None = None,
    derandomize: bool = True,
    raise_errors: bool = False,
) -> PairOutcome:
    """Check one pair at one dtype on hypothesis-drawn cases.

    With ``max_examples=None`` the active hypothesis profile decides how many cases are drawn. With
    ``raise_errors`` the (shrunk) failure propagates, as a test wants; otherwise it is recorded.
    """
    outcome = PairOutcome(pair, dtype)
    ref_fn, acc_fn = pair.functions()

    def one_case(case: Case) -> None:
        result = assert_agree(ref_fn, acc_fn, *case.args, dtype=dtype, device=device, name=pair.name, **case.kwargs)
        outcome.examples += 1
        outcome.max_abs = max(outcome.max_abs, result.max_abs)
        outcome.max_rel = max(outcome.max_rel, result.max_rel)
        outcome.usage = max(outcome.usage, result.usage)
        outcome.time_reference += result.time_reference
        outcome.time_accelerated += result.time_accelerated

    test = given(pair.cases(dtype))(one_case)
    if max_examples is not None:
        test = settings(settings.default, max_examples=max_examples, derandomize=derandomize)(test)
    try:
        test()
    except Exception as err:
        if raise_errors:
            raise
        outcome.error = f"{type(err).__name__}: {err}"
    return outcome


@dataclass
class TheoremOutcome:
    theorem: Theorem
    side: str
    evidence: Evidence | None
    seconds: float
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.error is None and self.evidence is not None and self.evidence.passed


def check_theorem(theorem: Theorem, side: Side, *, raise_errors: bool = False) -> TheoremOutcome:
    start = time.perf_counter()
    try:
        evidence = theorem.check(side)
    except Exception as err:
        if raise_errors:
            raise
        return TheoremOutcome(theorem, side.name, None, time.perf_counter() - start, f"{type(err).__name__}: {err}")
    return TheoremOutcome(theorem, side.name, evidence, time.perf_counter() - start)
