"""Pairs read ahead in pieces on a background thread, bounded in bytes.

`ReadAhead(pairs, load, length_policy, limit)` opens the pairs in order and reads their
pieces while the consumer computes the earlier ones: it never holds more than `limit` bytes
of decoded pieces that the consumer has not taken (at least one piece, whatever the
limit), and keeps only the pair it is reading open. Iterating it gives (pair, loaded):
what `load` raised or returned for the pair (a PairError), or a QueuedPair whose first pass
comes from here; the consumer reads any further pass from the files itself.
"""

import threading
from collections import deque

from .audio import PairError, piece_length

# --read-ahead's default: a 96-s stereo pair's pieces at 44.1 kHz (68 MB decoded) read
# while the one before it computes, in memory that does not depend on the files' length.
DEFAULT_READ_AHEAD = 64 * 2 ** 20

_END = object()    # the last piece of a pair has been queued
_DONE = object()   # no more pairs


def read_error(exc):
    """A pair's reading failure as its PairError (e.g. MemoryError on a huge file)."""
    if isinstance(exc, PairError):
        return exc
    return PairError(f"{type(exc).__name__} reading the pair: {exc}")


class QueuedPair:
    """A pair being read ahead: what `OpenedPair` says of it (sample_rate, channels,
    length), and its pieces. The first pass takes them from the read-ahead, in pieces of
    `piece_length()` samples; a later pass reads the files again."""

    def __init__(self, opened, read_ahead):
        self.opened = opened
        self.sample_rate = opened.sample_rate
        self.channels = opened.channels
        self.length = opened.length
        self._read_ahead = read_ahead
        self._queued = True   # its pieces in the read-ahead have not all been taken

    def pieces(self, alignment=1):
        if self._queued and piece_length() % alignment == 0:
            yield from self._queued_pieces()
            return
        self.drain()   # pieces of another size: from the files
        yield from self.opened.pieces(alignment)

    def _queued_pieces(self):
        """Its pieces in the read-ahead; once they end (or their reading failed), none
        of them is left there."""
        pieces = self._read_ahead.take_pieces()
        while True:
            try:
                piece = next(pieces)
            except (StopIteration, PairError) as end:
                self._queued = False
                if isinstance(end, PairError):
                    raise
                return
            yield piece

    def drain(self):
        """Drop whatever of its pieces the read-ahead still holds (a scorer may stop
        before the last)."""
        if self._queued:
            for _ in self._queued_pieces():
                pass

    def close(self):
        self.drain()
        self.opened.close()


class ReadAhead:
    """See the module's docstring. `pairs` may block (a worker waits there for the next
    pair); what it raises (the connection lost) is raised to the consumer."""

    def __init__(self, pairs, load, length_policy, limit=DEFAULT_READ_AHEAD):
        self._pairs, self._load, self._policy = pairs, load, length_policy
        self._limit = limit
        self._queue = deque()      # (item, bytes)
        self._bytes = 0            # of the pieces queued and not taken
        self._reserved = 0         # of the piece being read
        self._condition = threading.Condition()
        self._closed = False
        # daemon: a read stuck in the file system (a hung network share) must not keep
        # the process from ending
        self._thread = threading.Thread(target=self._read, name="fastmixloss-read",
                                        daemon=True)
        self._thread.start()

    # -- the reading thread ---------------------------------------------------------

    def _read(self):
        try:
            for pair in self._pairs:
                try:
                    loaded = self._load(pair, self._policy)
                except Exception as exc:   # noqa: BLE001 -- the pair's row says it
                    loaded = read_error(exc)
                if isinstance(loaded, PairError):
                    self._put((pair, loaded))
                    continue
                self._put((pair, QueuedPair(loaded, self)))
                self._read_pieces(loaded)
                if self._closed:
                    return
            self._put(_DONE)
        except BaseException as exc:   # noqa: BLE001 -- handed to the consumer
            self._put(exc)

    def _read_pieces(self, opened):
        pieces = opened.pieces()
        piece_bytes = 2 * 4 * opened.channels * min(piece_length(), opened.length)
        try:
            while self._reserve(piece_bytes):
                try:
                    est, ref = next(pieces)
                except StopIteration:
                    break
                self._put((est, ref), est.nbytes + ref.nbytes)
        except Exception as exc:   # noqa: BLE001 -- the pair's row says it
            self._put(read_error(exc))
        finally:
            with self._condition:
                self._reserved = 0
            opened.rest()   # the next pair is read now: one pair's files open at a time
        self._put(_END)

    def _reserve(self, piece_bytes):
        """Wait until a piece of `piece_bytes` fits in the limit (any piece fits when none
        is waiting); False once the consumer has gone."""
        with self._condition:
            while (not self._closed and self._bytes > 0
                   and self._bytes + piece_bytes > self._limit):
                self._condition.wait()
            self._reserved = piece_bytes
            return not self._closed

    def _put(self, item, size=0):
        with self._condition:
            if self._closed:   # nobody takes it any more
                return
            self._queue.append((item, size))
            self._bytes += size
            self._reserved = 0
            self._condition.notify_all()

    # -- the consumer ---------------------------------------------------------------

    def _take(self):
        with self._condition:
            while not self._queue and not self._closed:
                self._condition.wait()
            if not self._queue:   # closed: nothing more comes
                return _DONE
            item, size = self._queue.popleft()
            self._bytes -= size
            self._condition.notify_all()
        return item

    def take_pieces(self):
        """The current pair's pieces, up to its end; raises the PairError that ended its
        reading."""
        while True:
            item = self._take()
            if item is _END or item is _DONE:
                return
            if isinstance(item, PairError):
                self._take()   # its _END
                raise item
            yield item

    @property
    def held_bytes(self):
        """Bytes of decoded pieces held ahead: queued, and the piece being read."""
        with self._condition:
            return self._bytes + self._reserved

    def __iter__(self):
        while True:
            item = self._take()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            pair, loaded = item
            try:
                yield pair, loaded
            finally:
                if isinstance(loaded, QueuedPair):
                    loaded.close()

    def close(self):
        """Stop reading (the thread ends after its current piece) and drop the pieces."""
        with self._condition:
            self._closed = True
            self._queue.clear()
            self._bytes = 0
            self._condition.notify_all()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
