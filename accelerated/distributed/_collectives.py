"""The process-group plumbing of :mod:`accelerated.distributed`: shard metadata exchanged once, collectives.

Validation errors are raised on every rank alike (the metadata of all shards travels in one small
all-gather before any other collective), so no process is left waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from .. import _checks as C

F64 = torch.float64
_DTYPES = (torch.float64, torch.float32, torch.bfloat16, torch.float16)


def _dist():
    import torch.distributed as dist

    return dist


def _active(group: object) -> bool:
    """True if the call is distributed; a wrong ``group`` is a TypeError on every rank (no collective ran)."""
    dist = _dist()
    if group is not None and not (dist.is_available() and isinstance(group, dist.ProcessGroup)):
        raise TypeError(
            f"group: expected None (the default group) or a torch.distributed.ProcessGroup, got {C.describe(group)}"
        )
    initialised = dist.is_available() and dist.is_initialized()
    if group is not None and not initialised:
        raise RuntimeError(
            "group: torch.distributed is not initialised; call torch.distributed.init_process_group first"
        )
    return initialised


def _comm_device(group: object, data: torch.device | None) -> torch.device:
    """Where the collectives run: CUDA for nccl (the data's device), the CPU for gloo."""
    backend = _dist().get_backend(group)
    if backend == "nccl":
        if data is None:  # this rank's input was refused before it had a device: still take part
            return torch.device("cuda", torch.cuda.current_device())
        if data.type != "cuda":
            raise ValueError(f"group: an nccl process group communicates CUDA tensors, got tensors on {data}")
        return data
    if backend == "gloo":
        return torch.device("cpu")
    return data


def _global_rank(group: object, rank: int) -> int:
    return rank if group is None else _dist().get_global_rank(group, rank)


def _broadcast(tensor: torch.Tensor, src: int, group: object) -> None:
    _dist().broadcast(tensor, src=_global_rank(group, src), group=group)


class _Shards:
    """Sizes of every rank's shards, exchanged once; validation errors raised on every rank alike.

    ``rows[name]`` is the list of row counts in rank order, ``offset[name]`` this rank's first global row.
    """

    def __init__(
        self,
        fn: str,
        group: object,
        names: Sequence[str],
        tensors: Sequence[torch.Tensor | None],
        error: Exception | None,
        device: torch.device,
    ):
        dist = _dist()
        self.group, self.device = group, device
        self.world, self.rank = dist.get_world_size(group), dist.get_rank(group)
        # Per tensor: rows, columns, dtype code, finite flag; first entry: 1 if this rank refused its input.
        local = [torch.tensor([1 if error is not None else 0], dtype=torch.int64)]
        for x in tensors:
            if x is None:
                local.append(torch.tensor([0, 0, -1, 1], dtype=torch.int64))
                continue
            finite = (
                C.finite_flag(x).to(torch.int64).reshape(1).cpu() if x.numel() else torch.ones(1, dtype=torch.int64)
            )
            code = _DTYPES.index(x.dtype) if x.dtype in _DTYPES else len(_DTYPES)
            local.append(torch.cat([torch.tensor([x.shape[0], x.shape[1], code], dtype=torch.int64), finite]))
        mine = torch.cat(local).to(device)
        table = [torch.empty_like(mine) for _ in range(self.world)]
        dist.all_gather(table, mine, group=group)
        rows = torch.stack(table).cpu().tolist()  # the one host read of the metadata
        if error is not None:
            raise error
        refused = [r for r, row in enumerate(rows) if row[0]]
        if refused:
            raise ValueError(
                f"{fn}: rank(s) {refused} refused their input (their error names the argument); "
                f"this rank's input was accepted"
            )
        self.rows, self.offset = {}, {}
        for i, name in enumerate(names):
            n = [row[1 + 4 * i] for row in rows]
            d = [row[2 + 4 * i] for row in rows]
            code = [row[3 + 4 * i] for row in rows]
            finite = [row[4 + 4 * i] for row in rows]
            empty = [r for r, k in enumerate(n) if k == 0]
            if empty:
                raise ValueError(
                    f"{name}: rank(s) {empty} hold an empty shard (0 rows); every rank needs at least "
                    f"one row (row counts by rank: {n})"
                )
            if len(set(d)) > 1:
                raise ValueError(
                    f"{name}: the feature dimension differs between ranks: {d} (by rank); "
                    f"expected the same d everywhere"
                )
            if len(set(code)) > 1:
                names_ = [str(_DTYPES[c]) if c < len(_DTYPES) else "other" for c in code]
                raise ValueError(f"{name}: the dtype differs between ranks: {names_} (by rank)")
            bad = [r for r, f in enumerate(finite) if not f]
            if bad:
                raise ValueError(f"{name}: rank(s) {bad} hold NaN or infinite values; expected finite features")
            self.rows[name] = n
            self.offset[name] = sum(n[: self.rank])
        dims = {rows[0][2 + 4 * i] for i in range(len(names))}
        if len(dims) > 1:
            raise ValueError(f"{', '.join(names)}: expected the same feature dimension, got {sorted(dims)}")

    def total(self, name: str) -> int:
        return sum(self.rows[name])


def _local_features(
    fn: str,
    names: Sequence[str],
    values: Sequence[object],
    group: object,
    min_rows: int = 1,
    check: Callable[[torch.Tensor], object] | None = None,
) -> tuple[list[torch.Tensor], _Shards]:
    """Check this rank's 2-D shards locally, then exchange the sizes; errors reach every rank.

    ``check`` (a value check of one tensor, such as the simplex check of the probabilities) runs in
    ``"sync"`` mode, unless value checks are off, so that its failure is known before the exchange.
    """
    tensors: list[torch.Tensor | None] = [None] * len(values)
    error: Exception | None = None
    try:
        for i, (name, x) in enumerate(zip(names, values)):
            t = C.as_float_tensor(name, x)
            if t.ndim != 2:
                raise ValueError(
                    f"{name}: expected a 2-D tensor of shape (n_local, d), one sample per row, "
                    f"got shape {tuple(t.shape)}"
                )
            tensors[i] = t.detach()
        C.check_same_device_dtype(names, [t for t in tensors if t is not None])
        if check is not None and C.get_value_checks() != "off":
            with C.value_checks("sync"):
                for t in tensors:
                    if t.numel():
                        check(t)
    except (TypeError, ValueError) as err:
        error = err
    data_device = None if error is not None else next(t.device for t in tensors if t is not None)
    device = _comm_device(group, data_device)
    shards = _Shards(fn, group, names, tensors if error is None else [None] * len(values), error, device)
    for name in names:
        total = shards.total(name)
        if total < min_rows:
            raise ValueError(f"{name}: expected at least {min_rows} rows over all ranks, got {total}")
    return tensors, shards


def _all_reduce_sum(t: torch.Tensor, shards: _Shards) -> torch.Tensor:
    buf = t.to(shards.device)
    _dist().all_reduce(buf, op=_dist().ReduceOp.SUM, group=shards.group)
    return buf.to(t.device)
