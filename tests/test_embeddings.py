"""Tests for w2v_jax.embeddings, with gensim's KeyedVectors as the reference on random vectors."""

import dataclasses
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import REPO

from w2v_jax import embeddings, evaluate, formats
from w2v_jax.embeddings import Embeddings
from w2v_jax.errors import W2VError

V, D = 400, 16
QUERIES = [(["w3"], []), (["w1", "w2"], ["w7"]), (["w5"], ["w9", "w11"]), (["w10", "w20"], []),
           (["w399", "w0", "w42"], ["w17"])]


@pytest.fixture(scope="module")
def table() -> tuple[list[str], np.ndarray]:
  rng = np.random.default_rng(0)
  return [f"w{i}" for i in range(V)], rng.standard_normal((V, D)).astype(np.float32)


@pytest.fixture(scope="module")
def emb(table) -> Embeddings:
  return Embeddings.from_arrays(*table)


@pytest.fixture(scope="module")
def kv(table):
  gensim_models = pytest.importorskip("gensim.models")
  kv = gensim_models.KeyedVectors(D)
  kv.add_vectors(*table)
  return kv


def _assert_same(got, want, atol=1e-5):
  assert [w for w, _ in got] == [w for w, _ in want]
  np.testing.assert_allclose([s for _, s in got], [s for _, s in want], atol=atol)


@pytest.mark.parametrize("pos,neg", QUERIES)
@pytest.mark.parametrize("topn,restrict", [(10, None), (25, None), (10, 150)])
def test_most_similar_matches_gensim(emb, kv, pos, neg, topn, restrict):
  want = kv.most_similar(positive=pos, negative=neg, topn=topn, restrict_vocab=restrict)
  _assert_same(emb.most_similar(pos, neg, topn=topn, restrict_vocab=restrict), want)


@pytest.mark.parametrize("pos,neg", QUERIES)
def test_most_similar_cosmul_matches_gensim(emb, kv, pos, neg):
  want = kv.most_similar_cosmul(positive=pos, negative=neg, topn=12)
  _assert_same(emb.most_similar_cosmul(pos, neg, topn=12), want)


def test_analogy_methods(emb, kv):
  for a, b, c in [("w1", "w2", "w3"), ("w50", "w7", "w300")]:
    _assert_same(emb.analogy(a, b, c, topn=5), kv.most_similar([b, c], [a], topn=5))
    _assert_same(emb.analogy(a, b, c, topn=5, method="mul"),
                 kv.most_similar_cosmul([b, c], [a], topn=5))
  assert len(emb.analogy("w1", "w2", "w3")) == 1
  with pytest.raises(W2VError, match="'div'"):
    emb.analogy("w1", "w2", "w3", method="div")


def test_planted_analogy():
  s = np.sqrt(0.5)
  words = ["man", "woman", "king", "queen", "apple"]
  vectors = np.array([[1, 0, 0], [0, 1, 0], [0.5, -0.5, s], [-0.5, 0.5, s], [0, 0, -1]])
  emb = Embeddings.from_arrays(words, vectors)
  for method in ("add", "mul"):
    (best, _), = emb.analogy("man", "king", "woman", method=method)
    assert best == "queen"
  assert emb.analogy("man", "king", "woman")[0][1] == pytest.approx(1.0, abs=1e-6)


def test_doesnt_match_and_similarity_match_gensim(emb, kv, table):
  rng = np.random.default_rng(1)
  words = table[0]
  for size in (2, 3, 5, 8):
    for _ in range(5):
      group = [words[i] for i in rng.choice(V, size, replace=False)]
      assert emb.doesnt_match(group) == kv.doesnt_match(group)
  for _ in range(20):
    w1, w2 = (words[i] for i in rng.integers(0, V, 2))
    assert emb.similarity(w1, w2) == pytest.approx(float(kv.similarity(w1, w2)), abs=1e-6)
  assert emb.similarity("w4", "w4") == pytest.approx(1.0, abs=1e-6)


def test_batch_equals_single_queries(emb, monkeypatch):
  monkeypatch.setattr(embeddings, "_BATCH", 64)  # several chunks, the last one padded
  queries = [f"w{i}" for i in range(0, V, 3)] + ["w3", "w3"]
  batch = emb.most_similar_batch(queries, topn=7)
  assert len(batch) == len(queries)
  for q, got in zip(queries, batch):
    single = emb.most_similar([q], topn=7)
    assert [w for w, _ in got] == [w for w, _ in single] and q not in dict(got)
    np.testing.assert_allclose([s for _, s in got], [s for _, s in single], atol=1e-6)
  assert emb.most_similar_batch([]) == []
  restricted = emb.most_similar_batch(["w5", "w390"], topn=4, restrict_vocab=100)
  for q, got in zip(["w5", "w390"], restricted):
    _assert_same(got, emb.most_similar(q, topn=4, restrict_vocab=100), atol=1e-6)


