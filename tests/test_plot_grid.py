"""`python -m experiments.plot_grid`: ablation CSVs as lines; bad input is one clear line."""

import subprocess
import sys

from conftest import REPO


def _csv(path, rows):
  path.write_text("lr_progress_scale,seed,analogy_accuracy\n"
                  + "".join(f"{x},{s},{y}\n" for x, s, y in rows))
  return str(path)


def test_plots_the_mean_over_seeds_of_each_grid(tmp_path):
  a = _csv(tmp_path / "a.csv", [(1.0, 0, 0.1), (1.0, 1, 0.12), (0.5, 0, 0.13)])
  b = _csv(tmp_path / "b.csv", [(1.0, 0, 0.2), (0.5, 0, 0.1)])
  out = tmp_path / "plot.png"
  proc = subprocess.run([sys.executable, "-m", "experiments.plot_grid", f"--csv={a},{b}",
                         "--labels=a,b", "--x=lr_progress_scale", f"--out={out}"], cwd=REPO,
                        capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_missing_column_or_file_is_one_line(tmp_path):
  a = _csv(tmp_path / "a.csv", [(1.0, 0, 0.1)])
  for args in ([f"--csv={a}", "--x=window"], [f"--csv={tmp_path}/none.csv", "--x=seed"],
               [f"--csv={a}", "--x=seed", "--labels=a,b"]):
    proc = subprocess.run([sys.executable, "-m", "experiments.plot_grid", *args,
                           f"--out={tmp_path}/p.png"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
