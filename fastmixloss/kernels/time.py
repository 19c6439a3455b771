"""Time-domain kernels: every MSE-family loss from one pass over both signals.

Per row (one channel of one item), with d = est - ref and y = ref, the pass accumulates
shifted sums in float64. The shifts k_y and k_d are means of the row's first samples: sums
of (value - shift) keep centred quantities free of cancellation when a signal carries a
DC offset, and the residual is accumulated directly, so a near-perfect estimate does
not lose its small error to a difference of two large energies.

Every sum is kept per CHUNK of a row (the `*_chunk_sums` functions) and the chunks are
added in order by the caller: a signal fed in consecutive pieces of whole chunks gives
the same sums, bit for bit, as the whole signal (time_domain.TimePass). The rare rows
these sums cannot settle are recomputed by exact_span, one pass at a time over spans.
"""

import math

import numpy as np

from .jit import cpu_function, cpu_kernel
from .workers import read_only, run_workers, thread_count

from .layout import (EXACT_ALPHA, EXACT_D, EXACT_DD, EXACT_ENERGIES, EXACT_EY,
                     EXACT_EY_LOW, EXACT_MEAN_E, EXACT_MEAN_Y, EXACT_MEANS, EXACT_OFF_E,
                     EXACT_OFF_Y, EXACT_RESIDUAL, EXACT_RESIDUAL_PASS, EXACT_SUM_E,
                     EXACT_SUM_Y, EXACT_Y_MAX, EXACT_Y_MIN, EXACT_YY, EXACT_YY_LOW,
                     N_SHIFTS, N_TIME_SUMS, SHIFT_D, SHIFT_SAMPLES, SHIFT_Y)
from .layout import TIME_CHUNK as CHUNK   # samples per task: balances threads on one song


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


def chunk_count(length):
    """Chunks of a row of `length` samples (the last may be short)."""
    return (length + CHUNK - 1) // CHUNK


def time_shifts(est, ref):
    """(N, N_SHIFTS) float64: row_shifts of each row of est, ref (N, T), read from the
    first SHIFT_SAMPLES samples (the first piece of a signal fed in pieces holds them)."""
    shifts = np.empty((est.shape[0], N_SHIFTS))
    run_workers(row_shifts_worker, est.shape[0], thread_count(), read_only(est),
                read_only(ref), shifts)
    return shifts


def time_chunk_sums(est, ref, shifts, differences):
    """Per CHUNK of each row of est, ref (N, n): (shifted, light) float64 partial sums.

    shifted: (N, chunks, N_TIME_SUMS), the shifted sums about `shifts` (N, N_SHIFTS), or
    None where shifts is None. light: (N, chunks, 2), accumulate_differences's sum of d^2
    and of |d|, or None unless `differences`. Both come from one task per chunk, which
    runs the two loops on the chunk while it is in cache; each loop is the one its sums
    alone would run, so they are the same bits as either alone. A non-finite input sample
    makes its chunk's sums non-finite, which is how the caller detects it without a
    separate scan. est, ref: C-contiguous, one float dtype.
    """
    n_rows, length = est.shape
    n_chunks = chunk_count(length)
    shifted = np.empty((n_rows, 0 if shifts is None else n_chunks, N_TIME_SUMS))
    light = np.empty((n_rows, n_chunks if differences else 0, 2))
    if shifted.shape[1] or light.shape[1]:
        about = np.zeros((n_rows, N_SHIFTS)) if shifts is None else shifts   # unread
        run_workers(time_sums_worker, n_rows * n_chunks, thread_count(), read_only(est),
                    read_only(ref), np.ascontiguousarray(about, dtype=np.float64),
                    shifted, light)
    return (None if shifts is None else shifted), (light if differences else None)


def time_sums(est, ref):
    """Shifted sums per row and the shifts of whole rows: ((N, N_TIME_SUMS), (N,
    N_SHIFTS)) float64, the chunks added in order (deterministic for any thread count).
    est, ref: (N, T) C-contiguous arrays of one float dtype."""
    shifts = time_shifts(est, ref)
    shifted, _ = time_chunk_sums(est, ref, shifts, False)
    return shifted.sum(axis=1), shifts


def difference_sums(est, ref):
    """Per row: (sum of (est - ref)**2, sum of |est - ref|), float64 (N, 2).

    The lighter pass of MSE and L1, which need no shifted sums: two accumulators instead
    of six keep the loop vectorised and bound by reading the inputs.
    est, ref: (N, T) C-contiguous arrays of one float dtype.
    """
    _, light = time_chunk_sums(est, ref, None, True)
    return light.sum(axis=1)


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
def time_sums_worker(est, ref, shifts, partial, light, worker, n_workers):
    """For this worker's tasks (task = row * chunks_per_row + chunk): partial[row, chunk]
    = the shifted sums of one CHUNK of one row, and light[row, chunk] = its
    accumulate_differences. Either array may have no chunks ((N, 0, k)): its loop is
    skipped (one compiled kernel for MSE's light pass, the ratio losses' and both)."""
    n_rows, length = est.shape
    with_shifted = partial.shape[1] > 0
    with_light = light.shape[1] > 0
    chunks_per_row = max(partial.shape[1], light.shape[1])
    for task in range(worker, n_rows * chunks_per_row, n_workers):
        row, chunk, start, stop = chunk_of_task(task, chunks_per_row, length)
        est_span = est[row, start:stop]
        ref_span = ref[row, start:stop]
        if with_light:
            squares, absolute = accumulate_differences(est_span, ref_span)
            light[row, chunk, 0] = squares
            light[row, chunk, 1] = absolute
        if with_shifted:
            sums = accumulate_time_sums(est_span, ref_span, shifts[row, SHIFT_Y],
                                        shifts[row, SHIFT_D])
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


