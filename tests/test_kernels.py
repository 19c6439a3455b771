"""The kernels' building blocks, each alone against plain NumPy."""

import numpy as np
import pytest

from fastmixloss.kernels import terms
from fastmixloss.kernels.checks import finite_peak, first_nonfinite
from fastmixloss.features.kernels.extremes import extreme_means
from fastmixloss.kernels.fastlog import fast_log
from fastmixloss.kernels.peaks import largest_abs
from fastmixloss.kernels.frames import (apply_window, read_frame, read_mixed_frame,
                                        reflect_index)
from fastmixloss.kernels.stft import frame_count
from fastmixloss.kernels.time import N_TIME_SUMS, time_sums


@pytest.mark.parametrize("length", [2, 3, 10, 257])
def test_reflect_index_matches_numpy_reflect_pad(length):
    pad = length - 1                      # the largest pad the kernels allow
    signal = np.arange(length)
    padded = np.pad(signal, pad, mode="reflect")
    got = [signal[reflect_index(p - pad, length)] for p in range(padded.size)]
    np.testing.assert_array_equal(got, padded)


@pytest.mark.parametrize("start", [-6, -1, 0, 5, 14])
def test_read_frame_reads_the_padded_signal_inside_the_support_only(start):
    signal = np.arange(20, dtype=np.float64) + 1
    padded = np.pad(signal, 8, mode="reflect")
    frame = np.full(12, -1.0)
    lo, hi = 2, 10
    read_frame(signal, start, frame, lo, hi)
    expected = np.full(12, -1.0)
    expected[lo:hi] = padded[start + 8 + lo:start + 8 + hi]
    np.testing.assert_array_equal(frame, expected)


@pytest.mark.parametrize("start", [-5, 0, 12])
def test_read_mixed_frame_is_the_weighted_channel_sum(start):
    channels = np.stack([np.arange(16.0), np.arange(16.0) ** 2])
    weights = np.array([1.0, -1.0])
    frame = np.zeros(8)
    read_mixed_frame(channels, weights, start, frame, 1, 7)
    mixed = np.pad(channels[0] - channels[1], 6, mode="reflect")
    np.testing.assert_array_equal(frame[1:7], mixed[start + 6 + 1:start + 6 + 7])
    assert frame[0] == 0 and frame[7] == 0


@pytest.mark.parametrize("start", [-5, 3, 30])
def test_read_mixed_frame_with_any_weights_and_channels(start):
    channels = np.stack([np.arange(40.0), np.sqrt(np.arange(40.0)), np.cos(np.arange(40.0))])
    weights = np.array([0.5, 2.0, -1.0])
    frame = np.full(10, 7.0)
    read_mixed_frame(channels, weights, start, frame, 2, 9)
    mixed = np.pad(weights @ channels, 5, mode="reflect")
    np.testing.assert_allclose(frame[2:9], mixed[start + 5 + 2:start + 5 + 9], rtol=1e-15)
    assert frame[0] == frame[1] == frame[9] == 7.0


def test_apply_window_multiplies_the_support_only():
    frame = np.arange(1.0, 9.0)
    window = np.linspace(0, 1, 8)
    apply_window(frame, window, 2, 6)
    expected = np.arange(1.0, 9.0)
    expected[2:6] *= window[2:6]
    np.testing.assert_array_equal(frame, expected)


def test_fast_log_matches_numpy_log(rng):
    x = np.exp(rng.uniform(-690, 690, 20000))
    x = np.concatenate([x, [1.0, np.nextafter(1.0, 0), np.nextafter(1.0, 2), 2.0, 0.5,
                            np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 0), 1e-300, 1e300]])
    got = np.array([fast_log(v) for v in x])
    expected = np.log(x)
    np.testing.assert_allclose(got, expected, rtol=5e-16, atol=2e-16)


def _bins(n, rng):
    return rng.standard_normal(n) * 10.0 ** rng.uniform(-6, 3, n)


