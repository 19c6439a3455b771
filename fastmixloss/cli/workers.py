"""Pairs scored in a worker process that the main process supervises.

A pair can end the process that computes it: a crash in native code (a segfault, an
abort), or the system's out-of-memory killer. So `score` checks its settings, reads and
computes in one worker process, which reads the pairs' pieces ahead on a thread (bounded
in bytes, read_ahead.py) and computes on all of Numba's threads, while the main process
only sends it pairs (file names, or a table's or a shard's encoded files, never decoded
audio), writes the rows it sends back, and watches it; it never loads a kernel itself.
When the worker dies, the pair it was scoring becomes an error row that says so ("worker
died: signal 11 (SIGSEGV)"), a new worker takes over, and the run goes on.

Which pair killed it: a worker holds several pairs at once (one computing, the next ones
being read: as many as fit in its read-ahead), and native damage can show later than it
was done. When a worker dies holding one pair, that pair is the cause. When it dies
holding several, each of them is scored again alone by the next worker, and one that
then kills its worker is the cause. No pair is tried more than twice in a run.

Workers start from a fork server that has imported the library and initialised Numba
once (worker_preload.py; spawned where there is no fork server), never forked from the
main process, whose threads may be running.
"""

import multiprocessing
import signal
import sys
import threading
from collections import deque
from multiprocessing.connection import wait

from .errors import STOPPED, CommandError
from .losses import CHECK_RATE, LossSettings
from .read_ahead import DEFAULT_READ_AHEAD, ReadAhead
from .results_file import one_line


def death_text(exitcode):
    """How a worker ended, for its pair's error: 'signal 11 (SIGSEGV)', 'exit code 1'."""
    if exitcode is None:
        return "no exit status"
    if exitcode >= 0:
        return f"exit code {exitcode}"
    number = -exitcode
    try:
        text = f"signal {number} ({signal.Signals(number).name})"
    except ValueError:
        text = f"signal {number}"
    if number == getattr(signal, "SIGKILL", None):
        text += ", killed from outside (as the system's out-of-memory killer does)"
    return text


def _context():
    """Workers fork from a server that has imported and initialised what they need
    (worker_preload.py), so that a new one only loads its kernels from Numba's cache;
    where there is no fork server (Windows), they are spawned."""
    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fastmixloss.cli.worker_preload"])
    return context


def _start_without_interrupts(process):
    """Start `process` with SIGINT blocked, which it inherits (through the fork server
    too): a Ctrl-C while it imports must not print its traceback. It ignores SIGINT
    once running; the main process ends it."""
    if not hasattr(signal, "pthread_sigmask"):
        process.start()
        return
    before = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        process.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, before)


class Worker:
    """One worker process scoring pairs in the order it receives them.

    It checks the settings by running the losses once (which also loads the kernels):
    this process need not load them at all. Messages to it: ("rate", Hz) first, the
    sample rate to check them at; then a Pair, or None (no more).
    From it: ("ready", columns) once checked, or ("invalid", error class, message);
    ("got",) as its reading thread takes each pair (when the pieces of the ones before
    it are read, up to `read_ahead` bytes ahead), ("row", row) when the pair is scored,
    ("interrupted",), or ("failed", text) before it ends on an unexpected exception.
    """

    def __init__(self, settings, load, score, read_ahead=DEFAULT_READ_AHEAD,
                 check_rate=None):
        # the worker computes with as many Numba threads as this thread would (where
        # this process has set a number)
        numba = sys.modules.get("numba")
        threads = numba.get_num_threads() if numba is not None else None
        context = _context()
        self.connection, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, name="fastmixloss-worker", daemon=True,
            args=(child, settings, threads, load, score, read_ahead))
        try:
            _start_without_interrupts(self.process)
        except OSError as exc:   # no memory or process slots left to start one
            raise CommandError(f"cannot start a worker process: {exc}", STOPPED) from None
        finally:
            child.close()   # the worker's end: its death must read as the end of the pipe
        self.ready = False
        self.exitcode = None
        self.check_rate = None
        if check_rate is not None:
            self.send_check_rate(check_rate)

    def send_check_rate(self, rate):
        """The sample rate to check the settings at, the first message a worker reads
        (the caller may learn it from the first pair while the worker starts)."""
        self.check_rate = rate
        self.send(("rate", rate))

    def checked_settings(self, settings, check_rate=CHECK_RATE):
        """`settings` with their columns, once the worker has checked them at
        `check_rate` (the first pair's sample rate, unless it was sent): raises the
        library's ParameterError or DeviceError as the check did, or CommandError (exit
        code STOPPED) when the worker ended first."""
        if self.check_rate is None:
            self.send_check_rate(check_rate)
        message = self.receive()
        if message is None:
            raise CommandError("the worker process ended while starting (worker died: "
                               f"{death_text(self.exitcode)})"
                               + _STARTING_HINT * (self.exitcode == 1), STOPPED)
        if message[0] == "invalid":
            from fastmixloss import errors
            raise getattr(errors, message[1], errors.ParameterError)(message[2])
        if message[0] != "ready":
            raise CommandError(f"the worker process failed while starting: {message[-1]}",
                               STOPPED)
        self.ready = True
        return LossSettings(settings.losses, settings.device, settings.length_policy,
                            tuple(message[1]))

    def send(self, message):
        """False when the worker is gone (its death is what receive() returns next)."""
        try:
            self.connection.send(message)
            return True
        except OSError:   # BrokenPipeError, ConnectionResetError
            return False

    def receive(self):
        """The worker's next message; None once it has ended and every message it sent
        was read (then self.exitcode says how it ended)."""
        ready = wait([self.connection, self.process.sentinel])
        if self.connection in ready or self.connection.poll():
            try:
                return self.connection.recv()
            except (EOFError, OSError):
                pass   # it ended; maybe in the middle of a message
        self.process.join()
        self.exitcode = self.process.exitcode
        return None

    def stop(self, at_once=False):
        """End the worker: at once (an interrupt, an error), or once it has read that
        there is no more work."""
        if not at_once:
            self.send(None)
            self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()   # it ignores SIGINT; nothing in it needs cleaning up
            self.process.join(timeout=5)
        self.connection.close()


