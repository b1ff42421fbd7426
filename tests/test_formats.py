"""Tests for w2v_jax.formats: word2vec text/binary files, gensim interop, malformed files."""

import contextlib
import os
import re
import struct
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from w2v_jax import formats
from w2v_jax.errors import W2VError

WORDS = ["the", "king", "queen", "café", "日本", "x"]


def _vectors(V: int = len(WORDS), D: int = 5, seed: int = 0) -> np.ndarray:
  vecs_VD = np.random.default_rng(seed).standard_normal((V, D)).astype(np.float32)
  vecs_VD[0, :3] = [-0.0, 1e-45, 3.4028235e38]  # signed zero, subnormal, float32 max
  return vecs_VD


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("detect", [True, False])
def test_round_trip_is_exact(tmp_path, binary, detect):
  vecs_VD = _vectors()
  path = tmp_path / "v"
  formats.save_word2vec(path, WORDS, vecs_VD, binary=binary)
  words, got_VD = formats.load_word2vec(path, binary=None if detect else binary)
  assert words == WORDS
  assert got_VD.dtype == np.float32 and got_VD.shape == vecs_VD.shape
  assert got_VD.tobytes() == vecs_VD.tobytes()  # bitwise, -0.0 included
  assert [p.name for p in tmp_path.iterdir()] == ["v"]  # no temp file left behind


def test_binary_layout_is_word2vec_c(tmp_path):
  vecs_VD = _vectors(2, 3)
  formats.save_word2vec(tmp_path / "v.bin", ["a", "b"], vecs_VD, binary=True)
  expected = (b"2 3\n" + b"a " + vecs_VD[0].astype("<f4").tobytes() + b"\n"
              + b"b " + vecs_VD[1].astype("<f4").tobytes() + b"\n")
  assert (tmp_path / "v.bin").read_bytes() == expected


@pytest.mark.parametrize("binary", [True, False])
def test_limit(tmp_path, binary):
  vecs_VD = _vectors()
  formats.save_word2vec(tmp_path / "v", WORDS, vecs_VD, binary=binary)
  for limit in (0, 2, len(WORDS), 100):
    words, got_VD = formats.load_word2vec(tmp_path / "v", limit=limit)
    assert words == WORDS[:limit]
    np.testing.assert_array_equal(got_VD, vecs_VD[:limit])


@pytest.mark.parametrize("binary", [True, False])
def test_loads_gensim_files(tmp_path, binary):
  gensim_models = pytest.importorskip("gensim.models")
  kv = gensim_models.KeyedVectors(7)
  kv.add_vectors(WORDS, _vectors(D=7))
  kv.save_word2vec_format(str(tmp_path / "g"), binary=binary)
  words, got_VD = formats.load_word2vec(tmp_path / "g")
  assert words == kv.index_to_key
  np.testing.assert_array_equal(got_VD, kv.vectors)


@pytest.mark.parametrize("binary", [True, False])
def test_gensim_loads_our_files(tmp_path, binary):
  gensim_models = pytest.importorskip("gensim.models")
  vecs_VD = _vectors()
  formats.save_word2vec(tmp_path / "v", WORDS, vecs_VD, binary=binary)
  kv = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "v"), binary=binary)
  assert kv.index_to_key == WORDS
  np.testing.assert_array_equal(kv.vectors, vecs_VD)


@pytest.mark.parametrize("sep", [b"\n", b"", b"\r\n", b"\n\n "])
def test_hand_written_binary(tmp_path, sep):
  """word2vec.c layout (newline after each row) and variants without/with extra whitespace."""
  vecs_VD = _vectors(3, 4)
  body = b"".join(w + b" " + struct.pack("<4f", *v) + sep
                  for w, v in zip([b"a", b"b\xffc", b"d"], vecs_VD))
  (tmp_path / "c.bin").write_bytes(b"3 4\n" + body)
  words, got_VD = formats.load_word2vec(tmp_path / "c.bin", binary=True)
  assert words == ["a", "b\ufffdc", "d"]  # invalid UTF-8 is replaced, not fatal
  np.testing.assert_array_equal(got_VD, vecs_VD)


def test_projector_tsv(tmp_path):
  vecs_VD = _vectors()
  formats.save_projector_tsv(tmp_path / "emb", WORDS, vecs_VD)
  meta = (tmp_path / "emb.metadata.tsv").read_text(encoding="utf-8").splitlines()
  assert meta == WORDS
  rows = (tmp_path / "emb.vectors.tsv").read_text().splitlines()
  got_VD = np.array([[float(x) for x in r.split("\t")] for r in rows], dtype=np.float32)
  np.testing.assert_array_equal(got_VD, vecs_VD)


