"""Training: the jitted step (many micro-steps per dispatch), and `run`, the whole job.

Resume order (big_vision style): config.json is checked against the flags, the vocabulary is
rebuilt and checked against the checkpoint's fingerprint, then the latest checkpoint restores
the state (params, optimizer, step, rng) and the data position (epoch, dispatch).
"""

import concurrent.futures
import json
import os
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from w2v_jax import checkpoint, data, heldout, huffman, metrics, model, multihost, optim, resume
from w2v_jax import textio
from w2v_jax import export as export_lib
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config
from w2v_jax.errors import Interrupted, W2VError

log = metrics.log


class TrainState(NamedTuple):
  params: dict        # {"emb_in": (V, D), "emb_out": (V, D)}
  opt_state: Any
  step: jax.Array     # int32: micro-steps done; the per-step rng is fold_in(rng, step)
  rng: jax.Array      # uint32[4] raw key data of an "unsafe_rbg" key (see RNG_IMPL)


# XLA's RngBitGenerator: one op per draw, where threefry compiles to loops of small ops on
# XLA:CPU (hundreds of them per step). Deterministic for a given seed and device count.
RNG_IMPL = "unsafe_rbg"


def step_key(rng: jax.Array, step: jax.Array) -> jax.Array:
  """The key of micro-step `step`: fold_in(rng, step)."""
  return jax.random.fold_in(jax.random.wrap_key_data(rng, impl=RNG_IMPL), step)


def word2vec_lr(alpha: float, progress, min_ratio: float, progress_scale: float = 1.0):
  """word2vec.c: alpha * (1 - words_done / (iter * train_words + 1)), floored at alpha * 1e-4.

  progress_scale < 1 stretches the decay: alpha ends at alpha * (1 - progress_scale). 0.5 is
  what gensim 4.4's corpus_file mode does with 2 workers (each counts its own words against
  the whole corpus's; experiments/_bench_gensim.py), kept to compare like with like.
  """
  return alpha * jnp.maximum(1.0 - progress * progress_scale, min_ratio)


def make_optimizer(cfg: Config) -> optax.GradientTransformation:
  """cfg.optimizer (SGD by default) whose learning rate the step sets from corpus progress
  (as word2vec.c does); see w2v_jax/optim.py."""
  return optim.make_optimizer(cfg)


def init_state(cfg: Config, vocab_size: int, tx: optax.GradientTransformation) -> TrainState:
  k_init, k_train = jax.random.split(jax.random.key(cfg.seed, impl=RNG_IMPL))
  params = model.init_params(k_init, vocab_size, cfg.dim, cfg.init_range,
                             hs="hs" in cfg.loss.split("+"),
                             positions=2 * cfg.window if cfg.cbow_position_weights else 0)
  return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32),
                    jax.random.key_data(k_train))


def make_micro_step(cfg: Config, tx: optax.GradientTransformation):
  """One device's lax.scan body: ((state, noise, tree), (ids_BL, seg_BL, progress)) ->
  ((state, noise, tree), (loss_sum, examples, lr)), one synchronous SGD step on its rows."""
  loss = jax.value_and_grad(model.rows_loss, has_aux=True)

  def micro_step(carry, xs):
    state, noise, tree = carry
    ids_BL, seg_BL, progress = xs
    batch = model.make_batch(ids_BL, seg_BL, step_key(state.rng, state.step), noise, tree=tree,
                             **cfg.batch_options)
    rows = model.gather_rows(state.params, batch)
    (loss_sum, examples), grads = loss(rows, batch, **cfg.loss_options)
    lr = word2vec_lr(cfg.lr, progress, cfg.min_alpha_ratio, cfg.lr_progress_scale)
    params, opt_state = optim.apply(tx, cfg, state.params, state.opt_state, grads, batch, lr)
    new = TrainState(params, opt_state, state.step + 1, state.rng)
    return (new, noise, tree), (loss_sum, examples, lr)

  return micro_step


