"""``check(my_fn, "diffusion.q_posterior")``: your own implementation against the reference, in one call.

:func:`check` looks up the registered pair, draws its own input strategy, hands each input to your
function as NumPy arrays or as torch tensors (detected, or ``side=``), compares your output with the
*reference* output using the pair's tolerance and the comparison of :func:`crosscheck.assert_agree`, and
returns a :class:`CheckResult` (``.raise_for_failure()`` turns a failure into an ``AssertionError``
carrying a snippet that reproduces the failing input). :func:`run_against` is
``python -m crosscheck --against my_package.my_module``: every function of a module whose name is a
registered formula's, checked and printed as one table.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from hypothesis import HealthCheck, given, settings

from .agree import Case, _literal, _to_accelerated, _to_reference, assert_agree
from .registry import Pair, load_all
from .tolerances import dtype_name, tolerance_for_your_code

__all__ = ["CheckResult", "check", "find_pair", "run_against"]

SIDES = ("auto", "numpy", "torch")


@dataclass(frozen=True)
class CheckResult:
    """What :func:`check` found: whether every drawn input agreed, the worst differences, a reproducer.

    ``examples`` counts the inputs that agreed and ``disagreed`` those that did not. By default the
    check stops at the first disagreement, which Hypothesis then shrinks (``disagreed`` is 1, and the
    smaller inputs it tries that agree are counted in ``examples``); with ``all_inputs=True`` every drawn
    input is checked once, without shrinking, so ``disagreed`` of ``examples + disagreed`` is the rate.
    ``max_abs``, ``max_rel`` and ``usage`` are over the agreeing inputs; ``usage`` is the largest
    ``|yours - reference| / (atol + rtol |reference|)`` (at most 1 when passed). ``reproducer`` is Python
    source that re-runs :func:`check` on the failing input (or, when every input passed, on the input
    that used most of the tolerance); ``error`` is the failure message.
    """

    passed: bool
    pair: str
    dtype: str
    side: str
    examples: int
    max_abs: float
    max_rel: float
    usage: float
    time_reference: float
    time_yours: float
    reproducer: str
    error: str | None = None
    disagreed: int = 0

    def raise_for_failure(self) -> CheckResult:
        """Raise ``AssertionError`` (message and reproducer) if the check failed; else return ``self``."""
        if not self.passed:
            raise AssertionError(
                f"{self.pair} at {self.dtype} ({self.side}): {self.error}\nreproduce with:\n{self.reproducer}"
            )
        return self


def find_pair(name: str) -> Pair:
    """The registered pair called ``name`` ('diffusion.q_posterior'), or a ValueError listing close names.

    Examples
    --------
    >>> find_pair("diffusion.q_posterior").function
    'q_posterior'
    """
    if not isinstance(name, str):
        raise TypeError(f"name: expected a pair name such as 'diffusion.q_posterior', got {type(name).__name__}")
    pairs, _ = load_all()
    for pair in pairs:
        if pair.name == name:
            return pair
    close = [p.name for p in pairs if p.function == name.rsplit(".", 1)[-1]]
    hint = f" (did you mean {', '.join(close)}?)" if close else " (python -m crosscheck --list lists them)"
    raise ValueError(f"name: no registered pair {name!r}{hint}")


def _adapted(fn: Callable, adapter: Any, ref_fn: Callable) -> Callable:
    """Your function called with the reference's arguments: ``adapter(fn)``, or a mapping of names."""
    if adapter is None:
        return fn
    if isinstance(adapter, Mapping):
        signature = inspect.signature(ref_fn)
        for key in adapter:
            if key not in signature.parameters:
                raise ValueError(f"adapter: {key!r} is not a parameter of the reference {ref_fn.__name__}")

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = signature.bind(*args, **kwargs)
            mapped = {}
            for key, value in bound.arguments.items():
                target = adapter.get(key, key)
                if target is None:
                    continue
                if isinstance(target, tuple):
                    target, transform = target
                    value = transform(value)
                mapped[target] = value
            return fn(**mapped)

        return call
    if callable(adapter):
        return adapter(fn)
    raise TypeError(f"adapter: expected a callable adapter(fn) or a mapping of argument names, got {adapter!r}")


def _convert(case: Case, side: str, dtype: str, device: str) -> tuple[tuple, dict]:
    convert = _to_reference if side == "numpy" else _to_accelerated
    return convert(tuple(case.args), dtype, device), {k: convert(v, dtype, device) for k, v in case.kwargs.items()}


def _returns_torch(out: Any) -> bool:
    if isinstance(out, torch.Tensor):
        return True
    if isinstance(out, (list, tuple)):
        return any(_returns_torch(v) for v in out)
    return False


