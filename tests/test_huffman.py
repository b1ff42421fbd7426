"""The Huffman tree against a line-by-line Python port of word2vec.c CreateBinaryTree."""

import numpy as np
import pytest

from w2v_jax import huffman


def c_create_binary_tree(cn):
  """word2vec.c CreateBinaryTree, transcribed statement by statement: [(code, point)] per word.

  (The C code's two identical "find the next smallest node" blocks are one loop here.)"""
  vocab_size = len(cn)
  count = [0] * (vocab_size * 2 + 1)
  binary = [0] * (vocab_size * 2 + 1)
  parent_node = [0] * (vocab_size * 2 + 1)
  for a in range(vocab_size):
    count[a] = cn[a]
  for a in range(vocab_size, vocab_size * 2):
    count[a] = 10**15
  pos1 = vocab_size - 1
  pos2 = vocab_size
  for a in range(vocab_size - 1):
    mins = []
    for _ in range(2):  # word2vec.c writes this block out twice: min1i, then min2i
      if pos1 >= 0:
        if count[pos1] < count[pos2]:
          mins.append(pos1)
          pos1 -= 1
        else:
          mins.append(pos2)
          pos2 += 1
      else:
        mins.append(pos2)
        pos2 += 1
    min1i, min2i = mins
    count[vocab_size + a] = count[min1i] + count[min2i]
    parent_node[min1i] = vocab_size + a
    parent_node[min2i] = vocab_size + a
    binary[min2i] = 1
  out = []
  for a in range(vocab_size):
    b, i, code, point = a, 0, [], []
    while True:
      code.append(binary[b])
      point.append(b)
      i += 1
      b = parent_node[b]
      if b == vocab_size * 2 - 2:
        break
    vcode, vpoint = [0] * i, [0] * (i + 1)
    vpoint[0] = vocab_size - 2
    for b in range(i):
      vcode[i - b - 1] = code[b]
      vpoint[i - b] = point[b] - vocab_size
    out.append((vcode, vpoint[:i]))  # training reads point[0 .. codelen - 1]
  return out


@pytest.mark.parametrize("counts", [
    [5, 3],
    [10, 4, 4, 1],
    [7, 7, 7, 7, 7],                      # ties everywhere
    [1000, 500, 120, 120, 60, 9, 8, 3, 2, 1, 1],
    sorted(np.random.default_rng(0).zipf(1.3, 300).tolist(), reverse=True),
])
def test_codes_and_points_equal_word2vec_c(counts):
  points, codes, mask = huffman.build(np.array(counts))
  want = c_create_binary_tree(counts)
  assert points.shape == codes.shape == mask.shape and points.shape[0] == len(counts)
  assert points.shape[1] == max(len(c) for c, _ in want)
  for w, (code, point) in enumerate(want):
    n = int(mask[w].sum())
    assert mask[w, :n].all() and n == len(code), w
    assert codes[w, :n].tolist() == code and points[w, :n].tolist() == point, w
    assert not codes[w, n:].any() and not points[w, n:].any()
  assert points.max() == len(counts) - 2 == huffman.inner_nodes(len(counts)) - 1


def test_frequent_words_get_short_codes_and_codes_are_prefix_free():
  counts = np.array([100, 50, 20, 10, 5, 2, 1])
  points, codes, mask = huffman.build(counts)
  lengths = mask.sum(1)
  assert (np.diff(lengths) >= 0).all() and lengths[0] == 1
  words = [tuple(codes[w, :lengths[w]]) for w in range(len(counts))]
  for a in words:
    for b in words:
      assert a == b or a != b[:len(a)]


def test_one_word_vocabulary_has_an_empty_path():
  points, codes, mask = huffman.build(np.array([3]))
  assert points.shape == (1, 1) and not mask.any() and huffman.inner_nodes(1) == 1
