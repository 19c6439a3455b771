"""Every way automix-toolkit's get_features fails gives a defined value in the default
profile; the toolkit profile says NaN and why."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastmixloss.features import compare_features

from .signals import RATE, mix

CASES = {
    # a few seconds of digital silence inside the reference: -inf LUFS frames
    "silence_gap": lambda: (mix(12, seed=1, gains=(1.2, 1, 1, 1)),
                            mix(12, seed=1, silence=(4.0, 7.0)), RATE, ["lufs_loudness"]),
    # a dual-mono reference: every panning frame deleted
    "mono_reference": lambda: (mix(6, seed=2), mix(6, seed=2, mono=True), RATE,
                               ["panning_rms_total"]),
    # fewer than 40 STFT frames
    "short": lambda: (mix(0.8, seed=3, gains=(1, 2, 1, 1)), mix(0.8, seed=3), RATE,
                      ["centroid", "panning_rms_total", "rms_level"]),
    # 48 kHz: 17640-sample loudness frames are shorter than the 0.4-s block
    "48k": lambda: (mix(6, seed=4, rate=48000, gains=(1, 0.5, 1, 1)),
                    mix(6, seed=4, rate=48000), 48000, ["lufs_loudness"]),
    # shorter than one frame of any kind
    "tiny": lambda: (mix(0.05, seed=5, gains=(2, 1, 1, 1)), mix(0.05, seed=5), RATE,
                     ["lufs_loudness", "centroid"]),
    # a silent estimate cannot be peak-normalised
    "silent_estimate": lambda: (np.zeros((2, 3 * RATE)), mix(3, seed=6), RATE, ["centroid"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_toolkit_failure_is_nan_with_a_reason(case):
    est, ref, rate, broken = CASES[case]()
    result = compare_features(est, ref, rate, profile="automix-toolkit")
    for key in broken:
        assert np.isnan(getattr(result, key)), key
        assert (0, key) in result.reasons


@pytest.mark.parametrize("case", sorted(CASES))
def test_default_profile_is_defined(case):
    est, ref, rate, _ = CASES[case]()
    result = compare_features(est, ref, rate)
    values = result.to_dict()
    assert all(np.isfinite(v) for v in values.values()), values
    assert not result.reasons


def test_true_mono_is_centred_in_default_profile():
    ref = mix(3, seed=7)[:1]
    est = 0.5 * ref
    result = compare_features(est, ref, RATE)
    assert result.panning_rms_total == 0.0
    assert np.isnan(compare_features(est, ref, RATE, profile="automix-toolkit")
                    .panning_rms_total)


def test_silent_reference_frames_floored_at_minus_70():
    from fastmixloss.features import feature_tracks
    x = mix(6, seed=8, silence=(1.0, 4.0))
    tracks = feature_tracks(x, RATE)[0]
    assert tracks.lufs.min() == -70.0 and tracks.peak_db.min() == -70.0
    raw = feature_tracks(x, RATE, profile="automix-toolkit")[0]
    assert np.isneginf(raw.lufs).any()


@settings(deadline=None, max_examples=30)
@given(length=st.integers(1, 30000), rate=st.sampled_from([8000, 22050, 44100, 48000]),
       channels=st.sampled_from([1, 2]), silent=st.sampled_from(["none", "est", "ref"]),
       seed=st.integers(0, 1000), dtype=st.sampled_from([np.float32, np.float64]))
def test_default_profile_never_raises_and_is_finite(length, rate, channels, silent, seed,
                                                    dtype):
    rng = np.random.default_rng(seed)
    ref = (0.3 * rng.standard_normal((channels, length))).astype(dtype)
    est = (0.5 * ref + 0.1 * rng.standard_normal(ref.shape)).astype(dtype)
    if silent == "est":
        est[:] = 0
    elif silent == "ref":
        ref[:] = 0
    values = compare_features(est, ref, rate).to_dict()
    assert all(np.isfinite(v) for v in values.values()), values


def test_channel_last_input_is_refused_with_the_fix():
    """(T, 2) as soundfile.read returns it would read as T channels of 2 samples."""
    import fastmixloss as fm
    channel_last = mix(1, seed=7).T.copy()
    with pytest.raises(fm.ParameterError, match=r"x\.T"):
        fm.integrated_loudness(channel_last, RATE)
    with pytest.raises(fm.ParameterError, match=r"x\.T"):
        compare_features(channel_last, channel_last, RATE)
