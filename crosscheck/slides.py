"""The slides, browsable: deck by deck, slide by slide, the functions, pairs and theorems that cite each.

The index is built from one source, the slide citations the code already carries: the References of
every public reference function, class and method (:mod:`crosscheck.citations`), and the ``slide=`` of
every theorem row. Each cited slide is located in the deck's text (``../shared/slides/``, its file
found from that folder's README); the slides are listed in the order they appear in the deck. What a
slide states that the code does not implement, or that no finite check can show, is listed in
:data:`GAPS` with its reason and placed at its slide.

``python -m crosscheck.slides`` prints the index (no checks run); ``python -m crosscheck --slides``
prints it with the status of every pair and theorem row after running them, and the report's
``report.md`` has it as its "Slides" section. ``tests/test_slides.py`` fails when a cited slide is not
in its deck, or a public function cites no slide and is not marked "beyond the slides".
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .citations import _QUOTED, references, slide_citations

# The decks in lecture order, each with the words of its row in ../shared/slides/README.md.
DECKS: tuple[tuple[str, str, str], ...] = (
    ("L7", "Isachenko, DGM Lecture 7", "Lecture 7"),
    ("L8", "Advanced Course on DGM, Lecture 8", "Lecture 8"),
    ("L13", "Isachenko, DGM Lecture 13", "Lecture 13"),
    ("L14", "Isachenko, DGM Lecture 14", "Lecture 14"),
    ("Beigy", "Beigy, Score-Based Generative Models", "Beigy"),
)
DECK_NAMES = {short: name for short, name, _ in DECKS}


@dataclass(frozen=True)
class Gap:
    """A formula or claim of a slide that has no function or no check, with the reason."""

    deck: str
    slide: str
    what: str
    status: str  # "not implemented" or "not checkable"
    reason: str


GAPS: tuple[Gap, ...] = (
    Gap(
        "L7",
        "Kantorovich-Rubinstein duality",
        "W_1 as the supremum over all 1-Lipschitz functions",
        "not checkable",
        "a supremum over a function space: checked on finite supports only (the dual LP in 1-D and 2-D), and "
        "as the bound K W_1 >= a clipped critic's objective",
    ),
    Gap(
        "L7",
        "GAN optimality theorem",
        "convergence of the generator for ANY function G and an optimal D at every step",
        "not checkable",
        "a statement over all generators: checked as the gradient flow of V(G, D*) over a categorical generator "
        "on a finite support (JSD -> 0)",
    ),
    Gap(
        "L8",
        "Hard to scale",
        "the nested backprop of tr(grad s) does not scale with d",
        "not checkable",
        "a statement about cost, not a value: the exact trace, its factored MLP form and Hutchinson's estimator "
        "are checked for values; their time is a benchmark question",
    ),
    Gap(
        "Beigy",
        "Introduction",
        "computing Z_theta numerically scales exponentially in the number of dimensions",
        "not checkable",
        "a statement about cost: log_partition_function is a quadrature in d <= 2 on purpose, and no finite "
        "check shows an exponential rate",
    ),
    Gap(
        "Beigy",
        "Denoising Score Matching (DSM)",
        "the sliced score matching estimator is consistent and asymptotically normal",
        "not checkable",
        "an asymptotic statement (m, M -> infinity) under regularity conditions: the finite-sample objective and "
        "its expectation are checked, not the limit law",
    ),
)


def slides_dir() -> Path:
    """``$CROSSCHECK_SLIDES``, else ``../shared/slides`` beside the repository."""
    env = os.environ.get("CROSSCHECK_SLIDES")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "shared" / "slides"


def deck_files(folder: Path | None = None) -> dict[str, Path]:
    """Each deck's text file, read from the table of the slides folder's README."""
    folder = folder or slides_dir()
    table = (folder / "README.md").read_text()
    files = {}
    for short, _, words in DECKS:
        for line in table.split("\n"):
            cells = [c.strip() for c in line.split("|")]
            if len(cells) > 3 and cells[1].endswith(".txt") and re.search(rf"\b{re.escape(words)}\b", cells[2]):
                files[short] = folder / cells[1]
                break
    return files


def normalise(text: str) -> str:
    """A heading as compared: markdown hashes, a leading slide number, quotes' typography, case and
    trailing punctuation removed."""
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("\u201c", '"').replace("\u201d", '"')
    text = re.sub(r"^#+\s*", "", text.strip())
    text = re.sub(r"^\d+\.\s+", "", text)
    return " ".join(text.split()).rstrip(":.").lower()


def _heading_forms(line: str) -> set[str]:
    """The ways a line can name a slide: itself, its parenthesised part ('Theorem (Kantorovich-Rubinstein
    duality)'), and itself without that part."""
    forms = {normalise(line)}
    inner = re.search(r"\(([^()]+)\)", line)
    if inner:
        forms.add(normalise(inner.group(1)))
        forms.add(normalise(line[: inner.start()] + line[inner.end() :]))
    return forms


