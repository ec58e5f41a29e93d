"""Tensor checks shared by the accelerated metrics submodules (see :mod:`reference._args.metrics`)."""

from __future__ import annotations

import torch

from reference._args import metrics as M

from .. import _checks as C

F64 = torch.float64


def _features(name: str, x: object, *, min_rows: int = 1) -> torch.Tensor:
    """A finite (n, d) floating tensor with at least ``min_rows`` rows and d >= 1 (value check per mode)."""
    x = C.as_float_tensor(name, x)
    M.check_matrix_shape(name, tuple(x.shape), min_rows=min_rows)
    C.check_finite(name, x)
    return x


def _check_sets(names: tuple[str, str], a: object, b: object, *, min_rows: tuple[int, int]) -> tuple[torch.Tensor, ...]:
    """Two finite feature sets (n, d) and (m, d): one dtype, one device, the same d, ``min_rows`` rows each."""
    x, y = C.as_float_tensor(names[0], a), C.as_float_tensor(names[1], b)
    C.check_same_device_dtype(names, (x, y))
    x, y = _features(names[0], x, min_rows=min_rows[0]), _features(names[1], y, min_rows=min_rows[1])
    C.check_same_last_dim(names, (x, y))
    return x, y
