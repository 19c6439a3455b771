"""What a spectral loss computes, as one checked, immutable plan.

Every spectral loss, the library's own (spectral.py) and the other projects' presets
(presets.py), is a SpectralPlan: its resolutions and windows, how frames are cut
(framing), the magnitude floor, an optional filterbank and prefilter, the log term's
transform, the term weights, and how the sums reduce (per item or batch-wide spectral
convergence, mean or sum over resolutions). The engine (engine.py) runs a plan; nothing
else of a loss reaches the kernels.
"""

import functools
from dataclasses import dataclass, field, fields
from typing import Optional, Tuple

import numpy as np

from . import filterbanks
from . import options as spectral_options
from . import validation as check
from .errors import ParameterError
from .kernels import layout
from .kernels.layout import OptionPlan
from .windows import window_name, window_values

# How frame k is cut from a signal of T samples (see framing()).
CENTRED, HIFIGAN, UNCENTRED = "centred", "hifigan", "uncentred"
FRAMINGS = (CENTRED, HIFIGAN, UNCENTRED)

# Sample rates (Hz) a mel or chroma filterbank is built for, both ends included: from
# below any audio rate in use (8 kHz telephony) to the fastest audio converters (768 kHz),
# as for A-weighting. Outside, the banks' formulas stop meaning anything (at 1e-300 Hz the
# chroma bank's octave weights underflow to 0/0, a NaN loss).
FILTERBANK_SAMPLE_RATES = (1000.0, 768000.0)


@dataclass(frozen=True)
class Resolution:
    fft_size: int
    hop_size: int
    win_length: int

    def __str__(self):
        return (f"fft_size={self.fft_size}, hop_size={self.hop_size}, "
                f"win_length={self.win_length}")


def resolution(fft_size, hop_size, win_length, names=("fft_size", "hop_size", "win_length")):
    """A checked Resolution; `names` are the arguments' names in messages."""
    fft_size = check.positive_int(names[0], fft_size)
    hop_size = check.positive_int(names[1], hop_size)
    win_length = check.positive_int(names[2], win_length)
    if win_length > fft_size:
        raise ParameterError(f"{names[2]}={win_length} is longer than {names[0]}={fft_size}")
    return Resolution(fft_size, hop_size, win_length)


def resolutions(fft_sizes, hop_sizes, win_lengths):
    """Checked Resolutions from three sequences of the same length."""
    fft_sizes = check.sequence("fft_sizes", fft_sizes)
    hop_sizes = check.sequence("hop_sizes", hop_sizes)
    win_lengths = check.sequence("win_lengths", win_lengths)
    if not len(fft_sizes) == len(hop_sizes) == len(win_lengths):
        raise ParameterError(
            f"fft_sizes, hop_sizes and win_lengths must have the same length: "
            f"{len(fft_sizes)}, {len(hop_sizes)} and {len(win_lengths)}")
    return tuple(
        resolution(*values, names=(f"fft_sizes[{i}]", f"hop_sizes[{i}]", f"win_lengths[{i}]"))
        for i, values in enumerate(zip(fft_sizes, hop_sizes, win_lengths)))


def windows(window, resolutions):
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


