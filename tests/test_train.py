"""The train step (golden values, optax equivalence) and `run` (loss falls, resume, determinism)."""

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from tests.conftest import crash_after_saves, tiny_config, topic_gap
from w2v_jax import formats, model, train
from w2v_jax import step as step_lib
from w2v_jax.config import Config

W, K, V, D = 2, 3, 12, 6


def _tiny_cfg(arch):
  return Config(model=arch, dim=D, window=W, negatives=K, batch_size=8, row_tokens=8,
                steps_per_call=1, alpha=0.5)


def _inputs(seed=0):
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, V, (1, 1, 8 + 2 * W)).astype(np.int32)
  seg = np.zeros_like(ids)
  seg[..., -3:] = 1  # a sentence boundary inside the row
  noise = (jnp.ones((V,), jnp.float32), jnp.arange(V, dtype=jnp.int32))
  return ids, seg, noise


def _sigmoid(x):
  return 1 / (1 + np.exp(-x))


def _reference_step(params, batch, arch, lr):
  """A synchronous word2vec step written from word2vec.c's update equations, in numpy."""
  emb_in, emb_out = (np.array(params[k], np.float64) for k in ("emb_in", "emb_out"))
  d_in, d_out = np.zeros_like(emb_in), np.zeros_like(emb_out)
  ids, out, live, mask = (np.asarray(batch[k]) for k in ("ids", "out", "live", "mask"))
  offs = model.offsets(W)
  for b, t in np.ndindex(mask.shape[:2]):
    ctx = [ids[b, W + t + offs[o]] for o in range(len(offs)) if mask[b, t, o]]
    if not ctx:
      continue
    inputs = [[c] for c in ctx] if arch == "sg" else [ctx]
    for group in inputs:
      h = emb_in[group].mean(0)
      neu1e = np.zeros(D)
      for j, (word, alive) in enumerate(zip(out[b, t], live[b, t])):
        if alive:
          g = ((j == 0) - _sigmoid(h @ emb_out[word])) * lr   # C: g = (label - σ(f)) * alpha
          neu1e += g * emb_out[word]
          d_out[word] += g * h
      for c in group:   # CBOW: the full neu1e to every context row (word2vec.c)
        d_in[c] += neu1e
  return emb_in + d_in, emb_out + d_out


@pytest.mark.parametrize("arch", ["sg", "cbow"])
def test_golden_one_step_matches_word2vec_update_equations(arch):
  cfg = _tiny_cfg(arch)
  tx = step_lib.make_optimizer(cfg)
  state = step_lib.init_state(cfg, V, tx)
  state = state._replace(params={"emb_in": state.params["emb_in"] * 50,
                                 "emb_out": state.params["emb_in"][::-1] * 30})
  params0 = jax.tree.map(np.asarray, state.params)
  ids, seg, noise = _inputs()
  batch = model.make_batch(jnp.asarray(ids[0]), jnp.asarray(seg[0]),
                           step_lib.step_key(state.rng, 0), noise, window=W, negatives=K)
  want_in, want_out = _reference_step(params0, batch, arch, cfg.lr)
  step = train.make_train_call(cfg, tx)
  state, stats = step(state, ids, seg, np.zeros(1, np.float32), noise)
  np.testing.assert_allclose(state.params["emb_in"], want_in, rtol=1e-4, atol=1e-6,
                             err_msg=f"{arch}: input table differs from the C update equations")
  np.testing.assert_allclose(state.params["emb_out"], want_out, rtol=1e-4, atol=1e-6,
                             err_msg=f"{arch}: output table differs from the C update equations")
  assert int(state.step) == 1 and float(stats["lr"]) == pytest.approx(cfg.lr)


