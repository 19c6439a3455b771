"""STFT-magnitude losses: single resolution, multi-resolution, and stereo sum-and-difference.

Each loss has a class form (parameters checked and windows built once, then called as
`loss(est, ref)`) and a function form that builds the class and calls it. The numbers are
defined in SPEC.md; `compat="auraloss"` reproduces auraloss 0.4.0 instead (spectral
convergence over the whole batch, halved sum-and-difference, (B, C, T) input only).
"""

import numbers
import operator
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from . import backend as backends
from . import validation as check
from .errors import ParameterError
from .kernels import layout
from .kernels.layout import FramePlan, OptionJob, OptionPlan, frame_count, frames_per_block
from .results import (MultiResolutionBreakdown, STFTBreakdown, SumAndDifferenceBreakdown,
                      resolution_reasons, undefined_reason)
from .spectral_options import SpectralOptions
from .windows import padded_window, window_name, window_values

DEFAULT_FFT_SIZES = (1024, 2048, 512)
DEFAULT_HOP_SIZES = (120, 240, 50)
DEFAULT_WIN_LENGTHS = (600, 1200, 240)

# Channel weights of the sum (L + R) and difference (L - R) rows.
_SUM_AND_DIFFERENCE = ((1.0, 1.0), (1.0, -1.0))


@dataclass(frozen=True)
class Resolution:
    fft_size: int
    hop_size: int
    win_length: int

    def __str__(self):
        return (f"fft_size={self.fft_size}, hop_size={self.hop_size}, "
                f"win_length={self.win_length}")


def _resolution(fft_size, hop_size, win_length,
                names=("fft_size", "hop_size", "win_length")):
    fft_size = check.positive_int(names[0], fft_size)
    hop_size = check.positive_int(names[1], hop_size)
    win_length = check.positive_int(names[2], win_length)
    if win_length > fft_size:
        raise ParameterError(
            f"{names[2]}={win_length} is longer than {names[0]}={fft_size}")
    return Resolution(fft_size, hop_size, win_length)


def _resolutions(fft_sizes, hop_sizes, win_lengths):
    fft_sizes = check.sequence("fft_sizes", fft_sizes)
    hop_sizes = check.sequence("hop_sizes", hop_sizes)
    win_lengths = check.sequence("win_lengths", win_lengths)
    if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
        raise ParameterError(
            f"fft_sizes, hop_sizes and win_lengths must have the same length: "
            f"{len(fft_sizes)}, {len(hop_sizes)} and {len(win_lengths)}")
    return tuple(
        _resolution(*values, names=(f"fft_sizes[{i}]", f"hop_sizes[{i}]", f"win_lengths[{i}]"))
        for i, values in enumerate(zip(fft_sizes, hop_sizes, win_lengths)))


def _windows(window, resolutions):
    """One window (a name, or float64 values) per resolution. `window` is a name, one
    array that fits every resolution, or a sequence of arrays, one per resolution (for
    example auraloss's own torch windows, for bit-exact compat="auraloss")."""
    name = window_name(window)
    if isinstance(name, str):
        return (name,) * len(resolutions)
    per_resolution = (isinstance(window, (list, tuple)) and len(window) == len(resolutions)
                      and all(np.ndim(w) == 1 for w in window))
    if per_resolution:
        return tuple(_window_values(w, res.win_length, f"window[{i}]")
                     for i, (w, res) in enumerate(zip(window, resolutions)))
    return tuple(_window_values(window, res.win_length, "window") for res in resolutions)


def _window_values(window, win_length, name):
    try:
        return window_values(window, win_length)
    except ParameterError as error:   # say which resolution's window it was
        raise ParameterError(f"{name}: {error}") from None


