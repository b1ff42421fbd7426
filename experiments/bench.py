"""Benchmark w2v_jax against gensim, word2vec.c and fastText on one corpus, one after the other.

  pip install -r requirements-bench.txt
  python -m experiments.bench --model=sg --threads=2
  python -m experiments.bench --baselines=gensim --max_words=200000   # a quick smoke run

Every system gets the same corpus, hyper-parameters and thread count, and runs alone as a
subprocess. Prints a Markdown table (and the exact command lines) and writes the same data with
machine information to OUT/bench_<model>.json.

How each number is measured (preparation, end-to-end and training seconds per system, peak RSS,
threads and CPU pinning, quality) is explained in the docstring of the harness package,
w2v_jax/benchmark/__init__.py. This script only defines the flags and wires the package together.
"""

import os
import shutil
import tempfile
import time

from absl import flags

from experiments import common
from w2v_jax.benchmark import process, report, systems
from w2v_jax.benchmark.corpus import prepare_corpus
from w2v_jax.errors import W2VError

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CORPUS = os.path.normpath(os.path.join(
    _REPO, "..", "shared", "data", "corpus", "enwiki2015", "enwiki2015.part00.txt.gz"))
BASELINES = systems.BASELINES


def define_flags() -> None:
  """Defines the command-line flags (only when run as a program, so that importing this module,
  e.g. from tests, does not clash with the flags of experiments.train)."""
  flags.DEFINE_string("corpus", DEFAULT_CORPUS, "One plain or .gz text file (text8-style is the "
                      "main case).")
  flags.DEFINE_enum("model", "sg", ["sg", "cbow"], "Skip-gram or CBOW (all systems).")
  flags.DEFINE_integer("dim", 100, "Embedding dimension.")
  flags.DEFINE_integer("window", 5, "Maximum context radius.")
  flags.DEFINE_integer("negatives", 5, "Negative samples per centre word.")
  flags.DEFINE_enum("loss", "ns", ["ns", "hs"], "Objective for every system: negative sampling "
                    "or hierarchical softmax (then --negatives is ignored: 0 everywhere).")
  flags.DEFINE_float("sample", 1e-3, "Subsampling threshold.")
  flags.DEFINE_integer("min_count", 5, "Drop words rarer than this.")
  flags.DEFINE_integer("epochs", 1, "Passes over the corpus.")
  flags.DEFINE_integer("threads", 2, "Worker threads for every system.")
  flags.DEFINE_float("alpha", None, "Starting learning rate for every system (default 0.025 for "
                     "sg, 0.05 for cbow).")
  flags.DEFINE_list("baselines", list(BASELINES), "Baselines to run, from "
                    f"{','.join(BASELINES)}; 'none' for w2v_jax alone.")
  flags.DEFINE_bool("w2v_jax", True, "Run w2v_jax (skipped with a message if "
                    "experiments/train.py is absent).")
  flags.DEFINE_string("systems_extra_flags", "", "Extra flags appended to the w2v_jax command.")
  flags.DEFINE_string("out", "bench_out/", "Work directory root; the JSON goes to "
                      "OUT/bench_<model>.json.")
  flags.DEFINE_integer("max_words", 0, "If > 0, use only the first N words of the corpus.")
  flags.DEFINE_bool("pin_cpus", True, "Pin each system to the first --threads CPUs when "
                    "--threads is below the core count.")
  flags.DEFINE_integer("timeout_s", 0, "Kill a system after this many seconds (0 = no limit).")
  flags.DEFINE_string("tmp_dir", None, "Where the prepared corpus copies go (default: the "
                      "system temp dir; keep the path short, word2vec.c takes < 100 chars).")
  flags.DEFINE_bool("keep_tmp", False, "Keep the prepared corpus copies.")


FLAGS = flags.FLAGS


def _checked_flags() -> tuple[list[str], systems.Params]:
  """The baselines to run and the shared hyper-parameters, from validated flags."""
  baselines = [b.strip() for b in FLAGS.baselines if b.strip()]
  if baselines == ["none"]:
    baselines = []
  unknown = [b for b in baselines if b not in BASELINES]
  if unknown:
    raise W2VError(f"--baselines: unknown {unknown}; choose from {','.join(BASELINES)} or none")
  if not os.path.exists(FLAGS.corpus):
    raise W2VError(f"--corpus {FLAGS.corpus} does not exist")
  if FLAGS.threads < 1:
    raise W2VError("--threads must be >= 1")
  alpha = FLAGS.alpha if FLAGS.alpha is not None else {"sg": 0.025, "cbow": 0.05}[FLAGS.model]
  negatives = 0 if FLAGS.loss == "hs" else FLAGS.negatives
  return baselines, systems.Params(FLAGS.model, FLAGS.dim, FLAGS.window, negatives, FLAGS.sample,
                                   FLAGS.min_count, FLAGS.epochs, FLAGS.threads, alpha, FLAGS.loss)


def main(argv):
  """Prepares the corpus, runs every system in turn, evaluates, prints and saves the table."""
  if len(argv) > 1:
    raise W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  baselines, p = _checked_flags()
  out_root = os.path.abspath(FLAGS.out)
  os.makedirs(out_root, exist_ok=True)
  cpus = process.pick_cpus(p.threads, FLAGS.pin_cpus)

  tmp = tempfile.mkdtemp(prefix="w2vb_", dir=FLAGS.tmp_dir)
  try:
    t0 = time.perf_counter()
    print(f"preparing {FLAGS.corpus}" + (f" (first {FLAGS.max_words:,} words)"
                                         if FLAGS.max_words > 0 else "") + f" in {tmp} ...",
          flush=True)
    corpus = prepare_corpus(FLAGS.corpus, tmp, FLAGS.max_words)
    prep_seconds = time.perf_counter() - t0
    print(f"  {corpus.tokens:,} tokens in {prep_seconds:.1f}s (not timed for any system)",
          flush=True)
    runs: list[systems.SystemRun] = []
    for name in (["w2v_jax"] if FLAGS.w2v_jax else []) + baselines:
      print(f"running {name} ...", flush=True)
      run = systems.run_system(name, p, corpus, out_root, cpus, FLAGS.timeout_s,
                               FLAGS.systems_extra_flags)
      if run.status == "ok":
        print(f"  {name}: {report.fmt(run.end_to_end_s, '.1f')}s end to end, "
              f"{report.fmt(run.train_words_per_sec, ',.0f')} training words/s", flush=True)
      else:
        print(f"  {name}: {run.status}: {run.reason}", flush=True)
      runs.append(run)
    systems.evaluate_runs(runs)
  finally:
    if FLAGS.keep_tmp:
      print(f"kept the prepared corpus in {tmp}")
    else:
      shutil.rmtree(tmp, ignore_errors=True)

  table = report.markdown_table(runs)
  foot = report.notes(runs, p, corpus.tokens, cpus)
  print()
  print(report.summary(runs, p, FLAGS.corpus, corpus.tokens, table, foot))
  corpus_info = {"path": os.path.abspath(FLAGS.corpus), "max_words": FLAGS.max_words,
                 "tokens": corpus.tokens, "prepare_seconds": prep_seconds}
  path = report.write_json(out_root, report.document(runs, p, corpus_info, cpus, table, foot))
  print(f"\nwrote {path}")


if __name__ == "__main__":
  define_flags()
  common.run(main)
