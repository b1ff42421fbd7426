"""Intrinsic evaluation of word vectors: analogies (3CosAdd), WordSim-353, nearest neighbours.

Also owns the table helpers that w2v_jax.embeddings shares: validating a table (`as_table`), the
word -> row index and its unknown-word error (`word_index`, `lookup`), unit-normalised rows
(`unit_rows`) and the size of the restricted vocabulary (`restricted_size`).

Numpy only. The scores reproduce gensim 4.4's KeyedVectors.evaluate_word_analogies /
evaluate_word_pairs / most_similar exactly (same vocabulary restriction, case folding,
exclusions and float32 arithmetic); analogies are scored in batched matrix products, and the
rare questions whose top candidates are too close to call in float32 are re-scored one at a time
with gensim's exact sequence of operations.
"""

import os
from collections.abc import Mapping, Sequence

import numpy as np
from scipy.linalg import blas

from w2v_jax import textio
from w2v_jax.errors import W2VError

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EVAL_DIR = os.path.join(_REPO, "data", "eval")
DEFAULT_ANALOGIES = os.path.join(_EVAL_DIR, "questions-words.txt")
DEFAULT_WORDSIM = os.path.join(_EVAL_DIR, "wordsim353.tsv")

_TOPN = 5  # gensim looks at the top 5 candidates of most_similar for each analogy
_TIE_EPS = 2e-5  # score gaps below this are re-checked exactly (float32 dot error is ~1e-6)
_BATCH_ELEMS = 1 << 25  # scores computed per batch: 128 MiB of float32

Quad = tuple[str, str, str, str]


def read_analogies(path: str) -> list[tuple[str, list[Quad]]]:
  """Reads questions-words.txt: ': section' headers, then 'a b c d' lines (others skipped)."""
  sections: list[tuple[str, list[Quad]]] = []
  for line_no, line in enumerate(textio.read_lines(path), 1):
    if line.startswith(": "):
      sections.append((line.lstrip(": ").strip(), []))
      continue
    words = line.split()
    if len(words) != 4:
      continue  # gensim silently skips malformed lines (blank ones included)
    if not sections:
      raise W2VError(f"{path}: line {line_no}: question before the first ': section' header")
    sections[-1][1].append(tuple(words))
  return sections


def read_word_pairs(path: str) -> list[tuple[str, str, float]]:
  """Reads WordSim-353 style 'w1<TAB>w2<TAB>score' lines; '#' lines and bad lines are skipped."""
  pairs = []
  for line in textio.read_lines(path):
    if line.startswith("#"):
      continue
    parts = line.split("\t")  # like gensim: words are not stripped
    if len(parts) != 3:
      continue
    try:
      pairs.append((parts[0], parts[1], float(parts[2])))
    except ValueError:
      continue
  return pairs


def as_table(words: Sequence[str], vectors_VD) -> np.ndarray:
  """`vectors_VD` as a float32 V x D numpy array; W2VError unless it has one row per word."""
  vecs_VD = np.asarray(vectors_VD, dtype=np.float32)
  if vecs_VD.ndim != 2 or vecs_VD.shape[0] != len(words):
    raise W2VError(f"{len(words)} words but vectors have shape {vecs_VD.shape}")
  return vecs_VD


def word_index(words: Sequence[str]) -> dict[str, int]:
  """word -> row; a repeated word maps to its first row (as gensim's key_to_index)."""
  index = dict(zip(words, range(len(words))))  # one C loop; right unless a word repeats
  if len(index) == len(words):
    return index
  index = {}
  for i, w in enumerate(words):
    index.setdefault(w, i)
  return index


def lookup(index: Mapping[str, int], query: Sequence[str]) -> list[int]:
  """Rows of the `query` words; an unknown word raises W2VError naming it."""
  for w in query:
    if w not in index:
      raise W2VError(f"word {w!r} is not in the vocabulary")
  return [index[w] for w in query]


