"""warmup() and `fastmixloss warmup`: every kernel compiled or loaded, each step reported."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastmixloss as fm
from fastmixloss.cli import main

ROOT = Path(__file__).resolve().parents[1]

_REPORT_STEPS = """
import json, fastmixloss
steps = []
fastmixloss.warmup("float64", progress=steps.append)
print(json.dumps([step._asdict() for step in steps]))
"""


def _warmup_in_new_process(cache_dir):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([sys.executable, "-c", _REPORT_STEPS], capture_output=True,
                          text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr == ""   # progress went to the callable only
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_a_cold_cache_compiles_every_kernel_and_the_next_process_loads_them(tmp_path):
    first = _warmup_in_new_process(tmp_path)
    second = _warmup_in_new_process(tmp_path)
    assert [s["kernel"] for s in first] == [s["kernel"] for s in second]
    assert len(first) == 6 and any("STFT" in s["kernel"] for s in first)
    assert any("options" in s["kernel"] for s in first)
    assert any("feature" in s["kernel"] for s in first)
    assert [(s["index"], s["total"], s["dtype"]) for s in first] == \
        [(i, 6, "float64") for i in range(1, 7)]
    assert {s["status"] for s in first} == {"compiled"}
    assert {s["status"] for s in second} == {"loaded from cache"}
    assert all(s["seconds"] > 0 for s in first + second)


def test_warmup_is_quiet_by_default_and_a_second_call_finds_everything_loaded(capsys):
    fm.warmup()
    steps = fm.warmup()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""
    assert len(steps) == 12
    assert {s.dtype for s in steps} == {"float32", "float64"}
    assert {s.status for s in steps} == {"already loaded"}


def test_progress_true_prints_one_line_per_kernel_on_stderr(capsys):
    steps = fm.warmup(["float32"], progress=True)
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert captured.out == ""
    assert len(lines) == len(steps) == 6
    for line, step in zip(lines, steps):
        assert step.kernel in line and "float32" in line and step.status in line
        assert line.endswith(" s")


@pytest.mark.parametrize("bad", [dict(progress="yes"), dict(dtypes=("int16",)),
                                 dict(dtypes=()), dict(dtypes=42)])
def test_bad_arguments_are_parameter_errors(bad):
    with pytest.raises(fm.ParameterError, match="progress|dtypes"):
        fm.warmup(**bad)


def test_the_command_reports_each_kernel_on_stderr(capsys):
    assert main(["warmup", "--dtypes", "float32"]) == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 7
    assert all("float32" in line for line in lines[:6])
    assert "STFT kernel" in captured.err
    assert lines[-1].startswith("fastmixloss warmup: 6 kernels ready")


def test_the_command_is_silent_with_quiet_and_refuses_an_unknown_dtype(capsys):
    assert main(["warmup", "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    assert main(["warmup", "--dtypes", "float16"]) == 2
    assert "float16" in capsys.readouterr().err


def test_after_warmup_the_features_and_spectral_options_compile_nothing_new():
    """warmup's calls give the kernels the argument types the public functions pass, so
    the signatures it compiles are the ones a user's call needs."""
    import numpy as np
    from fastmixloss.features import compare_features, integrated_loudness
    from fastmixloss.startup import _dispatchers
    fm.warmup()
    dispatchers = _dispatchers("features") + _dispatchers("options")
    before = [len(d.signatures) for d in dispatchers]
    rng = np.random.default_rng(0)
    rate = 22050
    for dtype in (np.float32, np.float64):
        est, ref = (0.1 * rng.standard_normal((2, 2 * rate))).astype(dtype), \
            (0.1 * rng.standard_normal((2, 2 * rate))).astype(dtype)
        for profile in ("default", "automix-toolkit", "fxnorm"):
            compare_features(est, ref, rate, profile=profile)
        integrated_loudness(ref, rate)
        fm.stft_loss(est, ref, sample_rate=rate, scale="mel", n_bins=16,
                     perceptual_weighting=True, scale_invariance=True)
    assert [len(d.signatures) for d in dispatchers] == before
