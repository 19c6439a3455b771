"""The CUDA kernels of the STFT family's spectral options: the GPU twin of
kernels/stft_options.py.

The same per-block pipeline as kernels.py's fused STFT kernel (frames read by index ->
window -> half-size complex FFT in shared memory or a block's scratch row), with the
options' stages: an optional A-weighting FIR applied to every sample a frame reads, the
framing variants of OptionPlan, floored magnitudes, an optional sparse filterbank
(one thread per frame and band, adding its support's weighted magnitudes), the per-value
terms of filterbank.value_terms_formula with the reference scaled by alpha, and the phase
term. No spectrum or band value is written to global memory; every sum is float64 and
added by the fixed trees of kernels.py, so a launch configuration gives the same bits on
every run. The plain kernel keeps its own, smaller loader: these branches and arguments
would cost it registers.

Option arguments travel as two tuples (indices below) beside the plain kernel's geometry.
"""

import math

from numba import cuda, float64

from ..kernels.filterbank import value_terms_formula
from ..kernels.layout import N_OPTION_TERMS
from .fft import bit_reverse, fft_stages, real_bin, slot
from .kernels import (G_HOP, G_LO, G_HI, G_LOG2_M, G_LOG_MODE, G_LIN_MODE, G_PER_BLOCK,
                      G_SWIZZLE_MASK, G_SWIZZLE_SHIFT, G_USE_MIX, block_sum, divmod32,
                      reflect_index, store_block_sums, task_frames)

# integer options, by position
O_N_BANDS, O_PHASE, O_PREFILTER, O_PAD_LEFT, O_ZERO_PAD, O_EPS_ADDED = range(6)
N_OPTION_INTS = 6
# float options, by position
O_LOG_FAC, O_LOG_EPS, O_LOG_THRESHOLD, O_LOG_FLOOR = range(4)
N_OPTION_FLOATS = 4

value_terms = cuda.jit(device=True)(value_terms_formula(math.log))


@cuda.jit(device=True)
def mixed_sample(signal, item, row, mix, use_mix, i):
    """Sample i (inside the signal) of the row, in float64: the weighted sum of the
    item's channels with use_mix, else channel `row` (the CPU's FIR input)."""
    if use_mix:
        value = 0.0
        for c in range(signal.shape[1]):
            value += mix[row, c] * float64(signal[item, c, i])
        return value
    return float64(signal[item, row, i])


@cuda.jit(device=True)
def weighted_sample(signal, item, row, mix, use_mix, i, taps):
    """The FIR taps applied at sample i of the row, zeros outside the signal ("same"
    convolution, as auraloss's conv1d and kernels/frames.py's fir_span)."""
    length = signal.shape[2]
    half = taps.shape[0] >> 1
    total = 0.0
    for k in range(taps.shape[0]):
        n = i + k - half
        if n >= 0 and n < length:
            total += taps[k] * mixed_sample(signal, item, row, mix, use_mix, n)
    return total


@cuda.jit(device=True)
def option_windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi,
                           taps, opt_int):
    """window[n] * (frame sample n), the frame starting at `start`, as the CPU's options
    kernel reads it: from the FIR-filtered row (reflected at the ends) with the
    prefilter, else from the row, reflected or (zero_pad) zero outside the signal. The
    sample is rounded to the signal's dtype before the window, as there."""
    zero = window.dtype.type(0.0)
    if n < lo or n >= hi:
        return zero
    length = signal.shape[2]
    position = start + n
    if opt_int[O_PREFILTER]:
        i = reflect_index(position, length)
        value = window.dtype.type(weighted_sample(signal, item, row, mix, use_mix, i, taps))
        return value * window[n]
    if opt_int[O_ZERO_PAD] and (position < 0 or position >= length):
        return zero
    i = reflect_index(position, length)
    if use_mix:
        value = signal[item, 0, i]
        if mix[row, 0] != 1:
            value = value * mix[row, 0]
        for c in range(1, signal.shape[1]):
            value += mix[row, c] * signal[item, c, i]
    else:
        value = signal[item, row, i]
    return value * window[n]


