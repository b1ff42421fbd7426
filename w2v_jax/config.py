"""The run configuration: every hyper-parameter, its default, and validation. Nothing else.

A Config may leave mode-dependent fields at None ("the mode's default"); `resolve` is the one
place that fills them, at use, so `Config(...)`, `dataclasses.replace` and `from_json` of the
same settings give the same run.
"""

import dataclasses
import json

from w2v_jax.errors import W2VError

MODELS = ("sg", "cbow", "glove")
# Training objectives of sg/cbow (model.output_loss): negative sampling, hierarchical softmax,
# the full softmax, or negative sampling and hierarchical softmax summed (word2vec.c -hs 1
# -negative K).
LOSSES = ("ns", "hs", "softmax", "ns+hs")


def loss_parts(loss: str) -> tuple[str, ...]:
  """The objectives named by a --loss string ("ns+hs" -> ("ns", "hs")); objectives.parse maps
  them to their implementations."""
  return tuple(loss.split("+"))

SIGMOIDS = ("exact", "c_table")  # glove: w2v_jax/glove.py, its own glove_* fields
SYNCS = ("step", "dispatch")
SCHEDULES = ("tuned", "word2vec")


def tuned_progress_scale(model: str, epochs: int) -> float:
  """--schedule=tuned's lr_progress_scale (docs/quality.md): skip-gram decays to ~0 as
  word2vec.c does; CBOW, which updates each word's rows ~2W times less often per epoch, ends
  at alpha / (2 * epochs): half the start after one epoch, near word2vec.c's decay after many."""
  return 1.0 - 0.5 / epochs if model == "cbow" else 1.0
OPTIMIZERS = ("sgd", "adagrad", "adam")
# --model=glove's default epochs (GloVe demo.sh MAX_ITER; glove.c defaults to 25, the paper used
# 50); word2vec's 5 are too few for GloVe.
GLOVE_EPOCHS = 15
EPOCHS = 5  # word2vec.c -iter 5, gensim epochs=5
# word2vec.c `main`: alpha defaults to 0.025 for skip-gram and 0.05 for CBOW.
DEFAULT_ALPHA = {"sg": 0.025, "cbow": 0.05}
# Auto replicas: measured on 2 cores; beyond 4 the per-dispatch dense merge of n tables is
# unmeasured.
MAX_AUTO_REPLICAS = 4


def _field(default, help_text: str, choices=None):
  """A dataclass field with its --flag help (and the allowed values of an enum)."""
  metadata = {"help": help_text, **({"choices": list(choices)} if choices else {})}
  return dataclasses.field(default=default, metadata=metadata)


