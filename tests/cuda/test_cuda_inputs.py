"""Inputs of the CUDA backend: the CPU's messages, the device NaN/Inf scan, zero-copy
import through __cuda_array_interface__, device selection, and clear errors."""

import os
import subprocess
import sys

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.cuda import launch_config
from fastmixloss.cuda import runtime
from fastmixloss.errors import DeviceError, ParameterError

SMALL = dict(stft_threads=8, points_per_block=64, reduce_threads=4, time_threads=8,
             time_chunk=50, scan_threads=8, scan_blocks=3)


def message(call):
    with pytest.raises(ParameterError) as info:
        call()
    return str(info.value)


BAD_INPUTS = {
    "int16": (np.zeros((2, 64), np.int16), np.zeros((2, 64), np.int16)),
    "uint8": (np.zeros(64, np.uint8), np.zeros(64, np.uint8)),
    "float16": (np.zeros(64, np.float16), np.zeros(64, np.float16)),
    "complex": (np.zeros(64, complex), np.zeros(64)),
    "bool": (np.zeros(64), np.zeros(64, bool)),
    "ndim4": (np.zeros((1, 1, 1, 64)), np.zeros((1, 1, 1, 64))),
    "ndim0": (np.float64(1.0), np.float64(1.0)),
    "shapes": (np.zeros((2, 64)), np.zeros((1, 64))),
    "empty": (np.zeros((2, 0)), np.zeros((2, 0))),
}


@pytest.mark.parametrize("on_device", [False, True], ids=["host", "device"])
@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_signals_raise_the_cpu_message(cuda_backend, fake_device_array, case, on_device):
    est, ref = BAD_INPUTS[case]
    cpu = message(lambda: fm.mse(est, ref, device="cpu"))
    if on_device:
        est, ref = fake_device_array(np.asarray(est)), fake_device_array(np.asarray(ref))
    assert message(lambda: fm.mse(est, ref, device="cuda")) == cpu
    assert message(lambda: fm.stft_loss(est, ref, device="cuda", fft_size=16)) == \
        message(lambda: fm.stft_loss(*BAD_INPUTS[case], device="cpu", fft_size=16))


@pytest.mark.parametrize("on_device", [False, True], ids=["host", "device"])
def test_shape_rules_of_the_compat_and_stereo_losses(cuda_backend, fake_device_array,
                                                     on_device):
    mono = np.zeros((1, 1, 64))
    two_d = np.zeros((2, 64))
    wrap = fake_device_array if on_device else (lambda a: a)
    assert message(lambda: fm.sum_and_difference_loss(wrap(mono), wrap(mono),
                                                       device="cuda")) == \
        message(lambda: fm.sum_and_difference_loss(mono, mono, device="cpu"))
    assert message(lambda: fm.mse(wrap(two_d), wrap(two_d), device="cuda",
                                  compat="auraloss")) == \
        message(lambda: fm.mse(two_d, two_d, device="cpu", compat="auraloss"))
    # channel-last stereo: the channel limit is checked before the channel count, on both
    channel_last = np.zeros((1, 40, 16))
    assert message(lambda: fm.sum_and_difference_loss(
        wrap(channel_last), wrap(channel_last), device="cuda")) == \
        message(lambda: fm.sum_and_difference_loss(channel_last, channel_last,
                                                   device="cpu"))


def test_tensor_requiring_grad_gets_the_cpu_message(cuda_backend):
    torch = pytest.importorskip("torch")
    x = torch.zeros(64, requires_grad=True)
    cpu = message(lambda: fm.mse(x, x, device="cpu"))
    assert message(lambda: fm.mse(x, x, device="cuda")) == cpu


# NaN/Inf on purpose: the simulator computes with NumPy scalars, which warn where a GPU
# just produces NaN or Inf
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("where", [("est", (1, 0, 5)), ("ref", (0, 1, 63)),
                                   ("est", (1, 1, 0))])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_found_on_the_device_with_the_cpu_message(cuda_backend, rng, where, bad):
    name, index = where
    est = rng.standard_normal((2, 2, 64)).astype(np.float32)
    ref = est.copy()
    ref[1, 0, 7] = np.nan if name == "est" else 0.0   # est is reported first
    (est if name == "est" else ref)[index] = bad
    with launch_config(**SMALL):
        for loss in (fm.mse, lambda e, r, **k: fm.stft_loss(e, r, fft_size=16, **k)):
            cpu = message(lambda: loss(est, ref, device="cpu"))
            assert message(lambda: loss(est, ref, device="cuda")) == cpu
            assert f"{name} contains" in cpu


