"""The spectral options on the CUDA backend against the CPU's options kernel.

Each option alone and together, both dtypes, with launch settings turned down so that a
tiny input spans many blocks (ragged frame groups, the global-scratch path). The CPU
kernel is itself checked against fastmixloss.reference and auraloss (tests/
test_spectral_options.py); here the GPU must give the CPU's sums.
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import backend as backends
from fastmixloss.cuda import launch_config
from fastmixloss.kernels.layout import L1, L2, FramePlan, OptionJob, OptionPlan
from fastmixloss.windows import window_values

TIGHT = dict(stft_threads=8, points_per_block=96, reduce_threads=4, scan_threads=8,
             scan_blocks=3)
RATE = 8000


def pair(rng, shape, dtype):
    ref = rng.standard_normal(shape)
    est = 0.7 * ref + 0.3 * rng.standard_normal(shape)
    return est.astype(dtype), ref.astype(dtype)


def rel_tol(dtype):
    return 1e-10 if np.dtype(dtype) == np.float64 else 1e-4


OPTION_CASES = [
    # options, fft, hop, win, shape
    (dict(scale="mel", n_bins=8, sample_rate=RATE), 64, 16, 64, (2, 1, 300)),
    (dict(scale="chroma", n_bins=12, sample_rate=RATE), 64, 24, 48, (1, 2, 260)),
    (dict(perceptual_weighting=True, sample_rate=RATE), 32, 8, 32, (1, 2, 200)),
    (dict(scale_invariance=True), 32, 10, 24, (2, 2, 150)),
    (dict(log_eps=1.0, log_fac=10.0), 16, 5, 16, (1, 1, 120)),
    (dict(scale="mel", n_bins=6, sample_rate=RATE, perceptual_weighting=True,
          scale_invariance=True, log_eps=0.5, log_fac=3.0), 64, 20, 50, (1, 2, 330)),
]


def test_the_reduction_area_holds_every_option_sum():
    # the options kernels reduce N_OPTION_TERMS sums per thread in the area that
    # kernels.shared_bytes sizes for MAX_SUMS
    from fastmixloss.cuda import kernels
    from fastmixloss.kernels.layout import N_OPTION_TERMS
    assert N_OPTION_TERMS <= kernels.MAX_SUMS


def _ids(case):
    return "+".join(sorted(case[0])) + f"-fft{case[1]}"


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case", OPTION_CASES, ids=_ids)
def test_options_match_the_cpu(cuda_backend, rng, case, dtype):
    options, fft, hop, win, shape = case
    est, ref = pair(rng, shape, dtype)
    kwargs = dict(fft_size=fft, hop_size=hop, win_length=win, w_lin_mag=1.0,
                  reduction="none", output="full", **options)
    with launch_config(**TIGHT):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.stft_loss(est, ref, device="cpu", **kwargs)
    for field in ("loss", "sc", "log_mag", "lin_mag"):
        np.testing.assert_allclose(getattr(gpu, field), getattr(cpu, field),
                                   rtol=rel_tol(dtype), err_msg=field)


def test_mel_sum_and_difference_on_the_scratch_path_matches_the_cpu(cuda_backend, rng):
    est, ref = pair(rng, (1, 2, 400), np.float64)
    kwargs = dict(fft_sizes=(32, 64), hop_sizes=(8, 16), win_lengths=(32, 48),
                  scale="mel", n_bins=[6, 10], sample_rate=RATE, output="full")
    with launch_config(**TIGHT, shared_limit=0, scratch_blocks=2):
        gpu = fm.sum_and_difference_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.sum_and_difference_loss(est, ref, device="cpu", **kwargs)
    for key, value in cpu.to_dict().items():
        np.testing.assert_allclose(gpu.to_dict()[key], value, rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_phase_term_matches_the_cpu(cuda_backend, rng, dtype):
    # frames whose bins are real only up to rounding have an angle of +-pi by the sign of
    # noise; zero edges make the centred first and last frames exactly zero, real bins
    # exactly real, so CPU and GPU agree to rounding
    est, ref = pair(rng, (1, 2, 240), dtype)
    for x in (est, ref):
        x[..., :32] = 0
        x[..., -32:] = 0
    kwargs = dict(fft_size=32, hop_size=8, win_length=32, w_phs=0.5, output="full")
    with launch_config(**TIGHT):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.stft_loss(est, ref, device="cpu", **kwargs)
    np.testing.assert_allclose(gpu.phs, cpu.phs, rtol=1e-3 if dtype == np.float32 else 1e-6)
    np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=1e-3 if dtype == np.float32 else 1e-6)


@pytest.mark.parametrize("variant", [
    dict(zero_pad=True, pad_left=0),            # DDSP's framing: uncentred, zeros past the end
    dict(pad_left=5, eps_added=True),           # HiFi-GAN's: its own pad, P + eps
    dict(log_threshold=0.0, log_floor=1e-5),    # DDSP's safe log
])
def test_the_presets_framing_variants_match_the_cpu_kernel(cuda_backend, rng, variant):
    """The presets run on the CPU only, but the GPU kernel takes OptionPlan's framing
    fields too: checked at the backend seam."""
    est, ref = pair(rng, (2, 2, 200), np.float64)
    fft, hop = 32, 8
    window = np.zeros(fft)
    window[:fft] = window_values("hann", fft)
    n_frames = 1 + 200 // hop
    plan = FramePlan(fft, hop, 0, fft, n_frames, 8, L1, L2, 1e-7)
    options = OptionPlan(n_bands=0, log_fac=1.0, log_eps=0.0, phase=False,
                         prefilter=False, pad_left=variant.get("pad_left", fft // 2),
                         zero_pad=variant.get("zero_pad", False),
                         eps_added=variant.get("eps_added", False),
                         log_threshold=variant.get("log_threshold", 0.0),
                         log_floor=variant.get("log_floor", 0.0))
    alpha = np.ones((2, 2))
    jobs = [OptionJob(window, plan, options, None)]
    e3, r3, _ = cuda_backend.as_signal_pair(est, ref)
    with launch_config(**TIGHT):
        (gpu,) = cuda_backend.stft_option_sums(e3, r3, None, jobs, np.zeros(1), [alpha])
    (cpu,) = backends.CPU.stft_option_sums(est, ref, None, jobs, np.zeros(1), [alpha])
    np.testing.assert_allclose(gpu, cpu, rtol=1e-10, atol=1e-300)

