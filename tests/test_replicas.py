"""--sync=dispatch replicas (w2v_jax/replicas.py) on fake CPU devices, in subprocesses (the
device count is fixed when jax starts; see test_parallel.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import REPO, topic_gap
from tests.test_parallel import _cfg, _in_subprocess, _train_on_four_devices
from w2v_jax import config, formats
from w2v_jax.config import Config
from w2v_jax.errors import W2VError


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


_HOST_VS_COLLECTIVE = """
import numpy as np, jax
from w2v_jax import parallel, replicas, train
from w2v_jax import step as step_lib
from w2v_jax.config import Config
cfg = Config(corpus="x", model="MODEL", dim=8, window=2, negatives=2, batch_size=16,
             steps_per_call=3, devices=2, sync="dispatch").validate()
mesh, tx, v = parallel.make_mesh(2), step_lib.make_optimizer(cfg), 50
rng = np.random.default_rng(0)
noise = (np.full(64, 1.0, np.float32), np.arange(64, dtype=np.int32) % v)
out = {}
for merge in ("host", "collective"):
  state = parallel.place_state(cfg, step_lib.init_state(cfg, v, tx), mesh)
  step = replicas.make_train_call(cfg, tx, mesh, merge=merge)
  rng = np.random.default_rng(0)
  for call in range(4):
    ids = rng.integers(0, v, (3, 2, 20)).astype(np.int32)
    state, _ = step(state, ids, np.zeros_like(ids), np.full(3, call / 4, np.float32), noise)
  out[merge] = jax.tree.map(np.asarray, state.params)
for k in out["host"]:
  assert np.abs(out["host"][k]).sum() > 0
  np.testing.assert_allclose(out["host"][k], out["collective"][k], rtol=1e-5, atol=1e-6)
print("same")
"""


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_host_merge_equals_the_collective_merge(model):
  """The single-process merge (device views, summed per device) and the in-step collectives
  (multi-process runs, accelerators) give the same tables."""
  proc = _in_subprocess(_HOST_VS_COLLECTIVE.replace("MODEL", model))
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "same" in proc.stdout


def test_replicas_learn_and_are_deterministic(planted_path, tmp_path):
  """--sync=dispatch: each device trains its own rows and the changes are summed per
  dispatch. A different algorithm from one synchronous step (vectors depend on the device
  count, like word2vec.c's -threads), so it is checked on what it learns, and for determinism."""
  extra = {"sync": "dispatch", "epochs": 3}
  runs = [(str(tmp_path / name), {"devices": n}) for name, n in
          (("two_a", 2), ("two_b", 2), ("four", 4))]
  base = json.loads(_cfg(planted_path, **extra).to_json())
  proc = _train_on_four_devices(runs, base)
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
  cfg = json.loads((tmp_path / "config.json").read_text())
  # The mode's defaults when the flags are not given: longer dispatches, capped bursts.
  assert (cfg["sync"], cfg["steps_per_call"], cfg["dup_cap"]) == ("dispatch", 128, 16.0)


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
  proc = _in_subprocess(_RESUME, 2, [cfg.to_json(), str(tmp_path / "full"),
                                     str(tmp_path / "crashed")])
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert "resumed" in proc.stdout


def test_dispatch_mode_has_its_own_defaults_unless_given():
  one = config.resolve(Config())
  assert (one.steps_per_call, one.dup_cap) == (64, 0.0)
  dispatch = config.resolve(Config(sync="dispatch"))
  assert (dispatch.steps_per_call, dispatch.dup_cap) == (128, 16.0)
  cbow = config.resolve(Config(sync="dispatch", model="cbow"))
  assert (cbow.steps_per_call, cbow.dup_cap) == (256, 4.0)
  given = config.resolve(Config(sync="dispatch", steps_per_call=32, dup_cap=0.0))
  assert (given.steps_per_call, given.dup_cap) == (32, 0.0)
  # A saved config reads back as it was written (resume compares these fields).
  assert Config.from_json(dispatch.to_json()) == dispatch
