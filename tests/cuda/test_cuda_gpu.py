"""Checks that need a real GPU: run with FASTMIXLOSS_GPU_TESTS=1 (skipped otherwise).

    FASTMIXLOSS_GPU_TESTS=1 python -m pytest tests/cuda -m gpu
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.cuda import launch_config

pytestmark = pytest.mark.gpu

SIZES = [256, 512, 1024, 2048, 4096, 8192, 16384, 32768]


def pair(rng, shape, dtype):
    ref = rng.standard_normal(shape)
    return (ref + 0.3 * rng.standard_normal(shape)).astype(dtype), ref.astype(dtype)


@pytest.mark.parametrize("path", ["default", "scratch"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", SIZES)
def test_every_variant_matches_cpu(cuda_backend, rng, fft_size, dtype, path):
    est, ref = pair(rng, (2, 2, 6 * fft_size + 123), dtype)
    kwargs = dict(fft_size=fft_size, hop_size=fft_size // 4, win_length=fft_size * 3 // 4,
                  w_lin_mag=1.0, reduction="none", output="full")
    overrides = dict(shared_limit=0) if path == "scratch" else {}
    with launch_config(**overrides):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.stft_loss(est, ref, device="cpu", **kwargs)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for field in ("sc", "log_mag", "lin_mag"):
        np.testing.assert_allclose(getattr(gpu, field), getattr(cpu, field), rtol=rtol)


def test_fused_path_opts_in_to_large_shared_memory(cuda_backend):
    """On cc >= 7.0 the fused path must reach fft 8192 in float64 (128 KiB)."""
    from numba import cuda

    from fastmixloss.cuda import kernels, runtime
    if cuda.get_current_device().compute_capability < (7, 0):
        pytest.skip("no shared-memory opt-in before Volta")
    x = cuda.to_device(np.zeros((1, 1, 16), np.float64))
    small = cuda.to_device(np.zeros((1, 1), np.float64))
    geometry = tuple(np.int64(0) for _ in range(kernels.N_GEOMETRY))
    limit = runtime.dynamic_shared_limit(
        kernels.stft_shared, (x, x, small, cuda.to_device(np.zeros(16)), small, geometry,
                              1e-8, (), np.zeros((1, 4))))
    assert limit >= kernels.shared_bytes(256, 2 * 8192 * 8)


def test_deterministic_bits(cuda_backend, rng):
    est, ref = pair(rng, (4, 2, 262144), np.float32)
    runs = [fm.mrstft_loss(est, ref, device="cuda", reduction="none") for _ in range(3)]
    assert runs[0].tobytes() == runs[1].tobytes() == runs[2].tobytes()


def _check_zero_copy(cuda_backend, est, ref, pointer_of, host_est, host_ref):
    from fastmixloss.cuda import runtime
    est3, ref3, _ = cuda_backend.as_signal_pair(est, ref)
    assert runtime.device_pointer(est3.array) == pointer_of(est)
    assert runtime.device_pointer(ref3.array) == pointer_of(ref)
    got = fm.mrstft_loss(est, ref, reduction="none")          # device picked by itself
    np.testing.assert_allclose(got, fm.mrstft_loss(host_est, host_ref, reduction="none"),
                               rtol=1e-4)
    return est3.stream


def _handle(stream):
    handle = stream.handle
    return int(handle.value if hasattr(handle, "value") else handle)


@pytest.mark.parametrize("stream_kind", ["default", "non-default"])
def test_numba_device_arrays_without_copy_on_their_stream(cuda_backend, rng, stream_kind):
    from numba import cuda
    host_est, host_ref = pair(rng, (2, 2, 44100), np.float32)
    stream = cuda.stream() if stream_kind == "non-default" else 0
    est = cuda.to_device(host_est, stream=stream)
    ref = cuda.to_device(host_ref, stream=stream)
    used = _check_zero_copy(cuda_backend, est, ref,
                            lambda a: a.__cuda_array_interface__["data"][0], host_est,
                            host_ref)
    expected = stream if stream_kind == "non-default" else cuda.default_stream()
    assert _handle(used) == _handle(expected)


def test_time_domain_and_sum_difference_at_default_launch_settings(cuda_backend, rng):
    """Real sizes with the default launch configuration: many time chunks per row, the
    shift window shorter than a row, the mixed (sum/difference) rows."""
    for dtype in (np.float32, np.float64):
        est, ref = pair(rng, (4, 2, 441000), dtype)
        est += dtype(0.01)
        for loss in (fm.mse, fm.l1, fm.esr, fm.dc, fm.snr, fm.sisdr, fm.sdsdr, fm.logcosh):
            np.testing.assert_allclose(loss(est, ref, device="cuda", reduction="none"),
                                       loss(est, ref, device="cpu", reduction="none"),
                                       rtol=1e-9, err_msg=loss.__name__)
        sd = dict(fft_sizes=(512, 2048, 8192), hop_sizes=(128, 512, 2048),
                  win_lengths=(512, 2048, 8192), reduction="none")
        np.testing.assert_allclose(
            fm.sum_and_difference_loss(est, ref, device="cuda", **sd),
            fm.sum_and_difference_loss(est, ref, device="cpu", **sd),
            rtol=1e-10 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("stream_kind", ["default", "non-default"])
def test_cupy_inputs_without_copy_on_the_current_stream(cuda_backend, rng, stream_kind):
    cupy = pytest.importorskip("cupy")
    host_est, host_ref = pair(rng, (2, 2, 44100), np.float32)
    stream = cupy.cuda.Stream(non_blocking=True) if stream_kind == "non-default" else None
    with (stream if stream is not None else cupy.cuda.Stream.null):
        est, ref = cupy.asarray(host_est), cupy.asarray(host_ref)
        used = _check_zero_copy(cuda_backend, est, ref, lambda a: a.data.ptr, host_est,
                                host_ref)
        assert _handle(used) == cupy.cuda.get_current_stream().ptr


@pytest.mark.parametrize("stream_kind", ["default", "non-default"])
def test_torch_inputs_without_copy_on_the_current_stream(cuda_backend, rng, stream_kind):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch without CUDA")
    host_est, host_ref = pair(rng, (2, 2, 44100), np.float32)
    stream = torch.cuda.Stream() if stream_kind == "non-default" else None
    with torch.cuda.stream(stream) if stream is not None else torch.cuda.stream(None):
        est = torch.from_numpy(host_est).cuda()
        ref = torch.from_numpy(host_ref).cuda()
        used = _check_zero_copy(cuda_backend, est, ref, lambda t: t.data_ptr(), host_est,
                                host_ref)
        assert _handle(used) == torch.cuda.current_stream().cuda_stream


@pytest.mark.parametrize("tool", ["memcheck", "racecheck", "synccheck", "initcheck"])
def test_compute_sanitizer_finds_nothing(tool):
    sanitizer = shutil.which("compute-sanitizer")
    if sanitizer is None:
        pytest.skip("compute-sanitizer is not on PATH (it comes with the CUDA toolkit)")
    workload = Path(__file__).with_name("sanitize_workload.py")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    result = subprocess.run(
        [sanitizer, "--tool", tool, "--error-exitcode", "99", sys.executable, str(workload)],
        capture_output=True, text=True, env=env, timeout=1800)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
