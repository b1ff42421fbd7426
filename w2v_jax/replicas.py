"""--sync=dispatch: every device a replica that trains on its own, merged once per dispatch.

The CPU counterpart of word2vec.c's Hogwild threads (docs/performance.md): one XLA:CPU program
keeps about 1.2 of 2 cores busy, two replicas on two CPU devices keep both busy, and the price
is one dense merge of the tables per dispatch. On the CPU devices of one process each device
reads the others' tables from host memory and sums them (_HostMerge: XLA:CPU's collectives are
slow here); across processes, or on accelerators, it is a reduce-scatter and an all-gather
inside the step (_merge).
"""

import ctypes
import functools

import jax
import numpy as np
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from w2v_jax import parallel, step
from w2v_jax.config import Config

AXIS = parallel.AXIS


def keep_freed_memory() -> bool:
  """Lets glibc's malloc keep freed table-sized buffers for reuse (call before jax starts).

  The host merge (_HostMerge) allocates and frees a few table-sized buffers per dispatch. By
  default glibc maps each such buffer afresh and unmaps it when freed, and the kernel
  zero-fills every page on first touch. Without mmap, with no trimming and one arena, freed
  buffers are reused (docs/performance.md, *malloc*). The cost is
  that the process keeps its peak heap. False (nothing changed) where libc is not glibc.
  """
  try:
    libc = ctypes.CDLL("libc.so.6")
  except OSError:
    return False
  m_trim_threshold, m_mmap_max, m_arena_max = -1, -4, -8  # glibc's malloc.h
  return all(libc.mallopt(opt, value) == 1 for opt, value in
             ((m_mmap_max, 0), (m_trim_threshold, 2**31 - 1), (m_arena_max, 1)))


def _merge(new, old, n: int):
  """old + the sum over replicas of (new - old), identical on every device.

  Written as Σ new - (n - 1) old on a reduce-scatter (each device sums 1/n of the rows, with no
  full-table delta pass first) and an all-gather: half the memory traffic of old + psum(new -
  old), the dense V x D merge being the price of this mode on CPU (docs/performance.md).
  """
  if new.shape[0] % n:  # e.g. emb_hs's V - 1 rows, pos_OD: the plain all-reduce
    return old + jax.lax.psum(new - old, AXIS)
  rows = new.shape[0] // n
  mine = jax.lax.psum_scatter(new, AXIS, scatter_dimension=0, tiled=True)
  mine = mine - (n - 1) * jax.lax.dynamic_slice_in_dim(old, jax.lax.axis_index(AXIS) * rows, rows)
  return jax.lax.all_gather(mine, AXIS, tiled=True)


