"""The output side of word2vec, pure: pair scores and the losses (negative sampling, hierarchical
softmax, full softmax), with word2vec.c's sigmoid table as an optional gradient.

Legend: N centres, O input rows per centre (context words for skip-gram, 1 for CBOW),
J = 1 + K output rows per centre (the target first, then K negatives), P Huffman path length,
V vocab, D dim.
"""

import jax
import jax.numpy as jnp


@jax.custom_vjp
def pair_scores(x_NOD: jax.Array, y_NJD: jax.Array) -> jax.Array:
  """s_NOJ[n, o, j] = x_NOD[n, o] . y_NJD[n, j]: every input row against every output row.

  Same value and gradient as `jnp.einsum("nod,njd->noj")`; the custom backward pass writes the
  gradient of y as unrolled multiply-adds, which XLA:CPU runs faster than the batched dot
  that autodiff emits (docs/performance.md) (the gradient of x stays a dot, see below).
  """
  return jnp.einsum("nod,njd->noj", x_NOD, y_NJD)


def _pair_scores_fwd(x_NOD, y_NJD):
  return pair_scores(x_NOD, y_NJD), (x_NOD, y_NJD)


def _pair_scores_bwd(res, g_NOJ):
  x_NOD, y_NJD = res
  o = x_NOD.shape[1]
  # gx as a dot: written as fused multiply-adds, XLA fuses it into its consumers (the spread
  # over 2W shifted context slices) and recomputes it there (op profile: 30-40% of a step).
  gx_NOD = jnp.einsum("noj,njd->nod", g_NOJ, y_NJD)
  gy_NJD = sum(g_NOJ[:, k, :, None] * x_NOD[:, k, None, :] for k in range(o))
  return gx_NOD, gy_NJD


pair_scores.defvjp(_pair_scores_fwd, _pair_scores_bwd)


@jax.custom_jvp
def log_sigmoid(z: jax.Array) -> jax.Array:
  """log σ(z), numerically stable; faster on XLA:CPU than jax.nn.log_sigmoid."""
  # log(1 + e) rather than log1p(e): faster on XLA:CPU; the absolute error (< 6e-8)
  # only touches the reported loss, since the gradient comes from the jvp below.
  return jnp.minimum(z, 0.0) - jnp.log(1.0 + jnp.exp(-jnp.abs(z)))


@log_sigmoid.defjvp
def _log_sigmoid_jvp(primals, tangents):
  (z,), (dz,) = primals, tangents
  return log_sigmoid(z), dz * (0.5 - 0.5 * jnp.tanh(0.5 * z))  # d/dz log σ(z) = σ(-z)


def neg_sampling(s_NOJ: jax.Array, live_NJ: jax.Array, skip_beyond: float = 0.0,
                 sigmoid: str = "exact") -> jax.Array:
  """-log σ(s_target) - Σ_k log σ(-s_k), per (centre, input row): shape (N, O).

  skip_beyond > 0 drops the terms whose |score| >= skip_beyond (gensim skips them at MAX_EXP=6).
  sigmoid="c_table" keeps the value but takes word2vec.c's gradient (see c_table_nll).

  live_NJ masks the negatives equal to their target: word2vec.c TrainModelThread skips such a
  draw (`if (target == word) continue;`) rather than redrawing it.
  """
  label_J = jnp.concatenate([jnp.ones((1,)), jnp.zeros((s_NOJ.shape[-1] - 1,))])
  logp_NOJ = -label_nll(s_NOJ, label_J, sigmoid)
  live_NOJ = jnp.broadcast_to(live_NJ[:, None, :], s_NOJ.shape)
  # gensim word2vec_inner.pyx: `if f_dot <= -MAX_EXP or f_dot >= MAX_EXP: continue`
  if skip_beyond > 0:
    live_NOJ = live_NOJ & (jnp.abs(jax.lax.stop_gradient(s_NOJ)) < skip_beyond)
  return -jnp.sum(jnp.where(live_NOJ, logp_NOJ, 0.0), axis=-1)


