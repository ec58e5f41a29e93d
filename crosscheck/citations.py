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

import fnmatch
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
# A quoted slide title; an apostrophe followed by a letter ("Hutchinson's") does not close it.
_QUOTED = re.compile(r"'.+?'(?![A-Za-z])|\"[^\"]+\"")
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
    """Drop parenthesised remarks, but not parentheses inside a quoted slide title ('... (NCSN)')."""
    quoted = _QUOTED.findall(text)
    for i, q in enumerate(quoted):
        text = text.replace(q, f"\0{i}\0", 1)
    while True:
        shorter = re.sub(r"\s*\([^()]*\)", "", text)
        if shorter == text:
            break
        text = shorter
    for i, q in enumerate(quoted):
        text = text.replace(f"\0{i}\0", q, 1)
    return " ".join(text.split())


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
        return merge_citations(decks)
    clauses = _split(references(obj))
    if not clauses:
        name = getattr(obj, "__qualname__", repr(obj))
        raise ValueError(f"{name}: its docstring has no References section to read the slide citation from")
    first = re.sub(r"[.\s]*\(?beyond the slides[^)]*\)?\.?", "", clauses[0], flags=re.I).strip()
    return f"{first} (beyond the slides)"


# --------------------------------------------------------------------------- README's table of formulas

_FUNCTION = re.compile(r"`([a-z_]+\.[A-Za-z_][A-Za-z0-9_]*\*?)")


def _reference_objects(dotted: str) -> list[object]:
    """The reference object(s) a README name stands for; ``distributions.gaussian_*`` is every match."""
    module, name = dotted.split(".", 1)
    mod = importlib.import_module(f"reference.{module}")
    names = fnmatch.filter(mod.__all__, name) if name.endswith("*") else [name]
    return [getattr(mod, n) for n in names]


def merge_citations(citations: list[str]) -> str:
    """Deck citations merged per deck, each slide once, in order of first appearance:
    ``["L8 'A'", "L8 'A' and 'B'", "L7 'C'"]`` -> ``"L8 'A', 'B'; L7 'C'"``. A citation without a
    quoted slide name is kept as written."""
    decks: dict[str, list[str]] = {}
    for c in citations:
        deck, _, rest = c.partition(" ")
        names = _QUOTED.findall(rest) or [rest]
        slides = decks.setdefault(deck, [])
        slides += [n for n in names if n not in slides]
    return "; ".join(f"{deck} {', '.join(slides)}" for deck, slides in decks.items())


def row_citation(functions_cell: str) -> str:
    """The slide cell for a README row: the deck citations of its functions merged
    (:func:`merge_citations`), or, for a row beyond the slides, its first function's citation."""
    objects = [obj for dotted in _FUNCTION.findall(functions_cell) for obj in _reference_objects(dotted)]
    cited = [c for obj in objects for c in slide_citations(obj)]
    return merge_citations(cited) if cited else slide_citation(objects[0])


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
