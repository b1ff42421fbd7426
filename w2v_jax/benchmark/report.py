"""The benchmark's outputs: machine information, ratios, the Markdown table, notes, the JSON.

`summary` is the text `python -m experiments.bench` prints (heading, table, notes, commands);
`document` is the same data with machine information, written by `write_json` to
OUT/bench_<model>.json.
"""

import dataclasses
import importlib.metadata
import json
import os
import platform
import shlex
import time

from w2v_jax.benchmark.systems import Params, SystemRun


def _version(dist: str) -> str | None:
  try:
    return importlib.metadata.version(dist)
  except importlib.metadata.PackageNotFoundError:
    return None


def machine_info() -> dict:
  """CPU model, cores, memory and the versions of everything benchmarked."""
  cpu = None
  try:
    with open("/proc/cpuinfo", encoding="utf-8") as f:
      for line in f:
        if line.startswith("model name"):
          cpu = line.split(":", 1)[1].strip()
          break
  except OSError:
    pass
  mem = None
  try:
    import psutil  # pylint: disable=import-outside-toplevel
    mem = round(psutil.virtual_memory().total / 2**30, 1)
  except ImportError:
    pass
  return {"cpu_model": cpu, "cpu_count": os.cpu_count(),
          "cpus_available": len(os.sched_getaffinity(0)), "memory_gib": mem,
          "platform": platform.platform(), "python": platform.python_version(),
          "jax": _version("jax"), "jaxlib": _version("jaxlib"), "gensim": _version("gensim"),
          "fasttext_wheel": _version("fasttext-wheel"), "word2vec_pypi": _version("word2vec")}


def fmt(x: float | None, spec: str) -> str:
  """`x` formatted with `spec`, or "-" when it is None."""
  return "-" if x is None else format(x, spec)


def ratios(runs: list[SystemRun]) -> dict[str, dict]:
  """Per system: w2v_jax's words/s and end-to-end seconds divided by that system's."""
  jax_run = next((r for r in runs if r.system == "w2v_jax" and r.status == "ok"), None)
  out = {}
  for r in runs:
    wps = e2e = None
    if jax_run is not None and r.status == "ok":
      if jax_run.train_words_per_sec and r.train_words_per_sec:
        wps = jax_run.train_words_per_sec / r.train_words_per_sec
      if jax_run.end_to_end_s and r.end_to_end_s:
        e2e = jax_run.end_to_end_s / r.end_to_end_s
    out[r.system] = {"words_per_sec": wps, "end_to_end": e2e}
  return out


def markdown_table(runs: list[SystemRun]) -> str:
  """The results as a Markdown table (failed / skipped systems keep a row with the reason)."""
  rat = ratios(runs)
  head = ("| system | training words/s | end-to-end s | peak RSS MB | analogy acc | WS353 rho "
          "| words/s ratio (w2v_jax/system) | end-to-end ratio (w2v_jax/system) |")
  lines = [head, "|" + " --- |" * 8]
  for r in runs:
    if r.status != "ok":
      lines.append(f"| {r.system} | {r.status}: {r.reason.replace('|', '/')} |  |  |  |  |  |  |")
      continue
    q = r.quality
    lines.append(
        f"| {r.system} | {fmt(r.train_words_per_sec, ',.0f')} | {fmt(r.end_to_end_s, '.1f')} "
        f"| {fmt(r.peak_rss_mb, ',.0f')} | {fmt(q.get('analogy'), '.4f')} "
        f"| {fmt(q.get('wordsim353'), '.4f')} | {fmt(rat[r.system]['words_per_sec'], '.2f')} "
        f"| {fmt(rat[r.system]['end_to_end'], '.2f')} |")
  return "\n".join(lines)


