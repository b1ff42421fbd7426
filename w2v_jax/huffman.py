"""The Huffman tree of hierarchical softmax, as word2vec.c CreateBinaryTree builds it.

Legend: V vocab, P the longest code. Word `w`'s path runs from the root down: `points_VP[w, i]`
is the i-th inner node on it (a row of emb_hs, word2vec.c syn1: V - 1 rows, the root is V - 2)
and `codes_VP[w, i]` the branch taken there (0 or 1); `mask_VP` marks the codelen live slots.
"""

import numpy as np

# word2vec.c: `count[a] = 1e15` for the not-yet-built inner nodes.
_UNBUILT = 10**15


def build(counts_V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """(points_VP int32, codes_VP int32, mask_VP bool) for counts sorted descending, as in C.

  Same tree as word2vec.c CreateBinaryTree: the two smallest of the leaves (scanned from the
  rarest word up, `pos1`) and of the inner nodes built so far (`pos2`) are merged, ties going
  to the inner node; the second one picked gets code 1. A vocabulary of one word has no inner
  node, so its single (masked) slot points at row 0.
  """
  counts = [int(c) for c in np.asarray(counts_V).tolist()]
  v = len(counts)
  if v < 2:
    zeros = np.zeros((v, 1), np.int32)
    return zeros, zeros.copy(), np.zeros((v, 1), bool)
  count = counts + [_UNBUILT] * v
  parent = np.zeros(2 * v, np.int64)
  binary = np.zeros(2 * v, np.int32)
  pos1, pos2 = v - 1, v
  for a in range(v - 1):
    picked = []
    for _ in range(2):  # C: `if (pos1 >= 0) { if (count[pos1] < count[pos2]) ...`
      if pos1 >= 0 and count[pos1] < count[pos2]:
        picked.append(pos1)
        pos1 -= 1
      else:
        picked.append(pos2)
        pos2 += 1
    count[v + a] = count[picked[0]] + count[picked[1]]
    parent[picked] = v + a
    binary[picked[1]] = 1
  # Walk every leaf up to the root at once (C walks one word at a time), collecting the
  # branch codes and the nodes above them bottom-up.
  root = 2 * v - 2
  node = np.arange(v)
  up_codes, up_points, depth = [], [], np.zeros(v, np.int64)
  while (node != root).any():
    live = node != root
    up_codes.append(np.where(live, binary[node], 0))
    node = np.where(live, parent[node], root)
    up_points.append(np.where(live, node - v, 0))
    depth += live
  up_codes, up_points = np.stack(up_codes, 1), np.stack(up_points, 1)
  p = up_codes.shape[1]
  # C stores them root first: code[i - b - 1] = code[b], point[i - b] = point[b] - V.
  col_P = np.arange(p)
  src_VP = np.clip(depth[:, None] - 1 - col_P, 0, p - 1)
  mask_VP = col_P < depth[:, None]
  codes_VP = np.where(mask_VP, np.take_along_axis(up_codes, src_VP, 1), 0)
  points_VP = np.where(mask_VP, np.take_along_axis(up_points, src_VP, 1), 0)
  return points_VP.astype(np.int32), codes_VP.astype(np.int32), mask_VP


def inner_nodes(vocab_size: int) -> int:
  """Rows of emb_hs: the V - 1 inner nodes (at least one, so a 1-word table has a shape)."""
  return max(vocab_size - 1, 1)
