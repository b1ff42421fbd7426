"""The ablation runner: grid parsing, cell names, aggregation, end to end (tiny corpus), resume."""

import csv
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO
from w2v_jax import ablate, config, train
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

# devices=1: the script would otherwise train replicas on the CPU's cores, as the plain command
# does, and the in-process runs below see one device.
BASE = "dim=8,negatives=2,min_count=1,sample=0,batch_size=64,steps_per_call=4,devices=1"
GRID = "window=1,3"


def test_grid_is_the_typed_cartesian_product():
  cells = ablate.parse_grid("window=2,5; sample=0,1e-4 ;shrink_window=true,False;alpha=none")
  assert len(cells) == 2 * 2 * 2 * 1
  assert cells[0] == {"window": 2, "sample": 0.0, "shrink_window": True, "alpha": None}
  assert cells[1] == {"window": 2, "sample": 0.0, "shrink_window": False, "alpha": None}
  assert cells[-1] == {"window": 5, "sample": 1e-4, "shrink_window": False, "alpha": None}
  assert type(cells[0]["window"]) is int and type(cells[0]["sample"]) is float
  assert ablate.parse_grid("alpha=0.1")[0]["alpha"] == 0.1
  assert ablate.parse_grid("") == [{}]
  assert ablate.grid_fields(cells) == ["window", "sample", "shrink_window", "alpha"]


@pytest.mark.parametrize("grid, message", [
    ("windw=2,5", "unknown Config field 'windw' (did you mean 'window'?)"),
    ("window=2.5", "window='2.5' is not a valid int"),
    ("shrink_window=maybe", "not a valid bool"),
    ("sample=lots", "not a valid float"),
    ("window", "is not FIELD=V1,V2"),
    ("window=", "is not FIELD=V1,V2"),
    ("window=2;window=3", "given twice"),
    ("window=2,2", "repeats a value"),
    ("seed=1,2", "cannot be a grid axis"),
])
def test_bad_grids_raise_one_clear_error(grid, message):
  with pytest.raises(W2VError, match=re.escape(message)):
    ablate.parse_grid(grid)


def test_settings_parse_and_reject_mistakes():
  assert ablate.parse_settings("model=cbow, dim=50") == {"model": "cbow", "dim": 50}
  with pytest.raises(W2VError, match="set twice"):
    ablate.parse_settings("dim=5,dim=6")
  with pytest.raises(W2VError, match="not FIELD=VALUE"):
    ablate.parse_settings("cbow")


def test_invalid_cell_value_names_the_cell():
  with pytest.raises(W2VError, match="grid cell window=0: --window must be > 0"):
    ablate.cell_configs(Config(), ablate.parse_grid("window=2,0"), [0])
  with pytest.raises(W2VError, match="--seeds must be >= 1"):
    ablate.cell_configs(Config(), ablate.parse_grid("window=2"), [])


def test_grid_over_sync_gives_each_mode_its_own_defaults():
  runs = ablate.cell_configs(Config(model="cbow"), [{"sync": "step"}, {"sync": "dispatch"}], [0])
  assert [cfg for _, _, cfg in runs] == [Config(model="cbow", sync=s) for s in ("step", "dispatch")]
  resolved = [config.resolve(cfg) for _, _, cfg in runs]
  assert [(c.steps_per_call, c.dup_cap) for c in resolved] == [(64, 0.0), (256, 4.0)]


def test_finished_run_is_matched_on_resolved_settings(tmp_path):
  cfg = Config(model="cbow", corpus="c.txt")
  # config.json holds what train.run resolved: here 2 CPU devices (replicas by default).
  (tmp_path / "config.json").write_text(config.resolve(cfg, "cpu", 2).to_json())
  ablate._check_finished(cfg, str(tmp_path), "cpu", 2)
  ablate._check_finished(Config(model="cbow", corpus="c.txt", steps_per_call=256), str(tmp_path),
                         "cpu", 2)
  with pytest.raises(W2VError, match="holds a run of different settings"):
    ablate._check_finished(cfg, str(tmp_path))  # one device: another run
  with pytest.raises(W2VError, match="holds a run of different settings"):
    ablate._check_finished(Config(model="cbow", corpus="c.txt", dup_cap=16.0), str(tmp_path),
                           "cpu", 2)


def test_cell_and_run_names_are_deterministic():
  cell = {"window": 2, "negatives": 5, "alpha": None, "shrink_window": False}
  assert ablate.cell_name(cell) == "window=2,negatives=5,alpha=none,shrink_window=false"
  assert ablate.run_name({"window": 2}, 1) == "window=2/seed=1"
  assert ablate.cell_name({}) == "base"
  # A name parses back to the same cell (values as --grid would read them).
  assert ablate.parse_grid(ablate.cell_name(cell).replace(",", ";")) == [cell]


def _row(window, seed, analogy, ws, wps):
  return {"window": window, "seed": seed, "analogy": analogy, "semantic": analogy / 2,
          "syntactic": analogy, "wordsim353": ws, "words_per_sec": wps, "train_seconds": 1.0}


