"""A run's work directory across restarts: is it ours to resume, the state to resume from, and
stopping cleanly on SIGINT/SIGTERM (shared by word2vec training and GloVe)."""

import os
import shutil
import signal
import threading

import jax

from w2v_jax import checkpoint, metrics
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

log = metrics.log


def check(cfg: Config, workdir: str, overwrite: bool) -> None:
  """Refuses to resume a workdir trained with a different configuration (unless overwrite)."""
  path = os.path.join(workdir, "config.json")
  if not checkpoint.has_checkpoint(workdir):
    return
  if overwrite:
    checkpoint.clear(workdir)
    for name in ("metrics.jsonl",):
      if os.path.exists(os.path.join(workdir, name)):
        os.remove(os.path.join(workdir, name))
    shutil.rmtree(os.path.join(workdir, "tensorboard"), ignore_errors=True)
    return
  try:
    with open(path, encoding="utf-8") as f:
      old = Config.from_json(f.read()).training_fingerprint()
  except (OSError, ValueError, TypeError) as e:
    raise W2VError(f"{workdir} holds checkpoints but no readable config.json ({e}); "
                   "use another --workdir or --overwrite") from e
  new = cfg.training_fingerprint()
  diff = [f"{k}: {old.get(k)!r} -> {new[k]!r}" for k in new if old.get(k) != new[k]]
  if diff:
    raise W2VError(f"{workdir} holds a checkpoint of a different configuration "
                   f"({'; '.join(diff)}); use another --workdir or --overwrite")


class StopOnSignal:
  """Within the block, SIGINT/SIGTERM set `.signal` instead of killing the process."""

  def __enter__(self):
    self.signal, self._old = None, {}
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self._old[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.signal = signal.Signals(signum).name

  def __exit__(self, *exc):
    for sig, handler in self._old.items():
      signal.signal(sig, handler)


def restore_or_init(workdir: str, mngr, vocab, init):
  """The latest good checkpoint's (state, data position), or `init()` at the start."""
  # The abstract state (a trace of init) only when there is a checkpoint to restore into.
  state, meta = (checkpoint.restore_latest(mngr, jax.eval_shape(init)) if mngr.all_steps()
                 else (None, None))
  if state is None:
    return init(), {"epoch": 0, "call": 0}
  if meta.get("vocab") != vocab.fingerprint():
    raise W2VError(f"the checkpoint in {workdir} was trained on a different vocabulary "
                   "(the corpus or min_count changed); use another --workdir or --overwrite")
  step = getattr(state, "step", None)  # TrainState has one; GloVe's state does not
  log.info("resuming from %s(epoch %d, dispatch %d)", "" if step is None else f"step {int(step)} ",
           meta["epoch"], meta["call"])
  return state, meta
