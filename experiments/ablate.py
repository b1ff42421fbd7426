"""Ablation grid: train every grid cell x seed, then write results.csv, results.md and plots.

  python -m experiments.ablate --grid='window=2,5;negatives=2,5' --seeds=2 --set='model=cbow' \\
      --out=docs/ablation --runs_dir=runs/ablation
Re-running the same command skips finished runs and resumes an interrupted one.
"""

import os

from absl import flags

from experiments import common
from w2v_jax import ablate, config
from w2v_jax.config import Config

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_GRID = flags.DEFINE_string("grid", "", "Axes 'FIELD=V1,V2;FIELD=V1,V2' of Config fields; every "
                            "combination is one cell. Empty: one cell of the base settings.")
_SEEDS = flags.DEFINE_integer("seeds", 1, "Runs per cell, with seeds base_seed .. base_seed+N-1.")
_CORPUS = flags.DEFINE_string("corpus", os.path.join(_REPO, "data", "sample",
                                                     "enwiki2015.part04.txt.gz"),
                              "Path or glob of plain or .gz text files.")
_MODEL = flags.DEFINE_string("model", None, "Base setting: sg or cbow (default: Config's).")
_DIM = flags.DEFINE_integer("dim", None, "Base setting: embedding dimension (default: Config's).")
_SET = flags.DEFINE_string("set", "", "More base settings 'FIELD=VALUE,FIELD=VALUE' (any Config "
                           "field), e.g. 'model=cbow,dim=50,epochs=2'.")
_OUT = flags.DEFINE_string("out", None, "Folder for results.csv, results.md and the PNG plots.")
_RUNS_DIR = flags.DEFINE_string("runs_dir", None, "Folder for the per-run workdirs (checkpoints, "
                                "vectors, eval.json); default OUT/runs.")


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not _OUT.value:
    raise common.W2VError("--out=FOLDER is required")
  settings = {k: v for k, v in (("model", _MODEL.value), ("dim", _DIM.value)) if v is not None}
  for field, value in ablate.parse_settings(_SET.value).items():
    if field in settings:
      raise common.W2VError(f"{field} is given both as --{field} and in --set")
    settings[field] = value
  settings.setdefault("corpus", _CORPUS.value)
  cells = ablate.parse_grid(_GRID.value)
  fields = ablate.grid_fields(cells)
  both = sorted(set(fields) & set(settings))
  if both:
    raise common.W2VError(f"{', '.join(both)} is both a base setting and a grid axis")
  base = Config(**settings)
  seeds = list(range(base.seed, base.seed + _SEEDS.value))
  runs = ablate.cell_configs(base, cells, seeds)  # every cell validated before any training
  # The CPU devices the plain command would use (replicas per core), before jax starts; a cell
  # that asks for fewer uses the first ones.
  cpu_devices = max(config.auto_cpu_devices(cfg, os.cpu_count() or 1) for _, _, cfg in runs)
  from w2v_jax import multihost, replicas  # pylint: disable=import-outside-toplevel (jax)
  multihost.use_cpu_devices(cpu_devices)
  if cpu_devices > 1:
    replicas.keep_freed_memory()
  runs_dir = _RUNS_DIR.value or os.path.join(_OUT.value, "runs")
  print(f"{len(cells)} cell(s) x {len(seeds)} seed(s) = {len(runs)} runs into {runs_dir}",
        flush=True)
  rows = ablate.run_grid(base, cells, seeds, runs_dir)
  shown = {k: v for k, v in settings.items() if k != "corpus"}
  header = (f"Grid `{_GRID.value}`, {len(seeds)} seed(s), base settings "
            f"`{ablate.cell_name(shown)}` on `{os.path.basename(base.corpus)}`; "
            "mean ± std over seeds.\n\n")
  agg = ablate.write_reports(rows, fields, _OUT.value, header)
  print(ablate.markdown_table(agg, fields), end="")
  print(f"results in {_OUT.value}: results.csv, results.md, accuracy.png, words_per_sec.png")


if __name__ == "__main__":
  common.run(main)
