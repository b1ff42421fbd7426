"""The binary id file (w2v_jax/idfile.py): the same vocabulary and stream as vocab.build,
memory-mapped, reused without reading the text again, and the same vectors."""

import numpy as np
import pytest

from w2v_jax import corpus as corpus_lib
from w2v_jax import idfile, train
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config


@pytest.mark.parametrize("min_count,max_vocab", [(1, 0), (30, 0), (1, 10)])
def test_id_file_holds_vocab_builds_stream(planted_path, tmp_path, monkeypatch, min_count,
                                           max_vocab):
  monkeypatch.setattr(idfile, "CHUNK", 100)  # many chunks, so chunk seams are exercised
  want_vocab, want = vocab_lib.build(planted_path, min_count, max_vocab)
  vocab, got = idfile.build(planted_path, min_count, max_vocab, str(tmp_path / "c.ids"))
  assert isinstance(got, np.memmap)
  assert vocab.words == want_vocab.words and vocab.total_tokens == want_vocab.total_tokens
  np.testing.assert_array_equal(vocab.counts, want_vocab.counts)
  np.testing.assert_array_equal(got, want)
  assert sorted(p.name for p in tmp_path.iterdir()) == ["c.ids", "c.ids.json"]  # no leftovers


def test_id_file_is_reused_until_the_corpus_changes(tmp_path, monkeypatch):
  corpus = tmp_path / "c.txt"
  corpus.write_text("a b a c\nb a\n")
  first = idfile.build(str(corpus), 1, 0, str(tmp_path / "c.ids"))[1].copy()
  reads = []
  real = corpus_lib.read_blocks
  monkeypatch.setattr(corpus_lib, "read_blocks", lambda paths: reads.append(1) or real(paths))
  vocab, again = idfile.build(str(corpus), 1, 0, str(tmp_path / "c.ids"))
  assert not reads and np.array_equal(again, first) and vocab.words == ["a", "b", "c"]
  corpus.write_text("c c c d\n")
  vocab, changed = idfile.build(str(corpus), 1, 0, str(tmp_path / "c.ids"))
  assert reads and vocab.words == ["c", "d"] and list(changed) == [0, 0, 0, 1, -1]


def test_training_from_the_id_file_gives_the_same_vectors(planted_path, tmp_path):
  cfg = dict(corpus=planted_path, dim=8, window=2, negatives=2, min_count=1, epochs=1,
             batch_size=64, row_tokens=64, steps_per_call=4, log_every_secs=0.0)
  plain = train.run(Config(**cfg), str(tmp_path / "plain"))
  mapped = train.run(Config(**cfg, id_file=True), str(tmp_path / "mapped"))
  assert (tmp_path / "mapped" / "corpus.ids").exists()
  np.testing.assert_array_equal(mapped["emb_in"], plain["emb_in"])
