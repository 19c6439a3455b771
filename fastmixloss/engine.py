"""The spectral engine: runs a SpectralPlan (plan.py) on a backend and reduces its sums.

    backend, est3, ref3 = prepare(plan, est, ref)          # every check, no kernel yet
    parts = resolution_sums(plan, backend, est3, ref3)     # float64 sums per (item, row)
    breakdown = multi_resolution(plan, parts)              # values, as the plan reduces

`evaluate` does the three. Every spectral loss, the library's and the presets, goes
through here: one place checks inputs, builds the kernels' frame plans, picks the plain
or the options kernel, and reduces.
"""

from typing import NamedTuple

import numpy as np

from . import backend as backends
from . import validation as check
from .errors import ParameterError
from .kernels import layout
from .kernels.layout import FramePlan, OptionJob, frames_per_block
from .plan import framing
from .results import (MultiResolutionBreakdown, STFTBreakdown, resolution_reasons,
                      undefined_reason)
from .windows import padded_window

# (rows, what the rows' reference is called in reasons): all rows form one group
WHOLE_SIGNAL = ((slice(None), "the reference"),)


class ResolutionSums(NamedTuple):
    """One resolution's kernel sums and what reduces them."""

    sums: np.ndarray           # (B, R, N_TERMS or N_OPTION_TERMS) float64
    values_per_row: int        # values of the magnitude terms in one row
    bins_per_row: int          # bins of the phase term in one row
    floor_den: np.ndarray      # (B, R): the SC_DEN of a reference at the floor everywhere

    def rows(self, rows):
        return self._replace(sums=self.sums[:, rows], floor_den=self.floor_den[:, rows])


def select_backend(plan, est, ref):
    return backends.select(plan.device, est, ref)


def signal_pair(plan, backend, est, ref, channels=None):
    """(est3, ref3): (B, C, T) signals where `backend` reads them, their shapes and
    channel layout checked (not their length or samples)."""
    est3, ref3, ndim = backend.as_signal_pair(est, ref, require_batch=plan.require_batch,
                                              channels=channels)
    check.check_layout(est3.shape, ndim)
    return est3, ref3


def check_length(plan, length, loss_name=None):
    """Every resolution against the signal length, before any kernel runs."""
    for res in plan.resolutions:
        _, _, shortest = framing(plan.framing, res.fft_size, res.hop_size, length)
        if length < shortest:
            if loss_name is None:   # the centred framing's message
                raise ParameterError(
                    f"signals of {length} samples are too short for the resolution "
                    f"{res}: reflect padding needs more than "
                    f"fft_size // 2 = {res.fft_size // 2} samples")
            raise ParameterError(
                f"signals of {length} samples are too short for {loss_name} at "
                f"fft_size={res.fft_size}: it needs at least {shortest}")


def prepare(plan, est, ref, channels=None, loss_name=None):
    """(backend, est3, ref3): validated (B, C, T) signals where the backend reads them;
    every check of the call (fft sizes on that backend, shapes, length, samples) is done
    before any kernel runs."""
    backend = select_backend(plan, est, ref)
    for res in plan.resolutions:
        backend.check_fft_size(res.fft_size)
    est3, ref3 = signal_pair(plan, backend, est, ref, channels)
    check_length(plan, est3.shape[-1], loss_name)
    check.check_samples(backend, est3, ref3, plan.check_finite)
    return backend, est3, ref3


