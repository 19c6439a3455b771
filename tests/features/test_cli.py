"""The features in the command line: --losses ...,features and --features-profile."""

import csv
import subprocess
import sys

import numpy as np
import pytest

from .signals import RATE, mix

sf = pytest.importorskip("soundfile")


def _fastmixloss(*args):
    return subprocess.run([sys.executable, "-m", "fastmixloss", *args], capture_output=True,
                          text=True, timeout=600)


def test_score_writes_feature_columns_and_error_rows(tmp_path):
    (tmp_path / "est").mkdir()
    (tmp_path / "ref").mkdir()
    sf.write(tmp_path / "ref" / "a.wav", mix(3, seed=1).T, RATE, subtype="FLOAT")
    sf.write(tmp_path / "est" / "a.wav", mix(3, seed=1, gains=(1.5, 1, 1, 1)).T, RATE,
             subtype="FLOAT")
    mono = mix(3, seed=2, mono=True).T   # the toolkit drops every panning frame
    sf.write(tmp_path / "ref" / "b.wav", mono, RATE, subtype="FLOAT")
    sf.write(tmp_path / "est" / "b.wav", 0.5 * mono, RATE, subtype="FLOAT")
    out = tmp_path / "out.csv"
    done = _fastmixloss("score", str(tmp_path / "est"), str(tmp_path / "ref"), "--losses",
                        "mse,features", "--features-profile", "automix-toolkit", "--out",
                        str(out), "-q")
    with out.open() as handle:
        rows = {r["est"].rsplit("/", 1)[-1]: r for r in csv.DictReader(handle)}
    assert float(rows["a.wav"]["features.centroid"]) > 0, done.stderr
    assert rows["a.wav"]["error"] == ""
    assert rows["b.wav"]["features.panning_rms_total"] == ""
    assert "mono" in rows["b.wav"]["error"]
    assert float(rows["b.wav"]["features.centroid"]) == pytest.approx(0, abs=1e-5)


def test_compare_prints_the_feature_table(tmp_path):
    sf.write(tmp_path / "ref.wav", mix(3, seed=3).T, RATE, subtype="FLOAT")
    sf.write(tmp_path / "est.wav", mix(3, seed=3, pans=(0.5, 0, 0, 0)).T, RATE,
             subtype="FLOAT")
    done = _fastmixloss("compare", str(tmp_path / "est.wav"), str(tmp_path / "ref.wav"),
                        "--losses", "features")
    assert done.returncode == 0, done.stderr
    for key in ("features.mean_mape_loudness", "features.centroid",
                "features.panning_rms_total", "features.crest_factor"):
        assert key in done.stdout
