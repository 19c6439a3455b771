"""`fastmixloss score`: every pair of a dataset to one results row, resumably.

The pairs are read and computed in a worker process that this one supervises (see
workers.py): a pair that crashes it becomes an error row and the run goes on. In the
worker, a thread reads the pairs in pieces, up to --read-ahead bytes ahead, while the
evaluation computes the pieces before them on Numba's threads: no file is ever held whole.
With --scheduler the pairs run on a Dask cluster instead; either way the rows come back
here, where one writer appends them to the results file as they arrive.
"""

import json
import os
import sys
import time

from fastmixloss.errors import FastMixLossError

from .audio import OpenedPair, PairError, sample_rate_of, soundfile_module
from .config import add_loss_arguments, byte_size, settings_from_args
from .errors import (DONE, INTERRUPTED, NOT_COMPUTED, STOPPED, USAGE, CommandError,
                     caused_by_interrupt)
from .inputs import open_source
from .losses import CHECK_RATE, evaluate_pair
from .progress import compiling_note, progress_bar
from .read_ahead import DEFAULT_READ_AHEAD, ReadAhead, read_error
from .results_file import (BASE_COLUMNS, one_line, open_results, os_error_text,
                           stored_text, summary_path, write_atomically)
from .summary import summarize, summary_table, undefined_lines
from .workers import Worker, rows_in_workers


HELP = "score folders, a manifest, a table or shards of estimate/reference pairs"
DESCRIPTION = ("Score every estimate against its reference. Files are paired by "
               "relative path, or given by --pairs: a manifest (.csv, .jsonl), a Hugging "
               "Face datasets table (.parquet, or a folder of them) or WebDataset shards "
               "(.tar). One row per pair is appended to --out as it finishes; a pair "
               "that cannot be scored gets a row with its error, and the exit code is "
               "then 1 (the others: fastmixloss --help). Running the same command again "
               "resumes.")


def add_arguments(parser):
    parser.add_argument("est_dir", nargs="?", metavar="EST_DIR",
                        help="folder of estimated mixes (audio files, searched recursively)")
    parser.add_argument("ref_dir", nargs="?", metavar="REF_DIR",
                        help="folder of reference mixes; each estimate is paired with the "
                             "reference at the same relative path (or differing only in "
                             "its audio extension)")
    parser.add_argument("--pairs", nargs="+", metavar="SOURCE",
                        help="instead of the folders: a manifest, MANIFEST.csv (columns "
                             "est, ref, optionally id) or MANIFEST.jsonl (one object a "
                             "line, the same keys), paths relative to it; a Hugging Face "
                             "datasets table with Audio columns est and ref: "
                             "TABLE.parquet, a folder of Parquet shards, or a folder "
                             "save_to_disk wrote; "
                             "or WebDataset shards SHARD.tar ... (brace patterns such as "
                             "shard-{000..009}.tar) with members KEY.est.wav and "
                             "KEY.ref.wav (any audio extension) (default: none, the "
                             "folders are paired)")
    parser.add_argument("--est-key", default="est", metavar="NAME",
                        help="--pairs: the estimate's key, column or shard suffix, e.g. "
                             "input_filepath for a NeMo manifest (default est)")
    parser.add_argument("--ref-key", default="ref", metavar="NAME",
                        help="--pairs: the reference's, e.g. target_filepath (default ref)")
    parser.add_argument("--id-key", default="id", metavar="NAME",
                        help="--pairs: the pair's name in the results, and what a resumed "
                             "run matches; without it a pair is named by its estimate's "
                             "path, a shard's pair by its key (default id)")
    parser.add_argument("--out", default="results.csv", metavar="FILE",
                        help="results file: .csv (default results.csv), .jsonl or .parquet; "
                             "the summary goes beside it as FILE.summary.json (e.g. "
                             "results.csv.summary.json)")
    parser.add_argument("--overwrite", action="store_true",
                        help="start the results file again instead of resuming it")
    parser.add_argument("--retry-errors", action="store_true",
                        help="when resuming, score again the pairs whose rows hold an "
                             "error, keeping every other row")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no progress bar or notes (the summary is still printed)")
    parser.add_argument("--read-ahead", type=byte_size, default=DEFAULT_READ_AHEAD,
                        metavar="SIZE",
                        help="decoded audio read ahead while the pieces before it are "
                             "computed, in bytes or with K, M, G (default 64M); at least "
                             "one piece (2**20 samples of both files)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run the pairs on this Dask distributed scheduler, e.g. "
                             "tcp://10.0.0.5:8786 (needs fastmixloss[dask]; default: in "
                             "this process)")
    add_loss_arguments(parser)


