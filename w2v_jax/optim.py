"""Optimizers for the embedding tables: SGD (word2vec), Adagrad and Adam, dense or lazy.

The train step differentiates the summed loss w.r.t. the *gathered rows* (model.gather_rows),
not the (V, D) tables, and `apply` turns those row gradients into a parameter update:

- "sgd": optax SGD on the row gradients, scatter-added back (model.scatter_rows). Duplicate
  rows sum, so this equals optax SGD on the dense table gradient (tests/test_train.py); the
  word2vec update. `optimizer_update` does not matter for SGD.
- "adagrad" / "adam" with optimizer_update="dense": the row gradients are scatter-added into a
  dense (V, D) gradient per table and optax runs on the whole table. Every step then costs
  O(V*D), and for Adam the moments of rows the step did not touch still decay and those rows
  keep moving (their first moment is not zero); Adagrad leaves untouched rows alone (zero
  gradient adds nothing to its accumulator).
- optimizer_update="lazy": per-row optimizer state updated only for the rows a step touches
  (TensorFlow's LazyAdam, sparse Adagrad). Duplicate ids are merged first (segment-sum over the
  unique touched ids), optax's own transformation runs on those rows and their gathered state
  (Adam's step count stays global, as in LazyAdam), and the new state rows are written back.
  O(touched rows) per step. "Touched" means gathered by the step, as for TF's IndexedSlices: a
  gathered row whose gradient is zero (a padding token, a masked context or negative) still
  counts, so lazy Adam decays its moments and may move it. Lazy Adagrad equals dense Adagrad
  exactly; lazy Adam equals dense Adam on a step where every row is touched once (tested).

Memory: the optimizer state is the same in both modes: one extra (V, D) float32 table per
parameter table for Adagrad (the sum of squares), two for Adam (mu, nu). With a 3M x 300
vocabulary each table is 3.6 GB, so input + output tables (7.2 GB) grow to 14.4 GB with
Adagrad and 21.6 GB with Adam.

The learning rate of every optimizer follows word2vec.c's linear decay, set per micro-step
from corpus progress by the train step (see step.word2vec_lr); `--alpha` is its start.
"""

import jax
import jax.numpy as jnp
import optax

from w2v_jax import config, model

OPTIMIZERS = {"sgd": optax.sgd, "adagrad": optax.adagrad, "adam": optax.adam}
UPDATES = ("dense", "lazy")


