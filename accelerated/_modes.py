"""The value-check mode of the accelerated side: on (``"async"``), ``"sync"`` or ``"off"``, and the device assertion.

Shape, dtype and device checks read metadata and always run; value checks (finite, in range, on the
simplex, positive definite) read the data, and this module decides whether they run and how they fail:

* ``"async"`` (the default, or ``True``): :func:`require` hands the 0-d boolean condition to
  ``torch._assert_async``, so the host never waits for the device. On the CPU the assertion is
  evaluated at once and re-raised as the ``ValueError`` naming the argument; on CUDA a failure surfaces
  at the next synchronisation as a device-side assertion.
* ``"sync"``: each condition is read on the host and raises the named ``ValueError`` at the offending
  call (for debugging on a GPU).
* ``"off"`` (or ``False``): the checks and the reductions that feed them are skipped.

Checks are skipped while ``torch.compile`` traces, while a CUDA graph is being captured and inside
``torch.func`` transforms (:func:`value_checks_active`). Every name here is also importable from
:mod:`accelerated._checks`, which the topic modules use as ``C.<name>``.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable

import torch

from reference._args import describe

__all__ = [
    "DEVICE_MESSAGE",
    "MODES",
    "get_value_checks",
    "inside_functorch_transform",
    "mark_validated",
    "off_in_loop",
    "require",
    "set_value_checks",
    "validated",
    "value_checks",
    "value_checks_active",
]

MODES = ("async", "sync", "off")
_state = {"mode": "async"}


def _mode(mode: object) -> str:
    if mode is True:
        return "async"
    if mode is False:
        return "off"
    if isinstance(mode, str) and mode in MODES:
        return mode
    raise TypeError(f"mode: expected True, False or one of {MODES}, got {describe(mode)}")


def set_value_checks(mode: bool | str) -> None:
    """Set the data-reading input checks globally: ``"async"`` (or True, the default), ``"sync"``, ``"off"`` (False).

    ``"async"`` asserts on the device without a host read (on CUDA a failure surfaces at the next
    synchronisation); ``"sync"`` reads every condition on the host and raises the named ``ValueError``
    at the offending call (for debugging on a GPU); ``"off"`` skips the checks.
    """
    _state["mode"] = _mode(mode)


def get_value_checks() -> str:
    """The current mode: ``"async"``, ``"sync"`` or ``"off"``."""
    return _state["mode"]


class value_checks:  # lower-case: used like a function, ``with value_checks(False):``
    """Context manager: ``with value_checks(False):`` skips the value checks inside the block.

    Also ``value_checks("sync")`` (host-read checks that raise at the offending call) and
    ``value_checks(True)`` / ``"async"`` (the default). A plain class rather than a generator-based
    context manager: entering and leaving it costs two dictionary writes.
    """

    __slots__ = ("_mode", "_previous")

    def __init__(self, mode: bool | str) -> None:
        self._mode = _mode(mode)
        self._previous = "async"

    def __enter__(self) -> None:
        self._previous = _state["mode"]
        _state["mode"] = self._mode

    def __exit__(self, *exc: object) -> None:
        _state["mode"] = self._previous


def off_in_loop() -> value_checks | contextlib.nullcontext:
    """``value_checks(False)`` for a sampler's loop (validated at entry); a no-op while ``torch.compile``
    traces, where the checks are skipped anyway and a context manager would only cost a graph break."""
    return contextlib.nullcontext() if torch.compiler.is_compiling() else value_checks(False)


_functorch_level = getattr(torch._C._functorch, "maybe_current_level", None)
_is_compiling = torch.compiler.is_compiling


def _inside_functorch_transform() -> bool:
    """True inside ``torch.func`` transforms (vmap, grad, jacrev, ...), where tensors cannot be read."""
    return _functorch_level is not None and _functorch_level() is not None


inside_functorch_transform = _inside_functorch_transform


def value_checks_active() -> bool:
    """Whether data-reading checks run now: enabled, and not tracing, capturing or inside torch.func.

    Called at every checked call: module-level lookups only (a few hundred nanoseconds).
    """
    if _state["mode"] == "off" or _is_compiling():
        return False
    if _functorch_level is not None and _functorch_level() is not None:
        return False
    return not (torch.cuda.is_initialized() and torch.cuda.is_current_stream_capturing())


DEVICE_MESSAGE = (
    "accelerated: a value check failed on the device; rerun with accelerated.value_checks('sync') "
    "for the ValueError that names the argument"
)


def require(
    ok: torch.Tensor, message: str | Callable[..., str], detail: Callable[..., str] | None = None, *args: object
) -> None:
    """Raise ``ValueError`` where the 0-d boolean tensor ``ok`` is False, without a host read in ``"async"`` mode.

    ``message`` names the argument and what was expected (a string, or a callable ``message(*args)``
    that builds it only on failure); ``detail(*args)``, called on the failure path only (CPU or
    ``"sync"`` mode), may read values to word a fuller message (module-level functions with ``args``
    cost no closure per call). On CUDA the device assertion carries ``message`` if it is a string,
    else :data:`DEVICE_MESSAGE`. Callers build ``ok`` only when :func:`value_checks_active` is True.
    """
    if ok.is_cpu and _state["mode"] != "sync":
        try:
            torch._assert_async(ok)  # evaluated at once on the CPU
        except RuntimeError:
            raise ValueError(_failure_text(message, detail, args)) from None
    elif ok.is_cuda and _state["mode"] != "sync":
        torch._assert_async(ok, message if isinstance(message, str) else DEVICE_MESSAGE)
    elif not bool(ok):  # "sync" mode, or a device without asynchronous assertions
        raise ValueError(_failure_text(message, detail, args))


def _failure_text(message: str | Callable[..., str], detail: Callable[..., str] | None, args: tuple) -> str:
    if detail is not None:
        return detail(*args)
    return message if isinstance(message, str) else message(*args)


_VALIDATED: dict[tuple[int, str], tuple[weakref.ref, int]] = {}


def validated(t: torch.Tensor, check: str) -> bool:
    """Whether ``t``, unchanged since (same version counter), already passed the named check.

    For tables that a training loop passes every step (NCSN's sigmas): checked on first use and after
    any in-place change, not at every call. ``"sync"`` mode checks every call.
    """
    entry = _VALIDATED.get((id(t), check))
    return entry is not None and entry[0]() is t and entry[1] == t._version and _state["mode"] != "sync"


def mark_validated(t: torch.Tensor, check: str) -> None:
    """Record that ``t`` passed ``check`` (its entry goes when ``t`` is garbage collected)."""
    key = (id(t), check)
    _VALIDATED[key] = (weakref.ref(t, lambda _, key=key: _VALIDATED.pop(key, None)), t._version)
