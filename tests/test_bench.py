"""Fast tests of the benchmark harness's helpers (no benchmark is run)."""

import gzip
import json
import os
import subprocess
import sys
import time

import pytest

from w2v_jax.benchmark import systems
from w2v_jax.benchmark.corpus import (LineSplitter, PreparedCorpus, iter_token_chunks,
                                      prepare_corpus)
from w2v_jax.benchmark.parsers import (last_jsonl_row, last_line, parse_fasttext_output,
                                       parse_result_line, parse_word2vec_c_output)
from w2v_jax.benchmark.process import run_timed
from w2v_jax.benchmark.report import markdown_table, ratios

# Real word2vec.c stdout (200,000 words of enwiki2015, -threads 2): `\r`-redrawn progress lines.
W2V_C_OUTPUT = (
    "Starting training using file tiny.txt\n100K\rVocab size: 4571\n"
    "Words in train file: 177091\n"
    "\rAlpha: 0.025000  Progress: 6.24%  Words/thread/sec: 79.75k  "
    "\rAlpha: 0.023440  Progress: 12.45%  Words/thread/sec: 156.33k  "
    "\rAlpha: 0.003623  Progress: 91.70%  Words/thread/sec: 138.27k  "
    "\rAlpha: 0.002074  Progress: 97.50%  Words/thread/sec: 146.74k  ")

# Real fastText (fasttext-wheel 0.9.2) stderr for the same corpus.
FASTTEXT_STDERR = (
    "\rRead 0M words\nNumber of words:  4570\nNumber of labels: 0\n"
    "\rProgress:  10.2% words/sec/thread:  100423 lr:  0.022438 avg.loss:  4.123062 ETA:   0h 0m 0s"
    "\rProgress: 100.6% words/sec/thread:  111416 lr: -0.000160 avg.loss:  3.048732 ETA:   0h 0m 0s"
    "\rProgress: 100.0% words/sec/thread:  111410 lr:  0.000000 avg.loss:  3.048732 ETA:   0h 0m 0s"
    "\n")


def _words(n: int) -> list[str]:
  return [f"w{i % 37}x{i}" for i in range(n)]


@pytest.mark.parametrize("gz", [False, True])
def test_iter_token_chunks_matches_split_across_block_boundaries(tmp_path, gz):
  text = " " + " ".join(_words(500)) + "\nsecond line\tend"
  path = tmp_path / ("c.txt.gz" if gz else "c.txt")
  with (gzip.open if gz else open)(path, "wb") as f:
    f.write(text.encode())
  chunks = list(iter_token_chunks(str(path), chunk_bytes=7))
  assert [t for c in chunks for t in c] == text.encode().split()
  assert len(chunks) > 10


def test_line_splitter_regroups_into_fixed_lines():
  s = LineSplitter(4)
  assert s.feed([b"a", b"b", b"c"]) == []
  assert s.feed([b"d", b"e", b"f", b"g", b"h", b"i"]) == [b"a b c d", b"e f g h"]
  assert s.close() == [b"i"]
  assert s.close() == []


def test_prepare_corpus_prefix_and_lines(tmp_path):
  words = _words(2_345)
  src = tmp_path / "src.txt.gz"
  with gzip.open(src, "wt") as f:
    f.write(" " + " ".join(words))  # text8 style: a leading space, no newline
  out = tmp_path / "out"
  out.mkdir()
  prep = prepare_corpus(str(src), str(out), max_words=2_100, words_per_line=1000)
  assert prep.tokens == 2_100
  assert (out / "corpus.txt").read_text() == " ".join(words[:2_100])  # one line, no newline
  lines = (out / "corpus_lines.txt").read_text().split("\n")
  assert lines[-1] == ""
  assert [len(ln.split()) for ln in lines[:-1]] == [1000, 1000, 100]
  assert " ".join(lines[:-1]).split() == words[:2_100]
  full = prepare_corpus(str(src), str(out))
  assert full.tokens == 2_345


def test_parse_word2vec_c_output():
  info = parse_word2vec_c_output(W2V_C_OUTPUT)
  assert info["vocab_size"] == 4571
  assert info["train_words"] == 177091
  assert len(info["progress"]) == 4
  assert info["progress"][0] == (0.025, 6.24, pytest.approx(79750.0))
  assert info["last_words_per_thread_sec"] == pytest.approx(146740.0)
  assert parse_word2vec_c_output("")["last_words_per_thread_sec"] is None


def test_parse_fasttext_output():
  info = parse_fasttext_output(FASTTEXT_STDERR)
  assert info == {"vocab_size": 4570, "last_words_per_thread_sec": 111410.0}


def test_result_line_jsonl_and_last_line(tmp_path):
  assert parse_result_line('log\nBENCH_RESULT {"a": 1}\nBENCH_RESULT {"a": 2}\n') == {"a": 2}
  assert parse_result_line("nothing") is None
  path = tmp_path / "metrics.jsonl"
  path.write_text(json.dumps({"words": 1}) + "\n" + json.dumps({"words": 2}) + "\n\n")
  assert last_jsonl_row(str(path)) == {"words": 2}
  assert last_jsonl_row(str(tmp_path / "absent.jsonl")) is None
  assert last_line("a\nb\rTraceback\nValueError: boom\n\n") == "ValueError: boom"


