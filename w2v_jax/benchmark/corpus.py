"""The corpus copies every benchmarked system reads, written once (not timed for anyone).

One text8-style line (word2vec.c, fastText and w2v_jax read that) and the same tokens as lines
of WORDS_PER_LINE words for gensim, whose file readers silently cut lines at 10,000 tokens
(gensim issue 2880). Tokens stay bytes throughout: word2vec.c's view, no decoding.
"""

import dataclasses
import gzip
import os
from typing import Iterator

from w2v_jax.errors import W2VError

WORDS_PER_LINE = 1000      # word2vec.c MAX_SENTENCE_LENGTH; gensim gets lines this long

_WHITESPACE = (b" ", b"\n", b"\t", b"\r", b"\x0b", b"\x0c")


def open_corpus(path: str):
  """Opens a plain or gzip text file for binary reading (gzip chosen by the .gz suffix)."""
  return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def iter_token_chunks(path: str, chunk_bytes: int = 1 << 22) -> Iterator[list[bytes]]:
  """Yields the whitespace-separated tokens of `path` as lists, one per block read.

  Tokens are bytes (word2vec.c's view: no decoding); a token cut by a block boundary is carried
  over to the next block, so the concatenated lists equal `open(path).read().split()`.
  """
  carry = b""
  with open_corpus(path) as f:
    while True:
      block = f.read(chunk_bytes)
      if not block:
        break
      block = carry + block
      cut = max(block.rfind(w) for w in _WHITESPACE)
      carry, block = block[cut + 1:], block[:cut + 1]
      tokens = block.split()
      if tokens:
        yield tokens
  if carry.split():
    yield carry.split()


class LineSplitter:
  """Regroups a stream of token lists into lines of exactly `words_per_line` tokens."""

  def __init__(self, words_per_line: int = WORDS_PER_LINE):
    self.n = words_per_line
    self._pending: list[bytes] = []

  def feed(self, tokens: list[bytes]) -> list[bytes]:
    """Returns the complete lines (without newline) that `tokens` finishes."""
    self._pending.extend(tokens)
    full = len(self._pending) // self.n * self.n
    lines = [b" ".join(self._pending[i:i + self.n]) for i in range(0, full, self.n)]
    del self._pending[:full]
    return lines

  def close(self) -> list[bytes]:
    """Returns the last, shorter line if any tokens are left."""
    lines = [b" ".join(self._pending)] if self._pending else []
    self._pending = []
    return lines


@dataclasses.dataclass
class PreparedCorpus:
  """The copies every system reads, and the token count they hold."""
  one_line: str   # text8-style: tokens separated by single spaces, no newline
  lines: str      # the same tokens, WORDS_PER_LINE per line, for gensim
  tokens: int


def prepare_corpus(src: str, out_dir: str, max_words: int = 0,
                   words_per_line: int = WORDS_PER_LINE) -> PreparedCorpus:
  """Writes `out_dir`/corpus.txt (one line) and corpus_lines.txt from `src` in one pass.

  With max_words > 0 only the first `max_words` tokens are kept. Line breaks of a multi-line
  `src` are flattened, so every system sees the same token stream.
  """
  one_line = os.path.join(out_dir, "corpus.txt")
  lines = os.path.join(out_dir, "corpus_lines.txt")
  splitter = LineSplitter(words_per_line)
  n = 0
  with open(one_line, "wb") as f1, open(lines, "wb") as f2:
    for tokens in iter_token_chunks(src):
      if max_words > 0:
        tokens = tokens[:max_words - n]
      if not tokens:
        break
      f1.write((b" " if n else b"") + b" ".join(tokens))
      n += len(tokens)
      for line in splitter.feed(tokens):
        f2.write(line + b"\n")
      if 0 < max_words <= n:
        break
    for line in splitter.close():
      f2.write(line + b"\n")
  if n == 0:
    raise W2VError(f"{src} holds no words")
  return PreparedCorpus(one_line, lines, n)
