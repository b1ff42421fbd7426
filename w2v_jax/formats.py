"""word2vec vector files (Google News text/binary layout) and TensorBoard projector TSVs.

Layout: a header line "V D\n", then V rows. Binary rows are the UTF-8 word, one space and D
little-endian float32 values as raw bytes, then "\n" (word2vec.c writes it, gensim 4 does not;
both are read). Text rows are the word and D space-separated decimal floats. Saving is atomic.
"""

import os
import re
import sys
from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

from w2v_jax import textio
from w2v_jax.errors import W2VError

_WS_RE = re.compile("[ \t\n\r\v\f]")  # what separates words on reading; never part of one
_SKIP = frozenset(b" \t\n\r")  # tolerated before a binary row's word
_BLOCK = 1 << 24  # bytes the binary reader reads at a time
_ROWS = 1 << 14  # binary rows checked for NaN/Inf at a time
_ALIGN = 64  # byte alignment of the arrays load_word2vec returns
_LITTLE_ENDIAN = sys.byteorder == "little"
_MAX_WORD_BYTES = 1 << 16
_TEXT_BYTES = bytes(range(0x20, 0x7f)) + b"\t\n\r"  # what a text row holds after its word


def _check_table(words: Sequence[str], vectors_VD: np.ndarray) -> tuple[list[bytes], np.ndarray]:
  """Validates words/vectors for writing; returns UTF-8 words and a float32 V x D array."""
  vecs_VD = np.asarray(vectors_VD)
  if vecs_VD.ndim != 2 or vecs_VD.shape[1] <= 0:
    raise W2VError(f"vectors must be a V x D array with D > 0, got shape {vecs_VD.shape}")
  if len(words) != vecs_VD.shape[0]:
    raise W2VError(f"{len(words)} words but {vecs_VD.shape[0]} vectors")
  with np.errstate(over="ignore"):  # float64 beyond float32 range becomes Inf, reported below
    vecs_VD = np.ascontiguousarray(vecs_VD, dtype="<f4")
  bad = np.flatnonzero(~np.isfinite(vecs_VD).all(axis=1))
  if bad.size:
    raise W2VError(f"vector of word {words[bad[0]]!r} (row {bad[0]}) has NaN or Inf values")
  encoded, seen = [], set()
  for i, word in enumerate(words):
    if not isinstance(word, str) or not word or _WS_RE.search(word):
      raise W2VError(f"word {word!r} (row {i}) is empty or contains whitespace")
    if word in seen:
      raise W2VError(f"duplicate word {word!r} (row {i})")
    seen.add(word)
    try:
      encoded.append(word.encode("utf-8"))
    except UnicodeEncodeError as e:
      raise W2VError(f"word {word!r} (row {i}) is not encodable as UTF-8: {e.reason}") from None
  return encoded, vecs_VD


def save_word2vec(path: str | os.PathLike, words: Sequence[str], vectors_VD: np.ndarray,
                  binary: bool) -> None:
  """Atomically writes `words` and their vectors in word2vec binary or text format.

  Text values use 9 significant digits, which round-trips float32 exactly. Raises W2VError for
  words that are empty, contain whitespace or repeat, and for NaN/Inf vectors.
  """
  encoded, vecs_VD = _check_table(words, vectors_VD)
  V, D = vecs_VD.shape
  row_fmt = " ".join(["%.9g"] * D)

  def write(f: BinaryIO) -> None:
    f.write(f"{V} {D}\n".encode("ascii"))
    for word, vec_D in zip(encoded, vecs_VD):
      if binary:
        f.write(word + b" " + vec_D.tobytes() + b"\n")
      else:
        f.write(word + b" " + (row_fmt % tuple(vec_D.tolist())).encode("ascii") + b"\n")

  with textio.atomic_open(path, "wb") as f:
    write(f)


def save_projector_tsv(prefix: str | os.PathLike, words: Sequence[str],
                       vectors_VD: np.ndarray) -> None:
  """Writes `prefix.vectors.tsv` and `prefix.metadata.tsv` for the TensorBoard projector."""
  encoded, vecs_VD = _check_table(words, vectors_VD)
  row_fmt = "\t".join(["%.9g"] * vecs_VD.shape[1])
  prefix = os.fspath(prefix)

  def write_vectors(f: BinaryIO) -> None:
    for vec_D in vecs_VD:
      f.write((row_fmt % tuple(vec_D.tolist())).encode("ascii") + b"\n")

  with textio.atomic_open(prefix + ".vectors.tsv", "wb") as f:
    write_vectors(f)
  with textio.atomic_open(prefix + ".metadata.tsv", "wb") as f:
    f.write(b"".join(w + b"\n" for w in encoded))


