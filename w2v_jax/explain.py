"""The explainer's toy: a tiny corpus where two words share every context, trained in 2-D by the
library's own step, with snapshots of the tables for pictures (experiments/explain.py).

Nothing here is a separate toy implementation: the vocabulary, subsampling, blocks, the loss and
the SGD step are the ones train.run uses; only the loop keeps every dispatch's tables.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import data, huffman, objectives, step
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config

PAIR = ("titanic", "avatar")  # the two movies: every sentence about one exists about the other


def toy_corpus(repeats: int = 20, seed: int = 0) -> str:
  """Sentences about two movies that share every context ("titanic was great", "avatar was
  great"), and about food and animals that share none of theirs; one sentence per line."""
  rng = np.random.default_rng(seed)
  movie = ["i watched {} it was great", "{} was awesome", "the movie {} was great",
           "we loved {} so awesome", "{} is a great film"]
  other = ["i ate pizza it was tasty", "pasta is tasty food", "the dog chased the cat",
           "a cat and a dog played", "we cooked pasta and pizza", "the cat slept"]
  lines = []
  for _ in range(repeats):
    for template in movie:
      lines.extend(template.format(m) for m in PAIR)
    lines.extend(other)
  return "\n".join(lines[i] for i in rng.permutation(len(lines))) + "\n"


@dataclasses.dataclass
class Trace:
  """A toy run: the vocabulary, per-dispatch snapshots and what each step touched."""
  words: list[str]
  emb_in_TVD: np.ndarray     # input vectors after each dispatch, T = dispatches + 1
  emb_out_TVD: np.ndarray
  loss_T: np.ndarray         # mean loss per example of each dispatch (T - 1 values)
  out_rows_per_step: float   # distinct output rows one dispatch (one step) updates, on average
  cfg: Config


def _distinct_out_rows(before_VD: np.ndarray, after_VD: np.ndarray) -> int:
  return int(np.sum(np.any(before_VD != after_VD, axis=1)))


def train_toy(corpus_path: str, cfg: Config) -> Trace:
  """Trains `cfg` on the toy corpus one dispatch at a time, keeping every dispatch's tables."""
  cfg = step.resolve(cfg)
  vocab, stream = vocab_lib.build(corpus_path, cfg.min_count)
  keep_V = vocab_lib.keep_probs(vocab, cfg.sample)
  noise = tuple(jnp.asarray(a) for a in vocab_lib.noise_alias(vocab, cfg.ns_exponent))
  tree = (tuple(jnp.asarray(a) for a in huffman.build(vocab.counts))
          if objectives.uses(cfg.loss, "hs") else None)
  tx = step.make_optimizer(cfg)
  call = step.make_train_call(cfg, tx)
  state = step.init_state(cfg, vocab.size, tx)
  rows, row_tokens = cfg.rows
  ins, outs, losses, touched = [np.asarray(state.params["emb_in"])], [
      np.asarray(state.params["emb_out"])], [], []
  for epoch in range(cfg.epochs):
    ep = data.subsample(stream, keep_V, cfg.seed, epoch, cfg.max_sentence)
    for c in range(data.num_calls(ep.tokens.shape[0], cfg.steps_per_call, rows, row_tokens)):
      ids, seg, pos = data.block(ep, c, cfg.steps_per_call, rows, row_tokens, cfg.window)
      progress = ((epoch + pos / ep.stream_len) / cfg.epochs).astype(np.float32)
      state, stats = call(state, ids, seg, progress, noise, tree)
      ins.append(np.asarray(state.params["emb_in"]))
      outs.append(np.asarray(state.params["emb_out"]))
      losses.append(float(stats["loss_sum"]) / max(int(stats["examples"]), 1))
      touched.append(_distinct_out_rows(outs[-2], outs[-1]))
  return Trace(vocab.words, np.stack(ins), np.stack(outs), np.array(losses),
               float(np.mean(touched)), cfg)


def cosine(a_D: np.ndarray, b_D: np.ndarray) -> float:
  return float(a_D @ b_D / max(np.linalg.norm(a_D) * np.linalg.norm(b_D), 1e-30))


def pair_cosines(trace: Trace) -> np.ndarray:
  """The cosine of the PAIR's input vectors after each dispatch."""
  i, j = (trace.words.index(w) for w in PAIR)
  return np.array([cosine(e[i], e[j]) for e in trace.emb_in_TVD])


def softmax_prediction(trace: Trace, word: str, seed: int = 0) -> dict:
  """The output side's softmax over the vocabulary for input `word` (skip-gram: the predicted
  context word), its argmax, and one word sampled from it."""
  x_D = trace.emb_in_TVD[-1][trace.words.index(word)]
  logits_V = trace.emb_out_TVD[-1] @ x_D
  p_V = np.exp(logits_V - logits_V.max())
  p_V /= p_V.sum()
  sampled = np.random.default_rng(seed).choice(len(p_V), p=p_V)
  return {"word": word, "probabilities": dict(zip(trace.words, p_V.tolist())),
          "argmax": trace.words[int(np.argmax(p_V))], "sampled": trace.words[int(sampled)]}


def parameter_count(vocab: int, dim: int) -> dict:
  """word2vec's weights: V x D input vectors (the embeddings) and V x D output vectors."""
  return {"vocab": vocab, "dim": dim, "input_weights": vocab * dim,
          "output_weights": vocab * dim, "total": 2 * vocab * dim,
          "float32_bytes": 8 * vocab * dim}


def toy_config(**overrides) -> Config:
  """Two dimensions, a small window and batch: the settings of the explainer's runs."""
  base = dict(model="sg", dim=2, window=2, negatives=3, min_count=1, sample=0.0, epochs=30,
              alpha=0.05, batch_size=16, row_tokens=16, steps_per_call=1, devices=1,
              init_range=0.5, seed=0)
  return Config(**{**base, **overrides})