def make_train_call(cfg: Config, tx: optax.GradientTransformation):
  """A jitted (state, ids_SBL, seg_SBL, progress_S, noise, tree=None) -> (state, stats).

  S micro-steps; `tree` is huffman.build's tables (as jnp arrays) for --loss=hs|ns+hs.

  Each micro-step is one synchronous SGD step on B*T centres: gather the touched rows, take
  the gradient of the summed loss w.r.t. those rows, let optax turn it into updates, and
  scatter-add them back. For SGD this equals optax on the dense gradient (tested).
  cfg.devices != 1: the data-parallel version over a device mesh (w2v_jax/parallel.py).
  """
  if cfg.devices != 1:
    from w2v_jax import parallel  # pylint: disable=import-outside-toplevel
    return parallel.make_train_call(cfg, tx, parallel.make_mesh(cfg.devices))
  micro_step = make_micro_step(cfg, tx)

  def train_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    (state, _, _), (loss_S, n_S, lr_S) = jax.lax.scan(
        micro_step, (state, noise, tree), (ids_SBL, seg_SBL, progress_S))
    return state, {"loss_sum": loss_S.sum(), "examples": n_S.sum(), "lr": lr_S[-1]}

  return jax.jit(train_call, donate_argnums=0)


def _phrase_corpus(cfg: Config, workdir: str) -> str:
  """The corpus with word2phrase's bigrams joined ("new_york"), written once into the workdir.

  Pass i of n uses threshold * 2^(n-1-i), as word2vec's demo-phrases.sh runs word2phrase with
  -threshold 200 and then 100.
  """
  from w2v_jax import corpus as corpus_lib, phrases  # pylint: disable=import-outside-toplevel
  path = os.path.join(workdir, "corpus.phrases.txt")
  if not os.path.exists(path):  # a resumed run reuses it
    passes = [phrases.PhraseConfig(cfg.min_count, cfg.phrase_threshold * 2**(cfg.phrases - 1 - i))
              for i in range(cfg.phrases)]
    found = phrases.write_corpus(corpus_lib.expand(cfg.corpus), path, passes)
    log.info("phrases: %s joined per pass", ", ".join(str(len(p)) for p in found))
  return path


def _check_finite(stats: dict, step: int) -> None:
  loss = float(stats["loss_sum"])
  if not np.isfinite(loss):
    raise W2VError(f"the loss became {loss} by step {step}: training diverged (is --alpha too "
                   "large?); the last good checkpoint is kept")


def _load_corpus(cfg: Config, workdir: str):
  """(vocab, training id stream, held-out id stream, corpus words per epoch of training)."""
  corpus = _phrase_corpus(cfg, workdir) if cfg.phrases else cfg.corpus
  if cfg.id_file:  # counted and written once, memory-mapped (w2v_jax/idfile.py)
    from w2v_jax import idfile  # pylint: disable=import-outside-toplevel
    vocab, stream = idfile.build(corpus, cfg.min_count, cfg.max_vocab,
                                 os.path.join(workdir, "corpus.ids"))
  else:
    vocab, stream = vocab_lib.build(corpus, cfg.min_count, cfg.max_vocab)
  # --heldout: the vocabulary counts the whole corpus (as word2vec.c), training skips the slice.
  stream, held_stream = heldout.split(stream, cfg.heldout)
  epoch_words = vocab.total_tokens * stream.shape[0] / (stream.shape[0] + held_stream.shape[0])
  return vocab, stream, held_stream, epoch_words


def _lower(train_call, state, shape_SBL: tuple, noise, tree):
  """The step traced and lowered for blocks of `shape_SBL` (ids' values are unused), with a
  timer started: lowering is Python (it holds the GIL), compiling is XLA (it does not)."""
  t0 = metrics.Timer()
  ids = np.zeros(shape_SBL, np.int32)
  progress = np.zeros(shape_SBL[0], np.float32)
  return train_call.lower(state, ids, ids, progress, noise, *tree), t0


def _compile(lowered, t0):
  """(the compiled step, seconds since _lower started)."""
  return lowered.compile(), t0()


def write_json(path: str, obj) -> None:
  with textio.atomic_open(path) as f:
    json.dump(obj, f, indent=2, sort_keys=True)
    f.write("\n")