@dataclasses.dataclass
class Config:
  """Hyper-parameters of one training run (defaults follow word2vec.c unless noted).

  None = the mode's default, filled by `resolve` (alpha, epochs, steps_per_call, dup_cap) or
  picked for the machine (devices, sync).
  """
  corpus: str = _field("", "Path or glob of plain or .gz text files (newlines end sentences).")
  model: str = _field("sg", "sg (skip-gram), cbow, or glove (GloVe on the same vocabulary; see "
                      "the glove_* flags).", MODELS)
  dim: int = _field(100, "Embedding dimension.")
  window: int = _field(5, "Maximum context radius (shrunk at random per word).")
  negatives: int = _field(5, "Negative samples per centre word.")
  sample: float = _field(1e-3, "Subsampling threshold for frequent words; 0 disables.")
  min_count: int = _field(5, "Drop words rarer than this.")
  max_vocab: int = _field(0, "Keep at most this many words (0 = all).")
  phrases: int = _field(0, "Join frequent bigrams (new_york) with this many word2phrase passes "
                        "before training; 0 = off.")
  phrase_threshold: float = _field(100.0, "word2phrase threshold of the last pass; each earlier "
                                   "pass doubles it.")
  epochs: int | None = _field(None, f"Passes over the corpus (default {EPOCHS}; --model=glove: "
                              f"passes over the co-occurrences, default {GLOVE_EPOCHS}).")
  alpha: float | None = _field(None, "Starting learning rate (default 0.025 for sg, 0.05 for "
                               "cbow; glove uses --glove_eta).")
  min_alpha_ratio: float = _field(1e-4, "The learning rate's floor as a fraction of --alpha "
                                  "(word2vec.c: 1e-4).")
  schedule: str = _field("tuned", "Defaults of the learning-rate schedule: tuned (w2v_jax's, "
                         "chosen by docs/quality.md) or word2vec (word2vec.c's linear decay to "
                         "~0). Flags given explicitly win.", SCHEDULES)
  lr_progress_scale: float | None = _field(None, "The learning rate decays as if progress were "
                                           "this times the true one, ending at alpha * (1 - "
                                           "this); 1 is word2vec.c's decay to ~0, 0.5 gensim "
                                           "4.4's corpus_file mode with 2 workers (default: "
                                           "--schedule's).")
  ns_exponent: float = _field(0.75, "Noise distribution exponent.")
  shrink_window: bool = _field(True, "word2vec.c's random window shrinking.")
  cbow_mean_grad: str = _field("word2vec", "CBOW: full error to every context row (word2vec.c) "
                               "or 1/count (autodiff).", ("word2vec", "autodiff"))
  loss: str = _field("ns", "Objective: ns (negative sampling), hs (hierarchical softmax; pass "
                     "--negatives=0), softmax (full; small vocabularies only; --negatives=0) or "
                     "ns+hs (both summed, as word2vec.c -hs 1 -negative K).", LOSSES)
  cbow_mean: bool = _field(True, "CBOW: average the context (word2vec.c); --nocbow_mean sums it "
                           "(gensim cbow_mean=0).")
  sigmoid: str = _field("exact", "exact, or c_table: gradients from word2vec.c's sigmoid table, "
                        "clipped at +-6 (the reported loss stays exact).", SIGMOIDS)
  fusion_barriers: bool | None = _field(None, "Compute the context windows' sums and gradients "
                                        "into buffers of their own (an XLA:CPU speed-up; a "
                                        "conditional per use on accelerators). Default: on "
                                        "for the CPU, off elsewhere; same values either way.")
  cbow_position_weights: bool = _field(False, "CBOW: learned per-position weights on the context "
                                       "vectors (fastText's cc vectors, Mikolov et al. 2018).")
  max_sentence: int = _field(1000, "Kept words per sentence; longer ones are split (word2vec.c "
                             "MAX_SENTENCE_LENGTH).")
  batch_size: int = _field(256, "Centre words per synchronous SGD step.")
  row_tokens: int = _field(1024, "Centre words per row of a step; --devices split a step's rows, "
                           "so batch_size / row_tokens must divide by them.")
  init_range: float = _field(0.5, "Input vectors start uniform in [-r, r)/dim (word2vec.c: 0.5; "
                             "gensim 4: 1.0).")
  skip_beyond: float = _field(0.0, "Drop pair terms with |score| >= this (gensim skips at 6); 0 "
                              "= exact loss everywhere.")
  dup_cap: float | None = _field(None, "Cap a row's summed step at this many single updates when "
                                 "it repeats within a batch (default 0 = plain sum, as "
                                 "word2vec; with --sync=dispatch 16, or 4 for cbow).")
  steps_per_call: int | None = _field(None, "SGD steps per jitted dispatch (default 64; with "
                                      "--sync=dispatch 128, or 256 for cbow).")
  devices: int | None = _field(None, "Data-parallel devices (0 = all; default: the CPU's replicas "
                               "where the settings allow them, else 1); docs/scaling.md.")
  sync: str | None = _field(None, "With --devices: step = one synchronous step over all devices "
                            "(same vectors as one device); dispatch = each device a replica on "
                            "its own data, changes summed once per dispatch (local SGD, like "
                            "word2vec.c's threads; the fast choice on a CPU, and its default "
                            "there with several devices).", SYNCS)
  shard_tables: bool = _field(False, "Split the embedding tables by rows over the devices "
                              "(per-device table memory 1/N).")
  init_from: str = _field("", "Start from an earlier run's workdir (both tables, its counts) or "
                          "a word2vec text/binary file of input vectors; the vocabularies are "
                          "merged (w2v_jax/init_from.py).")
  init_from_out: str = _field("", "With --init_from=FILE: a word2vec file of output vectors "
                              "for the same words (else the output table starts at zero).")
  init_counts: str | None = _field(None, "With --init_from: the counts behind subsampling and "
                                   "the noise distribution: sum (PATH's plus the corpus's; the "
                                   "default for a workdir) or new (the corpus's; the default "
                                   "for a vectors file).", ("sum", "new"))
  freeze_init: bool = _field(False, "With --init_from: the input vectors from PATH stay fixed; "
                             "new words and the output table train.")
  id_file: bool = _field(False, "Count the corpus in one pass into a binary id file "
                         "(WORKDIR/corpus.ids) and train from it memory-mapped; reused on resume.")
  optimizer: str = _field("sgd", "sgd (word2vec), adagrad or adam; all follow --alpha's linear "
                          "decay.", OPTIMIZERS)
  optimizer_update: str = _field("lazy", "adagrad/adam: lazy (state of touched rows only) or "
                                 "dense (whole tables).", ("dense", "lazy"))
  heldout: float = _field(0.0, "Keep the corpus's last FRACTION of sentences out of training and "
                          "log their loss as heldout_loss (0 = off).")
  seed: int = _field(0, "Random seed (same seed + device count = same vectors).")
  checkpoint_every: int = _field(0, "Dispatches between checkpoints (0 = by --checkpoint_secs "
                                 "only).")
  checkpoint_secs: float = _field(300.0, "Seconds of training between checkpoints (0 = none but "
                                  "the last; SIGINT/SIGTERM always save).")
  keep_checkpoints: int = _field(3, "Checkpoints kept in WORKDIR/checkpoints (the newest).")
  log_every_secs: float = _field(10.0, "Seconds between progress lines and metrics rows.")
  # GloVe (--model=glove). Defaults: glove.c's x_max 100, alpha 0.75, eta 0.05 (= the paper's);
  # window 10 on each side as in the paper's experiments (cooccur.c's default is 15).
  glove_window: int = _field(10, "GloVe: co-occurrence radius each side (a pair at distance d "
                             "counts 1/d).")
  glove_x_max: float = _field(100.0, "GloVe: weighting cutoff x_max.")
  glove_power: float = _field(0.75, "GloVe: weighting exponent (glove.c -alpha).")
  glove_eta: float = _field(0.05, "GloVe: AdaGrad learning rate.")
  glove_batch: int = _field(4096, "GloVe: co-occurrence entries per step.")

  @property
  def rows(self) -> tuple[int, int]:
    """(B, T): rows per micro-step and centre words per row."""
    t = min(self.row_tokens, self.batch_size)
    return self.batch_size // t, t

  @property
  def lr(self) -> float:
    """The starting learning rate actually used (resolved or not)."""
    if self.model == "glove":
      return self.glove_eta
    return self.alpha if self.alpha is not None else DEFAULT_ALPHA[self.model]

  def validate(self) -> "Config":
    """Raises W2VError naming the first nonsensical value; returns self.

    Every check of the run's settings lives here. None fields (not resolved yet) pass; resolve
    validates what it fills.
    """
    for f in dataclasses.fields(self):
      value, choices = getattr(self, f.name), f.metadata.get("choices")
      if choices and value is not None and value not in choices:
        raise W2VError(f"--{f.name} must be one of {'|'.join(choices)}, got {value!r}")
    devices, sync = self.devices, self.sync
    checks = [
        (self.dim > 0, f"--dim must be > 0, got {self.dim}"),
        (self.window > 0, f"--window must be > 0, got {self.window}"),
        (self.negatives >= 0, f"--negatives must be >= 0, got {self.negatives}"),
        (self.negatives > 0 or "ns" not in loss_parts(self.loss),
         f"--loss={self.loss} needs --negatives >= 1 (or --loss=hs with --negatives=0)"),
        (self.negatives == 0 or "ns" in loss_parts(self.loss),
         f"--loss={self.loss} draws no negatives: pass --negatives=0 (--loss=ns+hs uses both)"),
        (self.sample >= 0, f"--sample must be >= 0, got {self.sample}"),
        (self.min_count >= 1, f"--min_count must be >= 1, got {self.min_count}"),
        (self.max_vocab >= 0, f"--max_vocab must be >= 0, got {self.max_vocab}"),
        (self.phrases >= 0, f"--phrases must be >= 0, got {self.phrases}"),
        (self.phrase_threshold > 0, f"--phrase_threshold must be > 0, got {self.phrase_threshold}"),
        (self.epochs is None or self.epochs > 0, f"--epochs must be > 0, got {self.epochs}"),
        (self.alpha is None or self.alpha > 0, f"--alpha must be > 0, got {self.alpha}"),
        (0 <= self.min_alpha_ratio <= 1, "min_alpha_ratio must be in [0, 1]"),
        (self.lr_progress_scale is None or 0 < self.lr_progress_scale <= 1,
         f"--lr_progress_scale must be in (0, 1], got {self.lr_progress_scale}"),
        (self.init_range > 0, f"--init_range must be > 0, got {self.init_range}"),
        (self.model == "cbow" or (self.cbow_mean and not self.cbow_position_weights),
         "--nocbow_mean and --cbow_position_weights only apply to --model=cbow"),
        (not self.shard_tables or (self.loss == "ns" and not self.cbow_position_weights),
         f"--shard_tables supports --loss=ns without --cbow_position_weights, got "
         f"--loss={self.loss}; other objectives run with replicated tables"),
        (not self.shard_tables or self.optimizer == "sgd" or self.optimizer_update == "dense",
         "--shard_tables supports --optimizer=sgd or --optimizer_update=dense"),
        (self.max_sentence > 0, f"--max_sentence must be > 0, got {self.max_sentence}"),
        (self.batch_size > 0, f"--batch_size must be > 0, got {self.batch_size}"),
        (self.row_tokens > 0, f"--row_tokens must be > 0, got {self.row_tokens}"),
        *self._init_from_checks(),
        (self.batch_size % self.row_tokens == 0 or self.batch_size < self.row_tokens,
         f"--batch_size ({self.batch_size}) must be a multiple of --row_tokens "
         f"({self.row_tokens}) or smaller than it"),
        (self.steps_per_call is None or self.steps_per_call > 0,
         f"--steps_per_call must be > 0, got {self.steps_per_call}"),
        (self.dup_cap is None or self.dup_cap >= 0, f"--dup_cap must be >= 0, got {self.dup_cap}"),
        (devices is None or devices >= 0, f"--devices must be >= 0 (0 = all), got {devices}"),
        (sync != "dispatch" or (self.optimizer == "sgd" and not self.shard_tables),
         "--sync=dispatch supports --optimizer=sgd with replicated tables (no --shard_tables)"),
        (devices in (None, 1) or self.model != "glove", "--model=glove runs on one device: "
                                                        "drop --devices"),
        (0 <= self.heldout < 1, f"--heldout must be in [0, 1), got {self.heldout}"),
        (self.model != "glove" or (self.optimizer == "sgd" and self.heldout == 0),
         "--optimizer and --heldout apply to sg/cbow; GloVe trains with its own AdaGrad"),
        (self.checkpoint_every >= 0,
         f"--checkpoint_every must be >= 0, got {self.checkpoint_every}"),
        (self.checkpoint_secs >= 0, f"--checkpoint_secs must be >= 0, got {self.checkpoint_secs}"),
        (self.keep_checkpoints > 0, "--keep_checkpoints must be > 0"),
        (self.model != "glove" or self.alpha is None,
         "--alpha is word2vec's learning rate; GloVe's is --glove_eta"),
        (self.glove_window > 0, f"--glove_window must be > 0, got {self.glove_window}"),
        (self.glove_x_max > 0, f"--glove_x_max must be > 0, got {self.glove_x_max}"),
        (self.glove_power >= 0, f"--glove_power must be >= 0, got {self.glove_power}"),
        (self.glove_eta > 0, f"--glove_eta must be > 0, got {self.glove_eta}"),
        (self.glove_batch > 0, f"--glove_batch must be > 0, got {self.glove_batch}"),
    ]
    for ok, message in checks:
      if not ok:
        raise W2VError(message)
    if sync == "step" and devices is not None and devices > 1:
      self.check_rows(devices)
    if self.lr != self.lr or self.sample != self.sample:  # NaN
      raise W2VError("--alpha and --sample must be numbers, got NaN")
    return self

  def _init_from_checks(self) -> list[tuple[bool, str]]:
    return [
        (bool(self.init_from) or not (self.init_from_out or self.init_counts
                                      or self.freeze_init),
         "--init_from_out, --init_counts and --freeze_init need --init_from"),
        (not self.init_from or (self.model != "glove" and not self.id_file
                                and not self.shard_tables and not self.phrases),
         "--init_from supports sg/cbow without --id_file, --shard_tables or --phrases"),
        (not self.freeze_init or self.optimizer == "sgd",
         "--freeze_init supports --optimizer=sgd"),
    ]

  def check_rows(self, n_devices: int) -> None:
    """W2VError unless one synchronous step's rows split evenly over `n_devices` devices."""
    (rows, row_tokens), n = self.rows, n_devices
    if rows % n:
      raise W2VError(f"{n} devices need a multiple of {n} rows per micro-step, got {rows} "
                     f"(--batch_size={self.batch_size} / --row_tokens={self.row_tokens}); use "
                     f"e.g. --batch_size={n * row_tokens} or --row_tokens={self.batch_size // n}")

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "Config":
    return cls(**json.loads(text))

  def training_fingerprint(self) -> dict:
    """The fields that must match for a workdir's checkpoint to be resumed (compare resolved
    configs: an unresolved None and its default are the same run)."""
    skip = {"checkpoint_every", "checkpoint_secs", "keep_checkpoints", "log_every_secs",
            "corpus", "id_file", "fusion_barriers"}
    return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}