def test_unknown_words_raise(emb):
  calls = [lambda: emb.most_similar(["w1"], ["nope"]), lambda: emb.most_similar_cosmul(["nope"]),
           lambda: emb.most_similar_batch(["w1", "nope"]), lambda: emb.analogy("w1", "nope", "w2"),
           lambda: emb.analogy("w1", "w2", "nope", method="mul"),
           lambda: emb.doesnt_match(["w1", "nope"]), lambda: emb.similarity("nope", "w1")]
  for call in calls:
    with pytest.raises(W2VError, match="'nope'"):
      call()
  with pytest.raises(W2VError):
    emb.most_similar([])
  with pytest.raises(W2VError):
    emb.doesnt_match([])


def test_object(emb, table, tmp_path):
  assert isinstance(emb.vectors_VD, jax.Array) and isinstance(emb.unit_VD, jax.Array)
  assert emb.unit_VD.dtype == np.float32 and emb.norms_V.shape == (V,)
  np.testing.assert_allclose(np.asarray(emb.vectors_VD), table[1], rtol=1e-6)
  np.testing.assert_allclose(np.linalg.norm(np.asarray(emb.unit_VD), axis=1), 1, atol=1e-6)
  assert (len(emb), emb.dim, "w7" in emb, "x" in emb) == (V, D, True, False)
  assert emb.words == tuple(table[0]) and emb.index["w7"] == 7 and "400 words" in repr(emb)
  with pytest.raises(dataclasses.FrozenInstanceError):
    emb.words = ()  # type: ignore[misc]
  with pytest.raises(TypeError):
    emb.index["w7"] = 8  # type: ignore[index]
  assert emb.most_similar("w3", topn=3) == emb.most_similar(["w3"], topn=3)
  assert len(emb.most_similar("w3", topn=V + 5)) == V - 1
  assert emb.most_similar("w3", topn=0) == []
  path = tmp_path / "v.bin"
  formats.save_word2vec(path, *table, binary=True)
  loaded = Embeddings.load(path, limit=50)
  assert len(loaded) == 50
  _assert_same(loaded.most_similar("w3", topn=5),
               emb.most_similar("w3", topn=5, restrict_vocab=50), atol=1e-6)
  with pytest.raises(W2VError, match="3 words"):
    Embeddings.from_arrays(["a", "b", "c"], np.zeros((2, 4)))


def test_shared_helpers():
  """evaluate's helpers that both modules use: lookup, unit rows, the restricted size."""
  index = evaluate.word_index(["a", "b", "a"])
  assert index == {"a": 0, "b": 1} and evaluate.lookup(index, ["b", "a"]) == [1, 0]
  with pytest.raises(W2VError, match="'c'"):
    evaluate.lookup(index, ["c"])
  unit, norms = evaluate.unit_rows(np.array([[3, 4], [0, 0]], np.float32))
  np.testing.assert_allclose(unit, [[0.6, 0.8], [0, 0]])
  np.testing.assert_allclose(norms, [5, 0])
  assert [evaluate.restricted_size(10, r) for r in (None, 3, 30)] == [10, 3, 10]


@pytest.fixture(scope="module")
def emb16(table) -> Embeddings:
  return Embeddings.from_arrays(*table, dtype="float16")


def _cosines(table, query: str, words: list[str]) -> np.ndarray:
  """Exact float64 cosines of `query` to `words` in the table."""
  unit_VD = table[1] / np.linalg.norm(table[1], axis=1, keepdims=True)
  rows = [int(w[1:]) for w in [query, *words]]
  return unit_VD[rows[1:]].astype(np.float64) @ unit_VD[rows[0]]


def test_float16_keeps_the_neighbours(emb, emb16, table):
  """Half the table's bytes: the same best neighbour for nearly every word, every score within
  1e-2 of the exact cosine (near-ties may swap)."""
  assert emb16.unit_VD.dtype == jnp.float16 and emb16.norms_V.dtype == jnp.float32
  assert emb16.unit_VD.nbytes == emb.unit_VD.nbytes // 2 and emb16.dim == D
  queries = table[0]
  got16, got32 = emb16.most_similar_batch(queries, topn=5), emb.most_similar_batch(queries, topn=5)
  agree = np.mean([a[0][0] == b[0][0] for a, b in zip(got16, got32)])
  assert agree >= 0.95, agree
  for q, ranked in zip(queries[::7], got16[::7]):
    np.testing.assert_allclose([s for _, s in ranked],
                               _cosines(table, q, [w for w, _ in ranked]), atol=1e-2)
  for pos, neg in QUERIES:
    (w16, s16), (w32, s32) = emb16.most_similar(pos, neg, topn=1)[0], emb.most_similar(pos, neg,
                                                                                       topn=1)[0]
    assert w16 == w32 or abs(s16 - s32) < 1e-2
    assert abs(emb16.most_similar_cosmul(pos, neg, topn=1)[0][1]
               - emb.most_similar_cosmul(pos, neg, topn=1)[0][1]) < 1e-2
  assert abs(emb16.similarity("w1", "w2") - emb.similarity("w1", "w2")) < 1e-2
  assert emb16.doesnt_match(["w1", "w2", "w3", "w4"]) in {"w1", "w2", "w3", "w4"}