class _SpectralSettings:
    """Validated parameters shared by the three spectral losses."""

    def __init__(self, resolutions, window, w_sc, w_log_mag, w_lin_mag, mag_distance,
                 eps, reduction, output, compat, check_finite, device, options=None):
        self.resolutions = resolutions
        self.windows = _windows(window, resolutions)
        self.w_sc = check.weight("w_sc", w_sc)
        self.w_log_mag = check.weight("w_log_mag", w_log_mag)
        self.w_lin_mag = check.weight("w_lin_mag", w_lin_mag)
        self.mag_distance = check.distance("mag_distance", mag_distance)
        self.eps = check.finite_float("eps", eps, strictly_positive=True)
        self.reduction = check.choice("reduction", reduction, check.REDUCTIONS)
        self.output = check.choice("output", output, check.OUTPUTS)
        self.compat = check.choice("compat", compat, check.COMPAT_MODES)
        if self.compat == "auraloss" and self.reduction == "none":
            raise ParameterError(
                "reduction='none' with compat='auraloss': auraloss returns an element-wise "
                "spectrogram there, which fastmixloss never holds; use reduction='mean' or "
                "'sum', or compat=None for one value per item")
        self.check_finite = check.flag("check_finite", check_finite)
        self.device = backends.check_device(device)
        distance = layout.L1 if self.mag_distance == "L1" else layout.L2
        full = self.output == "full"   # a breakdown reports every term, weighted or not
        self.log_mode = distance if (full or self.w_log_mag) else layout.NO_TERM
        self.lin_mode = distance if (full or self.w_lin_mag) else layout.NO_TERM
        self.options = options or SpectralOptions(len(resolutions), compat=self.compat)
        self.options.check_resolutions(resolutions)   # empty mel bands, SciPy: now

    def check_length(self, length):
        """Every resolution against the signal length, before any kernel runs."""
        for resolution in self.resolutions:
            if length <= resolution.fft_size // 2:
                raise ParameterError(
                    f"signals of {length} samples are too short for the resolution "
                    f"{resolution}: reflect padding needs more than "
                    f"fft_size // 2 = {resolution.fft_size // 2} samples")

    def term_sums(self, backend, est3, ref3, mix):
        """The kernel sums of every resolution, as one ResolutionSums each."""
        length = est3.shape[-1]
        if mix is not None:
            mix = np.asarray(mix, dtype=est3.dtype)
        plans = []
        for resolution, named_window in zip(self.resolutions, self.windows):
            window, lo, hi = padded_window(named_window, resolution.win_length,
                                           resolution.fft_size, est3.dtype,
                                           float32_window=self.compat == "auraloss")
            n_frames = frame_count(length, resolution.fft_size, resolution.hop_size)
            plans.append((window, FramePlan(
                resolution.fft_size, resolution.hop_size, lo, hi, n_frames,
                frames_per_block(resolution.fft_size, n_frames), self.log_mode,
                self.lin_mode, self.eps)))
        if not self.options.active:
            results = []
            for window, plan in plans:
                sums = backend.stft_term_sums(est3, ref3, mix, window, plan)
                n_values = plan.n_frames * (plan.fft_size // 2 + 1)
                floor = np.full(sums.shape[:2], floor_sc_den(plan.n_frames,
                                                             plan.fft_size, self.eps))
                results.append(ResolutionSums(sums, n_values, n_values, floor))
            return results
        return self._option_sums(backend, est3, ref3, mix, plans)

    def _option_sums(self, backend, est3, ref3, mix, plans):
        options = self.options
        jobs = []
        for index, (window, plan) in enumerate(plans):
            bank = options.filterbank(index, plan.fft_size)
            jobs.append(OptionJob(window, plan, OptionPlan(
                0 if bank is None else bank.n_bands, options.log_fac, options.log_eps,
                options.w_phs > 0, options.perceptual_weighting,
                pad_left=plan.fft_size // 2, zero_pad=False, eps_added=False,
                log_threshold=0.0, log_floor=0.0), bank))
        taps = options.taps() if options.perceptual_weighting else _NO_TAPS
        n_rows = est3.shape[1] if mix is None else mix.shape[0]
        alphas = [np.ones((est3.shape[0], n_rows))] * len(jobs)
        if options.scale_invariance:   # a first pass for each row's optimal scale
            first = backend.stft_option_sums(est3, ref3, mix, jobs, taps, alphas)
            alphas = [f[..., layout.DOT] / f[..., layout.SC_DEN] for f in first]
        all_sums = backend.stft_option_sums(est3, ref3, mix, jobs, taps, alphas)
        results = []
        for job, sums, alpha in zip(jobs, all_sums, alphas):
            n_bins = job.plan.fft_size // 2 + 1
            n_values = n_bins if job.filterbank is None else job.filterbank.n_bands
            # the reference values are scaled by alpha before they are squared
            floor = alpha ** 2 * floor_sc_den(job.plan.n_frames, job.plan.fft_size,
                                              self.eps, job.filterbank)
            results.append(ResolutionSums(sums, job.plan.n_frames * n_values,
                                          job.plan.n_frames * n_bins, floor))
        return results

    def breakdown(self, part, resolution, reference_name="the reference"):
        """Reduced STFTBreakdown from one group's ResolutionSums (its rows already
        selected). `reference_name` says what the group's reference is, for the reason
        of an undefined spectral convergence."""
        sums = part.sums
        n_items, n_rows, n_terms = sums.shape
        per_item = sums.sum(axis=1)
        undefined = np.zeros(n_items, dtype=bool)
        if self.compat == "auraloss":   # one spectral convergence for the whole batch
            total = per_item.sum(axis=0)
            sc = np.full(n_items, np.sqrt(total[layout.SC_NUM]) / np.sqrt(total[layout.SC_DEN]))
        else:
            sc = np.sqrt(per_item[:, layout.SC_NUM]) / np.sqrt(per_item[:, layout.SC_DEN])
            undefined = at_the_floor(per_item[:, layout.SC_DEN], part.floor_den.sum(axis=1))
            sc = np.where(undefined, np.nan, sc)
        elements = n_rows * part.values_per_row
        log_mag = per_item[:, layout.LOG_DIST] / elements
        lin_mag = per_item[:, layout.LIN_DIST] / elements
        # the phase term costs two arctangents per bin: computed only when weighted
        with_phase = n_terms > layout.PHASE_DIST and self.options.w_phs > 0
        phs = (per_item[:, layout.PHASE_DIST] / (n_rows * part.bins_per_row) if with_phase
               else np.zeros(n_items))
        if self.reduction == "mean":
            sc, log_mag, lin_mag, phs = sc.mean(), log_mag.mean(), lin_mag.mean(), phs.mean()
        elif self.reduction == "sum":
            if self.compat == "auraloss":
                # auraloss sums the magnitude terms over elements; its SC stays a ratio
                sc = sc[0]
                log_mag = per_item[:, layout.LOG_DIST].sum()
                lin_mag = per_item[:, layout.LIN_DIST].sum()
                phs = phs.mean()   # its phase term is torch's mse_loss: always a mean
            else:
                sc, log_mag, lin_mag, phs = sc.sum(), log_mag.sum(), lin_mag.sum(), phs.sum()
        loss = _weighted_sum([(self.w_sc, sc), (self.w_log_mag, log_mag),
                              (self.w_lin_mag, lin_mag), (self.options.w_phs, phs)])
        reasons = {}
        if undefined.any():
            items = (np.flatnonzero(undefined)
                     if self.reduction == "none" or n_items > 1 else None)
            why = undefined_reason(reference_name, self.eps, items)
            reasons = {"loss": why, "sc": why} if self.w_sc else {"sc": why}
        return STFTBreakdown(_plain(loss), _plain(sc), _plain(log_mag), _plain(lin_mag),
                             resolution.fft_size, resolution.hop_size, resolution.win_length,
                             phs=_plain(phs) if with_phase else None, reasons=reasons)

    def multi_resolution(self, backend, est3, ref3, mix, groups):
        """One MultiResolutionBreakdown per group: (rows, reference_name), the rows a
        slice of the R rows whose sums form one spectral convergence."""
        per_group = [[] for _ in groups]
        for resolution, part in zip(self.resolutions,
                                    self.term_sums(backend, est3, ref3, mix)):
            for parts, (rows, name) in zip(per_group, groups):
                parts.append(self.breakdown(part.rows(rows), resolution, name))
        return [_mean_over_resolutions(parts) for parts in per_group]

    def signal_pair(self, backend, est, ref, channels=None):
        """(est3, ref3): (B, C, T) signals where `backend` reads them, their shapes and
        channel layout checked (not their length or samples)."""
        est3, ref3, ndim = backend.as_signal_pair(
            est, ref, require_batch=self.compat == "auraloss", channels=channels)
        check.check_layout(est3.shape, ndim)
        return est3, ref3

    def prepare(self, est, ref, channels=None):
        """(backend, est3, ref3): validated (B, C, T) signals where the backend reads them."""
        backend = backends.select(self.device, est, ref)
        for resolution in self.resolutions:   # before any kernel runs
            backend.check_fft_size(resolution.fft_size)
        est3, ref3 = self.signal_pair(backend, est, ref, channels)
        self.check_length(est3.shape[-1])
        check.check_samples(backend, est3, ref3, self.check_finite)
        return backend, est3, ref3


class ResolutionSums(NamedTuple):
    """One resolution's kernel sums and what reduces them."""

    sums: np.ndarray           # (B, R, N_TERMS or N_OPTION_TERMS) float64
    values_per_row: int        # values of the magnitude terms in one row
    bins_per_row: int          # bins of the phase term in one row
    floor_den: np.ndarray      # (B, R): the SC_DEN of a reference at the floor everywhere

    def rows(self, rows):
        return self._replace(sums=self.sums[:, rows], floor_den=self.floor_den[:, rows])


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


def _weighted_sum(terms):
    """sum of weight * value over (weight, value) pairs, leaving out zero weights: an
    undefined (NaN) term makes the total NaN only where it is weighted."""
    total = np.zeros(np.shape(terms[0][1]))   # (B,) with reduction="none", else 0-d
    for weight, value in terms:
        if weight:
            total = total + weight * value
    return total


_NO_TAPS = np.zeros(1)   # a placeholder without perceptual weighting


def _plain(value):
    return float(value) if np.ndim(value) == 0 else value


def _mean_over_resolutions(parts):
    def mean(field):
        return _plain(sum(getattr(p, field) for p in parts) / len(parts))
    phs = None if parts[0].phs is None else mean("phs")
    return MultiResolutionBreakdown(mean("loss"), mean("sc"), mean("log_mag"),
                                    mean("lin_mag"), tuple(parts), phs=phs,
                                    reasons=resolution_reasons(parts))


class _SpectralLoss:
    def _result(self, breakdown):
        return breakdown if self._settings.output == "full" else breakdown.loss

    def __repr__(self):
        return f"{type(self).__name__}({self._describe()})"


class STFTLoss(_SpectralLoss):
    """STFT-magnitude loss at one resolution, computed per channel.

    loss = w_sc * SC + w_log_mag * log distance + w_lin_mag * linear distance, where for
    each item SC = ||X - X_est||_F / ||X||_F over all its channels and frames, and the
    distances are means over its bins (L1 or L2, `mag_distance`).

    Parameters
    ----------
    fft_size, hop_size, win_length : int
        Transform size, hop and window length in samples (win_length <= fft_size;
        default win_length = fft_size). Frames are centred with reflect padding.
    window : str or array
        "hann" (or auraloss's "hann_window"), "hamming", "blackman", "bartlett", "kaiser",
        "rectangular", or win_length values (for MultiResolutionSTFTLoss and
        SumAndDifferenceSTFTLoss also one array per resolution: with compat="auraloss",
        torch's own windows, e.g. [torch.hann_window(w).numpy() for w in win_lengths],
        give auraloss's numbers to rounding; the named windows are torch's up to its
        float32 cos).
    w_sc, w_log_mag, w_lin_mag : float
        Term weights (>= 0).
    mag_distance : {"L1", "L2"}
    eps : float
        Floor of the power: magnitude = sqrt(max(re**2 + im**2, eps)).
    reduction : {"mean", "sum", "none"}
        Over items; "none" gives a (B,) array, each value computed as if the item were
        alone.
    output : {"loss", "full"}
        "full" returns an STFTBreakdown with every term.
    compat : None or "auraloss"
        Reproduce auraloss 0.4.0's numbers (see the README).
    check_finite : bool
        Scan the inputs for NaN and Inf first (default True).
    device : None, "cpu" or "cuda"
        Where to compute. None (default): on the GPU when an input already lives there
        (CuPy, PyTorch CUDA, Numba device arrays), else on the CPU. The spectral options
        below run on both (the GPU takes power-of-two fft sizes only).
    w_phs : float
        Weight of the phase term: mean over bins of (angle(X_est) - angle(X))**2, each
        angle in (-pi, pi] (auraloss's; the difference is not re-wrapped).
    sample_rate : float
        In Hz; needed by scale (1 kHz to 768 kHz) and perceptual_weighting (above 2 kHz,
        up to 768 kHz).
    scale : None, "mel" or "chroma"
        Apply a filterbank to the floored magnitudes of every frame before every term:
        librosa.filters.mel (Slaney scale and norm, from fmin to fmax, default the
        Nyquist frequency) or librosa.filters.chroma with their defaults.
    fmin, fmax : float
        The mel bands' edges in Hz: 0 <= fmin < fmax <= sample_rate / 2. scale="mel"
        only: the chroma filterbank spans every bin and has no edges to set.
    n_bins : int or sequence of int
        Bands of the filterbank (default 128 mel, 12 chroma), or one per resolution.
    perceptual_weighting : bool
        Filter both signals with auraloss's 101-tap A-weighting FIR first (zero "same"
        padding). Needs SciPy.
    scale_invariance : bool
        Scale each row's (channel's) reference values by its optimal alpha =
        <X_est, X> / <X, X> before the terms (a first pass computes alpha).
    log_eps, log_fac : float
        The log term compares log(log_fac * X + log_eps) (auraloss main); defaults 0, 1
        give log X.

    Call with (est, ref): arrays of shape (T,), (C, T) or (B, C, T), float32 or float64.

    Spectral convergence is undefined for an item whose reference (all of its channels
    together; in SumAndDifferenceSTFTLoss, its sum or its difference signal) has no
    energy above the magnitude floor sqrt(eps): it would divide by the floor alone (a
    silent reference scored about 20,000). SC is NaN there, and so is the loss where
    w_sc > 0, and the mean or sum over items; the other terms keep their values.
    output="full" says why in the breakdown's `reasons`. compat="auraloss" keeps
    auraloss's floor-divided number.
    """

    @check.keywords_checked("fastmixloss.STFTLoss")
    def __init__(self, fft_size=1024, hop_size=256, win_length=None, window="hann", *,
                 w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, mag_distance="L1", eps=1e-8,
                 reduction="mean", output="loss", compat=None, check_finite=True,
                 device=None, w_phs=0.0, sample_rate=None, scale=None, n_bins=None,
                 fmin=0.0, fmax=None, perceptual_weighting=False, scale_invariance=False,
                 log_eps=0.0, log_fac=1.0):
        win_length = fft_size if win_length is None else win_length
        resolution = _resolution(fft_size, hop_size, win_length)
        options = SpectralOptions(
            1, scale=scale, n_bins=n_bins, sample_rate=sample_rate, fmin=fmin, fmax=fmax,
            perceptual_weighting=perceptual_weighting, scale_invariance=scale_invariance,
            w_phs=w_phs, log_eps=log_eps, log_fac=log_fac, compat=compat)
        self._settings = _SpectralSettings((resolution,), window, w_sc, w_log_mag, w_lin_mag,
                                           mag_distance, eps, reduction, output, compat,
                                           check_finite, device, options)

    def _describe(self):
        return str(self._settings.resolutions[0])

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est, ref):
        settings = self._settings
        backend, est3, ref3 = settings.prepare(est, ref)
        resolution = settings.resolutions[0]
        (part,) = settings.term_sums(backend, est3, ref3, None)
        return self._result(settings.breakdown(part, resolution))


