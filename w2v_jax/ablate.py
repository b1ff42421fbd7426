"""Ablations: a grid of Config settings x seeds -> one training run each -> results table and plots.

  cells = parse_grid("window=2,5;negatives=2,5")        # cartesian product, typed from Config
  rows = run_grid(base_cfg, cells, seeds=[0, 1], runs_dir="runs/ablation")
  write_reports(rows, grid_fields(cells), "docs/ablation")  # results.csv, results.md, *.png

Each (cell, seed) trains in-process with `train.run` into RUNS_DIR/CELL/seed=N and is scored
with `evaluate.evaluate`; its eval.json (scores plus training speed) is written last, so a run
that has one is finished and a re-run skips it, while an interrupted run resumes from its
checkpoints (train.run does that).

Seeds run one after another: jax.vmap over seeds is not correct with the step's unsafe_rbg
keys (JAX batches rng_bit_generator from the first key) and bought no speed on a CPU
(docs/performance.md, *Seeds under vmap*).
"""

import csv
import dataclasses
import difflib
import itertools
import json
import os
import types
from collections.abc import Sequence

import numpy as np

from w2v_jax import config, evaluate, metrics, textio
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

log = metrics.log

# Seeds come from --seeds, and a corpus path makes a poor directory name: neither is a grid axis.
_NOT_IN_GRID = ("seed", "corpus")
_FIELDS = {f.name: f.type for f in dataclasses.fields(Config)}
# (column in results.csv, key in the per-run row, Markdown header)
METRICS = (("analogy_accuracy", "analogy", "analogy"),
           ("semantic_accuracy", "semantic", "semantic"),
           ("syntactic_accuracy", "syntactic", "syntactic"),
           ("wordsim353_spearman", "wordsim353", "WS-353 ρ"),
           ("words_per_sec", "words_per_sec", "words/s"))


def parse_value(field: str, text: str):
  """`text` as a value of Config.`field`, typed from the dataclass annotation."""
  if field not in _FIELDS:
    close = difflib.get_close_matches(field, _FIELDS, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(_FIELDS)}"
    raise W2VError(f"unknown Config field {field!r}{hint}")
  kind, text = _FIELDS[field], text.strip()
  if isinstance(kind, types.UnionType):  # `float | None`: "none" means None
    if text.lower() == "none":
      return None
    kind = next(k for k in kind.__args__ if k is not type(None))
  try:
    if kind is bool:
      return {"true": True, "1": True, "yes": True, "false": False, "0": False,
              "no": False}[text.lower()]
    if kind is str and not text:
      raise ValueError
    return kind(text)
  except (ValueError, KeyError):
    raise W2VError(f"{field}={text!r} is not a valid {kind.__name__}") from None


def parse_settings(text: str) -> dict:
  """'model=cbow,dim=50' -> {"model": "cbow", "dim": 50} (typed; for the base settings)."""
  out = {}
  for item in filter(None, (s.strip() for s in text.split(","))):
    field, eq, value = item.partition("=")
    if not eq:
      raise W2VError(f"setting {item!r} is not FIELD=VALUE")
    if field.strip() in out:
      raise W2VError(f"{field.strip()} is set twice")
    out[field.strip()] = parse_value(field.strip(), value)
  return out


def parse_grid(text: str) -> list[dict]:
  """'window=2,5;negatives=2,5' -> the 4 cells of the cartesian product, the last field fastest.

  An empty grid is one cell with no changes (the base settings).
  """
  axes: list[tuple[str, list]] = []
  for part in filter(None, (s.strip() for s in text.split(";"))):
    field, eq, values = part.partition("=")
    field = field.strip()
    if not eq or not values.strip():
      raise W2VError(f"grid axis {part!r} is not FIELD=V1,V2,...")
    parsed = [parse_value(field, v) for v in values.split(",")]
    if field in _NOT_IN_GRID:
      raise W2VError(f"{field} cannot be a grid axis (seeds come from --seeds; the corpus "
                     "from --corpus)")
    if field in (name for name, _ in axes):
      raise W2VError(f"grid axis {field} is given twice")
    if len(set(map(repr, parsed))) != len(parsed):
      raise W2VError(f"grid axis {field} repeats a value: {values}")
    axes.append((field, parsed))
  names = [name for name, _ in axes]
  return [dict(zip(names, combo)) for combo in itertools.product(*(v for _, v in axes))]


def grid_fields(cells: Sequence[dict]) -> list[str]:
  """The grid's field names, in grid order."""
  return list(cells[0]) if cells else []


def _fmt(value) -> str:
  return "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def cell_name(cell: dict) -> str:
  """'window=2,negatives=5' (grid order); 'base' for the empty cell. Also its directory name."""
  return ",".join(f"{k}={_fmt(v)}" for k, v in cell.items()) or "base"


