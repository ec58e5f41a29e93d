"""The crosscheck report as one self-contained page: ``report.html`` next to ``report.md``.

Everything is inline, so the file opens offline and can be mailed or attached to a CI run: the figures
are base64 PNG data URIs drawn with matplotlib, the CSS and the few lines of JavaScript that sort the
tables (click a column header; again to reverse) are in the page. It holds the formula table, the
theorem table with each theorem's details, the slide index (:mod:`crosscheck.slides`) and the figures:
the tolerance usage of every pair and dtype (log scale), every figure the theorem runs saved
(``Evidence.figures``, e.g. the Beigy Example 3.3 histograms), and, where their theorem is in the run,
the figures of :mod:`crosscheck.html_figures`: the ULA stationary variance against the step size,
FID_inf's fit, and the DDPM posterior against the normalised Bayes product.

:func:`write_html` is called by ``python -m crosscheck`` (:func:`crosscheck.report.run`); without
matplotlib the page is written without the drawn figures (a note says so).
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from .html_figures import fid_infinity_figure, png, posterior_figure, ula_variance_figure

__all__ = ["data_uri", "write_html"]

_CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 12.5px; }
th, td { border: 1px solid #ddd; padding: 2px 6px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; position: sticky; top: 0; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable[aria-sort="ascending"]::after { content: " \\25B2"; }
th.sortable[aria-sort="descending"]::after { content: " \\25BC"; }
td.num { text-align: right; font-family: ui-monospace, monospace; }
tr.fail td { background: #fde2e2; }
.summary { font-weight: bold; padding: 0.5em; background: #eef6ee; }
.summary.bad { background: #fde2e2; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 12px; color: #555; }
.deck li { margin: 0.15em 0; } .gap { color: #8a5a00; } .missing { color: #b00; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; }
"""

# Sorting: a cell's key is its number when it reads as one ("1.2e-05", "3.4e-07!"; "0=" is 0), else
# its text; numbers sort before text ("-", "." for not run), so a numeric column keeps its blanks last.
_JS = """
function sortKey(text) {
  var m = /^\\s*([-+]?\\d*\\.?\\d+(?:e[-+]?\\d+)?)/i.exec(text);
  return m ? [0, parseFloat(m[1])] : [1, text.trim().toLowerCase()];
}
function sortTable(th) {
  var table = th.closest("table"), body = table.tBodies[0];
  var col = Array.prototype.indexOf.call(th.parentNode.children, th);
  var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
  Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
  th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
  var rows = Array.prototype.slice.call(body.rows);
  rows.sort(function (a, b) {
    var ka = sortKey(a.cells[col].textContent), kb = sortKey(b.cells[col].textContent);
    if (ka[0] !== kb[0]) return ka[0] - kb[0];
    return (ka[1] < kb[1] ? -1 : ka[1] > kb[1] ? 1 : 0) * dir;
  });
  rows.forEach(function (r) { body.appendChild(r); });
}
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("th.sortable").forEach(function (th) {
    th.addEventListener("click", function () { sortTable(th); });
  });
});
"""

_NUMERIC = re.compile(r"^[-+]?\d*\.?\d+(e[-+]?\d+)?[!=]?$", re.IGNORECASE)


# (text in the theorem's name, caption, figure): drawn by report.html where that theorem is in the run.
_THEOREM_FIGURES = [
    (
        "stationary variance",
        "ULA stationary variance on N(0, 1) against the step size: closed form and a measured run "
        "(reference langevin_sample)",
        ula_variance_figure,
    ),
    (
        "FID_inf recovers the line",
        "FID_inf: FID_N against 1/N and the fitted line, on the theorem's construction and on Gaussian "
        "features with a closed-form limit (reference fid_infinity)",
        fid_infinity_figure,
    ),
    (
        "is the normalised Bayes product",
        "DDPM posterior q(x_(t-1) | x_t, x_0) against the normalised Bayes product, and their log-density "
        "difference (reference q_posterior)",
        posterior_figure,
    ),
]


