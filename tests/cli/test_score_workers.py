"""`score`'s worker process: a pair that kills it (a segfault, an abort, the
out-of-memory killer's SIGKILL) is an error row saying so, the other pairs are scored by
a new worker, and neither the run nor a resume tries that pair without end.

The faults are real: the worker process sends itself the signal while scoring the pair
(see cli_helpers.FaultyScore, given to the worker in place of the scoring function)."""

import os
import signal
import subprocess
import sys

import pytest
from cli_helpers import (SPECTRAL_FLAGS, FaultyScore, library_values, make_good_pairs,
                         no_process_left, read_csv, subprocess_env)

from fastmixloss.cli import score
from fastmixloss.cli.workers import death_text


@pytest.mark.parametrize("fault, how", [
    ("SIGSEGV", "signal 11 (SIGSEGV)"),
    ("abort", "signal 6 (SIGABRT)"),
    ("SIGKILL", "signal 9 (SIGKILL), killed from outside"),
])
def test_a_pair_that_kills_its_worker_is_an_error_row_and_the_run_goes_on(
        tmp_path, cli, monkeypatch, fault, how):
    root = str(tmp_path / "data")
    names = [f"p{i}.wav" for i in range(6)]
    good = make_good_pairs(root, names)
    log = tmp_path / "started.txt"
    monkeypatch.setattr(score, "score_loaded", FaultyScore(fault, "p2.wav", log))
    out = tmp_path / "r.csv"
    args = ("score", f"{root}/est", f"{root}/ref", "--out", out, *SPECTRAL_FLAGS)

    code, stdout, err = cli(*args)
    assert code == 1
    rows = read_csv(out)
    assert set(rows) == set(names)
    error = rows["p2.wav"]["error"]
    assert error.startswith(f"worker died: {how}") and error.endswith(" this pair"), error
    assert rows["p2.wav"]["mse"] is None
    for name in names:
        if name != "p2.wav":
            assert rows[name]["error"] is None, (name, rows[name]["error"])
            expected = library_values(*good[name])
            assert {k: rows[name][k] for k in expected} == expected, name
    assert f"failed: p2.wav: worker died: {how}" in stdout
    started = log.read_text().splitlines()
    # with others beside it once, then alone: never more than twice in a run
    assert 1 <= started.count("p2.wav") <= 2
    assert all(started.count(name) <= 2 for name in names)

    # a resume keeps the error row: the pair is not tried again
    code, stdout, err = cli(*args)
    assert code == 1 and "nothing left to score" in stdout
    assert log.read_text().splitlines() == started
    assert read_csv(out) == rows

    # --retry-errors tries it once more, and it is an error row again
    code, _, err = cli(*args, "--retry-errors")
    assert code == 1
    assert log.read_text().splitlines()[len(started):] == ["p2.wav"]
    assert read_csv(out) == rows


def test_the_pairs_beside_a_crash_are_scored_again_alone(tmp_path, cli, monkeypatch):
    """--read-ahead 3: the worker holds the crashing pair and the next ones when it dies;
    each is scored again alone, and only the crashing one is an error."""
    root = str(tmp_path / "data")
    names = [f"p{i}.wav" for i in range(5)]
    good = make_good_pairs(root, names)
    log = tmp_path / "started.txt"
    monkeypatch.setattr(score, "score_loaded", FaultyScore("SIGSEGV", "p0.wav", log))
    out = tmp_path / "r.csv"
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out", out,
                       "--read-ahead", "3", *SPECTRAL_FLAGS)
    assert code == 1
    rows = read_csv(out)
    assert [name for name in rows if rows[name]["error"]] == ["p0.wav"]
    for name in names[1:]:
        expected = library_values(*good[name])
        assert {k: rows[name][k] for k in expected} == expected, name
    started = log.read_text().splitlines()
    if started.count("p0.wav") == 2:   # it died holding others: it says so
        assert "scoring each of them again, alone" in err


