"""The README's Python examples run as written (GPU lines are skipped on machines without CUDA)."""

import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) >= 4
    namespace: dict = {"my_torch_jsd": None}
    for block in blocks:
        lines = [ln for ln in block.splitlines() if torch.cuda.is_available() or ".cuda()" not in ln]
        exec(compile("\n".join(lines), str(README), "exec"), namespace)


def test_slide_column_is_read_from_the_reference_docstrings():
    """Each citation is written once, in a References section; README's table is generated from them
    (``python -m crosscheck.citations README.md`` rewrites the slide column)."""
    from crosscheck.citations import rewrite_readme_table

    text = README.read_text()
    stale = [(old, new) for old, new in zip(text.split("\n"), rewrite_readme_table(text).split("\n")) if old != new]
    assert stale == []