def _read_header(f: BinaryIO, name: str) -> tuple[int, int]:
  line = f.readline(4096)
  if not line:
    raise W2VError(f"{name}: file is empty (expected a 'VOCAB_SIZE DIM' header)")
  parts = line.split()
  try:
    if len(parts) != 2:
      raise ValueError
    V, D = int(parts[0]), int(parts[1])
  except ValueError:
    raise W2VError(f"{name}: line 1: bad header {line[:60]!r}, expected 'VOCAB_SIZE DIM' "
                   "(is this a word2vec file?)") from None
  if V < 0 or D <= 0:
    raise W2VError(f"{name}: line 1: header needs VOCAB_SIZE >= 0 and DIM > 0, got {V} {D}")
  return V, D


def _parse_text_row(line: bytes, D: int) -> tuple[bytes, np.ndarray] | str:
  """Returns (word, values) for a text row, or a description of what is wrong with it."""
  parts = line.split()
  if len(parts) != D + 1:
    return f"expected a word and {D} values, got {max(len(parts) - 1, 0)} values"
  try:
    vals_D = np.array(list(map(float, parts[1:])), dtype=np.float64)
  except ValueError:
    bad = next(p for p in parts[1:] if not _is_float(p))
    return f"non-numeric value {bad[:40].decode('utf-8', 'replace')!r}"
  return parts[0], vals_D


def _is_float(token: bytes) -> bool:
  try:
    float(token)
    return True
  except ValueError:
    return False


def _looks_binary(f: BinaryIO, D: int) -> bool:
  """Guesses the format from the first row (the file position is restored).

  Text if the first line parses as a text row. Otherwise binary if the 4*D bytes after the first
  word hold a byte that no text row has there (raw float32 almost always do), else text (so that
  a malformed text file gets a line-numbered error).
  """
  start = f.tell()
  head = f.read(64 * D + 4096)
  f.seek(start)
  if not isinstance(_parse_text_row(head.split(b"\n", 1)[0], D), str):
    return False
  body = head.lstrip(b" \t\n\r")
  space = body.find(b" ")
  window = body[space + 1:space + 1 + 4 * D]
  return bool(window.translate(None, delete=_TEXT_BYTES))


