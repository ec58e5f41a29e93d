"""Slide citations, written once: in the References section of each reference docstring.

The pair registry (:attr:`crosscheck.registry.Pair.slide`, the report's "slide" column) and README's
table of formulas read them from there. A References section lists citations separated by ``;``; the
ones that name a deck are the slide citations, shortened to the deck shorthands of DESIGN.md:

* ``Isachenko, DGM Lecture 7, slide 'Wasserstein metric'`` -> ``L7 'Wasserstein metric'`` (also
  Lectures 13 and 14, and ``Lecture 13, ...`` continuing an Isachenko citation);
* ``Advanced Course on DGM, Lecture 8, slide 'Inception Score'`` -> ``L8 'Inception Score'``;
* ``Beigy, Score-Based Generative Models, slide 'Score Matching (SM)'`` -> ``Beigy 'Score Matching (SM)'``.

A formula beyond the slides cites its paper first: its citation is that paper, with "beyond the slides".

``python -m crosscheck.citations README.md`` rewrites README's slide column from the docstrings;
``tests/test_readme.py`` requires it to be current.
"""

from __future__ import annotations

import importlib
import inspect
import re
import sys
from pathlib import Path

_DECKS = (
    (re.compile(r"^(?:Isachenko, )?(?:DGM )?Lecture (7|13|14),?\s*"), r"L\1 "),
    (re.compile(r"^Advanced Course on DGM, Lecture 8,?\s*"), "L8 "),
    (re.compile(r"^Beigy, Score-Based Generative Models,?\s*"), "Beigy "),
)
_SLIDE_WORD = re.compile(r"^(?:recap )?(?:slides?|recap slides?)\s+")


def references(obj: object) -> str:
    """The text of the numpydoc References section of ``obj``'s docstring, on one line ('' if none)."""
    doc = inspect.getdoc(obj) or ""
    match = re.search(r"^References\n-+\n(.*?)(?:\n\s*\n|\Z)", doc, flags=re.S | re.M)
    return " ".join(match.group(1).split()) if match else ""


def _split(text: str) -> list[str]:
    """Split on ``;`` outside parentheses and quotes."""
    parts, depth, quote, start = [], 0, False, 0
    for i, ch in enumerate(text):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(depth - 1, 0)
        elif ch == '"':
            quote = not quote
        elif ch == ";" and depth == 0 and not quote:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip().rstrip(".").strip() for p in parts if p.strip()]


def _without_parentheses(text: str) -> str:
    while True:
        shorter = re.sub(r"\s*\([^()]*\)", "", text)
        if shorter == text:
            return " ".join(text.split())
        text = shorter


def _deck_citation(clause: str) -> str | None:
    for pattern, short in _DECKS:
        if pattern.match(clause):
            match = pattern.match(clause)
            rest = _SLIDE_WORD.sub("", clause[match.end() :])
            return match.expand(short) + _without_parentheses(rest)
    return None


def slide_citations(obj: object) -> list[str]:
    """The deck citations of ``obj``'s References, shortened (empty for a formula beyond the slides)."""
    found = []
    for clause in _split(references(obj)):
        short = _deck_citation(clause)
        if short is not None:
            found.append(" ".join(short.split()))
    return found


def slide_citation(obj: object) -> str:
    """One line for the report: the deck citations joined by ``; ``, or the first citation with
    "beyond the slides". ValueError if the docstring has no References section."""
    decks = slide_citations(obj)
    if decks:
        return "; ".join(decks)
    clauses = _split(references(obj))
    if not clauses:
        name = getattr(obj, "__qualname__", repr(obj))
        raise ValueError(f"{name}: its docstring has no References section to read the slide citation from")
    return f"{clauses[0]} (beyond the slides)"


# --------------------------------------------------------------------------- README's table of formulas

_FUNCTION = re.compile(r"`([a-z_]+\.[A-Za-z_][A-Za-z0-9_]*)")


def _reference_object(dotted: str) -> object:
    module, name = dotted.split(".", 1)
    return getattr(importlib.import_module(f"reference.{module}"), name)


def row_citation(functions_cell: str) -> str:
    """The slide cell for a README row: the citations of its functions, in order, each once."""
    cited: list[str] = []
    beyond: list[str] = []
    for dotted in _FUNCTION.findall(functions_cell):
        obj = _reference_object(dotted)
        for c in slide_citations(obj):
            if c not in cited:
                cited.append(c)
        if not slide_citations(obj):
            first = slide_citation(obj)
            if first not in beyond:
                beyond.append(first)
    return "; ".join(cited) if cited else "; ".join(beyond)


def rewrite_readme_table(text: str) -> str:
    """README text with the slide column of its ``| formula | slide | function |`` table recomputed."""
    lines = text.split("\n")
    inside = False
    for i, line in enumerate(lines):
        if line.startswith("| formula | slide | function |"):
            inside = True
            continue
        if inside and not line.startswith("|"):
            inside = False
        if not inside or line.startswith("| ---"):
            continue
        cells = line.split(" | ")
        if len(cells) < 3:
            continue
        formula, functions = cells[0], " | ".join(cells[2:])
        lines[i] = f"{formula} | {row_citation(functions).replace('|', chr(92) + '|')} | {functions}"
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else "README.md")
    path.write_text(rewrite_readme_table(path.read_text()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
