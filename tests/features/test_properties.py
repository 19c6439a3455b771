"""Properties of the feature tracks and comparisons, and the oracles (librosa, pyloudnorm,
scikit-learn) per feature on synthetic signals."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastmixloss as fm
from fastmixloss.errors import DeviceError
from fastmixloss.features import compare_features, feature_tracks

from .signals import RATE, mix

librosa = pytest.importorskip("librosa")
pyln = pytest.importorskip("pyloudnorm")


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2 ** 16), pan=st.floats(-0.9, 0.9))
def test_channel_swap_mirrors_panning_sign_not_rms(seed, pan):
    x = mix(2.0, seed=seed, pans=(pan, -pan / 2, pan / 3, 0.1))
    a = feature_tracks(x, RATE)[0]
    b = feature_tracks(x[::-1].copy(), RATE)[0]
    np.testing.assert_array_equal(b.panning_rms, a.panning_rms)
    np.testing.assert_array_equal(b.panning_mean, -a.panning_mean)


@settings(deadline=None, max_examples=8)
@given(seed=st.integers(0, 2 ** 16), gain_db=st.floats(-20, 6))
def test_gain_changes_loudness_by_the_gain(seed, gain_db):
    x = mix(3.0, seed=seed)
    gain = 10 ** (gain_db / 20)
    shift = fm.integrated_loudness(gain * x, RATE) - fm.integrated_loudness(x, RATE)
    assert abs(shift - 20 * np.log10(gain)) < 1e-9
    frames = feature_tracks(gain * x, RATE)[0].lufs - feature_tracks(x, RATE)[0].lufs
    np.testing.assert_allclose(frames, 20 * np.log10(gain), atol=1e-9)


@pytest.mark.parametrize("profile", ["default", "automix-toolkit", "fxnorm"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_identical_inputs_give_zero(profile, dtype):
    x = mix(10.0, seed=11).astype(dtype)
    values = compare_features(x, x, RATE, profile=profile).to_dict()
    assert all(v == 0.0 for v in values.values()), values


@pytest.mark.parametrize("rate", [16000, 22050, 44100, 48000, 96000])
def test_integrated_loudness_is_pyloudnorm(rate):
    x = mix(2.5, seed=rate, rate=rate)
    x[:, : rate // 2] *= 1e-3   # some blocks fall under the relative gate
    expected = pyln.Meter(rate).integrated_loudness(x.T)
    assert abs(fm.integrated_loudness(x, rate) - expected) < 0.01


@pytest.mark.parametrize("rate,profile,frame,hop", [
    (44100, "automix-toolkit", 17640, 8820),   # one gating block per frame
    (22050, "automix-toolkit", 17640, 8820),   # five blocks per frame
    (48000, "default", 19200, 9600),
    (44102, "default", 17641, 8820),           # frame != 2 hop: filtered per frame
])
def test_frame_loudness_is_pyloudnorm_per_frame(rate, profile, frame, hop):
    x = mix(4.0, seed=12, rate=rate)
    x[:, :rate // 2] = 0.0      # a silent start...
    x[0, :rate // 2] += 0.3     # ...with a DC offset on one channel: large K-weighting states
    import numba
    lufs = feature_tracks(x, rate, profile=profile)[0].lufs
    n_frames = 1 + (x.shape[1] - frame) // hop
    assert len(lufs) == n_frames
    # with Numba's bounds checking on, the K-weighting lanes vectorise otherwise and their
    # sums round otherwise: 1.4e-9 LU measured on frame 0 at 44.1 kHz
    tolerance = 2e-9 if numba.config.BOUNDSCHECK else 1e-9
    for f in range(n_frames):
        chunk = x[:, f * hop:f * hop + frame]
        expected = pyln.Meter(rate, block_size=0.4).integrated_loudness(chunk.T)
        if profile == "default":
            expected = max(expected, -70.0)
        assert abs(lufs[f] - expected) < tolerance, (f, lufs[f], expected)


def test_frames_of_two_chunks_have_the_energies_of_frames_filtered_from_rest():
    """Frames of two hops are filtered once per hop and continued by the zero-input
    response (kernels.block_energies.chunk_energies); the block energies are those of each
    frame K-weighted from rest, in silence (exactly 0) and after a loud offset too."""
    from fastmixloss.features import bs1770
    from fastmixloss.features.tracks import _energies_by_chunks
    from fastmixloss.features.kernels.block_energies import frame_block_energies
    for rate, frame in ((44100, 17640), (22050, 17640), (8000, 3200)):
        x = mix(5.0, seed=rate, rate=rate)
        x[:, rate:2 * rate + frame] = 0.0          # frames wholly inside silence
        x[1, 3 * rate:4 * rate] += 0.5             # an offset the high-pass removes
        hop = frame // 2
        n_frames = 1 + (x.shape[1] - frame) // hop
        blocks = bs1770.block_bounds(frame, rate)
        k = bs1770.k_weighting(rate)
        direct, direct_peaks = frame_block_energies(x, frame, hop, n_frames, blocks, k)
        chunked, peaks = _energies_by_chunks(x, hop, n_frames, blocks, k)
        assert chunked.shape == direct.shape and (direct == 0).any()
        np.testing.assert_array_equal(chunked == 0, direct == 0)
        np.testing.assert_allclose(chunked, direct, rtol=1e-9, atol=1e-12 * direct.max())
        np.testing.assert_array_equal(peaks, direct_peaks)


def test_chunk_sums_do_not_depend_on_the_lane_or_group_they_ran_in():
    """chunk_energies filters (chunk, channel) pairs side by side in lanes: a chunk's
    numbers are the same bits whichever lane and group it lands in."""
    from fastmixloss.features import bs1770
    from fastmixloss.features.kernels.block_energies import chunk_energies, zero_input_basis
    x = mix(4.0, seed=31)
    hop = 4410
    k = bs1770.k_weighting(RATE)
    cuts = np.array([0, 1000, hop], np.int64)
    basis, _ = zero_input_basis(k, hop, cuts)
    n = x.shape[1] // hop
    whole = chunk_energies(x, hop, n, cuts, k, basis)
    shifted = chunk_energies(x[:, 3 * hop:], hop, n - 3, cuts, k, basis)   # other lanes
    mono = chunk_energies(x[1:], hop, n, cuts, k, basis)                   # 16 per group
    for a, b in zip(whole, shifted):
        np.testing.assert_array_equal(a[3:], b)
    for a, b in zip(whole[:3], mono[:3]):
        np.testing.assert_array_equal(a[:, 1:], b)


def test_spectral_tracks_are_librosa():
    x = mix(2.0, seed=13, pans=(0.7, -0.7, 0.3, -0.2))
    gain = 10 ** (-1 / 20) / np.abs(x).max()
    tracks = feature_tracks(x, RATE, profile="automix-toolkit")[0]
    window = np.sqrt(np.hanning(4097)[:-1])
    for c in range(2):
        S = np.abs(librosa.stft(gain * x[c], n_fft=4096, hop_length=1024, window=window,
                                center=False))
        centroid = librosa.feature.spectral_centroid(S=S, sr=RATE)[0]
        bandwidth = librosa.feature.spectral_bandwidth(S=S, sr=RATE, centroid=centroid[None])
        rolloff = librosa.feature.spectral_rolloff(S=S, sr=RATE, roll_percent=0.85)[0]
        flat = librosa.feature.spectral_flatness(S=S, amin=1e-10, power=2.0)[0]
        contrast = librosa.feature.spectral_contrast(S=S, sr=RATE, fmin=250.0, n_bands=4,
                                                     quantile=0.02, linear=False)
        np.testing.assert_allclose(tracks.centroid[c], centroid, rtol=1e-9)
        np.testing.assert_allclose(tracks.bandwidth[c], bandwidth[0], rtol=1e-9)
        np.testing.assert_allclose(tracks.rolloff[c], rolloff, rtol=1e-3)
        np.testing.assert_allclose(tracks.flatness_db[c], 20 * np.log10(flat + 1e-30),
                                   atol=1e-6)
        np.testing.assert_allclose(tracks.contrast[c], contrast, atol=1e-6)


def test_hard_panned_source_has_full_panning():
    t = np.arange(2 * RATE) / RATE
    tone = 0.3 * np.sin(2 * np.pi * 1000 * t)
    right = np.stack([np.zeros_like(tone), tone])
    tracks = feature_tracks(right, RATE)[0]
    # bins carrying the tone are fully right (+1); empty bins (both 0) count 0
    assert tracks.panning_mean[0].min() > 0
    assert tracks.panning_rms[0].max() <= 1.0


def test_mape_is_sklearn():
    from sklearn.metrics import mean_absolute_percentage_error
    from fastmixloss.features.compare import mape
    from fastmixloss.features.profiles import SKLEARN_EPS
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(50), rng.standard_normal(50)
    a[3] = 0.0
    assert mape(a, b, SKLEARN_EPS) == pytest.approx(mean_absolute_percentage_error(a, b),
                                                    rel=1e-12)


@pytest.mark.parametrize("length", [1, 700, 5000, 44101])
@pytest.mark.parametrize("frame, hop", [(4096, 1024), (2048, 512), (1000, 300), (8, 8)])
def test_centred_mean_squares_are_the_frames_means(length, frame, hop):
    """Trim's frame energies (spans of a hop added per frame where the frame is a multiple
    of the hop) against the frames cut from a zero-padded copy."""
    from fastmixloss.features.kernels.frame_features import centred_mean_squares
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, length)).astype(np.float32)
    n_frames = 1 + length // hop
    padded = np.pad(x.astype(np.float64), ((0, 0), (frame // 2, frame)))
    expected = np.stack([[np.mean(padded[c, f * hop:f * hop + frame] ** 2)
                          for f in range(n_frames)] for c in range(2)])
    np.testing.assert_allclose(centred_mean_squares(x, frame, hop, n_frames), expected,
                               rtol=1e-12)
    assert centred_mean_squares(x, frame, hop, 0).shape == (2, 0)


def test_trim_is_librosa():
    from fastmixloss.features.compare import trim_bounds
    from fastmixloss.features.profiles import resolve
    x = mix(6.0, seed=14, silence=(0.0, 1.5))
    x[:, -RATE:] *= 1e-4
    _, (start, stop) = librosa.effects.trim(x, top_db=45, frame_length=4096, hop_length=1024)
    assert trim_bounds(x, resolve("automix-toolkit", RATE)) == (start, stop)


def _with_threads(n_threads, call):
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(n_threads)
    try:
        return call()
    finally:
        numba.set_num_threads(before)


@pytest.mark.parametrize("profile", ["default", "fxnorm"])
def test_thread_count_and_batch_do_not_change_values(profile):
    import numba
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2 to compare 1 and 2 threads")
    est = np.stack([mix(3.0, seed=s, gains=(1.2, 1, 0.8, 1)) for s in (1, 2)])
    ref = np.stack([mix(3.0, seed=s) for s in (1, 2)])

    def compare(e, r):
        return compare_features(e, r, RATE, profile=profile, reduction="none").to_dict()

    together = _with_threads(2, lambda: compare(est, ref))
    alone = _with_threads(1, lambda: compare(est[1], ref[1]))
    alone_two = _with_threads(2, lambda: compare(est[1], ref[1]))
    for key, values in together.items():
        assert values[1] == alone[key][0] == alone_two[key][0], key


def test_a_lone_pair_computes_its_two_signals_side_by_side(monkeypatch):
    """One pair with threads to spare: the two signals' tracks each on a thread of its
    own, not the caller's; a batch of two on two threads: each pair's two signals on one
    thread, one after the other. An error on the estimate's thread reaches the caller."""
    import threading

    import numba
    from fastmixloss.features import compare
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    rng = np.random.default_rng(3)
    ref = 0.1 * rng.standard_normal((2, 2, 2 * RATE))   # noise: trimming cuts nothing
    est = 0.9 * ref + 0.01 * rng.standard_normal(ref.shape)
    calls = []
    original = compare.item_tracks

    def recording(x, *args, **kwargs):
        role = "est" if np.shares_memory(x, est) else "ref" if np.shares_memory(x, ref) else "?"
        calls.append((role, threading.get_ident()))
        if role == "est" and recording.fail:
            raise MemoryError("on the estimate's thread")
        return original(x, *args, **kwargs)

    recording.fail = False
    monkeypatch.setattr(compare, "item_tracks", recording)
    _with_threads(2, lambda: compare_features(est[0], ref[0], RATE))
    roles = dict(calls)
    assert len(calls) == 2 and roles["ref"] != roles["est"]
    assert threading.get_ident() not in roles.values()
    calls.clear()
    _with_threads(1, lambda: compare_features(est[0], ref[0], RATE))
    assert sorted(calls) == [("est", threading.get_ident()), ("ref", threading.get_ident())]
    calls.clear()
    _with_threads(2, lambda: compare_features(est, ref, RATE))
    per_thread = {}
    for role, thread in calls:
        per_thread.setdefault(thread, []).append(role)
    assert sorted(sum(per_thread.values(), [])) == ["est", "est", "ref", "ref"]
    assert all(roles == ["ref", "est"] * (len(roles) // 2) for roles in per_thread.values())
    recording.fail = True
    with pytest.raises(MemoryError, match="estimate's thread"):
        _with_threads(2, lambda: compare_features(est[0], ref[0], RATE))


def test_feature_kernels_run_on_every_thread(monkeypatch):
    """Each feature kernel is handed to the worker pool with numba's thread count, not run
    serially (a prange in a serial kernel would be one thread); a lone pair's two signals,
    side by side, share the threads."""
    import numba
    from fastmixloss.features.kernels import block_energies, frame_features
    from fastmixloss.kernels import workers
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    calls = {}

    def recording(kernel, n_tasks, n_threads, *args):
        calls[kernel.py_func.__name__] = n_threads
        return workers.run_workers(kernel, n_tasks, n_threads, *args)

    monkeypatch.setattr(frame_features, "run_workers", recording)
    monkeypatch.setattr(block_energies, "run_workers", recording)
    names = ("spectral_tracks_worker", "chunk_sums_worker", "span_squares_worker",
             "max_abs_worker", "chunk_energies_worker", "segment_energies_worker")
    est = np.stack([mix(3.0, seed=1), mix(3.0, seed=3)])
    ref = np.stack([mix(3.0, seed=2), mix(3.0, seed=4)])
    for profile in ("default", "fxnorm"):   # a batch: each item on every thread
        _with_threads(2, lambda: compare_features(est, ref, RATE, profile=profile))
    assert calls == {name: 2 for name in names}
    calls.clear()
    for profile in ("default", "fxnorm"):   # a lone pair: one thread for each signal's
        _with_threads(2, lambda: compare_features(est[0], ref[0], RATE, profile=profile))
    # tracks and loudness, side by side (the dynamics' last scan runs after, on both)
    assert calls["spectral_tracks_worker"] == calls["chunk_energies_worker"] == 1


def test_cuda_is_refused_and_bad_input_named():
    x = mix(1.0, seed=1)
    with pytest.raises(DeviceError, match="CPU only"):
        compare_features(x, x, RATE, device="cuda")
    with pytest.raises(fm.ParameterError, match="profile"):
        compare_features(x, x, RATE, profile="toolkit")
    with pytest.raises(fm.ParameterError, match="sample_rate"):
        compare_features(x, x, -1)
