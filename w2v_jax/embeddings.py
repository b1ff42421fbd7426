"""Querying trained vectors: the immutable `Embeddings` table and its jitted similarity searches.

Owns nearest neighbours (single and batched), analogies by 3CosAdd and 3CosMul, `doesnt_match`
and `similarity`, all on the unit-normalised table kept on the device. Only that table and the
row norms are stored (the raw vectors are their product), so a loaded model takes about one copy
of its float32 matrix, or half of that in float16. The rankings
and scores follow gensim 4.4's KeyedVectors (most_similar, most_similar_cosmul, doesnt_match,
similarity) to float32 rounding. Table validation, word lookup, normalisation and the restricted
vocabulary are w2v_jax.evaluate's, so both modules agree on them.
"""

import dataclasses
import functools
import os
import types
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import evaluate, formats
from w2v_jax.errors import W2VError

COSMUL_EPS = 1e-6  # gensim's most_similar_cosmul; Levy & Goldberg (2014) used 1e-3
_BATCH = 1024  # most queries per compiled call of most_similar_batch
_SCORES = 1 << 28  # most float32 scores (N queries x V rows) one call of it may hold
_NORM_BYTES = 1 << 24  # float32 bytes of rows normalised or cast at a time while building a table
_SCORE_ROWS = 1 << 16  # rows scored at a time where the whole table would be copied
DTYPES = ("float32", "float16")  # what the unit table may be stored as

Ranked = list[tuple[str, float]]
_EXACT = jax.lax.Precision.HIGHEST  # full float32 products on GPU/TPU too (no TF32 / bf16 passes)


def _as_list(words: str | Sequence[str]) -> list[str]:
  """A single word stands for a one-word list, as in gensim."""
  return [words] if isinstance(words, str) else list(words)


