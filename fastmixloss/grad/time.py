"""Gradients of the time-domain losses (time_domain.py) with respect to the estimate.

forward: the face's own value, then for the losses of energies (ESR, DC, SNR, SI-SDR,
SD-SDR) each row's sums as the face computes them: the one-pass shifted sums (one more
read of the signals), and the exact recomputation passes for the rows those cannot settle
(cancellation, a reference that may be silent, squares that overflow float64: those
computed at a power-of-two scale, as the face does). From the sums come, per row, the
coefficients of kernels/time_backward.py's per-sample formula; `saved` is those
coefficients (N_COEFS per row, rows in (item, channel) order). MSE, L1 and log-cosh need
no sums: their coefficients are constants of the loss.

backward: the row weights from grad_value and the reduction, then one elementwise kernel
(CPU, or its CUDA twin on the inputs' stream).

Conventions where the value has a kink or no value:
- L1 at est == ref: 0 (the subgradient of smallest norm; torch's sign(0) = 0 too).
- A reference whose energy (about its mean with zero_mean) is zero: the value is NaN, and
  so is its rows' gradient; with compat="auraloss" the eps-floored formula's gradient,
  as torch's autograd gives it.
- eps: differentiated as it stands in the formula (the value's eps-floored denominators
  and log argument), in both modes.
"""

import math

import numpy as np

from .. import backend as backends
from .. import validation as check
from ..errors import ParameterError
from ..kernels.layout import (EXACT_D, EXACT_DD, EXACT_EY, EXACT_MEAN_E, EXACT_MEAN_Y,
                              EXACT_RESIDUAL, EXACT_Y_MAX, EXACT_Y_MIN, EXACT_YY, SHIFT_Y,
                              SUM_Y)
from ..kernels.time_backward import (COEF_A, COEF_EPS, COEF_MEAN_D, COEF_MEAN_Y, COEF_MIX,
                                     COEF_OFFSET, COEF_SAMPLE_SCALE, COEF_SCALE,
                                     COEF_TARGET, N_COEFS, TIME_GRAD_AFFINE,
                                     TIME_GRAD_LOG_COSH, TIME_GRAD_SIGN)
from ..time_domain import (RESCALED_EXPONENT, DCLoss, ESRLoss, L1Loss, LogCoshLoss,
                           MSELoss, SDSDRLoss, SISDRLoss, SNRLoss, _EnergyLoss,
                           _exact_passes, _Peaks, _Sums)
from .common import est_dtype, saved_array, upstream

_DB = 10.0 / math.log(10.0)     # d(10 log10 x) = _DB dx / x


def _kind(loss):
    if isinstance(loss, L1Loss):
        return TIME_GRAD_SIGN
    if isinstance(loss, LogCoshLoss):
        return TIME_GRAD_LOG_COSH
    return TIME_GRAD_AFFINE


def _rows_of(shape):
    """Rows (items x channels) of a signal of this shape, (T,), (C, T) or (B, C, T)."""
    check.check_shape(shape, "est")
    shape3 = (1,) * (3 - len(shape)) + tuple(shape)
    return shape3[0] * shape3[1]


def saved_size(loss, est_shape):
    return N_COEFS * _rows_of(est_shape)


def _signals(loss, est, ref):
    """(backend, est3, ref3, ndim) as the face reads them (its checks and messages)."""
    backend = backends.select(loss.device, est, ref)
    est3, ref3, ndim = backend.as_signal_pair(est, ref,
                                              require_batch=loss.compat == "auraloss")
    check.check_layout(est3.shape, ndim)
    return backend, est3, ref3, ndim


def forward(loss, est, ref):
    value = loss(est, ref)   # every check, and the value bit for bit
    backend, est3, ref3, _ = _signals(loss, est, ref)
    coefs = _coefficients(loss, backend, est3.reshape(-1, est3.shape[-1]),
                          ref3.reshape(-1, ref3.shape[-1]))
    return value, coefs.reshape(-1)


