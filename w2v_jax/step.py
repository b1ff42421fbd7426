"""The training step, below everything that trains: the train state, its init, the micro-step,
the one scan wrapper, and the loss of a batch (also the held-out loss).

A micro-step is one synchronous SGD step on B*T centres: draw the windows and the objectives'
rows (model.make_batch), gather the touched rows, take the gradient of the summed loss w.r.t.
those rows, let the optimizer turn it into updates and scatter-add them back (optim.apply). For
SGD this equals optax on the dense gradient (tests/test_train.py). Data parallelism changes
only where rows come from and go to: `Local`'s hooks, which parallel.SyncStep overrides.
"""

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

from w2v_jax import config as config_lib, model, optim
from w2v_jax.config import Config

# XLA's RngBitGenerator: one op per draw, where threefry compiles to loops of small ops on
# XLA:CPU. Deterministic for a given seed and device count.
RNG_IMPL = "unsafe_rbg"


class TrainState(NamedTuple):
  params: dict        # {"emb_in": (V, D), "emb_out": (V, D)} (+ emb_hs, pos_OD)
  opt_state: Any
  step: jax.Array     # int32: micro-steps done; the per-step rng is fold_in(rng, step)
  rng: jax.Array      # uint32[4] raw key data of an "unsafe_rbg" key (see RNG_IMPL)


def resolve(cfg: Config) -> Config:
  """config.resolve on the devices this process sees (the defaults of --devices/--sync)."""
  return config_lib.resolve(cfg, jax.default_backend(), jax.local_device_count())


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
  """Fresh tables (model.init_params), optimizer state, step 0 and the run's key."""
  k_init, k_train = jax.random.split(jax.random.key(cfg.seed, impl=RNG_IMPL))
  params = model.init_params(k_init, vocab_size, cfg.dim, cfg.init_range, loss=cfg.loss,
                             positions=2 * cfg.window if cfg.cbow_position_weights else 0)
  return TrainState(params, tx.init(params), jnp.zeros((), jnp.int32),
                    jax.random.key_data(k_train))


def batch_options(cfg: Config) -> dict:
  """model.make_batch's keyword arguments."""
  return {"window": cfg.window, "negatives": cfg.negatives,
          "shrink_window": cfg.shrink_window, "loss": cfg.loss}


def loss_options(cfg: Config) -> dict:
  """model.rows_loss's keyword arguments."""
  return {"model": cfg.model, "loss": cfg.loss, "cbow_mean_grad": cfg.cbow_mean_grad,
          "skip_beyond": cfg.skip_beyond, "cbow_mean": cfg.cbow_mean, "sigmoid": cfg.sigmoid,
          "fusion_barriers": cfg.fusion_barriers is not False}


def batch_loss(params: dict, ids_BL, seg_BL, key, noise: tuple, tree, cfg: Config):
  """(summed loss, examples) of one micro-step's rows under `params`, without an update."""
  batch = model.make_batch(ids_BL, seg_BL, key, noise, tree=tree, **batch_options(cfg))
  return model.rows_loss(model.gather_rows(params, batch, cfg.loss), batch, **loss_options(cfg))


class Local:
  """Where a micro-step's rows come from and go to on one device: everything is local.

  parallel.SyncStep overrides these hooks to split a micro-step's rows over a device mesh."""

  def whole(self, ids_BL, seg_BL):
    """The whole micro-step's (ids, seg) from this device's rows."""
    return ids_BL, seg_BL

  def mine(self, batch: dict) -> dict:
    """This device's part of the whole micro-step's batch."""
    return batch

  def gather(self, params: dict, batch: dict, batch_all: dict, loss: str) -> dict:
    return model.gather_rows(params, batch, loss)

  def combine(self, grads: dict, params: dict) -> dict:
    """The whole micro-step's row gradients from this device's."""
    return grads

  def apply_options(self, params: dict) -> dict:
    """Extra keyword arguments of optim.apply (a sharded scatter)."""
    return {}

  def total(self, x):
    """A statistic summed over the devices."""
    return x


def make_micro_step(cfg: Config, tx: optax.GradientTransformation, where: Local = Local()):
  """The lax.scan body: ((state, noise, tree), (ids_BL, seg_BL, progress)) ->
  ((state, noise, tree), (loss_sum, examples, lr)), one synchronous SGD step."""
  cfg = resolve(cfg)
  loss = jax.value_and_grad(model.rows_loss, has_aux=True)
  batch_kw, loss_kw = batch_options(cfg), loss_options(cfg)

  def micro_step(carry, xs):
    state, noise, tree = carry
    ids_BL, seg_BL = where.whole(*xs[:2])
    progress = xs[2]
    batch_all = model.make_batch(ids_BL, seg_BL, step_key(state.rng, state.step), noise,
                                 tree=tree, **batch_kw)
    batch = where.mine(batch_all)
    rows = where.gather(state.params, batch, batch_all, cfg.loss)
    (loss_sum, examples), grads = loss(rows, batch, **loss_kw)
    lr = word2vec_lr(cfg.lr, progress, cfg.min_alpha_ratio, cfg.lr_progress_scale)
    params, opt_state = optim.apply(tx, cfg, state.params, state.opt_state,
                                    where.combine(grads, state.params), batch_all, lr,
                                    **where.apply_options(state.params))
    new = TrainState(params, opt_state, state.step + 1, state.rng)
    return (new, noise, tree), (where.total(loss_sum), where.total(examples), lr)

  return micro_step


def scan_steps(micro_step, state: TrainState, ids_SBL, seg_SBL, progress_S, noise, tree):
  """S micro-steps in one lax.scan: (state, per-step stats (loss_S, n_S, lr_S))."""
  (state, _, _), stats_S = jax.lax.scan(micro_step, (state, noise, tree),
                                        (ids_SBL, seg_SBL, progress_S))
  return state, stats_S


def summary(loss_S, n_S, lr_S) -> dict:
  """A dispatch's statistics: summed loss and examples, the last learning rate."""
  return {"loss_sum": loss_S.sum(), "examples": n_S.sum(), "lr": lr_S[-1]}


def make_train_call(cfg: Config, tx: optax.GradientTransformation):
  """One device's jitted (state, ids_SBL, seg_SBL, progress_S, noise, tree=None) ->
  (state, stats): S micro-steps; `tree` is huffman.build's tables (jnp arrays) under hs."""
  micro_step = make_micro_step(cfg, tx)

  def train_call(state, ids_SBL, seg_SBL, progress_S, noise, tree=None):
    state, stats_S = scan_steps(micro_step, state, ids_SBL, seg_SBL, progress_S, noise, tree)
    return state, summary(*stats_S)

  return jax.jit(train_call, donate_argnums=0)