def _row(pair, settings, loaded=None, values=None, errors=()):
    row = {"pair": pair.key, "est": pair.est, "ref": pair.ref,
           "settings": settings.settings_id(),
           "error": one_line("; ".join(errors)) if errors else None}
    if loaded is not None:
        row.update(sample_rate=loaded.sample_rate, channels=int(loaded.channels),
                   samples=int(loaded.length))
    row.update(values or {})
    return row


def score_loaded(pair, loaded, settings):
    """The row of a pair whose files were opened: `loaded` is its OpenedPair (or
    read-ahead's QueuedPair), or the PairError that kept them from opening."""
    if isinstance(loaded, PairError):
        return _row(pair, settings, errors=[str(loaded)])
    try:
        values, errors = evaluate_pair(settings, loaded)
    except PairError as exc:   # a piece could not be read: the row has no values
        return _row(pair, settings, errors=[str(exc)])
    except FastMixLossError as exc:
        # the losses cannot be built at this pair's sample rate (a mel band above its
        # Nyquist frequency, say): the message names the loss and the parameter
        values, errors = {}, [str(exc)]
    except Exception as exc:   # noqa: BLE001 -- one pair's failure must not end the run
        if caused_by_interrupt(exc):
            # Ctrl-C inside a kernel can surface as a SystemError: it is the user's
            # interrupt, not this pair's failure, and the pair must be scored on resume
            raise KeyboardInterrupt from exc
        values, errors = {}, [f"{type(exc).__name__}: {exc}"]
    return _row(pair, settings, loaded, values, errors)


def _load(pair, length_policy):
    """The pair's files opened and checked (OpenedPair), or the PairError saying why not."""
    try:
        return OpenedPair(pair, length_policy)
    except Exception as exc:   # noqa: BLE001 -- e.g. MemoryError
        return read_error(exc)


def score_pair(pair, settings):
    """Read and score one pair: what a Dask worker runs. Never raises for the pair's own
    problems; they are the row's error."""
    loaded = _load(pair, settings.length_policy)
    try:
        return score_loaded(pair, loaded, settings)
    finally:
        if not isinstance(loaded, PairError):
            loaded.close()


def failed_row(pair, settings, error):
    """The row of a pair that could not be scored at all."""
    return _row(pair, settings, errors=[error])


def rows_in_process(todo, settings, read_ahead=DEFAULT_READ_AHEAD):
    """Rows in the order of `todo`, computed in this process (the demo's way); up to
    `read_ahead` bytes of the pairs' pieces are read while earlier ones compute."""
    with ReadAhead(iter(todo), _load, settings.length_policy, read_ahead) as reading:
        for pair, loaded in reading:
            yield score_loaded(pair, loaded, settings)


def score_part(part, settings, skip=frozenset()):
    """The rows of one part of a source (a pair of files, a row group, a shard), but
    those of the pairs named in `skip` (already scored): what a Dask task runs."""
    return [score_pair(pair, settings) for pair in part.pairs()
            if stored_text(pair.key) not in skip]