@pytest.mark.parametrize("words, vecs", [
    (["a b", "c"], np.ones((2, 2))),
    (["a\tb", "c"], np.ones((2, 2))),
    (["", "c"], np.ones((2, 2))),
    (["a", "a"], np.ones((2, 2))),
    (["a"], np.ones((2, 2))),
    (["a", "b"], np.ones((2, 0))),
    (["a", "b"], np.array([[1.0, np.nan], [0, 0]])),
])
def test_save_rejects_bad_input_and_keeps_old_file(tmp_path, words, vecs):
  path = tmp_path / "v.bin"
  path.write_bytes(b"old")
  with pytest.raises(W2VError):
    formats.save_word2vec(path, words, vecs, binary=True)
  assert path.read_bytes() == b"old"
  assert os.listdir(tmp_path) == ["v.bin"]


def _row(word: bytes, *vals: float) -> bytes:
  return word + b" " + struct.pack(f"<{len(vals)}f", *vals) + b"\n"


# (file contents, binary flag, text the error must contain)
MALFORMED = {
    "empty": (b"", None, "empty"),
    "bad_header": (b"hello world\na 1 2\n", None, "line 1"),
    "header_three_fields": (b"1 2 3\na 1 2\n", None, "line 1"),
    "dim_zero": (b"1 0\na\n", None, "line 1"),
    "dim_negative": (b"1 -2\na 1 2\n", None, "line 1"),
    "huge_header": (b"1000000000 1000\na 1\n", None, "line 1"),
    "too_few_values": (b"2 3\na 1 2 3\nb 1 2\n", False, "line 3"),
    "too_many_values": (b"2 2\na 1 2\nb 1 2 3\n", None, "line 3"),
    "non_numeric": (b"2 2\na 1 2\nb 1 x\n", None, "line 3"),
    "nan_text": (b"2 2\na 1 2\nb nan 2\n", None, "line 3"),
    "inf_text": (b"2 2\na 1 2\nb 1 -inf\n", None, "line 3"),
    "overflow_text": (b"2 2\na 1 2\nb 1 1e39\n", None, "line 3"),
    "fewer_rows_text": (b"3 2\na 1 2\nb 3 4\n", None, "line 4"),
    "duplicate_text": (b"2 2\na 1 2\na 3 4\n", None, "line 3"),
    "blank_line_text": (b"2 2\na 1 2\n\nb 3 4\n", False, "line 3"),
    "truncated_binary": (b"2 2\n" + _row(b"a", 1, 2) + b"b " + b"\x00\x00\x80", True,
                         "byte offset 15"),
    "fewer_rows_binary": (b"3 2\n" + _row(b"a", 1, 2) + _row(b"b", 3, 4) + b"\n\n\n" * 20, True,
                          "byte offset 86"),
    "nan_binary": (b"2 2\n" + _row(b"a", 1, 2) + _row(b"b", 3, float("nan")), None,
                   "byte offset 15"),
    "duplicate_binary": (b"2 2\n" + _row(b"a", 1, 2) + _row(b"a", 3, 4), True, "byte offset 15"),
    "no_word_binary": (b"1 2\n" + b"abcdefgh", True, "byte offset 4"),
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_files_raise_w2v_error(tmp_path, name):
  data, binary, where = MALFORMED[name]
  path = tmp_path / f"{name}.vec"
  path.write_bytes(data)
  with pytest.raises(W2VError) as err:
    formats.load_word2vec(path, binary=binary)
  assert where in str(err.value) and str(path) in str(err.value)
  assert "\n" not in str(err.value)


def test_missing_file(tmp_path):
  with pytest.raises(W2VError, match="missing.bin"):
    formats.load_word2vec(tmp_path / "missing.bin")
  with pytest.raises(W2VError, match="limit"):
    formats.load_word2vec(tmp_path / "missing.bin", limit=-1)


_WORD = st.text(st.characters(exclude_categories=["Cs"], exclude_characters=" \t\n\r\v\f"),
                min_size=1, max_size=8)


@settings(max_examples=300, deadline=None)
@given(data=st.data(), D=st.integers(1, 6), binary=st.booleans())
def test_property_round_trip(tmp_path_factory, data, D, binary):
  words = data.draw(st.lists(_WORD, max_size=6, unique=True))
  floats = st.floats(width=32, allow_nan=False, allow_infinity=False)
  vecs_VD = data.draw(hnp.arrays(np.float32, (len(words), D), elements=floats))
  path = tmp_path_factory.mktemp("rt") / "v"
  formats.save_word2vec(path, words, vecs_VD, binary=binary)
  got_words, got_VD = formats.load_word2vec(path, binary=binary)
  # Words only ever lose invalid UTF-8, which str.encode never produces.
  assert got_words == words
  assert got_VD.tobytes() == vecs_VD.astype("<f4").tobytes()


_VALID = b"3 2\n" + _row(b"a", 1, 2) + _row(b"bb", -3, 0.5) + _row(b"c", 7, 8)


@settings(max_examples=1000, deadline=None)
@given(data=st.one_of(
    st.binary(max_size=120),
    st.binary(max_size=40).map(lambda tail: b"2 3\n" + tail),
    st.integers(0, len(_VALID)).map(lambda n: _VALID[:n]),
    st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)).map(
        lambda p: _VALID[:p[0]] + bytes([p[1]]) + _VALID[p[0] + 1:]),
), binary=st.sampled_from([None, True, False]))
def test_property_garbage_loads_or_raises_w2v_error(tmp_path_factory, data, binary):
  path = tmp_path_factory.mktemp("junk") / "v"
  path.write_bytes(data)
  try:
    words, vecs_VD = formats.load_word2vec(path, binary=binary)
  except W2VError:
    return
  assert len(words) == vecs_VD.shape[0] and np.isfinite(vecs_VD).all()


