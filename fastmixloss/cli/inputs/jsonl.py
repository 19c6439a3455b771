"""--pairs MANIFEST.jsonl: one JSON object per line with the estimate's and the
reference's paths (relative to the manifest) and optionally the pair's id, as NeMo and
Lhotse write manifests (--est-key input_filepath --ref-key target_filepath)."""

import json

from ..errors import CommandError
from .common import ListedSource, has_suffix, manifest_pairs


def claims(paths):
    return len(paths) == 1 and has_suffix(paths[0], (".jsonl", ".json", ".ndjson"))


def open_source(paths, keys):
    (path,) = paths
    records = []
    try:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise CommandError(f"--pairs {path} line {number}: not JSON: "
                                       f"{exc}") from None
                if not isinstance(record, dict):
                    raise CommandError(f"--pairs {path} line {number}: not a JSON object")
                missing = [k for k in (keys.est, keys.ref) if k not in record]
                if missing:
                    raise CommandError(
                        f"--pairs {path} line {number}: no {' or '.join(missing)} (keys: "
                        f"{', '.join(record) or 'none'}); name the keys with --est-key "
                        "and --ref-key (and --id-key)")
                records.append((number, {k: _text(v) for k, v in record.items()}))
    except OSError as exc:
        raise CommandError(f"--pairs {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"--pairs {path}: not UTF-8 text (byte {exc.start}); save "
                           "the manifest as UTF-8") from None
    return ListedSource(manifest_pairs(path, records, keys))


def _text(value):
    """A field as text: an id may be a number; null is no value."""
    return None if value is None else str(value)
