"""Checkpoints with orbax: the train state plus the data position, saved and restored by step."""

import logging
import os
import shutil

import jax
import numpy as np
import orbax.checkpoint as ocp

from w2v_jax.errors import W2VError

log = logging.getLogger("w2v_jax")


def make_manager(workdir: str, keep: int) -> ocp.CheckpointManager:
  """A manager over WORKDIR/checkpoints (orbax wants an absolute path)."""
  directory = os.path.join(os.path.abspath(workdir), "checkpoints")
  return ocp.CheckpointManager(
      directory, options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))


def has_checkpoint(workdir: str) -> bool:
  directory = os.path.join(workdir, "checkpoints")
  return os.path.isdir(directory) and any(n.isdigit() for n in os.listdir(directory))


def clear(workdir: str) -> None:
  """Deletes WORKDIR/checkpoints (only on --overwrite)."""
  shutil.rmtree(os.path.join(workdir, "checkpoints"), ignore_errors=True)


def checksum(state) -> list[float]:
  """Float64 sums of every leaf: stored with a checkpoint, checked after restoring it."""
  return [float(np.asarray(x, np.float64).sum()) for x in jax.tree.leaves(state)]


def save(mngr: ocp.CheckpointManager, step: int, state, meta: dict) -> None:
  """Saves `state` (host arrays) asynchronously with `meta` (JSON: data position, vocab
  fingerprint) and the state's checksum. Errors of earlier saves (a full disk) surface here."""
  meta = {**meta, "checksum": checksum(state)}
  try:
    mngr.save(step, force=True, args=ocp.args.Composite(
        state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)))
  except Exception as e:
    raise W2VError(f"saving the checkpoint of step {step} in {mngr.directory} failed: "
                   f"{type(e).__name__}: {str(e)[:200]}") from e


def wait(mngr: ocp.CheckpointManager) -> None:
  """Blocks until pending saves are on disk; a failed save (e.g. a full disk) is a W2VError."""
  try:
    mngr.wait_until_finished()
  except Exception as e:
    raise W2VError(f"saving a checkpoint in {mngr.directory} failed: "
                   f"{type(e).__name__}: {str(e)[:200]}") from e


def close(mngr: ocp.CheckpointManager) -> None:
  """wait, then closes the manager."""
  wait(mngr)
  mngr.close()


def restore_latest(mngr: ocp.CheckpointManager, abstract_state):
  """(state, meta) of the newest *good* checkpoint, or (None, None) when there is none.

  A checkpoint that fails to restore, or whose checksum does not match, is skipped with a
  warning and the next older one is tried; if none is good, W2VError (never a garbage state).
  """
  steps = sorted(mngr.all_steps(), reverse=True)
  if not steps:
    return None, None
  target = jax.tree.map(lambda a: jax.ShapeDtypeStruct(a.shape, a.dtype), abstract_state)
  for step in steps:
    try:
      got = mngr.restore(step, args=ocp.args.Composite(
          state=ocp.args.StandardRestore(target), meta=ocp.args.JsonRestore()))
      if got["meta"].get("checksum") != checksum(got["state"]):
        raise ValueError("checksum mismatch: the arrays on disk are not the ones saved")
    except Exception as e:  # orbax raises many types for a damaged checkpoint
      log.warning("checkpoint %d in %s is damaged (%s: %s); trying an older one", step,
                  mngr.directory, type(e).__name__, str(e)[:200])
      continue
    return got["state"], got["meta"]
  raise W2VError(f"no readable checkpoint in {mngr.directory} (all {len(steps)} are damaged); "
                 "move the workdir away or use --overwrite to start over")
