"""Gradients of the spectral losses (the faces of spectral.py and the presets).

forward runs the loss as its call does and keeps its per-row kernel sums (SC_NUM,
SC_DEN, LOG_DIST, LIN_DIST per resolution, item and row, and the row's reference scale
under scale invariance) as `saved`. backward turns them and the upstream gradient into
coefficients per (resolution, item, row), the derivatives of the loss with respect to
the row's sums (SC_DEN moves with the estimate only through scale invariance's scale),
and runs one fused backward kernel per resolution (kernels/stft_backward.py), which
recomputes the spectra frame by frame: no spectrogram is stored.

Kinks: the default mode and compat="auraloss" take the same values, those of torch's
autograd in auraloss (kernels/terms_backward.py): spectral convergence ||d|| / ||X_r||
has gradient 0 where ||d|| = 0; |x| (the L1 terms) has derivative 0 at x = 0; the
magnitude floor sqrt(max(P, eps)) passes the gradient at P == eps and stops it below
(sqrt(P + eps) always passes; a magnitude of exactly 0 with eps = 0 has none); the log
floor passes at equality where it is a clamp max(v, c) and stops at and below the
threshold where it replaces values (DDSP's safe log); the phase's atan2 has gradient 0
at the origin and none at DC and Nyquist; an item whose spectral convergence is
undefined (NaN value) gets a NaN gradient where SC is weighted.
"""

import threading

import numpy as np

from .. import engine, filterbanks
from . import common
from ..errors import ParameterError
from ..kernels import layout
from ..presets import PresetLoss
from ..spectral import RandomResolutionSTFTLoss, SumAndDifferenceSTFTLoss

# kept per (resolution, item, row): these sums, then the reference's scale (1 without
# scale invariance)
_SAVED_TERMS = (layout.SC_NUM, layout.SC_DEN, layout.LOG_DIST, layout.LIN_DIST)
N_SAVED = len(_SAVED_TERMS) + 1
# the backward kernels' coefficients per row: dL/d SC_NUM, LOG_DIST, LIN_DIST, PHASE_DIST,
# the reference's scale alpha, and dL/d alpha / sum r**2 (stft_backward.option_frame_grad)
N_COEFFICIENTS = 6
# group_coefficients' columns: the first four above, then dL/d SC_DEN
N_SUM_COEFFICIENTS = 5


class _Unit:
    """One plan's share of a loss: its rows (`mix`, None for the channels), its groups of
    rows with the weight of each group's loss, and the scale of the whole in the value."""

    def __init__(self, plan, mix=None, groups=engine.WHOLE_SIGNAL, group_weights=(1.0,),
                 scale=1.0, channels=None, loss_name=None):
        self.plan = plan
        self.mix = mix
        self.groups = groups
        self.group_weights = group_weights
        self.scale = scale
        self.channels = channels
        self.loss_name = loss_name

    def n_rows(self, n_channels):
        return n_channels if self.mix is None else len(self.mix)


def _units(loss):
    """The loss's _Units (every plan it runs), its checks done."""
    if isinstance(loss, RandomResolutionSTFTLoss):
        count = 1 if loss._losses[0].plan.sum_resolutions else len(loss._losses)
        units = [_Unit(sub.plan, scale=1.0 / count) for sub in loss._losses]
    elif isinstance(loss, PresetLoss):
        units = [_Unit(loss.plan, loss_name=f"preset={loss.name!r}")]
    elif isinstance(loss, SumAndDifferenceSTFTLoss):
        halved = 0.5 if loss.plan.compat == "auraloss" else 1.0
        units = [_Unit(loss.plan, loss.mix, loss.mix_groups,
                       (halved * loss.w_sum, halved * loss.w_diff), channels=loss.channels)]
    else:
        units = [_Unit(loss.plan, loss.mix, loss.mix_groups, channels=loss.channels)]
    check_differentiable(loss)
    return units


def _output(loss):
    return loss._output if isinstance(loss, RandomResolutionSTFTLoss) else loss.plan.output


def check_differentiable(loss):
    """ParameterError, before any kernel runs, where the loss has no gradient: every
    option and preset has one; a breakdown (output="full") does not."""
    if _output(loss) == "full":
        raise ParameterError(
            f"output='full' has no gradient (loss={loss!r}): the gradient is of the "
            f"loss value; use output='loss'")


def _shape3(est_shape):
    """(B, C, T) of an estimate shaped (T,), (C, T) or (B, C, T)."""
    est_shape = tuple(est_shape)
    return (1,) * (3 - len(est_shape)) + est_shape


def saved_size(loss, est_shape):
    """The length of forward's `saved`: N_SAVED sums per (resolution, item, row)."""
    units = _units(loss)
    n_items, n_channels, _ = _shape3(est_shape)
    return sum(len(u.plan.resolutions) * n_items * u.n_rows(n_channels) * N_SAVED
               for u in units)


