"""The input side of word2vec: parameters, windows and negatives built on device, the loss.

Legend: B rows, T centres per row, W window, L = T + 2W tokens per row (centres plus a halo),
O = 2W context offsets, K negatives, J = 1 + K output rows per centre, P Huffman path length,
V vocab, D dim.
Params are named by role: emb_in is word2vec.c's syn0 (the exported vectors), emb_out syn1neg
(also the full softmax's output table), emb_hs syn1 (hierarchical softmax's inner nodes, only
with --loss=hs|ns+hs), pos_OD the position weights of --cbow_position_weights.
The objectives a batch carries are told by its keys: "out"/"live" negative sampling,
"points"/"codes"/"path" hierarchical softmax, "target" full softmax.
"""

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import context, huffman, losses
from w2v_jax.context import offsets


def init_params(key: jax.Array, vocab_size: int, dim: int, init_range: float = 0.5, *,
                hs: bool = False, positions: int = 0) -> dict:
  """word2vec.c InitNet: syn0 uniform in [-0.5, 0.5)/D, syn1neg zeros (and syn1 zeros with hs).

  init_range=1.0 gives gensim 4's [-1, 1)/D (keyedvectors.prep_vectors). `positions` > 0 adds
  pos_OD, fastText's position weights (ones, so training starts from plain CBOW).
  """
  u = jax.random.uniform(key, (vocab_size, dim), jnp.float32, -init_range, init_range)
  emb_in = u / dim
  params = {"emb_in": emb_in, "emb_out": jnp.zeros((vocab_size, dim), jnp.float32)}
  if hs:  # word2vec.c allocates syn1 with V rows and uses the V - 1 inner nodes
    params["emb_hs"] = jnp.zeros((huffman.inner_nodes(vocab_size), dim), jnp.float32)
  if positions:
    params["pos_OD"] = jnp.ones((positions, dim), jnp.float32)
  return params


def random_words(key: jax.Array, n: int) -> jax.Array:
  """n uint32 random words from `key` (a typed key or raw uint32 key data).

  XLA's RngBitGenerator with ThreeFry: ~4x cheaper per word on XLA:CPU than the default
  algorithm (Philox) that jax.random.bits uses for our unsafe_rbg keys (7.6 vs 29 us for one
  micro-step's 2,816 words), and deterministic for a given key like every draw here.
  """
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  state = jnp.resize(key.reshape(-1).astype(jnp.uint32), (4,))  # threefry keys hold 2 words
  return jax.lax.rng_bit_generator(state, (n,), jnp.uint32,
                                   algorithm=jax.lax.RandomAlgorithm.RNG_THREE_FRY)[1]


