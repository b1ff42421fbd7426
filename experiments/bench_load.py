"""Time loading a word2vec binary into `Embeddings` against gensim, with each loader's peak memory.

  python -m experiments.bench_load --write_binary=/tmp/gn.bin --vocab=3000000 --dim=300
  python -m experiments.bench_load --vectors=/tmp/gn.bin --loaders=w2v_jax,gensim

--write_binary writes a synthetic file (words `w0`, `w1`, ..., standard-normal vectors) a block
of rows at a time, so writing a 3M x 300 file needs memory for one block only. Each loader then
runs in its own subprocess, so that the peak RSS (getrusage's ru_maxrss) is that loader's alone:
`w2v_jax` is Embeddings.load, `w2v_jax_float16` the same with dtype="float16", `gensim`
KeyedVectors.load_word2vec_format (skipped if gensim is not installed). Each prints the load
seconds, the peak RSS against the file's float32 matrix, and the time of one warm most_similar
(the second call, after compiling or computing the norms). Not a test: run it by hand on an idle
machine.
"""

import json
import resource
import subprocess
import sys
import time

import numpy as np
from absl import flags

from experiments import common
from w2v_jax import textio

LOADERS = ("w2v_jax", "w2v_jax_float16", "gensim")

_WRITE = flags.DEFINE_string("write_binary", "", "First write a synthetic word2vec binary here.")
_VOCAB = flags.DEFINE_integer("vocab", 3_000_000, "Rows of the synthetic file.")
_DIM = flags.DEFINE_integer("dim", 300, "Columns of the synthetic file.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the synthetic vectors.")
_VECTORS = flags.DEFINE_string("vectors", "", "word2vec binary to load (default: --write_binary).")
_LOADERS = flags.DEFINE_list("loaders", list(LOADERS), f"Loaders to time, of {', '.join(LOADERS)}; "
                             "empty only writes the file.")
_QUERY = flags.DEFINE_string("query", "", "most_similar query word (default: the first word).")
_TOPN = flags.DEFINE_integer("topn", 10, "Neighbours per most_similar.")
_WORKER = flags.DEFINE_string("worker", "", "Internal: run this loader and print JSON.")

_BLOCK_BYTES = 1 << 24  # float32 bytes of synthetic rows generated and written at a time