def forward(loss, est, ref):
    """(value, saved): loss(est, ref) and its kernel sums, float64, unit by unit,
    resolution by resolution, (item, row, term) within."""
    if isinstance(loss, RandomResolutionSTFTLoss):
        _units(loss)   # checks the options before the call draws
        loss.draw_for_call(est, ref)
    units = _units(loss)
    all_parts = [engine.sums(u.plan, est, ref, mix=u.mix, channels=u.channels,
                             loss_name=u.loss_name) for u in units]
    if isinstance(loss, RandomResolutionSTFTLoss):
        breakdowns = [sub.from_sums(parts) for sub, parts in zip(loss._losses, all_parts)]
        value = engine.over_resolutions(loss._losses[0].plan, breakdowns).loss
    elif isinstance(loss, PresetLoss):
        value = engine.multi_resolution(loss.plan, all_parts[0])[0].loss
    else:
        value = loss.from_sums(all_parts[0])
    saved = np.concatenate([
        np.concatenate([part.sums[..., list(_SAVED_TERMS)],
                        reference_scale(unit.plan, index, part)[..., None]], axis=-1).ravel()
        for unit, parts in zip(units, all_parts) for index, part in enumerate(parts)])
    return value, saved


def reference_scale(plan, index, part):
    """(B, R): the scale alpha of each row's reference values in resolution `index`'s
    sums (1 without scale invariance). The engine scales the floor-only SC_DEN by
    alpha**2 (engine.resolution_part), so alpha is read back from it (alpha >= 0: a dot
    product of magnitudes over a sum of squares)."""
    if not plan.scale_invariance:
        return np.ones(part.floor_den.shape)
    fft_size = plan.resolutions[index].fft_size
    n_frames = part.bins_per_row // (fft_size // 2 + 1)
    unscaled = engine.floor_sc_den(n_frames, fft_size, plan.eps, plan.filterbanks[index])
    return np.sqrt(part.floor_den / unscaled)


def backward(loss, est, ref, saved, grad_value):
    """The gradient of sum(grad_value * value) with respect to est (same shape, dtype)."""
    from ..kernels.stft_backward import (add_fir_adjoint, filtered_rows,
                                         reference_scale_sums, stft_backward)
    from ..kernels.workers import thread_count
    units = _units(loss)
    plan0 = units[0].plan
    backend = engine.select_backend(plan0, est, ref)
    est3, ref3 = engine.signal_pair(plan0, backend, est, ref, units[0].channels)
    n_items, n_channels, length = est3.shape
    saved = common.saved_array(saved, saved_size(loss, est3.shape))
    upstream = common.upstream(grad_value, (n_items,) if plan0.reduction == "none" else ())
    if upstream.ndim == 0:
        upstream = float(upstream)
    if backend.name == "cuda":   # the CUDA twin, on the inputs' stream
        from ..cuda import stft_backward as cuda_backward
        cuda_backward.check_plans(loss, [unit.plan for unit in units])
        grad = cuda_backward.zero_gradient(est3)
    else:
        # accumulated in est's dtype: a float64 buffer would double the largest array of
        # a float32 call (127 MB more for a 3-minute stereo song), and each sample adds
        # only (fft_size / hop) frames per resolution, in a fixed order
        grad = np.zeros(est3.shape, est3.dtype)
    at = 0
    for unit in units:
        plan = unit.plan
        n_rows = unit.n_rows(n_channels)
        mix = None if unit.mix is None else np.asarray(unit.mix, dtype=est3.dtype)
        count = 1 if plan.sum_resolutions else len(plan.resolutions)
        # the CPU kernels' signals, rows and gradient: with the prefilter, the filtered rows
        # (rows of their own), whose gradient goes back through the FIR's adjoint below
        signals, kernel_mix, target = (est3, ref3), mix, grad
        if plan.taps is not None and backend.name != "cuda":
            rows_mix = np.eye(n_channels, dtype=est3.dtype) if mix is None else mix
            signals = filtered_rows(est3, ref3, rows_mix, plan.taps, thread_count())
            kernel_mix, target = None, np.zeros(signals[0].shape)
        for index in range(len(plan.resolutions)):
            size = n_items * n_rows * N_SAVED
            kept = saved[at:at + size].reshape(n_items, n_rows, N_SAVED)
            at += size
            sums = np.zeros((n_items, n_rows, layout.N_TERMS))
            sums[..., list(_SAVED_TERMS)] = kept[..., :-1]
            alpha = kept[..., -1]
            window, frames, pad_left = engine.frame_plan(plan, index, length, est3.dtype)
            bank = plan.filterbanks[index]
            part = engine.resolution_part(plan, frames, bank, sums, alpha)
            frames = frames._replace(frame_start=-pad_left)
            options = plan.option_plan(index, pad_left)
            if plan.taps is not None:   # the forward reads filtered rows reflected
                options = options._replace(zero_pad=False)
            option_arrays = (options, *filterbanks.kernel_arrays(bank))
            coefficients = np.zeros((n_items, n_rows, N_COEFFICIENTS))
            coefficients[..., 4] = alpha
            d_sc_den = np.zeros((n_items, n_rows))
            for (rows, _), weight in zip(unit.groups, unit.group_weights):
                if weight:
                    group = group_coefficients(
                        plan, part.rows(rows), upstream * (unit.scale * weight / count))
                    coefficients[:, rows, :4] = group[:, None, :4]
                    d_sc_den[:, rows] = group[:, None, 4]
            if plan.scale_invariance:
                # alpha = sum e r / sum r**2 moves with the estimate: dL/d alpha is the
                # terms' share (a pass over the frames) and SC_DEN's, alpha**2 sum r**2
                if backend.name == "cuda":
                    scale_sums = cuda_backward.reference_scale_sums(
                        backend, est3, ref3, mix, window, frames, option_arrays,
                        coefficients, plan.taps)
                else:
                    scale_sums = reference_scale_sums(
                        *signals, kernel_mix, window, frames, option_arrays, coefficients,
                        thread_count())
                share, energy = np.moveaxis(scale_sums, -1, 0)
                d_alpha = share + d_sc_den * 2.0 * alpha * energy
                coefficients[..., 5] = d_alpha / energy
            if backend.name == "cuda":
                cuda_backward.stft_backward(backend, est3, ref3, mix, window, frames,
                                            coefficients, grad, option_arrays,
                                            not plan.uses_options_kernel, plan.taps)
            else:
                stft_backward(*signals, kernel_mix, window, frames, coefficients,
                              thread_count(), target, option_arrays,
                              not plan.uses_options_kernel)
        if target is not grad:
            add_fir_adjoint(target, rows_mix, plan.taps, thread_count(), grad)
    if backend.name == "cuda":
        return cuda_backward.gradient_as(grad, est3, est)
    # est's own dtype where est3 was promoted (a float32 est beside a float64 ref)
    return grad.astype(common.est_dtype(est), copy=False).reshape(np.shape(est))


