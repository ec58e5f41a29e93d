"""The two sides expose the same names with the same parameters (DESIGN.md: names are the product)."""

import pytest

import reference
from crosscheck.parity import all_modules, one_sided_names, parity_problems
from crosscheck.registry import TOPICS, load_all


@pytest.mark.parametrize("topic", all_modules(TOPICS))
def test_same_names_and_parameters(topic):
    """Per topic, and per submodule of a topic package (diffusion.schedules, transport.sinkhorn, ...)."""
    assert parity_problems(topic) == []


def test_topics_agree_between_packages():
    import accelerated

    assert reference.TOPICS == accelerated.TOPICS == TOPICS


def test_every_two_sided_function_is_registered_for_agreement():
    """A function on both sides without an agreement pair would escape the crosscheck."""
    import importlib
    import inspect

    pairs, _ = load_all()
    registered = {p.name for p in pairs}
    missing = []
    for topic in TOPICS:
        ref = importlib.import_module(f"reference.{topic}")
        acc = importlib.import_module(f"accelerated.{topic}")
        for name in sorted(set(ref.__all__) & set(acc.__all__)):
            if inspect.isfunction(getattr(ref, name)) and f"{topic}.{name}" not in registered:
                missing.append(f"{topic}.{name}")
    assert missing == []


def test_one_sided_list_is_parsed():
    import types

    mod = types.ModuleType("m", "Doc.\n\nOne-sided names: ``foo`` (needs autograd), ``bar`` (x).\n\nMore.")
    assert one_sided_names(mod) == {"foo", "bar"}
    assert one_sided_names(types.ModuleType("m", "One-sided names: none.")) == set()
