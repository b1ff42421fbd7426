"""The run skeleton shared by word2vec and GloVe: the workdir, resuming, signals, the checkpoint
policy, progress accounting, process-0 writes, TensorBoard, and one training loop.

A model is a `Job`: it prepares each epoch's data, hands out the blocks of each dispatch and
compiles its step; `train_loop` does everything else, the same way for every model.

Resume order (big_vision style): config.json is checked against the flags (`prepare`), the
vocabulary is rebuilt and checked against the checkpoint's fingerprint, then the latest
checkpoint restores the state and the data position (epoch, dispatch).
"""

import json
import os

import jax
import numpy as np

from w2v_jax import checkpoint, metrics, multihost, resume, textio
from w2v_jax import corpus as corpus_lib
from w2v_jax import phrases as phrases_lib
from w2v_jax import vocab as vocab_lib
from w2v_jax.config import Config
from w2v_jax.errors import Interrupted, W2VError

log = metrics.log


def prepare(cfg: Config, workdir: str, overwrite: bool) -> None:
  """Creates the workdir and refuses one holding another configuration's checkpoint."""
  os.makedirs(workdir, exist_ok=True)
  resume.check(cfg, workdir, overwrite)


def corpus_path(cfg: Config, workdir: str) -> str:
  """cfg.corpus, or with --phrases the corpus with word2phrase's bigrams joined ("new_york"),
  written once into the workdir (a resumed run reuses it).

  Pass i of n uses threshold * 2^(n-1-i), as word2vec's demo-phrases.sh runs word2phrase with
  -threshold 200 and then 100.
  """
  if not cfg.phrases:
    return cfg.corpus
  path = os.path.join(workdir, "corpus.phrases.txt")
  if not os.path.exists(path):
    passes = [phrases_lib.PhraseConfig(cfg.min_count,
                                       cfg.phrase_threshold * 2**(cfg.phrases - 1 - i))
              for i in range(cfg.phrases)]
    found = phrases_lib.write_corpus(corpus_lib.expand(cfg.corpus), path, passes)
    log.info("phrases: %s joined per pass", ", ".join(str(len(p)) for p in found))
  return path


def write_setup(cfg: Config, workdir: str, vocab) -> bool:
  """vocab.txt and config.json, by process 0 only; returns whether this process writes.

  Called once the workdir is known to be ours to write, so a refused run touches nothing."""
  writes = multihost.is_writer()
  if writes:
    vocab_lib.save(vocab, os.path.join(workdir, "vocab.txt"))
    textio.write_json(os.path.join(workdir, "config.json"), json.loads(cfg.to_json()))
  return writes


def open_writer(workdir: str, writes: bool, tensorboard: bool):
  """metrics.jsonl (+ TensorBoard) on process 0, a writer of nothing elsewhere."""
  return metrics.MetricsWriter(workdir, tensorboard=tensorboard) if writes else (
      multihost.NullWriter())


def itstime(count: int, every: int, now: float, last: float, secs: float) -> bool:
  """big_vision's utils.itstime for one run: every `every` dispatches, or `secs` seconds after
  `last` (0 turns either off)."""
  return bool(every and count % every == 0) or bool(secs and now - last >= secs)


class Job:
  """What a model gives train_loop. `steps` micro-steps per dispatch; `flag` names the learning
  rate in messages; GloVe sets `epoch_key` (its per-epoch cost) and `save_epochs`."""
  steps, flag, epoch_key, save_epochs = 1, "--alpha", None, False

  def first_step(self, state, meta: dict) -> int:
    """The micro-steps done when training starts from `state` at position `meta`."""
    raise NotImplementedError

  def compile_ahead(self, state) -> None:
    """Starts compiling the step for `state` (before the first epoch's data is ready)."""
    raise NotImplementedError

  def compiled(self):
    """(the compiled step, seconds it took); waits for compile_ahead."""
    raise NotImplementedError

  def start_epoch(self, epoch: int) -> int:
    """Prepares epoch `epoch`'s data; returns its number of dispatches."""
    raise NotImplementedError

  def block(self, call: int) -> tuple:
    """The arguments after `state` of dispatch `call` of the current epoch."""
    raise NotImplementedError

  def words(self, epoch: int, calls_done: int) -> float:
    """Corpus words' worth of training done after `calls_done` dispatches of `epoch`."""
    raise NotImplementedError

  def host_state(self, state):
    """The state as numpy arrays, as checkpoints store it (a collective across processes)."""
    return jax.device_get(state)

  def row(self, row: dict) -> dict:
    """A metrics row with the model's own entries added."""
    return row


