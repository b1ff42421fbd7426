"""`python -m experiments.explain`: the toy example end to end with its default flags."""

import json
import subprocess
import sys

import numpy as np

from conftest import REPO
from w2v_jax import explain


def test_explain_writes_pictures_and_the_pair_ends_close(tmp_path):
  proc = subprocess.run([sys.executable, "-m", "experiments.explain", f"--out={tmp_path}"],
                        cwd=REPO, capture_output=True, text=True, timeout=120)
  assert proc.returncode == 0, proc.stderr
  for name in ("map.png", "loss.png", "softmax.png", "ns_vs_softmax.png", "in_vs_out.png"):
    assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
  assert (tmp_path / "training.gif").read_bytes()[:3] == b"GIF"
  report = json.loads((tmp_path / "report.json").read_text())
  for run in report["runs"].values():
    assert run["pair_cosine_after"] > 0.9 and run["pair_cosine_after"] > run["pair_cosine_before"]
    assert run["loss_last_step"] < run["loss_first_step"]
  runs = report["runs"]
  assert runs["skip-gram, full softmax"]["output_rows_per_step"] == runs["skip-gram, full softmax"]["vocab"]
  assert runs["skip-gram, negative sampling"]["output_rows_per_step"] < runs["skip-gram, full softmax"]["vocab"]
  assert abs(sum(report["softmax_prediction"]["probabilities"].values()) - 1) < 1e-6
  assert report["parameters"]["total"] == 2 * 3_000_000 * 300
  assert "1,800,000,000" in proc.stdout


def test_the_pair_cosine_rises_during_training(tmp_path):
  path = tmp_path / "toy.txt"
  path.write_text(explain.toy_corpus())
  trace = explain.train_toy(str(path), explain.toy_config(epochs=5))
  cos = explain.pair_cosines(trace)
  assert cos[-1] > 0.9 and np.mean(cos[-10:]) > np.mean(cos[:10])
  assert trace.emb_in_TVD.shape == (len(trace.loss_T) + 1, len(trace.words), 2)