def rows_on_dask(parts, settings, address, skip=frozenset()):
    """Rows as the cluster finishes them, part by part (see inputs: a pair of files, a
    row group, a shard). A task that fails (rather than returning error rows) means the
    cluster is at fault, for example workers without fastmixloss: the run stops there,
    so that those pairs are not recorded as failed."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise CommandError("--scheduler needs Dask's distributed package; install it "
                           "with python -m pip install 'fastmixloss[dask]'") from None
    try:
        # how long to try is Dask's own setting (distributed.comm.timeouts.connect,
        # 30 s unless configured, e.g. DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s)
        client = Client(address, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise CommandError(f"--scheduler {address}: cannot connect: {exc}",
                           STOPPED) from None
    futures = {}
    try:
        # keep a bounded number of parts in flight (two per thread: one computing, the
        # next one queued); a task reads its pairs in pieces, never whole
        window = max(4, 2 * sum(client.nthreads().values()))
        parts = iter(parts)
        skip = frozenset(skip)

        def submit():
            part = next(parts, None)
            if part is None:
                return None
            # a part reads from absolute paths (a worker's working folder is not ours);
            # its `names` put the paths as given back into the rows
            future = client.submit(score_part, part, settings, skip, pure=False)
            futures[future] = part
            return future

        running = as_completed([f for f in (submit() for _ in range(window)) if f],
                               loop=client.loop)
        for future in running:
            part = futures.pop(future)
            if future.status != "finished":
                raise CommandError(f"Dask failed on {_part_name(part)}: "
                                   f"{one_line(repr(future.exception()))}", STOPPED)
            for row in future.result():
                if part.names:
                    row.update(zip(("est", "ref"), part.names[row["pair"]]))
                yield row
            following = submit()
            if following is not None:
                running.add(following)
    finally:
        for future in futures:
            future.cancel()
        client.close()


def _part_name(part):
    if part.names:
        return f"pair {next(iter(part.names))}"
    return getattr(part, "name", repr(part))


def check_names(keys, exit_code=USAGE):
    """CommandError when two of these pair names are the same as the results file writes
    them: their rows could not be told apart, nor resumed."""
    seen, twice = set(), []
    for key in map(stored_text, keys):
        if key in seen and key not in twice:
            twice.append(key)
        seen.add(key)
    if twice:
        # an id given twice, or two names that differ only in bytes or control
        # characters the results file writes as escapes
        raise CommandError(
            f"two pairs would have the same name in the results file: "
            f"{', '.join(twice[:5])}; give each pair its own id (--pairs with an id "
            "field, --id-key)", exit_code)


def _close_after_failure(results):
    """Close the results file after a write failed; what it held on disk stays."""
    try:
        results.abandon()
    except OSError:
        pass


def _rows_kept(out, when=""):
    """The end of the message of a run that stopped after writing rows."""
    return f"the finished rows are in {out}; {when}run the same command again to resume"


def run(args):
    """The score command. Returns the exit code."""
    settings = settings_from_args(args)
    if args.scheduler:
        source = open_source(args)
        with compiling_note(args.quiet):
            settings = settings.with_columns(first_rate(source))
        return _run_checked(args, settings, None, source)
    soundfile_module()   # the worker reads the pairs: without it every pair would fail
    worker = Worker(settings, _load, score_loaded, args.read_ahead)
    try:
        # the pairs are listed while the worker starts; it checks the parameters at the
        # first pair's sample rate (loading its kernels); this process loads none
        source = open_source(args)
        with compiling_note(args.quiet):
            settings = worker.checked_settings(settings, first_rate(source))
        return _run_checked(args, settings, worker, source)
    finally:
        worker.stop(at_once=True)   # unless the run has ended it already


# pairs tried for a sample rate to check the parameters at
_RATE_TRIES = 5


def first_rate(source):
    """The sample rate of the first pair that opens: the losses' parameters are checked at
    it (a mel bank at the files' rate), and a pair at another rate that they do not suit
    gets that as its error. CHECK_RATE when none of the first few opens."""
    pairs = source.pairs()
    try:
        for _, pair in zip(range(_RATE_TRIES), pairs):
            rate = sample_rate_of(pair)
            if rate is not None:
                return rate
    finally:
        close = getattr(pairs, "close", None)   # a shard's stream
        if close is not None:
            close()
    return CHECK_RATE


def _run_checked(args, settings, worker, source):
    """The score command once the settings are checked. Returns the exit code."""
    total = source.count()
    if total == 0:
        raise CommandError(f"--pairs {' '.join(args.pairs or ())} lists no pairs; nothing "
                           "to score")
    keys = source.keys()
    if keys is not None:
        check_names(keys)
    note = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))

    columns = BASE_COLUMNS + settings.columns
    try:
        results = open_results(args.out, columns, overwrite=args.overwrite)
    except OSError as exc:
        raise CommandError(f"cannot open --out {args.out}: {os_error_text(exc)}",
                           STOPPED) from None
    settings_id = settings.settings_id()
    try:
        other = {r["settings"] for r in results.existing} - {settings_id}
        if other:
            raise CommandError(
                f"{args.out} holds rows computed with other loss parameters or length "
                "policy; use another --out, or --overwrite to start it again")
        if results.dropped_bytes:
            note(f"fastmixloss: cut an incomplete last line ({results.dropped_bytes} bytes) "
                 f"left by an interrupted run from {args.out}; that pair is scored again")
        if args.retry_errors:
            retried = results.drop_error_rows()
            if retried:
                note(f"fastmixloss: scoring again the {len(retried)} pair"
                     f"{'s' if len(retried) != 1 else ''} whose rows held an error")
        done = {r["pair"] for r in results.existing}
        # pairs already scored, of those the source names now (all of the file's rows
        # when it does not know its names before reading)
        skipped = (len(done) if keys is None else
                   sum(stored_text(key) in done for key in keys))
        if done:
            counted = ("" if total is None else f" of {total}")
            left = ("" if total is None else f", {total - skipped} to go")
            note(f"fastmixloss: resuming {args.out}: {skipped}{counted} pairs already "
                 f"scored{left}")
        # the pairs are read as they are sent: a source read from memory holds only
        # the pairs at hand
        todo = (p for p in source.pairs() if stored_text(p.key) not in done)
        written, audio_seconds, names = [], 0.0, set(done)
        bar = progress_bar(total, args.quiet, done=skipped)
        # looked up now, not bound at import: the tests give the worker other functions
        rows = (rows_on_dask(source.parts(), settings, args.scheduler, done)
                if args.scheduler else
                rows_in_workers(todo, settings, args.read_ahead, _load, score_loaded,
                                failed_row, worker=worker,
                                note=(lambda text: None) if args.quiet else bar.write))
        start = time.perf_counter()
        try:
            for row in rows:
                name = stored_text(row["pair"])
                if name in names:   # a source that names its pairs as it reads them
                    check_names([name, name], STOPPED)
                names.add(name)
                row = results.write(row)
                written.append(row)
                seconds = (row["samples"] / row["sample_rate"] if row.get("samples")
                           else 0.0)
                audio_seconds += seconds
                if row["error"] and not args.quiet:
                    bar.write(f"fastmixloss: {row['pair']}: {row['error']}")
                bar.update(1, seconds)
        finally:
            rows.close()   # ends the worker process, or the Dask client, now
            bar.close()
        elapsed = time.perf_counter() - start
    except KeyboardInterrupt:
        results.close()
        raise CommandError(f"interrupted; {_rows_kept(args.out)}", INTERRUPTED) from None
    except CommandError as exc:
        if exc.exit_code != STOPPED:   # refused before any row was written
            _close_after_failure(results)
            raise
        results.close()   # the workers or the cluster cannot go on
        raise CommandError(f"{exc}; {_rows_kept(args.out)}", STOPPED) from None
    except BrokenPipeError:
        _close_after_failure(results)
        raise   # stderr was closed: the command line ends quietly
    except OSError as exc:
        # the results file cannot be written (a full disk, a quota, a file size limit)
        _close_after_failure(results)
        raise CommandError(f"cannot write the results: {os_error_text(exc)}; "
                           f"{_rows_kept(args.out, 'when the cause is fixed, ')}",
                           STOPPED) from None
    except BaseException:
        _close_after_failure(results)
        raise
    existing = results.existing
    try:
        results.close()
    except OSError as exc:   # Parquet's final rewrite; its journal keeps every row
        raise CommandError(f"cannot write {args.out}: {os_error_text(exc)}; every row is "
                           f"in {args.out}.partial.jsonl; run the same command again to "
                           "finish", STOPPED) from None

    summary = summarize(existing + written, settings.columns)
    summary["this_run"] = _throughput(len(written), elapsed, audio_seconds, args)
    summary["results"] = stored_text(os.path.abspath(args.out))
    summary["settings"] = {"id": settings_id, "length_policy": settings.length_policy,
                           "device": settings.device or "cpu", "losses": settings.describe()}
    try:
        write_atomically(summary_path(args.out),
                         json.dumps(summary, indent=2, allow_nan=False, default=_no_nan)
                         + "\n")
    except OSError as exc:
        raise CommandError(f"cannot write the summary: {os_error_text(exc)}; every row is "
                           f"in {args.out}", STOPPED) from None
    print(report(summary, args.out))
    return NOT_COMPUTED if summary["failed"] else DONE


def _no_nan(value):
    raise TypeError(f"cannot write {value!r} to the summary")


def _throughput(pairs, seconds, audio_seconds, args):
    rate = pairs / seconds if seconds > 0 else None
    return {"pairs": pairs, "seconds": round(seconds, 3),
            "pairs_per_second": rate,
            # each pair is two files read and compared
            "files_per_second": None if rate is None else 2 * rate,
            "audio_seconds_per_second": audio_seconds / seconds if seconds > 0 else None,
            "where": f"dask {args.scheduler}" if args.scheduler else "one worker process"}


def report(summary, out):
    lines = [summary_table(summary), ""]
    lines.append(f"pairs: {summary['pairs']} ({summary['ok']} ok, {summary['failed']} "
                 "failed)")
    for failure in summary["failures"][:10]:
        lines.append(f"  failed: {failure['pair']}: {failure['error']}")
    if summary["failed"] > 10:
        lines.append(f"  ... and {summary['failed'] - 10} more (see the error column)")
    reasons = undefined_lines(summary)
    if reasons:
        lines.append("undefined: not in the statistics, which are over the pairs scored "
                     "without an error")
        lines += reasons
    run = summary["this_run"]
    if run["pairs"]:
        lines.append(f"this run: {run['pairs']} pair{'s' if run['pairs'] != 1 else ''} "
                     f"in {run['seconds']:.2f} s ({run['where']}):\n"
                     f"  {run['pairs_per_second']:.2f} pairs/s, "
                     f"{run['files_per_second']:.2f} files/s, "
                     f"{run['audio_seconds_per_second']:.1f} s of audio per second")
    else:
        lines.append("this run: nothing left to score")
    lines.append(f"results: {stored_text(out)}; summary: {stored_text(summary_path(out))}")
    return "\n".join(lines)
