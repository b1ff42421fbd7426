"""Train word2vec embeddings. With no flags: skip-gram on the bundled sample into runs/default.

  python -m experiments.train
  python -m experiments.train --corpus='corpus/*.txt.gz' --workdir=runs/cbow --model=cbow
Re-running the same command with the same --workdir resumes from the latest checkpoint.
"""

import json
import os

from absl import flags

from experiments import common
from w2v_jax import config
from w2v_jax.config import Config

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_D = Config()

flags.DEFINE_string("corpus", os.path.join(_REPO, "data", "sample", "enwiki2015.part04.txt.gz"),
                    "Path or glob of plain or .gz text files (newlines end sentences).")
flags.DEFINE_string("workdir", "runs/default", "Output directory; resumed if it has checkpoints.")
flags.DEFINE_string("model", _D.model, "sg (skip-gram), cbow, or glove (GloVe on the same "
                    "vocabulary; see the glove_* flags).")
flags.DEFINE_integer("dim", _D.dim, "Embedding dimension.")
flags.DEFINE_integer("window", _D.window, "Maximum context radius (shrunk at random per word).")
flags.DEFINE_integer("negatives", _D.negatives, "Negative samples per centre word.")
flags.DEFINE_float("sample", _D.sample, "Subsampling threshold for frequent words; 0 disables.")
flags.DEFINE_integer("min_count", _D.min_count, "Drop words rarer than this.")
flags.DEFINE_integer("max_vocab", _D.max_vocab, "Keep at most this many words (0 = all).")
flags.DEFINE_integer("phrases", _D.phrases, "Join frequent bigrams (new_york) with this many "
                     "word2phrase passes before training; 0 = off.")
flags.DEFINE_float("phrase_threshold", _D.phrase_threshold, "word2phrase threshold of the last "
                   "pass; each earlier pass doubles it.")
flags.DEFINE_integer("epochs", _D.epochs, "Passes over the corpus (--model=glove: passes over "
                     "the co-occurrences, default 15).")
flags.DEFINE_float("alpha", None, "Starting learning rate (default 0.025 for sg, 0.05 for cbow).")
flags.DEFINE_float("lr_progress_scale", _D.lr_progress_scale, "The learning rate decays as if "
                   "progress were this times the true one, ending at alpha * (1 - this); 0.5 "
                   "reproduces gensim 4.4's corpus_file mode with 2 workers (default 1: "
                   "word2vec.c's decay to ~0).")
flags.DEFINE_integer("batch_size", _D.batch_size, "Centre words per synchronous SGD step.")
flags.DEFINE_integer("steps_per_call", None, "SGD steps per jitted dispatch (default "
                     "64; with --sync=dispatch 128, or 256 for cbow).")
flags.DEFINE_integer("row_tokens", _D.row_tokens, "Centre words per row of a step; --devices "
                     "split a step's rows, so batch_size / row_tokens must divide by them.")
flags.DEFINE_integer("devices", _D.devices, "Data-parallel devices (0 = all); docs/scaling.md.")
flags.DEFINE_enum("sync", _D.sync, ["step", "dispatch"], "With --devices: step = one "
                  "synchronous step over all devices (same vectors as one device); dispatch = "
                  "each device a replica on its own data, changes summed once per dispatch "
                  "(local SGD, like word2vec.c's threads; the fast choice on a CPU).")
flags.DEFINE_bool("shard_tables", _D.shard_tables, "Split the embedding tables by rows over the "
                  "devices (per-device table memory 1/N).")
flags.DEFINE_bool("id_file", _D.id_file, "Count the corpus in one pass into a binary id file "
                  "(WORKDIR/corpus.ids) and train from it memory-mapped; reused on resume.")
flags.DEFINE_string("coordinator", "", "Multi-process runs: HOST:PORT of process 0 "
                    "(jax.distributed).")
flags.DEFINE_integer("num_processes", 1, "Multi-process runs: processes in all (each runs this "
                     "command with the same flags and its own --process_id).")
flags.DEFINE_integer("process_id", 0, "Multi-process runs: this process's index; 0 writes files.")
flags.DEFINE_float("ns_exponent", _D.ns_exponent, "Noise distribution exponent.")
flags.DEFINE_bool("shrink_window", _D.shrink_window, "word2vec.c's random window shrinking.")
flags.DEFINE_enum("cbow_mean_grad", _D.cbow_mean_grad, ["word2vec", "autodiff"],
                  "CBOW: full error to every context row (word2vec.c) or 1/count (autodiff).")
flags.DEFINE_string("loss", _D.loss, "Objective: ns (negative sampling), hs (hierarchical "
                    "softmax; pass --negatives=0), softmax (full; small vocabularies only; "
                    "--negatives=0) or ns+hs (both summed, as word2vec.c -hs 1 -negative K).")
flags.DEFINE_bool("cbow_mean", _D.cbow_mean, "CBOW: average the context (word2vec.c); "
                  "--nocbow_mean sums it (gensim cbow_mean=0).")
flags.DEFINE_string("sigmoid", _D.sigmoid, "exact, or c_table: gradients from word2vec.c's "
                    "sigmoid table, clipped at +-6 (the reported loss stays exact).")
flags.DEFINE_bool("cbow_position_weights", _D.cbow_position_weights, "CBOW: learned per-position "
                  "weights on the context vectors (fastText's cc vectors, Mikolov et al. 2018).")
