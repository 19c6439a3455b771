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

from .layout import (EXACT_D, EXACT_DD, EXACT_EY, EXACT_RESIDUAL, EXACT_Y_MAX,  # noqa: F401
                     EXACT_Y_MIN, EXACT_YY, N_EXACT, N_SHIFTS, N_TIME_SUMS, SHIFT_D,
                     SHIFT_SAMPLES, SHIFT_Y)

CHUNK = 1 << 16   # samples per task: small enough to balance threads on a single song


# The per-sample formulas are plain Python on scalars: cuda/terms.py compiles these same
# sources for the GPU, whose kernels add the samples of a row in their own order. They
# take the reference's sample first: the order the loops read the two signals in decides,
# through LLVM's reassociation of the vectorised sums, their last bits on the CPU.

@cpu_function
def add_shift_sample(k_y, k_d, ref_sample, est_sample):
    """(k_y, k_d) with one more sample of ref and of est - ref added, in float64: the
    sums whose means are row_shifts."""
    y = np.float64(ref_sample)
    return k_y + y, k_d + (np.float64(est_sample) - y)


@cpu_function
def add_time_sample(s_y, s_yy, s_d, s_dd, s_dy, s_abs_d, ref_sample, est_sample, k_y,
                    k_d):
    """The shifted sums (N_TIME_SUMS, in their order) with one more sample added, in
    float64: with y = ref and d = est - ref, the sums of y - k_y, its square, d - k_d,
    its square, their product, and |d|."""
    y = np.float64(ref_sample)
    d = np.float64(est_sample) - y
    s_abs_d += abs(d)
    y -= k_y
    d -= k_d
    return s_y + y, s_yy + y * y, s_d + d, s_dd + d * d, s_dy + d * y, s_abs_d


@cpu_function
def row_shifts(est_row, ref_row):
    """(k_y, k_d): means of the first samples of ref and of est - ref, in float64."""
    n = min(est_row.shape[0], SHIFT_SAMPLES)
    k_y = 0.0
    k_d = 0.0
    for i in range(n):
        k_y, k_d = add_shift_sample(k_y, k_d, ref_row[i], est_row[i])
    return k_y / n, k_d / n


@cpu_function
def accumulate_time_sums(est_span, ref_span, k_y, k_d):
    """The shifted sums of one stretch of one row (see N_TIME_SUMS).

    Takes the stretch as 1-D slices and loops from 0: looping over [start, stop) of the
    whole row instead measured 6x the CPU time (the loop did not stream as well).
    """
    s_y = s_yy = s_d = s_dd = s_dy = s_abs_d = 0.0
    for i in range(est_span.shape[0]):
        s_y, s_yy, s_d, s_dd, s_dy, s_abs_d = add_time_sample(
            s_y, s_yy, s_d, s_dd, s_dy, s_abs_d, ref_span[i], est_span[i], k_y, k_d)
    return s_y, s_yy, s_d, s_dd, s_dy, s_abs_d


@cpu_function
def accumulate_differences(est_span, ref_span):
    """(sum of (est - ref)**2, sum of |est - ref|) over one stretch (1-D slices)."""
    squares = 0.0
    absolute = 0.0
    for i in range(est_span.shape[0]):
        d = np.float64(est_span[i]) - np.float64(ref_span[i])
        squares += d * d
        absolute += abs(d)
    return squares, absolute


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


@cpu_function
def chunk_of_task(task, chunks_per_row, length):
    """(row, chunk, start, stop): the stretch of samples that task row * chunks_per_row +
    chunk covers, CHUNK samples (fewer at a row's end)."""
    row = task // chunks_per_row
    chunk = task % chunks_per_row
    start = chunk * CHUNK
    return row, chunk, start, min(start + CHUNK, length)


