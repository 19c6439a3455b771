"""STFT, MR-STFT and S/D: the fused kernels against the plain NumPy reference."""

import re

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import reference
from signals import degrade, music

RTOL = {np.float32: 1e-4, np.float64: 1e-10}

# (fft_size, hop_size, win_length): the default, odd sizes, win < fft, hop > win
RESOLUTIONS = [(1024, 256, 1024), (1000, 333, 777), (512, 128, 300), (256, 300, 200)]


def _pair(shape, dtype, seed=0):
    n_items = shape[0] if len(shape) == 3 else 1
    channels = shape[-2] if len(shape) >= 2 else 1
    ref = music(n_items, shape[-1], seed, channels=channels)
    est = degrade(ref, seed + 1)
    return est.reshape(shape).astype(dtype), ref.reshape(shape).astype(dtype)


def _as3d(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape((1,) * (3 - x.ndim) + x.shape)


def _close(got, expected, dtype):
    np.testing.assert_allclose(got, expected, rtol=RTOL[dtype], atol=0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(6000,), (2, 6000), (3, 2, 6000)])
@pytest.mark.parametrize("resolution", RESOLUTIONS)
def test_stft_loss_matches_reference(dtype, shape, resolution):
    fft, hop, win = resolution
    est, ref = _pair(shape, dtype)
    got = fm.stft_loss(est, ref, fft_size=fft, hop_size=hop, win_length=win,
                       w_lin_mag=0.5, reduction="none", output="full")
    expected = reference.stft_loss(_as3d(est), _as3d(ref), fft_size=fft, hop_size=hop,
                                   win_length=win, w_lin_mag=0.5)
    for key in ("loss", "sc", "log_mag", "lin_mag"):
        _close(getattr(got, key), expected[key], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "bartlett", "rectangular"])
@pytest.mark.parametrize("mag_distance", ["L1", "L2"])
def test_windows_and_distances_match_reference(dtype, window, mag_distance):
    est, ref = _pair((2, 2, 4000), dtype, seed=3)
    got = fm.stft_loss(est, ref, fft_size=512, hop_size=128, win_length=400, window=window,
                       w_log_mag=1.0, w_lin_mag=2.0, mag_distance=mag_distance,
                       reduction="none")
    expected = reference.stft_loss(est, ref, fft_size=512, hop_size=128, win_length=400,
                                   window_name=window, w_lin_mag=2.0,
                                   mag_distance=mag_distance)
    _close(got, expected["loss"], dtype)


def test_window_array_is_used_as_given(rng):
    est, ref = _pair((1, 2, 3000), np.float64, seed=4)
    values = rng.uniform(0.1, 1.0, 300)
    got = fm.stft_loss(est, ref, fft_size=512, hop_size=100, win_length=300, window=values)
    expected = reference.stft_loss(est, ref, fft_size=512, hop_size=100, win_length=300,
                                   window_values=values)
    _close(got, expected["loss"].mean(), np.float64)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft,hop,win", [(1024, 256, 1024), (1000, 333, 777), (255, 64, 200)])
