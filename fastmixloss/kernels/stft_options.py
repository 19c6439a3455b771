"""The fused STFT-loss kernel with the spectral options (filterbank, prefilter, scale,
generalised log and floors, phase, framing variants).

The same per-block pipeline as stft.py, with stages more: after the FFT, floored
magnitudes -> optional sparse filterbank -> per-band terms (-> phase). No spectrogram is
held: beyond the inputs, each worker keeps one block's frames, spectra, one frame's
magnitudes and bands. Without options the plain kernel in stft.py runs instead (it is
faster).

With the A-weighting prefilter, every resolution reads the same filtered signals. They are
filtered once per segment (SEGMENT frame-start positions) for all resolutions of the call,
into buffers that hold just that segment's span; each resolution's worker then reads its
frames from there. Filtering each block's span inside each resolution's worker instead
filtered every sample about four times over for MR-STFT's defaults (1.3 spans per block,
three resolutions), which cost more than the transforms.
"""

import numpy as np
import rocket_fft
from numba.extending import overload
from numba.np.numpy_support import as_dtype

from .filterbank import block_terms
from .frames import (apply_window, fir_span, read_frame_from_span, read_mixed_frame,
                     read_mixed_frame_zero_padded, span_bounds)
from .jit import cpu_kernel
from .layout import N_OPTION_TERMS, frames_per_block
# estimate and reference frames take the same FFT path: see stft.py
from .stft import block_of_task, row_block_sums, simd_rows
from .workers import read_only, run_workers

# frame-start positions per prefilter segment: large against the longest frame (the span
# a segment filters exceeds it by one frame), small enough that the filtered buffers of a
# few items stay in the low megabytes
SEGMENT = 1 << 17
# samples filtered per FIR task
FIR_CHUNK = 1 << 13
# filtered samples (both signals) held at once: items are filtered in groups within it
FILTERED_BUDGET = 1 << 22


def stft_option_sums(est, ref, mix, jobs, taps, alphas, n_threads):
    """Term sums per (item, row) of each job: a list of float64 (B, R, N_OPTION_TERMS)
    arrays, see layout.py.

    Parameters
    ----------
    est, ref, n_threads : as stft.stft_row_partials.
    mix : (R, C) row weights in the signals' dtype.
    jobs : sequence of (window, plan, options, fb_starts, fb_offsets, fb_weights): a
        layout.FramePlan and layout.OptionPlan per resolution, the window in the signals'
        dtype, and the sparse filterbank's arrays (filterbanks.Filterbank's; placeholders
        when options.n_bands == 0). Either every job prefilters or none.
    taps : (K,) float64 FIR taps, K odd (a placeholder without a prefilter).
    alphas : one (B, R) float64 per job: the scale of the reference values (ones without
        scale invariance).
    """
    mix = (np.eye(est.shape[1], dtype=est.dtype) if mix is None
           else np.ascontiguousarray(mix, est.dtype))
    prefilter = {bool(job[2].prefilter) for job in jobs}
    if len(prefilter) > 1:
        raise ValueError("either every job of one call prefilters or none does")
    alphas = [read_only(np.ascontiguousarray(alpha, np.float64)) for alpha in alphas]
    if prefilter == {True}:
        return _prefiltered_sums(est, ref, mix, jobs, read_only(taps), alphas, n_threads)
    length = est.shape[2]
    return [row_block_sums(stft_option_worker, N_OPTION_TERMS, est, ref, mix, window, plan,
                           n_threads, options, read_only(starts), read_only(offsets),
                           read_only(weights), alpha, 0, length)
            for (window, plan, options, starts, offsets, weights), alpha in zip(jobs, alphas)]


# the kernels' own bounds, run as plain Python here (no compile for a few integers)
_span_bounds = span_bounds.py_func


