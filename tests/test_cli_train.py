"""`python -m experiments.train` end to end, and every bad input as one clear stderr line."""

import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

SMALL = ["--dim=16", "--window=3", "--negatives=3", "--min_count=1", "--sample=0",
         "--batch_size=64", "--steps_per_call=4", "--show_neighbors=t0w0"]


def _train(*args, cwd=REPO):
  return subprocess.run([sys.executable, "-m", "experiments.train", *args], cwd=cwd,
                        capture_output=True, text=True, timeout=300)


def _one_clear_line(proc, fragment):
  assert proc.returncode != 0, proc.stdout + proc.stderr
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert "Traceback" not in proc.stderr, proc.stderr
  assert len(lines) == 1, proc.stderr
  assert fragment in lines[0], lines[0]


def _digest(directory):
  h = hashlib.sha256()
  for root, _, files in sorted(os.walk(directory)):
    for name in sorted(files):
      with open(os.path.join(root, name), "rb") as f:
        h.update(name.encode() + f.read())
  return h.hexdigest()


@pytest.fixture(scope="module")
def trained(planted_path, tmp_path_factory):
  workdir = str(tmp_path_factory.mktemp("run") / "w")
  proc = _train(f"--corpus={planted_path}", f"--workdir={workdir}", *SMALL, "--save_text",
                "--export_out")
  assert proc.returncode == 0, proc.stderr
  return workdir, proc


def test_outputs_and_gensim_reads_vectors_bin(trained):
  gensim_models = pytest.importorskip("gensim.models")
  workdir, proc = trained
  for name in ("vectors.bin", "vectors.txt", "vectors_out.bin", "vocab.txt", "config.json",
               "metrics.jsonl", "eval.json"):
    assert os.path.exists(os.path.join(workdir, name)), name
  kv = gensim_models.KeyedVectors.load_word2vec_format(os.path.join(workdir, "vectors.bin"),
                                                       binary=True)
  kv_txt = gensim_models.KeyedVectors.load_word2vec_format(os.path.join(workdir, "vectors.txt"))
  np.testing.assert_array_equal(kv.vectors, kv_txt.vectors)
  vocab = [l.split()[0] for l in open(os.path.join(workdir, "vocab.txt"))]
  assert kv.index_to_key == vocab
  report = json.load(open(os.path.join(workdir, "eval.json")))
  assert {"analogy", "wordsim353"} <= set(report)
  assert "t0w0:" in proc.stdout


def test_rerun_resumes_finished_run_without_retraining(trained):
  workdir, _ = trained
  before = open(os.path.join(workdir, "vectors.bin"), "rb").read()
  corpus = json.load(open(os.path.join(workdir, "config.json")))["corpus"]
  proc = _train(f"--corpus={corpus}", f"--workdir={workdir}", *SMALL)
  assert proc.returncode == 0, proc.stderr
  assert "resuming" in proc.stderr
  assert open(os.path.join(workdir, "vectors.bin"), "rb").read() == before


def test_different_configuration_is_refused_and_nothing_is_touched(trained):
  workdir, _ = trained
  corpus = json.load(open(os.path.join(workdir, "config.json")))["corpus"]
  before = _digest(workdir)
  proc = _train(f"--corpus={corpus}", f"--workdir={workdir}", *SMALL, "--dim=8")
  _one_clear_line(proc, "different configuration")
  assert _digest(workdir) == before


@pytest.mark.parametrize("flag,fragment", [
    ("--dim=0", "--dim"), ("--window=0", "--window"), ("--negatives=-1", "--negatives"),
    ("--sample=-0.1", "--sample"), ("--alpha=0", "--alpha"), ("--alpha=-1", "--alpha"),
    ("--epochs=0", "--epochs"), ("--model=glove2", "--model"), ("--dim=abc", "dim"),
    ("--loss=hs", "--negatives=0"), ("--sigmoid=fast", "--sigmoid"),
    ("--lr_progress_scale=0", "--lr_progress_scale"), ("--lr_progress_scale=2", "--lr_progress_scale"),
])
def test_nonsense_flags(planted_path, tmp_path, flag, fragment):
  proc = _train(f"--corpus={planted_path}", f"--workdir={tmp_path}/w", flag)
  _one_clear_line(proc, fragment)


@pytest.mark.parametrize("content,fragment", [
    (None, "not found"), (b"", "empty"), (b"one two three\n", "vocabulary is empty"),
])
def test_bad_corpora(tmp_path, content, fragment):
  corpus = tmp_path / "c.txt"
  if content is not None:
    corpus.write_bytes(content)
  proc = _train(f"--corpus={corpus}", f"--workdir={tmp_path}/w", "--min_count=5")
  _one_clear_line(proc, fragment)


def test_phrases_flag_trains_on_joined_bigrams(tmp_path):
  rng = np.random.default_rng(0)
  fillers = [f"w{i}" for i in range(40)]
  lines = []
  for _ in range(300):
    words = list(rng.choice(fillers, 12))
    words[rng.integers(10)] = "new york"
    lines.append(" ".join(words))
  corpus = tmp_path / "c.txt"
  corpus.write_text("\n".join(lines) + "\n")
  proc = _train(f"--corpus={corpus}", f"--workdir={tmp_path}/w", *SMALL, "--phrases=1",
                "--phrase_threshold=10", "--noeval", "--show_neighbors=")
  assert proc.returncode == 0, proc.stderr
  vocab = [l.split()[0] for l in open(tmp_path / "w" / "vocab.txt")]
  assert "new_york" in vocab and "new" not in vocab
