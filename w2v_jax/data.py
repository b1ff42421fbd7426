"""Host side, numpy only: id stream -> subsampled sentences -> fixed-shape (S, B, L) blocks.

Legend: S micro-steps per dispatch, B rows per micro-step, T centre words per row, W window,
L = T + 2W tokens per row (the centres plus a W-token halo on each side, so windows of the
first and last centres of a row see the same context they would in one long stream).
"""

import dataclasses
import os

import numpy as np

from w2v_jax.vocab import SEP

PAD_SEG = -1  # segment id of padding: matches no real segment, so it is never a context
FEW_SEPS = 1 << 16  # below this many sentence ends in a chunk, subsample binary-searches them


@dataclasses.dataclass
class Epoch:
  """One epoch's subsampled tokens, cut into segments (sentences), ready to slice into blocks."""
  tokens: np.ndarray     # int32 (N,) kept word ids
  segments: np.ndarray   # int32 (N,) segment id per token; windows never cross a segment
  positions: np.ndarray  # int32 (N,) (int64 past 2**31): each token's index in the stream
  stream_len: int


def subsample(stream: np.ndarray, keep_prob: np.ndarray, seed: int, epoch: int,
              max_sentence: int, chunk: int = 1 << 24, spill: str | None = None) -> Epoch:
  """Drops frequent words, then forms sentences, deterministic in (seed, epoch).

  As in word2vec.c TrainModelThread, dropped words are removed *before* windows form, and a
  sentence ends at a newline or after `max_sentence` kept words (MAX_SENTENCE_LENGTH = 1000).
  The stream is read in chunks (same random draws as one pass), so the temporaries stay small
  and the result costs 12 bytes per kept token: 70M corpus tokens peak well under 4 GB.
  With `spill` (a path prefix, used with --id_file) the three arrays are written to
  SPILL.{tokens,segments,positions} and memory-mapped instead, so RAM no longer grows with the
  corpus.
  """
  rng = np.random.default_rng([seed, epoch])
  n_stream = stream.shape[0]
  pos_dtype = np.int32 if n_stream < 2**31 else np.int64
  parts = _Parts(spill, {"tokens": np.int32, "segments": np.int32, "positions": pos_dtype})
  # Carried across chunks: SEPs seen, the last kept token's sentence, its index in it, segment.
  sentence, prev_sent, index, segment = 0, -1, 0, -1
  keep_ext = np.append(keep_prob, np.float32(0.0))  # SEP (-1) reads the last entry: never kept
  for a in range(0, n_stream, chunk):
    s_C = stream[a:a + chunk]
    u_C = rng.random(s_C.shape[0], dtype=np.float32)
    kept = np.flatnonzero(u_C < keep_ext[s_C])
    del u_C
    sep_S = np.flatnonzero(s_C == SEP)
    # Sentence of a kept token: SEPs before it. Few SEPs (text8-style lines): binary searches
    # for the chunk's first and last kept tokens only; many: one cumulative count over it.
    if sep_S.size < FEW_SEPS:
      # A sentence starts at the first kept token after each SEP, and at the chunk's first
      # kept token when the last chunk's sentence has ended.
      starts = np.searchsorted(kept, sep_S + 1)
      if kept.size and sentence + int(np.searchsorted(sep_S, kept[0])) != prev_sent:
        starts = np.append(0, starts)
      starts = np.unique(starts[starts < kept.size])
      last_sent = sentence + int(np.searchsorted(sep_S, kept[-1])) if kept.size else prev_sent
    else:
      sent_K = sentence + np.cumsum(s_C == SEP, dtype=np.int64)[kept]
      starts = np.flatnonzero(np.diff(sent_K, prepend=prev_sent) != 0)
      last_sent = int(sent_K[-1]) if kept.size else prev_sent
      del sent_K
    sentence += int(sep_S.size)
    head = int(starts[0]) if starts.size else kept.size                # tokens continuing the
    # Index of each kept token in its sentence: its position minus its sentence's first one
    # (the tokens before the chunk's first start continue the last chunk's sentence). int32
    # throughout (a chunk holds < 2^31 tokens): the first epoch's fresh pages cost more than
    # the arithmetic, and int64 temporaries doubled them.
    first_K = np.zeros(kept.size, np.int32)
    first_K[starts] = starts
    if kept.size:
      np.maximum.accumulate(first_K, out=first_K)
    idx_K = np.arange(kept.size, dtype=np.int32)
    idx_K -= first_K
    idx_K[:head] += index
    # word2vec.c: a new segment at each sentence start and after every max_sentence kept words.
    seg_K = np.cumsum(idx_K % max_sentence == 0, dtype=np.int32)
    seg_K += segment
    if kept.size:  # only idx % max_sentence is ever used: carried reduced, it stays small
      prev_sent, index, segment = last_sent, (int(idx_K[-1]) + 1) % max_sentence, int(seg_K[-1])
    positions = kept.astype(pos_dtype)
    positions += a
    parts.add(tokens=s_C[kept], segments=seg_K, positions=positions)
  return Epoch(**parts.finish(), stream_len=int(n_stream))