def _block_rows(vecs_VD: np.ndarray) -> int:
  """Rows per block when a table is normalised or cast: _NORM_BYTES of float32."""
  return max(1, _NORM_BYTES // (4 * max(1, vecs_VD.shape[1])))


def _normalise_in_place(vecs_VD: np.ndarray) -> np.ndarray:
  """Divides the rows of vecs_VD by their L2 norms a block of rows at a time (zero rows stay
  zero) and returns the float32 norms_V; only block-sized temporaries are allocated."""
  norms_V = np.empty(vecs_VD.shape[0], np.float32)
  step = _block_rows(vecs_VD)
  for start in range(0, vecs_VD.shape[0], step):
    block_BD = vecs_VD[start:start + step]
    block_BD[...], norms_V[start:start + len(block_BD)] = evaluate.unit_rows(block_BD)
  return norms_V


def _cast_rows(vecs_VD: np.ndarray, dtype: np.dtype) -> np.ndarray:
  """vecs_VD as a 64-byte aligned array of `dtype`, converted a block of rows at a time."""
  out_VD = formats.aligned_empty(vecs_VD.shape, dtype)
  step = _block_rows(vecs_VD)
  for start in range(0, vecs_VD.shape[0], step):
    out_VD[start:start + step] = vecs_VD[start:start + step]
  return out_VD


def _scores(q_ND: jax.Array, unit_VD: jax.Array, rows: int, block: int) -> jax.Array:
  """float32 cosines q_ND @ unit_VD[:rows].T.

  A float32 table is multiplied in one product when that needs no copy of it: all rows, or one
  query (XLA's CPU backend reads a leading slice in place for a matrix-vector product, but copies
  it for a matrix product; compiled memory_analysis). Otherwise the rows are taken `block` at a
  time, each block cast to float32, and the scores written into place: a float16 table is then
  never converted as a whole, as XLA's CPU backend does for one mixed-precision product.
  """
  if rows <= block or (unit_VD.dtype == jnp.float32
                       and (rows == unit_VD.shape[0] or q_ND.shape[0] <= 1)):
    return jnp.matmul(q_ND, unit_VD[:rows].astype(jnp.float32).T, precision=_EXACT)

  def one_block(b: jax.Array, scores_NR: jax.Array) -> jax.Array:
    start = jnp.minimum(b * block, rows - block)  # the last block overlaps the one before it
    block_BD = jax.lax.dynamic_slice_in_dim(unit_VD, start, block).astype(jnp.float32)
    part_NB = jnp.matmul(q_ND, block_BD.T, precision=_EXACT)
    return jax.lax.dynamic_update_slice_in_dim(scores_NR, part_NB, start, axis=1)

  scores_NR = jnp.zeros((q_ND.shape[0], rows), jnp.float32)
  return jax.lax.fori_loop(0, -(-rows // block), one_block, scores_NR)


@jax.jit
def _raw_rows(unit_VD: jax.Array, norms_V: jax.Array) -> jax.Array:
  """The float32 vectors: each unit row times its norm."""
  return unit_VD.astype(jnp.float32) * norms_V[:, None]


@functools.partial(jax.jit, static_argnames=("rows", "k", "block"))
def _cosadd_top_k(unit_VD: jax.Array, ids_NK: jax.Array, weights_NK: jax.Array, rows: int,
                  k: int, block: int) -> tuple[jax.Array, jax.Array]:
  """Top-k cosines of the first `rows` rows to the unit weighted sum of rows ids_NK.

  Each query n is sum_k weights_NK[n, k] * unit_VD[ids_NK[n, k]], normalised (3CosAdd); its own
  ids score -inf. Returns (scores_NK', ids_NK'), best first.
  """
  q_ND = jnp.einsum("nk,nkd->nd", weights_NK, unit_VD[ids_NK].astype(jnp.float32),
                    precision=_EXACT)
  q_ND = q_ND / jnp.maximum(jnp.linalg.norm(q_ND, axis=1, keepdims=True), 1e-30)
  scores_NR = _scores(q_ND, unit_VD, rows, block)
  n_N1 = jnp.arange(ids_NK.shape[0])[:, None]
  scores_NR = scores_NR.at[n_N1, ids_NK].set(-jnp.inf, mode="drop")
  return jax.lax.top_k(scores_NR, k)


@functools.partial(jax.jit, static_argnames=("rows", "k", "block"))
def _cosmul_top_k(unit_VD: jax.Array, pos_P: jax.Array, neg_M: jax.Array, eps: jax.Array,
                  rows: int, k: int, block: int) -> tuple[jax.Array, jax.Array]:
  """Top-k 3CosMul scores: prod (1 + cos(w, p)) / 2 over positives, divided by the same
  product over negatives plus eps (Levy & Goldberg 2014, eq. 4); the query words score -inf."""
  unit_PD, unit_MD = (unit_VD[ids].astype(jnp.float32) for ids in (pos_P, neg_M))
  shifted_PR = (1 + _scores(unit_PD, unit_VD, rows, block)) / 2
  shifted_MR = (1 + _scores(unit_MD, unit_VD, rows, block)) / 2
  scores_R = jnp.prod(shifted_PR, axis=0) / (jnp.prod(shifted_MR, axis=0) + eps)
  scores_R = scores_R.at[jnp.concatenate([pos_P, neg_M])].set(-jnp.inf, mode="drop")
  return jax.lax.top_k(scores_R, k)


class _RawRows:
  """The raw vectors of the rows asked for, without building the whole table (vectors_VD)."""

  def __init__(self, emb: "Embeddings"):
    self.emb = emb

  def __getitem__(self, ids):
    ids = jnp.asarray(ids, jnp.int32)
    return _raw_rows(self.emb.unit_VD[ids], self.emb.norms_V[ids])


@dataclasses.dataclass(frozen=True, eq=False)
class Embeddings:
  """An immutable word -> vector table with cosine queries. Build it with `load` or `from_arrays`.

  `unit_VD` holds the rows divided by their norms (zero rows stay zero), float32 or float16, and
  `norms_V` the float32 norms, both jax arrays on the default device; `vectors_VD` gives the raw
  vectors back on demand. `index` (read-only) maps a word to its row.
  """
  words: tuple[str, ...]
  unit_VD: jax.Array
  norms_V: jax.Array
  index: Mapping[str, int]

  @classmethod
  def from_arrays(cls, words: Sequence[str], vectors_VD,
                  dtype: str = "float32") -> "Embeddings":
    """Wraps `words` and a matching V x D table (any array-like; copied, never modified).

    dtype "float16" stores the unit table in half the memory; queries still accumulate in
    float32, so scores move by about 1e-3 and near-ties may swap.
    """
    vecs_VD = evaluate.as_table(words, vectors_VD)
    return cls._from_owned(words, _cast_rows(vecs_VD, np.float32), dtype)

  @classmethod
  def load(cls, path: str | os.PathLike, limit: int | None = None,
           dtype: str = "float32") -> "Embeddings":
    """Reads a word2vec text or binary file (the first `limit` rows if given).

    The rows are normalised in the array the file was read into, so the peak memory is about one
    float32 copy of the table (one and a half with dtype "float16", see `from_arrays`).
    """
    return cls._from_owned(*formats.load_word2vec(path, limit=limit), dtype)

  @classmethod
  def _from_owned(cls, words: Sequence[str], vecs_VD: np.ndarray, dtype: str) -> "Embeddings":
    """Builds the table from a 64-byte aligned float32 array that nobody else holds: its rows
    are normalised in place and jax.device_put then uses it without a copy on the CPU."""
    if dtype not in DTYPES:
      raise W2VError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    norms_V = _normalise_in_place(vecs_VD)
    if dtype != "float32":
      vecs_VD = _cast_rows(vecs_VD, np.dtype(dtype))
    return cls(tuple(words), jax.device_put(vecs_VD), jax.device_put(norms_V),
               types.MappingProxyType(evaluate.word_index(words)))

  @property
  def vectors_VD(self) -> jax.Array:
    """The float32 vectors as given (to float32 rounding): a new V x D array on each access."""
    return _raw_rows(self.unit_VD, self.norms_V)

  def __len__(self) -> int:
    return len(self.words)

  def __contains__(self, word: str) -> bool:
    return word in self.index

  def __repr__(self) -> str:
    return f"Embeddings({len(self.words)} words x {self.dim} dims)"

  @property
  def dim(self) -> int:
    """The vector dimension D."""
    return int(self.unit_VD.shape[1])

  def lookup(self, words: Sequence[str]) -> list[int]:
    """Rows of `words`; an unknown word raises W2VError naming it."""
    return evaluate.lookup(self.index, words)

  def _rows(self, restrict_vocab: int | None) -> int:
    return evaluate.restricted_size(len(self.words), restrict_vocab)

  def _ranked(self, scores_K, ids_K, exclude: Sequence[int], topn: int) -> Ranked:
    skip = set(exclude)
    return [(self.words[i], float(s)) for s, i in zip(np.asarray(scores_K).tolist(),
                                                     np.asarray(ids_K).tolist())
            if i not in skip][:topn]

  def most_similar(self, positive: str | Sequence[str], negative: str | Sequence[str] = (),
                   topn: int = 10, restrict_vocab: int | None = None) -> Ranked:
    """The `topn` (word, cosine) pairs closest to the unit mean of +positive / -negative words.

    gensim's most_similar (3CosAdd for analogies): the query words are excluded and only the
    first `restrict_vocab` rows are searched if it is given.
    """
    positive, negative = _as_list(positive), _as_list(negative)
    if not positive and not negative:
      raise W2VError("most_similar needs at least one word")
    ids = self.lookup([*positive, *negative])
    rows = self._rows(restrict_vocab)
    if topn < 1 or rows == 0:
      return []
    weights = [1.0] * len(positive) + [-1.0] * len(negative)
    scores, top = _cosadd_top_k(self.unit_VD, jnp.asarray([ids], jnp.int32),
                                jnp.asarray([weights], jnp.float32), rows, min(topn, rows),
                                _SCORE_ROWS)
    return self._ranked(scores[0], top[0], ids, topn)

  def most_similar_cosmul(self, positive: str | Sequence[str],
                          negative: str | Sequence[str] = (), topn: int = 10,
                          restrict_vocab: int | None = None, eps: float = COSMUL_EPS) -> Ranked:
    """The `topn` (word, score) pairs by 3CosMul, as gensim's most_similar_cosmul.

    Cosines are shifted to [0, 1] by (cos + 1) / 2; the score is the product over positive words
    divided by the product over negative words plus `eps`. Query words are excluded.
    """
    positive, negative = _as_list(positive), _as_list(negative)
    if not positive:
      raise W2VError("most_similar_cosmul needs at least one positive word")
    pos, neg = self.lookup(positive), self.lookup(negative)
    rows = self._rows(restrict_vocab)
    if topn < 1 or rows == 0:
      return []
    scores, top = _cosmul_top_k(self.unit_VD, jnp.asarray(pos, jnp.int32),
                                jnp.asarray(neg, jnp.int32), jnp.float32(eps), rows,
                                min(topn, rows), _SCORE_ROWS)
    return self._ranked(scores, top, pos + neg, topn)

  def most_similar_batch(self, queries: Sequence[str], topn: int = 10,
                         restrict_vocab: int | None = None) -> list[Ranked]:
    """The `topn` neighbours of each query word (itself excluded): one list per query.

    Equal to [most_similar([q], topn=topn) for q in queries], computed as one compiled matrix
    product and lax.top_k per chunk of up to 1,024 queries (fewer on large tables, so that a
    chunk's scores stay under 1 GB).
    """
    ids = self.lookup(queries)
    rows = self._rows(restrict_vocab)
    if topn < 1 or rows == 0:
      return [[] for _ in ids]
    k = min(topn, rows)
    most = max(1, min(_BATCH, _SCORES // rows))
    most = 1 << (most.bit_length() - 1)  # a power of two, as the padded chunk sizes below
    out: list[Ranked] = []
    for start in range(0, len(ids), most):
      chunk = ids[start:start + most]
      size = min(most, 1 << (len(chunk) - 1).bit_length())  # few distinct shapes to compile
      ids_N1 = np.zeros((size, 1), np.int32)
      ids_N1[:len(chunk), 0] = chunk
      scores_NK, top_NK = _cosadd_top_k(self.unit_VD, jnp.asarray(ids_N1),
                                        jnp.ones((size, 1), jnp.float32), rows, k,
                                        _SCORE_ROWS)
      scores_NK, top_NK = np.asarray(scores_NK), np.asarray(top_NK)
      out += [self._ranked(scores_NK[n], top_NK[n], [i], topn) for n, i in enumerate(chunk)]
    return out

  def analogy(self, a: str, b: str, c: str, topn: int = 1, method: str = "add",
              restrict_vocab: int | None = None) -> Ranked:
    """Answers "a is to b as c is to ?": words near b - a + c, excluding a, b and c.

    method "add" is 3CosAdd (most_similar([b, c], [a])), "mul" is 3CosMul
    (most_similar_cosmul([b, c], [a])).
    """
    if method == "add":
      return self.most_similar([b, c], [a], topn, restrict_vocab)
    if method == "mul":
      return self.most_similar_cosmul([b, c], [a], topn, restrict_vocab)
    raise W2VError(f"analogy method must be 'add' or 'mul', got {method!r}")

  def doesnt_match(self, words: Sequence[str]) -> str:
    """The word furthest (by cosine) from the unit mean of the words' unit vectors."""
    if isinstance(words, str) or not words:
      raise W2VError("doesnt_match needs a non-empty list of words")
    unit_KD = np.asarray(self.unit_VD[jnp.asarray(self.lookup(words), jnp.int32)], np.float32)
    mean_D, _ = evaluate.unit_rows(unit_KD.mean(axis=0, keepdims=True))
    dists_K = unit_KD @ mean_D[0]  # gensim's rank_by_centrality; the last word is the odd one
    return min(zip(dists_K.tolist(), words))[1]

  def predict_output_word(self, context: Sequence[str], output_VD, topn: int = 10,
                          mean: bool = True) -> Ranked | None:
    """gensim's Word2Vec.predict_output_word: the `topn` words (with probabilities) of the
    softmax of the output table `output_VD` (rows of this table's words, e.g. a run's
    vectors_out.bin) against the mean of the context words' vectors (evaluate's)."""
    out_VD = output_VD.vectors_VD if isinstance(output_VD, Embeddings) else output_VD
    if np.shape(out_VD) != (len(self), self.dim):
      raise W2VError(f"the output table is {np.shape(out_VD)}, the input table "
                     f"{(len(self), self.dim)}: pass the vectors_out.bin of the same run")
    return evaluate.predict_output_word(self.words, _RawRows(self), np.asarray(out_VD),
                                        _as_list(context), topn, mean)

  def similarity(self, w1: str, w2: str) -> float:
    """Cosine similarity of two words."""
    i, j = self.lookup([w1, w2])
    unit_2D = self.unit_VD[jnp.asarray([i, j], jnp.int32)].astype(jnp.float32)
    return float(jnp.dot(unit_2D[0], unit_2D[1]))
