"""Labelled sentence sets for the downstream classifiers.

Owns: the text normalisation that matches the text8-style corpora, reading `<label> <sentence>`
files (SST-2) and one-file-per-class sets (rt-polarity, SUBJ, CR), stratified cross-validation
splits, the classifier vocabulary (PAD 0, UNK 1, the pretrained words, then the training
split's other words) and the padded id arrays.
"""

import dataclasses
import glob
import os
import re
import unicodedata
from collections.abc import Sequence

import numpy as np

from w2v_jax import textio
from w2v_jax.errors import W2VError

PAD_ID, UNK_ID = 0, 1
SPLITS = ("train", "dev", "test")

_PTB_BRACKETS = re.compile(r"-[lr][rsc]b-")  # -lrb- -rrb- -lsb- ... of PTB tokenisation
# The enwiki2015 corpus normalisation (shared/data/corpus/enwiki2015/prepare.py), exactly:
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_DIGITS = {ord(str(i)): f" {w} " for i, w in enumerate(
    "zero one two three four five six seven eight nine".split())}
_NON_AZ = re.compile(r"[^a-z]+")


def tokenize(text: str) -> list[str]:
  """Words as the text8-style corpora have them: PTB brackets dropped, NFKD without accents,
  lowercase, digits spelled out, anything else outside a-z a separator."""
  text = unicodedata.normalize("NFKD", _PTB_BRACKETS.sub(" ", text))
  text = _COMBINING.sub("", text).lower().translate(_DIGITS)
  return _NON_AZ.sub(" ", text).split()


@dataclasses.dataclass
class Split:
  """Tokenised sentences and their integer labels."""
  sentences: list[list[str]]
  labels_N: np.ndarray


@dataclasses.dataclass
class Encoded:
  """A split as arrays: padded ids, mask and labels."""
  ids_NxT: np.ndarray
  mask_NxT: np.ndarray
  labels_N: np.ndarray


def read_labelled(path: str, encoding: str = "utf-8") -> Split:
  """Reads '<label> <sentence>' lines (SST-2's stsa.binary.* format); blank lines skipped."""
  sentences, labels = [], []
  for line_no, line in enumerate(textio.read_lines(path, encoding=encoding), 1):
    if not line.strip():
      continue
    label, _, text = line.strip().partition(" ")
    if not label.isdigit():
      raise W2VError(f"{path}: line {line_no}: expected '<label> <sentence>', got {line[:40]!r}")
    sentences.append(tokenize(text))
    labels.append(int(label))
  if not labels:
    raise W2VError(f"{path}: no examples")
  return Split(sentences, np.array(labels, dtype=np.int32))


def read_dataset(folder: str, encoding: str = "utf-8") -> dict[str, Split]:
  """The train/dev/test splits of `folder`: one file ending in .train, .dev, .test each."""
  paths = {}
  for split in SPLITS:  # find all three before reading any
    found = sorted(glob.glob(os.path.join(glob.escape(folder), f"*{split}")))
    if len(found) != 1:
      raise W2VError(f"{folder}: expected one file named *{split}, found {len(found)}")
    paths[split] = found[0]
  return {split: read_labelled(path, encoding) for split, path in paths.items()}


def read_classes(paths: Sequence[str], encoding: str = "utf-8") -> Split:
  """One file per class, one sentence per line (rt-polarity, SUBJ, CR): the label of a
  sentence is the position of its file in `paths`. Blank lines are skipped."""
  if len(paths) < 2:
    raise W2VError(f"need at least two class files, got {len(paths)}")
  sentences, labels = [], []
  for label, path in enumerate(paths):
    found = [tokenize(line) for line in textio.read_lines(path, encoding=encoding)
             if line.strip()]
    if not found:
      raise W2VError(f"{path}: no sentences")
    sentences += found
    labels += [label] * len(found)
  return Split(sentences, np.array(labels, dtype=np.int32))


def cross_validation(data: Split, folds: int, seed: int = 0) -> list[dict[str, Split]]:
  """`folds` train/dev/test splits of one labelled set (stratified k-fold).

  Each class is shuffled with `seed` and dealt round-robin into the folds; split k tests on
  fold k, early-stops on fold k+1 (mod folds) and trains on the rest, so every sentence is
  tested exactly once.
  """
  if folds < 3:
    raise W2VError(f"cross-validation needs at least 3 folds, got {folds}")
  if len(data.labels_N) < folds:
    raise W2VError(f"{len(data.labels_N)} examples cannot fill {folds} folds")
  rng = np.random.default_rng(seed)
  fold_N = np.empty(len(data.labels_N), dtype=np.int64)
  for label in np.unique(data.labels_N):
    members = rng.permutation(np.flatnonzero(data.labels_N == label))
    fold_N[members] = (np.arange(len(members)) + int(label)) % folds

  def take(mask_N: np.ndarray) -> Split:
    idx = np.flatnonzero(mask_N)
    return Split([data.sentences[i] for i in idx], data.labels_N[idx])

  return [{"train": take((fold_N != k) & (fold_N != (k + 1) % folds)),
           "dev": take(fold_N == (k + 1) % folds), "test": take(fold_N == k)}
          for k in range(folds)]


def build_vocab(train_sentences: Sequence[Sequence[str]],
                pretrained_words: Sequence[str]) -> list[str]:
  """["<pad>", "<unk>", pretrained words in file order, then training words not among them]."""
  words, seen = ["<pad>", "<unk>"], set()
  for w in list(pretrained_words) + [w for s in train_sentences for w in s]:
    if w not in seen:
      seen.add(w)
      words.append(w)
  return words


def encode(sentences: Sequence[Sequence[str]], words: Sequence[str],
           max_len: int) -> tuple[np.ndarray, np.ndarray]:
  """Padded ids (N x T, unknown words -> UNK_ID, cut at max_len) and the 0/1 mask.

  A sentence with no words becomes one UNK, so every row has at least one real position.
  """
  index = {w: i for i, w in enumerate(words) if i > UNK_ID}
  ids_NxT = np.full((len(sentences), max_len), PAD_ID, dtype=np.int32)
  for n, sentence in enumerate(sentences):
    row = [index.get(w, UNK_ID) for w in sentence[:max_len]] or [UNK_ID]
    ids_NxT[n, :len(row)] = row
  return ids_NxT, (ids_NxT != PAD_ID).astype(np.float32)


def encode_splits(splits: dict[str, Split], words: Sequence[str],
                  max_len: int = 0) -> dict[str, Encoded]:
  """Every split encoded to one width T: the longest sentence, capped at max_len if > 0."""
  T = max(max(len(s) for s in split.sentences) for split in splits.values())
  T = max(1, min(T, max_len) if max_len > 0 else T)
  return {name: Encoded(*encode(split.sentences, words, T), split.labels_N)
          for name, split in splits.items()}
