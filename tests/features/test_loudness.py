"""fastmixloss.loudness_stats: EBU Tech 3341 / 3342 cases synthesised from the documents,
agreement with libebur128 and pyloudnorm 0.2.0 (golden values made by
make_loudness_golden.py), the kernels against plain NumPy/SciPy, and robustness."""

import json
import os
import pathlib
import tracemalloc

import numpy as np
import pytest
from scipy.signal import lfilter

import fastmixloss as fm
from fastmixloss.features.bs1770 import CHANNEL_WEIGHTS, k_weighting_bs1770
from fastmixloss.features.r128 import oversampling_phases

from .loudness_signals import (PROGRAMMES, STAIR_LEVELS, STAIR_SECONDS, TECH3341_BURST,
                              TECH3341_CASE6_LEVELS, TECH3341_CONSTANT,
                              TECH3341_INTEGRATED, TECH3341_STAIRS, TECH3341_TRUE_PEAK,
                              TECH3342_RANGE, burst, programme, sine_sequence, stairs,
                              true_peak_case)

HERE = pathlib.Path(__file__).resolve().parent
GOLDEN = json.loads((HERE / "loudness_golden.json").read_text())
RATE = 48000
LU = 0.1   # Tech 3341's tolerance on M, S and I


# ----------------------------------------------------------------- EBU Tech 3341 / 3342

@pytest.mark.parametrize("case", sorted(TECH3341_INTEGRATED))
def test_tech3341_integrated(case):
    parts, expected = TECH3341_INTEGRATED[case]
    stats = fm.loudness_stats(sine_sequence(RATE, parts), RATE)
    assert abs(stats.integrated - expected) <= LU
    if case in (1, 2):   # M, S and I alike for a steady tone
        assert abs(stats.momentary_max - expected) <= LU
        assert abs(stats.short_term_max - expected) <= LU


def test_tech3341_case6_five_channels():
    x = np.concatenate([sine_sequence(RATE, [(level, 20.0)], channels=1)
                        for level in TECH3341_CASE6_LEVELS])
    assert abs(fm.loudness_stats(x, RATE).integrated + 23.0) <= LU


@pytest.mark.parametrize("case", sorted(TECH3341_CONSTANT))
def test_tech3341_constant_windows(case):
    """9: short-term, 12: momentary: -23 LUFS +-0.1 for every full window."""
    curve, period, repeats = TECH3341_CONSTANT[case]
    stats = fm.loudness_stats(sine_sequence(RATE, period * repeats), RATE, curves=True)
    values = getattr(stats, curve)
    assert values.shape[0] > 10
    assert np.abs(values + 23.0).max() <= LU


@pytest.mark.parametrize("case", sorted(TECH3341_BURST))
@pytest.mark.parametrize("offset", range(20))
def test_tech3341_burst_maximum(case, offset):
    """10: short-term, 13: momentary: one burst anywhere in the 100-ms grid reads -23.
    The momentary maximum needs windows every 10 ms for that (libebur128's own test
    reads it every 10 ms too)."""
    curve, seconds = TECH3341_BURST[case]
    step = 0.1 if curve == "short_term" else 0.01
    x = burst(RATE, seconds, offset * 0.005)
    stats = fm.loudness_stats(x, RATE, step=step)
    assert abs(getattr(stats, f"{curve}_max") + 23.0) <= LU


@pytest.mark.parametrize("case", sorted(TECH3341_STAIRS))
def test_tech3341_successive_maxima(case):
    """11: short-term, 14: momentary: the maxima of successive bursts at -38 .. -19."""
    curve, seconds = TECH3341_STAIRS[case]
    step = 0.1 if curve == "short_term" else 0.01
    stats = fm.loudness_stats(stairs(RATE, seconds), RATE, step=step, curves=True)
    values, ends = getattr(stats, curve), stats.curve_times(curve)
    for k, level in enumerate(STAIR_LEVELS):
        inside = (ends > k * STAIR_SECONDS) & (ends <= (k + 1) * STAIR_SECONDS)
        assert abs(values[inside].max() - level) <= LU


@pytest.mark.parametrize("case", sorted(TECH3341_TRUE_PEAK))
def test_tech3341_true_peak(case):
    fraction, amplitude, phase, expected = TECH3341_TRUE_PEAK[case]
    stats = fm.loudness_stats(true_peak_case(RATE, fraction, amplitude, phase), RATE)
    assert expected - 0.4 <= stats.true_peak <= expected + 0.2


@pytest.mark.parametrize("case", sorted(TECH3342_RANGE))
@pytest.mark.parametrize("convention", ["ebu", "pyloudnorm"])
def test_tech3342_loudness_range(case, convention):
    levels, expected = TECH3342_RANGE[case]
    x = sine_sequence(RATE, [(level, 20.0) for level in levels])
    stats = fm.loudness_stats(x, RATE, convention=convention)
    assert abs(stats.loudness_range - expected) <= 1.0


