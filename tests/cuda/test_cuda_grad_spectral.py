"""The spectral losses' gradient on the GPU (fastmixloss/cuda/stft_backward.py), in Numba's
CUDA simulator, against the CPU's fused backward (kernels/stft_backward.py, itself tested
against a NumPy backward written from the formulas in tests/grad/test_spectral_grad.py).

Inputs are shown through __cuda_array_interface__ (the fake_device_array fixture), so the
losses pick the GPU as they would for CuPy arrays or CUDA tensors, and the gradient comes
back as a device array. Launch settings and the frame-gradient scratch are turned down so
that tiny inputs span many blocks, several frame groups per block and several chunks.
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.cuda import launch_config
from fastmixloss.cuda import stft_backward as cuda_backward
from fastmixloss.errors import ParameterError
from fastmixloss.grad import spectral as gs

TIGHT = dict(stft_threads=16, points_per_block=64, reduce_threads=4, time_threads=8,
             time_chunk=37, scan_threads=8, scan_blocks=3)
SMALL_MR = dict(fft_sizes=[32, 64, 16], hop_sizes=[8, 16, 5], win_lengths=[24, 64, 16])


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch):
    """Frame-gradient chunks of a few groups: every resolution runs several chunks."""
    monkeypatch.setattr(cuda_backward, "FRAME_SCRATCH_ELEMENTS", 4 * 64 * 8)


def pair(rng, shape, dtype, amount=0.3):
    ref = rng.standard_normal(shape)
    est = ref + amount * rng.standard_normal(shape)
    return est.astype(dtype), ref.astype(dtype)


def host_gradient(loss, est, ref, grad_value=1.0):
    """(value, gradient) of host inputs: on the CPU, or on the GPU with device="cuda"."""
    value, saved = gs.forward(loss, est, ref)
    return value, gs.backward(loss, est, ref, saved, grad_value)


def gpu_gradient(loss, est, ref, device_array, grad_value=1.0, **overrides):
    """(value, host copy of the gradient, the device gradient) with est and ref shown as
    device arrays."""
    est_d, ref_d = device_array(est), device_array(ref)
    with launch_config(**{**TIGHT, **overrides}):
        value, saved = gs.forward(loss, est_d, ref_d)
        grad = gs.backward(loss, est_d, ref_d, saved, grad_value)
    return value, grad.copy_to_host(), grad


def rel_tol(dtype):
    return 1e-9 if np.dtype(dtype) == np.float64 else 1e-4


def assert_close_in_norm(gpu, cpu, rtol):
    assert gpu.shape == cpu.shape and gpu.dtype == cpu.dtype
    assert np.all(np.isfinite(gpu))
    error = np.linalg.norm((gpu.astype(np.float64) - cpu).ravel())
    assert error <= rtol * np.linalg.norm(cpu.ravel()), (error, np.linalg.norm(cpu))


FACES = {
    "stft": (lambda **kw: fm.STFTLoss(fft_size=32, hop_size=8, win_length=24, **kw),
             (2, 2, 120)),
    "mrstft": (lambda **kw: fm.MultiResolutionSTFTLoss(**SMALL_MR, **kw), (1, 2, 150)),
    "sd": (lambda **kw: fm.SumAndDifferenceSTFTLoss(**SMALL_MR, w_sum=1.0, w_diff=0.6,
                                                    **kw), (1, 2, 130)),
    # auraloss's conventions: SC over the batch, its sums and halved S/D
    "mrstft-auraloss": (lambda **kw: fm.MultiResolutionSTFTLoss(**SMALL_MR,
                                                                compat="auraloss", **kw),
                        (2, 1, 120)),
}
WEIGHTS = dict(w_sc=0.7, w_log_mag=1.3, w_lin_mag=0.4)


@pytest.mark.slow
@pytest.mark.parametrize("distance", ["L1", "L2"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("face", list(FACES))
def test_matches_the_cpu_backward(fake_device_array, rng, face, dtype, distance):
    make, shape = FACES[face]
    loss = make(mag_distance=distance, **WEIGHTS)
    est, ref = pair(rng, shape, dtype)
    value, expected = host_gradient(loss, est, ref)
    gpu_value, got, device_grad = gpu_gradient(loss, est, ref, fake_device_array)
    np.testing.assert_allclose(gpu_value, value, rtol=rel_tol(dtype))
    assert not isinstance(device_grad, np.ndarray)    # a device array, where est lives
    assert_close_in_norm(got, expected, rel_tol(dtype))


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_estimate_equal_to_reference_has_gradient_zero(fake_device_array, rng, dtype):
    """Every term's kink at equality: |x|' = 0 (L1), log(1) = 0, SC's norm at 0; the
    estimate's and the reference's bins come from the same transform code, so they are
    equal to the bit and the gradient is exactly 0."""
    ref = rng.standard_normal((1, 2, 100)).astype(dtype)
    for distance in ("L1", "L2"):
        loss = fm.MultiResolutionSTFTLoss(**SMALL_MR, mag_distance=distance, **WEIGHTS)
        _, got, _ = gpu_gradient(loss, ref.copy(), ref, fake_device_array)
        assert got.dtype == dtype
        assert np.array_equal(got, np.zeros_like(ref)), distance


def test_reflect_padding_at_both_ends(fake_device_array, rng):
    """Est differs from ref only in its first and last samples: their gradient comes
    through the frames' reflected positions too, folded back onto the samples they were
    read from (a missing or misplaced fold differs from the CPU's there)."""
    fft_size = 32
    loss = fm.STFTLoss(fft_size=fft_size, hop_size=8, win_length=fft_size, w_sc=1.0,
                       w_log_mag=1.0, w_lin_mag=1.0)
    ref = rng.standard_normal((1, 1, 90))
    est = ref.copy()
    est[..., :6] += 0.5 * rng.standard_normal(6)
    est[..., -6:] += 0.5 * rng.standard_normal(6)
    _, expected = host_gradient(loss, est, ref)
    _, got, _ = gpu_gradient(loss, est, ref, fake_device_array)
    pad = fft_size // 2
    for ends in (np.s_[..., 1:pad + 1], np.s_[..., -pad - 1:-1]):
        assert np.linalg.norm(expected[ends]) > 0
        assert_close_in_norm(got[ends], expected[ends], 1e-9)
    assert_close_in_norm(got, expected, 1e-9)


@pytest.mark.slow
def test_per_item_upstream_and_shapes(fake_device_array, rng):
    """reduction='none' with a per-item grad_value; a (C, T) and a (T,) estimate get a
    gradient of their own shape and dtype."""
    loss = fm.STFTLoss(fft_size=16, hop_size=4, win_length=16, reduction="none",
                       **WEIGHTS)
    est, ref = pair(rng, (3, 1, 60), np.float32)
    upstream = np.array([0.5, -2.0, 1.5])
    _, expected = host_gradient(loss, est, ref, upstream)
    _, got, _ = gpu_gradient(loss, est, ref, fake_device_array, upstream)
    assert_close_in_norm(got, expected, 1e-4)
    for shape in ((2, 60), (60,)):
        plain = fm.STFTLoss(fft_size=16, hop_size=4, win_length=16, **WEIGHTS)
        est, ref = pair(rng, shape, np.float64)
        _, expected = host_gradient(plain, est, ref)
        _, got, _ = gpu_gradient(plain, est, ref, fake_device_array)
        assert got.shape == shape
        assert_close_in_norm(got, expected, 1e-9)


def test_host_inputs_with_device_cuda_get_a_host_gradient(cuda_backend, rng):
    """device="cuda" with NumPy inputs: computed on the GPU, the gradient where est lives
    (a NumPy array of est's shape and dtype)."""
    kwargs = dict(fft_size=16, hop_size=4, win_length=16, **WEIGHTS)
    est, ref = pair(rng, (2, 40), np.float32)
    _, expected = host_gradient(fm.STFTLoss(**kwargs), est, ref)
    with launch_config(**TIGHT):
        _, got = host_gradient(fm.STFTLoss(device="cuda", **kwargs), est, ref)
    assert isinstance(got, np.ndarray)
    assert_close_in_norm(got, expected, 1e-4)


@pytest.mark.slow
def test_launch_paths_and_chunks_agree_and_repeat_bit_for_bit(fake_device_array, rng,
                                                                monkeypatch):
    """The scratch path (transforms in global memory, fewer blocks than tasks) and one
    chunk for all frames give the fused path's gradient; a rerun gives the same bits."""
    loss = fm.SumAndDifferenceSTFTLoss(fft_sizes=[32], hop_sizes=[8], win_lengths=[24],
                                       **WEIGHTS)
    est, ref = pair(rng, (1, 2, 100), np.float64)
    _, expected = host_gradient(loss, est, ref)
    _, fused, _ = gpu_gradient(loss, est, ref, fake_device_array)
    _, again, _ = gpu_gradient(loss, est, ref, fake_device_array)
    assert np.array_equal(fused, again)
    _, scratch, _ = gpu_gradient(loss, est, ref, fake_device_array, shared_limit=0,
                                 scratch_blocks=3)
    monkeypatch.setattr(cuda_backward, "FRAME_SCRATCH_ELEMENTS", 1 << 24)
    _, one_chunk, _ = gpu_gradient(loss, est, ref, fake_device_array)
    for got in (fused, scratch, one_chunk):
        assert_close_in_norm(got, expected, 1e-9)


def test_chunks_bound_the_scratch_whatever_the_length(monkeypatch):
    """frames_per_chunk: whole frame groups, within FRAME_SCRATCH_ELEMENTS for every
    (item, row), the same for any number of frames."""
    from fastmixloss.kernels.layout import FramePlan
    monkeypatch.setattr(cuda_backward, "FRAME_SCRATCH_ELEMENTS", 1 << 20)
    for n_frames in (10, 10 ** 6, 10 ** 9):
        plan = FramePlan(1024, 256, 0, 1024, n_frames, 1, 1, 0, 1e-8, -512)
        per_chunk = cuda_backward.frames_per_chunk(plan, 4, 2)
        assert per_chunk % 2 == 0
        assert 4 * per_chunk * 1024 <= cuda_backward.FRAME_SCRATCH_ELEMENTS
        assert per_chunk == cuda_backward.frames_per_chunk(plan._replace(n_frames=7), 4, 2)


OPTION_CASES = {
    # the options kernel's per-bin terms: the generalised log
    "log": lambda: fm.STFTLoss(fft_size=32, hop_size=8, win_length=24, log_eps=1e-3,
                               log_fac=2.0, **WEIGHTS),
    # uncentred frames, zeros past the end (no reflection), eps=0, the log's safe floor
    "ddsp": lambda: fm.PresetLoss("ddsp", fft_sizes=(32, 16), hop_sizes=(8, 4),
                                  win_lengths=(32, 16)),
    # HiFi-GAN's (fft - hop) / 2 reflect padding and sqrt(P + eps), without its mel bank
    "hifigan": lambda: fm.PresetLoss("hifigan", n_mels=None, fft_sizes=(32,),
                                     hop_sizes=(8,), win_lengths=(32,)),
    # eps=0 with both terms and the log clamp, centred
    "dac_stft": lambda: fm.PresetLoss("dac_stft", fft_sizes=(64, 16), hop_sizes=(16, 4),
                                      win_lengths=(64, 16)),
    # filterbanks: the band values' gradient, then the transposed bank by bin
    "mel": lambda: fm.MelSTFTLoss(8000, fft_size=64, hop_size=16, win_length=48, n_mels=12,
                                  w_sc=0.7, w_log_mag=1.3, w_lin_mag=0.4),
    "chroma": lambda: fm.ChromaSTFTLoss(8000, fft_size=64, hop_size=16, n_chroma=12,
                                        w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.5,
                                        mag_distance="L2"),
    "hifigan-mel": lambda: fm.PresetLoss("hifigan", n_mels=(10,), fft_sizes=(64,),
                                         hop_sizes=(16,), win_lengths=(64,),
                                         sample_rate=8000),
    # scale invariance: dL/d alpha from the reference scale sums' kernel
    "scale-invariance": lambda: fm.STFTLoss(fft_size=32, hop_size=8, win_length=24,
                                            scale_invariance=True, **WEIGHTS),
    "mel-scale-invariance": lambda: fm.MelSTFTLoss(8000, fft_size=64, hop_size=16,
                                                   n_mels=12, scale_invariance=True,
                                                   w_sc=1.0, w_log_mag=1.0,
                                                   w_lin_mag=0.3),
    # the A-weighting prefilter: the filtered rows' gradient through the FIR's transpose
    "a-weighting": lambda: fm.STFTLoss(fft_size=32, hop_size=8, win_length=32,
                                       sample_rate=8000, perceptual_weighting=True,
                                       **WEIGHTS),
}


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", list(OPTION_CASES))
def test_options_match_the_cpu_backward(fake_device_array, rng, case, dtype):
    loss = OPTION_CASES[case]()
    est, ref = pair(rng, (2, 1, 110), dtype)
    value, expected = host_gradient(loss, est, ref)
    gpu_value, got, _ = gpu_gradient(loss, est, ref, fake_device_array)
    np.testing.assert_allclose(gpu_value, value, rtol=rel_tol(dtype))
    assert_close_in_norm(got, expected, rel_tol(dtype))


@pytest.mark.slow
def test_sum_and_difference_with_a_weighting_matches_the_cpu_backward(fake_device_array,
                                                                     rng):
    """The prefilter on mixed rows: L + R and L - R filtered, their gradients mixed back
    to the channels and through the FIR's transpose."""
    loss = fm.SumAndDifferenceSTFTLoss(fft_sizes=[32], hop_sizes=[8], win_lengths=[32],
                                       sample_rate=8000, perceptual_weighting=True,
                                       w_sum=1.0, w_diff=0.5, **WEIGHTS)
    est, ref = pair(rng, (1, 2, 100), np.float64)
    _, expected = host_gradient(loss, est, ref)
    _, got, _ = gpu_gradient(loss, est, ref, fake_device_array)
    assert_close_in_norm(got, expected, 1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_phase_term_matches_the_cpu_backward(fake_device_array, rng, dtype):
    """The phase term's gradient, on the samples that the first frame does not read.
    That frame is centred on sample 0 and reflected about it, so with a symmetric window
    its spectrum is real up to rounding: its angles sit on the branch cut (0 or +-pi, a
    jump of 2 pi in the term), where the two FFTs' last bits decide the side, in the
    value (the forward kernels differ there too) as in the gradient."""
    fft_size = 32
    loss = fm.STFTLoss(fft_size=fft_size, hop_size=8, win_length=24, w_phs=0.7,
                       log_eps=1e-3, **WEIGHTS)
    est, ref = pair(rng, (2, 1, 110), dtype)
    _, expected = host_gradient(loss, est, ref)
    _, got, _ = gpu_gradient(loss, est, ref, fake_device_array)
    away = np.s_[..., fft_size // 2 + 1:]
    assert_close_in_norm(got[away], expected[away], rel_tol(dtype))


@pytest.mark.parametrize("make, named", [
    (lambda: fm.ChromaSTFTLoss(8000, fft_size=8, hop_size=2, n_chroma=12),
     "12 bands at fft_size=8"),
])
def test_options_without_a_gpu_gradient_are_refused_before_any_kernel(
        fake_device_array, rng, make, named, monkeypatch):
    loss = make()
    est, ref = pair(rng, (1, 1, 80), np.float64)
    est_d, ref_d = fake_device_array(est), fake_device_array(ref)
    with launch_config(**TIGHT):
        _, saved = gs.forward(loss, est_d, ref_d)

    def no_kernel(*args):
        raise AssertionError("a kernel ran")
    monkeypatch.setattr(cuda_backward, "zero_gradient", no_kernel)
    with launch_config(**TIGHT), pytest.raises(ParameterError) as error:
        gs.backward(loss, est_d, ref_d, saved, 1.0)
    assert named in str(error.value) and "device='cpu'" in str(error.value)
