"""The training programs of examples/ under torchrun with two CPU processes (gloo), end to end.

Each program trains for a few steps, then evaluates with ``accelerated.distributed``; the test checks
that the loss fell and recomputes every metric on ONE process with ``accelerated.metrics`` from the
samples each rank saved (``eval_rank{r}.pt``), concatenated in rank order, and the real digits. One
test resumes a checkpoint. The digits classifier is trained once per session into a temporary folder.

Tolerances. The features are float64 (the classifier runs in float64) and are recomputed shard by
shard exactly as the ranks computed them (same images, same chunks), so they are bit-identical; the
k-NN counts of PRDC are then compared for exact equality. FID, KID and IS differ between the two
paths by the order of float64 operations only: the distributed FID merges per-rank means and
co-moments (Chan et al.) where the one-process FID makes two passes, and IS/KID add per-rank partial
sums. Each sum of N terms carries a relative error of at most about N eps (eps = 2.2e-16; N <= 1797,
so 4e-13), and FID's matrix square root amplifies a relative perturbation of the covariance by at most
the square root of its condition number (up to 1e3 for these 64 features): 4e-10 in the worst case,
hence rtol = 1e-9. Observed: about 1e-14 for FID and 1e-16 or exactly 0 for KID and IS.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn", reason="the examples train on scikit-learn's digits: pip install scikit-learn")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
sys.path.insert(0, str(EXAMPLES))

import _common  # noqa: E402
import digits_features  # noqa: E402

from accelerated import metrics  # noqa: E402

RTOL = 1e-9  # float64 rounding of differently ordered sums (see the module docstring)
EVAL = 128  # generated samples over both ranks (64 each: the PNG's grid)
TIMEOUT = 120  # seconds per program run, far above the ~15 s each takes on 2 CPU cores

# Steps and the smaller settings that keep each run short; the loss ratios are the margins asserted.
PROGRAMS = {
    # eps-prediction MSE starts at E eps^2 = 1 (zero-initialised output) and is near 0.2 after 40 steps
    "ddpm": (40, ["--timesteps", "50"], 0.5),
    # (1/2) sigma^2 ||s + eps/sigma||^2 starts at d/2 = 32 and falls below 20 within 40 steps
    "ncsn": (40, ["--levels", "8", "--langevin-steps", "3"], 0.8),
    # the discriminator's loss starts at 2 log 2 = 1.39 and falls as it learns to separate: 1.36 over
    # steps 1-6, 1.19 over steps 55-60 (later it climbs back as the generator catches up)
    "gan": (60, [], 0.95),
}


def run(program: str, out: Path, features: Path, *extra: str, nproc: int = 2) -> dict:
    if nproc > 1:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    else:
        launcher = [sys.executable]
    cmd = [
        *launcher,
        str(EXAMPLES / f"train_{program}.py"),
        "--device",
        "cpu",
        "--no-progress",
        "--out",
        str(out),
        "--features",
        str(features),
        "--threads",
        "1",
        *extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    assert proc.returncode == 0, f"{' '.join(cmd)}\n{proc.stdout}\n{proc.stderr}"
    return json.loads((out / "metrics.json").read_text())


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread here, as in the torchrun children: on cores shared with other jobs two OpenMP
    threads made the classifier's training 40 times slower (246 s instead of 6 s)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def features(tmp_path_factory) -> Path:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # see one_thread (a session fixture is set up before it)
    try:
        path = tmp_path_factory.mktemp("features") / "digits_features.pt"
        train_acc, held_out = digits_features.train(path, seed=0)
    finally:
        torch.set_num_threads(threads)
    assert held_out > 0.95, (train_acc, held_out)
    return path


def one_process_metrics(out: Path, features: Path, world: int) -> dict[str, float]:
    """accelerated.metrics on the rank-order concatenation of the shards, with the programs' settings."""
    defaults = _common.parser("test", None).parse_args([])
    net = digits_features.load_features_net(features)
    shards = [torch.load(out / f"eval_rank{r}.pt", weights_only=True)["samples"] for r in range(world)]
    assert all(len(s) == len(c) for s, c in zip(shards, np.array_split(np.arange(EVAL), world)))
    fake = [digits_features.features_and_logits(net, s) for s in shards]  # shard by shard, as the ranks did
    fake_f = torch.cat([f for f, _ in fake])
    probs = torch.softmax(torch.cat([lg for _, lg in fake]), dim=1)
    real = digits_features.digits_images()
    chunks = np.array_split(np.arange(len(real)), world)  # rank r's contiguous chunk of the real digits
    real_f = torch.cat([digits_features.features_and_logits(net, real[c])[0] for c in chunks])
    assert fake_f.dtype == torch.float64 and real_f.shape == (1797, digits_features.FEATURES)
    kid = metrics.kid(
        fake_f,
        real_f,
        subset_size=min(defaults.kid_subset_size, EVAL, len(real)),
        n_subsets=defaults.kid_subsets,
        rng=torch.Generator().manual_seed(defaults.seed),
    )
    score = metrics.inception_score(probs, splits=min(defaults.is_splits, EVAL))
    prdc = metrics.prdc(real_f, fake_f, k=5)
    return {
        "fid": float(metrics.fid(fake_f, real_f)),
        "kid_mean": float(kid.mean),
        "kid_std": float(kid.std),
        "inception_score": float(score.mean),
        "inception_score_std": float(score.std),
        **{name: float(v) for name, v in prdc._asdict().items()},
    }


@pytest.mark.parametrize("program", list(PROGRAMS))
def test_two_processes_train_and_match_one_process_metrics(program, features, tmp_path):
    steps, extra, ratio = PROGRAMS[program]
    out = tmp_path / program
    m = run(program, out, features, "--steps", str(steps), "--eval-samples", str(EVAL), *extra)

    assert m["world_size"] == 2 and m["steps"] == steps and len(m["losses"]) == steps
    assert m["loss_last"] < ratio * m["loss_first"], (m["loss_first"], m["loss_last"])
    assert (out / "samples.png").stat().st_size > 0

    expected = one_process_metrics(out, features, world=2)
    for name in ("precision", "recall", "density", "coverage"):
        assert m[name] == expected[name], name
    for name in ("fid", "kid_mean", "kid_std", "inception_score", "inception_score_std"):
        assert m[name] == pytest.approx(expected[name], rel=RTOL, abs=1e-12), name


def test_resume_continues_the_step_counter(features, tmp_path):
    out = tmp_path / "resume"
    first = run("ddpm", out, features, "--steps", "2", "--eval-samples", "16", "--timesteps", "30", nproc=1)
    assert first["steps"] == 2 and first["world_size"] == 1
    ckpt = torch.load(out / "checkpoint.pt", weights_only=True)  # tensors and plain containers only
    assert ckpt["step"] == 2 and set(ckpt) >= {"model", "optimizer", "ema", "step"}

    # the checkpoint of one process resumes on two: every rank loads it (map_location, weights_only=True)
    second = run("ddpm", out, features, "--steps", "4", "--eval-samples", "16", "--timesteps", "30", "--resume")
    assert second["steps"] == 4 and second["world_size"] == 2
    assert second["losses"][:2] == first["losses"] and len(second["losses"]) == 4
    assert torch.load(out / "checkpoint.pt", weights_only=True)["step"] == 4