@cpu_kernel
def time_sums_worker(est, ref, shifts, partial, worker, n_workers):
    """partial[row, chunk] = shifted sums of one CHUNK of one row, for this worker's
    tasks (task = row * chunks_per_row + chunk)."""
    n_rows, length = est.shape
    chunks_per_row = partial.shape[1]
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row, chunk, start, stop = chunk_of_task(task, chunks_per_row, length)
        sums = accumulate_time_sums(est[row, start:stop], ref[row, start:stop],
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
        row, chunk, start, stop = chunk_of_task(task, chunks_per_row, length)
        total = 0.0
        for i in range(start, stop):
            total += log_cosh(a * (np.float64(est[row, i]) - np.float64(ref[row, i])), eps)
        partial[row, chunk] = total


def difference_sums(est, ref):
    """Per row: (sum of (est - ref)**2, sum of |est - ref|), float64 (N, 2).

    The lighter pass of MSE and L1, which need no shifted sums: two accumulators instead
    of six keep the loop vectorised and bound by reading the inputs.
    est, ref: (N, T) C-contiguous arrays of one float dtype.
    """
    n_rows, length = est.shape
    chunks_per_row = (length + CHUNK - 1) // CHUNK
    partial = np.empty((n_rows, chunks_per_row, 2))
    run_workers(difference_sums_worker, n_rows * chunks_per_row, thread_count(),
                read_only(est), read_only(ref), partial)
    return partial.sum(axis=1)   # fixed order: deterministic for any thread count


@cpu_kernel
def difference_sums_worker(est, ref, partial, worker, n_workers):
    """partial[row, chunk] = accumulate_differences of one CHUNK of one row."""
    n_rows, length = est.shape
    chunks_per_row = partial.shape[1]
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row, chunk, start, stop = chunk_of_task(task, chunks_per_row, length)
        squares, absolute = accumulate_differences(est[row, start:stop],
                                                   ref[row, start:stop])
        partial[row, chunk, 0] = squares
        partial[row, chunk, 1] = absolute


# No fast-math in the exact path: reassociating (e - mean_e) - alpha * (y - mean_y) would
# bring back the cancellation this path exists to avoid.
@cpu_function(fastmath=frozenset())
def exact_row_energies(est_row, ref_row, scale, centred, eps, want_residual, out):
    """Energies of one row from its own means, over two or three passes, into `out`.

    The one-pass sums give each energy as a difference of larger terms (a shift, a
    closed form for SI-SDR's residual); where that difference cancels, or where squares of
    huge samples overflow, this recomputes the row: samples times `scale` (a power of two,
    so exact), minus their means when `centred`, then the sums directly. out holds, at
    the EXACT_* indices: sum d^2, sum y^2, sum e*y, sum d (d = e - y, raw), SI-SDR's
    residual sum (e - alpha*y)^2 with alpha = sum e*y / (sum y^2 + eps) (only when
    want_residual), and ref's minimum and maximum (unscaled).
    """
    n = est_row.shape[0]
    sum_e = 0.0
    sum_y = 0.0
    y_min = np.float64(ref_row[0])
    y_max = y_min
    for i in range(n):
        y = np.float64(ref_row[i])
        y_min = min(y_min, y)
        y_max = max(y_max, y)
        sum_e += np.float64(est_row[i]) * scale
        sum_y += y * scale
    mean_e = sum_e / n if centred else 0.0
    mean_y = sum_y / n if centred else 0.0
    dd = 0.0
    d_sum = 0.0
    off_e = 0.0
    off_y = 0.0
    # yy and ey with compensated (Neumaier) sums: alpha = ey / yy must be right to about
    # an ulp, since an error da in it adds da**2 * yy to SI-SDR's residual, which for a
    # scaled copy is far below eps (measured: plain sums put 1e-15 there instead of 1e-18)
    yy = 0.0
    yy_low = 0.0
    ey = 0.0
    ey_low = 0.0
    for i in range(n):
        e = np.float64(est_row[i]) * scale
        y = np.float64(ref_row[i]) * scale
        d_sum += e - y
        e -= mean_e
        y -= mean_y
        off_e += e
        off_y += y
        d = e - y
        dd += d * d
        term = y * y
        total = yy + term
        yy_low += (yy - total) + term if abs(yy) >= abs(term) else (term - total) + yy
        yy = total
        term = e * y
        total = ey + term
        ey_low += (ey - total) + term if abs(ey) >= abs(term) else (term - total) + ey
        ey = total
    yy += yy_low
    ey += ey_low
    residual = 0.0
    if want_residual:
        # The residual of a near-perfect scaled copy is tiny, and a mean off by delta
        # adds n * delta**2 to it: correct the means by their deviations' mean first
        # (the energies above change only to second order in delta).
        if centred:
            mean_e += off_e / n
            mean_y += off_y / n
        alpha = ey / (yy + eps)
        for i in range(n):
            r = (np.float64(est_row[i]) * scale - mean_e
                 - alpha * (np.float64(ref_row[i]) * scale - mean_y))
            residual += r * r
    out[EXACT_DD] = dd
    out[EXACT_YY] = yy
    out[EXACT_EY] = ey
    out[EXACT_D] = d_sum
    out[EXACT_RESIDUAL] = residual
    out[EXACT_Y_MIN] = y_min
    out[EXACT_Y_MAX] = y_max


def exact_energies(est, ref, scales, centred, eps, want_residual):
    """exact_row_energies for each row of est, ref (N, T): float64 (N, N_EXACT).
    scales, eps: (N,) float64, one per row. Only rows the one-pass sums could not settle
    come here, so one task per row is enough."""
    out = np.empty((est.shape[0], N_EXACT))
    run_workers(exact_energies_worker, est.shape[0], thread_count(), read_only(est),
                read_only(ref), np.ascontiguousarray(scales, dtype=np.float64), bool(centred),
                np.ascontiguousarray(eps, dtype=np.float64), bool(want_residual), out)
    return out


@cpu_kernel(fastmath=frozenset())
def exact_energies_worker(est, ref, scales, centred, eps, want_residual, out, worker,
                          n_workers):
    """out[row] = exact_row_energies of this worker's rows."""
    for row in range(worker, est.shape[0], n_workers):
        exact_row_energies(est[row], ref[row], scales[row], centred, eps[row],
                           want_residual, out[row])
