"""--sync=dispatch: every device a replica that trains on its own, merged once per dispatch.

The CPU counterpart of word2vec.c's Hogwild threads (docs/performance.md): one XLA:CPU program
keeps about 1.2 of 2 cores busy, two replicas on two CPU devices keep both busy, and the price
is one dense merge of the tables per dispatch.
"""

import jax
import jax.numpy as jnp
from jax.sharding import Mesh
from jax.sharding import PartitionSpec as P

from w2v_jax import parallel
from w2v_jax.config import Config

AXIS = parallel.AXIS

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


def make_train_call(cfg: Config, tx, mesh: Mesh):
  """train.make_train_call's step as local SGD (--sync=dispatch): every device is a replica that
  trains its own rows of each micro-step on its own copy of the tables for the whole dispatch,
  then the replicas' changes are summed into the shared tables: new = old + psum(local - old).

  This is word2vec.c's Hogwild (threads updating shared tables without locks) with the other
  threads' updates seen once per dispatch instead of at random moments; on CPU it is what
  keeps every core busy (docs/performance.md). Vectors depend on the device count (like C's
  -threads), are deterministic for a given count, and with one device equal sync=step.
  """
  from w2v_jax import train  # pylint: disable=import-outside-toplevel (train imports us lazily)
  parallel.check(cfg, mesh)
  micro_step = train.make_micro_step(cfg, tx)

  def body(state, ids_SbL, seg_SbL, progress_S, noise, tree):
    # Each replica its own random stream: fold the device index into the run's key.
    key = jax.random.wrap_key_data(state.rng, impl=train.RNG_IMPL)
    rng = jax.random.key_data(jax.random.fold_in(key, jax.lax.axis_index(AXIS)))
    (local, _, _), (loss_S, n_S, lr_S) = jax.lax.scan(
        micro_step, (state._replace(rng=rng), noise, tree), (ids_SbL, seg_SbL, progress_S))
    # One collective at a time, in a fixed order (each waits on the previous one's result):
    # XLA:CPU runs collectives on its worker threads, and two independent ones in flight on
    # one device could hold every worker while the other device still needs one (a hang seen
    # with 2 devices on 2 cores).
    done = done_stats = jax.lax.psum(
        jnp.stack([loss_S.sum(), n_S.sum().astype(jnp.float32)]), AXIS)
    params = {}
    for name in sorted(local.params):
      new, _ = jax.lax.optimization_barrier((local.params[name], done))
      params[name] = done = _merge(new, state.params[name], mesh.size)
    stats = {"loss_sum": done_stats[0], "examples": done_stats[1].astype(jnp.int32),
             "lr": lr_S[-1]}
    return train.TrainState(params, state.opt_state, local.step, state.rng), stats

  def train_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    data = P(None, AXIS, None)
    # check_vma=False: every replica ends the dispatch with the same tables (old + one psum).
    step = jax.shard_map(body, mesh=mesh, in_specs=(P(), data, data, P(), P(), P()),
                         out_specs=(P(), P()), check_vma=False)
    return step(state, ids_SBL, seg_SBL, progress_S, noise, tree)

  return parallel._OnMesh(  # pylint: disable=protected-access
      jax.jit(train_call, donate_argnums=0), mesh)