def replicas_supported(cfg: Config) -> bool:
  """Whether `cfg` can train as replicas (--sync=dispatch), the CPU's fast mode by default."""
  return (cfg.model != "glove" and cfg.loss == "ns" and cfg.optimizer == "sgd"
          and not cfg.shard_tables and cfg.heldout == 0)


def auto_cpu_devices(cfg: Config, cpu_count: int) -> int:
  """How many CPU devices to ask jax for (before it starts): --devices if given, else one
  replica per core (at most MAX_AUTO_REPLICAS) where replicas can run, else 1."""
  if cfg.devices is not None:
    return cfg.devices
  if cfg.sync == "step" or not replicas_supported(cfg):
    return 1
  return max(1, min(cpu_count, MAX_AUTO_REPLICAS))


def resolve(cfg: Config, platform: str = "cpu", local_devices: int = 1) -> Config:
  """A new Config with every None filled with the mode's default, validated; idempotent.

  `platform` and `local_devices` (jax.default_backend(), jax.local_device_count()) pick
  --devices/--sync when they are not given: replicas on every local CPU device where the
  settings allow them (replicas_supported), else one device. Then --sync=dispatch takes longer
  dispatches and caps bursts (docs/performance.md, "Replica defaults").
  """
  cfg.validate()
  replicas = platform == "cpu" and replicas_supported(cfg)
  devices = cfg.devices
  if devices is None:
    devices = local_devices if replicas and local_devices > 1 and cfg.sync != "step" else 1
  sync = cfg.sync
  if sync is None:
    sync = "dispatch" if devices != 1 and replicas else "step"
  dispatch, cbow = sync == "dispatch", cfg.model == "cbow"
  epochs = cfg.epochs or (GLOVE_EPOCHS if cfg.model == "glove" else EPOCHS)
  filled = {
      "devices": devices, "sync": sync, "fusion_barriers": platform == "cpu", "epochs": epochs,
      "alpha": None if cfg.model == "glove" else DEFAULT_ALPHA[cfg.model],
      "steps_per_call": (256 if cbow else 128) if dispatch else 64,
      "dup_cap": (4.0 if cbow else 16.0) if dispatch else 0.0,
      "lr_progress_scale": (tuned_progress_scale(cfg.model, epochs)
                            if cfg.schedule == "tuned" else 1.0),
  }
  return dataclasses.replace(
      cfg, **{k: v for k, v in filled.items() if getattr(cfg, k) is None}).validate()