# ------------------------------------------------------- libebur128 and pyloudnorm

def _golden_signal(key, entry):
    if key.startswith("music/"):
        # the renders of bench/render_music.py, where FASTMIXLOSS_MUSIC names their folder
        path = pathlib.Path(os.environ.get("FASTMIXLOSS_MUSIC", "")) / entry["source"]
        if "FASTMIXLOSS_MUSIC" not in os.environ or not path.exists():
            pytest.skip(f"{entry['source']}: set FASTMIXLOSS_MUSIC to the folder of "
                        "bench/render_music.py's renders")
        import soundfile
        audio, _ = soundfile.read(path, dtype="float64", always_2d=True)
        return audio.T.copy()
    name, rate = key.split("/")
    seconds, seed, depth = PROGRAMMES[name]
    return programme(seconds, int(rate), seed, depth)


KEYS = sorted(GOLDEN["values"])


@pytest.mark.parametrize("key", KEYS)
def test_agrees_with_libebur128(key):
    entry = GOLDEN["values"][key]
    x = _golden_signal(key, entry)
    ours = fm.loudness_stats(x, entry["rate"]).as_dict()
    theirs = entry["libebur128"]
    for name in ("integrated", "loudness_range", "momentary_max", "short_term_max"):
        if theirs[name] is None:
            assert np.isnan(ours[name])
        else:
            assert abs(ours[name] - theirs[name]) <= 0.1, name
    assert abs(ours["true_peak"] - theirs["true_peak"]) <= 0.1
    assert ours["sample_peak"] == pytest.approx(theirs["sample_peak"], abs=1e-12)


@pytest.mark.parametrize("key", KEYS)
def test_agrees_with_pyloudnorm(key):
    entry = GOLDEN["values"][key]
    x = _golden_signal(key, entry)
    ours = fm.loudness_stats(x, entry["rate"], convention="pyloudnorm")
    theirs = entry["pyloudnorm"]
    assert ours.integrated == pytest.approx(theirs["integrated"], abs=1e-9)
    assert ours.loudness_range == pytest.approx(theirs["loudness_range"], abs=1e-9)


# ---------------------------------------------------------------- NumPy / SciPy oracle

def _k_weighted(x, rate):
    k = k_weighting_bs1770(rate)
    for b0, b1, b2, a1, a2 in k:
        x = lfilter([b0, b1, b2], [1.0, a1, a2], x, axis=-1)
    return x


def _curve(x, rate, window_s, step):
    """Ungated window loudness straight from the formula."""
    filtered = _k_weighted(x, rate) ** 2
    window, hop = int(round(window_s * rate)), int(round(step * rate))
    weights = np.array(CHANNEL_WEIGHTS[:x.shape[0]])
    out = []
    for start in range(0, x.shape[1] - window + 1, hop):
        out.append(-0.691 + 10 * np.log10(
            weights @ filtered[:, start:start + window].sum(axis=1) / window))
    return np.array(out)


@pytest.mark.parametrize("step", [0.1, 0.0375])
def test_curves_equal_the_formula(step):
    x = programme(9.0, 44100, seed=3, depth_db=10.0)
    stats = fm.loudness_stats(x, 44100, step=step, curves=True)
    np.testing.assert_allclose(stats.momentary, _curve(x, 44100, 0.4, step), rtol=0, atol=1e-9)
    np.testing.assert_allclose(stats.short_term, _curve(x, 44100, 3.0, step), rtol=0,
                               atol=1e-9)
    assert stats.momentary_max == stats.momentary.max()
    pyln = fm.loudness_stats(x, 44100, step=step, convention="pyloudnorm")
    assert pyln.integrated == pytest.approx(fm.integrated_loudness(x, 44100), abs=1e-12)


@pytest.mark.parametrize("rate", [44100, 96000, 192000])
def test_true_peak_equals_the_interpolation(rate):
    rng = np.random.default_rng(rate)
    x = rng.standard_normal((2, 3 * 65536 + 77)) * np.linspace(0.1, 1.0, 3 * 65536 + 77)
    phases = oversampling_phases(rate)
    interpolated = [np.abs(np.convolve(row, phase)[:row.shape[0]]).max()
                    for row in x for phase in phases]
    expected = max([np.abs(x).max()] + interpolated)
    stats = fm.loudness_stats(x, rate)
    assert stats.true_peak == pytest.approx(20 * np.log10(expected), abs=1e-12)
    assert stats.sample_peak == 20 * np.log10(np.abs(x).max())
    # a sine at a quarter of the rate, sampled 45 degrees off its peaks
    tone = fm.loudness_stats(true_peak_case(rate, 1 / 4, 0.5, 45.0), rate)
    assert (rate >= 192000) == (tone.true_peak == tone.sample_peak)


# ----------------------------------------------------------------------- robustness

