"""Downstream sentence classification on top of word2vec vectors (Flax NNX + optax).

Owns: the embedding table of each mode, the two classifiers (masked mean -> MLP, and a GRU)
and their jitted Adam training loop with early stopping on dev accuracy. The sentence sets
themselves (reading, splits, vocabulary, ids) are w2v_jax.labelled's.

Modes: "random" (table drawn at random, trained), "frozen" (pretrained vectors, never updated:
optax.multi_transform gives the table optax.set_to_zero()), "finetune" (pretrained, trained).
"""

import dataclasses
import time
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from w2v_jax.errors import W2VError
from w2v_jax.labelled import PAD_ID, UNK_ID, Encoded

MODELS = ("mean", "gru")
MODES = ("random", "frozen", "finetune")
RANDOM_STD = 0.1  # std of every row of a "random" table


def embedding_table(words: Sequence[str], pretrained_words: Sequence[str],
                    vectors_PD: np.ndarray, mode: str, seed: int = 0) -> np.ndarray:
  """The initial V x D table. PAD is zero.

  "random": every other row ~ N(0, RANDOM_STD^2), independent of the pretrained values.
  "frozen"/"finetune": pretrained rows copied; UNK and training-only words ~ N(0, s^2) with s
  the pretrained values' std (as Kim 2014 does).
  """
  if mode not in MODES:
    raise W2VError(f"unknown mode {mode!r}, expected one of {', '.join(MODES)}")
  vectors_PD = np.asarray(vectors_PD, dtype=np.float32)
  V, D = len(words), vectors_PD.shape[1]
  std = RANDOM_STD if mode == "random" else float(vectors_PD.std()) or RANDOM_STD
  table_VD = np.random.default_rng(seed).normal(0.0, std, size=(V, D)).astype(np.float32)
  table_VD[PAD_ID] = 0.0
  if mode != "random":
    index = {w: i for i, w in enumerate(words) if i > UNK_ID}
    rows = [(index[w], p) for p, w in enumerate(pretrained_words) if w in index]
    table_VD[[r for r, _ in rows]] = vectors_PD[[p for _, p in rows]]
  return table_VD + 0.0  # no -0.0: x + 0.0 (a frozen update) must give back x bit for bit


class MeanClassifier(nnx.Module):
  """Masked mean of the embeddings -> ReLU MLP (hidden > 0) or linear layer -> logits."""

  def __init__(self, table_VD: np.ndarray, n_classes: int, hidden: int, rngs: nnx.Rngs):
    V, D = table_VD.shape
    self.embed = nnx.Embed(V, D, embedding_init=lambda *_: jnp.asarray(table_VD), rngs=rngs)
    self.hidden = nnx.Linear(D, hidden, rngs=rngs) if hidden else None
    self.out = nnx.Linear(hidden or D, n_classes, rngs=rngs)

  def __call__(self, ids_BxT: jax.Array, mask_BxT: jax.Array) -> jax.Array:
    emb_BxTxD = self.embed(ids_BxT) * mask_BxT[..., None]
    h_BxD = emb_BxTxD.sum(axis=1) / jnp.maximum(mask_BxT.sum(axis=1, keepdims=True), 1.0)
    if self.hidden is not None:
      h_BxD = jax.nn.relu(self.hidden(h_BxD))
    return self.out(h_BxD)


class GRUClassifier(nnx.Module):
  """A GRU over the embeddings; its state after the last real token -> linear layer -> logits."""

  def __init__(self, table_VD: np.ndarray, n_classes: int, hidden: int, rngs: nnx.Rngs):
    V, D = table_VD.shape
    self.embed = nnx.Embed(V, D, embedding_init=lambda *_: jnp.asarray(table_VD), rngs=rngs)
    self.rnn = nnx.RNN(nnx.GRUCell(D, hidden or D, rngs=rngs), rngs=False)
    self.out = nnx.Linear(hidden or D, n_classes, rngs=rngs)

  def __call__(self, ids_BxT: jax.Array, mask_BxT: jax.Array) -> jax.Array:
    emb_BxTxD = self.embed(ids_BxT)
    carry_BxH = jnp.zeros((ids_BxT.shape[0], self.out.in_features), emb_BxTxD.dtype)
    lengths_B = jnp.maximum(mask_BxT.sum(axis=1).astype(jnp.int32), 1)
    h_BxH, _ = self.rnn(emb_BxTxD, initial_carry=carry_BxH, seq_lengths=lengths_B,
                        return_carry=True)
    return self.out(h_BxH)


