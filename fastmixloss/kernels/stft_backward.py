"""The fused backward of the STFT-loss kernels (stft.py, stft_options.py) for the CPU.

Per span of frames of one item: read and window the frames of estimate and reference
again (reflect padding by index as the forward, or zeros for uncentred frames), transform
them (rocket-fft's FFTPACK r2r, as the plain forward), form each bin's dL/d(spectrum) from
the row's coefficients (the plain kernel's terms: terms_backward.spectrum_grad; the
options': option_frame_grad, through the floored magnitudes, the transposed filterbank,
the generalised log and the phase), transform back with the adjoint of the forward real
FFT (FFTPACK's unnormalised inverse r2r of the interior-halved gradient), multiply by the
window and overlap-add into the gradient signal, folding the reflected padding back onto
the samples it was read from. No spectrogram is held: beyond the inputs and the float64
gradient, each worker keeps one FFT group's frames.

Rows are weighted mixes of an item's channels (the identity, or L + R and L - R): a row's
frame gradient goes to the channels by the transposed mix. With the A-weighting prefilter
the kernel runs on the filtered rows (filtered_rows) and their gradient goes back through
the FIR's adjoint (add_fir_adjoint); with scale invariance, a first pass
(reference_scale_sums) gives how the loss moves with each row's reference scale.

Overlap-add is race-free and deterministic: the frames are cut into spans whose sample
footprints (reflections included) do not meet those of any other span of the same parity;
the even spans run first, then the odd ones, and each task adds only into its own span's
samples, frame by frame in order. So every sample's sum is taken in one order whatever the
thread count, and an item's gradient does not depend on the batch.
"""

import math

import numpy as np
import rocket_fft
from numba import uint64

from .filterbank import apply_filterbank, floor_power
from .frames import (apply_window, read_mixed_frame, read_mixed_frame_zero_padded,
                     reflect_index, span_bounds)
from .jit import VECTOR_FASTMATH, cpu_function, cpu_kernel
from .layout import N_TERMS
from .stft import block_count, block_of_task, simd_rows
from .terms_backward import (magnitude_bin_grad, phase_bin_grad, spectrum_grad,
                             spectrum_terms_and_grad, value_grad)
from .workers import read_only, run_workers

# the frames' own bounds, run as plain Python (a few integers per span)
_span_bounds = span_bounds.py_func


