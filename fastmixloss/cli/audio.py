"""Finding pairs of audio files, reading them, and making each pair comparable.

Everything that can go wrong with one pair raises `PairError`, whose message becomes
that pair's error column; the run goes on with the next pair.
"""

import contextlib
import io
import os
import stat
from dataclasses import dataclass, field, replace

import numpy as np

from fastmixloss.validation import MAX_CHANNELS

from .errors import CommandError

# What libsndfile reads (soundfile's formats); matched case-insensitively.
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".aif", ".aiff", ".aifc")
LENGTH_POLICIES = ("error", "trim", "pad")


class PairError(Exception):
    """This pair cannot be scored; the message says why, naming the file."""


@dataclass(frozen=True)
class Pair:
    """One estimate and its reference. `key` names the pair in the results (the
    relative path, or the manifest's id); `est` and `ref` name the files (a path, or
    where in a table or shard they are); a name is None when its partner is missing.
    `est_data`, `ref_data`: the encoded file's bytes when it comes from memory (a
    Parquet table, a tar shard), else None and the name is its path. `problem`: why the
    source cannot give this pair (a key with two estimates, say), its row's error."""

    key: str
    est: str
    ref: str
    est_data: bytes = field(default=None, repr=False, compare=False)
    ref_data: bytes = field(default=None, repr=False, compare=False)
    problem: str = None

    def absolute(self):
        """The pair with absolute paths, for a process whose working folder is not ours
        (a Dask worker); names of pairs read from memory are kept."""
        def absolute(name, data):
            return name if name is None or data is not None else os.path.abspath(name)
        return replace(self, est=absolute(self.est, self.est_data),
                       ref=absolute(self.ref, self.ref_data))


def soundfile_module():
    try:
        import soundfile
    except ImportError:
        raise CommandError(
            "reading audio needs the soundfile package; install the command line's extras "
            "with: python -m pip install 'fastmixloss[cli]'") from None
    return soundfile


def sample_rate_of(pair):
    """The sample rate of the pair's reference (else its estimate) from its header, or
    None when neither opens (its row will say why)."""
    soundfile = soundfile_module()
    for name, data in ((pair.ref, pair.ref_data), (pair.est, pair.est_data)):
        if name is None:
            continue
        try:
            return int(soundfile.info(io.BytesIO(data) if data is not None
                                      else os.fsencode(name)).samplerate)
        except Exception:   # noqa: BLE001 -- any failure to read: the row says it
            continue
    return None


# Samples per piece read: 2**20 is 24 s at 44.1 kHz, 8 MiB per stereo file in float32:
# large enough that the evaluation's work per piece (joining the frames' tail, one kernel
# call per resolution) stays small against the kernels (2**18 scored 10 pairs of 96 s at
# 130-137 s of audio per second, 2**20 at 136-146, 2**21 and 2**22 no faster), small
# enough that the pieces read ahead (--read-ahead) stay a few per pair.
PIECE_SAMPLES = 2 ** 20


def piece_length(alignment=1):
    """Samples per piece: a multiple of `alignment` (what the evaluation's stream asks of
    every piece but the last) near PIECE_SAMPLES."""
    return alignment * max(1, round(PIECE_SAMPLES / alignment))


class _AudioFile:
    """One file of a pair, open for reading in pieces; PairError naming it for anything
    that keeps it from being read."""

    def __init__(self, path, role, data=None):
        soundfile = soundfile_module()
        self.path, self.role = path, role
        if data is not None:
            # encoded bytes from a table or a shard: soundfile decodes them from memory,
            # seeking and reading in pieces as it does a file
            source = io.BytesIO(data)
        else:
            _check_regular_file(path, role)
            # as bytes: soundfile encodes a str path strictly, which fails for a name that
            # is not valid UTF-8 (Python holds its bytes as lone surrogates)
            source = os.fsencode(path)
        with _read_errors(role, path):
            self.file = soundfile.SoundFile(source)
        self.frames, self.channels = self.file.frames, self.file.channels
        self._pcm16 = self.file.subtype == "PCM_16"
        self.sample_rate = int(self.file.samplerate)
        self.position = 0
        if self.frames == 0:
            self.close()
            raise PairError(f"{role} {path} has no samples")

    def read_into(self, out, start):
        """out (C, n) float32 gets samples [start, start + n) of the file, zeros after its
        end (the pad policy's)."""
        n = out.shape[1]
        available = max(0, min(n, self.frames - start))
        if available < n:
            out[:, available:] = 0.0
        if not available:
            return
        with _read_errors(self.role, self.path):
            if start != self.position:   # a new pass (a FLAC seek decodes again)
                self.file.seek(start)
            # 16-bit PCM as integers, scaled here in the transposing copy: libsndfile's
            # float samples are the same values (s * 2**-15, exact), and its conversion
            # took 3.4 ns a sample against NumPy's 0.5 (the most common dataset format)
            data = self.file.read(available, dtype="int16" if self._pcm16 else "float32",
                                  always_2d=True)
        self.position = start + data.shape[0]
        if data.shape[0] < available:
            raise PairError(f"cannot read {self.role} {self.path}: it ends at sample "
                            f"{start + data.shape[0]}, before the {self.frames} samples "
                            "its header gives")
        if self._pcm16:
            np.multiply(data.T, np.float32(2.0 ** -15), out=out[:, :available])
        else:
            out[:, :available] = data.T

    def close(self):
        self.file.close()


