"""report.html: written by ``python -m crosscheck``, self-contained, and rendered by headless Chromium with
no console error, every figure loaded and sortable tables (issue 14 item 2).

The browser part needs playwright's Python API (``pip install playwright``; no ``playwright install``:
the system's Debian ``chromium`` is used) and ``/usr/bin/chromium`` (``.ci/run`` installs it where it
can); without either it is skipped with the reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parent.parent


# Two runs: "fid" (the FID pairs, so the formula table has rows to sort) and "figures" (the theorems
# whose figures report.html draws itself: the ULA stationary variance, FID_inf's fit, the DDPM posterior).
RUNS = {
    "fid": ["fid"],
    "figures": ["stationary variance", "FID_inf recovers", "normalised Bayes product"],
}
CAPTIONS = ("ULA stationary variance", "FID_inf: FID_N against 1/N", "DDPM posterior q(x_(t-1) | x_t, x_0)")


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report")
    for name, filters in RUNS.items():
        flags = [arg for text in filters for arg in ("--filter", text)]
        proc = subprocess.run(
            [sys.executable, "-m", "crosscheck", "--quick", "--device", "cpu", *flags, "--out", str(out / name)],
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out


def test_report_html_is_self_contained(report):
    for name in RUNS:
        page = report / name / "report.html"
        assert page.is_file()
        assert (report / name / "report.md").is_file()
        text = page.read_text()
        assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.IGNORECASE)
        assert "<table" in text and "formula-table" in text
        assert text.count('<img src="data:image/png;base64,') >= 1
    # the figures run draws each theorem's own figure once, and nothing of them where they did not run
    figures = (report / "figures" / "report.html").read_text()
    fid = (report / "fid" / "report.html").read_text()
    for caption in CAPTIONS:
        assert figures.count(f"<figcaption>{caption}") == 1, caption
        assert caption not in fid, caption


def _browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} does not exist (Debian: apt-get install chromium; .ci/run tries it)")
    return sync_api


@pytest.mark.parametrize("flt", list(RUNS))
def test_report_html_renders_in_chromium(report, flt):
    sync_api = _browser()
    page_file = report / flt / "report.html"
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(f"pageerror: {e}"))
            page.goto(page_file.as_uri())
            page.wait_for_load_state("load")
            n_img, all_loaded = page.evaluate(
                "() => { const im = Array.from(document.images);"
                " return [im.length, im.every(i => i.complete && i.naturalWidth > 0)]; }"
            )
            assert n_img >= (len(CAPTIONS) if flt == "figures" else 1)  # no pairs there: no usage chart
            assert all_loaded, "an <img> did not load"

            if flt == "fid":  # the formula table has rows only where pairs ran
                _check_sorting(page)
        finally:
            browser.close()
    assert not errors, errors


def _check_sorting(page) -> None:
    def column(i: int) -> list[str]:
        return page.eval_on_selector_all("#formula-table tbody tr", f"rows => rows.map(r => r.cells[{i}].textContent)")

    before = column(0)
    assert len(set(before)) >= 2, before
    header = page.locator("#formula-table thead th").nth(0)
    header.click()
    asc = column(0)
    assert asc == sorted(before, key=str.lower)
    header.click()
    desc = column(0)
    assert desc == asc[::-1]
    assert before != asc or before != desc  # one of the two clicks reordered the rows
    # a numeric column sorts by value, not as text
    names = page.eval_on_selector_all("#formula-table thead th", "hs => hs.map(h => h.textContent)")
    i = names.index("ref ms")
    page.locator("#formula-table thead th").nth(i).click()
    values = [float(v) for v in column(i)]
    assert values == sorted(values)
