"""The benchmarked systems: shared hyper-parameters, one runner per system, one evaluator.

Each runner builds its system's command from `Params`, runs it through `process.run_timed` in its
own work directory and turns the outcome into a `SystemRun` (one row of the table). A system that
is missing or fails keeps a row with the reason. gensim and fastText run through the drivers
experiments/_bench_gensim.py and experiments/_bench_fasttext.py: this module never imports
gensim or fasttext (only looks them up), so it works without the benchmark requirements.
"""

import dataclasses
import functools
import importlib.util
import os
import shlex
import shutil
import sys
import sysconfig
from typing import Callable

from w2v_jax import evaluate, formats
from w2v_jax.benchmark.corpus import PreparedCorpus
from w2v_jax.benchmark.parsers import (last_jsonl_row, last_line, parse_fasttext_output,
                                       parse_result_line, parse_word2vec_c_output)
from w2v_jax.benchmark.process import RunResult, run_timed

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_EXPERIMENTS = os.path.join(_REPO, "experiments")   # the drivers and experiments/train.py
ANALOGIES = os.path.join(_REPO, "data", "eval", "questions-words.txt")
WORDSIM = os.path.join(_REPO, "data", "eval", "wordsim353.tsv")
BASELINES = ("gensim", "gensim_iter", "word2vec_c", "fasttext")
W2V_C_MAX_PATH = 99        # word2vec.c copies -train / -output into char[MAX_STRING=100]


@dataclasses.dataclass
class Params:
  """The hyper-parameters every system gets."""
  model: str
  dim: int
  window: int
  negatives: int
  sample: float
  min_count: int
  epochs: int
  threads: int
  alpha: float
  loss: str = "ns"   # "hs": hierarchical softmax everywhere, with negatives 0


@dataclasses.dataclass
class SystemRun:
  """One row of the table."""
  system: str
  status: str = "ok"                   # "ok", "failed" or "skipped"
  reason: str = ""
  command: list[str] | None = None
  cwd: str = ""
  vectors: str = ""
  end_to_end_s: float | None = None
  train_s: float | None = None
  train_words_per_sec: float | None = None
  peak_rss_mb: float | None = None
  details: dict = dataclasses.field(default_factory=dict)
  quality: dict = dataclasses.field(default_factory=dict)


def word2vec_binary() -> str | None:
  """Path of the compiled word2vec.c binary from the `word2vec` PyPI package, or None.

  pip puts it in the interpreter's scripts dir (sysconfig "scripts", e.g. <prefix>/bin); under
  pyenv, PATH only holds a bash shim for it, so that dir is tried first to run the real binary.
  """
  candidates = [os.path.join(sysconfig.get_path("scripts"), "word2vec"),
                os.path.join(os.path.dirname(sys.executable), "word2vec")]
  for c in candidates:
    if os.path.isfile(c) and os.access(c, os.X_OK):
      return c
  return shutil.which("word2vec")


def _installed(module: str) -> bool:
  """Whether `module` can be imported, found without importing it (the drivers import it)."""
  return importlib.util.find_spec(module) is not None


def _failure(run: SystemRun, result: RunResult) -> bool:
  """Marks `run` failed when its process did; returns True if so."""
  if result.timed_out:
    run.status, run.reason = "failed", "killed by --timeout_s"
  elif result.returncode != 0:
    run.status = "failed"
    err = last_line(result.output("stderr")) or last_line(result.output("stdout"))
    run.reason = f"exit code {result.returncode}: {err}"
  elif not os.path.exists(run.vectors):
    run.status, run.reason = "failed", f"no vectors at {run.vectors}"
  return run.status == "failed"


def _fill_common(run: SystemRun, result: RunResult) -> None:
  """Copies the measurements every system shares (times, memory, marks) into `run`."""
  run.end_to_end_s = result.wall_seconds
  run.peak_rss_mb = result.peak_rss_mb
  run.details.update({"rss_poll_peak_mb": result.peak_rss_poll_bytes / 2**20,
                      "rss_wait4_maxrss_mb": result.maxrss_wait4_bytes / 2**20,
                      "rss_samples": result.rss_samples, "marks_s": result.marks,
                      "returncode": result.returncode})


