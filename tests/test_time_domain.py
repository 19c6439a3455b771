"""Time-domain losses: the one-pass kernel against the plain NumPy reference."""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import reference
from signals import degrade, music

RTOL = {np.float32: 1e-4, np.float64: 1e-10}
LOSSES = ["mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr"]


def _as3d(x):
    x = np.asarray(x, dtype=np.float64)
    return x.reshape((1,) * (3 - x.ndim) + x.shape)


def _pair(shape, dtype, seed, offset=0.0, amount=0.1):
    n_items = shape[0] if len(shape) == 3 else 1
    channels = shape[-2] if len(shape) >= 2 else 1
    ref = music(n_items, shape[-1], seed, channels=channels) + offset
    est = degrade(ref, seed + 1, amount=amount)
    return est.reshape(shape).astype(dtype), ref.reshape(shape).astype(dtype)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(5000,), (2, 5000), (3, 2, 70000)])
def test_matches_reference(name, dtype, shape):
    est, ref = _pair(shape, dtype, seed=1)
    got = getattr(fm, name)(est, ref, reduction="none")
    expected = getattr(reference, name)(_as3d(est), _as3d(ref))
    np.testing.assert_allclose(got, expected, rtol=RTOL[dtype])


@pytest.mark.parametrize("name", ["snr", "sisdr", "sdsdr"])
@pytest.mark.parametrize("zero_mean", [True, False])
def test_dc_offset_and_zero_mean(name, zero_mean):
    est, ref = _pair((2, 2, 30000), np.float64, seed=2, offset=3.0)
    got = getattr(fm, name)(est, ref, zero_mean=zero_mean, reduction="none")
    expected = getattr(reference, name)(est, ref, zero_mean=zero_mean)
    np.testing.assert_allclose(got, expected, rtol=1e-10)


@pytest.mark.parametrize("name", ["mse", "esr", "snr", "sisdr", "sdsdr"])
def test_near_perfect_estimate_keeps_its_small_error(name):
    # 1e-7 of noise on a signal with a DC offset: the residual is 1e-14 of the energy
    est, ref = _pair((1, 2, 50000), np.float64, seed=3, offset=0.5, amount=0.0)
    est = ref + 1e-7 * np.sin(np.arange(50000) * 0.37)
    got = getattr(fm, name)(est, ref, reduction="none")
    expected = getattr(reference, name)(est, ref)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_logcosh_is_finite_for_huge_differences():
    est = np.array([[1000.0, -2000.0, 0.5]])
    ref = np.zeros_like(est)
    got = fm.logcosh(est, ref, a=1.0)
    expected = np.mean([1000.0 - np.log(2), 2000.0 - np.log(2), np.log(np.cosh(0.5) + 1e-8)])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


@pytest.mark.parametrize("params", [dict(a=3.0), dict(a=0.5, eps=1e-4)])
def test_logcosh_parameters(params):
    est, ref = _pair((2, 2, 3000), np.float64, seed=4)
    np.testing.assert_allclose(fm.logcosh(est, ref, reduction="none", **params),
                               reference.logcosh(est, ref, **params), rtol=1e-10)


def test_reductions_per_item_and_compat_per_channel():
    est, ref = _pair((3, 2, 2000), np.float64, seed=5)
    per_channel = ((est - ref) ** 2).mean(-1)            # (B, C)
    np.testing.assert_allclose(fm.mse(est, ref, reduction="none"), per_channel.mean(1))
    np.testing.assert_allclose(fm.mse(est, ref, reduction="sum"), per_channel.mean(1).sum())
    np.testing.assert_allclose(fm.mse(est, ref), per_channel.mean())
    # auraloss keeps (batch, channel) values and sums over both
    np.testing.assert_allclose(fm.mse(est, ref, reduction="none", compat="auraloss"),
                               per_channel)
    np.testing.assert_allclose(fm.mse(est, ref, reduction="sum", compat="auraloss"),
                               per_channel.sum())


def test_class_and_function_forms_agree():
    est, ref = _pair((2, 2, 2000), np.float32, seed=6)
    assert fm.SISDRLoss(zero_mean=False)(est, ref) == fm.sisdr(est, ref, zero_mean=False)
    assert fm.ESRLoss(eps=1e-3, reduction="sum")(est, ref) == fm.esr(est, ref, eps=1e-3,
                                                                     reduction="sum")


def test_result_does_not_depend_on_thread_count():
    import numba
    est, ref = _pair((2, 2, 300000), np.float32, seed=7)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = [fm.sisdr(est, ref), fm.mrstft_loss(est, ref)]
        numba.set_num_threads(before)
        many = [fm.sisdr(est, ref), fm.mrstft_loss(est, ref)]
    finally:
        numba.set_num_threads(before)
    assert one == many   # bit for bit: fixed task decomposition and summation order


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_difference_sums_kernel(dtype):
    from fastmixloss.kernels.time import difference_sums
    rng = np.random.default_rng(8)
    est = rng.standard_normal((3, 200_000)).astype(dtype)   # several chunks per row
    ref = rng.standard_normal((3, 200_000)).astype(dtype)
    d = est.astype(np.float64) - ref
    np.testing.assert_allclose(difference_sums(est, ref),
                               np.stack([(d * d).sum(-1), np.abs(d).sum(-1)], axis=1),
                               rtol=1e-12)


@pytest.mark.parametrize("name", ["mse", "l1"])
def test_light_pass_and_shifted_sums_agree(name, monkeypatch):
    from fastmixloss import backend
    est, ref = _pair((2, 2, 70000), np.float32, seed=9)
    light = getattr(fm, name)(est, ref, reduction="none")
    # a backend without the light pass (as the CUDA one may be) uses the shifted sums
    monkeypatch.delattr(backend.CpuBackend, "difference_sums")
    np.testing.assert_allclose(getattr(fm, name)(est, ref, reduction="none"), light,
                               rtol=1e-12)
