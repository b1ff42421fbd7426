"""GloVe: co-occurrence counting, the weighting, one AdaGrad step, training, flag validation."""

import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

from conftest import REPO, topic_gap
from w2v_jax import config, cooccur, formats, glove, resume, train
from w2v_jax.config import Config
from w2v_jax.errors import Interrupted, W2VError
from w2v_jax.vocab import SEP


def naive_count(stream, vocab_size, window):
  """GloVe cooccur.c's loop, word by word: the line index resets at each newline (SEP)."""
  x = np.zeros((vocab_size, vocab_size))
  history = []
  for w2 in stream.tolist():
    if w2 == SEP:
      history = []
      continue
    for dist, w1 in enumerate(reversed(history[-window:]), start=1):
      x[w1, w2] += 1.0 / dist
      x[w2, w1] += 1.0 / dist
    history.append(w2)
  return x


@pytest.mark.parametrize("window,chunk", [(1, 5), (3, 7), (4, 1 << 19)])
def test_count_matches_naive_loop(window, chunk):
  rng = np.random.default_rng(window)
  stream = rng.integers(0, 6, 120).astype(np.int32)
  stream[rng.random(120) < 0.12] = SEP  # sentence ends, some adjacent (empty sentences)
  stream[0] = SEP
  got = cooccur.count(stream, 6, window, chunk=chunk).toarray()
  np.testing.assert_allclose(got, naive_count(stream, 6, window), rtol=1e-12)


def test_count_never_crosses_a_sentence():
  stream = np.array([0, 1, SEP, 2, 3], np.int32)
  x = cooccur.count(stream, 4, 5).toarray()
  assert x[1, 2] == 0 and x[0, 3] == 0
  assert x[0, 1] == 1.0 and x[2, 3] == 1.0
  i_N, j_N, x_N = cooccur.entries(cooccur.count(stream, 4, 5))
  assert sorted(zip(i_N.tolist(), j_N.tolist())) == [(0, 1), (1, 0), (2, 3), (3, 2)]
  assert x_N.dtype == np.float32 and np.all(x_N == 1.0)


def test_weight_function():
  x = jnp.array([0.5, 50.0, 100.0, 1e4])
  np.testing.assert_allclose(glove.weight(x, 100.0, 0.75),
                             [0.005 ** 0.75, 0.5 ** 0.75, 1.0, 1.0], rtol=1e-6)
  np.testing.assert_allclose(glove.weight(x, 10.0, 1.0), [0.05, 1.0, 1.0, 1.0], rtol=1e-6)


def glove_c_entry(w, g, i, j, x, x_max, power, eta):
  """glove.c glove_thread for one entry (j is already offset by V), in float64 numpy."""
  d = w.shape[1] - 1
  diff = w[i, :d] @ w[j, :d] + w[i, d] + w[j, d] - np.log(x)
  fdiff = (1.0 if x > x_max else (x / x_max) ** power) * diff
  cost = 0.5 * fdiff * diff
  fdiff *= eta
  t1, t2 = fdiff * w[j, :d].copy(), fdiff * w[i, :d].copy()
  w[i, :d] -= t1 / np.sqrt(g[i, :d])
  w[j, :d] -= t2 / np.sqrt(g[j, :d])
  g[i, :d] += t1 * t1
  g[j, :d] += t2 * t2
  w[i, d] -= fdiff / np.sqrt(g[i, d])
  w[j, d] -= fdiff / np.sqrt(g[j, d])
  g[i, d] += fdiff * fdiff
  g[j, d] += fdiff * fdiff
  return cost


