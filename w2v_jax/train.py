"""Training word2vec: the strategy (one device, a synchronous step over a mesh, or replicas) chosen
in one place, the word2vec Job for runner.train_loop, and `run`, the whole job.

`run` resumes its workdir's latest checkpoint (the resume order is in w2v_jax/runner.py) and
dispatches --model=glove to w2v_jax/glove.py.
"""

import concurrent.futures
import dataclasses
import functools
import os

import jax
import jax.numpy as jnp
import numpy as np

from w2v_jax import checkpoint, data, glove, heldout, huffman, idfile, init_from, metrics
from w2v_jax import objectives
from w2v_jax import parallel, replicas, resume, runner, step
from w2v_jax import export as export_lib
from w2v_jax import corpus as corpus_lib
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config
from w2v_jax.errors import W2VError
from w2v_jax.step import RNG_IMPL, init_state, make_optimizer

log = metrics.log


def make_train_call(cfg: Config, tx, mesh=None):
  """The jitted dispatch (state, ids_SBL, seg_SBL, progress_S, noise, *tree) -> (state, stats)
  of cfg's strategy: one device (step.py), one synchronous step over the mesh (parallel.py,
  --sync=step) or a replica per device (replicas.py, --sync=dispatch)."""
  cfg = step.resolve(cfg)
  if cfg.devices == 1:
    return step.make_train_call(cfg, tx)
  mesh = mesh if mesh is not None else parallel.make_mesh(cfg.devices)
  if cfg.sync == "dispatch":
    return replicas.make_train_call(cfg, tx, mesh)
  return parallel.make_train_call(cfg, tx, mesh)


class Strategy:
  """Where the state lives: placing it, reading it back, rows per micro-step, the step."""

  def __init__(self, cfg: Config, tx, vocab_size: int):
    self.vocab_size = vocab_size
    self.mesh = parallel.make_mesh(cfg.devices) if cfg.devices != 1 else None
    # --sync=dispatch: cfg.rows per replica
    self.rows = parallel.step_rows(cfg, self.mesh.size) if self.mesh else cfg.rows[0]
    self.train_call = make_train_call(cfg, tx, self.mesh)
    self._cfg = cfg

  def place(self, state):
    """The state on the devices (tables padded on a mesh; checkpoints stay unpadded)."""
    return parallel.place_state(self._cfg, state, self.mesh) if self.mesh else state

  def host(self, state):
    """Numpy copy of the unpadded state (every process takes part on a mesh)."""
    return parallel.host_state(state, self.vocab_size) if self.mesh else jax.device_get(state)


def load_corpus(cfg: Config, workdir: str, prior=None):
  """(vocab, training id stream, held-out id stream, corpus words per epoch of training, the
  rows of the prior's words under --init_from or None)."""
  corpus = runner.corpus_path(cfg, workdir)
  rows_P = None
  if cfg.id_file:  # counted and written once, memory-mapped (w2v_jax/idfile.py)
    vocab, stream = idfile.build(corpus, cfg.min_count, cfg.max_vocab,
                                 os.path.join(workdir, "corpus.ids"))
  elif prior is not None:  # --init_from: the corpus's words merged with the prior's
    raw_ids, words, counts = corpus_lib.encode(corpus_lib.expand(corpus))
    vocab, stream, rows_P = init_from.merge(prior, words, counts, raw_ids, cfg, corpus)
  else:
    vocab, stream = vocab_lib.build(corpus, cfg.min_count, cfg.max_vocab)
  # --heldout: the vocabulary counts the whole corpus (as word2vec.c), training skips the slice.
  stream, held_stream = heldout.split(stream, cfg.heldout)
  epoch_words = vocab.total_tokens * stream.shape[0] / (stream.shape[0] + held_stream.shape[0])
  return vocab, stream, held_stream, epoch_words, rows_P


def _compile(lowered, t0):
  """(the compiled step, seconds since lowering started)."""
  return lowered.compile(), t0()


