"""Helpers for the command-line tests: tiny seeded audio, the library's expected values,
result readers. (Not in conftest.py: tests/ has several conftest modules, and
`from conftest import` would find whichever was imported first.)

Audio is short (a quarter second at 8 kHz) and the spectral losses use small FFT sizes,
so each pair costs milliseconds; the kernels are the library's (compiled once, cached).
"""

import csv
import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

import soundfile

from fastmixloss.cli.score import score_loaded as real_score_loaded

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RATE = 8000
LENGTH = 2000
# small resolutions: the same kernels, a fraction of the work
SPECTRAL_FLAGS = ["--fft-sizes", "64,128,32", "--hop-sizes", "16,32,8",
                  "--win-lengths", "64,96,32"]
SPECTRAL_PARAMS = {"fft_sizes": (64, 128, 32), "hop_sizes": (16, 32, 8),
                   "win_lengths": (64, 96, 32)}


def write(path, signal, rate=RATE, subtype="FLOAT"):
    """signal: (C, T) float array; written as 32-bit float so it reads back exactly."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    soundfile.write(path, np.asarray(signal, dtype=np.float32).T, rate, subtype=subtype)


def pair_signals(rng, channels=2, length=LENGTH):
    ref = (0.5 * rng.standard_normal((channels, length))).astype(np.float32)
    est = (0.8 * ref + 0.1 * rng.standard_normal((channels, length))).astype(np.float32)
    return est, ref


def make_good_pairs(root, names, seed=7, fmt="wav"):
    """est/NAME and ref/NAME for each name; returns {name: (est, ref)} as written."""
    rng = np.random.default_rng(seed)
    written = {}
    for name in names:
        est, ref = pair_signals(rng)
        write(os.path.join(root, "est", name), est)
        write(os.path.join(root, "ref", name), ref)
        written[name] = (est, ref)
    return written


def subprocess_env():
    """This checkout importable, one Numba thread (see one_numba_thread)."""
    return dict(os.environ, NUMBA_NUM_THREADS="1",
                PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))


def full_pipe():
    """(read fd, write fd) of a pipe whose buffer is full.

    A process given the write end as its stderr blocks at its first write there: in
    `score`, the message of the first error row, printed just after that row is written.
    That stops a run at a known point (as a slow disk would) without any hook in the
    code under test; reading the pipe lets it go on."""
    read_end, write_end = os.pipe()
    os.set_blocking(write_end, False)
    for chunk in (65536, 1):   # then byte by byte: a pipe takes a small write whole or not
        try:
            while True:
                os.write(write_end, b"x" * chunk)
        except BlockingIOError:
            pass
    os.set_blocking(write_end, True)
    return read_end, write_end


def drain(read_end):
    """Read the pipe on a thread until its writers are gone; returns the thread, whose
    `.data` is what was read after the filler."""
    import threading

    def read():
        chunks = []
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        os.close(read_end)
        thread.data = b"".join(chunks).lstrip(b"x").decode(errors="replace")

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def start_blocked_score(root, out, *extra):
    """`score ROOT/est ROOT/ref --out OUT` in a child whose stderr is a full pipe (see
    full_pipe), leading a process group of its own (with its worker processes), as a
    command started from a shell does. Returns (process, read end)."""
    read_end, write_end = full_pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "fastmixloss", "score", f"{root}/est", f"{root}/ref",
             "--out", str(out), "--read-ahead", "1", *SPECTRAL_FLAGS, *extra],
            stdout=subprocess.DEVNULL, stderr=write_end, env=subprocess_env(),
            start_new_session=True)
    finally:
        os.close(write_end)
    return process, read_end


def kill_blocked_score(root, out, rows, *extra):
    """`score` (see start_blocked_score) ended by SIGKILL once OUT holds `rows` rows, as
    the out-of-memory killer would end it. Returns the ended process."""
    process, read_end = start_blocked_score(root, out, *extra)
    try:
        wait_for_rows(process, out, rows)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        drain(read_end)
    return process


def wait_for_rows(process, out, rows, timeout=60):
    """Wait until OUT (CSV) holds `rows` rows and the process is still running."""
    import time

    def lines():
        if not os.path.exists(out):
            return 0
        with open(out, "rb") as f:
            return f.read().count(b"\n")

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if lines() == rows + 1:
            time.sleep(0.2)   # blocked: nothing more may come
            if lines() == rows + 1:
                return
        assert process.poll() is None, f"the run ended early ({process.returncode})"
        time.sleep(0.02)
    raise AssertionError(f"the run never stopped at {rows} rows (it has {lines() - 1})")


def run_subprocess(*args, timeout=120, **kwargs):
    """`python -m fastmixloss ...` in a fresh process, with this checkout importable."""
    env = subprocess_env()
    return subprocess.run([sys.executable, "-m", "fastmixloss", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, env=env,
                          **kwargs)


TEXT_COLUMNS = ("pair", "error", "est", "ref", "settings")


def read_csv(path):
    """Rows keyed by pair; numbers as floats, empty cells as None. Fails on a pair
    written twice."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    out = {}
    for row in rows:
        assert row["pair"] not in out, f"pair {row['pair']} written twice"
        out[row["pair"]] = {k: None if v == "" else v if k in TEXT_COLUMNS else float(v)
                            for k, v in row.items()}
    return out


