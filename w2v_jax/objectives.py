"""The output side of word2vec as a registry: negative sampling, hierarchical softmax, the full
softmax. Each objective owns its draws, its table, its loss and its scatter.

Legend: B rows, T centres per row, N = B*T centres, O input rows per centre, K negatives,
J = 1 + K output rows per centre, P Huffman path length, V vocab, D dim.
`--loss` names one objective or two joined by "+" (ns+hs: word2vec.c -hs 1 -negative K sums
both, each with its own table, syn1neg and syn1); `parse` reads it once.
"""

import functools

import jax
import jax.numpy as jnp

from w2v_jax import config, huffman, losses, sampling

# Under hierarchical softmax the top nodes are on (nearly) every centre's path, and a summed
# step of a 256-centre batch on the root diverges: its updates are always capped, at --dup_cap
# or else at this many centres' worth (model.damp_duplicates).
HS_NODE_CAP = 16.0


class NegativeSampling:
  """The target and K negatives from the count^0.75 noise table, scored with emb_out (syn1neg)."""
  name, table, ids = "ns", "emb_out", "out"
  forced_cap = None

  def init_table(self, vocab_size: int, dim: int) -> jax.Array:
    return jnp.zeros((vocab_size, dim), jnp.float32)  # word2vec.c InitNet: syn1neg zeros

  def random_words(self, centres: int, negatives: int) -> int:
    return 2 * centres * negatives  # a slot word and a u word per negative

  def draw(self, bits, target_BT, negatives: int, noise: tuple, tree) -> dict:
    """out_BTJ (target first) and live_BTJ: word2vec.c skips a negative equal to its target
    (`if (target == word) continue;`) rather than redrawing it."""
    del tree
    b, t = target_BT.shape
    n = b * t * negatives
    negs_BTK = sampling.noise_from_bits(bits[:n], bits[n:], noise).reshape(b, t, negatives)
    return {"out": jnp.concatenate([target_BT[..., None], negs_BTK], axis=-1),
            "live": jnp.concatenate([jnp.ones_like(target_BT[..., None], bool),
                                     negs_BTK != target_BT[..., None]], axis=-1)}

  def gather(self, table, batch: dict):
    return table[batch["out"]]

  def loss(self, x_NOD, rows_NJD, batch: dict, skip_beyond: float, sigmoid: str):
    n, _, d = x_NOD.shape
    j = batch["live"].shape[-1]
    s_NOJ = losses.pair_scores(x_NOD, rows_NJD.reshape(n, j, d))
    return losses.neg_sampling(s_NOJ, batch["live"].reshape(n, j), skip_beyond, sigmoid)

  def scatter(self, table, batch: dict, update):
    return table.at[batch["out"]].add(update)

  def damped(self, batch: dict, cap: float):
    """(row ids, weight, cap) of the rows damp_duplicates caps, or None."""
    return (batch["out"], 1.0, cap) if cap > 0 else None


class HierarchicalSoftmax:
  """The centre's Huffman path (huffman.build's tables), scored with emb_hs (syn1)."""
  name, table, ids = "hs", "emb_hs", "points"
  forced_cap = HS_NODE_CAP

  def init_table(self, vocab_size: int, dim: int) -> jax.Array:
    # word2vec.c allocates syn1 with V rows and uses the V - 1 inner nodes
    return jnp.zeros((huffman.inner_nodes(vocab_size), dim), jnp.float32)

  def random_words(self, centres: int, negatives: int) -> int:
    return 0

  def draw(self, bits, target_BT, negatives: int, noise: tuple, tree) -> dict:
    """Each centre's padded path, gathered once (every context of the centre shares it)."""
    del bits, negatives, noise
    points_VP, codes_VP, mask_VP = tree
    return {"points": points_VP[target_BT], "codes": codes_VP[target_BT],
            "path": mask_VP[target_BT]}

  def gather(self, table, batch: dict):
    return table[batch["points"]]

  def loss(self, x_NOD, rows_NPD, batch: dict, skip_beyond: float, sigmoid: str):
    del skip_beyond
    n, _, d = x_NOD.shape
    p = batch["points"].shape[-1]
    s_NOP = losses.pair_scores(x_NOD, rows_NPD.reshape(n, p, d))
    return losses.hierarchical_softmax(s_NOP, batch["codes"].reshape(n, p),
                                       batch["path"].reshape(n, p), sigmoid)

  def scatter(self, table, batch: dict, update):
    return table.at[batch["points"]].add(update)  # padded path slots carry zero updates

  def damped(self, batch: dict, cap: float):
    return batch["points"], batch["path"].astype(jnp.float32), cap if cap > 0 else HS_NODE_CAP


class FullSoftmax:
  """The textbook softmax over the whole vocabulary with emb_out: every input row scores all V
  words, an (N, O, V) block of logits and a dense (V, D) gradient. Fine for small vocabularies
  (tests, ablations), impractical at 100k+ words."""
  name, table, ids = "softmax", "emb_out", None
  forced_cap = None

  def init_table(self, vocab_size: int, dim: int) -> jax.Array:
    return jnp.zeros((vocab_size, dim), jnp.float32)

  def random_words(self, centres: int, negatives: int) -> int:
    return 0

  def draw(self, bits, target_BT, negatives: int, noise: tuple, tree) -> dict:
    del bits, negatives, noise, tree
    return {"target": target_BT}

  def gather(self, table, batch: dict):
    return table  # the whole table: the dense path

  def loss(self, x_NOD, table_VD, batch: dict, skip_beyond: float, sigmoid: str):
    del skip_beyond, sigmoid
    logits_NOV = jnp.einsum("nod,vd->nov", x_NOD, table_VD)
    return losses.full_softmax(logits_NOV, batch["target"].reshape(x_NOD.shape[0]))

  def scatter(self, table, batch: dict, update):
    return table + update

  def damped(self, batch: dict, cap: float):
    return None


OUTPUTS = {o.name: o for o in (NegativeSampling(), HierarchicalSoftmax(), FullSoftmax())}


@functools.lru_cache(maxsize=None)
def parse(loss: str) -> tuple:
  """The objectives of a --loss string, in registry order (ns before hs): ValueError if unknown."""
  if loss not in config.LOSSES:
    raise ValueError(f"--loss must be one of {'|'.join(config.LOSSES)}, got {loss!r}")
  names = config.loss_parts(loss)
  return tuple(o for name, o in OUTPUTS.items() if name in names)


def uses(loss: str, name: str) -> bool:
  """Whether --loss=`loss` trains objective `name` ("ns", "hs" or "softmax")."""
  return any(o.name == name for o in parse(loss))