def log_cosh_chunk_sums(est, ref, a, eps):
    """Per CHUNK of each row of est, ref (N, n): the sum of ln(cosh(a * (est - ref)) +
    eps), float64 (N, chunks). a, eps: floats."""
    n_rows, length = est.shape
    chunks_per_row = chunk_count(length)
    partial = np.empty((n_rows, chunks_per_row))
    run_workers(log_cosh_worker, n_rows * chunks_per_row, thread_count(), read_only(est),
                read_only(ref), float(a), float(eps), partial)
    return partial


def log_cosh_sums(est, ref, a, eps):
    """Per row: sum over samples of ln(cosh(a * (est - ref)) + eps), float64 (N,).

    est, ref: (N, T) C-contiguous arrays of one float dtype; a, eps: floats.
    """
    return log_cosh_chunk_sums(est, ref, a, eps).sum(axis=1)


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


# No fast-math in the exact path: reassociating (e - mean_e) - alpha * (y - mean_y) would
# bring back the cancellation this path exists to avoid. Without it every sum runs one
# sample after another, so a row fed span by span, its sums carried in `state`, gives
# the same bits as the whole row.
@cpu_function(fastmath=frozenset())
def exact_span(est_span, ref_span, scale, stage, state):
    """One of the exact recomputation's passes over one span of a row, into `state` (the
    layout.EXACT_* values of the row, carried from span to span).

    The one-pass sums give each energy as a difference of larger terms (a shift, a
    closed form for SI-SDR's residual); where that difference cancels, or where squares of
    huge samples overflow, the row is recomputed: samples times `scale` (a power of two,
    so exact), minus their means, then the sums directly. The passes (`stage`):

    EXACT_MEANS: sum e and sum y (of the scaled samples; the caller sets the means from
        them, or leaves them 0 when not centred and skips this pass).
    EXACT_ENERGIES: sum d^2, sum y^2, sum e*y (e, y less their means), sum d (d = e - y,
        raw) and the deviations' sums off_e, off_y. yy and ey are compensated (Neumaier)
        sums, their low parts kept apart (the caller adds them): alpha = ey / yy must be
        right to about an ulp, since an error da in it adds da**2 * yy to SI-SDR's
        residual, which for a scaled copy is far below eps (measured: plain sums put
        1e-15 there instead of 1e-18).
    EXACT_RESIDUAL_PASS: SI-SDR's residual sum (e - mean_e - alpha (y - mean_y))^2, with
        the means and alpha the caller set.

    The first two also keep ref's minimum and maximum (unscaled; start from +inf, -inf).
    """
    n = est_span.shape[0]
    mean_e = state[EXACT_MEAN_E]
    mean_y = state[EXACT_MEAN_Y]
    if stage != EXACT_RESIDUAL_PASS:
        y_min = state[EXACT_Y_MIN]
        y_max = state[EXACT_Y_MAX]
        for i in range(n):
            y_min = min(y_min, np.float64(ref_span[i]))
            y_max = max(y_max, np.float64(ref_span[i]))
        state[EXACT_Y_MIN] = y_min
        state[EXACT_Y_MAX] = y_max
    if stage == EXACT_MEANS:
        sum_e = state[EXACT_SUM_E]
        sum_y = state[EXACT_SUM_Y]
        for i in range(n):
            sum_e += np.float64(est_span[i]) * scale
            sum_y += np.float64(ref_span[i]) * scale
        state[EXACT_SUM_E] = sum_e
        state[EXACT_SUM_Y] = sum_y
    elif stage == EXACT_ENERGIES:
        dd = state[EXACT_DD]
        d_sum = state[EXACT_D]
        off_e = state[EXACT_OFF_E]
        off_y = state[EXACT_OFF_Y]
        yy = state[EXACT_YY]
        yy_low = state[EXACT_YY_LOW]
        ey = state[EXACT_EY]
        ey_low = state[EXACT_EY_LOW]
        for i in range(n):
            e = np.float64(est_span[i]) * scale
            y = np.float64(ref_span[i]) * scale
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
        state[EXACT_DD] = dd
        state[EXACT_D] = d_sum
        state[EXACT_OFF_E] = off_e
        state[EXACT_OFF_Y] = off_y
        state[EXACT_YY] = yy
        state[EXACT_YY_LOW] = yy_low
        state[EXACT_EY] = ey
        state[EXACT_EY_LOW] = ey_low
    else:
        alpha = state[EXACT_ALPHA]
        residual = state[EXACT_RESIDUAL]
        for i in range(n):
            r = (np.float64(est_span[i]) * scale - mean_e
                 - alpha * (np.float64(ref_span[i]) * scale - mean_y))
            residual += r * r
        state[EXACT_RESIDUAL] = residual


def exact_energies(est, ref, rows, scales, stage, state):
    """exact_span of pass `stage` over the listed rows of est, ref (N, n), a span of the
    signal: the rows' new state, float64 (len(rows), N_EXACT) (`state` is not changed).
    scales: (len(rows),) float64, one per row. Only rows the one-pass sums could not
    settle come here, so one task per row is enough."""
    state = np.array(state, dtype=np.float64, order="C")
    run_workers(exact_energies_worker, len(rows), thread_count(), read_only(est),
                read_only(ref), np.ascontiguousarray(rows, dtype=np.int64),
                np.ascontiguousarray(scales, dtype=np.float64), int(stage), state)
    return state


@cpu_kernel(fastmath=frozenset())
def exact_energies_worker(est, ref, rows, scales, stage, state, worker, n_workers):
    """state[i] = exact_span of row rows[i], for this worker's share of the rows."""
    for i in range(worker, rows.shape[0], n_workers):
        exact_span(est[rows[i]], ref[rows[i]], scales[i], stage, state[i])
