"""Continuing training (--init_from): pretrained vectors or an earlier run as the first tables.

PATH is an earlier run's workdir (its final input and output tables from the last checkpoint,
and its vocabulary counts) or a word2vec text/binary file (input vectors; --init_from_out may
give the output table, else it starts at zero). The new corpus's vocabulary is merged with
PATH's: every word of PATH keeps its row (also below --min_count in the new corpus, whose
occurrences then train it), and the new corpus's words with >= --min_count occurrences that
PATH lacks get fresh rows. The merged vocabulary is sorted by the counts that drive
subsampling and the noise distribution (--init_counts):

* sum: PATH's counts plus the new corpus's (a workdir only: a vectors file has no counts);
* new: the new corpus's counts alone, PATH's words that it lacks counting 1 (never drawn much
  as noise, never subsampled).

Hierarchical softmax's inner nodes depend on the merged counts' Huffman tree, so emb_hs starts
at zero. With --freeze_init the input rows that came from PATH never change (gensim's
`lockf`); the output table still trains.
"""

import dataclasses
import os

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import checkpoint, evaluate, formats, optim, step, textio
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config, resolve
from w2v_jax.errors import W2VError

@dataclasses.dataclass
class Prior:
  """What a run starts from: PATH's words, counts (None for a vectors file) and tables."""
  words: list[str]
  counts: np.ndarray | None
  emb_in: np.ndarray
  emb_out: np.ndarray | None
  source: str


def load(cfg: Config) -> Prior:
  """The Prior of cfg.init_from, checked against cfg (dimension, model)."""
  path = cfg.init_from
  if not os.path.exists(path):
    raise W2VError(f"--init_from {path!r} does not exist")
  prior = _from_workdir(path, cfg) if os.path.isdir(path) else _from_vectors(path, cfg)
  if prior.emb_in.shape[1] != cfg.dim:
    raise W2VError(f"--init_from {path!r} has dimension {prior.emb_in.shape[1]}, the run "
                   f"--dim={cfg.dim}; pass --dim={prior.emb_in.shape[1]}")
  if not np.all(np.isfinite(prior.emb_in)):
    raise W2VError(f"--init_from {path!r} holds NaN/Inf vectors")
  return prior


def counts_rule(cfg: Config) -> str:
  """--init_counts, defaulting to sum for a workdir and new for a vectors file."""
  return cfg.init_counts or ("sum" if os.path.isdir(cfg.init_from) else "new")


def _from_vectors(path: str, cfg: Config) -> Prior:
  if counts_rule(cfg) == "sum":
    raise W2VError("--init_counts=sum needs --init_from=WORKDIR (a vectors file has no counts); "
                   "use --init_counts=new")
  words, emb_in = formats.load_word2vec(path)
  emb_out = None
  if cfg.init_from_out:
    out_words, emb_out = formats.load_word2vec(cfg.init_from_out)
    if out_words != words or emb_out.shape != emb_in.shape:
      raise W2VError(f"--init_from_out {cfg.init_from_out!r} does not hold the same words and "
                     f"dimension as --init_from {path!r}")
  if len(set(words)) != len(words):
    raise W2VError(f"--init_from {path!r} repeats words")
  return Prior(words, None, emb_in, emb_out, path)


def _from_workdir(path: str, cfg: Config) -> Prior:
  """The final tables of a finished run in `path` (its last checkpoint) and its counts."""
  try:
    with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
      old = resolve(Config.from_json(f.read()))
    with open(os.path.join(path, "vocab.txt"), encoding="utf-8") as f:
      rows = [line.rsplit(" ", 1) for line in f.read().splitlines() if line]
    words, counts = [w for w, _ in rows], np.array([int(c) for _, c in rows], np.int64)
  except (OSError, ValueError, TypeError) as e:
    raise W2VError(f"--init_from {path!r} is not a w2v_jax run (config.json or vocab.txt: "
                   f"{e})") from None
  if old.model != cfg.model or old.model == "glove":
    raise W2VError(f"--init_from {path!r} is a --model={old.model} run; this run is "
                   f"--model={cfg.model}")
  state, meta = _restore(path, old, len(words))
  if meta is None or meta.get("epoch") != old.epochs or not os.path.exists(
      os.path.join(path, "vectors.bin")):
    raise W2VError(f"--init_from {path!r} is not a finished run (no final checkpoint and "
                   "vectors.bin); finish it first or pass its vectors file")
  params = state.params
  return Prior(words, counts, np.asarray(params["emb_in"]), np.asarray(params["emb_out"]), path)


