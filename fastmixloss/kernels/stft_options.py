"""The fused STFT-loss kernel with the spectral options (filterbank, prefilter, scale,
generalised log and floors, phase, framing variants).

The same per-block pipeline as stft.py, with stages more: an optional FIR prefilter
applied to the span of signal a block of frames reads, and, after the FFT, floored
magnitudes -> optional sparse filterbank -> per-band terms (-> phase). No spectrogram is
held: beyond the inputs, each worker keeps one block's frames, spectra, one frame's
magnitudes and bands, and a span of filtered signal. Without options the plain kernel in
stft.py runs instead (it is faster).
"""

import numpy as np
import rocket_fft

from .filterbank import apply_filterbank, band_terms, floored_magnitudes, phase_distance
from .frames import (apply_window, fir_span, read_frame_from_span, read_mixed_frame,
                     read_mixed_frame_zero_padded, span_bounds)
from .jit import cpu_kernel
from .layout import N_OPTION_TERMS
# estimate and reference frames take the same FFT path: see stft.py
from .stft import _SIMD_GROUP, block_of_task, row_block_sums
from .workers import read_only


def stft_option_sums(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                     fb_weights, taps, alpha, n_threads):
    """Term sums per (item, row): float64 array (B, R, N_OPTION_TERMS), see layout.py.

    Parameters
    ----------
    est, ref, mix, window, plan, n_threads : as stft.stft_term_sums.
    options : layout.OptionPlan
    fb_starts, fb_offsets, fb_weights : the sparse filterbank (filterbanks.Filterbank's
        arrays; placeholders when options.n_bands == 0).
    taps : (K,) float64 FIR taps, K odd (a placeholder without options.prefilter).
    alpha : (B, R) float64 scale of the reference values (ones without scale invariance).
    """
    return row_block_sums(stft_option_worker, N_OPTION_TERMS, est, ref, mix, window, plan,
                          n_threads, options, read_only(fb_starts), read_only(fb_offsets),
                          read_only(fb_weights), read_only(taps),
                          read_only(np.ascontiguousarray(alpha, np.float64)))


@cpu_kernel
def stft_option_worker(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                       fb_weights, taps, alpha, partial, worker, n_workers):
    """One worker's share of `stft_option_sums`: tasks worker, worker + n_workers, ...

    partial: (B * R * n_blocks, N_OPTION_TERMS) float64, task (item, row, block) at
    (item * R + row) * n_blocks + block.
    """
    n_items, _, length = est.shape
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
    half = (per_block + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
    frames = np.zeros((2 * half, fft_size), est.dtype)
    spectra = np.empty((2 * half, fft_size), est.dtype)
    mags_e = np.empty(n_bins)
    mags_r = np.empty(n_bins)
    bands_e = np.empty(n_values)
    bands_r = np.empty(n_values)
    span_size = (per_block - 1) * plan.hop_size + 2 * fft_size + 2 if options.prefilter else 0
    span_e = np.empty(span_size)
    span_r = np.empty(span_size)
    raw = np.empty(span_size + taps.shape[0] if options.prefilter else 0)
    for task in range(worker, n_tasks, n_workers):
        item, row, first, count, offset = block_of_task(task, n_rows, n_blocks, plan)
        span_first = 0
        if options.prefilter:   # the block's span of both signals, filtered once
            span_first, span_stop = span_bounds(
                first * plan.hop_size - pad,
                (first + count - 1) * plan.hop_size - pad + fft_size, length)
            fir_span(est[item], mix[row], taps, span_first, span_stop, raw, span_e)
            fir_span(ref[item], mix[row], taps, span_first, span_stop, raw, span_r)
        for k in range(2 * count):
            side = k // count
            j = k - side * count
            frame = frames[side * offset + j]
            start = (first + j) * plan.hop_size - pad
            if options.prefilter:
                read_frame_from_span(span_e if side == 0 else span_r, span_first, length,
                                     start, frame, lo, hi)
            elif options.zero_pad:
                read_mixed_frame_zero_padded(est[item] if side == 0 else ref[item],
                                             mix[row], start, frame, lo, hi)
            else:
                read_mixed_frame(est[item] if side == 0 else ref[item], mix[row], start,
                                 frame, lo, hi)
            apply_window(frame, window, lo, hi)
        rocket_fft.r2r_fftpack(frames[:2 * offset], spectra[:2 * offset], fft_axes,
                               True, True, 1.0, 1)
        sc_num = 0.0
        sc_den = 0.0
        log_dist = 0.0
        lin_dist = 0.0
        phase = 0.0
        dot = 0.0
        scale = alpha[item, row]
        for j in range(count):
            floored_magnitudes(spectra[j], plan.eps, options.eps_added, mags_e)
            floored_magnitudes(spectra[offset + j], plan.eps, options.eps_added, mags_r)
            if options.n_bands > 0:
                apply_filterbank(mags_e, fb_starts, fb_offsets, fb_weights, bands_e)
                apply_filterbank(mags_r, fb_starts, fb_offsets, fb_weights, bands_r)
                a, b, c, d, e = band_terms(bands_e, bands_r, scale, options,
                                           plan.log_mode, plan.lin_mode)
            else:
                a, b, c, d, e = band_terms(mags_e, mags_r, scale, options,
                                           plan.log_mode, plan.lin_mode)
            sc_num += a
            sc_den += b
            log_dist += c
            lin_dist += d
            dot += e
            if options.phase:
                phase += phase_distance(spectra[j], spectra[offset + j])
        partial[task, 0] = sc_num
        partial[task, 1] = sc_den
        partial[task, 2] = log_dist
        partial[task, 3] = lin_dist
        partial[task, 4] = phase
        partial[task, 5] = dot