def test_rss_poller_and_run_timed_on_a_short_child(tmp_path):
  code = ("import sys, time; b = bytearray(80 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
          "print('ALLOCATED', flush=True); time.sleep(0.6); sys.exit(3)")
  t0 = time.perf_counter()
  res = run_timed([sys.executable, "-c", code], cwd=str(tmp_path),
                  log_prefix=str(tmp_path / "log"), markers={"alloc": "ALLOCATED"})
  assert res.returncode == 3
  assert 0.6 <= res.wall_seconds <= time.perf_counter() - t0
  assert res.rss_samples >= 2
  assert res.peak_rss_poll_bytes > 80 * 2**20    # polled tree sum saw the buffer
  assert res.maxrss_wait4_bytes > 80 * 2**20     # and so did wait4's ru_maxrss
  assert 0 < res.marks["alloc"] < res.wall_seconds - 0.5
  assert "ALLOCATED" in res.output("stdout")
  assert os.path.exists(res.stderr_path)


def test_run_timed_timeout_kills_the_child(tmp_path):
  res = run_timed([sys.executable, "-c", "import time; time.sleep(30)"], cwd=str(tmp_path),
                  log_prefix=str(tmp_path / "log"), timeout_s=0.5)
  assert res.timed_out and res.returncode != 0 and res.wall_seconds < 10


def test_table_ratios_and_failed_rows():
  runs = [systems.SystemRun("w2v_jax", train_words_per_sec=400.0, end_to_end_s=10.0),
          systems.SystemRun("gensim", train_words_per_sec=200.0, end_to_end_s=20.0,
                          quality={"analogy": 0.5, "wordsim353": 0.6}),
          systems.SystemRun("fasttext", status="failed", reason="not installed")]
  r = ratios(runs)
  assert r["gensim"] == {"words_per_sec": 2.0, "end_to_end": 0.5}
  assert r["fasttext"] == {"words_per_sec": None, "end_to_end": None}
  table = markdown_table(runs).splitlines()
  assert len(table) == 5
  assert table[3].startswith("| gensim | 200 | 20.0 |")
  assert "| 0.5000 | 0.6000 | 2.00 | 0.50 |" in table[3]
  assert "failed: not installed" in table[4]


def test_stream_markers_first_and_last(tmp_path):
  code = ("import sys, time\n"
          "for i in range(3):\n"
          "  sys.stdout.write('\\rAlpha: %d ' % i); sys.stdout.flush(); time.sleep(0.15)\n"
          "print('DONE', flush=True)\n")
  res = run_timed([sys.executable, "-c", code], cwd=str(tmp_path),
                  log_prefix=str(tmp_path / "log"), markers={"p": "Alpha:", "d": "DONE"})
  assert res.returncode == 0
  assert res.marks["p"] + 0.2 < res.marks["p_last"] < res.marks["d"] <= res.wall_seconds


_FAKE_TRAIN = '''
import json, os, sys
args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if "=" in a)
os.makedirs(args["workdir"], exist_ok=True)
with open(os.path.join(args["workdir"], "metrics.jsonl"), "w") as f:
  f.write(json.dumps({"words": 10, "words_per_sec": 5.0, "elapsed": 3.0, "train_seconds": 1.5}))
  f.write("\\n" + json.dumps({"words": 20, "words_per_sec": 8.0, "elapsed": 4.0,
                               "train_seconds": 2.5}) + "\\n")
with open(os.path.join(args["workdir"], "vectors.bin"), "wb") as f:
  f.write(b"0 2\\n")
print("extra:", sys.argv[-1])
'''


def test_run_w2v_jax_reads_metrics_of_a_fake_trainer(tmp_path, monkeypatch):
  repo = tmp_path / "repo"
  (repo / "experiments").mkdir(parents=True)
  (repo / "experiments" / "__init__.py").write_text("")
  (repo / "experiments" / "train.py").write_text(_FAKE_TRAIN)
  monkeypatch.setattr(systems, "_REPO", str(repo))
  monkeypatch.setattr(systems, "_EXPERIMENTS", str(repo / "experiments"))
  corpus = PreparedCorpus(str(tmp_path / "c.txt"), str(tmp_path / "l.txt"), tokens=20)
  p = systems.Params("sg", 2, 5, 5, 1e-3, 1, 1, 2, 0.025)
  run = systems.run_w2v_jax(p, corpus, str(tmp_path / "wd"), None, extra_flags="--batch_size=64")
  assert run.status == "ok", run.reason
  assert run.train_words_per_sec == 8.0 and run.train_s == 2.5
  assert run.command[-1] == "--batch_size=64" and "--overwrite" in run.command
  assert run.end_to_end_s > 0 and run.peak_rss_mb > 1
  (repo / "experiments" / "train.py").unlink()
  assert systems.run_w2v_jax(p, corpus, str(tmp_path / "wd2"), None).status == "skipped"


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs to pin to one")
def test_run_timed_pins_the_child(tmp_path):
  cpu = sorted(os.sched_getaffinity(0))[-1]
  res = run_timed([sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                  cwd=str(tmp_path), log_prefix=str(tmp_path / "log"), cpus=[cpu])
  assert res.output("stdout").strip() == f"[{cpu}]"


def test_library_imports_neither_gensim_nor_fasttext():
  code = ("import sys; import experiments.bench, w2v_jax.benchmark.report, "
          "w2v_jax.benchmark.systems; "
          "print(sorted(m for m in ('gensim', 'fasttext') if m in sys.modules))")
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  assert out.stdout.strip() == "[]"