class MultiResolutionSTFTLoss(_SpectralLoss):
    """The mean of STFTLoss over several resolutions (per channel).

    Defaults: fft_sizes (1024, 2048, 512), hop_sizes (120, 240, 50), win_lengths
    (600, 1200, 240). Other parameters as STFTLoss (n_bins may be one per resolution);
    output="full" returns a MultiResolutionBreakdown.
    """

    @check.keywords_checked("fastmixloss.MultiResolutionSTFTLoss")
    def __init__(self, fft_sizes=DEFAULT_FFT_SIZES, hop_sizes=DEFAULT_HOP_SIZES,
                 win_lengths=DEFAULT_WIN_LENGTHS, window="hann", *, w_sc=1.0,
                 w_log_mag=1.0, w_lin_mag=0.0, mag_distance="L1", eps=1e-8,
                 reduction="mean", output="loss", compat=None, check_finite=True,
                 device=None, w_phs=0.0, sample_rate=None, scale=None, n_bins=None,
                 fmin=0.0, fmax=None, perceptual_weighting=False, scale_invariance=False,
                 log_eps=0.0, log_fac=1.0):
        resolutions = _resolutions(fft_sizes, hop_sizes, win_lengths)
        options = SpectralOptions(
            len(resolutions), scale=scale, n_bins=n_bins, sample_rate=sample_rate, fmin=fmin,
            fmax=fmax,
            perceptual_weighting=perceptual_weighting, scale_invariance=scale_invariance,
            w_phs=w_phs, log_eps=log_eps, log_fac=log_fac, compat=compat)
        self._settings = _SpectralSettings(
            resolutions, window, w_sc, w_log_mag, w_lin_mag, mag_distance, eps, reduction,
            output, compat, check_finite, device, options)

    def _describe(self):
        return "; ".join(str(r) for r in self._settings.resolutions)

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est, ref):
        backend, est3, ref3 = self._settings.prepare(est, ref)
        (breakdown,) = self._settings.multi_resolution(backend, est3, ref3, None,
                                                       [(slice(None), "the reference")])
        return self._result(breakdown)


