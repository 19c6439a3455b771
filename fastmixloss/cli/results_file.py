"""The results file: one row per pair, written as each pair finishes, resumable.

Every row is one line (CSV or JSON Lines) written with a single write, so a run killed at
any moment leaves every finished row on disk and at most one torn last line, which the next
run cuts off before resuming. Text is stored so that this holds: error messages are kept to
one line, and line breaks and other control characters in file names are written as
backslash escapes (`stored_text`), as are bytes of a name that are not UTF-8. "Ends with a
newline" and "is complete" then mean the same thing.

A file that was not written by fastmixloss is never modified: its lines are checked before
a torn tail is cut.

Parquet cannot be appended to row by row: its rows go to a JSON Lines journal beside it
(`results.parquet.partial.jsonl`), and the Parquet file is rewritten from the journal
(atomically, by rename) every minute and at the end, when the journal is removed.
"""

import csv
import io
import json
import math
import os
import tempfile
import time

from .errors import CommandError

# Columns before the losses'. `settings` is a hash of the losses and their parameters:
# a resumed run refuses to add rows computed with different ones.
BASE_COLUMNS = ("pair", "error", "est", "ref", "sample_rate", "channels", "samples",
                "settings")
INT_COLUMNS = ("sample_rate", "channels", "samples")
TEXT_COLUMNS = ("pair", "error", "est", "ref", "settings")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}

# Characters that end a line for some reader (csv, str.splitlines, editors), or that a
# terminal would act on: written as escapes so that one row stays one line.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(32), 0x7f, 0x85)}
_ESCAPES.update({ord("\r"): "\\r", ord("\n"): "\\n", ord("\t"): "\\t",
                 0x2028: "\\u2028", 0x2029: "\\u2029"})


def results_format(path):
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise CommandError(f"--out {path}: unknown results format {ext or '(none)'!r}; "
                           "name the file .csv, .jsonl or .parquet")
    if FORMATS[ext] == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise CommandError(
                f"--out {path}: writing Parquet needs pyarrow; install it with "
                "python -m pip install 'fastmixloss[parquet]', or use .csv or .jsonl"
            ) from None
    return FORMATS[ext]


def summary_path(path):
    """results.csv -> results.csv.summary.json: the whole name, so that results.csv and
    results.jsonl in one folder keep separate summaries."""
    return os.fspath(path) + ".summary.json"


def one_line(message):
    return " | ".join(part.strip() for part in str(message).splitlines() if part.strip())


def os_error_text(exc):
    """'PATH: reason' for an OSError, on one line."""
    reason = exc.strerror or one_line(exc) or type(exc).__name__
    return f"{stored_text(exc.filename)}: {reason}" if exc.filename else reason


def stored_text(text):
    """How a text value (a file name, an error) is written: valid UTF-8 on one line.

    Bytes of a file name that are not UTF-8 (Python holds them as lone surrogates) become
    `\\xNN`, line breaks and control characters become `\\r`, `\\n`, `\\xNN`. Resuming
    compares pairs in this form, so such names resume like any other."""
    if text is None:
        return None
    text = str(text)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:   # a surrogate that did not come from a file name
            raw = text.encode("utf-8", "backslashreplace")
        text = raw.decode("utf-8", "backslashreplace")
    return text.translate(_ESCAPES)


def storable(row):
    """The row as the results file holds it (text columns through `stored_text`)."""
    return {c: stored_text(v) if c in TEXT_COLUMNS else v for c, v in row.items()}


def write_atomically(path, text):
    """Write `text` to `path` so that a reader (or a crash, or a full disk) sees the old
    file or the new one, never half of one."""
    folder = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=os.path.basename(path) + ".",
                                         suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.remove(temporary)
        except OSError:
            pass
        raise


def drop_torn_tail(path):
    """Cut a last line that has no newline (a write cut short by a kill). Returns the
    number of bytes removed."""
    with open(path, "rb+") as f:
        size = f.seek(0, os.SEEK_END)
        keep = _complete_length(f, size)
        if keep != size:
            f.truncate(keep)
        return size - keep


def _complete_length(f, size):
    """Bytes up to and including the last newline of the open binary file `f`."""
    pos = size
    while pos > 0:
        step = min(65536, pos)
        pos -= step
        f.seek(pos)
        found = f.read(step).rfind(b"\n")
        if found >= 0:
            return pos + found + 1
    return 0


def _lock(f, path):
    """Refuse to share a results file with another running fastmixloss."""
    try:
        import fcntl
    except ImportError:   # Windows: no advisory locks here; one run at a time is on you
        return
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        raise CommandError(f"{path} is being written by another fastmixloss run") from None
    # a run retrying errors replaces the file: a lock on the file it replaced guards
    # nothing, so the name must still lead to the file we locked
    try:
        same = os.path.samestat(os.fstat(f.fileno()), os.stat(path))
    except FileNotFoundError:
        same = False
    if not same:
        raise CommandError(f"{path} was replaced by another fastmixloss run while this "
                           "one opened it; run the command again")


