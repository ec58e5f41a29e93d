"""Argument checks of the energy-based models that both sides share (pure Python, no arrays).

The size of the Ising images that exact enumeration can handle (2^(H W) states, H W <= 16). Same
error rule as :mod:`reference._args`: wrong type ``TypeError``, wrong value ``ValueError``, every
message naming the argument.
"""

from __future__ import annotations

from . import count

__all__ = [
    "MAX_GRID_POINTS",
    "MAX_ISING_PIXELS",
    "enumerable",
    "grid_points",
    "image_size",
    "ising_size",
    "log_z_message",
]

# Exact enumeration of 2^(H W) images: 16 pixels (65536 states) at most.
MAX_ISING_PIXELS = 16

# The quadrature grid of log_partition_function: n_points^d points evaluated at once, 2^22 at most
# (2048 per axis in 2-D; the points and the energies take about 100 MiB in float64).
MAX_GRID_POINTS = 2**22


def image_size(name: str, shape: tuple[int, ...]) -> None:
    """Images of shape (..., H, W) with H, W >= 1.

    >>> image_size("x", (3, 0))
    Traceback (most recent call last):
        ...
    ValueError: x: expected images of shape (..., H, W) with H, W >= 1, got shape (3, 0)
    """
    if len(shape) < 2 or shape[-2] < 1 or shape[-1] < 1:
        raise ValueError(f"{name}: expected images of shape (..., H, W) with H, W >= 1, got shape {tuple(shape)}")


def grid_points(name: str, n_points: int, d: int) -> int:
    """``n_points`` per axis of a d-dimensional grid of at most :data:`MAX_GRID_POINTS` points.

    >>> grid_points("n_points", 10**7, 1)
    Traceback (most recent call last):
        ...
    ValueError: n_points: the grid of n_points^d = 10000000^1 points exceeds the cap of 4194304 (2^22) points
    """
    if n_points**d > MAX_GRID_POINTS:
        raise ValueError(
            f"{name}: the grid of n_points^d = {n_points}^{d} points exceeds the cap of {MAX_GRID_POINTS} (2^22) points"
        )
    return n_points


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


def log_z_message(dtype: str) -> str:
    """The refusal of a log partition function that is not finite in ``dtype``: both sides raise it.

    >>> log_z_message("float64")[:7]
    'energy:'
    """
    return (
        f"energy: expected energies whose log partition function is finite in {dtype}, got log Z = +-inf "
        f"(exp(-E) underflows to 0 at every grid point of the box, e.g. energies near 1e300 or +inf, or "
        f"overflows, e.g. energies near -1e300)"
    )
