"""Backward of the time-domain losses: the gradient of each row's value with respect to
est, one sample at a time, from per-row coefficients (grad/time.py computes them from the
forward's sums; the kernel never sums).

With d = est - ref and y = ref (in float64, times the row's sample_scale, a power of two:
1 but for rows whose sums the forward computed scaled down to fit float64), a row's
gradient sample is `weight` (the upstream gradient of the row) times sample_scale times
one of:

    TIME_GRAD_AFFINE    scale * ((d - mean_d) + mix * (y - mean_y))
                        + target * (y - mean_y) + offset
                        (MSE, ESR, DC, SNR, SI-SDR, SD-SDR: every loss of energies)
    TIME_GRAD_SIGN      scale * sign(d), 0 at d = 0 (L1)
    TIME_GRAD_LOG_COSH  scale * sinh(a d) / (cosh(a d) + eps), without overflow (log-cosh)

gradient_sample is plain Python (math, NumPy scalars) on one coefficient row and calls no
other compiled function: cuda/time_backward.py compiles the same source for the GPU.
"""

import math

import numpy as np

from .jit import cpu_function, cpu_kernel
from .layout import TIME_CHUNK as CHUNK
from .time import chunk_count, chunk_of_task
from .workers import read_only, run_workers, thread_count

TIME_GRAD_AFFINE, TIME_GRAD_SIGN, TIME_GRAD_LOG_COSH = range(3)

# a coefficient row, by position
(COEF_SCALE, COEF_MIX, COEF_TARGET, COEF_OFFSET, COEF_MEAN_D, COEF_MEAN_Y, COEF_A,
 COEF_EPS, COEF_SAMPLE_SCALE) = range(9)
N_COEFS = 9


@cpu_function
def gradient_sample(kind, ref_sample, est_sample, coefs):
    """The gradient of a row's value with respect to one est sample (see the module's
    doc), before the row's weight. coefs: the row's N_COEFS float64 coefficients."""
    sample_scale = coefs[COEF_SAMPLE_SCALE]
    y = np.float64(ref_sample) * sample_scale
    d = np.float64(est_sample) * sample_scale - y
    if kind == TIME_GRAD_SIGN:    # sample_scale is 1
        if d > 0.0:
            return coefs[COEF_SCALE]
        if d < 0.0:
            return -coefs[COEF_SCALE]
        return d * coefs[COEF_SCALE]      # 0 at equality; NaN stays NaN
    if kind == TIME_GRAD_LOG_COSH:    # sample_scale is 1
        # d/dx ln(cosh(x) + eps) = sinh(x) / (cosh(x) + eps) at x = a d, written with
        # u = e^-2|x| - 1 (one expm1: nothing overflows, small |x| keeps its digits):
        # -u / (2 + u + 2 eps e^-|x|)
        x = coefs[COEF_A] * d
        u = math.expm1(-2.0 * abs(x))
        slope = -u / (2.0 + u + 2.0 * coefs[COEF_EPS] * math.sqrt(1.0 + u))
        return coefs[COEF_SCALE] * (slope if x >= 0.0 else -slope)
    y_centred = y - coefs[COEF_MEAN_Y]
    return sample_scale * (
        coefs[COEF_SCALE] * ((d - coefs[COEF_MEAN_D]) + coefs[COEF_MIX] * y_centred)
        + coefs[COEF_TARGET] * y_centred + coefs[COEF_OFFSET])


def time_gradient(est, ref, kind, coefs, weights, dtype):
    """(N, T) array in `dtype`: weights[row] * gradient_sample of every sample of est, ref
    (N, T), C-contiguous, one float dtype. coefs: (N, N_COEFS) float64; weights: (N,)
    float64; kind: one of TIME_GRAD_*."""
    n_rows, length = est.shape
    grad = np.empty((n_rows, length), dtype=dtype)
    run_workers(time_gradient_worker, n_rows * chunk_count(length), thread_count(),
                read_only(est), read_only(ref), int(kind),
                read_only(np.ascontiguousarray(coefs, dtype=np.float64)),
                read_only(np.ascontiguousarray(weights, dtype=np.float64)), grad)
    return grad


@cpu_kernel
def time_gradient_worker(est, ref, kind, coefs, weights, grad, worker, n_workers):
    """grad over this worker's tasks, one CHUNK of one row each (kernels/time.py's
    chunk_of_task)."""
    n_rows, length = est.shape
    chunks_per_row = (length + CHUNK - 1) // CHUNK    # chunk_count, in the kernel
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row, _, start, stop = chunk_of_task(task, chunks_per_row, length)
        weight = weights[row]
        row_coefs = coefs[row]
        est_span = est[row, start:stop]
        ref_span = ref[row, start:stop]
        out = grad[row, start:stop]
        for i in range(est_span.shape[0]):
            out[i] = weight * gradient_sample(kind, ref_span[i], est_span[i], row_coefs)
