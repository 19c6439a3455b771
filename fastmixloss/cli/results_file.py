"""The results file: one row per pair, written as each pair finishes, resumable.

Every row is one line (CSV or JSON Lines) written with a single write and flushed, so a run
killed at any moment leaves every finished row on disk and at most one torn last line,
which the next run cuts off before resuming. Error messages are kept to one line so that
"ends with a newline" and "is complete" mean the same thing.

Parquet cannot be appended to row by row: its rows go to a JSON Lines journal beside it
(`results.parquet.partial.jsonl`), and the Parquet file is rewritten from the journal
(atomically, by rename) every minute and at the end, when the journal is removed.
"""

import csv
import io
import json
import math
import os
import time

# Columns before the losses'. `settings` is a hash of the losses and their parameters:
# a resumed run refuses to add rows computed with different ones.
BASE_COLUMNS = ("pair", "error", "est", "ref", "sample_rate", "channels", "samples",
                "settings")
INT_COLUMNS = ("sample_rate", "channels", "samples")
TEXT_COLUMNS = ("pair", "error", "est", "ref", "settings")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


class ResultsError(Exception):
    """The results file cannot be used as asked; the message names it and says why."""


def results_format(path):
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise ResultsError(f"--out {path}: unknown results format {ext or '(none)'!r}; "
                           "name the file .csv, .jsonl or .parquet")
    if FORMATS[ext] == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ResultsError(
                f"--out {path}: writing Parquet needs pyarrow; install it with "
                "python -m pip install 'fastmixloss[parquet]', or use .csv or .jsonl"
            ) from None
    return FORMATS[ext]


def summary_path(path):
    return os.path.splitext(path)[0] + ".summary.json"


def one_line(message):
    return " | ".join(part.strip() for part in str(message).splitlines() if part.strip())