def make_train_call(cfg: Config, tx, mesh: Mesh, merge: str = "auto"):
  """train.make_train_call's step as local SGD (--sync=dispatch): every device is a replica that
  trains its own rows of each micro-step on its own copy of the tables for the whole dispatch,
  then the replicas' changes are summed into the shared tables: new = old + psum(local - old).

  This is word2vec.c's Hogwild (threads updating shared tables without locks) with the other
  threads' updates seen once per dispatch instead of at random moments; on CPU it is what
  keeps every core busy (docs/performance.md). Vectors depend on the device count (like C's
  -threads), are deterministic for a given count, and with one device equal sync=step.
  `merge`: "host" (_HostMerge), "collective" (_merge inside the step) or "auto" (host for the
  CPU devices of one process).
  """
  cfg = step.resolve(cfg)
  parallel.check(cfg, mesh)
  micro_step = step.make_micro_step(cfg, tx)

  def body(state, ids_SbL, seg_SbL, progress_S, noise, tree, merge: bool):
    # Each replica its own random stream: fold the device index into the run's key.
    key = jax.random.wrap_key_data(state.rng, impl=step.RNG_IMPL)
    rng = jax.random.key_data(jax.random.fold_in(key, jax.lax.axis_index(AXIS)))
    local, (loss_S, n_S, lr_S) = step.scan_steps(micro_step, state._replace(rng=rng), ids_SbL,
                                                 seg_SbL, progress_S, noise, tree)
    done = done_stats = jax.lax.psum(
        jnp.stack([loss_S.sum(), n_S.sum().astype(jnp.float32)]), AXIS)
    stats = {"loss_sum": done_stats[0], "examples": done_stats[1].astype(jnp.int32),
             "lr": lr_S[-1]}
    if not merge:  # every replica's own tables, merged outside (_HostMerge)
      return local.params, local.step, stats
    # One collective at a time, in a fixed order (each waits on the previous one's result):
    # XLA:CPU runs collectives on its worker threads, and two independent ones in flight on
    # one device could hold every worker while the other device still needs one (a hang seen
    # with 2 devices on 2 cores).
    params = {}
    for name in sorted(local.params):
      new, _ = jax.lax.optimization_barrier((local.params[name], done))
      params[name] = done = _merge(new, state.params[name], mesh.size)
    return step.TrainState(params, state.opt_state, local.step, state.rng), stats

  data = P(None, AXIS, None)
  # Devices of other processes, or accelerators (their collectives are fast): XLA's
  # collectives do the merge inside the step. CPU devices of this process: _HostMerge.
  if merge == "auto":
    host = jax.process_count() == 1 and mesh.devices.flat[0].platform == "cpu"
    merge = "host" if host else "collective"
  if merge == "collective":
    def train_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
      # check_vma=False: every replica ends the dispatch with the same tables (old + one psum).
      merged = jax.shard_map(functools.partial(body, merge=True), mesh=mesh,
                             in_specs=(P(), data, data, P(), P(), P()), out_specs=(P(), P()),
                             check_vma=False)
      return merged(state, ids_SBL, seg_SBL, progress_S, noise, tree)

    return parallel.OnMesh(jax.jit(train_call, donate_argnums=0), mesh)

  def local_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    # Each replica's tables come back as its block of a (n * V, D) array: no collective.
    unmerged = jax.shard_map(functools.partial(body, merge=False), mesh=mesh,
                             in_specs=(P(), data, data, P(), P(), P()),
                             out_specs=(P(AXIS), P(), P()), check_vma=False)
    return unmerged(state, ids_SBL, seg_SBL, progress_S, noise, tree)

  return _HostMerge(parallel.OnMesh(jax.jit(local_call), mesh), mesh)


@functools.partial(jax.jit, donate_argnums=1)
def _sum_replicas(locals_, old):
  """Σ_r local_r − (n − 1)·old on one device, summed in device order (the same on all)."""
  return sum(locals_[1:], locals_[0]) - (len(locals_) - 1) * old


class _HostMerge:
  """The dispatch's replica tables merged by handing each to the other devices and summing
  there, instead of XLA:CPU's collectives, which are slow on CPU (docs/performance.md).
  Single-process CPU devices only: every device must be addressable, and a numpy view of one
  device's buffer must be readable by the others (host memory)."""

  def __init__(self, local_fn, mesh):
    self._local, self._mesh = local_fn, mesh

  def _merge(self, local_nVD, old_VD):
    devices = list(self._mesh.devices.flat)
    mine = {s.device: s.data for s in local_nVD.addressable_shards}
    old = {s.device: s.data for s in old_VD.addressable_shards}
    # Another device's table reaches this one without a copy: on the CPU np.asarray is a view of
    # the buffer (it waits for the dispatch to finish) and device_put of a numpy array aliases
    # it, keeping it alive. (Every view is made before any sum, which frees the old tables:
    # they are donated.)
    views = [[mine[e] if e == d else jax.device_put(np.asarray(mine[e]), d) for e in devices]
             for d in devices]
    merged = [_sum_replicas(v, old[d]) for v, d in zip(views, devices)]
    return jax.make_array_from_single_device_arrays(old_VD.shape, old_VD.sharding, merged)

  def __call__(self, state, *args):
    params, steps, stats = self._local(state, *args)
    merged = {k: self._merge(params[k], state.params[k]) for k in sorted(params)}
    return state._replace(params=merged, step=steps), stats

  def lower(self, state, *args):
    lowered = self._local.lower(state, *args)
    shapes = {(x.shape, x.dtype) for x in state.params.values()}

    def compile_():
      # The merge's sums are compiled here too (train.run compiles beside the subsampling),
      # by one run per device and table shape on zeros, not in the first timed dispatch.
      compiled = lowered.compile()
      for d in self._mesh.devices.flat:
        for shape, dtype in shapes:
          zeros = [jax.device_put(np.zeros(shape, dtype), d) for _ in range(self._mesh.size + 1)]
          _sum_replicas(zeros[1:], zeros[0]).block_until_ready()
      return _HostMerge(compiled, self._mesh)

    return parallel.Lowered(compile_, lowered)
