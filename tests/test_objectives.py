"""Objectives (hs, full softmax, ns+hs) and modelling switches (sigmoid table, CBOW sum,
position weights): against word2vec.c's formulas, hand computations and finite differences."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.test_util import check_grads

from tests.conftest import tiny_config, topic_gap
from w2v_jax import formats, huffman, losses, model, objectives, train
from w2v_jax import step as step_lib
from w2v_jax.config import Config
from w2v_jax.errors import W2VError


def _sigmoid(x):
  return 0.5 * (1 + np.tanh(0.5 * np.asarray(x, np.float64)))


# -------------------------------------------------------------------- the sigmoid table switch

def _c_exp_table():
  """word2vec.c main(): expTable[i] = e / (e + 1), e = exp((i / 1000 * 2 - 1) * 6), as float."""
  e = np.exp((np.arange(1000) / 1000.0 * 2 - 1) * 6)
  return (e / (e + 1)).astype(np.float32)


def _c_ns_g(f, label):
  """word2vec.c's negative-sampling error g / alpha, branch by branch."""
  if f > 6:
    return label - 1
  if f < -6:
    return label - 0
  return label - float(_c_exp_table()[int((f + 6) * (1000 // 6 // 2))])


F_POINTS = [-7.5, -6.0, -3.337, -0.01, 0.0, 0.05, 1.234, 5.99, 6.0, 6.5]


def test_c_table_sigmoid_reads_word2vec_c_table():
  got = np.asarray(losses.c_table_sigmoid(jnp.array(F_POINTS, jnp.float32)))
  want = [1 - _c_ns_g(f, 1) for f in F_POINTS]
  np.testing.assert_allclose(got, want, atol=1e-6)
  # The table is coarse: at 0 it reads index 498, sigma(-0.024), not 0.5.
  assert abs(got[F_POINTS.index(0.0)] - 0.5) > 1e-3


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_c_table_gradient_is_word2vec_c_error(label):
  f = jnp.array(F_POINTS, jnp.float32)
  lab = jnp.full_like(f, label)
  g = jax.grad(lambda f: losses.c_table_nll(f, lab).sum())(f)
  # SGD on the loss adds -lr * grad; word2vec.c adds g * alpha: grad = -g.
  np.testing.assert_allclose(g, [-_c_ns_g(float(x), label) for x in F_POINTS], atol=1e-6)
  exact = -np.log(_sigmoid(np.where(label, 1, -1) * np.asarray(f)))
  # The value stays exact (log_sigmoid: absolute error < 6e-8).
  np.testing.assert_allclose(losses.c_table_nll(f, lab), exact, rtol=1e-5, atol=1e-7)


def test_neg_sampling_c_table_changes_only_the_gradient():
  s = jnp.array([[[0.3, -0.7, 7.0]]])
  live = jnp.ones((1, 3), bool)
  exact = lambda s: losses.neg_sampling(s, live).sum()
  table = lambda s: losses.neg_sampling(s, live, sigmoid="c_table").sum()
  assert float(exact(s)) == pytest.approx(float(table(s)), rel=1e-6)
  g = jax.grad(table)(s)[0, 0]
  np.testing.assert_allclose(g, [-_c_ns_g(0.3, 1), -_c_ns_g(-0.7, 0), -_c_ns_g(7.0, 0)],
                             atol=1e-6)
  assert float(g[2]) == 1.0  # C beyond +6 for a negative: g = (0 - 1) * alpha
  assert not np.allclose(g, jax.grad(exact)(s)[0, 0], atol=1e-4)


# -------------------------------------------------------------------- hierarchical softmax

def test_hs_loss_hand_computed_and_c_error():
  s = jnp.array([[[0.4, -1.3, 2.0]]])
  codes, mask = jnp.array([[0, 1, 1]]), jnp.array([[True, True, False]])
  want = -np.log(_sigmoid(0.4)) - np.log(_sigmoid(1.3))  # code 0 is label 1 (C: 1 - code)
  np.testing.assert_allclose(losses.hierarchical_softmax(s, codes, mask), [[want]], rtol=1e-6)
  g = jax.grad(lambda s: losses.hierarchical_softmax(s, codes, mask).sum())(s)[0, 0]
  # word2vec.c: g = (1 - code - sigma(f)) * alpha; the loss gradient is its negation.
  np.testing.assert_allclose(g, [-(1 - 0 - _sigmoid(0.4)), -(1 - 1 - _sigmoid(-1.3)), 0.0],
                             atol=1e-6)
  check_grads(lambda s: losses.hierarchical_softmax(s, codes, mask), (s,), order=2, atol=1e-2,
              rtol=1e-2)


def test_hs_c_table_skips_nodes_beyond_max_exp():
  s = jnp.array([[[0.4, 6.0, -6.5]]])
  codes, mask = jnp.array([[0, 1, 0]]), jnp.ones((1, 3), bool)
  g = jax.grad(lambda s: losses.hierarchical_softmax(s, codes, mask, "c_table").sum())(s)[0, 0]
  # C: `if (f <= -MAX_EXP) continue; else if (f >= MAX_EXP) continue;`
  np.testing.assert_allclose(g, [-_c_ns_g(0.4, 1), 0.0, 0.0], atol=1e-6)


def test_hs_probabilities_of_three_words_sum_to_one():
  points, codes, mask = huffman.build(np.array([5, 3, 2]))
  rng = np.random.default_rng(0)
  x_1D = jnp.asarray(rng.standard_normal((1, 4)), jnp.float32)
  syn1 = jnp.asarray(rng.standard_normal((huffman.inner_nodes(3), 4)), jnp.float32)
  probs = []
  for w in range(3):
    s = losses.pair_scores(x_1D[None], syn1[points[w]][None])
    nll = losses.hierarchical_softmax(s, codes[w:w + 1], mask[w:w + 1])[0, 0]
    probs.append(math.exp(-float(nll)))
  assert sum(probs) == pytest.approx(1.0, abs=1e-5) and min(probs) > 0.01


# -------------------------------------------------------------------- full softmax

def test_full_softmax_is_cross_entropy():
  rng = np.random.default_rng(1)
  logits = jnp.asarray(rng.standard_normal((2, 3, 5)), jnp.float32)
  target = jnp.array([4, 0])
  want = -jax.nn.log_softmax(logits)[np.arange(2)[:, None], np.arange(3)[None], target[:, None]]
  np.testing.assert_allclose(losses.full_softmax(logits, target), want, rtol=1e-5)
  check_grads(lambda l: losses.full_softmax(l, target), (logits,), order=1, atol=1e-2,
              rtol=1e-2)


# -------------------------------------------------------------------- the model with each loss

V, D = 6, 4
TREE = tuple(jnp.asarray(a) for a in huffman.build(np.array([9, 7, 4, 3, 2, 1])))


def _params(seed=0, **kw):
  k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
  p = model.init_params(k1, V, D, **kw)
  p["emb_in"] = jax.random.normal(k1, (V, D))
  p["emb_out"] = jax.random.normal(k2, (V, D))
  if "emb_hs" in p:
    p["emb_hs"] = jax.random.normal(k3, p["emb_hs"].shape)
  return p


def _batch(loss, negatives=2, seed=0, window=2):
  ids = jnp.array([[1, 2, 3, 4, 5, 0, 1, 2]], jnp.int32)
  seg = jnp.array([[0, 0, 0, 0, 0, 0, 1, 1]], jnp.int32)
  noise = (jnp.ones((V,), jnp.float32), jnp.arange(V, dtype=jnp.int32))
  return model.make_batch(ids, seg, jax.random.PRNGKey(seed), noise, window=window,
                          negatives=negatives, loss=loss, tree=TREE)


def test_default_batch_and_params_are_the_negative_sampling_ones():
  batch = _batch("ns")
  assert set(batch) == {"ids", "out", "live", "mask"}
  assert set(model.init_params(jax.random.PRNGKey(0), V, D)) == {"emb_in", "emb_out"}
  hs = model.init_params(jax.random.PRNGKey(0), V, D, loss="hs", positions=4)
  assert hs["emb_hs"].shape == (V - 1, D) and not hs["emb_hs"].any()
  assert hs["pos_OD"].shape == (4, D) and bool((hs["pos_OD"] == 1).all())


def _naive_hs_sg(params, batch):
  """Skip-gram HS loss by a loop: each live (context, centre) pair walks the centre's path."""
  ids, mask = np.asarray(batch["ids"]), np.asarray(batch["mask"])
  pts, cds, pm = (np.asarray(TREE[i]) for i in range(3))
  w = mask.shape[-1] // 2
  total, pairs = 0.0, 0
  for b, t, o in zip(*np.nonzero(mask)):
    ctx, centre = ids[b, w + t + model.offsets(w)[o]], ids[b, w + t]
    x = np.asarray(params["emb_in"][ctx], np.float64)
    for p, c, m in zip(pts[centre], cds[centre], pm[centre]):
      if m:
        f = x @ np.asarray(params["emb_hs"][p], np.float64)
        total -= np.log(_sigmoid((1 - 2 * c) * f))
    pairs += 1
  return total, pairs


def test_hs_skipgram_loss_equals_a_loop_over_pairs_and_paths():
  params, batch = _params(loss="hs"), _batch("hs", negatives=0)
  assert "out" not in batch and batch["points"].shape[-1] == TREE[0].shape[1]
  loss, pairs = model.loss_fn(params, batch, model="sg", loss="hs")
  want, n = _naive_hs_sg(params, batch)
  assert float(loss) == pytest.approx(want, rel=1e-5) and int(pairs) == n


def test_ns_plus_hs_sums_the_two_losses():
  params = _params(loss="ns+hs")
  both = _batch("ns+hs")
  ns = {k: both[k] for k in ("ids", "mask", "out", "live")}
  hs = {k: both[k] for k in ("ids", "mask", "points", "codes", "path")}
  for arch in ("sg", "cbow"):
    total = float(model.loss_fn(params, both, model=arch, loss="ns+hs")[0])
    parts = sum(float(model.loss_fn(params, part, model=arch, loss=loss)[0])
                for part, loss in ((ns, "ns"), (hs, "hs")))
    assert total == pytest.approx(parts, rel=1e-5)


def test_softmax_loss_and_dense_gradient():
  params, batch = _params(), _batch("softmax", negatives=0)
  loss, pairs = model.loss_fn(params, batch, model="sg", loss="softmax")
  ids, mask = np.asarray(batch["ids"]), np.asarray(batch["mask"])
  logp = jax.nn.log_softmax(params["emb_in"] @ params["emb_out"].T)  # [context, centre]
  w = 2
  want = -sum(float(logp[ids[0, w + t + model.offsets(w)[o]], ids[0, w + t]])
              for _, t, o in zip(*np.nonzero(mask)))
  assert float(loss) == pytest.approx(want, rel=1e-5) and int(pairs) == mask.sum()
  # The dense path: row gradients scattered back equal the gradient w.r.t. the tables, and
  # every output row (not only the targets) gets one.
  dense = jax.grad(lambda p: model.loss_fn(p, batch, model="sg", loss="softmax")[0])(params)
  rows_g = jax.grad(lambda r: model.rows_loss(r, batch, model="sg", loss="softmax")[0])(
      model.gather_rows(params, batch, "softmax"))
  got = model.scatter_rows(jax.tree.map(jnp.zeros_like, params), batch, rows_g, "softmax")
  for k in dense:
    np.testing.assert_allclose(got[k], dense[k], rtol=1e-5, atol=1e-6)
  assert bool((jnp.abs(dense["emb_out"]).sum(1) > 0).all())


@pytest.mark.parametrize("loss,arch", [("hs", "sg"), ("hs", "cbow"), ("softmax", "cbow"),
                                       ("ns+hs", "sg")])
def test_model_gradients_against_finite_differences(loss, arch):
  params = _params(loss=loss, positions=4 if arch == "cbow" else 0)
  batch = _batch(loss, negatives=2 if "ns" in loss else 0)
  check_grads(lambda p: model.loss_fn(p, batch, model=arch, loss=loss,
                                      cbow_mean_grad="autodiff")[0],
              (params,), order=1, modes=["rev"], atol=2e-2, rtol=2e-2)


# -------------------------------------------------------------------- CBOW switches

def _cbow_batch():
  # One row, window 1, centre 2 with both neighbours (1 and 3) live.
  return {"ids": jnp.array([[1, 2, 3]], jnp.int32), "out": jnp.array([[[2, 4]]], jnp.int32),
          "live": jnp.ones((1, 1, 2), bool), "mask": jnp.ones((1, 1, 2), bool)}


def _ns_loss(h, params):
  s = np.array([h @ params["emb_out"][2], h @ params["emb_out"][4]])
  return -np.log(_sigmoid(s[0])) - np.log(_sigmoid(-s[1]))


def test_cbow_sum_matches_gensim_cbow_mean_0():
  params, batch = _params(), _cbow_batch()
  f = lambda p, **kw: model.loss_fn(p, batch, model="cbow", **kw)[0]
  h = np.asarray(params["emb_in"][1] + params["emb_in"][3])
  assert float(f(params, cbow_mean=False)) == pytest.approx(_ns_loss(h, params), rel=1e-5)
  g_sum = jax.grad(lambda p: f(p, cbow_mean=False))(params)
  g_auto = jax.grad(lambda p: f(p, cbow_mean=False, cbow_mean_grad="autodiff"))(params)
  # gensim cbow_mean=0: the sum forward, the error divided by the count (2) on the way back.
  np.testing.assert_allclose(g_sum["emb_in"][1], g_auto["emb_in"][1] / 2, rtol=1e-5)
  np.testing.assert_allclose(g_sum["emb_out"], g_auto["emb_out"], rtol=1e-5)
  g_mean = jax.grad(lambda p: f(p))(params)
  assert not np.allclose(g_sum["emb_out"], g_mean["emb_out"])


def test_position_weights_start_as_plain_cbow_and_then_weight_each_slot():
  plain, batch = _params(), _cbow_batch()
  pos = dict(plain, pos_OD=jnp.ones((2, D)))
  f = lambda p: model.loss_fn(p, batch, model="cbow")[0]
  assert float(f(pos)) == pytest.approx(float(f(plain)), rel=1e-6)
  d = jnp.array([[0.5, 1.0, 2.0, -1.0], [3.0, 0.0, 1.0, 1.0]])
  h = np.asarray(d[0] * plain["emb_in"][1] + d[1] * plain["emb_in"][3]) / 2
  assert float(f(dict(plain, pos_OD=d))) == pytest.approx(_ns_loss(h, plain), rel=1e-5)
  g = jax.grad(f)(dict(plain, pos_OD=d))
  assert g["pos_OD"].shape == (2, D) and bool(jnp.abs(g["pos_OD"]).sum() > 0)
  # The word2vec convention, per slot: context row p gets d_p * neu1e (the full error at h).
  y = np.asarray(plain["emb_out"], np.float64)
  neu1e = (_sigmoid(h @ y[2]) - 1) * y[2] + _sigmoid(h @ y[4]) * y[4]
  np.testing.assert_allclose(g["emb_in"][1], np.asarray(d[0]) * neu1e, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(g["emb_in"][3], np.asarray(d[1]) * neu1e, rtol=1e-4, atol=1e-6)


# -------------------------------------------------------------------- config

@pytest.mark.parametrize("kw,fragment", [
    (dict(loss="nce"), "--loss"), (dict(loss="ns", negatives=0), "--negatives >= 1"),
    (dict(loss="hs"), "--negatives=0"), (dict(sigmoid="table"), "--sigmoid"),
    (dict(cbow_mean=False), "--model=cbow"), (dict(cbow_position_weights=True), "--model=cbow"),
])
def test_config_refuses_nonsense(kw, fragment):
  with pytest.raises(W2VError, match=fragment):
    Config(**kw).validate()


def test_config_accepts_the_new_objectives():
  Config(loss="hs", negatives=0).validate()
  Config(loss="softmax", negatives=0).validate()
  Config(loss="ns+hs").validate()
  Config(model="cbow", cbow_mean=False, cbow_position_weights=True, sigmoid="c_table").validate()


# -------------------------------------------------------------------- the train step and `run`

def _reference_hs_step(params, batch, arch, lr, window):
  """A synchronous hierarchical-softmax step from word2vec.c's update equations, in numpy."""
  emb_in, syn1 = (np.array(params[k], np.float64) for k in ("emb_in", "emb_hs"))
  d_in, d_hs = np.zeros_like(emb_in), np.zeros_like(syn1)
  ids, mask = np.asarray(batch["ids"]), np.asarray(batch["mask"])
  pts, cds, pm = (np.asarray(batch[k]) for k in ("points", "codes", "path"))
  offs = model.offsets(window)
  for b, t in np.ndindex(mask.shape[:2]):
    ctx = [ids[b, window + t + offs[o]] for o in range(len(offs)) if mask[b, t, o]]
    if not ctx:
      continue
    for group in ([[c] for c in ctx] if arch == "sg" else [ctx]):
      h = emb_in[group].mean(0)
      neu1e = np.zeros_like(h)
      for p, c, live in zip(pts[b, t], cds[b, t], pm[b, t]):
        if live:
          g = (1 - c - _sigmoid(h @ syn1[p])) * lr   # C: g = (1 - code[d] - f) * alpha
          neu1e += g * syn1[p]
          d_hs[p] += g * h
      for c in group:
        d_in[c] += neu1e
  return emb_in + d_in, syn1 + d_hs


@pytest.mark.parametrize("arch", ["sg", "cbow"])
def test_golden_hs_step_matches_word2vec_update_equations(arch):
  w = 2
  cfg = Config(model=arch, dim=D, window=w, loss="hs", negatives=0, batch_size=8, row_tokens=8,
               steps_per_call=1, alpha=0.5)
  tx = step_lib.make_optimizer(cfg)
  state = step_lib.init_state(cfg, V, tx)
  params = dict(state.params, emb_in=state.params["emb_in"] * 50,
                emb_hs=jax.random.normal(jax.random.PRNGKey(5), state.params["emb_hs"].shape))
  state = state._replace(params=params)
  rng = np.random.default_rng(0)
  ids = rng.integers(0, V, (1, 1, 8 + 2 * w)).astype(np.int32)
  seg = np.zeros_like(ids)
  seg[..., -3:] = 1
  noise = (jnp.ones((V,), jnp.float32), jnp.arange(V, dtype=jnp.int32))
  batch = model.make_batch(jnp.asarray(ids[0]), jnp.asarray(seg[0]), step_lib.step_key(state.rng, 0),
                           noise, window=w, negatives=0, loss="hs", tree=TREE)
  want_in, want_hs = _reference_hs_step(jax.tree.map(np.asarray, params), batch, arch, cfg.lr, w)
  state, _ = train.make_train_call(cfg, tx)(state, ids, seg, np.zeros(1, np.float32), noise, TREE)
  np.testing.assert_allclose(state.params["emb_in"], want_in, rtol=1e-4, atol=1e-6)
  np.testing.assert_allclose(state.params["emb_hs"], want_hs, rtol=1e-4, atol=1e-6)
  assert not state.params["emb_out"].any()  # no negative sampling: syn1neg is never touched


@pytest.mark.parametrize("kw", [
    dict(loss="hs", negatives=0),
    dict(loss="softmax", negatives=0),
    dict(loss="ns+hs", model="cbow", cbow_position_weights=True, cbow_mean=False,
         sigmoid="c_table"),
])
def test_objectives_learn_the_planted_topics(planted_path, tmp_path, kw):
  train.run(tiny_config(planted_path, epochs=3, **kw), str(tmp_path))
  words, vecs = formats.load_word2vec(str(tmp_path / "vectors.bin"))
  gap = topic_gap(words, vecs)
  assert gap > 0.3, gap


def test_hs_inner_nodes_are_capped_even_without_dup_cap():
  n = int(objectives.HS_NODE_CAP) * 2
  batch = {"ids": jnp.zeros((1, 3), jnp.int32), "points": jnp.zeros((1, n, 2), jnp.int32)
           .at[:, :, 1].set(1).at[:, 0, 1].set(2), "path": jnp.ones((1, n, 2), bool)
           .at[:, 1:, 1].set(False)}
  updates = {"emb_in": jnp.ones((1, 3, 2)), "emb_hs": jnp.ones((1, n, 2, 2))}
  got = model.damp_duplicates(updates, batch, vocab_size=4, cap=0.0, loss="hs")
  # Node 0 (the root) is on all 2 * HS_NODE_CAP paths: each copy scaled by 1/2; node 2 once.
  np.testing.assert_allclose(got["emb_hs"][0, :, 0, 0], 0.5)
  np.testing.assert_allclose(got["emb_hs"][0, 0, 1, 0], 1.0)
  assert bool((got["emb_in"] == 1).all())  # 3 copies of one word: under the cap, untouched
  # A burst: one input word 2 * HS_NODE_CAP times in a step is capped too under hs.
  burst = {**batch, "ids": jnp.zeros((1, n), jnp.int32).at[0, 0].set(3)}
  got = model.damp_duplicates({**updates, "emb_in": jnp.ones((1, n, 2))}, burst, 4, cap=0.0,
                              loss="hs")
  np.testing.assert_allclose(got["emb_in"][0, 1:, 0], objectives.HS_NODE_CAP / (n - 1))
  np.testing.assert_allclose(got["emb_in"][0, 0, 0], 1.0)
  capped = model.damp_duplicates(updates, batch, vocab_size=4, cap=4.0, loss="hs")
  np.testing.assert_allclose(capped["emb_hs"][0, :, 0, 0], 4.0 / n)