def run_name(cell: dict, seed: int) -> str:
  """'window=2,negatives=5/seed=0': the run's directory below the runs folder."""
  return f"{cell_name(cell)}/seed={seed}"


def cell_configs(base: Config, cells: Sequence[dict], seeds: Sequence[int]) -> list:
  """[(cell, seed, Config)] for every run (the cell overrides `base`), each validated up front."""
  if not seeds:
    raise W2VError("--seeds must be >= 1")
  runs = []
  for cell in cells:
    for seed in seeds:
      try:
        runs.append((cell, seed, dataclasses.replace(base, **cell, seed=seed).validate()))
      except W2VError as e:
        raise W2VError(f"grid cell {cell_name(cell)}: {e}") from None
  return runs


def _words_per_sec(workdir: str, tokens: int, seconds: float) -> float:
  """The run's own last logged training speed (compile excluded), else tokens / seconds."""
  path = os.path.join(workdir, "metrics.jsonl")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      rows = [json.loads(line) for line in f if line.strip()]
    if rows and "words_per_sec" in rows[-1]:
      return float(rows[-1]["words_per_sec"])
  return tokens / max(seconds, 1e-9)


def _machine() -> tuple[str, int]:
  """(platform, local devices): what train.run resolves a Config's defaults for (imports jax)."""
  import jax  # pylint: disable=import-outside-toplevel
  return jax.default_backend(), jax.local_device_count()


def _check_finished(cfg: Config, workdir: str, platform: str = "cpu",
                    local_devices: int = 1) -> None:
  """A finished run is reused only if it was trained with this very configuration: both
  resolved on the same machine (config.json holds what train.run resolved)."""
  try:
    with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
      old = Config.from_json(f.read())
    old = config.resolve(old, platform, local_devices).training_fingerprint()
  except (OSError, ValueError, TypeError, W2VError) as e:
    raise W2VError(f"{workdir} has eval.json but no readable config.json ({e})") from None
  if old != config.resolve(cfg, platform, local_devices).training_fingerprint():
    raise W2VError(f"{workdir} holds a run of different settings; use another --runs_dir")


def train_and_score(cfg: Config, workdir: str, analogies: str = evaluate.DEFAULT_ANALOGIES,
                    wordsim: str = evaluate.DEFAULT_WORDSIM) -> dict:
  """train.run into `workdir`, evaluate its vectors, write and return eval.json's content."""
  from w2v_jax import train  # pylint: disable=import-outside-toplevel  (imports jax)
  out = train.run(cfg, workdir)
  report = evaluate.evaluate(out["words"], out["emb_in"], analogies, wordsim)
  epochs = config.resolve(cfg).epochs  # the mode's default when not set
  report["train"] = {"words_per_sec": _words_per_sec(workdir, out["tokens"] * epochs,
                                                     out["train_seconds"]),
                     "train_seconds": out["train_seconds"], "tokens": out["tokens"],
                     "vocab_size": out["vocab_size"], "compile_seconds": out["compile_seconds"]}
  textio.write_json(os.path.join(workdir, "eval.json"), report)  # last: marks the run finished
  return report


def run_grid(base: Config, cells: Sequence[dict], seeds: Sequence[int], runs_dir: str,
             **eval_paths) -> list[dict]:
  """Trains and scores every (cell, seed) not yet finished, in order; returns one row per run."""
  runs = cell_configs(base, cells, seeds)
  rows, machine = [], None
  for i, (cell, seed, cfg) in enumerate(runs, 1):
    name = run_name(cell, seed)
    workdir = os.path.join(runs_dir, name)
    if os.path.exists(os.path.join(workdir, "eval.json")):
      machine = machine or _machine()
      _check_finished(cfg, workdir, *machine)
      with open(os.path.join(workdir, "eval.json"), encoding="utf-8") as f:
        report = json.load(f)
      log.info("run %d/%d %s: finished earlier, skipped", i, len(runs), name)
    else:
      log.info("run %d/%d %s", i, len(runs), name)
      report = train_and_score(cfg, workdir, **eval_paths)
    kinds = evaluate.section_kinds(report["analogy"]["sections"])
    rows.append({**cell, "seed": seed, "analogy": report["analogy"]["accuracy"],
                 "semantic": kinds["semantic"]["accuracy"],
                 "syntactic": kinds["syntactic"]["accuracy"],
                 "wordsim353": report["wordsim353"]["spearman"],
                 "words_per_sec": report["train"]["words_per_sec"],
                 "train_seconds": report["train"]["train_seconds"]})
  return rows