@pytest.mark.slow
def test_a_crash_in_a_real_run_says_so_once_and_leaves_no_process(tmp_path):
    """The command in a process of its own, a real segfault in its worker: stderr has
    the pair's error and nothing else (no traceback, no warning from multiprocessing
    about what the dead worker held), and every process of the run is gone after it."""
    root = str(tmp_path / "data")
    make_good_pairs(root, ["p0.wav", "p1.wav", "p2.wav"])
    driver = ("import sys\n"
              f"sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})\n"
              "from cli_helpers import FaultyScore\n"
              "from fastmixloss.cli import main, score\n"
              "score.score_loaded = FaultyScore('SIGSEGV', 'p1.wav')\n"
              "sys.exit(main(sys.argv[1:]))\n")
    process = subprocess.Popen(
        [sys.executable, "-c", driver, "score", f"{root}/est", f"{root}/ref", "--out",
         str(tmp_path / "r.csv"), *SPECTRAL_FLAGS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
        start_new_session=True)
    try:
        out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 1, err
    error = "p1.wav: worker died: signal 11 (SIGSEGV) while scoring this pair"
    lines = err.splitlines()
    assert f"fastmixloss: {error}" in lines
    assert all(line.startswith("fastmixloss: ") for line in lines), err
    assert "failed: " + error in out
    assert no_process_left(process.pid)
    rows = read_csv(tmp_path / "r.csv")
    assert [rows[name]["error"] is None for name in sorted(rows)] == [True, False, True]


class ScriptedWorker:
    """Stands in for workers.Worker, in this process. Its reading thread takes a pair
    from the connection while its read-ahead has room, here `read_ahead` pairs beside
    the one computing (each pair one unit of the budget, as tiny files fill bytes
    alike); it computes them in order. `dies(pair, held)` says whether computing `pair`
    kills it while it holds `held` (the pairs it has taken and not finished).
    Instances: ScriptedWorker.started."""

    dies = staticmethod(lambda pair, held: False)
    started = []

    def __init__(self, settings, load, score, read_ahead, check_rate=None):
        self.ready, self.exitcode, self.check_rate = False, None, check_rate
        self.capacity = read_ahead + 1
        self.inbox, self.held, self.outbox = [], [], [("ready", ())]
        ScriptedWorker.started.append(self)

    def send(self, pair):
        if self.exitcode is not None:
            return False
        self.inbox.append(pair)
        self._take()
        return True

    def _take(self):
        while self.inbox and len(self.held) < self.capacity:
            self.held.append(self.inbox.pop(0))
            self.outbox.append(("got",))

    def receive(self):
        if self.outbox:
            return self.outbox.pop(0)
        if self.exitcode is None and self.held:
            if self.dies(self.held[0], list(self.held)):
                self.exitcode = -signal.SIGSEGV
                return None
            row = ("row", {"pair": self.held.pop(0).key, "error": None})
            self._take()
            return row
        self.exitcode = -signal.SIGKILL   # waited on with nothing to do: killed idle
        return None

    def stop(self, at_once=False):
        pass


def scripted_rows(monkeypatch, names, dies, read_ahead=2):
    from fastmixloss.cli import workers
    from fastmixloss.cli.audio import Pair
    from fastmixloss.cli.losses import LossSettings
    monkeypatch.setattr(workers, "Worker", ScriptedWorker)
    monkeypatch.setattr(ScriptedWorker, "dies", staticmethod(dies))
    monkeypatch.setattr(ScriptedWorker, "started", [])
    notes = []
    rows = workers.rows_in_workers(
        [Pair(n, n, n) for n in names], LossSettings.build(["mse"], {}), read_ahead,
        None, None, lambda pair, settings, error: {"pair": pair.key, "error": error},
        note=notes.append)
    return {row["pair"]: row["error"] for row in rows}, notes


def test_a_death_holding_several_pairs_scores_each_again_alone(monkeypatch):
    """p1 crashes whenever computed; the worker holds p1, p2, p3 then (read-ahead 2):
    each of them is scored again alone, p1 is the one blamed, and the rest is scored."""
    names = [f"p{i}" for i in range(6)]
    errors, notes = scripted_rows(monkeypatch, names, lambda pair, held: pair.key == "p1")
    assert list(errors) == names   # rows in the pairs' order
    assert errors["p1"] == "worker died: signal 11 (SIGSEGV) while scoring this pair"
    assert [e for n, e in errors.items() if n != "p1"] == [None] * 5
    assert notes == ["fastmixloss: worker died: signal 11 (SIGSEGV), holding 3 pairs; "
                     "scoring each of them again, alone"]
    assert len(ScriptedWorker.started) == 3   # the first, then one after each death


def test_a_pair_that_crashes_only_in_company_is_not_blamed(monkeypatch):
    """A death that no pair reproduces alone (damage done by a pair read beside it, say):
    every pair is scored, each tried at most twice."""
    died = []

    def dies(pair, held):
        if pair.key == "p2" and len(held) > 1 and not died:
            died.append(pair.key)
            return True
        return False
    errors, _ = scripted_rows(monkeypatch, [f"p{i}" for i in range(5)], dies)
    assert died == ["p2"] and set(errors.values()) == {None}


def test_workers_dying_idle_stop_the_run(monkeypatch):
    """Workers that die holding no pair (the system kills each new one, say) stop the
    run after three, instead of starting new ones without end."""
    from fastmixloss.cli.errors import STOPPED, CommandError
    from fastmixloss.cli.workers import MAX_IDLE_DEATHS

    def ready_then_killed(self):
        if self.outbox:
            return self.outbox.pop(0)
        self.exitcode = -signal.SIGKILL
        return None
    monkeypatch.setattr(ScriptedWorker, "send", lambda self, pair: False)
    monkeypatch.setattr(ScriptedWorker, "receive", ready_then_killed)
    with pytest.raises(CommandError, match="3 worker processes ended holding no pair") \
            as stopped:
        scripted_rows(monkeypatch, ["p0", "p1"], lambda pair, held: False)
    assert stopped.value.exit_code == STOPPED
    assert len(ScriptedWorker.started) == MAX_IDLE_DEATHS == 3


@pytest.mark.parametrize("exitcode, text", [
    (-signal.SIGSEGV, "signal 11 (SIGSEGV)"),
    (-signal.SIGABRT, "signal 6 (SIGABRT)"),
    (-signal.SIGKILL, "signal 9 (SIGKILL), killed from outside (as the system's "
                      "out-of-memory killer does)"),
    (-200, "signal 200"),
    (1, "exit code 1"),
])
def test_death_text_names_the_signal(exitcode, text):
    assert death_text(exitcode) == text
