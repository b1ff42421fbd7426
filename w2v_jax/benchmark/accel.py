"""The stages of `python -m experiments.accel_bench`: one accelerator (or the CPU) measured alone.

Each stage is a function returning a JSON-ready dict; the script runs them in priority order
and writes its report after every one, so a run cut short still reports what it measured.

* `environment`: jax and the devices.
* `end_to_end`: train.run on a corpus (words/s of training, compile seconds, analogy/WS-353).
* `step_time`: one micro-step on synthetic Zipf-distributed ids, timed over repeated dispatches
  (microseconds per step, words per second, peak device memory where the backend reports it).
* `scatter_probe`: scatter-add of many updates into one hot row against the same number spread
  over the table: the contention that some jaxlib versions compile to a compare-and-swap loop
  on NVIDIA GPUs (jax-ml/jax#38806).
"""

import os
import time

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import evaluate, step, train
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config


def environment() -> dict:
  """jax's version, backend and devices."""
  devices = jax.devices()
  return {"jax": jax.__version__, "backend": jax.default_backend(),
          "devices": [str(d) for d in devices], "device_kind": devices[0].device_kind,
          "device_count": len(devices)}


def peak_memory_bytes() -> int | None:
  """The first device's peak memory in use, where its backend reports it (GPUs, TPUs)."""
  stats = jax.devices()[0].memory_stats() or {}
  return stats.get("peak_bytes_in_use")


def end_to_end(cfg: Config, workdir: str) -> dict:
  """Trains `cfg` into `workdir` (overwriting it) and scores the vectors."""
  cfg = step.resolve(cfg)
  out = train.run(cfg, workdir, overwrite=True)
  report = evaluate.evaluate(out["words"], out["emb_in"])
  epoch_tokens = out["tokens"] * cfg.epochs
  return {"model": cfg.model, "dim": cfg.dim, "batch_size": cfg.batch_size,
          "steps_per_call": cfg.steps_per_call,
          "vocab_size": out["vocab_size"], "corpus_tokens": out["tokens"],
          "epochs": cfg.epochs, "train_seconds": out["train_seconds"],
          "compile_seconds": out["compile_seconds"], "vocab_seconds": out["vocab_seconds"],
          "elapsed_seconds": out["elapsed"],
          "train_words_per_sec": epoch_tokens / max(out["train_seconds"], 1e-9),
          "analogy": report["analogy"]["accuracy"],
          "wordsim353": report["wordsim353"]["spearman"],
          "peak_memory_bytes": peak_memory_bytes()}


def zipf_counts(vocab_size: int, tokens: int) -> np.ndarray:
  """Counts of a Zipf (1/rank) vocabulary of `tokens` words, most frequent first, each >= 1."""
  p = 1.0 / np.arange(1, vocab_size + 1)
  return np.maximum(np.round(tokens * p / p.sum()), 1).astype(np.int64)


def _synthetic_block(cfg: Config, counts: np.ndarray, steps: int, seed: int):
  """(ids_SBL, seg_SBL) of Zipf-distributed ids in one segment: a dispatch's data."""
  rows, row_tokens = cfg.rows
  shape = (steps, rows, row_tokens + 2 * cfg.window)
  rng = np.random.default_rng(seed)
  ids = rng.choice(len(counts), size=shape, p=counts / counts.sum()).astype(np.int32)
  return ids, np.zeros(shape, np.int32)


def step_time(cfg: Config, vocab_size: int = 70_000, dispatches: int = 5, seed: int = 0) -> dict:
  """Microseconds per micro-step of `cfg` (one device) on synthetic Zipf ids."""
  cfg = step.resolve(cfg)
  counts = zipf_counts(vocab_size, 10 * vocab_size)
  vocab = vocab_lib.Vocab([str(i) for i in range(vocab_size)], counts, int(counts.sum()))
  _, noise, tree = train.tables(cfg, vocab)
  tx = step.make_optimizer(cfg)
  call = step.make_train_call(cfg, tx)
  state = jax.jit(lambda: step.init_state(cfg, vocab_size, tx))()
  ids, seg = _synthetic_block(cfg, counts, cfg.steps_per_call, seed)
  ids, seg = jax.device_put(ids), jax.device_put(seg)
  progress = jnp.zeros(cfg.steps_per_call, jnp.float32)
  t0 = time.perf_counter()
  compiled = call.lower(state, ids, seg, progress, noise, *tree).compile()
  compile_s = time.perf_counter() - t0
  state, stats = compiled(state, ids, seg, progress, noise, *tree)  # warm-up
  jax.block_until_ready(stats)
  t0 = time.perf_counter()
  for _ in range(dispatches):
    state, stats = compiled(state, ids, seg, progress, noise, *tree)
  jax.block_until_ready((state, stats))
  seconds = (time.perf_counter() - t0) / (dispatches * cfg.steps_per_call)
  return {"model": cfg.model, "dim": cfg.dim, "centres_per_step": cfg.batch_size,
          "steps_per_call": cfg.steps_per_call, "vocab_size": vocab_size,
          "compile_seconds": compile_s, "us_per_step": seconds * 1e6,
          "centres_per_sec": cfg.batch_size / seconds,
          "finite": bool(np.isfinite(float(stats["loss_sum"]))),
          "peak_memory_bytes": peak_memory_bytes()}


def scatter_probe(rows: int = 70_000, dim: int = 100, updates: int = 1 << 18,
                  repeats: int = 5) -> dict:
  """Seconds per scatter-add of `updates` (dim)-rows into a (rows, dim) table: all into row 0
  (hot) against uniformly spread; the ratio hot / spread is ~1 where scatter-add is sane."""
  add = jax.jit(lambda t, i, u: t.at[i].add(u), donate_argnums=0)
  upd = jnp.ones((updates, dim), jnp.float32)
  result = {"rows": rows, "dim": dim, "updates": updates}
  for name, idx in (("spread", np.random.default_rng(0).integers(0, rows, updates)),
                    ("hot", np.zeros(updates, np.int64))):
    idx = jnp.asarray(idx, jnp.int32)
    table = add(jnp.zeros((rows, dim), jnp.float32), idx, upd)  # compile and warm up
    jax.block_until_ready(table)
    t0 = time.perf_counter()
    for _ in range(repeats):
      table = add(table, idx, upd)
    jax.block_until_ready(table)
    result[f"{name}_seconds"] = (time.perf_counter() - t0) / repeats
  result["hot_over_spread"] = result["hot_seconds"] / max(result["spread_seconds"], 1e-12)
  return result


def default_corpus(repo: str) -> str:
  """part00 where a device run carries it (bench_data/), else the bundled sample."""
  carried = os.path.join(repo, "bench_data", "enwiki2015.part00.txt.gz")
  return carried if os.path.exists(carried) else os.path.join(
      repo, "data", "sample", "enwiki2015.part04.txt.gz")