def aggregate(rows: Sequence[dict], fields: Sequence[str]) -> list[dict]:
  """One entry per cell (first-seen order): the cell, n seeds, and per metric mean and std.

  std is the sample standard deviation over seeds (ddof=1; 0 for one seed). Missing scores
  (None, e.g. no WS-353 pair in the vocabulary) are left out; all missing gives None.
  """
  cells: dict[str, list[dict]] = {}
  for row in rows:
    cells.setdefault(cell_name({k: row[k] for k in fields}), []).append(row)
  out = []
  for name, group in cells.items():
    entry = {"cell": name, **{k: group[0][k] for k in fields}, "n": len(group)}
    for _, key, _ in METRICS:
      vals = np.array([r[key] for r in group if r.get(key) is not None], np.float64)
      entry[key] = float(vals.mean()) if vals.size else None
      entry[key + "_std"] = float(vals.std(ddof=1)) if vals.size > 1 else 0.0 if vals.size else None
    out.append(entry)
  return out


def write_csv(rows: Sequence[dict], fields: Sequence[str], path: str) -> None:
  """results.csv: one row per (cell, seed)."""
  header = [*fields, "seed", *(col for col, _, _ in METRICS), "train_seconds"]
  with open(path, "w", newline="", encoding="utf-8") as f:
    writer = csv.writer(f)
    writer.writerow(header)
    for r in rows:
      writer.writerow([*(_fmt(r[k]) for k in fields), r["seed"],
                       *("" if r.get(key) is None else r[key] for _, key, _ in METRICS),
                       f"{r['train_seconds']:.2f}"])


def _pm(entry: dict, key: str, spec: str) -> str:
  if entry[key] is None:
    return "n/a"
  return f"{entry[key]:{spec}} ± {entry[key + '_std']:{spec}}"


def markdown_table(agg: Sequence[dict], fields: Sequence[str]) -> str:
  """A Markdown table, one row per cell: mean ± std over seeds of each metric."""
  head = [*fields, "seeds", *(title for _, _, title in METRICS)]
  lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
  for e in agg:
    cols = [*(_fmt(e[k]) for k in fields), str(e["n"]),
            *(_pm(e, key, ",.0f" if key == "words_per_sec" else ".4f") for _, key, _ in METRICS)]
    lines.append("| " + " | ".join(cols) + " |")
  return "\n".join(lines) + "\n"


def _bar_plot(ax, agg: Sequence[dict], key: str, title: str) -> None:
  x = np.arange(len(agg))
  mean = [np.nan if e[key] is None else e[key] for e in agg]
  std = [0.0 if e[key + "_std"] is None else e[key + "_std"] for e in agg]
  ax.bar(x, mean, yerr=std, capsize=4, color="tab:blue", alpha=0.8)
  ax.set_xticks(x, [e["cell"] for e in agg], rotation=30, ha="right", fontsize=8)
  ax.set_title(title)
  ax.grid(axis="y", alpha=0.3)


def write_plots(agg: Sequence[dict], out_dir: str, seeds: int) -> list[str]:
  """accuracy.png (analogy and WS-353, mean ± std per cell) and words_per_sec.png."""
  import matplotlib  # pylint: disable=import-outside-toplevel
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel
  paths = []
  width = max(6.0, 1.0 + 0.9 * len(agg))
  fig, axes = plt.subplots(1, 2, figsize=(2 * width, 4.5))
  _bar_plot(axes[0], agg, "analogy", f"analogy accuracy (mean ± std, {seeds} seeds)")
  _bar_plot(axes[1], agg, "wordsim353", f"WS-353 Spearman (mean ± std, {seeds} seeds)")
  fig.tight_layout()
  paths.append(os.path.join(out_dir, "accuracy.png"))
  fig.savefig(paths[-1], dpi=110)
  plt.close(fig)
  fig, ax = plt.subplots(figsize=(width, 4.5))
  _bar_plot(ax, agg, "words_per_sec", "training words/s (mean ± std)")
  fig.tight_layout()
  paths.append(os.path.join(out_dir, "words_per_sec.png"))
  fig.savefig(paths[-1], dpi=110)
  plt.close(fig)
  return paths


def write_reports(rows: Sequence[dict], fields: Sequence[str], out_dir: str,
                  header: str = "") -> list[dict]:
  """results.csv, results.md (with `header` above the table) and the plots; returns aggregate."""
  os.makedirs(out_dir, exist_ok=True)
  agg = aggregate(rows, fields)
  write_csv(rows, fields, os.path.join(out_dir, "results.csv"))
  with open(os.path.join(out_dir, "results.md"), "w", encoding="utf-8") as f:
    f.write(header + markdown_table(agg, fields))
  write_plots(agg, out_dir, max(e["n"] for e in agg))
  return agg
