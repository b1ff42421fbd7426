"""The corpus as a binary id file: counted and written in one pass over the text, then
memory-mapped for training (and reused, without reading the text again, by a resumed run).

Memory while building is the distinct words plus one chunk of ids, not the corpus: the pass
writes first-appearance ids to WORKDIR/corpus.ids.raw while counting, the vocabulary is sorted
from the counts (vocab.from_counts, word2vec.c SortVocab), and a pass over that binary file (not
the text) maps them to vocabulary ids, dropping out-of-vocabulary words and keeping SEP at
sentence ends, into WORKDIR/corpus.ids (int32, 4 bytes per kept token).
"""

import json
import os

import numpy as np

from w2v_jax import corpus as corpus_lib
from w2v_jax import textio
from w2v_jax import vocab as vocab_lib
from w2v_jax.errors import W2VError

CHUNK = 1 << 22  # ids per write / remap chunk (16 MiB of int32)
VERSION = 1


def _key(paths: list[str], min_count: int, max_vocab: int) -> dict:
  """What the id file depends on: the files (by size and mtime) and the vocabulary flags."""
  files = [[p, os.path.getsize(p), os.stat(p).st_mtime_ns] for p in paths]
  return {"version": VERSION, "files": files, "min_count": min_count, "max_vocab": max_vocab}


def _count_and_write(paths: list[str], raw_path: str) -> tuple[list[str], np.ndarray]:
  """One pass over the text: first-appearance ids (0 = sentence end) appended to raw_path in
  chunks, as corpus.encode computes them; returns (words, counts)."""
  ids_of = corpus_lib.new_ids()
  counts = np.zeros(0, np.int64)
  pieces, pending = [], 0
  with open(raw_path, "wb") as f:

    def flush():
      nonlocal counts, pieces, pending
      if pieces:
        ids = np.concatenate(pieces)
        grown = np.zeros(len(ids_of), np.int64)
        grown[:counts.size] = counts
        counts = grown + np.bincount(ids, minlength=len(ids_of))
        f.write(ids.tobytes())
      pieces, pending = [], 0

    for piece in corpus_lib.id_pieces(paths, ids_of):
      pieces.append(piece)
      pending += piece.size
      if pending >= CHUNK:
        flush()
    flush()
  grown = np.zeros(len(ids_of), np.int64)
  grown[:counts.size] = counts
  return list(ids_of), grown


def _open(path: str, n: int) -> np.ndarray:
  if n == 0:
    return np.zeros(0, np.int32)
  return np.memmap(path, np.int32, mode="r", shape=(n,))


def build(pattern: str, min_count: int, max_vocab: int,
          path: str) -> tuple[vocab_lib.Vocab, np.ndarray]:
  """vocab.build's (vocab, stream), the stream memory-mapped from the id file at `path`
  (written on the first call, reused while the corpus files and vocabulary flags match)."""
  paths = corpus_lib.expand(pattern)
  key, meta_path = _key(paths, min_count, max_vocab), path + ".json"
  try:
    with open(meta_path, encoding="utf-8") as f:
      meta = json.load(f)
    if meta["key"] == key and os.path.getsize(path) == 4 * meta["ids"]:
      vocab = vocab_lib.Vocab(meta["words"], np.asarray(meta["counts"], np.int64),
                              meta["total_tokens"])
      return vocab, _open(path, meta["ids"])
  except (OSError, ValueError, KeyError, TypeError):
    pass  # no usable id file: (re)build it
  tag = f".{os.getpid()}"  # several processes may build the same file: each renames its own
  raw_path, tmp_path = path + ".raw" + tag, path + ".tmp" + tag
  try:
    words, counts = _count_and_write(paths, raw_path)
    vocab, remap = vocab_lib.from_counts(words, counts, min_count, max_vocab, pattern)
    raw = np.memmap(raw_path, np.int32, mode="r") if os.path.getsize(raw_path) else []
    n = 0
    with open(tmp_path, "wb") as out:
      for start in range(0, len(raw), CHUNK):
        ids = remap[raw[start:start + CHUNK]]
        ids = ids[ids != -2]
        out.write(ids.tobytes())
        n += ids.size
    del raw
    os.replace(tmp_path, path)
  except OSError as e:
    raise W2VError(f"cannot write the id file {path}: {e.strerror or e}") from e
  finally:
    for p in (raw_path, tmp_path):
      if os.path.exists(p):
        os.remove(p)
  with textio.atomic_open(meta_path) as f:
    json.dump({"key": key, "ids": n, "words": vocab.words, "counts": vocab.counts.tolist(),
               "total_tokens": vocab.total_tokens}, f)
  return vocab, _open(path, n)
