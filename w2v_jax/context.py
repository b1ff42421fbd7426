"""Context windows over a row of gathered token vectors, with hand-written gradients.

A micro-step gathers each token row once, in_BLD (B rows of L = T + 2W tokens: T centres and a
halo of W on each side), and a centre's context slot o reads the token W + off_o places along.
Skip-gram stacks the 2W slices (context_stack), CBOW sums them under the window mask
(context_sum). Their gradients go back to the L tokens: token p gets the slot gradients of the
centres that saw it, a 2W-tap sum along the row.

Autodiff writes that sum as 2W zero-pads of the slot gradients added up, which XLA:CPU fuses
into one loop that bounds-checks every tap of every element. Here the gradient is padded once,
made a buffer of its own (`materialize`), and the taps are plain slices of it: same values
(tests/test_context.py checks values and gradients against autodiff), a faster step
(docs/performance.md, *Context gradients*).
"""

import functools

import jax
import jax.numpy as jnp


def offsets(window: int) -> list[int]:
  """The 2W context offsets of a centre, left to right: -W..-1, 1..W."""
  return [o for o in range(-window, window + 1) if o != 0]


def materialize(x: jax.Array, probe: jax.Array | None) -> jax.Array:
  """`x`, computed once into its own buffer rather than fused into each consumer.

  XLA:CPU fuses cheap elementwise producers into every consumer and recomputes them there
  (jax.lax.optimization_barrier does not stop it); the result of a conditional is never fused.
  `probe` is any traced scalar of the step, so that the predicate is not a constant XLA could
  fold away; both branches return x (a NaN probe takes the second one). A CPU-only trick: on
  GPUs and TPUs a conditional copies its predicate to the host on every execution, so there the
  step passes probe=None (Config.fusion_barriers) and `x` is returned as it is.
  """
  if probe is None:
    return x
  return jax.lax.cond(probe == probe, lambda v: v, lambda v: v * 1.0, x)


def _taps(x_BKX, window: int, length: int):
  """The 2W slices x_BKX[:, W - off : W - off + length] of a tensor padded by 2W on each side."""
  return [x_BKX[:, window - off:window - off + length] for off in offsets(window)]


def _pad_rows(x_BT, window: int):
  """Zero-pads axis 1 (the centres) by 2W on both sides."""
  pad = [(0, 0)] * x_BT.ndim
  pad[1] = (2 * window, 2 * window)
  return jnp.pad(x_BT, pad)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def context_sum(in_BLD: jax.Array, m_BTO: jax.Array, barriers: bool = True) -> jax.Array:
  """h_BTD = Σ_o m_BTO[..., o] · in_BLD[:, W + off_o : W + off_o + T]: CBOW's summed context.

  m_BTO is the (float) window mask; it gets no gradient. `barriers`: see materialize.
  """
  t, o = m_BTO.shape[1:]
  w = o // 2
  h_BTD = sum(m_BTO[..., i, None] * in_BLD[:, w + off:w + off + t]
              for i, off in enumerate(offsets(w)))
  # read by the scores and by emb_out's gradient
  return materialize(h_BTD, in_BLD[0, 0, 0] if barriers else None)


def _context_sum_fwd(in_BLD, m_BTO, barriers):
  return context_sum(in_BLD, m_BTO, barriers), (m_BTO, in_BLD[0, 0, 0] if barriers else None)


def _context_sum_bwd(barriers, res, g_BTD):
  del barriers  # the probe in `res` is None without them
  m_BTO, probe = res
  t, o = m_BTO.shape[1:]
  w, length = o // 2, t + o
  # Token p's gradient: Σ_o m[p - W - off_o, o] · g[p - W - off_o]; with g and m padded by 2W
  # that is tap o of each at W - off_o.
  gp_BKD = materialize(_pad_rows(g_BTD, w), probe)
  mp_BKO = materialize(_pad_rows(m_BTO, w), probe)
  g_taps, m_taps = _taps(gp_BKD, w, length), _taps(mp_BKO, w, length)
  g_BLD = sum(m_taps[i][..., i, None] * g_taps[i] for i in range(o))
  return g_BLD, jnp.zeros_like(m_BTO)


context_sum.defvjp(_context_sum_fwd, _context_sum_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def context_stack(in_BLD: jax.Array, window: int, barriers: bool = True) -> jax.Array:
  """x_BTOD[:, t, o] = in_BLD[:, W + t + off_o]: skip-gram's context rows of every centre.

  `barriers`: see materialize."""
  t = in_BLD.shape[1] - 2 * window
  return jnp.stack([in_BLD[:, window + off:window + off + t] for off in offsets(window)], axis=2)


def _context_stack_fwd(in_BLD, window, barriers):
  return context_stack(in_BLD, window, barriers), in_BLD[0, 0, 0] if barriers else None


def _context_stack_bwd(window, barriers, probe, g_BTOD):
  del barriers  # the probe is None without them
  length = g_BTOD.shape[1] + 2 * window
  # Token p's gradient: Σ_o g[p - W - off_o, o], tap o of g padded by 2W.
  gp_BKOD = materialize(_pad_rows(g_BTOD, window), probe)
  taps = _taps(gp_BKOD, window, length)
  return (sum(tap[:, :, i] for i, tap in enumerate(taps)),)


context_stack.defvjp(_context_stack_fwd, _context_stack_bwd)
