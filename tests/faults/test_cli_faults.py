"""The command line against the file system and interrupts (issue 9, items 3 and 5-11):
another program's results file, odd file names (a carriage return, bytes that are not
UTF-8), a FIFO among the audio, another run's lock, OS errors (a full disk simulated with
RLIMIT_FSIZE, a folder given as --out, a read-only folder), bad arguments, and SIGINT at
known points.

Real processes are stopped at a known point without any hook in the code: their stderr
(or stdout) is a pipe whose buffer is full, so they block at their first message there.
"""

import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("soundfile")   # the command line's extra: nothing to test without it
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cli"))
from cli_helpers import (SPECTRAL_FLAGS, FaultyScore, drain, full_pipe,  # noqa: E402
                         make_good_pairs, no_process_left, pair_signals, read_csv,
                         start_blocked_score, stuck_load, subprocess_env, wait_for_rows,
                         write)

from fastmixloss.cli import main  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX file system")


@pytest.fixture
def cli(capsys):
    """Run the command line in this process: (exit code, stdout, stderr)."""
    def run(*args):
        code = main([os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


@pytest.fixture(autouse=True)
def one_numba_thread():
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


def score_args(root, out, *extra):
    return ("score", f"{root}/est", f"{root}/ref", "--out", out, *SPECTRAL_FLAGS, *extra)


# -- 5: another program's file is never modified --------------------------------------

@pytest.mark.parametrize("name, content", [
    ("mydata.csv", b"name,score\nalpha,1\nbeta,2"),
    ("mydata.csv", b"just one line"),
    ("mydata.jsonl", b'{"x": 1}\n{"x": 2}'),
    ("mydata.jsonl", b'{"x": 1}'),
    ("mydata.csv", b"caf\xe9,1\nno newline"),
])
def test_another_programs_file_is_refused_and_left_as_it_was(tmp_path, cli, name, content):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    out = tmp_path / name
    out.write_bytes(content)
    code, _, err = cli(*score_args(root, out))
    assert code == 2
    assert "not written by fastmixloss" in err or "not UTF-8" in err, err
    assert out.read_bytes() == content


def test_our_own_torn_file_is_still_repaired(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    out = tmp_path / "r.csv"
    assert cli(*score_args(root, out))[0] == 0
    complete = out.read_bytes()
    first_row_end = complete.index(b"\n", complete.index(b"\n") + 1) + 1
    out.write_bytes(complete[:first_row_end + 20])   # a kill in the second row's write
    code, _, err = cli(*score_args(root, out))
    assert code == 0 and "incomplete last line" in err
    assert out.read_bytes() == complete


# -- 6, 7: odd file names --------------------------------------------------------------

ODD_NAMES = [b"a\rb.wav", b"new\nline.wav", b"caf\xe9.wav", b"tab\tand \xff\xfe.wav"]


@pytest.mark.parametrize("extension", ["csv", "jsonl"])
def test_odd_file_names_are_scored_stored_on_one_line_and_resume(tmp_path, cli,
                                                                 extension):
    root = tmp_path / "data"
    make_good_pairs(str(root), ["a.wav", "z.wav"])
    rng = np.random.default_rng(3)
    import soundfile
    for name in ODD_NAMES:
        est, ref = pair_signals(rng)
        for side, signal_ in (("est", est), ("ref", ref)):
            soundfile.write(os.path.join(bytes(root), side.encode(), name),
                            signal_.T, 8000, subtype="FLOAT")
    out = tmp_path / f"r.{extension}"
    code, stdout, err = cli(*score_args(root, out))
    assert code == 0, err
    data = out.read_bytes()
    data.decode("utf-8")   # valid UTF-8, whatever the names
    assert data.count(b"\n") == len(ODD_NAMES) + 2 + (extension == "csv")
    for stored in ("a\\rb.wav", "new\\nline.wav", "caf\\xe9.wav", "tab\\tand \\xff\\xfe.wav"):
        assert stored.encode() in data.replace(b"\\\\", b"\\")
    code, stdout, err = cli(*score_args(root, out))
    assert code == 0, err
    assert "nothing left to score" in stdout
    assert out.read_bytes() == data


@pytest.mark.slow
def test_a_name_that_is_not_utf8_keeps_the_rows_before_it_in_a_child(tmp_path):
    """The same in a real process, whose stdout and stderr are pipes (no terminal)."""
    root = tmp_path / "data"
    make_good_pairs(str(root), ["a.wav"])
    rng = np.random.default_rng(4)
    est, ref = pair_signals(rng)
    import soundfile
    for side, signal_ in (("est", est), ("ref", ref)):
        soundfile.write(bytes(root) + b"/" + side.encode() + b"/\xff.wav",
                        signal_.T, 8000, subtype="FLOAT")
    out = tmp_path / "r.csv"
    for _ in range(2):   # the first run, then the resume
        result = subprocess.run(
            [sys.executable, "-m", "fastmixloss", *score_args(root, out)],
            capture_output=True, env=subprocess_env(), timeout=120)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        assert b"Traceback" not in result.stderr
    assert set(read_csv(out)) == {"a.wav", "\\xff.wav"}


# -- 8: a FIFO among the audio ---------------------------------------------------------

@pytest.mark.slow
def test_a_fifo_is_an_error_row_not_a_hang(tmp_path):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["a.wav", "b.wav", "c.wav"])
    os.remove(os.path.join(root, "est", "b.wav"))
    os.mkfifo(os.path.join(root, "est", "b.wav"))
    os.mkfifo(os.path.join(root, "ref", "d.flac"))
    out = tmp_path / "r.csv"
    result = subprocess.run([sys.executable, "-m", "fastmixloss", *score_args(root, out)],
                            capture_output=True, text=True, env=subprocess_env(),
                            timeout=120)
    assert result.returncode == 1, result.stderr
    rows = read_csv(out)
    assert "is not a regular file (a named pipe)" in rows["b.wav"]["error"]
    assert "no estimate" in rows["d.flac"]["error"]
    assert rows["a.wav"]["error"] is None and rows["c.wav"]["error"] is None


def test_a_read_stuck_in_the_file_system_does_not_keep_ctrl_c_waiting():
    """A read that never returns (a hung network share) in the worker: Ctrl-C in the
    main process ends the run at once, and the worker with it."""
    import time

    from fastmixloss.cli import score
    from fastmixloss.cli.audio import Pair
    from fastmixloss.cli.losses import LossSettings
    from fastmixloss.cli.workers import Worker
    settings = LossSettings.build(["mse"], {})
    worker = Worker(settings, stuck_load, score.score_loaded)
    rows = score.rows_in_workers([Pair("a", "a", "a"), Pair("b", "b", "b")], settings, 2,
                                 stuck_load, score.score_loaded, score.failed_row,
                                 worker=worker)

    def interrupt(signum, frame):
        raise KeyboardInterrupt
    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)   # the worker is reading by then
        start = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            next(rows)
        rows.close()
        elapsed = time.monotonic() - start
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    # the read never returns by itself: a worker that is gone was killed, not waited for
    assert not worker.process.is_alive()
    assert worker.process.exitcode == -signal.SIGKILL
    # a guard against waiting out the read (an hour), not a measure of speed
    assert elapsed < 60


# -- 9: another run's lock, for every format -------------------------------------------

@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_overwrite_respects_another_runs_lock(tmp_path, cli, extension):
    pytest.importorskip("fcntl")
    if extension == "parquet":
        pytest.importorskip("pyarrow")
    from fastmixloss.cli.results_file import BASE_COLUMNS, open_results
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    out = tmp_path / f"r.{extension}"
    other = open_results(str(out), BASE_COLUMNS + ("mse",))   # the other run
    try:
        other.write({"pair": "theirs", "mse": 0.5, "settings": "s"})
        paths = [p for p in (str(out), f"{out}.partial.jsonl") if os.path.exists(p)]
        before = {p: _read_bytes(p) for p in paths}
        code, _, err = cli(*score_args(root, out, "--overwrite"))
        assert code == 2 and "being written by another fastmixloss run" in err
        after = {p: _read_bytes(p) for p in paths}
        assert after == before
        other.write({"pair": "theirs too", "mse": 0.25, "settings": "s"})
    finally:
        other.close()
    assert cli(*score_args(root, out, "--overwrite"))[0] == 0   # once it has finished


def _read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


# -- 10: OS errors ---------------------------------------------------------------------

def limited_file_size(limit):
    """preexec_fn: files this process writes stop growing at `limit` bytes (EFBIG), as
    on a full disk, without root."""
    import resource

    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return apply


def run_limited(args, limit):
    return subprocess.run([sys.executable, "-m", "fastmixloss", *map(str, args)],
                          capture_output=True, text=True, env=subprocess_env(),
                          timeout=120, preexec_fn=limited_file_size(limit))


@pytest.mark.slow
def test_a_full_disk_while_writing_rows_exits_3_and_resumes(tmp_path, cli):
    pytest.importorskip("resource")
    root = str(tmp_path / "data")
    names = [f"p{i}.wav" for i in range(6)]
    make_good_pairs(root, names)
    clean = tmp_path / "clean.csv"
    cli(*score_args(root, clean))
    sizes = [len(line) for line in clean.read_bytes().splitlines(keepends=True)]
    out = tmp_path / "r.csv"
    # room for the header, three rows and half of the fourth
    result = run_limited(score_args(root, out), sum(sizes[:4]) + sizes[4] // 2)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write the results" in result.stderr
    assert "File too large" in result.stderr and "run the same command again" in result.stderr
    assert not (tmp_path / "r.csv.summary.json").exists()
    code, _, err = cli(*score_args(root, out))
    assert code == 0 and "incomplete last line" in err
    assert read_csv(out) == read_csv(clean)


@pytest.mark.slow
def test_a_full_disk_never_leaves_half_a_summary(tmp_path, cli):
    pytest.importorskip("resource")
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    out = tmp_path / "r.csv"
    assert cli(*score_args(root, out))[0] == 0
    summary = tmp_path / "r.csv.summary.json"
    old = summary.read_text()
    assert len(old) > out.stat().st_size + 1000   # so a limit can fit one, not the other
    out.unlink()
    limit = len(old) // 2
    result = run_limited(score_args(root, out), limit)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr
    assert "cannot write the summary" in result.stderr
    assert os.path.getsize(out) < limit and len(read_csv(out)) == 2
    assert summary.read_text() == old   # the old one, whole: never half of the new one
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_out_that_is_a_folder_is_a_one_line_error(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    (tmp_path / "folder.csv").mkdir()
    code, _, err = cli(*score_args(root, tmp_path / "folder.csv"))
    assert code == 3
    assert err.strip().count("\n") == 0 and "Is a directory" in err


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_folder_is_a_one_line_error(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    if os.geteuid() == 0:
        # root (as in CI) writes into folders chmod'ed read-only; sysfs refuses new files
        # even to root
        if not os.path.isdir("/sys"):
            pytest.skip("root writes into read-only folders, and there is no /sys")
        code, _, err = cli(*score_args(root, "/sys/fastmixloss-r.csv"))
        assert code == 3 and "Permission denied" in err
        return
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        code, _, err = cli(*score_args(root, locked / "r.csv"))
    finally:
        locked.chmod(0o755)
    assert code == 3 and "Permission denied" in err


# -- 2's command-line half: a NaN never lands in an OK row ------------------------------

def test_huge_samples_never_give_a_nan_value(tmp_path, cli):
    """Finite float32 samples near the top of the range: whatever the library does with
    them (compute them, refuse them, or return NaN), a row holds finite values only, and
    a loss without its value is named in the error."""
    rng = np.random.default_rng(6)
    est, ref = pair_signals(rng)
    root = str(tmp_path / "data")
    for name, scale in (("big.wav", 1e37), ("huge.wav", 3e38)):
        for side, signal_ in (("est", est), ("ref", ref)):
            scaled = np.clip(signal_.astype(np.float64) * scale, -3.4e38, 3.4e38)
            write(os.path.join(root, side, name), scaled)
    out = tmp_path / "r.csv"
    cli(*score_args(root, out))
    losses = ("mse", "sisdr", "mrstft", "sd")
    for name, row in read_csv(out).items():
        for column, value in row.items():
            if column.split(".")[0] in losses and value is not None:
                assert np.isfinite(value), (name, column, value)
        for loss in losses:
            if row.get(loss if loss in ("mse", "sisdr") else f"{loss}.loss") is None:
                assert f"{loss}:" in (row["error"] or ""), (name, loss, row["error"])


# -- 11: bad arguments exit 2 ----------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("args, words", [
    (["--fft-sizes", "100000000000"], ["fft_sizes", "100000000000", "at most"]),
    (["--fft-sizes", "64,128,32", "--hop-sizes", "18446744073709551616,240,50"],
     ["hop_sizes", "18446744073709551616"]),
    (["--losses", "stft", "--fft-size", "2000000000"], ["fft_size", "at most"]),
])
def test_sizes_too_large_exit_2_at_once(tmp_path, args, words):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    command = ["score", f"{root}/est", f"{root}/ref", "--out", str(tmp_path / "r.csv"),
               *args]
    result = subprocess.run([sys.executable, "-m", "fastmixloss", *command],
                            capture_output=True, text=True, env=subprocess_env(),
                            timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_a_manifest_that_is_not_utf8_exits_2(tmp_path, cli):
    (tmp_path / "pairs.csv").write_bytes(b"est,ref\ncaf\xe9.wav,x.wav\n")
    code, _, err = cli("score", "--pairs", tmp_path / "pairs.csv", "--out",
                       tmp_path / "r.csv", *SPECTRAL_FLAGS)
    assert code == 2 and "not UTF-8" in err


def test_a_window_the_library_cannot_take_exits_2(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    config = tmp_path / "c.json"
    config.write_text(json.dumps({"losses": ["mrstft"], "mrstft": {
        "fft_sizes": [64], "hop_sizes": [16], "win_lengths": [64],
        "window": [[1, 2], [3]]}}))
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out",
                       tmp_path / "r.csv", "--config", config)
    assert code == 2 and "mrstft" in err and "window" in err.lower()
    assert not (tmp_path / "r.csv").exists()


def test_demo_out_that_is_a_file_exits_2(tmp_path, cli):
    (tmp_path / "file").write_text("mine")
    code, _, err = cli("demo", "--seconds", "0.5", "--out", tmp_path / "file")
    assert code == 2 and "is a file" in err
    assert (tmp_path / "file").read_text() == "mine"


# -- 3 and 11: interrupts --------------------------------------------------------------

def test_an_interrupt_inside_a_pair_is_not_that_pairs_error(tmp_path, cli, monkeypatch):
    """Ctrl-C inside a kernel may surface as a SystemError caused by KeyboardInterrupt,
    here in the worker: the run stops with 130, the pair gets no row, and resume scores
    it."""
    from fastmixloss.cli import score
    root = str(tmp_path / "data")
    make_good_pairs(root, ["a.wav", "b.wav", "c.wav"])
    clean = tmp_path / "clean.csv"
    cli(*score_args(root, clean))
    monkeypatch.setattr(score, "score_loaded", FaultyScore("interrupt", "b.wav"))
    out = tmp_path / "r.csv"
    code, _, err = cli(*score_args(root, out))
    assert code == 130 and "interrupted" in err
    assert set(read_csv(out)) == {"a.wav"}
    monkeypatch.undo()
    assert cli(*score_args(root, out))[0] == 0
    assert read_csv(out) == read_csv(clean)


def test_an_interrupt_inside_a_kernel_in_compare_exits_130(tmp_path, cli, monkeypatch):
    from fastmixloss.cli import compare
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    real = compare.outcomes

    def interrupted(signals, jobs, device=None):
        if signals.length == 2000:
            try:
                raise KeyboardInterrupt
            except KeyboardInterrupt as exc:
                raise SystemError("returned a result with an exception set") from exc
        return real(signals, jobs, device)
    monkeypatch.setattr(compare, "outcomes", interrupted)
    code, out, err = cli("compare", f"{root}/est/x.wav", f"{root}/ref/x.wav",
                         *SPECTRAL_FLAGS)
    assert code == 130 and "interrupted" in err and out == ""


def interrupt_when(process, read_end, ready, interrupt):
    """Once ready() returns (the process blocked writing to the pipe whose `read_end`
    is given), interrupt() it and read the pipe while it prints its way out; returns
    what it printed. The process has ended."""
    try:
        ready()
        interrupt()
        reader = drain(read_end)
        process.wait(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    return reader.data


@pytest.mark.slow
def test_sigint_between_pairs_exits_130_and_resumes(tmp_path, cli):
    """A real SIGINT while the run is blocked at a known point (after the third row,
    printing the error of that corrupt pair), sent to the whole process group as a
    terminal's Ctrl-C is: the worker process prints nothing, and no process of the run
    is left."""
    root = str(tmp_path / "data")
    names = [f"p{i}.wav" for i in range(6)]
    make_good_pairs(root, names)
    with open(os.path.join(root, "est", "p2.wav"), "wb") as f:
        f.write(b"not audio")
    out = tmp_path / "r.csv"
    process, read_end = start_blocked_score(root, out)
    printed = interrupt_when(process, read_end, lambda: wait_for_rows(process, out, 3),
                             lambda: os.killpg(process.pid, signal.SIGINT))
    assert process.returncode == 130, printed
    assert "Traceback" not in printed and "interrupted" in printed
    assert no_process_left(process.pid)
    assert len(read_csv(out)) == 3
    clean = tmp_path / "clean.csv"
    cli(*score_args(root, clean))
    assert cli(*score_args(root, out))[0] == 1
    assert read_csv(out) == read_csv(clean)


def test_sigint_at_start_up_exits_130_quietly(tmp_path):
    """The demo's first message (before it compiles anything) blocks on a full stderr
    pipe: SIGINT there, during start-up."""
    read_end, write_end = full_pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastmixloss", "demo", "--seconds", "0.5"],
            stdout=subprocess.DEVNULL, stderr=write_end, env=subprocess_env())
    finally:
        os.close(write_end)
    printed = interrupt_when(process, read_end, lambda: _wait_until_blocked(process),
                             lambda: process.send_signal(signal.SIGINT))
    assert process.returncode == 130, printed
    assert "Traceback" not in printed and "interrupted" in printed


@pytest.mark.slow
def test_sigint_during_the_final_report_exits_130_quietly(tmp_path):
    """The report goes to stdout, here a full pipe: the run blocks printing it, after
    writing every row and the summary."""
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    out = tmp_path / "r.csv"
    read_end, write_end = full_pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastmixloss", *score_args(root, out)],
            stdout=write_end, stderr=subprocess.PIPE, env=subprocess_env())
    finally:
        os.close(write_end)
    try:
        summary = tmp_path / "r.csv.summary.json"
        _wait_until_blocked(process, lambda: summary.exists())
        process.send_signal(signal.SIGINT)
        reader = drain(read_end)
        _, err = process.communicate(timeout=30)
        reader.join(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
    err = err.decode()
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted" in err
    assert json.loads(summary.read_text())["pairs"] == 2


def _wait_until_blocked(process, ready=lambda: True, timeout=60):
    """Until the process sleeps writing to a pipe (Linux shows where a process sleeps
    in /proc/PID/wchan) and `ready()` holds."""
    import time
    deadline = time.monotonic() + timeout
    shown = False
    while time.monotonic() < deadline:
        assert process.poll() is None, f"ended early ({process.returncode})"
        channel = _sleeping_in(process.pid)
        shown = shown or channel not in ("", "0")
        if ready() and "pipe" in channel:
            time.sleep(0.2)
            return
        time.sleep(0.05)
    if not shown:
        process.kill()
        pytest.skip("this kernel does not show where a process sleeps (/proc/PID/wchan)")
    raise AssertionError("the process never blocked")


def _sleeping_in(pid):
    try:
        with open(f"/proc/{pid}/wchan") as f:
            return f.read()
    except OSError:
        return ""
