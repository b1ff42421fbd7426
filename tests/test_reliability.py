"""Faults: signals, divergence and damaged checkpoints never lose work or train from garbage."""

import glob
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import REPO, planted_corpus, tiny_config
from w2v_jax import checkpoint, formats, train
from w2v_jax.errors import W2VError

FLAGS = ["--dim=16", "--window=3", "--negatives=3", "--min_count=1", "--sample=0",
         "--batch_size=64", "--steps_per_call=2", "--noeval", "--show_neighbors="]


def _cfg(corpus, **kw):
  return tiny_config(corpus, **{"checkpoint_every": 1, "keep_checkpoints": 3, **kw})


def _interrupt_then_resume(tmp_path, stop, checkpoint_every):
  """Trains a full run and an interrupted one (`stop(proc, workdir)` once metrics appear),
  resumes the interrupted one, and checks both end with bit-identical vectors."""
  corpus = tmp_path / "c.txt"
  corpus.write_text(planted_corpus(n_sentences=400))
  # Enough epochs that the interrupted run is still training when it is stopped (~3 s).
  args = [sys.executable, "-m", "experiments.train", f"--corpus={corpus}", "--epochs=150",
          f"--checkpoint_every={checkpoint_every}", *FLAGS]
  # Only the interrupted run needs frequent checkpoints (they do not change the vectors).
  rare = "--checkpoint_every=1000000"
  full = subprocess.run(args + [rare, f"--workdir={tmp_path}/full"], cwd=REPO,
                        capture_output=True, text=True, timeout=600)
  assert full.returncode == 0, full.stderr
  cut = f"{tmp_path}/cut"
  proc = subprocess.Popen(args + [f"--workdir={cut}"], cwd=REPO, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
  deadline = time.time() + 120
  while not glob.glob(f"{cut}/metrics.jsonl") and time.time() < deadline:
    time.sleep(0.05)
  stop(proc, cut)
  assert checkpoint.has_checkpoint(cut)
  resumed = subprocess.run(args + [rare, f"--workdir={cut}"], cwd=REPO, capture_output=True,
                           text=True, timeout=600)
  assert resumed.returncode == 0, resumed.stderr
  assert "resuming from step" in resumed.stderr
  _, a = formats.load_word2vec(f"{tmp_path}/full/vectors.bin")
  _, b = formats.load_word2vec(f"{cut}/vectors.bin")
  np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_saves_and_resume_gives_identical_vectors(tmp_path, sig):
  def stop(proc, _):
    # metrics.jsonl is first written after the first dispatch, inside the signal handler's
    # scope: signal at once (a fixed delay can outlast a fast run's remaining training).
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert f"stopped by {sig.name}" in err and "Traceback" not in err

  _interrupt_then_resume(tmp_path, stop, checkpoint_every=1000)


def test_divergence_stops_with_a_clear_error_and_keeps_good_checkpoints(planted_path, tmp_path):
  with pytest.raises(W2VError, match="diverged"):
    train.run(_cfg(planted_path, alpha=1e30, epochs=3), str(tmp_path))
  assert not os.path.exists(tmp_path / "vectors.bin")


def test_damaged_latest_checkpoint_falls_back_to_an_older_one(planted_path, tmp_path):
  full = train.run(_cfg(planted_path), str(tmp_path / "full"))
  work = tmp_path / "work"
  train.run(_cfg(planted_path), str(work))
  steps = sorted(int(n) for n in os.listdir(work / "checkpoints") if n.isdigit())
  assert len(steps) >= 2
  for path in glob.glob(str(work / "checkpoints" / str(steps[-1]) / "state" / "**" / "*"),
                        recursive=True):
    if os.path.isfile(path) and os.path.getsize(path) > 64:
      with open(path, "r+b") as f:
        f.truncate(os.path.getsize(path) // 2)
  again = train.run(_cfg(planted_path), str(work))  # restores steps[-2], retrains the rest
  assert again["steps"] == full["steps"]
  np.testing.assert_array_equal(again["emb_in"], full["emb_in"])


def test_all_checkpoints_damaged_is_a_clear_error(planted_path, tmp_path):
  train.run(_cfg(planted_path, epochs=1), str(tmp_path))
  for path in glob.glob(str(tmp_path / "checkpoints" / "*" / "state" / "**" / "*"),
                        recursive=True):
    if os.path.isfile(path):
      with open(path, "wb") as f:
        f.write(b"garbage")
  with pytest.raises(W2VError, match="no readable checkpoint"):
    train.run(_cfg(planted_path, epochs=1), str(tmp_path))


def test_full_disk_during_a_checkpoint_save_is_reported(planted_path, tmp_path, monkeypatch):
  import errno

  import orbax.checkpoint as ocp

  def no_space(self, *args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")

  monkeypatch.setattr(ocp.CheckpointManager, "save", no_space)
  with pytest.raises(W2VError, match="No space left on device"):
    train.run(_cfg(planted_path, epochs=1), str(tmp_path))
  assert not os.path.exists(tmp_path / "vectors.bin")


def test_corpus_of_one_word_trains_without_crashing(tmp_path):
  corpus = tmp_path / "one.txt"
  corpus.write_text("hello\n" * 20)
  out = train.run(_cfg(str(corpus), epochs=1), str(tmp_path / "w"))
  assert out["words"] == ["hello"] and np.all(np.isfinite(out["emb_in"]))


def test_sigkill_loses_only_steps_since_the_last_checkpoint(tmp_path):
  def stop(proc, workdir):
    deadline = time.time() + 120
    while not checkpoint.has_checkpoint(workdir) and time.time() < deadline:
      time.sleep(0.05)
    time.sleep(0.1)
    proc.kill()
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

  _interrupt_then_resume(tmp_path, stop, checkpoint_every=2)


def test_crash_while_writing_vectors_leaves_no_partial_file(tmp_path, monkeypatch):
  path = tmp_path / "vectors.bin"
  formats.save_word2vec(str(path), ["a", "b"], np.ones((2, 3), np.float32), binary=True)
  before = path.read_bytes()

  def crash(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(formats.os, "replace", crash)
  with pytest.raises((OSError, W2VError)):
    formats.save_word2vec(str(path), ["c"], np.zeros((1, 3), np.float32), binary=True)
  assert path.read_bytes() == before  # the old complete file, never a half-written one
  assert [p.name for p in tmp_path.iterdir()] == ["vectors.bin"]  # no temp file left behind


def test_metrics_rows_are_written_atomically_and_kept_on_resume(tmp_path, monkeypatch):
  from w2v_jax import metrics
  writer = metrics.MetricsWriter(str(tmp_path))
  writer.write({"step": 1})
  before = (tmp_path / "metrics.jsonl").read_text()

  def crash(*args, **kwargs):
    raise OSError(28, "No space left on device")

  monkeypatch.setattr(metrics.os, "replace", crash)
  with pytest.raises(OSError):
    writer.write({"step": 2})
  assert (tmp_path / "metrics.jsonl").read_text() == before  # never a torn row
  monkeypatch.undo()
  again = metrics.MetricsWriter(str(tmp_path))  # a resumed run keeps the earlier rows
  again.write({"step": 3})
  rows = (tmp_path / "metrics.jsonl").read_text().splitlines()
  assert [json.loads(r)["step"] for r in rows] == [1, 3]


def test_checkpoint_of_another_vocabulary_is_refused(planted_path, tmp_path):
  train.run(_cfg(planted_path, epochs=1), str(tmp_path))
  other = tmp_path / "other.txt"
  other.write_text(planted_corpus(n_sentences=300, seed=7))
  before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
  with pytest.raises(W2VError, match="different vocabulary"):
    train.run(_cfg(str(other), epochs=1), str(tmp_path))
  after = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
  assert after == before  # vocab.txt, config.json, vectors, metrics untouched
