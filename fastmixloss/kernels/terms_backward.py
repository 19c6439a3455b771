"""The gradient of one STFT bin's terms with respect to the estimate's spectrum.

The forward terms of a bin (terms.py) are functions of the floored magnitudes
m_e = sqrt(max(P_e, eps)) and m_r of the estimate's and the reference's bins. The loss
reaches them through four per-row sums; the caller folds everything above the sums into
three coefficients per row (dL/d SC_NUM, dL/d LOG_DIST, dL/d LIN_DIST; SC_DEN does not
depend on the estimate), and this formula gives dL/d(re_e, im_e) of one bin:

  dL/dm_e = c_num * 2 (m_e - m_r)
          + c_log * sign(m_e - m_r) / m_e            (L1: 0.5 |ln(P_e / P_r)|)
          + c_log * ln(P_e / P_r) / m_e              (L2: 0.25 ln(P_e / P_r)**2)
          + c_lin * sign(m_e - m_r)  or  c_lin * 2 (m_e - m_r)
  dL/d(re_e, im_e) = dL/dm_e * (re_e, im_e) / m_e    where P_e >= eps, else 0

Kinks, as torch's autograd takes them (auraloss's): sign(0) = 0 (abs'(0) = 0); the floor
max(P, eps) passes the gradient at P == eps and stops it below; a power ratio outside
[POWER_RATIO_MIN, POWER_RATIO_MAX] (clamped in the forward) has no gradient.

Plain Python formulas, compiled here for the CPU (with fast_log) and composable by a CUDA
kernel (with math.log), as terms.bin_terms_formula.
"""

import math

import numpy as np
from numba import uint64

from .fastlog import fast_log
from .jit import VECTOR_FASTMATH, cpu_function
from .layout import L1, L2, NO_TERM, POWER_RATIO_MAX, POWER_RATIO_MIN
from .terms import bin_terms, edge_bin_terms


def magnitude_grad_formula(log):
    """dL/dm_e of one magnitude pair in two parts, with `log` as the logarithm (a plain
    function): dL/dm_e = c_num * d_num + d_rest, d_num the derivative of SC_NUM's term
    (whose coefficient c_num needs the whole signal's sums) and d_rest the log and linear
    terms' share (their coefficients depend on shapes only).

    magnitude_grad(mag_e, mag_r, inv_mag_e, power_e, power_r, log_mode, lin_mode, c_log,
    c_lin) -> (d_num, d_rest) takes the floored magnitudes, 1 / mag_e and the floored
    powers.
    """
    def magnitude_grad(mag_e, mag_r, inv_mag_e, power_e, power_r, log_mode, lin_mode,
                       c_log, c_lin):
        diff = mag_e - mag_r
        # d|diff| / d diff, with abs'(0) = 0
        sign = 1.0 if diff > 0.0 else (-1.0 if diff < 0.0 else 0.0)
        d_rest = 0.0
        # the forward clamps P_e / P_r to [POWER_RATIO_MIN, POWER_RATIO_MAX]: outside it
        # there is no gradient (compared as products, a division less per bin)
        if (log_mode != NO_TERM and power_r > 0.0
                and POWER_RATIO_MIN * power_r <= power_e <= POWER_RATIO_MAX * power_r):
            if log_mode == L1:
                d_rest += c_log * sign * inv_mag_e
            else:
                d_rest += c_log * log(power_e / power_r) * inv_mag_e
        if lin_mode == L1:
            d_rest += c_lin * sign
        elif lin_mode == L2:
            d_rest += 2.0 * c_lin * diff
        return 2.0 * diff, d_rest
    return magnitude_grad


def bin_grad_parts_formula(magnitude_grad):
    """The per-bin gradient in magnitude_grad's two parts, as a plain Python function
    calling `magnitude_grad` (the target's compiled magnitude_grad_formula):
    bin_grad_parts(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_log, c_lin) ->
    (num_re, num_im, rest_re, rest_im), so that dL/d(re_e, im_e) = c_num * num + rest,
    from float64 parts."""

    def bin_grad_parts(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_log, c_lin):
        # both powers by the same expression, so that equal bins give equal magnitudes
        # whatever the compiler fuses (an estimate equal to its reference: gradient 0)
        raw_e = re_e * re_e + im_e * im_e
        power_e = max(raw_e, eps)
        power_r = max(re_r * re_r + im_r * im_r, eps)
        mag_e = math.sqrt(power_e)
        inv_mag_e = 1.0 / mag_e
        d_num, d_rest = magnitude_grad(mag_e, math.sqrt(power_r), inv_mag_e, power_e,
                                       power_r, log_mode, lin_mode, c_log, c_lin)
        # the floor: below it the magnitude does not move with the estimate (a select,
        # not an early return, so that the bin loop vectorises: 1.6x faster, measured)
        num = d_num * inv_mag_e if raw_e >= eps else 0.0
        rest = d_rest * inv_mag_e if raw_e >= eps else 0.0
        return num * re_e, num * im_e, rest * re_e, rest * im_e
    return bin_grad_parts