def test_zero_copy_import_keeps_the_pointer(cuda_backend, fake_device_array, rng):
    est = rng.standard_normal((2, 2, 80))
    ref = rng.standard_normal((2, 2, 80))
    d_est, d_ref = fake_device_array(est), fake_device_array(ref)
    est3, ref3, ndim = cuda_backend.as_signal_pair(d_est, d_ref)
    assert ndim == 3 and est3.shape == (2, 2, 80) and est3.dtype == np.float64
    assert runtime.device_pointer(est3.array) == d_est.pointer
    assert runtime.device_pointer(ref3.array) == d_ref.pointer
    assert est3.owner is d_est
    # 1-D and 2-D inputs get length-1 axes, still without a copy
    one_d, _, ndim = cuda_backend.as_signal_pair(fake_device_array(est[0, 0]),
                                                 fake_device_array(ref[0, 0]))
    assert ndim == 1 and one_d.shape == (1, 1, 80)
    assert runtime.device_pointer(one_d.array) == est[0, 0].__array_interface__["data"][0]
    with launch_config(**SMALL):
        gpu = fm.stft_loss(d_est, d_ref, fft_size=16, hop_size=5, reduction="none")
    np.testing.assert_allclose(gpu, fm.stft_loss(est, ref, fft_size=16, hop_size=5,
                                                 reduction="none"), rtol=1e-10)


def test_device_input_selects_cuda_by_itself(cuda_backend, fake_device_array, rng):
    est = rng.standard_normal((1, 2, 60))
    ref = rng.standard_normal((1, 2, 60))
    with launch_config(**SMALL):
        assert fm.mse(fake_device_array(est), ref) == pytest.approx(fm.mse(est, ref),
                                                                     rel=1e-14)
    # device="cpu" refuses a GPU array with the CPU's message
    assert "lives on a CUDA device" in message(
        lambda: fm.mse(fake_device_array(est), ref, device="cpu"))


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["transposed", "reversed", "strided", "mixed-dtype"])
def test_strided_and_mixed_inputs_are_copied_on_the_device(cuda_backend, fake_device_array,
                                                           rng, layout):
    base = rng.standard_normal((2, 90, 2))
    ref = rng.standard_normal((2, 2, 45))
    if layout == "transposed":
        est = base.transpose(0, 2, 1)[..., :45]
    elif layout == "reversed":
        est = base.transpose(0, 2, 1)[:, ::-1, ::-2]
    elif layout == "strided":
        est = base.transpose(0, 2, 1)[..., ::2]
    else:
        est = np.ascontiguousarray(base.transpose(0, 2, 1)[..., :45], dtype=np.float32)
    d_est = fake_device_array(est)
    est3, ref3, _ = cuda_backend.as_signal_pair(d_est, fake_device_array(ref))
    assert est3.dtype == np.float64
    assert runtime.device_pointer(est3.array) != d_est.pointer   # a copy was needed
    with launch_config(**SMALL):
        gpu = fm.sisdr(d_est, fake_device_array(ref), reduction="none")
    np.testing.assert_allclose(gpu, fm.sisdr(est, ref, reduction="none"), rtol=1e-12)


@pytest.mark.parametrize("fft_size", [12, 1000, 65536])
def test_unsupported_fft_sizes_raise_before_any_stft_kernel(cuda_backend, fft_size):
    x = np.zeros((1, 1, 70000))
    with pytest.raises(DeviceError, match=f"fft_size={fft_size} is not supported"):
        fm.stft_loss(x, x, fft_size=fft_size, hop_size=fft_size, device="cuda",
                     check_finite=False)