def framing(kind, fft_size, hop_size, length):
    """(pad_left, n_frames, shortest length allowed) of one resolution over `length`
    samples: CENTRED is torch.stft(center=True) (reflect-pad fft_size // 2), HIFIGAN
    reflect-pads (fft_size - hop_size) // 2 and frames without centring, UNCENTRED is
    tf.signal.stft(pad_end=True) (zeros after the end, ceil(T / hop) frames)."""
    if kind == CENTRED:
        pad = fft_size // 2
        return pad, layout.frame_count(length, fft_size, hop_size), pad + 1
    if kind == HIFIGAN:
        pad = (fft_size - hop_size) // 2
        return (pad, 1 + (length + 2 * pad - fft_size) // hop_size,
                max(pad + 1, fft_size - 2 * pad))
    return 0, -(-length // hop_size), 1


def check_filterbank_rate(sample_rate, what):
    """ParameterError unless a filterbank (`what`, e.g. "scale='mel'") can be built at
    `sample_rate` (a float > 0): FILTERBANK_SAMPLE_RATES."""
    low, high = FILTERBANK_SAMPLE_RATES
    if not low <= sample_rate <= high:
        raise ParameterError(
            f"{what} needs {low:g} <= sample_rate <= {high:g} Hz (its filterbank is built "
            f"for audio sample rates), got sample_rate={sample_rate!r}")


def check_mel_band(fmin, fmax, sample_rate, names=("fmin", "fmax")):
    """(fmin, fmax) of a mel filterbank at `sample_rate`, checked: 0 <= fmin < fmax <=
    sample_rate / 2 (fmax None: the Nyquist frequency, kept None). Every mel filterbank,
    the spectral options' and the presets', is checked here."""
    fmin_name, fmax_name = names
    fmin_value = check.finite_float(fmin_name, fmin, minimum=0.0)
    fmax_value = (None if fmax is None else
                  check.finite_float(fmax_name, fmax, strictly_positive=True))
    nyquist = sample_rate / 2
    if fmax_value is not None and fmax_value > nyquist:
        raise ParameterError(
            f"{fmax_name}={fmax!r} is above the Nyquist frequency sample_rate / 2 = "
            f"{nyquist:g} (sample_rate={sample_rate:g})")
    top = nyquist if fmax_value is None else fmax_value
    if fmin_value >= top:
        above = (f"{fmax_name}={fmax!r}" if fmax_value is not None else
                 f"the Nyquist frequency sample_rate / 2 = {nyquist:g}")
        raise ParameterError(
            f"{fmin_name}={fmin!r} must be below {above}: the mel bands lie between them")
    return fmin_value, fmax_value


@functools.lru_cache(maxsize=64)
def filterbank(scale, sample_rate, fft_size, n_bands, fmin, fmax, dtype,
               empty_bands=False):
    """The sparse Filterbank of one resolution, shared through a cache (read-only).
    `dtype` (a name) rounds the weights (float32: librosa's). A mel band that covers no
    bin raises ParameterError unless `empty_bands` (the presets' sources allow them)."""
    dtype = np.dtype(dtype)
    if scale == "mel" and empty_bands:
        bank = filterbanks.sparse(filterbanks.mel_matrix(sample_rate, fft_size, n_bands,
                                                         fmin, fmax, dtype))
    else:
        bank = filterbanks.build(scale, sample_rate, fft_size, n_bands, fmin, fmax, dtype)
    for array in bank[:3]:
        array.flags.writeable = False
    return bank


@dataclass(frozen=True)
class SpectralPlan:
    """A spectral loss, checked: what the engine runs and how it reduces the sums.

    One per loss object, built once; `resolutions[i]` goes with `windows[i]` and
    `filterbanks[i]`. Build one with spectral_plan() (the library's options) or as the
    presets do (presets.py); the constructor itself checks nothing.
    """

    resolutions: Tuple[Resolution, ...]
    windows: tuple                        # a name or float64 values, per resolution
    filterbanks: tuple                    # a Filterbank or None, per resolution
    float32_window: bool = False          # the window rounded to float32 (the sources')
    framing: str = CENTRED
    eps: float = 1e-8                     # magnitude sqrt(max(P, eps))
    eps_added: bool = False               # sqrt(P + eps) instead
    # the log term is of v = log_fac * X + log_eps; v <= log_threshold becomes log_floor
    log_fac: float = 1.0
    log_eps: float = 0.0
    log_threshold: float = 0.0
    log_floor: float = 0.0
    taps: Optional[np.ndarray] = field(default=None, compare=False)   # prefilter FIR
    scale_invariance: bool = False
    # terms: loss = weight * (w_sc * sc + w_log_mag * log_factor * log + w_lin_mag * lin
    #                         + w_phs * phs)
    w_sc: float = 1.0
    w_log_mag: float = 1.0
    w_lin_mag: float = 0.0
    w_phs: float = 0.0
    distance: int = layout.L1
    log_factor: float = 1.0               # 1 / ln 10 for a log10 source, ...
    weight: float = 1.0
    every_term: bool = False              # report terms of weight 0 too (else 0)
    # reduction
    reduction: str = "mean"
    batch_sc: bool = False                # one spectral convergence for the whole batch
    nan_at_floor: bool = True             # SC of a reference at the floor is undefined
    sum_resolutions: bool = False         # else the mean over resolutions
    compat: Optional[str] = None          # "auraloss": its sum reduction too
    output: str = "loss"
    # input
    device: Optional[str] = None
    check_finite: bool = True

    @property
    def require_batch(self):
        # auraloss takes (B, C, T) input only
        return self.compat == "auraloss"

    @property
    def log_mode(self):
        return self.distance if (self.every_term or self.w_log_mag) else layout.NO_TERM

    @property
    def lin_mode(self):
        return self.distance if (self.every_term or self.w_lin_mag) else layout.NO_TERM

    @property
    def phase(self):
        # the phase term costs two arctangents per bin: computed only when weighted
        return self.w_phs > 0

    @property
    def uses_options_kernel(self):
        """False where the plain kernel computes the plan (its faster path): centred
        frames, a floor inside the square root, no filterbank, prefilter, phase or scale
        invariance, and every option the options kernel takes at its neutral value."""
        return (any(bank is not None for bank in self.filterbanks)
                or self.framing != CENTRED or self.eps == 0.0 or self.taps is not None
                or self.scale_invariance or self.phase
                or any(getattr(self, name) != _NEUTRAL[name] for name in _TO_KERNEL))

    def option_plan(self, index, pad_left):
        """The options kernel's OptionPlan of resolution `index`: its fields of the
        same name as a plan's field are copied (_TO_KERNEL), the rest derived here."""
        bank = self.filterbanks[index]
        return OptionPlan(
            n_bands=0 if bank is None else bank.n_bands, phase=self.phase,
            prefilter=self.taps is not None, pad_left=int(pad_left),
            zero_pad=self.framing == UNCENTRED,
            **{name: getattr(self, name) for name in _TO_KERNEL})


_PLAN_FIELDS = {f.name: f for f in fields(SpectralPlan)}
# plan fields the options kernel takes as they are, and their neutral (default) values
_TO_KERNEL = tuple(name for name in OptionPlan._fields if name in _PLAN_FIELDS)
_NEUTRAL = {name: _PLAN_FIELDS[name].default for name in _TO_KERNEL}
# options that are plan fields as they are (the others are turned into plan fields below)
_FROM_OPTIONS = tuple(name for name in _PLAN_FIELDS if name in spectral_options.BY_NAME)


def spectral_plan(resolutions_, window, options, *, output=None):
    """The SpectralPlan of the library's spectral losses: `resolutions_` (checked
    Resolutions), `window` (see windows()) and `options` (options.SpectralOptions, each
    value checked alone); here what depends on several of them is checked, and every
    filterbank and the prefilter are built (so a bad combination fails now, before any
    signal)."""
    o = options
    if o.compat == "auraloss" and o.reduction == "none":
        raise ParameterError(
            "reduction='none' with compat='auraloss': auraloss returns an element-wise "
            "spectrogram there, which fastmixloss never holds; use reduction='mean' or "
            "'sum', or compat=None for one value per item")
    needs_rate = o.scale is not None or o.perceptual_weighting
    if needs_rate and o.sample_rate is None:
        what = f"scale={o.scale!r}" if o.scale else "perceptual_weighting=True"
        raise ParameterError(f"{what} needs sample_rate (in Hz), e.g. sample_rate=44100")
    if o.scale is not None:
        check_filterbank_rate(o.sample_rate, f"scale={o.scale!r}")
    if o.perceptual_weighting:
        from .weighting import check_sample_rate
        check_sample_rate(o.sample_rate)
    n_bins = _n_bins(o.scale, o.n_bins, len(resolutions_))
    fmin, fmax = _band_edges(o)
    windows_ = windows(window, resolutions_)
    dtype = "float32" if o.compat == "auraloss" else "float64"
    banks = tuple(None if o.scale is None else
                  filterbank(o.scale, o.sample_rate, r.fft_size, n, fmin, fmax, dtype)
                  for r, n in zip(resolutions_, n_bins))
    taps = None
    if o.perceptual_weighting:   # ParameterError without SciPy: now
        from .weighting import taps_for
        taps = taps_for(o.sample_rate, compat=o.compat == "auraloss")
    output = o.output if output is None else output
    same = {name: getattr(o, name) for name in _FROM_OPTIONS}
    same["output"] = output
    return SpectralPlan(
        resolutions_, windows_, banks, taps=taps, float32_window=o.compat == "auraloss",
        distance=layout.L1 if o.mag_distance == "L1" else layout.L2,
        every_term=output == "full", batch_sc=o.compat == "auraloss",
        nan_at_floor=o.compat != "auraloss", **same)


def _n_bins(scale, n_bins, n_resolutions):
    if scale is None:
        if n_bins is not None:
            raise ParameterError(f"n_bins={_listed(n_bins)!r} needs scale='mel' or 'chroma'")
        return (None,) * n_resolutions
    if n_bins is None:
        n_bins = 128 if scale == "mel" else 12
    if isinstance(n_bins, tuple):
        if len(n_bins) != n_resolutions:
            raise ParameterError(
                f"n_bins={list(n_bins)!r} has {len(n_bins)} values for "
                f"{n_resolutions} resolutions; give one int, or one per resolution")
        return n_bins
    return (n_bins,) * n_resolutions


def _listed(n_bins):
    return list(n_bins) if isinstance(n_bins, tuple) else n_bins


def _band_edges(o):
    if o.scale == "mel":
        return check_mel_band(o.fmin, o.fmax, o.sample_rate)
    # librosa's chroma filterbank spans every bin: it has no band edges to set
    if o.fmin != 0.0 or o.fmax is not None:
        given = f"fmin={o.fmin!r}" if o.fmin != 0.0 else f"fmax={o.fmax!r}"
        raise ParameterError(
            f"{given} applies to scale='mel' only"
            + (": the chroma filterbank (librosa.filters.chroma) spans every FFT "
               "bin and has no fmin or fmax" if o.scale == "chroma" else ""))
    return o.fmin, o.fmax
