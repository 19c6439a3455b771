"""The command line's rough edges (issue 8): closed pipes, the summary's name, nothing to
score, the progress bar on resume, --retry-errors, --plot, compare's lines and help, a
silent reference channel, undefined values."""

import argparse
import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import (RATE, SPECTRAL_FLAGS, FaultyScore, kill_blocked_score,
                         library_values, make_good_pairs, pair_signals, read_csv,
                         read_jsonl, subprocess_env, write)

from fastmixloss.cli import build_parser


def run_into_closed_pipe(*args):
    """`python -m fastmixloss ARGS` whose stdout is a pipe nobody reads any more (what
    `| head -1` leaves once head has its line): (exit code, stderr)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = subprocess.run([sys.executable, "-m", "fastmixloss", *map(str, args)],
                                stdout=write_end, stderr=subprocess.PIPE, text=True,
                                env=subprocess_env(), timeout=120)
    finally:
        os.close(write_end)
    return result.returncode, result.stderr


def test_demo_into_a_closed_pipe_ends_quietly():
    code, err = run_into_closed_pipe("demo", "--seconds", "0.5")
    assert code == 141, err   # 128 + SIGPIPE, what a shell shows for `yes | head -1`
    assert "Traceback" not in err and "BrokenPipe" not in err


@pytest.mark.slow
def test_score_into_a_closed_pipe_ends_quietly_with_its_files_complete(tmp_path):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    out = tmp_path / "r.csv"
    code, err = run_into_closed_pipe("score", f"{root}/est", f"{root}/ref", "--out", out,
                                     *SPECTRAL_FLAGS)
    assert code == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert len(read_csv(out)) == 2
    assert json.loads((tmp_path / "r.csv.summary.json").read_text())["pairs"] == 2


def test_csv_and_jsonl_in_one_folder_keep_their_own_summaries(tmp_path, cli):
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav", "y.wav"])
    base = ("score", f"{root}/est", f"{root}/ref", *SPECTRAL_FLAGS)
    assert cli(*base, "--out", tmp_path / "results.csv")[0] == 0
    (tmp_path / "data" / "est" / "y.wav").unlink()   # the second run sees one failure
    assert cli(*base, "--out", tmp_path / "results.jsonl")[0] == 1
    as_csv = json.loads((tmp_path / "results.csv.summary.json").read_text())
    as_jsonl = json.loads((tmp_path / "results.jsonl.summary.json").read_text())
    assert as_csv["results"].endswith("results.csv") and as_csv["failed"] == 0
    assert as_jsonl["results"].endswith("results.jsonl") and as_jsonl["failed"] == 1
    assert not (tmp_path / "results.summary.json").exists()


def test_folders_without_audio_say_so_and_exit_2(tmp_path, cli):
    for side in ("est", "ref"):
        (tmp_path / side).mkdir()
        (tmp_path / side / "notes.txt").write_text("no audio here")
    code, out, err = cli("score", tmp_path / "est", tmp_path / "ref", "--out",
                         tmp_path / "r.csv", *SPECTRAL_FLAGS)
    assert code == 2
    assert "no audio files found" in err and ".wav" in err
    assert not (tmp_path / "r.csv").exists()
    (tmp_path / "pairs.csv").write_text("est,ref\n")
    code, _, err = cli("score", "--pairs", tmp_path / "pairs.csv", "--out",
                       tmp_path / "r.csv", *SPECTRAL_FLAGS)
    assert code == 2 and "lists no pairs" in err


def test_resumed_progress_counts_from_the_pairs_already_done(tmp_path, cli, monkeypatch):
    from fastmixloss.cli import score
    root = str(tmp_path / "data")
    make_good_pairs(root, ["a.wav", "b.wav"])
    args = ("score", f"{root}/est", f"{root}/ref", "--out", tmp_path / "r.csv",
            *SPECTRAL_FLAGS)
    assert cli(*args)[0] == 0
    make_good_pairs(root, ["c.wav"], seed=8)
    calls = []
    real = score.progress_bar

    def recording(total, quiet, done=0):
        calls.append((total, done))
        return real(total, quiet, done)
    monkeypatch.setattr(score, "progress_bar", recording)
    assert cli(*args)[0] == 0
    assert calls == [(3, 2)]


def test_progress_bar_starts_at_the_pairs_done(monkeypatch):
    pytest.importorskip("tqdm")
    from fastmixloss.cli import score
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    bar = score.progress_bar(1000, quiet=False, done=317)
    try:
        assert (bar.n, bar.total) == (317, 1000)
    finally:
        bar.close()


def break_pair(root, name):
    with open(os.path.join(root, "est", name), "wb") as f:
        f.write(b"not audio")


@pytest.mark.parametrize("extension", ["csv", "jsonl", "parquet"])
def test_retry_errors_scores_the_failed_pairs_again_and_keeps_the_rest(
        tmp_path, cli, extension):
    if extension == "parquet":
        pytest.importorskip("pyarrow")
    root = str(tmp_path / "data")
    good = make_good_pairs(root, ["a.wav", "b.wav", "c.wav"])
    fixed = {name: good[name][0] for name in ("b.wav", "c.wav")}
    for name in fixed:
        break_pair(root, name)
    out = tmp_path / f"r.{extension}"
    clean = tmp_path / "clean.csv"
    args = ("score", f"{root}/est", f"{root}/ref", *SPECTRAL_FLAGS)
    assert cli(*args, "--out", out)[0] == 1
    # without --retry-errors an error row counts as done
    code, stdout, _ = cli(*args, "--out", out)
    assert code == 1 and "nothing left to score" in stdout
    for name, est in fixed.items():
        write(os.path.join(root, "est", name), est)
    cli(*args, "--out", clean)
    code, _, err = cli(*args, "--out", out, "--retry-errors")
    assert code == 0, err
    assert "scoring again the 2 pairs" in err
    rows = read_rows(out)
    assert rows == read_rows(clean)   # other rows kept; retried ones as a clean run's
    assert all(row["error"] is None for row in rows.values())
    summary = json.loads((tmp_path / f"r.{extension}.summary.json").read_text())
    assert (summary["pairs"], summary["failed"]) == (3, 0)


def read_rows(path):
    path = str(path)
    if path.endswith(".csv"):
        return read_csv(path)
    if path.endswith(".jsonl"):
        return read_jsonl(path)
    import pyarrow.parquet as pq
    return {r["pair"]: r for r in pq.read_table(path).to_pylist()}


@pytest.mark.slow
def test_retry_errors_killed_mid_retry_leaves_a_file_that_resumes(tmp_path, cli):
    """SIGKILL after the error rows were taken out and before any was scored again: the
    file holds every good row and no error row, and the next run scores the rest."""
    root = str(tmp_path / "data")
    names = [f"p{i}.wav" for i in range(5)]
    good = make_good_pairs(root, names)
    for name in ("p1.wav", "p3.wav"):
        break_pair(root, name)
    out = tmp_path / "r.csv"
    args = ("score", f"{root}/est", f"{root}/ref", *SPECTRAL_FLAGS)
    assert cli(*args, "--out", out)[0] == 1
    before = read_csv(out)
    for name in ("p1.wav", "p3.wav"):
        write(os.path.join(root, "est", name), good[name][0])
    # the run's first message (the retry note) blocks on the full pipe: a known point
    kill_blocked_score(root, out, 3, "--retry-errors")
    assert read_csv(out) == {k: v for k, v in before.items() if not v["error"]}
    assert cli(*args, "--out", out)[0] == 0
    cli(*args, "--out", tmp_path / "clean.csv")
    assert read_csv(out) == read_csv(tmp_path / "clean.csv")


@pytest.fixture
def swapped(tmp_path):
    root = str(tmp_path / "data")
    est, ref = make_good_pairs(root, ["x.wav"])["x.wav"]
    write(os.path.join(root, "est", "swap.wav"), ref[::-1])
    write(os.path.join(root, "ref", "swap.wav"), ref)
    return root, ref


def test_plot_shows_the_reference_each_channel_and_a_fixed_range(swapped):
    pytest.importorskip("matplotlib")
    from fastmixloss.cli.plot import difference_figure
    _, ref = swapped
    resolutions = [(64, 16, 64), (128, 32, 96)]
    figure, limit = difference_figure(ref[::-1].copy(), ref, RATE, resolutions,
                                      (900, 600), db_range=20)
    assert limit == 20
    panels = {}
    for ax in figure.axes:
        if ax.collections and ax.get_title():   # titled: the top row; colour bars have none
            panels[ax.get_title()] = ax.collections[0]
    assert list(panels) == ["reference", "sum L+R", "difference L-R", "channel 1",
                            "channel 2"]
    for name in ("sum L+R", "difference L-R", "channel 1", "channel 2"):
        assert panels[name].get_clim() == (-20, 20)
    # a swap: nothing in the sum and difference picture, plenty in each channel's
    assert np.abs(panels["sum L+R"].get_array()).max() == 0
    assert np.abs(panels["difference L-R"].get_array()).max() == 0
    assert np.abs(panels["channel 1"].get_array()).max() > 3
    assert -10 < panels["reference"].get_array().max() <= 0   # dB re its loudest bin
    only_sd, _ = difference_figure(ref[::-1].copy(), ref, RATE, resolutions, (900, 600),
                                   view="sd")
    assert [ax.get_title() for ax in only_sd.axes if ax.get_title()] == [
        "reference", "sum L+R", "difference L-R"]


@pytest.mark.slow
@pytest.mark.parametrize("name, magic", [("p.jpg", b"\xff\xd8\xff"), ("p.svg", b"<?xml"),
                                         ("p.pdf", b"%PDF"), ("p.png", b"\x89PNG")])
def test_plot_format_follows_the_extension(swapped, cli, tmp_path, name, magic):
    pytest.importorskip("matplotlib")
    root, _ = swapped
    picture = tmp_path / name
    code, _, err = cli("compare", f"{root}/est/swap.wav", f"{root}/ref/swap.wav",
                       "--plot", picture, "--plot-size", "700x500", "--plot-range", "30",
                       *SPECTRAL_FLAGS)
    assert code == 0, err
    assert picture.read_bytes().startswith(magic)


@pytest.mark.slow
def test_a_picture_too_small_for_its_panels_is_refused(swapped, cli, tmp_path):
    pytest.importorskip("matplotlib")
    root, _ = swapped
    pair = (f"{root}/est/swap.wav", f"{root}/ref/swap.wav")
    code, _, err = cli("compare", *pair, "--plot", tmp_path / "p.png", "--plot-size",
                       "500x400", *SPECTRAL_FLAGS)
    assert code == 2 and "at least 640x450" in err
    assert not (tmp_path / "p.png").exists()
    code, _, err = cli("compare", *pair, "--plot", tmp_path / "p.png", "--plot-size",
                       "500x450", "--plot-view", "sd", *SPECTRAL_FLAGS)
    assert code == 0, err


@pytest.mark.parametrize("plot, words", [
    ("p.xyz", ["unknown picture format 'xyz'", ".png"]),
    ("p", ["unknown picture format '(none)'"]),
    ("/nonexistent/dir/p.png", ["/nonexistent/dir", "does not exist"]),
])
def test_a_picture_that_cannot_be_written_is_refused_first(swapped, cli, plot, words):
    pytest.importorskip("matplotlib")
    root, _ = swapped
    code, out, err = cli("compare", f"{root}/est/swap.wav", f"{root}/ref/swap.wav",
                         "--plot", plot, *SPECTRAL_FLAGS)
    assert code == 2
    assert out == ""   # refused before any loss was computed
    for word in words:
        assert word in err, err


def test_compare_prints_per_channel_lines_only_with_a_spectral_loss(swapped, cli):
    root, _ = swapped
    pair = (f"{root}/est/x.wav", f"{root}/ref/x.wav")
    code, out, _ = cli("compare", *pair, "--losses", "snr,esr")
    assert code == 0 and "\nsnr " in out
    assert "mrstft[channel" not in out
    code, out, _ = cli("compare", *pair, "--losses", "sd", *SPECTRAL_FLAGS)
    assert "mrstft[channel 2].loss" in out


def test_compare_given_a_folder_points_to_score(swapped, cli):
    root, _ = swapped
    code, _, err = cli("compare", f"{root}/est", f"{root}/ref")
    assert code == 2
    assert "is a folder" in err and "fastmixloss score EST_DIR REF_DIR" in err
    assert "Format not recognised" not in err


def test_compare_says_the_auraloss_sd_value_is_halved(swapped, cli):
    root, _ = swapped
    pair = (f"{root}/est/x.wav", f"{root}/ref/x.wav")
    _, out, _ = cli("compare", *pair, "--compat", "auraloss", *SPECTRAL_FLAGS)
    line = next(t for t in out.splitlines() if t.startswith("sd.loss "))
    assert "/ 2" in line and "auraloss" in line
    _, out, _ = cli("compare", *pair, "--w-diff", "0.5", *SPECTRAL_FLAGS)
    line = next(t for t in out.splitlines() if t.startswith("sd.loss "))
    assert "0.5 MR(L-R)" in line and "/ 2" not in line


def test_tables_fit_in_80_columns(dataset, cli, tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    est_dir, ref_dir, good, _ = dataset
    _, out, _ = cli("score", est_dir, ref_dir, "--out", tmp_path / "r.csv",
                    *SPECTRAL_FLAGS)
    table = out.split("\n\npairs:")[0].splitlines()
    assert {"count", "mean", "median"} <= set(table[0].split())
    assert max(map(len, table)) <= 80, "\n".join(table)
    _, out, _ = cli("compare", f"{est_dir}/a.wav", f"{ref_dir}/a.wav", *SPECTRAL_FLAGS)
    lines = out.splitlines()[4:]
    assert max(map(len, lines)) <= 80, out
    # a wide terminal shows every statistic (and, as some pairs failed, how many pairs
    # each column's statistics leave out)
    monkeypatch.setenv("COLUMNS", "200")
    _, out, _ = cli("score", est_dir, ref_dir, "--out", tmp_path / "r.csv",
                    *SPECTRAL_FLAGS)
    assert out.splitlines()[0].split() == ["loss", "count", "undefined", "mean", "std",
                                           "min", "p5", "p25", "median", "p75", "p95",
                                           "max"]


def test_help_texts():
    parser = build_parser()
    assert "SNR, SI-SDR and SD-SDR are negated dB" in parser.format_help()
    score = parser._subparsers._group_actions[0].choices["score"]
    text = score.format_help()
    assert "folder of estimated mixes" in text and "folder of reference mixes" in text
    missing = [action.option_strings[0] for action in score._actions
               if action.option_strings and action.nargs != 0
               and "default" not in (action.help or "")]
    assert missing == []
    assert all(isinstance(a, argparse._HelpAction) or a.help for a in score._actions)


def table_values(out):
    """compare's table: {loss: the value as printed}."""
    cells = (re.split(r"\s{2,}", line.strip()) for line in out.splitlines())
    return {c[0]: c[1] for c in cells if len(c) >= 2 and not c[0].startswith("-")}


