"""Bad input: a clear ParameterError naming the argument and value, before any kernel."""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import ParameterError

X = np.random.default_rng(0).standard_normal((2, 2, 3000))
Y = 0.5 * X
ALL_LOSSES = [fm.mse, fm.l1, fm.esr, fm.dc, fm.logcosh, fm.snr, fm.sisdr, fm.sdsdr,
              fm.stft_loss, fm.mrstft_loss, fm.sum_and_difference_loss]


def test_errors_are_value_errors_of_one_family():
    assert issubclass(ParameterError, ValueError)
    assert issubclass(ParameterError, fm.FastMixLossError)


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_shapes_that_differ_are_both_named(loss):
    with pytest.raises(ParameterError, match=r"est \(2, 2, 3000\), ref \(2, 2, 2999\)"):
        loss(X, Y[..., :-1])


@pytest.mark.parametrize("bad", [np.zeros((1, 1, 1, 100)), np.float64(1.0)])
def test_ndim_outside_one_to_three(bad):
    with pytest.raises(ParameterError, match=r"ndim=(4|0)"):
        fm.mse(bad, bad)


def test_compat_needs_batched_input():
    with pytest.raises(ParameterError, match=r"ndim=2.*\(B, C, T\)"):
        fm.mrstft_loss(X[0], Y[0], compat="auraloss")


@pytest.mark.parametrize("shape", [(0,), (2, 0), (0, 2, 100)])
def test_empty_arrays(shape):
    with pytest.raises(ParameterError, match="empty"):
        fm.stft_loss(np.zeros(shape), np.zeros(shape))


@pytest.mark.parametrize("dtype,hint", [(np.int16, r"astype\(np.float32\) / 32768"),
                                         (np.int32, r"/ 2147483648"),
                                         (np.uint8, r"- 128\) / 128")])
def test_integer_pcm_gets_a_conversion_hint(dtype, hint):
    pcm = (X * 1000).astype(dtype)
    with pytest.raises(ParameterError, match=r"est has integer dtype .*" + hint):
        fm.mse(pcm, Y)


@pytest.mark.parametrize("bad,word", [(X + 1j, "complex"), (X > 0, "boolean"),
                                      (X.astype(np.float16), "float16"),
                                      (np.array([["a", "b"]]), "dtype <U1")])
def test_non_float_dtypes(bad, word):
    with pytest.raises(ParameterError, match=f"ref .*{word}|ref is {word}"):
        fm.mrstft_loss(X[..., :2] if bad.shape[-1] == 2 else X, bad)


def test_ragged_input_is_reported():
    with pytest.raises(ParameterError, match="est could not be read as an array"):
        fm.mse([[0.0, 1.0], [1.0]], [[0.0, 1.0], [1.0, 2.0]])


@pytest.mark.parametrize("loss", ALL_LOSSES)
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_nan_and_inf_name_the_argument_and_position(loss, value):
    bad = Y.copy()
    bad[1, 0, 1234] = value
    with pytest.raises(ParameterError,
                       match=rf"ref contains {value} at item 1, channel 0, sample 1234"):
        loss(X, bad)


@pytest.mark.parametrize("loss", [fm.mse, fm.sisdr, fm.mrstft_loss])
def test_check_finite_false_skips_the_scan(loss):
    bad = X.copy()
    bad[0, 1, 5] = np.nan
    assert np.isnan(loss(bad, Y, check_finite=False))


def test_signal_too_short_names_the_resolution():
    with pytest.raises(ParameterError,
                       match=r"2000 samples are too short for the resolution "
                             r"fft_size=4096, hop_size=1024, win_length=4096"):
        fm.mrstft_loss(X[..., :2000], Y[..., :2000], fft_sizes=(512, 4096),
                       hop_sizes=(128, 1024), win_lengths=(512, 4096))