@contextlib.contextmanager
def _small_blocks():
  """The binary reader with tiny buffers and batches, so that small files cross every boundary
  (block refills, word-length window, NaN/duplicate batches) many times."""
  with mock.patch.multiple(formats, _BLOCK=1, _MAX_WORD_BYTES=16, _ROWS=2):
    yield


def _reference_binary(data: bytes, limit: int | None = None) -> tuple[list[str], np.ndarray]:
  """A plain row-by-row parse of a well-formed binary file: the reader's expected output."""
  head, pos = data.split(b"\n", 1)[0], data.index(b"\n") + 1
  V, D = map(int, head.split())
  n = V if limit is None else min(V, limit)
  words, vecs = [], []
  for _ in range(n):
    while data[pos] in b" \t\n\r":
      pos += 1
    space = data.index(b" ", pos)
    words.append(data[pos:space].decode("utf-8", errors="replace"))
    vecs.append(np.frombuffer(data[space + 1:space + 1 + 4 * D], dtype="<f4"))
    pos = space + 1 + 4 * D
  return words, np.array(vecs, dtype=np.float32).reshape(n, D)


_BIN_WORDS = [b"a", "café".encode(), "日本語".encode(), b"b\xffc", b"x" * 12, b"\xe6\x97", b"z"]


@pytest.mark.parametrize("sep", [b"\n", b"", b"\r\n", b" \n\t"])
@pytest.mark.parametrize("small", [False, True])
def test_binary_reader_matches_reference(tmp_path, sep, small):
  """Rows with and without the newline, multi-byte and invalid UTF-8 words, every limit."""
  rng = np.random.default_rng(3)
  words = [w + str(i).encode() for i, w in enumerate(_BIN_WORDS * 5)]  # up to 14 bytes
  vecs_VD = rng.standard_normal((len(words), 3)).astype(np.float32)
  data = f"{len(words)} 3\n".encode() + b"".join(
      w + b" " + v.astype("<f4").tobytes() + sep for w, v in zip(words, vecs_VD))
  path = tmp_path / "v.bin"
  path.write_bytes(data)
  with _small_blocks() if small else contextlib.nullcontext():
    for limit in (None, 0, 1, 2, 7, 34, 35, 100):
      got_words, got_VD = formats.load_word2vec(path, binary=True, limit=limit)
      want_words, want_VD = _reference_binary(data, limit)
      assert got_words == want_words
      assert got_VD.tobytes() == want_VD.tobytes()
      assert got_VD.dtype == np.float32 and (got_VD.ctypes.data % 64 == 0 or not got_VD.size)
  assert got_words[1] == "café1" and got_words[2] == "日本語2" and got_words[5] == "\ufffd5"


def _cut_rows(words: list[bytes], starts: np.ndarray, cut: int) -> tuple[int, str]:
  """For a binary file (D = 2) cut after `cut` bytes: how many rows are complete, and the error
  reading one more row gives."""
  row = int(np.searchsorted(starts, cut, side="right")) - 1
  if cut == starts[row] or cut >= starts[row] + len(words[row]) + 9:  # between two rows
    complete = row + (cut != starts[row])
    return complete, f"byte offset {cut}: file ends after {complete} rows, header says 3"
  if cut <= starts[row] + len(words[row]):
    return row, f"byte offset {starts[row]}: row {row + 1} has no space-terminated word"
  return row, f"byte offset {starts[row]}: row {row + 1} is truncated, expected 8 bytes"


