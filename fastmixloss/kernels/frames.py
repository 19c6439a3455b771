"""Framing and windowing: the first two stages of every STFT kernel.

Frames are read straight from the signal; the centred reflect padding (numpy
``mode="reflect"``, no edge repeat) is done by index, so no padded copy exists. Each
function writes into a caller's buffer and allocates nothing, so the same code can run as
a CUDA device function.
"""

import numpy as np
from numba import uint64

from .jit import cpu_function

# Loops index with unsigned integers where the index is known to be >= 0: Numba adds
# negative-index wraparound code to every signed index, which keeps LLVM from vectorising
# (4x slower framing).


@cpu_function
def reflect_index(position, length):
    """Sample index for `position` in the reflect-padded signal, in unpadded coordinates.

    Valid for -length < position < 2*length - 1, which holds whenever the pad
    (fft_size // 2) is shorter than the signal.
    """
    if position < 0:
        return -position
    if position >= length:
        return 2 * (length - 1) - position
    return position


@cpu_function
def read_frame(signal, start, frame, lo, hi):
    """frame[n] = padded signal at start + n, for lo <= n < hi; other entries untouched.

    `start` is the frame's first position in unpadded coordinates (k*hop - fft_size//2),
    and [lo, hi) is the window's support inside the frame: outside it the product with
    the window is zero, so those samples are never read.
    """
    length = signal.shape[0]
    if start + lo >= 0 and start + hi <= length:   # interior frame: a straight copy
        first = uint64(start + lo)
        for n in range(uint64(0), uint64(hi - lo)):
            frame[uint64(lo) + n] = signal[first + n]
    else:
        for n in range(lo, hi):
            frame[n] = signal[reflect_index(start + n, length)]


@cpu_function
def add_weighted_frame(signal, weight, start, frame, lo, hi):
    """frame[n] += weight * padded signal at start + n, for lo <= n < hi."""
    length = signal.shape[0]
    if start + lo >= 0 and start + hi <= length:
        first = uint64(start + lo)
        for n in range(uint64(0), uint64(hi - lo)):
            frame[uint64(lo) + n] += weight * signal[first + n]
    else:
        for n in range(lo, hi):
            frame[n] += weight * signal[reflect_index(start + n, length)]


@cpu_function
def read_mixed_frame(channels, weights, start, frame, lo, hi):
    """Like `read_frame`, for the weighted sum of an item's channels.

    frame[n] = sum over c of weights[c] * channels[c, padded position start + n]. With
    weights (1, 1) and (1, -1) this is the sum and difference signal, each sample rounded
    once in the input's precision, exactly as L + R and L - R; neither signal is made.
    Channels of weight 0 are never read, so a row of the identity matrix is a plain copy of
    its channel (bit for bit, and a NaN elsewhere stays out of it).
    """
    first = True
    for c in range(channels.shape[0]):
        weight = weights[c]
        if weight == 0:
            continue
        if first:
            read_frame(channels[c], start, frame, lo, hi)
            if weight != 1:
                for n in range(uint64(lo), uint64(hi)):
                    frame[n] *= weight
            first = False
        else:
            add_weighted_frame(channels[c], weight, start, frame, lo, hi)
    if first:   # every weight 0
        for n in range(uint64(lo), uint64(hi)):
            frame[n] = 0


@cpu_function
def apply_window(frame, window, lo, hi):
    """Multiply frame[lo:hi] by window[lo:hi] in place (the window is zero elsewhere)."""
    for n in range(uint64(lo), uint64(hi)):
        frame[n] *= window[n]


@cpu_function(inline=False)
def read_mixed_frame_zero_padded(channels, weights, start, frame, lo, hi):
    """Like `read_mixed_frame`, with zeros outside the signal instead of reflections
    (frames that run past either end, as tf.signal.stft's pad_end)."""
    length = channels.shape[1]
    for n in range(lo, hi):
        frame[n] = 0
    for c in range(channels.shape[0]):
        weight = weights[c]
        if weight == 0:
            continue
        for n in range(max(lo, -start), min(hi, length - start)):
            frame[n] += weight * channels[c, start + n]


@cpu_function
def span_bounds(frame_start, frame_stop, length):
    """[first, stop): the signal samples that frames covering padded positions
    [frame_start, frame_stop) read, reflections included (pad < length)."""
    first = frame_start
    if frame_stop > length:
        first = min(first, 2 * length - 1 - frame_stop)
    first = max(first, 0)
    stop = min(frame_stop, length)
    if frame_start < 0:
        stop = max(stop, 1 - frame_start)
    return first, min(stop, length)


@cpu_function(inline=False)
def fir_span(channels, weights, taps, first, stop, raw, out):
    """out[n - first] = FIR of the weighted channel mix at sample n, for first <= n < stop.

    The mix sum_c weights[c] * channels[c] is zero outside the signal ("same" convolution
    with zero padding, as auraloss's conv1d); out[n] = sum_k taps[k] * mix[n + k - K // 2]
    for K taps, summed in float64 and rounded once to out's dtype. `raw` holds the mix
    with its K - 1 neighbours, in float64.
    """
    length = channels.shape[1]
    half = taps.shape[0] // 2
    n_raw = stop - first + 2 * half
    for i in range(n_raw):
        n = first - half + i
        value = 0.0
        if 0 <= n < length:
            for c in range(channels.shape[0]):
                value += weights[c] * np.float64(channels[c, n])
        raw[i] = value
    for i in range(uint64(0), uint64(stop - first)):
        total = 0.0
        for k in range(uint64(0), uint64(taps.shape[0])):
            total += taps[k] * raw[i + k]
        out[i] = total


@cpu_function(inline=False)
def read_frame_from_span(span, first, length, start, frame, lo, hi):
    """Like `read_frame`, from a span holding signal samples [first, ...) (see fir_span)."""
    if start + lo >= 0 and start + hi <= length:   # interior frame: a straight copy
        offset = uint64(start + lo - first)
        for n in range(uint64(0), uint64(hi - lo)):
            frame[uint64(lo) + n] = span[offset + n]
    else:
        for n in range(lo, hi):
            frame[n] = span[reflect_index(start + n, length) - first]
