"""Compile every CUDA kernel of fastmixloss to PTX, for float32 and float64 signals.

Needs numba-cuda with NVVM (pip install 'fastmixloss[cuda12]'), not a GPU. Run without
NUMBA_ENABLE_CUDASIM; test_compile.py runs it when NVVM is there. Prints one line per
kernel and signature, and exits non-zero on the first failure.
"""

import sys

from numba import cuda, types


def signatures():
    from fastmixloss.cuda import kernels
    i64 = types.int64
    f64 = types.float64
    geo = types.UniTuple(i64, 12)
    for dt in (types.float32, types.float64):
        a3 = types.Array(dt, 3, "C")
        a3_any = types.Array(dt, 3, "A")
        a2 = types.Array(dt, 2, "C")
        a1 = types.Array(dt, 1, "C")
        p2 = types.Array(f64, 2, "C")
        p3 = types.Array(f64, 3, "C")
        yield kernels.stft_shared, (a3, a3, a2, a1, a2, geo, f64, p2)
        yield kernels.stft_scratch, (a3, a3, a2, a1, a2, geo, f64, p2, a2)
        yield kernels.row_shifts, (a2, a2, p2)
        yield kernels.time_sums, (a2, a2, p2, i64, p3)
        yield kernels.log_cosh_sums, (a2, a2, f64, f64, i64, p3)
        yield kernels.first_nonfinite, (a1, a1, types.Array(i64, 1, "C"))
        for src in (a3, a3_any, types.Array(types.float32, 3, "A")):
            yield kernels.copy_3d, (src, a3)
    yield kernels.sum_groups, (types.Array(f64, 3, "C"), types.Array(f64, 2, "C"))


class _TargetOnly:
    """Stands in for the current device where numba-cuda asks one only for its compute
    capability (typing device functions); nothing here talks to a driver."""

    def __init__(self, cc):
        self.compute_capability = cc


def main(cc=(9, 0)):
    from numba.cuda import dispatcher
    # device functions are typed for the current device's compute capability; with no
    # GPU present, answer with the target's (compile_ptx itself takes cc as argument)
    dispatcher.get_current_device = lambda: _TargetOnly(cc)
    for kernel, sig in signatures():
        ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
        print(f"ok {kernel.py_func.__name__}{sig} {len(ptx)} chars of PTX")
    return 0


if __name__ == "__main__":
    sys.exit(main())
