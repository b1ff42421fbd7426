"""The input side of word2vec (skip-gram, CBOW) and one micro-step's batch, built on device.

Legend: B rows, T centres per row, W window, L = T + 2W tokens per row (centres plus a halo),
O = 2W context offsets, K negatives, J = 1 + K output rows per centre, P Huffman path length,
V vocab, D dim.
Params are named by role: emb_in is word2vec.c's syn0 (the exported vectors), emb_out syn1neg
(also the full softmax's output table), emb_hs syn1 (hierarchical softmax's inner nodes, only
with --loss=hs|ns+hs), pos_OD the position weights of --cbow_position_weights.
The grid is two registries: INPUTS here (how input rows become the vectors that are scored)
and objectives.OUTPUTS (what they are scored against). `loss` is a --loss string
(objectives.parse): every function below takes it and runs exactly its objectives.
"""

import jax
import jax.numpy as jnp

from w2v_jax import context, objectives, sampling
from w2v_jax.context import offsets


def init_params(key: jax.Array, vocab_size: int, dim: int, init_range: float = 0.5, *,
                loss: str = "ns", positions: int = 0) -> dict:
  """word2vec.c InitNet: syn0 uniform in [-0.5, 0.5)/D, each objective's table zeros.

  emb_out is always there (exported as the `out` vectors). init_range=1.0 gives gensim 4's
  [-1, 1)/D (keyedvectors.prep_vectors). `positions` > 0 adds pos_OD, fastText's position
  weights (ones, so training starts from plain CBOW).
  """
  u = jax.random.uniform(key, (vocab_size, dim), jnp.float32, -init_range, init_range)
  params = {"emb_in": u / dim, "emb_out": jnp.zeros((vocab_size, dim), jnp.float32)}
  for out in objectives.parse(loss):
    if out.table not in params:
      params[out.table] = out.init_table(vocab_size, dim)
  if positions:
    params["pos_OD"] = jnp.ones((positions, dim), jnp.float32)
  return params


def make_batch(ids_BL, seg_BL, key, noise: tuple, *, window: int, negatives: int,
               shrink_window: bool = True, loss: str = "ns", tree: tuple | None = None) -> dict:
  """Windows and the objectives' draws for one micro-step, on device.

  word2vec.c TrainModelThread draws b = rand % window per centre; the radius is window - b,
  uniform in [1, window] (`shrink_window=False` always uses the full window). A context slot is
  live when it is within the radius and in the centre's segment (windows never cross a
  sentence). `tree` is huffman.build's (points_VP, codes_VP, mask_VP) for hierarchical softmax.
  """
  w = window
  b, t = ids_BL.shape[0], ids_BL.shape[1] - 2 * w
  outputs = objectives.parse(loss)
  # All the step's random words in one ThreeFry draw: the radii, then each objective's words.
  n_rad = b * t if shrink_window else 0
  n_out = [out.random_words(b * t, negatives) for out in outputs]
  bits = sampling.random_words(key, n_rad + sum(n_out))
  if shrink_window:
    # word2vec.c: b = next_random % window. The top 16 bits times window, shifted: a bias
    # below window / 2^16 (8e-5 for window 5).
    shrink_BT = ((bits[:n_rad] >> 16) * jnp.uint32(w)) >> 16
    radius_BT = w - shrink_BT.astype(jnp.int32).reshape(b, t)
  else:
    radius_BT = jnp.full((b, t), w)
  seg_BT = seg_BL[:, w:w + t]
  centre_BT = seg_BT >= 0
  mask_BTO = jnp.stack(
      [(abs(o) <= radius_BT) & (seg_BL[:, w + o:w + o + t] == seg_BT) & centre_BT
       for o in offsets(w)], axis=-1)
  target_BT = ids_BL[:, w:w + t]
  batch = {"ids": ids_BL, "mask": mask_BTO}
  start = n_rad
  for out, n in zip(outputs, n_out):
    batch.update(out.draw(bits[start:start + n], target_BT, negatives, noise, tree))
    start += n
  return batch


