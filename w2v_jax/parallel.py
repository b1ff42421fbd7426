"""Data parallelism over a device mesh: each device trains its share of every micro-step's rows.

The user's design says "pmapped"; `jax.shard_map` is pmap's current successor (jax's docs:
"migrating from pmap to shard_map"), so the step is one `jax.jit(jax.shard_map(...))` over a 1-D
mesh with axis "data". Every micro-step:

  1. all_gather the rows' ids (B x L int32, small) so every device sees the whole micro-step and
     draws its windows and negatives with the *same* key as one device would (make_batch), then
     keeps its B/N rows: N devices take the step one device takes, up to float summation order;
  2. gathers its rows' embeddings and takes the gradient of the loss w.r.t. those rows;
  3. all_gather the row gradients (touched rows only; never a dense V x D gradient), and every
     device takes the one-device optimizer step (optim.apply) on the whole micro-step: the
     same scatter-adds in the same order.

Tables are either replicated (every device applies every update, so the copies stay identical)
or, with `shard_tables`, split by rows (V padded to a multiple of N): a lookup is each device
reading the rows it owns for the whole micro-step (zeros elsewhere) and a psum_scatter handing
every device its rows; an update is each device adding the gathered updates it owns. Per-device
table memory is then 1/N (docs/scaling.md).
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from w2v_jax import model, multihost, objectives, step
from w2v_jax.config import Config
from w2v_jax.errors import W2VError

AXIS = "data"


def table_ids(loss: str) -> dict:
  """Which batch ids index which table under `loss`: sharded tables route lookups and updates
  by these (an objective without row ids, the full softmax, cannot be sharded)."""
  return {"emb_in": "ids", **{o.table: o.ids for o in objectives.parse(loss)}}


def make_mesh(devices: int) -> Mesh:
  """A 1-D mesh ("data") over the first `devices` devices of all processes (0 = all)."""
  n = jax.device_count() if devices == 0 else devices
  if n > jax.device_count():
    raise W2VError(f"--devices={devices} but only {jax.device_count()} devices are visible")
  return Mesh(np.array(jax.devices()[:n]), (AXIS,))


def check(cfg: Config, mesh: Mesh) -> int:
  """Raises W2VError when `cfg` cannot run data parallel on `mesh`; returns its device count.

  The settings alone are checked by Config.validate; this adds what depends on the mesh."""
  if cfg.sync != "dispatch":  # replicas take cfg.rows each; one step splits its rows
    cfg.check_rows(mesh.size)
  return mesh.size


def padded_vocab(vocab_size: int, cfg: Config, n_devices: int) -> int:
  """V rounded up to a multiple of the device count when tables are sharded or merged by
  replicas (--sync=dispatch: the in-step collective merge splits the rows), else V."""
  split = cfg.shard_tables or cfg.sync == "dispatch"
  return -(-vocab_size // n_devices) * n_devices if split else vocab_size


def _is_table(x, shapes) -> bool:
  return hasattr(x, "shape") and tuple(x.shape) in shapes


def _table_shapes(params) -> set:
  return {tuple(params[k].shape) for k in params}


def state_specs(state, shard_tables: bool):
  """PartitionSpecs of a TrainState: tables (and optimizer leaves shaped like one) split by
  rows with `shard_tables`, everything else replicated."""
  shapes = _table_shapes(state.params)
  return jax.tree.map(
      lambda x: P(AXIS, None) if shard_tables and _is_table(x, shapes) else P(), state)


def abstract_state(cfg: Config, vocab_size: int, tx, mesh: Mesh):
  """place_state's result as ShapeDtypeStructs with shardings: nothing is allocated, so a
  step can be lowered and compiled for any vocabulary (experiments/memory_report.py)."""
  state = jax.eval_shape(lambda: step.init_state(cfg, vocab_size, tx))
  vp, shapes = padded_vocab(vocab_size, cfg, mesh.size), _table_shapes(state.params)
  state = jax.tree.map(lambda x: jax.ShapeDtypeStruct(
      (vp,) + x.shape[1:] if _is_table(x, shapes) else x.shape, x.dtype), state)
  specs = state_specs(state, cfg.shard_tables)
  return jax.tree.map(lambda x, s: jax.ShapeDtypeStruct(x.shape, x.dtype,
                                                        sharding=NamedSharding(mesh, s)),
                      state, specs)


def place_state(cfg: Config, state, mesh: Mesh):
  """Pads the tables to the sharded vocabulary and puts the state on the mesh."""
  cfg = step.resolve(cfg)
  check(cfg, mesh)
  v = state.params["emb_in"].shape[0]
  vp = padded_vocab(v, cfg, mesh.size)
  shapes = _table_shapes(state.params)
  if vp != v:  # zero rows past V: never looked up (ids < V), never updated
    state = jax.tree.map(
        lambda x: np.pad(np.asarray(x), ((0, vp - v), (0, 0))) if _is_table(x, shapes) else x,
        state)
  specs = state_specs(state, cfg.shard_tables)
  return jax.tree.map(lambda x, s: multihost.to_global(x, NamedSharding(mesh, s)), state, specs)


def unpad_state(state, vocab_size: int):
  """The state with tables cut back to `vocab_size` rows (for checkpoints and export)."""
  shapes = _table_shapes(state.params)
  return jax.tree.map(lambda x: x[:vocab_size] if _is_table(x, shapes) else x, state)


def host_state(state, vocab_size: int):
  """Numpy copy of the unpadded state on every process (a collective: all must call it)."""
  return multihost.to_host(unpad_state(state, vocab_size))


def data_sharding(mesh: Mesh) -> NamedSharding:
  """ids_SBL / seg_SBL: the B rows of every micro-step split over the devices."""
  return NamedSharding(mesh, P(None, AXIS, None))


def _owned(ids, rows_per_device):
  """Local row index of the ids this device owns; rows_per_device (out of bounds) elsewhere."""
  local = ids - jax.lax.axis_index(AXIS) * rows_per_device
  return jnp.where((local >= 0) & (local < rows_per_device), local, rows_per_device)


def _sharded_gather(params: dict, batch_all: dict, loss: str) -> dict:
  """This device's rows from row-sharded tables: owners read, a psum_scatter delivers."""
  rows = {}
  for name, key in table_ids(loss).items():
    table = params[name]
    mine = table.at[_owned(batch_all[key], table.shape[0])].get(mode="fill", fill_value=0)
    rows[name] = jax.lax.psum_scatter(mine, AXIS, scatter_dimension=0, tiled=True)
  return rows