# one_pass keeps SC_NUM's gradient per row beside the gradient: up to this many bytes
# (a training batch; a whole song takes the two passes, whose memory is the gradient's)
ONE_PASS_MAX_BYTES = 32 << 20

_scratch = threading.local()


def _row_parts_buffer(shape, dtype):
    """one_pass's per-row buffer, zeroed: kept per calling thread between calls. A new
    one per call made glibc hand back, and this machine fault in again, 5.6 MB of pages
    per W1 training step (2,658 page faults, 10 ms of its 90, measured)."""
    size = int(np.prod(shape))
    buffer = getattr(_scratch, "buffers", {}).get(np.dtype(dtype))
    if buffer is None or buffer.size < size:
        buffer = np.zeros(size, dtype)
        _scratch.buffers = {**getattr(_scratch, "buffers", {}), np.dtype(dtype): buffer}
    else:
        buffer[:size] = 0
    return buffer[:size].reshape(shape)


def one_pass(loss, est, ref):
    """(value, gradient at grad_value = 1) from one transform of each frame pair per
    resolution (kernels/stft_backward.stft_value_and_grad), where the loss runs the
    plain kernel on the CPU and its per-row buffer fits ONE_PASS_MAX_BYTES; else None.

    The value is forward's to rounding (its sums taken in another order: within 3.5e-16
    relative, measured), and so is the gradient: spectral convergence's share is
    transformed back apart from the other terms' and added once its coefficient is
    known."""
    from ..kernels.stft_backward import add_row_parts, stft_value_and_grad
    from ..kernels.workers import thread_count
    if isinstance(loss, RandomResolutionSTFTLoss):
        return None   # it draws per call: forward does
    units = _units(loss)
    unit = units[0]
    plan = unit.plan
    if len(units) != 1 or plan.uses_options_kernel:
        return None
    backend, est3, ref3 = engine.prepare(plan, est, ref, unit.channels, unit.loss_name)
    if backend.name == "cuda":
        return None
    n_items, n_channels, length = est3.shape
    n_rows = unit.n_rows(n_channels)
    if n_items * n_rows * length * est3.dtype.itemsize > ONE_PASS_MAX_BYTES:
        return None
    mix = None if unit.mix is None else np.asarray(unit.mix, dtype=est3.dtype)
    count = 1 if plan.sum_resolutions else len(plan.resolutions)
    upstreams = [unit.scale * weight / count for weight in unit.group_weights]
    grad = np.zeros(est3.shape, est3.dtype)
    grad_num = _row_parts_buffer((n_items, n_rows, length), est3.dtype)
    ones = np.ones((n_items, n_rows))
    parts = []
    for index in range(len(plan.resolutions)):
        window, frames, _ = engine.frame_plan(plan, index, length, est3.dtype)
        # the log and linear terms' coefficients, from the shapes (sums of zeros)
        shapes_only = engine.resolution_part(plan, frames, None,
                                             np.zeros((n_items, n_rows, layout.N_TERMS)),
                                             ones)
        rest = np.zeros((n_items, n_rows, 2))
        for (rows, _), weight, upstream in zip(unit.groups, unit.group_weights, upstreams):
            if weight:
                rest[:, rows] = group_coefficients(plan, shapes_only.rows(rows),
                                                   upstream)[:, None, 1:3]
        partial = stft_value_and_grad(est3, ref3, mix, window, frames, rest,
                                      thread_count(), grad, grad_num)
        part = engine.resolution_part(plan, frames, None, partial.sum(axis=1), ones)
        parts.append(part)
        # SC_NUM's share, now that its coefficient is known: grad[b, c] +=
        # sum over rows r of mix[r, c] * dL/d SC_NUM[b, r] * grad_num[b, r]
        c_num = np.zeros((n_items, n_rows))
        for (rows, _), weight, upstream in zip(unit.groups, unit.group_weights, upstreams):
            if weight:
                c_num[:, rows] = group_coefficients(plan, part.rows(rows),
                                                    upstream)[:, None, 0]
        mix_weights = np.eye(n_channels) if mix is None else np.asarray(unit.mix, np.float64)
        add_row_parts(grad, grad_num, c_num[:, :, None] * mix_weights, thread_count())
    if isinstance(loss, PresetLoss):
        value = engine.multi_resolution(plan, parts)[0].loss
    else:
        value = loss.from_sums(parts)
    return value, grad.astype(common.est_dtype(est), copy=False).reshape(np.shape(est))


