"""What the command line tells a new user: the files' sample rate reaching the losses that
need one, progress in a log, the compiling note, folders that pair nothing, every loss in
--help, and --device cuda:N."""

import os
import sys

import numpy as np
import pytest

import fastmixloss
from cli_helpers import RATE, make_good_pairs, read_csv, write
from fastmixloss.evaluation.losses import LOSSES

MEL = {"scale": "mel", "n_bins": 32, "fft_sizes": (128,), "hop_sizes": (32,),
       "win_lengths": (128,)}


def test_mel_scale_from_a_config_runs_at_the_files_rate(tmp_path, cli):
    """32 mel bands at fft size 128 suit the files' 8 kHz (at 44.1 kHz, the rate the
    parameters were once checked at, bands would cover no FFT bin): the values are the
    library's at the files' rate."""
    pairs = make_good_pairs(str(tmp_path / "d"), ["a.wav"])
    config = tmp_path / "mel.toml"
    config.write_text('losses = ["mrstft"]\n[mrstft]\nscale = "mel"\nn_bins = 32\n'
                      "fft_sizes = [128]\nhop_sizes = [32]\nwin_lengths = [128]\n")
    with pytest.raises(fastmixloss.ParameterError, match="covers no FFT bin"):
        fastmixloss.mrstft_loss(*(x[None] for x in pairs["a.wav"]), sample_rate=44100,
                                **MEL)
    expected = fastmixloss.mrstft_loss(*(x[None] for x in pairs["a.wav"]),
                                       sample_rate=RATE, **MEL)
    code, _, err = cli("score", tmp_path / "d" / "est", tmp_path / "d" / "ref",
                       "--config", config, "--out", tmp_path / "r.csv")
    assert code == 0, err
    assert read_csv(tmp_path / "r.csv")["a.wav"]["mrstft.loss"] == pytest.approx(
        expected, rel=1e-12)
    code, out, err = cli("compare", tmp_path / "d" / "est" / "a.wav",
                         tmp_path / "d" / "ref" / "a.wav", "--config", config, "--json")
    assert code == 0, err
    import json
    assert json.loads(out)["values"]["mrstft.loss"] == pytest.approx(expected, rel=1e-12)


def test_progress_lines_in_a_log(tmp_path, cli, monkeypatch):
    """stderr is not a terminal here (captured): a line every LOG_EVERY seconds with the
    pairs done, audio seconds per second and the time left."""
    from fastmixloss.cli import progress
    monkeypatch.setattr(progress, "LOG_EVERY", 0.0)
    make_good_pairs(str(tmp_path / "d"), ["a.wav", "b.wav", "c.wav"])
    code, _, err = cli("score", tmp_path / "d" / "est", tmp_path / "d" / "ref",
                       "--losses", "mse", "--out", tmp_path / "r.csv")
    assert code == 0, err
    lines = [line for line in err.splitlines() if " pairs, " in line]
    assert lines[0].startswith("fastmixloss: 1/3 pairs, ")
    assert "s of audio per second, about " in lines[0] and lines[0].endswith(" left")
    assert lines[-1].startswith("fastmixloss: 3/3 pairs, ") and "left" not in lines[-1]
    assert len(lines) == 3
    # --quiet: none
    code, _, err = cli("score", tmp_path / "d" / "est", tmp_path / "d" / "ref",
                       "--losses", "mse", "--out", tmp_path / "q.csv", "--quiet")
    assert " pairs, " not in err


def test_log_lines_say_the_time_left(monkeypatch, capsys):
    from fastmixloss.cli import progress
    now = [0.0]
    lines = progress._LogLines(10, done=2, every=5.0, clock=lambda: now[0])
    for _ in range(2):
        now[0] += 3.0
        lines.update(1, 30.0)
    # 6 s for 2 pairs (60 s of audio): 6 pairs left take 18 s
    assert capsys.readouterr().err == ("fastmixloss: 4/10 pairs, 10.0 s of audio per "
                                       "second, about 18 s left\n")
    lines.close()
    assert capsys.readouterr().err == ""   # nothing new since that line
    now[0] += 1.0
    lines.update(6, 60.0)
    lines.close()   # the end, once: 120 s of audio in 7 s
    assert capsys.readouterr().err == ("fastmixloss: 10/10 pairs, 17.1 s of audio per "
                                       "second\n")
    assert progress.duration(3725) == "1 h 02 min" and progress.duration(65) == "1 min 05 s"


