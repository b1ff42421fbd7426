"""Run logging: metrics.jsonl (one JSON object per logged step) and a human progress line."""

import json
import logging
import os
import time

from w2v_jax import textio
from w2v_jax.errors import W2VError

log = logging.getLogger("w2v_jax")


def _clock(seconds: float) -> str:
  seconds = int(max(seconds, 0))
  return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _json_lines(path: str):
  """(line, value) for each line of `path` that parses as JSON; torn rows (e.g. written by an
  older version that appended in place) are skipped."""
  with open(path, encoding="utf-8", errors="replace") as f:
    for line in f:
      try:
        yield line, json.loads(line)
      except ValueError:
        continue


class MetricsWriter:
  """Keeps WORKDIR/metrics.jsonl, one JSON object per row, rewritten atomically on each row.

  Rows of an earlier (resumed) run are kept; a crash never leaves a half-written row, because
  every write goes to a temporary file that is then renamed over the old one.
  With `tensorboard`, each row's numeric values also go to TensorBoard event files in
  WORKDIR/tensorboard/ (tensorboardX), at the row's `step`; metrics.jsonl stays the record.
  """

  def __init__(self, workdir: str, tensorboard: bool = False):
    self.path = os.path.join(workdir, "metrics.jsonl")
    self._lines: list[str] = []
    self._tb = None
    if tensorboard:
      import tensorboardX  # pylint: disable=import-outside-toplevel
      self._tb = tensorboardX.SummaryWriter(os.path.join(workdir, "tensorboard"))
    if os.path.exists(self.path):
      self._lines = [line if line.endswith("\n") else line + "\n"
                     for line, _ in _json_lines(self.path)]

  def write(self, row: dict) -> None:
    self._lines.append(json.dumps(row, sort_keys=True) + "\n")
    with textio.atomic_open(self.path) as f:
      f.writelines(self._lines)
    if self._tb is not None:
      for key, value in row.items():
        if key != "step" and isinstance(value, (int, float)) and not isinstance(value, bool):
          self._tb.add_scalar(key, value, global_step=row.get("step"))
      self._tb.flush()

  def close(self) -> None:
    if self._tb is not None:
      self._tb.close()


def read_rows(workdir: str) -> list[dict]:
  """The rows of WORKDIR/metrics.jsonl (torn lines skipped); W2VError if missing or empty."""
  path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.isfile(path):
    raise W2VError(f"{path} does not exist: is --workdir a training run's directory?")
  rows = [row for _, row in _json_lines(path) if isinstance(row, dict)]
  if not rows:
    raise W2VError(f"{path} holds no metrics rows yet (the run logs its first row after "
                   "its first dispatch)")
  return rows


def progress_line(row: dict) -> str:
  """'37.5% | 412,000 words/s | loss 2.413 | lr 0.01563 | elapsed 0:00:12 | ETA 0:00:20'."""
  done = row["progress"]
  eta = row["train_seconds"] * (1 - done) / done if done > 0 else float("nan")
  held = f" (held-out {row['heldout_loss']:.4f})" if "heldout_loss" in row else ""
  return (f"{100 * done:5.1f}% | {row['words_per_sec']:,.0f} words/s | "
          f"loss {row['loss']:.4f}{held} | lr {row['lr']:.5f} | elapsed {_clock(row['elapsed'])} | "
          f"ETA {_clock(eta) if eta == eta else '?'}")


class Timer:
  """Wall clock since construction."""

  def __init__(self):
    self.start = time.perf_counter()

  def __call__(self) -> float:
    return time.perf_counter() - self.start
