"""The magnitude-difference terms of one STFT bin, and of one frame's spectrum.

For the estimate's power P_e = re_e**2 + im_e**2 and the reference's P_r, with the floor
eps (magnitude = sqrt(max(P, eps)), docs/numerics.md), one bin contributes:

  SC_NUM    (|X_e| - |X_r|)**2             numerator of spectral convergence, squared
  SC_DEN    |X_r|**2 = max(P_r, eps)       denominator, squared
  LOG_DIST  |ln|X_e| - ln|X_r||  (L1)  or  (ln|X_e| - ln|X_r|)**2  (L2)
  LIN_DIST  ||X_e| - |X_r||      (L1)  or  (|X_e| - |X_r|)**2      (L2)

The log distance uses one logarithm per bin, of the power ratio:
ln|X_e| - ln|X_r| = ln(P_e / P_r) / 2. Everything is float64 whatever the input dtype.
"""

import math

import numpy as np
from numba import uint64

from .fastlog import fast_log
from .jit import cpu_function

from .layout import (L1, L2, LIN_DIST, LOG_DIST, N_TERMS, NO_TERM,  # noqa: F401
                     POWER_RATIO_MAX, POWER_RATIO_MIN, SC_DEN, SC_NUM)


def bin_terms_formula(log):
    """The per-bin formula with `log` as its logarithm, as a plain Python function.

    Compiled here for the CPU with the vectorisable fast_log, and in cuda/terms.py for the
    GPU with math.log: one formula, two targets.
    """
    def bin_terms(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode):
        """The four terms of one bin, from float64 real and imaginary parts."""
        power_e = max(re_e * re_e + im_e * im_e, eps)
        power_r = max(re_r * re_r + im_r * im_r, eps)
        diff = math.sqrt(power_e) - math.sqrt(power_r)
        log_term = 0.0
        if log_mode != NO_TERM:
            log_ratio = log(min(max(power_e / power_r, POWER_RATIO_MIN), POWER_RATIO_MAX))
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
    return bin_terms


bin_terms = cpu_function(bin_terms_formula(fast_log))
# The DC and Nyquist bins, once per frame: a call, not another inlined copy of the formula
# (each copy costs compile time, and these two bins gain nothing from being inlined).
edge_bin_terms = cpu_function(bin_terms_formula(fast_log), inline=False)


@cpu_function(inline=False)
def spectrum_terms(spec_e, spec_r, eps, log_mode, lin_mode):
    """Sums of the four terms over every bin of one frame.

    The spectra are in FFTPACK's half-complex order, as a real array of length n_fft:
    [re0, re1, im1, re2, im2, ..., re(n/2)] (the last entry only for even n_fft).
    Returns the sums as floats (sc_num, sc_den, log_dist, lin_dist).
    """
    n_fft = spec_e.shape[0]
    sc_num, sc_den, log_dist, lin_dist = edge_bin_terms(
        np.float64(spec_e[0]), 0.0, np.float64(spec_r[0]), 0.0, eps, log_mode, lin_mode)
    # unsigned indices: no negative-index wraparound code, so the loop vectorises
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        a, b, c, d = bin_terms(
            np.float64(spec_e[2 * f - 1]), np.float64(spec_e[2 * f]),
            np.float64(spec_r[2 * f - 1]), np.float64(spec_r[2 * f]),
            eps, log_mode, lin_mode)
        sc_num += a
        sc_den += b
        log_dist += c
        lin_dist += d
    if n_fft % 2 == 0:   # the Nyquist bin is real
        a, b, c, d = edge_bin_terms(
            np.float64(spec_e[n_fft - 1]), 0.0, np.float64(spec_r[n_fft - 1]), 0.0,
            eps, log_mode, lin_mode)
        sc_num += a
        sc_den += b
        log_dist += c
        lin_dist += d
    return sc_num, sc_den, log_dist, lin_dist


@cpu_function(inline=False)
def sum_difference_terms(a_e, b_e, a_r, b_r, eps, log_mode, lin_mode):
    """spectrum_terms of the rows a + b and a - b of one frame, from the spectra of two
    transforms a and b (estimate's and reference's, FFTPACK's half-complex order), read
    once: the sum and difference of each bin are formed in float64, where the DFT's
    linearity makes them the spectra of L + R and L - R.

    Returns the sum row's four sums, then the difference row's.
    """
    n_fft = a_e.shape[0]
    s_num, s_den, s_log, s_lin = edge_bin_terms(
        np.float64(a_e[0]) + np.float64(b_e[0]), 0.0,
        np.float64(a_r[0]) + np.float64(b_r[0]), 0.0, eps, log_mode, lin_mode)
    d_num, d_den, d_log, d_lin = edge_bin_terms(
        np.float64(a_e[0]) - np.float64(b_e[0]), 0.0,
        np.float64(a_r[0]) - np.float64(b_r[0]), 0.0, eps, log_mode, lin_mode)
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        ae_re = np.float64(a_e[2 * f - 1])
        ae_im = np.float64(a_e[2 * f])
        be_re = np.float64(b_e[2 * f - 1])
        be_im = np.float64(b_e[2 * f])
        ar_re = np.float64(a_r[2 * f - 1])
        ar_im = np.float64(a_r[2 * f])
        br_re = np.float64(b_r[2 * f - 1])
        br_im = np.float64(b_r[2 * f])
        a, b, c, d = bin_terms(ae_re + be_re, ae_im + be_im, ar_re + br_re, ar_im + br_im,
                               eps, log_mode, lin_mode)
        s_num += a
        s_den += b
        s_log += c
        s_lin += d
        a, b, c, d = bin_terms(ae_re - be_re, ae_im - be_im, ar_re - br_re, ar_im - br_im,
                               eps, log_mode, lin_mode)
        d_num += a
        d_den += b
        d_log += c
        d_lin += d
    if n_fft % 2 == 0:   # the Nyquist bin is real
        last = n_fft - 1
        a, b, c, d = edge_bin_terms(
            np.float64(a_e[last]) + np.float64(b_e[last]), 0.0,
            np.float64(a_r[last]) + np.float64(b_r[last]), 0.0, eps, log_mode, lin_mode)
        s_num += a
        s_den += b
        s_log += c
        s_lin += d
        a, b, c, d = edge_bin_terms(
            np.float64(a_e[last]) - np.float64(b_e[last]), 0.0,
            np.float64(a_r[last]) - np.float64(b_r[last]), 0.0, eps, log_mode, lin_mode)
        d_num += a
        d_den += b
        d_log += c
        d_lin += d
    return s_num, s_den, s_log, s_lin, d_num, d_den, d_log, d_lin