def test_a_slow_start_says_it_is_compiling(capsys, monkeypatch):
    """When the kernels are not in Numba's cache (a first run) and the start is slow."""
    from fastmixloss.cli import progress
    import time
    assert progress.kernels_in_cache() is True   # the suite has run them
    monkeypatch.setattr(progress, "kernels_in_cache", lambda: False)
    with progress.compiling_note(quiet=False, after=0.05):
        time.sleep(0.5)
    assert "compiling" in capsys.readouterr().err
    with progress.compiling_note(quiet=False, after=5.0):
        pass
    with progress.compiling_note(quiet=True, after=0.0):
        time.sleep(0.2)
    monkeypatch.setattr(progress, "kernels_in_cache", lambda: True)
    with progress.compiling_note(quiet=False, after=0.0):
        time.sleep(0.2)
    assert capsys.readouterr().err == ""


def test_folders_that_pair_nothing_are_refused_with_examples(tmp_path, cli):
    rng = np.random.default_rng(0)
    for index in range(5):
        write(str(tmp_path / "est" / f"song{index}.wav"), rng.standard_normal((2, 100)))
        write(str(tmp_path / "ref" / f"mix-{index}.wav"), rng.standard_normal((2, 100)))
    code, out, err = cli("score", tmp_path / "est", tmp_path / "ref", "--out",
                         tmp_path / "r.csv")
    assert code == 2 and out == ""
    assert "nothing to score" in err
    assert "song0.wav, song1.wav, song2.wav and 2 more" in err
    assert "mix-0.wav, mix-1.wav, mix-2.wav and 2 more" in err
    assert not (tmp_path / "r.csv").exists()
    (tmp_path / "empty").mkdir()
    code, _, err = cli("score", tmp_path / "empty", tmp_path / "empty", "--out",
                       tmp_path / "r.csv")
    assert code == 2 and "no audio files found" in err


def test_help_lists_every_loss(cli):
    for command in ("score", "compare"):
        code, out, _ = cli(command, "--help")
        assert code == 0
        text = " ".join(out.split())
        listed, presets = text.split("choose from ", 1)[1].split(" --config")[0].split(
            "; or other projects' spectral losses, at the files' sample rate: ")
        assert [name.strip() for name in listed.split(",")] == list(LOSSES)
        assert [name.strip() for name in presets.split(",")] == list(fastmixloss.PRESETS)


def test_device_flag_takes_cuda_n(tmp_path, cli):
    make_good_pairs(str(tmp_path / "d"), ["a.wav"])
    code, _, err = cli("score", tmp_path / "d" / "est", tmp_path / "d" / "ref",
                       "--device", "gpu1", "--out", tmp_path / "r.csv")
    assert code == 2 and "cpu, cuda or cuda:N" in err
    from fastmixloss.cli.config import device_name
    assert device_name("cuda:3") == "cuda:3" and device_name("cpu") == "cpu"


def test_presets_by_name_at_the_files_rate(tmp_path, cli):
    """--losses takes the presets by name, each at the files' sample rate (hifigan's mel
    bank at 44.1 kHz, not its source's 22.05 kHz), a [preset] table setting its weight:
    the values are PresetLoss's at that rate, on the spectral pass (auraloss) or whole
    (the mel presets)."""
    rng = np.random.default_rng(5)
    ref = (0.3 * rng.standard_normal((2, 6000))).astype(np.float32)
    est = (0.8 * ref + 0.05 * rng.standard_normal(ref.shape)).astype(np.float32)
    write(str(tmp_path / "est" / "a.wav"), est, rate=44100)
    write(str(tmp_path / "ref" / "a.wav"), ref, rate=44100)
    config = tmp_path / "presets.toml"
    config.write_text('losses = ["mse", "hifigan", "auraloss", "dac"]\n'
                      "[hifigan]\nweight = 45.0\n")
    code, _, err = cli("score", tmp_path / "est", tmp_path / "ref", "--config", config,
                       "--out", tmp_path / "r.csv")
    assert code == 0, err
    row = read_csv(tmp_path / "r.csv")["a.wav"]
    for name, weight in (("hifigan", 45.0), ("auraloss", 1.0), ("dac", 1.0)):
        expected = fastmixloss.PresetLoss(name, sample_rate=44100, weight=weight,
                                          output="full")(est[None], ref[None])
        assert row[f"{name}.loss"] == pytest.approx(expected.loss, rel=1e-12), name
        assert row[f"{name}.log_mag"] == pytest.approx(expected.log_mag, rel=1e-12), name
    at_source_rate = fastmixloss.PresetLoss("hifigan", weight=45.0)(est[None], ref[None])
    assert row["hifigan.loss"] != pytest.approx(at_source_rate, rel=1e-3)
    code, _, err = cli("score", tmp_path / "est", tmp_path / "ref", "--losses", "wavegan",
                       "--out", tmp_path / "bad.csv")
    assert code == 2 and "or a preset: auraloss" in err
