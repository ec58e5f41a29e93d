"""The registry of formula pairs and slide theorems that the tests and the report both run.

A *pair* names one function that exists on both sides, a hypothesis strategy of inputs for it and,
as PyTorch's OpInfo does with ``error_inputs_func``, the bad inputs it must refuse (:class:`ErrorInput`:
the same error type on both sides, with a message that names the argument). Its slide citation is read
from the reference docstring's References section (:mod:`crosscheck.citations`), where it is written once.
A *theorem* is a check of a statement made on a slide, written once and run on each side through a
:class:`Side` adapter. Topic modules in :mod:`crosscheck.pairs` and :mod:`crosscheck.theorems`
register themselves on import; :func:`load_all` imports them all.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import strategies as st

TOPICS = (
    "divergences",
    "gan",
    "transport",
    "metrics",
    "distributions",
    "models",
    "energy",
    "langevin",
    "score_matching",
    "diffusion",
)


@dataclass(frozen=True)
class ErrorInput:
    """One bad input of a pair: the arguments, the exception both sides raise and a message pattern.

    The arguments are written as for :class:`~crosscheck.agree.Case` (NumPy arrays, Python values,
    :class:`~crosscheck.agree.Twin` objects) and handed to each side in float64. ``match`` is a regular
    expression searched in the message; the message must also name one of the function's parameters.
    """

    args: tuple = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    error: type[Exception] = ValueError
    match: str = ""

    def __post_init__(self) -> None:
        if self.error not in (ValueError, TypeError):
            raise ValueError(f"error: expected ValueError or TypeError, got {self.error!r}")
        if not self.match:
            raise ValueError("match: expected a pattern for the message, got an empty one")


def bad(*args: Any, error: type[Exception] = ValueError, match: str, **kwargs: Any) -> ErrorInput:
    """``bad(x, y, gamma=0.0, match="gamma: expected a finite positive")``: an :class:`ErrorInput`."""
    return ErrorInput(args, kwargs, error, match)


@dataclass(frozen=True)
class Pair:
    """One formula on both sides: ``module.function``, a strategy of :class:`~crosscheck.agree.Case`,
    and the :class:`ErrorInput` list it must refuse alike on both sides."""

    module: str
    function: str
    cases: Callable[[str], st.SearchStrategy]  # dtype name -> strategy of Case
    dtypes: tuple[str, ...] = ("float64", "float32")
    errors: tuple[ErrorInput, ...] = ()

    @property
    def name(self) -> str:
        return f"{self.module}.{self.function}"

    @property
    def slide(self) -> str:
        """The slide citation, read from the reference docstring's References section (written once there)."""
        from .citations import slide_citation

        return slide_citation(self.functions()[0])

    def functions(self) -> tuple[Callable, Callable]:
        ref = importlib.import_module(f"reference.{self.module}")
        acc = importlib.import_module(f"accelerated.{self.module}")
        return getattr(ref, self.function), getattr(acc, self.function)


@dataclass
class Evidence:
    """What a theorem check measured: a discrepancy and the bound it must stay within."""

    measured: float
    bound: float
    detail: str = ""
    figures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(math.isfinite(self.measured) and self.measured <= self.bound)


class Side:
    """Adapter that lets a theorem check be written once and run on either side.

    ``side.lib`` is the ``reference`` or ``accelerated`` package; ``side.array`` turns a NumPy array
    into that side's array type (float64 on ``side.device``); ``side.numpy`` turns a result back.
    """

    def __init__(self, name: str, device: str = "cpu", out_dir: Path | None = None, quick: bool = False):
        if name not in ("reference", "accelerated"):
            raise ValueError(f"name: expected 'reference' or 'accelerated', got {name!r}")
        self.name = name
        self.lib = importlib.import_module(name)
        self.device = device
        self.out_dir = out_dir
        self.quick = quick

    def array(self, x: Any) -> Any:
        x = np.asarray(x)
        if self.name == "reference":
            return x.astype(np.float64) if x.dtype.kind == "f" else x
        t = torch.from_numpy(np.array(x, order="C"))
        return t.to(self.device, torch.float64) if x.dtype.kind == "f" else t.to(self.device)

    def numpy(self, y: Any) -> np.ndarray:
        if isinstance(y, torch.Tensor):
            return y.detach().to("cpu", torch.float64).numpy()
        return np.asarray(y, dtype=np.float64)

    def __repr__(self) -> str:
        return f"Side({self.name!r}, device={self.device!r})"


@dataclass(frozen=True)
class Theorem:
    name: str
    slide: str
    check: Callable[[Side], Evidence]
    sides: tuple[str, ...] = ("reference", "accelerated")


PAIRS: list[Pair] = []
THEOREMS: list[Theorem] = []


def register_pair(
    module: str,
    function: str,
    *,
    cases: Callable[[str], st.SearchStrategy],
    dtypes: tuple[str, ...] = ("float64", "float32"),
    errors: Sequence[ErrorInput] = (),
) -> Pair:
    """Register ``module.function``: its input strategy, dtypes and bad inputs (the slide citation is
    read from the reference docstring, :attr:`Pair.slide`)."""
    pair = Pair(module, function, cases, dtypes, tuple(errors))
    if any(p.name == pair.name for p in PAIRS):
        raise ValueError(f"pair {pair.name} registered twice")
    PAIRS.append(pair)
    return pair


def theorem(name: str, *, slide: str, sides: tuple[str, ...] = ("reference", "accelerated")):
    """Decorator registering a theorem check ``f(side) -> Evidence``."""

    def wrap(check: Callable[[Side], Evidence]) -> Callable[[Side], Evidence]:
        if any(t.name == name for t in THEOREMS):
            raise ValueError(f"theorem {name!r} registered twice")
        THEOREMS.append(Theorem(name, slide, check, sides))
        return check

    return wrap


def load_all() -> tuple[list[Pair], list[Theorem]]:
    """Import every topic's pairs and theorems (idempotent) and return the registries."""
    for topic in TOPICS:
        importlib.import_module(f"crosscheck.pairs.{topic}")
        importlib.import_module(f"crosscheck.theorems.{topic}")
    return PAIRS, THEOREMS
