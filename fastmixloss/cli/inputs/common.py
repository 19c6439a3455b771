"""What the input formats share: the field names, parts, and manifests' rows."""

import os
from dataclasses import dataclass

from ..audio import Pair
from ..errors import CommandError


@dataclass(frozen=True)
class Keys:
    """The names of the estimate, reference and id fields (--est-key, --ref-key,
    --id-key): a manifest's keys or columns, a table's columns, a shard's suffixes."""

    est: str = "est"
    ref: str = "ref"
    id: str = "id"


class PairPart:
    """One pair of files as a part: read from absolute paths where it runs, named in its
    row as the user gave them."""

    def __init__(self, pair):
        self.pair = pair.absolute()
        self.names = {pair.key: (pair.est, pair.ref)}

    def pairs(self):
        yield self.pair


class ListedSource:
    """Pairs listed in full before the run (folders, a CSV or JSON-lines manifest): they
    hold names only."""

    def __init__(self, listed):
        self.listed = listed

    def count(self):
        return len(self.listed)

    def keys(self):
        return [pair.key for pair in self.listed]

    def pairs(self):
        return iter(self.listed)

    def parts(self):
        return (PairPart(pair) for pair in self.listed)


class StreamedSource:
    """Pairs read part by part (row groups, shards): pairs() is every part's in order."""

    def count(self):
        return None

    def keys(self):
        return None

    def parts(self):
        raise NotImplementedError

    def pairs(self):
        for part in self.parts():
            yield from part.pairs()


def has_suffix(path, suffixes):
    return path.lower().endswith(suffixes)


def relative_to(manifest, path):
    """A manifest's path: relative ones are relative to the manifest's folder."""
    return os.path.join(os.path.dirname(os.path.abspath(manifest)), path)


def manifest_pairs(manifest, records, keys):
    """Pairs of a manifest's records ((line number, {field: text})): paths relative to
    the manifest's folder; named by the id field, else the estimate's path as written
    (score refuses a name given twice). CommandError for a record with neither path."""
    pairs = []
    for number, record in records:
        est, ref, key = ((record.get(field) or "").strip()
                         for field in (keys.est, keys.ref, keys.id))
        key = key or est or ref
        if not key:
            raise CommandError(f"--pairs {manifest} line {number}: no {keys.est} or "
                               f"{keys.ref}")
        pairs.append(Pair(key, relative_to(manifest, est) if est else None,
                          relative_to(manifest, ref) if ref else None))
    return pairs