def _like(ref_out: Any, your_out: Any) -> Any:
    """A plain tuple for a named tuple of the same length is read as that named tuple (same labels)."""
    fields = getattr(type(ref_out), "_fields", None)
    if fields and type(your_out) in (tuple, list) and len(your_out) == len(fields):
        return type(ref_out)(*your_out)
    return your_out


def _detect(user: Callable, case: Case, dtype: str, device: str) -> str:
    """'numpy' if your function takes the NumPy inputs and returns no tensor, else 'torch' if it takes tensors."""
    try:
        args, kwargs = _convert(case, "numpy", dtype, device)
        if not _returns_torch(user(*args, **kwargs)):
            return "numpy"
        numpy_error = "returned a torch tensor"
    except Exception as err:
        numpy_error = f"{type(err).__name__}: {err}"
    try:
        args, kwargs = _convert(case, "torch", dtype, device)
        user(*args, **kwargs)
    except Exception as err:
        raise TypeError(
            f"side: could not detect whether the function takes NumPy arrays or torch tensors (on NumPy input: "
            f"{numpy_error}; on torch input: {type(err).__name__}: {err}); pass side='numpy' or side='torch'"
        ) from err
    return "torch"


def _snippet(fn: Callable, name: str, case: Case | None, dtype: str, side: str, device: str, adapter: Any) -> str:
    """Source that re-runs :func:`check` on one case."""
    if case is None:
        return "(no input was drawn)"
    module, qualname = getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", repr(fn))
    if isinstance(adapter, Mapping) and all(isinstance(v, str) or v is None for v in adapter.values()):
        adapter_arg, adapter_note = f", adapter={dict(adapter)!r}", ""
    elif adapter is None:
        adapter_arg, adapter_note = "", ""
    else:
        adapter_arg, adapter_note = ", adapter=adapter", "adapter = ...  # the adapter you passed to check\n"
    import_line = f"from {module} import {qualname.split('.')[0]}" if "<" not in qualname else "fn = ...  # yours"
    target = qualname if "<" not in qualname else "fn"
    return (
        "import numpy as np\n"
        "from crosscheck.agree import Case, Exact, Twin\n"
        "from crosscheck.check import check\n"
        f"{import_line}\n{adapter_note}"
        f"args = ({''.join(_literal(a, dtype) + ', ' for a in case.args)})\n"
        f"kwargs = {{{', '.join(f'{k!r}: {_literal(v, dtype)}' for k, v in case.kwargs.items())}}}\n"
        f"check({target}, {name!r}, cases=[Case(args, kwargs)], dtype={dtype!r}, side={side!r}, "
        f"device={device!r}{adapter_arg}).raise_for_failure()"
    )


