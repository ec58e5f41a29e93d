"""``assert_agree``: run a reference function and an accelerated function on the same input and compare.

Inputs are given once, as NumPy arrays (or Python scalars, strings, ``None``); floating arrays are
rounded to the tested dtype, handed to the accelerated side as tensors on the tested device, and to the
reference side as the same rounded values in float64. Objects that exist on both sides with the same
parameters (a critic network, say) are passed as :class:`Twin`. On disagreement the ``AssertionError``
carries a snippet that rebuilds the exact case and runs both sides.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np
import torch

from .tolerances import Tolerance, dtype_name, tolerance_for

TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


@dataclass(frozen=True)
class Twin:
    """An object defined on both sides from the same parameter arrays.

    ``Twin("gan.TanhCritic", W=w, b=b, a=a)`` builds ``reference.gan.TanhCritic(W=..., b=..., a=...)``
    for the reference and ``accelerated.gan.TanhCritic(...)`` from tensors for the accelerated side.
    """

    qualname: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __init__(self, qualname: str, **params: Any) -> None:
        object.__setattr__(self, "qualname", qualname)
        object.__setattr__(self, "params", dict(params))

    def build(self, side: str, dtype: str, device: str) -> Any:
        module_name, attr = self.qualname.rsplit(".", 1)
        module = importlib.import_module(f"{side}.{module_name}")
        convert = _to_reference if side == "reference" else _to_accelerated
        params = {k: convert(v, dtype, device) for k, v in self.params.items()}
        return getattr(module, attr)(**params)


@dataclass(frozen=True)
class Exact:
    """An array handed to both sides in float64 whatever the tested dtype (never rounded to it).

    For inputs that are float64 by definition on both sides, such as the betas of a diffusion
    ``Schedule`` (its tables are float64 on the accelerated side too): rounding them to bfloat16 would
    turn a beta of 0.999 into 1 and test a different schedule, not the arithmetic.
    """

    value: np.ndarray


@dataclass(frozen=True)
class Case:
    """One input: positional and keyword arguments, shared by both sides."""

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AgreeResult:
    """Largest differences of one comparison.

    ``max_rel`` is ``|acc - ref| / max(|ref|, atol / rtol)``: relative where the reference is larger
    than the magnitude at which the tolerance turns absolute. ``usage`` is the largest
    ``|acc - ref| / (atol + rtol |ref|)``: the comparison passes while it is at most 1.
    """

    max_abs: float
    max_rel: float
    usage: float
    time_reference: float
    time_accelerated: float


def _round(value: np.ndarray, dtype: str) -> np.ndarray:
    """Round a float array to ``dtype`` and return it in float64 (what both sides then see)."""
    t = torch.from_numpy(np.array(value, dtype=np.float64, order="C"))  # np.array keeps 0-d arrays 0-d
    t = t.to(TORCH_DTYPES[dtype])
    return t.to(torch.float64).numpy()


def _to_reference(value: Any, dtype: str, device: str) -> Any:
    if isinstance(value, Exact):
        return np.asarray(value.value, dtype=np.float64)
    if isinstance(value, Twin):
        return value.build("reference", dtype, device)
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return _round(value, dtype)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_reference(v, dtype, device) for v in value)
    return value


def _to_accelerated(value: Any, dtype: str, device: str) -> Any:
    if isinstance(value, Exact):
        return torch.from_numpy(np.array(value.value, dtype=np.float64, order="C")).to(device)
    if isinstance(value, Twin):
        return value.build("accelerated", dtype, device)
    if isinstance(value, np.ndarray):
        if value.dtype.kind == "f":
            return torch.from_numpy(_round(value, dtype)).to(device=device, dtype=TORCH_DTYPES[dtype])
        return torch.from_numpy(np.array(value, order="C")).to(device)
    if isinstance(value, (list, tuple)):
        return type(value)(_to_accelerated(v, dtype, device) for v in value)
    return value


def flatten_output(out: Any, prefix: str = "out") -> list[tuple[str, np.ndarray]]:
    """Flatten arrays, tensors, scalars, tuples, named tuples and dataclasses into labelled arrays.

    ``None`` (an output not requested) becomes an empty array labelled ``<name>=None``, so both sides
    must agree on which outputs are absent.
    """
    if out is None:
        return [(f"{prefix}=None", np.empty(0))]
    if isinstance(out, torch.Tensor):
        return [(prefix, out.detach().to("cpu", torch.float64).numpy())]
    if isinstance(out, (np.ndarray, np.generic, float, int, bool)):
        return [(prefix, np.asarray(out, dtype=np.float64))]
    if is_dataclass(out) and not isinstance(out, type):
        items: list[tuple[str, np.ndarray]] = []
        for f in fields(out):
            items += flatten_output(getattr(out, f.name), f"{prefix}.{f.name}")
        return items
    if isinstance(out, tuple) and hasattr(out, "_fields"):
        items = []
        for name in out._fields:
            items += flatten_output(getattr(out, name), f"{prefix}.{name}")
        return items
    if isinstance(out, (list, tuple)):
        items = []
        for i, v in enumerate(out):
            items += flatten_output(v, f"{prefix}[{i}]")
        return items
    raise TypeError(f"cannot compare an output of type {type(out).__name__} ({prefix})")


def _literal(value: Any, dtype: str) -> str:
    if isinstance(value, Exact):
        return f"Exact(np.array({np.asarray(value.value, dtype=np.float64).tolist()!r}))"
    if isinstance(value, Twin):
        params = ", ".join(f"{k}={_literal(v, dtype)}" for k, v in value.params.items())
        return f"Twin({value.qualname!r}, {params})"
    if isinstance(value, np.ndarray):
        data = _round(value, dtype) if value.dtype.kind == "f" else value
        return f"np.array({data.tolist()!r}, dtype=np.{data.dtype.name})"
    if isinstance(value, (list, tuple)):
        inner = ", ".join(_literal(v, dtype) for v in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return repr(value)


def reproducer(
    reference_fn: Callable,
    accelerated_fn: Callable,
    case: Case,
    dtype: str,
    device: str,
    tolerance: Tolerance | None = None,
) -> str:
    """Python source that rebuilds ``case``, prints both results and then *fails* as the check did.

    The last line is the same ``assert_agree`` call, with the tolerance that was used written out, so
    the script exits with the ``AssertionError`` while the two sides disagree (and with 0 once they
    agree: a regression test to paste). Printed with every failure of :func:`assert_agree`.
    """
    ref_mod, acc_mod = reference_fn.__module__, accelerated_fn.__module__
    ref_name, acc_name = f"REF.{reference_fn.__name__}", f"ACC.{accelerated_fn.__name__}"
    tol = "" if tolerance is None else f", tolerance=Tolerance(rtol={tolerance.rtol!r}, atol={tolerance.atol!r})"
    lines = [
        "import numpy as np, torch",
        f"import {ref_mod} as REF, {acc_mod} as ACC",
        "from crosscheck.agree import Case, Exact, Twin, assert_agree, run_both",
        "from crosscheck.tolerances import Tolerance",
        f"args = ({''.join(_literal(a, dtype) + ', ' for a in case.args)})",
        f"kwargs = {{{', '.join(f'{k!r}: {_literal(v, dtype)}' for k, v in case.kwargs.items())}}}",
        f"ref, acc = run_both({ref_name}, {acc_name}, Case(args, kwargs), dtype={dtype!r}, device={device!r})",
        "print(ref, acc, sep='\\n')",
        f"assert_agree({ref_name}, {acc_name}, *args, dtype={dtype!r}, device={device!r}{tol}, **kwargs)"
        "  # raises while the two sides disagree",
    ]
    return "\n".join(lines)


def _sync(device: str) -> None:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def run_both(
    reference_fn: Callable,
    accelerated_fn: Callable,
    case: Case,
    *,
    dtype: str = "float64",
    device: str = "cpu",
) -> tuple[Any, Any]:
    """Run both sides on one case (inputs rounded to ``dtype``) and return (reference, accelerated)."""
    dtype = dtype_name(dtype)
    ref_args = _to_reference(tuple(case.args), dtype, device)
    ref_kwargs = {k: _to_reference(v, dtype, device) for k, v in case.kwargs.items()}
    acc_args = _to_accelerated(tuple(case.args), dtype, device)
    acc_kwargs = {k: _to_accelerated(v, dtype, device) for k, v in case.kwargs.items()}
    return reference_fn(*ref_args, **ref_kwargs), accelerated_fn(*acc_args, **acc_kwargs)


def _max_differences(pairs: list[tuple[np.ndarray, np.ndarray]], tol: Tolerance) -> tuple[float, float, float]:
    max_abs = max_rel = usage = 0.0
    floor = tol.atol / tol.rtol if tol.rtol > 0 else np.finfo(np.float64).tiny
    for acc, ref in pairs:
        if ref.size == 0:
            continue
        with np.errstate(invalid="ignore"):
            same = (acc == ref) | (np.isnan(acc) & np.isnan(ref))
            diff = np.where(same, 0.0, np.abs(acc - ref))
        diff = np.where(np.isnan(diff), np.inf, diff)
        finite_ref = np.where(np.isfinite(ref), np.abs(ref), 0.0)
        max_abs = max(max_abs, float(np.max(diff)))
        max_rel = max(max_rel, float(np.max(diff / np.maximum(finite_ref, floor))))
        usage = max(usage, float(np.max(diff / (tol.atol + tol.rtol * finite_ref))))
    return max_abs, max_rel, usage


def assert_agree(
    reference_fn: Callable,
    accelerated_fn: Callable,
    *args: Any,
    dtype: object = "float64",
    device: str = "cpu",
    tolerance: Tolerance | None = None,
    name: str | None = None,
    **kwargs: Any,
) -> AgreeResult:
    """Assert that ``accelerated_fn`` reproduces ``reference_fn`` on the given input.

    Parameters
    ----------
    reference_fn, accelerated_fn : callables
        The two implementations (yours may be either: users check their own code against ``reference``).
    *args, **kwargs
        The input, as NumPy arrays, scalars, strings, ``None`` or :class:`Twin` objects.
    dtype : 'float64', 'float32', torch or NumPy dtype
        Floating inputs are rounded to it; the accelerated side computes in it.
    device : str
        Torch device for the accelerated side ('cpu', 'cuda', ...).
    tolerance : Tolerance, optional
        Overrides the table in :mod:`crosscheck.tolerances` (looked up by ``name`` and ``dtype``).
    name : str, optional
        The formula's name in the tolerance table, e.g. ``'divergences.kl_divergence'``.

    Returns
    -------
    AgreeResult
        The largest absolute and relative differences and the time each side took.

    Raises
    ------
    AssertionError
        With the ``assert_allclose`` report and a snippet that reproduces the case.
    """
    dtype = dtype_name(dtype)
    tol = tolerance or tolerance_for(name, dtype)
    case = Case(tuple(args), dict(kwargs))
    ref_args = _to_reference(tuple(args), dtype, device)
    ref_kwargs = {k: _to_reference(v, dtype, device) for k, v in kwargs.items()}
    acc_args = _to_accelerated(tuple(args), dtype, device)
    acc_kwargs = {k: _to_accelerated(v, dtype, device) for k, v in kwargs.items()}

    start = time.perf_counter()
    ref_out = reference_fn(*ref_args, **ref_kwargs)
    t_ref = time.perf_counter() - start
    _sync(device)
    start = time.perf_counter()
    acc_out = accelerated_fn(*acc_args, **acc_kwargs)
    _sync(device)
    t_acc = time.perf_counter() - start

    ref_items, acc_items = flatten_output(ref_out), flatten_output(acc_out)
    snippet = reproducer(reference_fn, accelerated_fn, case, dtype, device, tol)
    if [k for k, _ in ref_items] != [k for k, _ in acc_items]:
        raise AssertionError(
            f"outputs differ in structure: reference {[k for k, _ in ref_items]}, "
            f"accelerated {[k for k, _ in acc_items]}\nreproduce with:\n{snippet}"
        )
    pairs = []
    for (label, ref), (_, acc) in zip(ref_items, acc_items):
        if ref.shape != acc.shape:
            raise AssertionError(
                f"{label}: shapes differ, reference {ref.shape}, accelerated {acc.shape}\nreproduce with:\n{snippet}"
            )
        try:
            np.testing.assert_allclose(acc, ref, rtol=tol.rtol, atol=tol.atol, err_msg=label)
        except AssertionError as err:
            raise AssertionError(
                f"{name or accelerated_fn.__name__} at {dtype} on {device}: {err}\nreproduce with:\n{snippet}"
            ) from None
        pairs.append((acc, ref))
    max_abs, max_rel, usage = _max_differences(pairs, tol)
    return AgreeResult(max_abs, max_rel, usage, t_ref, t_acc)
