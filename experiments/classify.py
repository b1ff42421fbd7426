"""Sentence classification on top of word2vec vectors: dev/test accuracy per (model, mode).

  python -m experiments.classify --vectors=runs/default/vectors.bin
  python -m experiments.classify --vectors=V.bin --models=mean --modes=frozen,finetune --out=r.json
  python -m experiments.classify --vectors=V.bin --classes=DIR/custrev.neg,DIR/custrev.pos
Trains each classifier (masked mean -> MLP, GRU) with each embedding mode (random: trained from a
random table; frozen: pretrained, never updated; finetune: pretrained, trained) on the train
split of --data, early-stops on dev accuracy and prints a Markdown table of dev/test accuracy.
With --classes (one file per class, no fixed split: rt-polarity, SUBJ, CR) it runs stratified
--folds-fold cross-validation instead and reports the mean and spread over the folds.
"""

import logging
import os

import numpy as np

from absl import flags

from experiments import common
from w2v_jax import downstream, formats, labelled, textio

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_D = downstream.TrainConfig()

_VECTORS = flags.DEFINE_string("vectors", None, "Pretrained word2vec file (text or binary).")
_DATA = flags.DEFINE_string("data", os.path.join(_REPO, "data", "sst2"),
                            "Folder with '<label> <sentence>' files *train, *dev, *test.")
_CLASSES = flags.DEFINE_list("classes", None,
                             "One file per class, one sentence per line (label = position); "
                             "replaces --data and runs cross-validation.")
_FOLDS = flags.DEFINE_integer("folds", 10, "Cross-validation folds with --classes.")
_ENCODING = flags.DEFINE_string("encoding", "utf-8", "Text encoding of the data files "
                                "(e.g. cp1252 for SUBJ's subjective half).")
_MODELS = flags.DEFINE_list("models", list(downstream.MODELS), "Classifiers: mean, gru.")
_MODES = flags.DEFINE_list("modes", list(downstream.MODES),
                           "Embedding modes: random, frozen, finetune.")
_EPOCHS = flags.DEFINE_integer("epochs", _D.epochs, "Maximum passes over the train split.")
_PATIENCE = flags.DEFINE_integer("patience", _D.patience,
                                 "Stop after this many epochs without a better dev accuracy.")
_BATCH = flags.DEFINE_integer("batch_size", _D.batch_size, "Sentences per Adam step.")
_LR = flags.DEFINE_float("learning_rate", _D.learning_rate, "Adam learning rate.")
_HIDDEN = flags.DEFINE_integer("hidden", _D.hidden, "MLP / GRU width (mean: 0 = linear).")
_MAX_LEN = flags.DEFINE_integer("max_len", 0, "Cut sentences at this many words (0 = no cut).")
_LIMIT = flags.DEFINE_integer("limit", 0, "Read only the first N vectors (0 = all).")
_SEED = flags.DEFINE_integer("seed", _D.seed, "Seed of the initialisation and the shuffling.")
_OUT = flags.DEFINE_string("out", None, "Also write the results as JSON to this file.")

_log = logging.getLogger("w2v_jax")


def _check_flags() -> None:
  if not _VECTORS.value:
    raise common.W2VError("--vectors=PATH is required")
  for name, values, allowed in (("models", _MODELS.value, downstream.MODELS),
                                ("modes", _MODES.value, downstream.MODES)):
    bad = [v for v in values if v not in allowed] or ([] if values else ["(empty)"])
    if bad:
      raise common.W2VError(f"--{name}: unknown {', '.join(bad)}; choose from "
                            f"{', '.join(allowed)}")
  for name, value, low in (("epochs", _EPOCHS.value, 1), ("patience", _PATIENCE.value, 1),
                           ("batch_size", _BATCH.value, 1), ("hidden", _HIDDEN.value, 0),
                           ("max_len", _MAX_LEN.value, 0), ("limit", _LIMIT.value, 0),
                           ("folds", _FOLDS.value, 3)):
    if value < low:
      raise common.W2VError(f"--{name} must be >= {low}, got {value}")
  if not _LR.value > 0:
    raise common.W2VError(f"--learning_rate must be > 0, got {_LR.value}")


def load_splits() -> list[dict[str, labelled.Split]]:
  """The train/dev/test splits to run: --data's one split, or --classes' cross-validation."""
  if _CLASSES.value:
    data = labelled.read_classes(_CLASSES.value, _ENCODING.value)
    return labelled.cross_validation(data, _FOLDS.value, _SEED.value)
  return [labelled.read_dataset(_DATA.value, _ENCODING.value)]


