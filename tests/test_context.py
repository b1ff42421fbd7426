"""context.context_sum / context_stack: values and hand-written gradients against autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from w2v_jax import context


def _slices(in_BLD, w):
  t = in_BLD.shape[1] - 2 * w
  return [in_BLD[:, w + off:w + off + t] for off in context.offsets(w)]


def _ref_sum(in_BLD, m_BTO):
  w = m_BTO.shape[-1] // 2
  return sum(m_BTO[..., i, None] * c for i, c in enumerate(_slices(in_BLD, w)))


def _ref_stack(in_BLD, w):
  return jnp.stack(_slices(in_BLD, w), axis=2)


def _inputs(seed, b, t, w, d):
  k1, k2, k3 = jax.random.split(jax.random.key(seed), 3)
  in_BLD = jax.random.normal(k1, (b, t + 2 * w, d))
  m_BTO = jax.random.bernoulli(k2, 0.6, (b, t, 2 * w)).astype(jnp.float32)
  return in_BLD, m_BTO, k3


@pytest.mark.parametrize("b,t,w,d", [(1, 7, 1, 3), (2, 16, 2, 5), (3, 9, 5, 4), (1, 3, 5, 2)])
def test_context_sum_matches_autodiff(b, t, w, d):
  in_BLD, m_BTO, k = _inputs(b * 100 + w, b, t, w, d)
  cot_BTD = jax.random.normal(k, (b, t, d))

  def loss(fn, x):
    return jnp.sum(fn(x, m_BTO) * cot_BTD)

  np.testing.assert_allclose(jax.jit(context.context_sum)(in_BLD, m_BTO),
                             _ref_sum(in_BLD, m_BTO), rtol=1e-6, atol=1e-6)
  got = jax.jit(jax.grad(lambda x: loss(context.context_sum, x)))(in_BLD)
  want = jax.grad(lambda x: loss(_ref_sum, x))(in_BLD)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
  # The mask is data: no gradient flows to it.
  g_m = jax.grad(lambda m: jnp.sum(context.context_sum(in_BLD, m) * cot_BTD))(m_BTO)
  assert not np.any(np.asarray(g_m))


@pytest.mark.parametrize("b,t,w,d", [(1, 7, 1, 3), (2, 16, 2, 5), (3, 9, 5, 4)])
def test_context_stack_matches_autodiff(b, t, w, d):
  in_BLD, _, k = _inputs(b * 10 + w, b, t, w, d)
  cot_BTOD = jax.random.normal(k, (b, t, 2 * w, d))
  got_x = jax.jit(context.context_stack, static_argnums=1)(in_BLD, w)
  np.testing.assert_array_equal(got_x, _ref_stack(in_BLD, w))
  got = jax.jit(jax.grad(lambda x: jnp.sum(context.context_stack(x, w) * cot_BTOD)))(in_BLD)
  want = jax.grad(lambda x: jnp.sum(_ref_stack(x, w) * cot_BTOD))(in_BLD)
  np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_materialize_keeps_the_value_even_for_a_nan_probe():
  x = jnp.arange(6.0).reshape(2, 3)
  for probe in (jnp.float32(1.0), jnp.float32(jnp.nan)):
    np.testing.assert_array_equal(jax.jit(context.materialize)(x, probe), x)