def segment_frames(length, jobs, segment):
    """The prefilter's segments: a list of (first, stop, ranges), where [first, stop) are
    the signal samples that the frames of segment s read (reflections included) and
    ranges[j] = (k0, k1) the frames of job j whose start k * hop (in padded positions)
    lies in [s * segment, (s + 1) * segment). Depends on the length, the plans and
    `segment` only, so an item's segments never depend on the batch."""
    segments = []
    s = 0
    while True:
        ranges = []
        first, stop = length, 0
        for _, plan, options, *_ in jobs:
            hop = plan.hop_size
            k0 = min(plan.n_frames, -(-s * segment // hop))
            k1 = min(plan.n_frames, -(-(s + 1) * segment // hop))
            ranges.append((k0, k1))
            if k1 > k0:
                a, b = _span_bounds(k0 * hop - options.pad_left,
                                    (k1 - 1) * hop - options.pad_left + plan.fft_size,
                                    length)
                first, stop = min(first, a), max(stop, b)
        if all(k1 <= k0 for k0, k1 in ranges):
            return segments
        segments.append((first, stop, ranges))
        s += 1


def _prefiltered_sums(est, ref, mix, jobs, taps, alphas, n_threads):
    """stft_option_sums with the prefilter: per group of items and per segment, filter the
    span once (fir_rows_worker), then run every job's frames of that segment over it.
    Each (item, row)'s sums are added segment by segment in order, so they do not depend
    on the thread count or the group."""
    n_items, _, length = est.shape
    n_rows = mix.shape[0]
    dtype = est.dtype
    segments = segment_frames(length, jobs, SEGMENT)
    width = max(stop - first for first, stop, _ in segments)
    per_group = max(1, FILTERED_BUDGET // (2 * n_rows * width))
    totals = [np.zeros((n_items, n_rows, N_OPTION_TERMS)) for _ in jobs]
    est, ref, mix = read_only(est), read_only(ref), read_only(mix)
    for g0 in range(0, n_items, per_group):
        g1 = min(n_items, g0 + per_group)
        for first, stop, ranges in segments:
            # fresh C-contiguous buffers: one worker signature for every segment
            span_e = np.empty((g1 - g0, n_rows, stop - first), dtype)
            span_r = np.empty_like(span_e)
            n_chunks = -(-(stop - first) // FIR_CHUNK)
            run_workers(fir_rows_worker, (g1 - g0) * n_rows * n_chunks, n_threads,
                        est[g0:g1], ref[g0:g1], mix, taps, first, stop, span_e, span_r)
            for job, alpha, total, (k0, k1) in zip(jobs, alphas, totals, ranges):
                if k1 <= k0:
                    continue
                window, plan, options, starts, offsets, weights = job
                count = k1 - k0
                # frames k0 .. k1 - 1 as a plan of their own: frame j starts at
                # (k0 + j) * hop - pad_left
                part = plan._replace(n_frames=count,
                                     frames_per_block=frames_per_block(plan.fft_size, count))
                shifted = options._replace(pad_left=options.pad_left - k0 * plan.hop_size)
                total[g0:g1] += row_block_sums(
                    stft_option_worker, N_OPTION_TERMS, span_e, span_r, None, window,
                    part, n_threads, shifted, read_only(starts), read_only(offsets),
                    read_only(weights), alpha[g0:g1], first, length)
            del span_e, span_r   # before the next segment's are made
    return totals


def complex_rows(n_rows, n_bins, dtype):
    """An uninitialised (n_rows, n_bins) array of the complex type of a real dtype."""
    return np.empty((n_rows, n_bins), np.result_type(dtype, np.complex64))


@overload(complex_rows)
def _complex_rows(n_rows, n_bins, dtype):
    complex_dtype = np.result_type(as_dtype(dtype.dtype), np.complex64)

    def impl(n_rows, n_bins, dtype):
        return np.empty((n_rows, n_bins), complex_dtype)
    return impl


@cpu_kernel
def fir_rows_worker(est, ref, mix, taps, first, stop, span_e, span_r, worker, n_workers):
    """One worker's share of filtering samples [first, stop) of every (item, row) of the
    group: span[item, row, n - first] = the FIR of the row's channel mix at sample n,
    rounded to the signals' dtype (as a frame holds it). Tasks (item, row, chunk of
    FIR_CHUNK samples)."""
    n_rows = mix.shape[0]
    n_chunks = (stop - first + FIR_CHUNK - 1) // FIR_CHUNK
    n_tasks = est.shape[0] * n_rows * n_chunks
    raw = np.empty(FIR_CHUNK + taps.shape[0])
    for task in range(worker, n_tasks, n_workers):
        item = task // (n_rows * n_chunks)
        row = (task // n_chunks) % n_rows
        lo = first + (task % n_chunks) * FIR_CHUNK
        hi = min(stop, lo + FIR_CHUNK)
        fir_span(est[item], mix[row], taps, lo, hi, raw, span_e[item, row, lo - first:])
        fir_span(ref[item], mix[row], taps, lo, hi, raw, span_r[item, row, lo - first:])


@cpu_kernel
def stft_option_worker(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                       fb_weights, alpha, span_first, length, partial, worker, n_workers):
    """One worker's share of `stft_option_sums`: tasks worker, worker + n_workers, ...

    Without a prefilter, est and ref are the signals (B, C, T) and each row is mixed from
    their channels as its frames are read. With options.prefilter they are the filtered
    rows (B, R, W) holding samples [span_first, span_first + W) of rows `length` samples
    long (see _prefiltered_sums), and mix only gives the row count.

    partial: (B * R * n_blocks, N_OPTION_TERMS) float64, task (item, row, block) at
    (item * R + row) * n_blocks + block.
    """
    n_items = est.shape[0]
    n_rows = mix.shape[0]
    fft_size = plan.fft_size
    n_bins = fft_size // 2 + 1
    n_values = options.n_bands if options.n_bands > 0 else n_bins
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    n_tasks = n_items * n_rows * n_blocks
    pad = options.pad_left
    lo = plan.win_start
    hi = plan.win_stop
    fft_axes = np.array([1])
    half = simd_rows(per_block)
    frames = np.zeros((2 * half, fft_size), est.dtype)
    spectra = complex_rows(2 * half, n_bins, est.dtype)
    mags = np.empty((2 * half, n_bins))
    bands = np.empty((2 * half, n_values))
    for task in range(worker, n_tasks, n_workers):
        item, row, first, count, offset = block_of_task(task, n_rows, n_blocks, plan)
        for k in range(2 * count):
            side = k // count
            j = k - side * count
            frame = frames[side * offset + j]
            start = (first + j) * plan.hop_size - pad
            if options.prefilter:
                read_frame_from_span(est[item, row] if side == 0 else ref[item, row],
                                     span_first, length, start, frame, lo, hi)
            elif options.zero_pad:
                read_mixed_frame_zero_padded(est[item] if side == 0 else ref[item],
                                             mix[row], start, frame, lo, hi)
            else:
                read_mixed_frame(est[item] if side == 0 else ref[item], mix[row], start,
                                 frame, lo, hi)
            apply_window(frame, window, lo, hi)
        # complex output (rfft's layout), so that the stages after it run flat over the
        # block's bins
        rocket_fft.r2c(frames[:2 * offset], spectra[:2 * offset], fft_axes, True, 1.0, 1)
        sc_num, sc_den, log_dist, lin_dist, phase, dot = block_terms(
            spectra, count, offset, plan, options, fb_starts, fb_offsets, fb_weights,
            alpha[item, row], mags, bands)
        partial[task, 0] = sc_num
        partial[task, 1] = sc_den
        partial[task, 2] = log_dist
        partial[task, 3] = lin_dist
        partial[task, 4] = phase
        partial[task, 5] = dot
