"""Corpus reading and the vocabulary tables (subsampling, noise distribution)."""

import gzip

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from w2v_jax import corpus, vocab
from w2v_jax.errors import W2VError


def _write(tmp_path, name, data: bytes):
  p = tmp_path / name
  p.write_bytes(data)
  return str(p)


def test_counts_sorting_min_count_and_sentence_markers(tmp_path):
  path = _write(tmp_path, "c.txt", b"b a b\nc b a\nrare\n")
  v, stream = vocab.build(path, min_count=2)
  assert v.words == ["b", "a"] and v.counts.tolist() == [3, 2]
  assert v.total_tokens == 7
  # OOV "c" and "rare" vanish; each newline leaves a sentence marker.
  assert stream.tolist() == [0, 1, 0, vocab.SEP, 0, 1, vocab.SEP, vocab.SEP]


def test_gz_glob_and_long_line_streamed_in_blocks(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "BLOCK_BYTES", 7)  # words straddle every block boundary
  text = " ".join(f"w{i % 13}" for i in range(500))
  with gzip.open(tmp_path / "a.txt.gz", "wt") as f:
    f.write(text)
  (tmp_path / "b.txt").write_text(text)
  v, stream = vocab.build(str(tmp_path / "*.txt*"), min_count=1)
  assert v.total_tokens == 1000
  assert sorted(v.words) == sorted(f"w{i}" for i in range(13))
  assert (stream == vocab.SEP).sum() == 2  # each file ends a sentence
  words = [v.words[i] for i in stream if i != vocab.SEP]
  assert words == text.split() * 2


def test_undecodable_bytes_are_replaced_not_fatal(tmp_path):
  path = _write(tmp_path, "bad.txt", b"ok \xff\xfe ok ok\n")
  v, _ = vocab.build(path, min_count=1)
  assert "ok" in v.words and any("\ufffd" in w for w in v.words)


def test_max_vocab_and_write_format(tmp_path):
  path = _write(tmp_path, "c.txt", b"a a a b b c\n")
  v, _ = vocab.build(path, min_count=1, max_vocab=2)
  assert v.words == ["a", "b"]
  out = tmp_path / "vocab.txt"
  vocab.save(v, str(out))
  assert out.read_text() == "a 3\nb 2\n"


@pytest.mark.parametrize("content,pattern,message", [
    (None, "missing.txt", "not found"),
    (b"", "c.txt", "empty"),
    (b"   \n\n", "c.txt", "empty"),
    (b"a b c\n", "c.txt", "vocabulary is empty"),
])
def test_bad_corpora(tmp_path, content, pattern, message):
  if content is not None:
    _write(tmp_path, pattern, content)
  with pytest.raises(W2VError, match=message):
    vocab.build(str(tmp_path / pattern), min_count=5)


def test_directory_is_refused(tmp_path):
  with pytest.raises(W2VError, match="directory"):
    vocab.build(str(tmp_path), min_count=1)


def test_keep_probs_match_word2vec_c_formula():
  v = vocab.Vocab(words=["a", "b", "c"], counts=np.array([1000, 50, 2]), total_tokens=1052)
  sample = 1e-3
  keep = vocab.keep_probs(v, sample)
  for count, p in zip([1000, 50, 2], keep):
    # word2vec.c: ran = (sqrt(cn / (sample * train_words)) + 1) * (sample * train_words) / cn
    ran = (np.sqrt(count / (sample * 1052)) + 1) * (sample * 1052) / count
    assert p == pytest.approx(ran, rel=1e-6)
  assert np.all(vocab.keep_probs(v, 0.0) == 1.0)


def test_noise_sampler_distribution():
  import jax
  import jax.numpy as jnp
  counts = np.array([900, 300, 100, 10])
  v = vocab.Vocab(words=list("abcd"), counts=counts, total_tokens=int(counts.sum()))
  from w2v_jax import sampling
  noise = tuple(jnp.asarray(a) for a in vocab.noise_alias(v, 0.75))
  draws = np.asarray(sampling.sample_noise(jax.random.PRNGKey(0), noise, (400_000,)))
  freq = np.bincount(draws, minlength=4) / draws.size
  expected = counts**0.75 / (counts**0.75).sum()
  np.testing.assert_allclose(freq, expected, atol=0.003)


def test_binary_file_is_refused(tmp_path):
  path = _write(tmp_path, "model.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00 junk")
  with pytest.raises(W2VError, match="binary"):
    vocab.build(path, min_count=1)


def test_overlong_run_without_whitespace_stays_bounded(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "BLOCK_BYTES", 64)
  monkeypatch.setattr(corpus, "MAX_WORD_CHARS", 100)
  path = _write(tmp_path, "long.txt", b"start " + b"x" * 100_000 + b" end\n")
  v, _ = vocab.build(path, min_count=1)
  assert {"start", "end"} <= set(v.words)
  assert max(len(w) for w in v.words) < 100 + 64 + 1


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_corpus_reader_builds_or_fails_clearly(tmp_path_factory, data):
  path = tmp_path_factory.mktemp("fuzz") / "c.txt"
  path.write_bytes(data)
  try:
    v, stream = vocab.build(str(path), min_count=1)
  except W2VError:
    return
  assert v.size >= 1 and v.total_tokens >= 1
  assert set(np.unique(stream[stream != vocab.SEP])) <= set(range(v.size))
