"""Array checks and small pieces shared by the submodules of :mod:`accelerated.transport` (private).

:func:`_check_clouds` has the same name and contract in ``reference.transport._common``.
"""

from __future__ import annotations

import torch

from reference._args import transport as S

from .. import _checks as C

__all__: list[str] = []

F64 = torch.float64


def _check_weights(name: str, w: torch.Tensor | None, n: int, of: str, like: torch.Tensor, uniform: bool):
    """Weights of a point cloud: ``None`` is uniform (1/n, or kept ``None`` unless ``uniform``);
    otherwise a (n,) probability vector, rescaled to sum exactly to 1."""
    if w is None:
        return torch.full((n,), 1.0 / n, dtype=like.dtype, device=like.device) if uniform else None
    if w.ndim != 1 or w.shape[0] != n:
        raise ValueError(f"{name}: expected shape ({n},) (one weight per point of {of}), got shape {tuple(w.shape)}")
    C.check_simplex(name, w)
    return w / w.sum()


def _check_clouds(x: object, y: object, a: object, b: object, p: object, *, uniform: bool = False):
    """Two discrete measures and the order of the cost, checked; returns ``(x, y, a, b, p)``.

    x (n, d) and y (m, d): finite point clouds of one dimension d; a (n,) and b (m,): weights on the
    simplex, rescaled to sum exactly to 1 (``None``: uniform, returned as 1/n with ``uniform=True``,
    else kept ``None``); one dtype and device for all tensors; p: the order, >= 1 (a Python float).
    """
    p = S.order(p)
    x, y = C.as_float_tensor("x", x), C.as_float_tensor("y", y)
    for name, z in (("x", x), ("y", y)):
        if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
            raise ValueError(
                f"{name}: expected a point cloud of shape (n, d) with n, d >= 1, got shape {tuple(z.shape)}"
            )
    names, tensors = ["x", "y"], [x, y]
    for name, w in (("a", a), ("b", b)):
        if w is not None:
            names.append(name)
            tensors.append(C.as_float_tensor(name, w))
    C.check_same_device_dtype(names, tensors)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"x and y: expected points of the same dimension d, got shapes {tuple(x.shape)} and {tuple(y.shape)}"
        )
    C.check_finite("x", x)
    C.check_finite("y", y)
    a = _check_weights("a", a, x.shape[0], "x", x, uniform)
    b = _check_weights("b", b, y.shape[0], "y", y, uniform)
    return x, y, a, b, p


def _ground_cost(x: torch.Tensor, y: torch.Tensor, p: float) -> torch.Tensor:
    """C_ij = ||x_i - y_j||^p, differentiable (gradient 0 where x_i = y_j), in the dtype of x."""
    diff = x.unsqueeze(-2) - y.unsqueeze(-3)
    sq = (diff * diff).sum(-1)
    if p == 2.0:
        return sq
    positive = sq > 0
    safe = torch.where(positive, sq, torch.ones_like(sq))
    return torch.where(positive, safe ** (0.5 * p), torch.zeros_like(sq))


def _safe_root(value: torch.Tensor, p: float) -> torch.Tensor:
    """max(value, 0)^(1/p) with gradient 0 (not inf or NaN) at 0."""
    positive = value > 0
    safe = torch.where(positive, value, torch.ones_like(value))
    return torch.where(positive, safe ** (1.0 / p), torch.zeros_like(value))
