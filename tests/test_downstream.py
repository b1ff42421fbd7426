"""Tests for w2v_jax.downstream (modes, classifiers, training) and experiments.classify.

The synthetic task: a sentence is positive when it holds "good" words, negative when it holds
"bad" words; the pretrained vectors of good words have +1 in dimension 0, bad words -1, the
filler words 0. A few filler words have no pretrained vector.
"""

import json
import subprocess
import sys

import jax
import numpy as np
import pytest
from flax import nnx

from conftest import REPO
from w2v_jax import downstream, formats, labelled
from w2v_jax.errors import W2VError

D = 8
GOOD = [f"good{c}" for c in "abcdef"]
BAD = [f"bad{c}" for c in "abcdef"]
FILLER = [f"filler{c}" for c in "abcdefghijklmnop"]
TRAIN_ONLY = ["zzz", "yyy"]  # fillers without a pretrained vector
CFG = downstream.TrainConfig(epochs=4, batch_size=16, learning_rate=1e-2, hidden=16,
                             patience=4, seed=0)


def _pretrained(seed: int = 0) -> tuple[list[str], np.ndarray]:
  rng = np.random.default_rng(seed)
  words = GOOD + BAD + FILLER
  vectors_PD = rng.normal(0, 0.1, size=(len(words), D)).astype(np.float32)
  vectors_PD[:, 0] = [1.0] * len(GOOD) + [-1.0] * len(BAD) + [0.0] * len(FILLER)
  return words, vectors_PD


def _lines(n: int, seed: int) -> list[str]:
  """'<label> <sentence>' lines; labels alternate."""
  rng = np.random.default_rng(seed)
  out = []
  for i in range(n):
    label = i % 2
    words = list(rng.choice(FILLER + TRAIN_ONLY, size=rng.integers(3, 8)))
    for _ in range(rng.integers(1, 3)):
      words.insert(rng.integers(len(words) + 1), rng.choice(GOOD if label else BAD))
    out.append(f"{label} {' '.join(words)}\n")
  return out


@pytest.fixture(scope="module")
def task():
  splits = {}
  for split, n, seed in (("train", 160, 1), ("dev", 64, 2), ("test", 64, 3)):
    rows = [line.rstrip("\n").split(" ", 1) for line in _lines(n, seed)]
    splits[split] = labelled.Split([labelled.tokenize(t) for _, t in rows],
                                     np.array([int(l) for l, _ in rows], dtype=np.int32))
  pre_words, vectors_PD = _pretrained()
  words = labelled.build_vocab(splits["train"].sentences, pre_words)
  return words, pre_words, vectors_PD, labelled.encode_splits(splits, words)


def _train(task, kind, mode, vectors_PD=None, cfg=CFG):
  words, pre_words, default_PD, data = task
  table_VD = downstream.embedding_table(words, pre_words,
                                        default_PD if vectors_PD is None else vectors_PD, mode)
  return table_VD, downstream.train_classifier(kind, mode, table_VD, data, 2, cfg)


def _params(model):
  return jax.tree_util.tree_leaves(jax.device_get(
      nnx.state(model, nnx.Param)))


def test_frozen_keeps_table_bit_identical_and_trains_the_rest(task):
  table_VD, res = _train(task, "mean", "frozen")
  after_VD = np.asarray(res.model.embed.embedding.value)
  np.testing.assert_array_equal(after_VD.view(np.uint32), table_VD.view(np.uint32))
  words, pre_words, vectors_PD, _ = task
  np.testing.assert_array_equal(table_VD[words.index("gooda")], vectors_PD[0])
  fresh = downstream.make_model("mean", table_VD, 2, CFG.hidden, CFG.seed)
  changed = [not np.array_equal(a, b) for a, b in zip(_params(fresh), _params(res.model))]
  assert sum(changed) == len(changed) - 1  # everything but the embedding
  assert res.dev_accuracy > 0.9 and res.test_accuracy > 0.9


def test_finetune_changes_table(task):
  table_VD, res = _train(task, "mean", "finetune")
  after_VD = np.asarray(res.model.embed.embedding.value)
  words = task[0]
  for w in ("gooda", "bada", "zzz"):  # seen in training: moved
    assert not np.array_equal(after_VD[words.index(w)], table_VD[words.index(w)]), w
  np.testing.assert_array_equal(after_VD[0], 0.0)  # PAD is masked out: never a gradient
  assert res.test_accuracy > 0.9


def test_random_mode_ignores_pretrained_values(task):
  words, pre_words, vectors_PD, _ = task
  other_PD = _pretrained(seed=5)[1] * -3.0
  table_a, res_a = _train(task, "mean", "random")
  table_b, res_b = _train(task, "mean", "random", vectors_PD=other_PD)
  np.testing.assert_array_equal(table_a, table_b)
  assert not np.isclose(table_a[2:2 + len(pre_words)], vectors_PD).all(axis=1).any()
  assert res_a.dev_history == res_b.dev_history
  np.testing.assert_array_equal(res_a.model.embed.embedding.value,
                                res_b.model.embed.embedding.value)
  assert res_a.dev_accuracy > 0.75  # learns the good/bad words from the training split alone


def test_gru_trains_above_chance(task):
  _, res = _train(task, "gru", "finetune")
  assert res.dev_accuracy > 0.75 and res.test_accuracy > 0.75


