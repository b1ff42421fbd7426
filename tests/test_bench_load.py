"""`python -m experiments.bench_load` on a tiny synthetic file: it writes, loads and reports."""

import re
import subprocess
import sys

from conftest import REPO

from w2v_jax import formats


def _bench(*flags: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", "experiments.bench_load", *flags], cwd=REPO,
                        capture_output=True, text=True, timeout=300, check=False)


def test_writes_a_binary_and_reports_each_loader(tmp_path):
  path = tmp_path / "v.bin"
  proc = _bench(f"--write_binary={path}", "--vocab=3000", "--dim=20",
                "--loaders=w2v_jax,w2v_jax_float16,gensim")
  assert proc.returncode == 0, proc.stdout + proc.stderr
  words, vecs_VD = formats.load_word2vec(path, binary=True)
  assert words == [f"w{i}" for i in range(3000)] and vecs_VD.shape == (3000, 20)
  assert abs(float(vecs_VD.std()) - 1) < 0.05  # standard normal
  lines = proc.stdout.strip().splitlines()
  assert lines[0].startswith(f"wrote {path}: 3000 x 20")
  for loader, line in zip(["w2v_jax", "w2v_jax_float16", "gensim"], lines[1:]):
    assert line.startswith(f"{loader}: "), line
    if "skipped" not in line:  # gensim may be absent
      assert re.search(r"load [\d.]+ s, peak RSS [\d,]+ MB .* warm most_similar [\d.]+ ms", line)


_WRITE_TWICE = """
import sys
from experiments import bench_load
bench_load.write_random_binary(sys.argv[1] + "/one.bin", 50, 7, seed=1)
bench_load._BLOCK_BYTES = 4 * 7 * 3  # 3 rows per block
bench_load.write_random_binary(sys.argv[1] + "/many.bin", 50, 7, seed=1)
"""


def test_chunked_writer_equals_one_block(tmp_path):
  """Writing a block of rows at a time gives the file that one block gives (run in a subprocess:
  the script's absl flags would clash with other scripts' in this process)."""
  proc = subprocess.run([sys.executable, "-c", _WRITE_TWICE, str(tmp_path)], cwd=REPO,
                        capture_output=True, text=True, timeout=120, check=False)
  assert proc.returncode == 0, proc.stderr
  assert (tmp_path / "one.bin").read_bytes() == (tmp_path / "many.bin").read_bytes()
  words, vecs_VD = formats.load_word2vec(tmp_path / "many.bin")
  assert words == [f"w{i}" for i in range(50)] and vecs_VD.shape == (50, 7)


def test_bad_flags_are_one_clear_line(tmp_path):
  for flags in (["--loaders=w2v_jax,nope", f"--vectors={tmp_path}/x"], ["--loaders=w2v_jax"]):
    proc = _bench(*flags)
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr
    assert len([l for l in proc.stderr.splitlines() if l.strip()]) == 1, proc.stderr
