"""--pairs TABLE.parquet (or a folder of Parquet shards): a table as Hugging Face
`datasets` writes it (to_parquet, push_to_hub), with two Audio columns, each a struct of
the encoded file's bytes and its path, and an id column (--est-key, --ref-key, --id-key).

The audio is decoded from memory (or read from its path where the table holds none,
relative to the table); the table is read row group by row group, a few rows at a time,
never whole. A row group is the part a Dask worker scores.
"""

import contextlib
import os

from ..audio import Pair
from ..errors import STOPPED, CommandError
from .common import StreamedSource, has_suffix, relative_to

# rows decoded from the table at a time: their encoded audio is what is held
ROWS_AT_A_TIME = 8


def claims(paths):
    return len(paths) == 1 and (has_suffix(paths[0], ".parquet") or bool(_shards(paths[0])))


def _shards(folder):
    """The Parquet files under a folder, sorted by relative path (as datasets names its
    shards: train-00000-of-00002.parquet, ...)."""
    if not os.path.isdir(folder):
        return []
    found = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        found += [os.path.join(root, name) for name in files
                  if has_suffix(name, ".parquet") and not name.startswith(".")]
    return sorted(found)


def pyarrow_parquet(what):
    try:
        import pyarrow.parquet
    except ImportError:
        raise CommandError(f"{what} needs pyarrow; install it with python -m pip install "
                           "'fastmixloss[parquet]'") from None
    return pyarrow.parquet


def open_source(paths, keys):
    (path,) = paths
    files = _shards(path) if os.path.isdir(path) else [path]
    parquet = pyarrow_parquet(f"--pairs {path}")
    return ParquetSource([_opened(parquet, name, keys) for name in files], keys)


def _opened(parquet, name, keys):
    """(name, row groups' sizes, id column or None) of one shard, its columns checked."""
    try:
        table = parquet.ParquetFile(name)
    except OSError as exc:
        raise CommandError(f"--pairs {name}: {exc}") from None
    except Exception as exc:   # noqa: BLE001 -- pyarrow's ArrowInvalid: not Parquet
        raise CommandError(f"--pairs {name}: not a Parquet file: {exc}") from None
    columns = check_columns(name, table.schema_arrow, keys)
    sizes = [table.metadata.row_group(i).num_rows
             for i in range(table.metadata.num_row_groups)]
    return name, sizes, columns


def check_columns(name, schema, keys):
    """The columns to read; CommandError naming the table's columns when the estimate's
    or the reference's is missing or holds no audio."""
    import pyarrow as pa
    present = schema.names
    missing = [c for c in (keys.est, keys.ref) if c not in present]
    if missing:
        raise CommandError(
            f"--pairs {name}: no column {' or '.join(missing)} (columns: "
            f"{', '.join(present) or 'none'}); name them with --est-key and --ref-key")
    for column in (keys.est, keys.ref):
        kind = schema.field(column).type
        audio = (pa.types.is_struct(kind)
                 and {kind.field(i).name for i in range(kind.num_fields)} >= {"bytes"})
        if not (audio or pa.types.is_string(kind) or pa.types.is_large_string(kind)):
            raise CommandError(
                f"--pairs {name}: column {column} is {kind}, not audio (an Audio column: a "
                "struct of bytes and path; or a path)")
    return [c for c in (keys.est, keys.ref, keys.id) if c in present]


class ParquetSource(StreamedSource):
    def __init__(self, shards, keys):
        self.shards, self.fields = shards, keys

    def count(self):
        return sum(sum(sizes) for _, sizes, _ in self.shards)

    def keys(self):
        """The ids, when every row of every shard has one (only that column is read);
        else None."""
        if not all(self.fields.id in columns for _, _, columns in self.shards):
            return None
        parquet = pyarrow_parquet("a Parquet table")
        keys = []
        for name, _, _ in self.shards:
            with read_errors(name):
                ids = parquet.ParquetFile(name).read(columns=[self.fields.id]).column(0)
            for given in ids.to_pylist():
                if given is None or not str(given).strip():
                    return None   # that row is named by its estimate's path
                keys.append(str(given))
        return keys

    def parts(self):
        for name, sizes, columns in self.shards:
            first = 0
            for index, size in enumerate(sizes):
                yield RowGroup(name, index, first, columns, self.fields)
                first += size


class RowGroup:
    """One row group of one shard; its rows are named by their number in the shard."""

    names = None

    def __init__(self, name, index, first_row, columns, keys):
        self.name, self.location = name, os.path.abspath(name)
        self.index, self.first_row = index, first_row
        self.columns, self.keys = columns, keys

    def pairs(self):
        with read_errors(self.name):
            table = pyarrow_parquet("a Parquet table").ParquetFile(self.location)
            batches = table.iter_batches(batch_size=ROWS_AT_A_TIME,
                                         row_groups=[self.index], columns=self.columns)
        yield from table_pairs(self.name, self.location, self.first_row, batches,
                               self.keys)


def table_pairs(name, location, first_row, batches, keys):
    """The pairs of a table's record batches, row `first_row` first."""
    row = first_row
    while True:
        with read_errors(name):
            batch = next(batches, None)
        if batch is None:
            return
        for record in batch.to_pylist():
            yield record_pair(name, location, row, record, keys)
            row += 1


@contextlib.contextmanager
def read_errors(name):
    """A table that cannot be read on (cut short, corrupt) stops the run, its rows so far
    kept."""
    try:
        yield
    except CommandError:
        raise
    except Exception as exc:   # noqa: BLE001 -- OSError, pyarrow's ArrowInvalid
        raise CommandError(f"--pairs {name}: cannot read the table: {exc}",
                           STOPPED) from None


def record_pair(name, location, row, record, keys):
    """The Pair of one row: named by its id, else by the estimate's path in the table,
    else by its row; each file `NAME row N COLUMN` in messages, its bytes from the row
    (or the file at the path the row gives, relative to the table)."""
    sides = [_audio(name, location, row, column, record.get(column))
             for column in (keys.est, keys.ref)]
    (est, est_data, est_path), (ref, ref_data, _) = sides
    return Pair(record_key(name, row, record.get(keys.id), est_path), est, ref, est_data,
                ref_data)


def record_key(name, row, given, est_path):
    """A row's name: its id, else its estimate's path in the table, else its row."""
    if given is not None and str(given).strip():
        return str(given)
    return est_path or f"{os.path.basename(name)} row {row}"


def _audio(name, location, row, column, value):
    """(file name, bytes or None, path in the table or None) of one cell; no name when
    the cell is empty (a missing partner)."""
    if isinstance(value, str):   # a path column
        value = {"bytes": None, "path": value}
    if value is None or (value.get("bytes") is None and not value.get("path")):
        return None, None, None
    path = value.get("path") or None
    label = f"{name} row {row} {column}"
    if value.get("bytes") is not None:
        return label, value["bytes"], path
    # as datasets stores a file it did not embed: read from its path
    return relative_to(location, path), None, path
