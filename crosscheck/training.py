"""Checks that a training step or a sampler is ready for an accelerator: host reads and graph breaks.

Two questions a user asks of any loop before putting it on a GPU, answered on the CPU:

* :func:`count_host_reads` runs a callable under a ``TorchDispatchMode`` and counts the calls of
  ``aten._local_scalar_dense``, the operator behind ``.item()``, ``bool(t)``, ``float(t)``, ``int(t)``
  and ``.tolist()`` of a tensor: each one, on a GPU, makes the host wait for the device. It also
  counts ``aten._assert_async`` (this library's value checks, which do not wait) separately.
* :func:`graph_breaks` runs ``torch._dynamo.explain`` (the eager backend: no code generation) and
  returns the number of graph breaks with their reasons: every break is a Python round trip inside
  ``torch.compile``.

Both work on this library's functions and on the user's own; the tests use them on a DDPM, an NCSN
and a GAN training step and on the samplers.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode

HOST_READ_OP = "aten._local_scalar_dense.default"
DEVICE_ASSERT_OPS = ("aten._assert_async.default", "aten._assert_async.msg")


class _OpCounter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.ops: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops[str(func)] += 1
        return func(*args, **(kwargs or {}))


@dataclass
class HostReads:
    """What :func:`count_host_reads` saw: host reads, device assertions, and every operator's count."""

    host_reads: int
    device_asserts: int
    ops: Counter = field(repr=False)
    result: Any = field(repr=False, default=None)


def count_host_reads(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> HostReads:
    """Run ``fn(*args, **kwargs)`` and count its host reads (``aten._local_scalar_dense``) and device assertions.

    Operators dispatched inside autograd's backward pass are seen too when ``fn`` calls ``backward``.
    """
    counter = _OpCounter()
    with counter:
        result = fn(*args, **kwargs)
    asserts = sum(counter.ops[name] for name in DEVICE_ASSERT_OPS)
    return HostReads(counter.ops[HOST_READ_OP], asserts, counter.ops, result)


@dataclass
class GraphBreaks:
    """What :func:`graph_breaks` saw: the number of breaks, their reasons, and the number of graphs."""

    count: int
    reasons: list[str]
    graphs: int

    def __str__(self) -> str:
        lines = [f"{self.count} graph break(s) in {self.graphs} graph(s)"]
        lines += [f"  - {r}" for r in self.reasons]
        return "\n".join(lines)


def graph_breaks(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> GraphBreaks:
    """``torch._dynamo.explain(fn)(*args, **kwargs)`` (eager backend), reset before and after."""
    import torch._dynamo

    torch._dynamo.reset()
    try:
        out = torch._dynamo.explain(fn)(*args, **kwargs)
    finally:
        torch._dynamo.reset()
    reasons = [getattr(b, "reason", str(b)) for b in out.break_reasons]
    return GraphBreaks(out.graph_break_count, [str(r).splitlines()[0][:300] for r in reasons], out.graph_count)


__all__ = ["GraphBreaks", "HostReads", "count_host_reads", "graph_breaks"]