def noise_from_bits(slot_bits, u_bits, noise: tuple) -> jax.Array:
  """Word ids from the alias table `noise` = (prob_M, alias_M) (see vocab.noise_alias), one per
  pair of uint32 random words: the slot is the top log2(M) bits of one (M is a power of two,
  so this is exact), u the top 24 bits of the other. A table of another size (built by hand)
  takes the slot modulo M instead: slower on XLA:CPU, with a bias below M / 2^32."""
  prob_M, alias_M = noise
  m = prob_M.shape[0]
  if m & (m - 1):
    slot = slot_bits % jnp.uint32(m)
  else:
    slot = (slot_bits >> (32 - m.bit_length() + 1)) if m > 1 else slot_bits * 0
  slot = slot.astype(jnp.int32)
  u = (u_bits >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
  return jnp.where(u < prob_M[slot], slot, alias_M[slot])


def sample_noise(key: jax.Array, noise: tuple, shape: tuple) -> jax.Array:
  """Draws word ids of `shape` from the alias table `noise` (see noise_from_bits)."""
  n = int(np.prod(shape))
  bits = random_words(key, 2 * n)
  return noise_from_bits(bits[:n], bits[n:], noise).reshape(shape)


def make_batch(ids_BL, seg_BL, key, noise: tuple, *, window: int, negatives: int,
               shrink_window: bool = True, loss: str = "ns", tree: tuple | None = None) -> dict:
  """Windows and the loss's output side (negatives, Huffman paths) for one micro-step, on device.

  word2vec.c TrainModelThread draws b = rand % window per centre; the radius is window - b,
  uniform in [1, window] (`shrink_window=False` always uses the full window). A context slot is
  live when it is within the radius and in the centre's segment (windows never cross a
  sentence). Negatives come from the count^0.75 noise distribution's alias table. With hs in
  `loss`, each centre's padded Huffman path is gathered once from `tree` = huffman.build's
  (points_VP, codes_VP, mask_VP) (like out_BTJ: every context of the centre shares it).
  """
  w = window
  b, l = ids_BL.shape
  t = l - 2 * w
  # All the step's random words in one ThreeFry draw (random_words): the split keys and
  # jax.random.randint / uniform calls this replaced cost ~70 of a CBOW step's ~320 us on
  # XLA:CPU. Radius words first, then the negatives' slot words, then their u words.
  ns = "ns" in loss.split("+")
  n_rad, n_neg = (b * t if shrink_window else 0), (b * t * negatives if ns else 0)
  bits = random_words(key, n_rad + 2 * n_neg)
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
  if ns:
    negs_BTK = noise_from_bits(bits[n_rad:n_rad + n_neg], bits[n_rad + n_neg:],
                               noise).reshape(b, t, negatives)
    batch["out"] = jnp.concatenate([target_BT[..., None], negs_BTK], axis=-1)
    batch["live"] = jnp.concatenate(
        [jnp.ones_like(target_BT[..., None], bool), negs_BTK != target_BT[..., None]], axis=-1)
  if "hs" in loss.split("+"):
    points_VP, codes_VP, mask_VP = tree
    batch.update(points=points_VP[target_BT], codes=codes_VP[target_BT], path=mask_VP[target_BT])
  if loss == "softmax":
    batch["target"] = target_BT
  return batch


def gather_rows(params: dict, batch: dict) -> dict:
  """The embedding rows a micro-step touches: each token row once, each output row once.

  The full softmax touches every output row: it takes the whole emb_out table (dense path).
  """
  rows = {"emb_in": params["emb_in"][batch["ids"]]}
  if "out" in batch:
    rows["emb_out"] = params["emb_out"][batch["out"]]
  if "target" in batch:
    rows["emb_out"] = params["emb_out"]
  if "points" in batch:
    rows["emb_hs"] = params["emb_hs"][batch["points"]]
  if "pos_OD" in params:
    rows["pos_OD"] = params["pos_OD"]
  return rows


# Inner nodes of the Huffman tree are capped at this many centres' updates per step when
# --dup_cap is 0 (see damp_duplicates).
HS_NODE_CAP = 16.0


def damp_duplicates(updates: dict, batch: dict, vocab_size: int, cap: float) -> dict:
  """Scales the updates of a row touched n > cap times in one step by cap / n.

  A departure from word2vec.c, whose Hogwild threads apply each pair's update before the next
  pair reads the row. A synchronous step instead sums every update of a frequent word computed
  at the same point, which overshoots (and diverges for large batches). Capping the summed step
  of such rows at `cap` single updates keeps large batches stable; rare and mid-frequency
  words (nearly all evaluation words) are untouched. cap <= 0 disables it (plain sum), except
  for hierarchical softmax's inner nodes (emb_hs), always capped (HS_NODE_CAP by default).
  """
  # Hierarchical softmax's top nodes are on (nearly) every centre's path: the root's summed
  # step over a 256-centre batch diverges (measured on the bundled sample), so under hs inner
  # nodes are always capped, at `cap` or else HS_NODE_CAP centres' worth of updates. So are
  # input rows repeated that often in one step (bursts such as a repeated template on part00:
  # without the cap their rows blew up to norm ~2,000 and analogy accuracy fell to 0.02).
  hs = "points" in batch
  hs_cap = cap if cap > 0 else HS_NODE_CAP
  touched = []
  if cap > 0 or hs:
    touched.append(("emb_in", batch["ids"], 1.0, hs_cap if hs else cap))
  if cap > 0 and "out" in batch:
    touched.append(("emb_out", batch["out"], 1.0, cap))
  if hs:
    touched.append(("emb_hs", batch["points"], batch["path"].astype(jnp.float32), hs_cap))
  out = dict(updates)
  for name, ids, weight, row_cap in touched:
    n_V = jnp.zeros((vocab_size,), jnp.float32).at[ids].add(weight)
    scale = row_cap / jnp.maximum(n_V[ids], row_cap)
    out[name] = updates[name] * scale[..., None]
  return out


def scatter_rows(params: dict, batch: dict, updates: dict) -> dict:
  """Adds per-row updates back into the tables (duplicates sum, as dense gradients would)."""
  new = dict(params)
  new["emb_in"] = params["emb_in"].at[batch["ids"]].add(updates["emb_in"])
  if "out" in batch:
    new["emb_out"] = params["emb_out"].at[batch["out"]].add(updates["emb_out"])
  if "target" in batch:  # full softmax: a dense (V, D) update of the whole output table
    new["emb_out"] = params["emb_out"] + updates["emb_out"]
  if "points" in batch:  # padded path slots carry zero updates
    new["emb_hs"] = params["emb_hs"].at[batch["points"]].add(updates["emb_hs"])
  if "pos_OD" in updates:
    new["pos_OD"] = params["pos_OD"] + updates["pos_OD"]
  return new


def output_loss(x_NOD, rows: dict, batch: dict, *, skip_beyond: float = 0.0,
                sigmoid: str = "exact") -> jax.Array:
  """Loss per (centre, input row), (N, O), summed over the objectives the batch carries.

  ns+hs sums both, each with its own output table (syn1neg and syn1, as word2vec.c does).
  """
  n, _, d = x_NOD.shape
  per = []
  if "live" in batch:  # negative sampling: the target and its K negatives
    j = batch["live"].shape[-1]
    s_NOJ = losses.pair_scores(x_NOD, rows["emb_out"].reshape(n, j, d))
    per.append(losses.neg_sampling(s_NOJ, batch["live"].reshape(n, j), skip_beyond, sigmoid))
  if "points" in batch:  # hierarchical softmax: the centre's padded Huffman path
    p = batch["points"].shape[-1]
    s_NOP = losses.pair_scores(x_NOD, rows["emb_hs"].reshape(n, p, d))
    per.append(losses.hierarchical_softmax(s_NOP, batch["codes"].reshape(n, p),
                                           batch["path"].reshape(n, p), sigmoid))
  if "target" in batch:
    # Full softmax: every input row scores the whole output table, an (N, O, V) block of
    # logits, and emb_out gets a dense (V, D) gradient. V x D work and N x O x V memory per
    # step: fine for small vocabularies (tests, ablations), impractical at 100k+ words.
    logits_NOV = jnp.einsum("nod,vd->nov", x_NOD, rows["emb_out"])
    per.append(losses.full_softmax(logits_NOV, batch["target"].reshape(n)))
  return sum(per[1:], per[0])


def rows_loss(rows: dict, batch: dict, *, model: str, cbow_mean_grad: str = "word2vec",
              skip_beyond: float = 0.0, cbow_mean: bool = True, sigmoid: str = "exact"):
  """Summed loss of one micro-step from its gathered rows; returns (loss, examples).

  Summed, not averaged, so the learning rate keeps word2vec's per-example meaning.
  Skip-gram follows word2vec.c's direction: the input row is the *context* word and the
  predicted output is the centre (with the centre's K negatives shared by its contexts, as in
  pWord2Vec / BlazingText; C draws fresh negatives for each pair), also for hierarchical
  softmax (the path is the centre's, as in C). Examples are pairs.
  CBOW: the hidden vector is the mean of the live context rows; with "word2vec" every context
  row receives the full error (C's neu1e, gensim cbow_mean=1), with "autodiff" 1/count of it.
  cbow_mean=False sums them instead (gensim cbow_mean=0; see below). With pos_OD in rows each
  context row is first scaled elementwise by its position's weights (fastText's cc vectors,
  Mikolov et al. 2018: h = Σ_p d_p ⊙ u_{t+p}; the mean divides that by the live count).
  Examples are centres with at least one live context (C: `if (cw)`).
  """
  mask_BTO = batch["mask"]
  b, t, o = mask_BTO.shape
  w = o // 2
  in_BLD = rows["emb_in"]
  d = in_BLD.shape[-1]
  out_kw = {"skip_beyond": skip_beyond, "sigmoid": sigmoid}
  if model == "sg":
    x_NOD = context.context_stack(in_BLD, w).reshape(b * t, o, d)
    per_NO = output_loss(x_NOD, rows, batch, **out_kw)
    m_NO = mask_BTO.reshape(b * t, o)
    return jnp.sum(jnp.where(m_NO, per_NO, 0.0)), jnp.sum(m_NO)
  m_BTO = mask_BTO.astype(in_BLD.dtype)
  if "pos_OD" in rows:  # pos_OD needs its own gradient: plain autodiff of the weighted slices
    sum_BTD = sum(m_BTO[..., i, None] * in_BLD[:, w + off:w + off + t] * rows["pos_OD"][i]
                  for i, off in enumerate(offsets(w)))
  else:
    sum_BTD = context.context_sum(in_BLD, m_BTO)
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
  per_N = output_loss(h_BTD.reshape(b * t, 1, d), rows, batch, **out_kw)[:, 0]
  has_ctx_N = count_BT1.reshape(b * t) > 0
  return jnp.sum(jnp.where(has_ctx_N, per_N, 0.0)), jnp.sum(has_ctx_N)


def loss_fn(params: dict, batch: dict, *, model: str, **kw):
  """The whole model as a pure function of (params, batch): (summed loss, examples).

  `kw` are rows_loss's switches (cbow_mean_grad, skip_beyond, cbow_mean, sigmoid).
  """
  return rows_loss(gather_rows(params, batch), batch, model=model, **kw)
