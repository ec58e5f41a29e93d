"""``python -m crosscheck``: the report (see :mod:`crosscheck.report`)."""

import sys

from .report import run

sys.exit(run())
