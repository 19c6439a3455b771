"""EST_DIR REF_DIR: files paired by relative path."""

import os

from ..audio import AUDIO_EXTENSIONS, Pair
from ..errors import CommandError
from .common import ListedSource

# unmatched names shown when no file is paired
EXAMPLES = 3


def open_source(est_dir, ref_dir):
    pairs = pairs_from_folders(est_dir, ref_dir)
    if not pairs:
        raise CommandError(
            f"no audio files found under {est_dir} or {ref_dir} (looked for "
            f"{', '.join(AUDIO_EXTENSIONS)}); nothing to score")
    if all(pair.est is None or pair.ref is None for pair in pairs):
        raise CommandError(_no_match(est_dir, ref_dir, pairs))
    return ListedSource(pairs)


def _no_match(est_dir, ref_dir, pairs):
    """Why two folders with no pair at all are refused, with a few names of each side
    (one line: the command line's errors are)."""
    sides = []
    for side, folder in (("est", est_dir), ("ref", ref_dir)):
        names = [pair.key for pair in pairs if getattr(pair, side) is not None]
        more = f" and {len(names) - EXAMPLES} more" if len(names) > EXAMPLES else ""
        sides.append(f"{folder} has {', '.join(names[:EXAMPLES]) or 'no audio files'}{more}")
    return (f"no estimate under {est_dir} has a reference at the same relative path under "
            f"{ref_dir} (or differing only in its audio extension); nothing to score: "
            f"{'; '.join(sides)}")


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