def bin_grad_formula(bin_grad_parts):
    """The per-bin gradient as a plain Python function, calling `bin_grad_parts` (the
    target's compiled bin_grad_parts_formula):
    bin_grad(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_num, c_log, c_lin) ->
    (dL/d re_e, dL/d im_e), from float64 parts."""

    def bin_grad(re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_num, c_log, c_lin):
        num_re, num_im, rest_re, rest_im = bin_grad_parts(
            re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_log, c_lin)
        return c_num * num_re + rest_re, c_num * num_im + rest_im
    return bin_grad


magnitude_grad = cpu_function(magnitude_grad_formula(fast_log))
bin_grad_parts = cpu_function(bin_grad_parts_formula(magnitude_grad))
bin_grad = cpu_function(bin_grad_formula(bin_grad_parts))
edge_bin_grad = cpu_function(bin_grad_formula(bin_grad_parts), inline=False)
edge_bin_grad_parts = cpu_function(bin_grad_parts_formula(magnitude_grad), inline=False)


# Compiled apart (one call per frame) and without "nsz": with it, LLVM's vectorised bin
# loop gave equal estimate and reference bins a nonzero gradient (measured in float64:
# 18 of 128 bins), where sign(m_e - m_r) must be 0.
@cpu_function(fastmath=VECTOR_FASTMATH - {"nsz"}, inline=False)
def spectrum_grad(spec_e, spec_r, eps, log_mode, lin_mode, c_num, c_log, c_lin, out):
    """out = the adjoint input of FFTPACK's inverse real transform for one frame.

    The spectra are in FFTPACK's half-complex order (see terms.spectrum_terms). out gets
    dL/d(spectrum) in the same order with the interior bins' entries halved: FFTPACK's
    unnormalised inverse r2r of it is then the transposed forward transform applied to
    the gradient, i.e. dL/d(windowed frame) (the inverse counts each interior bin twice,
    as its conjugate too; DC and Nyquist once).
    """
    n_fft = spec_e.shape[0]
    g_re, _ = edge_bin_grad(np.float64(spec_e[0]), 0.0, np.float64(spec_r[0]), 0.0, eps,
                            log_mode, lin_mode, c_num, c_log, c_lin)
    out[0] = g_re
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        g_re, g_im = bin_grad(
            np.float64(spec_e[2 * f - 1]), np.float64(spec_e[2 * f]),
            np.float64(spec_r[2 * f - 1]), np.float64(spec_r[2 * f]),
            eps, log_mode, lin_mode, c_num, c_log, c_lin)
        out[2 * f - 1] = 0.5 * g_re
        out[2 * f] = 0.5 * g_im
    if n_fft % 2 == 0:   # the Nyquist bin is real
        g_re, _ = edge_bin_grad(np.float64(spec_e[n_fft - 1]), 0.0,
                                np.float64(spec_r[n_fft - 1]), 0.0, eps, log_mode,
                                lin_mode, c_num, c_log, c_lin)
        out[n_fft - 1] = g_re


