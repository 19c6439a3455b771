"""Time-domain kernels: every MSE-family loss from one pass over both signals.

Per row (one channel of one item), with d = est - ref and y = ref, the pass accumulates
shifted sums in float64. The shifts k_y and k_d are means of the row's first samples: sums
of (value - shift) keep centred quantities free of cancellation when a signal carries a
DC offset, and the residual is accumulated directly, so a near-perfect estimate does
not lose its small error to a difference of two large energies.
"""

import math

import numpy as np

from .jit import cpu_function, cpu_kernel
from .workers import read_only, run_workers, thread_count

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


def time_sums(est, ref):
    """Shifted sums per row and the shifts: ((N, N_TIME_SUMS), (N, N_SHIFTS)) float64.

    est, ref: (N, T) C-contiguous arrays of one float dtype. A non-finite input sample
    makes its row's sums non-finite, which is how the caller detects it without a
    separate scan.
    """
    n_rows, length = est.shape
    est, ref = read_only(est), read_only(ref)
    n_threads = thread_count()
    shifts = np.empty((n_rows, N_SHIFTS))
    run_workers(row_shifts_worker, n_rows, n_threads, est, ref, shifts)
    chunks_per_row = (length + CHUNK - 1) // CHUNK
    partial = np.empty((n_rows, chunks_per_row, N_TIME_SUMS))
    run_workers(time_sums_worker, n_rows * chunks_per_row, n_threads, est, ref, shifts,
                partial)
    # fixed order: deterministic for any thread count
    return partial.sum(axis=1), shifts


@cpu_kernel
def row_shifts_worker(est, ref, shifts, worker, n_workers):
    """shifts[row] = row_shifts of this worker's rows."""
    for row in range(worker, est.shape[0], n_workers):
        k_y, k_d = row_shifts(est[row], ref[row])
        shifts[row, SHIFT_Y] = k_y
        shifts[row, SHIFT_D] = k_d


@cpu_kernel
def time_sums_worker(est, ref, shifts, partial, worker, n_workers):
    """partial[row, chunk] = shifted sums of one CHUNK of one row, for this worker's
    tasks (task = row * chunks_per_row + chunk)."""
    n_rows, length = est.shape
    chunks_per_row = partial.shape[1]
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row = task // chunks_per_row
        chunk = task % chunks_per_row
        start = chunk * CHUNK
        stop = min(start + CHUNK, length)
        sums = accumulate_time_sums(est[row], ref[row], start, stop,
                                    shifts[row, SHIFT_Y], shifts[row, SHIFT_D])
        for s in range(N_TIME_SUMS):
            partial[row, chunk, s] = sums[s]


@cpu_function
def log_cosh(x, eps):
    """ln(cosh(x) + eps), without overflow for large |x|. Plain `math`, so cuda/terms.py
    compiles this same source for the GPU."""
    ax = abs(x)
    if ax < 20.0:
        return math.log(math.cosh(ax) + eps)
    # cosh(x) = e^|x| (1 + e^-2|x|) / 2, and eps is below float64 resolution there
    return ax - 0.6931471805599453 + math.log1p(math.exp(-2.0 * ax))


def log_cosh_sums(est, ref, a, eps):
    """Per row: sum over samples of ln(cosh(a * (est - ref)) + eps), float64 (N,).

    est, ref: (N, T) C-contiguous arrays of one float dtype; a, eps: floats.
    """
    n_rows, length = est.shape
    chunks_per_row = (length + CHUNK - 1) // CHUNK
    partial = np.empty((n_rows, chunks_per_row))
    run_workers(log_cosh_worker, n_rows * chunks_per_row, thread_count(), read_only(est),
                read_only(ref), float(a), float(eps), partial)
    return partial.sum(axis=1)


@cpu_kernel
def log_cosh_worker(est, ref, a, eps, partial, worker, n_workers):
    """partial[row, chunk] = the log-cosh sum of one CHUNK of one row, for this worker's
    tasks."""
    n_rows, length = est.shape
    chunks_per_row = partial.shape[1]
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row = task // chunks_per_row
        chunk = task % chunks_per_row
        start = chunk * CHUNK
        stop = min(start + CHUNK, length)
        total = 0.0
        for i in range(start, stop):
            total += log_cosh(a * (np.float64(est[row, i]) - np.float64(ref[row, i])), eps)
        partial[row, chunk] = total
