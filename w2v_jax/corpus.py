"""Reading text corpora: globs of plain or .gz files, streamed in blocks, as ids in one pass."""

import codecs
import collections
import glob
import gzip
import itertools
import multiprocessing
import os
import shutil
import tempfile
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


def _is_gzip(path: str) -> bool:
  with open(path, "rb") as f:
    return f.read(2) == b"\x1f\x8b"


def _open(path: str):
  return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def read_blocks(paths: list[str]) -> Iterator[tuple[list[str], bool]]:
  """Yields (words, ends_sentence) pieces: the words of one line, or of one block of a long line.

  Undecodable bytes become U+FFFD (never fatal). A word is never split across pieces; every
  file ends a sentence, as does every newline. A file with NUL bytes is refused as binary.
  """
  for path in paths:
    yield from _read_range(path, 0, None)


def _cut_in(raw: bytes, at: int) -> int:
  """The index just after the first space, tab or newline of raw[at:], or -1 if it has none."""
  found = [j for j in (raw.find(b" ", at), raw.find(b"\n", at), raw.find(b"\t", at)) if j >= 0]
  return min(found) + 1 if found else -1


class _RawRange:
  """The bytes of an open file between the cuts at `start` and at `stop` (None: its end), as
  blocks. The cut at k > 0 is just after the first space, tab or newline at or after byte k (the
  end of the file if none follows); the cut at 0 is 0. Ranges [a, b), [b, c) of a file tile it
  exactly, whatever a <= b <= c are, so a file (gzip too: offsets into its text) is split at
  guessed offsets and no word or UTF-8 sequence spans two ranges. `eof`: the range ended the
  file."""

  def __init__(self, f, start: int, stop: int | None):
    self.f, self.start, self.stop, self.eof = f, start, stop, False

  def _read(self, n: int) -> bytes:
    raw = self.f.read(n)
    self.eof = self.eof or not raw
    return raw

  def __iter__(self) -> Iterator[bytes]:
    buf, pos, stop = b"", self.start, self.stop  # buf holds the bytes [pos - len(buf), pos)
    if stop == 0:
      return
    if self.start:
      self.f.seek(self.start)
      while (j := _cut_in(buf, 0)) < 0:  # up to and through the first whitespace
        buf = self._read(1 << 16)
        pos += len(buf)
        if not buf:
          return
      buf = buf[j:]
    while stop is None or pos <= stop:  # until the byte at `stop` has been read
      if buf:
        yield buf
      buf = self._read(BLOCK_BYTES if stop is None else min(BLOCK_BYTES, stop + 1 - pos))
      pos += len(buf)
      if not buf:
        return
    if pos - len(buf) > stop:  # the cut at start lies past the one at stop: empty
      return
    at = stop - (pos - len(buf))
    while (j := _cut_in(buf, at)) < 0:  # the rest of the word that `stop` falls in
      if buf:
        yield buf
      buf, at = self._read(1 << 16), 0
      if not buf:
        return
    yield buf[:j]


def _read_range(path: str, start: int, stop: int | None) -> Iterator[tuple[list[str], bool]]:
  """read_blocks over the bytes of one file between the cuts at `start` and at `stop`
  (_RawRange); the file's end ends a sentence."""
  decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
  carry, open_sentence, text = "", False, ""
  try:
    with _open(path) as f:
      blocks, first = _RawRange(f, start, stop), start == 0
      for raw in itertools.chain(blocks, [b""]):
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
  if blocks.eof and (text.split() or open_sentence):  # the file's end ends a sentence
    yield text.split(), True


def new_ids() -> dict:
  """Word -> id in order of first appearance, with id 0 the sentence-end marker."""
  ids_of = collections.defaultdict(itertools.count().__next__)
  ids_of[SENTENCE_END]  # id 0
  return ids_of


def id_pieces(paths: list[str], ids_of: dict) -> Iterator[np.ndarray]:
  """One pass over the corpus as int32 pieces of first-appearance ids (growing `ids_of`);
  a piece that ends a sentence ends with id 0."""
  return _ids_of_blocks(read_blocks(paths), ids_of)


def _ids_of_blocks(blocks, ids_of: dict) -> Iterator[np.ndarray]:
  """id_pieces over read_blocks-style (words, ends_sentence) pieces."""
  lookup = ids_of.__getitem__
  for words, ends in blocks:
    yield np.fromiter(itertools.chain(map(lookup, words), (0,) if ends else ()), np.int32,
                      len(words) + ends)


def _ids_and_counts(pieces: list[np.ndarray], n_words: int) -> tuple[np.ndarray, np.ndarray]:
  """The pieces as one int32 stream, and the count of each of the n_words ids in it."""
  ids = np.concatenate(pieces) if pieces else np.zeros(0, np.int32)
  return ids, np.bincount(ids, minlength=n_words).astype(np.int64)


def encode(paths: list[str], workers: int = 0) -> tuple[np.ndarray, list[str], np.ndarray]:
  """One pass over the corpus: (ids in order of first appearance, words, counts).

  Id 0 is the sentence-end marker. Memory is 4 bytes per token plus the distinct words.
  Plain-text corpora of PARALLEL_BYTES or more are read by `workers` processes (0: one per
  CPU available, at most 4), each its own byte range; the result is the same as one pass.
  A `prefetch` of the same unchanged files is collected instead of reading them again.
  """
  started = _PREFETCHED.pop(_fingerprint(paths), None)
  for key in [k for k in _PREFETCHED if [p for p, _, _ in k] == list(paths)]:
    _PREFETCHED.pop(key).cancel()  # a prefetch of files changed since: stale
  if started is None:
    started = _start(paths, workers)
  if started is not None:
    return started.collect()
  ids_of = new_ids()
  pieces = list(id_pieces(paths, ids_of))
  ids, counts = _ids_and_counts(pieces, len(ids_of))
  return ids, list(ids_of), counts


