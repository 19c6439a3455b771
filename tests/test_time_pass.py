"""TimePass: several time-domain losses from one pass over a signal fed whole or in
pieces, against each loss called alone on the whole signal (bit for bit) and against the
plain NumPy reference."""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import reference
from fastmixloss import validation
from fastmixloss.backend import CPU
from fastmixloss.time_domain import TimePass

CHUNK = TimePass([], CPU, 1, 1, 1, np.float64).alignment
LENGTH = 3 * CHUNK + 1234
# pieces in samples: multiples of CHUNK but the last; empty pieces are skipped
SCHEDULES = {
    "whole": [LENGTH],
    "chunks": [CHUNK, CHUNK, CHUNK, 1234],
    "uneven": [2 * CHUNK, 0, CHUNK + 1234],
    "short last": [3 * CHUNK, 1234],
}


def every_loss():
    """Each loss class with options that change its path (centring, eps, a)."""
    return [fm.MSELoss(), fm.L1Loss(), fm.ESRLoss(), fm.DCLoss(eps=1e-3),
            fm.LogCoshLoss(), fm.LogCoshLoss(a=3.0, eps=1e-4), fm.SNRLoss(),
            fm.SNRLoss(zero_mean=False), fm.SISDRLoss(), fm.SISDRLoss(zero_mean=False),
            fm.SDSDRLoss(), fm.SDSDRLoss(zero_mean=False, reduction="none"),
            fm.ESRLoss(compat="auraloss", reduction="none")]


def in_pieces(losses, est, ref, sizes, backend=CPU):
    """(results, passes) of a TimePass fed `sizes` pieces, the same ones every pass."""
    assert sum(sizes) == est.shape[-1]
    time_pass = TimePass(losses, backend, *est.shape, est.dtype)
    passes = 0
    while True:
        passes += 1
        start = 0
        for n in sizes:
            time_pass.feed(np.ascontiguousarray(est[..., start:start + n]),
                           np.ascontiguousarray(ref[..., start:start + n]))
            start += n
        if not time_pass.end_pass():
            return time_pass.results(), passes


def alone(loss, est, ref):
    """What loss(est, ref) returns, or the FastMixLossError it raises."""
    try:
        return loss(est, ref)
    except fm.FastMixLossError as exc:
        return exc


def assert_same(got, expected, what=""):
    """The same value bit for bit (NaN where NaN), or the same error and message."""
    if isinstance(expected, Exception):
        assert type(got) is type(expected), what
        assert str(got) == str(expected), what
    else:
        assert type(got) is type(expected), what
        assert np.asarray(got).tobytes() == np.asarray(expected).tobytes(), (what, got,
                                                                            expected)


def signals(dtype, seed=0, length=LENGTH, offset=0.0):
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((2, 2, length)) * 0.3 + offset
    est = 0.8 * ref + 0.1 * rng.standard_normal(ref.shape)
    return est.astype(dtype), ref.astype(dtype)


def rare_rows(dtype):
    """Rows the one-pass sums cannot settle, beside ordinary ones: a scaled copy (SI-SDR's
    residual cancels), an estimate equal to its reference, a silent and a constant
    reference, an uncorrelated estimate, all on a DC offset."""
    est, ref = signals(dtype, seed=1, offset=0.5)
    rng = np.random.default_rng(2)
    ref = ref.astype(np.float64)
    est = est.astype(np.float64)
    est[0, 0] = 1.5 * ref[0, 0]
    est[0, 1] = ref[0, 1]
    ref[1, 0] = 0.0
    ref[1, 1] = 0.25
    est = np.concatenate([est, rng.standard_normal((1, 2, LENGTH)) + 0.5])
    ref = np.concatenate([ref, signals(np.float64, seed=3, offset=0.5)[1][:1]])
    return est.astype(dtype), ref.astype(dtype)


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pieces_give_each_loss_alone_bit_for_bit(dtype, schedule):
    est, ref = signals(dtype, offset=0.1)
    losses = every_loss()
    got, passes = in_pieces(losses, est, ref, SCHEDULES[schedule])
    assert passes == 1   # nothing here needs a second look
    for loss, value in zip(losses, got):
        assert_same(value, alone(loss, est, ref), repr(loss))


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_the_one_pass_sums_cannot_settle(dtype, schedule):
    est, ref = rare_rows(dtype)
    losses = every_loss() + [fm.SISDRLoss(reduction="none"),
                             fm.SNRLoss(zero_mean=False, reduction="none"),
                             fm.DCLoss(reduction="none")]
    got, passes = in_pieces(losses, est, ref, SCHEDULES[schedule])
    # the first pass, then zero-mean SI-SDR's means, energies and residual
    assert passes == 4
    for loss, value in zip(losses, got):
        assert_same(value, alone(loss, est, ref), repr(loss))
    sisdr, snr_raw, dc = got[-3:]
    # item 1's references are silent (channel 0) and constant (channel 1): undefined
    assert np.isnan(sisdr[1]) and np.isnan(snr_raw[1]) and np.isnan(dc[1])
    # plain NumPy (float64 sums of the samples) where it is exact enough: not for the
    # scaled copy's residual (see test_time_precision.py for that, in exact arithmetic)
    est, ref = est.astype(np.float64), ref.astype(np.float64)
    assert sisdr[2] == pytest.approx(reference.sisdr(est, ref)[2], rel=1e-9)
    np.testing.assert_allclose(snr_raw[[0, 2]],
                               reference.snr(est, ref, zero_mean=False)[[0, 2]], rtol=1e-9)
    np.testing.assert_allclose(dc[[0, 2]], reference.dc(est, ref)[[0, 2]], rtol=1e-9)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("length", [1, 100, 4095, 5000, CHUNK - 1, CHUNK, CHUNK + 1])
