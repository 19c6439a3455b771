"""Time-domain kernels: every MSE-family loss from one pass over both signals.

Per row (one channel of one item), with d = est - ref and y = ref, the pass accumulates
shifted sums in float64. The shifts k_y and k_d are means of the row's first samples: sums
of (value - shift) keep centred quantities free of cancellation when a signal carries a
DC offset, and the residual is accumulated directly, so a near-perfect estimate does
not lose its small error to a difference of two large energies.
"""

import math

import numpy as np
from numba import prange as numba_prange

from .jit import cpu_function, cpu_kernel

from .layout import N_SHIFTS, N_TIME_SUMS, SHIFT_D, SHIFT_SAMPLES, SHIFT_Y  # noqa: F401

CHUNK = 1 << 16   # samples per task: small enough to balance threads on a single song


@cpu_function
def row_shifts(est_row, ref_row):
    """(k_y, k_d): means of the first samples of ref and of est - ref, in float64."""
    n = min(est_row.shape[0], SHIFT_SAMPLES)
    k_y = 0.0
    k_d = 0.0
    for i in range(n):
        y = np.float64(ref_row[i])
        k_y += y
        k_d += np.float64(est_row[i]) - y
    return k_y / n, k_d / n


@cpu_function
def accumulate_time_sums(est_row, ref_row, start, stop, k_y, k_d):
    """The shifted sums of one stretch [start, stop) of one row (see N_TIME_SUMS)."""
    s_y = 0.0
    s_yy = 0.0
    s_d = 0.0
    s_dd = 0.0
    s_dy = 0.0
    s_abs_d = 0.0
    for i in range(start, stop):
        y = np.float64(ref_row[i])
        d = np.float64(est_row[i]) - y
        s_abs_d += abs(d)
        y -= k_y
        d -= k_d
        s_y += y
        s_yy += y * y
        s_d += d
        s_dd += d * d
        s_dy += d * y
    return s_y, s_yy, s_d, s_dd, s_dy, s_abs_d


@cpu_kernel
def time_sums(est, ref):
    """Shifted sums per row and the shifts: ((N, N_TIME_SUMS), (N, N_SHIFTS)) float64.

    est, ref: (N, T) arrays of one float dtype. A non-finite input sample makes its row's
    sums non-finite, which is how the caller detects it without a separate scan.
    """
    n_rows, length = est.shape
    chunks_per_row = (length + CHUNK - 1) // CHUNK
    n_tasks = n_rows * chunks_per_row
    shifts = np.empty((n_rows, N_SHIFTS))
    for row in numba_prange(n_rows):
        k_y, k_d = row_shifts(est[row], ref[row])
        shifts[row, SHIFT_Y] = k_y
        shifts[row, SHIFT_D] = k_d
    partial = np.empty((n_tasks, N_TIME_SUMS))
    for task in numba_prange(n_tasks):
        row = task // chunks_per_row
        start = (task % chunks_per_row) * CHUNK
        stop = min(start + CHUNK, length)
        sums = accumulate_time_sums(est[row], ref[row], start, stop,
                                    shifts[row, SHIFT_Y], shifts[row, SHIFT_D])
        for s in range(N_TIME_SUMS):
            partial[task, s] = sums[s]
    totals = np.zeros((n_rows, N_TIME_SUMS))
    for task in range(n_tasks):   # fixed order: deterministic for any thread count
        for s in range(N_TIME_SUMS):
            totals[task // chunks_per_row, s] += partial[task, s]
    return totals, shifts


@cpu_function
def log_cosh(x, eps):
    """ln(cosh(x) + eps), without overflow for large |x|. Plain `math`, so cuda/terms.py
    compiles this same source for the GPU."""
    ax = abs(x)
    if ax < 20.0:
        return math.log(math.cosh(ax) + eps)
    # cosh(x) = e^|x| (1 + e^-2|x|) / 2, and eps is below float64 resolution there
    return ax - 0.6931471805599453 + math.log1p(math.exp(-2.0 * ax))


@cpu_kernel
def log_cosh_sums(est, ref, a, eps):
    """Per row: sum over samples of ln(cosh(a * (est - ref)) + eps), float64 (N,)."""
    n_rows, length = est.shape
    chunks_per_row = (length + CHUNK - 1) // CHUNK
    n_tasks = n_rows * chunks_per_row
    partial = np.empty(n_tasks)
    for task in numba_prange(n_tasks):
        row = task // chunks_per_row
        start = (task % chunks_per_row) * CHUNK
        stop = min(start + CHUNK, length)
        total = 0.0
        for i in range(start, stop):
            total += log_cosh(a * (np.float64(est[row, i]) - np.float64(ref[row, i])), eps)
        partial[task] = total
    totals = np.zeros(n_rows)
    for task in range(n_tasks):
        totals[task // chunks_per_row] += partial[task]
    return totals
