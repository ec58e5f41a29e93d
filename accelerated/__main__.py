"""``python -m accelerated``: the metrics command line (see :mod:`accelerated.cli`)."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
