"""Stages between the FFT and the per-bin terms, for the spectral options: floored
magnitudes, a sparse filterbank (mel or chroma), the per-band terms with a scale and a
generalised log, and the phase term.

Each writes into a caller's buffer or returns sums, and allocates nothing. `block_terms`
composes them for every frame of a block, inlined into its one compiled body: called per
frame, five calls per frame pair cost as much as the stages themselves at DAC's 32- to
128-point transforms (measured), and every further inlined copy would be compiled again.
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


@cpu_function
def floored_magnitudes(spectra, eps, added, out):
    """out = sqrt(floor_power(re**2 + im**2)) in float64, element by element, for rows of
    complex bins (rfft's layout: the DC and Nyquist bins have zero imaginary parts). One
    flat loop over every bin of every row: at DAC's 32-point frames a loop per frame (17
    bins) cost four times as much."""
    flat = spectra.reshape(-1)
    values = out.reshape(-1)
    for i in range(uint64(0), uint64(flat.shape[0])):
        z = flat[i]
        re = np.float64(z.real)
        im = np.float64(z.imag)
        values[i] = math.sqrt(floor_power(re * re + im * im, eps, added))


@cpu_function
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


@cpu_function
def band_terms(x_est, x_ref, alpha, options, log_mode, lin_mode):
    """Sums over values (bands or bins, of one frame or a block's frames) of (sc_num,
    sc_den, log_dist, lin_dist, dot): the terms of value_terms for each value, the
    reference values scaled by alpha (1 without scale invariance). dot = sum x_est *
    (alpha * x_ref), the numerator of the optimal scale.
    """
    sc_num = 0.0
    sc_den = 0.0
    log_dist = 0.0
    lin_dist = 0.0
    dot = 0.0
    for b in range(uint64(0), uint64(x_est.shape[0])):
        a, s, c, d, x = value_terms(x_est[b], alpha * x_ref[b], options.log_fac,
                                    options.log_eps, options.log_threshold,
                                    options.log_floor, log_mode, lin_mode)
        sc_num += a
        sc_den += s
        log_dist += c
        lin_dist += d
        dot += x
    return sc_num, sc_den, log_dist, lin_dist, dot


@cpu_function
def phase_distance(spec_e, spec_r, n_fft):
    """Sum over the F bins of one frame pair of (angle_e - angle_r)**2, each angle in
    (-pi, pi]; the DC and (even n_fft) Nyquist bins are taken as real, angle 0 or pi, as
    numpy.angle gives for rfft's output."""
    last = spec_e.shape[0] - 1
    total = 0.0
    for k in range(spec_e.shape[0]):
        z_e = spec_e[k]
        z_r = spec_r[k]
        im_e = np.float64(z_e.imag)
        im_r = np.float64(z_r.imag)
        if k == 0 or (k == last and n_fft % 2 == 0):
            im_e = 0.0
            im_r = 0.0
        d = math.atan2(im_e, np.float64(z_e.real)) - math.atan2(im_r, np.float64(z_r.real))
        total += d * d
    return total


@cpu_function(inline=False)   # called once per block
def block_terms(spectra, count, offset, plan, options, fb_starts, fb_offsets, fb_weights,
                alpha, mags, bands):
    """The option terms of a block's `count` frame pairs, estimate j at spectra[j] and
    reference j at spectra[offset + j] (complex rows of F bins): sums (sc_num, sc_den,
    log_dist, lin_dist, phase, dot). Floored magnitudes -> filterbank per frame
    (options.n_bands > 0) -> the per-value terms over the whole block (-> phase), through
    the caller's float64 buffers mags (rows, F) and bands (rows, n_bands). Estimate and
    reference rows take the same loops, so identical frames give identical values."""
    floored_magnitudes(spectra[:count], plan.eps, options.eps_added, mags[:count])
    floored_magnitudes(spectra[offset:offset + count], plan.eps, options.eps_added,
                       mags[offset:offset + count])
    values = mags
    if options.n_bands > 0:
        for j in range(count):
            apply_filterbank(mags[j], fb_starts, fb_offsets, fb_weights, bands[j])
            apply_filterbank(mags[offset + j], fb_starts, fb_offsets, fb_weights,
                             bands[offset + j])
        values = bands
    sc_num, sc_den, log_dist, lin_dist, dot = band_terms(
        values[:count].reshape(-1), values[offset:offset + count].reshape(-1), alpha,
        options, plan.log_mode, plan.lin_mode)
    phase = 0.0
    if options.phase:
        for j in range(count):
            phase += phase_distance(spectra[j], spectra[offset + j], plan.fft_size)
    return sc_num, sc_den, log_dist, lin_dist, phase, dot
