"""The CUDA twin of kernels/time_backward.py: the time-domain losses' gradient, one sample
per thread-step, from the same per-sample formula (compiled from the CPU function's
source), launched on the inputs' stream."""

import numpy as np
from numba import cuda

from ..kernels import time_backward as cpu
from .kernels import divmod32

gradient_sample = cuda.jit(device=True)(cpu.gradient_sample.py_func)


@cuda.jit(cache=True)
def time_gradient_kernel(est, ref, kind, coefs, weights, chunk, n_chunks, grad):
    """grad[row, i] = weights[row] * gradient_sample(...) over samples [c * chunk, (c + 1)
    * chunk) of one row; one block per (row, c), grid = rows * n_chunks (the host
    divides: no 64-bit division on the GPU)."""
    row, c = divmod32(cuda.blockIdx.x, n_chunks)
    stop = min((c + 1) * chunk, est.shape[1])
    weight = weights[row]
    row_coefs = coefs[row]
    i = c * chunk + cuda.threadIdx.x
    while i < stop:
        grad[row, i] = weight * gradient_sample(kind, ref[row, i], est[row, i], row_coefs)
        i += cuda.blockDim.x


def time_gradient(backend, est2, ref2, kind, coefs, weights, dtype):
    """The (N, T) gradient as a device array in `dtype`, computed on est2's stream.
    est2, ref2: the backend's (N, T) DeviceSignals; coefs (N, N_COEFS) and weights (N,):
    host float64."""
    config = backend.launch
    stream = est2.stream
    n_rows, length = est2.shape
    chunk = config.time_chunk
    n_chunks = -(-length // chunk)
    device_coefs = cuda.to_device(np.ascontiguousarray(coefs, dtype=np.float64),
                                  stream=stream)
    device_weights = cuda.to_device(np.ascontiguousarray(weights, dtype=np.float64),
                                    stream=stream)
    grad = cuda.device_array((n_rows, length), dtype=dtype, stream=stream)
    time_gradient_kernel[n_rows * n_chunks, config.time_threads, stream](
        est2.array, ref2.array, np.int64(kind), device_coefs, device_weights,
        np.int64(chunk), np.int64(n_chunks), grad)
    return grad