@pytest.mark.parametrize("log_mode", [terms.NO_TERM, terms.L1, terms.L2])
@pytest.mark.parametrize("lin_mode", [terms.NO_TERM, terms.L1, terms.L2])
def test_bin_terms_follow_the_formulas(rng, log_mode, lin_mode):
    eps = 1e-8
    re_e, im_e, re_r, im_r = (_bins(200, rng) for _ in range(4))
    mag_e = np.sqrt(np.maximum(re_e ** 2 + im_e ** 2, eps))
    mag_r = np.sqrt(np.maximum(re_r ** 2 + im_r ** 2, eps))
    log_diff = np.log(mag_e) - np.log(mag_r)
    lin_diff = mag_e - mag_r
    distance = {terms.NO_TERM: lambda v: 0 * v, terms.L1: np.abs, terms.L2: np.square}
    got = np.array([terms.bin_terms(*args, eps, log_mode, lin_mode)
                    for args in zip(re_e, im_e, re_r, im_r)])
    np.testing.assert_allclose(got[:, terms.SC_NUM], lin_diff ** 2, rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(got[:, terms.SC_DEN], mag_r ** 2, rtol=1e-14)
    np.testing.assert_allclose(got[:, terms.LOG_DIST], distance[log_mode](log_diff),
                               rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(got[:, terms.LIN_DIST], distance[lin_mode](lin_diff),
                               rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("n_fft", [8, 9, 16, 1000])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_spectrum_terms_reads_fftpack_half_complex_order(rng, n_fft, dtype):
    import rocket_fft
    from numba import njit

    @njit
    def half_complex(frame):
        out = np.empty_like(frame)
        rocket_fft.r2r_fftpack(frame.reshape(1, -1), out.reshape(1, -1), np.array([1]),
                               True, True, 1.0, 1)
        return out

    frame_e = rng.standard_normal(n_fft).astype(dtype)
    frame_r = rng.standard_normal(n_fft).astype(dtype)
    got = terms.spectrum_terms(half_complex(frame_e), half_complex(frame_r), 1e-8,
                               terms.L1, terms.L2)
    mag_e = np.abs(np.fft.rfft(frame_e.astype(np.float64)))
    mag_r = np.abs(np.fft.rfft(frame_r.astype(np.float64)))
    expected = [((mag_e - mag_r) ** 2).sum(), (mag_r ** 2).sum(),
                np.abs(np.log(mag_e) - np.log(mag_r)).sum(), ((mag_e - mag_r) ** 2).sum()]
    np.testing.assert_allclose(got, expected, rtol=1e-12 if dtype == np.float64 else 2e-5)


@pytest.mark.parametrize("length,fft,hop", [(44100, 1024, 256), (513, 1024, 256),
                                            (1000, 1000, 333), (100, 9, 4)])
def test_frame_count_matches_explicit_framing(length, fft, hop):
    padded = length + 2 * (fft // 2)
    assert frame_count(length, fft, hop) == len(range(0, padded - fft + 1, hop))


def test_first_nonfinite_finds_the_first_bad_sample():
    x = np.zeros(300000)
    assert first_nonfinite(x) == -1
    x[200001] = np.inf
    x[250000] = np.nan
    assert first_nonfinite(x) == 200001
    y = np.zeros(10, np.float32)
    y[9] = -np.inf
    assert first_nonfinite(y) == 9


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_finite_peak_is_the_largest_finite_magnitude_and_counts_the_rest(rng, dtype):
    x = rng.standard_normal(200003).astype(dtype)
    assert finite_peak(x) == (float(np.abs(x).max()), 0)
    x[7] = -np.inf
    x[70001] = np.nan
    x[150000] = -np.finfo(dtype).max            # the largest finite magnitude, negative
    x[150001] = np.finfo(dtype).smallest_subnormal
    assert finite_peak(x) == (float(np.finfo(dtype).max), 2)
    assert finite_peak(np.full(5, np.nan, dtype)) == (0.0, 5)
    assert finite_peak(np.array([-0.0, 0.0], dtype)) == (0.0, 0)


def test_largest_abs_is_the_scaled_peak(rng):
    x = rng.standard_normal(1001).astype(np.float32)
    assert largest_abs(x, -2.5) == float(np.abs(np.float64(-2.5) * x.astype(np.float64)).max())
    assert largest_abs(x[:0], 1.0) == 0.0
    y = np.array([1.0, np.nan, -3.0])
    assert np.isnan(largest_abs(y, 1.0))   # a NaN is not hidden by a larger sample


@pytest.mark.parametrize("size,count", [(1, 1), (5, 1), (5, 2), (5, 5), (4, 9), (93, 2),
                                        (1864, 37), (300, 37), (40, 37), (152, 37),
                                        (153, 37), (1000, 3)])
@pytest.mark.parametrize("kind", ["noise", "falling", "rising", "flat", "ties", "signed",
                                  "zeros"])
def test_extreme_means_are_the_means_of_the_sorted_ends(rng, size, count, kind):
    """The contrast bands' peaks and valleys: means of the `count` largest and smallest
    (all of them in a band smaller than `count`), whatever the spectrum's shape."""
    values = {"noise": lambda: rng.random(size),
              "falling": lambda: np.geomspace(1.0, 1e-6, size) * (1 + 0.1 * rng.random(size)),
              "rising": lambda: np.geomspace(1e-9, 1.0, size),
              "flat": lambda: np.full(size, 0.25),
              "ties": lambda: rng.integers(0, 3, size).astype(np.float64),
              "signed": lambda: rng.standard_normal(size) * 10.0 ** rng.integers(-3, 4, size),
              "zeros": lambda: np.where(rng.random(size) < 0.5, 0.0, rng.random(size))}[kind]()
    padded = np.concatenate([[-1e9], values, [1e9]])   # the band is [1, size + 1)
    n = min(count, size)
    scratch = np.full((5, size + 2), 12345, np.int64)   # stale contents must not matter
    low, high = extreme_means(padded, 1, size + 1, count, scratch)
    ordered = np.sort(values)
    np.testing.assert_allclose(low, ordered[:n].mean(), rtol=1e-14)
    np.testing.assert_allclose(high, ordered[::-1][:n].mean(), rtol=1e-14)


@pytest.mark.parametrize("length", [1, 100, 70000, 200003])   # one and several chunks
def test_time_sums_are_shifted_float64_sums(rng, length):
    est = (rng.standard_normal((3, length)) + 5.0).astype(np.float32)
    ref = (rng.standard_normal((3, length)) + 5.0).astype(np.float32)
    totals, shifts = time_sums(est, ref)
    assert totals.shape == (3, N_TIME_SUMS)
    y = ref.astype(np.float64)
    d = est.astype(np.float64) - y
    k_y, k_d = shifts[:, :1], shifts[:, 1:]
    np.testing.assert_allclose(k_y[:, 0], y[:, :4096].mean(-1), rtol=1e-12)
    expected = np.stack([(y - k_y).sum(-1), ((y - k_y) ** 2).sum(-1), (d - k_d).sum(-1),
                         ((d - k_d) ** 2).sum(-1), ((d - k_d) * (y - k_y)).sum(-1),
                         np.abs(d).sum(-1)], axis=1)
    np.testing.assert_allclose(totals, expected, rtol=1e-9, atol=1e-9)


def test_rows_mixed_from_transforms_equal_the_transform_of_the_mix(rng):
    """The sum and difference rows of two transforms (spectra added in float64) against
    frame_mix (samples mixed first): the same numbers in float64, in either order, and an
    unmixed row bit for bit; a row mix of other weights is refused."""
    from fastmixloss.kernels.layout import FramePlan, frame_count, frames_per_block
    from fastmixloss.kernels.stft import row_layout, stft_row_partials
    from fastmixloss.windows import padded_window
    est = rng.standard_normal((2, 3, 5000))
    ref = rng.standard_normal((2, 3, 5000))
    n_frames = frame_count(5000, 256, 64)
    window, lo, hi = padded_window("hann", 200, 256, np.float64)
    plan = FramePlan(256, 64, lo, hi, n_frames, frames_per_block(256, n_frames), 1, 2,
                     1e-8, -128)
    for rows, layout in (
            ([[1.0, 0, 0], [0, 0, 1.0], [1.0, 0, 1.0], [1.0, 0, -1.0]], ([0, 2, -1, -1],
                                                                       [2, 3, 0, 2])),
            ([[0, 1.0, -1.0], [0, 1.0, 0], [0, 1.0, 1.0]], ([-1, 1, -1], [2, 0, 1, 2]))):
        rows = np.array(rows)
        sources, pair = row_layout(rows)
        assert (sources.tolist(), pair.tolist()) == layout
        derived = stft_row_partials(est, ref, np.eye(3), rows, window, plan, 2).sum(axis=1)
        direct = stft_row_partials(est, ref, rows, np.eye(len(rows)), window, plan,
                                   2).sum(axis=1)
        np.testing.assert_allclose(derived, direct, rtol=1e-12)
        own = sources >= 0
        np.testing.assert_array_equal(derived[:, own], direct[:, own])
    for rows in ([[0.5, 0, 0]], [[1.0, -2.0, 0]], [[1.0, 1.0, 0]],
                 [[1.0, 1.0, 0], [1.0, 0, -1.0]], [[0.2, 0.3, 0.7], [1.0, 0, 0]]):
        with pytest.raises(ValueError, match="sum and difference pair"):
            row_layout(np.array(rows))