class Word2VecJob(runner.Job):
  """Epochs of subsampled sentences, cut into blocks of S micro-steps x B rows x T centres."""

  def __init__(self, cfg: Config, strategy: Strategy, stream, keep_V, noise, tree,
               epoch_words: float, workdir: str):
    self.cfg, self.strategy, self.stream, self.keep_V = cfg, strategy, stream, keep_V
    self.noise, self.tree, self.epoch_words, self.workdir = noise, tree, epoch_words, workdir
    self.steps, self.row_tokens = cfg.steps_per_call, cfg.rows[1]
    self.per_call = self.steps * strategy.rows * self.row_tokens
    self.ep, self.epoch, self._compiling, self._next = None, None, None, None

  def first_step(self, state, meta):
    return int(state.step)

  def compile_ahead(self, state):
    # Lower here, then compile on a thread while the host subsamples the first epoch: XLA's
    # compiler releases the GIL, jax's tracing would not. The step's shapes are known before
    # its data.
    t0 = metrics.Timer()
    shape = (self.steps, self.strategy.rows, self.row_tokens + 2 * self.cfg.window)
    ids = np.zeros(shape, np.int32)
    lowered = self.strategy.train_call.lower(state, ids, ids, np.zeros(shape[0], np.float32),
                                             self.noise, *self.tree)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    self._compiling = pool.submit(_compile, lowered, t0)
    pool.shutdown(wait=False)  # its one thread ends once the compile is done

  def compiled(self):
    return self._compiling.result()

  def _subsample(self, epoch):
    # --id_file: the epoch's kept tokens go to disk too (memory-mapped), not RAM.
    spill = (os.path.join(self.workdir, f"epoch.{jax.process_index()}") if self.cfg.id_file
             else None)
    return data.subsample(self.stream, self.keep_V, self.cfg.seed, epoch,
                          self.cfg.max_sentence, spill=spill)

  def start_epoch(self, epoch):
    # The next epoch is subsampled on a thread while this one trains (numpy releases the GIL
    # in its array passes), so the device does not wait for the host between epochs. Not with
    # --id_file: its one spill file per process holds one epoch.
    ahead_epoch, ahead = self._next or (None, None)  # (epoch, its future) being subsampled
    self.ep = ahead.result() if ahead_epoch == epoch else self._subsample(epoch)
    self.epoch, self._next = epoch, None
    if epoch + 1 < self.cfg.epochs and not self.cfg.id_file:
      pool = concurrent.futures.ThreadPoolExecutor(1)
      self._next = (epoch + 1, pool.submit(self._subsample, epoch + 1))
      pool.shutdown(wait=False)
    return data.num_calls(self.ep.tokens.shape[0], self.steps, self.strategy.rows,
                          self.row_tokens)

  def block(self, call):
    ids, seg, pos = data.block(self.ep, call, self.steps, self.strategy.rows, self.row_tokens,
                               self.cfg.window)
    progress = ((self.epoch + pos / self.ep.stream_len) / self.cfg.epochs).astype(np.float32)
    return ids, seg, progress, self.noise, *self.tree

  def words(self, epoch, calls_done):
    return (epoch + data.fraction_done(self.ep, calls_done * self.per_call)) * self.epoch_words

  def host_state(self, state):
    return self.strategy.host(state)


def tables(cfg: Config, vocab):
  """(keep_V, the noise alias table, (Huffman tables,) or ()) as jit arguments."""
  keep_V = vocab_lib.keep_probs(vocab, cfg.sample)
  noise = tuple(jnp.asarray(a) for a in vocab_lib.noise_alias(vocab, cfg.ns_exponent))
  # The Huffman tables go in as jit arguments, not closure constants; only when hs is on.
  tree = ((tuple(jnp.asarray(a) for a in huffman.build(vocab.counts)),)
          if objectives.uses(cfg.loss, "hs") else ())
  return keep_V, noise, tree


def _init(cfg: Config, vocab_size: int, tx, prior, rows_P):
  """The fresh state's thunk: jitted (one program instead of a dozen eagerly compiled ops, same
  values), with --init_from's rows written in (its tables passed in, not baked into the
  program)."""
  if prior is None:
    return jax.jit(lambda: init_state(cfg, vocab_size, tx))

  def fresh(prior_in, prior_out):
    state = init_state(cfg, vocab_size, tx)
    table = dataclasses.replace(prior, emb_in=prior_in, emb_out=prior_out)
    params = init_from.place(state.params, table, rows_P, cfg.freeze_init)
    return state._replace(params=params, opt_state=tx.init(params))

  return functools.partial(jax.jit(fresh), prior.emb_in, prior.emb_out)