class SumAndDifferenceSTFTLoss(_SpectralLoss):
    """Stereo sum-and-difference loss: w_sum * MR(L+R) + w_diff * MR(L-R).

    Indifferent to which channel is left: swapping L and R (or flipping the polarity of
    either signal) changes the difference signal's sign only, and magnitudes ignore sign.
    Needs C = 2. With compat="auraloss" the result is halved, as auraloss 0.4.0 does.
    A dual-mono reference (L = R, an old mono recording) has no difference signal: the
    diff part's spectral convergence is NaN (see STFTLoss), and so is the loss where
    w_diff and w_sc are nonzero.
    Other parameters as MultiResolutionSTFTLoss; output="full" returns a
    SumAndDifferenceBreakdown.
    """

    @check.keywords_checked("fastmixloss.SumAndDifferenceSTFTLoss")
    def __init__(self, fft_sizes=DEFAULT_FFT_SIZES, hop_sizes=DEFAULT_HOP_SIZES,
                 win_lengths=DEFAULT_WIN_LENGTHS, window="hann", *, w_sum=1.0, w_diff=1.0,
                 w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, mag_distance="L1", eps=1e-8,
                 reduction="mean", output="loss", compat=None, check_finite=True,
                 device=None, w_phs=0.0, sample_rate=None, scale=None, n_bins=None,
                 fmin=0.0, fmax=None, perceptual_weighting=False, scale_invariance=False,
                 log_eps=0.0, log_fac=1.0):
        resolutions = _resolutions(fft_sizes, hop_sizes, win_lengths)
        options = SpectralOptions(
            len(resolutions), scale=scale, n_bins=n_bins, sample_rate=sample_rate, fmin=fmin,
            fmax=fmax,
            perceptual_weighting=perceptual_weighting, scale_invariance=scale_invariance,
            w_phs=w_phs, log_eps=log_eps, log_fac=log_fac, compat=compat)
        self._settings = _SpectralSettings(
            resolutions, window, w_sc, w_log_mag, w_lin_mag, mag_distance, eps, reduction,
            output, compat, check_finite, device, options)
        self.w_sum = check.weight("w_sum", w_sum)
        self.w_diff = check.weight("w_diff", w_diff)

    def _describe(self):
        return "; ".join(str(r) for r in self._settings.resolutions)

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est, ref):
        settings = self._settings
        backend, est3, ref3 = settings.prepare(est, ref, channels=2)
        sum_part, diff_part = settings.multi_resolution(
            backend, est3, ref3, _SUM_AND_DIFFERENCE,
            [(slice(0, 1), "the reference's sum signal (L + R)"),
             (slice(1, 2), "the reference's difference signal (L - R)")])
        loss = _weighted_sum([(self.w_sum, sum_part.loss), (self.w_diff, diff_part.loss)])
        if settings.compat == "auraloss":
            loss = loss / 2
        reasons = {}
        undefined_parts = dict.fromkeys(
            part.reasons["loss"] for weight, part in ((self.w_sum, sum_part),
                                                      (self.w_diff, diff_part))
            if weight and "loss" in part.reasons)
        if undefined_parts:
            reasons["loss"] = "; ".join(undefined_parts)
        for name, part in (("sum", sum_part), ("diff", diff_part)):
            reasons.update({f"{name}.{key}": text for key, text in part.reasons.items()})
        return self._result(SumAndDifferenceBreakdown(_plain(loss), sum_part, diff_part,
                                                      reasons=reasons))