def lazy(inner: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
  """`inner` applied only to the rows touched in a step (LazyAdam / sparse Adagrad).

  update(row_grads, state, params=None, *, row_ids) takes the gradient w.r.t. gathered rows
  ({table: (..., D)}) and the table row of each ({table: (...)}); it returns row-shaped updates
  meant for model.scatter_rows: each touched row's whole update sits at its first occurrence
  and the duplicates carry zeros, so the scatter-add applies it once. `inner`'s state leaves
  shaped like a table are read and written only at the touched rows; other leaves (Adam's
  count) are updated as usual. A table of `params` that the step did not gather at all (e.g.
  emb_out under --loss=hs) takes part with zero rows.
  """

  def update(row_grads, state, params=None, *, row_ids, **unused):
    del unused
    uniq, inverse, first, grads_U = {}, {}, {}, {}
    for name in (params or {}):
      if name not in row_grads:
        uniq[name] = jnp.zeros((0,), jnp.int32)
        grads_U[name] = jnp.zeros((0, params[name].shape[-1]), params[name].dtype)
    for name, g in row_grads.items():
      v = _table_rows(state, name)
      ids_N = row_ids[name].reshape(-1)
      n = ids_N.shape[0]
      # Padding slots get id v (out of range): their state reads 0 and their writes drop.
      uniq[name], inverse[name] = jnp.unique(ids_N, size=n, fill_value=v, return_inverse=True)
      inverse[name] = inverse[name].reshape(-1)
      grads_U[name] = jax.ops.segment_sum(g.reshape(n, -1), inverse[name], num_segments=n)
      first_U = jnp.full((n,), n, jnp.int32).at[inverse[name]].min(jnp.arange(n, dtype=jnp.int32))
      first[name] = first_U[inverse[name]] == jnp.arange(n)
    rows_state = _map_tables(
        lambda name, t: t.at[uniq[name]].get(mode="fill", fill_value=0), state, uniq)
    upd_U, new_rows = inner.update(grads_U, rows_state)
    new_state = jax.tree_util.tree_map_with_path(
        lambda path, old, new: (old.at[uniq[_table_of(path, uniq)]].set(new, mode="drop")
                                if _table_of(path, uniq) else new), state, new_rows)
    updates = {name: jnp.where(first[name][:, None], upd_U[name][inverse[name]], 0.0)
               .reshape(g.shape).astype(g.dtype) for name, g in row_grads.items()}
    return updates, new_state

  return optax.GradientTransformationExtraArgs(inner.init, update)


def _table_of(path, tables: dict):
  """The table a state leaf belongs to (its last dict key), or None (e.g. Adam's count)."""
  last = path[-1] if path else None
  key = getattr(last, "key", None)
  return key if key in tables else None


def _table_rows(state, name: str) -> int:
  leaves = jax.tree_util.tree_leaves_with_path(state)
  return next(x.shape[0] for p, x in leaves if _table_of(p, {name: None}) == name)


def _map_tables(fn, state, tables: dict):
  return jax.tree_util.tree_map_with_path(
      lambda p, x: fn(_table_of(p, tables), x) if _table_of(p, tables) else x, state)


def make_optimizer(cfg) -> optax.GradientTransformationExtraArgs:
  """cfg.optimizer (dense or lazy per cfg.optimizer_update) with an injectable learning rate."""
  base = OPTIMIZERS[cfg.optimizer]
  if cfg.optimizer != "sgd" and cfg.optimizer_update == "lazy":
    return optax.inject_hyperparams(lambda learning_rate: lazy(base(learning_rate)))(
        learning_rate=cfg.lr)
  return optax.inject_hyperparams(base)(learning_rate=cfg.lr)


def row_ids(params: dict, batch: dict, loss: str = "ns") -> dict:
  """The table row of every gathered row: model.gather_rows applied to tables of row numbers,
  so it follows whatever tables and ids gather_rows uses."""
  index = {k: jnp.arange(v.shape[0], dtype=jnp.int32)[:, None] for k, v in params.items()}
  return {k: v[..., 0] for k, v in model.gather_rows(index, batch, loss).items()}


FROZEN = "frozen_in"  # params entry of --freeze_init: 1.0 for input rows that never change


def freeze_rows(grads: dict, params: dict, batch: dict) -> dict:
  """The row gradients with those of frozen input rows (params[FROZEN]) set to zero."""
  if FROZEN not in params:
    return grads
  live = 1.0 - params[FROZEN][batch["ids"]]
  return {**grads, "emb_in": grads["emb_in"] * live[..., None]}


def apply(tx, cfg, params: dict, opt_state, row_grads: dict, batch: dict, lr, *,
          scatter=model.scatter_rows, vocab_size: int | None = None):
  """One optimizer step from the gradient w.r.t. the gathered rows: (params, opt_state).

  `scatter(params, batch, row_updates, loss)` adds row-shaped values into the tables
  (row-sharded tables pass their owner-only version, with the whole vocabulary's `vocab_size`).
  """
  cfg = config.resolve(cfg)  # dup_cap's default depends on the mode
  row_grads = freeze_rows(row_grads, params, batch)
  opt_state = opt_state._replace(hyperparams={**opt_state.hyperparams, "learning_rate": lr})
  vocab_size = vocab_size or params["emb_in"].shape[0]
  if cfg.optimizer == "sgd":  # the word2vec update, unchanged: scaled row gradients, summed
    updates, opt_state = tx.update(row_grads, opt_state)
    updates = model.damp_duplicates(updates, batch, vocab_size, cfg.dup_cap, cfg.loss)
    return scatter(params, batch, updates, cfg.loss), opt_state
  # Adaptive optimizers: dup_cap scales the row gradients (for SGD that is the same thing).
  grads = model.damp_duplicates(row_grads, batch, vocab_size, cfg.dup_cap, cfg.loss)
  if cfg.optimizer_update == "dense":
    dense = scatter(jax.tree.map(jnp.zeros_like, params), batch, grads, cfg.loss)
    updates, opt_state = tx.update(dense, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
  updates, opt_state = tx.update(grads, opt_state, params,
                                 row_ids=row_ids(params, batch, cfg.loss))
  return model.scatter_rows(params, batch, updates, cfg.loss), opt_state
