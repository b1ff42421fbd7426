"""Random draws on device: uint32 words from a key, and noise words from an alias table."""

import jax
import jax.numpy as jnp
import numpy as np


def random_words(key: jax.Array, n: int) -> jax.Array:
  """n uint32 random words from `key` (a typed key or raw uint32 key data).

  XLA's RngBitGenerator with ThreeFry: cheaper per word on XLA:CPU than the default algorithm
  (Philox) that jax.random.bits uses for unsafe_rbg keys (docs/performance.md), and
  deterministic for a given key like every draw here.
  """
  if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
    key = jax.random.key_data(key)
  state = jnp.resize(key.reshape(-1).astype(jnp.uint32), (4,))  # threefry keys hold 2 words
  return jax.lax.rng_bit_generator(state, (n,), jnp.uint32,
                                   algorithm=jax.lax.RandomAlgorithm.RNG_THREE_FRY)[1]


def noise_from_bits(slot_bits, u_bits, noise: tuple) -> jax.Array:
  """Word ids from the alias table `noise` = (prob_M, alias_M) (see vocab.noise_alias), one per
  pair of uint32 random words: the slot is the top log2(M) bits of one (M is a power of two,
  so this is exact), u the top 24 bits of the other. A table of another size (built by hand)
  takes the slot modulo M instead: slower on XLA:CPU, with a bias below M / 2^32."""
  prob_M, alias_M = noise
  m = prob_M.shape[0]
  if m & (m - 1):
    slot = slot_bits % jnp.uint32(m)
  else:
    slot = (slot_bits >> (32 - m.bit_length() + 1)) if m > 1 else slot_bits * 0
  slot = slot.astype(jnp.int32)
  u = (u_bits >> 8).astype(jnp.float32) * (1.0 / (1 << 24))
  return jnp.where(u < prob_M[slot], slot, alias_M[slot])


def sample_noise(key: jax.Array, noise: tuple, shape: tuple) -> jax.Array:
  """Draws word ids of `shape` from the alias table `noise` (see noise_from_bits)."""
  n = int(np.prod(shape))
  bits = random_words(key, 2 * n)
  return noise_from_bits(bits[:n], bits[n:], noise).reshape(shape)
