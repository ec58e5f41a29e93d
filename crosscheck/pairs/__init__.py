"""Registered formula pairs, one module per topic (same names as in ``reference`` and ``accelerated``)."""