def gather_rows(params: dict, batch: dict, loss: str = "ns") -> dict:
  """The embedding rows a micro-step touches: each token row once, each output row once."""
  rows = {"emb_in": params["emb_in"][batch["ids"]]}
  for out in objectives.parse(loss):
    rows[out.table] = out.gather(params[out.table], batch)
  if "pos_OD" in params:
    rows["pos_OD"] = params["pos_OD"]
  return rows


def damp_duplicates(updates: dict, batch: dict, vocab_size: int, cap: float,
                    loss: str = "ns") -> dict:
  """Scales the updates of a row touched n > cap times in one step by cap / n.

  A departure from word2vec.c, whose Hogwild threads apply each pair's update before the next
  pair reads the row. A synchronous step instead sums every update of a frequent word computed
  at the same point, which overshoots (and diverges for large batches). Capping the summed step
  of such rows at `cap` single updates keeps large batches stable; rare and mid-frequency
  words (nearly all evaluation words) are untouched. cap <= 0 disables it (plain sum), except
  for an objective with a forced cap (hierarchical softmax's inner nodes, see objectives).
  Under a forced cap input rows are capped too: bursts of one word (a repeated template in a
  corpus) otherwise blow their rows up (docs/performance.md).
  """
  outputs = objectives.parse(loss)
  forced = [out.forced_cap for out in outputs if out.forced_cap]
  in_cap = cap if cap > 0 else (forced[0] if forced else 0.0)
  touched = [("emb_in", batch["ids"], 1.0, in_cap)] if in_cap > 0 else []
  for out in outputs:
    damped = out.damped(batch, cap)
    if damped is not None:
      touched.append((out.table, *damped))
  result = dict(updates)
  for name, ids, weight, row_cap in touched:
    n_V = jnp.zeros((vocab_size,), jnp.float32).at[ids].add(weight)
    scale = row_cap / jnp.maximum(n_V[ids], row_cap)
    result[name] = updates[name] * scale[..., None]
  return result


def scatter_rows(params: dict, batch: dict, updates: dict, loss: str = "ns") -> dict:
  """Adds per-row updates back into the tables (duplicates sum, as dense gradients would)."""
  new = dict(params)
  new["emb_in"] = params["emb_in"].at[batch["ids"]].add(updates["emb_in"])
  for out in objectives.parse(loss):
    new[out.table] = out.scatter(params[out.table], batch, updates[out.table])
  if "pos_OD" in updates:
    new["pos_OD"] = params["pos_OD"] + updates["pos_OD"]
  return new


def output_loss(x_NOD, rows: dict, batch: dict, *, loss: str = "ns", skip_beyond: float = 0.0,
                sigmoid: str = "exact") -> jax.Array:
  """Loss per (centre, input row), (N, O), summed over the objectives of `loss`."""
  per = [out.loss(x_NOD, rows[out.table], batch, skip_beyond, sigmoid)
         for out in objectives.parse(loss)]
  return sum(per[1:], per[0])


def skipgram_loss(rows: dict, batch: dict, score, *, fusion_barriers: bool = True, **unused):
  """Skip-gram follows word2vec.c's direction: the input row is the *context* word and the
  predicted output is the centre (whose K negatives are shared by its contexts, as in
  pWord2Vec / BlazingText; C draws fresh negatives per pair), also for hierarchical softmax
  (the path is the centre's, as in C). Examples are live pairs."""
  del unused
  mask_BTO = batch["mask"]
  b, t, o = mask_BTO.shape
  in_BLD = rows["emb_in"]
  x_NOD = context.context_stack(in_BLD, o // 2, fusion_barriers).reshape(
      b * t, o, in_BLD.shape[-1])
  per_NO = score(x_NOD)
  m_NO = mask_BTO.reshape(b * t, o)
  return jnp.sum(jnp.where(m_NO, per_NO, 0.0)), jnp.sum(m_NO)