def test_vectors_round_trip(table):
  vecs_VD = table[1].copy()
  vecs_VD[3] = 0  # a zero row stays zero
  given_VD = vecs_VD.copy()
  emb = Embeddings.from_arrays(table[0], vecs_VD)
  np.testing.assert_array_equal(vecs_VD, given_VD)  # the caller's array is not normalised
  got_VD = np.asarray(emb.vectors_VD)
  assert got_VD.dtype == np.float32 and not got_VD[3].any() and not np.asarray(emb.unit_VD)[3].any()
  np.testing.assert_allclose(got_VD, vecs_VD, rtol=1e-6)
  np.testing.assert_allclose(np.asarray(emb.norms_V), np.linalg.norm(vecs_VD, axis=1), rtol=1e-6)
  got16_VD = np.asarray(Embeddings.from_arrays(table[0], vecs_VD, dtype="float16").vectors_VD)
  err_V = np.abs(got16_VD - vecs_VD).max(axis=1)
  assert (err_V <= 1e-3 * np.linalg.norm(vecs_VD, axis=1)).all()
  with pytest.raises(W2VError, match="dtype"):
    Embeddings.from_arrays(table[0], vecs_VD, dtype="int8")


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_blocked_scores_equal_whole_table_scores(table, monkeypatch, dtype):
  """Scoring in blocks of rows (float16 tables, restricted batches) changes no result."""
  want = Embeddings.from_arrays(*table, dtype=dtype)
  queries = [f"w{i}" for i in range(0, V, 11)]
  expected = [want.most_similar_batch(queries, topn=6, restrict_vocab=r) for r in (None, 150)]
  expected_mul = [want.most_similar_cosmul(p, n, topn=6, restrict_vocab=150) for p, n in QUERIES]
  monkeypatch.setattr(embeddings, "_SCORE_ROWS", 64)  # 150 and 400 rows: uneven blocks
  monkeypatch.setattr(embeddings, "_SCORES", 8 * V)  # 8 queries per batched call
  for got, exp in zip([want.most_similar_batch(queries, topn=6, restrict_vocab=r)
                       for r in (None, 150)], expected):
    for g, e in zip(got, exp):
      _assert_same(g, e, atol=1e-6)
  for (p, n), exp in zip(QUERIES, expected_mul):
    _assert_same(want.most_similar_cosmul(p, n, topn=6, restrict_vocab=150), exp, atol=1e-6)


def test_load_uses_the_file_array_without_a_copy(table, tmp_path, monkeypatch):
  """Embeddings.load normalises the array load_word2vec returned and, on the CPU, the device
  table is that same memory (so a loaded model takes one copy of its matrix)."""
  path = tmp_path / "v.bin"
  formats.save_word2vec(path, *table, binary=True)
  seen = []
  real = formats.load_word2vec

  def spy(*args, **kwargs):
    seen.append(real(*args, **kwargs))
    return seen[-1]

  monkeypatch.setattr(formats, "load_word2vec", spy)
  emb = Embeddings.load(path, limit=300)
  np.testing.assert_allclose(np.linalg.norm(seen[0][1], axis=1), 1, atol=1e-6)
  if jax.default_backend() == "cpu":
    assert emb.unit_VD.unsafe_buffer_pointer() == seen[0][1].ctypes.data
  emb16 = Embeddings.load(path, limit=300, dtype="float16")
  assert len(emb16) == 300 and emb16.unit_VD.dtype == jnp.float16
  assert emb16.most_similar("w3", topn=1)[0][0] == emb.most_similar("w3", topn=1)[0][0]


_PEAK_SCRIPT = """
import sys
import jax
from w2v_jax import embeddings, formats
formats._BLOCK = embeddings._NORM_BYTES = 1 << 20  # fixed-size work buffers out of the way
jax.numpy.zeros(()).block_until_ready()

def status(key):
  with open("/proc/self/status") as f:
    return next(int(line.split()[1]) * 1024 for line in f if line.startswith(key))

with open("/proc/self/clear_refs", "w") as f:
  f.write("5")  # resets the peak (VmHWM) to the current RSS
before = status("VmRSS:")
emb = embeddings.Embeddings.load(sys.argv[1])
emb.unit_VD.block_until_ready()
print(status("VmHWM:") - before)
"""


@pytest.mark.skipif(not os.access("/proc/self/clear_refs", os.W_OK),
                    reason="needs Linux's resettable peak RSS")
def test_load_peak_memory_is_about_one_table(tmp_path):
  """Peak RSS growth of Embeddings.load on a 20 MB table, in a fresh process: one copy plus
  small blocks and the words, not two copies."""
  rng = np.random.default_rng(0)
  vecs_VD = rng.standard_normal((20000, 250)).astype(np.float32)
  path = tmp_path / "v.bin"
  formats.save_word2vec(path, [f"w{i}" for i in range(20000)], vecs_VD, binary=True)
  env = dict(os.environ, JAX_PLATFORMS="cpu")
  proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path)], cwd=REPO, env=env,
                        capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr
  growth = int(proc.stdout.split()[-1])
  # Measured about 1.4 (the words and 1 MB blocks); a second copy of the table makes it >= 2.3.
  assert growth < 1.75 * vecs_VD.nbytes, growth / vecs_VD.nbytes