_PREFETCHED = {}  # _fingerprint(paths) -> what _start returned


def prefetch(paths: list[str], workers: int = 0) -> None:
  """Starts encode(paths)'s worker processes now and returns; encode(paths) later collects
  their result. A script calls it before importing jax, so the counting overlaps jax's start
  (~1 s) and the workers fork from a process with no threads yet. No-op for small corpora."""
  started = _start(paths, workers)
  if started is not None:
    _PREFETCHED[_fingerprint(paths)] = started


def _fingerprint(paths: list[str]) -> tuple:
  return tuple((p, st.st_size, st.st_mtime_ns) for p, st in ((p, os.stat(p)) for p in paths))


# Below this many bytes of plain text a corpus is read in this process: starting the workers
# (~0.2 s) would cost more than it saves. On part00 (100 MB) 2 processes take ~2.1 s, one 3.2 s.
PARALLEL_BYTES = 32 << 20


def _text_size(path: str) -> int:
  """The bytes of text in `path`: its size, or for gzip the size its trailer records (mod 2^32;
  used only to balance the shares, never for correctness)."""
  size = os.path.getsize(path)
  if size < 4 or not _is_gzip(path):
    return size
  with open(path, "rb") as f:
    f.seek(-4, os.SEEK_END)
    return max(size, int.from_bytes(f.read(4), "little"))


def _ranges(paths: list[str], workers: int) -> list[list[tuple[str, int, int | None]]]:
  """The corpus as up to `workers` lists of (path, start, stop) ranges of text, in corpus
  order, cut at guessed offsets (_RawRange finds the whitespace). One list when it is small."""
  whole = [[(p, 0, None) for p in paths]]
  sizes = [_text_size(p) for p in paths]
  if (workers < 2 or sum(sizes) < PARALLEL_BYTES
      or "fork" not in multiprocessing.get_all_start_methods()):
    return whole
  spans = []  # about sum(sizes) / workers bytes each
  for p, size in zip(paths, sizes):
    parts = max(1, round(workers * size / sum(sizes)))
    bounds = [0, *(i * size // parts for i in range(1, parts)), None]
    spans += [(p, a, b) for a, b in zip(bounds[:-1], bounds[1:])]
  if len(spans) < 2:
    return whole
  share = -(-len(spans) // workers)
  return [spans[i:i + share] for i in range(0, len(spans), share)]


def _encode_ranges(ranges: list[tuple[str, int, int | None]], out: str
                   ) -> tuple[list[str], np.ndarray]:
  """A worker's share: its first-appearance ids of its own go to the file `out` (a pipe would
  carry 4 bytes a token through pickling, ~0.4 s on part00); returns its words in that order and
  their counts in the share, so the parent's serial part is only the renumbering."""
  ids_of = new_ids()
  blocks = itertools.chain.from_iterable(_read_range(*r) for r in ranges)
  ids, counts = _ids_and_counts(list(_ids_of_blocks(blocks, ids_of)), len(ids_of))
  ids.tofile(out)
  return list(ids_of), counts


class _Shares:
  """The worker processes reading a corpus's shares, and the folder their ids go to."""

  def __init__(self, shares: list[list[tuple[str, int, int | None]]]):
    # Forked workers start in ~10 ms and run only file reads, str.split, dicts and numpy (no
    # jax), so threads of this process (XLA's) do not matter to them; spawn or forkserver would
    # re-import the main module in each worker (~0.4 s for experiments.train).
    self.folder = tempfile.mkdtemp(prefix="w2v_jax_encode_")  # the page cache: no disk waits
    self.outs = [os.path.join(self.folder, f"share{i}.int32") for i in range(len(shares))]
    self.pool = multiprocessing.get_context("fork").Pool(len(shares))
    self.pending = self.pool.starmap_async(_encode_ranges, zip(shares, self.outs))

  def cancel(self) -> None:
    self.pool.terminate()
    shutil.rmtree(self.folder, ignore_errors=True)

  def collect(self) -> tuple[np.ndarray, list[str], np.ndarray]:
    """encode()'s result: each share's words are renumbered in share order, which is their
    first appearance in the whole corpus, so it equals one pass."""
    try:
      results = self.pending.get()
      ids_of = new_ids()
      lookup = ids_of.__getitem__
      remaps = [np.fromiter(map(lookup, words), np.int32, len(words)) for words, _ in results]
      counts = np.zeros(len(ids_of), np.int64)
      for remap, (_, share_counts) in zip(remaps, results):
        counts[remap] += share_counts  # remap is one-to-one within a share
      ids = np.concatenate([remap[np.fromfile(out, np.int32)]
                            for remap, out in zip(remaps, self.outs)])
    finally:
      self.cancel()
    return ids, list(ids_of), counts


def _start(paths: list[str], workers: int) -> _Shares | None:
  """The worker processes reading `paths`, or None where one pass in this process is better."""
  workers = workers or min(4, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                           else os.cpu_count() or 1)
  shares = _ranges(paths, workers)
  return _Shares(shares) if len(shares) >= 2 else None
