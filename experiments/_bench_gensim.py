"""Benchmark driver for gensim's Word2Vec, run as a subprocess by `experiments.bench`.

Builds the vocabulary (timed), trains (timed separately), saves the input vectors in word2vec
binary format and prints one JSON line `BENCH_RESULT {...}` with the timings on stdout.

It reads a file of one sentence per line, space-separated tokens: gensim's file readers silently
cut lines at 10,000 tokens (gensim issue 2880), so the harness hands it a copy of the corpus with
1,000 words per line, word2vec.c's own sentence cap.

--mode=corpus_file is gensim's fastest path, but in gensim 4.4 each of its W worker threads
decays alpha by its *own* words over the *whole* corpus's count (word2vec_corpusfile.pyx,
get_next_alpha), so alpha only falls to about start * (1 - 1/W): not the schedule the other
systems use. --mode=iterable (LineSentence) decays alpha over the whole corpus as documented.

  python experiments/_bench_gensim.py --corpus_file=F --output=vectors.bin --model=sg ...
"""

import argparse
import json
import logging
import sys
import time


def parse_args(argv: list[str]) -> argparse.Namespace:
  """The driver's command line (same hyper-parameter names as `experiments.bench`)."""
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--corpus_file", required=True)
  p.add_argument("--output", required=True, help="word2vec binary vectors file to write")
  p.add_argument("--model", choices=("sg", "cbow"), default="sg")
  p.add_argument("--dim", type=int, default=100)
  p.add_argument("--window", type=int, default=5)
  p.add_argument("--negatives", type=int, default=5)
  p.add_argument("--sample", type=float, default=1e-3)
  p.add_argument("--min_count", type=int, default=5)
  p.add_argument("--epochs", type=int, default=1)
  p.add_argument("--threads", type=int, default=2)
  p.add_argument("--alpha", type=float, required=True)
  p.add_argument("--seed", type=int, default=1)
  p.add_argument("--loss", choices=("ns", "hs"), default="ns")
  p.add_argument("--mode", choices=("corpus_file", "iterable"), default="corpus_file")
  return p.parse_args(argv)


def main(argv: list[str]) -> int:
  """Builds the vocabulary, trains, saves; prints `BENCH_RESULT {json}`."""
  args = parse_args(argv)
  logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO)
  t_import = time.perf_counter()
  import gensim  # pylint: disable=import-outside-toplevel
  from gensim.models import Word2Vec  # pylint: disable=import-outside-toplevel
  from gensim.models.word2vec_corpusfile import CORPUSFILE_VERSION  # noqa: F401  (fails if absent)
  import_seconds = time.perf_counter() - t_import

  model = Word2Vec(
      vector_size=args.dim, window=args.window, min_count=args.min_count, sample=args.sample,
      sg=1 if args.model == "sg" else 0, hs=int(args.loss == "hs"),
      negative=0 if args.loss == "hs" else args.negatives, cbow_mean=1,
      alpha=args.alpha, min_alpha=args.alpha * 1e-4,  # word2vec.c floors alpha at alpha * 1e-4
      workers=args.threads, epochs=args.epochs, seed=args.seed)

  if args.mode == "iterable":
    from gensim.models.word2vec import LineSentence  # pylint: disable=import-outside-toplevel
    source = {"corpus_iterable": LineSentence(args.corpus_file)}
  else:
    source = {"corpus_file": args.corpus_file}
  t0 = time.perf_counter()
  model.build_vocab(**source)
  vocab_seconds = time.perf_counter() - t0

  t0 = time.perf_counter()
  if args.mode == "iterable":
    model.train(**source, total_examples=model.corpus_count, epochs=args.epochs)
  else:
    model.train(**source, total_words=model.corpus_total_words, epochs=args.epochs)
  train_seconds = time.perf_counter() - t0

  t0 = time.perf_counter()
  model.wv.save_word2vec_format(args.output, binary=True)
  save_seconds = time.perf_counter() - t0

  result = {
      "gensim_version": gensim.__version__,
      "mode": args.mode,
      "import_seconds": import_seconds,
      "vocab_seconds": vocab_seconds,
      "train_seconds": train_seconds,
      "save_seconds": save_seconds,
      "vocab_size": len(model.wv),
      "corpus_total_words": int(model.corpus_total_words),
  }
  print("BENCH_RESULT " + json.dumps(result), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