@pytest.mark.parametrize("kwargs,match", [
    (dict(fft_size=0), r"fft_size=0 must be a positive integer"),
    (dict(fft_size=-8), r"fft_size=-8"),
    (dict(hop_size=0), r"hop_size=0"),
    (dict(hop_size=1.5), r"hop_size=1.5"),
    (dict(fft_size=True), r"fft_size=True"),
    (dict(win_length=2048), r"win_length=2048 is longer than fft_size=1024"),
    (dict(window="gauss"), r"window='gauss' is not a known window"),
    (dict(window=np.ones(10)), r"window array has shape \(10,\)"),
    (dict(mag_distance="L3"), r"mag_distance='L3' must be 'L1' or 'L2'"),
    (dict(reduction="max"), r"reduction='max' is not one of"),
    (dict(output="all"), r"output='all'"),
    (dict(compat="torch"), r"compat='torch'"),
    (dict(w_sc=-1.0), r"w_sc=-1.0 must be >= 0"),
    (dict(w_log_mag=np.nan), r"w_log_mag=nan must be finite"),
    (dict(eps=0.0), r"eps=0.0 must be > 0"),
    (dict(device="tpu"), r"device='tpu'"),
    (dict(compat="auraloss", reduction="none"), r"reduction='none' with compat='auraloss'"),
])
def test_stft_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fm.STFTLoss(**kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(fft_sizes=(512, 1024), hop_sizes=(128,), win_lengths=(512, 1024)),
     r"same length: 2, 1 and 2"),
    (dict(fft_sizes=(), hop_sizes=(), win_lengths=()), r"fft_sizes=\(\) must name"),
    (dict(fft_sizes=512), r"fft_sizes=512 must be a sequence"),
    (dict(fft_sizes=(512, 256), hop_sizes=(128, 64), win_lengths=(512, 300)),
     r"win_lengths\[1\]=300 is longer than fft_sizes\[1\]=256"),
    (dict(fft_sizes=(512, 0), hop_sizes=(128, 64), win_lengths=(512, 0)),
     r"fft_sizes\[1\]=0"),
])
def test_resolution_lists(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fm.MultiResolutionSTFTLoss(**kwargs)


@pytest.mark.parametrize("channels", [1, 3])
def test_sum_and_difference_needs_stereo(channels):
    x = np.zeros((2, channels, 3000))
    with pytest.raises(ParameterError, match=rf"needs 2 channels.*{channels} channel"):
        fm.sum_and_difference_loss(x, x)


def test_sum_and_difference_weights_are_checked():
    with pytest.raises(ParameterError, match=r"w_diff=-2"):
        fm.SumAndDifferenceSTFTLoss(w_diff=-2)


@pytest.mark.parametrize("kwargs,match", [(dict(eps=-1.0), "eps=-1.0"), (dict(a=0), "a=0"),
                                          (dict(reduction="avg"), "reduction='avg'")])
def test_time_parameters(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fm.LogCoshLoss(**kwargs)


def test_window_names_accept_auraloss_spelling():
    a = fm.stft_loss(X, Y, window="hann_window")
    assert a == fm.stft_loss(X, Y, window="hann") == fm.stft_loss(X, Y, window="Hann")


def _awkward_inputs():
    base = np.ascontiguousarray(X[:, :, :2000])
    read_only = base.copy()
    read_only.flags.writeable = False
    strided = np.repeat(base, 2, axis=-1)[:, :, ::2]   # every other sample: a view
    big_endian = base.astype(">f8")
    fortran = np.asfortranarray(base)
    return base, [read_only, strided, big_endian, fortran]


@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_awkward_layouts_work_and_are_never_modified(loss):
    base, variants = _awkward_inputs()
    plain_est = np.ascontiguousarray(base[::-1])
    for variant in variants:
        snapshot = variant.copy()
        expected = loss(plain_est, np.ascontiguousarray(variant, dtype=np.float64))
        assert loss(plain_est, variant) == expected
        np.testing.assert_array_equal(variant, snapshot)
        assert variant.dtype == snapshot.dtype


def test_inputs_are_not_modified_by_any_loss():
    est, ref = X.copy(), Y.astype(np.float32)
    for loss in ALL_LOSSES:
        loss(est, ref)
    np.testing.assert_array_equal(est, X)
    np.testing.assert_array_equal(ref, Y.astype(np.float32))


def test_mixed_dtypes_compute_in_float64():
    mixed = fm.mrstft_loss(X.astype(np.float32), Y)
    assert mixed == fm.mrstft_loss(X.astype(np.float32).astype(np.float64), Y)


def test_lists_are_accepted():
    assert fm.mse([0.0, 1.0, 2.0], [0.0, 1.0, 4.0]) == pytest.approx(4 / 3)


# ------------------------------------------------ arguments that used to escape as other errors

SPECTRAL_CLASSES = [fm.STFTLoss, fm.MultiResolutionSTFTLoss, fm.SumAndDifferenceSTFTLoss]
TIME_FUNCTIONS = [fm.mse, fm.l1, fm.esr, fm.dc, fm.logcosh, fm.snr, fm.sisdr, fm.sdsdr]


@pytest.mark.parametrize("kwargs,match", [
    (dict(hop_size=2 ** 64), r"hop_size=18446744073709551616 is larger"),
    (dict(fft_size=np.uint64(2 ** 63)), r"fft_size=.*larger"),
    (dict(window=[[1, 2], [3]]), r"window=\[\[1, 2\], \[3\]\] could not be read"),
    (dict(window=None), r"window array has shape \(\)"),
    (dict(reduction=np.array(["mean", "sum"])), r"reduction=array\("),
    (dict(output=["loss"]), r"output=\['loss'\]"),
    (dict(compat=np.array([None])), r"compat=array"),
    (dict(check_finite=np.array([1, 2])), r"check_finite=array\(\[1, 2\]\) must be True"),
    (dict(check_finite="yes"), r"check_finite='yes'"),
    (dict(device=np.array(["cpu"])), r"device=array"),
    (dict(mag_distance=np.array(["L1"])), r"mag_distance=array"),
])
def test_odd_parameter_values_are_parameter_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fm.stft_loss(X, Y, **kwargs)


@pytest.mark.parametrize("kwargs,match", [
    (dict(reduction=np.array(["mean", "sum"])), r"reduction=array"),
    (dict(check_finite=np.array([1, 2])), r"check_finite=array"),
    (dict(zero_mean=np.array([True, False])), r"zero_mean=array"),
    (dict(compat=["auraloss"]), r"compat=\['auraloss'\]"),
    (dict(device={"cpu"}), r"device=\{'cpu'\}"),
])
def test_odd_time_parameter_values_are_parameter_errors(kwargs, match):
    with pytest.raises(ParameterError, match=match):
        fm.sisdr(X, Y, **kwargs)


@pytest.mark.parametrize("loss", [fm.mrstft_loss, fm.sum_and_difference_loss])
def test_resolution_lists_with_odd_values(loss):
    with pytest.raises(ParameterError, match=r"hop_sizes\[0\]=18446744073709551616"):
        loss(X, Y, hop_sizes=(2 ** 64, 240, 50))
    with pytest.raises(ParameterError, match=r"fft_sizes=array\(5\) must be a sequence"):
        loss(X, Y, fft_sizes=np.array(5))


@pytest.mark.parametrize("loss", TIME_FUNCTIONS)
def test_unknown_time_keyword_names_the_function_called(loss):
    with pytest.raises(ParameterError,
                       match=rf"fastmixloss\.{loss.__name__}\(\) got an unexpected keyword "
                             r"argument 'zero_men'") as info:
        loss(X, Y, zero_men=True)
    assert isinstance(info.value, TypeError)   # what Python raises for one, too
    assert "_TimeLoss" not in str(info.value)


def test_unknown_keyword_of_a_class_names_the_class():
    with pytest.raises(fm.KeywordError, match=r"fastmixloss\.SISDRLoss\(\) got .*'zero_men'"):
        fm.SISDRLoss(zero_men=True)
    with pytest.raises(fm.KeywordError, match=r"fastmixloss\.MSELoss\(\) got .*'eps'"):
        fm.MSELoss(eps=1.0)
    with pytest.raises(fm.KeywordError, match=r"did you mean fft_sizes\?"):
        fm.MultiResolutionSTFTLoss(fft_size=(512,))


_SPECTRAL_NAMES = ("stft_loss", "mrstft_loss", "sum_and_difference_loss")
_SPELLINGS = [("input", "pass the estimate as est"), ("target", "pass the reference as ref"),
              ("sample_rate", "only the spectral losses")]


# the spectral losses take sample_rate themselves (mel, chroma, A-weighting)
@pytest.mark.parametrize("loss,keyword,hint", [
    (loss, keyword, hint) for loss in ALL_LOSSES for keyword, hint in _SPELLINGS
    if not (keyword == "sample_rate" and loss.__name__ in _SPECTRAL_NAMES)])
def test_auraloss_spellings_name_the_fastmixloss_spelling(loss, keyword, hint):
    kwargs = {keyword: 44100 if keyword == "sample_rate" else X}
    with pytest.raises(fm.KeywordError, match=rf"'{keyword}': {hint}"):
        if keyword == "sample_rate":
            loss(X, Y, **kwargs)
        else:
            loss(X, **kwargs) if keyword == "target" else loss(ref=Y, **kwargs)


@pytest.mark.parametrize("cls", SPECTRAL_CLASSES + [fm.SISDRLoss])
def test_class_call_with_auraloss_keywords(cls):
    with pytest.raises(fm.KeywordError, match=r"loss\(est, ref\)\(\) got .*'input'"):
        cls()(input=X, target=Y)
    if cls is fm.SISDRLoss:
        with pytest.raises(fm.KeywordError, match=r"'sample_rate': only the spectral"):
            cls(sample_rate=44100)


def test_every_resolution_is_checked_before_any_kernel(monkeypatch):
    from fastmixloss import backend
    calls = []
    monkeypatch.setattr(backend.CpuBackend, "stft_row_partials",
                        staticmethod(lambda *a: calls.append(a)))
    with pytest.raises(ParameterError, match="too short for the resolution fft_size=8192"):
        fm.mrstft_loss(X, Y, fft_sizes=(512, 8192), hop_sizes=(128, 2048),
                       win_lengths=(512, 8192))
    with pytest.raises(ParameterError, match="too short for the resolution fft_size=8192"):
        fm.sum_and_difference_loss(X, Y, fft_sizes=(512, 2048, 8192),
                                   hop_sizes=(128, 512, 2048), win_lengths=(512, 2048, 8192))
    assert calls == []


# --------------------------------------------------------------------------- channel layout

@pytest.mark.parametrize("loss", ALL_LOSSES)
def test_channel_last_stereo_is_refused_with_the_fix(loss):
    stereo = np.ascontiguousarray(X[0].T)   # (3000, 2), as soundfile.read returns it
    with pytest.raises(ParameterError, match=r"shape \(3000, 2\), which reads as 3000 "
                                             r"channels.*pass x\.T"):
        loss(stereo, 0.5 * stereo)
    batched = np.ascontiguousarray(np.moveaxis(X, -1, -2))   # (2, 3000, 2)
    with pytest.raises(ParameterError, match=r"np\.moveaxis\(x, -1, -2\)"):
        loss(batched, 0.5 * batched)


@pytest.mark.parametrize("loss", [fm.mse, fm.sisdr, fm.mrstft_loss])
def test_batch_of_mono_signals_needs_a_channel_axis(loss):
    mono_batch = np.random.default_rng(1).standard_normal((40, 3000))
    with pytest.raises(ParameterError, match=r"40 channels.*at most 32.*x\[:, None, :\]"):
        loss(mono_batch, mono_batch)
    assert np.shape(loss(mono_batch[:, None, :], mono_batch[:, None, :],
                         reduction="none")) == (40,)


@pytest.mark.parametrize("shape", [(40, 3000), (2, 40, 3000)])
def test_many_channels_are_named_without_the_channel_last_advice(shape):
    """A real 40-channel recording as (40, T) is not channel-last: no "pass x.T"."""
    x = np.random.default_rng(3).standard_normal(shape)
    for loss in (fm.mse, fm.mrstft_loss):
        with pytest.raises(ParameterError, match="40 channels of 3000 samples.*at most "
                                                 "32 channels") as raised:
            loss(x, x)
        assert ".T" not in str(raised.value) and "moveaxis" not in str(raised.value)


def test_reference_twins_take_the_shapes_the_losses_take():
    """fastmixloss.reference.sisdr on (C, T) raised NumPy's AxisError."""
    from fastmixloss import reference
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((2, 3000))
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    for e, r in ((est, ref), (est[0], ref[0])):   # (C, T) and (T,)
        for name in ("sisdr", "snr", "sdsdr", "esr", "mse"):
            np.testing.assert_allclose(getattr(reference, name)(e, r),
                                       getattr(fm, name)(e, r, reduction="none"),
                                       rtol=1e-9)
        np.testing.assert_allclose(reference.stft_loss(e, r)["loss"],
                                   fm.stft_loss(e, r, reduction="none"), rtol=1e-9)


def test_tiny_stereo_signals_are_signals():
    # more channels than samples is allowed (features score 1-sample stereo signals);
    # only arrays of at most 32 samples stay ambiguous
    assert fm.mse(np.ones((2, 1)), np.zeros((2, 1))) == 1.0
    assert fm.mse(np.ones((20, 2)), np.zeros((20, 2))) == 1.0


def test_32_channels_are_accepted():
    x = np.random.default_rng(2).standard_normal((32, 500))
    assert fm.mse(x, 0 * x) == pytest.approx((x ** 2).mean())


# ------------------------------------------------------------------------------ the package

def test_submodules_are_reachable_and_import_stays_light():
    import subprocess
    import sys
    code = ("import sys, fastmixloss as fm; assert 'numba' not in sys.modules; "
            "assert 'fastmixloss.reference' not in sys.modules; "
            "assert callable(fm.reference.sisdr); assert callable(fm.cuda.is_available); "
            "assert 'cuda' in dir(fm)")
    subprocess.run([sys.executable, "-c", code], check=True)
    with pytest.raises(AttributeError, match="no attribute 'nonexistent'"):
        fm.nonexistent
