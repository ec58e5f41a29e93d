"""Argument checks of the energy-based models that both sides share (pure Python, no arrays).

The size of the Ising images that exact enumeration can handle (2^(H W) states, H W <= 16). Same
error rule as :mod:`reference._args`: wrong type ``TypeError``, wrong value ``ValueError``, every
message naming the argument.
"""

from __future__ import annotations

from . import count

__all__ = ["MAX_ISING_PIXELS", "enumerable", "ising_size"]

# Exact enumeration of 2^(H W) images: 16 pixels (65536 states) at most.
MAX_ISING_PIXELS = 16


def enumerable(name: str, height: int, width: int) -> tuple[int, int]:
    """(H, W) of images small enough to enumerate all 2^(H W) states of, H W <= 16.

    >>> enumerable("x", 5, 4)
    Traceback (most recent call last):
        ...
    ValueError: x: exact enumeration is limited to 16 pixels (2^16 states), got 5 x 4 = 20
    """
    if height * width > MAX_ISING_PIXELS:
        raise ValueError(
            f"{name}: exact enumeration is limited to {MAX_ISING_PIXELS} pixels (2^16 states), "
            f"got {height} x {width} = {height * width}"
        )
    return height, width


def ising_size(height: object, width: object) -> tuple[int, int]:
    """``height`` and ``width`` of :func:`ising_states`: integers >= 1 (Python or NumPy), H W <= 16.

    >>> ising_size(3, 3)
    (3, 3)
    """
    return enumerable("height, width", count("height", height), count("width", width))
