"""The probe of issue 12 (``python -m crosscheck.fuzz``): its mutations and its classification of outcomes."""

import numpy as np
import torch

from crosscheck import fuzz
from crosscheck.agree import Case


def _sqrt_sum(x, *, scale=1.0):
    x = np.asarray(x, dtype=float)
    if x.size == 0:
        raise ValueError("x: expected at least one entry")
    if not isinstance(scale, float):
        raise TypeError("an unnamed complaint")
    return np.sqrt(np.sum(x)) * scale


def test_twin_parameters_and_exact_arrays_are_mutated():
    from crosscheck.agree import Exact, Twin

    case = Case((Twin("diffusion.Schedule", betas=Exact(np.array([0.1, 0.2]))), Exact(np.ones(2))))
    labels = {a for a, _, _ in fuzz.mutations(case)}
    assert labels == {"arg0.betas", "arg1"}

    class Bound(Twin):  # a subclass's own build survives the mutation (crosscheck.pairs.langevin.Method)
        def build(self, side, dtype, device):
            return ("built", super().build(side, dtype, device))

    bound = Case((Bound("diffusion.Schedule", betas=np.array([0.1, 0.2])),))
    for _, _, mutated in fuzz.mutations(bound):
        assert type(mutated.args[0]) is Bound
    assert fuzz._convert(bound.args[0], "reference")[0] == "built"
    assert fuzz.cited(("t", "schedule"), "arg0.betas") == ("t", "schedule", "arg0", "betas")
    mutated = dict(((a, k), c) for a, k, c in fuzz.mutations(case))[("arg0.betas", "float16")]
    assert fuzz._convert(mutated.args[0].params["betas"], "accelerated").dtype == torch.float16


def test_mutations_cover_every_float_array_and_number():
    case = Case((np.ones((2, 3)), np.array([1, 2])), {"scale": 2.0, "flag": True})
    kinds = [(arg, kind) for arg, kind, _ in fuzz.mutations(case)]
    assert [k for a, k in kinds if a == "arg1"] == list(fuzz.INDEX_MUTATIONS)
    assert [k for a, k in kinds if a == "arg0"] == list(fuzz.ARRAY_MUTATIONS)
    assert [k for a, k in kinds if a == "scale"] == list(fuzz.NUMBER_MUTATIONS)
    assert {a for a, _ in kinds} == {"arg0", "arg1", "scale"}  # flags are left alone
    strided = dict(((a, k), c) for a, k, c in fuzz.mutations(case))[("arg0", "strided")].args[0]
    assert not strided.flags.c_contiguous and np.array_equal(strided, np.ones((2, 3)))
    # the accelerated side receives a view like it, not a contiguous copy, and in new memory (an
    # in-place function such as langevin_step_ must not change the table's arrays)
    view = fuzz._convert(strided, "accelerated")
    assert not view.is_contiguous() and torch.equal(view, torch.ones(2, 3, dtype=torch.float64))
    a = np.ones(3)
    fuzz._convert(a, "accelerated").add_(1.0)
    assert np.array_equal(a, np.ones(3))


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


# ---- the standing fuzz test of issue 12 -------------------------------------------------------------

import importlib  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

import reference  # noqa: E402
from crosscheck import fuzz_table  # noqa: E402
from crosscheck.registry import load_all  # noqa: E402


def _methods(cls: type) -> list[str]:
    """The public methods a class defines itself (``__call__`` included; inherited ones are the base's)."""
    out = []
    for name, value in vars(cls).items():
        if name.startswith("_") and name != "__call__":
            continue
        if callable(value) or isinstance(value, (classmethod, staticmethod)):
            out.append(name)
    return out


def public_names() -> set[str]:
    """Every public name of both sides: topic ``__all__``, their classes' methods, the sharded metrics
    of :mod:`accelerated.distributed` and the top-level names that are not topics."""
    names: set[str] = set()
    for side in ("reference", "accelerated"):
        for topic in reference.TOPICS:
            module = importlib.import_module(f"{side}.{topic}")
            for name in module.__all__:
                names.add(f"{topic}.{name}")
                obj = getattr(module, name)
                if inspect.isclass(obj) and not issubclass(obj, Warning):
                    names.update(f"{topic}.{name}.{m}" for m in _methods(obj))
        top = importlib.import_module(side)
        names.update(n for n in top.__all__ if n not in reference.TOPICS and n != "TOPICS")
    names.update(f"distributed.{n}" for n in importlib.import_module("accelerated.distributed").__all__)
    return names


def test_every_public_name_is_a_pair_a_probe_or_exempt():
    pairs = {p.name for p in load_all()[0]}
    covered = pairs | set(fuzz_table.PROBES) | set(fuzz_table.EXEMPT)
    missing = sorted(public_names() - covered)
    assert not missing, f"add a Probe (or an EXEMPT reason) to crosscheck/fuzz_table.py for: {missing}"
    stale = sorted((set(fuzz_table.PROBES) | set(fuzz_table.EXEMPT)) - public_names())
    assert not stale, f"crosscheck/fuzz_table.py names what is no longer public: {stale}"
    assert not set(fuzz_table.PROBES) & pairs, "a registered pair brings its own valid call"