def _write_all(f, data):
    """One row, written whole (a short write only happens when the disk is full; the
    next write then raises, leaving a torn line that resume cuts)."""
    view = memoryview(data)
    while view:
        view = view[f.write(view):]


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
    """Shared by CSV and JSON Lines: open for append, check, cut a torn tail, lock.

    overwrite: start the file again."""

    def __init__(self, path, columns, overwrite):
        self.path = os.fspath(path)
        self.columns = tuple(columns)
        self.dropped_bytes = 0
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        # unbuffered: each row is one write call, and nothing waits in a buffer
        self._file = open(self.path, "a+b", buffering=0)
        try:
            # lock first, then change anything: another run may be appending to it
            _lock(self._file, self.path)
            if overwrite:
                self._file.truncate(0)
            self.existing = self._check_and_cut_tail()
            if self._file.seek(0, os.SEEK_END) == 0:
                self._start(self._file)
        except BaseException:
            self._file.close()
            raise

    def _check_and_cut_tail(self):
        """Rows of the complete lines; then, only if they show the file is ours, cut a
        torn last line."""
        size = self._file.seek(0, os.SEEK_END)
        complete = _complete_length(self._file, size)
        self._file.seek(0)
        data = self._file.read(size)
        try:
            text = data[:complete].decode("utf-8")
        except UnicodeDecodeError:
            raise CommandError(f"{self.path} is not UTF-8 text; it was not written by "
                               "fastmixloss (use another --out)") from None
        rows = self._parse(text)
        tail = data[complete:]
        if tail:
            if not (rows or text) and not self._could_start_file(tail):
                raise CommandError(
                    f"{self.path} was not written by fastmixloss (its only line is not "
                    "one of ours); use another --out")
            self._file.truncate(complete)
            self.dropped_bytes = len(tail)
        return rows

    def drop_error_rows(self):
        """Remove the rows that hold an error, so that their pairs are scored again; returns
        them. The other rows go to a new file that replaces this one (locked before it
        does): at every moment the file is the old one or the new one."""
        failed = [r for r in self.existing if r.get("error")]
        if not failed:
            return []
        kept = [r for r in self.existing if not r.get("error")]
        replacement = open(self.path + ".rewriting", "w+b", buffering=0)
        try:
            _lock(replacement, self.path + ".rewriting")
            self._start(replacement)
            for row in kept:
                _write_all(replacement, self._line(row))
            os.fsync(replacement.fileno())
            os.replace(self.path + ".rewriting", self.path)
        except BaseException:
            replacement.close()
            raise
        self._file.close()
        self._file = replacement
        self.existing = kept
        return failed

    def _could_start_file(self, tail):
        return False

    def _start(self, f):
        pass

    def write(self, row):
        """Append one row; returns it as stored (see `storable`)."""
        row = storable(row)
        # one write call per row: a kill leaves whole rows and at most one torn line
        _write_all(self._file, self._line(row))
        return row

    def close(self):
        self._file.close()

    abandon = close   # nothing is buffered: closing after a failed write loses nothing


class CsvResults(_LineFile):
    def _parse(self, text):
        if not text:
            return []
        try:
            records = list(csv.reader(io.StringIO(text, newline="")))
        except csv.Error as exc:
            raise CommandError(f"{self.path} is not a CSV file fastmixloss can read "
                               f"({exc}); use another --out") from None
        header = records[0]
        if tuple(header) != self.columns:
            if header[:len(BASE_COLUMNS)] == list(BASE_COLUMNS):
                raise CommandError(
                    f"{self.path} has other columns than this run writes (other losses "
                    "or parameters); use another --out, or --overwrite to start it again")
            raise CommandError(f"{self.path} was not written by fastmixloss (its first "
                               "line is not our header); use another --out")
        rows = []
        for number, values in enumerate(records[1:], start=2):
            if len(values) != len(header):
                raise CommandError(f"{self.path} line {number} has {len(values)} fields, "
                                   f"not {len(header)}; it was not written by fastmixloss")
            try:
                rows.append({c: _typed(c, v) for c, v in zip(header, values)})
            except ValueError:
                raise CommandError(f"{self.path} line {number} holds a value that is not "
                                   "a number; it was not written by fastmixloss") from None
        return rows

    def _header(self):
        return self._line(dict(zip(self.columns, self.columns)))

    def _could_start_file(self, tail):
        # a kill while the header itself was being written
        return self._header().startswith(tail)

    def _start(self, f):
        _write_all(f, self._header())

    def _line(self, row):
        buffer = io.StringIO()
        # repr of a float round-trips exactly: the file holds the library's values
        csv.writer(buffer, lineterminator="\n").writerow(
            ["" if row.get(c) is None else row[c] for c in self.columns])
        return buffer.getvalue().encode("utf-8")


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None   # JSON has no NaN or Infinity; other readers would choke on them
    return value


