"""The spectral options and the presets on the CUDA backend against the CPU.

Each option alone and together, both dtypes, with launch settings turned down so that a
tiny input spans many blocks (ragged frame groups, the global-scratch path). The CPU
kernel is itself checked against fastmixloss.reference and auraloss (tests/
test_spectral_options.py); here the GPU must give the CPU's sums.
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.cuda import launch_config

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


@pytest.mark.slow
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


@pytest.mark.slow
def test_mel_sum_and_difference_on_the_scratch_path_matches_the_cpu(cuda_backend, rng):
    est, ref = pair(rng, (1, 2, 400), np.float64)
    kwargs = dict(fft_sizes=(32, 64), hop_sizes=(8, 16), win_lengths=(32, 48),
                  scale="mel", n_bins=[6, 10], sample_rate=RATE, output="full")
    with launch_config(**TIGHT, shared_limit=0, scratch_blocks=2):
        gpu = fm.sum_and_difference_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.sum_and_difference_loss(est, ref, device="cpu", **kwargs)
    for key, value in cpu.to_dict().items():
        np.testing.assert_allclose(gpu.to_dict()[key], value, rtol=1e-10, err_msg=key)


@pytest.mark.slow
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


# the presets at sizes the simulator runs quickly, each keeping its own framing, floors,
# log clamps and mel bank (empty bands included)
SMALL_PRESET = dict(fft_sizes=(64, 32), hop_sizes=(16, 8), win_lengths=(64, 24))


# every preset in float64; in float32 one per framing (centred, HiFi-GAN's, DDSP's)
PRESET_CASES = ([(name, np.float64) for name in sorted(fm.PRESETS)]
                + [(name, np.float32) for name in ("dac", "hifigan", "ddsp")])


@pytest.mark.slow
@pytest.mark.parametrize("name,dtype", PRESET_CASES)
def test_presets_match_the_cpu(cuda_backend, rng, name, dtype):
    overrides = dict(SMALL_PRESET)
    if fm.PRESETS[name].n_mels is not None:
        overrides["n_mels"] = (8, 4)
    rate = 44100 if name == "dac" else None
    kwargs = dict(sample_rate=rate, reduction="none", output="full", **overrides)
    est, ref = pair(rng, (1, 2, 200), dtype)
    with launch_config(**TIGHT):
        gpu = fm.preset_loss(name, device="cuda", **kwargs)(est, ref)
    cpu = fm.preset_loss(name, device="cpu", **kwargs)(est, ref)
    for field in ("loss", "sc", "log_mag", "lin_mag"):
        np.testing.assert_allclose(getattr(gpu, field), getattr(cpu, field),
                                   rtol=rel_tol(dtype), atol=1e-12, err_msg=field)


def test_presets_refuse_sizes_the_gpu_does_not_take_before_any_kernel(cuda_backend):
    x = np.zeros((1, 2, 4000))
    loss = fm.preset_loss("auraloss", fft_sizes=(1024, 1000), hop_sizes=(256, 250),
                          win_lengths=(1024, 1000), device="cuda")
    with pytest.raises(fm.DeviceError, match="fft_size=1000"):
        loss(x, x)


def test_option_plans_reach_the_kernels_as_one_type_whatever_their_python_types():
    """The OptionPlan goes to the kernels as it is, each field cast to the type it
    declares: a plan built from NumPy scalars, or from ints where floats are declared,
    types (and so compiles) as the plan built from Python's own types."""
    import typing

    from numba import typeof

    from fastmixloss.cuda.options import kernel_options
    from fastmixloss.kernels.layout import OptionPlan
    declared = typing.get_type_hints(OptionPlan)
    other = {bool: np.bool_, int: np.int32, float: np.int64}
    python = OptionPlan(*(declared[name](1) for name in OptionPlan._fields))
    mixed = OptionPlan(*(other[declared[name]](1) for name in OptionPlan._fields))
    assert typeof(mixed) != typeof(python)
    assert typeof(kernel_options(mixed)) == typeof(kernel_options(python))
    assert kernel_options(mixed) == python
