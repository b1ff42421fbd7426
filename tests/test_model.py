"""The input side: windows built on device against a Python loop, CBOW's gradient convention."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from w2v_jax import model, sampling


def naive_pairs(ids_L, seg_L, radius_T, window):
  """The (context, centre) pairs of one row, by a plain loop (word2vec.c TrainModelThread)."""
  pairs = []
  for c in range(len(ids_L) - 2 * window):
    pc = c + window
    if seg_L[pc] < 0:
      continue
    for p in range(pc - radius_T[c], pc + radius_T[c] + 1):
      if p != pc and seg_L[p] == seg_L[pc]:
        pairs.append((int(ids_L[p]), int(ids_L[pc])))
  return sorted(pairs)


def _uniform_noise(v):
  return jnp.ones((v,), jnp.float32), jnp.arange(v, dtype=jnp.int32)


def _random_rows(seed, b=3, t=20, w=3):
  rng = np.random.default_rng(seed)
  ids = rng.integers(0, 50, (b, t + 2 * w)).astype(np.int32)
  seg = np.sort(rng.integers(0, 4, (b, t + 2 * w)), axis=1).astype(np.int32)
  seg[0, -5:] = -1  # padding at the end of a row
  return ids, seg


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_window_builder_matches_naive_loop(seed):
  w = 3
  ids, seg = _random_rows(seed, w=w)
  key = jax.random.PRNGKey(seed)
  batch = model.make_batch(jnp.asarray(ids), jnp.asarray(seg), key, _uniform_noise(50), window=w,
                           negatives=2)
  mask = np.asarray(batch["mask"])
  # Recover each centre's radius from the same random words as make_batch: one draw per step,
  # the B*T radius words first (then 2 x B*T*K words for the negatives).
  b, t = ids.shape[0], ids.shape[1] - 2 * w
  bits = np.asarray(sampling.random_words(key, b * t + 2 * b * t * 2))
  radius = w - (((bits[:b * t] >> 16) * w) >> 16).astype(np.int64).reshape(b, t)
  assert radius.min() >= 1 and radius.max() <= w
  offs = model.offsets(w)
  for r in range(ids.shape[0]):
    got = sorted((int(ids[r, w + c + offs[o]]), int(ids[r, w + c]))
                 for c, o in zip(*np.nonzero(mask[r])))
    assert got == naive_pairs(ids[r], seg[r], radius[r], w)


def test_fixed_window_uses_full_radius():
  ids, seg = _random_rows(0)
  seg[:] = 0
  batch = model.make_batch(jnp.asarray(ids), jnp.asarray(seg), jax.random.PRNGKey(0),
                           _uniform_noise(50), window=3, negatives=2, shrink_window=False)
  assert bool(batch["mask"].all())


def test_negatives_equal_to_target_are_dead():
  ids = jnp.zeros((1, 12), jnp.int32)  # every target is word 0
  seg = jnp.zeros((1, 12), jnp.int32)
  # Two equally likely words: half the draws are word 0, the target.
  batch = model.make_batch(ids, seg, jax.random.PRNGKey(0), _uniform_noise(2), window=1,
                           negatives=50)
  out, live = np.asarray(batch["out"]), np.asarray(batch["live"])
  assert np.array_equal(live[..., 1:], out[..., 1:] != 0) and live[..., 0].all()
  assert 0.3 < (out[..., 1:] == 0).mean() < 0.7


def test_init_matches_word2vec_c():
  p = model.init_params(jax.random.PRNGKey(0), 1000, 50)
  assert float(p["emb_in"].min()) >= -0.5 / 50 and float(p["emb_in"].max()) < 0.5 / 50
  assert float(jnp.abs(p["emb_in"]).mean()) > 0.2 / 50
  assert not p["emb_out"].any()


def _cbow_batch():
  # One row, window 1, centre at position 1 with both neighbours live, all negatives live.
  ids = jnp.array([[1, 2, 3]], jnp.int32)
  return {"ids": ids, "out": jnp.array([[[2, 4]]], jnp.int32),
          "live": jnp.ones((1, 1, 2), bool), "mask": jnp.ones((1, 1, 2), bool)}


def _params(seed=0, v=5, d=4):
  k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
  return {"emb_in": jax.random.normal(k1, (v, d)), "emb_out": jax.random.normal(k2, (v, d))}


def test_cbow_word2vec_gradient_gives_every_context_row_the_full_error():
  params, batch = _params(), _cbow_batch()
  g_c = jax.grad(lambda p: model.loss_fn(p, batch, model="cbow")[0])(params)
  g_a = jax.grad(lambda p: model.loss_fn(p, batch, model="cbow", cbow_mean_grad="autodiff")[0])(
      params)
  # word2vec.c: neu1e is added in full to each context row; autodiff of the mean gives 1/cw.
  np.testing.assert_allclose(g_c["emb_in"][1], g_c["emb_in"][3], rtol=1e-6)
  np.testing.assert_allclose(g_a["emb_in"][1], g_c["emb_in"][1] / 2, rtol=1e-5)
  np.testing.assert_allclose(g_c["emb_out"], g_a["emb_out"], rtol=1e-5)  # same forward value
  assert not g_c["emb_in"][2].any()  # the centre itself is not an input


def test_cbow_value_is_the_mean_of_the_context():
  params, batch = _params(), _cbow_batch()
  h = (params["emb_in"][1] + params["emb_in"][3]) / 2
  s = np.array([h @ params["emb_out"][2], h @ params["emb_out"][4]])
  expected = -np.log(1 / (1 + np.exp(-s[0]))) - np.log(1 / (1 + np.exp(s[1])))
  loss, n = model.loss_fn(params, batch, model="cbow")
  assert float(loss) == pytest.approx(expected, rel=1e-5) and int(n) == 1


@pytest.mark.parametrize("arch", ["sg", "cbow"])
def test_loss_gradients_against_finite_differences(arch):
  batch = _cbow_batch()
  params = _params()
  check_grads(lambda p: model.loss_fn(p, batch, model=arch, cbow_mean_grad="autodiff")[0],
              (params,), order=1, modes=["rev"], atol=1e-2, rtol=1e-2)


def test_skipgram_loss_hand_computed():
  params, batch = _params(), _cbow_batch()
  sig = lambda x: 1 / (1 + np.exp(-x))
  u_t, u_n = params["emb_out"][2], params["emb_out"][4]
  expected = sum(-np.log(sig(params["emb_in"][c] @ u_t)) - np.log(sig(-params["emb_in"][c] @ u_n))
                 for c in (1, 3))
  loss, pairs = model.loss_fn(params, batch, model="sg")
  assert float(loss) == pytest.approx(float(expected), rel=1e-5) and int(pairs) == 2


def test_damp_duplicates_caps_only_frequent_rows():
  batch = {"ids": jnp.array([[0, 0, 0, 0, 1]]), "out": jnp.array([[[2, 2, 3]]])}
  updates = {"emb_in": jnp.ones((1, 5, 2)), "emb_out": jnp.ones((1, 1, 3, 2))}
  got = model.damp_duplicates(updates, batch, vocab_size=4, cap=2.0)
  # Row 0 is touched 4 times: each copy scaled by 2/4, so the summed step equals 2 updates.
  np.testing.assert_allclose(got["emb_in"][0, :, 0], [0.5, 0.5, 0.5, 0.5, 1.0])
  np.testing.assert_allclose(got["emb_out"][0, 0, :, 0], [1.0, 1.0, 1.0])  # 2 <= cap
  same = model.damp_duplicates(updates, batch, vocab_size=4, cap=0.0)
  assert all(bool((same[k] == updates[k]).all()) for k in updates)