def _sharded_scatter(params: dict, batch_all: dict, updates_all: dict, loss: str) -> dict:
  """Adds the micro-step's updates to the rows this device owns (others are dropped)."""
  out = dict(params)
  for name, key in table_ids(loss).items():
    table = params[name]
    out[name] = table.at[_owned(batch_all[key], table.shape[0])].add(updates_all[name],
                                                                     mode="drop")
  return out


def _combine(grads: dict, params: dict) -> dict:
  """The whole micro-step's gradients on every device: gathered rows (b, ..., D) are
  all_gathered (N x b rows); whole-table gradients (the full softmax's emb_out, pos_OD) are
  summed, the one all-reduce left, and only for those small or dense-by-design objectives."""
  return {k: (jax.lax.all_gather(g, AXIS, tiled=True) if g.ndim > params[k].ndim
              else jax.lax.psum(g, AXIS)) for k, g in grads.items()}


def step_rows(cfg: Config, n_devices: int) -> int:
  """Rows of one micro-step over all devices: cfg.rows[0], or per replica with sync=dispatch."""
  cfg = step.resolve(cfg)
  return cfg.rows[0] * (n_devices if cfg.sync == "dispatch" else 1)


class SyncStep(step.Local):
  """step.Local's hooks for one synchronous step over the mesh (see the module docstring)."""

  def __init__(self, cfg: Config, n_devices: int):
    self._b, self._n, self._shard = cfg.rows[0] // n_devices, n_devices, cfg.shard_tables

  def whole(self, ids_bL, seg_bL):
    return (jax.lax.all_gather(ids_bL, AXIS, tiled=True),
            jax.lax.all_gather(seg_bL, AXIS, tiled=True))

  def mine(self, batch: dict) -> dict:
    first = jax.lax.axis_index(AXIS) * self._b
    return jax.tree.map(lambda x: jax.lax.dynamic_slice_in_dim(x, first, self._b), batch)

  def gather(self, params: dict, batch: dict, batch_all: dict, loss: str) -> dict:
    if self._shard:
      return _sharded_gather(params, batch_all, loss)
    return model.gather_rows(params, batch, loss)

  def combine(self, grads: dict, params: dict) -> dict:
    # Only the touched rows travel: N x (B/N rows' gradients), never a V x D gradient. Every
    # device then takes the one-device optimizer step on the whole micro-step.
    return _combine(grads, params)

  def apply_options(self, params: dict) -> dict:
    # Sharded tables: SGD adds the updates each device owns; a dense adaptive optimizer
    # (elementwise) runs on each device's own rows and state (Config.validate refuses lazy
    # ones).
    if not self._shard:
      return {}
    return {"scatter": _sharded_scatter, "vocab_size": params["emb_in"].shape[0] * self._n}

  def total(self, x):
    return jax.lax.psum(x, AXIS)


