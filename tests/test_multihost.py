"""A real 2-process run (jax.distributed on localhost, gloo CPU collectives): it trains,
checkpoints collectively, and process 0 alone exports the one-process vectors."""

import os
import socket
import subprocess
import sys

import numpy as np

from tests.conftest import REPO
from w2v_jax import formats, train
from w2v_jax.config import Config

_FLAGS = dict(min_count=1, dim=16, window=3, negatives=3, sample=0.0, epochs=2, batch_size=64,
              row_tokens=16, steps_per_call=4, checkpoint_every=5, alpha=0.05, sync="step")


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_train_checkpoint_and_export_the_one_process_vectors(planted_path,
                                                                          tmp_path):
  workdir, port = tmp_path / "two", _free_port()
  args = [sys.executable, "-m", "experiments.train", f"--corpus={planted_path}",
          f"--workdir={workdir}", "--devices=0", "--num_processes=2",
          f"--coordinator=localhost:{port}", "--noeval", "--show_neighbors="] + [
              f"--{k}={v}" for k, v in _FLAGS.items()]
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
  procs = [subprocess.Popen(args + [f"--process_id={p}"], cwd=REPO, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for p in (0, 1)]
  outs = []
  for proc in procs:
    try:
      outs.append(proc.communicate(timeout=240))
    finally:
      proc.kill()
  for proc, (_, err) in zip(procs, outs):
    assert proc.returncode == 0, err[-3000:]
  assert "trained 28 words" in outs[0][0] and "trained" not in outs[1][0]  # one writer
  one = train.run(Config(corpus=planted_path, **_FLAGS), str(tmp_path / "one"))
  steps = sorted(int(n) for n in os.listdir(workdir / "checkpoints") if n.isdigit())
  assert steps and steps[-1] == one["steps"], steps
  assert (workdir / "metrics.jsonl").exists()
  words, vecs = formats.load_word2vec(str(workdir / "vectors.bin"))
  assert words == one["words"]
  np.testing.assert_allclose(vecs, one["emb_in"], atol=1e-5, rtol=1e-4)
