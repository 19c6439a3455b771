"""Device versions of the CPU's per-bin and per-sample formulas, compiled from the same
source (kernels/terms.py, kernels/time.py). Only the logarithm differs: the CPU's is a
bit-cast one that compiles for the CPU alone, the GPU's is the CUDA math library's, so the
two can differ only in the last bits of a logarithm.
"""

import math

from numba import cuda

from ..kernels.terms import bin_terms_formula
from ..kernels.time import log_cosh as _cpu_log_cosh

bin_terms = cuda.jit(device=True)(bin_terms_formula(math.log))
log_cosh = cuda.jit(device=True)(_cpu_log_cosh.py_func)