def _coefficients(loss, backend, est2, ref2):
    """(N, N_COEFS) float64: each row's coefficients of gradient_sample."""
    n_rows, length = est2.shape
    coefs = np.zeros((n_rows, N_COEFS))
    coefs[:, COEF_SAMPLE_SCALE] = 1.0
    if isinstance(loss, MSELoss):
        coefs[:, COEF_SCALE] = 2.0 / length
    elif isinstance(loss, L1Loss):
        coefs[:, COEF_SCALE] = 1.0 / length
    elif isinstance(loss, LogCoshLoss):   # (1/a) ln(cosh(a d) + eps), mean over samples
        coefs[:, COEF_SCALE] = 1.0 / length
        coefs[:, COEF_A] = loss.a
        coefs[:, COEF_EPS] = loss.eps
    elif isinstance(loss, _EnergyLoss):
        _energy_coefficients(loss, _row_sums(loss, backend, est2, ref2), length, coefs)
    else:
        raise ParameterError(f"loss={loss!r} is not a time-domain loss")
    return coefs


def _row_sums(loss, backend, est2, ref2):
    """Each row's sums, as arrays (N,): the energies dd, yy, ey (about the means where the
    loss is centred), sum d, SI-SDR's residual, the means of d and y, and per row the
    scale its sums were computed at, the eps scaled with them and whether its reference
    has no energy. As the face: the one-pass sums, and the exact passes for their
    uncertain rows (time_domain._EnergyLoss._settle)."""
    n_rows, length = est2.shape
    totals, shifts = backend.time_sums(est2, ref2)
    energies, uncertain = loss._one_pass(_Sums(totals, shifts, length))
    sums = {name: energies.get(name, np.zeros(n_rows))
            for name in ("dd", "yy", "ey", "d", "residual")}
    with np.errstate(all="ignore"):
        sums["mean_d"] = energies["d"] / length
        sums["mean_y"] = (totals[:, SUM_Y] + length * shifts[:, SHIFT_Y]) / length
        suspects = ~np.isfinite(totals).all(axis=1)
        for name in loss.uses:
            suspects |= ~np.isfinite(energies[name])
    sums["scale"] = np.ones(n_rows)
    sums["eps"] = np.full(n_rows, loss.eps)
    sums["silent"] = np.zeros(n_rows, dtype=bool)
    rows = np.flatnonzero(uncertain | suspects)
    if rows.size:
        _exact_rows(loss, backend, est2, ref2, rows, suspects[rows], sums)
    if not loss.centred:
        sums["mean_d"][:] = sums["mean_y"][:] = 0.0
    return sums


def _exact_rows(loss, backend, est2, ref2, rows, suspects, sums):
    """Replace the sums of `rows` by the exact passes' (rows whose sums overflowed or hold
    a NaN, `suspects`, at the face's power-of-two scale)."""
    length = est2.shape[1]
    scales = np.ones(rows.size)
    rescaled = np.flatnonzero(suspects)
    if rescaled.size:
        peaks = _run_passes(_one_job(_Peaks(rows[rescaled])), backend, est2, ref2)
        with np.errstate(all="ignore"):
            exponents = np.frexp(np.where(np.isfinite(peaks), peaks, 1.0))[1]
        scales[rescaled] = np.ldexp(1.0, RESCALED_EXPONENT - exponents)
    eps = loss.eps * scales * scales
    state = _run_passes(_exact_passes(rows, scales, loss.centred, eps, loss.needs_residual,
                                      length), backend, est2, ref2)
    for name, column in (("dd", EXACT_DD), ("yy", EXACT_YY), ("ey", EXACT_EY),
                         ("d", EXACT_D), ("residual", EXACT_RESIDUAL)):
        sums[name][rows] = state[:, column]
    sums["mean_d"][rows] = state[:, EXACT_MEAN_E] - state[:, EXACT_MEAN_Y]
    sums["mean_y"][rows] = state[:, EXACT_MEAN_Y]
    sums["scale"][rows] = scales
    sums["eps"][rows] = eps
    y_min, y_max = state[:, EXACT_Y_MIN], state[:, EXACT_Y_MAX]
    # zero energy: a constant reference when centred, an all-zero one otherwise
    sums["silent"][rows] = ((y_min == y_max) if loss.centred
                            else ((y_min == 0) & (y_max == 0)))


def _one_job(job):
    """A single pass of one job, as a generator like _exact_passes: its result."""
    (result,) = yield [job]
    return result


def _run_passes(passes, backend, est2, ref2):
    """Run a generator of passes (time_domain's protocol: it yields a pass's jobs and is
    sent their results) over the whole signal; its return value."""
    results = None
    try:
        while True:
            jobs = passes.send(results)
            for job in jobs:
                job.feed(backend, est2, ref2)
            results = [job.result() for job in jobs]
    except StopIteration as done:
        return done.value