def data_uri(png: bytes) -> str:
    """A PNG's bytes as a ``data:`` URI for an ``<img src=...>``.

    Parameters
    ----------
    png : bytes
        The PNG file's content.

    Returns
    -------
    str
        ``"data:image/png;base64,..."``.

    Examples
    --------
    >>> data_uri(b"\\x89PNG")
    'data:image/png;base64,iVBORw=='
    """
    if not isinstance(png, (bytes, bytearray)):
        raise TypeError(f"png must be bytes, got {type(png).__name__}")
    return "data:image/png;base64," + base64.b64encode(bytes(png)).decode("ascii")


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], table_id: str, status_col: int | None) -> str:
    head = "".join(f'<th class="sortable" title="click to sort">{_e(h)}</th>' for h in header)
    body = []
    for r in rows:
        cls = ' class="fail"' if status_col is not None and r[status_col] == "FAIL" else ""
        cells = "".join(f'<td class="num">{_e(c)}</td>' if _NUMERIC.match(c) else f"<td>{_e(c)}</td>" for c in r)
        body.append(f"<tr{cls}>{cells}</tr>")
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _usage_figure(pair_outcomes: Sequence, headroom_flag: float) -> bytes | None:
    """Dot chart: per pair (rows) and dtype (markers), the fraction of its tolerance the worst input used."""
    from matplotlib import pyplot as plt

    done = [o for o in pair_outcomes if not o.error]
    if not done:
        return None
    names = list(dict.fromkeys(o.pair.name for o in done))
    positive = [o.usage for o in done if o.usage > 0]
    floor = min(min(positive) / 10.0, 1e-12) if positive else 1e-12
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(names) + 1.6))
    markers = {"float64": "o", "float32": "s", "bfloat16": "^", "float16": "D"}
    for dtype, marker in markers.items():
        sel = [o for o in done if o.dtype == dtype]
        if not sel:
            continue
        y = [names.index(o.pair.name) for o in sel]
        x = [o.usage if o.usage > 0 else floor for o in sel]
        colors = ["tab:red" if not o.passed else "tab:blue" if o.usage > 0 else "tab:gray" for o in sel]
        ax.scatter(x, y, marker=marker, c=colors, s=22, label=dtype, alpha=0.8)
    ax.axvline(1.0, color="tab:red", lw=1, ls="--")
    ax.axvline(headroom_flag, color="tab:orange", lw=1, ls=":")
    ax.set_xscale("log")
    ax.set_yticks(range(len(names)))
    ax.set_yticklabels(names, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"use = max |acc - ref| / (atol + rtol |ref|); fails above 1 (red line); flagged below {headroom_flag:g} "
        f"(orange); bitwise (0) drawn grey at {floor:.0e}",
        fontsize=8,
    )
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Tolerance usage per pair and dtype")
    fig.tight_layout()
    return png(fig)


def _slides_html(pairs, theorems, status: dict[str, str]) -> str:
    from .slides import DECKS, beyond, build_index, slides_dir

    try:
        index = build_index(pairs, theorems)
    except FileNotFoundError:
        return f"<p>(the slides are not at {_e(slides_dir())}: set CROSSCHECK_SLIDES to their folder)</p>"
    out = []
    for short, name, _ in DECKS:
        entries = [e for e in index if e.deck == short]
        if not entries:
            continue
        out.append(f'<h3>{_e(short)}: {_e(name)}</h3><ul class="deck">')
        for e in entries:
            where = f"line {e.line}" if e.line else '<span class="missing">NOT FOUND in the deck</span>'
            items = []
            for f in e.functions:
                pair = f" (pair: {_e(status.get(f, 'registered'))})" if f in e.pairs else ""
                items.append(f"<code>{_e(f)}</code>{pair}")
            items += [
                f"pair <code>{_e(p)}</code>: {_e(status.get(p, 'registered'))}" for p in e.pairs if p not in e.functions
            ]
            items += [f"theorem '{_e(t)}': {_e(status.get(t, 'registered'))}" for t in e.theorems]
            items += [f'<span class="gap">{_e(g.status)}: {_e(g.what)} ({_e(g.reason)})</span>' for g in e.gaps]
            if not (e.functions or e.pairs or e.theorems):
                items.append("cited by no function, pair or theorem")
            sub = "".join(f"<li>{i}</li>" for i in items)
            out.append(f"<li><b>'{_e(e.title)}'</b> ({where})<ul>{sub}</ul></li>")
        out.append("</ul>")
    extra = beyond()
    if extra:
        out.append("<h3>Beyond the slides</h3><ul>")
        out += [f"<li><code>{_e(n)}</code>: {_e(c)}</li>" for n, c in extra]
        out.append("</ul>")
    return "\n".join(out)