@cpu_function(fastmath=VECTOR_FASTMATH - {"nsz"}, inline=False)   # see spectrum_grad
def spectrum_terms_and_grad(spec_e, spec_r, eps, log_mode, lin_mode, c_log, c_lin, out_num,
                            out_rest):
    """terms.spectrum_terms of one frame, and spectrum_grad's out in its two parts
    (bin_grad_parts): out_num for c_num = 1 and no other term, out_rest for the log and
    linear terms, so that spectrum_grad's out is c_num * out_num + out_rest to rounding.
    One loop over the bins: the terms and the gradient share each bin's powers,
    magnitudes and ratio (one_pass's training step on W1: 0.142 s of CPU at one thread
    against 0.157 with a loop for each).
    The sums are spectrum_terms' to rounding: the same per-bin formula, but the compiler
    adds a bigger loop's bins in another order (measured: within 3.5e-16 relative)."""
    n_fft = spec_e.shape[0]
    sc_num, sc_den, log_dist, lin_dist = edge_bin_terms(
        np.float64(spec_e[0]), 0.0, np.float64(spec_r[0]), 0.0, eps, log_mode, lin_mode)
    a, _, b, _ = edge_bin_grad_parts(np.float64(spec_e[0]), 0.0, np.float64(spec_r[0]), 0.0,
                                     eps, log_mode, lin_mode, c_log, c_lin)
    out_num[0] = a
    out_rest[0] = b
    for f in range(uint64(1), uint64((n_fft + 1) // 2)):
        re_e = np.float64(spec_e[2 * f - 1])
        im_e = np.float64(spec_e[2 * f])
        re_r = np.float64(spec_r[2 * f - 1])
        im_r = np.float64(spec_r[2 * f])
        t_num, t_den, t_log, t_lin = bin_terms(re_e, im_e, re_r, im_r, eps, log_mode,
                                               lin_mode)
        sc_num += t_num
        sc_den += t_den
        log_dist += t_log
        lin_dist += t_lin
        num_re, num_im, rest_re, rest_im = bin_grad_parts(
            re_e, im_e, re_r, im_r, eps, log_mode, lin_mode, c_log, c_lin)
        out_num[2 * f - 1] = 0.5 * num_re
        out_num[2 * f] = 0.5 * num_im
        out_rest[2 * f - 1] = 0.5 * rest_re
        out_rest[2 * f] = 0.5 * rest_im
    if n_fft % 2 == 0:   # the Nyquist bin is real
        last = n_fft - 1
        t_num, t_den, t_log, t_lin = edge_bin_terms(
            np.float64(spec_e[last]), 0.0, np.float64(spec_r[last]), 0.0, eps, log_mode,
            lin_mode)
        sc_num += t_num
        sc_den += t_den
        log_dist += t_log
        lin_dist += t_lin
        a, _, b, _ = edge_bin_grad_parts(np.float64(spec_e[last]), 0.0,
                                         np.float64(spec_r[last]), 0.0, eps, log_mode,
                                         lin_mode, c_log, c_lin)
        out_num[last] = a
        out_rest[last] = b
    return sc_num, sc_den, log_dist, lin_dist


# --- the options kernel's terms (filterbank.value_terms) -------------------------------

def value_grad_formula(log):
    """The partial derivatives of one value pair's terms in the options kernel (a
    magnitude or a band value, the reference's already scaled), with `log` as the
    logarithm, as a plain Python function:

    value_grad(e, r, log_fac, log_eps, threshold, floor, log_mode, lin_mode, c_num, c_log,
    c_lin) -> (dL/de, dL/dr) for the terms of filterbank.value_terms: (e - r)**2, the log
    distance of v = log_fac * x + log_eps (v <= threshold becomes floor), |e - r| or
    (e - r)**2 (dL/dr serves scale invariance, whose scale moves the reference's values).
    A log argument has a gradient where v > threshold, and at v == threshold where the
    floor is a clamp (threshold == floor: max(v, c) passes it at equality, as torch's
    clamp); a value replaced by a different floor (DDSP's safe log of 0) has none.
    """
    def value_grad(e, r, log_fac, log_eps, threshold, floor, log_mode, lin_mode, c_num,
                   c_log, c_lin):
        diff = e - r
        sign = 1.0 if diff > 0.0 else (-1.0 if diff < 0.0 else 0.0)
        d_e = 2.0 * c_num * diff
        d_r = -d_e
        if log_mode != NO_TERM:
            v_e = log_fac * e + log_eps
            v_r = log_fac * r + log_eps
            e_moves = v_e > threshold or (v_e == threshold and threshold == floor)
            r_moves = v_r > threshold or (v_r == threshold and threshold == floor)
            v_e = v_e if v_e > threshold else floor
            v_r = v_r if v_r > threshold else floor
            ratio = v_e / v_r
            if POWER_RATIO_MIN <= ratio <= POWER_RATIO_MAX:
                if log_mode == L1:
                    log_diff = v_e - v_r
                    d_log = 1.0 if log_diff > 0.0 else (-1.0 if log_diff < 0.0 else 0.0)
                else:
                    d_log = 2.0 * log(ratio)
                if e_moves:
                    d_e += c_log * d_log * log_fac / v_e
                if r_moves:
                    d_r -= c_log * d_log * log_fac / v_r
        if lin_mode == L1:
            d_e += c_lin * sign
            d_r -= c_lin * sign
        elif lin_mode == L2:
            d_e += 2.0 * c_lin * diff
            d_r -= 2.0 * c_lin * diff
        return d_e, d_r
    return value_grad


def floored_magnitude_grad_formula():
    """d sqrt(floor_power(P)) / d(re, im) times dL/dm, as a plain Python function:
    magnitude_bin_grad(re, im, eps, added, d_mag) -> (dL/d re, dL/d im). With the floor
    max(P, eps) the gradient stops below eps and passes at P == eps (torch's clamp);
    with P + eps (HiFi-GAN) it always passes; a magnitude of exactly 0 (eps = 0) has
    gradient 0 (torch's abs of a complex 0)."""
    def magnitude_bin_grad(re, im, eps, added, d_mag):
        power = re * re + im * im
        floored = power + eps if added else max(power, eps)
        if floored <= 0.0 or (not added and power < eps):
            return 0.0, 0.0
        scale = d_mag / math.sqrt(floored)
        return scale * re, scale * im
    return magnitude_bin_grad


def phase_grad_formula():
    """dL/d(re_e, im_e) of c_phs * (angle_e - angle_r)**2, as a plain Python function:
    phase_bin_grad(re_e, im_e, re_r, im_r, c_phs) (angles by atan2, in (-pi, pi]); a bin
    of exactly 0 has gradient 0 (atan2's at the origin, as torch's angle)."""
    def phase_bin_grad(re_e, im_e, re_r, im_r, c_phs):
        power = re_e * re_e + im_e * im_e
        if power == 0.0:
            return 0.0, 0.0
        d_angle = 2.0 * c_phs * (math.atan2(im_e, re_e) - math.atan2(im_r, re_r)) / power
        return -d_angle * im_e, d_angle * re_e
    return phase_bin_grad


value_grad = cpu_function(value_grad_formula(fast_log))
magnitude_bin_grad = cpu_function(floored_magnitude_grad_formula())
phase_bin_grad = cpu_function(phase_grad_formula())
