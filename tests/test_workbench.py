"""Held-out loss, exported vector kinds, TensorBoard events and the metrics plot."""

import glob
import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, planted_corpus, tiny_config
from w2v_jax import export, formats, heldout, metrics, train
from w2v_jax import step as step_lib
from w2v_jax.errors import W2VError
from w2v_jax.vocab import SEP


def test_split_starts_the_heldout_slice_at_a_sentence_start():
  stream = np.array([1, 2, SEP, 3, 4, 5, SEP, 6, 7, SEP, 8, 9, SEP], np.int32)
  train_s, held = heldout.split(stream, 0.3)
  np.testing.assert_array_equal(np.concatenate([train_s, held]), stream)
  assert train_s[-1] == SEP and held.shape[0] >= 0.3 * stream.shape[0]
  np.testing.assert_array_equal(held, [6, 7, SEP, 8, 9, SEP])
  assert heldout.split(stream, 0.0)[1].size == 0
  with pytest.raises(W2VError, match="--heldout"):
    heldout.split(np.array([1, 2, 3, SEP], np.int32), 0.1)  # nothing left to hold out


def _cfg(corpus, **kw):
  return tiny_config(corpus, **{"checkpoint_every": 100, **kw})


@pytest.fixture(scope="module")
def heldout_run(tmp_path_factory):
  """A run holding out its last 10%, which ends in sentences of words seen nowhere else."""
  tmp = tmp_path_factory.mktemp("heldout")
  corpus = tmp / "c.txt"
  corpus.write_text(planted_corpus(400) + "zq1 zq2 zq3 t0w1 zq4\n" * 3)
  cfg = _cfg(str(corpus), heldout=0.1)
  out = train.run(cfg, str(tmp / "run"), export=("in", "out", "sum", "concat"))
  return cfg, out, str(tmp / "run")


def test_heldout_words_are_counted_but_never_trained(heldout_run):
  cfg, out, _ = heldout_run
  words = out["words"]
  held_only = [words.index(w) for w in ("zq1", "zq2", "zq3", "zq4")]  # in the vocabulary
  init = step_lib.init_state(cfg, len(words), step_lib.make_optimizer(cfg)).params["emb_in"]
  # Input rows move only when a word sits in a training window.
  np.testing.assert_array_equal(out["emb_in"][held_only], np.asarray(init)[held_only])
  assert not np.array_equal(out["emb_in"][words.index("t0w1")],
                            np.asarray(init)[words.index("t0w1")])


def test_heldout_loss_is_logged_and_falls(heldout_run):
  *_, workdir = heldout_run
  rows = metrics.read_rows(workdir)
  held = [r["heldout_loss"] for r in rows]
  assert len(held) == len(rows) >= 4
  assert held[-1] < 0.85 * held[0], held


def test_export_kinds_are_written_and_consistent(heldout_run):
  _, out, workdir = heldout_run
  got = {k: formats.load_word2vec(os.path.join(workdir, f))[1] for k, f in export.FILES.items()}
  np.testing.assert_array_equal(got["in"], out["emb_in"])
  np.testing.assert_allclose(got["sum"], got["in"] + got["out"], rtol=1e-6, atol=1e-7)
  np.testing.assert_array_equal(got["concat"], np.concatenate([got["in"], got["out"]], 1))
  assert not np.array_equal(got["out"], got["in"])
  assert set(out["vectors"]) == set(export.KINDS)


def test_export_kinds_are_checked():
  assert export.check_kinds(["sum", "in", "sum"]) == ("in", "sum")
  with pytest.raises(W2VError, match="--export"):
    export.check_kinds(["in", "outs"])


def _events(path):
  """(tag, step, value) of every scalar in a TensorBoard event file (TFRecord framing)."""
  from tensorboardX.proto import event_pb2  # pylint: disable=import-outside-toplevel
  data, at, out = open(path, "rb").read(), 0, []
  while at < len(data):
    (n,) = struct.unpack("<Q", data[at:at + 8])
    event = event_pb2.Event.FromString(data[at + 12:at + 12 + n])
    at += 12 + n + 4
    out += [(v.tag, event.step, v.simple_value) for v in event.summary.value]
  return out


def _cli(module, *args):
  return subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, capture_output=True,
                        text=True, timeout=600)


def test_cli_exports_evals_tensorboard_and_plot(tmp_path):
  corpus = tmp_path / "c.txt"
  corpus.write_text(planted_corpus(300))
  workdir = tmp_path / "run"
  proc = _cli("experiments.train", f"--corpus={corpus}", f"--workdir={workdir}", "--dim=16",
              "--window=3", "--negatives=3", "--min_count=1", "--sample=0", "--batch_size=64",
              "--steps_per_call=4", "--epochs=2", "--export=in,sum", "--export_out",
              "--heldout=0.1", "--tensorboard", "--show_neighbors=")
  assert proc.returncode == 0, proc.stderr
  for name in ("vectors.bin", "vectors_out.bin", "vectors_sum.bin"):
    assert os.path.exists(workdir / name), name
  assert not os.path.exists(workdir / "vectors_concat.bin")
  report = json.load(open(workdir / "eval.json"))
  assert {"analogy", "wordsim353", "in", "out", "sum"} <= set(report)
  assert report["analogy"] == report["in"]["analogy"]
  printed = [json.loads(l)["vectors"] for l in proc.stdout.splitlines() if l.startswith("{")]
  assert printed == ["in", "out", "sum"]
  rows = metrics.read_rows(str(workdir))
  files = glob.glob(str(workdir / "tensorboard" / "events.out.tfevents.*"))
  assert len(files) == 1
  scalars = _events(files[0])
  losses = [(s, v) for t, s, v in scalars if t == "loss"]
  assert losses == [(r["step"], pytest.approx(r["loss"])) for r in rows]
  assert {"heldout_loss", "lr", "words_per_sec"} <= {t for t, _, _ in scalars}

  png = tmp_path / "m.png"
  proc = _cli("experiments.plot_metrics", f"--workdir={workdir}", f"--out={png}")
  assert proc.returncode == 0, proc.stderr
  assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_metrics_reports_a_missing_or_empty_file(tmp_path):
  proc = _cli("experiments.plot_metrics", f"--workdir={tmp_path}")
  assert proc.returncode == 1 and proc.stderr.strip().count("\n") == 0
  assert "metrics.jsonl does not exist" in proc.stderr
  (tmp_path / "metrics.jsonl").write_text("")
  with pytest.raises(W2VError, match="holds no metrics rows"):
    metrics.read_rows(str(tmp_path))
