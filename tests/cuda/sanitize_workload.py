"""A small run of every CUDA kernel, for compute-sanitizer (needs a GPU):

    NUMBA_ENABLE_CUDASIM=0 compute-sanitizer --tool memcheck python \
        tests/cuda/sanitize_workload.py
    NUMBA_ENABLE_CUDASIM=0 compute-sanitizer --tool racecheck python \
        tests/cuda/sanitize_workload.py

Fused and scratch STFT paths in both dtypes with ragged frame groups, the mixed (sum and
difference) rows, every time-domain kernel, the NaN scan (also finding one), and the
strided-input copy.
"""

import numpy as np

import fastmixloss as fm
from fastmixloss.cuda import launch_config


def main():
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.float64):
        ref = rng.standard_normal((2, 2, 5000)).astype(dtype)
        est = (ref + 0.1 * rng.standard_normal(ref.shape)).astype(dtype)
        for overrides in ({}, dict(shared_limit=0, scratch_blocks=3),
                          dict(stft_threads=32, points_per_block=300)):
            with launch_config(**overrides):
                fm.mrstft_loss(est, ref, device="cuda", fft_sizes=(64, 512, 2048),
                               hop_sizes=(30, 128, 512), win_lengths=(50, 400, 2048))
                fm.sum_and_difference_loss(est, ref, device="cuda", fft_sizes=(256,),
                                           hop_sizes=(100,), win_lengths=(200,))
        with launch_config(time_chunk=999, time_threads=64, reduce_threads=32):
            for loss in (fm.mse, fm.sisdr, fm.logcosh):
                loss(est, ref, device="cuda")
        fm.mse(est[:, :, ::3], ref[:, :, ::3], device="cuda")   # strided: device copy
        bad = est.copy()
        bad[1, 1, 4321] = np.nan
        try:
            fm.stft_loss(bad, ref, device="cuda", fft_size=256)
        except fm.ParameterError:
            pass
        else:
            raise AssertionError("the NaN was not found")
    print("sanitize workload done")


if __name__ == "__main__":
    main()
