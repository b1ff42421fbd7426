"""Which vectors a run writes: the input table, the output table, their sum or concatenation.

word2vec.c saves only syn0 (`in`, the exported vectors of every word2vec tool). The output
table (`out`, syn1neg) is trained as much; GloVe sums its two tables (Pennington et al. 2014,
section 4.2), and `sum` / `concat` offer the same for word2vec (`concat` has 2*dim columns).
"""

import os

import numpy as np

from w2v_jax import formats
from w2v_jax.errors import W2VError

KINDS = ("in", "out", "sum", "concat")
FILES = {"in": "vectors.bin", "out": "vectors_out.bin", "sum": "vectors_sum.bin",
         "concat": "vectors_concat.bin"}


def check_kinds(kinds) -> tuple[str, ...]:
  """The requested kinds, deduplicated in KINDS order; W2VError for an unknown one."""
  bad = [k for k in kinds if k not in KINDS]
  if bad:
    raise W2VError(f"--export takes a list of {','.join(KINDS)}, got {','.join(bad)!r}")
  return tuple(k for k in KINDS if k in kinds)


def vectors(kind: str, emb_in: np.ndarray, emb_out: np.ndarray) -> np.ndarray:
  """The (V, D) (or (V, 2D) for concat) matrix of one export kind."""
  if kind == "in":
    return emb_in
  if kind == "out":
    return emb_out
  if kind == "sum":
    return emb_in + emb_out
  return np.concatenate([emb_in, emb_out], axis=1)


def write(workdir: str, words: list[str], emb_in: np.ndarray, emb_out: np.ndarray, kinds,
          save_text: bool = False) -> dict:
  """Writes FILES[kind] in `workdir` for each kind (vectors.txt too with save_text, of `in`);
  returns {kind: matrix}. `in` is always written: it is the run's main output."""
  out = {}
  for kind in check_kinds(("in", *kinds)):
    out[kind] = vectors(kind, emb_in, emb_out)
    formats.save_word2vec(os.path.join(workdir, FILES[kind]), words, out[kind], binary=True)
  if save_text:
    formats.save_word2vec(os.path.join(workdir, "vectors.txt"), words, emb_in, binary=False)
  return out
