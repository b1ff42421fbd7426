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


def _in_subprocess(code, n=4):
  """Runs python `code` with n fake CPU devices; returns the completed process."""
  return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_fake_devices_env(n),
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


def test_four_devices_train_the_one_device_vectors_replicated_or_sharded(planted_path, tmp_path):
  one = train.run(_cfg(planted_path), str(tmp_path / "one"))
  runs = [(str(tmp_path / "rep"), {"devices": 4}),
          (str(tmp_path / "shard"), {"devices": 0, "shard_tables": True})]
  base = json.loads(_cfg(planted_path).to_json())
  proc = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(runs), json.dumps(base)],
                        cwd=REPO, env=_fake_devices_env(4), capture_output=True, text=True,
                        timeout=300)
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
  proc = subprocess.run([sys.executable, "-c", _WORKER,
                         json.dumps([(str(tmp_path / "four"), {"devices": 4})]),
                         json.dumps(base)],
                        cwd=REPO, env=_fake_devices_env(4), capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  _, four = formats.load_word2vec(str(tmp_path / "four" / "vectors.bin"))
  np.testing.assert_allclose(four, one["emb_in"], atol=1e-4, rtol=1e-3)


def test_memory_report_shows_per_device_tables_falling_as_one_over_n(tmp_path):
  out = tmp_path / "mem.json"
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.memory_report", "--vocab=10001", "--dim=50",
       "--devices=1,2", "--steps_per_call=2", f"--out={out}"],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=REPO), capture_output=True, text=True,
      timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  one, two = json.loads(out.read_text())
  assert (one["devices"], two["devices"]) == (1, 2)
  tables = 2 * 10002 * 50 * 4  # V padded to a multiple of 2
  assert two["per_device_tables_bytes"] == tables // 2
  # Arguments per device: its share of the tables plus replicated inputs (noise, ids) only.
  assert two["argument_bytes"] - two["noise_bytes"] < tables // 2 + 20_000
  assert one["argument_bytes"] - one["noise_bytes"] >= 2 * 10001 * 50 * 4
  assert two["temp_bytes"] < tables // 4  # the step never copies a table
  assert "| 2 |" in proc.stdout


def test_rows_that_do_not_split_over_the_devices_are_a_clear_cli_error(planted_path, tmp_path):
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", f"--corpus={planted_path}",
       f"--workdir={tmp_path}", "--devices=4", "--batch_size=64", "--row_tokens=64",
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


_MERGE = """
import numpy as np, jax
from jax.sharding import PartitionSpec as P
from w2v_jax import parallel, replicas
mesh = parallel.make_mesh(4)
rng = np.random.default_rng(0)
for rows in (8, 7):  # a multiple of the devices (reduce-scatter) and not (all-reduce)
  old = rng.normal(size=(rows, 3)).astype(np.float32)
  new = rng.normal(size=(4, rows, 3)).astype(np.float32)
  merge = jax.jit(jax.shard_map(lambda o, n: replicas._merge(n[0], o, n=4)[None], mesh=mesh,
                                in_specs=(P(), P(parallel.AXIS)), out_specs=P(parallel.AXIS),
                                check_vma=False))
  got = np.asarray(merge(old, new))
  for device in range(4):
    np.testing.assert_allclose(got[device], old + (new - old).sum(0), atol=1e-5)
print("merged")
"""


def test_replica_merge_adds_every_replicas_change_on_every_device():
  proc = _in_subprocess(_MERGE)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "merged" in proc.stdout


def test_replicas_learn_and_are_deterministic(planted_path, tmp_path):
  """--sync=dispatch: each device trains its own rows and the changes are summed per
  dispatch. A different algorithm from one synchronous step (vectors depend on the device
  count, like word2vec.c's -threads), so it is checked on what it learns, and for determinism."""
  extra = {"sync": "dispatch", "epochs": 3}
  runs = [(str(tmp_path / name), {"devices": n}) for name, n in
          (("two_a", 2), ("two_b", 2), ("four", 4))]
  base = json.loads(_cfg(planted_path, **extra).to_json())
  proc = subprocess.run([sys.executable, "-c", _WORKER, json.dumps(runs), json.dumps(base)],
                        cwd=REPO, env=_fake_devices_env(4), capture_output=True, text=True,
                        timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  words, two_a = formats.load_word2vec(str(tmp_path / "two_a" / "vectors.bin"))
  _, two_b = formats.load_word2vec(str(tmp_path / "two_b" / "vectors.bin"))
  _, four = formats.load_word2vec(str(tmp_path / "four" / "vectors.bin"))
  np.testing.assert_array_equal(two_a, two_b)
  assert two_a.shape == four.shape == (len(words), 16)  # padding rows are not exported
  assert topic_gap(words, two_a) > 0.3 and topic_gap(words, four) > 0.3
  rows = [json.loads(line) for line in open(tmp_path / "four" / "metrics.jsonl")]
  # Every replica's centres are counted: 4 replicas take 4 x the rows of one per micro-step.
  assert rows[-1]["progress"] == pytest.approx(1.0, abs=0.02)


def test_cpu_devices_for_replicas_need_no_xla_flag(planted_path, tmp_path):
  """--devices=2 on a CPU host with one device: the script asks jax for 2 CPU devices."""
  env = dict(os.environ, JAX_PLATFORMS="cpu", PYTHONPATH=REPO)
  env.pop("XLA_FLAGS", None)
  proc = subprocess.run(
      [sys.executable, "-m", "experiments.train", f"--corpus={planted_path}",
       f"--workdir={tmp_path}", "--devices=2", "--sync=dispatch", "--min_count=1",
       "--epochs=1", "--noeval", "--show_neighbors="],
      cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-2000:]
  assert json.loads((tmp_path / "config.json").read_text())["sync"] == "dispatch"


@pytest.mark.parametrize("kw, message", [
    ({"sync": "sometimes"}, "--sync must be step|dispatch"),
    ({"sync": "dispatch", "optimizer": "adagrad"}, "--sync=dispatch supports --optimizer=sgd"),
    ({"sync": "dispatch", "shard_tables": True}, "--sync=dispatch supports --optimizer=sgd"),
])
def test_bad_sync_settings_are_refused(kw, message):
  with pytest.raises(W2VError, match=message):
    Config(**kw).validate()


_RESUME = """
import json, sys
import numpy as np
from tests.conftest import crash_after_saves
from w2v_jax import train
from w2v_jax.config import Config
cfg = Config(**json.loads(sys.argv[1]))
full = train.run(cfg, sys.argv[2])["emb_in"]
with crash_after_saves(2):
  train.run(cfg, sys.argv[3])
resumed = train.run(cfg, sys.argv[3])["emb_in"]
np.testing.assert_array_equal(full, resumed)
print("resumed")
"""


def test_replicas_resume_a_crash_bit_for_bit(planted_path, tmp_path):
  cfg = _cfg(planted_path, devices=2, sync="dispatch", checkpoint_every=3)
  proc = subprocess.run(
      [sys.executable, "-c", _RESUME, cfg.to_json(), str(tmp_path / "full"),
       str(tmp_path / "crashed")],
      cwd=REPO, env=_fake_devices_env(2), capture_output=True, text=True, timeout=300)
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "resumed" in proc.stdout