def test_one_adagrad_step_matches_glove_c():
  v, dim = 5, 4
  state = glove.init_state(v, dim, seed=3)
  w, g = np.asarray(state.w_RE, np.float64), np.asarray(state.g_RE, np.float64)
  assert np.all(np.abs(w) <= 0.5 / (dim + 1)) and np.all(g == 1.0)
  # Warm the accumulators so G != 1 matters, then compare one batch of distinct rows
  # (synchronous == sequential when no row repeats) against glove.c entry by entry.
  g = g + np.random.default_rng(0).random(g.shape)
  state = glove.GloveState(jnp.asarray(np.concatenate([w, g], axis=1), jnp.float32))
  i_N, j_N = np.array([0, 1, 2], np.int32), np.array([v + 3, v + 1, v + 4], np.int32)
  x_N, m_N = np.array([3.0, 150.0, 0.5], np.float32), np.ones(3, np.float32)
  new, cost = glove.batch_step(state, i_N, j_N, x_N, m_N, x_max=100.0, power=0.75, eta=0.05)
  want_cost = sum(glove_c_entry(w, g, i, j, x, 100.0, 0.75, 0.05)
                  for i, j, x in zip(i_N.tolist(), j_N.tolist(), x_N.tolist()))
  np.testing.assert_allclose(float(cost), want_cost, rtol=1e-5)
  np.testing.assert_allclose(np.asarray(new.w_RE), w, rtol=1e-5, atol=1e-7)
  np.testing.assert_allclose(np.asarray(new.g_RE), g, rtol=1e-5, atol=1e-7)


def test_repeated_rows_sum_their_updates_and_padding_is_inert():
  v, dim = 3, 2
  state = glove.init_state(v, dim, seed=1)
  w0 = np.asarray(state.w_RE, np.float64)
  i_N, j_N = np.array([0, 0, 1], np.int32), np.array([v + 1, v + 2, v + 1], np.int32)
  x_N, m_N = np.array([2.0, 5.0, 9.0], np.float32), np.array([1, 1, 0], np.float32)
  new, _ = glove.batch_step(state, i_N, j_N, x_N, m_N, x_max=100.0, power=0.75, eta=0.05)
  want = w0.copy()
  for i, j, x in [(0, v + 1, 2.0), (0, v + 2, 5.0)]:  # each from the *old* parameters
    w, g = w0.copy(), np.ones_like(w0)
    glove_c_entry(w, g, i, j, x, 100.0, 0.75, 0.05)
    want += w - w0
  np.testing.assert_allclose(np.asarray(new.w_RE), want, rtol=1e-5, atol=1e-7)
  assert np.all(np.asarray(new.w_RE)[1] == np.asarray(state.w_RE)[1])  # masked entry: no step


def _cfg(path, **kw):
  kw = {"epochs": 20, "glove_batch": 64, "steps_per_call": 8, **kw}
  return Config(corpus=path, model="glove", dim=16, min_count=1, glove_window=5, glove_x_max=10.0,
                **kw)


def test_glove_learns_the_planted_topics_and_resumes(planted_path, tmp_path):
  workdir = str(tmp_path / "glove")
  out = train.run(_cfg(planted_path), workdir)
  rows = [json.loads(line) for line in open(os.path.join(workdir, "metrics.jsonl"))]
  costs = [r["epoch_cost"] for r in rows if "epoch_cost" in r]
  assert len(costs) == 20 and costs[-1] < 0.5 * costs[0]
  words, emb_VD = out["words"], out["emb_in"]
  assert topic_gap(words, emb_VD) > 0.3
  got_words, got = formats.load_word2vec(os.path.join(workdir, "vectors.bin"))
  assert got_words == words and np.allclose(got, emb_VD)
  # A re-run resumes the final checkpoint and exports the same vectors.
  again = train.run(_cfg(planted_path), workdir)
  np.testing.assert_array_equal(again["emb_in"], emb_VD)
  assert set(again) >= {"vocab_size", "tokens", "vocab_seconds", "compile_seconds",
                        "train_seconds", "steps", "elapsed", "words", "emb_in"}


class _StopAtAccess:
  """Stands in for resume.StopOnSignal: `.signal` reads "SIGINT" from its `at`-th read on."""
  at = 7

  def __enter__(self):
    self.reads = 0
    return self

  def __exit__(self, *exc):
    pass

  @property
  def signal(self):
    self.reads += 1
    return "SIGINT" if self.reads >= self.at else None


