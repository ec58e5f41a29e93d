"""Probe every registered pair with bad and extreme variants of a valid call, on both sides.

``python -m crosscheck.fuzz [--filter TEXT] [--json FILE]`` draws one valid input per pair (the pair's
own strategy, derandomised, float64), then replaces one argument at a time by a mutation: for an array
NaN, +inf, 1e300, an empty leading axis, a 0-d array, an extra axis, integer, boolean and complex
dtype, a list, a non-contiguous view; for a number 0, -1, NaN, inf, 1e300, a bool, a string. Each call
runs on both sides and its outcome is classified:

* ``refused``: ``ValueError`` or ``TypeError`` whose message names a parameter of the function;
* ``finite``: returned, every floating output finite;
* ``nonfinite``: returned NaN or inf (documented for some inputs, e.g. KL off the support);
* ``leak``: any other exception, or a ``ValueError``/``TypeError`` naming no parameter;
* ``timeout``: still running after ``--seconds`` (the run is cut there).

A call *disagrees* when the two sides' outcomes differ, except by design: the reference converts any
array_like (a list, an integer or boolean array) to float64, the accelerated side takes floating
tensors only, so a ``list``/``int``/``bool`` mutation that the accelerated side refuses is not counted.
The table counts outcomes per module; it is issue 12's measurement (calls tried, outcomes per category,
before and after).
Every call runs under an alarm; run it in a fresh process (it sets an address-space limit).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import inspect
import json
import re
import resource
import signal
import sys
import warnings
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from hypothesis import given, settings

from .agree import Case, Exact, Twin, _to_accelerated, _to_reference
from .registry import Pair, load_all


class BF16:
    """A bfloat16 mutation: the accelerated side gets a bfloat16 tensor, the reference (NumPy has no
    bfloat16) the same rounded values as float32."""

    def __init__(self, a: np.ndarray) -> None:
        self.values = torch.from_numpy(np.array(a, dtype=np.float64)).to(torch.bfloat16)


class CrossRng:
    """A generator of the other side's kind: a torch.Generator for the reference, a NumPy one for torch."""


ARRAY_MUTATIONS: dict[str, Callable[[np.ndarray], Any]] = {
    "nan": lambda a: np.full_like(a, np.nan) if a.size else a,
    "inf": lambda a: np.full_like(a, np.inf) if a.size else a,
    "huge": lambda a: np.full_like(a, 1e300) if a.size else a,
    "empty": lambda a: a[:0] if a.ndim else np.zeros(0),
    "rank0": lambda a: np.asarray(a.reshape(-1)[0] if a.size else 0.0),
    "extra_axis": lambda a: a[None],
    "int": lambda a: np.round(a).astype(np.int64),
    "bool": lambda a: a > 0,
    "complex": lambda a: a.astype(np.complex128),
    "list": lambda a: a.tolist(),
    "strided": lambda a: np.repeat(a, 2, axis=-1)[..., ::2] if a.ndim else a,
    "float16": lambda a: a.astype(np.float16),
    "bfloat16": BF16,
    "float32_huge": lambda a: np.full_like(a, 1e30, dtype=np.float32) if a.size else a.astype(np.float32),
}
NUMBER_MUTATIONS: dict[str, Any] = {
    "zero": 0.0,
    "negative": -1.0,
    "nan": float("nan"),
    "inf": float("inf"),
    "huge": 1e300,
    "bool": True,
    "string": "1",
}
# Counts (Python ints): a huge count is a request for that much work, not a bad input, so it is left out.
COUNT_MUTATIONS: dict[str, Any] = {"zero": 0, "negative": -1, "float": 2.5, "bool": True, "string": "2"}
# For a function with ``rng``: the noise argument is dropped and a generator of the wrong type given.
# Index arrays (time steps, labels): negative, past any table, floating, empty.
INDEX_MUTATIONS: dict[str, Callable[[np.ndarray], Any]] = {
    "negative": lambda a: -1 - np.abs(a),
    "too_large": lambda a: a + 2**31,
    "float": lambda a: a + 0.5,
    "empty": lambda a: a[:0] if a.ndim else np.zeros(0, dtype=a.dtype),
}
RNG_MUTATIONS: dict[str, Any] = {"rng_int": 0, "rng_other_side": CrossRng()}

# Mutations whose outcome may differ between the sides by design. The reference converts any
# array_like (a list, an integer or boolean array) to float64 and the accelerated side takes floating
# tensors only; the reference computes in float64 whatever the input's dtype, the accelerated side in
# the input's (so float16, bfloat16 or float32 data at 1e30 may overflow there and be refused).
BY_DESIGN_REFUSED = ("list", "int", "bool")
LOW_PRECISION = ("float16", "bfloat16", "float32_huge")
OUTCOMES = ("refused", "finite", "inf", "nan", "leak", "timeout")


