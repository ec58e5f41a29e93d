"""PyTorch implementations of the formulas of :mod:`reference`: same modules, names and parameters.

Batched, device- and dtype-generic (the result follows the inputs), autograd-friendly, with no host
synchronisation: value checks are device-side assertions (:func:`value_checks`: ``True``/``"async"``,
the default; ``"sync"`` to raise the named error at the offending call on a GPU; ``False`` to skip).
"""

import importlib

try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the 'accelerated' package needs PyTorch. On a machine with a CUDA GPU: "
        "`pip install 'dgm-formulas[torch]'` (on Linux x86_64, torch from PyPI is the CUDA build, with "
        "several GB of nvidia-* wheels). On a CPU-only machine, the CPU build first, from PyTorch's CPU "
        "wheel index: `pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`, "
        "then `pip install 'dgm-formulas[torch]'` (README: 'On a fresh machine')"
    ) from err

from ._checks import get_value_checks, set_value_checks, value_checks

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


__all__ = ["TOPICS", *TOPICS, "get_value_checks", "set_value_checks", "value_checks"]
