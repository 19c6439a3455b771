"""Scans that validation runs before (or, for one-pass losses, after) a kernel: the first
NaN or infinity, and the largest finite |x|."""

import numpy as np
from numba import uint64

from .fastlog import bits_float64
from .jit import cpu_kernel
from .peaks import INF_BITS, abs_bits
from .workers import read_only, run_workers, thread_count

_CHUNK = 1 << 16


def first_nonfinite(signal):
    """Flat index of the first NaN or infinity in a contiguous array, or -1.

    Parameters
    ----------
    signal : C-contiguous float array of any shape.
    """
    flat = read_only(np.ascontiguousarray(signal).reshape(-1))
    n_chunks = max(1, (flat.size + _CHUNK - 1) // _CHUNK)
    found = np.full(n_chunks, -1, np.int64)
    run_workers(first_nonfinite_worker, n_chunks, thread_count(), flat, found)
    bad = np.flatnonzero(found >= 0)
    return int(found[bad[0]]) if bad.size else -1


# No fast-math at all: under it the compiler may assume values are finite and fold the
# test away.
@cpu_kernel(fastmath=frozenset())
def first_nonfinite_worker(flat, found, worker, n_workers):
    """found[chunk] = first bad index in chunk (or untouched), for this worker's chunks."""
    n_chunks = found.shape[0]
    for chunk in range(worker, n_chunks, n_workers):
        start = chunk * _CHUNK
        stop = min(start + _CHUNK, flat.size)
        # a vectorisable count first (on bit patterns over an unsigned range, as in
        # finite_peak_worker: np.isfinite over a signed range stayed scalar, 4x slower
        # than NumPy's isfinite); the exact position only for the rare bad chunk
        n_bad = 0
        for i in range(uint64(start), uint64(stop)):
            n_bad += 0 if abs_bits(np.float64(flat[i])) < INF_BITS else 1
        if n_bad:
            for i in range(start, stop):
                if not np.isfinite(flat[i]):
                    found[chunk] = i
                    break


def finite_peak(signal):
    """(largest |x| over the finite samples, number of NaN or infinite samples) of a
    contiguous array, in one pass: the spectral losses' size limit and finite check.

    Parameters
    ----------
    signal : C-contiguous float array of any shape.
    """
    flat = read_only(np.ascontiguousarray(signal).reshape(-1))
    n_chunks = max(1, (flat.size + _CHUNK - 1) // _CHUNK)
    peaks = np.zeros(n_chunks)
    counts = np.zeros(n_chunks, np.int64)
    run_workers(finite_peak_worker, n_chunks, thread_count(), flat, peaks, counts)
    return float(peaks.max()), int(counts.sum())


@cpu_kernel(fastmath=frozenset())
def finite_peak_worker(flat, peaks, counts, worker, n_workers):
    """peaks[chunk], counts[chunk] for this worker's chunks.

    On bit patterns (see peaks.py): |x| is finite exactly when its pattern is below
    infinity's, and integer compares and max vectorise where float ones would not."""
    for chunk in range(worker, peaks.shape[0], n_workers):
        start = chunk * _CHUNK
        stop = min(start + _CHUNK, flat.size)
        top = 0
        n_bad = 0
        for i in range(uint64(start), uint64(stop)):
            bits = abs_bits(np.float64(flat[i]))
            finite = bits < INF_BITS
            top = max(top, bits if finite else 0)
            n_bad += 0 if finite else 1
        peaks[chunk] = bits_float64(top)
        counts[chunk] = n_bad