def check(
    fn: Callable,
    name: str,
    *,
    adapter: Callable[[Callable], Callable] | Mapping[str, Any] | None = None,
    dtype: object = "float64",
    max_examples: int = 100,
    side: str = "auto",
    device: str = "cpu",
    cases: Sequence[Case] | None = None,
    raise_on_failure: bool = False,
    all_inputs: bool = False,
) -> CheckResult:
    """Check ``fn`` against the reference of the registered pair ``name`` on the pair's own inputs.

    Parameters
    ----------
    fn : callable
        Your implementation, called like the reference (``reference.<name>``) unless ``adapter`` says otherwise.
    name : str
        The registered pair, e.g. ``'diffusion.q_posterior'`` (``python -m crosscheck --list``).
    adapter : callable or mapping, optional
        ``adapter(fn)`` returning a callable with the reference's signature, or a mapping from the
        reference's parameter names to yours (``{'x0': 'x_start'}``), to ``(your_name, transform)``
        (``{'schedule': ('betas', lambda s: s.betas)}``) or to ``None`` (not passed); mapped functions are
        called with keyword arguments.
    dtype : str or dtype
        The inputs are rounded to it and compared with the pair's tolerance at it. A torch function gets
        tensors of this dtype; a NumPy function gets the rounded values in float64, as the reference does.
    max_examples : int
        Inputs drawn from the pair's strategy (derandomised: the same inputs every run).
    side : {'auto', 'numpy', 'torch'}
        What your function takes; 'auto' tries NumPy on the first input, then torch.
    device : str
        Torch device of the tensors handed to a torch function.
    cases : sequence of Case, optional
        Run these inputs instead of drawing (what the reproducer does).
    raise_on_failure : bool
        Raise the ``AssertionError`` of :meth:`CheckResult.raise_for_failure` instead of returning.
    all_inputs : bool
        Check every drawn input and count the disagreements (``CheckResult.disagreed``) instead of
        stopping at the first one; no shrinking: the reproducer is the first disagreeing input as drawn.

    Returns
    -------
    CheckResult
        Passed or not, the worst differences, and a reproducer of the failing (or worst) input.

    Raises
    ------
    ValueError
        ``name`` is not registered, or ``side``/``max_examples`` is invalid.
    TypeError
        ``fn`` is not callable, or ``side='auto'`` cannot tell NumPy from torch.

    Examples
    --------
    A NumPy posterior mean and variance written from the formula passes; the variance given for the
    standard deviation (``np.sqrt`` of it) fails:

    >>> import numpy as np
    >>> def q_posterior(x0, x_t, t, schedule):
    ...     shape = t.shape + (1,) * (x0.ndim - t.ndim)
    ...     a = schedule.posterior_mean_coef_x0[t].reshape(shape)
    ...     b = schedule.posterior_mean_coef_xt[t].reshape(shape)
    ...     return a * x0 + b * x_t, schedule.beta_tilde[t].reshape(shape)
    >>> check(q_posterior, "diffusion.q_posterior", max_examples=20).passed
    True
    >>> def wrong(x0, x_t, t, schedule):
    ...     mean, variance = q_posterior(x0, x_t, t, schedule)
    ...     return mean, np.sqrt(variance)
    >>> check(wrong, "diffusion.q_posterior", max_examples=20).passed
    False
    """
    if not callable(fn):
        raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
    if side not in SIDES:
        raise ValueError(f"side: expected one of {SIDES}, got {side!r}")
    if isinstance(max_examples, bool) or not isinstance(max_examples, int) or max_examples < 1:
        raise ValueError(f"max_examples: expected a positive int, got {max_examples!r}")
    dtype = dtype_name(dtype)
    pair = find_pair(name)
    ref_fn, _ = pair.functions()
    signature = inspect.signature(ref_fn)
    user = _adapted(fn, adapter, ref_fn)

    state: dict[str, Any] = {
        "side": side,
        "examples": 0,
        "max_abs": 0.0,
        "max_rel": 0.0,
        "usage": -1.0,
        "t_ref": 0.0,
        "t_you": 0.0,
        "worst": None,
        "failure": None,
        "disagreed": 0,
    }

    def one_case(case: Case) -> None:
        if state["side"] == "auto":
            state["side"] = _detect(user, case, dtype, device)
        ref_args, ref_kwargs = _convert(case, "numpy", dtype, device)
        your_args, your_kwargs = _convert(case, state["side"], dtype, device)
        arguments = signature.bind(*ref_args, **ref_kwargs).arguments
        tol = tolerance_for_your_code(pair.name, dtype, arguments)
        try:
            start = time.perf_counter()
            ref_out = ref_fn(*ref_args, **ref_kwargs)
            t_ref = time.perf_counter() - start
            start = time.perf_counter()
            your_out = user(*your_args, **your_kwargs)
            t_you = time.perf_counter() - start
            your_out = _like(ref_out, your_out)
            # The comparison of assert_agree, on the two outputs already computed (its inputs are none).
            result = assert_agree(
                lambda: ref_out, lambda: your_out, dtype=dtype, device=device, tolerance=tol, name=pair.name
            )
        except Exception as err:
            message = str(err).split("\nreproduce with:")[0]
            if not all_inputs:
                state["failure"] = (case, f"{type(err).__name__}: {message}")
                raise
            state["disagreed"] += 1
            if state["failure"] is None:  # the first, as drawn
                state["failure"] = (case, f"{type(err).__name__}: {message}")
            return
        state["examples"] += 1
        state["t_ref"] += t_ref
        state["t_you"] += t_you
        state["max_abs"] = max(state["max_abs"], result.max_abs)
        state["max_rel"] = max(state["max_rel"], result.max_rel)
        if result.usage > state["usage"]:
            state["usage"], state["worst"] = result.usage, case

    error = None
    try:
        if cases is not None:
            for case in cases:
                one_case(case)
        else:
            test = given(pair.cases(dtype))(one_case)
            test = settings(
                max_examples=max_examples,
                derandomize=True,
                deadline=None,
                database=None,
                print_blob=False,
                suppress_health_check=list(HealthCheck),
            )(test)
            test()
    except Exception as err:
        if state["failure"] is None:  # raised outside the comparison (detection, the strategy)
            if isinstance(err, TypeError) and str(err).startswith("side:"):
                raise
            state["failure"] = (None, f"{type(err).__name__}: {err}")
        error = state["failure"][1]
    if state["failure"] is not None and error is None:  # all_inputs: recorded, not raised
        error = state["failure"][1]
    failing = state["failure"][0] if state["failure"] else state["worst"]
    side_used = state["side"]
    result = CheckResult(
        passed=error is None and state["examples"] > 0,
        pair=pair.name,
        dtype=dtype,
        side=side_used,
        examples=state["examples"],
        max_abs=state["max_abs"],
        max_rel=state["max_rel"],
        usage=max(state["usage"], 0.0),
        time_reference=state["t_ref"],
        time_yours=state["t_you"],
        reproducer=_snippet(fn, pair.name, failing, dtype, side_used, device, adapter),
        error=error if error is not None or state["examples"] else "no input was checked",
        disagreed=state["disagreed"] if all_inputs else int(error is not None),
    )
    return result.raise_for_failure() if raise_on_failure else result


