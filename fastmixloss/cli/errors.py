"""The command line's exit codes, and the one error its commands raise to end with one.

A command that cannot do what was asked raises `CommandError(message, exit_code)`;
`main()` prints the message as one line, `fastmixloss COMMAND: message`, and returns the
code. The library's own errors (ParameterError, DeviceError) and the file system's
(OSError) that reach `main()` are given their code there, in one place. What goes wrong
with one pair of files inside `score` is not a CommandError: it becomes that pair's error
row (audio.PairError), and the run goes on.
"""

DONE = 0
NOT_COMPUTED = 1
USAGE = 2
STOPPED = 3
INTERRUPTED = 130   # 128 + SIGINT, as a shell shows for a command ended by Ctrl-C
CLOSED_PIPE = 141   # 128 + SIGPIPE, as for `yes | head -1`

EXIT_CODES = {
    DONE: "done",
    NOT_COMPUTED: "some pair or loss could not be computed (said why)",
    USAGE: "bad arguments, or what they name cannot be used (a results file that is not "
           "ours or is in use, a missing package or device); nothing was computed",
    STOPPED: "the run could not go on (e.g. a full disk); score keeps its finished rows",
    INTERRUPTED: "interrupted",
    CLOSED_PIPE: "the output pipe was closed (e.g. by `| head`)",
}


class CommandError(Exception):
    """A command cannot go on; `main()` prints the message on one line and ends with
    `exit_code` (one of EXIT_CODES)."""

    def __init__(self, message, exit_code=USAGE):
        if exit_code not in EXIT_CODES:
            raise ValueError(f"exit_code={exit_code!r} is not one of {sorted(EXIT_CODES)}")
        super().__init__(message)
        self.exit_code = exit_code


def caused_by_interrupt(exc):
    """Whether `exc` is, or was raised because of, a KeyboardInterrupt (Numba reports
    one raised inside a kernel as a SystemError whose cause is the interrupt)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False
