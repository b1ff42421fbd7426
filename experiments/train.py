"""Train word2vec embeddings. With no flags: skip-gram on the bundled sample into runs/default.

  python -m experiments.train
  python -m experiments.train --corpus='corpus/*.txt.gz' --workdir=runs/cbow --model=cbow
Re-running the same command with the same --workdir resumes from the latest checkpoint.
"""

import dataclasses
import json
import os
import types

from absl import flags

from experiments import common
from w2v_jax import config, textio
from w2v_jax.config import Config

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Flag defaults that differ from the Config field's (the rest are the field's, None included).
_FLAG_DEFAULTS = {"corpus": os.path.join(_REPO, "data", "sample", "enwiki2015.part04.txt.gz")}
_DEFINE = {str: flags.DEFINE_string, int: flags.DEFINE_integer, float: flags.DEFINE_float,
           bool: flags.DEFINE_bool}


def define_config_flags(flag_values: flags.FlagValues) -> None:
  """One --FIELD flag per Config field: typed from its annotation, with the field's default
  (None = the mode's, filled by config.resolve) and the help text of its metadata."""
  for field in dataclasses.fields(Config):
    kind, default = field.type, _FLAG_DEFAULTS.get(field.name, field.default)
    if isinstance(kind, types.UnionType):  # `int | None`
      kind = next(k for k in kind.__args__ if k is not type(None))
    if "choices" in field.metadata:
      flags.DEFINE_enum(field.name, default, field.metadata["choices"], field.metadata["help"],
                        flag_values=flag_values)
    else:
      _DEFINE[kind](field.name, default, field.metadata["help"], flag_values=flag_values)


def config_from_flags(flag_values: flags.FlagValues) -> Config:
  """The (unresolved, validated) Config of parsed flags; train.run resolves it."""
  values = {f.name: flag_values[f.name].value for f in dataclasses.fields(Config)}
  return Config(**values).validate()


define_config_flags(flags.FLAGS)
flags.DEFINE_string("workdir", "runs/default", "Output directory; resumed if it has checkpoints.")
flags.DEFINE_string("coordinator", "", "Multi-process runs: HOST:PORT of process 0 "
                    "(jax.distributed).")
flags.DEFINE_integer("num_processes", 1, "Multi-process runs: processes in all (each runs this "
                     "command with the same flags and its own --process_id).")
flags.DEFINE_integer("process_id", 0, "Multi-process runs: this process's index; 0 writes files.")
flags.DEFINE_bool("save_text", False, "Also write vectors.txt (word2vec text format).")
flags.DEFINE_bool("export_out", False, "Also write the output table as vectors_out.bin "
                  "(same as adding out to --export).")
flags.DEFINE_list("export", ["in"], "Vectors to write: in (vectors.bin, always), out "
                  "(vectors_out.bin), sum (in + out, vectors_sum.bin), concat "
                  "(vectors_concat.bin); --eval scores each.")
flags.DEFINE_bool("tensorboard", False, "Also log metrics to WORKDIR/tensorboard (tensorboardX).")
flags.DEFINE_bool("overwrite", False, "Discard checkpoints of a different run in --workdir.")
flags.DEFINE_bool("eval", True, "Evaluate on the bundled analogy and WordSim-353 sets.")
flags.DEFINE_list("show_neighbors", ["king", "france", "computer"], "Words to print neighbours of.")

FLAGS = flags.FLAGS


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  cfg = config_from_flags(FLAGS)
  if FLAGS.num_processes > 1 and cfg.devices in (None, 1):
    raise common.W2VError("--num_processes > 1 needs --devices=0 (the devices of all processes)")
  if not cfg.phrases and not cfg.id_file:  # count the corpus while jax starts (corpus.prefetch)
    from w2v_jax import corpus  # pylint: disable=import-outside-toplevel
    corpus.prefetch(corpus.expand(cfg.corpus))
  from w2v_jax import multihost, train  # imports jax: only once the flags are known to be sane
  cpu_devices = config.auto_cpu_devices(cfg, os.cpu_count() or 1)
  multihost.use_cpu_devices(cpu_devices)
  if cpu_devices != 1 and cfg.sync in (None, "dispatch"):  # before jax starts its threads
    from w2v_jax import replicas  # pylint: disable=import-outside-toplevel
    replicas.keep_freed_memory()
  multihost.initialize(FLAGS.coordinator, FLAGS.num_processes, FLAGS.process_id)
  print(f"training {cfg.model} (dim {cfg.dim}) on {cfg.corpus} into {FLAGS.workdir}", flush=True)
  out = train.run(cfg, FLAGS.workdir, overwrite=FLAGS.overwrite, save_text=FLAGS.save_text,
                  export_out=FLAGS.export_out, export=FLAGS.export,
                  tensorboard=FLAGS.tensorboard)
  if not multihost.is_writer():
    return
  print(f"trained {out['vocab_size']} words x {cfg.dim} in {out['elapsed']:.1f}s "
        f"(vocabulary {out['vocab_seconds']:.1f}s, compile {out['compile_seconds']:.1f}s, "
        f"training {out['train_seconds']:.1f}s); vectors in "
        f"{os.path.join(FLAGS.workdir, 'vectors.bin')}")
  from w2v_jax import evaluate  # pylint: disable=import-outside-toplevel (scipy: ~0.2 s)
  if FLAGS.eval:
    # eval.json: the `in` vectors' report at the top level, and one per exported kind.
    reports = {kind: evaluate.evaluate(out["words"], vectors, evaluate.DEFAULT_ANALOGIES,
                                       evaluate.DEFAULT_WORDSIM)
               for kind, vectors in out.get("vectors", {"in": out["emb_in"]}).items()}
    textio.write_json(os.path.join(FLAGS.workdir, "eval.json"), {**reports["in"], **reports})
    for kind, report in reports.items():
      print(json.dumps({"vectors": kind, "analogy_accuracy": report["analogy"]["accuracy"],
                        "analogy_questions": report["analogy"]["total"],
                        "analogy_oov": report["analogy"]["oov"],
                        "wordsim353_spearman": report["wordsim353"]["spearman"],
                        "wordsim353_oov": report["wordsim353"]["oov"]}))
  for word in FLAGS.show_neighbors:
    if word in out["words"]:
      near = evaluate.most_similar(out["words"], out["emb_in"], [word], topn=6)
      print(f"{word}: " + ", ".join(f"{w} ({s:.2f})" for w, s in near))


if __name__ == "__main__":
  common.run(main)