@check.keywords_checked("fastmixloss.stft_loss")
def stft_loss(est, ref, *, fft_size=1024, hop_size=256, win_length=None, window="hann",
              w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, mag_distance="L1", eps=1e-8,
              reduction="mean", output="loss", compat=None, check_finite=True, device=None,
              w_phs=0.0, sample_rate=None, scale=None, n_bins=None, fmin=0.0, fmax=None,
              perceptual_weighting=False, scale_invariance=False, log_eps=0.0, log_fac=1.0):
    """STFT-magnitude loss at one resolution; see STFTLoss for the parameters. NaN
    where spectral convergence is weighted and undefined (a silent reference, see
    STFTLoss)."""
    return STFTLoss(fft_size, hop_size, win_length, window, w_sc=w_sc,
                    w_log_mag=w_log_mag, w_lin_mag=w_lin_mag, mag_distance=mag_distance,
                    eps=eps, reduction=reduction, output=output, compat=compat,
                    check_finite=check_finite, device=device,
                    w_phs=w_phs, sample_rate=sample_rate, scale=scale, n_bins=n_bins, fmin=fmin,
                    fmax=fmax, perceptual_weighting=perceptual_weighting,
                    scale_invariance=scale_invariance, log_eps=log_eps, log_fac=log_fac)(est, ref)


