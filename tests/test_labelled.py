"""Tests for w2v_jax.labelled: tokeniser, readers, cross-validation splits, vocabulary, ids."""

import numpy as np
import pytest

from w2v_jax import labelled
from w2v_jax.errors import W2VError


def test_tokenize_matches_corpus_normalisation():
  assert labelled.tokenize("it 's a crème brûlée -lrb- 1998 -rrb- , does n't") == [
      "it", "s", "a", "creme", "brulee", "one", "nine", "nine", "eight", "does", "n", "t"]
  assert labelled.tokenize("Ångström's ½") == ["angstrom", "s", "one", "two"]


def test_vocab_and_encoding():
  words = labelled.build_vocab([["a", "new"], ["new", "b"]], ["a", "b", "c"])
  assert words == ["<pad>", "<unk>", "a", "b", "c", "new"]
  ids_NxT, mask_NxT = labelled.encode([["a", "new"], ["never", "seen", "c"], []], words, 3)
  np.testing.assert_array_equal(ids_NxT, [[2, 5, 0], [1, 1, 4], [1, 0, 0]])
  np.testing.assert_array_equal(mask_NxT, [[1, 1, 0], [1, 1, 1], [1, 0, 0]])


def test_read_labelled_errors(tmp_path):
  path = tmp_path / "x.train"
  path.write_text("1 fine\n\nbroken line\n")
  with pytest.raises(W2VError, match="line 3"):
    labelled.read_labelled(str(path))
  with pytest.raises(W2VError, match=r"one file named \*dev"):
    labelled.read_dataset(str(tmp_path))


def test_read_classes_encoding(tmp_path):
  (tmp_path / "a").write_bytes("caf\xe9 noir\n".encode("cp1252"))
  (tmp_path / "b").write_text("plain text\n")
  paths = [str(tmp_path / "a"), str(tmp_path / "b")]
  with pytest.raises(W2VError, match="not UTF-8 text"):
    labelled.read_classes(paths)
  assert labelled.read_classes(paths, "cp1252").sentences[0] == ["cafe", "noir"]
  with pytest.raises(W2VError, match="unknown text encoding"):
    labelled.read_classes(paths, "no-such-codec")


def test_cross_validation_tests_every_example_once():
  labels_N = np.array([0] * 23 + [1] * 17, dtype=np.int32)
  data = labelled.Split([[f"w{i}"] for i in range(40)], labels_N)
  folds = labelled.cross_validation(data, 5, seed=3)
  tested = [s[0] for f in folds for s in f["test"].sentences]
  assert sorted(tested) == sorted(s[0] for s in data.sentences)
  for f in folds:
    names = {k: {s[0] for s in f[k].sentences} for k in labelled.SPLITS}
    assert not names["train"] & names["dev"] and not names["train"] & names["test"]
    assert not names["dev"] & names["test"]
    assert sum(len(v) for v in names.values()) == 40
    assert abs(f["test"].labels_N.mean() - labels_N.mean()) < 0.15  # stratified
  again = labelled.cross_validation(data, 5, seed=3)
  assert [f["test"].sentences for f in again] == [f["test"].sentences for f in folds]
  other = labelled.cross_validation(data, 5, seed=4)
  assert [f["test"].sentences for f in other] != [f["test"].sentences for f in folds]
  with pytest.raises(W2VError, match="at least 3 folds"):
    labelled.cross_validation(data, 2)