def test_interrupted_run_resumes_to_the_same_vectors(planted_path, tmp_path, monkeypatch):
  cfg = dict(epochs=2, glove_batch=16, steps_per_call=4)
  straight = train.run(_cfg(planted_path, **cfg), str(tmp_path / "straight"))["emb_in"]
  with monkeypatch.context() as m:
    m.setattr(resume, "StopOnSignal", _StopAtAccess)
    with pytest.raises(Interrupted, match="stopped by SIGINT"):
      train.run(_cfg(planted_path, **cfg), str(tmp_path / "stopped"))
  resumed = train.run(_cfg(planted_path, **cfg), str(tmp_path / "stopped"))["emb_in"]
  np.testing.assert_array_equal(resumed, straight)


@pytest.mark.parametrize("field,value", [("glove_window", 0), ("glove_x_max", 0.0),
                                         ("glove_x_max", float("nan")), ("glove_power", -1.0),
                                         ("glove_eta", 0.0), ("glove_eta", float("nan")),
                                         ("glove_batch", 0), ("alpha", 0.1)])
def test_bad_glove_values_are_w2v_errors(field, value):
  with pytest.raises(W2VError, match=field if field != "alpha" else "glove_eta"):
    Config(model="glove", **{field: value}).validate()


def _cli(*args):
  return subprocess.run([sys.executable, "-m", "experiments.train", "--model=glove", *args],
                        cwd=REPO, capture_output=True, text=True, timeout=300)


def test_cli_defaults_to_glove_epochs_and_evaluates(planted_path, tmp_path):
  workdir = str(tmp_path / "cli")
  proc = _cli(f"--corpus={planted_path}", f"--workdir={workdir}", "--dim=8", "--min_count=1",
              "--glove_batch=128", "--steps_per_call=4", "--show_neighbors=t0w0")
  assert proc.returncode == 0, proc.stderr
  with open(os.path.join(workdir, "config.json"), encoding="utf-8") as f:
    assert json.load(f)["epochs"] == config.GLOVE_EPOCHS
  assert '"analogy_accuracy"' in proc.stdout and "t0w0: " in proc.stdout


def test_cli_bad_glove_flag_is_one_clear_line(tmp_path):
  proc = _cli("--glove_eta=-1", f"--workdir={tmp_path}")
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert proc.returncode != 0 and "Traceback" not in proc.stderr
  assert len(lines) == 1 and "--glove_eta must be > 0" in lines[0], proc.stderr


def _saved_positions(monkeypatch):
  """Records the (epoch, call) of every checkpoint train.run saves."""
  from w2v_jax import checkpoint  # pylint: disable=import-outside-toplevel (orbax: slow import)
  saved, real = [], checkpoint.save

  def spy(mngr, step, state, meta):
    saved.append((meta["epoch"], meta["call"]))
    real(mngr, step, state, meta)

  monkeypatch.setattr(checkpoint, "save", spy)
  return saved


@pytest.mark.parametrize("secs", [0.0, 1e-9])
def test_glove_checkpoints_by_time(planted_path, tmp_path, monkeypatch, secs):
  saved = _saved_positions(monkeypatch)
  cfg = _cfg(planted_path, epochs=2, glove_batch=16, steps_per_call=2, checkpoint_secs=secs)
  train.run(cfg, str(tmp_path))
  mid_epoch = [p for p in saved if p[1] != 0]
  assert saved[-1] == (2, 0) and (1, 0) in saved  # every epoch's end, time or not
  assert bool(mid_epoch) == (secs > 0), saved


def test_glove_writes_tensorboard_events(planted_path, tmp_path):
  train.run(_cfg(planted_path, epochs=2), str(tmp_path), tensorboard=True)
  events = os.listdir(tmp_path / "tensorboard")
  assert any(name.startswith("events.out.tfevents") for name in events), events
  assert all(os.path.getsize(tmp_path / "tensorboard" / name) > 0 for name in events)


def test_glove_writes_files_only_on_process_zero(planted_path, tmp_path, monkeypatch):
  from w2v_jax import multihost  # pylint: disable=import-outside-toplevel
  monkeypatch.setattr(multihost, "is_writer", lambda: False)
  out = train.run(_cfg(planted_path, epochs=2), str(tmp_path), save_text=True, tensorboard=True)
  assert out["emb_in"].shape == (out["vocab_size"], 16)
  assert sorted(os.listdir(tmp_path)) == ["checkpoints"]  # orbax: every process takes part