@check.keywords_checked("fastmixloss.mrstft_loss")
def mrstft_loss(est, ref, *, fft_sizes=DEFAULT_FFT_SIZES, hop_sizes=DEFAULT_HOP_SIZES,
                win_lengths=DEFAULT_WIN_LENGTHS, window="hann", w_sc=1.0, w_log_mag=1.0,
                w_lin_mag=0.0, mag_distance="L1", eps=1e-8, reduction="mean",
                output="loss", compat=None, check_finite=True, device=None,
                w_phs=0.0, sample_rate=None, scale=None, n_bins=None, fmin=0.0, fmax=None,
                perceptual_weighting=False, scale_invariance=False, log_eps=0.0, log_fac=1.0):
    """Multi-resolution STFT loss; see MultiResolutionSTFTLoss for the parameters. NaN
    where spectral convergence is weighted and undefined (a silent reference, see
    STFTLoss)."""
    return MultiResolutionSTFTLoss(
        fft_sizes, hop_sizes, win_lengths, window, w_sc=w_sc, w_log_mag=w_log_mag,
        w_lin_mag=w_lin_mag, mag_distance=mag_distance, eps=eps, reduction=reduction,
        output=output, compat=compat, check_finite=check_finite, device=device,
        w_phs=w_phs, sample_rate=sample_rate, scale=scale, n_bins=n_bins, fmin=fmin,
        fmax=fmax, perceptual_weighting=perceptual_weighting,
        scale_invariance=scale_invariance, log_eps=log_eps, log_fac=log_fac)(est, ref)


