"""One benchmarked system as a timed subprocess: wall time, peak memory, output markers.

`run_timed` spawns the command in its own session (so a timeout kills the whole tree), optionally
pinned to some CPUs, copies stdout / stderr to log files while time-stamping the first and last
appearance of marker strings, polls the summed RSS of the process tree, and reads the child's
ru_maxrss from os.wait4.
"""

import dataclasses
import os
import signal
import subprocess
import threading
import time

POLL_SECONDS = 0.2


def pick_cpus(threads: int, pin: bool = True) -> list[int] | None:
  """The first `threads` CPUs this process may use, or None (no pinning).

  Pinning is only done when `threads` is below the number of available CPUs: it is what bounds
  XLA's thread pool, which has no thread flag.
  """
  available = sorted(os.sched_getaffinity(0))
  return available[:threads] if pin and threads < len(available) else None


class TreeRssPoller:
  """Samples the summed RSS of a process and all its descendants every `interval` seconds."""

  def __init__(self, pid: int, interval: float = POLL_SECONDS):
    self.pid, self.interval = pid, interval
    self.peak_bytes, self.samples = 0, 0
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._run, daemon=True)

  def sample(self) -> int:
    """One measurement: the summed RSS in bytes (0 once the process is gone)."""
    # psutil is a benchmark requirement (requirements-bench.txt), not a library one.
    import psutil  # pylint: disable=import-outside-toplevel
    try:
      root = psutil.Process(self.pid)
      procs = [root] + root.children(recursive=True)
    except psutil.Error:
      return 0
    total = 0
    for p in procs:
      try:
        total += p.memory_info().rss
      except psutil.Error:
        pass
    return total

  def _run(self) -> None:
    while True:
      self.peak_bytes = max(self.peak_bytes, self.sample())
      self.samples += 1
      if self._stop.wait(self.interval):
        return

  def start(self) -> "TreeRssPoller":
    """Starts polling in a daemon thread."""
    self._thread.start()
    return self

  def stop(self) -> int:
    """Stops polling; returns the peak in bytes."""
    self._stop.set()
    self._thread.join()
    return self.peak_bytes


class _StreamReader(threading.Thread):
  """Copies a pipe to a file, noting when each marker first shows up (seconds since t0)."""

  def __init__(self, fd: int, out, t0: float, markers: dict[str, bytes]):
    super().__init__(daemon=True)
    self.fd, self.out, self.t0, self.markers = fd, out, t0, markers
    self.marks: dict[str, float] = {}       # first appearance
    self.last_marks: dict[str, float] = {}  # last appearance

  def run(self) -> None:
    keep = max((len(m) for m in self.markers.values()), default=1)
    tail = b""
    with self.out as out:
      while True:
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
          break
        now = time.perf_counter() - self.t0
        out.write(chunk)
        window = tail + chunk
        for name, marker in self.markers.items():
          at = window.rfind(marker)
          if at >= 0 and at + len(marker) > len(tail):  # not an occurrence seen last time
            self.marks.setdefault(name, now)
            self.last_marks[name] = now
        tail = window[-keep:]
    os.close(self.fd)


@dataclasses.dataclass
class RunResult:
  """What one subprocess did: exit code, wall time, memory, marker times, output paths."""
  returncode: int
  wall_seconds: float
  peak_rss_poll_bytes: int
  maxrss_wait4_bytes: int
  rss_samples: int
  marks: dict
  stdout_path: str
  stderr_path: str
  timed_out: bool = False

  @property
  def peak_rss_mb(self) -> float:
    """max(polled tree sum, wait4 ru_maxrss) in MiB."""
    return max(self.peak_rss_poll_bytes, self.maxrss_wait4_bytes) / 2**20

  def output(self, which: str = "both") -> str:
    """The captured stdout, stderr, or both, decoded leniently."""
    paths = {"stdout": [self.stdout_path], "stderr": [self.stderr_path],
             "both": [self.stdout_path, self.stderr_path]}[which]
    text = []
    for p in paths:
      with open(p, "rb") as f:
        text.append(f.read().decode("utf-8", "replace"))
    return "\n".join(text)


def run_timed(cmd: list[str], *, cwd: str, log_prefix: str, markers: dict[str, str] | None = None,
              env: dict | None = None, cpus: list[int] | None = None,
              timeout_s: float = 0) -> RunResult:
  """Runs `cmd` to completion, timing it end to end and tracking its peak memory.

  stdout / stderr go to `log_prefix`.stdout / .stderr; `markers` maps a name to a string whose
  first appearance in either stream is time-stamped (seconds since spawn) into `marks`. With
  `cpus`, the child is pinned to those CPUs before it execs. `marks` also holds NAME_last, the
  time of the last chunk in which the marker appeared.
  """
  os.makedirs(os.path.dirname(os.path.abspath(log_prefix)), exist_ok=True)
  logs = [open(log_prefix + ".stdout", "wb"), open(log_prefix + ".stderr", "wb")]
  out_r, out_w = os.pipe()
  err_r, err_w = os.pipe()
  encoded = {k: v.encode() for k, v in (markers or {}).items()}

  def pin():
    if cpus:
      os.sched_setaffinity(0, cpus)

  t0 = time.perf_counter()
  try:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=out_w,
                            stderr=err_w, preexec_fn=pin, start_new_session=True)
  except BaseException:
    for fd in (out_r, out_w, err_r, err_w):
      os.close(fd)
    for f in logs:
      f.close()
    raise
  os.close(out_w)
  os.close(err_w)
  readers = [_StreamReader(out_r, logs[0], t0, encoded),
             _StreamReader(err_r, logs[1], t0, encoded)]
  for r in readers:
    r.start()
  poller = TreeRssPoller(proc.pid).start()
  timed_out = threading.Event()

  def kill():
    timed_out.set()
    try:
      os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
      pass

  timer = threading.Timer(timeout_s, kill) if timeout_s > 0 else None
  if timer:
    timer.start()
  try:
    _, status, rusage = os.wait4(proc.pid, 0)
  except BaseException:
    kill()
    raise
  finally:
    if timer:
      timer.cancel()
  wall = time.perf_counter() - t0
  proc.returncode = os.waitstatus_to_exitcode(status)
  peak = poller.stop()
  for r in readers:
    r.join()
  marks = {}
  for r in readers:
    marks.update(r.marks)
    marks.update({f"{k}_last": v for k, v in r.last_marks.items()})
  return RunResult(returncode=proc.returncode, wall_seconds=wall, peak_rss_poll_bytes=peak,
                   maxrss_wait4_bytes=rusage.ru_maxrss * 1024, rss_samples=poller.samples,
                   marks=marks, stdout_path=log_prefix + ".stdout",
                   stderr_path=log_prefix + ".stderr", timed_out=timed_out.is_set())