@dataclass
class Deck:
    short: str
    path: Path
    lines: list[str]

    def locate(self, title: str) -> int | None:
        """The 1-based line number where the slide titled ``title`` first appears, or None."""
        wanted = normalise(title)
        for number, line in enumerate(self.lines, start=1):
            if line.strip() and wanted in _heading_forms(line):
                return number
        return None


def load_decks(folder: Path | None = None) -> dict[str, Deck]:
    return {
        short: Deck(short, path, path.read_text(encoding="utf-8").split("\n"))
        for short, path in deck_files(folder).items()
    }


def parse_citation(text: str) -> list[tuple[str, str]]:
    """``"L8 'A', 'B'; L7 'C'"`` (a report citation, or a theorem's ``slide=``) -> [(deck, title), ...]."""
    out = []
    for part in text.split(";"):
        part = part.strip()
        match = re.match(r"(L7|L8|L13|L14|Beigy)\b,?\s*(.*)", part)
        if match is None:
            continue
        out += [(match.group(1), q[1:-1]) for q in _QUOTED.findall(match.group(2))]
    return out


# --------------------------------------------------------------------------- who cites what


def _own_methods(cls: type) -> list[str]:
    return [k for k, v in vars(cls).items() if not k.startswith("_") and (callable(v) or isinstance(v, classmethod))]


def is_record(obj: object) -> bool:
    """A result record (a dataclass or named tuple with no methods of its own) or a warning category:
    data returned by a function, which carries the citation."""
    if not inspect.isclass(obj):
        return False
    if issubclass(obj, Warning):
        return True
    return (dataclasses.is_dataclass(obj) or issubclass(obj, tuple)) and not _own_methods(obj)


def public_objects() -> list[tuple[str, object]]:
    """Every public function and class of the reference side (``topic.name``), records included."""
    import reference

    out = []
    for topic in reference.TOPICS:
        module = importlib.import_module(f"reference.{topic}")
        out += [(f"{topic}.{name}", getattr(module, name)) for name in module.__all__]
    return out


def citations_of(obj: object) -> list[tuple[str, str]]:
    """(deck, title) of every slide ``obj``'s References cite."""
    return [pair for c in slide_citations(obj) for pair in parse_citation(c)]


def beyond_the_slides(obj: object) -> bool:
    return "beyond the slides" in references(obj).lower()


@dataclass
class Entry:
    """One slide of a deck: where it is, and what implements and checks it."""

    deck: str
    title: str
    line: int | None
    functions: list[str] = field(default_factory=list)
    pairs: list[str] = field(default_factory=list)
    theorems: list[str] = field(default_factory=list)
    gaps: list[Gap] = field(default_factory=list)