def frame_plan(plan, index, length, dtype):
    """(window values, FramePlan, pad_left) of resolution `index` of `plan` for whole
    signals of `length` samples in `dtype`."""
    res = plan.resolutions[index]
    pad_left, n_frames, _ = framing(plan.framing, res.fft_size, res.hop_size, length)
    values, lo, hi = padded_window(plan.windows[index], res.win_length, res.fft_size, dtype,
                                   float32_window=plan.float32_window)
    frames = FramePlan(res.fft_size, res.hop_size, lo, hi, n_frames,
                       frames_per_block(res.fft_size, n_frames), plan.log_mode,
                       plan.lin_mode, float(plan.eps), -(res.fft_size // 2))
    return values, frames, pad_left


def resolution_sums(plan, backend, est3, ref3, mix=None):
    """The kernel sums of every resolution, one ResolutionSums each. `mix`: (R, C)
    channel weights making the rows (e.g. sum and difference), None for the channels."""
    length = est3.shape[-1]
    if mix is not None:
        mix = np.asarray(mix, dtype=est3.dtype)
    jobs = []
    for index in range(len(plan.resolutions)):
        values, frames, pad_left = frame_plan(plan, index, length, est3.dtype)
        jobs.append(OptionJob(values, frames, plan.option_plan(index, pad_left),
                              plan.filterbanks[index]))
    n_rows = est3.shape[1] if mix is None else mix.shape[0]
    alphas = [np.ones((est3.shape[0], n_rows))] * len(jobs)
    if not plan.uses_options_kernel:
        frame_mix = np.eye(est3.shape[1]) if mix is None else mix
        rows = np.eye(n_rows)
        all_sums = [backend.stft_row_partials(est3, ref3, frame_mix, rows, job.window,
                                              job.plan).sum(axis=1) for job in jobs]
    else:
        taps = _NO_TAPS if plan.taps is None else plan.taps
        if plan.scale_invariance:   # a first pass for each row's optimal scale
            first = backend.stft_option_sums(est3, ref3, mix, jobs, taps, alphas)
            alphas = [f[..., layout.DOT] / f[..., layout.SC_DEN] for f in first]
        all_sums = backend.stft_option_sums(est3, ref3, mix, jobs, taps, alphas)
    return [resolution_part(plan, job.plan, job.filterbank, part_sums, alpha)
            for job, part_sums, alpha in zip(jobs, all_sums, alphas)]


def resolution_part(plan, frames, filterbank, part_sums, alpha):
    """The ResolutionSums of one resolution's (B, R, terms) sums, its FramePlan `frames`
    (filterbank None or its Filterbank) and the (B, R) scales of its reference rows."""
    n_frames, n_bins = frames.n_frames, frames.fft_size // 2 + 1
    n_values = n_bins if filterbank is None else filterbank.n_bands
    # the reference values are scaled by alpha before they are squared;
    # sqrt(max(P, eps)) and sqrt(P + eps) share the floor sqrt(eps)
    floor = alpha ** 2 * floor_sc_den(n_frames, frames.fft_size, plan.eps, filterbank)
    return ResolutionSums(part_sums, n_frames * n_values, n_frames * n_bins, floor)


_NO_TAPS = np.zeros(1)   # the options kernel's placeholder: no prefilter


def floor_sc_den(n_frames, fft_size, eps, filterbank=None):
    """The SC_DEN sum of one row whose reference magnitudes are all at the floor
    sqrt(eps) (also HiFi-GAN's sqrt(0 + eps)): n_frames * n_bins * eps, or through a
    filterbank n_frames * sum over bands of (band weight sum * sqrt(eps))**2."""
    floor = np.sqrt(eps)
    if filterbank is None:
        return n_frames * (fft_size // 2 + 1) * floor * floor
    # each band's weight sum, from a running sum (bands of positive weights, so the
    # difference loses at most ~n_bands ulps: far inside FLOOR_TOLERANCE)
    running = np.concatenate(([0.0], np.cumsum(filterbank.weights)))
    band_sums = running[filterbank.offsets[1:]] - running[filterbank.offsets[:-1]]
    return n_frames * float(np.sum((band_sums * floor) ** 2))


# A reference is at the floor where its SC_DEN exceeds the floor-only value by less than
# this, relative. SC_DEN adds each row's values bin by bin, frame by frame, block by block
# and row by row in float64; that chain is under 1e7 additions for any resolution and a
# signal of hours, so rounding moves a floor-only sum by less than 1e7 * 2**-53 = 1.1e-9
# relative. 1e-8 leaves a tenfold margin and still counts as signal any reference holding
# more than 1e-16 of power above the floor per bin, on average (the floor is 1e-8).
FLOOR_TOLERANCE = 1e-8


def at_the_floor(sc_den, floor_den):
    """Where a group's SC_DEN is its floor-only value (within FLOOR_TOLERANCE): the
    reference has no energy above the magnitude floor, and its spectral convergence
    divides by the floor alone. False for NaN sums (NaN input stays NaN)."""
    return sc_den <= floor_den * (1.0 + FLOOR_TOLERANCE)


def breakdown(plan, part, res, reference_name="the reference"):
    """One resolution's STFTBreakdown, reduced over items as the plan says, from its
    ResolutionSums (the group's rows already selected). `reference_name` says what the
    group's reference is, for the reason of an undefined spectral convergence."""
    sums = part.sums
    n_items, n_rows, n_terms = sums.shape
    per_item = sums.sum(axis=1)
    sc_sums = per_item
    if plan.batch_sc and plan.reduction != "none":
        sc_sums = np.broadcast_to(per_item.sum(axis=0), per_item.shape)
    num, den = sc_sums[:, layout.SC_NUM], sc_sums[:, layout.SC_DEN]
    # with eps = 0 a reference of exact zeros has no denominator at all
    undefined = den <= 0.0
    if plan.nan_at_floor:
        undefined |= at_the_floor(den, part.floor_den.sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = np.where(undefined, np.nan, np.sqrt(num) / np.sqrt(np.where(undefined, 1.0, den)))
    if not (plan.w_sc or plan.every_term):   # not a term of this loss: reported as 0
        sc, undefined = np.zeros(n_items), np.zeros(n_items, dtype=bool)
    elements = n_rows * part.values_per_row
    log_mag = per_item[:, layout.LOG_DIST] / elements * plan.log_factor
    lin_mag = per_item[:, layout.LIN_DIST] / elements
    with_phase = n_terms > layout.PHASE_DIST and plan.phase
    phs = (per_item[:, layout.PHASE_DIST] / (n_rows * part.bins_per_row) if with_phase
           else np.zeros(n_items))
    if plan.reduction == "mean":
        sc, log_mag, lin_mag, phs = sc.mean(), log_mag.mean(), lin_mag.mean(), phs.mean()
    elif plan.reduction == "sum":
        if plan.compat == "auraloss":
            # auraloss sums the magnitude terms over elements; its SC stays a ratio
            sc = sc[0]
            log_mag = per_item[:, layout.LOG_DIST].sum()
            lin_mag = per_item[:, layout.LIN_DIST].sum()
            phs = phs.mean()   # its phase term is torch's mse_loss: always a mean
        else:
            sc, log_mag, lin_mag, phs = sc.sum(), log_mag.sum(), lin_mag.sum(), phs.sum()
    loss = plan.weight * weighted_sum([(plan.w_sc, sc), (plan.w_log_mag, log_mag),
                                       (plan.w_lin_mag, lin_mag), (plan.w_phs, phs)])
    reasons = {}
    if undefined.any():
        items = (np.flatnonzero(undefined)
                 if plan.reduction == "none" or n_items > 1 else None)
        why = undefined_reason(reference_name, plan.eps, items)
        reasons = {"loss": why, "sc": why} if plan.w_sc else {"sc": why}
    return STFTBreakdown(plain(loss), plain(sc), plain(log_mag), plain(lin_mag),
                         res.fft_size, res.hop_size, res.win_length,
                         phs=plain(phs) if with_phase else None, reasons=reasons)


def weighted_sum(terms):
    """sum of weight * value over (weight, value) pairs, leaving out zero weights: an
    undefined (NaN) term makes the total NaN only where it is weighted."""
    total = np.zeros(np.shape(terms[0][1]))   # (B,) with reduction="none", else 0-d
    for weight, value in terms:
        if weight:
            total = total + weight * value
    return total


def plain(value):
    """A float for a 0-d value, the array otherwise."""
    return float(value) if np.ndim(value) == 0 else value


def over_resolutions(plan, parts):
    """The MultiResolutionBreakdown of STFTBreakdown `parts`: each field their mean, or
    their sum with plan.sum_resolutions."""
    count = 1 if plan.sum_resolutions else len(parts)

    def combined(name):
        return plain(sum(getattr(p, name) for p in parts) / count)
    phs = None if parts[0].phs is None else combined("phs")
    return MultiResolutionBreakdown(combined("loss"), combined("sc"), combined("log_mag"),
                                    combined("lin_mag"), tuple(parts), phs=phs,
                                    reasons=resolution_reasons(parts))


def multi_resolution(plan, parts, mix_groups=WHOLE_SIGNAL):
    """One MultiResolutionBreakdown per group of rows: `mix_groups` holds (rows,
    reference name), the rows a slice of the R rows whose sums form one spectral
    convergence."""
    per_group = [[] for _ in mix_groups]
    for res, part in zip(plan.resolutions, parts):
        for group_parts, (rows, name) in zip(per_group, mix_groups):
            group_parts.append(breakdown(plan, part.rows(rows), res, name))
    return [over_resolutions(plan, group_parts) for group_parts in per_group]


def sums(plan, est, ref, *, mix=None, channels=None, loss_name=None):
    """Check and run: the ResolutionSums of every resolution (see resolution_sums)."""
    backend, est3, ref3 = prepare(plan, est, ref, channels, loss_name)
    return resolution_sums(plan, backend, est3, ref3, mix)


def evaluate(plan, est, ref, *, mix=None, mix_groups=WHOLE_SIGNAL, channels=None,
             loss_name=None):
    """Check, run and reduce: one MultiResolutionBreakdown per group (see
    multi_resolution)."""
    parts = sums(plan, est, ref, mix=mix, channels=channels, loss_name=loss_name)
    return multi_resolution(plan, parts, mix_groups)