def make_train_call(cfg: Config, tx, mesh: Mesh):
  """step.make_train_call's (state, ids_SBL, seg_SBL, progress_S, noise, tree=None) ->
  (state, stats) as one synchronous step over `mesh` (--sync=step); `state` must be placed
  with place_state."""
  cfg = step.resolve(cfg)
  micro_step = step.make_micro_step(cfg, tx, SyncStep(cfg, check(cfg, mesh)))

  def body(state, ids_SbL, seg_SbL, progress_S, noise, tree):
    state, stats_S = step.scan_steps(micro_step, state, ids_SbL, seg_SbL, progress_S, noise,
                                     tree)
    return state, step.summary(*stats_S)

  def train_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    tables = table_ids(cfg.loss)
    if cfg.shard_tables and set(state.params) != set(tables):
      raise W2VError(f"--shard_tables supports the tables {sorted(tables)}, not "
                     f"{sorted(set(state.params) - set(tables))}")
    specs = state_specs(state, cfg.shard_tables)
    data = P(None, AXIS, None)
    # check_vma=False: the replicated tables stay identical because every device applies the
    # same all-gathered updates in the same order, which the type checker cannot see.
    sharded = jax.shard_map(body, mesh=mesh, in_specs=(specs, data, data, P(), P(), P()),
                            out_specs=(specs, P()), check_vma=False)
    return sharded(state, ids_SBL, seg_SBL, progress_S, noise, tree)

  return OnMesh(jax.jit(train_call, donate_argnums=0), mesh)


class OnMesh:
  """The jitted step, its host inputs (numpy ids, rows, progress, noise) first made arrays on
  the mesh: jit takes no host value for devices of other processes. Same .lower().compile()."""

  def __init__(self, fn, mesh: Mesh, noise_cache=None):
    self._fn, self._mesh, self._noise = fn, mesh, noise_cache or {}

  def _args(self, state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    data, rep = data_sharding(self._mesh), NamedSharding(self._mesh, P())
    if id(noise) not in self._noise:  # the same tables every dispatch: place them once
      self._noise.clear()
      self._noise[id(noise)] = (noise, jax.tree.map(lambda a: multihost.to_global(a, rep),
                                                    (noise, tree)))
    noise_g, tree_g = self._noise[id(noise)][1]
    return (state, multihost.to_global(ids_SBL, data), multihost.to_global(seg_SBL, data),
            multihost.to_global(progress_S, rep), noise_g, tree_g)

  def __call__(self, *args):
    return self._fn(*self._args(*args))

  def __getattr__(self, name):  # e.g. a compiled step's memory_analysis()
    return getattr(self._fn, name)

  def lower(self, *args):
    lowered = self._fn.lower(*self._args(*args))
    return Lowered(lambda: OnMesh(lowered.compile(), self._mesh, self._noise), lowered)


class Lowered:
  """What OnMesh.lower returns: .compile() gives a compiled OnMesh."""

  def __init__(self, compile_fn, lowered):
    self.compile, self.lowered = compile_fn, lowered
