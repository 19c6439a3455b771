"""Stages between the FFT and the per-bin terms, for the spectral options: floored
magnitudes, a sparse filterbank (mel or chroma), the per-band terms with a scale and a
generalised log, and the phase term.

Each writes into a caller's buffer or returns sums, and allocates nothing. They are
called once per frame, not inlined: a call per frame costs nothing next to the loop over
bins inside, and every inlined copy would be compiled again.
"""

import math

import numpy as np
from numba import uint64

from .fastlog import fast_log
from .jit import cpu_function
from .layout import L1, L2, NO_TERM, POWER_RATIO_MAX, POWER_RATIO_MIN


@cpu_function
def floor_power(power, eps, added):
    """max(power, eps), or power + eps when `added` (HiFi-GAN's floor)."""
    return power + eps if added else max(power, eps)


@cpu_function(inline=False)   # called once per frame
def floored_magnitudes(spec, eps, added, out):
    """out[f] = sqrt(floor_power(re_f**2 + im_f**2)) in float64, for the F = n // 2 + 1
    bins of a spectrum in FFTPACK's half-complex order (see terms.spectrum_terms)."""
    n_fft = spec.shape[0]
    out[0] = math.sqrt(floor_power(np.float64(spec[0]) ** 2, eps, added))
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        re = np.float64(spec[2 * f - 1])
        im = np.float64(spec[2 * f])
        out[f] = math.sqrt(floor_power(re * re + im * im, eps, added))
    if n_fft % 2 == 0:   # the Nyquist bin is real
        out[n_fft // 2] = math.sqrt(floor_power(np.float64(spec[n_fft - 1]) ** 2, eps, added))


@cpu_function(inline=False)   # called once per frame
def apply_filterbank(mags, starts, offsets, weights, out):
    """out[b] = sum_k weights[offsets[b] + k] * mags[starts[b] + k] over band b's support."""
    for b in range(out.shape[0]):
        first = offsets[b]
        start = starts[b]
        total = 0.0
        for k in range(uint64(0), uint64(offsets[b + 1] - first)):
            total += weights[uint64(first) + k] * mags[uint64(start) + k]
        out[b] = total


def value_terms_formula(log):
    """The terms of one magnitude or band value pair, with `log` as the logarithm, as a
    plain Python function: compiled here for the CPU (fast_log) and in cuda/options.py for
    the GPU (math.log), one formula for both.

    value_terms(e, r, log_fac, log_eps, threshold, floor, log_mode, lin_mode) ->
    (sc_num, sc_den, log_dist, lin_dist, dot) for the estimate's value e and the
    reference's r (already scaled); the log distance is of log(v), v = log_fac * x +
    log_eps floored as layout.OptionPlan says, from one logarithm of the ratio.
    """
    def value_terms(e, r, log_fac, log_eps, threshold, floor, log_mode, lin_mode):
        diff = e - r
        log_term = 0.0
        if log_mode != NO_TERM:
            v_e = log_fac * e + log_eps
            v_r = log_fac * r + log_eps
            v_e = v_e if v_e > threshold else floor
            v_r = v_r if v_r > threshold else floor
            log_ratio = log(min(max(v_e / v_r, POWER_RATIO_MIN), POWER_RATIO_MAX))
            log_term = abs(log_ratio) if log_mode == L1 else log_ratio * log_ratio
        lin_term = 0.0
        if lin_mode == L1:
            lin_term = abs(diff)
        elif lin_mode == L2:
            lin_term = diff * diff
        return diff * diff, r * r, log_term, lin_term, e * r
    return value_terms


value_terms = cpu_function(value_terms_formula(fast_log))


@cpu_function(inline=False)   # called once per frame
def band_terms(x_est, x_ref, alpha, options, log_mode, lin_mode):
    """Sums over bands of (sc_num, sc_den, log_dist, lin_dist, dot) for one frame.

    The reference values are scaled by alpha (1 without scale invariance); the log
    distance is of log(v), v = log_fac * x + log_eps floored as layout.OptionPlan says,
    from one logarithm of the ratio. dot = sum x_est * (alpha * x_ref), the numerator of
    the optimal scale.
    """
    log_fac = options.log_fac
    log_eps = options.log_eps
    threshold = options.log_threshold
    floor = options.log_floor
    sc_num = 0.0
    sc_den = 0.0
    log_dist = 0.0
    lin_dist = 0.0
    dot = 0.0
    for b in range(uint64(0), uint64(x_est.shape[0])):
        e = x_est[b]
        r = alpha * x_ref[b]
        diff = e - r
        sc_num += diff * diff
        sc_den += r * r
        dot += e * r
        if log_mode != NO_TERM:
            v_e = log_fac * e + log_eps
            v_r = log_fac * r + log_eps
            v_e = v_e if v_e > threshold else floor
            v_r = v_r if v_r > threshold else floor
            ratio = v_e / v_r
            log_ratio = fast_log(min(max(ratio, POWER_RATIO_MIN), POWER_RATIO_MAX))
            if log_mode == L1:
                log_dist += abs(log_ratio)
            else:
                log_dist += log_ratio * log_ratio
        if lin_mode == L1:
            lin_dist += abs(diff)
        elif lin_mode == L2:
            lin_dist += diff * diff
    return sc_num, sc_den, log_dist, lin_dist, dot


@cpu_function(inline=False)   # called once per frame
def phase_distance(spec_e, spec_r):
    """Sum over the F bins of (angle_e - angle_r)**2, each angle in (-pi, pi]; the DC and
    Nyquist bins are real (angle 0 or pi), as numpy.angle gives for rfft's output."""
    n_fft = spec_e.shape[0]
    d = math.atan2(0.0, np.float64(spec_e[0])) - math.atan2(0.0, np.float64(spec_r[0]))
    total = d * d
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        d = (math.atan2(np.float64(spec_e[2 * f]), np.float64(spec_e[2 * f - 1]))
             - math.atan2(np.float64(spec_r[2 * f]), np.float64(spec_r[2 * f - 1])))
        total += d * d
    if n_fft % 2 == 0:
        d = (math.atan2(0.0, np.float64(spec_e[n_fft - 1]))
             - math.atan2(0.0, np.float64(spec_r[n_fft - 1])))
        total += d * d
    return total
