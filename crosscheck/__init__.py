"""Property-based proof that ``accelerated`` agrees with ``reference``, slide-theorem checks, the report.

Public API for users testing their own code against the reference:

* :func:`check` (from :mod:`crosscheck.check`): your function against a registered pair's reference, on
  the pair's own inputs and tolerance, in one call (``python -m crosscheck --against MODULE`` for a module);
* :func:`assert_agree` and :class:`Twin` (from :mod:`crosscheck.agree`);
* :mod:`crosscheck.strategies`, hypothesis strategies for the input domains;
* :mod:`crosscheck.tolerances`, the dtype-keyed tolerance table;
* :mod:`crosscheck.training`, ``count_host_reads`` and ``graph_breaks`` for any training step or sampler;
* ``python -m crosscheck``, the report (see ``python -m crosscheck --help``).
"""

try:
    import hypothesis  # noqa: F401
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "the 'crosscheck' package needs PyTorch and hypothesis. On a machine with a CUDA GPU: "
        "`pip install 'dgm-formulas[test]'` (on Linux x86_64, torch from PyPI is the CUDA build, with "
        "several GB of nvidia-* wheels). On a CPU-only machine, the CPU build first, from PyTorch's CPU "
        "wheel index: `pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu`, "
        "then `pip install 'dgm-formulas[test]'` (README: 'On a fresh machine')"
    ) from err

from . import strategies, tolerances
from .agree import AgreeResult, Case, Twin, assert_agree, run_both
from .check import CheckResult, check

__all__ = [
    "AgreeResult",
    "Case",
    "CheckResult",
    "Twin",
    "assert_agree",
    "check",
    "run_both",
    "strategies",
    "tolerances",
]