def test_signal_just_longer_than_half_the_fft(dtype, fft, hop, win):
    est, ref = _pair((2, 2, fft // 2 + 1), dtype, seed=5)
    got = fm.stft_loss(est, ref, fft_size=fft, hop_size=hop, win_length=win, reduction="none")
    expected = reference.stft_loss(est, ref, fft_size=fft, hop_size=hop, win_length=win)
    _close(got, expected["loss"], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
def test_mrstft_matches_reference_and_reductions(dtype, reduction):
    est, ref = _pair((3, 2, 8000), dtype, seed=6)
    got = fm.mrstft_loss(est, ref, reduction=reduction, w_lin_mag=0.3, output="full")
    expected = reference.mrstft_loss(est, ref, w_lin_mag=0.3)
    reduce = {"none": lambda v: v, "mean": np.mean, "sum": np.sum}[reduction]
    for key in ("loss", "sc", "log_mag", "lin_mag"):
        _close(getattr(got, key), reduce(expected[key]), dtype)
    assert len(got.resolutions) == 3
    assert isinstance(got.loss, np.ndarray if reduction == "none" else float)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(2, 5000), (4, 2, 5000)])
def test_sum_and_difference_matches_reference(dtype, shape):
    est, ref = _pair(shape, dtype, seed=7)
    got = fm.sum_and_difference_loss(est, ref, w_sum=0.7, w_diff=1.3, reduction="none",
                                     output="full")
    expected = reference.sum_and_difference_loss(_as3d(est), _as3d(ref), w_sum=0.7, w_diff=1.3)
    _close(got.loss, expected["loss"], dtype)
    _close(got.sum.loss, expected["sum"], dtype)
    _close(got.diff.loss, expected["diff"], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compat_mode_matches_reference_compat(dtype):
    est, ref = _pair((3, 2, 6000), dtype, seed=8)
    got = fm.mrstft_loss(est, ref, compat="auraloss")
    expected = reference.mrstft_loss(est, ref, compat=True)
    _close(got, expected["loss"], dtype)
    got_sd = fm.sum_and_difference_loss(est, ref, compat="auraloss")
    _close(got_sd, reference.sum_and_difference_loss(est, ref, compat=True)["loss"], dtype)


def test_compat_spectral_convergence_is_batch_wide():
    est, ref = _pair((3, 2, 6000), np.float64, seed=9)
    ref[1] *= 50   # one loud item dominates the batch-wide norm ratio
    default = fm.stft_loss(est, ref, output="full")
    compat = fm.stft_loss(est, ref, output="full", compat="auraloss")
    expected = reference.stft_terms(est, ref, compat=True)
    _close(compat.sc, expected["sc"], np.float64)
    assert abs(default.sc - compat.sc) > 1e-3


def test_compat_sum_reduction_sums_magnitude_terms_over_elements():
    est, ref = _pair((2, 2, 3000), np.float64, seed=10)
    got = fm.stft_loss(est, ref, fft_size=256, hop_size=64, compat="auraloss",
                       reduction="sum", output="full")
    terms = reference.stft_terms(est, ref, fft_size=256, hop_size=64, compat=True)
    n_elements = 2 * 2 * (1 + 3000 // 64) * 129
    _close(got.sc, terms["sc"], np.float64)
    _close(got.log_mag, terms["log_mag"] * n_elements, np.float64)
    _close(got.loss, terms["sc"] + terms["log_mag"] * n_elements, np.float64)


def test_zero_weight_terms_are_skipped_for_the_loss_but_reported_in_full():
    est, ref = _pair((1, 2, 4000), np.float64, seed=11)
    loss = fm.stft_loss(est, ref, fft_size=256, hop_size=64, w_log_mag=0.0)
    full = fm.stft_loss(est, ref, fft_size=256, hop_size=64, w_log_mag=0.0, output="full")
    expected = reference.stft_loss(est, ref, fft_size=256, hop_size=64, w_log_mag=0.0)
    _close(loss, expected["loss"][0], np.float64)
    _close(full.loss, expected["loss"][0], np.float64)
    _close(full.log_mag, expected["log_mag"][0], np.float64)


def test_breakdown_to_dict_flattens_every_level():
    est, ref = _pair((1, 2, 4000), np.float64, seed=12)
    flat = fm.sum_and_difference_loss(est, ref, fft_sizes=(256, 512), hop_sizes=(64, 128),
                                      win_lengths=(256, 512), output="full").to_dict()
    assert flat["sum.fft512_hop128_win512.sc"] > 0
    assert set(k for k in flat if k.count(".") == 0) == {"loss"}
    assert len(flat) == 1 + 2 * (4 + 2 * 4)


def test_float32_is_transformed_in_float32_and_stays_close_to_float64():
    est, ref = _pair((2, 2, 20000), np.float64, seed=13)
    loss64 = fm.mrstft_loss(est, ref)
    loss32 = fm.mrstft_loss(est.astype(np.float32), ref.astype(np.float32))
    assert loss32 != loss64                       # the float32 path really is float32
    np.testing.assert_allclose(loss32, loss64, rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length", [44100, 50000, 132300])   # ragged last blocks
def test_identical_signals_score_exactly_zero_at_full_size(dtype, length):
    x = music(1, length, seed=14).astype(dtype)
    assert fm.mrstft_loss(x, x.copy()) == 0.0
    assert fm.sum_and_difference_loss(x, x.copy(), fft_sizes=(512, 2048, 8192),
                                      hop_sizes=(128, 512, 2048),
                                      win_lengths=(512, 2048, 8192)) == 0.0


# ------------------------------------------------------------------------- huge finite input

@pytest.mark.parametrize("dtype,ok,too_big", [(np.float32, 1e30, 1e31),
                                              (np.float64, 1e100, 1e101)])
@pytest.mark.parametrize("which", ["stft", "mrstft", "sd"])
def test_huge_samples_are_refused_or_finite(dtype, ok, too_big, which):
    import fastmixloss as fm
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((1, 2, 20000))
    est = ref + 0.1 * rng.standard_normal(ref.shape)
    peak = np.abs(np.concatenate([est, ref])).max()
    loss = {"stft": fm.stft_loss, "mrstft": fm.mrstft_loss,
            "sd": lambda e, r: fm.sum_and_difference_loss(
                e, r, fft_sizes=(512, 2048, 8192), hop_sizes=(128, 512, 2048),
                win_lengths=(512, 2048, 8192))}[which]
    scaled_ok = 0.999 * ok / peak   # just under the limit, after float32 rounding
    got = loss((est * scaled_ok).astype(dtype), (ref * scaled_ok).astype(dtype))
    assert np.isfinite(got)
    with pytest.raises(fm.ParameterError, match=re.escape(f"samples up to {too_big / 10:g}")):
        loss((est * too_big).astype(dtype), (ref * too_big).astype(dtype))


# ------------------------------------------------- undefined: no reference above the floor

SMALL_MR = dict(fft_sizes=(256, 512), hop_sizes=(64, 128), win_lengths=(256, 400))
FLOOR_REASON = "has no energy above the magnitude floor (eps=1e-08)"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_silent_reference_makes_spectral_convergence_nan_with_the_reason(dtype):
    est, ref = _pair((2, 4000), dtype, seed=20)
    silent = np.zeros_like(ref)
    for loss in (fm.stft_loss, fm.mrstft_loss, fm.sum_and_difference_loss):
        assert np.isnan(loss(est, silent))   # was 19,791 (MR-STFT) and 42,983 (S/D)
    full = fm.mrstft_loss(est, silent, output="full", **SMALL_MR)
    expected = reference.mrstft_loss(_as3d(est), _as3d(silent), **SMALL_MR)
    assert np.isnan(full.sc) and np.isnan(full.loss) and np.isnan(expected["sc"]).all()
    _close(full.log_mag, expected["log_mag"][0], dtype)   # the other terms keep values
    assert set(full.reasons) == {"loss", "sc", "fft256_hop64_win256.loss",
                                 "fft256_hop64_win256.sc", "fft512_hop128_win400.loss",
                                 "fft512_hop128_win400.sc"}
    assert full.reasons["sc"] == f"undefined: the reference {FLOOR_REASON}"
    assert "reasons" not in str(full.to_dict())
    assert set(full.to_dict()) == set(fm.mrstft_loss(est, ref, output="full",
                                                     **SMALL_MR).to_dict())
    defined = fm.mrstft_loss(est, ref, output="full", **SMALL_MR)
    assert defined.reasons == {} and all(p.reasons == {} for p in defined.resolutions)


def test_the_loss_is_nan_only_where_spectral_convergence_is_weighted():
    est, ref = _pair((1, 2, 4000), np.float64, seed=21)
    silent = np.zeros_like(ref)
    kwargs = dict(**SMALL_MR, w_sc=0.0, w_lin_mag=0.5)
    got = fm.mrstft_loss(est, silent, output="full", **kwargs)
    expected = reference.mrstft_loss(est, silent, **kwargs)
    _close(got.loss, expected["loss"][0], np.float64)
    assert np.isnan(got.sc) and set(got.reasons) == {"sc", "fft256_hop64_win256.sc",
                                                     "fft512_hop128_win400.sc"}


def test_one_silent_channel_of_a_stereo_reference_is_still_defined():
    est, ref = _pair((2, 2, 4000), np.float64, seed=22)
    ref[0, 1] = 0.0
    got = fm.mrstft_loss(est, ref, reduction="none", output="full", **SMALL_MR)
    expected = reference.mrstft_loss(est, ref, **SMALL_MR)
    assert np.isfinite(got.sc).all() and got.reasons == {}
    _close(got.sc, expected["sc"], np.float64)


def test_reduction_none_names_the_undefined_items():
    est, ref = _pair((3, 2, 4000), np.float64, seed=23)
    ref[1] = 0.0
    got = fm.stft_loss(est, ref, fft_size=256, hop_size=64, reduction="none", output="full")
    expected = reference.stft_loss(est, ref, fft_size=256, hop_size=64)
    np.testing.assert_array_equal(np.isnan(got.loss), [False, True, False])
    _close(got.loss[[0, 2]], expected["loss"][[0, 2]], np.float64)
    assert np.isnan(expected["loss"][1])
    assert got.reasons["sc"] == f"undefined for item 1: the reference {FLOOR_REASON}"
    mean = fm.stft_loss(est, ref, fft_size=256, hop_size=64, output="full")
    assert np.isnan(mean.loss) and "for item 1" in mean.reasons["loss"]


def test_dual_mono_reference_leaves_the_difference_signal_undefined():
    """An old mono recording as stereo: L - R of the reference is silent, and S/D's
    difference part used to divide by the floor (4,008)."""
    est, ref = _pair((1, 2, 4000), np.float64, seed=24)
    ref[0, 1] = ref[0, 0]
    got = fm.sum_and_difference_loss(est, ref, output="full", **SMALL_MR)
    expected = reference.sum_and_difference_loss(est, ref, **SMALL_MR)
    assert np.isnan(got.loss) and np.isnan(got.diff.sc) and np.isnan(expected["loss"][0])
    _close(got.sum.loss, expected["sum"][0], np.float64)   # the sum part is defined
    assert np.isfinite(got.diff.log_mag)
    why = f"undefined: the reference's difference signal (L - R) {FLOOR_REASON}"
    assert got.reasons["loss"] == why and got.reasons["diff.sc"] == why
    assert got.reasons["diff.fft512_hop128_win400.sc"] == why
    assert not any(key.startswith("sum.") for key in got.reasons)
    # without the difference part, nothing is undefined in the loss
    no_diff = fm.sum_and_difference_loss(est, ref, w_diff=0.0, output="full", **SMALL_MR)
    _close(no_diff.loss, expected["sum"][0], np.float64)
    assert "loss" not in no_diff.reasons and "diff.sc" in no_diff.reasons


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compat_auraloss_keeps_its_floor_divided_number(dtype):
    est, ref = _pair((2, 2, 4000), dtype, seed=25)
    silent = np.zeros_like(ref)
    for loss, twin in ((fm.mrstft_loss, reference.mrstft_loss),
                       (fm.sum_and_difference_loss, reference.sum_and_difference_loss)):
        got = loss(est, silent, compat="auraloss", output="full", **SMALL_MR)
        assert got.reasons == {}
        _close(got.loss, twin(est, silent, compat=True, **SMALL_MR)["loss"], dtype)
        assert got.loss > 100   # the number auraloss gives


@pytest.mark.parametrize("options", [
    dict(scale="mel", n_bins=16, sample_rate=16000),
    dict(scale="chroma", sample_rate=16000),
    dict(scale_invariance=True),
    dict(perceptual_weighting=True, sample_rate=16000),
    dict(w_phs=0.5, log_eps=1e-3)])
def test_silent_reference_is_undefined_with_every_option(options):
    pytest.importorskip("scipy")   # A-weighting
    est, ref = _pair((1, 2, 4000), np.float64, seed=26)
    silent = np.zeros_like(ref)
    got = fm.stft_loss(est, silent, fft_size=512, hop_size=128, output="full", **options)
    assert np.isnan(got.sc) and np.isnan(got.loss)
    assert got.reasons["sc"] == f"undefined: the reference {FLOOR_REASON}"
    assert np.isfinite(got.log_mag)
    # and a quiet reference that has energy above the floor stays defined
    quiet = fm.stft_loss(est, ref * 1e-2, fft_size=512, hop_size=128, output="full",
                         **options)
    assert np.isfinite(quiet.sc) and quiet.reasons == {}


def test_a_reference_just_above_the_floor_is_defined_and_matches_the_reference():
    est, ref = _pair((1, 1, 4000), np.float64, seed=27)
    # one frame's worth of signal in silence: a few bins above the floor
    ref[..., :3500] = 0.0
    ref *= 1e-4 / np.abs(ref).max()
    got = fm.stft_loss(est, ref, fft_size=256, hop_size=64, output="full")
    expected = reference.stft_terms(est, ref, fft_size=256, hop_size=64)
    assert np.isfinite(expected["sc"]).all()
    _close(got.sc, expected["sc"][0], np.float64)


@pytest.mark.parametrize("options", [
    dict(), dict(scale="mel", n_bins=16, sample_rate=16000),
    dict(scale="chroma", sample_rate=16000), dict(scale_invariance=True)])
def test_floor_only_sum_is_the_kernels_sum_for_a_silent_reference(options):
    """The closed form the decision compares with: every SC_DEN row of an all-zero
    reference equals it to rounding, far inside FLOOR_TOLERANCE."""
    from fastmixloss import backend as backends
    from fastmixloss import engine
    from fastmixloss.engine import FLOOR_TOLERANCE
    from fastmixloss.kernels import layout
    est, _ = _pair((2, 2, 30000), np.float64, seed=28)
    loss = fm.MultiResolutionSTFTLoss(**options)
    silent = np.zeros_like(est)
    for part in engine.resolution_sums(loss.plan, backends.CPU, est, silent):
        den = part.sums[..., layout.SC_DEN]
        np.testing.assert_allclose(den, part.floor_den, rtol=1e-12)
        assert np.abs(den / part.floor_den - 1).max() < FLOOR_TOLERANCE / 100
