"""The library's file plumbing: UTF-8 text read with one clear error, and atomic writes."""

import contextlib
import gzip
import json
import os
import tempfile
from typing import IO, Iterator

from w2v_jax.errors import W2VError


def read_lines(path: str | os.PathLike, what: str = "", encoding: str = "utf-8") -> list[str]:
  """The lines of a text file (split on "\\n"); W2VError if unreadable or not in `encoding`."""
  name = os.fspath(path)
  try:
    with open(name, encoding=encoding) as f:
      return f.read().split("\n")
  except OSError as e:
    raise W2VError(f"cannot read {what + ' ' if what else ''}{name}: {e.strerror or e}") from None
  except LookupError:
    raise W2VError(f"unknown text encoding {encoding!r}") from None
  except UnicodeDecodeError as e:
    label = "UTF-8" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding
    raise W2VError(f"{name}: not {label} text ({e.reason} at byte {e.start})") from None


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w") -> Iterator[IO]:
  """A file to write in place of `path`: a temp file beside it, fsynced and renamed over `path`
  only when the block succeeds, so a crash never leaves a half-written file that looks complete.

  mode "w" (UTF-8 text) or "wb" (bytes); a path ending in .gz is gzipped.
  """
  path = os.fspath(path)
  folder = os.path.dirname(os.path.abspath(path))
  fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
  os.close(fd)
  binary = "b" in mode
  opener = gzip.open if path.endswith(".gz") else open
  try:
    with opener(tmp, "wb" if binary else "wt", encoding=None if binary else "utf-8") as f:
      yield f
    fd = os.open(tmp, os.O_RDONLY)
    try:
      os.fsync(fd)
    finally:
      os.close(fd)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(OSError):
      os.unlink(tmp)
    raise
  with contextlib.suppress(OSError):  # make the rename durable; not possible everywhere
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
      os.fsync(dir_fd)
    finally:
      os.close(dir_fd)


def write_json(path: str, obj) -> None:
  """Writes `obj` as indented JSON, atomically."""
  with atomic_open(path) as f:
    json.dump(obj, f, indent=2, sort_keys=True)
    f.write("\n")
