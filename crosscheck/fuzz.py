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
import inspect
import json
import re
import resource
import signal
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from hypothesis import given, settings

from .agree import Case, _to_accelerated, _to_reference
from .registry import Pair, load_all

ARRAY_MUTATIONS: dict[str, Callable[[np.ndarray], Any]] = {
    "nan": lambda a: np.where(np.ones_like(a, bool), np.nan, a) if a.size else a,
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


# Mutations the accelerated side refuses by design (it takes floating tensors, the reference array_like).
BY_DESIGN = ("list", "int", "bool")


def disagrees(row: dict) -> bool:
    """The sides' outcomes differ, and not by the tensor-only design of the accelerated side."""
    if row["reference"] == row["accelerated"]:
        return False
    return not (row["kind"] in BY_DESIGN and row["accelerated"] == "refused")


class _Timeout(Exception):
    pass


def _alarm(signum: int, frame: object) -> None:
    raise _Timeout


def valid_case(pair: Pair) -> Case | None:
    found: list[Case] = []

    @settings(max_examples=1, derandomize=True, database=None, deadline=None)
    @given(pair.cases("float64"))
    def draw(case: Case) -> None:
        found.append(case)

    try:
        draw()
    except Exception:
        return None
    return found[0] if found else None


def mutations(case: Case) -> list[tuple[str, str, Case]]:
    """(argument, mutation kind, mutated case) for every float array and number argument."""
    out = []
    slots = [(i, None, v) for i, v in enumerate(case.args)] + [(None, k, v) for k, v in case.kwargs.items()]
    for index, key, value in slots:
        label = f"arg{index}" if key is None else key
        if isinstance(value, np.ndarray) and value.dtype.kind == "f":
            table = {k: f(value) for k, f in ARRAY_MUTATIONS.items()}
        elif isinstance(value, float) and not isinstance(value, bool):
            table = NUMBER_MUTATIONS
        else:
            continue
        for kind, new in table.items():
            args, kwargs = list(case.args), dict(case.kwargs)
            if key is None:
                args[index] = new
            else:
                kwargs[key] = new
            out.append((label, kind, Case(tuple(args), kwargs)))
    return out


def _finite(result: Any) -> bool:
    if isinstance(result, torch.Tensor):
        return not result.is_floating_point() or bool(torch.isfinite(result.detach()).all())
    if isinstance(result, np.ndarray):
        return result.dtype.kind != "f" or bool(np.all(np.isfinite(result)))
    if isinstance(result, float):
        return bool(np.isfinite(result))
    if isinstance(result, (tuple, list)):
        return all(_finite(r) for r in result)
    if hasattr(result, "__dataclass_fields__"):
        return all(_finite(getattr(result, f)) for f in result.__dataclass_fields__)
    return True


def outcome(fn: Callable, params: list[str], case: Case, side: str, seconds: float) -> str:
    convert = _to_reference if side == "reference" else _to_accelerated
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        args = tuple(convert(a, "float64", "cpu") for a in case.args)
        kwargs = {k: convert(v, "float64", "cpu") for k, v in case.kwargs.items()}
        result = fn(*args, **kwargs)
        return "finite" if _finite(result) else "nonfinite"
    except _Timeout:
        return "timeout"
    except (ValueError, TypeError) as err:
        msg = str(err)
        named = any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(p)}(?![A-Za-z0-9_])", msg) for p in params)
        return "refused" if named else "leak"
    except Exception:
        return "leak"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def run(pairs: list[Pair], seconds: float) -> list[dict]:
    signal.signal(signal.SIGALRM, _alarm)
    rows = []
    for pair in pairs:
        case = valid_case(pair)
        if case is None:
            continue
        ref_fn, acc_fn = pair.functions()
        target = ref_fn.__init__ if inspect.isclass(ref_fn) else ref_fn
        params = [p for p in inspect.signature(target).parameters if p != "self"]
        for arg, kind, mutated in mutations(case):
            ref = outcome(ref_fn, params, mutated, "reference", seconds)
            acc = outcome(acc_fn, params, mutated, "accelerated", seconds)
            rows.append({"pair": pair.name, "arg": arg, "kind": kind, "reference": ref, "accelerated": acc})
    return rows


def summary(rows: list[dict]) -> str:
    by_module: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        module = r["pair"].split(".")[0]
        for side in ("reference", "accelerated"):
            by_module[module][r[side]] += 1
        by_module[module]["disagree"] += disagrees(r)
    cols = ["refused", "finite", "nonfinite", "leak", "timeout", "disagree"]
    lines = [f"{'module':16s} {'calls':>6s} " + " ".join(f"{c:>9s}" for c in cols)]
    total: Counter = Counter()
    for module, c in sorted(by_module.items()):
        calls = sum(1 for r in rows if r["pair"].startswith(module + "."))
        total.update(c)
        total["calls"] += calls
        lines.append(f"{module:16s} {calls:6d} " + " ".join(f"{c[k]:9d}" for k in cols))
    lines.append(f"{'all':16s} {total['calls']:6d} " + " ".join(f"{total[k]:9d}" for k in cols))
    lines.append("(outcome counts are per side: each call counts twice; disagree counts calls)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m crosscheck.fuzz", description=__doc__.split("\n")[0])
    parser.add_argument("--filter", default="", help="only pairs whose name contains this text")
    parser.add_argument("--seconds", type=float, default=5.0, help="alarm per call (default 5)")
    parser.add_argument("--memory-gb", type=float, default=6.0, help="address-space limit (default 6 GB)")
    parser.add_argument("--json", default=None, help="write every call's outcome here")
    args = parser.parse_args(argv)
    limit = int(args.memory_gb * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    pairs, _ = load_all()
    rows = run([p for p in pairs if args.filter in p.name], args.seconds)
    print(summary(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
