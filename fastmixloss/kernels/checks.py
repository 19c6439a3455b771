"""Scans that validation runs before (or, for one-pass losses, after) a kernel."""

import numpy as np
from numba import prange

from .jit import cpu_kernel

_CHUNK = 1 << 16


# No fast-math at all: under it the compiler may assume values are finite and fold the
# test away.
@cpu_kernel(fastmath=frozenset())
def first_nonfinite(signal):
    """Flat index of the first NaN or infinity in a contiguous array, or -1."""
    flat = signal.reshape(-1)
    n_chunks = (flat.size + _CHUNK - 1) // _CHUNK
    found = np.full(n_chunks, -1, np.int64)
    for chunk in prange(n_chunks):
        start = chunk * _CHUNK
        stop = min(start + _CHUNK, flat.size)
        # a vectorisable count first; the exact position only for the rare bad chunk
        n_bad = 0
        for i in range(start, stop):
            n_bad += 0 if np.isfinite(flat[i]) else 1
        if n_bad:
            for i in range(start, stop):
                if not np.isfinite(flat[i]):
                    found[chunk] = i
                    break
    for chunk in range(n_chunks):
        if found[chunk] >= 0:
            return found[chunk]
    return -1


@cpu_kernel(fastmath=frozenset())
def finite_peak(signal):
    """(largest |x| over the finite samples, number of NaN or infinite samples) of a
    contiguous array, in one pass: the spectral losses' size limit and finite check."""
    flat = signal.reshape(-1)
    n_chunks = (flat.size + _CHUNK - 1) // _CHUNK
    peaks = np.zeros(n_chunks)
    counts = np.zeros(n_chunks, np.int64)
    for chunk in prange(n_chunks):
        start = chunk * _CHUNK
        stop = min(start + _CHUNK, flat.size)
        peak = 0.0
        n_bad = 0
        for i in range(start, stop):
            x = abs(np.float64(flat[i]))
            if np.isfinite(x):
                peak = max(peak, x)
            else:
                n_bad += 1
        peaks[chunk] = peak
        counts[chunk] = n_bad
    return peaks.max() if n_chunks else 0.0, counts.sum()