def span_footprints(plan, frames_per_span, length):
    """(first, stop) arrays: the signal samples that span s's frames read, reflections
    included (frames_per_span frames from frame s * frames_per_span)."""
    n_spans = -(-plan.n_frames // frames_per_span)
    firsts, stops = np.empty(n_spans, np.int64), np.empty(n_spans, np.int64)
    for s in range(n_spans):
        k0 = s * frames_per_span
        k1 = min(plan.n_frames, k0 + frames_per_span)
        firsts[s], stops[s] = _span_bounds(
            plan.frame_start + k0 * plan.hop_size + plan.win_start,
            plan.frame_start + (k1 - 1) * plan.hop_size + plan.win_stop, length)
    return firsts, stops


def spans_apart(firsts, stops):
    """True where the footprints of the spans of each parity are pairwise disjoint."""
    for parity in (0, 1):
        first, stop = firsts[parity::2], stops[parity::2]
        order = np.argsort(first, kind="stable")
        if np.any(stop[order][:-1] > first[order][1:]):
            return False
    return True


def frames_per_span(plan, length):
    """The fewest frames per span (a multiple of the FFT group, plan.frames_per_block)
    whose same-parity spans never write the same sample: at least the frames whose hops
    cover one frame, doubled until the footprints (reflections included) are apart."""
    group = plan.frames_per_block
    covering = -(-plan.fft_size // plan.hop_size)   # frames whose hops add up to a frame
    per_span = group * max(1, -(-covering // group))
    while per_span < plan.n_frames and not spans_apart(
            *span_footprints(plan, per_span, length)):
        per_span *= 2
    return min(per_span, max(plan.n_frames, 1))


def stft_backward(est, ref, mix, window, plan, coefficients, n_threads, grad,
                  option_arrays, plain):
    """Add the gradient of one resolution's terms to `grad`.

    Parameters
    ----------
    est, ref : (B, C, T) signals, float32 or float64.
    mix : (R, C) channel weights of the rows, in the signals' dtype (None: the channels).
    window : (fft_size,) in the signals' dtype, zero outside [win_start, win_stop).
    plan : layout.FramePlan of the resolution; frame k starts at plan.frame_start +
        k * hop_size.
    coefficients : (B, R, 6) float64: dL/d SC_NUM, dL/d LOG_DIST, dL/d LIN_DIST and
        dL/d PHASE_DIST of each row's sums, the row's reference scale alpha and
        dL/d alpha / sum r**2 (see option_frame_grad; the plain kernel reads the first
        three).
    grad : (B, C, T) float64, added to in place.
    option_arrays : (options, fb_starts, fb_offsets, fb_weights): the layout.OptionPlan
        (its pad_left already in plan.frame_start) and the filterbank's arrays
        (filterbanks.kernel_arrays).
    plain : the plain kernel's terms (stft.py; the options at their neutral values), by
        its per-bin formula (terms_backward.spectrum_grad); else the options kernel's.
    """
    n_items, n_channels, length = est.shape
    dtype = est.dtype
    mix = (np.eye(n_channels, dtype=dtype) if mix is None
           else np.ascontiguousarray(mix, dtype))
    per_span = frames_per_span(plan, length)
    options, starts, offsets, weights = option_arrays
    args = (read_only(est), read_only(ref), read_only(mix),
            read_only(np.ascontiguousarray(window, dtype)), plan, options,
            read_only(starts), read_only(offsets), read_only(weights),
            read_only(np.ascontiguousarray(coefficients, np.float64)), per_span, bool(plain))
    run_spans(stft_backward_worker, n_items, plan, per_span, n_threads, args, (grad,))


def run_spans(worker, n_items, plan, per_span, n_threads, args, outputs):
    """worker(*args, parity, *outputs, w, n) over every (item, span) task, the even spans
    first, then the odd ones: spans of one parity never meet (see frames_per_span)."""
    for parity in (0, 1):
        n_tasks = n_items * spans_of_parity.py_func(plan, per_span, parity)
        if n_tasks > 0:
            run_workers(worker, n_tasks, n_threads, *args, parity, *outputs)


@cpu_function
def spans_of_parity(plan, per_span, parity):
    """How many spans of per_span frames have this parity."""
    n_spans = (plan.n_frames + per_span - 1) // per_span
    return (n_spans - parity + 1) // 2


@cpu_function
def task_span(task, n_parity_spans, parity, plan, per_span):
    """(item, first frame, stop frame) of task `task` of one parity's round: span
    parity + 2 * i of the item, for task i of that item."""
    item = task // n_parity_spans
    span = parity + 2 * (task % n_parity_spans)
    return item, span * per_span, min(plan.n_frames, (span + 1) * per_span)


@cpu_function
def add_frame_gradient(grad_channels, weights, frame, window, start, lo, hi, zero_pad):
    """grad_channels[c, padded position start + n] += weights[c] * window[n] * frame[n]
    for lo <= n < hi: the adjoint of reading and windowing a frame, read_mixed_frame (a
    reflected position adds to the sample it was read from) or, with zero_pad,
    read_mixed_frame_zero_padded (positions outside the signal were zeros: they add
    nothing)."""
    length = grad_channels.shape[1]
    interior = start + lo >= 0 and start + hi <= length
    for c in range(grad_channels.shape[0]):
        weight = np.float64(weights[c])
        if weight == 0:
            continue
        out = grad_channels[c]
        if interior:   # unsigned indices, so that the loop vectorises (see frames.py)
            first = uint64(start + lo)
            for n in range(uint64(0), uint64(hi - lo)):
                out[first + n] += weight * np.float64(window[uint64(lo) + n] *
                                                      frame[uint64(lo) + n])
        elif zero_pad:
            for n in range(max(lo, -start), min(hi, length - start)):
                out[start + n] += weight * np.float64(window[n] * frame[n])
        else:
            for n in range(lo, hi):
                out[reflect_index(start + n, length)] += weight * np.float64(window[n] *
                                                                              frame[n])


@cpu_function(inline=False)   # called once per FFT group
def read_block(est_item, ref_item, mix, window, plan, zero_pad, first, count, offset,
               frames):
    """Frames first .. first + count - 1 of every row, windowed: estimate frame j of row
    m at frames[m * offset + j], the reference's R * offset further (as the forward: both
    take the same FFT path, offset being a multiple of the SIMD group)."""
    n_rows = mix.shape[0]
    lo = plan.win_start
    hi = plan.win_stop
    for side in range(2):
        signal = est_item if side == 0 else ref_item
        for m in range(n_rows):
            base = (side * n_rows + m) * offset
            for j in range(count):
                frame = frames[base + j]
                start = plan.frame_start + (first + j) * plan.hop_size
                if zero_pad:
                    read_mixed_frame_zero_padded(signal, mix[m], start, frame, lo, hi)
                else:
                    read_mixed_frame(signal, mix[m], start, frame, lo, hi)
                apply_window(frame, window, lo, hi)


@cpu_function(inline=False)   # called once per FFT group
def add_block_gradient(grad_item, mix, window, plan, zero_pad, first, count, offset,
                       grad_frames):
    """Window the rows' frame gradients (row m's frame j at grad_frames[m * offset + j])
    and add them to the item's channels by the transposed mix."""
    for m in range(mix.shape[0]):
        for j in range(count):
            add_frame_gradient(grad_item, mix[m], grad_frames[m * offset + j], window,
                               plan.frame_start + (first + j) * plan.hop_size,
                               plan.win_start, plan.win_stop, zero_pad)


@cpu_kernel
def stft_backward_worker(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                         fb_weights, coefficients, per_span, plain, parity, grad, worker,
                         n_workers):
    """One worker's share of one parity's spans: tasks (item, span) worker, worker +
    n_workers, ...; span `parity + 2 * i` for task i of an item. Per FFT group of a span:
    read and transform both signals' frames, each frame's dL/d(spectrum) (the plain
    kernel's formula, or option_frame_grad), the adjoint transform, window, overlap-add."""
    n_items = est.shape[0]
    n_rows = mix.shape[0]
    fft_size = plan.fft_size
    n_bins = fft_size // 2 + 1
    n_values = options.n_bands if options.n_bands > 0 else n_bins
    group = plan.frames_per_block
    n_parity_spans = spans_of_parity(plan, per_span, parity)
    fft_axes = np.array([1])
    half = simd_rows(group)
    frames = np.zeros((2 * n_rows * half, fft_size), est.dtype)
    spectra = np.empty((2 * n_rows * half, fft_size), est.dtype)
    grad_spectra = np.empty((n_rows * half, fft_size), est.dtype)
    grad_frames = np.empty((n_rows * half, fft_size), est.dtype)
    work = np.empty((4, n_bins))
    value_work = np.empty((3, n_values))
    for task in range(worker, n_items * n_parity_spans, n_workers):
        item, span_first, span_stop = task_span(task, n_parity_spans, parity, plan,
                                                per_span)
        for first in range(span_first, span_stop, group):
            count = min(group, span_stop - first)
            offset = simd_rows(count)
            read_block(est[item], ref[item], mix, window, plan, options.zero_pad, first,
                       count, offset, frames)
            used = 2 * n_rows * offset
            rocket_fft.r2r_fftpack(frames[:used], spectra[:used], fft_axes, True, True,
                                   1.0, 1)
            for m in range(n_rows):
                row_coefficients = coefficients[item, m]
                for j in range(count):
                    spec_e = spectra[m * offset + j]
                    spec_r = spectra[(n_rows + m) * offset + j]
                    if plain:
                        spectrum_grad(spec_e, spec_r, plan.eps, plan.log_mode,
                                      plan.lin_mode, row_coefficients[0],
                                      row_coefficients[1], row_coefficients[2],
                                      grad_spectra[m * offset + j])
                    else:
                        option_frame_grad(spec_e, spec_r, plan, options, fb_starts,
                                          fb_offsets, fb_weights, row_coefficients, work,
                                          value_work, grad_spectra[m * offset + j])
            used = n_rows * offset
            # FFTPACK's unnormalised inverse: the forward's transpose (see spectrum_grad)
            rocket_fft.r2r_fftpack(grad_spectra[:used], grad_frames[:used], fft_axes, False,
                                   False, 1.0, 1)
            add_block_gradient(grad[item], mix, window, plan, options.zero_pad, first,
                               count, offset, grad_frames)


# --- the value and the gradient in one pass (the plain kernel) ------------------------

def stft_value_and_grad(est, ref, mix, window, plan, rest_coefficients, n_threads, grad,
                        grad_num):
    """One resolution's forward sums and its gradient, from one transform of each frame.

    The coefficients of the log and linear terms depend on shapes only; spectral
    convergence's, dL/d SC_NUM, on the sums of the whole signal. So each frame's gradient
    is formed in two parts (terms_backward.spectrum_terms_and_grad), transformed back
    together: the log and linear terms' into `grad` (B, C, T), SC_NUM's per row into
    `grad_num` (B, R, T), which the caller scales by each row's dL/d SC_NUM once the
    sums are in. Four transforms per frame (estimate, reference, two adjoints) against
    the five of the forward and stft_backward apart.

    Arguments as stft_backward's (plan: the plain kernel's FramePlan, reflect padding);
    rest_coefficients: (B, R, 2) float64, dL/d LOG_DIST and dL/d LIN_DIST per row.
    Returns the sums per (item, block, row) as stft.stft_row_partials gives them for the
    frame mix `mix` and the identity as row mix, to rounding: the same frames, transform
    calls and per-bin terms (terms_backward.spectrum_terms_and_grad), each frame's bins
    added in another order (measured: values within 3.5e-16 relative).
    """
    n_items, n_channels, length = est.shape
    dtype = est.dtype
    mix = (np.eye(n_channels, dtype=dtype) if mix is None
           else np.ascontiguousarray(mix, dtype))
    n_rows = mix.shape[0]
    per_span = frames_per_span(plan, length)
    partial = np.empty((n_items, block_count(plan), n_rows, N_TERMS))
    args = (read_only(est), read_only(ref), read_only(mix),
            read_only(np.eye(n_rows, dtype=dtype)),
            read_only(np.ascontiguousarray(window, dtype)), plan,
            read_only(np.ascontiguousarray(rest_coefficients, np.float64)), per_span)
    run_spans(value_grad_worker, n_items, plan, per_span, n_threads, args,
              (partial, grad, grad_num))
    return partial


@cpu_kernel
def value_grad_worker(est, ref, mix, identity, window, plan, rest_coefficients, per_span,
                      parity, partial, grad, grad_num, worker, n_workers):
    """One worker's share of stft_value_and_grad's spans of one parity (tasks as
    stft_backward_worker's). A span's FFT groups are the forward's blocks (spans hold
    whole groups), so each block's sums are the forward kernel's, to rounding."""
    n_items = est.shape[0]
    n_rows = mix.shape[0]
    fft_size = plan.fft_size
    group = plan.frames_per_block
    n_parity_spans = spans_of_parity(plan, per_span, parity)
    fft_axes = np.array([1])
    half = simd_rows(group)
    # Two buffers, as the forward's (near L2; four measured 1.7x slower on two threads):
    # frames -> spectra; the spectra's gradient parts into frames (rows' SC_NUM parts at
    # m * offset + j, their log and linear parts R * offset further) -> back into spectra
    frames = np.zeros((2 * n_rows * half, fft_size), est.dtype)
    spectra = np.empty((2 * n_rows * half, fft_size), est.dtype)
    lo = plan.win_start
    hi = plan.win_stop
    for task in range(worker, n_items * n_parity_spans, n_workers):
        item, span_first, span_stop = task_span(task, n_parity_spans, parity, plan,
                                                per_span)
        for first in range(span_first, span_stop, group):
            count = min(group, span_stop - first)
            offset = simd_rows(count)
            read_block(est[item], ref[item], mix, window, plan, False, first, count,
                       offset, frames)
            used = 2 * n_rows * offset
            rocket_fft.r2r_fftpack(frames[:used], spectra[:used], fft_axes, True, True,
                                   1.0, 1)
            block = first // group
            for m in range(n_rows):   # as stft.stft_rows_worker adds a row's terms
                c_log = rest_coefficients[item, m, 0]
                c_lin = rest_coefficients[item, m, 1]
                sc_num = 0.0
                sc_den = 0.0
                log_dist = 0.0
                lin_dist = 0.0
                for j in range(count):
                    a, b, c, d = spectrum_terms_and_grad(
                        spectra[m * offset + j], spectra[(n_rows + m) * offset + j],
                        plan.eps, plan.log_mode, plan.lin_mode, c_log, c_lin,
                        frames[m * offset + j], frames[(n_rows + m) * offset + j])
                    sc_num += a
                    sc_den += b
                    log_dist += c
                    lin_dist += d
                partial[item, block, m, 0] = sc_num
                partial[item, block, m, 1] = sc_den
                partial[item, block, m, 2] = log_dist
                partial[item, block, m, 3] = lin_dist
            # FFTPACK's unnormalised inverse: the forward's transpose (see spectrum_grad)
            rocket_fft.r2r_fftpack(frames[:used], spectra[:used], fft_axes, False, False,
                                   1.0, 1)
            add_block_gradient(grad_num[item], identity, window, plan, False, first, count,
                               offset, spectra)
            add_block_gradient(grad[item], mix, window, plan, False, first, count, offset,
                               spectra[n_rows * offset:])
            # read_block writes the window's support only: the rest must be zeros again
            for r in range(used):
                frames[r, :lo] = 0
                frames[r, hi:] = 0


def add_row_parts(grad, grad_num, weights, n_threads):
    """grad[b, c] += sum over rows r of weights[b, r, c] * grad_num[b, r], then
    grad_num = 0 (ready for the next resolution); one task per item."""
    run_workers(add_row_parts_worker, grad.shape[0], n_threads,
                read_only(np.ascontiguousarray(weights, np.float64)), grad, grad_num)


@cpu_kernel
def add_row_parts_worker(weights, grad, grad_num, worker, n_workers):
    """One worker's items of add_row_parts."""
    n_items, n_channels, length = grad.shape
    for item in range(worker, n_items, n_workers):
        for r in range(grad_num.shape[1]):
            row = grad_num[item, r]
            for c in range(n_channels):
                weight = weights[item, r, c]
                if weight != 0:
                    out = grad[item, c]
                    for n in range(length):
                        out[n] += weight * row[n]
            for n in range(length):
                row[n] = 0


@cpu_function(fastmath=VECTOR_FASTMATH - {"nsz"}, inline=False)   # see spectrum_grad
def option_frame_grad(spec_e, spec_r, plan, options, fb_starts, fb_offsets, fb_weights,
                      coefficients, work, value_work, out):
    """The options kernel's terms' dL/d(spectrum) of one frame pair, in FFTPACK's
    half-complex order with the interior bins halved (see terms_backward.spectrum_grad):
    floored magnitudes -> filterbank (options.n_bands > 0) -> dL/d(value) per value ->
    transposed filterbank -> dL/d(re, im) per bin (+ the phase term's).

    coefficients: (c_num, c_log, c_lin, c_phs, alpha, c_alpha) of the row: alpha scales
    the reference's values, c_alpha = dL/d alpha / sum r**2 (0 without scale
    invariance). work: (4, F) float64 (the bins' magnitudes of both, their gradient),
    value_work (3, n_values).
    """
    n_fft = spec_e.shape[0]
    n_bins = n_fft // 2 + 1
    mags_e = work[0]
    mags_r = work[1]
    d_mags = work[2]
    for side in range(2):
        spec = spec_e if side == 0 else spec_r
        mags = mags_e if side == 0 else mags_r
        for k in range(n_bins):
            re, im = halfcomplex_bin(spec, k)
            mags[k] = math.sqrt(floor_power(re * re + im * im, plan.eps, options.eps_added))
    if options.n_bands > 0:
        values_e = value_work[0]
        values_r = value_work[1]
        d_values = value_work[2]
        apply_filterbank(mags_e, fb_starts, fb_offsets, fb_weights, values_e)
        apply_filterbank(mags_r, fb_starts, fb_offsets, fb_weights, values_r)
    else:
        values_e = mags_e
        values_r = mags_r
        d_values = d_mags
    alpha = coefficients[4]
    for b in range(values_e.shape[0]):
        d_e, _ = value_grad(values_e[b], alpha * values_r[b], options.log_fac,
                            options.log_eps, options.log_threshold, options.log_floor,
                            plan.log_mode, plan.lin_mode, coefficients[0], coefficients[1],
                            coefficients[2])
        # scale invariance: the scale alpha = sum e r / sum r**2 moves with each e
        d_values[b] = d_e + coefficients[5] * values_r[b]
    if options.n_bands > 0:   # the transposed bank: each band's gradient to its bins
        for k in range(n_bins):
            d_mags[k] = 0.0
        for b in range(options.n_bands):
            start = fb_starts[b]
            for i in range(fb_offsets[b], fb_offsets[b + 1]):
                d_mags[start + i - fb_offsets[b]] += fb_weights[i] * d_values[b]
    for k in range(n_bins):
        re, im = halfcomplex_bin(spec_e, k)
        g_re, g_im = magnitude_bin_grad(re, im, plan.eps, options.eps_added, d_mags[k])
        edge = k == 0 or 2 * k == n_fft
        if options.phase and not edge:   # DC and Nyquist are taken as real: no phase
            re_r, im_r = halfcomplex_bin(spec_r, k)
            p_re, p_im = phase_bin_grad(re, im, re_r, im_r, coefficients[3])
            g_re += p_re
            g_im += p_im
        if edge:
            out[0 if k == 0 else n_fft - 1] = g_re
        else:
            out[2 * k - 1] = 0.5 * g_re
            out[2 * k] = 0.5 * g_im


@cpu_function
def halfcomplex_bin(spec, k):
    """(re, im) of bin k of a spectrum in FFTPACK's half-complex order, in float64."""
    n_fft = spec.shape[0]
    if k == 0:
        return np.float64(spec[0]), 0.0
    if 2 * k == n_fft:
        return np.float64(spec[n_fft - 1]), 0.0
    return np.float64(spec[2 * k - 1]), np.float64(spec[2 * k])


# --- the prefilter (A-weighting FIR) --------------------------------------------------

def filtered_rows(est, ref, mix, taps, n_threads):
    """(est_rows, ref_rows): every row's FIR-filtered channel mix, whole, (B, R, T) in the
    signals' dtype, each sample as the forward's prefiltered spans hold it
    (stft_options.fir_rows_worker over [0, T))."""
    from .stft_options import FIR_CHUNK, fir_rows_worker
    n_items, _, length = est.shape
    mix = np.ascontiguousarray(mix, est.dtype)
    rows_e = np.empty((n_items, mix.shape[0], length), est.dtype)
    rows_r = np.empty_like(rows_e)
    n_chunks = -(-length // FIR_CHUNK)
    run_workers(fir_rows_worker, n_items * mix.shape[0] * n_chunks, n_threads,
                read_only(est), read_only(ref), read_only(mix), read_only(taps), 0, length,
                rows_e, rows_r)
    return rows_e, rows_r


def add_fir_adjoint(grad_rows, mix, taps, n_threads, grad):
    """grad[b, c] += sum over rows r of mix[r, c] * (the FIR's adjoint of grad_rows[b, r]):
    the transpose of y[n] = sum_k taps[k] * x[n + k - K // 2] (x zero outside the signal)
    is g_x[m] = sum_k taps[k] * g_y[m - k + K // 2]. Tasks (item, chunk) each write their
    own samples."""
    n_items, _, length = grad.shape
    n_chunks = -(-length // _ADJOINT_CHUNK)
    run_workers(fir_adjoint_worker, n_items * n_chunks, n_threads, read_only(grad_rows),
                read_only(np.ascontiguousarray(mix, np.float64)),
                read_only(np.ascontiguousarray(taps, np.float64)), grad)


_ADJOINT_CHUNK = 1 << 14


@cpu_kernel
def fir_adjoint_worker(grad_rows, mix, taps, grad, worker, n_workers):
    """One worker's share of add_fir_adjoint."""
    n_items, n_channels, length = grad.shape
    n_rows = mix.shape[0]
    n_taps = taps.shape[0]
    half = n_taps // 2
    n_chunks = (length + _ADJOINT_CHUNK - 1) // _ADJOINT_CHUNK
    adjoint = np.empty(_ADJOINT_CHUNK)
    for task in range(worker, n_items * n_chunks, n_workers):
        item = task // n_chunks
        lo = (task % n_chunks) * _ADJOINT_CHUNK
        hi = min(length, lo + _ADJOINT_CHUNK)
        for r in range(n_rows):
            g = grad_rows[item, r]
            for m in range(lo, hi):
                total = 0.0
                for k in range(max(0, m + half - length + 1), min(n_taps, m + half + 1)):
                    total += taps[k] * g[m - k + half]
                adjoint[m - lo] = total
            for c in range(n_channels):
                weight = mix[r, c]
                if weight != 0:
                    for m in range(lo, hi):
                        grad[item, c, m] += weight * adjoint[m - lo]


# --- scale invariance: how the loss moves with the reference's scale ------------------

def reference_scale_sums(est, ref, mix, window, plan, option_arrays, coefficients,
                         n_threads):
    """(B, R, 2) float64: per row, sum over values of dL/d(alpha r) * r at the row's
    scale alpha (the SC_NUM, log and linear terms' share of dL/d alpha) and sum r**2
    (unscaled), over every frame; arguments as stft_backward's."""
    from .stft import row_block_sums
    options, starts, offsets, weights = option_arrays
    n_channels = est.shape[1]
    mix = np.eye(n_channels, dtype=est.dtype) if mix is None else mix
    return row_block_sums(scale_sums_worker, 2, est, ref, mix, window, plan, n_threads,
                          options, read_only(starts), read_only(offsets), read_only(weights),
                          read_only(np.ascontiguousarray(coefficients, np.float64)))


@cpu_kernel
def scale_sums_worker(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                      fb_weights, coefficients, partial, worker, n_workers):
    """One worker's share of reference_scale_sums: tasks (item, row, block) as the
    forward's (stft.block_of_task), partial[task] = the block's two sums."""
    n_items = est.shape[0]
    n_rows = mix.shape[0]
    fft_size = plan.fft_size
    n_bins = fft_size // 2 + 1
    n_values = options.n_bands if options.n_bands > 0 else n_bins
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    fft_axes = np.array([1])
    half = simd_rows(per_block)
    frames = np.zeros((2 * half, fft_size), est.dtype)
    spectra = np.empty((2 * half, fft_size), est.dtype)
    work = np.empty((2, n_bins))
    value_work = np.empty((2, n_values))
    one_row = np.empty((1, mix.shape[1]), mix.dtype)
    for task in range(worker, n_items * n_rows * n_blocks, n_workers):
        item, row, first, count, offset = block_of_task(task, n_rows, n_blocks, plan)
        one_row[0] = mix[row]
        read_block(est[item], ref[item], one_row, window, plan, options.zero_pad, first,
                   count, offset, frames)
        rocket_fft.r2r_fftpack(frames[:2 * offset], spectra[:2 * offset], fft_axes, True,
                               True, 1.0, 1)
        total = 0.0
        energy = 0.0
        for j in range(count):
            a, b = frame_scale_sums(spectra[j], spectra[offset + j], plan, options,
                                    fb_starts, fb_offsets, fb_weights,
                                    coefficients[item, row], work, value_work)
            total += a
            energy += b
        partial[task, 0] = total
        partial[task, 1] = energy


@cpu_function(fastmath=VECTOR_FASTMATH - {"nsz"}, inline=False)   # see spectrum_grad
def frame_scale_sums(spec_e, spec_r, plan, options, fb_starts, fb_offsets, fb_weights,
                     coefficients, work, value_work):
    """(sum of dL/d(alpha r) * r, sum of r**2) over one frame pair's values (the
    magnitudes or bands, as option_frame_grad forms them)."""
    n_bins = spec_e.shape[0] // 2 + 1
    for side in range(2):
        spec = spec_e if side == 0 else spec_r
        mags = work[side]
        for k in range(n_bins):
            re, im = halfcomplex_bin(spec, k)
            mags[k] = math.sqrt(floor_power(re * re + im * im, plan.eps, options.eps_added))
    values_e = work[0]
    values_r = work[1]
    if options.n_bands > 0:
        values_e = value_work[0]
        values_r = value_work[1]
        apply_filterbank(work[0], fb_starts, fb_offsets, fb_weights, values_e)
        apply_filterbank(work[1], fb_starts, fb_offsets, fb_weights, values_r)
    alpha = coefficients[4]
    total = 0.0
    energy = 0.0
    for b in range(values_e.shape[0]):
        r = values_r[b]
        _, d_r = value_grad(values_e[b], alpha * r, options.log_fac, options.log_eps,
                            options.log_threshold, options.log_floor, plan.log_mode,
                            plan.lin_mode, coefficients[0], coefficients[1],
                            coefficients[2])
        total += d_r * r
        energy += r * r
    return total, energy