def unit_rows(vecs_VD: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """(unit_VD, norms_V): each row divided by its L2 norm in float32; zero rows stay zero."""
  norms_V = np.linalg.norm(vecs_VD, axis=1)
  return vecs_VD / np.where(norms_V > 0, norms_V, 1)[:, None], norms_V


def restricted_size(n_words: int, restrict_vocab: int | None) -> int:
  """How many leading (most frequent) rows take part: all if `restrict_vocab` is None."""
  return n_words if restrict_vocab is None else max(0, min(restrict_vocab, n_words))


def _ok_vocab(words: Sequence[str], restrict_vocab: int | None, fold) -> dict[str, int]:
  """gensim's ok_vocab: first `restrict_vocab` words, the earliest case variant wins."""
  n = restricted_size(len(words), restrict_vocab)
  return {fold(words[i]): i for i in range(n - 1, -1, -1)}


def _unitvec(vec: np.ndarray) -> np.ndarray:
  """gensim.matutils.unitvec for dense vectors (double-precision BLAS norm and scaling)."""
  veclen = blas.dnrm2(vec) if vec.size else 0.0
  return blas.dscal(1.0 / veclen, vec).astype(vec.dtype) if veclen > 0.0 else vec


def _ranked(vecs_VD: np.ndarray, norms_V: np.ndarray, pos: Sequence[int], neg: Sequence[int],
            topn: int) -> list[tuple[int, float]]:
  """gensim's most_similar over the rows of vecs_VD, step by step: (index, cosine) pairs."""
  keys = list(pos) + list(neg)
  weight = np.concatenate((np.ones(len(pos)), -1.0 * np.ones(len(neg))))
  mean = np.zeros(vecs_VD.shape[1], vecs_VD.dtype)
  total_weight = 0
  for idx, key in enumerate(keys):
    mean += weight[idx] * (vecs_VD[key] / norms_V[key])
    total_weight += abs(weight[idx])
  mean = _unitvec(mean / total_weight).astype(np.float32)
  dists = np.dot(vecs_VD, mean) / norms_V
  x = -dists  # matutils.argsort(dists, topn=topn + len(keys), reverse=True)
  k = topn + len(keys)
  if k >= x.size:
    best = np.argsort(x)[:k]
  else:
    most_extreme = np.argpartition(x, k)[:k]
    best = most_extreme.take(np.argsort(x.take(most_extreme)))
  return [(int(i), float(dists[i])) for i in best if i not in keys][:topn]


def most_similar(words: Sequence[str], vectors_VD, positive: Sequence[str],
                 negative: Sequence[str] = (), topn: int = 10) -> list[tuple[str, float]]:
  """Top `topn` words by cosine to the normalised mean of +positive/-negative unit vectors.

  Same as gensim's KeyedVectors.most_similar (input words are excluded). Unknown words raise
  W2VError.
  """
  vecs_VD = as_table(words, vectors_VD)
  if not positive and not negative:
    raise W2VError("most_similar needs at least one word")
  index = word_index(words)
  pos, neg = lookup(index, positive), lookup(index, negative)
  norms_V = np.linalg.norm(vecs_VD, axis=1)
  ranked = _ranked(vecs_VD, norms_V, pos, neg, topn)
  return [(words[i], s) for i, s in ranked]


def predict_output_word(words: Sequence[str], in_VD, out_VD, context: Sequence[str],
                        topn: int = 10, mean: bool = True) -> list[tuple[str, float]] | None:
  """The output side's prediction for a context, as gensim's Word2Vec.predict_output_word: the
  softmax over the vocabulary of out_VD . h, h the mean (the sum with mean=False) of the
  context words' input vectors. Words outside the vocabulary are skipped; None if all are.
  `out_VD` is the output table (vectors_out.bin) with the rows of `words`; `in_VD` only has to
  give rows for an array of ids (only the context's are read).
  """
  index = word_index(words)
  ids = [index[w] for w in context if w in index]
  if not ids:
    return None
  h_D = np.asarray(in_VD[np.asarray(ids)], np.float32).sum(axis=0)
  if mean:
    h_D /= len(ids)
  logits_V = np.asarray(out_VD, np.float32) @ h_D
  prob_V = np.exp(logits_V.astype(np.float64) - logits_V.max())  # the softmax, overflow-free
  prob_V /= prob_V.sum()
  top = np.argsort(-prob_V, kind="stable")[:topn]
  return [(words[i], float(prob_V[i])) for i in top]


def nearest(words: Sequence[str], vectors_VD, word: str, topn: int = 10) -> list[tuple[str, float]]:
  """The `topn` cosine neighbours of `word` (itself excluded)."""
  return most_similar(words, vectors_VD, [word], (), topn)


def _exact_prediction(vecs_VD, norms_V, words, fold, ia, ib, ic, ignore) -> str | None:
  """gensim's prediction for one question, computed exactly as gensim does."""
  predicted = None
  for i, _ in _ranked(vecs_VD, norms_V, [ib, ic], [ia], _TOPN):
    predicted = fold(words[i])
    if predicted not in ignore:
      break
  return predicted


def _predict(vecs_RD: np.ndarray, words: Sequence[str], fold, abc_Q3: np.ndarray,
             ignores: list[frozenset[str]]) -> list[str | None]:
  """gensim's 3CosAdd prediction (folded word) for each question (a, b, c) over rows vecs_RD.

  The best candidate comes from batched unit-vector products with a, b, c and their other case
  variants masked out; near ties (and odd cases) fall back to `_exact_prediction`.
  """
  R = vecs_RD.shape[0]
  unit_RD, norms_R = unit_rows(vecs_RD)
  needed = frozenset().union(*ignores)
  variants: dict[str, list[int]] = {}  # folded word -> its spellings' rows
  for i in range(R):
    f = fold(words[i])
    if f in needed:
      variants.setdefault(f, []).append(i)
  batch = max(1, min(1024, _BATCH_ELEMS // R))
  buf_BR = np.empty((min(batch, len(abc_Q3)), R), dtype=np.float32)  # reused: no page faults
  out: list[str | None] = []
  for start in range(0, len(abc_Q3), batch):
    abc_B3 = abc_Q3[start:start + batch]
    rows_B = np.arange(len(abc_B3))
    mean_BD = unit_RD[abc_B3[:, 1]] + unit_RD[abc_B3[:, 2]] - unit_RD[abc_B3[:, 0]]
    mean_BD /= np.maximum(np.linalg.norm(mean_BD, axis=1, keepdims=True), 1e-30)
    scores_BR = np.matmul(mean_BD, unit_RD.T, out=buf_BR[:len(abc_B3)])
    # Rows gensim does not exclude by index but skips by (folded) word: other case variants.
    abc = abc_B3.tolist()
    extra = [[i for w in ignores[start + k] for i in variants[w] if i not in abc[k]]
             for k in range(len(abc))]
    extra_rows = np.array([k for k, e in enumerate(extra) for _ in e], dtype=np.int64)
    extra_cols = np.array([i for e in extra for i in e], dtype=np.int64)
    extra_scores = scores_BR[extra_rows, extra_cols].tolist()
    scores_BR[rows_B[:, None], abc_B3] = -np.inf
    scores_BR[extra_rows, extra_cols] = -np.inf
    best_B = scores_BR.argmax(axis=1)
    first = scores_BR[rows_B, best_B].tolist()
    scores_BR[rows_B, best_B] = -np.inf
    second = scores_BR.max(axis=1).tolist()
    pos = 0
    for k, (ia, ib, ic) in enumerate(abc):
      s, others = first[k], extra_scores[pos:pos + len(extra[k])]
      pos += len(others)
      # NaN/-inf comparisons are False, so degenerate cases take the exact path too.
      if (s - second[k] > _TIE_EPS and all(abs(o - s) > _TIE_EPS for o in others)
          and sum(o > s for o in others) < _TOPN):
        out.append(fold(words[best_B[k]]))
      else:
        with np.errstate(divide="ignore", invalid="ignore"):
          out.append(_exact_prediction(vecs_RD, norms_R, words, fold, ia, ib, ic,
                                       ignores[start + k]))
  return out


def analogy_accuracy(words: Sequence[str], vectors_VD, questions_path: str,
                     restrict_vocab: int | None = 300000, case_insensitive: bool = True) -> dict:
  """3CosAdd analogy accuracy, as gensim's evaluate_word_analogies (OOV questions skipped).

  Returns {"accuracy", "correct", "total" (questions evaluated), "questions" (all valid lines),
  "oov" (questions skipped), "oov_ratio" (oov / questions, a fraction in [0, 1]), "sections":
  {name: {"correct", "total", "accuracy"}}}.
  """
  vecs_VD = as_table(words, vectors_VD)
  fold = str.upper if case_insensitive else (lambda w: w)
  ok = _ok_vocab(words, restrict_vocab, fold)
  sections = read_analogies(questions_path)
  section_of, abc, expected, ignores = [], [], [], []
  n_questions = oov = 0
  for s, (_, quads) in enumerate(sections):
    for quad in quads:
      n_questions += 1
      a, b, c, d = (fold(w) for w in quad)
      if a in ok and b in ok and c in ok and d in ok:
        section_of.append(s)
        abc.append((ok[a], ok[b], ok[c]))
        expected.append(d)
        ignores.append(frozenset((a, b, c)))
      else:
        oov += 1
  predicted = []
  if abc:
    R = restricted_size(len(words), restrict_vocab)
    predicted = _predict(vecs_VD[:R], words, fold, np.array(abc, dtype=np.int64), ignores)
  per_section = {name: {"correct": 0, "total": 0} for name, _ in sections}
  for s, want, got in zip(section_of, expected, predicted):
    counts = per_section[sections[s][0]]
    counts["total"] += 1
    counts["correct"] += int(got == want)
  for counts in per_section.values():
    counts["accuracy"] = counts["correct"] / counts["total"] if counts["total"] else 0.0
  correct = sum(c["correct"] for c in per_section.values())
  total = len(predicted)
  return {"accuracy": correct / total if total else 0.0, "correct": correct, "total": total,
          "questions": n_questions, "oov": oov,
          "oov_ratio": oov / n_questions if n_questions else 0.0, "sections": per_section,
          **section_kinds(per_section)}


def section_kinds(per_section: dict) -> dict:
  """{"semantic": ..., "syntactic": ...} ({"correct", "total", "accuracy"} each): the Google
  set's convention, where the syntactic sections are the ones named gram*."""
  kinds = {}
  for kind, is_syntactic in (("semantic", False), ("syntactic", True)):
    parts = [c for name, c in per_section.items() if name.startswith("gram") == is_syntactic]
    correct, total = sum(c["correct"] for c in parts), sum(c["total"] for c in parts)
    kinds[kind] = {"correct": correct, "total": total,
                   "accuracy": correct / total if total else 0.0}
  return kinds


def _statistic(result) -> float | None:
  value = float(result.statistic)
  return None if np.isnan(value) else value


def word_pairs_spearman(words: Sequence[str], vectors_VD, pairs_path: str,
                        restrict_vocab: int | None = 300000,
                        case_insensitive: bool = True) -> dict:
  """Correlation of cosine similarity with human scores, as gensim's evaluate_word_pairs.

  Pairs with a word outside the first `restrict_vocab` words are skipped. Returns {"spearman",
  "pearson" (None if fewer than 2 pairs are in vocabulary), "pairs" (evaluated), "oov",
  "oov_ratio" (fraction in [0, 1])}.
  """
  vecs_VD = as_table(words, vectors_VD)
  fold = str.upper if case_insensitive else (lambda w: w)
  ok = _ok_vocab(words, restrict_vocab, fold)
  gold, model = [], []
  oov = 0
  for a, b, score in read_word_pairs(pairs_path):
    a, b = fold(a), fold(b)
    if a not in ok or b not in ok:
      oov += 1
      continue
    gold.append(score)
    model.append(np.dot(_unitvec(vecs_VD[ok[a]]), _unitvec(vecs_VD[ok[b]])))
  spearman = pearson = None
  if len(gold) >= 2:
    from scipy import stats  # pylint: disable=import-outside-toplevel  (slow: ~1 s to import)
    with np.errstate(divide="ignore", invalid="ignore"):
      spearman = _statistic(stats.spearmanr(gold, model))
      pearson = _statistic(stats.pearsonr(gold, model))
  n = len(gold) + oov
  return {"spearman": spearman, "pearson": pearson, "pairs": len(gold), "oov": oov,
          "oov_ratio": oov / n if n else 0.0}


def evaluate(words: Sequence[str], vectors_VD, analogies_path: str = DEFAULT_ANALOGIES,
             wordsim_path: str = DEFAULT_WORDSIM, restrict_vocab: int | None = 300000) -> dict:
  """Both benchmarks: {"analogy": analogy_accuracy(...), "wordsim353": word_pairs_spearman(...)}."""
  vecs_VD = as_table(words, vectors_VD)
  return {"analogy": analogy_accuracy(words, vecs_VD, analogies_path, restrict_vocab),
          "wordsim353": word_pairs_spearman(words, vecs_VD, wordsim_path, restrict_vocab)}
