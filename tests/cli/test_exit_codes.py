"""Every kind of failure ends in its documented exit code (errors.EXIT_CODES, listed by
`fastmixloss --help`) with one line on stderr, `fastmixloss COMMAND: why`, and no
traceback: the command line's own CommandError, the library's ParameterError and
DeviceError, a pair that cannot be read, the file system's OSError, a run that cannot go
on, and an interrupt. A bug is not dressed up as one of them: its traceback shows."""

import errno

import pytest
from cli_helpers import make_good_pairs, run_subprocess

from fastmixloss.cli import build_parser, demo, main, workers
from fastmixloss.cli.errors import (DONE, EXIT_CODES, INTERRUPTED, NOT_COMPUTED, STOPPED,
                                    USAGE, CommandError)
from fastmixloss.cli.losses import LossSettings
from fastmixloss.errors import DeviceError

SMALL = ["--fft-sizes", "64", "--hop-sizes", "16", "--win-lengths", "64"]


def raising(exc):
    def function(*args, **kwargs):
        raise exc
    return function


def command_own_error(tmp_path, monkeypatch):
    return ["demo", "--seconds", "0.1"], ["--seconds 0.1 must be 0.5 to 60"]


def config_error(tmp_path, monkeypatch):
    (tmp_path / "c.yaml").write_text("losses: [mse]\n")
    return (["compare", tmp_path / "e.wav", tmp_path / "r.wav", "--config",
             tmp_path / "c.yaml"], ["c.yaml: name it .toml or .json"])


def library_parameter_error(tmp_path, monkeypatch):
    # the parameters are checked before any file is read
    return (["compare", tmp_path / "e.wav", tmp_path / "r.wav", "--w-sum", "-1", *SMALL],
            ["sd:", "w_sum"])


def library_device_error(tmp_path, monkeypatch):
    # whether CUDA runs here is the suite's choice (the simulator): the refusal is made
    monkeypatch.setattr(LossSettings, "with_columns",
                        raising(DeviceError("no usable CUDA GPU: none in this test")))
    return (["compare", tmp_path / "e.wav", tmp_path / "r.wav", "--device", "cuda"],
            ["no usable CUDA GPU: none in this test"])


def unreadable_pair(tmp_path, monkeypatch):
    return (["compare", tmp_path / "missing.wav", tmp_path / "r.wav", *SMALL],
            ["estimate", "missing.wav does not exist"])


def results_file_not_ours(tmp_path, monkeypatch):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    (tmp_path / "theirs.csv").write_text("name,score\nalpha,1\n")
    return (["score", f"{root}/est", f"{root}/ref", "--out", tmp_path / "theirs.csv",
             *SMALL], ["theirs.csv was not written by fastmixloss"])


def file_system_refusal(tmp_path, monkeypatch):
    (tmp_path / "file").write_text("mine")
    # its folder would be made under a file: the system says why not
    return (["demo", "--seconds", "0.5", "--out", tmp_path / "file" / "sub"],
            ["sub: Not a directory"])


def worker_cannot_start(tmp_path, monkeypatch):
    monkeypatch.setattr(workers, "_start_without_interrupts",
                        raising(OSError(errno.EAGAIN, "Resource temporarily unavailable")))
    return (["score", tmp_path, tmp_path, "--out", tmp_path / "r.csv", *SMALL],
            ["cannot start a worker process", "Resource temporarily unavailable"])


def interrupt(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "make_example_set", raising(KeyboardInterrupt()))
    return ["demo", "--seconds", "0.5"], ["interrupted"]


def interrupt_inside_a_kernel(tmp_path, monkeypatch):
    """Numba's form of Ctrl-C in a kernel: a SystemError caused by the interrupt."""
    def interrupted(*args, **kwargs):
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt as exc:
            raise SystemError("returned a result with an exception set") from exc
    monkeypatch.setattr(demo, "make_example_set", interrupted)
    return ["demo", "--seconds", "0.5"], ["interrupted"]


@pytest.mark.parametrize("make_case, exit_code", [
    (command_own_error, USAGE),
    (config_error, USAGE),
    (library_parameter_error, USAGE),
    (library_device_error, USAGE),
    (results_file_not_ours, USAGE),
    (unreadable_pair, NOT_COMPUTED),
    (file_system_refusal, STOPPED),
    (worker_cannot_start, STOPPED),
    (interrupt, INTERRUPTED),
    (interrupt_inside_a_kernel, INTERRUPTED),
], ids=lambda value: getattr(value, "__name__", str(value)))
def test_each_kind_of_failure_has_its_exit_code_and_one_line(tmp_path, monkeypatch, cli,
                                                             make_case, exit_code):
    args, words = make_case(tmp_path, monkeypatch)
    code, out, err = cli(*args)
    assert code == exit_code, err
    lines = err.strip("\n").splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastmixloss {args[0]}: "), err
    for word in words:
        assert word in lines[0], err
    assert out == ""


def test_a_real_process_ends_with_the_code_and_one_line():
    done = run_subprocess("demo", "--seconds", "0.1")
    assert done.returncode == USAGE
    assert done.stderr == "fastmixloss demo: --seconds 0.1 must be 0.5 to 60\n"


def test_argparse_usage_help_and_version_return_their_codes(capsys):
    assert main(["compare"]) == USAGE   # argparse's own message: usage, then the error
    assert "error: the following arguments are required: EST, REF" in capsys.readouterr().err
    assert main(["--version"]) == DONE
    assert main(["warmup", "--help"]) == DONE


def test_a_bug_is_not_reported_as_a_failure_of_the_run(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "make_example_set", raising(ZeroDivisionError("a bug")))
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(["demo", "--seconds", "0.5"])


def test_help_lists_every_exit_code_and_commands_use_only_those():
    text = build_parser().format_help()
    for code, meaning in EXIT_CODES.items():
        assert f"  {code:<5}{meaning.split()[0]}" in text
    with pytest.raises(ValueError, match="exit_code=4"):
        CommandError("an undocumented code", 4)
