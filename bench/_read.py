"""W5's floor: one parallel pass that reads both arrays (and sums them so the reads stay)."""

import numba
import numpy as np


@numba.njit(parallel=True, fastmath=True, cache=True)
def read_both(a, b):
    total = 0.0
    for i in numba.prange(a.size):
        total += np.float64(a[i]) + np.float64(b[i])
    return total