@cuda.jit(device=True)
def floored_magnitude(re, im, eps, eps_added):
    """sqrt(max(P, eps)), or sqrt(P + eps) with eps_added (filterbank.floor_power)."""
    power = re * re + im * im
    return math.sqrt(power + eps if eps_added else max(power, eps))


@cuda.jit(device=True)
def bin_magnitudes(buf, plane, f, k, log2_m, twiddle, geo, eps, eps_added):
    """Floored magnitudes (estimate, reference) of bin k of frame f of the group."""
    m = 1 << log2_m
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    re_e, im_e = real_bin(buf, plane, (2 * f) << log2_m, k, m, twiddle, shift, mask)
    re_r, im_r = real_bin(buf, plane, (2 * f + 1) << log2_m, k, m, twiddle, shift, mask)
    return (floored_magnitude(float64(re_e), float64(im_e), eps, eps_added),
            floored_magnitude(float64(re_r), float64(im_r), eps, eps_added))


@cuda.jit(device=True)
def bin_phase_distance(buf, plane, f, k, log2_m, twiddle, geo):
    """(angle_e - angle_r)**2 of bin k of frame f, each angle in (-pi, pi]; the DC and
    Nyquist bins are real (angle 0 or pi), as filterbank.phase_distance takes them."""
    m = 1 << log2_m
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    re_e, im_e = real_bin(buf, plane, (2 * f) << log2_m, k, m, twiddle, shift, mask)
    re_r, im_r = real_bin(buf, plane, (2 * f + 1) << log2_m, k, m, twiddle, shift, mask)
    if k == 0 or k == m:
        im_e = 0.0
        im_r = 0.0
    d = math.atan2(float64(im_e), float64(re_e)) - math.atan2(float64(im_r), float64(re_r))
    return d * d