def test_row_updates_equal_optax_sgd_on_the_dense_gradient():
  cfg = _tiny_cfg("sg")
  params = step_lib.init_state(cfg, V, step_lib.make_optimizer(cfg)).params
  params = {"emb_in": params["emb_in"] * 50, "emb_out": params["emb_in"][::-1] * 30}
  ids, seg, noise = _inputs(1)
  batch = model.make_batch(jnp.asarray(ids[0]), jnp.asarray(seg[0]), jax.random.PRNGKey(3),
                           noise, window=W, negatives=K)
  dense = jax.grad(lambda p: model.loss_fn(p, batch, model="sg")[0])(params)
  tx = optax.sgd(0.1)
  upd, _ = tx.update(dense, tx.init(params))
  want = optax.apply_updates(params, upd)
  rows_g = jax.grad(lambda r: model.rows_loss(r, batch, model="sg")[0])(
      model.gather_rows(params, batch))
  got = model.scatter_rows(params, batch, jax.tree.map(lambda g: -0.1 * g, rows_g))
  for k in want:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=1e-7)


def test_lr_decays_linearly_to_the_floor():
  assert float(step_lib.word2vec_lr(0.025, 0.0, 1e-4)) == pytest.approx(0.025)
  assert float(step_lib.word2vec_lr(0.025, 0.5, 1e-4)) == pytest.approx(0.0125)
  assert float(step_lib.word2vec_lr(0.025, 1.0, 1e-4)) == pytest.approx(0.025 * 1e-4)
  # --lr_progress_scale=0.5: gensim corpus_file's 2-worker schedule ends at half the start.
  assert float(step_lib.word2vec_lr(0.05, 1.0, 1e-4, 0.5)) == pytest.approx(0.025)
  assert float(step_lib.word2vec_lr(0.05, 0.5, 1e-4, 0.5)) == pytest.approx(0.0375)


def _cfg(corpus, **kw):
  return tiny_config(corpus, **{"epochs": 3, "checkpoint_every": 2, **kw})


def test_loss_falls_and_topics_cluster(planted_path, tmp_path):
  out = train.run(_cfg(planted_path), str(tmp_path))
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert rows[-1]["loss"] < 0.8 * rows[0]["loss"], [r["loss"] for r in rows]
  assert {"step", "words", "words_per_sec", "loss", "lr", "elapsed"} <= set(rows[-1])
  words, vecs = formats.load_word2vec(str(tmp_path / "vectors.bin"))
  assert words == out["words"]
  assert topic_gap(words, vecs) > 0.3
  for name in ("vocab.txt", "config.json", "checkpoints"):
    assert os.path.exists(tmp_path / name)


def test_resume_after_a_crash_continues_and_matches(planted_path, tmp_path):
  full = train.run(_cfg(planted_path), str(tmp_path / "full"))
  with crash_after_saves(2) as saves:
    train.run(_cfg(planted_path), str(tmp_path / "crash"))
  resumed = train.run(_cfg(planted_path), str(tmp_path / "crash"))
  assert 0 < saves[-1] < full["steps"]
  assert resumed["steps"] == full["steps"]
  np.testing.assert_array_equal(resumed["emb_in"], full["emb_in"])


def test_same_seed_same_vectors_other_seed_differs(planted_path, tmp_path):
  a = train.run(_cfg(planted_path, epochs=1), str(tmp_path / "a"))
  b = train.run(_cfg(planted_path, epochs=1), str(tmp_path / "b"))
  c = train.run(_cfg(planted_path, epochs=1, seed=1), str(tmp_path / "c"))
  np.testing.assert_array_equal(a["emb_in"], b["emb_in"])
  assert not np.array_equal(a["emb_in"], c["emb_in"])


def test_checkpoints_fall_due_by_training_time(planted_path, tmp_path):
  """--checkpoint_secs (the default way): with a tiny interval every dispatch saves; with the
  default 300 s a short run keeps only its final checkpoint."""
  from w2v_jax import checkpoint  # pylint: disable=import-outside-toplevel
  saved = {}
  for name, secs in (("often", 1e-9), ("default", Config.checkpoint_secs)):
    cfg = tiny_config(planted_path, checkpoint_every=0, checkpoint_secs=secs, keep_checkpoints=50)
    train.run(cfg, str(tmp_path / name))
    mngr = checkpoint.make_manager(str(tmp_path / name), 50)
    saved[name] = list(mngr.all_steps())
    mngr.close()
  assert len(saved["default"]) == 1
  assert len(saved["often"]) > 3 and saved["often"][-1] == saved["default"][-1]
