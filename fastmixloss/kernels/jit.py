"""The one place where the Numba options of every CPU kernel are set.

A change of policy (caching, error model, fast-math flags) is a one-line change here.
"""

import numba

# Fast-math flags that let LLVM vectorise float64 reductions (reassociation) and fuse
# multiply-adds. Deliberately without "nnan"/"ninf": with check_finite=False a NaN in the
# input must still come out as NaN, not as an arbitrary number.
VECTOR_FASTMATH = frozenset({"reassoc", "contract", "nsz", "arcp"})

_COMMON = dict(
    cache=True,            # a new process loads compiled kernels from disk
    nogil=True,            # callers may run losses from several Python threads
    error_model="numpy",   # no ZeroDivisionError branches: they block vectorisation
)


def cpu_function(fn=None, *, fastmath=VECTOR_FASTMATH):
    """Serial building block, inlined into the kernels that call it.

    Inlined at Numba's level: left to LLVM, the per-bin functions stay calls, and then the
    bin loop neither vectorises nor has its loop-invariant mode branches hoisted (4x slower).
    """
    def wrap(f):
        return numba.njit(fastmath=set(fastmath), inline="always", **_COMMON)(f)
    return wrap(fn) if fn is not None else wrap


def cpu_kernel(fn=None, *, fastmath=VECTOR_FASTMATH):
    """Parallel kernel: one `prange` over threads or tasks, per-task partial sums."""
    def wrap(f):
        return numba.njit(parallel=True, fastmath=set(fastmath), **_COMMON)(f)
    return wrap(fn) if fn is not None else wrap
