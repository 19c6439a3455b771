"""--pairs FOLDER: a Hugging Face datasets folder as `save_to_disk` writes it (Arrow
stream shards data-00000-of-00002.arrow, ..., beside dataset_info.json), or one such
.arrow file; the columns as in a Parquet table (parquet.py). Each shard is read record
batch by record batch from a memory map; a shard is the part a Dask worker scores."""

import os

from ..errors import CommandError
from .common import StreamedSource, has_suffix
from .parquet import ROWS_AT_A_TIME, check_columns, read_errors, table_pairs


def _shards(path):
    if has_suffix(path, ".arrow") and os.path.isfile(path):
        return [path]
    if not os.path.isdir(path):
        return []
    return sorted(os.path.join(path, name) for name in os.listdir(path)
                  if has_suffix(name, ".arrow") and not name.startswith("."))


def claims(paths):
    return len(paths) == 1 and bool(_shards(paths[0]))


def _pyarrow(what):
    try:
        import pyarrow
    except ImportError:
        raise CommandError(f"{what} needs pyarrow; install it with python -m pip install "
                           "'fastmixloss[parquet]'") from None
    return pyarrow


def _batches(location):
    pa = _pyarrow("an Arrow table")
    reader = pa.ipc.open_stream(pa.memory_map(location))
    for batch in reader:
        for start in range(0, batch.num_rows, ROWS_AT_A_TIME):
            yield batch.slice(start, ROWS_AT_A_TIME)


def open_source(paths, keys):
    (path,) = paths
    pa = _pyarrow(f"--pairs {path}")
    shards = []
    for name in _shards(path):
        try:
            schema = pa.ipc.open_stream(pa.memory_map(name)).schema
        except Exception as exc:   # noqa: BLE001 -- OSError, ArrowInvalid
            raise CommandError(f"--pairs {name}: not an Arrow stream file as datasets "
                               f"writes them: {exc}") from None
        shards.append(ArrowShard(name, check_columns(name, schema, keys), keys))
    return ArrowSource(shards)


class ArrowSource(StreamedSource):
    def __init__(self, shards):
        self.shards = shards

    def parts(self):
        return iter(self.shards)


class ArrowShard:
    names = None

    def __init__(self, name, columns, keys):
        self.name, self.location = name, os.path.abspath(name)
        self.columns, self.keys = columns, keys

    def pairs(self):
        with read_errors(self.name):
            batches = (batch.select(self.columns) for batch in _batches(self.location))
        yield from table_pairs(self.name, self.location, 0, batches, self.keys)
