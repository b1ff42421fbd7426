"""One accelerator measured end to end: `python -m experiments.accel_bench --out=DIR`.

Runs on a fresh machine with no network (nothing to install beyond requirements.txt) and writes
DIR/accel_bench.json after every stage, so a run cut short still reports. Stages, in priority
order: skip-gram and CBOW end to end on the corpus (train.run: words/s, compile seconds,
analogy / WS-353), step timings over centres per step and dimensions on synthetic Zipf ids, and
a hot-row scatter-add probe. A stage that fails is recorded with its error and the next runs;
stages are skipped once --budget_s is spent.

`--smoke` runs every stage tiny on the CPU's default device (the test suite runs it).
The corpus: --corpus, else bench_data/enwiki2015.part00.txt.gz where a device run carries it,
else the bundled sample.
"""

import os
import time
import traceback

from absl import flags

from experiments import common

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

flags.DEFINE_string("out", None, "Folder for accel_bench.json and the runs' workdirs.")
flags.DEFINE_string("corpus", None, "Corpus of the end-to-end stages (default: see above).")
flags.DEFINE_bool("smoke", False, "Every stage tiny, on the CPU, in well under a minute.")
flags.DEFINE_list("stages", ["e2e", "steps", "scatter"], "Stages to run, in this order.")
flags.DEFINE_list("models", ["sg", "cbow"], "Models of the end-to-end and step stages.")
flags.DEFINE_list("centres", ["1024", "4096", "16384", "65536"], "Centres per step (steps).")
flags.DEFINE_list("dims", ["100", "300"], "Dimensions (steps).")
flags.DEFINE_integer("batch_size", 16384, "Centres per step of the end-to-end runs.")
flags.DEFINE_integer("steps_per_call", 16, "Micro-steps per dispatch (end to end and steps).")
flags.DEFINE_integer("epochs", 1, "Epochs of the end-to-end runs.")
flags.DEFINE_string("train_flags", "", "Extra Config fields for the end-to-end runs, as "
                    "name=value,name=value (e.g. dup_cap=16).")
flags.DEFINE_float("budget_s", 450.0, "Seconds after which the remaining stages are skipped.")
flags.mark_flag_as_required("out")
FLAGS = flags.FLAGS


def _plan(corpus: str) -> list[tuple[str, str, callable]]:
  """(stage, name, thunk) in priority order."""
  from w2v_jax import ablate  # pylint: disable=import-outside-toplevel
  from w2v_jax.benchmark import accel  # pylint: disable=import-outside-toplevel (imports jax)
  from w2v_jax.config import Config  # pylint: disable=import-outside-toplevel
  smoke, extra = FLAGS.smoke, ablate.parse_settings(FLAGS.train_flags)
  plan = [("environment", "environment", accel.environment)]
  for model in FLAGS.models if "e2e" in FLAGS.stages else []:
    cfg = Config(model=model, corpus=corpus, devices=1, epochs=FLAGS.epochs,
                 batch_size=256 if smoke else FLAGS.batch_size,
                 row_tokens=256 if smoke else min(1024, FLAGS.batch_size),
                 steps_per_call=4 if smoke else FLAGS.steps_per_call, **extra)
    workdir = os.path.join(FLAGS.out, f"e2e_{model}")
    plan.append(("e2e", f"{model}_d{cfg.dim}",
                 lambda cfg=cfg, workdir=workdir: accel.end_to_end(cfg, workdir)))
  centres = [256] if smoke else [int(c) for c in FLAGS.centres]
  dims = [16] if smoke else [int(d) for d in FLAGS.dims]
  for model in FLAGS.models if "steps" in FLAGS.stages else []:
    for dim in dims:
      for c in centres:
        cfg = Config(model=model, dim=dim, devices=1, batch_size=c, row_tokens=min(c, 1024),
                     steps_per_call=4 if smoke else FLAGS.steps_per_call)
        plan.append(("steps", f"{model}_d{dim}_c{c}",
                     lambda cfg=cfg: accel.step_time(cfg, vocab_size=2000 if smoke else 70_000,
                                                     dispatches=2 if smoke else 5)))
  if "scatter" in FLAGS.stages:
    kw = {"rows": 1000, "updates": 4096, "repeats": 2} if smoke else {}
    plan.append(("scatter", "hot_row", lambda: accel.scatter_probe(**kw)))
  return plan


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  unknown = set(FLAGS.stages) - {"e2e", "steps", "scatter"}
  if unknown:
    raise common.W2VError(f"--stages: unknown {sorted(unknown)}; choose from e2e, steps, scatter")
  if FLAGS.smoke:
    os.environ["JAX_PLATFORMS"] = "cpu"
  from w2v_jax import textio  # pylint: disable=import-outside-toplevel
  from w2v_jax.benchmark import accel  # pylint: disable=import-outside-toplevel
  corpus = FLAGS.corpus or accel.default_corpus(_REPO)
  if not os.path.exists(corpus):
    raise common.W2VError(f"--corpus {corpus} does not exist")
  os.makedirs(FLAGS.out, exist_ok=True)
  path = os.path.join(FLAGS.out, "accel_bench.json")
  report = {"command": " ".join(["python -m experiments.accel_bench", *argv[1:]]),
            "corpus": corpus, "smoke": FLAGS.smoke, "stages": []}
  start = time.perf_counter()
  for stage, name, thunk in _plan(corpus):
    row = {"stage": stage, "name": name}
    if time.perf_counter() - start > FLAGS.budget_s:
      row.update(status="skipped", reason=f"--budget_s={FLAGS.budget_s:.0f} spent")
    else:
      t0 = time.perf_counter()
      try:
        row.update(status="ok", **thunk())
      except Exception as e:  # pylint: disable=broad-except (record it, run the next stage)
        row.update(status="failed", error=f"{type(e).__name__}: {e}"[:2000],
                   traceback=traceback.format_exc()[-4000:])
      row["stage_seconds"] = time.perf_counter() - t0
    report["stages"].append(row)
    report["elapsed_seconds"] = time.perf_counter() - start
    textio.write_json(path, report)
    print(f"{stage:8s} {name:22s} {row['status']:7s} "
          + ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                      for k, v in row.items()
                      if k in ("train_words_per_sec", "analogy", "wordsim353", "us_per_step",
                               "compile_seconds", "peak_memory_bytes", "hot_over_spread",
                               "error")), flush=True)
  print(f"wrote {path}")


if __name__ == "__main__":
  common.run(main)
