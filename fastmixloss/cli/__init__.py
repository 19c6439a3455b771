"""The `fastmixloss` command line: compare two mixes, score a dataset, run a demo.

    fastmixloss compare EST REF [--plot FILE.png]
    fastmixloss score EST_DIR REF_DIR --out results.csv
    fastmixloss score --pairs pairs.jsonl | table.parquet | 'shards-{000..009}.tar'
    fastmixloss demo
    fastmixloss warmup

Each command is a module here, named as the command, with HELP (its line in the list of
commands), DESCRIPTION (its --help), `add_arguments(parser)` and `run(args)`, which
returns the exit code. soundfile, matplotlib, tqdm and Dask are imported by the command
that needs them, when it runs, so `fastmixloss --help` is quick and `import fastmixloss`
never loads any of this. The exit codes, and the one error a command raises to end with
one of them, are in errors.py.
"""

import argparse
import os
import sys
import textwrap

from fastmixloss.errors import FastMixLossError

from . import compare, demo, score, warmup
from .errors import (CLOSED_PIPE, EXIT_CODES, INTERRUPTED, STOPPED, USAGE, CommandError,
                     caused_by_interrupt)
from .results_file import os_error_text, stored_text

COMMANDS = (compare, score, demo, warmup)

DESCRIPTION = """\
Loss functions for automatic music mixing, on audio files.

  compare EST REF            every default loss for one pair of files (--plot: a picture)
  score EST_DIR REF_DIR      one results row per pair of files, a summary, resumable
  score --pairs SOURCE       the same from a manifest, a datasets table or WebDataset shards
  demo                       synthesise example mixes with known differences and score them
  warmup                     compile the kernels now, once per installation

Lower is better for every loss (SNR, SI-SDR and SD-SDR are negated dB).

Exit codes:
""" + "\n".join(textwrap.fill(meaning, 88, initial_indent=f"  {code:<5}",
                             subsequent_indent=" " * 7)
               for code, meaning in EXIT_CODES.items())


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastmixloss", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from fastmixloss import __version__
    parser.add_argument("--version", action="version", version=f"fastmixloss {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for command in COMMANDS:
        name = command.__name__.rsplit(".", 1)[1]
        arguments = commands.add_parser(name, help=command.HELP,
                                        description=command.DESCRIPTION)
        command.add_arguments(arguments)
        arguments.set_defaults(run=command.run)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code (errors.EXIT_CODES)."""
    command = None
    try:
        try:
            args = build_parser().parse_args(argv)
            command = args.command
            code = args.run(args)
            sys.stdout.flush()   # a closed pipe shows here, not at exit
            return code
        except SystemExit as exc:
            if command is None:   # argparse has printed the help, the version or an error
                return exc.code
            raise
        except BrokenPipeError:
            raise
        except BaseException as exc:   # noqa: BLE001 -- one the command line can explain
            error = as_command_error(exc)
            if error is None:
                raise   # a bug: its traceback is the report
        # after Ctrl-C, whose echo leaves the terminal's line unfinished
        start = "\n" if error.exit_code == INTERRUPTED else ""
        print(f"{start}fastmixloss{f' {command}' if command else ''}: "
              f"{stored_text(error)}", file=sys.stderr)
        return error.exit_code
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as command-line tools do, with
        # the status of a process ended by SIGPIPE; nothing may be written any more, so
        # Python's own flush at exit must not find the pipe either
        _silence_closed_streams()
        return CLOSED_PIPE


def as_command_error(exc):
    """The CommandError that reports `exc`, or None for one the command line cannot
    explain: the one place where the library's errors and the system's get their exit
    code."""
    if isinstance(exc, CommandError):
        return exc
    if caused_by_interrupt(exc):
        # Numba may report Ctrl-C inside a kernel as a SystemError caused by it; at
        # start-up (compiling), between pairs or in the final report nothing needs
        # cleaning up (score saves its rows itself)
        return CommandError("interrupted", INTERRUPTED)
    if isinstance(exc, FastMixLossError):
        # ParameterError, DeviceError: what was asked cannot be computed; the message
        # names the argument and its value, or says what to do
        return CommandError(str(exc), USAGE)
    if isinstance(exc, OSError):
        # the file system refused (a read-only folder, a full disk): the run cannot go on
        return CommandError(os_error_text(exc), STOPPED)
    return None


def _silence_closed_streams():
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):   # no real file descriptor (captured in tests)
            pass
    os.close(devnull)


__all__ = ["main", "build_parser"]
