"""Device versions of the CPU's per-bin and per-sample formulas, compiled from the same
source (kernels/terms.py, kernels/time.py, kernels/frames.py). Only the logarithm of the
bin terms differs: the CPU's is a bit-cast one that compiles for the CPU alone, the GPU's
is the CUDA math library's, so the two can differ only in the last bits of a logarithm.
"""

import math

from numba import cuda

from ..kernels import frames
from ..kernels import time as time_kernels
from ..kernels.terms import bin_terms_formula


def _device(cpu_function):
    """The device function compiled from a CPU function's own source."""
    return cuda.jit(device=True)(cpu_function.py_func)


bin_terms = cuda.jit(device=True)(bin_terms_formula(math.log))
log_cosh = _device(time_kernels.log_cosh)
add_shift_sample = _device(time_kernels.add_shift_sample)
add_time_sample = _device(time_kernels.add_time_sample)
# the CPU's reflect padding by index
reflect_index = _device(frames.reflect_index)
