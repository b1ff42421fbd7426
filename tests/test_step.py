"""The step module: one device's dispatch, exported for a GPU without a conditional in its loop."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v_jax import config, step
from w2v_jax.config import Config

V, S, T, W = 50, 2, 64, 3


def _dispatch(cfg):
  tx = step.make_optimizer(cfg)
  state = jax.eval_shape(lambda: step.init_state(cfg, V, tx))
  ids = jax.ShapeDtypeStruct((S, 1, T + 2 * W), jnp.int32)
  noise = (jax.ShapeDtypeStruct((64,), jnp.float32), jax.ShapeDtypeStruct((64,), jnp.int32))
  return step.make_train_call(cfg, tx), (state, ids, ids, jax.ShapeDtypeStruct((S,), jnp.float32),
                                         noise)


def _conditionals(cfg, platform: str) -> int:
  fn, args = _dispatch(cfg)
  text = jax.export.export(fn, platforms=(platform,))(*args).mlir_module()
  assert text.count("stablehlo.while") == 1  # the scan over micro-steps
  return text.count("stablehlo.case") + text.count("stablehlo.if")


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_gpu_step_has_no_conditional(model):
  base = Config(model=model, corpus="x", window=W, batch_size=T, row_tokens=T, steps_per_call=S)
  # XLA:CPU's fusion barriers are conditionals: the CPU step has them, the GPU step must not
  # (XLA's GPU runtime copies a conditional's predicate to the host on every execution).
  assert _conditionals(config.resolve(base, "cpu"), "cpu") > 0
  assert _conditionals(config.resolve(base, "gpu"), "cuda") == 0


@pytest.mark.parametrize("model", ["sg", "cbow"])
def test_fusion_barriers_change_no_value(model):
  cfg = config.resolve(Config(model=model, corpus="x", window=W, batch_size=T, row_tokens=T,
                              steps_per_call=S, dim=8))
  rng = np.random.default_rng(0)
  ids = rng.integers(1, V, (S, 1, T + 2 * W)).astype(np.int32)
  seg = np.zeros_like(ids)
  noise = (jnp.ones((64,), jnp.float32), jnp.asarray(rng.integers(1, V, 64), jnp.int32))
  got = []
  for barriers in (True, False):
    c = dataclasses.replace(cfg, fusion_barriers=barriers)
    tx = step.make_optimizer(c)
    state = step.init_state(c, V, tx)
    state, stats = step.make_train_call(c, tx)(state, ids, seg, np.zeros(S, np.float32), noise)
    got.append((jax.device_get(state.params), float(stats["loss_sum"])))
  assert got[0][1] == pytest.approx(got[1][1], rel=1e-6)
  for k in got[0][0]:
    np.testing.assert_allclose(got[0][0][k], got[1][0][k], rtol=1e-5, atol=1e-7)
