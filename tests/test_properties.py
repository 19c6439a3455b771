"""Properties every loss must have, on generated signals (hypothesis)."""

import numpy as np
from hypothesis import assume, example, given
from hypothesis import strategies as st

import fastmixloss as fm

# small resolutions keep each example fast; the kernels are the same at any size
SMALL_MR = dict(fft_sizes=(64, 128, 32), hop_sizes=(16, 32, 8), win_lengths=(48, 128, 32))
SPECTRAL = [
    lambda e, r, **k: fm.stft_loss(e, r, fft_size=64, hop_size=16, **k),
    lambda e, r, **k: fm.mrstft_loss(e, r, **SMALL_MR, **k),
    lambda e, r, **k: fm.sum_and_difference_loss(e, r, **SMALL_MR, **k),
]
NON_NEGATIVE_TIME = [fm.mse, fm.l1, fm.esr, fm.dc, fm.logcosh]


@st.composite
def stereo_pairs(draw, min_items=1, max_items=3):
    """(est, ref): (B, 2, T) float64 from a seeded generator, with varied loudness."""
    n_items = draw(st.integers(min_items, max_items))
    length = draw(st.integers(80, 600))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    scale = 10.0 ** draw(st.floats(-3, 1))
    ref = rng.standard_normal((n_items, 2, length)) * scale
    mix = draw(st.floats(0.0, 1.0))
    est = mix * ref + (1 - mix) * rng.standard_normal(ref.shape) * scale
    return est, ref


@given(stereo_pairs(), st.sampled_from(range(len(SPECTRAL))))
def test_spectral_loss_of_a_signal_with_itself_is_zero(pair, which):
    _, ref = pair
    assert SPECTRAL[which](ref, ref.copy()) == 0.0


@given(stereo_pairs(), st.sampled_from([fm.mse, fm.l1, fm.esr, fm.dc]))
def test_time_loss_of_a_signal_with_itself_is_zero(pair, loss):
    _, ref = pair
    assert loss(ref, ref.copy()) == 0.0


@given(stereo_pairs(), st.floats(0.1, 10))
def test_logcosh_of_a_signal_with_itself_is_its_eps_offset(pair, a):
    _, ref = pair
    # (1/a) ln(cosh(0) + eps): the eps inside the log makes it ln(1 + eps) / a, not 0
    np.testing.assert_allclose(fm.logcosh(ref, ref.copy(), a=a), np.log1p(1e-8) / a,
                               rtol=1e-7, atol=1e-15)


@given(stereo_pairs(), st.sampled_from(range(len(SPECTRAL))))
def test_spectral_losses_are_non_negative(pair, which):
    est, ref = pair
    assert np.all(SPECTRAL[which](est, ref, reduction="none") >= 0)


@given(stereo_pairs(), st.sampled_from(NON_NEGATIVE_TIME))
def test_distance_losses_are_non_negative(pair, loss):
    est, ref = pair
    assert np.all(loss(est, ref, reduction="none") >= 0)


# an estimate equal to the reference up to one rounding: log distances of about 3.4e-16,
# each argument order rounding them its own way (relative tolerance alone failed here)
_ROUNDING_PAIR = (np.random.default_rng(11).standard_normal((1, 2, 300)) * (1 + 2 ** -52),
                  np.random.default_rng(11).standard_normal((1, 2, 300)))