def test_unsupported_size_in_any_resolution_stops_before_the_first_kernel(cuda_backend,
                                                                          monkeypatch):
    launched = []
    monkeypatch.setattr(cuda_backend, "stft_row_partials",
                        lambda *args: launched.append(args) or np.zeros((1, 1, 1, 4)))
    x = np.zeros((1, 1, 5000))
    with pytest.raises(DeviceError, match="fft_size=1000 is not supported"):
        fm.mrstft_loss(x, x, fft_sizes=(64, 1000), hop_sizes=(16, 250),
                       win_lengths=(64, 1000), device="cuda")
    assert launched == []


def test_launch_config_is_checked_and_restored(cuda_backend):
    default = cuda_backend.launch
    for bad in (dict(stft_threads=24), dict(time_threads=512), dict(time_chunk=0),
                dict(shared_limit=-1), dict(scratch_blocks=0)):
        with pytest.raises(ParameterError, match=next(iter(bad))):
            with launch_config(**bad):
                pass
    with launch_config(stft_threads=4) as config:
        assert config.stft_threads == 4 and cuda_backend.launch.stft_threads == 4
    assert cuda_backend.launch is default


def _run(code, **env):
    environment = {**os.environ, **env}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=environment, timeout=120)


def test_import_does_not_touch_cuda():
    result = _run("import sys, fastmixloss, fastmixloss.cuda\n"
                  "import numpy as np\n"
                  "fastmixloss.mse(np.zeros(8), np.zeros(8))\n"
                  "print(sorted(m for m in sys.modules if m.startswith('numba.cuda')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_without_a_gpu_the_error_says_why(cuda_backend):
    if not runtime.simulated():
        pytest.skip("a real GPU is in use")
    result = _run("import numpy as np, fastmixloss\n"
                  "try:\n"
                  "    fastmixloss.mse(np.zeros(8), np.zeros(8), device='cuda')\n"
                  "except fastmixloss.DeviceError as exc:\n"
                  "    print('DeviceError:', exc)\n",
                  NUMBA_ENABLE_CUDASIM="0")
    assert result.returncode == 0, result.stderr
    out = result.stdout.strip()
    assert out.startswith("DeviceError:"), out
    # a reason, not just "unavailable": no driver, no numba-cuda, no GPU...
    assert any(word in out for word in ("numba-cuda", "GPU", "driver", "numba.cuda")), out


@pytest.mark.slow
def test_simulator_is_chosen_even_after_numba_was_loaded():
    """The whole suite imports and compiles Numba (CPU kernels) before tests/cuda/ is
    collected: this conftest must still get the simulator, and the backend must see it."""
    conftest = os.path.join(os.path.dirname(__file__), "conftest.py")
    code = ("import numpy as np, numba, fastmixloss as fm\n"
            "fm.mse(np.zeros(8), np.ones(8))            # Numba loaded and used\n"
            "import runpy; runpy.run_path(%r)\n"
            "from fastmixloss.cuda import runtime\n"
            "print(runtime.simulated(), fm.mse(np.zeros(8), np.ones(8), device='cuda'))\n"
            % conftest)
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_ENABLE_CUDASIM", "FASTMIXLOSS_GPU_TESTS")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "1.0"]


@pytest.mark.parametrize("dtype,limit", [(np.float32, 1e30), (np.float64, 1e100)])
def test_spectral_size_limit_is_checked_on_the_device(cuda_backend, rng, dtype, limit):
    """The device scan finds the largest sample as the CPU's does: samples beyond the
    limit are refused with the CPU's message, before any STFT kernel; below it the loss
    is the CPU's."""
    est = rng.standard_normal((2, 2, 64)).astype(dtype)
    ref = rng.standard_normal((2, 2, 64)).astype(dtype)
    loss = lambda e, r, **k: fm.stft_loss(e, r, fft_size=16, hop_size=4, **k)  # noqa: E731
    with launch_config(**SMALL):
        assert np.isclose(loss(est, ref, device="cuda"), loss(est, ref, device="cpu"),
                          rtol=1e-4)
        huge = ref.copy()
        huge[1, 1, 40] = dtype(10 * limit)
        cpu = message(lambda: loss(est, huge, device="cpu"))
        assert message(lambda: loss(est, huge, device="cuda")) == cpu
        assert "samples up to" in cpu