def group_coefficients(plan, part, upstream):
    """(B, N_SUM_COEFFICIENTS): the derivatives of one group's breakdown loss
    (engine.breakdown), which receives the upstream gradient `upstream` (a float, or (B,)
    with reduction="none"), with respect to each item's SC_NUM, LOG_DIST, LIN_DIST,
    PHASE_DIST and SC_DEN sums over the group's rows."""
    per_item = part.sums.sum(axis=1)
    n_items, n_rows = part.sums.shape[:2]
    # d(reduced value) / d(item's term value), per item
    if plan.reduction == "mean":
        per = np.full(n_items, upstream / n_items)
    else:
        per = np.broadcast_to(np.asarray(upstream, dtype=np.float64), (n_items,))
    auraloss_sum = plan.reduction == "sum" and plan.compat == "auraloss"
    out = np.zeros((n_items, N_SUM_COEFFICIENTS))
    scale = plan.weight
    if plan.w_sc:
        num, den = per_item[:, layout.SC_NUM], per_item[:, layout.SC_DEN]
        batch = plan.batch_sc and plan.reduction != "none"
        if batch:   # one SC of the batch's sums, the same for every item
            num, den = np.full(n_items, num.sum()), np.full(n_items, den.sum())
            if plan.reduction == "mean" or auraloss_sum:
                item_weight = np.full(n_items, upstream)   # the mean of B equal values
            else:
                item_weight = np.full(n_items, upstream * n_items)
        else:
            item_weight = per
        undefined = den <= 0.0
        if plan.nan_at_floor:
            undefined |= engine.at_the_floor(den, part.floor_den.sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            # d sqrt(num / den) / d num; 0 where num == 0 (torch's norm at 0)
            d_sc = np.where(num > 0.0, 0.5 / (np.sqrt(num) * np.sqrt(den)), 0.0)
            # d sqrt(num / den) / d den (SC_DEN moves with the estimate under scale
            # invariance only)
            d_sc_den = -0.5 * np.sqrt(num) / (den * np.sqrt(den))
        d_sc = np.where(undefined, np.nan, d_sc)
        out[:, 0] = scale * plan.w_sc * item_weight * d_sc
        out[:, 4] = scale * plan.w_sc * item_weight * np.where(undefined, np.nan, d_sc_den)
    elements = n_rows * part.values_per_row
    if auraloss_sum:   # auraloss sums the magnitude terms over elements
        log_weight, lin_weight = per, per
    else:
        log_weight, lin_weight = per * plan.log_factor / elements, per / elements
    out[:, 1] = scale * plan.w_log_mag * log_weight
    out[:, 2] = scale * plan.w_lin_mag * lin_weight
    if plan.phase:   # a mean over bins; auraloss's too (torch's mse_loss)
        phase_weight = np.full(n_items, upstream / n_items) if auraloss_sum else per
        out[:, 3] = scale * plan.w_phs * phase_weight / (n_rows * part.bins_per_row)
    return out
