"""Data parallelism (w2v_jax/parallel.py) on 4 fake CPU devices.

This process started jax with one CPU device, and the device count is fixed when jax starts,
so multi-device runs happen in a subprocess with --xla_force_host_platform_device_count=4.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, tiny_config, topic_gap
from w2v_jax import formats, train
from w2v_jax.config import Config
from w2v_jax.errors import W2VError


def _cfg(corpus, **kw):
  return tiny_config(corpus, **{"row_tokens": 16, "checkpoint_every": 20, **kw})


def _fake_devices_env(n):
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=REPO,
             XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
  return env


def _in_subprocess(code, n=4, args=()):
  """Runs python `code` (with `args` as its argv) with n fake CPU devices; returns the
  completed process."""
  return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=_fake_devices_env(n),
                        capture_output=True, text=True, timeout=300)


_WORKER = """
import json, sys
import jax
from w2v_jax import train
from w2v_jax.config import Config
assert jax.device_count() == 4, jax.devices()
for workdir, extra in json.loads(sys.argv[1]):
  train.run(Config(**{**json.loads(sys.argv[2]), **extra}), workdir)
"""


def _train_on_four_devices(runs, base: dict):
  """_WORKER in a 4-device subprocess: trains Config(**{**base, **extra}) into each workdir of
  `runs` = [(workdir, extra), ...]; returns the completed process."""
  return _in_subprocess(_WORKER, 4, [json.dumps(runs), json.dumps(base)])


def test_four_devices_train_the_one_device_vectors_replicated_or_sharded(planted_path, tmp_path):
  one = train.run(_cfg(planted_path), str(tmp_path / "one"))
  runs = [(str(tmp_path / "rep"), {"devices": 4, "sync": "step"}),
          (str(tmp_path / "shard"), {"devices": 0, "shard_tables": True})]
  base = json.loads(_cfg(planted_path).to_json())
  proc = _train_on_four_devices(runs, base)
  assert proc.returncode == 0, proc.stderr[-3000:]
  words, rep = formats.load_word2vec(str(tmp_path / "rep" / "vectors.bin"))
  words_s, shard = formats.load_word2vec(str(tmp_path / "shard" / "vectors.bin"))
  assert words == words_s == one["words"]
  assert rep.shape == shard.shape == one["emb_in"].shape  # the padding rows are not exported
  # Same windows and negatives as one device (same key, whole micro-step): equal up to float
  # summation order; sharded tables route the same updates to the same rows.
  np.testing.assert_allclose(rep, one["emb_in"], atol=1e-4, rtol=1e-3)
  np.testing.assert_allclose(shard, rep, atol=1e-5, rtol=1e-4)
  assert topic_gap(words, rep) > 0.3
  assert abs(topic_gap(words, rep) - topic_gap(words, one["emb_in"])) < 0.01
  cfg_rep = Config.from_json(open(tmp_path / "rep" / "config.json").read())
  assert (cfg_rep.devices, cfg_rep.shard_tables) == (4, False)


def test_four_devices_follow_other_objectives_cbow_with_hierarchical_softmax(planted_path,
                                                                            tmp_path):
  """The step reuses model.make_batch / rows_loss / optim.apply, so an extra table (emb_hs)
  and another optimizer need no parallel code of their own."""
  extra = {"model": "cbow", "loss": "ns+hs", "optimizer": "adagrad", "alpha": 0.1}
  one = train.run(_cfg(planted_path, **extra), str(tmp_path / "one"))
  base = json.loads(_cfg(planted_path, **extra).to_json())
  proc = _train_on_four_devices([(str(tmp_path / "four"), {"devices": 4})], base)
  assert proc.returncode == 0, proc.stderr[-3000:]
  _, four = formats.load_word2vec(str(tmp_path / "four" / "vectors.bin"))
  np.testing.assert_allclose(four, one["emb_in"], atol=1e-4, rtol=1e-3)


def test_memory_report_shows_per_device_tables_falling_as_one_over_n(tmp_path):
  out = tmp_path / "mem.json"
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.memory_report", "--vocab=40001", "--dim=50",
       "--devices=1,2", "--steps_per_call=2", f"--out={out}"],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
      timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  one, two = json.loads(out.read_text())
  assert (one["devices"], two["devices"]) == (1, 2)
  tables = 2 * 40002 * 50 * 4  # V padded to a multiple of 2
  assert two["per_device_tables_bytes"] == tables // 2
  # Arguments per device: its share of the tables plus replicated inputs (noise, ids) only.
  assert two["argument_bytes"] - two["noise_bytes"] < tables // 2 + 20_000
  assert one["argument_bytes"] - one["noise_bytes"] >= 2 * 40001 * 50 * 4
  # The step never copies a table: its temporaries (~1 MB of one micro-step's rows and
  # gradients) stay below one device's share of one table (4 MB).
  assert two["temp_bytes"] < tables // 4
  assert "| 2 |" in proc.stdout


def test_rows_that_do_not_split_over_the_devices_are_a_clear_cli_error(planted_path, tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", f"--corpus={planted_path}",
       f"--workdir={tmp_path}", "--devices=4", "--sync=step", "--batch_size=64",
       "--row_tokens=64",
       "--min_count=1", "--noeval"],
      cwd=REPO, env=_fake_devices_env(4), capture_output=True, text=True, timeout=300)
  assert proc.returncode == 1
  last = proc.stderr.strip().splitlines()[-1]
  assert last.startswith("error: 4 devices need a multiple of 4 rows"), proc.stderr[-2000:]
  assert "--row_tokens=16" in last


def test_more_devices_than_visible_is_a_clear_error(planted_path, tmp_path):
  with pytest.raises(W2VError, match="only 1 devices are visible"):
    train.run(_cfg(planted_path, devices=2), str(tmp_path))


def test_negative_devices_are_refused():
  with pytest.raises(W2VError, match="--devices must be >= 0"):
    Config(devices=-1).validate()
