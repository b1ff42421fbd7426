"""Reading text corpora: globs of plain or .gz files, streamed in blocks, as ids in one pass."""

import codecs
import collections
import glob
import gzip
import itertools
import os
from typing import Iterator

import numpy as np

from w2v_jax.errors import W2VError

BLOCK_BYTES = 1 << 22  # 4 MiB: a text8-style single 100 MB line is never held as one string
MAX_WORD_CHARS = 10_000  # a longer run without whitespace is cut here (memory stays bounded);
                         # word2vec.c's ReadWord cuts every word at MAX_STRING = 100 bytes
SENTENCE_END = "\n"    # word2vec.c turns each newline into the token </s>; we keep it as a marker


def expand(pattern: str) -> list[str]:
  """The sorted files matching `pattern` (a path or glob); W2VError if there are none."""
  if not pattern:
    raise W2VError("no corpus given: pass --corpus=PATH_OR_GLOB")
  paths = sorted(glob.glob(os.path.expanduser(pattern))) or (
      [pattern] if os.path.exists(pattern) else [])
  if not paths:
    raise W2VError(f"corpus not found: no file matches {pattern!r}")
  for p in paths:
    if os.path.isdir(p):
      raise W2VError(f"corpus {p!r} is a directory; pass a file or a glob such as '{p}/*.txt'")
    if not os.access(p, os.R_OK):
      raise W2VError(f"corpus file {p!r} is not readable")
  return paths


def _open(path: str):
  with open(path, "rb") as f:
    magic = f.read(2)
  return gzip.open(path, "rb") if magic == b"\x1f\x8b" else open(path, "rb")


def read_blocks(paths: list[str]) -> Iterator[tuple[list[str], bool]]:
  """Yields (words, ends_sentence) pieces: the words of one line, or of one block of a long line.

  Undecodable bytes become U+FFFD (never fatal). A word is never split across pieces; every
  file ends a sentence, as does every newline. A file with NUL bytes is refused as binary.
  """
  for path in paths:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    carry, open_sentence = "", False
    try:
      with _open(path) as f:
        first = True
        while True:
          raw = f.read(BLOCK_BYTES)
          if first and b"\0" in raw:
            raise W2VError(f"corpus file {path!r} looks binary (it has NUL bytes); "
                           "pass plain or gzipped text")
          first = False
          text = carry + decoder.decode(raw, final=not raw)
          if not raw:
            break
          cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"))
          carry, text = (text[cut + 1:], text[:cut + 1]) if cut >= 0 else (text, "")
          carry = carry[:MAX_WORD_CHARS]
          lines = text.split("\n")
          for line in lines[:-1]:
            yield line.split(), True
          open_sentence = bool(lines[-1]) or (open_sentence and len(lines) == 1)
          if lines[-1]:
            yield lines[-1].split(), False
    except (OSError, EOFError, gzip.BadGzipFile) as e:
      raise W2VError(f"cannot read corpus file {path!r}: {e}") from e
    if text.split() or open_sentence:
      yield text.split(), True


def new_ids() -> dict:
  """Word -> id in order of first appearance, with id 0 the sentence-end marker."""
  ids_of = collections.defaultdict(itertools.count().__next__)
  ids_of[SENTENCE_END]  # id 0
  return ids_of


def id_pieces(paths: list[str], ids_of: dict) -> Iterator[np.ndarray]:
  """One pass over the corpus as int32 pieces of first-appearance ids (growing `ids_of`);
  a piece that ends a sentence ends with id 0."""
  lookup = ids_of.__getitem__
  for words, ends in read_blocks(paths):
    piece = list(map(lookup, words))
    if ends:
      piece.append(0)
    yield np.asarray(piece, dtype=np.int32)


def encode(paths: list[str]) -> tuple[np.ndarray, list[str], np.ndarray]:
  """One pass over the corpus: (ids in order of first appearance, words, counts).

  Id 0 is the sentence-end marker. Memory is 4 bytes per token plus the distinct words.
  """
  ids_of = new_ids()
  pieces = list(id_pieces(paths, ids_of))
  ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
  counts = np.bincount(ids, minlength=len(ids_of)).astype(np.int64)
  return ids, list(ids_of), counts
