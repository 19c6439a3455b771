"""The one-pass evaluation on the CUDA backend: every loss as on the CPU.

The GPU has no spectral mix of transforms: a derived row (L + R, L - R) is transformed
as its own mix of the channels, as the loss alone does, so the values match the losses'
own CUDA numbers and the CPU's to the usual CPU/GPU tolerance.
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.cuda import launch_config
from fastmixloss.errors import DeviceError

SMALL = dict(mrstft={"fft_sizes": (32, 64), "hop_sizes": (8, 16), "win_lengths": (32, 48),
                     "output": "full"},
             sd={"fft_sizes": (32, 64), "hop_sizes": (8, 16), "win_lengths": (32, 48)})


@pytest.mark.slow   # 16-17 s each in the simulator: the full suite runs them
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_evaluate_on_the_gpu_matches_the_cpu(cuda_backend, rng, dtype):
    ref = rng.standard_normal((2, 2, 300))
    est = (ref + 0.3 * rng.standard_normal(ref.shape)).astype(dtype)
    ref = ref.astype(dtype)
    names = ("mse", "sisdr", "mrstft", "sd")
    with launch_config(stft_threads=16, points_per_block=96, reduce_threads=4,
                       time_threads=8, time_chunk=37, scan_threads=8, scan_blocks=3):
        gpu = fm.evaluate(est, ref, names, device="cuda", **SMALL)
    cpu = fm.evaluate(est, ref, names, device="cpu", **SMALL)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    for name in names:
        expected = cpu[name].to_dict() if hasattr(cpu[name], "to_dict") else {"": cpu[name]}
        got = gpu[name].to_dict() if hasattr(gpu[name], "to_dict") else {"": gpu[name]}
        for key in expected:
            np.testing.assert_allclose(got[key], expected[key], rtol=rtol, err_msg=name + key)


def test_streams_are_refused_on_the_gpu(cuda_backend):
    with pytest.raises(DeviceError, match="stream of pieces runs on the CPU"):
        fm.Evaluator(("mse",), device="cuda").stream(2, 1000)