class Progress:
  """The run's accounting. A dispatch's statistics are read one dispatch late (the device runs
  ahead), summed in float64 and logged every `log_secs` as a metrics row (and at GloVe's epoch
  ends); `heldout(params)` adds the held-out loss, timed out of words/s."""

  def __init__(self, job: Job, writer, log_secs: float, total_words: float, heldout=None):
    self.job, self.writer, self.log_secs = job, writer, log_secs
    self.total_words, self.heldout = total_words, heldout
    self.clock = metrics.Timer()
    self.pending, self.last_log = None, -1e9
    self.loss, self.n, self.epoch_loss, self.epoch_n = 0.0, 0, 0.0, 0
    self.held_seconds, self.train_start, self.words_at_start = 0.0, None, 0.0

  def start(self, words_done: float) -> None:
    """Training starts now (after compiling) with `words_done` words already trained."""
    self.train_start, self.words_at_start = self.clock(), words_done

  def train_seconds(self) -> float:
    return self.clock() - self.train_start if self.train_start is not None else 0.0

  def check(self, stats: dict, step: int) -> float:
    """The dispatch's summed loss; W2VError if it is not finite."""
    loss = float(stats["loss_sum"])
    if not np.isfinite(loss):
      raise W2VError(f"the loss became {loss} by step {step}: training diverged (is "
                     f"{self.job.flag} too large?); the last good checkpoint is kept")
    return loss

  def add(self, stats: dict, words: float, step: int, epoch: int, epoch_end: bool,
          state) -> None:
    """Records a dispatch and accounts for the one before it."""
    if self.pending is not None:
      self._account(*self.pending, state)
    self.pending = (stats, words, step, epoch, epoch_end)

  def finish(self, state) -> None:
    """Accounts for the last dispatch and logs it."""
    if self.pending is not None:
      self._account(*self.pending, state, force=True)
      self.pending = None

  def _account(self, stats, words, step, epoch, epoch_end, state, force=False):
    # float32 sums on device per dispatch, float64 here: ~1e-6 relative error at most.
    loss, n = self.check(stats, step), int(stats["examples"])
    self.loss, self.n = self.loss + loss, self.n + n
    self.epoch_loss, self.epoch_n = self.epoch_loss + loss, self.epoch_n + n
    now = self.clock()
    ends_epoch = epoch_end and self.job.epoch_key is not None
    if force or ends_epoch or now - self.last_log >= self.log_secs:
      self._log(stats, words, step, epoch, state, now, ends_epoch)
    if epoch_end:
      self.epoch_loss, self.epoch_n = 0.0, 0

  def _log(self, stats, words, step, epoch, state, now, ends_epoch):
    seconds = max(now - self.train_start - self.held_seconds, 1e-9)
    row = {"step": int(step), "words": int(words), "epoch": epoch,
           "progress": words / self.total_words,
           "words_per_sec": (words - self.words_at_start) / seconds,
           "loss": self.loss / max(self.n, 1), "lr": float(stats["lr"]), "elapsed": now,
           "train_seconds": seconds}
    row = self.job.row(row)
    if self.heldout is not None:  # on the current params: `state` is a dispatch ahead
      row["heldout_loss"] = self.heldout(state.params)
      self.held_seconds += self.clock() - now
    line = metrics.progress_line(row)
    if ends_epoch:
      row[self.job.epoch_key] = self.epoch_loss / max(self.epoch_n, 1)
      line += f" | epoch {epoch + 1} cost {row[self.job.epoch_key]:.5f}"
    self.writer.write(row)
    log.info(line)
    self.last_log, self.loss, self.n = now, 0.0, 0


def train_loop(job: Job, cfg: Config, state, meta: dict, mngr, progress: Progress, vocab):
  """Trains `state` from data position `meta` to the end of cfg.epochs: (state, step,
  compile_seconds). Checkpoints by cfg's policy (time and count, GloVe also each epoch) and on
  SIGINT/SIGTERM (then raises Interrupted); never checkpoints a diverged state. The last save
  may still be writing: the caller exports meanwhile, then checkpoint.close(mngr)."""
  step, train_call, compile_seconds = job.first_step(state, meta), None, 0.0
  if meta["epoch"] < cfg.epochs:
    job.compile_ahead(state)
  last_save = progress.clock()

  def save(state, epoch, call):
    checkpoint.save(mngr, step, job.host_state(state),
                    {"epoch": epoch, "call": call, "vocab": vocab.fingerprint()})

  with resume.StopOnSignal() as stop:
    for epoch in range(meta["epoch"], cfg.epochs):
      calls = job.start_epoch(epoch)
      for call in range(meta["call"] if epoch == meta["epoch"] else 0, calls):
        block = job.block(call)
        if train_call is None:  # compiled ahead, so words/s counts training only
          train_call, compile_seconds = job.compiled()
          log.info("compiled the train step in %.1fs", compile_seconds)
          progress.start(job.words(epoch, call))
        state, stats = train_call(state, *block)
        step += job.steps
        end = call + 1 == calls
        progress.add(stats, job.words(epoch, call + 1), step, epoch, end, state)
        if end and epoch + 1 == cfg.epochs:
          break
        due = multihost.agree(
            itstime(call + 1, cfg.checkpoint_every, progress.clock(), last_save,
                    cfg.checkpoint_secs) or (end and job.save_epochs))
        if due or stop.signal:
          progress.check(stats, step)
          save(state, epoch + end, (call + 1) % calls)
          last_save = progress.clock()
        if stop.signal:
          checkpoint.wait(mngr)
          raise Interrupted(f"stopped by {stop.signal} at step {step} (epoch {epoch + 1}); "
                            "checkpoint saved; re-run the same command to resume")
  if progress.pending is not None:
    progress.finish(state)
    if mngr.latest_step() != step:  # a finished run that is re-run has nothing new to save
      save(state, cfg.epochs, 0)
  return state, step, compile_seconds


def summary(vocab, step: int, clock, vocab_seconds: float, compile_seconds: float,
            train_seconds: float, emb_VD, **extra) -> dict:
  """train.run's and glove.run's result (the "vectors" of each exported kind in `extra`)."""
  return {"vocab_size": vocab.size, "tokens": vocab.total_tokens, "vocab_seconds": vocab_seconds,
          "compile_seconds": compile_seconds, "train_seconds": train_seconds, "steps": step,
          "elapsed": clock(), "words": vocab.words, "emb_in": emb_VD, **extra}