def test_batch_items_equal_single_items_and_float32_is_close():
    items = np.stack([programme(6.0, 44100, seed=s) for s in (1, 2, 3)])
    batch = fm.loudness_stats(items, 44100, curves=True)
    for b, item in enumerate(items):
        alone = fm.loudness_stats(item, 44100, curves=True)
        for name, value in alone.as_dict().items():
            assert getattr(batch, name)[b] == pytest.approx(value, abs=1e-12), name
        np.testing.assert_allclose(batch.momentary[b], alone.momentary, atol=1e-12)
    single = fm.loudness_stats(items.astype(np.float32), 44100)
    for name, value in batch.as_dict().items():
        np.testing.assert_allclose(getattr(single, name), value, atol=1e-4)


def test_silence_and_short_signals_are_defined_with_reasons():
    silent = fm.loudness_stats(np.zeros((2, 5 * RATE)), RATE)
    assert silent.integrated == -np.inf and silent.true_peak == -np.inf
    assert silent.momentary_max == -np.inf and silent.sample_peak == -np.inf
    assert np.isnan(silent.loudness_range) and np.isnan(silent.plr)
    assert "silent" in silent.reasons[(0, "loudness_range")]
    assert "silent" in silent.reasons[(0, "plr")]
    short = fm.loudness_stats(np.full((2, 1000), 0.5), RATE)
    assert short.sample_peak == pytest.approx(20 * np.log10(0.5))
    for name in ("integrated", "loudness_range", "momentary_max", "short_term_max", "plr"):
        assert np.isnan(getattr(short, name)) and (0, name) in short.reasons
    two_s = fm.loudness_stats(sine_sequence(RATE, [(-20.0, 2.0)]), RATE)
    assert np.isnan(two_s.short_term_max) and np.isfinite(two_s.momentary_max)
    assert "3.0-s" in two_s.reasons[(0, "loudness_range")]
    padded = fm.loudness_stats(sine_sequence(RATE, [(-20.0, 2.0)]), RATE,
                               convention="pyloudnorm")
    assert np.isfinite(padded.loudness_range)   # 2 s + 1.5 s of silence hold a block


def test_huge_samples_are_measured_without_overflow():
    x = programme(4.0, 44100, seed=7)
    scale = 2.0 ** 900
    big, small = fm.loudness_stats(x * scale, 44100), fm.loudness_stats(x, 44100)
    shift = 20 * np.log10(scale)
    for name in ("integrated", "momentary_max", "short_term_max", "true_peak",
                 "sample_peak"):
        assert getattr(big, name) == pytest.approx(getattr(small, name) + shift, abs=1e-9)
    assert big.loudness_range == pytest.approx(small.loudness_range, abs=1e-9)


def test_input_is_not_modified():
    x = programme(4.0, 44100, seed=8).astype(np.float32)
    before = x.copy()
    fm.loudness_stats(x, 44100, convention="pyloudnorm", curves=True)
    np.testing.assert_array_equal(x, before)


@pytest.mark.parametrize("kwargs, match", [
    (dict(sample_rate=4000), "sample_rate"),
    (dict(sample_rate=float("nan")), "sample_rate"),
    (dict(convention="matlab"), "convention"),
    (dict(step=0.0), "step"),
    (dict(step=1e-9), "step"),
    (dict(curves="yes"), "curves"),
    (dict(bogus=1), "bogus"),
])
def test_bad_arguments_are_named(kwargs, match):
    args = dict(sample_rate=RATE)
    args.update(kwargs)
    with pytest.raises(fm.ParameterError, match=match):
        fm.loudness_stats(np.zeros((2, RATE)), **args)


def test_bad_signals_are_named():
    with pytest.raises(fm.ParameterError, match="channels"):
        fm.loudness_stats(np.zeros((6, RATE)), RATE)
    x = np.zeros((2, RATE))
    x[1, 100] = np.nan
    with pytest.raises(fm.ParameterError, match="x"):
        fm.loudness_stats(x, RATE)
    with pytest.raises(fm.ParameterError, match="empty"):
        fm.loudness_stats(np.zeros((2, 0)), RATE)
    with pytest.raises(fm.ParameterError, match="curves"):
        fm.loudness_stats(np.zeros((2, RATE)), RATE).curve_times()


@pytest.mark.slow
def test_memory_stays_flat_with_length():
    """Beyond the input, what the statistics allocate does not grow with its length
    (the curves, asked for, are a few values per step)."""
    fm.loudness_stats(np.zeros((2, RATE * 4), np.float32), RATE)   # compile first

    def peak(seconds):
        x = programme(seconds, RATE, seed=9).astype(np.float32)
        tracemalloc.start()
        fm.loudness_stats(x, RATE, convention="pyloudnorm")
        used = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return used

    short, long = peak(30.0), peak(240.0)
    signal_bytes = 2 * 4 * RATE * 240
    assert long - short < 0.05 * signal_bytes
