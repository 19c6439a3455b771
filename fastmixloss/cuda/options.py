"""The CUDA kernels of the STFT family's spectral options: the GPU twin of
kernels/stft_options.py.

The same per-block pipeline as kernels.py's fused STFT kernel (its frame loader, with this
module's sample reader -> window -> half-size complex FFT in shared memory or a block's
scratch row; its pair of launchers), with the options' stages: an optional A-weighting
FIR applied to every sample a frame reads, the framing variants of OptionPlan, floored
magnitudes, an optional sparse filterbank (one thread per frame and band, adding its
support's weighted magnitudes), the per-value terms of filterbank.value_terms_formula
with the reference scaled by alpha, and the phase term. No spectrum or band value is
written to global memory; every sum is float64 and added by the fixed trees of
kernels.py, so a launch configuration gives the same bits on every run.

The kernels' `extra` argument is the tuple (options, fb_starts, fb_offsets, fb_weights,
taps, alpha) of kernel_arguments: options is the layout.OptionPlan itself, each field
cast to its declared type, so a new field needs no packing here.
"""

import math
import typing

from numba import cuda, float64

from ..kernels.filterbank import value_terms_formula
from ..kernels.layout import OptionPlan
from .kernels import (G_LOG2_M, G_LOG_MODE, G_LIN_MODE, bin_pair, divmod32, frame_loader,
                      mixed_sample, stft_kernels, store_block_totals, task_frames,
                      windowed_sample)
from .terms import reflect_index

value_terms = cuda.jit(device=True)(value_terms_formula(math.log))

# OptionPlan's fields and their declared types: one compiled kernel serves every call
# only where each field always arrives as the same type
_FIELD_TYPES = typing.get_type_hints(OptionPlan)
_SCALARS = (bool, int, float)


def kernel_options(options):
    """The layout.OptionPlan `options` with each scalar field cast to its declared type
    (an int where a float is declared would compile the kernel again)."""
    return OptionPlan(*(_FIELD_TYPES[name](value) if _FIELD_TYPES[name] in _SCALARS
                        else value for name, value in zip(OptionPlan._fields, options)))


def kernel_arguments(options, fb_starts, fb_offsets, fb_weights, taps, alpha):
    """The options kernels' `extra` argument, from device arrays (alpha: (B, R))."""
    return (kernel_options(options), fb_starts, fb_offsets, fb_weights, taps, alpha)


@cuda.jit(device=True)
def weighted_sample(signal, item, row, mix, use_mix, i, taps):
    """The FIR taps applied at sample i of the row, zeros outside the signal ("same"
    convolution, as auraloss's conv1d and kernels/frames.py's fir_span); the row's
    samples are read in float64, the taps' dtype, as the CPU's FIR reads them."""
    length = signal.shape[2]
    half = taps.shape[0] >> 1
    total = 0.0
    for k in range(taps.shape[0]):
        n = i + k - half
        if n >= 0 and n < length:
            total += taps[k] * mixed_sample(signal, item, row, mix, use_mix, n, taps)
    return total


@cuda.jit(device=True)
def option_windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi,
                           extra):
    """window[n] * (frame sample n), the frame starting at `start`, as the CPU's options
    kernel reads it: from the FIR-filtered row (reflected at the ends) with the
    prefilter, else from the row, reflected or (zero_pad) zero outside the signal. The
    sample is rounded to the signal's dtype before the window, as there."""
    options = extra[0]
    taps = extra[4]
    zero = window.dtype.type(0.0)
    if n < lo or n >= hi:
        return zero
    length = signal.shape[2]
    position = start + n
    if options.prefilter:
        i = reflect_index(position, length)
        value = window.dtype.type(weighted_sample(signal, item, row, mix, use_mix, i, taps))
        return value * window[n]
    if options.zero_pad and (position < 0 or position >= length):
        return zero
    return windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi,
                           extra)


load_option_frames = frame_loader(option_windowed_sample)