def build_index(pairs: Iterable, theorems: Iterable, decks: dict[str, Deck] | None = None) -> list[Entry]:
    """Every cited slide (and every slide with a gap), deck by deck in lecture order, slide by slide in
    the order of the deck's text; a citation whose slide is not in its deck is kept with line None."""
    decks = load_decks() if decks is None else decks
    entries: dict[tuple[str, str], Entry] = {}

    def entry(deck: str, title: str) -> Entry:
        """One entry per slide: titles found at the same line are one slide (the shorter title names it)."""
        line = decks[deck].locate(title) if deck in decks else None
        key = (deck, line if line is not None else normalise(title))
        if key not in entries:
            entries[key] = Entry(deck, title, line)
        elif len(title) < len(entries[key].title):
            entries[key].title = title
        return entries[key]

    for name, obj in public_objects():
        for deck, title in citations_of(obj):
            e = entry(deck, title)
            if name not in e.functions:
                e.functions.append(name)
    for pair in pairs:
        for deck, title in parse_citation(pair.slide):
            entry(deck, title).pairs.append(pair.name)
    for thm in theorems:
        for deck, title in parse_citation(thm.slide):
            e = entry(deck, title)
            if thm.name not in e.theorems:
                e.theorems.append(thm.name)
    for gap in GAPS:
        entry(gap.deck, gap.slide).gaps.append(gap)
    order = {short: i for i, (short, _, _) in enumerate(DECKS)}
    return sorted(entries.values(), key=lambda e: (order[e.deck], e.line is None, e.line or 0, e.title))


def unlocated(index: list[Entry]) -> list[Entry]:
    """The cited slides that are not in their deck's text."""
    return [e for e in index if e.line is None]


def uncited() -> list[str]:
    """Public reference functions and classes that cite no slide and are not marked "beyond the slides"
    (result records and warning categories excepted: the function that returns them cites)."""
    return [
        name
        for name, obj in public_objects()
        if not is_record(obj) and not citations_of(obj) and not beyond_the_slides(obj)
    ]


def beyond() -> list[tuple[str, str]]:
    """(name, first citation) of the public functions beyond the slides."""
    out = []
    for name, obj in public_objects():
        if not is_record(obj) and not citations_of(obj) and beyond_the_slides(obj):
            out.append((name, references(obj).split(";")[0].strip()))
    return out


# --------------------------------------------------------------------------- rendering


def render(index: list[Entry], status: dict[str, str] | None = None, markdown: bool = False) -> str:
    """The index as text (or markdown): per deck, per slide, its functions, pairs, theorems and gaps.

    ``status`` maps a pair or theorem name to its outcome ("passed", "FAILED"); without it the rows are
    listed as registered (no checks run).
    """
    status = status or {}

    def code(name: str) -> str:
        return f"`{name}`" if markdown else name

    lines: list[str] = []
    for short, name, _ in DECKS:
        deck_entries = [e for e in index if e.deck == short]
        if not deck_entries:
            continue
        lines += [f"## {short}: {name}" if markdown else f"{short}: {name}", ""]
        for e in deck_entries:
            where = f"line {e.line}" if e.line else "NOT FOUND in the deck"
            items = []
            for f in e.functions:  # a function and its pair on one line
                pair = f" (pair: {status.get(f, 'registered')})" if f in e.pairs else ""
                items.append(f"{code(f)}{pair}")
            items += [f"pair {code(p)}: {status.get(p, 'registered')}" for p in e.pairs if p not in e.functions]
            items += [f"theorem '{t}': {status.get(t, 'registered')}" for t in e.theorems]
            items += [f"{g.status}: {g.what} ({g.reason})" for g in e.gaps]
            if not (e.functions or e.pairs or e.theorems):
                items.append("cited by no function, pair or theorem")
            lines.append(f"- **'{e.title}'** ({where})" if markdown else f"  '{e.title}' ({where})")
            lines += [("  - " if markdown else "      ") + item for item in items]
        lines.append("")
    extra = beyond()
    if extra:
        lines += ["## Beyond the slides" if markdown else "Beyond the slides", ""]
        lines += [(f"- `{n}`: {c}" if markdown else f"  {n}: {c}") for n, c in extra]
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    from .registry import load_all

    pairs, theorems = load_all()
    index = build_index(pairs, theorems)
    print(render(index))
    missing = unlocated(index)
    for e in missing:
        print(f"NOT FOUND: {e.deck} '{e.title}' is cited but is not a slide of {DECK_NAMES[e.deck]}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