def _restore(path: str, old: Config, vocab_size: int):
  """(state, meta) of the run's latest good checkpoint, or (None, None)."""
  tx = step.make_optimizer(old)
  mngr = checkpoint.make_manager(path, old.keep_checkpoints)
  try:
    if not mngr.all_steps():
      return None, None
    return checkpoint.restore_latest(
        mngr, jax.eval_shape(lambda: step.init_state(old, vocab_size, tx)))
  finally:
    mngr.close()


def merge(prior: Prior, words: list[str], counts: np.ndarray, raw_ids: np.ndarray,
          cfg: Config, pattern: str) -> tuple[vocab_lib.Vocab, np.ndarray, np.ndarray]:
  """(merged vocab, training stream in its ids, row of each PATH word in it).

  `words`, `counts`, `raw_ids` are corpus.encode's first-appearance view of the new corpus.
  """
  total = vocab_lib.corpus_tokens(counts, pattern)
  new_count = dict(zip(words[1:], counts[1:].tolist()))
  known = set(prior.words)
  fresh = [w for w in words[1:] if w not in known and new_count[w] >= cfg.min_count]
  if not fresh and not any(w in new_count for w in prior.words):
    raise W2VError(f"corpus {pattern!r} shares no word with --init_from and has none with "
                   f">= --min_count={cfg.min_count} occurrences: nothing to train")
  merged = prior.words + fresh
  if counts_rule(cfg) == "sum":
    drive = np.concatenate([prior.counts, np.zeros(len(fresh), np.int64)])
    drive += np.array([new_count.get(w, 0) for w in merged], np.int64)
  else:
    drive = np.array([max(new_count.get(w, 0), 1) for w in merged], np.int64)
  order = np.argsort(-drive, kind="stable")  # by count, PATH's words first on ties
  rank = np.empty(len(merged), np.int64)
  rank[order] = np.arange(len(merged))
  vocab = vocab_lib.Vocab([merged[i] for i in order], drive[order], total)
  position = {w: int(rank[i]) for i, w in enumerate(merged)}
  remap = np.array([vocab_lib.SEP] + [position.get(w, -2) for w in words[1:]], np.int32)
  stream = remap[raw_ids]
  return vocab, stream[stream != -2], rank[:len(prior.words)].astype(np.int32)


def place(params: dict, prior: Prior, rows_P: np.ndarray, freeze: bool) -> dict:
  """`params` (fresh tables of the merged vocabulary) with PATH's rows written in; with
  `freeze` also the optim.FROZEN mask."""
  ids = jnp.asarray(rows_P)
  out = dict(params)
  out["emb_in"] = params["emb_in"].at[ids].set(jnp.asarray(prior.emb_in))
  if prior.emb_out is not None:
    out["emb_out"] = params["emb_out"].at[ids].set(jnp.asarray(prior.emb_out))
  if freeze:
    out[optim.FROZEN] = jnp.zeros(params["emb_in"].shape[0], jnp.float32).at[ids].set(1.0)
  return out


def report(prior: Prior, vocab, rows_P: np.ndarray, emb_in: np.ndarray) -> dict:
  """What continuing changed: vocabulary sizes and the mean cosine of PATH's words' vectors
  before and after (1.0 when frozen)."""
  (old, _), (new, _) = evaluate.unit_rows(prior.emb_in), evaluate.unit_rows(emb_in[rows_P])
  cos = np.sum(old * new, axis=1)
  return {"init_from": prior.source, "prior_words": len(prior.words),
          "vocab_size": vocab.size, "new_words": vocab.size - len(prior.words),
          "mean_cosine_to_prior": float(cos.mean())}


def write_report(workdir: str, summary: dict) -> None:
  textio.write_json(os.path.join(workdir, "init_from.json"), summary)