def test_a_silent_reference_channel_is_undefined_in_compare_too(tmp_path, cli):
    rng = np.random.default_rng(5)
    est, ref = pair_signals(rng)
    ref[1] = 0
    write(f"{tmp_path}/e.wav", est)
    write(f"{tmp_path}/r.wav", ref)
    code, out, _ = cli("compare", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav",
                       *SPECTRAL_FLAGS)
    assert code == 1
    lines = table_values(out)
    assert float(lines["mrstft[channel 1].loss"]) > 0
    assert lines["mrstft[channel 2].loss"] == "undefined" == lines["sisdr"]
    assert "not computed: mrstft[channel 2]: undefined, the reference is silent" in out
    assert "not computed: sisdr: undefined, the reference is silent" in out
    code, out, _ = cli("compare", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav", "--json",
                       *SPECTRAL_FLAGS)
    document = json.loads(out)
    assert "mrstft[channel 2].loss" not in document["values"]
    assert any("channel 2" in e and "undefined" in e for e in document["errors"])


def test_an_undefined_spectral_convergence_keeps_the_other_terms_in_score(tmp_path, cli):
    """Against a dual-mono reference (an old mono recording) S/D's difference part has no
    reference energy: its convergence, and the sums holding it, are undefined with the
    library's reason; its other terms and the sum part keep their values. Against an
    all-zero reference, MR-STFT's convergence is undefined and its magnitude terms
    stay."""
    root = str(tmp_path / "data")
    rng = np.random.default_rng(12)
    est, ref = pair_signals(rng)
    ref[1] = ref[0]
    write(f"{root}/est/mono.wav", est)
    write(f"{root}/ref/mono.wav", ref)
    write(f"{root}/est/zero.wav", est)
    write(f"{root}/ref/zero.wav", np.zeros_like(ref))
    out = tmp_path / "r.csv"
    code, stdout, _ = cli("score", f"{root}/est", f"{root}/ref", "--out", out,
                          *SPECTRAL_FLAGS)
    assert code == 1
    rows = read_csv(out)
    mono = rows["mono.wav"]
    expected = library_values(est, ref)
    for column, value in expected.items():
        if column.startswith(("sd.diff.", "sd.loss")) and column.endswith(("sc", "loss")):
            assert np.isnan(value) and mono[column] is None, column
        else:
            assert mono[column] == value, column
    assert mono["sd.sum.loss"] is not None and mono["sd.diff.log_mag"] is not None
    assert mono["error"] == (
        "sd: loss, diff.loss, diff.sc (and 6 per-resolution values) undefined for this "
        "pair: the reference's difference signal (L - R) has no energy above the "
        "magnitude floor (eps=1e-08)")
    zero = rows["zero.wav"]
    assert zero["mrstft.loss"] is None and zero["mrstft.sc"] is None
    assert zero["mrstft.log_mag"] == library_values(est, 0 * ref)["mrstft.log_mag"]
    assert ("mrstft: loss, sc (and 6 per-resolution values) undefined for this pair: the "
            "reference has no energy above the magnitude floor") in zero["error"]
    # in the summary, each undefined column says why
    summary = json.loads((tmp_path / "r.csv.summary.json").read_text())
    reasons = summary["columns"]["sd.diff.sc"]["undefined_reasons"]
    assert reasons[mono["error"]] == 1


