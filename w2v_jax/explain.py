"""The explainer's toy: a tiny corpus where two words share every context, trained in 2-D by the
library's own step, with snapshots of the tables for pictures (experiments/explain.py).

Nothing here is a separate toy implementation: the vocabulary, the sampling tables, the epochs'
blocks (train.Word2VecJob), the loss and the SGD step are the ones train.run uses; only the loop
keeps every dispatch's tables.
"""

import dataclasses

import numpy as np

from w2v_jax import evaluate, step, train
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
  keep_V, noise, tree = train.tables(cfg, vocab)
  tx = step.make_optimizer(cfg)
  strategy = train.Strategy(cfg, tx, vocab.size)
  job = train.Word2VecJob(cfg, strategy, stream, keep_V, noise, tree, vocab.total_tokens,
                          workdir="")
  state = strategy.place(step.init_state(cfg, vocab.size, tx))
  ins, outs, losses, touched = [np.asarray(state.params["emb_in"])], [
      np.asarray(state.params["emb_out"])], [], []
  for epoch in range(cfg.epochs):
    for call in range(job.start_epoch(epoch)):
      state, stats = strategy.train_call(state, *job.block(call))
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
  ranked = evaluate.predict_output_word(trace.words, trace.emb_in_TVD[-1],
                                        trace.emb_out_TVD[-1], [word], topn=len(trace.words))
  p_V = np.array([p for _, p in ranked])
  sampled = np.random.default_rng(seed).choice(len(ranked), p=p_V / p_V.sum())
  return {"word": word, "probabilities": dict(ranked), "argmax": ranked[0][0],
          "sampled": ranked[int(sampled)][0]}


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