def run_gensim(p: Params, corpus: PreparedCorpus, workdir: str, cpus: list[int] | None,
               timeout_s: float = 0, mode: str = "corpus_file") -> SystemRun:
  """gensim Word2Vec through experiments/_bench_gensim.py (see its docstring for the modes)."""
  name = "gensim" if mode == "corpus_file" else "gensim_iter"
  run = SystemRun(name, vectors=os.path.join(workdir, "vectors.bin"), cwd=workdir)
  if not _installed("gensim"):
    return dataclasses.replace(run, status="failed", reason="gensim is not installed (pip "
                               "install -r requirements-bench.txt)")
  run.command = [sys.executable, os.path.join(_EXPERIMENTS, "_bench_gensim.py"),
                 f"--corpus_file={corpus.lines}", f"--output={run.vectors}",
                 f"--model={p.model}", f"--dim={p.dim}", f"--window={p.window}",
                 f"--negatives={p.negatives}", f"--sample={p.sample}",
                 f"--min_count={p.min_count}", f"--epochs={p.epochs}",
                 f"--threads={p.threads}", f"--alpha={p.alpha}", f"--mode={mode}",
                 f"--loss={p.loss}"]
  result = run_timed(run.command, cwd=workdir, log_prefix=os.path.join(workdir, "log"),
                     cpus=cpus, timeout_s=timeout_s)
  _fill_common(run, result)
  if _failure(run, result):
    return run
  info = parse_result_line(result.output("stdout"))
  if info is None:
    run.status, run.reason = "failed", "the driver printed no BENCH_RESULT line"
    return run
  run.details.update(info)
  run.train_s = info["train_seconds"]
  run.train_words_per_sec = p.epochs * corpus.tokens / run.train_s
  return run


def run_word2vec_c(p: Params, corpus: PreparedCorpus, workdir: str, cpus: list[int] | None,
                   timeout_s: float = 0) -> SystemRun:
  """Google's word2vec.c, as compiled by the `word2vec` PyPI package."""
  run = SystemRun("word2vec_c", vectors=os.path.join(workdir, "vectors.bin"), cwd=workdir)
  binary = word2vec_binary()
  if binary is None:
    return dataclasses.replace(run, status="failed", reason="no word2vec binary (pip install "
                               "word2vec compiles it; see requirements-bench.txt)")
  if len(corpus.one_line) > W2V_C_MAX_PATH:
    return dataclasses.replace(run, status="failed", reason=f"corpus path longer than "
                               f"{W2V_C_MAX_PATH} chars (word2vec.c's limit): use --tmp_dir")
  # -output is relative to cwd=workdir: word2vec.c copies it into a 100-byte buffer.
  run.command = [binary, "-train", corpus.one_line, "-output", "vectors.bin",
                 "-cbow", "1" if p.model == "cbow" else "0", "-size", str(p.dim),
                 "-window", str(p.window), "-negative", str(p.negatives),
                 "-hs", "1" if p.loss == "hs" else "0",
                 "-sample", str(p.sample), "-threads", str(p.threads), "-iter", str(p.epochs),
                 "-min-count", str(p.min_count), "-alpha", str(p.alpha), "-binary", "1"]
  result = run_timed(run.command, cwd=workdir, log_prefix=os.path.join(workdir, "log"),
                     markers={"progress": "Alpha:"}, cpus=cpus, timeout_s=timeout_s)
  _fill_common(run, result)
  if _failure(run, result):
    return run
  info = parse_word2vec_c_output(result.output("stdout"))
  run.details.update({k: v for k, v in info.items() if k != "progress"})
  start = result.marks.get("progress")
  if start is not None:
    run.train_s = result.wall_seconds - start
    run.train_words_per_sec = p.epochs * corpus.tokens / run.train_s
  wpts, train_words = info["last_words_per_thread_sec"], info["train_words"]
  if wpts and train_words:
    # In-vocab words per CPU-second per thread -> corpus tokens per second, all threads.
    run.details["progress_words_per_sec"] = wpts * p.threads * corpus.tokens / train_words
    if run.train_words_per_sec is None:
      run.train_words_per_sec = run.details["progress_words_per_sec"]
      run.details["train_wps_source"] = "progress output"
  return run


def run_fasttext(p: Params, corpus: PreparedCorpus, workdir: str, cpus: list[int] | None,
                 timeout_s: float = 0) -> SystemRun:
  """fastText without subwords (minn = maxn = 0) through experiments/_bench_fasttext.py."""
  run = SystemRun("fasttext", vectors=os.path.join(workdir, "vectors.bin"), cwd=workdir)
  if not _installed("fasttext"):
    return dataclasses.replace(run, status="failed",
                               reason="fasttext (pip install fasttext-wheel) is missing")
  run.command = [sys.executable, os.path.join(_EXPERIMENTS, "_bench_fasttext.py"),
                 f"--input={corpus.one_line}", f"--output={run.vectors}",
                 f"--model={p.model}", f"--dim={p.dim}", f"--window={p.window}",
                 f"--negatives={p.negatives}", f"--sample={p.sample}",
                 f"--min_count={p.min_count}", f"--epochs={p.epochs}",
                 f"--threads={p.threads}", f"--alpha={p.alpha}", f"--loss={p.loss}"]
  result = run_timed(run.command, cwd=workdir, log_prefix=os.path.join(workdir, "log"),
                     markers={"vocab_done": "Number of labels", "trained": "BENCH_TRAINED"},
                     cpus=cpus, timeout_s=timeout_s)
  _fill_common(run, result)
  if _failure(run, result):
    return run
  info = parse_result_line(result.output("stdout")) or {}
  run.details.update(info)
  parsed = parse_fasttext_output(result.output("stderr"))
  run.details["fasttext_vocab_size"] = parsed["vocab_size"]
  start, end = result.marks.get("vocab_done"), result.marks.get("trained")
  if start is not None and end is not None:
    run.train_s = end - start
    run.train_words_per_sec = p.epochs * corpus.tokens / run.train_s
  wpts, in_vocab = parsed["last_words_per_thread_sec"], info.get("in_vocab_tokens")
  if wpts and in_vocab:
    run.details["progress_words_per_sec"] = wpts * p.threads * corpus.tokens / in_vocab
  return run


