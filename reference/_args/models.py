"""Shapes of the score models' parameters and inputs, checked alike on both sides (pure Python).

Each function takes shapes (tuples, or ``torch.Size``), raises the ``ValueError`` that names the
argument, and returns the sizes read from them; the finiteness of the values is checked on each side.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["inputs", "linear_dim", "mlp_sizes", "param"]


def param(name: str, shape: Sequence[int], ndim: int) -> None:
    """A parameter with exactly ``ndim`` dimensions."""
    if len(shape) != ndim:
        raise ValueError(f"{name}: expected {ndim} dimension(s), got shape {tuple(shape)}")


def linear_dim(W: Sequence[int], b: Sequence[int]) -> int:
    """d of a LinearScore: W (d, d) and b (d,).

    >>> linear_dim((3, 3), (3,))
    3
    """
    param("W", W, 2)
    param("b", b, 1)
    d = b[0]
    if tuple(W) != (d, d):
        raise ValueError(f"W: expected shape ({d}, {d}) (d = {d} from b), got shape {tuple(W)}")
    return d


def mlp_sizes(W1: Sequence[int], b1: Sequence[int], W2: Sequence[int], b2: Sequence[int]) -> tuple[int, int, int]:
    """(d, k, H) of an MLPScore: W1 (d + k, H), b1 (H,), W2 (H, d), b2 (d,), k >= 0.

    >>> mlp_sizes((3, 8), (8,), (8, 2), (2,))
    (2, 1, 8)
    """
    for name, shape, ndim in (("W1", W1, 2), ("b1", b1, 1), ("W2", W2, 2), ("b2", b2, 1)):
        param(name, shape, ndim)
    H, d = W2
    if tuple(b2) != (d,):
        raise ValueError(f"b2: expected shape ({d},) (d from W2 of shape {tuple(W2)}), got shape {tuple(b2)}")
    if tuple(b1) != (H,):
        raise ValueError(f"b1: expected shape ({H},) (H from W2 of shape {tuple(W2)}), got shape {tuple(b1)}")
    if W1[1] != H or W1[0] < d:
        raise ValueError(f"W1: expected shape (d + k, {H}) with d = {d}, k >= 0 (from W2), got shape {tuple(W1)}")
    return d, W1[0] - d, H


def inputs(name: str, shape: Sequence[int], size: int, what: str) -> None:
    """An input of shape (..., size), ``what`` saying where size comes from."""
    if len(shape) < 1 or shape[-1] != size:
        raise ValueError(f"{name}: expected shape (..., {size}) ({what}), got shape {tuple(shape)}")
