"""Host pipeline: subsampling, sentences, fixed-shape blocks with halos."""

import numpy as np
import pytest

from w2v_jax import data
from w2v_jax.vocab import SEP


def test_subsample_is_deterministic_and_drops_at_the_right_rate():
  rng = np.random.default_rng(0)
  stream = rng.integers(0, 3, 200_000).astype(np.int32)
  keep = np.array([0.1, 0.5, 1.0], np.float32)
  a = data.subsample(stream, keep, seed=1, epoch=0, max_sentence=1000)
  b = data.subsample(stream, keep, seed=1, epoch=0, max_sentence=1000)
  c = data.subsample(stream, keep, seed=1, epoch=1, max_sentence=1000)
  assert np.array_equal(a.tokens, b.tokens) and not np.array_equal(a.tokens, c.tokens)
  for w, p in enumerate(keep):
    assert abs((a.tokens == w).sum() / (stream == w).sum() - p) < 0.01


def test_sentences_end_at_markers_and_at_max_length():
  stream = np.array([1, 2, 3, SEP, 4, 5, 6, 7, 8, SEP, 9], np.int32)
  ep = data.subsample(stream, np.ones(10, np.float32), 0, 0, max_sentence=3)
  assert ep.tokens.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]
  assert ep.segments.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 3]


def test_blocks_cover_every_centre_once_with_halo():
  n, t, w, b, s = 50, 8, 2, 2, 2
  stream = np.arange(1, n + 1, dtype=np.int32)
  ep = data.subsample(stream, np.ones(n + 1, np.float32), 0, 0, max_sentence=1000)
  centres = []
  for call in range(data.num_calls(n, s, b, t)):
    ids, seg, pos = data.block(ep, call, s, b, t, w)
    assert ids.shape == (s, b, t + 2 * w) and pos.shape == (s,)
    live = seg[..., w:w + t] >= 0
    centres += ids[..., w:w + t][live].tolist()
    # The halo holds the true neighbours of the first and last centres.
    row = ids[0, 0]
    if seg[0, 0, w] >= 0 and row[w] > w:
      assert row[:w].tolist() == list(range(row[w] - w, row[w]))
  assert centres == stream.tolist()


def test_subsample_in_chunks_equals_one_pass():
  """The chunked reader (bounded memory) gives the same epoch whatever the chunk size."""
  rng = np.random.default_rng(1)
  for trial in range(12):
    n, v = int(rng.integers(1, 2000)), 20
    stream = rng.integers(-1, v, n).astype(np.int32)
    if trial % 3 == 0:  # long sentences, so max_sentence cuts cross chunk borders
      stream[rng.random(n) < 0.9] = 3
    keep = (rng.random(v) * 1.5).astype(np.float32)
    max_sentence = int(rng.integers(1, 40))
    whole = data.subsample(stream, keep, 3, 1, max_sentence)
    for chunk in (1, 7, 64):
      part = data.subsample(stream, keep, 3, 1, max_sentence, chunk=chunk)
      for field in ("tokens", "segments", "positions"):
        np.testing.assert_array_equal(getattr(whole, field), getattr(part, field))
    # Segments restart at sentence ends and never exceed max_sentence tokens.
    _, sizes = np.unique(whole.segments, return_counts=True)
    assert sizes.size == 0 or sizes.max() <= max_sentence


def test_subsample_spilled_to_disk_equals_in_memory(tmp_path):
  """--id_file: the epoch arrays are written to files and memory-mapped, with the same values."""
  rng = np.random.default_rng(2)
  stream = rng.integers(-1, 30, 5000).astype(np.int32)
  keep = (rng.random(30) * 1.5).astype(np.float32)
  ram = data.subsample(stream, keep, 0, 0, 50)
  disk = data.subsample(stream, keep, 0, 0, 50, chunk=999, spill=str(tmp_path / "epoch"))
  assert isinstance(disk.tokens, np.memmap)
  for field in ("tokens", "segments", "positions"):
    np.testing.assert_array_equal(getattr(ram, field), getattr(disk, field))


def _naive_subsample(stream, keep, seed, epoch, max_sentence):
  """word2vec.c's reading loop, token by token: the reference for data.subsample."""
  u = np.random.default_rng([seed, epoch]).random(len(stream), dtype=np.float32)
  tokens, segments, positions = [], [], []
  segment, index, prev_sentence, sentence = -1, 0, None, 0
  for i, (w, x) in enumerate(zip(stream.tolist(), u.tolist())):
    if w == SEP:
      sentence += 1
      continue
    if not x < keep[w]:
      continue
    if sentence != prev_sentence:
      index, prev_sentence = 0, sentence
    if index % max_sentence == 0:
      segment += 1
    tokens.append(w)
    segments.append(segment)
    positions.append(i)
    index += 1
  return tokens, segments, positions


@pytest.mark.parametrize("few_seps", [data.FEW_SEPS, 0])  # binary search / cumulative count
def test_subsample_matches_a_token_by_token_reference(few_seps, monkeypatch):
  monkeypatch.setattr(data, "FEW_SEPS", few_seps)
  rng = np.random.default_rng(7)
  for sep_rate in (0.0, 0.01, 0.3, 0.9):
    stream = rng.integers(0, 20, 3000).astype(np.int32)
    stream[rng.random(3000) < sep_rate] = SEP
    keep = rng.random(20).astype(np.float32) * 1.5
    want = _naive_subsample(stream, keep, 2, 1, 7)
    for chunk in (5, 333, 1 << 24):
      ep = data.subsample(stream, keep, 2, 1, max_sentence=7, chunk=chunk)
      assert (ep.tokens.tolist(), ep.segments.tolist(), ep.positions.tolist()) == want
