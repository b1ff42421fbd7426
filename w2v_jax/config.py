"""The run configuration: every hyper-parameter, its default, and validation. Nothing else."""

import dataclasses
import json

from w2v_jax.errors import W2VError

MODELS = ("sg", "cbow", "glove")
# Training objectives of sg/cbow (model.output_loss): negative sampling, hierarchical softmax,
# the full softmax, or negative sampling and hierarchical softmax summed (word2vec.c -hs 1
# -negative K).
LOSSES = ("ns", "hs", "softmax", "ns+hs")
SIGMOIDS = ("exact", "c_table")  # glove: w2v_jax/glove.py, its own glove_* fields
# experiments/train.py: --model=glove without --epochs runs this many (GloVe demo.sh MAX_ITER;
# glove.c defaults to 25, the paper used 50); word2vec's 1 epoch is far too few for GloVe.
GLOVE_EPOCHS = 15
# word2vec.c `main`: alpha defaults to 0.025 for skip-gram and 0.05 for CBOW.
DEFAULT_ALPHA = {"sg": 0.025, "cbow": 0.05}


@dataclasses.dataclass
class Config:
  """Hyper-parameters of one training run (defaults follow word2vec.c unless noted)."""
  corpus: str = ""                 # a path or glob of plain / .gz text files
  model: str = "sg"                # "sg" (skip-gram) or "cbow"
  dim: int = 100
  window: int = 5                  # max radius; the effective radius is uniform in [1, window]
  negatives: int = 5
  sample: float = 1e-3             # subsampling threshold; 0 disables
  min_count: int = 5
  max_vocab: int = 0               # keep only the most frequent N words; 0 = no cap
  phrases: int = 0                 # word2phrase passes before training (0 = off)
  phrase_threshold: float = 100.0  # last pass's threshold; earlier passes double it (200, 100)
  epochs: int = 5                  # word2vec.c -iter 5, gensim epochs=5
  alpha: float | None = None       # None = the word2vec.c default for `model`
  min_alpha_ratio: float = 1e-4    # word2vec.c floors alpha at starting_alpha * 1e-4
  lr_progress_scale: float = 1.0   # progress x this in the schedule (0.5: gensim corpus_file)
  ns_exponent: float = 0.75        # noise distribution count^0.75 (word2vec.c InitUnigramTable)
  shrink_window: bool = True       # word2vec.c's dynamic window; False = always the full radius
  cbow_mean_grad: str = "word2vec"  # "word2vec": full error to every context row; "autodiff"
  loss: str = "ns"                 # ns | hs | softmax | ns+hs (LOSSES)
  cbow_mean: bool = True           # CBOW hidden = mean of the context (C); False = sum (gensim)
  sigmoid: str = "exact"           # "c_table": word2vec.c's clipped sigmoid table in the gradient
  cbow_position_weights: bool = False  # fastText cc: per-position weights on the context rows
  max_sentence: int = 1000         # word2vec.c MAX_SENTENCE_LENGTH (kept words per sentence)
  batch_size: int = 256            # centre words per synchronous micro-step (see README: quality)
  row_tokens: int = 1024           # centre words per row (windows see a halo on both sides)
  init_range: float = 0.5          # input vectors uniform in [-r, r)/dim; C 0.5, gensim 1.0
  skip_beyond: float = 0.0         # drop pair terms with |score| >= this (gensim: 6); 0 = exact
  dup_cap: float | None = None     # see model.damp_duplicates; 0 = plain summed updates
  steps_per_call: int | None = None  # micro-steps per jitted dispatch (lax.scan)
  devices: int = 1                 # data-parallel devices (0 = all); see w2v_jax/parallel.py
  sync: str = "step"               # devices: "step" (one synchronous step) or "dispatch"
  shard_tables: bool = False       # split the tables by rows over the devices (1/N memory each)
  id_file: bool = False            # train from WORKDIR/corpus.ids, memory-mapped (idfile.py)
  optimizer: str = "sgd"           # "sgd" (word2vec), "adagrad" or "adam" (see optim.py)
  optimizer_update: str = "lazy"   # adagrad/adam: "lazy" (touched rows) or "dense" (all rows)
  heldout: float = 0.0             # fraction of the corpus (its last sentences) held out
  seed: int = 0
  checkpoint_every: int = 0        # dispatches between checkpoints (0 = by time only)
  checkpoint_secs: float = 300.0   # seconds of training between checkpoints (0 = never)
  keep_checkpoints: int = 3
  log_every_secs: float = 10.0
  # GloVe (--model=glove). Defaults: glove.c's x_max 100, alpha 0.75, eta 0.05 (= the paper's);
  # window 10 on each side as in the paper's experiments (cooccur.c's default is 15).
  glove_window: int = 10           # co-occurrence radius, each side; a pair at distance d adds 1/d
  glove_x_max: float = 100.0       # f(x) = min(1, (x / x_max)^power)
  glove_power: float = 0.75        # glove.c's -alpha
  glove_eta: float = 0.05          # AdaGrad learning rate (glove.c -eta)
  glove_batch: int = 4096          # co-occurrence entries per synchronous AdaGrad step

  def __post_init__(self):
    # Defaults that depend on `sync` and the model (None = the mode's default): replicas
    # (sync="dispatch") merge once per dispatch, a dense V x D exchange worth it only over longer
    # dispatches, and sum stale steps, so a burst of one word lands twice unless rows are capped
    # (docs/performance.md). CBOW's step is cheap, so its replicas take 256 micro-steps per
    # merge, and a tighter cap: on part00 (seed 0) cap 16 gave analogy 0.0947, 8 0.0964, 4 0.1017,
    # 2 0.1009 (one device 0.1031). Otherwise 64 micro-steps per dispatch and no cap.
    dispatch, cbow = self.sync == "dispatch", self.model == "cbow"
    if self.steps_per_call is None:
      self.steps_per_call = (256 if cbow else 128) if dispatch else 64
    if self.dup_cap is None:
      self.dup_cap = (4.0 if cbow else 16.0) if dispatch else 0.0

  @property
  def rows(self) -> tuple[int, int]:
    """(B, T): rows per micro-step and centre words per row."""
    t = min(self.row_tokens, self.batch_size)
    return self.batch_size // t, t

  @property
  def batch_options(self) -> dict:
    """model.make_batch's keyword arguments (shared by training, data parallel and held-out)."""
    return {"window": self.window, "negatives": self.negatives,
            "shrink_window": self.shrink_window, "loss": self.loss}

  @property
  def loss_options(self) -> dict:
    """model.rows_loss's keyword arguments (shared by training, data parallel and held-out)."""
    return {"model": self.model, "cbow_mean_grad": self.cbow_mean_grad,
            "skip_beyond": self.skip_beyond, "cbow_mean": self.cbow_mean, "sigmoid": self.sigmoid}

  @property
  def lr(self) -> float:
    """The starting learning rate actually used."""
    if self.model == "glove":
      return self.glove_eta
    return self.alpha if self.alpha is not None else DEFAULT_ALPHA[self.model]

  def validate(self) -> "Config":
    """Raises W2VError naming the first nonsensical value; returns self."""
    checks = [
        (self.model in MODELS, f"--model must be one of {'|'.join(MODELS)}, got {self.model!r}"),
        (self.dim > 0, f"--dim must be > 0, got {self.dim}"),
        (self.window > 0, f"--window must be > 0, got {self.window}"),
        (self.negatives >= 0, f"--negatives must be >= 0, got {self.negatives}"),
        (self.loss in LOSSES, f"--loss must be one of {'|'.join(LOSSES)}, got {self.loss!r}"),
        (self.negatives > 0 or "ns" not in self.loss.split("+"),
         f"--loss={self.loss} needs --negatives >= 1 (or --loss=hs with --negatives=0)"),
        (self.negatives == 0 or "ns" in self.loss.split("+"),
         f"--loss={self.loss} draws no negatives: pass --negatives=0 (--loss=ns+hs uses both)"),
        (self.sample >= 0, f"--sample must be >= 0, got {self.sample}"),
        (self.min_count >= 1, f"--min_count must be >= 1, got {self.min_count}"),
        (self.max_vocab >= 0, f"--max_vocab must be >= 0, got {self.max_vocab}"),
        (self.phrases >= 0, f"--phrases must be >= 0, got {self.phrases}"),
        (self.phrase_threshold > 0, f"--phrase_threshold must be > 0, got {self.phrase_threshold}"),
        (self.epochs > 0, f"--epochs must be > 0, got {self.epochs}"),
        (self.alpha is None or self.alpha > 0, f"--alpha must be > 0, got {self.alpha}"),
        (0 <= self.min_alpha_ratio <= 1, "min_alpha_ratio must be in [0, 1]"),
        (0 < self.lr_progress_scale <= 1,
         f"--lr_progress_scale must be in (0, 1], got {self.lr_progress_scale}"),
        (self.init_range > 0, f"--init_range must be > 0, got {self.init_range}"),
        (self.cbow_mean_grad in ("word2vec", "autodiff"),
         f"--cbow_mean_grad must be word2vec|autodiff, got {self.cbow_mean_grad!r}"),
        (self.sigmoid in SIGMOIDS,
         f"--sigmoid must be one of {'|'.join(SIGMOIDS)}, got {self.sigmoid!r}"),
        (self.model == "cbow" or (self.cbow_mean and not self.cbow_position_weights),
         "--nocbow_mean and --cbow_position_weights only apply to --model=cbow"),
        (not self.shard_tables or (self.loss == "ns" and not self.cbow_position_weights),
         f"--shard_tables supports --loss=ns without --cbow_position_weights, got "
         f"--loss={self.loss}; other objectives run with replicated tables"),
        (self.max_sentence > 0, f"--max_sentence must be > 0, got {self.max_sentence}"),
        (self.batch_size > 0, f"--batch_size must be > 0, got {self.batch_size}"),
        (self.row_tokens > 0, f"--row_tokens must be > 0, got {self.row_tokens}"),
        (self.batch_size % self.row_tokens == 0 or self.batch_size < self.row_tokens,
         f"--batch_size ({self.batch_size}) must be a multiple of --row_tokens "
         f"({self.row_tokens}) or smaller than it"),
        (self.steps_per_call > 0, f"--steps_per_call must be > 0, got {self.steps_per_call}"),
        (self.devices >= 0, f"--devices must be >= 0 (0 = all), got {self.devices}"),
        (self.sync in ("step", "dispatch"), f"--sync must be step|dispatch, got {self.sync!r}"),
        (self.sync != "dispatch" or (self.optimizer == "sgd" and not self.shard_tables),
         "--sync=dispatch supports --optimizer=sgd with replicated tables (no --shard_tables)"),
        (self.devices == 1 or self.model != "glove", "--model=glove runs on one device: "
                                                     "drop --devices"),
        (self.optimizer in ("sgd", "adagrad", "adam"),
         f"--optimizer must be sgd|adagrad|adam, got {self.optimizer!r}"),
        (self.optimizer_update in ("dense", "lazy"),
         f"--optimizer_update must be dense|lazy, got {self.optimizer_update!r}"),
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
    if self.lr != self.lr or self.sample != self.sample:  # NaN
      raise W2VError("--alpha and --sample must be numbers, got NaN")
    return self

  def to_json(self) -> str:
    return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=True)

  @classmethod
  def from_json(cls, text: str) -> "Config":
    return cls(**json.loads(text))

  def training_fingerprint(self) -> dict:
    """The fields that must match for a workdir's checkpoint to be resumed."""
    skip = {"checkpoint_every", "checkpoint_secs", "keep_checkpoints", "log_every_secs",
            "corpus", "id_file"}
    return {k: v for k, v in dataclasses.asdict(self).items() if k not in skip}