@pytest.mark.parametrize("small", [False, True])
def test_truncated_binary_names_the_row(tmp_path, small):
  """A valid file cut at every byte, read whole, up to the cut row and up to the row before: one
  W2VError line that says what is missing and where, or the complete rows."""
  words, D = [b"abcdefgh", "été".encode(), b"cde"], 2
  vecs_VD = np.arange(len(words) * D, dtype=np.float32).reshape(-1, D)
  rows = [w + b" " + v.astype("<f4").tobytes() + b"\n" for w, v in zip(words, vecs_VD)]
  data = b"3 2\n" + b"".join(rows)
  starts = np.cumsum([4] + [len(r) for r in rows])  # byte offset of each row's word
  path = tmp_path / "cut.bin"
  with _small_blocks() if small else contextlib.nullcontext():
    for cut in range(5, len(data) - 1):  # every cut that leaves the header's rows incomplete
      path.write_bytes(data[:cut])
      complete, want = _cut_rows(words, starts, cut)
      for limit in (None, complete + 1):
        with pytest.raises(W2VError) as err:
          formats.load_word2vec(path, binary=True, limit=limit)
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg
        too_short = cut - 4 < 2 * D * (limit or 3)  # the header check comes first
        assert ("line 1: header says" if too_short else want) in msg, (cut, limit)
      if cut - 4 >= 2 * D * complete:
        got_words, got_VD = formats.load_word2vec(path, binary=True, limit=complete)
        assert got_words == [w.decode() for w in words[:complete]]
        assert got_VD.tobytes() == vecs_VD[:complete].tobytes()
  path.write_bytes(data[:-1])  # only the last newline missing: complete
  assert formats.load_word2vec(path, binary=True)[1].tobytes() == vecs_VD.tobytes()


@pytest.mark.parametrize("small", [False, True])
def test_binary_reports_the_first_bad_row(tmp_path, small):
  """A NaN vector and a repeated word (and a truncation after them): the earlier one is named."""
  nan = float("nan")
  a, b, c = _row(b"a", 1, 2), _row(b"b", 3, 4), _row(b"c", 5, 6)
  cases = [([a, _row(b"n", nan, 0), _row(b"a", 5, 6)], "byte offset 15: vector has NaN"),
           ([a, _row(b"a", 5, 6), _row(b"n", nan, 0)], "byte offset 15: duplicate word 'a'"),
           ([a, b, _row(b"n", 0, nan), b"zz"], "byte offset 26: vector has NaN"),
           ([a, b, c, _row(b"b", 0, 1)], "byte offset 37: duplicate word 'b' (first on row 2)")]
  with _small_blocks() if small else contextlib.nullcontext():
    for rows, want in cases:
      path = tmp_path / "bad.bin"
      path.write_bytes(f"{len(rows) + 1} 2\n".encode() + b"".join(rows))
      with pytest.raises(W2VError, match=re.escape(want)):
        formats.load_word2vec(path, binary=True)


def test_aligned_empty():
  for shape, dtype in [((5, 3), np.float32), ((0, 7), np.float32), ((33, 5), np.float16)]:
    arr = formats.aligned_empty(shape, dtype)
    assert arr.shape == shape and arr.dtype == dtype and arr.flags.c_contiguous
    assert (arr.ctypes.data % 64 == 0 or not arr.size) and arr.flags.writeable


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(
    st.integers(0, len(_VALID)).map(lambda n: _VALID[:n]),
    st.tuples(st.integers(0, len(_VALID) - 1), st.integers(0, 255)).map(
        lambda p: _VALID[:p[0]] + bytes([p[1]]) + _VALID[p[0] + 1:]),
))
def test_property_small_blocks_agree_with_default(tmp_path_factory, data):
  """Tiny buffers change nothing: the same result or the same error as the default reader."""
  path = tmp_path_factory.mktemp("blocks") / "v"
  path.write_bytes(data)
  results = []
  for ctx in (contextlib.nullcontext(), _small_blocks()):
    with ctx:
      try:
        words, vecs_VD = formats.load_word2vec(path, binary=True)
        results.append((words, vecs_VD.tobytes()))
      except W2VError as e:
        results.append(str(e))
  assert results[0] == results[1]
