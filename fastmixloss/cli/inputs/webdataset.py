"""--pairs SHARD.tar ...: WebDataset shards (several, or brace patterns such as
shard-{000..009}.tar), whose members pair by key: KEY.est.wav with KEY.ref.flac (any
extension soundfile reads; the suffixes est and ref are --est-key and --ref-key).

Each shard is read as a stream, member after member (a compressed one too), holding
one key's files at a time; a shard is the part a Dask worker scores. Members of other
suffixes (KEY.json, ...) are skipped. A key's members sit together, as WebDataset
writes them; a key seen again later is a name given twice.
"""

import os
import re
import tarfile

from ..audio import Pair
from ..errors import STOPPED, CommandError
from .common import StreamedSource, has_suffix

SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")
# WebDataset's key: the member's path up to the first dot of its file name
_KEY = re.compile(r"^((?:.*/|)[^./][^.]*)\.([^/]*)$")
_BRACES = re.compile(r"\{(\d+)\.\.(\d+)\}")


def expand_braces(paths):
    """shard-{000..009}.tar as ten names, zero-padded as written (a shell expands them
    when unquoted; quoted, as WebDataset's own tools take them, they reach us whole)."""
    expanded = []
    for path in paths:
        match = _BRACES.search(path)
        if match is None:
            expanded.append(path)
            continue
        first, last = match[1], match[2]
        width = len(first) if first.startswith("0") else 0
        step = 1 if int(last) >= int(first) else -1
        numbers = range(int(first), int(last) + step, step)
        expanded += expand_braces([path[:match.start()] + str(n).zfill(width)
                                   + path[match.end():] for n in numbers])
    return expanded


def claims(paths):
    return bool(paths) and all(has_suffix(p, SUFFIXES) for p in paths)


def open_source(paths, keys):
    for path in paths:
        if not os.path.isfile(path):
            raise CommandError(f"--pairs {path}: no such shard")
    return ShardSource([Shard(path, keys) for path in paths])


def split_member(name):
    """(key, suffix) of a member name: a/b/song.est.wav -> (a/b/song, est.wav)."""
    match = _KEY.match(name)
    return (match[1], match[2]) if match else (None, None)


class ShardSource(StreamedSource):
    def __init__(self, shards):
        self.shards = shards

    def count(self):
        """Pairs, when every shard is an uncompressed tar (its headers are read, skipping
        the audio); None otherwise."""
        keys = self.keys()
        return None if keys is None else len(keys)

    def keys(self):
        if not all(has_suffix(shard.name, ".tar") for shard in self.shards):
            return None
        found = []
        for shard in self.shards:
            try:
                with tarfile.open(shard.location, "r:") as tar:
                    found += shard.keys_of(member.name for member in tar
                                           if member.isfile())
            except (OSError, tarfile.TarError) as exc:
                raise CommandError(f"--pairs {shard.name}: not a tar file: {exc}") from None
        return found

    def parts(self):
        return iter(self.shards)


class Shard:
    names = None

    def __init__(self, name, keys):
        self.name, self.location, self.fields = name, os.path.abspath(name), keys

    def _role(self, suffix):
        """"est" or "ref" for a member's suffix (est.wav, ref.flac), else None."""
        role = suffix.split(".", 1)[0]
        return {self.fields.est: "est", self.fields.ref: "ref"}.get(role)

    def keys_of(self, names):
        """The keys of the pairs among these member names, in order."""
        keys = []
        for name in names:
            key, suffix = split_member(name)
            if key is not None and self._role(suffix) and (not keys or keys[-1] != key):
                keys.append(key)
        return keys

    def pairs(self):
        try:
            with tarfile.open(self.location, "r|*") as tar:
                key, members = None, {}
                for member in tar:
                    if not member.isfile():
                        continue
                    member_key, suffix = split_member(member.name)
                    role = None if member_key is None else self._role(suffix)
                    if role is None:
                        continue
                    if member_key != key:
                        if key is not None:
                            yield self._pair(key, members)
                        key, members = member_key, {}
                    members.setdefault(role, []).append(
                        (member.name, tar.extractfile(member).read()))
                if key is not None:
                    yield self._pair(key, members)
        except (OSError, tarfile.TarError, EOFError) as exc:
            # the pairs before it are scored: the run stops, its rows kept
            raise CommandError(f"--pairs {self.name}: cannot read the shard: {exc}",
                               STOPPED) from None

    def _pair(self, key, members):
        named = {role: [(f"{self.name}:{name}", data) for name, data in found]
                 for role, found in members.items()}
        (est, est_data), (ref, ref_data) = (named.get(role, [(None, None)])[0]
                                            for role in ("est", "ref"))
        repeated = [names for names in named.values() if len(names) > 1]
        problem = None
        if repeated:
            problem = (f"key {key} has several files for one side: "
                       f"{', '.join(name for name, _ in repeated[0])}")
        return Pair(key, est, ref, est_data, ref_data, problem)
