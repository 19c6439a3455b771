"""The limits of the mix-feature metrics: the sample rates each profile supports, sample
magnitudes from denormal to float64's largest, channel counts, keywords, and kernels that
stay inside their arrays whatever plan they are given."""

import subprocess
import sys
import textwrap
import warnings

import numpy as np
import pytest

from fastmixloss.errors import KeywordError, ParameterError
from fastmixloss.features import (LOUDNESS_SAMPLE_RATES, SAMPLE_RATE_RANGES, compare_features,
                                  feature_tracks, integrated_loudness)
from fastmixloss.features.compare import DYNAMIC_KEYS, PANNING_KEYS, SPECTRAL_KEYS
from fastmixloss.features.profiles import PROFILES, resolve
from fastmixloss.features.tracks import contrast_bands, panning_bands

from .signals import RATE, mix

NORMALISED_KEYS = SPECTRAL_KEYS + PANNING_KEYS + DYNAMIC_KEYS


def _noise(seconds, rate, seed=0, channels=2):
    """Noise with a slow envelope (loudness frames differ) and no silence to trim."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    envelope = 1.0 + 0.5 * np.sin(2 * np.pi * 0.7 * np.arange(n) / rate)
    return 0.3 * envelope * rng.standard_normal((channels, n))


def _pair(seconds, rate, seed=0):
    ref = _noise(seconds, rate, seed)
    est = 0.5 * ref + 0.05 * _noise(seconds, rate, seed + 1)
    return est, ref


# ------------------------------------------------------------------- item: out of bounds

def test_low_rates_end_in_a_parameter_error_not_a_crash():
    """Panning bands past a 4-5 kHz spectrum corrupted the heap (an abort, exit 134):
    in a process of its own, every such call now ends in a ParameterError."""
    script = textwrap.dedent("""
        import numpy as np, fastmixloss as fm
        x = 0.3 * np.random.default_rng(0).standard_normal((2, 32000))
        calls = [lambda: fm.compare_features(0.5 * x, x, 4000)]
        for rate in (4000, 4500, 4900):
            for profile in ("default", "automix-toolkit", "fxnorm"):
                calls.append(lambda r=rate, p=profile: fm.feature_tracks(x, r, profile=p))
                calls.append(lambda r=rate, p=profile:
                             fm.compare_features(0.5 * x, x, r, profile=p))
        for call in calls:
            try:
                call()
                print("value")
            except fm.ParameterError:
                print("refused")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["refused"] * 19, done.stdout


@pytest.mark.parametrize("profile", PROFILES)
def test_band_tables_lie_inside_the_spectrum_across_the_range(profile):
    low, high = SAMPLE_RATE_RANGES[profile]
    for rate in (low, low + 0.5, 11025.0, 22050.0, 44100.0, 48000.0, 96000.0, 192000.0,
                 high - 0.5, high):
        settings = resolve(profile, rate)
        for fft, table in ((settings.panning_fft_size,
                            panning_bands(rate, settings.panning_fft_size)),
                           (settings.fft_size, contrast_bands(settings, settings.fft_size))):
            n_bins = fft // 2 + 1
            assert (table[:, 0] >= 0).all() and (table[:, 1] <= n_bins).all(), (rate, table)
            assert (table[:, 1] > table[:, 0]).all(), (rate, table)   # no empty band


def test_panning_plan_is_clipped_to_the_spectrum():
    """The plan never names a bin past the spectrum, whatever the rate it is made for."""
    for rate, fft in ((4000, 512), (4500, 4096), (4900, 2048), (3000, 256), (100, 16)):
        table = panning_bands(rate, fft)
        assert table.min() >= 0 and table.max() <= fft // 2 + 1, (rate, table)
        assert (table[:, 1] >= table[:, 0]).all(), (rate, table)


