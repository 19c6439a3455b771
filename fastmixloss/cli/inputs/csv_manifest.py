"""--pairs MANIFEST.csv: a CSV whose columns name the estimate's and the reference's paths
(relative to the manifest) and optionally the pair's id."""

import csv

from ..errors import CommandError
from .common import ListedSource, has_suffix, manifest_pairs


def claims(paths):
    # the manifest of old: any single file not claimed by the other formats
    return len(paths) == 1 and not has_suffix(paths[0], (".jsonl", ".json", ".ndjson"))


def open_source(paths, keys):
    (path,) = paths
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = reader.fieldnames or []
            missing = [c for c in (keys.est, keys.ref) if c not in fields]
            if missing:
                raise CommandError(
                    f"--pairs {path}: no column {' or '.join(missing)} (columns: "
                    f"{', '.join(fields) or 'none'}); it needs {keys.est} and {keys.ref}, "
                    f"optionally {keys.id} (other names: --est-key, --ref-key, --id-key)")
            records = list(enumerate(reader, start=2))
    except OSError as exc:
        raise CommandError(f"--pairs {path}: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise CommandError(f"--pairs {path}: not UTF-8 text (byte {exc.start}); save "
                           "the manifest as UTF-8") from None
    except csv.Error as exc:
        raise CommandError(f"--pairs {path}: not a CSV file fastmixloss can read: "
                           f"{exc}") from None
    return ListedSource(manifest_pairs(path, records, keys))
