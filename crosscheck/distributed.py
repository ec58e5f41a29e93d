"""Run a function on several gloo processes on this machine and collect what each rank returned or raised.

The tool behind the distributed tests (``tests/test_distributed.py``) and usable for checking one's own
distributed code on a CPU: ``on_gloo(fn, world_size, *args)`` spawns ``world_size`` fresh interpreters,
initialises a gloo process group in each (TCP on 127.0.0.1, a free port, a collective timeout), calls
``fn(rank, world_size, *args)`` and returns, in rank order, a :class:`RankResult` per process: the value
it returned, or the type and text of the exception it raised. A process that does not finish within
``timeout`` seconds (a hang in a collective) is killed and the call raises ``TimeoutError``.

``fn`` must be importable by name from a module (spawned interpreters import it again), and its
arguments and return value picklable (NumPy arrays and CPU tensors are).
"""

from __future__ import annotations

import datetime
import socket
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["RankResult", "free_port", "on_gloo"]


class RankResult(NamedTuple):
    """What one rank did: ``value`` if it returned, else ``error`` (exception type name) and ``message``."""

    rank: int
    value: Any
    error: str | None
    message: str | None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world_size: int, port: int, collective_timeout: float, fn: Callable, args: tuple, queue) -> None:
    import torch.distributed as dist

    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world_size,
        timeout=datetime.timedelta(seconds=collective_timeout),
    )
    try:
        queue.put(RankResult(rank, fn(rank, world_size, *args), None, None))
    except Exception as err:  # reported to the parent, which decides what it means
        queue.put(RankResult(rank, None, type(err).__name__, f"{err}\n{traceback.format_exc(limit=4)}"))
    finally:
        dist.destroy_process_group()


def on_gloo(
    fn: Callable, world_size: int, *args: Any, timeout: float = 120.0, collective_timeout: float = 30.0
) -> list[RankResult]:
    """Call ``fn(rank, world_size, *args)`` on ``world_size`` spawned gloo processes; results in rank order.

    Parameters
    ----------
    fn : callable
        Importable by name; its return value must be picklable.
    world_size : int
        Number of processes (at least 1).
    timeout : float
        Seconds for the whole run, start-up included; past it the processes are killed and
        ``TimeoutError`` is raised.
    collective_timeout : float
        The process group's timeout: a collective that waits longer fails on its rank.
    """
    import torch.multiprocessing as mp

    if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
        raise ValueError(f"world_size: expected an int >= 1, got {world_size!r}")
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    procs = mp.start_processes(
        _worker,
        args=(world_size, free_port(), collective_timeout, fn, args, queue),
        nprocs=world_size,
        join=False,
        start_method="spawn",
    )
    deadline = time.monotonic() + timeout
    results: list[RankResult] = []
    try:
        while True:
            while not queue.empty():  # read as results come: a large one would block its sender on the pipe
                results.append(queue.get())
            if procs.join(timeout=0.2) and queue.empty():
                break
            if time.monotonic() >= deadline:
                raise TimeoutError(f"on_gloo: {world_size} processes did not finish within {timeout} s (a hang?)")
    finally:
        for p in procs.processes:
            if p.is_alive():
                p.kill()
    return sorted(results, key=lambda r: r.rank)
