"""`python -m experiments.accel_bench --smoke`: every stage runs on the CPU and is reported."""

import json
import os
import subprocess
import sys

from conftest import REPO


def test_smoke_runs_every_stage_and_writes_the_report(tmp_path, planted_path):
  out = tmp_path / "out"
  proc = subprocess.run([sys.executable, "-m", "experiments.accel_bench", "--smoke",
                         f"--out={out}", f"--corpus={planted_path}"],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  report = json.loads((out / "accel_bench.json").read_text())
  rows = {row["name"]: row for row in report["stages"]}
  assert [r["stage"] for r in report["stages"]] == (
      ["environment", "e2e", "e2e", "steps", "steps", "scatter"])
  assert all(r["status"] == "ok" for r in rows.values()), rows
  assert rows["environment"]["backend"] == "cpu"
  for model in ("sg", "cbow"):
    e2e = rows[f"{model}_d100"]
    assert e2e["train_words_per_sec"] > 0 and e2e["compile_seconds"] > 0
    assert 0 <= e2e["analogy"] <= 1 and os.path.exists(out / f"e2e_{model}" / "vectors.bin")
    step = rows[f"{model}_d16_c256"]
    assert step["us_per_step"] > 0 and step["finite"]
  assert rows["hot_row"]["hot_seconds"] > 0 and rows["hot_row"]["spread_seconds"] > 0


def test_a_failing_stage_is_recorded_and_the_rest_still_run(tmp_path, planted_path):
  out = tmp_path / "out"
  proc = subprocess.run([sys.executable, "-m", "experiments.accel_bench", "--smoke",
                         f"--out={out}", f"--corpus={planted_path}", "--stages=e2e,scatter",
                         "--train_flags=alpha=-1"],
                        cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stdout + proc.stderr
  rows = json.loads((out / "accel_bench.json").read_text())["stages"]
  assert [r["status"] for r in rows] == ["ok", "failed", "failed", "ok"]
  assert "alpha" in rows[1]["error"]


def test_bad_flags_are_one_clear_line(tmp_path):
  for flag in ("--stages=e2e,nonsense", "--train_flags=no_such_field=1"):
    proc = subprocess.run([sys.executable, "-m", "experiments.accel_bench", "--smoke",
                           f"--out={tmp_path}", flag], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len([l for l in proc.stderr.splitlines() if l.strip()]) == 1, proc.stderr
