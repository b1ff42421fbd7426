"""--init_from: continuing from an earlier run or a vectors file, on a new corpus."""

import json

import numpy as np
import pytest

from tests.conftest import crash_after_saves, planted_corpus, tiny_config
from w2v_jax import formats, train
from w2v_jax.errors import W2VError


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
  """(first corpus, second corpus): the second renames two topics' words, so it shares half
  of the first's words and brings new ones."""
  root = tmp_path_factory.mktemp("continue")
  first = root / "first.txt"
  first.write_text(planted_corpus(300, seed=0))
  second = root / "second.txt"
  second.write_text(planted_corpus(300, seed=1).replace("t2w", "u2w").replace("t3w", "u3w"))
  return str(first), str(second)


@pytest.fixture(scope="module")
def first_run(corpora, tmp_path_factory):
  workdir = tmp_path_factory.mktemp("first_run")
  out = train.run(tiny_config(corpora[0], epochs=1), str(workdir))
  return str(workdir), out


def _vectors(workdir):
  return formats.load_word2vec(f"{workdir}/vectors.bin")


def test_continuing_grows_the_vocabulary_and_keeps_old_words_close(corpora, first_run, tmp_path):
  workdir, first = first_run
  out = train.run(tiny_config(corpora[1], epochs=1, init_from=workdir), str(tmp_path / "b"))
  assert set(first["words"]) < set(out["words"])
  assert {"u2w0", "u3w5"} <= set(out["words"])
  report = json.loads((tmp_path / "b" / "init_from.json").read_text())
  assert report["prior_words"] == len(first["words"])
  assert report["new_words"] == len(out["words"]) - len(first["words"])
  # Words of the first corpus start from their vectors and stay close to them.
  assert 0.5 < report["mean_cosine_to_prior"] < 1.0
  fresh = train.run(tiny_config(corpora[1], epochs=1, init_from=workdir, alpha=1e-9),
                    str(tmp_path / "c"))
  old = dict(zip(first["words"], first["emb_in"]))
  got = dict(zip(fresh["words"], fresh["emb_in"]))
  np.testing.assert_allclose(got["t0w0"], old["t0w0"], atol=1e-6)


def test_freeze_init_keeps_the_old_rows_bit_identical(corpora, first_run, tmp_path):
  workdir, _ = first_run
  train.run(tiny_config(corpora[1], epochs=2, init_from=workdir, freeze_init=True),
            str(tmp_path / "frozen"))
  old_words, old = _vectors(workdir)
  new_words, new = _vectors(tmp_path / "frozen")
  row = {w: i for i, w in enumerate(new_words)}
  np.testing.assert_array_equal(new[[row[w] for w in old_words]], old)
  fresh_rows = [row[w] for w in new_words if w not in set(old_words)]
  assert np.abs(new[fresh_rows]).max() > 0.05  # the new words did train


def test_a_vectors_file_works_and_counts_sum_needs_a_workdir(corpora, first_run, tmp_path):
  workdir, first = first_run
  out = train.run(tiny_config(corpora[1], epochs=1, init_from=f"{workdir}/vectors.bin"),
                  str(tmp_path / "file"))
  assert set(first["words"]) < set(out["words"])
  with pytest.raises(W2VError, match="init_counts=sum"):
    train.run(tiny_config(corpora[1], init_from=f"{workdir}/vectors.bin", init_counts="sum"),
              str(tmp_path / "sum"))


def test_a_killed_continued_run_resumes_to_the_same_vectors(corpora, first_run, tmp_path):
  workdir, _ = first_run
  cfg = tiny_config(corpora[1], epochs=2, init_from=workdir, checkpoint_every=2)
  full = train.run(cfg, str(tmp_path / "full"))
  with crash_after_saves(1):
    train.run(cfg, str(tmp_path / "crash"))
  resumed = train.run(cfg, str(tmp_path / "crash"))
  np.testing.assert_array_equal(resumed["emb_in"], full["emb_in"])


def test_bad_starting_points_are_one_clear_error(corpora, first_run, tmp_path):
  workdir, _ = first_run
  cases = [
      (dict(init_from=workdir, dim=8), "dimension 16"),
      (dict(init_from=workdir, model="cbow"), "--model=sg run"),
      (dict(init_from=str(tmp_path / "missing")), "does not exist"),
      (dict(init_from=str(tmp_path)), "not a w2v_jax run"),
      (dict(freeze_init=True), "need --init_from"),
  ]
  for overrides, message in cases:
    with pytest.raises(W2VError, match=message):
      train.run(tiny_config(corpora[1], **overrides), str(tmp_path / "bad"))
  bad = tmp_path / "truncated.bin"
  bad.write_bytes(open(f"{workdir}/vectors.bin", "rb").read()[:200])
  with pytest.raises(W2VError):
    train.run(tiny_config(corpora[1], init_from=str(bad)), str(tmp_path / "bad2"))
  other = tmp_path / "other.txt"
  other.write_text("zz yy xx\n")
  with pytest.raises(W2VError, match="nothing to train"):
    train.run(tiny_config(str(other), init_from=workdir, min_count=5), str(tmp_path / "bad3"))


def test_an_unfinished_run_is_refused(corpora, tmp_path):
  with crash_after_saves(1):
    train.run(tiny_config(corpora[0], epochs=2, checkpoint_every=1), str(tmp_path / "half"))
  with pytest.raises(W2VError, match="not a finished run"):
    train.run(tiny_config(corpora[1], init_from=str(tmp_path / "half")), str(tmp_path / "b"))
