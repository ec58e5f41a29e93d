"""The crosscheck report: every pair on drawn inputs, every slide theorem, name parity; one table.

Run ``python -m crosscheck --help`` for the options. The report is printed and written as
``report.md`` (with any figures) and as the self-contained page ``report.html``
(:mod:`crosscheck.html_report`) into the output folder; the exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy
import torch

from .parity import all_modules, parity_problems
from .profiles import load_profile
from .registry import TOPICS, Side, load_all
from .runner import PairOutcome, TheoremOutcome, check_pair, check_theorem
from .tolerances import OVERRIDES, tolerance_for

# A pair whose worst input uses less than this fraction of its tolerance is flagged: a tolerance that
# wide could not fail on these inputs (a formula error shows at 1e-3 relative or more).
HEADROOM_FLAG = 1e-3

DEFAULT_EXAMPLES = 80
QUICK_EXAMPLES = 12
ALL_DTYPES = ("float64", "float32", "bfloat16", "float16")
SHORT = {"float64": "f64", "float32": "f32", "bfloat16": "bf16", "float16": "f16"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    default_device = "cuda" if torch.cuda.is_available() else "cpu"
    parser = argparse.ArgumentParser(
        prog="python -m crosscheck",
        description="Check that accelerated/ agrees with reference/ and that the slide theorems hold.",
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=None,
        help=f"inputs drawn per formula and dtype (default {DEFAULT_EXAMPLES}, {QUICK_EXAMPLES} with --quick)",
    )
    parser.add_argument("--device", default=default_device, help=f"torch device (default {default_device})")
    parser.add_argument(
        "--dtype",
        choices=[*ALL_DTYPES, "all"],
        default="all",
        help="dtype(s) for the accelerated side (default all: float64 and float32 for every formula, bfloat16 "
        "and float16 for the training losses and samplers, the mixed-precision pass)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("crosscheck-report"),
        help="folder for report.md and figures (default ./crosscheck-report)",
    )
    parser.add_argument(
        "--filter",
        action="append",
        default=None,
        help="only formulas/theorems whose name contains this text (repeat it: those matching any)",
    )
    parser.add_argument("--quick", action="store_true", help="few examples and small theorem sizes (CI)")
    parser.add_argument(
        "--random",
        action="store_true",
        help="draw fresh random inputs instead of the reproducible derandomised ones",
    )
    parser.add_argument("--list", action="store_true", help="list the registered formulas and theorems")
    parser.add_argument(
        "--against",
        metavar="MODULE",
        default=None,
        help="check YOUR module instead: every function of MODULE named like a registered formula, against "
        "the reference, on the pair's inputs and tolerance (crosscheck.check); --dtype, --examples, --device apply",
    )
    parser.add_argument(
        "--slides",
        action="store_true",
        help="also print the slide index: deck by deck, slide by slide, the functions, pairs and theorems "
        "citing each slide with their status (always in report.md)",
    )
    return parser.parse_args(argv)


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def flagged(outcome: PairOutcome) -> bool:
    """Whether the pair passed with its worst input using less than :data:`HEADROOM_FLAG` of its
    tolerance. A zero tolerance (exact agreement required) can always fail and is never flagged."""
    tol = tolerance_for(outcome.pair.name, outcome.dtype)
    return outcome.passed and outcome.usage < HEADROOM_FLAG and (tol.rtol > 0 or tol.atol > 0)


def bitwise(outcome: PairOutcome) -> bool:
    """Whether every input gave the same bits on both sides (use 0): no tolerance can be sized on
    these inputs; the check still fails on any difference above the tolerance."""
    return outcome.passed and outcome.usage == 0


def _use(outcome: PairOutcome) -> str:
    if bitwise(outcome):
        return "0="
    return _fmt(outcome.usage) + ("!" if flagged(outcome) else "")


def _pair_rows(outcomes: list[PairOutcome], dtypes: list[str]) -> tuple[list[str], list[list[str]]]:
    header = ["formula", "slide"]
    for d in dtypes:
        header += [f"{SHORT[d]} abs", f"{SHORT[d]} rel", f"{SHORT[d]} use"]
    header += ["ref ms", "acc ms", "status"]
    by_name: dict[str, dict[str, PairOutcome]] = {}
    for o in outcomes:
        by_name.setdefault(o.pair.name, {})[o.dtype] = o
    rows = []
    for name, per in by_name.items():
        any_o = next(iter(per.values()))
        row = [name, any_o.pair.slide]
        for d in dtypes:
            o = per.get(d)
            if o is None:  # not registered at this dtype (only training losses and samplers run bf16 / f16)
                row += [".", ".", "."]
            else:
                row += ["-", "-", "-"] if o.error else [_fmt(o.max_abs), _fmt(o.max_rel), _use(o)]
        n = sum(o.examples for o in per.values()) or 1
        row += [
            f"{1e3 * sum(o.time_reference for o in per.values()) / n:.2f}",
            f"{1e3 * sum(o.time_accelerated for o in per.values()) / n:.2f}",
            "ok" if all(o.passed for o in per.values()) else "FAIL",
        ]
        rows.append(row)
    return header, rows


def _theorem_rows(outcomes: list[TheoremOutcome]) -> tuple[list[str], list[list[str]]]:
    header = ["theorem", "slide", "side", "measured", "bound", "s", "status"]
    rows = []
    for o in outcomes:
        ev = o.evidence
        rows.append(
            [
                o.theorem.name,
                o.theorem.slide,
                o.side,
                _fmt(ev.measured) if ev else "-",
                _fmt(ev.bound) if ev else "-",
                f"{o.seconds:.2f}",
                "ok" if o.passed else "FAIL",
            ]
        )
    return header, rows


def _text_table(header: list[str], rows: list[list[str]], max_width: int = 48) -> str:
    cut = [[c if len(c) <= max_width else c[: max_width - 1] + "~" for c in r] for r in [header, *rows]]
    widths = [max(len(r[i]) for r in cut) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cut]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    esc = [[c.replace("|", "\\|") for c in r] for r in [header, *rows]]
    out = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in esc[1:]]
    return "\n".join(out)


def _slide_index(pairs, theorems, pair_outcomes, theorem_outcomes) -> tuple[str, str]:
    """The slide index (text, markdown) with each row's status in this run; a note if the slides are absent."""
    from .slides import build_index, render, slides_dir

    status: dict[str, list[str]] = {}
    for o in pair_outcomes:
        status.setdefault(o.pair.name, []).append(f"{SHORT[o.dtype]} {'passed' if o.passed else 'FAILED'}")
    for o in theorem_outcomes:
        status.setdefault(o.theorem.name, []).append(f"{o.side} {'passed' if o.passed else 'FAILED'}")
    joined = {k: ", ".join(v) for k, v in status.items()}
    try:
        index = build_index(pairs, theorems)
    except FileNotFoundError:
        note = f"(the slides are not at {slides_dir()}: set CROSSCHECK_SLIDES to their folder)"
        return note, note
    return render(index, joined), render(index, joined, markdown=True)