def summarise(rows: list[dict]) -> list[dict]:
  """One row per (model, mode): mean dev and test accuracy over the folds, test std, seconds."""
  out = {}
  for r in rows:
    out.setdefault((r["model"], r["mode"]), []).append(r)
  summary = []
  for (model, mode), group in out.items():
    test_F = np.array([r["test_accuracy"] for r in group])
    summary.append({"model": model, "mode": mode, "folds": len(group),
                    "dev_accuracy": float(np.mean([r["dev_accuracy"] for r in group])),
                    "test_accuracy": float(test_F.mean()), "test_std": float(test_F.std()),
                    "best_epoch": float(np.mean([r["best_epoch"] for r in group])),
                    "epochs_run": float(np.mean([r["epochs_run"] for r in group])),
                    "seconds": float(sum(r["seconds"] for r in group))})
  return summary


def markdown_table(rows: list[dict]) -> str:
  """The summary rows as a Markdown table (with test std and folds when cross-validated)."""
  cv = any(r["folds"] > 1 for r in rows)
  extra = " test std | folds |" if cv else ""
  lines = ["| model | mode | dev accuracy | test accuracy |" + extra +
           " best epoch | epochs | seconds |",
           "| --- | --- | ---: | ---: |" + (" ---: | ---: |" if cv else "") +
           " ---: | ---: | ---: |"]
  for r in rows:
    cells = f" {r['test_std']:.4f} | {r['folds']} |" if cv else ""
    lines.append(f"| {r['model']} | {r['mode']} | {r['dev_accuracy']:.4f} | "
                 f"{r['test_accuracy']:.4f} |{cells} {r['best_epoch']:g} | "
                 f"{r['epochs_run']:g} | {r['seconds']:.1f} |")
  return "\n".join(lines)


def run_fold(splits: dict[str, labelled.Split], pre_words: list[str],
             vectors_PD: np.ndarray, cfg: downstream.TrainConfig) -> tuple[list[dict], dict]:
  """Every (model, mode) on one train/dev/test split: result rows and vocabulary figures."""
  words = labelled.build_vocab(splits["train"].sentences, pre_words)
  data = labelled.encode_splits(splits, words, _MAX_LEN.value)
  pre = set(pre_words)
  tokens = [w for s in splits["train"].sentences for w in s]
  vocab = {"words": len(words), "pretrained": len(pre_words),
           "train_only": len(words) - 2 - len(pre_words),
           "train_tokens_pretrained": sum(w in pre for w in tokens) / max(len(tokens), 1),
           "dim": int(vectors_PD.shape[1]), "max_len": int(data["train"].ids_NxT.shape[1])}
  _log.info("vocabulary %d words (%d pretrained); %.1f%% of training tokens have a vector",
            vocab["words"], vocab["pretrained"], 100 * vocab["train_tokens_pretrained"])
  n_classes = int(max(s.labels_N.max() for s in splits.values())) + 1
  rows = []
  for model in _MODELS.value:
    for mode in _MODES.value:
      table_VD = downstream.embedding_table(words, pre_words, vectors_PD, mode, _SEED.value)
      res = downstream.train_classifier(model, mode, table_VD, data, n_classes, cfg)
      rows.append({"model": model, "mode": mode, "dev_accuracy": res.dev_accuracy,
                   "test_accuracy": res.test_accuracy, "best_epoch": res.best_epoch,
                   "epochs_run": res.epochs_run, "dev_history": res.dev_history,
                   "seconds": round(res.seconds, 2)})
      _log.info("%s/%s: dev %.4f test %.4f (epoch %d of %d, %.1fs)", model, mode,
                res.dev_accuracy, res.test_accuracy, res.best_epoch, res.epochs_run,
                res.seconds)
  return rows, vocab


def main(argv: list[str]) -> None:
  """Loads vectors and data, trains every (model, mode) pair on every split, prints the table."""
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  _check_flags()
  folds = load_splits()
  pre_words, vectors_PD = formats.load_word2vec(_VECTORS.value, limit=_LIMIT.value or None)
  if not pre_words:
    raise common.W2VError(f"{_VECTORS.value}: no vectors")
  cfg = downstream.TrainConfig(epochs=_EPOCHS.value, batch_size=_BATCH.value,
                               learning_rate=_LR.value, hidden=_HIDDEN.value,
                               patience=_PATIENCE.value, seed=_SEED.value)
  rows = []
  for k, splits in enumerate(folds):
    if len(folds) > 1:
      _log.info("fold %d of %d", k + 1, len(folds))
    fold_rows, vocab = run_fold(splits, pre_words, vectors_PD, cfg)
    rows += [{**r, "fold": k} for r in fold_rows]
  summary = summarise(rows)
  print(markdown_table(summary))
  if _OUT.value:
    report = {"vectors": _VECTORS.value, "data": _CLASSES.value or _DATA.value, "vocab": vocab,
              "config": {**cfg.__dict__, "max_len": _MAX_LEN.value, "limit": _LIMIT.value,
                         "folds": len(folds)},
              "summary": summary, "results": rows}
    textio.write_json(_OUT.value, report)


if __name__ == "__main__":
  common.run(main)
