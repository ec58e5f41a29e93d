"""Array checks and small pieces shared by the submodules of :mod:`reference.transport` (private).

:func:`_check_clouds` has the same name and contract in ``accelerated.transport._common``.
"""

from __future__ import annotations

import numpy as np

from reference._args import transport as S

from .. import _checks as C

__all__: list[str] = []


def _check_weights(name: str, w: object, n: int, of: str, uniform: bool) -> np.ndarray | None:
    """Weights of a point cloud: ``None`` is uniform (1/n, or kept ``None`` unless ``uniform``);
    otherwise a (n,) probability vector, rescaled to sum exactly to 1."""
    if w is None:
        return np.full(n, 1.0 / n) if uniform else None
    w = C.as_float64(name, w)
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) (one weight per point of {of}), got shape {w.shape}")
    C.check_simplex(name, w)
    return w / np.sum(w)  # a change within the 1e-5 simplex tolerance, so both marginals have mass 1


def _check_clouds(
    x: object, y: object, a: object, b: object, p: object, *, uniform: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, float]:
    """Two discrete measures and the order of the cost, checked and converted.

    x (n, d) and y (m, d): finite float64 point clouds of one dimension d; a (n,) and b (m,): weights
    on the simplex, rescaled to sum exactly to 1 (``None``: uniform, returned as 1/n with
    ``uniform=True``, else kept ``None``); p: the order, >= 1 (a Python float).
    """
    p = S.order(p)
    x, y = C.as_float64("x", x), C.as_float64("y", y)
    for name, z in (("x", x), ("y", y)):
        if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
            raise ValueError(f"{name}: expected a point cloud of shape (n, d) with n, d >= 1, got shape {z.shape}")
        C.check_finite(name, z)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(f"x and y: expected points of the same dimension d, got shapes {x.shape} and {y.shape}")
    a = _check_weights("a", a, x.shape[0], "x", uniform)
    b = _check_weights("b", b, y.shape[0], "y", uniform)
    return x, y, a, b, p


def _ground_cost(x: np.ndarray, y: np.ndarray, p: float) -> np.ndarray:
    """C_ij = ||x_i - y_j||^p (Euclidean), shape (n, m)."""
    diff = x[:, None, :] - y[None, :, :]
    return np.sqrt(np.sum(diff * diff, axis=-1)) ** p


def _root(value: np.ndarray, p: float) -> np.ndarray:
    """max(value, 0)^(1/p): W_p from W_p^p."""
    return np.maximum(value, 0.0) ** (1.0 / p)