def make_model(kind: str, table_VD: np.ndarray, n_classes: int, hidden: int = 100,
               seed: int = 0) -> nnx.Module:
  """A "mean" or "gru" classifier whose embedding starts as `table_VD`."""
  classes = {"mean": MeanClassifier, "gru": GRUClassifier}
  if kind not in classes:
    raise W2VError(f"unknown model {kind!r}, expected one of {', '.join(MODELS)}")
  return classes[kind](table_VD, n_classes, hidden, nnx.Rngs(seed))


def make_optimizer(mode: str, learning_rate: float) -> optax.GradientTransformation:
  """Adam for every parameter, except the embedding table in "frozen" mode (set to zero)."""
  if mode not in MODES:
    raise W2VError(f"unknown mode {mode!r}, expected one of {', '.join(MODES)}")
  embed_tx = optax.set_to_zero() if mode == "frozen" else optax.adam(learning_rate)
  return optax.multi_transform({"embedding": embed_tx, "other": optax.adam(learning_rate)},
                               param_labels)


def param_labels(params: nnx.State) -> nnx.State:
  """"embedding" for the leaves under the model's `embed` attribute, "other" for the rest."""
  return jax.tree_util.tree_map_with_path(
      lambda path, _: "embedding" if path[0].key == "embed" else "other", params)


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Hyper-parameters of `train_classifier`."""
  epochs: int = 10
  batch_size: int = 50
  learning_rate: float = 1e-3
  hidden: int = 100
  patience: int = 3  # stop after this many epochs without a better dev accuracy
  seed: int = 0


@dataclasses.dataclass
class Result:
  """What `train_classifier` returns; `model` holds the parameters of the best dev epoch."""
  model: nnx.Module
  dev_accuracy: float
  test_accuracy: float | None
  best_epoch: int
  epochs_run: int
  dev_history: list[float]
  seconds: float


def _batches(n: int, batch: int, order_N: np.ndarray):
  """(indices, weights) of fixed-size batches; the last is padded with weight-0 rows."""
  for start in range(0, n, batch):
    idx = order_N[start:start + batch]
    pad = batch - len(idx)
    yield np.concatenate([idx, np.zeros(pad, idx.dtype)]), np.r_[np.ones(len(idx)), np.zeros(pad)]


def train_classifier(kind: str, mode: str, table_VD: np.ndarray, data: dict[str, Encoded],
                     n_classes: int, cfg: TrainConfig = TrainConfig()) -> Result:
  """Trains with Adam on data["train"], keeps the epoch with the best data["dev"] accuracy
  (early stopping after cfg.patience worse epochs) and scores it on data["test"] if given."""
  start_time = time.perf_counter()
  model = make_model(kind, table_VD, n_classes, cfg.hidden, cfg.seed)
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  tx = make_optimizer(mode, cfg.learning_rate)
  opt_state = tx.init(params)

  def loss_fn(params, ids_BxT, mask_BxT, labels_B, weights_B):
    logits_BxC = nnx.merge(graphdef, params, rest)(ids_BxT, mask_BxT)
    ce_B = optax.softmax_cross_entropy_with_integer_labels(logits_BxC, labels_B)
    return (ce_B * weights_B).sum() / jnp.maximum(weights_B.sum(), 1.0)

  @jax.jit
  def train_step(params, opt_state, ids_BxT, mask_BxT, labels_B, weights_B):
    loss, grads = jax.value_and_grad(loss_fn)(params, ids_BxT, mask_BxT, labels_B, weights_B)
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  @jax.jit
  def predict(params, ids_BxT, mask_BxT):
    return nnx.merge(graphdef, params, rest)(ids_BxT, mask_BxT).argmax(axis=-1)

  def accuracy(params, split: Encoded) -> float:
    n, preds = len(split.labels_N), []
    for idx, _ in _batches(n, cfg.batch_size, np.arange(n)):
      preds.append(np.asarray(predict(params, split.ids_NxT[idx], split.mask_NxT[idx])))
    return float((np.concatenate(preds)[:n] == split.labels_N).mean())

  rng = np.random.default_rng(cfg.seed)
  train = data["train"]
  best, best_params, best_epoch, history = -1.0, params, 0, []
  for epoch in range(1, cfg.epochs + 1):
    for idx, w_B in _batches(len(train.labels_N), cfg.batch_size,
                             rng.permutation(len(train.labels_N))):
      params, opt_state, _ = train_step(params, opt_state, train.ids_NxT[idx],
                                        train.mask_NxT[idx], train.labels_N[idx],
                                        w_B.astype(np.float32))
    history.append(accuracy(params, data["dev"]))
    if history[-1] > best:
      best, best_params, best_epoch = history[-1], params, epoch
    elif epoch - best_epoch >= cfg.patience:
      break
  test = accuracy(best_params, data["test"]) if "test" in data else None
  return Result(nnx.merge(graphdef, best_params, rest), best, test, best_epoch, len(history),
                history, time.perf_counter() - start_time)