def aligned_empty(shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
  """An uninitialised C-contiguous array whose data starts on a 64-byte boundary (if not empty).

  jax.device_put on the CPU backend uses such an array in place instead of copying it.
  """
  dtype = np.dtype(dtype)
  nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
  raw_B = np.empty(nbytes + _ALIGN, dtype=np.uint8)
  skip = -raw_B.ctypes.data % _ALIGN
  return raw_B[skip:skip + nbytes].view(dtype).reshape(shape)


class _Block:
  """A reusable read buffer over a file: data[pos:end] are the bytes not yet parsed, and
  data[0] lies at byte offset `base` of the file."""

  def __init__(self, f: BinaryIO, size: int):
    self.f, self.data = f, bytearray(size)
    self.view = memoryview(self.data)
    self.base, self.eof = f.tell(), False

  def refill(self, pos: int, end: int) -> tuple[int, int]:
    """Moves data[pos:end] to the front, reads until the buffer is full or the file ends, and
    returns the new (pos, end)."""
    tail = bytes(self.view[pos:end])
    self.data[:len(tail)] = tail
    self.base += pos
    end = len(tail)
    while end < len(self.data):
      got = self.f.readinto(self.view[end:])
      if not got:
        self.eof = True
        break
      end += got
    return 0, end


def _first_repeat(words: Sequence[str]) -> tuple[int, int] | None:
  """(row, first row) of the first word that occurs a second time, or None."""
  first: dict[str, int] = {}
  for i, word in enumerate(words):
    j = first.setdefault(word, i)
    if j != i:
      return i, j
  return None


def _finish_batch(name: str, vecs_ND: np.ndarray, raw: list[bytearray], starts: list[int],
                  words: list[str], seen: dict[str, int]) -> None:
  """Completes a batch of binary rows that follows `words`: makes the vectors native floats,
  decodes the words onto `words` and `seen` (word -> row), and raises W2VError at the byte offset
  of the batch's first row with a NaN/Inf vector or a repeated word."""
  if not _LITTLE_ENDIAN:
    vecs_ND.byteswap(inplace=True)
  # A word never holds a space, so one decode of the space-joined words splits back exactly.
  batch = b" ".join(raw).decode("utf-8", errors="replace").split(" ") if raw else []
  offset = len(words)
  seen.update(zip(batch, range(offset, offset + len(batch))))
  repeat = _first_repeat(words + batch) if len(seen) < offset + len(batch) else None
  bad = np.flatnonzero(~np.isfinite(vecs_ND).all(axis=1))
  if bad.size and (repeat is None or offset + bad[0] <= repeat[0]):
    raise W2VError(f"{name}: byte offset {starts[bad[0]]}: vector has NaN or Inf "
                   "(or float32-overflowing) values")
  if repeat is not None:
    i, j = repeat
    raise W2VError(f"{name}: byte offset {starts[i - offset]}: duplicate word "
                   f"{batch[i - offset]!r} (first on row {j + 1})")
  words += batch


def _read_binary_rows(f: BinaryIO, name: str, n: int, V: int, D: int,
                      out_ND: np.ndarray) -> list[str]:
  """Fills out_ND with the first n binary rows and returns their words.

  The file is read in large blocks into one buffer. Each row is optional whitespace, the word up
  to its space, and 4*D vector bytes copied straight into out_ND. Words are decoded and vectors
  checked a batch of rows at a time, and a batch's rows are checked before any error found after
  them, so that the error names the first bad row.
  """
  row = 4 * D
  keep = _MAX_WORD_BYTES + row  # a row's word and vector always fit in this many bytes
  remaining = os.fstat(f.fileno()).st_size - f.tell()
  blk = _Block(f, max(4 * keep, min(_BLOCK, remaining + 1)))
  data, view, out_B = blk.data, blk.view, memoryview(out_ND).cast("B")
  pos = end = 0
  words: list[str] = []
  seen: dict[str, int] = {}
  for first in range(0, n, _ROWS):
    raw: list[bytearray] = []  # this batch's words, undecoded
    starts: list[int] = []  # and the byte offset of each

    def error(i: int, where: int, what: str) -> W2VError:
      _finish_batch(name, out_ND[first:i], raw, starts, words, seen)
      return W2VError(f"{name}: byte offset {where}: {what}")

    for i in range(first, min(n, first + _ROWS)):
      while True:  # skip the whitespace before the word, reading on if the block runs short
        while pos < end and data[pos] in _SKIP:
          pos += 1
        if end - pos >= keep or blk.eof:
          break
        pos, end = blk.refill(pos, end)
      start = blk.base + pos
      if pos == end:
        raise error(i, start, f"file ends after {i} rows, header says {V}")
      space = data.find(b" ", pos, min(end, pos + _MAX_WORD_BYTES))
      if space < 0:
        raise error(i, start, f"row {i + 1} has no space-terminated word "
                    "(truncated or not a binary word2vec file)")
      if space + 1 + row > end:
        raise error(i, start, f"row {i + 1} is truncated, expected {row} bytes of vector "
                    "after the word")
      out_B[i * row:(i + 1) * row] = view[space + 1:space + 1 + row]
      raw.append(data[pos:space])
      starts.append(start)
      pos = space + 1 + row
    _finish_batch(name, out_ND[first:first + len(raw)], raw, starts, words, seen)
  return words


def _read_text_rows(f: BinaryIO, name: str, n: int, V: int, D: int,
                    out_ND: np.ndarray) -> list[str]:
  """Fills out_ND with the first n text rows and returns their words."""
  words: list[str] = []
  seen: dict[str, int] = {}
  for i in range(n):
    line = f.readline()
    if not line:
      raise W2VError(f"{name}: line {i + 2}: file ends after {i} rows, header says {V}")
    row = _parse_text_row(line, D)
    if isinstance(row, str):
      raise W2VError(f"{name}: line {i + 2}: {row}")
    word, out_ND[i] = row
    text = word.decode("utf-8", errors="replace")
    if text in seen:
      raise W2VError(f"{name}: line {i + 2}: duplicate word {text!r} "
                     f"(first on row {seen[text] + 1})")
    seen[text] = i
    words.append(text)
  bad = np.flatnonzero(~np.isfinite(out_ND).all(axis=1))
  if bad.size:
    raise W2VError(f"{name}: line {bad[0] + 2}: vector has NaN or Inf "
                   "(or float32-overflowing) values")
  return words


def load_word2vec(path: str | os.PathLike, binary: bool | None = None,
                  limit: int | None = None) -> tuple[list[str], np.ndarray]:
  """Reads a word2vec text or binary file (binary=None: auto-detect) into (words, V x D float32).

  `limit` keeps only the first `limit` rows. Malformed files raise W2VError naming the file and
  the line (text) or byte offset (binary) of the problem. Binary files are read in large blocks
  with each row's vector bytes copied straight into the result, so the peak memory is about one
  copy of the table; the result is 64-byte aligned (see `aligned_empty`).
  """
  name = os.fspath(path)
  if limit is not None and limit < 0:
    raise W2VError(f"limit must be >= 0, got {limit}")
  try:
    f = open(name, "rb")  # pylint: disable=consider-using-with
  except OSError as e:
    raise W2VError(f"cannot open word2vec file {name}: {e.strerror or e}") from None
  with f:
    V, D = _read_header(f, name)
    n = V if limit is None else min(V, limit)
    remaining = os.fstat(f.fileno()).st_size - f.tell()
    if n * D * 2 > remaining:  # every value takes >= 2 bytes: don't allocate for a bad header
      raise W2VError(f"{name}: line 1: header says {V} rows of dimension {D}, but only "
                     f"{remaining} bytes follow (truncated file or bad header)")
    out_ND = aligned_empty((n, D), np.float32)
    if n == 0:
      return [], out_ND
    if binary is None:
      binary = _looks_binary(f, D)
    if binary:
      return _read_binary_rows(f, name, n, V, D, out_ND), out_ND
    with np.errstate(over="ignore"):  # text values beyond float32 become Inf, reported below
      words = _read_text_rows(f, name, n, V, D, out_ND)
  return words, out_ND