@given(stereo_pairs(), st.sampled_from(["L1", "L2"]))
@example(_ROUNDING_PAIR, "L1")
@example(_ROUNDING_PAIR, "L2")
def test_log_and_linear_distances_are_symmetric(pair, distance):
    est, ref = pair
    kwargs = dict(fft_size=64, hop_size=16, mag_distance=distance, output="full",
                  reduction="none")
    forward = fm.stft_loss(est, ref, **kwargs)
    backward = fm.stft_loss(ref, est, **kwargs)
    # atol: an estimate equal to the reference up to rounding gives distances of ~1e-16,
    # whose rounding differs with the argument order
    np.testing.assert_allclose(forward.log_mag, backward.log_mag, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(forward.lin_mag, backward.lin_mag, rtol=1e-12, atol=1e-13)


@given(stereo_pairs(), st.floats(1e-2, 1e2))
def test_spectral_convergence_is_scale_invariant(pair, scale):
    est, ref = pair
    # the magnitude floor is not scaled with the signal, so it is made negligible here
    kwargs = dict(fft_size=64, hop_size=16, w_log_mag=0.0, eps=1e-300, reduction="none")
    np.testing.assert_allclose(fm.stft_loss(scale * est, scale * ref, **kwargs),
                               fm.stft_loss(est, ref, **kwargs), rtol=1e-12, atol=1e-13)


@given(stereo_pairs(), st.floats(-1e2, 1e2))
def test_mse_scales_with_the_square(pair, scale):
    est, ref = pair
    # atol: scale * x is rounded per sample, which moves an estimate that equals the
    # reference up to ~1e-16 by as much as its whole difference (seed 4 found
    # 4.25e-31 against 3.92e-31): the noise floor is ~eps**2 * (scale * x)**2
    floor = 1e-29 * scale ** 2 * float(np.max(ref ** 2))
    np.testing.assert_allclose(fm.mse(scale * est, scale * ref),
                               scale ** 2 * fm.mse(est, ref), rtol=1e-10,
                               atol=max(floor, 1e-300))


@given(stereo_pairs())
def test_mrstft_is_the_mean_of_its_single_resolutions(pair):
    est, ref = pair
    singles = [fm.stft_loss(est, ref, fft_size=f, hop_size=h, win_length=w,
                            reduction="none")
               for f, h, w in zip(*SMALL_MR.values())]
    np.testing.assert_allclose(fm.mrstft_loss(est, ref, **SMALL_MR, reduction="none"),
                               np.mean(singles, axis=0), rtol=1e-12, atol=1e-13)


@given(stereo_pairs(min_items=2, max_items=4), st.data())
def test_an_item_scores_the_same_alone_and_in_any_batch(pair, data):
    est, ref = pair
    order = data.draw(st.permutations(range(len(est))))
    for loss in SPECTRAL + [fm.sisdr, fm.mse]:
        batch = loss(est[order], ref[order], reduction="none")
        for position, item in enumerate(order):
            alone = loss(est[item:item + 1], ref[item:item + 1], reduction="none")
            assert batch[position] == alone[0]


@given(stereo_pairs(), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_sum_and_difference_ignores_channel_order_and_polarity(pair, swap_est, swap_ref,
                                                               flip_est, flip_ref):
    est, ref = pair
    base = fm.sum_and_difference_loss(est, ref, **SMALL_MR, reduction="none")
    est2 = (-1 if flip_est else 1) * (est[:, ::-1] if swap_est else est)
    ref2 = (-1 if flip_ref else 1) * (ref[:, ::-1] if swap_ref else ref)
    changed = fm.sum_and_difference_loss(est2, ref2, **SMALL_MR, reduction="none")
    if flip_est == flip_ref:
        # a flip of both, or of neither, leaves the sum signals alone: bit for bit equal
        np.testing.assert_array_equal(changed, base)
    else:
        np.testing.assert_allclose(changed, base, rtol=1e-12, atol=1e-13)


def test_sum_and_difference_polarity_flip_of_one_signal_swaps_roles_exactly():
    rng = np.random.default_rng(1)
    ref = rng.standard_normal((2, 2, 500))
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    base = fm.sum_and_difference_loss(est, ref, **SMALL_MR, reduction="none")
    swapped = fm.sum_and_difference_loss(est[:, ::-1], ref, **SMALL_MR, reduction="none")
    np.testing.assert_array_equal(swapped, base)   # L-R -> R-L: the same magnitudes
    per_channel = fm.mrstft_loss(est, ref, **SMALL_MR, reduction="none")
    per_channel_swapped = fm.mrstft_loss(est[:, ::-1], ref, **SMALL_MR, reduction="none")
    assert np.all(np.abs(per_channel_swapped - per_channel) > 1e-3)


@given(stereo_pairs(), st.sampled_from(range(len(SPECTRAL))))
def test_float32_is_close_to_float64(pair, which):
    est, ref = pair
    assume(np.abs(ref).max() > 1e-2)
    loss64 = SPECTRAL[which](est, ref)
    loss32 = SPECTRAL[which](est.astype(np.float32), ref.astype(np.float32))
    # atol: a float32 transform is accurate to ~1e-6 of a frame's largest bins, so where
    # the estimate is close to the reference each bin's log ratio carries ~1e-6 of noise,
    # whose absolute value the L1 distance averages instead of cancelling (found: 1.8e-6
    # on a loss of 4.8e-4; seed 3 found 9e-8 on 5.8e-5); and an estimate within 1e-16
    # scores ~1e-16 in float64 and exactly 0 in float32
    np.testing.assert_allclose(loss32, loss64, rtol=1e-4, atol=1e-5)