def run(cfg: Config, workdir: str, *, overwrite: bool = False, save_text: bool = False,
        export_out: bool = False, export=("in",), tensorboard: bool = False) -> dict:
  """Trains into `workdir` (resuming its latest checkpoint) and exports the vectors.

  Writes config.json, vocab.txt, metrics.jsonl, checkpoints/, vectors.bin (+ vectors.txt with
  save_text, and export.FILES of each kind in `export`; export_out adds "out"), with
  tensorboard event files in tensorboard/. Returns a summary dict ("vectors": kind -> matrix).
  """
  export = export_lib.check_kinds((*export, "out") if export_out else export)
  cfg = step.resolve(cfg)
  if cfg.model == "glove":
    return glove.run(cfg, workdir, overwrite=overwrite, save_text=save_text,
                     export_out="out" in export, tensorboard=tensorboard)
  # ---- workdir and corpus
  clock = metrics.Timer()
  runner.prepare(cfg, workdir, overwrite)
  prior = init_from.load(cfg) if cfg.init_from else None
  vocab, stream, held_stream, epoch_words, rows_P = load_corpus(cfg, workdir, prior)
  vocab_seconds = clock()
  log.info("vocabulary: %d words (min_count %d) from %d tokens in %.1fs",
           vocab.size, cfg.min_count, vocab.total_tokens, vocab_seconds)
  keep_V, noise, tree = tables(cfg, vocab)

  # ---- state: restored or fresh, placed by the strategy
  tx = make_optimizer(cfg)
  mngr = checkpoint.make_manager(workdir, cfg.keep_checkpoints)
  state, meta = resume.restore_or_init(workdir, mngr, vocab,
                                       _init(cfg, vocab.size, tx, prior, rows_P))
  strategy = Strategy(cfg, tx, vocab.size)
  state = strategy.place(state)
  writes = runner.write_setup(cfg, workdir, vocab)

  # ---- train
  job = Word2VecJob(cfg, strategy, stream, keep_V, noise, tree, epoch_words, workdir)
  held = (heldout.HeldOut(cfg, held_stream, keep_V, noise, jax.random.fold_in(
      jax.random.key(cfg.seed, impl=RNG_IMPL), 1), tree[0] if tree else None)
          if held_stream.size else None)
  writer = runner.open_writer(workdir, writes, tensorboard)
  progress = runner.Progress(job, writer, cfg.log_every_secs, cfg.epochs * epoch_words, held)
  state, steps, compile_seconds = runner.train_loop(job, cfg, state, meta, mngr, progress, vocab)
  writer.close()
  train_seconds = progress.train_seconds()

  # ---- export, while the last checkpoint is written
  state = strategy.host(state)  # every process takes part in the gather
  if prior is not None:
    state = _continued(state, prior, rows_P, cfg, vocab, workdir if writes else None)
  try:
    emb_in, exported = _export(state, vocab.words, writes, workdir, export, save_text)
  finally:
    checkpoint.close(mngr)
  if not writes:
    return {"vocab_size": vocab.size, "steps": steps, "words": vocab.words, "emb_in": emb_in}
  return runner.summary(vocab, steps, clock, vocab_seconds, compile_seconds, train_seconds,
                        emb_in, vectors=exported)


def _continued(state, prior, rows_P, cfg: Config, vocab, workdir: str | None):
  """--init_from's end: frozen rows set to PATH's exactly (the step never changes them, but a
  merge of more than 2 replicas can round them by an ulp), and init_from.json written."""
  params = {k: np.asarray(v) for k, v in state.params.items()}
  if cfg.freeze_init:
    params["emb_in"] = params["emb_in"].copy()
    params["emb_in"][rows_P] = prior.emb_in
  summary = init_from.report(prior, vocab, rows_P, params["emb_in"])
  log.info("continued from %s: %d of its words, %d new; mean cosine to its vectors %.3f",
           prior.source, summary["prior_words"], summary["new_words"],
           summary["mean_cosine_to_prior"])
  if workdir is not None:
    init_from.write_report(workdir, summary)
  return state._replace(params=params)


def _export(state, words: list[str], writes: bool, workdir: str, export, save_text: bool):
  """(the input vectors, export.write's kind -> matrix or None where this process does not
  write): the trained state checked for divergence and its vectors written."""
  emb_in, emb_out = (np.asarray(state.params[k]) for k in ("emb_in", "emb_out"))
  if not np.all(np.isfinite(emb_in)):
    raise W2VError("training diverged: the vectors contain NaN/Inf (is --alpha too large?)")
  if not writes:
    return emb_in, None
  return emb_in, export_lib.write(workdir, words, emb_in, emb_out, export, save_text)