def test_every_probe_has_mutations_and_a_valid_call():
    import signal

    previous = signal.signal(signal.SIGALRM, fuzz._alarm)
    try:
        for probe in fuzz_table.PROBES.values():
            params = tuple(probe.params())
            assert fuzz.mutations(probe.case, params), f"{probe.name}: its valid call has nothing to mutate"
            for side, fn in zip(("reference", "accelerated"), probe.functions()):
                if fn is not None:
                    assert fuzz.outcome(fn, params, probe.case, side, 10.0) == "finite", (probe.name, side)
    finally:
        signal.signal(signal.SIGALRM, previous)


def _docstrings(name: str) -> list[str]:
    topic, *path = name.split(".")
    out = []
    for side in ("reference", "accelerated"):
        obj = importlib.import_module(f"{side}.{topic}")
        for part in path[:-1]:
            obj = getattr(obj, part)
        if path[-1] == "__call__":  # a module's call: its class's and its forward's docstrings
            out.append((inspect.getdoc(obj) or "") + (inspect.getdoc(getattr(obj, "forward", obj.__call__)) or ""))
        else:
            out.append(inspect.getdoc(getattr(obj, path[-1])) or "")
    return out


@pytest.mark.parametrize("name", sorted(fuzz_table.DOCUMENTED_INF))
def test_documented_inf_is_documented(name):
    for doc in _docstrings(name):
        assert "inf" in doc.replace("infinite", "inf"), f"{name}: its docstring must say where it returns ±inf"


@pytest.fixture(scope="module")
def standing_rows(tmp_path_factory):
    """One run of ``python -m crosscheck.fuzz`` over every target, in its own process (the alarm and the
    address-space limit stay out of pytest's): about 5,000 calls, 25 s on two cores."""
    out = tmp_path_factory.mktemp("fuzz") / "rows.json"
    cmd = [sys.executable, "-m", "crosscheck.fuzz", "--seconds", "3", "--memory-gb", "4", "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(out.read_text())


def test_standing_fuzz_covers_every_target(standing_rows):
    seen = {r["pair"] for r in standing_rows}
    pairs = {p.name for p in load_all()[0]}
    assert pairs | set(fuzz_table.PROBES) <= seen
    kinds = {r["kind"] for r in standing_rows}
    expected = (
        set(fuzz.ARRAY_MUTATIONS) | set(fuzz.NUMBER_MUTATIONS) | set(fuzz.COUNT_MUTATIONS) | set(fuzz.RNG_MUTATIONS)
    )
    assert expected <= kinds, expected - kinds


def test_standing_fuzz_rules(standing_rows):
    """Each call of a mutated valid call refuses naming an argument or returns finite values (±inf only
    where documented), never NaN, a leaked exception or a hang, and the two sides alike; reproduce one
    with ``python -m crosscheck.fuzz --filter NAME --show``."""
    found = fuzz.problems(standing_rows)
    lines = [
        f"{r['pair']} {r['arg']}={r['kind']}: ref {r['reference']}, acc {r['accelerated']}: {why}" for r, why in found
    ]
    assert not found, f"{len(found)} calls break the rules:\n" + "\n".join(lines[:60])


def test_both_sides_check_an_empty_batch_of_probability_vectors_alike():
    """An empty batch (0, k) has no row to sum: both sides accept it (the reference used to raise
    NumPy's zero-size reduction error), and a row of length 0 is refused on both."""
    from accelerated import _checks as A
    from reference import _checks as R

    R.check_simplex("p", np.zeros((0, 3)))
    A.check_simplex("p", torch.zeros((0, 3)))
    for check, empty in ((R.check_simplex, np.zeros((2, 0))), (A.check_simplex, torch.zeros((2, 0)))):
        with pytest.raises(ValueError, match="p: expected at least one category"):
            check("p", empty)


def test_check_result_words_the_refusal_alike_on_both_sides():
    """reference._checks.check_result and accelerated._checks.check_result: the first non-finite input
    is named, else the overflow from finite inputs (data at 1e300 squared overflows float64)."""
    from accelerated import _checks as A
    from reference import _checks as R

    x = np.array([1e300, 1.0])
    messages = []
    for check, conv in ((R.check_result, np.asarray), (A.check_result, torch.from_numpy)):
        with np.errstate(over="ignore"), pytest.raises(ValueError) as overflow:
            check(conv(x) * conv(x), [("x", conv(x))])
        with pytest.raises(ValueError, match="y: expected finite values, got 1 NaN"):
            check(conv(np.array([np.nan])), [("x", conv(x)), ("y", conv(np.array([np.nan])))])
        messages.append(str(overflow.value))
        assert check(conv(np.ones(2)), [("x", conv(x))]) is not None
    expected = "x: the result overflowed float64 from finite inputs (largest input magnitude 1e+300)"
    assert messages[0] == messages[1] == expected
