"""`fastmixloss score` end to end on generated folders."""

import json
import os
import signal
import struct
import sys

import numpy as np
import pytest
from cli_helpers import (SPECTRAL_FLAGS, SPECTRAL_PARAMS, kill_blocked_score,
                         library_values, make_good_pairs, pair_signals, read_csv,
                         read_jsonl, subprocess_env, write)

from fastmixloss.cli.results_file import drop_torn_tail


def test_rows_equal_the_library_and_bad_pairs_become_error_rows(dataset, cli, tmp_path):
    est_dir, ref_dir, good, bad = dataset
    out = tmp_path / "results.csv"
    code, stdout, _ = cli("score", est_dir, ref_dir, "--out", out, *SPECTRAL_FLAGS)
    assert code == 1, "some pairs failed, so the exit code must say so"
    rows = read_csv(out)
    assert set(rows) == set(good) | set(bad)
    for name, (est, ref) in good.items():
        row = rows[name]
        assert row["error"] is None, row["error"]
        expected = library_values(est, ref)
        # the file holds the library's float64 values exactly (repr round-trips)
        assert {k: row[k] for k in expected} == expected, name
        assert (row["sample_rate"], row["channels"], row["samples"]) == (8000, 2, 2000)
    for name, words in bad.items():
        assert rows[name]["error"], f"{name} should be an error row"
        for word in words:
            assert word in rows[name]["error"], (name, rows[name]["error"])
    # the silent reference: undefined SI-SDR, the rest still computed
    silent = rows["silent.wav"]
    assert silent["sisdr"] is None and silent["mse"] is not None
    assert silent["mrstft.loss"] is not None
    assert rows["corrupt.wav"]["mse"] is None

    summary = json.loads((tmp_path / "results.csv.summary.json").read_text())
    assert (summary["pairs"], summary["failed"]) == (len(good) + len(bad), len(bad))
    # the statistics are over the pairs without an error: silent.wav's mse is left out
    mse = [rows[n]["mse"] for n in good]
    stats = summary["columns"]["mse"]
    assert stats["count"] == len(mse) and stats["undefined"] == len(bad)
    assert stats["mean"] == pytest.approx(np.mean(mse), rel=1e-12)
    assert stats["median"] == pytest.approx(np.median(mse), rel=1e-12)
    assert stats["p95"] == pytest.approx(np.percentile(mse, 95), rel=1e-12)
    assert summary["this_run"]["files_per_second"] > 0
    assert "sd.diff.loss" in stdout and "files/s" in stdout
    assert f"pairs: {len(rows)} ({len(good)} ok, {len(bad)} failed)" in stdout


def test_failed_pairs_never_enter_the_statistics_and_each_column_says_why(tmp_path, cli):
    """2 of 6 pairs scored without an error: every column's statistics are over those
    2, whatever values the failed ones have; the summary counts the 4 others per column
    with their reasons, in the JSON and on screen."""
    root = str(tmp_path / "data")
    good = make_good_pairs(root, ["a.wav", "b.wav"])
    rng = np.random.default_rng(8)
    for name in ("silent1.wav", "silent2.wav"):   # mse and the spectral values defined
        est, ref = pair_signals(rng)
        ref[1] = 0
        write(f"{root}/est/{name}", est)
        write(f"{root}/ref/{name}", ref)
    with open(f"{root}/est/corrupt.wav", "wb") as f:
        f.write(b"not audio")
    write(f"{root}/ref/corrupt.wav", good["a.wav"][1])
    write(f"{root}/est/alone.wav", good["a.wav"][0])
    out = tmp_path / "r.csv"
    code, stdout, _ = cli("score", f"{root}/est", f"{root}/ref", "--out", out,
                          *SPECTRAL_FLAGS)
    assert code == 1
    rows = read_csv(out)
    assert rows["silent1.wav"]["mse"] is not None   # the row keeps what it has
    summary = json.loads((tmp_path / "r.csv.summary.json").read_text())
    for column, stats in summary["columns"].items():
        values = [library_values(*good[name])[column] for name in good]
        assert stats["count"] == 2 and stats["undefined"] == 4, column
        assert stats["mean"] == pytest.approx(np.mean(values), rel=1e-12), column
        assert sum(stats["undefined_reasons"].values()) == 4
    reasons = summary["columns"]["mse"]["undefined_reasons"]
    assert reasons["left out: the pair has an error elsewhere"] == 2
    assert reasons["no reference for estimate <est>"] == 1
    assert [r for r in reasons if r.startswith("cannot read estimate <est>: ")]
    silent = ("sisdr: undefined, the reference is silent (all samples zero) in "
              "channel 2")
    assert summary["columns"]["sisdr"]["undefined_reasons"][silent] == 2
    table = stdout.split("\n\n")[0].splitlines()
    assert table[0].split()[:3] == ["loss", "count", "undefined"]
    assert table[2].split()[:3] == ["mse", "2", "4"]
    assert f"  2 pairs: {silent} (sisdr)" in stdout
    assert "  1 pair: no reference for estimate <est> (every column)" in stdout
    assert "  2 pairs: left out: the pair has an error elsewhere (mse, mrstft.*, " \
           "sd.*)" in stdout