# word2vec.c: EXP_TABLE_SIZE 1000 sigmoid values over [-MAX_EXP, MAX_EXP], MAX_EXP 6. The index
# scale `EXP_TABLE_SIZE / MAX_EXP / 2` is integer arithmetic in C: 83, not 83.33, so the table is
# read at (int)((f + 6) * 83) and only its first 997 entries are ever used. We match it.
EXP_TABLE_SIZE, MAX_EXP = 1000, 6
_TABLE_SCALE = EXP_TABLE_SIZE // MAX_EXP // 2


def c_table_sigmoid(f: jax.Array) -> jax.Array:
  """σ(f) as word2vec.c reads it from expTable; 1 above MAX_EXP and 0 below -MAX_EXP.

  Beyond ±MAX_EXP this gives C's negative-sampling branches: `if (f > MAX_EXP) g = (label - 1)
  * alpha; else if (f < -MAX_EXP) g = (label - 0) * alpha;`.
  """
  i = jnp.floor((f + MAX_EXP) * _TABLE_SCALE)  # C's (int) truncates; f + 6 >= 0 in range
  x = (i / EXP_TABLE_SIZE * 2 - 1) * MAX_EXP   # expTable[i] = σ((i / 1000 * 2 - 1) * 6)
  return jnp.where(f > MAX_EXP, 1.0, jnp.where(f < -MAX_EXP, 0.0, jax.nn.sigmoid(x)))


@jax.custom_jvp
def c_table_nll(f: jax.Array, label: jax.Array) -> jax.Array:
  """-log σ(f) where label is 1, -log σ(-f) where 0: the exact value, word2vec.c's gradient.

  A gradient-level switch, like log_sigmoid: the derivative is c_table_sigmoid(f) - label, so an
  SGD step is C's `g = (label - expTable[...]) * alpha` (the reported loss stays exact). The
  label is a constant: its tangent is ignored.
  """
  return -log_sigmoid(jnp.where(label > 0.5, f, -f))


@c_table_nll.defjvp
def _c_table_nll_jvp(primals, tangents):
  (f, label), (df, _) = primals, tangents
  return c_table_nll(f, label), (c_table_sigmoid(f) - label) * df


def label_nll(s: jax.Array, label: jax.Array, sigmoid: str = "exact") -> jax.Array:
  """-log σ(s) where label is 1, -log σ(-s) where 0 (labels broadcast against s); with
  sigmoid="c_table" the same value with word2vec.c's table gradient (c_table_nll)."""
  if sigmoid == "c_table":
    return c_table_nll(s, jnp.broadcast_to(label, s.shape))
  return -log_sigmoid((2 * label - 1) * s)


def hierarchical_softmax(s_NOP: jax.Array, codes_NP: jax.Array, mask_NP: jax.Array,
                         sigmoid: str = "exact") -> jax.Array:
  """-Σ_i log σ((1 - 2 code_i) s_i) along each centre's Huffman path, per input row: (N, O).

  word2vec.c: `g = (1 - vocab[word].code[d] - f) * alpha`, i.e. code 0 is label 1. With
  sigmoid="c_table" nodes with |f| >= MAX_EXP get no update, as C skips them (`if (f <=
  -MAX_EXP) continue;`, gensim likewise); the exact default updates every node.
  """
  label_N1P = (1 - codes_NP[:, None, :]).astype(s_NOP.dtype)
  if sigmoid == "c_table":
    s_NOP = jnp.where(jnp.abs(jax.lax.stop_gradient(s_NOP)) >= MAX_EXP,
                      jax.lax.stop_gradient(s_NOP), s_NOP)
  nll_NOP = label_nll(s_NOP, jnp.broadcast_to(label_N1P, s_NOP.shape), sigmoid)
  return jnp.sum(jnp.where(mask_NP[:, None, :], nll_NOP, 0.0), axis=-1)


def full_softmax(logits_NOV: jax.Array, target_N: jax.Array) -> jax.Array:
  """Cross-entropy of the target word under a softmax over the whole vocabulary: (N, O).

  The textbook model that negative sampling and hierarchical softmax approximate. Every input
  row scores all V words, so it costs V x D per example (see model.rows_loss).
  """
  logz_NO = jax.nn.logsumexp(logits_NOV, axis=-1)
  idx_NO1 = jnp.broadcast_to(target_N[:, None, None], logits_NOV.shape[:2] + (1,))
  return logz_NO - jnp.take_along_axis(logits_NOV, idx_NO1, axis=-1)[..., 0]
