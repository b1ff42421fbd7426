"""Words <-> ids, counts, and every table derived from counts (subsampling, noise distribution)."""

import dataclasses
import hashlib

import numpy as np

from w2v_jax import corpus as corpus_lib
from w2v_jax import textio
from w2v_jax.errors import W2VError

SEP = -1  # sentence boundary in an id stream


@dataclasses.dataclass(frozen=True)
class Vocab:
  """The kept words, most frequent first, with their counts."""
  words: list[str]
  counts: np.ndarray        # int64 (V,)
  total_tokens: int         # raw tokens in the corpus, out-of-vocabulary ones included

  @property
  def size(self) -> int:
    return len(self.words)

  @property
  def train_words(self) -> int:
    """word2vec.c's train_words: the summed count of kept words."""
    return int(self.counts.sum())

  def fingerprint(self) -> str:
    h = hashlib.sha256()
    for w, c in zip(self.words, self.counts.tolist()):
      h.update(f"{w} {c}\n".encode())
    return h.hexdigest()[:16]


def build(pattern: str, min_count: int, max_vocab: int = 0) -> tuple[Vocab, np.ndarray]:
  """Reads the corpus once: (vocab, stream of int32 word ids with SEP at sentence ends).

  Out-of-vocabulary words are dropped from the stream before windows form (word2vec.c
  TrainModelThread skips them on read), so windows reach past them, as in C and gensim.
  """
  raw_ids, words, counts = corpus_lib.encode(corpus_lib.expand(pattern))
  vocab, remap = from_counts(words, counts, min_count, max_vocab, pattern)
  stream = remap[raw_ids]
  del raw_ids
  return vocab, stream[stream != -2]


def from_counts(words: list[str], counts: np.ndarray, min_count: int, max_vocab: int,
                pattern: str) -> tuple[Vocab, np.ndarray]:
  """(vocab, remap): the kept words of corpus.encode's (words, counts) and the int32 map from
  first-appearance ids to vocabulary ids (SEP for id 0, -2 for dropped words)."""
  total = corpus_tokens(counts, pattern)
  # word2vec.c SortVocab: by count, descending, words below min_count dropped. Ties keep
  # first-appearance order (C's qsort leaves them unspecified), so the vocabulary is deterministic.
  order = np.argsort(-counts[1:], kind="stable") + 1
  order = order[counts[order] >= min_count]
  if max_vocab:
    order = order[:max_vocab]
  if order.size == 0:
    raise W2VError(f"the vocabulary is empty: no word occurs at least --min_count={min_count} "
                   f"times in {total} tokens; lower --min_count")
  remap = np.full(len(words), -2, np.int32)
  remap[0] = SEP
  remap[order] = np.arange(order.size, dtype=np.int32)
  return Vocab(words=[words[i] for i in order], counts=counts[order], total_tokens=total), remap


def corpus_tokens(counts: np.ndarray, pattern: str) -> int:
  """The corpus's words (corpus.encode's counts, sentence ends left out); W2VError if none."""
  total = int(counts[1:].sum())
  if total == 0:
    raise W2VError(f"corpus {pattern!r} is empty: it holds no words")
  return total


def keep_probs(vocab: Vocab, sample: float) -> np.ndarray:
  """word2vec.c TrainModelThread: keep w with p = (sqrt(c/(s*T)) + 1) * (s*T)/c (may exceed 1)."""
  if sample <= 0:
    return np.ones(vocab.size, np.float32)
  threshold = sample * vocab.train_words
  c = vocab.counts.astype(np.float64)
  return ((np.sqrt(c / threshold) + 1) * threshold / c).astype(np.float32)


def noise_alias(vocab: Vocab, exponent: float = 0.75) -> tuple[np.ndarray, np.ndarray]:
  """Walker/Vose alias table of the noise distribution count^exponent (word2vec.c InitUnigramTable).

  Sampling is exact and O(1): draw a slot i uniformly and u ~ U[0, 1); the word is i if
  u < prob[i], else alias[i]. Two gathers on the device, where C reads a 1e8-entry table.
  The table has M = 2^k >= V slots (slots past V have probability 0 and always alias), so a
  uniform slot is the top k bits of a random word: one shift, and exact where a modulo would
  be biased. Returns (prob_M float32, alias_M int32).
  """
  p = vocab.counts.astype(np.float64) ** exponent
  p = np.pad(p, (0, (1 << max(len(p) - 1, 0).bit_length()) - len(p)))
  scaled = p * (len(p) / p.sum())
  prob = np.ones(len(p))
  alias = np.arange(len(p), dtype=np.int64)
  small = [i for i in range(len(p)) if scaled[i] < 1.0]
  large = [i for i in range(len(p)) if scaled[i] >= 1.0]
  while small and large:
    s, l = small.pop(), large.pop()
    prob[s], alias[s] = scaled[s], l
    scaled[l] -= 1.0 - scaled[s]
    (small if scaled[l] < 1.0 else large).append(l)
  return prob.astype(np.float32), alias.astype(np.int32)


def save(vocab: Vocab, path: str) -> None:
  """Writes word2vec.c's vocab format (`word count` per line, SaveVocab), atomically."""
  with textio.atomic_open(path) as f:
    for w, c in zip(vocab.words, vocab.counts.tolist()):
      f.write(f"{w} {c}\n")
