"""corpus.encode read by worker processes gives exactly the one-pass result."""

import gzip

import numpy as np
import pytest

from w2v_jax import corpus


def _write(path, text: bytes):
  path.write_bytes(text)
  return str(path)


def _corpus(tmp_path):
  rng = np.random.default_rng(0)
  words = [b"the", b"of", b"caf\xc3\xa9", b"na\xefve", b"x" * 30, b"tab", b"\xff\xfe"]
  def text(n):
    seps = [b" ", b" ", b" ", b"\n", b"\t", b"  ", b"\r\n"]
    return b"".join(words[i] + seps[j] for i, j in zip(rng.integers(0, len(words), n),
                                                        rng.integers(0, len(seps), n)))
  one_line = b" ".join(words[i] for i in rng.integers(0, len(words), 5000))  # text8-style
  return [_write(tmp_path / "a.txt", text(4000)), _write(tmp_path / "b.txt", one_line),
          _write(tmp_path / "c.txt", text(3000) + b"end without newline")]


@pytest.mark.parametrize("workers", [2, 3, 4])
def test_parallel_encode_equals_one_pass(tmp_path, monkeypatch, workers):
  paths = _corpus(tmp_path)
  want = corpus.encode(paths, workers=1)
  monkeypatch.setattr(corpus, "PARALLEL_BYTES", 0)
  assert len(corpus._ranges(paths, workers)) > 1  # really split
  got = corpus.encode(paths, workers=workers)
  np.testing.assert_array_equal(got[0], want[0])
  assert got[1] == want[1]
  np.testing.assert_array_equal(got[2], want[2])


def test_one_file_is_cut_after_whitespace_and_gzip_is_not_cut(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "PARALLEL_BYTES", 0)
  path = _corpus(tmp_path)[1]
  data = open(path, "rb").read()
  cuts = corpus.split_points(path, 4)
  assert len(cuts) == 3 and all(data[c - 1:c] in (b" ", b"\n", b"\t") for c in cuts)
  gz = tmp_path / "d.txt.gz"
  gz.write_bytes(gzip.compress(data))
  assert len(corpus._ranges([str(gz)], 4)) == 1
  assert corpus.encode([str(gz)], workers=4)[1] == corpus.encode([path], workers=1)[1]
  # Several gzip files: each worker takes whole files.
  gz2 = tmp_path / "e.txt.gz"
  gz2.write_bytes(gzip.compress(b"other words here\n" * 100))
  both = [str(gz), str(gz2)]
  assert len(corpus._ranges(both, 2)) == 2
  want, got = corpus.encode(both, workers=1), corpus.encode(both, workers=2)
  np.testing.assert_array_equal(got[0], want[0])
  assert got[1] == want[1]


def test_a_binary_file_is_refused_by_the_workers_too(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "PARALLEL_BYTES", 0)
  path = _write(tmp_path / "bin.txt", b"\0\1\2 " * 5000)
  with pytest.raises(corpus.W2VError, match="binary"):
    corpus.encode([path], workers=2)


def test_prefetch_is_collected_by_encode_and_only_for_unchanged_files(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "PARALLEL_BYTES", 0)
  paths = _corpus(tmp_path)
  want = corpus.encode(paths, workers=1)
  corpus.prefetch(paths, workers=2)
  assert len(corpus._PREFETCHED) == 1
  got = corpus.encode(paths, workers=1)  # collects the prefetch (read by 2 workers)
  assert not corpus._PREFETCHED
  np.testing.assert_array_equal(got[0], want[0])
  assert got[1] == want[1]
  # A file changed after the prefetch is read again, not served stale.
  corpus.prefetch(paths, workers=2)
  with open(paths[0], "ab") as f:
    f.write(b" brandnewword\n")
  assert "brandnewword" in corpus.encode(paths, workers=1)[1]
  assert not corpus._PREFETCHED  # the stale prefetch's workers are stopped