flags.DEFINE_float("dup_cap", None, "Cap a row's summed step at this many single updates "
                   "when it repeats within a batch (default 0 = plain sum, as word2vec; with "
                   "--sync=dispatch 16, or 4 for cbow).")
flags.DEFINE_float("skip_beyond", _D.skip_beyond, "Drop pair terms with |score| >= this (gensim "
                   "skips at 6); 0 = exact loss everywhere.")
flags.DEFINE_float("init_range", _D.init_range, "Input vectors start uniform in [-r, r)/dim "
                   "(word2vec.c: 0.5; gensim 4: 1.0).")
flags.DEFINE_integer("seed", _D.seed, "Random seed (same seed + device count = same vectors).")
flags.DEFINE_integer("checkpoint_every", _D.checkpoint_every, "Dispatches between checkpoints "
                     "(0 = by --checkpoint_secs only).")
flags.DEFINE_float("checkpoint_secs", _D.checkpoint_secs, "Seconds of training between "
                   "checkpoints (0 = none but the last; SIGINT/SIGTERM always save).")
flags.DEFINE_integer("glove_window", _D.glove_window, "GloVe: co-occurrence radius each side "
                     "(a pair at distance d counts 1/d).")
flags.DEFINE_float("glove_x_max", _D.glove_x_max, "GloVe: weighting cutoff x_max.")
flags.DEFINE_float("glove_power", _D.glove_power, "GloVe: weighting exponent (glove.c -alpha).")
flags.DEFINE_float("glove_eta", _D.glove_eta, "GloVe: AdaGrad learning rate.")
flags.DEFINE_integer("glove_batch", _D.glove_batch, "GloVe: co-occurrence entries per step.")
flags.DEFINE_bool("save_text", False, "Also write vectors.txt (word2vec text format).")
flags.DEFINE_bool("export_out", False, "Also write the output table as vectors_out.bin "
                  "(same as adding out to --export).")
flags.DEFINE_list("export", ["in"], "Vectors to write: in (vectors.bin, always), out "
                  "(vectors_out.bin), sum (in + out, vectors_sum.bin), concat "
                  "(vectors_concat.bin); --eval scores each.")
flags.DEFINE_enum("optimizer", _D.optimizer, ["sgd", "adagrad", "adam"],
                  "sgd (word2vec), adagrad or adam; all follow --alpha's linear decay.")
flags.DEFINE_enum("optimizer_update", _D.optimizer_update, ["dense", "lazy"],
                  "adagrad/adam: lazy (state of touched rows only) or dense (whole tables).")
flags.DEFINE_float("heldout", _D.heldout, "Keep the corpus's last FRACTION of sentences out of "
                   "training and log their loss as heldout_loss (0 = off).")
flags.DEFINE_bool("tensorboard", False, "Also log metrics to WORKDIR/tensorboard (tensorboardX).")
flags.DEFINE_bool("overwrite", False, "Discard checkpoints of a different run in --workdir.")
flags.DEFINE_bool("eval", True, "Evaluate on the bundled analogy and WordSim-353 sets.")
flags.DEFINE_list("show_neighbors", ["king", "france", "computer"], "Words to print neighbours of.")

FLAGS = flags.FLAGS
_FIELDS = ("corpus", "model", "dim", "window", "negatives", "sample", "min_count", "max_vocab",
           "phrases", "phrase_threshold",
           "epochs", "alpha", "lr_progress_scale", "batch_size", "steps_per_call", "ns_exponent",
           "shrink_window",
           "row_tokens", "devices", "sync", "shard_tables", "id_file",
           "cbow_mean_grad", "loss", "cbow_mean", "sigmoid", "cbow_position_weights",
           "dup_cap", "skip_beyond", "init_range", "seed", "checkpoint_every", "checkpoint_secs",
           "optimizer", "optimizer_update", "heldout",
           "glove_window", "glove_x_max", "glove_power", "glove_eta", "glove_batch")


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  values = {k: getattr(FLAGS, k) for k in _FIELDS}
  if values["model"] == "glove" and not FLAGS["epochs"].present:
    values["epochs"] = config.GLOVE_EPOCHS
  cfg = Config(**values).validate()
  if FLAGS.num_processes > 1 and cfg.devices == 1:
    raise common.W2VError("--num_processes > 1 needs --devices=0 (the devices of all processes)")
  if not cfg.phrases and not cfg.id_file:  # count the corpus while jax starts (corpus.prefetch)
    from w2v_jax import corpus  # pylint: disable=import-outside-toplevel
    corpus.prefetch(corpus.expand(cfg.corpus))
  from w2v_jax import multihost, train  # imports jax: only once the flags are known to be sane
  multihost.use_cpu_devices(cfg.devices)
  if cfg.devices != 1 and cfg.sync == "dispatch":  # before jax starts its threads
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
    # eval.json: the `in` vectors' report at the top (as before), and one per exported kind.
    reports = {kind: evaluate.evaluate(out["words"], vectors, evaluate.DEFAULT_ANALOGIES,
                                       evaluate.DEFAULT_WORDSIM)
               for kind, vectors in out.get("vectors", {"in": out["emb_in"]}).items()}
    train.write_json(os.path.join(FLAGS.workdir, "eval.json"), {**reports["in"], **reports})
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
