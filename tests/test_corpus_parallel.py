"""corpus.encode read by worker processes gives exactly the one-pass result."""

import gzip
import io

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


def test_ranges_at_any_offsets_tile_the_file_and_end_after_whitespace():
  rng = np.random.default_rng(1)
  data = bytes(rng.choice(list(b"ab \n\tc\xc3\xa9"), 200))
  for _ in range(300):
    bounds = [0, *sorted(rng.integers(0, 205, rng.integers(0, 5)).tolist()), None]
    pieces = [b"".join(corpus._RawRange(io.BytesIO(data), a, b))
              for a, b in zip(bounds[:-1], bounds[1:])]
    assert b"".join(pieces) == data
    assert all(p[-1:] in (b" ", b"\n", b"\t") for p in pieces[:-1] if p)


def test_gzip_files_are_cut_too_and_read_as_one_pass(tmp_path, monkeypatch):
  monkeypatch.setattr(corpus, "PARALLEL_BYTES", 0)
  paths = _corpus(tmp_path)
  gz = [str(tmp_path / f"{i}.txt.gz") for i in range(len(paths))]
  for src, dst in zip(paths, gz):
    with open(src, "rb") as f, open(dst, "wb") as g:
      g.write(gzip.compress(f.read()))
  assert len(corpus._ranges(gz[1:2], 4)) == 4  # one gzip file, four shares
  for files in (gz[1:2], gz):
    want, got = corpus.encode(files, workers=1), corpus.encode(files, workers=3)
    np.testing.assert_array_equal(got[0], want[0])
    assert got[1] == want[1]
    np.testing.assert_array_equal(got[2], want[2])
  np.testing.assert_array_equal(corpus.encode(gz, workers=2)[0], corpus.encode(paths)[0])


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
