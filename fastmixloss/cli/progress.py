"""What a long command says while it runs: a progress bar on a terminal, a line every few
seconds in a log (pairs done, audio seconds per second, time left), and a note when the
kernels are being compiled rather than loaded from Numba's cache."""

import contextlib
import os
import sys
import threading
import time

# seconds between progress lines in a log
LOG_EVERY = 5.0
# a start slower than this is compiling (loading the kernels from the cache takes less)
COMPILING_AFTER = 2.0


class _NoBar:
    def update(self, n=1, audio_seconds=0.0):
        pass

    def write(self, text):
        print(text, file=sys.stderr)

    def close(self):
        pass


class _LogLines(_NoBar):
    """Progress as lines on stderr when it is not a terminal (a log file, a batch job):
    one every `every` seconds, and one at the end if any was printed."""

    def __init__(self, total, done=0, every=None, clock=time.monotonic):
        self.total, self.done, self.clock = total, done, clock
        self.every = LOG_EVERY if every is None else every
        self.scored, self.audio_seconds = 0, 0.0
        self.start = self.last = clock()
        self.printed = None   # how many pairs the last line counted

    def update(self, n=1, audio_seconds=0.0):
        self.scored += n
        self.audio_seconds += audio_seconds
        if self.clock() - self.last >= self.every:
            self._line()

    def _line(self):
        now = self.last = self.clock()
        elapsed = max(now - self.start, 1e-9)
        done = self.done + self.scored
        parts = [f"{done}/{self.total} pairs" if self.total is not None
                 else f"{done} pairs",
                 f"{self.audio_seconds / elapsed:.1f} s of audio per second"]
        if self.total is not None and self.scored and done < self.total:
            left = (self.total - done) * elapsed / self.scored
            parts.append(f"about {duration(left)} left")
        print(f"fastmixloss: {', '.join(parts)}", file=sys.stderr, flush=True)
        self.printed = self.scored

    def close(self):
        """The last count, if a line was printed before it."""
        if self.printed is not None and self.printed != self.scored:
            self._line()


def duration(seconds):
    """'1 h 02 min', '3 min 05 s', '42 s'."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def progress_bar(total, quiet, done=0):
    """tqdm on a terminal (pairs done of all, pairs/s, time left), lines every few
    seconds in logs and pipes, nothing with --quiet. `total`: the pairs, None when the
    source cannot tell before reading; `done`: those already in the results file (a
    resumed run starts there). update(n, audio_seconds) after each row."""
    if quiet:
        return _NoBar()
    if not sys.stderr.isatty():
        return _LogLines(total, done)
    try:
        from tqdm import tqdm
    except ImportError:
        print("fastmixloss: no progress bar (install tqdm, part of fastmixloss[cli])",
              file=sys.stderr)
        return _LogLines(total, done)
    return _Tqdm(total=total, initial=done, unit="pair", dynamic_ncols=True,
                 file=sys.stderr)


def _tqdm_class():
    from tqdm import tqdm

    class Tqdm(tqdm):
        def update(self, n=1, audio_seconds=0.0):
            return super().update(n)
    return Tqdm


def _Tqdm(**kwargs):   # noqa: N802 -- a class made on first use: tqdm is optional
    return _tqdm_class()(**kwargs)


def kernels_in_cache():
    """Whether Numba's on-disk cache holds the kernels every run needs (the time-domain,
    the NaN/Inf check and the STFT kernels): False on a first run, which compiles them;
    None when it cannot be told (Numba's cache is not where this looks)."""
    try:
        from fastmixloss.startup import _dispatchers
        return all(os.path.exists(dispatcher._cache._cache_file._index_path)
                   for group in ("time", "finite", "stft")
                   for dispatcher in _dispatchers(group))
    except Exception:   # noqa: BLE001 -- another Numba: then say it when slow
        return None


@contextlib.contextmanager
def compiling_note(quiet, after=None):
    """Say that the kernels are being compiled when the block (the parameters' check,
    which compiles or loads them) takes longer than loading them does, unless their
    cache is known to be there (a start slowed by a busy machine says nothing)."""
    if quiet or kernels_in_cache():
        yield
        return
    def note():
        print("fastmixloss: preparing the loss kernels: compiling them, on a first run "
              "(a minute or so; `fastmixloss warmup` does it ahead) ...", file=sys.stderr,
              flush=True)
    timer = threading.Timer(COMPILING_AFTER if after is None else after, note)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