def write_html(
    path: Path,
    *,
    title: str,
    header_line: str,
    summary: str,
    ok: bool,
    pair_table: tuple[list[str], list[list[str]]],
    theorem_table: tuple[list[str], list[list[str]]],
    pair_outcomes: Sequence,
    theorem_outcomes: Sequence,
    pairs: Sequence,
    theorems: Sequence,
    figures: Sequence[str],
    headroom_flag: float,
    notes: Sequence[str] = (),
    tolerance_notes: Sequence[str] = (),
    failures: Sequence[tuple[str, str]] = (),
) -> Path:
    """Write the report page to ``path`` and return it.

    Parameters
    ----------
    path : Path
        The file to write (``report.html``).
    title, header_line, summary : str
        The page title, the line with date, environment and command, and the one-line result.
    ok : bool
        Whether every check passed (colours the summary).
    pair_table, theorem_table : tuple
        (header, rows) of the formula and theorem tables, as in ``report.md``.
    pair_outcomes, theorem_outcomes : sequence
        The :class:`crosscheck.runner.PairOutcome` and ``TheoremOutcome`` of the run.
    pairs, theorems : sequence
        The registry rows of the run (for the slide index).
    figures : sequence of str
        PNG files the theorems saved; embedded inline.
    headroom_flag : float
        The usage below which a tolerance is flagged as too wide.
    notes : sequence of str
        Paragraphs of explanation placed above the formula table.
    tolerance_notes : sequence of str
        The headroom flags and tolerance overrides, listed folded under the formula table.
    failures : sequence of (str, str)
        (label, text) of each failure.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> p = write_html(d / "r.html", title="t", header_line="h", summary="s", ok=True,
    ...                pair_table=(["formula"], [["x"]]), theorem_table=(["theorem"], []), pair_outcomes=[],
    ...                theorem_outcomes=[], pairs=[], theorems=[], figures=[], headroom_flag=1e-3)
    >>> "<table" in p.read_text() and "http" not in p.read_text()
    True
    """
    path = Path(path)
    status: dict[str, list[str]] = {}
    for o in pair_outcomes:
        status.setdefault(o.pair.name, []).append(f"{o.dtype} {'passed' if o.passed else 'FAILED'}")
    for o in theorem_outcomes:
        status.setdefault(o.theorem.name, []).append(f"{o.side} {'passed' if o.passed else 'FAILED'}")
    joined = {k: ", ".join(v) for k, v in status.items()}

    imgs: list[tuple[str, str]] = []  # (caption, data URI)
    drawn_note = ""
    try:
        import matplotlib

        matplotlib.use("Agg")
    except ImportError:
        drawn_note = "<p>(matplotlib is not installed: the drawn figures are left out)</p>"
    else:
        usage = _usage_figure(pair_outcomes, headroom_flag)
        if usage is not None:
            imgs.append(("Tolerance usage of every pair and dtype (log scale)", data_uri(usage)))
        for o in theorem_outcomes:  # each drawn once, where its theorem ran (on either side)
            entry = next((e for e in _THEOREM_FIGURES if e[0] in o.theorem.name), None)
            if entry is not None and not any(cap == entry[1] for cap, _ in imgs):
                imgs.append((entry[1], data_uri(entry[2]())))
    for f in figures:
        fp = Path(f)
        if fp.suffix.lower() == ".png" and fp.is_file():
            imgs.append((fp.stem.replace("_", " "), data_uri(fp.read_bytes())))

    ph, pr = pair_table
    th, tr = theorem_table
    details = [
        f"<li><b>{_e(o.theorem.name)}</b> [{_e(o.side)}]: {_e(o.evidence.detail)}</li>"
        for o in theorem_outcomes
        if o.evidence
    ]
    figs = "\n".join(
        f'<figure><img src="{uri}" alt="{_e(cap)}"><figcaption>{_e(cap)}</figcaption></figure>' for cap, uri in imgs
    )
    fail_html = "".join(f"<h3>{_e(label)}</h3><pre>{_e(text)}</pre>" for label, text in failures)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_CSS}</style><script>{_JS}</script></head><body>",
        f"<h1>{_e(title)}</h1>",
        f"<p>{_e(header_line)}</p>",
        f'<p class="summary{"" if ok else " bad"}">{_e(summary)}</p>',
        '<nav><a href="#formulas">Formulas</a> | <a href="#theorems">Theorems</a> | <a href="#figures">Figures</a>'
        ' | <a href="#slides">Slides</a></nav>',
        '<h2 id="formulas">Formulas</h2>',
        *[f"<p>{_e(n)}</p>" for n in notes],
        _table(ph, pr, "formula-table", len(ph) - 1 if ph else None),
        "<details><summary>Tolerance headroom and overrides</summary><ul>"
        + "".join(f"<li>{_e(n)}</li>" for n in tolerance_notes)
        + "</ul></details>",
        '<h2 id="theorems">Slide theorems</h2>',
        _table(th, tr, "theorem-table", len(th) - 1 if th else None),
        f"<details><summary>Details</summary><ul>{''.join(details)}</ul></details>",
        '<h2 id="figures">Figures</h2>',
        drawn_note,
        figs or "<p>(no figures in this run)</p>",
        '<h2 id="slides">Slides</h2>',
        _slides_html(pairs, theorems, joined),
    ]
    if failures:
        parts += ['<h2 id="failures">Failures</h2>', fail_html]
    parts.append("</body></html>")
    path.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return path
