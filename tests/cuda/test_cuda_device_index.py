"""device="cuda:N": which GPU a loss runs on. In the simulator there is one GPU, 0: these
tests check the names, the numbers on cuda:0 and the refusal of a GPU that is not there;
that GPU N > 0 is the one used needs a machine with several (not tested here)."""

import pickle

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.backend import CudaDevice, check_device
from fastmixloss.errors import DeviceError, ParameterError


def test_cuda_n_is_a_device_that_the_library_treats_as_cuda():
    device = check_device("cuda:0")
    assert isinstance(device, CudaDevice) and device.gpu_index == 0
    assert device == "cuda" and str(device) == "cuda:0" and repr(device) == "'cuda:0'"
    assert pickle.loads(pickle.dumps(device)).gpu_index == 0
    assert check_device("cuda:12").gpu_index == 12
    for bad in ("cuda:", "cuda:-1", "cuda:x", "cuda:0:1", "gpu:0", " cuda:0"):
        with pytest.raises(ParameterError, match="cuda:N"):
            check_device(bad)


@pytest.mark.slow   # the STFT kernel in the simulator: 7-14 s
def test_cuda_0_gives_what_cuda_gives():
    rng = np.random.default_rng(3)
    ref = rng.standard_normal((1, 2, 256)).astype(np.float32)
    est = (0.7 * ref + 0.2 * rng.standard_normal(ref.shape)).astype(np.float32)
    assert fm.mse(est, ref, device="cuda:0") == fm.mse(est, ref, device="cuda")
    params = dict(fft_size=32, hop_size=16, win_length=32)
    loss = fm.STFTLoss(device="cuda:0", **params)
    assert loss(est, ref) == fm.stft_loss(est, ref, device="cuda", **params)


def test_a_gpu_that_is_not_there_is_a_device_error():
    from numba import cuda
    missing = len(cuda.gpus)
    x = np.ones((1, 512), np.float32)
    with pytest.raises(DeviceError, match=f"no GPU {missing}"):
        fm.mse(x, x, device=f"cuda:{missing}")
