"""Finding pairs of audio files, reading them, and making each pair comparable.

Everything that can go wrong with one pair raises `PairError`, whose message becomes
that pair's error column; the run goes on with the next pair.
"""

import csv
import os
import stat
from dataclasses import dataclass

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
    relative path, or the manifest's id); a path is None when its partner is missing."""

    key: str
    est: str
    ref: str


@dataclass
class LoadedPair:
    est: np.ndarray        # (C, T) float32
    ref: np.ndarray
    sample_rate: int


def soundfile_module():
    try:
        import soundfile
    except ImportError:
        raise CommandError(
            "reading audio needs the soundfile package; install the command line's extras "
            "with: python -m pip install 'fastmixloss[cli]'") from None
    return soundfile


def _audio_files(root):
    """Relative paths (with '/' separators) of the audio files under root, sorted."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            if name.startswith("."):
                continue
            if os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS:
                rel = os.path.relpath(os.path.join(folder, name), root)
                found.append(rel.replace(os.sep, "/"))
    return sorted(found)


def pairs_from_folders(est_dir, ref_dir):
    """Pair files by relative path. When the same path is not there, a file whose path
    differs only in its audio extension (song.flac for song.wav) is the partner, if there
    is exactly one. Unpaired files on either side become pairs with a missing partner."""
    for name, folder in (("EST_DIR", est_dir), ("REF_DIR", ref_dir)):
        if not os.path.isdir(folder):
            raise CommandError(f"{name} {folder!r} is not a folder")
    est_files = _audio_files(est_dir)
    ref_files = _audio_files(ref_dir)
    ref_set = set(ref_files)
    by_stem = {}
    for rel in ref_files:
        by_stem.setdefault(os.path.splitext(rel)[0], []).append(rel)
    pairs, used = [], set()
    for rel in est_files:
        partner = rel if rel in ref_set else None
        if partner is None:
            candidates = [c for c in by_stem.get(os.path.splitext(rel)[0], [])
                          if c not in used]
            partner = candidates[0] if len(candidates) == 1 else None
        if partner is not None:
            used.add(partner)
        pairs.append(Pair(rel, os.path.join(est_dir, rel),
                          None if partner is None else os.path.join(ref_dir, partner)))
    for rel in ref_files:
        if rel not in used:
            pairs.append(Pair(rel, None, os.path.join(ref_dir, rel)))
    keys = [p.key for p in pairs]
    if len(set(keys)) != len(keys):
        # song.wav in EST_DIR and an unpaired song.wav in REF_DIR cannot happen; two
        # estimates song.wav/song.flac paired by extension can leave one key twice
        raise CommandError("two files map to the same pair name; give the pairs "
                           "explicitly with --pairs manifest.csv")
    return pairs


def pairs_from_manifest(path):
    """A CSV with columns est and ref (and optionally id); relative paths are relative to
    the manifest's folder. Pairs are named by id, or by the est path as written."""
    base = os.path.dirname(os.path.abspath(path))
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in ("est", "ref") if c not in fields]
            if missing:
                raise CommandError(
                    f"--pairs {path}: no column {' or '.join(missing)} (columns: "
                    f"{', '.join(fields) or 'none'}); it needs est and ref, optionally id")
            rows = list(reader)
    except OSError as exc:
        raise CommandError(f"--pairs {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"--pairs {path}: not UTF-8 text (byte {exc.start}); save "
                           "the manifest as UTF-8") from None
    except csv.Error as exc:
        raise CommandError(f"--pairs {path}: not a CSV file fastmixloss can read: "
                           f"{exc}") from None
    pairs = []
    for number, row in enumerate(rows, start=2):
        est = (row.get("est") or "").strip()
        ref = (row.get("ref") or "").strip()
        key = (row.get("id") or "").strip() or est or ref
        if not key:
            raise CommandError(f"--pairs {path} line {number}: empty row")
        pairs.append(Pair(key, os.path.join(base, est) if est else None,
                          os.path.join(base, ref) if ref else None))
    keys = [p.key for p in pairs]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise CommandError(f"--pairs {path}: pair named twice: "
                           f"{', '.join(repeated[:5])}; add an id column")
    return pairs


def read_audio(path, role):
    """(C, T) float32 samples and the sample rate; PairError naming the file if it cannot
    be read."""
    soundfile = soundfile_module()
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
    try:
        # as bytes: soundfile encodes a str path strictly, which fails for a name that
        # is not valid UTF-8 (Python holds its bytes as lone surrogates)
        data, rate = soundfile.read(os.fsencode(path), dtype="float32", always_2d=True)
    except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
        # LibsndfileError carries libsndfile's own reason ("Format not recognised.")
        # in error_string; its str() repeats the path
        reason = getattr(exc, "error_string", None) or str(exc)
        raise PairError(f"cannot read {role} {path}: {reason}") from None
    if data.shape[0] == 0:
        raise PairError(f"{role} {path} has no samples")
    return np.ascontiguousarray(data.T), int(rate)


def _file_kind(mode):
    for test, kind in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"),
                       (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device")):
        if test(mode):
            return kind
    return "not a plain file"


def load_pair(pair, length_policy):
    """Read both files and make them comparable under `length_policy`."""
    if pair.est is None:
        raise PairError(f"no estimate for reference {pair.ref}")
    if pair.ref is None:
        raise PairError(f"no reference for estimate {pair.est}")
    est, est_rate = read_audio(pair.est, "estimate")
    ref, ref_rate = read_audio(pair.ref, "reference")
    if est_rate != ref_rate:
        raise PairError(f"sample rates differ: estimate {est_rate} Hz, reference "
                        f"{ref_rate} Hz (fastmixloss does not resample)")
    if est.shape[0] != ref.shape[0]:
        raise PairError(f"channel counts differ: estimate {est.shape[0]}, reference "
                        f"{ref.shape[0]}")
    if ref.shape[0] > MAX_CHANNELS:
        # said of the files: the library's own message speaks of arrays and their shape
        raise PairError(f"estimate and reference have {ref.shape[0]} channels each; "
                        f"fastmixloss takes at most {MAX_CHANNELS} channels per file")
    est, ref = apply_length_policy(est, ref, length_policy)
    return LoadedPair(est, ref, est_rate)


def apply_length_policy(est, ref, policy):
    n_est, n_ref = est.shape[-1], ref.shape[-1]
    if n_est == n_ref:
        return est, ref
    if policy == "trim":
        n = min(n_est, n_ref)
        return est[:, :n], ref[:, :n]
    if policy == "pad":
        n = max(n_est, n_ref)
        return (np.pad(est, ((0, 0), (0, n - n_est))),
                np.pad(ref, ((0, 0), (0, n - n_ref))))
    raise PairError(f"lengths differ: estimate {n_est} samples, reference {n_ref} "
                    "(choose --length-policy trim or pad to compare them anyway)")