@cuda.jit(device=True)
def floored_magnitude(re, im, eps, eps_added):
    """sqrt(max(P, eps)), or sqrt(P + eps) with eps_added (filterbank.floor_power)."""
    power = re * re + im * im
    return math.sqrt(power + eps if eps_added else max(power, eps))


@cuda.jit(device=True)
def bin_magnitudes(buf, f, k, twiddle, geo, eps, eps_added):
    """Floored magnitudes (estimate, reference) of bin k of frame f of the group."""
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    return (floored_magnitude(re_e, im_e, eps, eps_added),
            floored_magnitude(re_r, im_r, eps, eps_added))


@cuda.jit(device=True)
def bin_phase_distance(buf, f, k, twiddle, geo):
    """(angle_e - angle_r)**2 of bin k of frame f, each angle in (-pi, pi]; the DC and
    Nyquist bins are real (angle 0 or pi), as filterbank.phase_distance takes them."""
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    if k == 0 or k == 1 << geo[G_LOG2_M]:
        im_e = 0.0
        im_r = 0.0
    d = math.atan2(im_e, re_e) - math.atan2(im_r, re_r)
    return d * d


@cuda.jit(device=True)
def add_value_terms(sums, e, r, options, geo):
    """The value sums (sc_num, sc_den, log_dist, lin_dist, dot) with the terms of one
    pair of values added: a bin's or a band's magnitudes, the reference's scaled."""
    a, b, c, d, x = value_terms(e, r, options.log_fac, options.log_eps,
                                options.log_threshold, options.log_floor, geo[G_LOG_MODE],
                                geo[G_LIN_MODE])
    return sums[0] + a, sums[1] + b, sums[2] + c, sums[3] + d, sums[4] + x


@cuda.jit(device=True)
def frame_group_option_terms(buf, est, ref, mix, window, twiddle, geo, eps, extra, task,
                             partial, red):
    """The options' term sums (layout.N_OPTION_TERMS) of one task, a group of frames of
    one (item, row), into partial[task, :]. Every thread of the block must call this."""
    options, fb_starts, fb_offsets, fb_weights, taps, alpha = extra
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    n_bands = options.n_bands
    eps_added = options.eps_added
    item, row, first, count = task_frames(task, geo)
    load_option_frames(buf, est, ref, mix, window, twiddle, geo, extra, item, row, first,
                       count, options.pad_left)
    scale = alpha[item, row]
    sums = (0.0, 0.0, 0.0, 0.0, 0.0)
    if n_bands == 0:
        # bins 0..m-1 of every frame; the thread with bin 0 also takes bin m
        q = tid
        while q < count << log2_m:
            f = q >> log2_m
            k = q & (m - 1)
            for step in range(2 if k == 0 else 1):   # bin k, then bin m after bin 0
                e, r = bin_magnitudes(buf, f, m if step else k, twiddle, geo, eps,
                                      eps_added)
                sums = add_value_terms(sums, e, scale * r, options, geo)
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
                e, r = bin_magnitudes(buf, f, first_bin + i, twiddle, geo, eps, eps_added)
                w = float64(fb_weights[begin + i])
                total_e += w * e
                total_r += w * r
            sums = add_value_terms(sums, total_e, scale * total_r, options, geo)
            q += threads
    phase = 0.0
    if options.phase:
        q = tid
        while q < count << log2_m:
            f = q >> log2_m
            k = q & (m - 1)
            for step in range(2 if k == 0 else 1):   # bin k, then bin m after bin 0
                phase += bin_phase_distance(buf, f, m if step else k, twiddle, geo)
            q += threads
    sc_num, sc_den, log_dist, lin_dist, dot = sums
    store_block_totals((sc_num, sc_den, log_dist, lin_dist, phase, dot), red, partial,
                       task)


stft_options_shared, stft_options_scratch = stft_kernels(frame_group_option_terms,
                                                         "stft_options")
