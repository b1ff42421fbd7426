"""Print nearest neighbours (cosine) of words, or answers to an analogy, from a word2vec file.

  python -m experiments.neighbors --vectors=runs/default/vectors.bin king france
  python -m experiments.neighbors --vectors=runs/default/vectors.bin --analogy=man,king,woman
  python -m experiments.neighbors --vectors=RUN/vectors.bin --vectors_out=RUN/vectors_out.bin \
      --predict=the,king,of
The analogy a,b,c ranks words by similarity to b - a + c (gensim's most_similar, 3CosAdd).
--predict prints the output side's softmax for a context (gensim's predict_output_word); the
run must have written its output table (--export=out).
"""

from absl import flags

from experiments import common
from w2v_jax import evaluate, formats

_VECTORS = flags.DEFINE_string("vectors", None, "word2vec file, text or binary (auto-detected).")
_TOPN = flags.DEFINE_integer("topn", 10, "Neighbours to print per query.")
_ANALOGY = flags.DEFINE_list("analogy", None, "a,b,c: print the words closest to b - a + c.")
_LIMIT = flags.DEFINE_integer("limit", None, "Read only the first N vectors of the file.")
_VECTORS_OUT = flags.DEFINE_string("vectors_out", None, "The run's output vectors "
                                   "(vectors_out.bin, --export=out), for --predict.")
_PREDICT = flags.DEFINE_list("predict", None, "Context words: print the most probable words the "
                             "output side predicts for them (needs --vectors_out).")


def _show(title: str, ranked: list[tuple[str, float]]) -> None:
  print(f"{title}:")
  for word, score in ranked:
    print(f"  {score:.4f}  {word}")


def main(argv: list[str]) -> None:
  """Loads --vectors and prints the neighbours of each positional word and of --analogy."""
  queries = argv[1:]
  if not _VECTORS.value:
    raise common.W2VError("--vectors=PATH is required")
  if _ANALOGY.value is not None and len(_ANALOGY.value) != 3:
    raise common.W2VError(f"--analogy needs three words a,b,c, got {','.join(_ANALOGY.value)!r}")
  if not queries and not _ANALOGY.value and not _PREDICT.value:
    raise common.W2VError("give words to look up, --analogy=a,b,c and/or --predict=w1,w2")
  if _PREDICT.value and not _VECTORS_OUT.value:
    raise common.W2VError("--predict needs --vectors_out=RUN/vectors_out.bin (train with "
                          "--export=out)")
  if _TOPN.value < 1:
    raise common.W2VError(f"--topn must be >= 1, got {_TOPN.value}")
  words, vectors_VD = formats.load_word2vec(_VECTORS.value, limit=_LIMIT.value)
  vocab = set(words)
  for word in queries + list(_ANALOGY.value or []) + list(_PREDICT.value or []):
    # every word checked before anything is printed
    if word not in vocab:
      raise common.W2VError(f"word {word!r} is not in the vocabulary of {_VECTORS.value}")
  for word in queries:
    _show(word, evaluate.nearest(words, vectors_VD, word, _TOPN.value))
  if _ANALOGY.value:
    a, b, c = _ANALOGY.value
    _show(f"{b} - {a} + {c}", evaluate.most_similar(words, vectors_VD, [b, c], [a], _TOPN.value))
  if _PREDICT.value:
    out_words, out_VD = formats.load_word2vec(_VECTORS_OUT.value, limit=_LIMIT.value)
    if out_words != words:
      raise common.W2VError(f"{_VECTORS_OUT.value} does not hold the words of {_VECTORS.value} "
                            "in the same order: pass the two files of one run")
    _show(f"predicted for {' '.join(_PREDICT.value)}",
          evaluate.predict_output_word(words, vectors_VD, out_VD, _PREDICT.value, _TOPN.value))


if __name__ == "__main__":
  common.run(main)
