"""Framing and windowing: the first two stages of every STFT kernel.

Frames are read straight from the signal; the centred reflect padding (numpy
``mode="reflect"``, no edge repeat) is done by index, so no padded copy exists. Each
function writes into a caller's buffer and allocates nothing, so the same code can run as
a CUDA device function.
"""

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
