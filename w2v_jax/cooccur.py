"""GloVe's word-word co-occurrence matrix X from an id stream, vectorised and in bounded memory.

Matches GloVe's `cooccur.c` (get_cooccurrence) with its defaults `-symmetric 1
-distance-weighting 1`:
- a pair at distance d (1 <= d <= window) adds 1/d to X[a, b] and to X[b, a] (symmetric
  context), so a word next to itself adds 2 * 1/d to its diagonal entry, as in C;
- a newline resets C's line index (`j = 0`), so windows never cross a sentence: we stop at
  the SEP ids of `vocab.build`'s stream (checked against stanfordnlp/GloVe src/cooccur.c;
  we did not check older releases).
- out-of-vocabulary words are skipped before they enter the window history (C `continue`s on a
  hash miss), so windows reach past them: the same as our stream, which has them removed.
- no subsampling and no cap on sentence length (GloVe has neither).
Counts are summed in float64 (C's `real` is double).
"""

import numpy as np
import scipy.sparse

from w2v_jax.vocab import SEP

# Stream positions per chunk: at most 2 * window * CHUNK entries (16 bytes each) are alive at
# once before scipy sums duplicates, e.g. 10 * 2**19 * 16 B ~ 84 MB for window 10.
CHUNK = 1 << 19


def count(stream: np.ndarray, vocab_size: int, window: int,
          chunk: int = CHUNK) -> scipy.sparse.csr_matrix:
  """X (V, V) float64 CSR: X[a, b] = sum over pairs (a, b) within `window` of 1/distance.

  Vectorised per offset d: the stream against itself shifted by d, keeping pairs whose two
  ends are words of the same sentence. One direction is accumulated (left word -> right
  word), then X = M + M^T gives GloVe's symmetric context.
  """
  stream = np.asarray(stream)
  n = stream.shape[0]
  sentence_N = np.cumsum(stream == SEP, dtype=np.int64)  # equal <=> no SEP between
  m = scipy.sparse.csr_matrix((vocab_size, vocab_size), dtype=np.float64)
  for start in range(0, n, chunk):
    rows, cols, vals = [], [], []
    for d in range(1, window + 1):
      stop = min(start + chunk, n - d)
      if stop <= start:
        break
      a_C, b_C = stream[start:stop], stream[start + d:stop + d]
      ok_C = (a_C != SEP) & (b_C != SEP) & (
          sentence_N[start:stop] == sentence_N[start + d:stop + d])
      rows.append(a_C[ok_C])
      cols.append(b_C[ok_C])
      vals.append(np.full(rows[-1].shape[0], 1.0 / d))
    if rows:
      part = scipy.sparse.coo_matrix(
          (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
          shape=(vocab_size, vocab_size)).tocsr()  # tocsr sums duplicate (a, b) entries
      m = m + part
  x = (m + m.T).tocsr()
  x.sum_duplicates()
  x.eliminate_zeros()
  return x


def entries(x: scipy.sparse.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """The nonzeros of X as (i_N int32, j_N int32, x_N float32), in row-major order."""
  coo = x.tocoo()
  return (coo.row.astype(np.int32), coo.col.astype(np.int32), coo.data.astype(np.float32))