def disagrees(row: dict) -> bool:
    """The sides' outcomes differ, and not by design (one-sided names never disagree)."""
    ref, acc = row["reference"], row["accelerated"]
    if ref is None or acc is None or ref == acc:
        return False
    if row["kind"] in BY_DESIGN_REFUSED and acc == "refused":
        return False
    return not (row["kind"] in LOW_PRECISION and acc in ("refused", "finite"))


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


@dataclass(frozen=True)
class Target:
    """One public name to probe: its callables on each side (``None`` where one-sided) and a valid call."""

    name: str
    reference: Callable | None
    accelerated: Callable | None
    params: tuple[str, ...]
    case: Case | None


def _params(fn: Callable) -> tuple[str, ...]:
    target = fn.__init__ if inspect.isclass(fn) else fn
    return tuple(p for p in inspect.signature(target).parameters if p != "self")


def _examples(pair: Pair, count: int) -> list[Case]:
    found: list[Case] = []

    @settings(max_examples=count, derandomize=True, database=None, deadline=None)
    @given(pair.cases("float64"))
    def draw(case: Case) -> None:
        found.append(case)

    try:
        draw()
    except Exception:
        return found
    return found


def valid_case(pair: Pair, seconds: float = 5.0, count: int = 12) -> Case | None:
    """The pair's first derandomised example that both sides evaluate to finite values (``None`` if none)."""
    ref_fn, acc_fn = pair.functions()
    params = _params(ref_fn)
    for case in _examples(pair, count):
        if all(
            outcome(fn, params, case, side, seconds) == "finite"
            for fn, side in ((ref_fn, "reference"), (acc_fn, "accelerated"))
        ):
            return case
    return None


def targets(filter_text: str = "", seconds: float = 5.0) -> list[Target]:
    """Every registered pair and every probe of :mod:`crosscheck.fuzz_table` whose name contains ``filter_text``."""
    from .fuzz_table import PROBES

    pairs, _ = load_all()
    out = []
    for pair in pairs:
        if filter_text in pair.name:
            ref_fn, acc_fn = pair.functions()
            out.append(Target(pair.name, ref_fn, acc_fn, _params(ref_fn), valid_case(pair, seconds)))
    for probe in PROBES.values():
        if filter_text in probe.name:
            ref_fn, acc_fn = probe.functions()
            params = tuple(probe.params())
            sides = [(fn, side) for fn, side in ((ref_fn, "reference"), (acc_fn, "accelerated")) if fn is not None]
            valid = all(outcome(fn, params, probe.case, side, seconds) == "finite" for fn, side in sides)
            out.append(Target(probe.name, ref_fn, acc_fn, params, probe.case if valid else None))
    return out


def _float_array(value: Any) -> bool:
    return isinstance(value, np.ndarray) and value.dtype == np.float64


def _table(value: Any) -> dict[str, Any]:
    """The mutations of one argument's value (empty for what is not data: flags, options, callables)."""
    if isinstance(value, Exact):
        value = np.asarray(value.value, dtype=np.float64)
    if _float_array(value):
        return {k: f(value) for k, f in ARRAY_MUTATIONS.items()}
    if isinstance(value, np.ndarray) and value.dtype.kind == "i":
        return {k: f(value) for k, f in INDEX_MUTATIONS.items()}
    if isinstance(value, float):
        return NUMBER_MUTATIONS
    if isinstance(value, int) and not isinstance(value, bool):
        return COUNT_MUTATIONS
    return {}


def _slot_mutations(label: str, value: Any) -> list[tuple[str, str, Any]]:
    """(label, kind, new value) for one argument; a :class:`Twin`'s parameters are mutated one level down."""
    if isinstance(value, Twin):
        out = []
        for key, inner in value.params.items():
            for kind, new in _table(inner).items():
                mutated = copy.copy(value)  # keeps a subclass's build (a bound method, a noisy score)
                object.__setattr__(mutated, "params", {**value.params, key: new})
                out.append((f"{label}.{key}", kind, mutated))
        return out
    return [(label, kind, new) for kind, new in _table(value).items()]


def mutations(case: Case, params: tuple[str, ...] = ()) -> list[tuple[str, str, Case]]:
    """(argument, mutation kind, mutated case) for every float64 array, index array, float and count
    argument (and those of the objects built on each side, ``Twin``), plus the wrong-typed generators
    where the function takes ``rng`` and the case gives ``noise``."""
    out = []
    slots = [(i, None, v) for i, v in enumerate(case.args)] + [(None, k, v) for k, v in case.kwargs.items()]
    for index, key, value in slots:
        for label, kind, new in _slot_mutations(f"arg{index}" if key is None else key, value):
            args, kwargs = list(case.args), dict(case.kwargs)
            if key is None:
                args[index] = new
            else:
                kwargs[key] = new
            out.append((label, kind, Case(tuple(args), kwargs)))
    if "rng" in params and "noise" in case.kwargs:
        for kind, rng in RNG_MUTATIONS.items():
            kwargs = {k: v for k, v in case.kwargs.items() if k != "noise"}
            out.append(("rng", kind, Case(case.args, {**kwargs, "rng": rng})))
    return out


