"""Array checks shared by the reference metrics submodules (float64 arrays; see :mod:`reference._args.metrics`)."""

from __future__ import annotations

import numpy as np

from .. import _checks as C
from .._args import metrics as M


def _features(name: str, x: object, *, min_rows: int = 1) -> np.ndarray:
    """A finite (n, d) float64 feature matrix with at least ``min_rows`` rows and d >= 1."""
    x = C.as_float64(name, x)
    M.check_matrix_shape(name, x.shape, min_rows=min_rows)
    C.check_finite(name, x)
    return x


def _check_sets(names: tuple[str, str], a: object, b: object, *, min_rows: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Two finite float64 feature sets (n, d) and (m, d) with the same d and at least ``min_rows`` rows each."""
    x = _features(names[0], a, min_rows=min_rows[0])
    y = _features(names[1], b, min_rows=min_rows[1])
    C.check_same_last_dim(names, (x, y))
    return x, y
