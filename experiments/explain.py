"""See word2vec learn: `python -m experiments.explain --out=DIR` (no other flags needed).

Trains the library's own skip-gram and CBOW, in 2 dimensions, on a tiny generated corpus where
two movies ("titanic", "avatar") share every context, and writes into DIR:
  map.png          the input vectors before and after training, the pair in red
  training.gif     the input vectors moving during training
  loss.png         the loss of each run
  softmax.png      for "titanic": the output side's softmax over the vocabulary, its argmax
                   and a word sampled from it
  ns_vs_softmax.png  negative sampling against the full softmax: the maps they end with and
                   how many output rows one step updates
  in_vs_out.png    input vectors (the embeddings) next to output vectors
  report.json      the numbers (pair cosine and loss before/after, rows per step, parameters)
  corpus.txt       the toy corpus
and prints a short explanation with word2vec's parameter count for --vocab x --dim.
"""

import json
import os

import numpy as np
from absl import flags

from experiments import common

flags.DEFINE_string("out", "runs/explain", "Folder for the pictures and report.json.")
flags.DEFINE_integer("vocab", 3_000_000, "Vocabulary of the parameter count printed at the end.")
flags.DEFINE_integer("dim", 300, "Dimension of the parameter count printed at the end.")
flags.DEFINE_integer("epochs", 30, "Passes over the toy corpus.")
flags.DEFINE_integer("seed", 0, "Seed of the runs.")
FLAGS = flags.FLAGS

RUNS = {"skip-gram, negative sampling": dict(model="sg"),
        "skip-gram, full softmax": dict(model="sg", loss="softmax", negatives=0),
        "CBOW, negative sampling": dict(model="cbow")}


def _scatter(ax, words, vecs, title, explain):
  ax.scatter(vecs[:, 0], vecs[:, 1], s=12, c=["red" if w in explain.PAIR else "steelblue"
                                              for w in words])
  for w, (x, y) in zip(words, vecs):
    ax.annotate(w, (x, y), fontsize=7, color="red" if w in explain.PAIR else "black")
  ax.set_title(title, fontsize=9)


def _save(fig, out, name, plt):
  fig.tight_layout()
  fig.savefig(os.path.join(out, name), dpi=110)
  plt.close(fig)


def _pictures(traces, out, plt, explain):
  main = traces["skip-gram, negative sampling"]
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
  _scatter(axes[0], main.words, main.emb_in_TVD[0], "input vectors before training", explain)
  _scatter(axes[1], main.words, main.emb_in_TVD[-1], "after training (skip-gram)", explain)
  _save(fig, out, "map.png", plt)
  fig, ax = plt.subplots(figsize=(6, 4))
  for name, trace in traces.items():
    ax.plot(trace.loss_T, label=name, lw=0.8)
  ax.set_xlabel("step"); ax.set_ylabel("loss per example"); ax.legend(fontsize=8)
  _save(fig, out, "loss.png", plt)
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
  for ax, name in zip(axes, ["skip-gram, negative sampling", "skip-gram, full softmax"]):
    trace = traces[name]
    _scatter(ax, trace.words, trace.emb_in_TVD[-1],
             f"{name}: {trace.out_rows_per_step:.1f} of {len(trace.words)} output rows "
             "updated per step", explain)
  _save(fig, out, "ns_vs_softmax.png", plt)
  fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
  _scatter(axes[0], main.words, main.emb_in_TVD[-1], "input vectors (emb_in: the embeddings)",
           explain)
  _scatter(axes[1], main.words, main.emb_out_TVD[-1], "output vectors (emb_out)", explain)
  _save(fig, out, "in_vs_out.png", plt)


def _softmax_picture(prediction, out, plt):
  words = sorted(prediction["probabilities"], key=prediction["probabilities"].get, reverse=True)
  fig, ax = plt.subplots(figsize=(9, 3.6))
  ax.bar(words, [prediction["probabilities"][w] for w in words], color="steelblue")
  ax.set_title(f"softmax of the output vectors against {prediction['word']!r}: argmax "
               f"{prediction['argmax']!r}, one sample {prediction['sampled']!r}", fontsize=9)
  ax.tick_params(axis="x", rotation=70, labelsize=7)
  _save(fig, out, "softmax.png", plt)