def test_optimizer_labels_only_the_embedding(task):
  table_VD = downstream.embedding_table(task[0], task[1], task[2], "frozen")
  model = downstream.make_model("gru", table_VD, 2, 4)
  labels = downstream.param_labels(nnx.state(model, nnx.Param))
  flat = jax.tree_util.tree_leaves_with_path(labels)
  assert [jax.tree_util.keystr(p) for p, l in flat if l == "embedding"] == [
      "['embed']['embedding'].value"]
  assert len(flat) > 3


def _write_task(tmp_path):
  folder = tmp_path / "data"
  folder.mkdir()
  for split, n, seed in (("train", 96, 1), ("dev", 32, 2), ("test", 32, 3)):
    (folder / f"tiny.{split}").write_text("".join(_lines(n, seed)))
  words, vectors_PD = _pretrained()
  formats.save_word2vec(tmp_path / "v.bin", words, vectors_PD, binary=True)
  return folder


def _classify(*args):
  return subprocess.run([sys.executable, "-m", "experiments.classify", *args], cwd=REPO,
                        capture_output=True, text=True, timeout=300)


def test_script_prints_table_and_json(tmp_path):
  folder = _write_task(tmp_path)
  proc = _classify(f"--vectors={tmp_path / 'v.bin'}", f"--data={folder}", "--models=mean,gru",
                   "--modes=random,frozen", "--epochs=2", "--hidden=8", "--batch_size=32",
                   "--learning_rate=0.01", f"--out={tmp_path / 'r.json'}")
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.strip().splitlines()
  assert lines[0].startswith("| model | mode | dev accuracy | test accuracy")
  assert [l.split("|")[1:3] for l in lines[2:]] == [
      [" mean ", " random "], [" mean ", " frozen "], [" gru ", " random "], [" gru ", " frozen "]]
  report = json.loads((tmp_path / "r.json").read_text())
  assert [r["mode"] for r in report["results"]] == ["random", "frozen"] * 2
  assert report["vocab"]["train_only"] == len(TRAIN_ONLY)
  assert all(0.0 <= r["test_accuracy"] <= 1.0 for r in report["results"])


@pytest.mark.parametrize("args, fragment", [
    (["--vectors=MISSING"], "absent.bin"),
    (["--vectors=MISSING", "--modes=frozen,bogus"], "bogus"),
])
def test_script_errors_are_one_line(tmp_path, args, fragment):
  folder = _write_task(tmp_path)
  args = [a.replace("MISSING", str(tmp_path / "absent.bin")) for a in args]
  proc = _classify(*args, f"--data={folder}")
  assert proc.returncode == 1
  lines = [l for l in proc.stderr.splitlines() if l.strip()]
  assert len(lines) == 1 and fragment in lines[0], proc.stderr
  assert "Traceback" not in proc.stderr and not proc.stdout


def _write_classes(tmp_path, n=60):
  """Two class files (negative, positive) of the synthetic task, one sentence per line."""
  paths = [tmp_path / "task.neg", tmp_path / "task.pos"]
  lines = _lines(n, 5)
  for label, path in enumerate(paths):
    path.write_text("".join(l.split(" ", 1)[1] for l in lines if l[0] == str(label)) + "\n")
  return paths


def test_read_classes_labels_by_file_position(tmp_path):
  neg, pos = _write_classes(tmp_path)
  data = labelled.read_classes([str(neg), str(pos)])
  assert len(data.sentences) == 60 and list(np.bincount(data.labels_N)) == [30, 30]
  assert all(any(w.startswith("good") for w in s)
             for s, l in zip(data.sentences, data.labels_N) if l == 1)
  (tmp_path / "empty").write_text("\n\n")
  with pytest.raises(W2VError, match="no sentences"):
    labelled.read_classes([str(neg), str(tmp_path / "empty")])
  with pytest.raises(W2VError, match="two class files"):
    labelled.read_classes([str(neg)])


def test_script_cross_validates_class_files(tmp_path):
  neg, pos = _write_classes(tmp_path)
  words, vectors_PD = _pretrained()
  formats.save_word2vec(tmp_path / "v.bin", words, vectors_PD, binary=True)
  proc = _classify(f"--vectors={tmp_path / 'v.bin'}", f"--classes={neg},{pos}", "--folds=3",
                   "--models=mean", "--modes=random,frozen", "--epochs=2", "--hidden=8",
                   "--batch_size=16", "--learning_rate=0.01", f"--out={tmp_path / 'r.json'}")
  assert proc.returncode == 0, proc.stderr
  lines = proc.stdout.strip().splitlines()
  assert lines[0].startswith("| model | mode | dev accuracy | test accuracy | test std | folds")
  assert [l.split("|")[1:3] for l in lines[2:]] == [[" mean ", " random "], [" mean ", " frozen "]]
  report = json.loads((tmp_path / "r.json").read_text())
  assert sorted({r["fold"] for r in report["results"]}) == [0, 1, 2]
  frozen = [r["test_accuracy"] for r in report["results"] if r["mode"] == "frozen"]
  summary = {r["mode"]: r for r in report["summary"]}
  assert summary["frozen"]["folds"] == 3
  assert summary["frozen"]["test_accuracy"] == pytest.approx(np.mean(frozen))
  assert summary["frozen"]["test_std"] == pytest.approx(np.std(frozen))
  bad = _classify(f"--vectors={tmp_path / 'v.bin'}", f"--classes={neg},{pos}", "--folds=1")
  assert bad.returncode == 1 and "--folds must be >= 3" in bad.stderr
