"""Scans that validation runs before (or, for one-pass losses, after) a kernel."""

import numpy as np

from .jit import cpu_kernel
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
        # a vectorisable count first; the exact position only for the rare bad chunk
        n_bad = 0
        for i in range(start, stop):
            n_bad += 0 if np.isfinite(flat[i]) else 1
        if n_bad:
            for i in range(start, stop):
                if not np.isfinite(flat[i]):
                    found[chunk] = i
                    break