def _spectral_arguments(n_frames=5, fft=64, hop=16):
    from fastmixloss.features.tracks import sqrt_hann
    x = np.ascontiguousarray(_noise(1.0, 8000)[:, :(n_frames - 1) * hop + fft])
    freqs = np.linspace(0.0, 4000.0, fft // 2 + 1)
    knobs = np.array([0.85, 1e-10, np.finfo(np.float32).tiny])
    contrast = np.array([[0, 4, 1], [3, 8, 1], [7, 33, 1]], np.int64)
    panning = np.array([[0, 32], [0, 4], [4, 20], [20, 32]], np.int64)
    return x, sqrt_hann(fft), freqs, knobs, contrast, panning


@pytest.mark.parametrize("bad", ["panning past the end", "panning reversed",
                                 "contrast past the end", "contrast empty",
                                 "contrast count 0", "too many frames", "freqs short"])
def test_spectral_kernel_refuses_a_plan_outside_its_arrays(bad):
    """Checked in Python before the kernel runs: Numba does not check indices."""
    from fastmixloss.features.kernels.frame_features import spectral_tracks
    x, window, freqs, knobs, contrast, panning = _spectral_arguments()
    n_frames = 5
    if bad == "panning past the end":
        panning[2, 1] = 40
    elif bad == "panning reversed":
        panning[3] = (30, 20)
    elif bad == "contrast past the end":
        contrast[2, 1] = 34
    elif bad == "contrast empty":
        contrast[1] = (5, 5, 1)
    elif bad == "contrast count 0":
        contrast[0, 2] = 0
    elif bad == "too many frames":
        n_frames = 6
    else:
        freqs = freqs[:-1]
    with pytest.raises(AssertionError, match="precondition"):
        spectral_tracks(x, 1.0, window, n_frames, 16, freqs, knobs, contrast, panning, 1)


def test_spectral_kernel_clips_a_band_table_that_runs_past_the_spectrum():
    """The worker itself, given tables past the spectrum (as the 4-kHz plans were), reads
    and writes only inside its arrays: the bands are cut at the last bin."""
    from fastmixloss.features.kernels.frame_features import N_SPECTRAL, spectral_tracks_worker
    from fastmixloss.kernels.workers import read_only
    x, window, freqs, knobs, contrast, panning = _spectral_arguments()

    def run(contrast_table, panning_table):
        tracks = np.zeros((5, 2, N_SPECTRAL + 2 * len(contrast_table)))
        sums = np.zeros((5, 2 * len(panning_table)))
        spectral_tracks_worker(read_only(x), 1.0, read_only(window), 16, read_only(freqs),
                               read_only(knobs), read_only(contrast_table),
                               read_only(panning_table), tracks, sums, 0, 1)
        return tracks, sums

    clipped = run(contrast, panning)
    past = panning.copy()
    past[2, 1], past[3] = 40, (40, 33)         # mids run past; highs reversed past the end
    wide = contrast.copy()
    wide[2, 1] = 90
    beyond = run(wide, past)
    expected_sums = clipped[1].copy()
    np.testing.assert_array_equal(beyond[0], clipped[0])
    # the mids cut at bin 33 hold the old mids and highs; the highs are empty
    mids = run(contrast, np.array([[0, 32], [0, 4], [4, 33], [33, 33]], np.int64))[1]
    expected_sums[:, [2, 3, 6, 7]] = mids[:, [2, 3, 6, 7]]
    np.testing.assert_array_equal(beyond[1], expected_sums)


def test_extreme_means_stay_inside_the_values():
    from fastmixloss.features.kernels.extremes import extreme_means
    values = np.random.default_rng(3).random(40)
    scratch = np.zeros((5, 40), np.int64)
    low, high = extreme_means(values, 30, 55, 3, scratch)   # past the end: cut at 40
    tail = np.sort(values[30:])
    assert (low, high) == pytest.approx((tail[:3].mean(), tail[-3:].mean()), rel=1e-14)
    assert np.isnan(extreme_means(values, 12, 12, 1, scratch)).all()   # empty band
    assert np.isnan(extreme_means(values, 45, 60, 2, scratch)).all()   # wholly past it
    assert np.isnan(extreme_means(values, 0, 10, 0, scratch)).all()    # nothing wanted


@pytest.mark.parametrize("bad", ["frames past the end", "blocks past the frame"])
def test_frame_loudness_kernel_refuses_a_plan_outside_the_signal(bad):
    from fastmixloss.features.bs1770 import k_weighting
    from fastmixloss.features.kernels.block_energies import frame_block_energies
    x = _noise(1.0, 8000)
    blocks = np.array([[0, 3200]], np.int64)
    n_frames = 1 + (8000 - 3200) // 1600
    if bad == "frames past the end":
        n_frames += 1
    else:
        blocks[0, 1] = 3201
    with pytest.raises(AssertionError, match="precondition"):
        frame_block_energies(x, 3200, 1600, n_frames, blocks, k_weighting(8000))


@pytest.mark.parametrize("bad", ["chunks past the end", "cuts past the chunk",
                                 "basis short"])
def test_chunk_loudness_kernel_refuses_a_plan_outside_the_signal(bad):
    from fastmixloss.features.bs1770 import k_weighting
    from fastmixloss.features.kernels.block_energies import chunk_energies, zero_input_basis
    x = _noise(1.0, 8000)
    k = k_weighting(8000)
    cuts = np.array([0, 500, 1600], np.int64)
    basis, _ = zero_input_basis(k, 1600, cuts)
    n_chunks = 8000 // 1600
    if bad == "chunks past the end":
        n_chunks += 1
    elif bad == "cuts past the chunk":
        cuts = np.array([0, 500, 1601], np.int64)
    else:
        basis = basis[:, :1000]
    with pytest.raises(AssertionError, match="precondition"):
        chunk_energies(x, 1600, n_chunks, cuts, k, basis)


def test_segment_and_basis_kernels_refuse_cuts_outside_their_arrays():
    from fastmixloss.features.bs1770 import k_weighting
    from fastmixloss.features.kernels.block_energies import segment_energies, zero_input_basis
    x = _noise(0.5, 8000)
    k = k_weighting(8000)
    with pytest.raises(AssertionError, match="precondition"):
        segment_energies(x, np.array([0, 2000, 4001], np.int64), k)
    with pytest.raises(AssertionError, match="precondition"):
        zero_input_basis(k, 100, np.array([0, 50, 101], np.int64))


def test_loudness_workers_clip_cuts_and_frames_to_their_arrays():
    """The workers themselves, handed cuts or frames past the signal, stop at its end."""
    from fastmixloss.features.bs1770 import k_weighting
    from fastmixloss.features.kernels.block_energies import (frame_block_energies_worker,
                                                             segment_energies_worker)
    from fastmixloss.kernels.workers import read_only
    x = read_only(_noise(0.5, 8000))
    k = read_only(k_weighting(8000))

    def segments(signal, cuts):
        out = np.zeros((2, len(cuts) - 1))
        segment_energies_worker(read_only(np.ascontiguousarray(signal)),
                                read_only(np.array(cuts, np.int64)), k, out, 0, 1)
        return out

    np.testing.assert_array_equal(segments(x, [0, 2000, 9000]), segments(x, [0, 2000, 4000]))
    blocks = read_only(np.array([[0, 1600]], np.int64))
    energies, peaks = np.zeros((3, 2, 1)), np.zeros(3)   # frame 2 would run past the end
    frame_block_energies_worker(x, 1600, 1600, blocks, k, energies, peaks, 0, 1)
    np.testing.assert_allclose(energies[2, :, 0], segments(x[:, 3200:], [0, 800])[:, 0],
                               rtol=1e-12)   # (summed in another order)
    assert peaks[2] == np.abs(x[:, 3200:]).max()


# ------------------------------------------------------------------ item: sample rates

REFUSED_RATES = (0.5, 100.0, 1000.0, 3000.0, 4000.0, 4500.0, 4900.0, 5000.0, 7999.0,
                 384001.0, 1e8, 1e12)


@pytest.fixture
def no_kernels(monkeypatch):
    """Every kernel call fails the test: a refusal must come before any kernel runs."""
    from fastmixloss.features.kernels import block_energies, frame_features

    def refuse(*args, **kwargs):
        raise AssertionError("a kernel ran")

    from fastmixloss.kernels import checks
    monkeypatch.setattr(checks, "run_workers", refuse)
    monkeypatch.setattr(frame_features, "run_workers", refuse)
    monkeypatch.setattr(block_energies, "run_workers", refuse)
    monkeypatch.setattr(block_energies, "zero_input_basis_worker", refuse)


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("rate", REFUSED_RATES)
def test_rates_outside_a_profile_are_refused_before_any_kernel(no_kernels, profile, rate):
    x = _noise(0.1, 8000)
    low, high = SAMPLE_RATE_RANGES[profile]
    message = rf"sample_rate={rate!r}.*{low:g}.*{high:g} Hz"
    with pytest.raises(ParameterError, match=message):
        compare_features(0.5 * x, x, rate, profile=profile)
    with pytest.raises(ParameterError, match=message):
        feature_tracks(x, rate, profile=profile)


@pytest.mark.parametrize("rate", REFUSED_RATES)
def test_integrated_loudness_refuses_rates_outside_its_range(no_kernels, rate):
    low, high = LOUDNESS_SAMPLE_RATES
    with pytest.raises(ParameterError, match=rf"sample_rate={rate!r}.*{low:g}.*{high:g} Hz"):
        integrated_loudness(_noise(0.1, 8000), rate)


def test_ranges_are_stated_where_users_read():
    import fastmixloss.features as features
    for profile in PROFILES:
        low, high = SAMPLE_RATE_RANGES[profile]
        assert 2 * 2500 < low < high   # the panning's highest band lies below Nyquist
    for function in (compare_features, feature_tracks):
        assert "SAMPLE_RATE_RANGES" in function.__doc__
    assert "LOUDNESS_SAMPLE_RATES" in integrated_loudness.__doc__
    assert {"SAMPLE_RATE_RANGES", "LOUDNESS_SAMPLE_RATES"} <= set(features.__all__)


def _rates_across(profile):
    low, high = SAMPLE_RATE_RANGES[profile]
    return (low, low + 0.5, 16000.0, 44100.0, 96000.0, high)


@pytest.mark.parametrize("rate", _rates_across("default"))
def test_default_profile_is_finite_across_its_range(rate):
    est, ref = _pair(1.0, rate)
    values = compare_features(est, ref, rate).to_dict()
    assert all(np.isfinite(v) for v in values.values()), values
    tracks = feature_tracks(ref, rate)[0]
    assert all(np.isfinite(getattr(tracks, name)).all() for name in (
        "lufs", "centroid", "contrast", "panning_rms", "crest_factor"))
    assert np.isfinite(integrated_loudness(ref, rate))


@pytest.mark.parametrize("profile", ["automix-toolkit", "fxnorm"])
def test_toolkit_profiles_give_a_value_or_a_reason_at_their_range_ends(profile):
    for rate in SAMPLE_RATE_RANGES[profile]:
        est, ref = _pair(6.0, rate)   # 40 frames of 4096 at 8 kHz
        result = compare_features(est, ref, rate, profile=profile)
        for key, value in result.to_dict().items():
            assert np.isfinite(value) or (0, key) in result.reasons, (rate, key)
        assert np.isfinite(result.centroid) and np.isfinite(result.panning_rms_highs)


# ------------------------------------------------------------- item: huge sample values

def _scaled(scale, *signals):
    """(the signals times one factor, that factor in dB): `scale`, or with "max" the
    factor that brings their largest |sample| to float64's largest number."""
    if scale != "max":
        return [x * scale for x in signals], 20 * np.log10(scale)
    peak = max(np.abs(x).max() for x in signals)
    largest = np.finfo(np.float64).max
    return ([x / peak * largest for x in signals],
            20 * np.log10(largest) - 20 * np.log10(peak))


@pytest.mark.parametrize("scale", [1e100, 1e160, 1e300, "max"])
def test_integrated_loudness_of_huge_samples_is_shifted_by_the_gain(scale):
    x = _noise(2.0, RATE)
    (huge, half), shift = _scaled(scale, x, 0.5 * x)
    expected = integrated_loudness(x, RATE) + shift
    assert abs(integrated_loudness(huge, RATE) - expected) < 1e-9
    np.testing.assert_allclose(integrated_loudness(np.stack([huge, half]), RATE),
                               [expected, expected - 20 * np.log10(2)], rtol=0, atol=1e-9)


def _running_means(values, n=40):
    return np.convolve(values + 1e-10, np.ones(n) / n, mode="valid")


@pytest.mark.parametrize("scale", [1e160, 1e300, "max"])
def test_default_profile_loudness_of_huge_mixes_is_that_of_the_scaled_down_mixes(scale):
    """LUFS(k x) = LUFS(x) + 20 log10 k, and peaks likewise: the frame tracks of the huge
    mixes, and their percentage errors, are the unscaled ones shifted (not 0 for 6 dB)."""
    est, ref = _pair(12.0, RATE)
    (huge_est, huge_ref), shift = _scaled(scale, est, ref)
    tracks = {name: feature_tracks(signal, RATE)[0] for name, signal in
              (("est", est), ("ref", ref))}
    huge = feature_tracks(huge_ref, RATE)[0]
    np.testing.assert_allclose(huge.lufs, tracks["ref"].lufs + shift, rtol=1e-12)
    np.testing.assert_allclose(huge.peak_db, tracks["ref"].peak_db + shift, rtol=1e-12)
    result = compare_features(huge_est, huge_ref, RATE)
    for key, field in (("lufs_loudness", "lufs"), ("peak_loudness", "peak_db")):
        r = _running_means(getattr(tracks["ref"], field) + shift)
        e = _running_means(getattr(tracks["est"], field) + shift)
        expected = np.mean(np.abs(e - r) / np.maximum(np.abs(r), 1.0))
        assert getattr(result, key) == pytest.approx(expected, rel=1e-6), key
        assert getattr(result, key) > 0.5 * 6.0 / abs(r).max()   # not 0 for a 6-dB gap
    unscaled = compare_features(est, ref, RATE)
    for key in NORMALISED_KEYS:   # peak-normalised: the level does not matter
        assert getattr(result, key) == pytest.approx(getattr(unscaled, key), rel=1e-9,
                                                     abs=1e-12), key


def test_fxnorm_loudness_of_huge_mixes_is_that_of_the_scaled_down_mixes():
    est, ref = _pair(5.0, RATE)
    k = 1e300
    shift = 20 * np.log10(k)
    result = compare_features(est * k, ref * k, RATE, profile="fxnorm")
    lufs_r, lufs_e = (integrated_loudness(s, RATE) + shift for s in (ref, est))
    assert result.lufs_loudness == pytest.approx(abs(lufs_e - lufs_r) / abs(lufs_r), rel=1e-9)
    peak_r, peak_e = (20 * np.log10(np.abs(s).max()) + shift for s in (ref, est))
    assert result.peak_loudness == pytest.approx(abs(peak_e - peak_r) / abs(peak_r), rel=1e-9)


def test_trimming_a_huge_reference_finds_the_same_samples():
    from fastmixloss.features.compare import trim_bounds
    ref = mix(6.0, seed=14, silence=(0.0, 1.5))
    settings = resolve("automix-toolkit", RATE)
    bounds = trim_bounds(ref, settings)
    assert bounds[0] > 0
    for scale in (1e160, 1e300, "max"):
        assert trim_bounds(_scaled(scale, ref)[0][0], settings) == bounds


# ---------------------------------------------------------- item: denormal-level mixes

DENORMAL_SCALES = [(np.float64, 1e-300), (np.float64, 1e-310), (np.float64, 5e-324),
                   (np.float32, 1e-40), (np.float32, 1e-45)]


@pytest.mark.parametrize("dtype,scale", DENORMAL_SCALES)
def test_identical_denormal_level_mixes_give_zero(dtype, scale):
    x = (_noise(3.0, RATE) * scale).astype(dtype)
    assert np.abs(x).max() > 0
    values = compare_features(x, x.copy(), RATE).to_dict()
    assert all(v == 0.0 for v in values.values()), values


@pytest.mark.parametrize("scale", [1e-300, 1e-310])
def test_denormal_level_mixes_have_the_unscaled_mixes_features(scale):
    """Peak normalisation makes the spectral, panning and dynamics features blind to the
    level: a mix below float64's normal numbers reads as the same mix at full scale (to
    the precision its samples keep)."""
    est, ref = _pair(3.0, RATE)
    result = compare_features(est * scale, ref * scale, RATE)
    unscaled = compare_features(est, ref, RATE)
    for key in NORMALISED_KEYS:
        assert getattr(result, key) == pytest.approx(getattr(unscaled, key), rel=1e-6), key


def test_toolkit_profile_says_why_a_denormal_mix_has_no_value():
    x = _noise(3.0, RATE) * 1e-310
    result = compare_features(x, x.copy(), RATE, profile="automix-toolkit")
    assert np.isnan(result.centroid)
    assert "peak-normalised" in result.reasons[(0, "centroid")]


# ------------------------------------------------------- item: channels, keywords, warnings

@pytest.mark.parametrize("shape", [(6, 8000), (2, 6, 8000)])
def test_six_channels_are_named_without_the_channel_last_advice(shape):
    x = np.zeros(shape)
    for call in (lambda: compare_features(x, x, 8000), lambda: feature_tracks(x, 8000),
                 lambda: integrated_loudness(x, 8000)):
        with pytest.raises(ParameterError, match="6 channels.*at most 5") as raised:
            call()
        assert ".T" not in str(raised.value) and "moveaxis" not in str(raised.value)


@pytest.mark.parametrize("shape,fix", [((20, 2), r"pass {}\.T"), ((8000, 6), r"pass {}\.T"),
                                       ((3, 20, 2), r"np\.moveaxis\({}, -1, -2\)")])
def test_channel_last_shapes_get_the_channel_last_advice(shape, fix):
    x = np.zeros(shape)
    with pytest.raises(ParameterError, match=fix.format("x")):
        integrated_loudness(x, 8000)
    with pytest.raises(ParameterError, match=fix.format(r"\w+")):
        compare_features(x, x, 8000)


def test_unknown_keywords_raise_keyword_errors():
    x = _noise(1.0, 8000)
    with pytest.raises(KeywordError, match="integrated_loudness.*device"):
        integrated_loudness(x, 8000, device="cpu")
    with pytest.raises(KeywordError, match="compare_features.*reductions.*did you mean "
                                           "reduction"):
        compare_features(x, x, 8000, reductions="none")
    with pytest.raises(KeywordError, match="feature_tracks.*profle.*did you mean profile"):
        feature_tracks(x, 8000, profle="default")


def _odd_inputs():
    rng = np.random.default_rng(5)
    noise = 0.3 * rng.standard_normal((2, 3 * 8000))
    yield "silent ref", noise, np.zeros_like(noise)
    yield "silent both", np.zeros_like(noise), np.zeros_like(noise)
    yield "silent est", np.zeros_like(noise), noise
    yield "dc", np.full_like(noise, 0.5), np.full_like(noise, 0.25)
    yield "dual mono", noise, np.repeat(noise[:1], 2, axis=0)
    yield "denormal", noise * 1e-310, noise * 1e-310
    yield "huge", noise * 1e300, noise * 1e307
    yield "one channel silent", noise, noise * np.array([[1.0], [0.0]])
    yield "mono", noise[:1], noise[1:]
    yield "five channels", np.tile(noise, (3, 1))[:5], np.tile(noise, (3, 1))[1:6]
    yield "short", noise[:, :300], noise[:, :300] * 0.5
    yield "one sample", noise[:, :1], noise[:, 1:2]


@pytest.mark.parametrize("profile", PROFILES)
def test_no_warning_reaches_the_user_on_odd_input(profile):
    """An all-zero reference let NumPy's "invalid value encountered in subtract" through
    the toolkit profile. Each odd input gives values or NaN with reasons, silently."""
    for name, est, ref in _odd_inputs():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            result = compare_features(est, ref, 8000, profile=profile)
            feature_tracks(ref, 8000, profile=profile) if ref.shape[1] >= 3200 else None
            if ref.shape[1] >= 3200:
                integrated_loudness(ref, 8000)
        for key, value in result.to_dict().items():
            assert np.isfinite(value) or (0, key) in result.reasons, (name, key)
        if profile == "default":   # panning is of two channels (or one, centred)
            assert all(np.isfinite(v) for k, v in result.to_dict().items()
                       if k not in PANNING_KEYS or ref.shape[0] <= 2), name


# ----------------------------------------------------- the one-signal functions' messages

@pytest.mark.parametrize("call", [
    lambda x: feature_tracks(x, 48000),
    lambda x: integrated_loudness(x, 48000),
])
def test_one_signal_errors_name_x_and_offer_no_option_they_lack(call):
    """feature_tracks and integrated_loudness take x: their input errors say x, and the
    NaN message offers no check_finite (neither takes it)."""
    with pytest.raises(ParameterError, match=r"^x has dtype float16"):
        call(np.zeros((2, 48000), np.float16))
    bad = np.zeros((2, 48000))
    bad[1, 5] = np.nan
    with pytest.raises(ParameterError, match=r"^x contains nan") as error:
        call(bad)
    assert "check_finite" not in str(error.value)


def test_compare_features_nan_message_offers_no_check_finite():
    est, ref = _pair(1.0, 48000)
    ref[0, 3] = np.inf
    with pytest.raises(ParameterError, match=r"^ref contains inf") as error:
        compare_features(est, ref, 48000)
    assert "check_finite" not in str(error.value)


def test_a_block_longer_than_the_signal_names_block_size():
    with pytest.raises(ParameterError, match=r"block_size=1e\+300"):
        integrated_loudness(_noise(1.0, 48000), 48000, block_size=1e300)


@pytest.mark.parametrize("profile", ["automix-toolkit", "fxnorm"])
@pytest.mark.parametrize("rate", [48000, 96000])
def test_toolkit_frames_shorter_than_a_block_have_no_loudness_track(profile, rate):
    """The toolkit's 17640-sample loudness frames are shorter than a 0.4-s block above
    44.1 kHz: their loudness is NaN with the reason (compare_features calls it undefined),
    not -inf or a cut block's number; the other tracks keep their values."""
    tracks = feature_tracks(_noise(2.0, rate), rate, profile=profile)[0]
    assert np.isnan(tracks.lufs).all() and tracks.lufs.size > 0
    assert "shorter than the meter's 0.4-s block" in tracks.reasons["lufs"]
    assert np.isfinite(tracks.peak_db).all() and np.isfinite(tracks.centroid).all()
    assert set(tracks.reasons) == {"lufs"}


def test_tracks_have_no_reasons_where_every_track_is_defined():
    for profile in PROFILES:
        tracks = feature_tracks(_noise(2.0, 44100), 44100, profile=profile)[0]
        assert tracks.reasons == {} and np.isfinite(tracks.lufs).all()


@pytest.mark.parametrize("block_size", [1e-6, 1e-300])
def test_a_gating_block_shorter_than_a_sample_is_refused(block_size):
    """Blocks of a fraction of a sample meant nothing and took a minute (1e-6 s) or failed
    inside NumPy (1e-300 s)."""
    with pytest.raises(ParameterError, match=r"^block_size=.* a gating block needs at least"):
        integrated_loudness(_noise(1.0, 16000), 16000, block_size=block_size)
