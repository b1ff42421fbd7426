"""GloVe (Pennington et al. 2014) on the word2vec pipeline: same vocabulary, same outputs.

Training follows GloVe's `glove.c` (glove_thread): for each nonzero X_ij, minimise
  f(X_ij) * (w_i . w~_j + b_i + b~_j - log X_ij)^2 / 2,   f(x) = min(1, (x / x_max)^power),
with GloVe's own AdaGrad: the step is eta * grad / sqrt(G) where G starts at 1.0 and is
incremented by (eta * grad)^2 *after* the step (glove.c accumulates the squared scaled
gradient, not the squared gradient, and reads G before adding). glove.c runs Hogwild threads
one entry at a time; we take synchronous minibatches of shuffled entries (as the word2vec
path does, see fidelity.md §10): every entry of a batch reads the same parameters, and the
updates (and the G increments) of rows that repeat within a batch are summed.
"""

import json
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import checkpoint, cooccur, metrics, resume
from w2v_jax import export as export_lib
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config
from w2v_jax.errors import Interrupted, W2VError

log = metrics.log


class GloveState(NamedTuple):
  """glove.c's W and gradsq side by side in one table, so a step gathers and scatters once.

  Rows 0..V-1 are word rows, V..2V-1 context rows (as glove.c's W). Columns [0, D) the vector,
  D the bias (together E = D + 1 parameters), [E, 2E) their AdaGrad accumulators.
  """
  table_RF: jax.Array  # (2V, 2(D + 1)) float32

  @property
  def w_RE(self):
    """The parameters (2V, D + 1): vector then bias."""
    return self.table_RF[:, :self.table_RF.shape[1] // 2]

  @property
  def g_RE(self):
    """glove.c's gradsq (2V, D + 1)."""
    return self.table_RF[:, self.table_RF.shape[1] // 2:]


def weight(x, x_max: float, power: float):
  """GloVe's f(x) = min(1, (x / x_max)^power) (glove.c: x > x_max ? 1 : pow(x/x_max, alpha))."""
  return jnp.minimum(1.0, (x / x_max) ** power)


def init_state(vocab_size: int, dim: int, seed: int) -> GloveState:
  """glove.c initialize_parameters: every entry, biases included, (rand() - 0.5) / (D + 1).

  (C divides by the temporarily incremented vector_size, i.e. D + 1, not D.) G starts at 1.0
  "so initial value of eta is equal to initial learning rate".
  """
  rng = np.random.default_rng(seed)
  w_RE = (rng.random((2 * vocab_size, dim + 1)) - 0.5) / (dim + 1)
  table_RF = np.concatenate([w_RE, np.ones_like(w_RE)], axis=1)
  return GloveState(jnp.asarray(table_RF, jnp.float32))


def batch_step(state: GloveState, i_N, j_N, x_N, m_N, *, x_max: float, power: float,
               eta: float) -> tuple[GloveState, jax.Array]:
  """One synchronous AdaGrad step on N entries (j_N already offset by V; m_N masks padding).

  Returns the new state and the summed cost 0.5 * f * diff^2 of the batch (before the step).
  """
  e = state.table_RF.shape[1] // 2
  d = e - 1
  ti_NF, tj_NF = state.table_RF[i_N], state.table_RF[j_N]
  wi_NE, wj_NE = ti_NF[:, :e], tj_NF[:, :e]
  diff_N = (jnp.sum(wi_NE[:, :d] * wj_NE[:, :d], axis=1) + wi_NE[:, d] + wj_NE[:, d]
            - jnp.log(x_N))
  fdiff_N = weight(x_N, x_max, power) * diff_N * m_N
  cost = jnp.sum(0.5 * fdiff_N * diff_N)
  g_N1 = (eta * fdiff_N)[:, None]
  one_N1 = jnp.ones_like(g_N1)
  # d cost / d w_i = fdiff * w~_j, d / d b_i = fdiff (and symmetrically for the context row).
  grad_i_NE = g_N1 * jnp.concatenate([wj_NE[:, :d], one_N1], axis=1)
  grad_j_NE = g_N1 * jnp.concatenate([wi_NE[:, :d], one_N1], axis=1)
  grad_ME = jnp.concatenate([grad_i_NE, grad_j_NE])
  gradsq_ME = jnp.concatenate([ti_NF[:, e:], tj_NF[:, e:]])  # G before this batch's increments
  update_MF = jnp.concatenate([-grad_ME / jnp.sqrt(gradsq_ME), grad_ME * grad_ME], axis=1)
  table_RF = state.table_RF.at[jnp.concatenate([i_N, j_N])].add(update_MF)
  return GloveState(table_RF), cost


def make_train_call(cfg: Config):
  """A jitted (state, i_SN, j_SN, x_SN, m_SN) -> (state, cost_sum): S batches in a lax.scan."""

  def body(state, xs):
    return batch_step(state, *xs, x_max=cfg.glove_x_max, power=cfg.glove_power,
                      eta=cfg.glove_eta)

  def call(state, i_SN, j_SN, x_SN, m_SN):
    state, cost_S = jax.lax.scan(body, state, (i_SN, j_SN, x_SN, m_SN))
    return state, cost_S.sum()

  return jax.jit(call, donate_argnums=0)


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
  """The entry order of one epoch: a fresh permutation per epoch, fixed by (seed, epoch).

  (GloVe's shuffle.c shuffles the co-occurrence file once; reshuffling per epoch is our
  choice: it also makes a resumed epoch replay the same order.)
  """
  return np.random.default_rng([seed, epoch, 0x610E]).permutation(n)


def _block(arrays, order, call, per_call, steps, batch):
  """Entries order[call*per_call : (call+1)*per_call], padded with mask 0, shaped (S, N)."""
  i_N, j_N, x_N = arrays
  take = order[call * per_call:(call + 1) * per_call]
  pad = per_call - take.shape[0]
  out = []
  for a, fill in ((i_N, 0), (j_N, 0), (x_N, 1.0)):
    out.append(np.concatenate([a[take], np.full(pad, fill, a.dtype)]).reshape(steps, batch))
  m = np.concatenate([np.ones(take.shape[0], np.float32), np.zeros(pad, np.float32)])
  return (*out, m.reshape(steps, batch))


def run(cfg: Config, workdir: str, *, overwrite: bool = False, save_text: bool = False,
        export_out: bool = False) -> dict:
  """Counts X, trains GloVe into `workdir` and exports word + context vectors (glove.c -model 2).

  Writes what train.run writes (config.json, vocab.txt, metrics.jsonl, checkpoints/,
  vectors.bin; vectors.txt with save_text; with export_out, vectors_out.bin = the context
  vectors alone). Checkpoints after every epoch and on SIGINT/SIGTERM; a re-run resumes.
  Returns the same summary keys as train.run.
  """
  from w2v_jax import train  # pylint: disable=import-outside-toplevel  (train dispatches here)
  cfg.validate()
  clock = metrics.Timer()
  os.makedirs(workdir, exist_ok=True)
  # pylint: disable=protected-access
  resume.check(cfg, workdir, overwrite)
  corpus = train._phrase_corpus(cfg, workdir) if cfg.phrases else cfg.corpus
  vocab, stream = vocab_lib.build(corpus, cfg.min_count, cfg.max_vocab)
  x = cooccur.count(stream, vocab.size, cfg.glove_window)
  del stream
  i_N, j_N, x_N = cooccur.entries(x)
  del x
  j_N = j_N + np.int32(vocab.size)  # context rows live at V..2V-1, as in glove.c
  vocab_seconds = clock()  # the vocabulary and the co-occurrence counts
  log.info("vocabulary: %d words (min_count %d) from %d tokens; %d nonzero co-occurrences "
           "(window %d) in %.1fs", vocab.size, cfg.min_count, vocab.total_tokens,
           i_N.shape[0], cfg.glove_window, vocab_seconds)
  if i_N.shape[0] == 0:
    raise W2VError("no two vocabulary words share a sentence: GloVe has nothing to fit; use a "
                   "larger corpus or a lower --min_count")

  mngr = checkpoint.make_manager(workdir, cfg.keep_checkpoints)
  state, meta = resume.restore_or_init(
      workdir, mngr, vocab, lambda: init_state(vocab.size, cfg.dim, cfg.seed))
  state = GloveState(**state) if isinstance(state, dict) else GloveState(*state)
  vocab_lib.save(vocab, os.path.join(workdir, "vocab.txt"))
  train.write_json(os.path.join(workdir, "config.json"), json.loads(cfg.to_json()))

  steps, batch = cfg.steps_per_call, cfg.glove_batch
  per_call = steps * batch
  nnz = i_N.shape[0]
  calls = -(-nnz // per_call)
  train_call = make_train_call(cfg)
  writer = metrics.MetricsWriter(workdir)
  compile_seconds, train_start, done_at_start = None, clock(), None
  step_host = (meta["epoch"] * calls + meta["call"]) * steps
  cost_acc, n_acc, last_log = 0.0, 0, -1e9

  def save(next_epoch, next_call):
    checkpoint.save(mngr, step_host, jax.device_get(state),
                    {"epoch": next_epoch, "call": next_call, "vocab": vocab.fingerprint()})

  with resume.StopOnSignal() as stop:
    for epoch in range(meta["epoch"], cfg.epochs):
      order = epoch_order(nnz, cfg.seed, epoch)
      epoch_cost, epoch_n = 0.0, 0
      first = meta["call"] if epoch == meta["epoch"] else 0
      for call in range(first, calls):
        block = _block((i_N, j_N, x_N), order, call, per_call, steps, batch)
        if compile_seconds is None:  # compile ahead so the throughput counts training only
          t0 = clock()
          train_call = train_call.lower(state, *block).compile()
          compile_seconds = clock() - t0
          train_start, done_at_start = clock(), epoch * nnz + call * per_call
        state, cost = train_call(state, *block)
        step_host += steps
        n = min(per_call, nnz - call * per_call)
        cost = float(cost)
        if not np.isfinite(cost):
          raise W2VError(f"the GloVe cost became {cost} in epoch {epoch + 1}: training "
                         "diverged (is --glove_eta too large?); the last good checkpoint is kept")
        cost_acc, n_acc = cost_acc + cost, n_acc + n
        epoch_cost, epoch_n = epoch_cost + cost, epoch_n + n
        end = call + 1 == calls
        now = clock()
        if end or now - last_log >= cfg.log_every_secs:
          done = epoch * nnz + call * per_call + n
          secs = max(now - train_start, 1e-9)
          row = {"step": step_host, "epoch": epoch, "progress": done / (cfg.epochs * nnz),
                 "words": int(done / nnz * vocab.total_tokens),
                 # corpus tokens' worth of entries per second, comparable to word2vec's words/s
                 "words_per_sec": (done - done_at_start) / nnz * vocab.total_tokens / secs,
                 "entries_per_sec": (done - done_at_start) / secs,
                 "loss": cost_acc / max(n_acc, 1), "lr": cfg.glove_eta, "elapsed": now,
                 "train_seconds": secs}
          if end:
            row["epoch_cost"] = epoch_cost / max(epoch_n, 1)  # glove.c's "iter: N, cost: C"
          writer.write(row)
          log.info(metrics.progress_line(row) + (f" | epoch {epoch + 1} cost "
                                                 f"{row['epoch_cost']:.5f}" if end else ""))
          cost_acc, n_acc, last_log = 0.0, 0, now
        if end:
          save(epoch + 1, 0)
        elif stop.signal:
          save(epoch, call + 1)
          checkpoint.wait(mngr)
          raise Interrupted(f"stopped by {stop.signal} in epoch {epoch + 1}; checkpoint saved; "
                            "re-run the same command to resume")
  checkpoint.wait(mngr)
  mngr.close()
  writer.close()
  train_seconds = clock() - train_start if compile_seconds is not None else 0.0

  w_RE = np.asarray(jax.device_get(state.w_RE))
  word_VD, context_VD = w_RE[:vocab.size, :cfg.dim], w_RE[vocab.size:, :cfg.dim]
  emb_VD = word_VD + context_VD  # glove.c's default output, -model 2: word + context, no bias
  if not np.all(np.isfinite(emb_VD)):
    raise W2VError("GloVe diverged: the vectors contain NaN/Inf (is --glove_eta too large?)")
  # vectors.bin (and vectors.txt) hold the sum; --export_out's vectors_out.bin the context.
  export_lib.write(workdir, vocab.words, emb_VD, context_VD, ("out",) if export_out else (),
                   save_text)
  return {"vocab_size": vocab.size, "tokens": vocab.total_tokens, "vocab_seconds": vocab_seconds,
          "compile_seconds": compile_seconds or 0.0, "train_seconds": train_seconds,
          "steps": step_host, "elapsed": clock(), "words": vocab.words, "emb_in": emb_VD,
          "nonzeros": int(nnz)}