class _Parts:
  """Collects named arrays chunk by chunk, in RAM or appended to files that are then mmapped."""

  def __init__(self, spill: str | None, dtypes: dict):
    self.spill, self.dtypes = spill, dtypes
    self.parts = {k: [] for k in dtypes}
    self.files = {k: open(f"{spill}.{k}", "wb") for k in dtypes} if spill else None  # noqa: SIM115

  def add(self, **arrays) -> None:
    for k, a in arrays.items():
      a = a.astype(self.dtypes[k], copy=False)
      if self.files:
        self.files[k].write(a.tobytes())
      else:
        self.parts[k].append(a)

  def finish(self) -> dict:
    out = {}
    for k, dtype in self.dtypes.items():
      if self.files:
        self.files[k].close()
        n = os.path.getsize(f"{self.spill}.{k}") // np.dtype(dtype).itemsize
        out[k] = (np.memmap(f"{self.spill}.{k}", dtype, mode="r", shape=(n,)) if n
                  else np.zeros(0, dtype))
      else:
        out[k] = np.concatenate(self.parts[k]) if self.parts[k] else np.zeros(0, dtype)
    return out


def num_calls(n_tokens: int, steps: int, rows: int, row_tokens: int) -> int:
  """Dispatches needed to cover n_tokens centres."""
  per_call = steps * rows * row_tokens
  return max(1, -(-n_tokens // per_call))


def block(ep: Epoch, call: int, steps: int, rows: int, row_tokens: int, window: int):
  """The `call`-th dispatch: (ids_SBL, seg_SBL, pos_S) with pos the stream index of each step.

  Rows past the end of the epoch are padding (segment PAD_SEG), which trains nothing.
  """
  s, b, t, w = steps, rows, row_tokens, window
  n = ep.tokens.shape[0]
  first_centre = (call * s * b + np.arange(s * b)) * t                      # (S*B,)
  idx = first_centre[:, None] - w + np.arange(t + 2 * w)[None, :]           # (S*B, L)
  valid = (idx >= 0) & (idx < n)
  safe = np.clip(idx, 0, max(n - 1, 0))
  ids = np.where(valid, ep.tokens[safe], 0).astype(np.int32)
  seg = np.where(valid, ep.segments[safe], PAD_SEG).astype(np.int32)
  step_first = np.minimum(first_centre.reshape(s, b)[:, 0], max(n - 1, 0))
  pos = ep.positions[step_first] if n else np.zeros(s, np.int64)
  pos = np.where(first_centre.reshape(s, b)[:, 0] < n, pos, ep.stream_len)
  return ids.reshape(s, b, -1), seg.reshape(s, b, -1), pos


def fraction_done(ep: Epoch, centres_done: int) -> float:
  """Fraction of the epoch's stream read once `centres_done` kept centres are trained."""
  n = ep.tokens.shape[0]
  if centres_done >= n or n == 0:
    return 1.0
  return float(ep.positions[centres_done]) / ep.stream_len
