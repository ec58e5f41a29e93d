"""The metrics command line, ``python -m accelerated``, on small temporary files."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from accelerated.cli import main
from reference import metrics as ref

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 4))
    fake = (rng.normal(size=(200, 4)) * 1.2 + 0.3).astype(np.float32)
    probs = rng.dirichlet(np.full(6, 0.2), size=120)
    paths = {"real": tmp_path / "real.npy", "fake": tmp_path / "fake.npy", "probs": tmp_path / "probs.npy"}
    np.save(paths["real"], real)
    np.save(paths["fake"], fake)
    np.save(paths["probs"], probs)
    return paths, real, fake.astype(np.float64), probs


def run_json(capsys, *argv):
    assert main([*argv, "--json", "--no-progress"]) == 0
    return json.loads(capsys.readouterr().out)


def test_fid_from_feature_files_streams_in_batches(files, capsys):
    paths, real, fake, _ = files
    out = run_json(capsys, "fid", str(paths["real"]), str(paths["fake"]), "--batch-size", "64", "--device", "cpu")
    assert out["fid"] == pytest.approx(float(ref.fid(real, fake)), rel=1e-10)
    assert out["n"] == [300, 200] and out["dim"] == 4


def test_fid_from_saved_statistics_equals_fid_from_features(files, capsys, tmp_path):
    paths, real, fake, _ = files
    stats = tmp_path / "real_stats.npz"
    assert main(["stats", str(paths["real"]), "-o", str(stats), "--no-progress"]) == 0
    assert "saved statistics of 300 rows (d = 4)" in capsys.readouterr().out
    loaded = ref.load_statistics(stats)
    np.testing.assert_allclose(loaded.sigma, np.cov(real, rowvar=False), rtol=1e-12)
    out = run_json(capsys, "fid", str(stats), str(paths["fake"]))
    assert out["fid"] == pytest.approx(float(ref.fid(real, fake)), rel=1e-10)
    # pytorch-fid / clean-fid statistics files (keys mu and sigma only) work too.
    np.savez(tmp_path / "fake_stats.npz", mu=fake.mean(axis=0), sigma=np.cov(fake, rowvar=False))
    out = run_json(capsys, "fid", str(stats), str(tmp_path / "fake_stats.npz"))
    assert out["fid"] == pytest.approx(float(ref.fid(real, fake)), rel=1e-10)


def test_prdc_and_text_output(files, capsys):
    paths, real, fake, _ = files
    out = run_json(capsys, "prdc", str(paths["real"]), str(paths["fake"]), "--k", "4", "--block-size", "50")
    expected = ref.prdc(real, fake, k=4)
    assert (out["precision"], out["recall"], out["density"], out["coverage"]) == pytest.approx(tuple(expected))
    assert main(["prdc", str(paths["real"]), str(paths["fake"]), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["precision", "recall", "density", "coverage"]


def test_inception_score(files, capsys):
    paths, *_, probs = files
    out = run_json(capsys, "is", str(paths["probs"]), "--splits", "4")
    expected = ref.inception_score(probs, splits=4)
    assert (out["inception_score"], out["std"]) == pytest.approx(tuple(expected), rel=1e-12)
    parts = ref.inception_score_components(probs)
    assert out["sharpness"] * out["diversity"] == pytest.approx(parts.inception_score, rel=1e-12)


def test_npz_features_and_errors(files, capsys, tmp_path):
    paths, real, fake, _ = files
    np.savez(tmp_path / "real.npz", features=real)
    out = run_json(capsys, "fid", str(tmp_path / "real.npz"), str(paths["fake"]))
    assert out["fid"] == pytest.approx(float(ref.fid(real, fake)), rel=1e-10)

    def fails(*argv, message):
        assert main([*argv, "--no-progress"]) == 1
        assert message in capsys.readouterr().err

    fails("fid", str(tmp_path / "missing.npy"), str(paths["fake"]), message="missing.npy: no such file")
    np.savez(tmp_path / "evil.npz", features=np.array([object(), object()], dtype=object))
    fails("fid", str(tmp_path / "evil.npz"), str(paths["fake"]), message="refusing to unpickle")
    np.save(tmp_path / "evil.npy", np.array([{}, {}], dtype=object), allow_pickle=True)
    fails("fid", str(tmp_path / "evil.npy"), str(paths["fake"]), message="cannot read as a plain .npy array")
    stats = tmp_path / "s.npz"
    ref.save_statistics(stats, ref.feature_statistics(real))
    fails("prdc", str(stats), str(paths["fake"]), message="prdc needs the samples themselves")
    fails("prdc", str(paths["real"]), str(paths["fake"]), "--k", "300", message="k: expected 1 <= k <= n - 1")
    np.save(tmp_path / "wide.npy", np.zeros((5, 7)))
    fails("fid", str(paths["real"]), str(tmp_path / "wide.npy"), message="feature dimensions differ")
    (tmp_path / "x.txt").write_text("1 2")
    fails("fid", str(tmp_path / "x.txt"), str(paths["fake"]), message="expected a .npy or .npz file")
    if not torch.cuda.is_available():
        fails("fid", str(paths["real"]), str(paths["fake"]), "--device", "cuda", message="CUDA is not available")


def test_usage_errors_exit_2(files):
    paths, *_ = files
    with pytest.raises(SystemExit) as info:
        main(["fid", str(paths["real"])])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["is", str(paths["probs"]), "--splits", "0"])
    assert info.value.code == 2


def test_python_dash_m_accelerated(files):
    paths, real, fake, _ = files
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run(
        [sys.executable, "-m", "accelerated", "fid", str(paths["real"]), str(paths["fake"]), "--batch-size", "100"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("FID: ")
    assert float(proc.stdout.split()[1]) == pytest.approx(float(ref.fid(real, fake)), rel=1e-6)


def test_hostile_statistics_files_exit_1_with_one_line(files, capsys, tmp_path):
    paths, *_ = files
    np.savez(tmp_path / "good.npz", mu=np.zeros(4), sigma=np.eye(4))
    raw = (tmp_path / "good.npz").read_bytes()
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "truncated.npz").write_bytes(raw[: len(raw) // 2])
    (tmp_path / "empty.npy").write_bytes(b"")
    np.savez(tmp_path / "indef.npz", mu=np.zeros(4), sigma=-np.eye(4))
    np.savez(tmp_path / "zero.npz", mu=np.zeros(0), sigma=np.zeros((0, 0)))
    np.save(tmp_path / "huge.npy", np.full((3, 4), 1e300) * [[1], [-1], [1]])
    for name, message in [
        ("empty.npz", "cannot read as an .npz archive"),
        ("truncated.npz", "cannot read as an .npz archive"),
        ("empty.npy", "cannot read as a plain .npy array"),
        ("indef.npz", "not positive semi-definite"),
        ("zero.npz", "got d = 0"),
        ("huge.npy", "batch: the mean or covariance overflows float64"),
    ]:
        assert main(["fid", str(tmp_path / name), str(paths["fake"]), "--no-progress"]) == 1, name
        err = capsys.readouterr().err
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert name in err and message in err and "Traceback" not in err, err


def test_fid_reads_pytorch_fid_and_clean_fid_statistics_and_says_which_convention(files, capsys, tmp_path):
    """pytorch-fid (``--save-stats``) and clean-fid (``make_custom_stats``) both write
    ``np.savez_compressed(path, mu=..., sigma=np.cov(features, rowvar=False))``: no n, the unbiased covariance.
    Written here the same way (nothing is downloaded); the FID equals the one from the features."""
    paths, real, fake, _ = files
    theirs = tmp_path / "fake_pytorch_fid.npz"
    np.savez_compressed(theirs, mu=fake.mean(axis=0), sigma=np.cov(fake, rowvar=False))
    ours = tmp_path / "real_stats.npz"
    assert main(["stats", str(paths["real"]), "-o", str(ours), "--no-progress"]) == 0
    capsys.readouterr()
    expected = float(ref.fid(real, fake))

    out = run_json(capsys, "fid", str(ours), str(theirs))
    assert out["fid"] == pytest.approx(expected, rel=1e-10)
    assert [i["read_as"] for i in out["inputs"]] == [
        "dgm-formulas (mu, sigma, n)",
        "pytorch-fid/clean-fid (mu, sigma; no n)",
    ]
    assert out["n"] == [300, 0]  # 0: not recorded (FeatureStatistics.n's sentinel); FID does not use n

    assert main(["fid", str(theirs), str(paths["fake"]), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("FID: ") and float(lines[0].split()[1]) == pytest.approx(0.0, abs=1e-9)
    assert (
        lines[1] == f"{theirs}: read as pytorch-fid/clean-fid (mu, sigma; no n) (n not recorded, reported as 0; "
        "FID needs only mu and sigma)"
    )
    assert lines[2] == f"{paths['fake']}: read as features (200 rows)"

    # float32 arrays (a file written from float32 activations) load as float64 and give the same FID.
    np.savez(theirs, mu=fake.mean(axis=0).astype(np.float32), sigma=np.cov(fake, rowvar=False).astype(np.float32))
    out = run_json(capsys, "fid", str(ours), str(theirs))
    assert out["fid"] == pytest.approx(expected, rel=1e-5)
    assert out["inputs"][1]["read_as"] == "pytorch-fid/clean-fid (mu, sigma; no n)"


def test_fid_text_names_an_unknown_n_in_our_own_files(files, capsys, tmp_path):
    paths, real, _, _ = files
    s = ref.feature_statistics(real)
    ref.save_statistics(tmp_path / "unknown_n.npz", ref.FeatureStatistics(s.mu, s.sigma, 0))
    assert main(["fid", str(tmp_path / "unknown_n.npz"), str(paths["real"]), "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].endswith("read as dgm-formulas (mu, sigma, n), n = 0 (not recorded)")


@pytest.mark.parametrize(("package", "extra"), [("accelerated", "torch"), ("crosscheck", "test")])
def test_import_error_without_torch_says_how_to_install_on_each_kind_of_machine(package, extra):
    """Without torch the extras' ImportError gives both commands: the CPU wheel index for a CPU-only machine
    (torch from PyPI on Linux x86_64 is the CUDA build), the plain extra for a CUDA machine."""
    code = f"import sys; sys.modules['torch'] = None; import {package}"  # None in sys.modules: ImportError
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120)
    assert proc.returncode == 1 and "ImportError" in proc.stderr, proc.stderr
    assert "pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu" in proc.stderr
    assert f"pip install 'dgm-formulas[{extra}]'" in proc.stderr and "CUDA build" in proc.stderr
