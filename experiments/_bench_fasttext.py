"""Benchmark driver for fastText (the `fasttext-wheel` Python module), run by `experiments.bench`.

fasttext-wheel ships only the Python module (no `fasttext` binary), so this trains with
`fasttext.train_unsupervised(...)`, minn = maxn = 0 (no subwords: plain word2vec). fastText
builds its vocabulary and trains inside that one call; it prints `Number of labels: 0` on stderr
when the vocabulary is done and this driver prints `BENCH_TRAINED` on stdout as soon as the call
returns, so the harness times training from the arrival of those two lines. Then it saves the
input vectors in word2vec binary format (like gensim, word2vec.c and w2v_jax in the benchmark, so
end-to-end times compare the same output step; fastText's own .vec text writer would cost seconds
of float formatting) and prints `BENCH_RESULT {json}`.

fastText reads a one-line (text8-style) file fine: `Dictionary::getLine` stops after
MAX_LINE_SIZE = 1024 in-vocabulary tokens and the next call continues where it stopped, so
nothing is truncated (the stream is just cut into 1,024-token "sentences").
"""

import argparse
import json
import sys
import time

import numpy as np


def parse_args(argv: list[str]) -> argparse.Namespace:
  """The driver's command line (same hyper-parameter names as `experiments.bench`)."""
  p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  p.add_argument("--input", required=True, help="plain text corpus")
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
  p.add_argument("--loss", choices=("ns", "hs"), default="ns")
  return p.parse_args(argv)


def save_word2vec_binary(path: str, words: list[str], matrix) -> None:
  """Writes word2vec.c's binary format: an "N D" line, then word, space, D float32s, newline."""
  matrix = np.ascontiguousarray(matrix, dtype="<f4")
  with open(path, "wb") as f:
    f.write(f"{len(words)} {matrix.shape[1]}\n".encode())
    for word, row in zip(words, matrix):
      f.write(word.encode("utf-8") + b" " + row.tobytes() + b"\n")


def main(argv: list[str]) -> int:
  """Trains, saves the vectors; prints `BENCH_TRAINED` then `BENCH_RESULT {json}`."""
  args = parse_args(argv)
  t0 = time.perf_counter()
  import fasttext  # pylint: disable=import-outside-toplevel
  import_seconds = time.perf_counter() - t0

  t0 = time.perf_counter()
  model = fasttext.train_unsupervised(
      input=args.input, model="skipgram" if args.model == "sg" else "cbow", lr=args.alpha,
      dim=args.dim, ws=args.window, epoch=args.epochs, minCount=args.min_count, minn=0, maxn=0,
      neg=args.negatives, wordNgrams=1, loss=args.loss, bucket=0, thread=args.threads,
      t=args.sample,
      verbose=2)
  call_seconds = time.perf_counter() - t0
  print("\nBENCH_TRAINED", flush=True)

  t0 = time.perf_counter()
  words, counts = model.get_words(include_freq=True)
  matrix = model.get_input_matrix()[:len(words)]
  save_word2vec_binary(args.output, list(words), matrix)
  save_seconds = time.perf_counter() - t0

  result = {
      "fasttext_args": {"bucket": model.f.getArgs().bucket, "minn": model.f.getArgs().minn,
                        "maxn": model.f.getArgs().maxn},
      "import_seconds": import_seconds,
      "vocab_and_train_seconds": call_seconds,
      "save_seconds": save_seconds,
      "vocab_size": len(words),
      "in_vocab_tokens": int(sum(int(c) for c in counts)),
  }
  print("BENCH_RESULT " + json.dumps(result), flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
