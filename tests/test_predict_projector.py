"""predict_output_word against gensim's, `experiments.neighbors --predict` and
`experiments.projector`'s files."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO, planted_corpus
from w2v_jax import formats
from w2v_jax.embeddings import Embeddings

gensim = pytest.importorskip("gensim")


@pytest.fixture(scope="module")
def gensim_model():
  sentences = [line.split() for line in planted_corpus(200).splitlines()]
  return gensim.models.Word2Vec(sentences, vector_size=12, window=3, min_count=1, negative=5,
                                sg=0, workers=1, seed=0, epochs=5)


@pytest.mark.parametrize("context", [["t0w1", "t0w2"], ["the", "t3w4", "of"], ["t1w0"],
                                     ["nosuchword", "t2w3"]])
def test_predict_output_word_equals_gensims(gensim_model, context):
  wv = gensim_model.wv
  emb = Embeddings.from_arrays(list(wv.index_to_key), wv.vectors)
  want = gensim_model.predict_output_word(context, topn=8)
  got = emb.predict_output_word(context, gensim_model.syn1neg, topn=8)
  assert [w for w, _ in got] == [w for w, _ in want]
  np.testing.assert_allclose([p for _, p in got], [p for _, p in want], atol=1e-5)


def test_predict_output_word_of_unknown_words_is_none_and_shapes_are_checked(gensim_model):
  wv = gensim_model.wv
  emb = Embeddings.from_arrays(list(wv.index_to_key), wv.vectors)
  assert emb.predict_output_word(["nosuchword"], gensim_model.syn1neg) is None
  with pytest.raises(Exception, match="vectors_out.bin"):
    emb.predict_output_word(["t0w1"], gensim_model.syn1neg[:5])


def _run(*args):
  return subprocess.run([sys.executable, "-m", *args], cwd=REPO, capture_output=True, text=True,
                        timeout=120)


def test_neighbors_predict_and_projector_files(gensim_model, tmp_path):
  words = list(gensim_model.wv.index_to_key)
  formats.save_word2vec(tmp_path / "in.bin", words, gensim_model.wv.vectors, binary=True)
  formats.save_word2vec(tmp_path / "out.bin", words, gensim_model.syn1neg, binary=True)
  proc = _run("experiments.neighbors", f"--vectors={tmp_path}/in.bin",
              f"--vectors_out={tmp_path}/out.bin", "--predict=t0w1,t0w2", "--topn=3")
  assert proc.returncode == 0, proc.stderr
  top = gensim_model.predict_output_word(["t0w1", "t0w2"], topn=3)
  assert [line.split()[-1] for line in proc.stdout.splitlines()[1:]] == [w for w, _ in top]
  proc = _run("experiments.neighbors", f"--vectors={tmp_path}/in.bin", "--predict=t0w1")
  assert proc.returncode != 0 and "--vectors_out" in proc.stderr and "Traceback" not in proc.stderr
  proc = _run("experiments.projector", f"--vectors={tmp_path}/in.bin", f"--out={tmp_path}/p",
              "--limit=20")
  assert proc.returncode == 0, proc.stderr
  tensors = (tmp_path / "p" / "tensors.tsv").read_text().splitlines()
  metadata = (tmp_path / "p" / "metadata.tsv").read_text().splitlines()
  assert len(tensors) == len(metadata) == 20 and metadata == words[:20]
  np.testing.assert_allclose([[float(x) for x in t.split("\t")] for t in tensors],
                             gensim_model.wv.vectors[:20], rtol=1e-6)
  config = (tmp_path / "p" / "projector_config.pbtxt").read_text()
  assert 'tensor_path: "tensors.tsv"' in config and 'metadata_path: "metadata.tsv"' in config
  standalone = json.loads((tmp_path / "p" / "projector_config.json").read_text())
  assert standalone["embeddings"][0]["tensorShape"] == [20, 12]
