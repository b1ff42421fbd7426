"""One axis of several ablation grids as lines: a metric against a Config field.

  python -m experiments.plot_grid --x=lr_progress_scale --metric=analogy_accuracy \\
      --csv=docs/quality/cbow_lr_p00.csv,docs/quality/sg_lr_p00.csv --labels=cbow,sg \\
      --out=docs/quality/schedule.png

Each --csv is an `experiments.ablate` results.csv; rows of one x value are averaged over seeds.
"""

import csv
import os
from collections import defaultdict

from absl import flags

from experiments import common

flags.DEFINE_list("csv", None, "results.csv files of experiments.ablate.")
flags.DEFINE_list("labels", None, "One legend label per --csv (default: the file names).")
flags.DEFINE_string("x", None, "The grid field on the x axis.")
flags.DEFINE_string("metric", "analogy_accuracy", "The results.csv column on the y axis.")
flags.DEFINE_string("xlabel", None, "x-axis label (default: --x).")
flags.DEFINE_string("out", None, "PNG to write.")
FLAGS = flags.FLAGS


def _series(path: str, x: str, metric: str) -> tuple[list[float], list[float]]:
  """(x values, mean metric per x value) of one results.csv, sorted by x."""
  try:
    with open(path, encoding="utf-8") as f:
      rows = list(csv.DictReader(f))
  except OSError as e:
    raise common.W2VError(f"cannot read --csv {path}: {e.strerror}") from None
  if not rows or x not in rows[0] or metric not in rows[0]:
    raise common.W2VError(f"{path} has no columns {x!r} and {metric!r}")
  values = defaultdict(list)
  for row in rows:
    if row[metric]:
      values[float(row[x])].append(float(row[metric]))
  xs = sorted(values)
  return xs, [sum(values[v]) / len(values[v]) for v in xs]


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not (FLAGS.csv and FLAGS.x and FLAGS.out):
    raise common.W2VError("--csv, --x and --out are required")
  labels = FLAGS.labels or [os.path.basename(p) for p in FLAGS.csv]
  if len(labels) != len(FLAGS.csv):
    raise common.W2VError("--labels needs one label per --csv")
  import matplotlib  # pylint: disable=import-outside-toplevel (slow; only this script needs it)
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(6.4, 4.2))
  for path, label in zip(FLAGS.csv, labels):
    xs, ys = _series(path, FLAGS.x, FLAGS.metric)
    ax.plot(xs, ys, marker="o", label=label)
  ax.set_xlabel(FLAGS.xlabel or FLAGS.x)
  ax.set_ylabel(FLAGS.metric)
  ax.grid(alpha=0.3)
  ax.legend()
  fig.tight_layout()
  fig.savefig(FLAGS.out, dpi=110)
  print(f"wrote {FLAGS.out}")


if __name__ == "__main__":
  common.run(main)