def write_random_binary(path: str, vocab: int, dim: int, seed: int) -> None:
  """Writes a word2vec.c-layout binary of `vocab` words `w0`, `w1`, ... and standard-normal
  float32 vectors, one block of rows at a time (atomically, like formats.save_word2vec)."""
  rng = np.random.default_rng(seed)
  rows = max(1, _BLOCK_BYTES // (4 * dim))
  with textio.atomic_open(path, "wb") as f:
    f.write(f"{vocab} {dim}\n".encode("ascii"))
    for start in range(0, vocab, rows):
      vecs_BD = rng.standard_normal((min(rows, vocab - start), dim), dtype=np.float32)
      raw_BD = vecs_BD.astype("<f4", copy=False)
      f.write(b"".join(b"w%d %s\n" % (start + i, vec_D.tobytes())
                       for i, vec_D in enumerate(raw_BD)))


def _peak_rss() -> int:
  """This process's peak resident set size in bytes so far (Linux reports KiB)."""
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _warm_query(query, first_word: str) -> float:
  """Seconds of the second of two identical most_similar calls."""
  word = _QUERY.value or first_word
  query(word)
  start = time.perf_counter()
  query(word)
  return time.perf_counter() - start


def _run_w2v_jax(path: str, dtype: str) -> dict:
  """Embeddings.load, timed; jax is started before the baseline RSS is taken."""
  import jax  # pylint: disable=import-outside-toplevel
  from w2v_jax.embeddings import Embeddings  # pylint: disable=import-outside-toplevel
  jax.numpy.zeros(()).block_until_ready()
  before, start = _peak_rss(), time.perf_counter()
  emb = Embeddings.load(path, dtype=dtype)
  emb.unit_VD.block_until_ready()
  load_s, after = time.perf_counter() - start, _peak_rss()
  query_s = _warm_query(lambda w: emb.most_similar(w, topn=_TOPN.value), emb.words[0])
  return {"load_s": load_s, "rss_before": before, "rss_load": after, "rss_end": _peak_rss(),
          "query_s": query_s, "backend": jax.default_backend()}


def _run_gensim(path: str) -> dict:
  """KeyedVectors.load_word2vec_format(binary=True), timed; skipped without gensim."""
  try:
    from gensim.models import KeyedVectors  # pylint: disable=import-outside-toplevel
  except ImportError:
    return {"skipped": "gensim is not installed"}
  before, start = _peak_rss(), time.perf_counter()
  kv = KeyedVectors.load_word2vec_format(path, binary=True)
  load_s, after = time.perf_counter() - start, _peak_rss()
  query_s = _warm_query(lambda w: kv.most_similar(w, topn=_TOPN.value), kv.index_to_key[0])
  return {"load_s": load_s, "rss_before": before, "rss_load": after, "rss_end": _peak_rss(),
          "query_s": query_s}


def _worker(loader: str, path: str) -> dict:
  if loader == "gensim":
    return _run_gensim(path)
  return _run_w2v_jax(path, "float16" if loader == "w2v_jax_float16" else "float32")


def _matrix_bytes(path: str) -> int:
  """Bytes of the file's V x D matrix in float32, from its header."""
  with open(path, "rb") as f:
    V, D = (int(x) for x in f.readline(4096).split()[:2])
  return V * D * 4


def _report(loader: str, r: dict, matrix: int) -> str:
  """One line per loader: seconds, peak RSS and its ratio to the float32 matrix."""
  if "skipped" in r:
    return f"{loader}: skipped ({r['skipped']})"
  mb = 1e6
  return (f"{loader}: load {r['load_s']:.2f} s, peak RSS {r['rss_load'] / mb:,.0f} MB "
          f"({r['rss_load'] / matrix:.2f}x the {matrix / mb:,.0f} MB float32 matrix; "
          f"{r['rss_before'] / mb:,.0f} MB before loading, {r['rss_end'] / mb:,.0f} MB after the "
          f"queries), warm most_similar {r['query_s'] * 1e3:.1f} ms")


def main(argv: list[str]) -> None:
  """Writes the synthetic file if asked, then times each loader in its own subprocess."""
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  path = _VECTORS.value or _WRITE.value
  if _WORKER.value:
    print(json.dumps(_worker(_WORKER.value, path)))
    return
  unknown = sorted(set(_LOADERS.value) - set(LOADERS))
  if unknown or not path:
    raise common.W2VError(f"unknown --loaders {', '.join(unknown)}" if unknown
                          else "give --vectors or --write_binary")
  if _WRITE.value:
    if _VOCAB.value < 1 or _DIM.value < 1:
      raise common.W2VError(f"--vocab and --dim must be >= 1, got {_VOCAB.value}, {_DIM.value}")
    start = time.perf_counter()
    write_random_binary(_WRITE.value, _VOCAB.value, _DIM.value, _SEED.value)
    print(f"wrote {_WRITE.value}: {_VOCAB.value} x {_DIM.value} in "
          f"{time.perf_counter() - start:.1f} s")
  matrix = _matrix_bytes(path)
  for loader in _LOADERS.value:
    args = [sys.executable, "-m", "experiments.bench_load", f"--worker={loader}",
            f"--vectors={path}", f"--query={_QUERY.value}", f"--topn={_TOPN.value}"]
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode:
      raise common.W2VError(f"{loader} failed: {proc.stderr.strip()[-500:]}")
    print(_report(loader, json.loads(proc.stdout.strip().splitlines()[-1]), matrix))


if __name__ == "__main__":
  common.run(main)