@cuda.jit(device=True)
def frame_group_option_terms(buf, est, ref, mix, window, twiddle, geo, eps, opt_int,
                             opt_float, fb_starts, fb_offsets, fb_weights, taps, alpha,
                             task, partial, red):
    """The options' term sums (layout.N_OPTION_TERMS) of one task, a group of frames of
    one (item, row), into partial[task, :]. Every thread of the block must call this."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    per_block = geo[G_PER_BLOCK]
    lo = geo[G_LO]
    hi = geo[G_HI]
    use_mix = geo[G_USE_MIX]
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    log_mode = geo[G_LOG_MODE]
    lin_mode = geo[G_LIN_MODE]
    plane = per_block * 2 * m
    n_bands = opt_int[O_N_BANDS]
    eps_added = opt_int[O_EPS_ADDED]
    log_fac = opt_float[O_LOG_FAC]
    log_eps = opt_float[O_LOG_EPS]
    threshold = opt_float[O_LOG_THRESHOLD]
    floor = opt_float[O_LOG_FLOOR]

    item, row, first, count = task_frames(task, geo)
    pad = opt_int[O_PAD_LEFT]
    scale = alpha[item, row]

    q = tid
    while q < count * 2 * m:
        t = q >> log2_m
        j = q & (m - 1)
        start = (first + (t >> 1)) * geo[G_HOP] - pad
        pos = slot((t << log2_m) + bit_reverse(j, log2_m), shift, mask)
        signal = ref if t & 1 else est
        buf[pos] = option_windowed_sample(signal, item, row, mix, use_mix, start, 2 * j,
                                          window, lo, hi, taps, opt_int)
        buf[plane + pos] = option_windowed_sample(signal, item, row, mix, use_mix, start,
                                                  2 * j + 1, window, lo, hi, taps, opt_int)
        q += threads
    cuda.syncthreads()
    fft_stages(buf, plane, count * 2, log2_m, twiddle, shift, mask)

    sc_num = 0.0
    sc_den = 0.0
    log_dist = 0.0
    lin_dist = 0.0
    phase = 0.0
    dot = 0.0
    if n_bands == 0:
        # bins 0..m-1 of every frame; the thread with bin 0 also takes bin m
        q = tid
        while q < count << log2_m:
            f = q >> log2_m
            k = q & (m - 1)
            for step in range(2 if k == 0 else 1):   # bin k, then bin m after bin 0
                e, r = bin_magnitudes(buf, plane, f, m if step else k, log2_m, twiddle,
                                      geo, eps, eps_added)
                a, b, c, d, x = value_terms(e, scale * r, log_fac, log_eps, threshold,
                                            floor, log_mode, lin_mode)
                sc_num += a
                sc_den += b
                log_dist += c
                lin_dist += d
                dot += x
            q += threads
    else:
        # one (frame, band) per step: the band's weighted magnitudes over its support
        q = tid
        while q < count * n_bands:
            f, band = divmod32(q, n_bands)
            begin = fb_offsets[band]
            width = fb_offsets[band + 1] - begin
            first_bin = fb_starts[band]
            total_e = 0.0
            total_r = 0.0
            for i in range(width):
                e, r = bin_magnitudes(buf, plane, f, first_bin + i, log2_m, twiddle, geo,
                                      eps, eps_added)
                w = float64(fb_weights[begin + i])
                total_e += w * e
                total_r += w * r
            a, b, c, d, x = value_terms(total_e, scale * total_r, log_fac, log_eps,
                                        threshold, floor, log_mode, lin_mode)
            sc_num += a
            sc_den += b
            log_dist += c
            lin_dist += d
            dot += x
            q += threads
    if opt_int[O_PHASE]:
        q = tid
        while q < count << log2_m:
            f = q >> log2_m
            k = q & (m - 1)
            phase += bin_phase_distance(buf, plane, f, k, log2_m, twiddle, geo)
            if k == 0:
                phase += bin_phase_distance(buf, plane, f, m, log2_m, twiddle, geo)
            q += threads
    # red overlays buf in the fused kernel: every thread must be done reading bins
    cuda.syncthreads()
    red[0 * threads + tid] = sc_num
    red[1 * threads + tid] = sc_den
    red[2 * threads + tid] = log_dist
    red[3 * threads + tid] = lin_dist
    red[4 * threads + tid] = phase
    red[5 * threads + tid] = dot
    block_sum(red, N_OPTION_TERMS)
    store_block_sums(red, N_OPTION_TERMS, partial, task)
    cuda.syncthreads()


@cuda.jit(cache=True)
def stft_options_shared(est, ref, mix, window, twiddle, geo, eps, opt_int, opt_float,
                        fb_starts, fb_offsets, fb_weights, taps, alpha, partial):
    """The fused path, as kernels.stft_shared: one block per task, the transforms in
    dynamic shared memory, the reduction area over their first bytes."""
    red = cuda.shared.array(0, float64)
    buf = cuda.shared.array(0, twiddle.dtype)
    frame_group_option_terms(buf, est, ref, mix, window, twiddle, geo, eps, opt_int,
                             opt_float, fb_starts, fb_offsets, fb_weights, taps, alpha,
                             cuda.blockIdx.x, partial, red)


@cuda.jit(cache=True)
def stft_options_scratch(est, ref, mix, window, twiddle, geo, eps, opt_int, opt_float,
                         fb_starts, fb_offsets, fb_weights, taps, alpha, partial, scratch):
    """The same with each block's transforms in its own row of global `scratch`; blocks
    loop over tasks."""
    red = cuda.shared.array(0, float64)
    buf = scratch[cuda.blockIdx.x]
    task = cuda.blockIdx.x
    while task < partial.shape[0]:
        frame_group_option_terms(buf, est, ref, mix, window, twiddle, geo, eps, opt_int,
                                 opt_float, fb_starts, fb_offsets, fb_weights, taps,
                                 alpha, task, partial, red)
        task += cuda.gridDim.x