def test_all_good_exits_zero_and_rerun_skips_everything(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    out = tmp_path / "r.csv"
    args = ("score", f"{root}/est", f"{root}/ref", "--out", out, *SPECTRAL_FLAGS)
    assert cli(*args)[0] == 0
    first = out.read_text()
    code, stdout, err = cli(*args)
    assert code == 0
    assert "nothing left to score" in stdout and "2 of 2 pairs already scored" in err
    assert out.read_text() == first


@pytest.mark.parametrize("policy, length", [("trim", 1500), ("pad", 2000)])
def test_length_policy(tmp_path, cli, policy, length):
    rng = np.random.default_rng(3)
    est = rng.standard_normal((2, 1500)).astype(np.float32)
    ref = rng.standard_normal((2, 2000)).astype(np.float32)
    write(f"{tmp_path}/e/s.wav", est)
    write(f"{tmp_path}/r/s.wav", ref)
    out = tmp_path / "r.csv"
    assert cli("score", f"{tmp_path}/e", f"{tmp_path}/r", "--out", out,
               "--length-policy", policy, *SPECTRAL_FLAGS)[0] == 0
    row = read_csv(out)["s.wav"]
    padded = np.zeros((2, length), np.float32)
    padded[:, :1500] = est
    expected = library_values(padded, ref[:, :length])
    assert {k: row[k] for k in expected} == expected
    assert row["samples"] == length


def test_jsonl_output_holds_the_same_rows(dataset, cli, tmp_path):
    est_dir, ref_dir, good, bad = dataset
    cli("score", est_dir, ref_dir, "--out", tmp_path / "r.csv", *SPECTRAL_FLAGS)
    code, _, _ = cli("score", est_dir, ref_dir, "--out", tmp_path / "r.jsonl",
                     *SPECTRAL_FLAGS)
    assert code == 1
    as_csv = read_csv(tmp_path / "r.csv")
    as_jsonl = read_jsonl(tmp_path / "r.jsonl")
    assert as_jsonl == as_csv
    assert as_jsonl["a.wav"]["channels"] == 2 and isinstance(as_jsonl["a.wav"]["channels"], int)
    assert (tmp_path / "r.jsonl.summary.json").exists()


def test_parquet_output(dataset, cli, tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    est_dir, ref_dir, good, bad = dataset
    cli("score", est_dir, ref_dir, "--out", tmp_path / "r.jsonl", *SPECTRAL_FLAGS)
    assert cli("score", est_dir, ref_dir, "--out", tmp_path / "r.parquet",
               *SPECTRAL_FLAGS)[0] == 1
    assert not (tmp_path / "r.parquet.partial.jsonl").exists()
    rows = {r["pair"]: r for r in pq.read_table(tmp_path / "r.parquet").to_pylist()}
    assert rows == read_jsonl(tmp_path / "r.jsonl")


def test_manifest_and_config_file(tmp_path, cli):
    root = str(tmp_path / "data")
    good = make_good_pairs(root, ["one.wav", "two.wav"])
    (tmp_path / "pairs.csv").write_text(
        "id,est,ref\nfirst,data/est/one.wav,data/ref/one.wav\n"
        "second,data/est/two.wav,data/ref/two.wav\nthird,data/est/missing.wav,"
        "data/ref/two.wav\n")
    (tmp_path / "losses.toml").write_text(
        'losses = ["l1", "sd"]\n[sd]\nfft_sizes = [64, 32]\nhop_sizes = [16, 8]\n'
        'win_lengths = [64, 32]\nw_diff = 0.5\nmag_distance = "L2"\n')
    out = tmp_path / "r.csv"
    code, _, _ = cli("score", "--pairs", tmp_path / "pairs.csv", "--config",
                     tmp_path / "losses.toml", "--w-sum", "2", "--out", out)
    assert code == 1
    rows = read_csv(out)
    params = dict(fft_sizes=(64, 32), hop_sizes=(16, 8), win_lengths=(64, 32), w_diff=0.5,
                  mag_distance="L2", w_sum=2.0)   # the flag adds to the file
    expected = library_values(*good["one.wav"], losses=("l1", "sd"), params=params)
    assert {k: rows["first"][k] for k in expected} == expected
    assert "mse" not in rows["first"]
    assert "does not exist" in rows["third"]["error"]
    # the same through JSON
    (tmp_path / "losses.json").write_text(json.dumps(
        {"losses": ["l1", "sd"], "sd": {"fft_sizes": [64, 32], "hop_sizes": [16, 8],
                                        "win_lengths": [64, 32], "w_diff": 0.5,
                                        "mag_distance": "L2"}}))
    cli("score", "--pairs", tmp_path / "pairs.csv", "--config", tmp_path / "losses.json",
        "--w-sum", "2", "--out", tmp_path / "j.csv")
    assert read_csv(tmp_path / "j.csv")["first"] == rows["first"]


@pytest.mark.parametrize("args, words", [
    (["--losses", "mse,bogus"], ["unknown loss", "bogus"]),
    (["--fft-size", "512"], ["--fft-size applies to stft"]),
    (["--fft-sizes", "64,128", "--hop-sizes", "16"], ["same length"]),
    (["--losses", "mrstft", "--fft-sizes", "64", "--hop-sizes", "0",
      "--win-lengths", "64"], ["mrstft", "hop_sizes[0]=0"]),
    (["--w-sum", "-1"], ["w_sum"]),
    (["--out", "r.txt"], ["unknown results format", "r.txt"]),
])
def test_bad_arguments_exit_2_naming_the_argument(tmp_path, cli, args, words):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    if "--out" not in args:
        args = args + ["--out", str(tmp_path / "r.csv")]
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", *args)
    assert code == 2
    for word in words:
        assert word in err, err


@pytest.mark.slow
def test_device_error_is_a_clear_message(tmp_path):
    """--device cuda where CUDA cannot run (here: disabled, the simulator the suite may
    use off): the library's DeviceError on one line, exit code 2, not a traceback; in
    score it comes from the worker process, which checks the settings."""
    import subprocess
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    env = dict(subprocess_env(), NUMBA_DISABLE_CUDA="1", NUMBA_ENABLE_CUDASIM="0")
    messages = []
    for command in (["score", f"{root}/est", f"{root}/ref", "--out", tmp_path / "r.csv"],
                    ["compare", f"{root}/est/x.wav", f"{root}/ref/x.wav"]):
        done = subprocess.run([sys.executable, "-m", "fastmixloss", *map(str, command),
                               "--device", "cuda", *SPECTRAL_FLAGS],
                              capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        prefix = f"fastmixloss {command[0]}: no usable CUDA GPU: "
        assert done.stderr.startswith(prefix), done.stderr
        messages.append(done.stderr[len(prefix):])
    assert messages[0] == messages[1] and "NUMBA_DISABLE_CUDA" in messages[0]
    assert not (tmp_path / "r.csv").exists()


def test_config_file_errors_name_the_key(tmp_path, cli):
    config = tmp_path / "c.toml"
    config.write_text("[mrstft]\nfft_size = 512\n")
    code, _, err = cli("score", tmp_path, tmp_path, "--config", config)
    assert code == 2 and "mrstft: unknown parameter fft_size" in err
    config.write_text("lossses = ['mse']\n")
    code, _, err = cli("score", tmp_path, tmp_path, "--config", config)
    assert code == 2 and "unknown setting 'lossses'" in err


def test_resume_refuses_other_parameters(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    out = tmp_path / "r.csv"
    base = ("score", f"{root}/est", f"{root}/ref", "--out", out, *SPECTRAL_FLAGS)
    assert cli(*base)[0] == 0
    code, _, err = cli(*base, "--w-diff", "0.5")
    assert code == 2 and "other loss parameters" in err
    assert cli(*base, "--w-diff", "0.5", "--overwrite")[0] == 0


@pytest.mark.slow
def test_killed_run_resumes_with_every_row_once(tmp_path, cli):
    """A real process killed with SIGKILL mid-run, a torn last line, then the same
    command again: every pair exactly once, with the values of an uninterrupted run.

    The 7th pair's estimate is corrupt, and the run's stderr is a full pipe: it blocks
    printing that pair's error just after writing its row (a slow terminal, in effect),
    so the kill lands at a known point, after seven rows."""
    names = [f"p{i:02d}.wav" for i in range(12)]
    root = str(tmp_path / "data")
    make_good_pairs(root, names)
    with open(os.path.join(root, "est", names[6]), "wb") as f:
        f.write(b"not audio")
    clean = tmp_path / "clean.csv"
    cli("score", f"{root}/est", f"{root}/ref", "--out", clean, *SPECTRAL_FLAGS)

    out = tmp_path / "r.csv"
    process = kill_blocked_score(root, out, 7)
    assert process.returncode == -signal.SIGKILL
    assert len(read_csv(out)) == 7
    # a kill in the middle of a write leaves a torn line: make one
    with open(out, "a") as f:
        f.write("p07.wav,,est/p07.wav,ref/p07.wav,8000,2,2000,abc,0.12")

    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out", out,
                       *SPECTRAL_FLAGS)
    assert code == 1   # the corrupt pair
    assert "incomplete last line" in err and "7 of 12 pairs already scored" in err
    assert read_csv(out) == read_csv(clean)   # read_csv fails on a pair written twice


@pytest.mark.parametrize("tail, kept", [
    (b"h\na,1\nb,2\n", b"h\na,1\nb,2\n"),
    (b"h\na,1\nb,", b"h\na,1\n"),
    (b"h\na,1\n", b"h\na,1\n"),
    (b"hea", b""),
])
def test_drop_torn_tail(tmp_path, tail, kept):
    path = tmp_path / "f.csv"
    path.write_bytes(tail)
    assert drop_torn_tail(path) == len(tail) - len(kept)
    assert path.read_bytes() == kept


def test_a_second_run_on_the_same_file_is_refused(tmp_path):
    fcntl = pytest.importorskip("fcntl")
    from fastmixloss.cli.errors import USAGE, CommandError
    from fastmixloss.cli.results_file import open_results
    columns = ("pair", "error", "est", "ref", "sample_rate", "channels", "samples",
               "settings", "mse")
    first = open_results(str(tmp_path / "r.csv"), columns)
    try:
        with pytest.raises(CommandError, match="another fastmixloss run") as refused:
            open_results(str(tmp_path / "r.csv"), columns)
        assert refused.value.exit_code == USAGE
    finally:
        first.close()
    assert fcntl   # the lock is POSIX-only


def test_png_header_helper_reads_size(tmp_path):
    # guards the helper the plot test relies on
    data = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + struct.pack(">II", 3, 4)
    assert png_size(data) == (3, 4)


def png_size(data):
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


@pytest.mark.slow
def test_compare_prints_every_loss_and_plots(tmp_path, cli):
    pytest.importorskip("matplotlib")
    root = str(tmp_path / "data")
    est, ref = make_good_pairs(root, ["x.wav"])["x.wav"]
    picture = tmp_path / "diff.png"
    code, out, _ = cli("compare", f"{root}/est/x.wav", f"{root}/ref/x.wav",
                       "--plot", picture, "--plot-size", "640x480", *SPECTRAL_FLAGS)
    assert code == 0
    for label in ("mse", "sisdr", "mrstft.loss", "mrstft.sc", "mrstft.log_mag", "sd.loss",
                  "sd.sum.loss", "sd.diff.loss", "mrstft[channel 1].loss",
                  "mrstft[channel 2].loss"):
        assert f"\n{label} " in out, label
    assert png_size(picture.read_bytes()) == (640, 480)

    code, out, _ = cli("compare", f"{root}/est/x.wav", f"{root}/ref/x.wav", "--json",
                       *SPECTRAL_FLAGS)
    values = json.loads(out)["values"]
    expected = library_values(est, ref)
    assert {k: values[k] for k in expected} == expected
    import fastmixloss as fm
    assert values["mrstft[channel 2].loss"] == fm.mrstft_loss(est[1], ref[1],
                                                               **SPECTRAL_PARAMS)


def test_compare_reports_a_bad_pair(tmp_path, cli):
    write(f"{tmp_path}/a.wav", np.zeros((2, 100)), rate=8000)
    write(f"{tmp_path}/b.wav", np.zeros((2, 100)), rate=16000)
    code, _, err = cli("compare", f"{tmp_path}/a.wav", f"{tmp_path}/b.wav")
    assert code == 1 and "sample rates differ" in err


def test_parquet_journal_survives_a_kill_and_resumes(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet")
    from fastmixloss.cli.results_file import BASE_COLUMNS, open_results
    columns = BASE_COLUMNS + ("mse",)
    path = str(tmp_path / "r.parquet")

    def row(key, value):
        return {"pair": key, "est": f"e/{key}", "ref": f"r/{key}", "sample_rate": 8000,
                "channels": 2, "samples": 10, "settings": "s", "mse": value}
    first = open_results(path, columns)
    first.write(row("a", 0.5))
    first.write(row("b", 0.25))
    first._journal._file.close()   # what a kill leaves: the journal, no Parquet yet
    assert not os.path.exists(path)
    with open(path + ".partial.jsonl", "a") as f:
        f.write('{"pair": "c", "err')   # and a torn last line
    second = open_results(path, columns)
    assert [r["pair"] for r in second.existing] == ["a", "b"]
    second.write(row("c", 0.125))
    second.close()
    table = pq.read_table(path).to_pylist()
    assert [(r["pair"], r["mse"], r["error"]) for r in table] == [
        ("a", 0.5, None), ("b", 0.25, None), ("c", 0.125, None)]
    assert not os.path.exists(path + ".partial.jsonl")
    third = open_results(path, columns)   # a finished file resumes from the Parquet
    assert [r["pair"] for r in third.existing] == ["a", "b", "c"]
    third.close()


def test_progress_bar_on_a_terminal_lines_in_a_log(monkeypatch):
    from fastmixloss.cli import progress, score
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = score.progress_bar(3, quiet=False)
    # tqdm is optional: without it, lines as in a log (and a note saying why)
    try:
        import tqdm
        has_tqdm = True
    except ImportError:
        has_tqdm = False
    assert isinstance(bar, tqdm.tqdm) if has_tqdm else isinstance(bar, progress._LogLines)
    bar.close()
    assert isinstance(score.progress_bar(3, quiet=True), progress._NoBar)
    monkeypatch.setattr(sys.stderr, "isatty", lambda: False, raising=False)
    assert isinstance(score.progress_bar(3, quiet=False), progress._LogLines)