def cited(params: tuple[str, ...], label: str) -> tuple[str, ...]:
    """The names a refusal of one mutated call may cite: the parameters, and for an object built from
    mutated parameters (``schedule.betas``) the object's and the parameter's names."""
    return (*params, *label.split(".")) if "." in label else params


def _fresh(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` in new memory (an in-place function cannot change the table's arrays), with the
    same strides where ``a`` is the ``strided`` mutation's view of every other column."""
    if a.flags.c_contiguous or a.ndim == 0:
        return a.copy()
    return np.repeat(a, 2, axis=-1)[..., ::2]


def _convert(value: Any, side: str) -> Any:
    """One argument for ``side``: arrays keep their dtype and strides (a mutation's point), the rest as
    :mod:`crosscheck.agree` converts it in float64."""
    if isinstance(value, Twin):  # its parameters converted here (dtypes kept), then its own build
        ready = copy.copy(value)
        object.__setattr__(ready, "params", {k: _convert(v, side) for k, v in value.params.items()})
        return ready.build(side, "float64", "cpu")
    if isinstance(value, Exact):
        return _convert(np.asarray(value.value, dtype=np.float64), side)
    if isinstance(value, BF16):
        return value.values.to(torch.float32).numpy() if side == "reference" else value.values
    if isinstance(value, CrossRng):
        return torch.Generator().manual_seed(0) if side == "reference" else np.random.default_rng(0)
    if isinstance(value, np.ndarray) and value.dtype.kind in "fciub":
        fresh = _fresh(value)
        return fresh if side == "reference" else torch.from_numpy(fresh)
    convert = _to_reference if side == "reference" else _to_accelerated
    return convert(value, "float64", "cpu")


def classify(result: Any) -> str:
    """``finite``, ``inf`` (some float output infinite, none NaN) or ``nan``: the worst over all outputs."""
    if isinstance(result, torch.Tensor):
        if not result.is_floating_point() or result.numel() == 0:
            return "finite"
        r = result.detach()
        return "nan" if bool(torch.isnan(r).any()) else "finite" if bool(torch.isfinite(r).all()) else "inf"
    if isinstance(result, np.ndarray) or isinstance(result, (float, np.floating)):
        r = np.asarray(result)
        if r.dtype.kind not in "fc" or r.size == 0:
            return "finite"
        return "nan" if np.isnan(r).any() else "finite" if np.isfinite(r).all() else "inf"
    parts: list[Any] = []
    if isinstance(result, (tuple, list)):
        parts = list(result)
    elif hasattr(result, "__dataclass_fields__"):
        parts = [getattr(result, f) for f in result.__dataclass_fields__]
    elif isinstance(result, dict):
        parts = list(result.values())
    found = {classify(p) for p in parts}
    return "nan" if "nan" in found else "inf" if "inf" in found else "finite"


def named(message: str, params: tuple[str, ...] | list[str]) -> bool:
    """The message names one of the parameters (as a whole word)."""
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])", message) for p in params)


def outcome(fn: Callable, params: tuple[str, ...] | list[str], case: Case, side: str, seconds: float) -> str:
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        args = tuple(_convert(a, side) for a in case.args)
        kwargs = {k: _convert(v, side) for k, v in case.kwargs.items()}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fn(*args, **kwargs)
        return classify(result)
    except _Timeout:
        return "timeout"
    except (ValueError, TypeError) as err:
        return "refused" if named(str(err), params) else "leak"
    except Exception:
        return "leak"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def message(fn: Callable, case: Case, side: str) -> str:
    """The exception a call raises, as ``Type: message`` (the reproducer's detail); '' if none."""
    try:
        fn(*(_convert(a, side) for a in case.args), **{k: _convert(v, side) for k, v in case.kwargs.items()})
    except Exception as err:
        return f"{type(err).__name__}: {err}"[:300]
    return ""


@contextlib.contextmanager
def alarms() -> Iterator[None]:
    """Install the per-call alarm's handler (every call to :func:`outcome` runs under an alarm)."""
    previous = signal.signal(signal.SIGALRM, _alarm)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, previous)


def run(items: list[Target], seconds: float) -> list[dict]:
    """Every mutation of every target on both sides: one row per call, with both sides' outcomes."""
    rows = []
    with alarms():
        for t in items:
            if t.case is None:
                rows.append(
                    {"pair": t.name, "arg": "-", "kind": "no_valid_case", "reference": "leak", "accelerated": "leak"}
                )
                continue
            for arg, kind, mutated in mutations(t.case, t.params):
                names = cited(t.params, arg)
                ref = None if t.reference is None else outcome(t.reference, names, mutated, "reference", seconds)
                acc = None if t.accelerated is None else outcome(t.accelerated, names, mutated, "accelerated", seconds)
                rows.append({"pair": t.name, "arg": arg, "kind": kind, "reference": ref, "accelerated": acc})
    return rows


def problems(rows: list[dict]) -> list[tuple[dict, str]]:
    """The rows that break the standing rules of issue 12, each with the rule it breaks.

    Each side either refuses (``ValueError``/``TypeError`` naming an argument) or returns finite
    values; ±inf only from a function in :data:`crosscheck.fuzz_table.DOCUMENTED_INF`; never NaN,
    a leaked exception or a timeout (save the calls in :data:`crosscheck.fuzz_table.SLOW`); and both
    sides alike, save by design (:func:`disagrees`).
    """
    from .fuzz_table import DOCUMENTED_INF, SLOW

    out = []
    for r in rows:
        sides = [r[s] for s in ("reference", "accelerated") if r[s] is not None]
        if r["kind"] == "no_valid_case":
            out.append((r, "no valid call: no example of the strategy (or the probe) is finite on both sides"))
        elif "leak" in sides:
            out.append((r, "leak: an exception other than a ValueError/TypeError naming an argument"))
        elif "timeout" in sides and (r["pair"], r["arg"], r["kind"]) not in SLOW:
            out.append((r, "timeout: still running after the alarm"))
        elif "nan" in sides:
            out.append((r, "nan: a NaN result"))
        elif "inf" in sides and r["pair"] not in DOCUMENTED_INF:
            out.append((r, "inf: an infinite result from a function that does not document one"))
        elif r["kind"] in LOW_PRECISION and r["accelerated"] == "inf":
            continue  # documented ±inf where the low-precision dtype overflows (the reference is float64)
        elif disagrees(r):
            out.append((r, "disagree: the two sides' outcomes differ"))
    return out


def summary(rows: list[dict]) -> str:
    by_module: dict[str, Counter] = defaultdict(Counter)
    calls: Counter = Counter()
    for r in rows:
        module = r["pair"].split(".")[0]
        calls[module] += 1
        for side in ("reference", "accelerated"):
            if r[side] is not None:
                by_module[module][r[side]] += 1
        by_module[module]["disagree"] += disagrees(r)
    cols = [*OUTCOMES, "disagree"]
    lines = [f"{'module':16s} {'calls':>6s} " + " ".join(f"{c:>9s}" for c in cols)]
    total: Counter = Counter()
    for module, c in sorted(by_module.items()):
        total.update(c)
        lines.append(f"{module:16s} {calls[module]:6d} " + " ".join(f"{c[k]:9d}" for k in cols))
    lines.append(f"{'all':16s} {sum(calls.values()):6d} " + " ".join(f"{total[k]:9d}" for k in cols))
    lines.append("(outcome counts are per side: a two-sided call counts twice; disagree counts calls)")
    return "\n".join(lines)


def print_problems(items: list[Target], rows: list[dict]) -> None:
    """Each rule-breaking call with both sides' outcomes and exceptions: the reproducer."""
    by_name = {t.name: t for t in items}
    found = problems(rows)
    print(f"\n{len(found)} calls break the rules")
    for r, why in found:
        t = by_name[r["pair"]]
        print(
            f"- {r['pair']} {r['arg']}={r['kind']}: reference {r['reference']}, accelerated {r['accelerated']} ({why})"
        )
        if t.case is None:
            continue
        mutated = next(c for a, k, c in mutations(t.case, t.params) if (a, k) == (r["arg"], r["kind"]))
        for side, fn in (("reference", t.reference), ("accelerated", t.accelerated)):
            if fn is not None and r[side] in ("refused", "leak"):
                print(f"    {side}: {message(fn, mutated, side)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crosscheck.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--filter", default="", help="only pairs whose name contains this text")
    parser.add_argument("--seconds", type=float, default=5.0, help="alarm per call (default 5)")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit (default 6 GB)")
    parser.add_argument("--json", default=None, help="write every call's outcome here")
    parser.add_argument("--show", action="store_true", help="print every call that breaks the rules, with its error")
    args = parser.parse_args(argv)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    with alarms():
        items = targets(args.filter, args.seconds)
    rows = run(items, args.seconds)
    print(summary(rows))
    if args.show:
        print_problems(items, rows)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