def test_short_signals(dtype, length):
    # fewer samples than the shifts read (4096), than one chunk, or one chunk and one
    est, ref = signals(dtype, seed=4, length=length, offset=0.2)
    est[1] = 2 * ref[1]
    sizes = [length] if length <= CHUNK else [CHUNK, length - CHUNK]
    losses = every_loss()
    got, _ = in_pieces(losses, est, ref, sizes)
    for loss, value in zip(losses, got):
        assert_same(value, alone(loss, est, ref), repr(loss))


def test_against_the_numpy_reference_in_pieces():
    est, ref = signals(np.float64, seed=5, offset=-0.3)
    names = ["mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr"]
    losses = [fm.MSELoss, fm.L1Loss, fm.ESRLoss, fm.DCLoss, fm.LogCoshLoss, fm.SNRLoss,
              fm.SISDRLoss, fm.SDSDRLoss]
    got, _ = in_pieces([cls(reduction="none") for cls in losses], est, ref,
                       SCHEDULES["chunks"])
    for name, value in zip(names, got):
        np.testing.assert_allclose(value, getattr(reference, name)(est, ref), rtol=1e-10,
                                   err_msg=name)


def test_nan_in_a_later_piece_is_named_at_its_place_in_the_whole_signal():
    est, ref = signals(np.float64, seed=6)
    ref[1, 1, 2 * CHUNK + 77] = np.inf      # a later row, in the third piece
    est[1, 0, CHUNK + 5] = np.nan           # in the second piece
    est[0, 1, 3 * CHUNK + 3] = -np.inf      # the lowest row, in the last piece
    losses = [fm.MSELoss(), fm.SISDRLoss(), fm.LogCoshLoss(),
              fm.L1Loss(check_finite=False, reduction="none"),
              fm.SNRLoss(check_finite=False, reduction="none")]
    got, passes = in_pieces(losses, est, ref, SCHEDULES["chunks"])
    with pytest.raises(fm.ParameterError) as whole:   # the whole array's own scan
        validation.raise_if_nonfinite(est, ref)
    assert (f"est contains -inf at item 0, channel 1, sample {3 * CHUNK + 3};"
            in str(whole.value))
    for value in got[:3]:
        assert isinstance(value, fm.ParameterError)
        assert str(value) == str(whole.value)
    # unchecked: the items with a NaN or Inf are NaN or Inf, the others keep their values
    for loss, value in zip(losses[3:], got[3:]):
        assert np.isfinite(value).tolist() == [False, False]
        assert_same(value, alone(loss, est, ref))
    ref[1, 1, 2 * CHUNK + 77] = 0.0
    est[0, 1, 3 * CHUNK + 3] = 0.0
    got, _ = in_pieces(losses[3:], est, ref, SCHEDULES["chunks"])
    assert np.isnan(got[0]).tolist() == np.isnan(got[1]).tolist() == [False, True]


def test_a_failing_loss_leaves_the_others_their_values():
    # float64 samples whose squares overflow: MSE cannot be represented (ParameterError
    # naming the row), the ratio losses are recomputed at a power-of-two scale
    est, ref = signals(np.float64, seed=7, offset=0.1)
    est[1], ref[1] = est[1] * 1e200, ref[1] * 1e200
    losses = [fm.MSELoss(), fm.SISDRLoss(reduction="none"), fm.ESRLoss(reduction="none"),
              fm.L1Loss(), fm.LogCoshLoss(), fm.SNRLoss(zero_mean=False)]
    got, passes = in_pieces(losses, est, ref, SCHEDULES["uneven"])
    # the peak pass, then zero-mean SI-SDR's three exact passes
    assert passes == 5
    assert isinstance(got[0], fm.ParameterError)
    assert "item 1, channel 0 holds samples up to" in str(got[0])
    for loss, value in zip(losses, got):
        assert_same(value, alone(loss, est, ref), repr(loss))
    # item 1 at 1e4: eps is as negligible there as at 1e200
    for loss, value in zip(losses[1:3], got[1:3]):
        assert value[1] == pytest.approx(loss(est[1:] * 1e-196, ref[1:] * 1e-196)[0],
                                         rel=1e-9)


