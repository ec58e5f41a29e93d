"""The harness itself: assert_agree catches a wrong implementation and prints a runnable reproducer,
strategies stay in their domains, the report runs and fails when something fails, extras are named."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from hypothesis import given

from accelerated import divergences as acc
from crosscheck import assert_agree, tolerances
from crosscheck import strategies as cs
from crosscheck.agree import Case, Twin, flatten_output, run_both
from crosscheck.registry import PAIRS, load_all
from crosscheck.report import run
from reference import divergences as ref


def test_assert_agree_passes_and_reports_differences():
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    result = assert_agree(ref.kl_divergence, acc.kl_divergence, p, q, dtype="float32")
    assert result.max_abs < 1e-6 and result.usage <= 1.0
    assert result.time_reference >= 0 and result.time_accelerated >= 0


def _wrong_kl(p, q):  # a plausible bug: log base 2
    return acc.kl_divergence(p, q) / np.log(2.0)


_wrong_kl.__module__ = "tests.test_crosscheck_harness"


def test_assert_agree_fails_with_a_reproducer_that_runs_and_fails(tmp_path):
    p, q = np.array([0.2, 0.8]), np.array([0.5, 0.5])
    with pytest.raises(AssertionError) as info:
        assert_agree(ref.kl_divergence, _wrong_kl, p, q, dtype="float64")
    message = str(info.value)
    assert "reproduce with:" in message
    snippet = message.split("reproduce with:\n", 1)[1]
    script = tmp_path / "repro.py"
    script.write_text(snippet)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path.parent),
        check=False,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 1, (done.stdout, done.stderr)  # the script fails as the check did
    assert "AssertionError" in done.stderr and "Not equal to tolerance" in done.stderr, done.stderr
    ref_line, acc_line = done.stdout.strip().splitlines()[:2]
    assert float(ref_line) == pytest.approx(float(ref.kl_divergence(p, q)))
    assert float(acc_line.split("(")[1].split(",")[0]) != pytest.approx(float(ref_line))
    # with a correct implementation the same script exits 0: a regression test to keep
    fixed = snippet.replace("ACC._wrong_kl", "ACC.kl_divergence").replace(
        "tests.test_crosscheck_harness as ACC", "accelerated.divergences as ACC"
    )
    script.write_text(fixed)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=str(tmp_path.parent),
        check=False,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert done.returncode == 0, done.stderr


def test_reference_sees_the_rounded_inputs():
    # 0.1 is not a float32 number: the reference must get float32(0.1) in float64, 0-d arrays stay 0-d.
    def identity(x):
        return x

    for value in (np.array([0.1, 1e-300]), np.array(0.1)):
        ref_out, acc_out = run_both(identity, identity, Case((value,)), dtype="float32")
        expected = value.astype(np.float32).astype(np.float64)
        assert ref_out.dtype == np.float64 and ref_out.shape == value.shape
        np.testing.assert_array_equal(ref_out, expected)
        assert acc_out.dtype == torch.float32 and tuple(acc_out.shape) == value.shape
        np.testing.assert_array_equal(acc_out.numpy().astype(np.float64), expected)


def test_tolerance_table():
    assert tolerances.tolerance_for("anything", torch.float64) == tolerances.DEFAULT["float64"]
    assert tolerances.tolerance_for(None, np.float32) == tolerances.DEFAULT["float32"]
    with pytest.raises(ValueError, match="dtype: expected one of"):
        tolerances.dtype_name("int8")
    for (name, dtype), tol in tolerances.OVERRIDES.items():
        assert dtype in tolerances.DEFAULT and tol.rtol > 0 and "." in name and tol.why
    with pytest.raises(ValueError, match="why: expected a sentence"):
        tolerances.override(1e-3, 1e-3, why="")


def test_flatten_output_handles_structures():
    from collections import namedtuple

    nt = namedtuple("nt", "a b")
    items = flatten_output(nt(torch.tensor([1.0]), [np.array(2.0), 3.0]))
    assert [k for k, _ in items] == ["out.a", "out.b[0]", "out.b[1]"]


def test_twin_builds_the_same_object_on_both_sides():
    rng = np.random.default_rng(3)
    twin = Twin("gan.TanhCritic", W=rng.normal(size=(4, 3)), b=rng.normal(size=3), a=rng.normal(size=3))
    x = rng.normal(size=(5, 2, 2))
    f_ref = twin.build("reference", "float64", "cpu")(x)
    f_acc = twin.build("accelerated", "float64", "cpu")(torch.from_numpy(x))
    np.testing.assert_allclose(f_acc.detach().numpy(), f_ref, rtol=1e-14)


@given(cs.probability_vectors())
def test_probability_vectors_are_on_the_simplex(p):
    assert np.all(p >= 0) and np.allclose(p.sum(-1), 1.0, atol=1e-12)


@given(cs.spd_matrices(max_condition=1e4))
def test_spd_matrices_have_bounded_condition(a):
    w = np.linalg.eigvalsh(a)
    assert np.all(w > 0) and w.max() / w.min() <= 1e4 * (1 + 1e-6)
    np.testing.assert_array_equal(a, a.T)


def test_every_pair_is_registered_once_with_a_slide():
    pairs, theorems = load_all()
    assert len({p.name for p in pairs}) == len(pairs) == len(PAIRS)
    assert all(p.slide for p in pairs) and all(t.slide for t in theorems)


def test_report_runs_and_writes_markdown(tmp_path):
    code = run(["--quick", "--examples", "3", "--filter", "divergences.js", "--out", str(tmp_path)])
    assert code == 0
    text = (tmp_path / "report.md").read_text()
    assert "divergences.js_divergence" in text and "ALL PASSED" in text


def test_report_exits_non_zero_on_failure(tmp_path, monkeypatch):
    import accelerated.divergences as acc_mod

    monkeypatch.setattr(acc_mod, "js_divergence", lambda p, q: 2 * acc.js_divergence(p, q))
    code = run(["--quick", "--examples", "3", "--filter", "divergences.js_divergence", "--out", str(tmp_path)])
    assert code == 1
    assert "FAIL" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(("package", "extra"), [("accelerated", "torch"), ("crosscheck", "test")])
def test_missing_extra_names_the_extra(package, extra):
    code = textwrap.dedent(f"""
        import sys
        sys.modules['torch'] = None
        try:
            import {package}
        except ImportError as err:
            print(err)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert f"dgm-formulas[{extra}]" in done.stdout
