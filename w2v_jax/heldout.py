"""A held-out loss: the corpus's last sentences kept out of training, scored without updates.

The split (`split`) takes the last `fraction` of the id stream, widened back to the start of
the sentence it begins in, so no sentence is shared and no window crosses the cut (a corpus
without newlines is cut at the exact token). The vocabulary is still counted on the whole
corpus, as word2vec.c would count it (LearnVocabFromTrainFile reads every word), so held-out
words are in the vocabulary; only training skips them.

The held-out slice goes through the same pipeline as training (subsampling drawn once, with
epoch 0's seed; windows; negatives) so `heldout_loss` is comparable to the training loss: the
mean loss per example (pair for sg, centre for cbow). Its negatives and window radii come from
one fixed key, so two evaluations differ only by the parameters.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import data, step
from w2v_jax.errors import W2VError
from w2v_jax.vocab import SEP


def split(stream: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
  """(train, held-out) id streams: the held-out part starts at a sentence start."""
  if fraction <= 0:
    return stream, stream[:0]
  start = int(stream.shape[0] * (1 - fraction))
  seps = np.flatnonzero(stream[:start] == SEP)
  cut = int(seps[-1]) + 1 if seps.size else start
  train, held = stream[:cut], stream[cut:]
  if not np.any(train != SEP) or not np.any(held != SEP):
    raise W2VError(f"--heldout={fraction} leaves no training or no held-out words in a corpus "
                   f"of {stream.shape[0]} tokens; use a fraction in (0, 1) that keeps both")
  return train, held


def _loss_call(params, ids_SBL, seg_SBL, noise, key, tree, *, cfg):
  """(summed loss, examples) of S micro-steps of held-out blocks, without any update."""

  def micro_step(acc, xs):
    ids_BL, seg_BL, i = xs
    loss, n = step.batch_loss(params, ids_BL, seg_BL, jax.random.fold_in(key, i), noise, tree,
                              cfg)
    return (acc[0] + loss, acc[1] + n), None

  steps = jnp.arange(ids_SBL.shape[0], dtype=jnp.int32)
  (loss, n), _ = jax.lax.scan(micro_step, (jnp.float32(0), jnp.int32(0)),
                              (ids_SBL, seg_SBL, steps))
  return loss, n


class HeldOut:
  """Mean held-out loss per example of given parameters: `HeldOut(...)(params) -> float`."""

  def __init__(self, cfg, stream: np.ndarray, keep_V: np.ndarray, noise: tuple, key,
               tree: tuple | None = None):
    cfg = step.resolve(cfg)
    ep = data.subsample(stream, keep_V, cfg.seed, 0, cfg.max_sentence)
    (rows, row_tokens), steps = cfg.rows, cfg.steps_per_call
    calls = data.num_calls(ep.tokens.shape[0], steps, rows, row_tokens)
    self.blocks = [data.block(ep, c, steps, rows, row_tokens, cfg.window)[:2]
                   for c in range(calls)]
    self.tokens = int(ep.tokens.shape[0])
    self._noise, self._tree = noise, tree
    self._keys = [jax.random.fold_in(key, c) for c in range(calls)]
    self._call = jax.jit(functools.partial(_loss_call, cfg=cfg))

  def __call__(self, params: dict) -> float:
    # float32 sums per dispatch, float64 across dispatches (as the training loss).
    loss, n = 0.0, 0
    for (ids, seg), key in zip(self.blocks, self._keys):
      l, k = self._call(params, ids, seg, self._noise, key, self._tree)
      loss, n = loss + float(l), n + int(k)
    return loss / max(n, 1)
