"""Multi-process runs: jax.distributed from flags, host values <-> global arrays, one writer.

Every process runs the same `train.run`: it counts the vocabulary and subsamples the corpus
itself (the vocabularies must agree, and do, being deterministic), feeds its devices' rows of
each dispatch, and takes part in every collective (the step's all_gathers, checkpoint saves).
Only process 0 writes vocab.txt, config.json, metrics.jsonl and the vectors; orbax writes the
checkpoints with every process taking part (its barriers need all of them).
"""

import os

import jax
import numpy as np
from jax.experimental import multihost_utils

from w2v_jax.errors import W2VError


def initialize(coordinator: str, num_processes: int, process_id: int) -> None:
  """jax.distributed.initialize for `num_processes` > 1 (a no-op for one process).

  Must run before anything else touches jax. CPU devices talk through gloo collectives
  (jax_cpu_collectives_implementation, jax 0.10); GPUs and TPUs use their own.
  """
  if num_processes <= 1:
    return
  if not coordinator:
    raise W2VError("--num_processes > 1 needs --coordinator=HOST:PORT (process 0's address)")
  if not 0 <= process_id < num_processes:
    raise W2VError(f"--process_id must be in [0, {num_processes}), got {process_id}")
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  try:
    jax.distributed.initialize(coordinator, num_processes, process_id,
                               initialization_timeout=120)
  except Exception as e:  # jax raises RuntimeError / XlaRuntimeError with long texts
    raise W2VError(f"could not join the {num_processes}-process run at {coordinator}: "
                   f"{type(e).__name__}: {str(e)[:200]}") from e


def use_cpu_devices(n: int) -> None:
  """Makes the CPU backend show `n` devices (before jax starts), so --devices=N runs on a CPU
  host: each device is a stream of work XLA:CPU can run beside the others. No-op for n <= 1 or
  when XLA_FLAGS already forces a host device count."""
  if n > 1 and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    jax.config.update("jax_num_cpu_devices", n)


def agree(flag: bool) -> bool:
  """Process 0's `flag` in every process (one broadcast; free with one process): for decisions
  that start a collective, such as a checkpoint due by the clock."""
  if jax.process_count() == 1:
    return flag
  return bool(multihost_utils.broadcast_one_to_all(np.asarray(flag)))


def is_writer() -> bool:
  """True in the one process that writes files (process 0)."""
  return jax.process_index() == 0


def to_global(x, sharding):
  """A host value (every process holds the same) as an array placed with `sharding`; each
  process fills only its own devices' shards. Arrays already so placed and abstract
  ShapeDtypeStructs pass through."""
  if isinstance(x, jax.ShapeDtypeStruct) or (isinstance(x, jax.Array) and x.sharding == sharding):
    return x
  host = np.asarray(x)
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def to_host(tree):
  """Numpy copies of a tree of (possibly multi-process) arrays, on every process: a collective,
  so every process must call it."""
  if jax.process_count() == 1:
    return jax.device_get(tree)
  return jax.tree.map(lambda x: np.asarray(multihost_utils.process_allgather(x, tiled=True)),
                      tree)


class NullWriter:
  """Stands in for metrics.MetricsWriter on the processes that write nothing."""

  def write(self, row: dict) -> None:
    del row

  def close(self) -> None:
    pass
