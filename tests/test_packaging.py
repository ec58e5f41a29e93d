"""A plain (non-editable) install carries every package and subpackage of the repository.

CI installs in editable mode, which reads the source tree and so cannot notice a package left out of
pyproject.toml; a wheel would. Until this test, ``crosscheck.pairs`` and ``crosscheck.theorems`` were
missing from wheels (a fixed ``packages`` list), so ``python -m crosscheck`` failed after ``pip install .``.
"""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("reference", "accelerated", "crosscheck")


def source_packages() -> set[str]:
    """Dotted names of every directory with an __init__.py under the top-level packages."""
    inits = [init for top in TOP_PACKAGES for init in (ROOT / top).rglob("__init__.py")]
    return {".".join(init.parent.relative_to(ROOT).parts) for init in inits}


def test_plain_install_has_every_subpackage(tmp_path):
    # pip builds in an isolated environment with the build-system requirements of pyproject.toml (a fresh
    # venv's own setuptools 65 has no wheel support), so this reads the package index, as CI's install does.
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    shutil.copy(ROOT / "README.md", src)
    for top in TOP_PACKAGES:
        shutil.copytree(ROOT / top, src / top, ignore=shutil.ignore_patterns("__pycache__"))
    site = tmp_path / "site"
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps"]
    subprocess.run([*cmd, "--disable-pip-version-check", "--target", str(site), str(src)], check=True)
    installed = {".".join(init.parent.relative_to(site).parts) for init in site.rglob("__init__.py")}
    expected = source_packages()
    assert {"crosscheck.pairs", "crosscheck.theorems"} <= expected
    assert expected - installed == set(), "packages missing from a plain install"