def _check_regular_file(path, role):
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        # libsndfile would only say "System error"
        raise PairError(f"{role} {path} does not exist") from None
    except OSError as exc:
        raise PairError(f"cannot read {role} {path}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        # opening a FIFO or a device blocks, or reads forever: only regular files
        raise PairError(f"{role} {path} is not a regular file ({_file_kind(mode)})")


@contextlib.contextmanager
def _read_errors(role, path):
    """What soundfile raises, as the PairError naming the file."""
    soundfile = soundfile_module()
    try:
        yield
    except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
        # LibsndfileError carries libsndfile's own reason ("Format not recognised.")
        # in error_string; its str() repeats the path
        reason = getattr(exc, "error_string", None) or str(exc)
        raise PairError(f"cannot read {role} {path}: {reason}") from None


def _file_kind(mode):
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a plain file"


class OpenedPair:
    """Both files of a pair, opened and made comparable under `length_policy`, read in
    pieces: nothing here holds more than one piece of either file.

    Raises PairError (missing partner, unreadable file, different rates or channel
    counts, too many channels, different lengths under the "error" policy). `pieces()`
    reads both from the start, as often as asked; the files stay open until `close()`
    (also as a context manager), or between passes after `rest()`.
    """

    def __init__(self, pair, length_policy):
        if pair.problem:
            raise PairError(pair.problem)
        if pair.est is None:
            raise PairError(f"no estimate for reference {pair.ref}")
        if pair.ref is None:
            raise PairError(f"no reference for estimate {pair.est}")
        self.pair = pair
        self._files = None
        self._open()
        est, ref = self._files
        try:
            self.length = _comparable_length(est, ref, length_policy)
        except BaseException:
            self.rest()
            raise
        self.sample_rate, self.channels = ref.sample_rate, ref.channels
        self._layout = self._files_layout()

    def _files_layout(self):
        return [(f.frames, f.channels, f.sample_rate) for f in self._files]

    def _open(self):
        est = _AudioFile(self.pair.est, "estimate", self.pair.est_data)
        try:
            ref = _AudioFile(self.pair.ref, "reference", self.pair.ref_data)
        except BaseException:
            est.close()
            raise
        self._files = (est, ref)

    def pieces(self, alignment=1):
        """(est, ref): (C, n) float32 C-contiguous pieces of both signals from the first
        sample, each `piece_length(alignment)` samples but the last; under "pad" the
        shorter file continues with zeros, under "trim" both stop at the shorter's end."""
        if self._files is None:   # read again after rest(): the files must be the same
            self._open()
            if self._files_layout() != self._layout:
                self.rest()
                raise PairError(f"the files of {self.pair.key} changed while being read")
        est_file, ref_file = self._files
        size = piece_length(alignment)
        for start in range(0, self.length, size):
            n = min(size, self.length - start)
            est = np.empty((self.channels, n), np.float32)
            ref = np.empty((self.channels, n), np.float32)
            est_file.read_into(est, start)
            ref_file.read_into(ref, start)
            yield est, ref

    def rest(self):
        """Close the files until the next pass (a pair read ahead holds no descriptor)."""
        if self._files is not None:
            for audio in self._files:
                audio.close()
            self._files = None

    close = rest

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def whole_signals(signals):
    """(est, ref): both signals of `signals` (an OpenedPair, or anything with channels,
    length and pieces()) whole, (C, T) float32: what a picture or the GPU needs."""
    est = np.empty((signals.channels, signals.length), np.float32)
    ref = np.empty_like(est)
    start = 0
    for est_piece, ref_piece in signals.pieces():
        n = est_piece.shape[1]
        est[:, start:start + n], ref[:, start:start + n] = est_piece, ref_piece
        start += n
    return est, ref


def _comparable_length(est, ref, policy):
    """The samples both signals have under the length policy; PairError when the files
    cannot be compared."""
    if est.sample_rate != ref.sample_rate:
        raise PairError(f"sample rates differ: estimate {est.sample_rate} Hz, reference "
                        f"{ref.sample_rate} Hz (fastmixloss does not resample)")
    if est.channels != ref.channels:
        raise PairError(f"channel counts differ: estimate {est.channels}, reference "
                        f"{ref.channels}")
    if ref.channels > MAX_CHANNELS:
        # said of the files: the library's own message speaks of arrays and their shape
        raise PairError(f"estimate and reference have {ref.channels} channels each; "
                        f"fastmixloss takes at most {MAX_CHANNELS} channels per file")
    n_est, n_ref = est.frames, ref.frames
    if n_est == n_ref:
        return n_ref
    if policy == "trim":
        return min(n_est, n_ref)
    if policy == "pad":
        return max(n_est, n_ref)
    raise PairError(f"lengths differ: estimate {n_est} samples, reference {n_ref} "
                    "(choose --length-policy trim or pad to compare them anyway)")