def run(cfg: Config, workdir: str, *, overwrite: bool = False, save_text: bool = False,
        export_out: bool = False, export=("in",), tensorboard: bool = False) -> dict:
  """Trains into `workdir` (resuming its latest checkpoint) and exports the vectors.

  Writes config.json, vocab.txt, metrics.jsonl, checkpoints/, vectors.bin (+ vectors.txt with
  save_text, and export.FILES of each kind in `export`; export_out adds "out"), with
  tensorboard event files in tensorboard/. Returns a summary dict ("vectors": kind -> matrix).
  """
  export = export_lib.check_kinds((*export, "out") if export_out else export)
  cfg.validate()
  if cfg.model == "glove":  # its own pipeline after the vocabulary: w2v_jax/glove.py
    from w2v_jax import glove  # pylint: disable=import-outside-toplevel
    return glove.run(cfg, workdir, overwrite=overwrite, save_text=save_text,
                     export_out="out" in export)
  clock = metrics.Timer()
  os.makedirs(workdir, exist_ok=True)
  resume.check(cfg, workdir, overwrite)

  vocab, stream, held_stream, epoch_words = _load_corpus(cfg, workdir)
  vocab_seconds = clock()
  log.info("vocabulary: %d words (min_count %d) from %d tokens in %.1fs",
           vocab.size, cfg.min_count, vocab.total_tokens, vocab_seconds)
  keep_V = vocab_lib.keep_probs(vocab, cfg.sample)
  noise = tuple(jnp.asarray(a) for a in vocab_lib.noise_alias(vocab, cfg.ns_exponent))
  # The Huffman tables go in as jit arguments, not closure constants; only when hs is on.
  tree = ((tuple(jnp.asarray(a) for a in huffman.build(vocab.counts)),)
          if "hs" in cfg.loss.split("+") else ())
  tx = make_optimizer(cfg)
  mngr = checkpoint.make_manager(workdir, cfg.keep_checkpoints)
  # Jitted: one compiled program instead of ~14 eagerly compiled ops (0.56 -> 0.23 s), same values.
  state, meta = resume.restore_or_init(workdir, mngr, vocab,
                                       jax.jit(lambda: init_state(cfg, vocab.size, tx)))
  (rows, row_tokens), steps = cfg.rows, cfg.steps_per_call
  if cfg.devices != 1:  # onto the device mesh; checkpoints and exports stay unpadded
    from w2v_jax import parallel  # pylint: disable=import-outside-toplevel
    mesh = parallel.make_mesh(cfg.devices)
    state = parallel.place_state(cfg, state, mesh)
    rows = parallel.step_rows(cfg, mesh.size)  # --sync=dispatch: cfg.rows per replica
  # Only now, once the workdir is known to be ours to write, so a refused run touches nothing.
  writes = jax.process_index() == 0  # multi-process runs: one writer (w2v_jax/multihost.py)
  if writes:
    vocab_lib.save(vocab, os.path.join(workdir, "vocab.txt"))
    write_json(os.path.join(workdir, "config.json"), json.loads(cfg.to_json()))

  per_call = steps * rows * row_tokens
  train_call = make_train_call(cfg, tx)
  writer = (metrics.MetricsWriter(workdir, tensorboard=tensorboard) if writes
            else multihost.NullWriter())
  held = (heldout.HeldOut(cfg, held_stream, keep_V, noise, jax.random.fold_in(
      jax.random.key(cfg.seed, impl=RNG_IMPL), 1), tree[0] if tree else None)
          if held_stream.size else None)
  held_seconds = 0.0  # held-out evaluation time, left out of train_seconds and words/s
  total_words = cfg.epochs * epoch_words
  words_at_start = None
  pending, last_log, loss_acc, n_acc = None, -1e9, 0.0, 0

  def flush(pending_stats, words_done, lr_now, force=False):
    nonlocal last_log, loss_acc, n_acc, held_seconds
    _check_finite(pending_stats, step_host)
    # The loss is summed in float32 per micro-step (a few thousand terms) and over the
    # dispatch's micro-steps on device, then in float64 here: ~1e-6 relative error at most.
    loss_acc += float(pending_stats["loss_sum"])
    n_acc += int(pending_stats["examples"])
    now = clock()
    if not force and now - last_log < cfg.log_every_secs:
      return
    train_seconds = max(now - train_start - held_seconds, 1e-9)
    row = {"step": int(step_host), "words": int(words_done), "epoch": epoch,
           "progress": words_done / total_words,
           "words_per_sec": (words_done - words_at_start) / train_seconds,
           "loss": loss_acc / max(n_acc, 1), "lr": float(lr_now), "elapsed": now,
           "train_seconds": train_seconds}
    if held is not None:  # on the current params: `state` is a dispatch ahead until the end
      row["heldout_loss"] = held(state.params)
      held_seconds += clock() - now
    writer.write(row)
    log.info(metrics.progress_line(row))
    last_log, loss_acc, n_acc = now, 0.0, 0

  epoch = meta["epoch"]
  step_host = int(state.step)
  compile_seconds = None
  train_start = last_save = clock()
  # Lower here, then compile on a thread while the host subsamples the first epoch: XLA's
  # compiler releases the GIL, jax's tracing would not (on a thread it slowed the
  # subsampling beside it by ~1 s). The step's shapes are known before its data.
  pool = concurrent.futures.ThreadPoolExecutor(1)
  compiling = (pool.submit(_compile, *_lower(train_call, state, (steps, rows,
                                                                 row_tokens + 2 * cfg.window),
                                             noise, tree))
               if meta["epoch"] < cfg.epochs else None)
  pool.shutdown(wait=False)  # its one thread ends once the compile is done

  def save(next_epoch, next_call, stats):
    _check_finite(stats, step_host)  # never checkpoint a diverged state
    host = jax.device_get(state) if cfg.devices == 1 else parallel.host_state(state, vocab.size)
    checkpoint.save(mngr, step_host, host,
                    {"epoch": next_epoch, "call": next_call, "vocab": vocab.fingerprint()})

  with resume.StopOnSignal() as stop:
    for epoch in range(meta["epoch"], cfg.epochs):
      # --id_file: the epoch's kept tokens go to disk too (memory-mapped), not RAM.
      spill = os.path.join(workdir, f"epoch.{jax.process_index()}") if cfg.id_file else None
      ep = data.subsample(stream, keep_V, cfg.seed, epoch, cfg.max_sentence, spill=spill)
      calls = data.num_calls(ep.tokens.shape[0], steps, rows, row_tokens)
      first = meta["call"] if epoch == meta["epoch"] else 0
      for call in range(first, calls):
        ids, seg, pos = data.block(ep, call, steps, rows, row_tokens, cfg.window)
        progress = ((epoch + pos / ep.stream_len) / cfg.epochs).astype(np.float32)
        if compile_seconds is None:  # compiled ahead, so words/s counts training only
          train_call, compile_seconds = compiling.result()
          log.info("compiled the train step in %.1fs", compile_seconds)
          train_start = clock()
          words_at_start = (epoch + data.fraction_done(ep, call * per_call)) * epoch_words
        state, stats = train_call(state, ids, seg, progress, noise, *tree)
        step_host += steps
        words = (epoch + data.fraction_done(ep, (call + 1) * per_call)) * epoch_words
        if pending is not None:
          flush(*pending)
        pending = (stats, words, stats["lr"])
        last = call + 1 == calls and epoch + 1 == cfg.epochs
        due = multihost.agree(
            bool(cfg.checkpoint_every and (call + 1) % cfg.checkpoint_every == 0)
            or bool(cfg.checkpoint_secs and clock() - last_save >= cfg.checkpoint_secs))
        if not last and (due or stop.signal):
          save(epoch + (call + 1 == calls), (call + 1) % calls, stats)
          last_save = clock()
        if stop.signal and not last:
          checkpoint.wait(mngr)
          raise Interrupted(f"stopped by {stop.signal} at step {step_host}; checkpoint saved; "
                            "re-run the same command to resume")
  if pending is not None:
    flush(*pending, force=True)
    if mngr.latest_step() != step_host:  # a finished run that is re-run has nothing new to save
      save(cfg.epochs, 0, pending[0])
  checkpoint.wait(mngr)
  mngr.close()
  writer.close()
  train_seconds = clock() - train_start
  if cfg.devices != 1:  # every process takes part in the gather
    state = parallel.host_state(state, vocab.size)

  emb_in, emb_out = (np.asarray(a) for a in jax.device_get(
      (state.params["emb_in"], state.params["emb_out"])))
  if not np.all(np.isfinite(emb_in)):
    raise W2VError("training diverged: the vectors contain NaN/Inf (is --alpha too large?)")
  if not writes:
    return {"vocab_size": vocab.size, "steps": step_host, "words": vocab.words, "emb_in": emb_in}
  exported = export_lib.write(workdir, vocab.words, emb_in, emb_out, export, save_text)
  return {"vocab_size": vocab.size, "tokens": vocab.total_tokens, "vocab_seconds": vocab_seconds,
          "compile_seconds": compile_seconds or 0.0, "train_seconds": train_seconds,
          "steps": step_host, "elapsed": clock(), "words": vocab.words, "emb_in": emb_in,
          "vectors": exported}
