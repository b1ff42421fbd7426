"""Test setup: CPU only, and a small generated corpus (no downloads)."""

import contextlib
import os
import re

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from w2v_jax.config import Config  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def planted_corpus(n_sentences: int = 400, seed: int = 0) -> str:
  """Sentences from 4 topics of 6 words each plus shared filler words.

  Words of one topic co-occur, so trained vectors must put them close together.
  """
  rng = np.random.default_rng(seed)
  topics = [[f"t{t}w{i}" for i in range(6)] for t in range(4)]
  fillers = ["the", "of", "and", "a"]
  lines = []
  for _ in range(n_sentences):
    topic = topics[rng.integers(4)]
    words = [topic[rng.integers(6)] if rng.random() < 0.7 else fillers[rng.integers(4)]
             for _ in range(rng.integers(8, 20))]
    lines.append(" ".join(words))
  return "\n".join(lines) + "\n"


def topic_gap(words, vecs) -> float:
  """Mean cosine of same-topic pairs of planted words (`tNwM`, see planted_corpus) minus the
  mean cosine of different-topic pairs; filler words are left out. `vecs` rows follow `words`."""
  unit_VD = vecs / np.linalg.norm(vecs, axis=1, keepdims=True)
  planted = [(i, w[:2]) for i, w in enumerate(words) if re.fullmatch(r"t\dw\d", w)]
  same, other = [], []
  for a, (i, ti) in enumerate(planted):
    for j, tj in planted[a + 1:]:
      (same if ti == tj else other).append(float(unit_VD[i] @ unit_VD[j]))
  return float(np.mean(same) - np.mean(other))


def tiny_config(corpus: str, **overrides) -> Config:
  """A small, fast sg training Config on `corpus`; `overrides` replace any of its fields.

  Tests that compare runs bit for bit build every run from this base, so keep it unchanged.
  """
  base = dict(corpus=corpus, dim=16, window=3, negatives=3, min_count=1, sample=0.0, epochs=2,
              batch_size=64, row_tokens=64, steps_per_call=4, log_every_secs=0.0, alpha=0.05)
  return Config(**{**base, **overrides})


@contextlib.contextmanager
def crash_after_saves(n: int):
  """Within the block, checkpoint.save raises KeyboardInterrupt (a simulated crash) right
  after the n-th checkpoint is fully written. Yields the list of saved steps; the block must
  end in that crash, and checkpoint.save is restored on leaving it."""
  # Imported here: orbax is slow to import, and most test files never need it.
  from w2v_jax import checkpoint  # pylint: disable=import-outside-toplevel
  saves = []
  real_save = checkpoint.save

  def crashing_save(*args, **kwargs):
    real_save(*args, **kwargs)
    saves.append(args[1])
    if len(saves) == n:
      args[0].wait_until_finished()
      raise KeyboardInterrupt("simulated crash")

  with pytest.MonkeyPatch.context() as m:
    m.setattr(checkpoint, "save", crashing_save)
    with pytest.raises(KeyboardInterrupt, match="simulated crash"):
      yield saves


@pytest.fixture(scope="session")
def planted_path(tmp_path_factory) -> str:
  path = tmp_path_factory.mktemp("corpus") / "planted.txt"
  path.write_text(planted_corpus())
  return str(path)