@pytest.mark.parametrize("a", [1e306, 1.0])
def test_log_cosh_recomputed_in_pieces(a):
    # the kernel's sums overflow, of terms of 1e306 (a = 1e306) or of samples of 1e305
    # (a = 1): those rows are summed in NumPy, piece by piece, in a second pass
    rng = np.random.default_rng(8)
    est = rng.standard_normal((1, 2, LENGTH))
    ref = est + 1.0 if a > 1 else -est * 1e305
    loss = fm.LogCoshLoss(a=a, reduction="none")
    whole, passes = in_pieces([loss], est, ref, SCHEDULES["whole"])
    assert passes == 2
    assert_same(whole[0], alone(loss, est, ref))
    pieces, _ = in_pieces([loss], est, ref, SCHEDULES["chunks"])
    # per piece, then added: rounding only (measured below 1e-16)
    np.testing.assert_allclose(pieces[0], whole[0], rtol=1e-15)
    expected = (1.0 - np.log(2) / a if a > 1
                else (np.abs(est - ref) / LENGTH).sum(axis=-1).mean())
    assert whole[0].mean() == pytest.approx(expected, rel=1e-12)


def test_pieces_must_line_up_with_the_chunks():
    est, ref = signals(np.float32, seed=9, length=2 * CHUNK)
    time_pass = TimePass([fm.MSELoss()], CPU, 2, 2, 2 * CHUNK, np.float32)
    time_pass.feed(est[..., :1000].copy(), ref[..., :1000].copy())
    with pytest.raises(fm.ParameterError, match="not a multiple of 65536"):
        time_pass.feed(est[..., 1000:].copy(), ref[..., 1000:].copy())
    with pytest.raises(fm.ParameterError, match="ended after 1000 of the signal's 131072"):
        time_pass.end_pass()
    with pytest.raises(fm.ParameterError, match="before the last pass ended"):
        time_pass.results()
    time_pass = TimePass([fm.MSELoss()], CPU, 2, 2, CHUNK, np.float32)
    with pytest.raises(fm.ParameterError, match="beyond the signal's 65536"):
        time_pass.feed(est, ref)
    with pytest.raises(fm.ParameterError, match=r"expected \(2, 2, n\) in float32"):
        time_pass.feed(est[:1], ref[:1])
    with pytest.raises(fm.ParameterError, match=r"expected \(2, 2, n\) in float32"):
        time_pass.feed(est.astype(np.float64), ref.astype(np.float64))


class WholeSignalBackend:
    """The CPU backend's seam without its per-chunk sums, as the CUDA backend's is."""

    name = "whole-only"

    def __getattr__(self, name):
        if name in ("time_shifts", "time_chunk_sums", "log_cosh_chunk_sums"):
            raise AttributeError(name)
        return getattr(CPU, name)


def test_a_backend_without_per_chunk_sums_takes_whole_signals():
    est, ref = rare_rows(np.float64)
    losses = every_loss()
    got, passes = in_pieces(losses, est, ref, SCHEDULES["whole"], WholeSignalBackend())
    assert passes == 4
    for loss, value in zip(losses, got):
        assert_same(value, alone(loss, est, ref), repr(loss))
    with pytest.raises(fm.DeviceError, match="whole signals only: feed the 197842"):
        in_pieces(losses, est, ref, SCHEDULES["chunks"], WholeSignalBackend())


def test_one_kernel_pass_serves_every_loss(monkeypatch):
    # one call of each first-pass kernel per piece, whatever the number of losses
    calls = []
    for name in ("time_shifts", "time_chunk_sums", "log_cosh_chunk_sums"):
        method = getattr(CPU, name)
        monkeypatch.setattr(CPU, name, lambda *args, _m=method, _n=name: (
            calls.append(_n), _m(*args))[1])
    est, ref = signals(np.float64, seed=10)
    losses = every_loss()
    in_pieces(losses, est, ref, SCHEDULES["chunks"])
    assert calls.count("time_shifts") == 1
    assert calls.count("time_chunk_sums") == 4
    assert calls.count("log_cosh_chunk_sums") == 2 * 4   # two (a, eps) pairs