def test_aggregate_mean_and_sample_std_per_cell():
  rows = [_row(2, 0, 0.10, 0.5, 100.0), _row(2, 1, 0.20, None, 300.0), _row(2, 2, 0.30, 0.7, 200.0),
          _row(5, 0, 0.40, None, 50.0)]
  agg = ablate.aggregate(rows, ["window"])
  assert [e["cell"] for e in agg] == ["window=2", "window=5"]
  two, five = agg
  assert two["n"] == 3 and two["window"] == 2
  assert two["analogy"] == pytest.approx(0.2) and two["analogy_std"] == pytest.approx(0.1)
  assert two["wordsim353"] == pytest.approx(0.6)          # the missing score is left out
  assert two["wordsim353_std"] == pytest.approx(0.1414213562)  # sqrt(0.02 / 1)
  assert two["words_per_sec"] == pytest.approx(200.0) and two["words_per_sec_std"] == 100.0
  assert five["analogy"] == 0.4 and five["analogy_std"] == 0.0  # one seed: std 0
  assert five["wordsim353"] is None and five["wordsim353_std"] is None
  table = ablate.markdown_table(agg, ["window"]).splitlines()
  assert table[0] == "| window | seeds | analogy | semantic | syntactic | WS-353 ρ | words/s |"
  assert table[2] == ("| 2 | 3 | 0.2000 ± 0.1000 | 0.1000 ± 0.0500 | 0.2000 ± 0.1000 | "
                      "0.6000 ± 0.1414 | 200 ± 100 |")
  assert table[3] == "| 5 | 1 | 0.4000 ± 0.0000 | 0.2000 ± 0.0000 | 0.4000 ± 0.0000 | n/a | 50 ± 0 |"


@pytest.fixture(scope="module")
def grid_run(planted_path, tmp_path_factory):
  """2 cells x 2 seeds trained once on the planted corpus; reports written."""
  root = tmp_path_factory.mktemp("ablate")
  base = Config(corpus=planted_path, **ablate.parse_settings(BASE))
  cells = ablate.parse_grid(GRID)
  runs_dir, out = str(root / "runs"), str(root / "out")
  rows = ablate.run_grid(base, cells, [0, 1], runs_dir)
  ablate.write_reports(rows, ["window"], out)
  return base, cells, runs_dir, out, rows


def test_end_to_end_writes_csv_markdown_and_plots(grid_run):
  _, _, runs_dir, out, rows = grid_run
  assert [(r["window"], r["seed"]) for r in rows] == [(1, 0), (1, 1), (3, 0), (3, 1)]
  with open(os.path.join(out, "results.csv"), encoding="utf-8") as f:
    table = list(csv.DictReader(f))
  assert [(t["window"], t["seed"]) for t in table] == [("1", "0"), ("1", "1"), ("3", "0"),
                                                       ("3", "1")]
  assert list(table[0]) == ["window", "seed", "analogy_accuracy", "semantic_accuracy",
                            "syntactic_accuracy", "wordsim353_spearman", "words_per_sec",
                            "train_seconds"]
  assert all(float(t["words_per_sec"]) > 0 for t in table)
  with open(os.path.join(out, "results.md"), encoding="utf-8") as f:
    md = f.read().splitlines()
  assert len(md) == 4 and md[2].startswith("| 1 | 2 | ") and md[3].startswith("| 3 | 2 | ")
  for name in ("accuracy.png", "words_per_sec.png"):
    with open(os.path.join(out, name), "rb") as f:
      assert f.read(8) == b"\x89PNG\r\n\x1a\n"
  for cell in ("window=1", "window=3"):
    for seed in (0, 1):
      assert os.path.exists(os.path.join(runs_dir, cell, f"seed={seed}", "eval.json"))
  # Seeds differ: the two runs of a cell are not the same training.
  v0 = open(os.path.join(runs_dir, "window=1", "seed=0", "vectors.bin"), "rb").read()
  v1 = open(os.path.join(runs_dir, "window=1", "seed=1", "vectors.bin"), "rb").read()
  assert v0 != v1


def _counting(monkeypatch):
  calls = []
  real = train.run

  def counted(cfg, workdir, **kw):
    calls.append((cfg.window, cfg.seed))
    return real(cfg, workdir, **kw)

  monkeypatch.setattr(train, "run", counted)
  return calls


def test_rerun_skips_finished_and_resumes_unfinished(grid_run, monkeypatch):
  base, cells, runs_dir, _, rows = grid_run
  calls = _counting(monkeypatch)
  again = ablate.run_grid(base, cells, [0, 1], runs_dir)
  assert calls == [] and again == rows
  # A run whose evaluation never finished is trained again (train.run resumes its checkpoint).
  os.remove(os.path.join(runs_dir, "window=3", "seed=0", "eval.json"))
  again = ablate.run_grid(base, cells, [0, 1], runs_dir)
  assert calls == [(3, 0)]
  assert [r["analogy"] for r in again] == [r["analogy"] for r in rows]


def test_finished_runs_of_other_settings_are_refused(grid_run):
  base, cells, runs_dir, _, _ = grid_run
  other = Config(**{**base.__dict__, "dim": 9})
  with pytest.raises(W2VError, match="holds a run of different settings"):
    ablate.run_grid(other, cells, [0], runs_dir)


def test_cli_reuses_finished_runs_and_reports(grid_run, tmp_path):
  base, _, runs_dir, _, _ = grid_run
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.ablate", f"--grid={GRID}", "--seeds=2",
       f"--corpus={base.corpus}", f"--set={BASE}", f"--out={tmp_path}", f"--runs_dir={runs_dir}"],
      cwd=REPO, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr
  assert "finished earlier, skipped" in proc.stderr
  assert "| 3 | 2 |" in proc.stdout
  assert os.path.exists(tmp_path / "results.csv") and os.path.exists(tmp_path / "accuracy.png")


@pytest.mark.parametrize("args, message", [
    (["--grid=windw=2"], "did you mean 'window'"),
    (["--grid=window=2", "--set=window=3"], "window is both a base setting and a grid axis"),
])
def test_cli_mistakes_are_one_stderr_line(args, message, tmp_path):
  proc = subprocess.run([sys.executable, "-m", "experiments.ablate", f"--out={tmp_path}", *args],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode == 1 and len(lines) == 1 and message in lines[0], proc.stderr

