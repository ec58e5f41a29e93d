"""Docstrings as issue 11 asks: every public function and class on both sides shows an example that runs
(the doctests themselves run through ``--doctest-modules``), numpydoc sections in order, and every
registered pair's reference cites its slide in a References section (read by the registry)."""

import importlib
import inspect
import re

import pytest

from crosscheck.citations import slide_citation
from crosscheck.registry import TOPICS, load_all

ORDER = ("Parameters", "Returns", "Yields", "Raises", "Warns", "Notes", "References", "Examples")


def _public(side):
    for topic in TOPICS:
        mod = importlib.import_module(f"{side}.{topic}")
        for name in mod.__all__:
            obj = getattr(mod, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                yield f"{side}.{topic}.{name}", obj


PUBLIC = [item for side in ("reference", "accelerated") for item in _public(side)]


def _sections(doc: str) -> list[str]:
    return re.findall(r"^(\w[\w ]*)\n-{3,}$", doc, flags=re.M)


@pytest.mark.parametrize(("name", "obj"), PUBLIC, ids=[n for n, _ in PUBLIC])
def test_public_names_have_an_example_and_ordered_sections(name, obj):
    doc = inspect.getdoc(obj) or ""
    assert ">>>" in doc, f"{name}: no Examples with a doctest"
    known = [s for s in _sections(doc) if s in ORDER]
    assert known == sorted(known, key=ORDER.index), f"{name}: sections out of order: {known}"


def test_every_pair_reads_its_slide_from_the_reference_docstring():
    pairs, _ = load_all()
    assert all(slide_citation(p.functions()[0]) == p.slide for p in pairs)