def run(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    load_profile("ci")
    if args.against:
        from .check import run_against

        examples = args.examples or (QUICK_EXAMPLES if args.quick else DEFAULT_EXAMPLES)
        dtypes = None if args.dtype == "all" else [args.dtype]
        return run_against(args.against, dtypes=dtypes, max_examples=examples, device=args.device)
    pairs, theorems = load_all()
    texts = args.filter or [""]
    pairs = [p for p in pairs if any(text in p.name for text in texts)]
    theorems = [t for t in theorems if any(text in t.name for text in texts)]
    if args.list:
        for p in pairs:
            print(f"pair     {p.name:45s} {p.slide}")
        for t in theorems:
            print(f"theorem  {t.name:45s} {t.slide}")
        return 0
    examples = args.examples or (QUICK_EXAMPLES if args.quick else DEFAULT_EXAMPLES)
    dtypes = list(ALL_DTYPES) if args.dtype == "all" else [args.dtype]
    dtypes = [d for d in dtypes if any(d in p.dtypes for p in pairs)]
    out_dir: Path = args.out
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()

    pair_outcomes = []
    for pair in pairs:
        for dtype in [d for d in dtypes if d in pair.dtypes]:
            pair_outcomes.append(
                check_pair(pair, dtype, device=args.device, max_examples=examples, derandomize=not args.random)
            )
    theorem_outcomes = []
    for thm in theorems:
        for side_name in thm.sides:
            side = Side(side_name, device=args.device, out_dir=out_dir, quick=args.quick)
            theorem_outcomes.append(check_theorem(thm, side))
    modules = all_modules(TOPICS)
    parity = {name: parity_problems(name) for name in modules}
    elapsed = time.perf_counter() - start

    failures = [o for o in pair_outcomes if not o.passed] + [o for o in theorem_outcomes if not o.passed]
    parity_failures = {k: v for k, v in parity.items() if v}
    ok = not failures and not parity_failures

    ph, pr = _pair_rows(pair_outcomes, dtypes)
    th, tr = _theorem_rows(theorem_outcomes)
    env = (
        f"python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"torch {torch.__version__}, device {args.device}"
        + (f" ({torch.cuda.get_device_name()})" if args.device.startswith("cuda") else "")
    )
    summary = (
        f"{len(pair_outcomes)} formula checks ({examples} inputs each), {len(theorem_outcomes)} theorem checks, "
        f"parity of {len(modules)} modules: {'ALL PASSED' if ok else 'FAILURES'} in {elapsed:.1f} s"
    )
    headroom = [o for o in pair_outcomes if flagged(o) and not bitwise(o)]
    exact = [f"{o.pair.name} {o.dtype}" for o in pair_outcomes if bitwise(o)]
    headroom_lines = [f"{o.pair.name} {o.dtype}: worst input used {_fmt(o.usage)} of its tolerance" for o in headroom]
    override_lines = [
        f"{name} {dtype} (rtol {t.rtol:g}, atol {t.atol:g}): {t.why}" for (name, dtype), t in OVERRIDES.items()
    ]
    print("Formulas: accelerated vs reference (max abs / max rel difference over all inputs)\n")
    print(_text_table(ph, pr))
    print("\nSlide theorems (measured discrepancy vs the bound it must stay within)\n")
    print(_text_table(th, tr))
    print(
        f"\nTolerance headroom: {len(headroom)} of {len(pair_outcomes)} formula checks used less than "
        f"{HEADROOM_FLAG:g} of their tolerance (marked !)" + "".join(f"\n  {line}" for line in headroom_lines)
    )
    print(f"Agreed bitwise on every input (marked 0=): {len(exact)}: {', '.join(exact)}")
    print("\nName parity: " + ("ok" if not parity_failures else str(parity_failures)))
    details = []
    for o in failures:
        label = o.pair.name + " " + o.dtype if isinstance(o, PairOutcome) else f"{o.theorem.name} [{o.side}]"
        text = o.error if o.error else f"measured {o.evidence.measured!r} > bound {o.evidence.bound!r}"
        details.append(f"### {label}\n\n```\n{text}\n```")
        print(f"\nFAILED {label}:\n{text}")
    slide_index = _slide_index(pairs, theorems, pair_outcomes, theorem_outcomes)
    if args.slides:
        print("\nSlides (deck by deck, in the decks' order)\n")
        print(slide_index[0])
    print("\n" + summary)

    figures = sorted({f for o in theorem_outcomes if o.evidence for f in o.evidence.figures})
    md = [
        "# crosscheck report",
        "",
        f"{_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M UTC}; {env}; "
        f"command: `python -m crosscheck {' '.join(argv if argv is not None else sys.argv[1:])}`",
        "",
        f"**{summary}**",
        "",
        "Slides: L7 = Isachenko, DGM Lecture 7; L8 = Advanced Course on DGM, Lecture 8 (GANs, Samples, "
        "Energy/Score-based models); L13, L14 = Isachenko, DGM Lectures 13 and 14; Beigy = Score-Based "
        "Generative Models.",
        "",
        "## Formulas",
        "",
        "abs = max |accelerated - reference|; rel = the same divided by max(|reference|, atol/rtol) "
        "(tolerances in `crosscheck/tolerances.py`); ms = mean time per input on each side; f64, f32, bf16, "
        "f16 = the tested dtype (the inputs rounded to it; bf16 and f16, the mixed-precision pass, for the "
        "training losses and samplers only: `.` where a formula is not registered at a dtype); use = the "
        "fraction of its tolerance the worst input used, `|acc - ref| / (atol + rtol |ref|)` (a check fails "
        f"above 1), marked `!` below {HEADROOM_FLAG:g}, where the tolerance could not have failed on these inputs, "
        "and `0=` where both sides gave the same bits on every input (nothing to size a tolerance by).",
        "",
        _md_table(ph, pr),
        "",
        f"### Tolerance headroom: {len(headroom)} of {len(pair_outcomes)} checks used less than {HEADROOM_FLAG:g}",
        "",
        *[f"- {line}" for line in headroom_lines],
        "",
        f"Agreed bitwise on every input: {len(exact)} checks: {', '.join(exact) or 'none'}.",
        "",
        "### Tolerance overrides (`crosscheck/tolerances.py`), each with its reason",
        "",
        *[f"- {line}" for line in override_lines],
        "",
        "## Slide theorems",
        "",
        _md_table(th, tr),
        "",
        "Details:",
        "",
        *[f"- **{o.theorem.name}** [{o.side}]: {o.evidence.detail}" for o in theorem_outcomes if o.evidence],
        "",
        "## Slides",
        "",
        "Deck by deck and slide by slide in the decks' order: the functions, pairs and theorems citing each "
        "slide (read from the docstrings' References and the theorems' `slide=`), their status in this run, "
        "and what a slide states that is not implemented or not checkable, with the reason "
        "(`crosscheck/slides.py`).",
        "",
        slide_index[1],
        "## Name parity",
        "",
        "ok" if not parity_failures else "\n".join(f"- {p}" for v in parity_failures.values() for p in v),
    ]
    if figures:
        md += ["", "## Figures", ""] + [f"![{Path(f).stem}]({Path(f).name})" for f in figures]
    if details:
        md += ["", "## Failures", "", *details]
    (out_dir / "report.md").write_text("\n".join(md) + "\n")
    from .html_report import write_html

    write_html(
        out_dir / "report.html",
        title="crosscheck report",
        header_line=md[2].replace("`", ""),
        summary=summary,
        ok=ok,
        pair_table=(ph, pr),
        theorem_table=(th, tr),
        pair_outcomes=pair_outcomes,
        theorem_outcomes=theorem_outcomes,
        pairs=pairs,
        theorems=theorems,
        figures=figures,
        headroom_flag=HEADROOM_FLAG,
        notes=[md[10].replace("`", "")],
        tolerance_notes=[*headroom_lines, *override_lines],
        failures=[(d.split("\n", 1)[0][4:], d.split("```")[1].strip()) for d in details],
    )
    print(f"report written to {out_dir / 'report.md'} and {out_dir / 'report.html'}")
    return 0 if ok else 1
