"""Readability figures of issue 11: how much of a reference function is checks, which private helpers
the two sides still share in near-identical copies, and which modules are over about 400 lines.

    python benchmarks/readability.py            # the three tables
    python benchmarks/readability.py --all      # check fraction of every public reference function

*Check lines* are the code lines (no docstring, comment or blank line) of statements that only check
arguments: a ``raise``, an ``if`` whose branches only raise or check, and a call (or an assignment from
a call) of a checker: a function of ``reference._args``, of a side's ``_checks`` module, or one whose
name starts with ``check_`` / ``_check``. The function's ``def`` line is not counted. *Twin helpers*
are a private top-level function of ``reference`` and one of ``accelerated`` in the same topic whose
sources (docstrings dropped) have a ``difflib`` similarity of at least 0.75.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import importlib
import inspect
import pkgutil
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

FIVE = (
    "transport.gaussian_w2",
    "transport.wasserstein_1d",
    "score_matching.denoising_score_matching",
    "score_matching.ncsn_loss",
    "diffusion.classifier_guided_mean",
)
SIMILAR = 0.75
MAX_LINES = 400


def _is_checker(call: ast.AST, namespace: dict) -> bool:
    if not isinstance(call, ast.Call):
        return False
    f = call.func
    name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
    if name.startswith(("check_", "_check")):
        return True
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
        obj = namespace.get(f.value.id)
    else:
        obj = namespace.get(name)
    module = getattr(obj, "__name__", "") if inspect.ismodule(obj) else getattr(obj, "__module__", "") or ""
    return module.startswith("reference._args") or module.endswith("._checks")


def _is_check(stmt: ast.stmt, ns: dict) -> bool:
    if isinstance(stmt, (ast.Raise, ast.Assert)):
        return True
    if isinstance(stmt, ast.Expr):
        return _is_checker(stmt.value, ns)
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        return _is_checker(stmt.value, ns)
    if isinstance(stmt, ast.If):
        return all(_is_check(s, ns) for s in stmt.body + stmt.orelse)
    return False


def _code_lines(source: str, node: ast.AST) -> set[int]:
    lines = source.split("\n")
    out = set()
    for n in range(node.lineno, node.end_lineno + 1):
        text = lines[n - 1].strip()
        if text and not text.startswith("#"):
            out.add(n)
    return out


def check_fraction(fn: object) -> tuple[int, int]:
    """(check lines, code lines) of a function's body, docstring excluded."""
    source = textwrap.dedent(inspect.getsource(fn))
    tree = ast.parse(source).body[0]
    body = tree.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    ns = fn.__globals__
    checks, total = set(), set()

    def walk(stmts: list[ast.stmt]) -> None:
        for s in stmts:
            lines = _code_lines(source, s)
            if _is_check(s, ns):
                checks.update(lines)
                total.update(lines)
            elif isinstance(s, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
                children = [c for f in ("body", "orelse", "finalbody") for c in getattr(s, f, [])]
                inner = set().union(*(_code_lines(source, c) for c in children)) if children else set()
                total.update(lines - inner)
                walk(children)
                for h in getattr(s, "handlers", []):
                    walk(h.body)
            else:
                total.update(lines)

    walk(body)
    return len(checks), len(total)


def _modules(side: str) -> list[object]:
    pkg = importlib.import_module(side)
    names = [m.name for m in pkgutil.walk_packages(pkg.__path__, f"{side}.") if not m.name.endswith("__main__")]
    return [importlib.import_module(n) for n in names]


def _topic(module_name: str) -> str:
    parts = module_name.split(".")
    return parts[1] if len(parts) > 1 else ""


def _private_helpers(side: str) -> dict[str, list[tuple[str, str]]]:
    """topic -> [(qualified name, source without docstring)] of private top-level functions."""
    out: dict[str, list[tuple[str, str]]] = {}
    for mod in _modules(side):
        if mod.__name__.startswith("reference._args"):
            continue
        for name, obj in vars(mod).items():
            if not (inspect.isfunction(obj) and name.startswith("_") and obj.__module__ == mod.__name__):
                continue
            source = textwrap.dedent(inspect.getsource(obj))
            doc = inspect.getdoc(obj)
            if doc:
                source = source.replace(obj.__doc__, "", 1)
            out.setdefault(_topic(mod.__name__), []).append((f"{mod.__name__}.{name}", source))
    return out


def twin_helpers() -> list[tuple[float, str, str, int]]:
    ref, acc = _private_helpers("reference"), _private_helpers("accelerated")
    found = []
    for topic, helpers in ref.items():
        for rname, rsrc in helpers:
            best = max(
                ((difflib.SequenceMatcher(None, rsrc, asrc).ratio(), aname) for aname, asrc in acc.get(topic, [])),
                default=(0.0, ""),
            )
            if best[0] >= SIMILAR:
                found.append((best[0], rname, best[1], rsrc.count("\n")))
    return sorted(found, reverse=True)


def long_modules() -> list[tuple[int, str]]:
    out = []
    for folder in ("reference", "accelerated", "crosscheck"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            n = len(path.read_text().split("\n")) - 1
            if n > MAX_LINES:
                out.append((n, str(path.relative_to(ROOT))))
    return sorted(out, reverse=True)


def _public_functions() -> list[str]:
    names = []
    for topic in importlib.import_module("reference").TOPICS:
        mod = importlib.import_module(f"reference.{topic}")
        names += [f"{topic}.{n}" for n in mod.__all__ if inspect.isfunction(getattr(mod, n))]
    return names


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--all", action="store_true", help="every public reference function, not the five")
    args = parser.parse_args(argv)
    names = _public_functions() if args.all else list(FIVE)
    print("check lines / code lines of reference functions")
    total_c = total_n = 0
    for dotted in names:
        topic, name = dotted.split(".")
        c, n = check_fraction(getattr(importlib.import_module(f"reference.{topic}"), name))
        total_c, total_n = total_c + c, total_n + n
        print(f"  {dotted:50s} {c:3d} / {n:3d} = {c / max(n, 1):4.0%}")
    print(f"  {'all of the above':50s} {total_c:3d} / {total_n:3d} = {total_c / max(total_n, 1):4.0%}")
    twins = twin_helpers()
    exact = sum(1 for ratio, *_ in twins if ratio == 1.0)
    print(f"\nprivate helpers at least {SIMILAR:.0%} identical between the sides: {len(twins)} ({exact} identical)")
    for ratio, rname, aname, lines in twins:
        print(f"  {ratio:4.0%}  {rname}  ~  {aname}  ({lines} lines)")
    longs = long_modules()
    print(f"\nmodules over {MAX_LINES} lines: {len(longs)}")
    for n, path in longs:
        print(f"  {n:5d}  {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
