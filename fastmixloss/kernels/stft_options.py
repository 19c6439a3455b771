"""The fused STFT-loss kernel with the spectral options (filterbank, prefilter, scale,
generalised log, phase).

The same per-block pipeline as stft.py, with two stages more: an optional FIR prefilter
applied to the span of signal a block of frames reads, and, after the FFT, floored
magnitudes -> optional sparse filterbank -> per-band terms. No spectrogram is held: beyond
the inputs, each worker keeps one block's frames, spectra and a span of filtered signal.
Without options the plain kernel in stft.py runs instead (it is faster).
"""

import numba
import numpy as np
import rocket_fft

from .filterbank import apply_filterbank, band_terms, floored_magnitudes, phase_distance
from .frames import (apply_window, fir_span, read_frame, read_frame_from_span,
                     read_frame_zero_padded, read_mixed_frame, span_bounds)
from .jit import cpu_kernel
from .layout import N_OPTION_TERMS

_SIMD_GROUP = 8   # see stft.py: estimate and reference frames take the same FFT path


@cpu_kernel
def stft_option_sums(est, ref, mix, window, plan, options, fb_starts, fb_offsets,
                     fb_weights, taps, alpha, n_threads):
    """Term sums per (item, row): float64 array (B, R, N_OPTION_TERMS), see layout.py.

    est, ref, mix, window, plan: as stft.stft_term_sums (mix must be an array when
    options.prefilter, and None with options.zero_pad). options: layout.OptionPlan. fb_*: the sparse filterbank
    (filterbanks.Filterbank's arrays; ignored when options.n_bands == 0). taps: float64
    FIR taps (odd count; ignored without prefilter). alpha: (B, R) float64 scale of the
    reference values (ones without scale invariance).
    """
    n_items, n_channels, length = est.shape
    n_rows = n_channels if mix is None else mix.shape[0]
    fft_size = plan.fft_size
    n_bins = fft_size // 2 + 1
    n_values = options.n_bands if options.n_bands > 0 else n_bins
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    tasks_per_item = n_rows * n_blocks
    n_tasks = n_items * tasks_per_item
    pad = options.pad_left
    lo = plan.win_start
    hi = plan.win_stop
    fft_axes = np.array([1])
    partial = np.zeros((n_tasks, N_OPTION_TERMS))
    n_workers = max(1, min(n_threads, n_tasks))
    span_size = (per_block - 1) * plan.hop_size + 2 * fft_size + 2
    half_taps = taps.shape[0] // 2

    for worker in numba.prange(n_workers):
        half = (per_block + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
        frames = np.zeros((2 * half, fft_size), est.dtype)
        spectra = np.empty((2 * half, fft_size), est.dtype)
        mags_e = np.empty(n_bins)
        mags_r = np.empty(n_bins)
        bands_e = np.empty(n_values)
        bands_r = np.empty(n_values)
        span_e = np.empty(span_size if options.prefilter else 0)
        span_r = np.empty(span_size if options.prefilter else 0)
        raw = np.empty(span_size + 2 * half_taps if options.prefilter else 0)
        for task in range(worker, n_tasks, n_workers):
            item = task // tasks_per_item
            row = (task % tasks_per_item) // n_blocks
            first = (task % n_blocks) * per_block
            count = min(per_block, plan.n_frames - first)
            offset = (count + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
            span_first = 0
            if mix is not None and options.prefilter:
                span_first, span_stop = span_bounds(
                    first * plan.hop_size - pad,
                    (first + count - 1) * plan.hop_size - pad + fft_size, length)
                fir_span(est[item], mix[row], taps, span_first, span_stop, raw, span_e)
                fir_span(ref[item], mix[row], taps, span_first, span_stop, raw, span_r)
            for j in range(count):
                start = (first + j) * plan.hop_size - pad
                frame_e = frames[j]
                frame_r = frames[offset + j]
                if mix is None and options.zero_pad:
                    read_frame_zero_padded(est[item, row], start, frame_e, lo, hi)
                    read_frame_zero_padded(ref[item, row], start, frame_r, lo, hi)
                elif mix is None:
                    read_frame(est[item, row], start, frame_e, lo, hi)
                    read_frame(ref[item, row], start, frame_r, lo, hi)
                elif options.prefilter:
                    read_frame_from_span(span_e, span_first, length, start, frame_e, lo, hi)
                    read_frame_from_span(span_r, span_first, length, start, frame_r, lo, hi)
                else:
                    read_mixed_frame(est[item], mix[row], start, frame_e, lo, hi)
                    read_mixed_frame(ref[item], mix[row], start, frame_r, lo, hi)
                apply_window(frame_e, window, lo, hi)
                apply_window(frame_r, window, lo, hi)
            rocket_fft.r2r_fftpack(frames[:2 * offset], spectra[:2 * offset], fft_axes,
                                   True, True, 1.0, 1)
            sums = np.zeros(N_OPTION_TERMS)
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
                sums[0] += a
                sums[1] += b
                sums[2] += c
                sums[3] += d
                sums[5] += e
                if options.phase:
                    sums[4] += phase_distance(spectra[j], spectra[offset + j])
            for t in range(N_OPTION_TERMS):
                partial[task, t] = sums[t]

    out = np.zeros((n_items, n_rows, N_OPTION_TERMS))
    for task in range(n_tasks):   # fixed order: deterministic
        item = task // tasks_per_item
        row = (task % tasks_per_item) // n_blocks
        for t in range(N_OPTION_TERMS):
            out[item, row, t] += partial[task, t]
    return out
