"""compare_loudness, and the loudness statistics and the diffmst profile through the
evaluation and the command line (--losses loudness, --features-profile diffmst)."""

import csv
import subprocess
import sys

import numpy as np
import pytest

import fastmixloss as fm

from .loudness_signals import programme
from .signals import RATE

sf = pytest.importorskip("soundfile")


def test_differences_are_the_statistics_differences():
    ref = np.stack([programme(6.0, RATE, seed=s) for s in (1, 2)])
    est = ref * np.array([0.5, 1.2])[:, None, None]
    result = fm.compare_loudness(est, ref, RATE, reduction="none")
    ours, theirs = fm.loudness_stats(est, RATE), fm.loudness_stats(ref, RATE)
    for name, value in ours.as_dict().items():
        np.testing.assert_array_equal(result.est[name], value)
        np.testing.assert_array_equal(result.difference[name], value - getattr(theirs, name))
    assert result.difference["integrated"] == pytest.approx(20 * np.log10([0.5, 1.2]))
    mean = fm.compare_loudness(est, ref, RATE)
    assert mean.to_dict()["diff.integrated"] == pytest.approx(
        np.mean(result.difference["integrated"]))


def test_silence_and_short_pairs_say_why():
    ref = programme(6.0, RATE, seed=3)
    result = fm.compare_loudness(np.zeros_like(ref), ref, RATE)
    assert result.to_dict()["est.true_peak"] == -np.inf
    assert "silence" in result.reasons[(0, "est.true_peak")]
    assert "silent" in result.reasons[(0, "diff.plr")]


def test_bad_arguments_are_named():
    x = np.zeros((2, RATE))
    with pytest.raises(fm.DeviceError, match="CPU"):
        fm.compare_loudness(x, x, RATE, device="cuda")
    with pytest.raises(fm.ParameterError, match="shape"):
        fm.compare_loudness(x, x[:, :100], RATE)
    with pytest.raises(fm.ParameterError, match="reduction"):
        fm.compare_loudness(x, x, RATE, reduction="max")


def test_the_evaluation_gives_what_the_functions_give():
    ref = programme(5.0, RATE, seed=4)
    est = 0.7 * ref
    values = fm.evaluate(est, ref, ("mse", "loudness", "features"), RATE,
                         loudness={"convention": "pyloudnorm"},
                         features={"profile": "diffmst"})
    alone = fm.compare_loudness(est, ref, RATE, convention="pyloudnorm")
    assert values["loudness"].to_dict() == alone.to_dict()
    assert values["features"].to_dict() == fm.compare_features(
        est, ref, RATE, profile="diffmst").to_dict()


def _fastmixloss(*args):
    return subprocess.run([sys.executable, "-m", "fastmixloss", *args], capture_output=True,
                          text=True, timeout=600)


def test_score_writes_loudness_and_diffmst_columns(tmp_path):
    (tmp_path / "est").mkdir()
    (tmp_path / "ref").mkdir()
    ref = programme(5.0, RATE, seed=5)
    sf.write(tmp_path / "ref" / "a.wav", ref.T, RATE, subtype="FLOAT")
    sf.write(tmp_path / "est" / "a.wav", 0.5 * ref.T, RATE, subtype="FLOAT")
    out = tmp_path / "out.csv"
    done = _fastmixloss("score", str(tmp_path / "est"), str(tmp_path / "ref"), "--losses",
                        "loudness,features", "--features-profile", "diffmst", "--out",
                        str(out), "-q")
    assert done.returncode == 0, done.stderr
    with out.open() as handle:
        row, = csv.DictReader(handle)
    expected = fm.compare_loudness(0.5 * ref.astype(np.float32), ref.astype(np.float32),
                                   RATE).to_dict()
    for key, value in expected.items():
        assert float(row[f"loudness.{key}"]) == pytest.approx(value, abs=1e-6), key
    assert float(row["loudness.diff.integrated"]) == pytest.approx(-6.0206, abs=1e-3)
    assert float(row["features.stereo_width"]) == pytest.approx(0.0, abs=1e-12)
    assert float(row["features.rms"]) > 0
