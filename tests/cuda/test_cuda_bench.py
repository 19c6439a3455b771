"""bench/gpu.py (G1-G3) cannot run without a GPU; what it computes before timing can.

Its cuFFT floor must transform exactly the frames the loss needs: the same frames as the
CPU bench's floor (bench/contenders.py), checked here with PyTorch on the CPU.
"""

import numpy as np
import pytest

from bench import contenders, gpu, workloads


@pytest.mark.parametrize("workload_id", workloads.GPU_WORKLOADS)
def test_floor_frames_are_the_cpu_bench_frames(workload_id):
    torch = pytest.importorskip("torch")
    base = workloads.WORKLOADS[workload_id]
    small = workloads.Workload(base.id, base.loss, (2, 2, 20000), base.resolutions)
    est, ref = workloads.make_inputs(small.shape)
    frames = gpu._framed(torch, small, torch.from_numpy(est), torch.from_numpy(ref))
    rows_e, rows_r = contenders.signal_rows(small, est, ref)
    expected = [f for res in contenders._resolutions(small)
                for f in (contenders.framed(rows_e, *res), contenders.framed(rows_r, *res))]
    assert len(frames) == len(expected) == 2 * len(small.resolutions["fft_sizes"])
    for got, want in zip(frames, expected):
        assert tuple(got.shape) == want.shape
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-6)


def test_run_workload_refuses_clearly_without_a_gpu(monkeypatch):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a GPU is there: `python -m bench --workloads G1` measures it")
    with pytest.raises(SystemExit, match="needs a CUDA GPU"):
        gpu.run_workload(workloads.WORKLOADS["G1"], 1, print)
