"""Loudness stages: the K-weighting biquads (ITU-R BS.1770) and the block energies.

K-weighting is two biquads in series (a high shelf, then a high pass). They run in
transposed direct form II in float64, the structure of scipy.signal.lfilter, which is what
pyloudnorm filters with. Every kernel returns plain float64 sums of squared filtered
samples; gating, channel weights and the decibels are NumPy (features/loudness.py).

Coefficients come as a (2, 5) float64 array, one row per stage: b0, b1, b2, a1, a2
(normalised so that a0 = 1).
"""

import numpy as np
from numba import prange

from .jit import cpu_function, cpu_kernel


@cpu_function
def k_weight_step(x, coefficients, state):
    """One sample through both stages; state: float64 (4,), zeros to start."""
    y = coefficients[0, 0] * x + state[0]
    state[0] = coefficients[0, 1] * x - coefficients[0, 3] * y + state[1]
    state[1] = coefficients[0, 2] * x - coefficients[0, 4] * y
    z = coefficients[1, 0] * y + state[2]
    state[2] = coefficients[1, 1] * y - coefficients[1, 3] * z + state[3]
    state[3] = coefficients[1, 2] * y - coefficients[1, 4] * z
    return z


@cpu_function
def k_weight(signal, start, stop, coefficients, state, out):
    """out[n - start] = K-weighted signal[n] for start <= n < stop, from `state`.

    signal: (T,) any float dtype; out: float64 buffer of at least stop - start entries.
    """
    for n in range(start, stop):
        out[n - start] = k_weight_step(np.float64(signal[n]), coefficients, state)


@cpu_function
def sum_of_squares(values, start, stop):
    total = 0.0
    for n in range(start, stop):
        total += values[n] * values[n]
    return total


@cpu_kernel
def frame_block_energies(signal, frame_length, hop, n_frames, blocks, coefficients):
    """Per frame, each channel K-weighted from a zero state, and its block energies.

    signal: (C, T). Frame f is signal[:, f*hop : f*hop + frame_length], filtered on its own
    (the meter is restarted for every frame, as the toolkit does). blocks: (J, 2) int64
    [lower, upper) sample bounds of the gating blocks inside a frame, upper clipped to
    frame_length. Returns (energies (n_frames, C, J): sums of squared filtered samples,
    peaks (n_frames,): max |sample| of the frame over all channels), float64.
    """
    n_channels = signal.shape[0]
    n_blocks = blocks.shape[0]
    energies = np.zeros((n_frames, n_channels, n_blocks))
    peaks = np.zeros(n_frames)
    for f in prange(n_frames):
        filtered = np.empty(frame_length)
        state = np.zeros(4)
        start = f * hop
        peak = 0.0
        for c in range(n_channels):
            for n in range(start, start + frame_length):
                peak = max(peak, abs(np.float64(signal[c, n])))
            state[:] = 0.0
            k_weight(signal[c], start, start + frame_length, coefficients, state, filtered)
            for j in range(n_blocks):
                energies[f, c, j] = sum_of_squares(filtered, blocks[j, 0], blocks[j, 1])
        peaks[f] = peak
    return energies, peaks


@cpu_kernel
def segment_energies(signals, cuts, coefficients):
    """Sums of squared K-weighted samples between consecutive cuts, per row.

    signals: (R, T), each row filtered once from a zero state over its whole length;
    cuts: increasing int64 sample positions, cuts[0] = 0, cuts[-1] <= T. Returns
    (R, len(cuts) - 1) float64. No buffer: memory does not grow with T.
    """
    n_rows = signals.shape[0]
    n_segments = cuts.shape[0] - 1
    out = np.zeros((n_rows, n_segments))
    for r in prange(n_rows):
        state = np.zeros(4)
        row = signals[r]
        for s in range(n_segments):
            total = 0.0
            for n in range(cuts[s], cuts[s + 1]):
                z = k_weight_step(np.float64(row[n]), coefficients, state)
                total += z * z
            out[r, s] = total
    return out
