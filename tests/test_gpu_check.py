"""benchmarks/gpu_check.py on the CPU: its plumbing (stages in child processes, the JSON and the table).

The GPU run itself is one run on a lent machine; these tests make sure the script gets there: every
stage that can run on the CPU does, at tiny sizes, and writes its record; the CUDA-only parts are
recorded as skipped.
"""

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"


def run(out: Path, *argv: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, str(SCRIPT), "--out", str(out), "--device", "cpu", "--smoke", *argv]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_smoke_run_writes_the_report_and_every_stage_that_runs_is_ok(tmp_path):
    done = run(tmp_path, "--skip", "crosscheck,example")
    report = json.loads((tmp_path / "gpu_check.json").read_text())
    table = (tmp_path / "gpu_check.md").read_text()
    assert "| stage | figure | ratio | target | pass/fail |" in table
    assert "| stage | figure | ratio | target | pass/fail |" in done.stdout
    stages = report["stages"]
    assert set(stages) == {"crosscheck", "sync", "graphs", "ratios", "example"}
    assert stages["crosscheck"]["status"] == stages["example"]["status"] == "skipped"
    ran = {name: rec for name, rec in stages.items() if rec["status"] != "skipped"}
    assert {"sync", "ratios"} <= set(ran)  # graphs is all CUDA (its eager parts run, the captures are skipped)
    for name, rec in stages.items():
        assert rec["status"] in ("ok", "skipped"), (name, rec["error"])
        assert rec["status"] == "skipped" or rec["error"] is None, (name, rec["error"])
        for item, entry in rec.get("items", {}).items():
            assert entry["status"] in ("ok", "skipped"), (name, item, entry.get("error"))
    # stage 2: every training loss and sampler ran (twice) on the CPU, the debug mode recorded as skipped
    sync_items = stages["sync"]["items"]
    for fn in ("l_simple", "ncsn_loss", "denoising_score_matching", "sliced_score_matching", "r1_penalty",
               "discriminator_loss", "generator_loss", "ddpm_sample", "ddim_sample", "langevin_sample",
               "annealed_langevin_sample"):  # fmt: skip
        assert any(fn in item and entry["status"] == "ok" for item, entry in sync_items.items()), fn
    assert all("skipped: no CUDA" in entry["sync_check"] for entry in sync_items.values())
    assert "lazy initialisation" in stages["sync"]["figures"]["warm_up"]
    # stage 3: the captures are skipped without CUDA, after their eager parts ran
    for entry in stages["graphs"]["items"].values():
        assert entry["status"] == "skipped" and "no CUDA" in entry["error"]
    # stage 4: every ratio was measured (tiny sizes: the values are not judged here)
    ratios = stages["ratios"]["items"]
    assert set(ratios) == {"fid", "prdc", "sinkhorn", "ddpm", "ddim", "langevin"}
    assert ratios["ddpm"]["identical"] is True
    assert ratios["fid"]["rel_diff_cpu"] == 0.0
    rows = [row for row in report["rows"] if row["stage"] == "ratios"]
    assert len(rows) >= 6 and all(row["ratio"] is not None for row in rows)
    assert report["tiny"] is True and report["device"] == "cpu"


def test_example_stage_reads_the_metrics_of_the_example(tmp_path):
    fake = tmp_path / "train_ddpm.py"
    fake.write_text(
        textwrap.dedent(
            """
            import argparse, json, pathlib
            p = argparse.ArgumentParser()
            for flag in ("--device", "--max-seconds", "--eval-samples", "--out"):
                p.add_argument(flag)
            for flag in ("--bf16", "--compile", "--no-progress"):
                p.add_argument(flag, action="store_true")
            a = p.parse_args()
            out = pathlib.Path(a.out)
            out.mkdir(parents=True, exist_ok=True)
            (out / "metrics.json").write_text(json.dumps({"steps": 12, "final_loss": 0.25}))
            """
        )
    )
    run(tmp_path / "out", "--stages", "example", "--example-script", str(fake))
    report = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    stage = report["stages"]["example"]
    assert stage["status"] == "ok", stage["error"]
    assert stage["figures"]["metrics"] == {"steps": 12, "final_loss": 0.25}
    assert any("final_loss = 0.25" in row["figure"] for row in stage["rows"])


def test_a_missing_example_is_skipped_with_the_reason(tmp_path):
    run(tmp_path, "--stages", "example", "--example-script", str(tmp_path / "nowhere.py"))
    stage = json.loads((tmp_path / "gpu_check.json").read_text())["stages"]["example"]
    assert stage["status"] == "skipped" and "does not exist" in stage["error"]