def cbow_loss(rows: dict, batch: dict, score, *, cbow_mean_grad: str = "word2vec",
              cbow_mean: bool = True, fusion_barriers: bool = True):
  """CBOW: the hidden vector is the mean of the live context rows; with "word2vec" every context
  row receives the full error (C's neu1e, gensim cbow_mean=1), with "autodiff" 1/count of it.
  cbow_mean=False sums them instead (gensim cbow_mean=0). With pos_OD in rows each context row
  is first scaled elementwise by its position's weights (fastText's cc vectors, Mikolov et al.
  2018: h = Σ_p d_p ⊙ u_{t+p}; the mean divides that by the live count).
  Examples are centres with at least one live context (C: `if (cw)`)."""
  mask_BTO = batch["mask"]
  b, t, o = mask_BTO.shape
  w = o // 2
  in_BLD = rows["emb_in"]
  d = in_BLD.shape[-1]
  m_BTO = mask_BTO.astype(in_BLD.dtype)
  if "pos_OD" in rows:  # pos_OD needs its own gradient: plain autodiff of the weighted slices
    sum_BTD = sum(m_BTO[..., i, None] * in_BLD[:, w + off:w + off + t] * rows["pos_OD"][i]
                  for i, off in enumerate(offsets(w)))
  else:
    sum_BTD = context.context_sum(in_BLD, m_BTO, fusion_barriers)
  count_BT1 = jnp.sum(m_BTO, axis=-1, keepdims=True)
  mean_BTD = sum_BTD / jnp.maximum(count_BT1, 1.0)
  if cbow_mean and cbow_mean_grad == "word2vec":  # value of the mean, gradient of the sum
    h_BTD = sum_BTD + jax.lax.stop_gradient(mean_BTD - sum_BTD)
  elif cbow_mean:
    h_BTD = mean_BTD
  elif cbow_mean_grad == "word2vec":
    # gensim cbow_mean=0 (word2vec_inner.pyx, `if not cbow_mean: sscal(..., &inv_count, work)`):
    # the sum in the forward pass, the error divided by the count on the way back. word2vec.c
    # has no sum mode; we match gensim. "autodiff" is the plain gradient of the sum.
    h_BTD = mean_BTD + jax.lax.stop_gradient(sum_BTD - mean_BTD)
  else:
    h_BTD = sum_BTD
  per_N = score(h_BTD.reshape(b * t, 1, d))[:, 0]
  has_ctx_N = count_BT1.reshape(b * t) > 0
  return jnp.sum(jnp.where(has_ctx_N, per_N, 0.0)), jnp.sum(has_ctx_N)


INPUTS = {"sg": skipgram_loss, "cbow": cbow_loss}


def rows_loss(rows: dict, batch: dict, *, model: str, loss: str = "ns",
              cbow_mean_grad: str = "word2vec", skip_beyond: float = 0.0,
              cbow_mean: bool = True, sigmoid: str = "exact", fusion_barriers: bool = True):
  """Summed loss of one micro-step from its gathered rows; returns (loss, examples).

  Summed, not averaged, so the learning rate keeps word2vec's per-example meaning. `model`
  picks the input side (INPUTS), `loss` the output side (objectives.parse). fusion_barriers:
  XLA:CPU's buffers for the context windows (context.materialize); off on accelerators.
  """
  def score(x_NOD):
    return output_loss(x_NOD, rows, batch, loss=loss, skip_beyond=skip_beyond, sigmoid=sigmoid)

  return INPUTS[model](rows, batch, score, cbow_mean_grad=cbow_mean_grad, cbow_mean=cbow_mean,
                       fusion_barriers=fusion_barriers)


def loss_fn(params: dict, batch: dict, *, model: str, loss: str = "ns", **kw):
  """The whole model as a pure function of (params, batch): (summed loss, examples).

  `kw` are rows_loss's switches (cbow_mean_grad, skip_beyond, cbow_mean, sigmoid).
  """
  return rows_loss(gather_rows(params, batch, loss), batch, model=model, loss=loss, **kw)
