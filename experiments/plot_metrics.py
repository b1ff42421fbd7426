"""Plot a run's metrics.jsonl: loss (and heldout_loss), lr and words/s against words processed.

  python -m experiments.plot_metrics --workdir=runs/default --out=runs/default/metrics.png

One PNG with three panels sharing the x axis (corpus words read). The default --out is
WORKDIR/metrics.png.
"""

import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (after choosing the backend)
from absl import flags  # noqa: E402

from experiments import common  # noqa: E402
from w2v_jax import metrics  # noqa: E402

_WORKDIR = flags.DEFINE_string("workdir", "runs/default", "A training run's directory.")
_OUT = flags.DEFINE_string("out", None, "Output PNG path (default WORKDIR/metrics.png).")


def plot(rows: list[dict], out: str) -> None:
  """Writes the three panels of `rows` (metrics.jsonl rows) to the PNG `out`."""
  words = [r.get("words", i) for i, r in enumerate(rows)]
  fig, (ax_loss, ax_lr, ax_speed) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
  ax_loss.plot(words, [r.get("loss") for r in rows], label="training loss")
  held = [(w, r["heldout_loss"]) for w, r in zip(words, rows) if "heldout_loss" in r]
  if held:
    ax_loss.plot(*zip(*held), label="held-out loss")
  ax_loss.set_ylabel("loss per example")
  ax_loss.legend()
  ax_lr.plot(words, [r.get("lr") for r in rows])
  ax_lr.set_ylabel("learning rate")
  ax_speed.plot(words, [r.get("words_per_sec") for r in rows])
  ax_speed.set_ylabel("words/s")
  ax_speed.set_xlabel("words processed")
  for ax in (ax_loss, ax_lr, ax_speed):
    ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(out, dpi=100)
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  rows = metrics.read_rows(_WORKDIR.value)
  out = _OUT.value or os.path.join(_WORKDIR.value, "metrics.png")
  plot(rows, out)
  print(f"wrote {out} ({len(rows)} rows)")


if __name__ == "__main__":
  common.run(main)