def run_w2v_jax(p: Params, corpus: PreparedCorpus, workdir: str, cpus: list[int] | None,
                timeout_s: float = 0, extra_flags: str = "") -> SystemRun:
  """w2v_jax through `python -m experiments.train` (its words/s read from metrics.jsonl)."""
  run = SystemRun("w2v_jax", vectors=os.path.join(workdir, "vectors.bin"), cwd=_REPO)
  if not os.path.exists(os.path.join(_EXPERIMENTS, "train.py")):
    return dataclasses.replace(run, status="skipped",
                               reason="experiments/train.py does not exist yet")
  run.command = [sys.executable, "-m", "experiments.train", f"--corpus={corpus.one_line}",
                 f"--workdir={workdir}", f"--model={p.model}", f"--dim={p.dim}",
                 f"--window={p.window}", f"--negatives={p.negatives}", f"--sample={p.sample}",
                 f"--min_count={p.min_count}", f"--epochs={p.epochs}", f"--alpha={p.alpha}",
                 f"--loss={p.loss}", "--overwrite", "--noeval",
                 "--show_neighbors="] + shlex.split(extra_flags)
  result = run_timed(run.command, cwd=_REPO, log_prefix=os.path.join(workdir, "log"),
                     cpus=cpus, timeout_s=timeout_s)
  _fill_common(run, result)
  if _failure(run, result):
    return run
  row = last_jsonl_row(os.path.join(workdir, "metrics.jsonl"))
  if row is None or "words_per_sec" not in row:
    run.status, run.reason = "failed", "no words_per_sec in metrics.jsonl"
    return run
  run.details["metrics_last_row"] = row
  run.train_words_per_sec = float(row["words_per_sec"])
  if row.get("train_seconds") is not None:
    run.train_s = float(row["train_seconds"])
  if "words" in row and abs(row["words"] - p.epochs * corpus.tokens) > 0.01 * corpus.tokens:
    run.details["note"] = (f"metrics words={row['words']} differs from epochs * corpus tokens "
                           f"= {p.epochs * corpus.tokens}")
  return run


RUNNERS: dict[str, Callable] = {
    "gensim": run_gensim, "gensim_iter": functools.partial(run_gensim, mode="iterable"),
    "word2vec_c": run_word2vec_c, "fasttext": run_fasttext}


def run_system(name: str, p: Params, corpus: PreparedCorpus, out_root: str,
               cpus: list[int] | None, timeout_s: float = 0, extra_flags: str = "") -> SystemRun:
  """Runs w2v_jax or one of BASELINES in a fresh OUT_ROOT/<name>_<model> work directory.

  `extra_flags` go to w2v_jax only. An exception in the harness itself becomes a failed row
  rather than ending the benchmark.
  """
  workdir = os.path.join(out_root, f"{name}_{p.model}")
  shutil.rmtree(workdir, ignore_errors=True)  # w2v_jax would resume a finished checkpoint
  os.makedirs(workdir)
  try:
    if name == "w2v_jax":
      return run_w2v_jax(p, corpus, workdir, cpus, timeout_s, extra_flags)
    return RUNNERS[name](p, corpus, workdir, cpus, timeout_s)
  except Exception as e:  # pylint: disable=broad-except
    return SystemRun(name, status="failed", reason=f"harness error: {type(e).__name__}: {e}")


def evaluate_vectors(path: str) -> dict:
  """Analogy accuracy and WS353 Spearman rho of a word2vec-format file, one evaluator for all.

  w2v_jax.evaluate on ANALOGIES (restrict_vocab=300000) and WORDSIM, whichever system wrote it.
  """
  words, vectors = formats.load_word2vec(path)
  report = evaluate.evaluate(words, vectors, ANALOGIES, WORDSIM, restrict_vocab=300000)
  return {"analogy": report["analogy"]["accuracy"],
          "wordsim353": report["wordsim353"]["spearman"], "evaluator": "w2v_jax.evaluate",
          "report": report}


def evaluate_runs(runs: list[SystemRun]) -> None:
  """Fills `quality` of every successful run (an evaluation error is recorded, not raised)."""
  for run in runs:
    if run.status == "ok":
      try:
        run.quality = evaluate_vectors(run.vectors)
      except Exception as e:  # pylint: disable=broad-except
        run.quality = {"error": f"{type(e).__name__}: {e}"}
