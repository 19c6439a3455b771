"""Device twins of the CPU's per-sample and per-bin formulas.

The CPU versions (kernels/terms.py, kernels/time.py) use a bit-cast logarithm that only
compiles for the CPU, so these repeat their arithmetic with the CUDA math library. The
mode constants and clamps are the CPU's own, imported, so the two cannot drift apart in
what they compute, only in the last bits of a logarithm.
"""

import math

from numba import cuda

from ..kernels.layout import L1, L2, NO_TERM
from ..kernels.layout import POWER_RATIO_MAX, POWER_RATIO_MIN

_LN2 = 0.6931471805599453


@cuda.jit(device=True)
def bin_terms(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode):
    """The four terms of one bin (SC_NUM, SC_DEN, LOG_DIST, LIN_DIST), float64."""
    power_e = max(re_e * re_e + im_e * im_e, eps)
    power_r = max(re_r * re_r + im_r * im_r, eps)
    diff = math.sqrt(power_e) - math.sqrt(power_r)
    log_term = 0.0
    if log_mode != NO_TERM:
        log_ratio = math.log(min(max(power_e / power_r, POWER_RATIO_MIN), POWER_RATIO_MAX))
        if log_mode == L1:
            log_term = 0.5 * abs(log_ratio)
        else:
            log_term = 0.25 * log_ratio * log_ratio
    lin_term = 0.0
    if lin_mode == L1:
        lin_term = abs(diff)
    elif lin_mode == L2:
        lin_term = diff * diff
    return diff * diff, power_r, log_term, lin_term


@cuda.jit(device=True)
def log_cosh(x, eps):
    """ln(cosh(x) + eps) without overflow for large |x| (as kernels/time.py)."""
    ax = abs(x)
    if ax < 20.0:
        return math.log(math.cosh(ax) + eps)
    return ax - _LN2 + math.log1p(math.exp(-2.0 * ax))
