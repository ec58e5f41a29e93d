"""``crosscheck.check`` and ``python -m crosscheck --against``: your code against the reference (issue 14).

Correct NumPy and torch implementations written here from the formulas pass; deliberately wrong ones
fail, with a reproducer that names the failing input and, run, fails again: an off-by-one time index
(``t - 1``), the variance given where the standard deviation is asked (``sqrt`` of it) and the ½ of a
Gaussian KL left out (``l_t``). The diffusers example runs where diffusers is installed.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from crosscheck import check
from crosscheck.agree import Case
from crosscheck.check import find_pair, run_against
from crosscheck.report import run

ROOT = Path(__file__).resolve().parents[1]
N = 25  # inputs per check


def _shape(t, x):
    return tuple(t.shape) + (1,) * (x.ndim - t.ndim)


# --------------------------------------------------------------------------- implementations under test


def np_q_posterior(x0, x_t, t, schedule):
    s = _shape(t, x0)
    mean = schedule.posterior_mean_coef_x0[t].reshape(s) * x0 + schedule.posterior_mean_coef_xt[t].reshape(s) * x_t
    return mean, schedule.beta_tilde[t].reshape(s)


def torch_q_posterior(x0, x_t, t, schedule):
    s = _shape(t, x0)
    a = schedule.posterior_mean_coef_x0[t].reshape(s).to(x0.dtype)
    b = schedule.posterior_mean_coef_xt[t].reshape(s).to(x0.dtype)
    return a * x0 + b * x_t, schedule.beta_tilde[t].reshape(s)


def off_by_one_q_posterior(x0, x_t, t, schedule):
    return np_q_posterior(x0, x_t, t - 1, schedule)  # the slide's step t read as position t: t - 1 twice


def std_for_variance_q_posterior(x0, x_t, t, schedule):
    mean, variance = np_q_posterior(x0, x_t, t, schedule)
    return mean, np.sqrt(variance)


def _l_t(x0, x_t, eps_pred, t, schedule, half):
    s = _shape(t, x0)
    mean_q, var = np_q_posterior(x0, x_t, t, schedule)
    mu = (x_t - schedule.betas[t].reshape(s) / schedule.sqrt_one_minus_alpha_bars[t].reshape(s) * eps_pred) / np.sqrt(
        schedule.alphas[t].reshape(s)
    )
    kl = half * ((mean_q - mu) ** 2 / var)
    return np.sum(kl, axis=tuple(range(1, x0.ndim)))


def np_l_t(x0, x_t, eps_pred, t, schedule):
    return _l_t(x0, x_t, eps_pred, t, schedule, 0.5)


def no_half_l_t(x0, x_t, eps_pred, t, schedule):
    return _l_t(x0, x_t, eps_pred, t, schedule, 1.0)


# --------------------------------------------------------------------------- check


def test_correct_numpy_implementation_passes_and_is_detected_as_numpy():
    result = check(np_q_posterior, "diffusion.q_posterior", max_examples=N)
    assert result.passed, result.error
    assert (result.side, result.pair, result.dtype, result.examples) == ("numpy", "diffusion.q_posterior", "float64", N)
    assert result.usage <= 1.0 and result.error is None
    assert result.raise_for_failure() is result


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_correct_torch_implementation_passes_and_is_detected_as_torch(dtype):
    result = check(torch_q_posterior, "diffusion.q_posterior", dtype=dtype, max_examples=N)
    assert result.passed, result.error
    assert result.side == "torch"


@pytest.mark.parametrize(
    ("fn", "name"),
    [
        (off_by_one_q_posterior, "diffusion.q_posterior"),
        (std_for_variance_q_posterior, "diffusion.q_posterior"),
        (no_half_l_t, "diffusion.l_t"),
    ],
    ids=["off-by-one time index", "variance for std", "missing one half"],
)
def test_wrong_implementations_fail_with_a_reproducer_that_fails_again(fn, name):
    result = check(fn, name, max_examples=N)
    assert not result.passed and result.disagreed == 1  # stopped at the first, then shrunk
    assert "Not equal to tolerance" in result.error
    # The reproducer names the input: the arrays, the positions and the schedule's betas, written out.
    assert "args = (np.array(" in result.reproducer and "Twin('diffusion.Schedule'" in result.reproducer
    assert f"from {fn.__module__} import {fn.__name__}" in result.reproducer
    with pytest.raises(AssertionError, match="reproduce with"):
        result.raise_for_failure()
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        exec(result.reproducer, {})  # the snippet re-runs check on that one input: it fails again
    with pytest.raises(AssertionError):
        check(fn, name, max_examples=N, raise_on_failure=True)


def test_the_correct_l_t_passes():
    assert check(np_l_t, "diffusion.l_t", max_examples=N).passed


def test_adapter_maps_names_and_transforms():
    def mine(x_start, x_noisy, timesteps, betas):  # another library's argument names, raw betas
        from reference.diffusion import Schedule

        return np_q_posterior(x_start, x_noisy, timesteps, Schedule(betas))

    adapter = {"x0": "x_start", "x_t": "x_noisy", "t": "timesteps", "schedule": ("betas", lambda s: s.betas)}
    assert check(mine, "diffusion.q_posterior", adapter=adapter, max_examples=N).passed
    swapped = check(mine, "diffusion.q_posterior", adapter={**adapter, "x0": "x_noisy", "x_t": "x_start"})
    assert not swapped.passed
    wrapped = check(mine, "diffusion.q_posterior", adapter=lambda f: lambda x0, x_t, t, s: f(x0, x_t, t, s.betas))
    assert wrapped.passed


def test_explicit_cases_run_instead_of_drawing():
    from crosscheck.agree import Exact, Twin

    S = Twin("diffusion.Schedule", betas=Exact(np.array([0.1, 0.2, 0.5])))
    case = Case((np.array([[2.0]]), np.array([[5.0]]), np.array([0]), S))
    assert check(np_q_posterior, "diffusion.q_posterior", cases=[case]).examples == 1
    assert not check(off_by_one_q_posterior, "diffusion.q_posterior", cases=[case]).passed  # t - 1 = -1 wraps


def test_bad_arguments_are_refused_by_name():
    with pytest.raises(ValueError, match=r"name: no registered pair 'diffusion\.q_posteriorr'"):
        check(np_q_posterior, "diffusion.q_posteriorr")
    with pytest.raises(ValueError, match=r"did you mean diffusion\.q_posterior"):
        find_pair("q_posterior")
    with pytest.raises(ValueError, match="side: expected"):
        check(np_q_posterior, "diffusion.q_posterior", side="jax")
    with pytest.raises(ValueError, match="max_examples: expected a positive int"):
        check(np_q_posterior, "diffusion.q_posterior", max_examples=0)
    with pytest.raises(TypeError, match="fn: expected a callable"):
        check("q_posterior", "diffusion.q_posterior")
    with pytest.raises(ValueError, match="adapter: 'x' is not a parameter"):
        check(np_q_posterior, "diffusion.q_posterior", adapter={"x": "y"})
    with pytest.raises(TypeError, match="side: could not detect"):
        check(lambda *a: 1 / 0, "diffusion.q_posterior", max_examples=2)


# --------------------------------------------------------------------------- --against


def _module(tmp_path, monkeypatch, name: str, body: str) -> str:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


MODULE = """
    import numpy as np
    from reference.diffusion import q_sample  # imported, not defined here: not checked

    def q_posterior(x0, x_t, t, schedule):
        s = t.shape + (1,) * (x0.ndim - t.ndim)
        a, b = schedule.posterior_mean_coef_x0[t].reshape(s), schedule.posterior_mean_coef_xt[t].reshape(s)
        return a * x0 + b * x_t, schedule.beta_tilde[t].reshape(s){wrong}

    def helper(x):  # named like no formula: not checked
        return x
