"""Parsers for what the benchmarked systems print or write (no process is run here)."""

import json
import os
import re

_W2V_C_PROGRESS = re.compile(
    r"Alpha:\s*([-0-9.eE+]+)\s+Progress:\s*([0-9.]+)%\s+Words/thread/sec:\s*([0-9.]+)k")
_FASTTEXT_PROGRESS = re.compile(
    r"Progress:\s*([0-9.]+)%\s+words/sec/thread:\s*([0-9]+)\s+lr:\s*([-0-9.eE+]+)")


def parse_word2vec_c_output(text: str) -> dict:
  """Parses word2vec.c's stdout: vocab size, in-vocab train words, and its progress lines.

  Returns {"vocab_size", "train_words", "progress": [(alpha, percent, words_per_thread_sec)],
  "last_words_per_thread_sec"}; missing values are None. Words/thread/sec is printed in
  thousands ("146.74k") and is in-vocabulary words per second of process CPU time.
  """
  vocab = re.search(r"Vocab size:\s*(\d+)", text)
  words = re.search(r"Words in train file:\s*(\d+)", text)
  progress = [(float(a), float(p), float(k) * 1000) for a, p, k in _W2V_C_PROGRESS.findall(text)]
  return {"vocab_size": int(vocab.group(1)) if vocab else None,
          "train_words": int(words.group(1)) if words else None,
          "progress": progress,
          "last_words_per_thread_sec": progress[-1][2] if progress else None}


def parse_fasttext_output(text: str) -> dict:
  """Parses fastText's stderr: vocabulary size and the last `words/sec/thread` it printed."""
  nwords = re.search(r"Number of words:\s*(\d+)", text)
  progress = _FASTTEXT_PROGRESS.findall(text)
  return {"vocab_size": int(nwords.group(1)) if nwords else None,
          "last_words_per_thread_sec": float(progress[-1][1]) if progress else None}


def parse_result_line(text: str) -> dict | None:
  """The JSON after the last `BENCH_RESULT ` in a driver's output, or None."""
  found = None
  for line in text.splitlines():
    if line.startswith("BENCH_RESULT "):
      found = json.loads(line[len("BENCH_RESULT "):])
  return found


def last_jsonl_row(path: str) -> dict | None:
  """The last parseable JSON object of a JSON-lines file, or None."""
  row = None
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      for line in f:
        line = line.strip()
        if line:
          try:
            row = json.loads(line)
          except json.JSONDecodeError:
            pass
  return row


def last_line(text: str, limit: int = 300) -> str:
  """The last non-blank line of `text` (after \\r progress redraws), cut to `limit` chars."""
  lines = [ln.strip() for ln in re.split(r"[\r\n]+", text) if ln.strip()]
  return lines[-1][:limit] if lines else ""