def library_values(est, ref, losses=("mse", "sisdr", "mrstft", "sd"),
                   params=SPECTRAL_PARAMS):
    """What the library's one-pass evaluation (fastmixloss.evaluate, which the command
    line runs) gives for one pair of whole (C, T) arrays: the columns the command line
    must write, exactly. (Each equals the loss alone bit for bit but S/D's: see
    alone_values.)"""
    from fastmixloss.evaluation import evaluate
    parameters = {name: dict(params, output="full") for name in losses
                  if name in ("mrstft", "sd")}
    values = evaluate(est[None], ref[None], losses, **parameters)
    return flattened(values)


def alone_values(est, ref, losses=("mse", "sisdr", "mrstft", "sd"),
                 params=SPECTRAL_PARAMS):
    """What each loss's own function gives for one pair, as columns."""
    import fastmixloss as fm
    e, r = est[None], ref[None]
    values = {}
    for name in losses:
        if name in ("mrstft", "sd"):
            function = fm.mrstft_loss if name == "mrstft" else fm.sum_and_difference_loss
            values[name] = function(e, r, output="full", **params)
        else:
            values[name] = getattr(fm, name)(e, r)
    return flattened(values)


def flattened(values):
    out = {}
    for name, value in values.items():
        if hasattr(value, "to_dict"):
            out.update({f"{name}.{k}": float(v) for k, v in value.to_dict().items()})
        else:
            out[name] = float(value)
    return out


# S/D's spectra in the one pass come from the channels' (X(L+R) = X(L) + X(R)), which
# rounds differently in float32 than transforming L+R (docs/numerics.md): its columns
# agree with the loss alone to this, the others bit for bit
SD_RELATIVE = 1e-6


def assert_as_each_loss_alone(row, est, ref, **kwargs):
    """The row's loss columns against each loss's own function on the whole arrays."""
    alone = alone_values(est, ref, **kwargs)
    for column, value in alone.items():
        if column.startswith("sd."):
            assert abs(row[column] - value) <= SD_RELATIVE * abs(value), (column, row[column],
                                                                          value)
        else:
            assert row[column] == value, (column, row[column], value)


def read_jsonl(path):
    out = {}
    with open(path) as f:
        for line in f:
            row = json.loads(line)
            assert row["pair"] not in out
            out[row["pair"]] = row
    return out


def live_processes_in_group(group):
    """Pids of the processes of process group `group` that are alive (not zombies),
    from /proc (Linux); None where there is no /proc."""
    if not os.path.isdir("/proc/self"):
        return None
    alive = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after it
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == group and fields[0] != "Z":
            alive.append(int(name))
    return alive


def no_process_left(group, timeout=10):
    """Whether every process of the group has ended (the fork server of the workers
    ends just after the main process), waiting up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while live_processes_in_group(group) not in ([], None):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class FaultyScore:
    """What `score`'s worker runs for each pair (score.score_loaded), with a fault for
    the pair whose estimate file is named `name`. A test puts it in place of
    score.score_loaded; the worker receives it pickled (by value: this module is
    importable there too) and runs it in its own process.

    fault: a signal name ("SIGSEGV", "SIGKILL": the worker sends it to itself, as a crash
    or the out-of-memory killer would), "abort" (os.abort, as a failed assertion in
    native code), "interrupt" (Ctrl-C as Numba reports it from a kernel: a SystemError
    caused by KeyboardInterrupt), or "nan-sisdr" (the library's sisdr returns NaN).
    log: a file that gets the name of every pair started, one per line."""

    def __init__(self, fault, name, log=None):
        self.fault, self.name, self.log = fault, name, log

    def __call__(self, pair, loaded, settings):
        if self.log:
            with open(self.log, "a") as f:
                f.write(pair.key + "\n")
        if os.path.basename(pair.est or "") != self.name:
            return real_score_loaded(pair, loaded, settings)
        if self.fault == "abort":
            os.abort()
        if self.fault in ("interrupt", "nan-sisdr"):
            from fastmixloss.cli import losses
            real = losses.outcomes

            def faulty_outcomes(signals, jobs, device=None):
                if self.fault == "nan-sisdr":
                    results, silent = real(signals, jobs, device)
                    results[0]["sisdr"] = float("nan")
                    return results, silent
                try:
                    raise KeyboardInterrupt
                except KeyboardInterrupt as exc:
                    raise SystemError("CPUDispatcher(<function x>) returned a result "
                                      "with an exception set") from exc
            losses.outcomes = faulty_outcomes
            try:
                return real_score_loaded(pair, loaded, settings)
            finally:
                losses.outcomes = real
        os.kill(os.getpid(), getattr(signal, self.fault))
        time.sleep(10)   # a signal that does not end it at once still must not score
        raise AssertionError(f"{self.fault} did not end the worker")


def stuck_load(pair, length_policy):
    """A read that never returns (a hung network share), as the worker would run it."""
    time.sleep(3600)


def local_cluster(monkeypatch):
    """A real distributed.LocalCluster (2 worker processes on 127.0.0.1, 1 thread each),
    its workers with one Numba thread and this checkout importable (they inherit the
    environment). No dashboard, and the scheduler's HTTP server (which it starts anyway)
    on a free port: on its default, 8787, any other Dask on the machine makes it warn, and
    the suite's warnings are errors."""
    import pytest
    distributed = pytest.importorskip("distributed")
    monkeypatch.setenv("NUMBA_NUM_THREADS", "1")
    monkeypatch.setenv("PYTHONPATH", REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                    host="127.0.0.1", dashboard_address=None,
                                    scheduler_kwargs={"dashboard_address": ":0"},
                                    timeout="60s")
