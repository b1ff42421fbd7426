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

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import checkpoint, config, cooccur, metrics, resume, runner
from w2v_jax import export as export_lib
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

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
  """A jitted (state, i_SN, j_SN, x_SN, m_SN) -> (state, stats): S batches in a lax.scan.

  stats: the summed cost ("loss_sum"), the entries trained ("examples") and eta ("lr").
  """

  def body(state, xs):
    return batch_step(state, *xs, x_max=cfg.glove_x_max, power=cfg.glove_power,
                      eta=cfg.glove_eta)

  def call(state, i_SN, j_SN, x_SN, m_SN):
    state, cost_S = jax.lax.scan(body, state, (i_SN, j_SN, x_SN, m_SN))
    return state, {"loss_sum": cost_S.sum(), "examples": m_SN.sum().astype(jnp.int32),
                   "lr": jnp.float32(cfg.glove_eta)}

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


class GloveJob(runner.Job):
  """Epochs of the shuffled nonzero co-occurrences, S batches of N entries per dispatch."""
  flag, epoch_key, save_epochs = "--glove_eta", "epoch_cost", True

  def __init__(self, cfg: Config, entries: tuple, tokens: int):
    self.cfg, self.entries, self.tokens = cfg, entries, tokens
    self.steps, self.batch = cfg.steps_per_call, cfg.glove_batch
    self.per_call = self.steps * self.batch
    self.nnz = entries[0].shape[0]
    self.calls = -(-self.nnz // self.per_call)
    self.order, self._compiled = None, None

  def first_step(self, state, meta):
    return (meta["epoch"] * self.calls + meta["call"]) * self.steps

  def compile_ahead(self, state):
    t0 = metrics.Timer()
    i = np.zeros((self.steps, self.batch), np.int32)
    x = np.ones((self.steps, self.batch), np.float32)
    self._compiled = make_train_call(self.cfg).lower(state, i, i, x, x).compile(), t0()

  def compiled(self):
    return self._compiled

  def start_epoch(self, epoch):
    self.order = epoch_order(self.nnz, self.cfg.seed, epoch)
    return self.calls

  def block(self, call):
    return _block(self.entries, self.order, call, self.per_call, self.steps, self.batch)

  def words(self, epoch, calls_done):
    """Corpus tokens' worth of entries, comparable to word2vec's words."""
    done = min(calls_done * self.per_call, self.nnz)
    return (epoch + done / self.nnz) * self.tokens

  def row(self, row):
    return {**row, "entries_per_sec": row["words_per_sec"] / self.tokens * self.nnz}


def _entries(vocab, stream, window: int):
  """glove.c's nonzero X_ij as (i_N, j_N offset by V, x_N)."""
  i_N, j_N, x_N = cooccur.entries(cooccur.count(stream, vocab.size, window))
  return i_N, j_N + np.int32(vocab.size), x_N  # context rows live at V..2V-1, as in glove.c


def run(cfg: Config, workdir: str, *, overwrite: bool = False, save_text: bool = False,
        export_out: bool = False, tensorboard: bool = False) -> dict:
  """Counts X, trains GloVe into `workdir` and exports word + context vectors (glove.c -model 2).

  Writes what train.run writes (config.json, vocab.txt, metrics.jsonl, checkpoints/,
  vectors.bin; vectors.txt with save_text; with export_out, vectors_out.bin = the context
  vectors alone; tensorboard/ with `tensorboard`), by process 0. Checkpoints after every
  epoch, by --checkpoint_secs / --checkpoint_every, and on SIGINT/SIGTERM; a re-run resumes.
  Returns the same summary keys as train.run.
  """
  cfg = config.resolve(cfg)
  clock = metrics.Timer()
  runner.prepare(cfg, workdir, overwrite)
  vocab, stream = vocab_lib.build(runner.corpus_path(cfg, workdir), cfg.min_count,
                                  cfg.max_vocab)
  entries = _entries(vocab, stream, cfg.glove_window)
  del stream
  vocab_seconds = clock()  # the vocabulary and the co-occurrence counts
  nnz = entries[0].shape[0]
  log.info("vocabulary: %d words (min_count %d) from %d tokens; %d nonzero co-occurrences "
           "(window %d) in %.1fs", vocab.size, cfg.min_count, vocab.total_tokens, nnz,
           cfg.glove_window, vocab_seconds)
  if nnz == 0:
    raise W2VError("no two vocabulary words share a sentence: GloVe has nothing to fit; use a "
                   "larger corpus or a lower --min_count")

  mngr = checkpoint.make_manager(workdir, cfg.keep_checkpoints)
  state, meta = resume.restore_or_init(
      workdir, mngr, vocab, lambda: init_state(vocab.size, cfg.dim, cfg.seed))
  state = GloveState(**state) if isinstance(state, dict) else GloveState(*state)
  writes = runner.write_setup(cfg, workdir, vocab)
  job = GloveJob(cfg, entries, vocab.total_tokens)
  writer = runner.open_writer(workdir, writes, tensorboard)
  progress = runner.Progress(job, writer, cfg.log_every_secs, cfg.epochs * vocab.total_tokens)
  state, steps, compile_seconds = runner.train_loop(job, cfg, state, meta, mngr, progress, vocab)
  checkpoint.close(mngr)
  writer.close()

  w_RE = np.asarray(jax.device_get(state.w_RE))
  word_VD, context_VD = w_RE[:vocab.size, :cfg.dim], w_RE[vocab.size:, :cfg.dim]
  emb_VD = word_VD + context_VD  # glove.c's default output, -model 2: word + context, no bias
  if not np.all(np.isfinite(emb_VD)):
    raise W2VError("GloVe diverged: the vectors contain NaN/Inf (is --glove_eta too large?)")
  if not writes:
    return {"vocab_size": vocab.size, "steps": steps, "words": vocab.words, "emb_in": emb_VD}
  # vectors.bin (and vectors.txt) hold the sum; --export_out's vectors_out.bin the context.
  export_lib.write(workdir, vocab.words, emb_VD, context_VD, ("out",) if export_out else (),
                   save_text)
  return runner.summary(vocab, steps, clock, vocab_seconds, compile_seconds,
                        progress.train_seconds(), emb_VD, nonzeros=int(nnz))