def notes(runs: list[SystemRun], p: Params, corpus_tokens: int, pinned) -> list[str]:
  """Footnotes on how each number was obtained."""
  out = [f"training words/s = epochs ({p.epochs}) x corpus tokens ({corpus_tokens:,}) / "
         "training seconds (raw words before subsampling)",
         "peak RSS = max(psutil tree-sum polled every 0.2 s, wait4 ru_maxrss of the child)",
         f"threads = {p.threads}" + (f"; every system pinned to CPUs {pinned}" if pinned else
                                     "; no CPU pinning")]
  for r in runs:
    if r.status != "ok":
      continue
    if r.system in ("gensim", "gensim_iter"):
      mode = ("corpus_file mode (its alpha decays only to ~alpha/2 with 2 workers: see "
              "_bench_gensim.py)" if r.system == "gensim" else "iterable mode (LineSentence)")
      out.append(f"{r.system}: {mode} on 1,000-word lines; training seconds = model.train() "
                 f"({r.train_s:.2f}s); vocabulary {r.details.get('vocab_seconds', 0):.2f}s")
    elif r.system == "word2vec_c":
      pw = r.details.get("progress_words_per_sec")
      out.append("word2vec_c: training seconds = first progress line -> exit "
                 f"({fmt(r.train_s, '.2f')}s); its own last Words/thread/sec x threads "
                 f"(CPU-time based, rescaled to corpus tokens) = {fmt(pw, ',.0f')} words/s")
    elif r.system == "fasttext":
      pw = r.details.get("progress_words_per_sec")
      out.append("fasttext: minn=maxn=0 (no subwords), bucket=0; training seconds = 'Number of "
                 f"labels' line -> train_unsupervised returned ({fmt(r.train_s, '.2f')}s); its "
                 f"own last words/sec/thread x threads = {fmt(pw, ',.0f')} words/s")
    elif r.system == "w2v_jax":
      out.append("w2v_jax: words/s = words_per_sec of the last metrics.jsonl row (clock starts "
                 f"after compilation; train_seconds {fmt(r.train_s, '.2f')}s)"
                 + (f"; {r.details['note']}" if "note" in r.details else ""))
  evaluators = {r.quality.get("evaluator") for r in runs if r.quality}
  out.append(f"quality: {', '.join(sorted(e for e in evaluators if e)) or 'not evaluated'}")
  return out


def summary(runs: list[SystemRun], p: Params, corpus_path: str, corpus_tokens: int, table: str,
            foot: list[str]) -> str:
  """The printed report: a heading, the table, notes, evaluation errors and the commands run."""
  lines = [f"## w2v_jax benchmark: {p.model} ({p.loss}), dim {p.dim}, window {p.window}, "
           f"negatives {p.negatives}, sample {p.sample:g}, min_count {p.min_count}, epochs "
           f"{p.epochs}, alpha {p.alpha:g}, threads {p.threads}; {corpus_tokens:,} tokens of "
           f"{os.path.basename(corpus_path)}", "", table, ""]
  lines += [f"- {n}" for n in foot]
  lines += [f"- {r.system}: evaluation failed: {r.quality['error']}"
            for r in runs if r.quality.get("error")]
  lines += ["", "Commands (cwd, command):"]
  lines += [f"- {r.system} (cwd {r.cwd}): {shlex.join(r.command)}" for r in runs if r.command]
  return "\n".join(lines)


def document(runs: list[SystemRun], p: Params, corpus: dict, cpus: list[int] | None, table: str,
             foot: list[str]) -> dict:
  """The JSON report: params, corpus (path, max_words, tokens, prepare_seconds), machine, rows."""
  rat = ratios(runs)
  return {
      "params": dataclasses.asdict(p),
      "corpus": corpus,
      "cpus_pinned": cpus,
      "machine": machine_info(),
      "systems": [dict(dataclasses.asdict(r), ratio=rat[r.system]) for r in runs],
      "table_markdown": table,
      "notes": foot,
      "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
  }


def write_json(out_root: str, doc: dict) -> str:
  """Writes `doc` to OUT_ROOT/bench_<model>.json; returns the path."""
  path = os.path.join(out_root, f"bench_{doc['params']['model']}.json")
  with open(path, "w", encoding="utf-8") as f:
    json.dump(doc, f, indent=2, default=str)
    f.write("\n")
  return path