"""


def test_against_passes_on_a_correct_module(tmp_path, monkeypatch, capsys):
    name = _module(tmp_path, monkeypatch, "mine_correct", MODULE.format(wrong=""))
    assert run(["--against", name, "--examples", "10"]) == 0
    out = capsys.readouterr().out
    assert "mine_correct.q_posterior" in out and "diffusion.q_posterior" in out and "ok" in out
    assert "helper" not in out and "q_sample" not in out and "ALL PASSED" in out


def test_against_fails_on_a_wrong_module(tmp_path, monkeypatch, capsys):
    name = _module(tmp_path, monkeypatch, "mine_wrong", MODULE.format(wrong=" ** 0.5"))
    assert run(["--against", name, "--examples", "10"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out and "reproduce with" in out and "from mine_wrong import q_posterior" in out


def sometimes_wrong_q_posterior(x0, x_t, t, schedule):
    """Right except where the first entry of x_t is negative (then the mean is doubled): wrong on part
    of the inputs, as a real bug at one end of a schedule is."""
    mean, variance = np_q_posterior(x0, x_t, t, schedule)
    return (mean * 2 if np.ravel(x_t)[0] < 0 else mean), variance


def test_all_inputs_counts_the_disagreements_without_stopping():
    counted = check(sometimes_wrong_q_posterior, "diffusion.q_posterior", max_examples=N, all_inputs=True)
    assert not counted.passed
    assert counted.examples + counted.disagreed == N  # every drawn input, once
    assert 0 < counted.disagreed < N  # wrong on some inputs only: both kinds were drawn
    assert counted.usage <= 1.0  # the differences are those of the agreeing inputs only
    # the reproducer is the first disagreeing input as drawn, and it fails again
    assert "sometimes_wrong_q_posterior" in counted.reproducer
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        exec(counted.reproducer, {})
    # a correct implementation: every input agrees, none disagreed
    ok = check(np_q_posterior, "diffusion.q_posterior", max_examples=N, all_inputs=True)
    assert ok.passed and ok.disagreed == 0 and ok.examples == N


def _float32_fid(f1, f2, ddof=1, cross=2.0):
    """FID as users write it in float32 torch: torch.cov, the square root of S1^(1/2) S2 S1^(1/2) by eigh."""
    m1, m2 = f1.mean(0), f2.mean(0)
    d = f1.shape[1]
    s1 = torch.cov(f1.T, correction=ddof).reshape(d, d)
    s2 = torch.cov(f2.T, correction=ddof).reshape(d, d)
    w, v = torch.linalg.eigh(s1)
    r = (v * w.clamp_min(0).sqrt()) @ v.T
    roots = torch.linalg.eigvalsh(r @ s2 @ r).clamp_min(0).sqrt()
    return ((m1 - m2) ** 2).sum() + s1.trace() + s2.trace() - cross * roots.sum()


def float32_fid(f1, f2):
    return _float32_fid(f1, f2)


def biased_cov_fid(f1, f2):
    return _float32_fid(f1, f2, ddof=0)  # covariances divided by n, not n - 1


def no_two_fid(f1, f2):
    return _float32_fid(f1, f2, cross=1.0)  # tr S1 + tr S2 - tr (.)^(1/2): the 2 left out


def test_an_ordinary_float32_fid_passes_and_wrong_ones_fail():
    # FID cancels its terms; a float32 implementation rounds them, and the square root of a near-singular
    # matrix turns u into sqrt(u): check widens atol below float64 to (64 u + d sqrt(u)) s for the FID
    # family (tolerances.py), where the pair's default failed 13 of these 100 inputs.
    ok = check(float32_fid, "metrics.fid", dtype="float32", side="torch", max_examples=100, all_inputs=True)
    assert ok.passed and ok.disagreed == 0, ok.error
    assert 1e-3 < ok.usage <= 1.0  # the widened tolerance is used, not idle
    for wrong in (biased_cov_fid, no_two_fid):
        r = check(wrong, "metrics.fid", dtype="float32", side="torch", max_examples=100, all_inputs=True)
        assert not r.passed and r.disagreed > 10, (wrong.__name__, r.disagreed)
    # float64 keeps the pair's tolerance (1e-10 absolute): the same code in float64 passes it
    assert check(float32_fid, "metrics.fid", dtype="float64", side="torch", max_examples=50).passed


def test_against_a_module_with_no_formula_says_so(tmp_path, monkeypatch, capsys):
    name = _module(tmp_path, monkeypatch, "mine_empty", "def helper(x):\n    return x\n")
    assert run_against(name) == 2
    assert "no function of mine_empty" in capsys.readouterr().out


# --------------------------------------------------------------------------- the diffusers example


def test_diffusers_example():
    if importlib.util.find_spec("diffusers") is None:
        pytest.skip("diffusers is not installed (pip install diffusers): examples/check_diffusers.py not run")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "check_diffusers.py"), "--examples", "20"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    # Exit 0 whether or not diffusers agrees (--strict would exit 1): this test runs the example end to
    # end; what it finds is printed, one line per check.
    assert proc.returncode == 0, proc.stdout + proc.stderr
    print(proc.stdout)
    assert "DDPMScheduler.add_noise vs diffusion.q_sample" in proc.stdout
    assert "DDPMScheduler.step (posterior) vs diffusion.q_posterior" in proc.stdout
    assert "DDIMScheduler.step vs diffusion.ddim_step" in proc.stdout
