"""Vectors for the Embedding Projector: `python -m experiments.projector --vectors=PATH --out=DIR`.

Writes DIR/tensors.tsv (one vector per line, tab-separated), DIR/metadata.tsv (one word per
line, same order), DIR/projector_config.pbtxt (TensorBoard's projector plugin: point
`tensorboard --logdir=DIR` at it) and DIR/projector_config.json (the standalone projector at
projector.tensorflow.org: "Load" the two TSV files, or host DIR and pass the JSON as ?config=).
--limit=N keeps the N most frequent words (the file's first rows): the projector is comfortable
up to ~100,000 points.
"""

import json
import os

from absl import flags

from experiments import common
from w2v_jax import formats, textio

_VECTORS = flags.DEFINE_string("vectors", None, "word2vec file, text or binary (auto-detected).")
_OUT = flags.DEFINE_string("out", None, "Folder for the projector files.")
_LIMIT = flags.DEFINE_integer("limit", 10000, "Write only the first N words (0 = all).")
_NAME = flags.DEFINE_string("name", "word2vec", "The tensor's name in the projector.")


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  if not _VECTORS.value or not _OUT.value:
    raise common.W2VError("--vectors=PATH and --out=DIR are required")
  if _LIMIT.value < 0:
    raise common.W2VError(f"--limit must be >= 0, got {_LIMIT.value}")
  words, vectors_VD = formats.load_word2vec(_VECTORS.value, limit=_LIMIT.value or None)
  os.makedirs(_OUT.value, exist_ok=True)
  formats.save_projector_tsv(os.path.join(_OUT.value, "projector"), words, vectors_VD)
  for kind, final in (("vectors", "tensors.tsv"), ("metadata", "metadata.tsv")):
    os.replace(os.path.join(_OUT.value, f"projector.{kind}.tsv"), os.path.join(_OUT.value, final))
  with textio.atomic_open(os.path.join(_OUT.value, "projector_config.pbtxt")) as f:
    f.write(f'embeddings {{\n  tensor_name: "{_NAME.value}"\n  tensor_path: "tensors.tsv"\n'
            f'  metadata_path: "metadata.tsv"\n}}\n')
  textio.write_json(os.path.join(_OUT.value, "projector_config.json"), {"embeddings": [{
      "tensorName": _NAME.value, "tensorShape": list(vectors_VD.shape),
      "tensorPath": "tensors.tsv", "metadataPath": "metadata.tsv"}]})
  print(f"wrote {len(words)} x {vectors_VD.shape[1]} to {_OUT.value}: tensors.tsv, metadata.tsv, "
        "projector_config.pbtxt, projector_config.json")


if __name__ == "__main__":
  common.run(main)