def test_an_undefined_total_says_so_in_compare(tmp_path, cli):
    """An all-zero reference: the MR-STFT total and its convergence are printed as
    undefined with the reason, never as a number; the magnitude terms keep theirs."""
    rng = np.random.default_rng(13)
    est, ref = pair_signals(rng)
    write(f"{tmp_path}/e.wav", est)
    write(f"{tmp_path}/r.wav", np.zeros_like(ref))
    code, out, _ = cli("compare", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav",
                       *SPECTRAL_FLAGS)
    assert code == 1
    lines = table_values(out)
    for name in ("mrstft.loss", "mrstft.sc", "sd.loss", "sd.sum.loss", "sd.diff.loss",
                 "mrstft[channel 1].loss", "mrstft[channel 2].loss"):
        assert lines[name] == "undefined", name
    assert float(lines["mrstft.log_mag"]) > 0
    assert ("not computed: mrstft: loss, sc (and 6 per-resolution values) undefined for "
            "this pair: the reference has no energy above the magnitude floor") in out
    code, out, _ = cli("compare", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav", "--json",
                       *SPECTRAL_FLAGS)
    document = json.loads(out)
    assert "mrstft.loss" not in document["values"] and "mrstft.log_mag" in document["values"]
    assert document["undefined"]["mrstft.loss"] == (
        "the reference has no energy above the magnitude floor (eps=1e-08)")


