"""The one place where the Numba options of every CPU kernel are set.

A change of policy (caching, error model, fast-math flags) is a one-line change here.

Kernels are serial functions compiled without `parallel=True`; kernels/workers.py runs one
call per worker on Python threads (the kernels release the GIL). Measured on this project's
STFT kernel: Numba's parfor lowering made the first compile 3-4x slower (7.6 s against
2.2 s of CPU time per signature), Numba's `workqueue` threading layer aborts the process
when two Python threads enter parallel kernels at once, and a Ctrl-C that arrived while a
parallel kernel boxed its result surfaced as a SystemError. A `parallel=True` driver whose
prange body only calls the serial STFT worker does not help: Numba compiles the callee
again with the parallel flags, and the first MR-STFT and S/D calls took 8.3 s of CPU from
an empty cache instead of 2.8 s (measured 2026-12-02), twice the 4-s cold-start goal
(docs/performance.md).
"""

import numba

# Fast-math flags that let LLVM vectorise float64 reductions (reassociation) and fuse
# multiply-adds. Deliberately without "nnan"/"ninf": with check_finite=False a NaN in the
# input must still come out as NaN, not as an arbitrary number.
VECTOR_FASTMATH = frozenset({"reassoc", "contract", "nsz", "arcp"})

_COMMON = dict(
    cache=True,            # a new process loads compiled kernels from disk
    nogil=True,            # worker threads run kernels side by side
    error_model="numpy",   # no ZeroDivisionError branches: they block vectorisation
)


def cpu_function(fn=None, *, fastmath=VECTOR_FASTMATH, inline=True):
    """Serial building block called by kernels.

    inline=True inlines it at Numba's level: left to LLVM, the per-bin functions stay
    calls, and then the bin loop neither vectorises nor has its loop-invariant mode
    branches hoisted (4x slower). Every inlined copy is compiled again, so blocks outside
    hot loops pass inline=False.
    """
    def wrap(f):
        return numba.njit(fastmath=set(fastmath), inline="always" if inline else "never",
                          **_COMMON)(f)
    return wrap(fn) if fn is not None else wrap


def cpu_kernel(fn=None, *, fastmath=VECTOR_FASTMATH):
    """A worker's share of a kernel: serial, GIL released, writes into caller's arrays.

    Called as kernel(*args, worker, n_workers) by `workers.run_workers`; it does the
    tasks worker, worker + n_workers, ... and returns nothing (so no result is boxed).
    A `prange` in it is a plain `range`: parallelism comes from run_workers only.
    """
    def wrap(f):
        return numba.njit(fastmath=set(fastmath), **_COMMON)(f)
    return wrap(fn) if fn is not None else wrap
