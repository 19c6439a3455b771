"""fastmixloss.evaluate / Evaluator: several losses from one pass, whole or in pieces.

Each value must be what the loss's own function gives: bit for bit where the work is only
shared (time sums, transforms of the same frames), within float rounding where the
sum-and-difference spectra are derived from the channels' (X(L+R) = X(L) + X(R)).
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import ParameterError
from fastmixloss.evaluation import DEFAULT_LOSSES, LOSSES, Evaluator

RATE = 16000
TIME = ("mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr")
SPECTRAL = ("stft", "mrstft", "sd")


def _pair(dtype, length=RATE * 2 + 777, channels=2, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((channels, length))
    est = 0.8 * ref + 0.3 * rng.standard_normal((channels, length)) + 0.01
    return est.astype(dtype), ref.astype(dtype)


def _alone(name, est, ref, **params):
    function = getattr(fm, LOSSES[name].function)
    if name == "features":
        return function(est, ref, RATE, **params)
    return function(est, ref, **params)


def _as_dict(value):
    return value.to_dict() if hasattr(value, "to_dict") else {"value": value}


def _relative(a, b):
    a, b = _as_dict(a), _as_dict(b)
    assert a.keys() == b.keys()
    worst = 0.0
    for key in a:
        x, y = np.asarray(a[key], float), np.asarray(b[key], float)
        assert np.isnan(x).tolist() == np.isnan(y).tolist(), key
        scale = np.maximum(np.abs(y), 1e-300)
        worst = max(worst, float(np.nanmax(np.abs(x - y) / scale, initial=0.0)))
    return worst


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_every_loss_equals_its_function_alone(dtype):
    est, ref = _pair(dtype)
    names = TIME + SPECTRAL + ("features",)
    values = fm.evaluate(est, ref, names, RATE)
    assert list(values) == list(names)
    for name in names:
        alone = _alone(name, est, ref)
        if name == "sd" and dtype == np.float32:
            # beside mrstft its spectra are the channels' added: float32 transforms differ
            assert _relative(values[name], alone) < 1e-6, name
        elif name == "sd":
            assert _relative(values[name], alone) < 1e-12, name
        else:   # the same sums, in the same order
            assert _relative(values[name], alone) == 0.0, name


def test_breakdowns_and_parameters_reach_each_loss():
    est, ref = _pair(np.float64)
    params = dict(mrstft={"output": "full", "w_lin_mag": 1.0},
                  sd={"output": "full", "mag_distance": "L2"},
                  stft={"fft_size": 1024, "hop_size": 120, "win_length": 600},
                  sisdr={"zero_mean": False}, logcosh={"a": 3.0})
    values = fm.evaluate(est, ref, ("mrstft", "sd", "stft", "sisdr", "logcosh"), **params)
    for name, given in params.items():
        assert _relative(values[name], _alone(name, est, ref, **given)) < 1e-12, name
    assert isinstance(values["mrstft"], fm.MultiResolutionBreakdown)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("piece", [1, 3])
def test_pieces_give_the_whole_signals_numbers(dtype, piece):
    est, ref = _pair(dtype, length=3 * 65536 + 1234)
    evaluator = Evaluator(TIME + SPECTRAL, sd={"output": "full"})
    whole = evaluator(est, ref)
    stream = evaluator.stream(2, est.shape[1], dtype=dtype)
    size = piece * stream.alignment
    passes = 0
    while True:
        for start in range(0, est.shape[1], size):
            stream.feed(est[:, start:start + size], ref[:, start:start + size])
        passes += 1
        if not stream.end_pass():
            break
    pieces = stream.result()
    for name in whole:
        # whole chunks of samples, whole blocks of frames, added in the same order
        assert _relative(pieces[name], whole[name]) == 0.0, name


def test_pieces_hold_only_what_the_next_frames_read():
    est, ref = _pair(np.float32, length=40 * 65536)
    stream = Evaluator(("mrstft", "sd")).stream(2, est.shape[1])
    size = 2 * 65536
    for start in range(0, est.shape[1], size):
        stream.feed(est[:, start:start + size], ref[:, start:start + size])
        tail = stream._spectral._tail
        if start + size < est.shape[1]:
            # the frames not yet computed: under one block of the longest resolution
            assert tail[0].shape[-1] < 16 * 240 + 2048
        else:
            assert tail is None
    assert not stream.end_pass()
    whole = Evaluator(("mrstft", "sd"))(est, ref)
    assert stream.result() == whole


def test_shared_transforms_are_counted_once(monkeypatch):
    from fastmixloss import backend
    calls = []
    real = backend.CpuBackend.stft_row_partials

    def counting(est3, ref3, frame_mix, row_mix, window, plan):
        calls.append((np.asarray(frame_mix).shape[0], np.asarray(row_mix).shape[0]))
        return real(est3, ref3, frame_mix, row_mix, window, plan)
    monkeypatch.setattr(backend.CpuBackend, "stft_row_partials", staticmethod(counting))
    est, ref = _pair(np.float32)
    fm.evaluate(est, ref, ("mrstft", "sd"))
    # three resolutions, each two transforms (L, R) and four rows (L, R, L+R, L-R)
    assert calls == [(2, 4)] * 3


def test_a_failing_loss_keeps_the_others():
    est, ref = _pair(np.float64, channels=1)
    stream = Evaluator(("mse", "sd", "mrstft")).stream_of(est, ref)
    outcome = stream.outcome()
    assert isinstance(outcome["sd"], ParameterError)
    assert "needs 2 channels" in str(outcome["sd"])
    assert outcome["mse"] == fm.mse(est, ref)
    assert outcome["mrstft"] == fm.mrstft_loss(est, ref)
    with pytest.raises(ParameterError, match="needs 2 channels"):
        fm.evaluate(est, ref, ("mse", "sd"))


def test_nan_in_a_later_piece_names_its_sample_in_the_whole_signal():
    est, ref = _pair(np.float32, length=4 * 65536)
    est[1, 3 * 65536 + 5] = np.nan
    stream = Evaluator(("mrstft",)).stream(2, est.shape[1])
    for start in range(0, est.shape[1], 65536):
        stream.feed(est[:, start:start + 65536], ref[:, start:start + 65536])
    stream.end_pass()
    with pytest.raises(ParameterError, match=f"channel 1, sample {3 * 65536 + 5}"):
        stream.result()


@pytest.mark.parametrize("call, message", [
    (lambda e, r: fm.evaluate(e, r, ("mse", "nope")), "unknown loss 'nope'"),
    (lambda e, r: fm.evaluate(e, r, ()), "no loss chosen"),
    (lambda e, r: fm.evaluate(e, r, ("mse", "mse")), "named twice"),
    (lambda e, r: fm.evaluate(e, r, ("mse",), sd={}), "not in losses"),
    (lambda e, r: fm.evaluate(e, r, ("mse",), fft_size=512), "fft_size=512: not a loss"),
    (lambda e, r: fm.evaluate(e, r, ("mrstft",), mrstft=(512,)), "must be a dict"),
    (lambda e, r: fm.evaluate(e, r, ("mrstft",), mrstft={"fft_sizes": (0,)}),
     "^mrstft: .*fft_size"),
    (lambda e, r: fm.evaluate(e, r, ("sisdr",), sisdr={"bogus": 1}), "^sisdr: .*bogus"),
    (lambda e, r: fm.evaluate(e, r, ("features",)), "features: .*sample_rate"),
])
def test_bad_arguments_name_the_loss_and_the_value(call, message):
    est, ref = _pair(np.float64, length=4096)
    with pytest.raises(ParameterError, match=message):
        call(est, ref)


def test_stream_arguments_are_checked():
    evaluator = Evaluator()
    with pytest.raises(ParameterError, match="length"):
        evaluator.stream(2, 0)
    with pytest.raises(ParameterError, match="dtype"):
        evaluator.stream(2, 100, dtype=np.int16)
    stream = evaluator.stream(2, 1000)
    with pytest.raises(ParameterError, match=r"piece of est has shape \(500, 2\); this "
                                             r"stream takes \(2, n\)"):
        stream.feed(np.zeros((500, 2), np.float32), np.zeros((2, 500), np.float32))
    with pytest.raises(ParameterError, match="differ in length: 500 and 499"):
        stream.feed(np.zeros((2, 500), np.float32), np.zeros((2, 499), np.float32))
    stream.feed(np.zeros((2, 500), np.float32), np.zeros((2, 500), np.float32))
    with pytest.raises(ValueError, match="fed 500 samples of 1000"):
        stream.end_pass()


def test_inputs_are_not_modified_and_defaults_are_the_command_lines():
    est, ref = _pair(np.float32)
    before = est.copy(), ref.copy()
    values = fm.evaluate(est, ref)
    assert tuple(values) == DEFAULT_LOSSES == ("mse", "sisdr", "mrstft", "sd")
    np.testing.assert_array_equal(est, before[0])
    np.testing.assert_array_equal(ref, before[1])


def test_batches_reduce_as_each_loss_does():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((3, 2, 9000))
    est = ref + 0.2 * rng.standard_normal(ref.shape)
    params = {name: {"reduction": "none"} for name in ("mse", "sisdr", "mrstft", "sd")}
    values = fm.evaluate(est, ref, **params)
    for name, value in values.items():
        np.testing.assert_allclose(value, _alone(name, est, ref, reduction="none"),
                                   rtol=1e-12)


def test_rows_the_one_pass_sums_cannot_settle_take_more_passes_over_the_pieces():
    rng = np.random.default_rng(5)
    ref = rng.standard_normal((2, 2 * 65536 + 99))
    est = np.stack([2.0 * ref[0],                            # SI-SDR of a scaled copy
                    rng.standard_normal(ref.shape[1])])      # uncorrelated with ref
    evaluator = Evaluator(("sisdr", "sdsdr", "esr", "mse", "mrstft"))
    stream = evaluator.stream(2, ref.shape[1], dtype=np.float64)
    passes = 0
    while True:
        for start in range(0, ref.shape[1], 65536):
            stream.feed(est[:, start:start + 65536], ref[:, start:start + 65536])
        passes += 1
        if not stream.end_pass():
            break
    assert passes > 1
    values = stream.result()
    for name, value in values.items():
        assert _relative(value, _alone(name, est, ref)) < 1e-12, name


def test_sum_and_difference_spectra_can_be_transformed_as_sd_alone_does():
    """derive_sum_and_difference=False: sd's own transforms of L + R and L - R, its numbers
    bit for bit, where the derived spectra carry the channels' float32 rounding (a mono
    fold-down estimate, whose L + R is the reference's exactly, shows it most)."""
    est, ref = _pair(np.float32)
    half = (ref[0] + ref[1]) / 2
    folded = np.stack([half, half])   # a mono fold-down: est L + R == ref L + R exactly
    alone = _alone("sd", folded, ref, output="full")
    assert alone.sum.loss == 0.0
    exact = fm.evaluate(folded, ref, ("mrstft", "sd"), derive_sum_and_difference=False,
                        sd={"output": "full"})
    assert _relative(exact["sd"], alone) == 0.0
    derived = fm.evaluate(folded, ref, ("mrstft", "sd"), sd={"output": "full"})
    assert 0.0 < derived["sd"].sum.loss < 1e-2 * derived["sd"].loss
    with pytest.raises(ParameterError, match="derive_sum_and_difference"):
        fm.evaluate(est, ref, derive_sum_and_difference="yes")


def test_a_batch_stream():
    rng = np.random.default_rng(8)
    ref = rng.standard_normal((2, 2, 70000)).astype(np.float32)
    est = ref + 0.1 * rng.standard_normal(ref.shape).astype(np.float32)
    evaluator = Evaluator(("sisdr", "mrstft"), mrstft={"compat": "auraloss"})
    stream = evaluator.stream(2, 70000, n_items=2)
    stream.feed(est[..., :65536], ref[..., :65536])
    stream.feed(est[..., 65536:], ref[..., 65536:])
    assert not stream.end_pass()
    assert stream.result() == evaluator(est, ref)
