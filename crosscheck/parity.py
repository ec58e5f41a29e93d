"""Name parity between the two sides: same public names, same parameter names and kinds.

A module's public names are its ``__all__``. A name that only one side can have is listed in that
side's module docstring on a line ``One-sided names: `name` (reason), ...`` (or ``none``); every listed
name needs its reason in the text that follows it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re


def one_sided_names(module: object) -> set[str]:
    doc = inspect.getdoc(module) or ""
    match = re.search(r"One-sided names:(.*?)(?:\n\s*\n|\Z)", doc, flags=re.S)
    if match is None:
        return set()
    return set(re.findall(r"``?([A-Za-z_][A-Za-z0-9_]*)``?", match.group(1)))


def _signature(obj: object) -> list[tuple[str, str]]:
    target = obj.__init__ if inspect.isclass(obj) else obj
    params = list(inspect.signature(target).parameters.values())
    if inspect.isclass(obj):
        params = params[1:]  # self
    return [(p.name, p.kind.name) for p in params]


def submodules(topic: str, side: str = "reference") -> list[str]:
    """The public submodules of a topic package (``transport.one_d``, ...); empty for a plain module."""
    mod = importlib.import_module(f"{side}.{topic}")
    if not hasattr(mod, "__path__"):
        return []
    return sorted(f"{topic}.{m.name}" for m in pkgutil.iter_modules(mod.__path__) if not m.name.startswith("_"))


def all_modules(topics: tuple[str, ...]) -> list[str]:
    """Every topic and every public submodule of a topic package, as both sides must mirror them."""
    return [name for topic in topics for name in (topic, *submodules(topic))]


def parity_problems(topic: str) -> list[str]:
    """Every difference in names or parameters between ``reference.<topic>`` and ``accelerated.<topic>``.

    ``topic`` is a topic (``"transport"``) or a submodule of one (``"transport.sinkhorn"``); for a
    package the submodules must be the same on both sides.
    """
    ref = importlib.import_module(f"reference.{topic}")
    acc = importlib.import_module(f"accelerated.{topic}")
    problems = []
    for side, mod in (("reference", ref), ("accelerated", acc)):
        if not hasattr(mod, "__all__"):
            problems.append(f"{side}.{topic} has no __all__")
    if problems:
        return problems
    if "." not in topic and submodules(topic) != submodules(topic, "accelerated"):
        problems.append(
            f"{topic}: submodules differ: reference {submodules(topic)}, accelerated {submodules(topic, 'accelerated')}"
        )
    ref_names, acc_names = set(ref.__all__), set(acc.__all__)
    ref_only, acc_only = one_sided_names(ref), one_sided_names(acc)
    for name in sorted(ref_names - acc_names - ref_only):
        problems.append(f"{topic}.{name} exists only in reference and is not listed as one-sided there")
    for name in sorted(acc_names - ref_names - acc_only):
        problems.append(f"{topic}.{name} exists only in accelerated and is not listed as one-sided there")
    for name in sorted(ref_names & acc_names):
        sig_ref, sig_acc = _signature(getattr(ref, name)), _signature(getattr(acc, name))
        if sig_ref != sig_acc:
            problems.append(f"{topic}.{name}: parameters differ: reference {sig_ref}, accelerated {sig_acc}")
    for side, listed, names in (("reference", ref_only, ref_names), ("accelerated", acc_only, acc_names)):
        for name in sorted(listed - names):
            problems.append(f"{side}.{topic} lists one-sided name {name!r} that it does not define")
    return problems
