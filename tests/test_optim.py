"""Optimizers: lazy vs dense Adagrad/Adam row semantics, loss falls, an Adam run resumes."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import crash_after_saves, tiny_config
from w2v_jax import optim, train
from w2v_jax import step as step_lib
from w2v_jax.config import Config

W, K, V, D = 2, 3, 40, 6


def _cfg(opt, update, **kw):
  return Config(dim=D, window=W, negatives=K, batch_size=8, row_tokens=8, steps_per_call=1,
                alpha=0.1, optimizer=opt, optimizer_update=update, **kw)


def _block(lo, seed):
  """A one-step block whose words and negatives all lie in rows [lo, lo + 12)."""
  rng = np.random.default_rng(seed)
  ids = rng.integers(lo, lo + 12, (1, 1, 8 + 2 * W)).astype(np.int32)
  noise = (jnp.zeros((12,), jnp.float32), jnp.arange(lo, lo + 12, dtype=jnp.int32))
  return ids, np.zeros_like(ids), noise


def _two_steps(opt, update):
  """Params after a step on rows [0, 12) and after a further step on rows [20, 32)."""
  cfg = _cfg(opt, update)
  tx = step_lib.make_optimizer(cfg)
  state = step_lib.init_state(cfg, V, tx)
  state = state._replace(params={"emb_in": state.params["emb_in"] * 50,
                                 "emb_out": state.params["emb_in"][::-1] * 30})
  step = train.make_train_call(cfg, tx)
  p0 = jax.tree.map(np.array, state.params)
  state, _ = step(state, *_block(0, 0)[:2], np.zeros(1, np.float32), _block(0, 0)[2])
  p1 = jax.tree.map(np.array, state.params)
  state, _ = step(state, *_block(20, 1)[:2], np.zeros(1, np.float32), _block(20, 1)[2])
  return p0, p1, jax.tree.map(np.array, state.params)


@pytest.mark.parametrize("opt", ["adagrad", "adam"])
def test_lazy_leaves_untouched_rows_unchanged(opt):
  p0, p1, p2 = _two_steps(opt, "lazy")
  for name in ("emb_in", "emb_out"):
    assert not np.array_equal(p1[name][:12], p0[name][:12])  # the first step trained
    np.testing.assert_array_equal(p1[name][12:], p0[name][12:])
    np.testing.assert_array_equal(p2[name][:20], p1[name][:20])  # step 2 touched only 20..31
    np.testing.assert_array_equal(p2[name][32:], p0[name][32:])


def test_dense_adam_keeps_moving_rows_it_did_not_touch():
  _, p1, p2 = _two_steps("adam", "dense")
  moved = np.abs(p2["emb_out"][:12] - p1["emb_out"][:12]).max(axis=1)
  assert (moved > 0).sum() >= 6, moved  # their first moment is not zero, so they move on


def test_lazy_adagrad_equals_dense_adagrad():
  *_, lazy = _two_steps("adagrad", "lazy")
  *_, dense = _two_steps("adagrad", "dense")
  for name in lazy:
    np.testing.assert_allclose(lazy[name], dense[name], rtol=1e-5, atol=1e-7)


def _apply_two_steps(opt, update, perms):
  """optim.apply on two hand-made steps whose table rows are `perms` (input and output)."""
  cfg = _cfg(opt, update)
  tx = optim.make_optimizer(cfg)
  rng = np.random.default_rng(5)
  params = {k: jnp.asarray(rng.normal(size=(V, D)), jnp.float32) for k in ("emb_in", "emb_out")}
  opt_state = tx.init(params)
  step = jax.jit(lambda p, s, g, b, lr: optim.apply(tx, cfg, p, s, g, b, lr))
  for i, perm in enumerate(perms):
    batch = {"ids": jnp.asarray(perm)[None], "out": jnp.asarray(perm[::-1])[None, None]}
    grads = {"emb_in": jnp.asarray(rng.normal(size=(1, len(perm), D)), jnp.float32),
             "emb_out": jnp.asarray(rng.normal(size=(1, 1, len(perm), D)), jnp.float32)}
    params, opt_state = step(params, opt_state, grads, batch, 0.1 / (i + 1))
  return params


def test_lazy_adam_equals_dense_adam_when_every_row_is_touched_once():
  rng = np.random.default_rng(0)
  perms = [rng.permutation(V).astype(np.int32) for _ in range(2)]
  lazy = _apply_two_steps("adam", "lazy", perms)
  dense = _apply_two_steps("adam", "dense", perms)
  for name in lazy:
    np.testing.assert_allclose(lazy[name], dense[name], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("opt", ["adagrad", "adam"])
def test_lazy_merges_duplicate_rows_like_dense(opt):
  # Row 3 appears twice per step and rows 30.. never: dense and lazy must still agree on the
  # touched rows (merged gradient, one state update), and lazy must not move the others.
  perm = np.array([3, 1, 3, 7, 2, 9, 5, 4], np.int32)
  lazy = _apply_two_steps(opt, "lazy", [perm, perm[::-1].copy()])
  dense = _apply_two_steps(opt, "dense", [perm, perm[::-1].copy()])
  for name in lazy:
    np.testing.assert_allclose(lazy[name][perm], dense[name][perm], rtol=1e-5, atol=1e-6)


def test_row_ids_follow_gather_rows():
  params = {"emb_in": jnp.zeros((V, D)), "emb_out": jnp.zeros((V, D))}
  batch = {"ids": jnp.array([[3, 4, 3]]), "out": jnp.array([[[7, 1]]])}
  got = optim.row_ids(params, batch)
  np.testing.assert_array_equal(got["emb_in"], [[3, 4, 3]])
  np.testing.assert_array_equal(got["emb_out"], [[[7, 1]]])


def test_bad_optimizer_flags_are_user_errors():
  from w2v_jax.errors import W2VError  # pylint: disable=import-outside-toplevel
  with pytest.raises(W2VError, match="--optimizer must be"):
    Config(optimizer="rmsprop").validate()
  with pytest.raises(W2VError, match="--optimizer_update must be"):
    Config(optimizer_update="sparse").validate()


def _run_cfg(corpus, **kw):
  return tiny_config(corpus, **{"checkpoint_every": 2, **kw})


@pytest.mark.parametrize("opt,update", [("adagrad", "lazy"), ("adam", "lazy"), ("adam", "dense")])
def test_each_optimizer_lowers_the_loss(planted_path, tmp_path, opt, update):
  train.run(_run_cfg(planted_path, optimizer=opt, optimizer_update=update), str(tmp_path))
  rows = [json.loads(l) for l in open(tmp_path / "metrics.jsonl")]
  assert rows[-1]["loss"] < 0.85 * rows[0]["loss"], [r["loss"] for r in rows]


def test_an_adam_run_resumes_bit_identically(planted_path, tmp_path):
  cfg = _run_cfg(planted_path, optimizer="adam", epochs=1)
  full = train.run(cfg, str(tmp_path / "full"))
  with crash_after_saves(2) as saves:
    train.run(cfg, str(tmp_path / "crash"))
  resumed = train.run(cfg, str(tmp_path / "crash"))
  assert 0 < saves[-1] < full["steps"]
  np.testing.assert_array_equal(resumed["emb_in"], full["emb_in"])