def test_a_40_channel_wav_is_refused_in_the_files_terms(tmp_path, cli):
    """A real 40-channel WAV: the error says how many channels the files have and the
    limit, not how to reshape an array; the other pairs are scored."""
    import soundfile
    root = str(tmp_path / "data")
    make_good_pairs(root, ["good.wav"])
    rng = np.random.default_rng(14)
    many = (0.1 * rng.standard_normal((RATE, 40))).astype(np.float32)
    for side, scale in (("est", 1.0), ("ref", 0.5)):
        soundfile.write(f"{root}/{side}/many.wav", scale * many, RATE, subtype="FLOAT")
    assert soundfile.info(f"{root}/ref/many.wav").channels == 40
    message = ("estimate and reference have 40 channels each; fastmixloss takes at most "
               "32 channels per file")
    out = tmp_path / "r.csv"
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out", out,
                       *SPECTRAL_FLAGS)
    assert code == 1
    rows = read_csv(out)
    assert rows["many.wav"]["error"] == message
    assert rows["good.wav"]["error"] is None
    code, out, err = cli("compare", f"{root}/est/many.wav", f"{root}/ref/many.wav",
                         *SPECTRAL_FLAGS)
    assert code == 1 and err.strip() == f"fastmixloss compare: {message}"


def test_a_nan_from_the_library_is_an_error_not_a_value(tmp_path, cli, monkeypatch):
    """The library returns NaN for what it calls undefined: the row must say so."""
    from fastmixloss.cli import score
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    monkeypatch.setattr(score, "score_loaded", FaultyScore("nan-sisdr", "x.wav"))
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out", tmp_path / "r.csv",
                       *SPECTRAL_FLAGS)
    assert code == 1
    row = read_csv(tmp_path / "r.csv")["x.wav"]
    assert row["sisdr"] is None and "sisdr: undefined" in row["error"]
    assert row["mse"] is not None