class JsonlResults(_LineFile):
    def _parse(self, text):
        rows = []
        for number, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict) or "pair" not in row:
                raise CommandError(f"{self.path} line {number} is not one of our JSON "
                                   "rows; it was not written by fastmixloss") from None
            if set(row) != set(self.columns):
                raise CommandError(
                    f"{self.path} has other columns than this run writes (other losses or "
                    "parameters); use another --out, or --overwrite to start it again")
            rows.append(row)
        return rows

    def _could_start_file(self, tail):
        start = b'{"pair": '
        return tail.startswith(start) or start.startswith(tail)

    def _line(self, row):
        return (json.dumps({c: _json_value(row.get(c)) for c in self.columns})
                + "\n").encode("utf-8")


class ParquetResults:
    """Rows journalled to JSON Lines; the Parquet file rewritten from time to time."""

    CHECKPOINT_SECONDS = 60.0

    def __init__(self, path, columns, overwrite):
        self.path = os.fspath(path)
        self.columns = tuple(columns)
        self.journal_path = self.path + ".partial.jsonl"
        journal_was_there = os.path.exists(self.journal_path)
        # the journal's lock guards the Parquet file too: take it before touching either
        self._journal = JsonlResults(self.journal_path, columns, overwrite=overwrite)
        try:
            if overwrite and os.path.exists(self.path):
                os.remove(self.path)
            saved = self._read_parquet() if os.path.exists(self.path) else []
        except BaseException:
            self._journal.close()
            if not journal_was_there:
                os.remove(self.journal_path)
            raise
        self.dropped_bytes = self._journal.dropped_bytes
        saved_keys = {r["pair"] for r in saved}
        # rows in both: a checkpoint was written but the journal not yet removed
        self._journal_rows = [r for r in self._journal.existing
                              if r["pair"] not in saved_keys]
        self.existing = saved + self._journal_rows
        self._saved = saved
        self._last_checkpoint = time.monotonic()

    def drop_error_rows(self):
        """As CsvResults.drop_error_rows: the journal loses its error rows first, then the
        Parquet file its own, before any retried row is journalled (a kill in between
        leaves those pairs as error rows, or missing: either way a file that resumes)."""
        failed = [r for r in self.existing if r.get("error")]
        self._journal.drop_error_rows()
        self._journal_rows = [r for r in self._journal_rows if not r.get("error")]
        if any(r.get("error") for r in self._saved):
            self._saved = [r for r in self._saved if not r.get("error")]
            self._checkpoint()
        self.existing = self._saved + self._journal_rows
        return failed

    def _read_parquet(self):
        import pyarrow.parquet as pq
        try:
            table = pq.read_table(self.path)
        except Exception as exc:   # pyarrow raises ArrowInvalid and others
            raise CommandError(f"{self.path} cannot be read as Parquet: "
                               f"{one_line(exc)}") from None
        if tuple(table.column_names) != self.columns:
            raise CommandError(
                f"{self.path} has other columns than this run writes (other losses or "
                "parameters); use another --out, or --overwrite to start it again")
        return table.to_pylist()

    def write(self, row):
        row = self._journal.write(row)
        self._journal_rows.append({c: _json_value(row.get(c)) for c in self.columns})
        if time.monotonic() - self._last_checkpoint > self.CHECKPOINT_SECONDS:
            self._checkpoint()
        return row

    def _checkpoint(self):
        import pyarrow as pa
        import pyarrow.parquet as pq
        schema = pa.schema([
            (c, pa.string() if c in TEXT_COLUMNS else
             pa.int64() if c in INT_COLUMNS else pa.float64()) for c in self.columns])
        rows = self._saved + self._journal_rows
        table = pa.Table.from_pylist(rows, schema=schema)
        partial = self.path + ".writing"
        try:
            pq.write_table(table, partial)
            os.replace(partial, self.path)   # readers see the old file or the new
        except BaseException:
            if os.path.exists(partial):
                os.remove(partial)
            raise
        self._last_checkpoint = time.monotonic()

    def close(self):
        """Write the Parquet file and remove the journal; if that fails (a full disk),
        the journal stays and the next run resumes from it."""
        try:
            self._checkpoint()
        finally:
            self._journal.close()
        os.remove(self.journal_path)

    def abandon(self):
        """Close without a checkpoint: the journal holds every row."""
        self._journal.close()


def open_results(path, columns, overwrite=False):
    kind = results_format(path)
    cls = {"csv": CsvResults, "jsonl": JsonlResults, "parquet": ParquetResults}[kind]
    return cls(path, columns, overwrite)