def _animation(trace, out, plt, explain):
  from matplotlib import animation  # pylint: disable=import-outside-toplevel
  fig, ax = plt.subplots(figsize=(5.5, 5))
  frames = sorted(set(np.linspace(0, len(trace.emb_in_TVD) - 1, 60).astype(int).tolist()))
  lim = float(abs(trace.emb_in_TVD).max()) * 1.1

  def draw(t):
    ax.clear(); ax.set_xlim(-lim, lim); ax.set_ylim(-lim, lim)
    _scatter(ax, trace.words, trace.emb_in_TVD[t], f"skip-gram input vectors, step {t}", explain)

  anim = animation.FuncAnimation(fig, draw, frames=frames)
  anim.save(os.path.join(out, "training.gif"), writer=animation.PillowWriter(fps=8))
  plt.close(fig)


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.vocab < 1 or FLAGS.dim < 1 or FLAGS.epochs < 1:
    raise common.W2VError("--vocab, --dim and --epochs must be >= 1")
  import matplotlib  # pylint: disable=import-outside-toplevel (slow; only this script needs it)
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel
  from w2v_jax import explain, textio  # pylint: disable=import-outside-toplevel (imports jax)
  os.makedirs(FLAGS.out, exist_ok=True)
  corpus = os.path.join(FLAGS.out, "corpus.txt")
  with open(corpus, "w", encoding="utf-8") as f:
    f.write(explain.toy_corpus(seed=FLAGS.seed))
  traces = {name: explain.train_toy(corpus, explain.toy_config(
      epochs=FLAGS.epochs, seed=FLAGS.seed, **kw)) for name, kw in RUNS.items()}
  prediction = explain.softmax_prediction(traces["skip-gram, negative sampling"], "titanic")
  _pictures(traces, FLAGS.out, plt, explain)
  _softmax_picture(prediction, FLAGS.out, plt)
  _animation(traces["skip-gram, negative sampling"], FLAGS.out, plt, explain)
  report = {"pair": list(explain.PAIR), "runs": {}, "softmax_prediction": prediction,
            "parameters": explain.parameter_count(FLAGS.vocab, FLAGS.dim)}
  for name, trace in traces.items():
    cos = explain.pair_cosines(trace)
    report["runs"][name] = {"pair_cosine_before": float(cos[0]), "pair_cosine_after": float(cos[-1]),
                            "loss_first_step": float(trace.loss_T[0]),
                            "loss_last_step": float(trace.loss_T[-1]),
                            "output_rows_per_step": trace.out_rows_per_step,
                            "vocab": len(trace.words), "steps": len(trace.loss_T)}
  textio.write_json(os.path.join(FLAGS.out, "report.json"), report)
  _explain(report)


def _explain(report):
  main_run = report["runs"]["skip-gram, negative sampling"]
  p = report["parameters"]
  print(f"""
"{report['pair'][0]}" and "{report['pair'][1]}" share every context, so skip-gram moves their
input vectors together: cosine {main_run['pair_cosine_before']:.2f} before training,
{main_run['pair_cosine_after']:.3f} after (map.png, training.gif).
Each word has two vectors: an input vector (emb_in, written to vectors.bin: "the embedding")
and an output vector (emb_out) that the model scores contexts with (in_vs_out.png).
Negative sampling updates the target's and a few sampled words' output rows per centre
(~{main_run['output_rows_per_step']:.0f} per step here); the full softmax updates every row,
which is why it cannot scale to large vocabularies (ns_vs_softmax.png).
Predicting from "titanic": the softmax gives a probability to every word (softmax.png); argmax
takes the most likely ({report['softmax_prediction']['argmax']!r}), sampling draws one
({report['softmax_prediction']['sampled']!r}).
Parameters for {p['vocab']:,} words x {p['dim']} dimensions: {p['input_weights']:,} input
weights + {p['output_weights']:,} output weights = {p['total']:,} ({p['float32_bytes'] / 1e9:.1f} GB
as float32).""")
  print(json.dumps({k: round(v["pair_cosine_after"], 4) for k, v in report["runs"].items()}))


if __name__ == "__main__":
  common.run(main)