@check.keywords_checked("fastmixloss.sum_and_difference_loss")
def sum_and_difference_loss(est, ref, *, fft_sizes=DEFAULT_FFT_SIZES,
                            hop_sizes=DEFAULT_HOP_SIZES, win_lengths=DEFAULT_WIN_LENGTHS,
                            window="hann", w_sum=1.0, w_diff=1.0, w_sc=1.0, w_log_mag=1.0,
                            w_lin_mag=0.0, mag_distance="L1", eps=1e-8, reduction="mean",
                            output="loss", compat=None, check_finite=True, device=None,
                            w_phs=0.0, sample_rate=None, scale=None, n_bins=None,
                            fmin=0.0, fmax=None, perceptual_weighting=False,
                            scale_invariance=False, log_eps=0.0, log_fac=1.0):
    """Stereo sum-and-difference loss; see SumAndDifferenceSTFTLoss for the parameters.
    NaN where a weighted spectral convergence is undefined (a silent reference, or the
    difference signal of a dual-mono one, see SumAndDifferenceSTFTLoss)."""
    return SumAndDifferenceSTFTLoss(
        fft_sizes, hop_sizes, win_lengths, window, w_sum=w_sum, w_diff=w_diff, w_sc=w_sc,
        w_log_mag=w_log_mag, w_lin_mag=w_lin_mag, mag_distance=mag_distance, eps=eps,
        reduction=reduction, output=output, compat=compat, check_finite=check_finite,
        device=device, w_phs=w_phs, sample_rate=sample_rate, scale=scale, n_bins=n_bins,
        fmin=fmin, fmax=fmax, perceptual_weighting=perceptual_weighting,
        scale_invariance=scale_invariance, log_eps=log_eps, log_fac=log_fac)(est, ref)


class MelSTFTLoss(STFTLoss):
    """STFTLoss on a mel scale: STFTLoss(scale="mel", n_bins=n_mels), as auraloss's.

    Parameters as STFTLoss; sample_rate is required, n_mels defaults to 128.
    """

    def __init__(self, sample_rate, fft_size=1024, hop_size=256, win_length=None,
                 window="hann", *, n_mels=128, **kwargs):
        super().__init__(fft_size, hop_size, win_length, window, sample_rate=sample_rate,
                         scale="mel", n_bins=check.positive_int("n_mels", n_mels),
                         **kwargs)


class ChromaSTFTLoss(STFTLoss):
    """STFTLoss on chroma bands: STFTLoss(scale="chroma", n_bins=n_chroma).

    auraloss 0.4.0's ChromaSTFTLoss raises a TypeError when constructed; this one computes
    the intended loss (librosa.filters.chroma's defaults). sample_rate is required.
    """

    def __init__(self, sample_rate, fft_size=1024, hop_size=256, win_length=None,
                 window="hann", *, n_chroma=12, **kwargs):
        super().__init__(fft_size, hop_size, win_length, window, sample_rate=sample_rate,
                         scale="chroma", n_bins=check.positive_int("n_chroma", n_chroma),
                         **kwargs)


# the largest max_fft_size RandomResolutionSTFTLoss takes with a filterbank (scale=...)
MAX_RANDOM_FILTERBANK_FFT_SIZE = 2 ** 20

_RANDOM_WINDOWS = ("hann", "bartlett", "blackman", "hamming", "kaiser")


