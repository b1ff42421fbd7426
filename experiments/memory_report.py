"""Per-device memory of the data-parallel train step, from XLA's compiled-memory analysis.

  python -m experiments.memory_report                       # 3,000,000 x 300, N = 1, 2, 4, 8
  python -m experiments.memory_report --vocab=100000 --dim=100 --devices=1,4

For each N the step is lowered and compiled (never run) on N fake CPU devices with abstract
inputs (jax.ShapeDtypeStruct with shardings), so nothing of the tables' size is allocated. The
device count is fixed when jax starts, hence one subprocess per N. Prints a markdown table of
`compiled.memory_analysis()` per device (docs/scaling.md holds its output).
"""

import json
import os
import subprocess
import sys

from absl import flags

from experiments import common
from w2v_jax.config import Config

flags.DEFINE_integer("vocab", 3_000_000, "Vocabulary size V.")
flags.DEFINE_integer("dim", 300, "Embedding dimension D.")
flags.DEFINE_list("devices", ["1", "2", "4", "8"], "Device counts N to compile for.")
flags.DEFINE_bool("shard_tables", True, "Row-sharded tables (False: replicated tables).")
flags.DEFINE_integer("batch_size", 256, "Centre words per micro-step.")
flags.DEFINE_integer("row_tokens", 32, "Centre words per row (batch_size / row_tokens rows "
                     "must divide by every N).")
flags.DEFINE_integer("steps_per_call", 64, "Micro-steps per dispatch.")
flags.DEFINE_string("out", "", "Also write the rows as JSON here.")
flags.DEFINE_integer("worker", 0, "Internal: compile for this many devices and print JSON.")

FLAGS = flags.FLAGS
MB = 1e6


def _config(n: int) -> Config:
  return Config(dim=FLAGS.dim, batch_size=FLAGS.batch_size, row_tokens=FLAGS.row_tokens,
                steps_per_call=FLAGS.steps_per_call, devices=n,
                shard_tables=FLAGS.shard_tables).validate()


def _compile(n: int) -> dict:
  """Runs inside a process whose jax sees n devices: per-device bytes of the compiled step."""
  import jax  # pylint: disable=import-outside-toplevel
  import jax.numpy as jnp  # pylint: disable=import-outside-toplevel
  from jax.sharding import NamedSharding  # pylint: disable=import-outside-toplevel
  from jax.sharding import PartitionSpec as P  # pylint: disable=import-outside-toplevel
  from w2v_jax import parallel, train  # pylint: disable=import-outside-toplevel
  from w2v_jax import step as step_lib  # pylint: disable=import-outside-toplevel
  if jax.device_count() != n:
    raise common.W2VError(f"expected {n} devices, jax sees {jax.device_count()}")
  cfg, v = _config(n), FLAGS.vocab
  tx, mesh = step_lib.make_optimizer(cfg), parallel.make_mesh(n)
  state = parallel.abstract_state(cfg, v, tx, mesh)
  (rows, t), s = cfg.rows, cfg.steps_per_call
  ids = jax.ShapeDtypeStruct((s, rows, t + 2 * cfg.window), jnp.int32,
                             sharding=parallel.data_sharding(mesh))
  rep = NamedSharding(mesh, P())
  progress = jax.ShapeDtypeStruct((s,), jnp.float32, sharding=rep)
  noise = (jax.ShapeDtypeStruct((v,), jnp.float32, sharding=rep),
           jax.ShapeDtypeStruct((v,), jnp.int32, sharding=rep))
  compiled = train.make_train_call(cfg, tx, mesh).lower(
      state, ids, ids, progress, noise).compile()
  mem = compiled.memory_analysis()
  vp = parallel.padded_vocab(v, cfg, n)
  tables = 2 * vp * cfg.dim * 4  # emb_in + emb_out, float32 (SGD keeps no per-row state)
  per_device_tables = tables // n if cfg.shard_tables else tables
  return {"devices": n, "vocab": v, "dim": cfg.dim, "shard_tables": cfg.shard_tables,
          "tables_bytes": 2 * v * cfg.dim * 4, "per_device_tables_bytes": per_device_tables,
          "argument_bytes": mem.argument_size_in_bytes, "output_bytes": mem.output_size_in_bytes,
          "alias_bytes": mem.alias_size_in_bytes, "temp_bytes": mem.temp_size_in_bytes,
          "noise_bytes": 2 * v * 4}


def _row(r: dict) -> str:
  peak = r["argument_bytes"] + r["output_bytes"] - r["alias_bytes"] + r["temp_bytes"]
  return (f"| {r['devices']} | {r['per_device_tables_bytes'] / MB:,.0f} | "
          f"{r['argument_bytes'] / MB:,.0f} | {r['output_bytes'] / MB:,.0f} | "
          f"{r['alias_bytes'] / MB:,.0f} | {r['temp_bytes'] / MB:,.1f} | {peak / MB:,.0f} | "
          f"{peak / r['tables_bytes']:.3f} |")


def main(argv):
  if len(argv) > 1:
    raise common.W2VError(f"unexpected arguments: {' '.join(argv[1:])}")
  if FLAGS.worker:
    print(json.dumps(_compile(FLAGS.worker)))
    return
  counts = [int(n) for n in FLAGS.devices]
  for n in counts:
    _config(n)  # bad flags fail here, before any subprocess
  rows = []
  for n in counts:
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               XLA_FLAGS=f"--xla_force_host_platform_device_count={n}")
    args = [sys.executable, "-m", "experiments.memory_report", f"--worker={n}"] + [
        FLAGS[k].serialize()
        for k in ("vocab", "dim", "shard_tables", "batch_size", "row_tokens", "steps_per_call")]
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if proc.returncode:
      raise common.W2VError(f"compiling for {n} devices failed: {proc.stderr.strip()[-500:]}")
    rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
  r0 = rows[0]
  print(f"V = {r0['vocab']:,}, D = {r0['dim']}, tables (emb_in + emb_out, float32) "
        f"{r0['tables_bytes'] / MB:,.0f} MB, shard_tables={r0['shard_tables']}; MB per device:")
  print("| N | tables / device | arguments | outputs | aliased (donated) | temp | "
        "peak = args + out - alias + temp | peak / all tables |")
  print("|---|---|---|---|---|---|---|---|")
  for r in rows:
    print(_row(r))
  if FLAGS.out:
    with open(FLAGS.out, "w", encoding="utf-8") as f:
      json.dump(rows, f, indent=2)


if __name__ == "__main__":
  common.run(main)