def _worker_main(connection, settings, threads, load, score, read_ahead):
    """The worker process: load the kernels once, then score every pair sent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    if "fork" in multiprocessing.get_all_start_methods():
        # Numba makes a multiprocessing lock when its threading layer starts. Under the
        # fork server's start method that lock is registered with the resource
        # tracker, which warns of it as leaked once a killed or crashed worker could
        # not release it; a "fork" lock is not registered. The worker starts no process.
        multiprocessing.set_start_method("fork", force=True)
    try:
        if threads is not None:
            import numba
            numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))
        from fastmixloss.errors import FastMixLossError
        _, check_rate = connection.recv()   # ("rate", Hz)
        try:
            # checks the parameters (at the first pair's sample rate), and compiles or
            # loads the kernels, once
            settings = settings.with_columns(check_rate)
        except FastMixLossError as exc:   # a bad parameter, or --device cuda without one
            connection.send(("invalid", type(exc).__name__, str(exc)))
            return
        connection.send(("ready", settings.columns))
        _serve(connection, settings, load, score, read_ahead)
    except (EOFError, OSError):
        return   # the main process is gone: nobody to score for
    except KeyboardInterrupt:
        # an interrupt as a kernel reports it (score() makes it KeyboardInterrupt): the
        # user's, not the pair's; the main process stops the run
        _send_quietly(connection, ("interrupted",))
    except Exception as exc:   # noqa: BLE001 -- reported as this worker's death
        _send_quietly(connection, ("failed", f"{type(exc).__name__}: {one_line(exc)}"))
        sys.exit(1)


def _send_quietly(connection, message):
    try:
        connection.send(message)
    except OSError:
        pass


def _serve(connection, settings, load, score, read_ahead):
    """Score the pairs in the order they come. A reading thread takes each pair from the
    connection when it has read the pieces of the ones before it (saying it has it: the
    main process keeps one pair waiting there), and reads its pieces up to `read_ahead`
    bytes ahead of the scoring, which runs here."""
    sending = threading.Lock()   # the reading thread says "got" while rows are sent

    def send(message):
        with sending:
            connection.send(message)

    def pairs():
        while True:
            pair = connection.recv()
            if pair is None:
                return
            send(("got",))
            yield pair

    with ReadAhead(pairs(), load, settings.length_policy, read_ahead) as reading:
        for pair, loaded in reading:
            send(("row", score(pair, loaded, settings)))


# Python re-imports the main script in a new worker: unguarded, it would run again there
_STARTING_HINT = ("; a script that calls fastmixloss.cli.main() must call it under "
                  "if __name__ == '__main__':")

# Workers that may die in a row, holding no pair, before the run stops: the cause is
# then not a pair (the system kills every new process, say), and more would not help.
MAX_IDLE_DEATHS = 3


def rows_in_workers(todo, settings, read_ahead, load, score, failed_row, worker=None,
                    note=None):
    """Rows in the order of `todo`, computed by a supervised worker process.

    load(pair, length_policy) and score(pair, loaded, settings) run in the worker (they
    are pickled to it: module-level functions, or instances of module-level classes);
    the worker reads up to `read_ahead` bytes of pieces ahead (see Worker).
    failed_row(pair, settings, error) makes the row of a pair whose worker died.
    `worker`: one already started with these settings (its kernels load while the
    caller does other things). note(text) tells the user about a worker's death.
    Raises CommandError (exit code STOPPED) when workers cannot start or keep dying with
    no pair to blame.
    """
    waiting = _Pending(todo)    # not sent yet (read from `todo` as they are sent)
    suspects = deque()          # held by a worker that died holding several: each alone
    sent = deque()              # (pair, alone): sent to the current worker, row not back
    received = 0                # how many of `sent` the worker said it has
    idle_deaths = 0
    note = note or (lambda text: None)
    if worker is not None and worker.check_rate is None:   # started, not yet checked
        worker.send_check_rate(CHECK_RATE)
    # a new worker checks the settings at the rate the first one did
    worker_rate = worker.check_rate if worker is not None else CHECK_RATE
    try:
        while waiting or suspects or sent:
            if worker is None:
                worker, received = Worker(settings, load, score, read_ahead,
                                          check_rate=worker_rate), 0
            if suspects or any(alone for _, alone in sent):
                # scoring suspects: one at a time, nothing read beside it
                if not sent and worker.send(suspects[0]):
                    sent.append((suspects.popleft(), True))
            elif waiting and len(sent) == received and worker.send(waiting[0]):
                # one pair waits in the connection; the worker's reading thread takes
                # it once it has read the pieces before it, as its read-ahead allows
                sent.append((waiting.popleft(), False))
            message = worker.receive()
            kind = None if message is None else message[0]
            if kind == "ready":
                worker.ready = True
            elif kind == "got":
                received += 1
            elif kind == "row":
                sent.popleft()
                received -= 1
                idle_deaths = 0
                yield message[1]
            elif kind == "interrupted":
                raise KeyboardInterrupt
            elif kind == "invalid":   # settings the first worker took: its environment
                raise CommandError("a new worker process refused the settings: "
                                   f"{message[2]}", STOPPED)
            else:   # it has ended, or is ending on an exception of its own ("failed")
                error = (f"worker died: {death_text(worker.exitcode)}" if message is None
                         else f"worker failed: {message[1]}")
                started, worker_exitcode = worker.ready, worker.exitcode
                worker.stop(at_once=True)
                worker = None
                if not started:
                    raise CommandError(f"the worker process ended while starting ({error})"
                                       + _STARTING_HINT * (worker_exitcode == 1), STOPPED)
                held = [sent.popleft()[0] for _ in range(received)]
                # pairs it never received go first to the next one, in their order
                for pair, alone in reversed(sent):
                    (suspects if alone else waiting).appendleft(pair)
                sent.clear()
                if len(held) == 1:
                    yield failed_row(held[0], settings, f"{error} while scoring this pair")
                elif held:
                    note(f"fastmixloss: {error}, holding {len(held)} pairs; scoring each "
                         "of them again, alone")
                    suspects.extendleft(reversed(held))
                else:
                    idle_deaths += 1
                    if idle_deaths >= MAX_IDLE_DEATHS:
                        raise CommandError(f"{idle_deaths} worker processes ended holding "
                                           f"no pair; the last: {error}", STOPPED)
        if worker is not None:
            worker.stop()
            worker = None
    finally:
        if worker is not None:
            worker.stop(at_once=True)


class _Pending:
    """The pairs not sent yet: taken from an iterator one at a time (a source read from
    memory yields each pair's audio as it is asked for), with those a dead worker did
    not take put back in front."""

    def __init__(self, pairs):
        self._pairs = iter(pairs)
        self._front = deque()

    def __bool__(self):
        if not self._front:
            following = next(self._pairs, None)
            if following is None:
                return False
            self._front.append(following)
        return True

    def __getitem__(self, index):   # only [0]: the next pair, once bool() said there is one
        return self._front[index]

    def popleft(self):
        return self._front.popleft()

    def appendleft(self, pair):
        self._front.appendleft(pair)