class RandomResolutionSTFTLoss(_SpectralLoss):
    """The mean of STFTLoss over randomly drawn resolutions, redrawn every
    `randomize_rate` calls (auraloss's RandomResolutionSTFTLoss).

    Each of the `resolutions` draws, from `rng` (a numpy.random.Generator) or a new
    Generator seeded with `seed`:
      fft_size = 2**e, e uniform over the integers log2(min_fft_size) .. log2(max_fft_size),
        both ends included;
      hop_size = max(1, int(fft_size * u)), u uniform in [min_hop_size, max_hop_size);
      win_length = int(fft_size * f), f one of 1, 0.5, 0.25;
      window uniform over `windows`.
    The first draw happens at construction and serves the first `randomize_rate` calls;
    the drawn resolutions are in `self.resolutions`.

    Differences from auraloss 0.4.0: auraloss draws from NumPy's global legacy generator
    (so runs reproduce only through np.random.seed), throws its construction draw away by
    redrawing on the first call, and never draws max_fft_size (numpy.random.randint
    excludes its upper bound). Signals must be longer than max_fft_size // 2 samples (the
    reflect padding of the largest size that can be drawn); auraloss asks for more than
    max_fft_size. With a filterbank (scale="mel" or "chroma") max_fft_size is at most
    2**20: each drawn size builds its filterbank when it is drawn.

    Other keyword arguments (w_sc, w_log_mag, w_lin_mag, w_phs, sample_rate, scale,
    n_bins, compat, reduction, ...) go to every STFTLoss; output="full" gives a
    MultiResolutionBreakdown of the current draw.
    """

    def __init__(self, resolutions=3, min_fft_size=16, max_fft_size=32768,
                 min_hop_size=0.1, max_hop_size=1.0, windows=_RANDOM_WINDOWS, *,
                 randomize_rate=1, rng=None, seed=None, **stft_kwargs):
        self.n_resolutions = check.positive_int("resolutions", resolutions)
        self.min_fft_size = _power_of_two("min_fft_size", min_fft_size)
        self.max_fft_size = _power_of_two("max_fft_size", max_fft_size)
        if self.min_fft_size > self.max_fft_size:
            raise ParameterError(f"min_fft_size={min_fft_size} is above "
                                 f"max_fft_size={max_fft_size}")
        self.min_hop_size = check.finite_float("min_hop_size", min_hop_size,
                                               strictly_positive=True)
        self.max_hop_size = check.finite_float("max_hop_size", max_hop_size,
                                               strictly_positive=True)
        if self.min_hop_size > self.max_hop_size:
            raise ParameterError(f"min_hop_size={min_hop_size} is above "
                                 f"max_hop_size={max_hop_size}")
        self.windows = tuple(_random_window(i, w) for i, w in
                             enumerate(check.sequence("windows", windows)))
        self.randomize_rate = check.positive_int("randomize_rate", randomize_rate)
        if rng is not None and seed is not None:
            raise ParameterError("give rng or seed, not both")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng={rng!r} must be a numpy.random.Generator")
        if seed is not None:
            seed = _seed(seed)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self._stft_kwargs = dict(stft_kwargs)
        self._output = stft_kwargs.get("output", "loss")
        self._calls = 0
        if (stft_kwargs.get("scale") is not None
                and self.max_fft_size > MAX_RANDOM_FILTERBANK_FFT_SIZE):
            # each draw builds its filterbank at once: at 2**30 points one alone would
            # take gigabytes, before any signal could be long enough for it
            raise ParameterError(
                f"max_fft_size={max_fft_size} with scale={stft_kwargs['scale']!r}: "
                f"filterbanks are built as sizes are drawn, up to "
                f"{MAX_RANDOM_FILTERBANK_FFT_SIZE} points")
        if stft_kwargs.get("scale") is not None:
            # a filterbank that fits the smallest size fits every larger one: check it
            # now rather than at a redraw in the middle of a run
            STFTLoss(self.min_fft_size, self.min_fft_size, **dict(stft_kwargs, output="loss"))
        self.draw()

    def draw(self):
        """Draw new resolutions now (normally done every randomize_rate calls)."""
        low = int(np.log2(self.min_fft_size))
        high = int(np.log2(self.max_fft_size))
        losses, drawn = [], []
        for _ in range(self.n_resolutions):
            fft_size = 2 ** int(self.rng.integers(low, high, endpoint=True))
            fraction = self.rng.uniform(self.min_hop_size, self.max_hop_size)
            hop_size = max(1, int(fft_size * fraction))
            win_length = max(1, int(fft_size * self.rng.choice([1.0, 0.5, 0.25])))
            window = self.windows[int(self.rng.integers(len(self.windows)))]
            kwargs = dict(self._stft_kwargs, output="full")
            losses.append(STFTLoss(fft_size, hop_size, win_length, window, **kwargs))
            drawn.append((fft_size, hop_size, win_length, window))
        self._losses = losses
        self.resolutions = tuple(drawn)

    def _describe(self):
        return "; ".join(f"fft_size={f}, hop_size={h}, win_length={w}, window={n}"
                         for f, h, w, n in self.resolutions)

    def __call__(self, est, ref):
        # shapes and channel layout as every loss checks them, before the length
        settings = self._losses[0]._settings
        backend = backends.select(settings.device, est, ref)
        est3, _ = settings.signal_pair(backend, est, ref)
        length = est3.shape[-1]
        if length <= self.max_fft_size // 2:
            raise ParameterError(
                f"signals of {length} samples are too short for max_fft_size="
                f"{self.max_fft_size}: the largest size that can be drawn needs more than "
                f"{self.max_fft_size // 2}")
        if self._calls > 0 and self._calls % self.randomize_rate == 0:
            self.draw()
        self._calls += 1
        parts = [loss(est, ref) for loss in self._losses]
        breakdown = _mean_over_resolutions(parts)
        return breakdown if self._output == "full" else breakdown.loss


def _random_window(index, window):
    """A window name for the draws (each draw picks its own length: no arrays)."""
    if not isinstance(window, str):
        raise ParameterError(f"windows[{index}]={window!r} must be a window name, e.g. "
                             f"'hann' (each draw sets its own window length)")
    try:
        return window_name(window)
    except ParameterError as error:   # say which of the windows it was
        raise ParameterError(f"windows[{index}]: {error}") from None


def _seed(value):
    """A seed of numpy.random.default_rng: an integer >= 0 (bool and float refused)."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < 0):
        raise ParameterError(f"seed={value!r} must be an integer >= 0 (or None)")
    return operator.index(value)


def _power_of_two(name, value):
    value = check.positive_int(name, value)
    if value & (value - 1):
        raise ParameterError(f"{name}={value} must be a power of two")
    return value
