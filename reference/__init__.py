"""Readable NumPy/SciPy reference implementations of the formulas in the lecture slides.

One function per formula, float64 throughout, local names equal to the slide's symbols, so that the
code can be read beside the slide. Each module docstring names the slides it implements. This side is
the oracle that :mod:`accelerated` is checked against by :mod:`crosscheck`.
"""

import importlib

TOPICS = (
    "divergences",
    "gan",
    "transport",
    "metrics",
    "distributions",
    "models",
    "energy",
    "langevin",
    "score_matching",
    "diffusion",
)


def __getattr__(name: str):
    """Import topic modules on first use (``reference.gan`` works without an explicit import)."""
    if name in TOPICS:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TOPICS", *TOPICS]