def drop_torn_tail(path):
    """Cut a last line that has no newline (a write cut short by a kill). Returns the
    number of bytes removed."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return 0
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return 0
        pos, keep = size, 0
        while pos > 0:
            step = min(65536, pos)
            pos -= step
            f.seek(pos)
            found = f.read(step).rfind(b"\n")
            if found >= 0:
                keep = pos + found + 1
                break
        f.truncate(keep)
        return size - keep


def _lock(f, path):
    """Refuse to share a results file with another running fastmixloss."""
    try:
        import fcntl
    except ImportError:   # Windows: no advisory locks here; one run at a time is on you
        return
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise ResultsError(f"{path} is being written by another fastmixloss run") from None


def _typed(column, value):
    """A value read back from CSV text, as the writer had it."""
    if value is None or value == "":
        return None
    if column in TEXT_COLUMNS:
        return value
    if column in INT_COLUMNS:
        return int(value)
    return float(value)


class _LineFile:
    """Shared by CSV and JSON Lines: open for append, cut a torn tail, lock."""

    def __init__(self, path, columns, overwrite):
        self.path = path
        self.columns = tuple(columns)
        self.dropped_bytes = 0
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        # lock first, then change anything: another run may be appending to it
        self._file = open(path, "a+", encoding="utf-8", newline="")
        try:
            _lock(self._file, path)
        except ResultsError:
            self._file.close()
            raise
        if overwrite:
            self._file.truncate(0)
        else:
            self.dropped_bytes = drop_torn_tail(path)
        self._file.seek(0)
        self.existing = self._read_existing()
        self._file.seek(0, os.SEEK_END)
        if self._file.tell() == 0:
            self._start()

    def _start(self):
        pass

    def write(self, row):
        # one write call per row, then flush: a kill leaves whole rows and at most one
        # torn line, never an interleaving
        self._file.write(self._line(row))
        self._file.flush()

    def close(self):
        self._file.close()


class CsvResults(_LineFile):
    def _read_existing(self):
        text = self._file.read()
        if not text:
            return []
        reader = csv.reader(io.StringIO(text))
        header = next(reader)
        if tuple(header) != self.columns:
            raise ResultsError(
                f"{self.path} has other columns than this run writes (other losses or "
                "parameters); use another --out, or --overwrite to start it again")
        rows = []
        for number, values in enumerate(reader, start=2):
            if len(values) != len(header):
                raise ResultsError(f"{self.path} line {number} has {len(values)} fields, "
                                   f"not {len(header)}; it was not written by fastmixloss")
            rows.append({c: _typed(c, v) for c, v in zip(header, values)})
        return rows

    def _start(self):
        self._file.write(self._line(dict(zip(self.columns, self.columns))))
        self._file.flush()

    def _line(self, row):
        buffer = io.StringIO()
        # repr of a float round-trips exactly: the file holds the library's values
        csv.writer(buffer, lineterminator="\n").writerow(
            ["" if row.get(c) is None else row[c] for c in self.columns])
        return buffer.getvalue()


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None   # JSON has no NaN or Infinity; other readers would choke on them
    return value


class JsonlResults(_LineFile):
    def _read_existing(self):
        rows = []
        for number, line in enumerate(self._file.read().splitlines(), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ResultsError(f"{self.path} line {number} is not JSON; it was not "
                                   "written by fastmixloss") from None
            if set(row) != set(self.columns):
                raise ResultsError(
                    f"{self.path} has other columns than this run writes (other losses or "
                    "parameters); use another --out, or --overwrite to start it again")
            rows.append(row)
        return rows

    def _line(self, row):
        return json.dumps({c: _json_value(row.get(c)) for c in self.columns}) + "\n"


class ParquetResults:
    """Rows journalled to JSON Lines; the Parquet file rewritten from time to time."""

    CHECKPOINT_SECONDS = 60.0

    def __init__(self, path, columns, overwrite):
        self.path = path
        self.columns = tuple(columns)
        self.journal_path = path + ".partial.jsonl"
        if overwrite:
            for stale in (path, self.journal_path):
                if os.path.exists(stale):
                    os.remove(stale)
        saved = self._read_parquet() if os.path.exists(path) else []
        self._journal = JsonlResults(self.journal_path, columns, overwrite=False)
        self.dropped_bytes = self._journal.dropped_bytes
        saved_keys = {r["pair"] for r in saved}
        # rows in both: a checkpoint was written but the journal not yet removed
        self._journal_rows = [r for r in self._journal.existing
                              if r["pair"] not in saved_keys]
        self.existing = saved + self._journal_rows
        self._saved = saved
        self._last_checkpoint = time.monotonic()

    def _read_parquet(self):
        import pyarrow.parquet as pq
        try:
            table = pq.read_table(self.path)
        except Exception as exc:   # pyarrow raises ArrowInvalid and others
            raise ResultsError(f"{self.path} cannot be read as Parquet: {exc}") from None
        if tuple(table.column_names) != self.columns:
            raise ResultsError(
                f"{self.path} has other columns than this run writes (other losses or "
                "parameters); use another --out, or --overwrite to start it again")
        return table.to_pylist()

    def write(self, row):
        self._journal.write(row)
        self._journal_rows.append({c: _json_value(row.get(c)) for c in self.columns})
        if time.monotonic() - self._last_checkpoint > self.CHECKPOINT_SECONDS:
            self._checkpoint()

    def _checkpoint(self):
        import pyarrow as pa
        import pyarrow.parquet as pq
        schema = pa.schema([
            (c, pa.string() if c in TEXT_COLUMNS else
             pa.int64() if c in INT_COLUMNS else pa.float64()) for c in self.columns])
        rows = self._saved + self._journal_rows
        table = pa.Table.from_pylist(rows, schema=schema)
        partial = self.path + ".writing"
        pq.write_table(table, partial)
        os.replace(partial, self.path)   # readers see the old file or the new, never half
        self._last_checkpoint = time.monotonic()

    def close(self):
        self._checkpoint()
        self._journal.close()
        os.remove(self.journal_path)


def open_results(path, columns, overwrite=False):
    kind = results_format(path)
    cls = {"csv": CsvResults, "jsonl": JsonlResults, "parquet": ParquetResults}[kind]
    return cls(path, columns, overwrite)
