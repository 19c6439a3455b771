"""Scans that validation runs before (or, for one-pass losses, after) a kernel."""

import numpy as np
from numba import prange

from .jit import cpu_kernel

_CHUNK = 1 << 16


@cpu_kernel
def first_nonfinite(signal):
    """Flat index of the first NaN or infinity in a contiguous array, or -1."""
    flat = signal.reshape(-1)
    n_chunks = (flat.size + _CHUNK - 1) // _CHUNK
    found = np.full(n_chunks, -1, np.int64)
    for chunk in prange(n_chunks):
        start = chunk * _CHUNK
        stop = min(start + _CHUNK, flat.size)
        # a vectorisable test first; the exact position only for the rare bad chunk
        bad = 0.0
        for i in range(start, stop):
            bad += flat[i] - flat[i]      # 0 for finite values, NaN otherwise
        if bad != 0.0 or bad != bad:
            for i in range(start, stop):
                if not np.isfinite(flat[i]):
                    found[chunk] = i
                    break
    for chunk in range(n_chunks):
        if found[chunk] >= 0:
            return found[chunk]
    return -1