def _energy_coefficients(loss, sums, length, coefs):
    """The ratio losses' coefficients from the rows' sums. With q = T / (R + eps) and the
    value v = -10 log10(q + eps) (SNR, SI-SDR, SD-SDR): dv = k (dT - q dR), k = -_DB /
    ((q + eps) (R + eps)), d and y about their means where zero_mean.

    A row computed at scale s (samples times s, eps times s^2, the value unchanged) has
    the gradient s * g'(s est), g' of the scaled sums: the kernel scales its samples and
    result by the row's sample_scale (its coefficients alone might not fit float64).
    """
    eps = sums["eps"]
    dd, yy, ey = sums["dd"], sums["yy"], sums["ey"]
    with np.errstate(all="ignore"):
        if isinstance(loss, ESRLoss):     # dd / (yy + eps)
            coefs[:, COEF_SCALE] = 2.0 / (yy + eps)
        elif isinstance(loss, DCLoss):    # (D / n)^2 / (yy / n + eps): a constant per row
            coefs[:, COEF_OFFSET] = 2.0 * sums["d"] / length / length / (yy / length + eps)
        else:
            alpha = ey / (yy + eps)
            if isinstance(loss, SNRLoss):
                target, residual = yy, dd
            elif isinstance(loss, SDSDRLoss):
                target, residual = alpha * alpha * yy, dd
            elif isinstance(loss, SISDRLoss):
                target, residual = alpha * alpha * yy, sums["residual"]
            q = target / (residual + eps)
            k = -_DB / ((q + eps) * (residual + eps))
            # dR = 2 (d - mean_d), or for SI-SDR 2 r - 2 alpha eps / (yy + eps) y with
            # r = (d - mean_d) + (1 - alpha)(y - mean_y), the residual's samples
            coefs[:, COEF_SCALE] = -2.0 * k * q
            if not isinstance(loss, SNRLoss):   # dT = 2 alpha yy / (yy + eps) y
                coefs[:, COEF_TARGET] = 2.0 * k * alpha * yy / (yy + eps)
            if isinstance(loss, SISDRLoss):
                coefs[:, COEF_MIX] = 1.0 - alpha
                coefs[:, COEF_TARGET] += 2.0 * k * q * alpha * eps / (yy + eps)
            coefs[:, COEF_MEAN_D] = sums["mean_d"]
            coefs[:, COEF_MEAN_Y] = sums["mean_y"]
    coefs[:, COEF_SAMPLE_SCALE] = sums["scale"]
    if loss.compat != "auraloss":   # no value, no gradient: NaN as the value
        coefs[sums["silent"]] = np.nan


def _row_weights(loss, grad_value, shape3):
    """(N,) float64: d(sum(grad_value * value)) / d(row's value), rows in (item, channel)
    order. The values are the rows themselves with compat="auraloss", else each item's
    mean over its channels; then their mean, their sum, or each ("none")."""
    n_items, n_channels, _ = shape3
    compat = loss.compat == "auraloss"
    if loss.reduction == "none":
        value_shape = (n_items, n_channels) if compat else (n_items,)
        per_value = upstream(grad_value, value_shape).reshape(n_items, -1)
    else:
        per_value = upstream(grad_value, ()).reshape(1, 1)
    if loss.reduction == "mean":    # over every row, either way
        divisor = n_items * n_channels
    else:
        divisor = 1 if compat else n_channels
    return (np.broadcast_to(per_value, (n_items, n_channels)) / divisor).reshape(-1)


def backward(loss, est, ref, saved, grad_value):
    backend, est3, ref3, ndim = _signals(loss, est, ref)
    n_items, n_channels, length = est3.shape
    coefs = saved_array(saved, N_COEFS * n_items * n_channels).reshape(-1, N_COEFS)
    weights = _row_weights(loss, grad_value, est3.shape)
    dtype = est_dtype(est)
    est2 = est3.reshape(-1, length)
    ref2 = ref3.reshape(-1, length)
    if backend.name == "cuda":
        from ..cuda.time_backward import time_gradient
        grad = time_gradient(backend, est2, ref2, _kind(loss), coefs, weights, dtype)
    else:
        from ..kernels.time_backward import time_gradient
        grad = time_gradient(est2, ref2, _kind(loss), coefs, weights, dtype)
    return grad.reshape(est3.shape[3 - ndim:])