def _match(function_name: str, module_name: str, pairs: list[Pair]) -> tuple[Pair | None, list[str]]:
    """The pair named like the function; among several, the one whose topic is in the module's path."""
    candidates = [p for p in pairs if p.function == function_name]
    if len(candidates) > 1:
        parts = set(module_name.split("."))
        narrowed = [p for p in candidates if set(p.module.split(".")) & parts]
        candidates = narrowed if len(narrowed) == 1 else candidates
    if len(candidates) == 1:
        return candidates[0], []
    return None, [p.name for p in candidates]


def run_against(
    module_name: str,
    *,
    dtypes: Sequence[str] | None = None,
    max_examples: int = 80,
    device: str = "cpu",
    print_fn: Callable[[str], None] = print,
) -> int:
    """Check every function of ``module_name`` named like a registered formula; print a table; exit status.

    A function matches a pair by its name alone (``q_posterior`` matches ``diffusion.q_posterior``);
    where several topics register that name, the one named in the module's path wins, else the row
    says which pairs it could be and is not checked. Only functions defined in the module are matched
    (not names it imports). float64 is always checked first (it detects NumPy or torch); then each of
    ``dtypes`` the pair is registered at, or with ``dtypes=None`` the pair's other registered dtypes for a
    torch function (a NumPy function computes in its own precision: float64 only); after a float64
    failure no other dtype is run. Returns 0 when every match passed, 1 on any failure, 2 when nothing
    matched.

    Examples
    --------
    >>> run_against("math", print_fn=lambda text: None)  # no function of math is named like a formula
    2
    """
    from .report import SHORT, PairOutcome, _pair_rows, _text_table

    module = importlib.import_module(module_name)
    pairs, _ = load_all()
    functions = [
        (fname, obj)
        for fname, obj in sorted(vars(module).items())
        if inspect.isfunction(obj) and not fname.startswith("_") and obj.__module__ == module.__name__
    ]
    rows_by_fn: list[tuple[str, list[PairOutcome], list[CheckResult]]] = []
    skipped = []
    for fname, obj in functions:
        pair, ambiguous = _match(fname, module.__name__, pairs)
        if pair is None:
            if ambiguous:
                skipped.append(f"{fname}: ambiguous, could be {', '.join(ambiguous)} (call check() with the name)")
            continue
        results = []
        first = check(obj, pair.name, dtype="float64", max_examples=max_examples, device=device)
        results.append(first)
        wanted = dtypes if dtypes is not None else (["float64", *pair.dtypes] if first.side == "torch" else [])
        wanted = wanted if first.passed else []  # a float64 failure is the one to fix first
        for d in dict.fromkeys(wanted):
            if d != "float64" and d in pair.dtypes:
                results.append(
                    check(obj, pair.name, dtype=d, max_examples=max_examples, device=device, side=first.side)
                )
        outcomes = [
            PairOutcome(
                pair,
                r.dtype,
                r.examples,
                r.max_abs,
                r.max_rel,
                r.usage,
                r.time_reference,
                r.time_yours,
                r.error if not r.passed else None,
            )
            for r in results
        ]
        rows_by_fn.append((fname, outcomes, results))
    if not rows_by_fn:
        print_fn(f"no function of {module_name} is named like a registered formula (python -m crosscheck --list)")
        for line in skipped:
            print_fn("  " + line)
        return 2
    used = [d for d in SHORT if any(o.dtype == d for _, outs, _ in rows_by_fn for o in outs)]
    header, rows = None, []
    for fname, outcomes, results in rows_by_fn:
        header, (row,) = _pair_rows(outcomes, used)
        rows.append([f"{module_name}.{fname}", results[0].side, *row])
    header = ["function", "takes", *header]
    header[header.index("acc ms")] = "yours ms"
    print_fn(f"Your functions vs reference (max abs / max rel difference over {max_examples} inputs)\n")
    print_fn(_text_table(header, rows))
    for line in skipped:
        print_fn("skipped " + line)
    failed = [r for _, _, results in rows_by_fn for r in results if not r.passed]
    shown = set()
    for r in failed:  # the reproducer of each formula's first failure (the others' inputs can be long)
        more = "" if r.pair in shown else f"\nreproduce with:\n{r.reproducer}"
        shown.add(r.pair)
        print_fn(f"\nFAILED {r.pair} at {r.dtype}: {r.error}{more}")
    print_fn(f"\n{len(rows_by_fn)} functions checked: {'ALL PASSED' if not failed else f'{len(failed)} FAILURES'}")
    return 1 if failed else 0
