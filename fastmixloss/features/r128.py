"""EBU R 128 loudness statistics: integrated loudness, loudness range, maximum momentary
and short-term loudness, true peak, sample peak and PLR (ITU-R BS.1770-4, EBU Tech 3341
and 3342).

One K-weighting pass (kernels/block_energies.segment_energies) gives the energy of every
segment between the bounds of every window the statistics use; each window's energy is
the sum of its segments, so no sample is filtered twice. The true peak is a second pass
(kernels/true_peak.py). Gating, percentiles and decibels are NumPy, here.

Two conventions, which differ most in the loudness range:
- "ebu" (libebur128's, the C library behind ffmpeg's ebur128 filter): K-weighting as
  BS.1770 specifies it (bs1770.k_weighting_bs1770); gating blocks of 400 ms every
  100 ms from the start; loudness range from short-term blocks of 3 s every 1 s, the
  last one ending at or before the signal's end, absolute gate -70 LUFS, relative gate
  -20 LU below the mean energy of the blocks above it, the 10th and 95th percentiles by
  nearest rank on the sorted blocks.
- "pyloudnorm" (pyloudnorm 0.2.0's): its K-weighting (bs1770.k_weighting) and gating
  blocks, so the integrated loudness is fastmixloss.integrated_loudness's; loudness
  range after the Tech 3342 MATLAB example: 1.5 s of silence appended to the signal,
  3-s blocks every 0.09 s (pyloudnorm's overlap 0.97), the same gates, the percentiles
  interpolated linearly (numpy.percentile). The blocks that reach into the silence read
  lower, so a short or steady signal reads a wider range than in the "ebu" convention.
Momentary and short-term windows, true peak and sample peak are defined alike in both
(the momentary and short-term loudness through the convention's K-weighting).
"""

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from .. import validation as check
from ..errors import ParameterError
from .bs1770 import (ABSOLUTE_GATE, CHANNEL_WEIGHTS, LOUDNESS_OFFSET, k_weighting_bs1770, LOUDNESS_SAMPLE_RATES, block_bounds,
                     block_energies, channel_count_ok, gated_loudness, k_weighting,
                     measuring_scale)
from .profiles import rate_in_range

CONVENTIONS = ("ebu", "pyloudnorm")
MOMENTARY_S = 0.4          # momentary loudness window (s)
SHORT_TERM_S = 3.0         # short-term loudness window (s)
INTEGRATED_BLOCK_S = 0.4   # BS.1770 gating block (s)
LRA_HOP_S = 1.0            # "ebu": a short-term block every second (libebur128)
LRA_RELATIVE_GATE = -20.0  # LU below the absolutely gated blocks' mean
LRA_PERCENTILES = (10.0, 95.0)
PYLOUDNORM_SILENCE_S = 1.5     # "pyloudnorm": silence appended before measuring
PYLOUDNORM_LRA_OVERLAP = 0.97  # its 3-s blocks' overlap (a step of 0.09 s)

# BS.1770-4 Annex 2: the 48-tap interpolator for 4x oversampling, as its four phases
# (phase p: the point p/4 of a sample period after the centre tap's sample)
ANNEX2_PHASES = np.array([
    [0.0017089843750, 0.0109863281250, -0.0196533203125, 0.0332031250000,
     -0.0594482421875, 0.1373291015625, 0.9721679687500, -0.1022949218750,
     0.0476074218750, -0.0266113281250, 0.0148925781250, -0.0083007812500],
    [-0.0291748046875, 0.0292968750000, -0.0517578125000, 0.0891113281250,
     -0.1665039062500, 0.4650878906250, 0.7797851562500, -0.2003173828125,
     0.1015625000000, -0.0582275390625, 0.0330810546875, -0.0189208984375],
    [-0.0189208984375, 0.0330810546875, -0.0582275390625, 0.1015625000000,
     -0.2003173828125, 0.7797851562500, 0.4650878906250, -0.1665039062500,
     0.0891113281250, -0.0517578125000, 0.0292968750000, -0.0291748046875],
    [-0.0083007812500, 0.0148925781250, -0.0266113281250, 0.0476074218750,
     -0.1022949218750, 0.9721679687500, 0.1373291015625, -0.0594482421875,
     0.0332031250000, -0.0196533203125, 0.0109863281250, 0.0017089843750]])

FIELDS = ("integrated", "loudness_range", "momentary_max", "short_term_max", "true_peak",
          "sample_peak", "plr")


def oversampling_phases(rate):
    """The interpolator's phases at `rate` (Hz): 4x below 96 kHz (the Annex's four), 2x
    below 192 kHz (its phases 0 and 2: the points 0 and 1/2), none from 192 kHz on (the
    samples are then as dense as the Annex's 4 x 48 kHz)."""
    if rate < 96000:
        return ANNEX2_PHASES
    if rate < 192000:
        return ANNEX2_PHASES[::2]
    return ANNEX2_PHASES[:0]


@dataclass(frozen=True)
class LoudnessStats:
    """EBU R 128 statistics of a signal, or of each item of a batch (`loudness_stats`).

    Each statistic is a float for (T,) and (C, T) input, a (B,) float64 array for
    (B, C, T). -inf is the level of silence; NaN a statistic that does not exist for
    this item, ``reasons[(item, name)]`` saying why.

    Attributes
    ----------
    integrated : float or (B,) array
        LUFS, gated (BS.1770-4); in the "pyloudnorm" convention
        fastmixloss.integrated_loudness's.
    loudness_range : float or (B,) array
        LU (EBU Tech 3342), in the convention's way.
    momentary_max, short_term_max : float or (B,) array
        LUFS, the largest loudness of a 400-ms or 3-s window, the windows starting every
        ``step`` seconds from the signal's start.
    true_peak : float or (B,) array
        dBTP (BS.1770-4 Annex 2), at least the sample peak.
    sample_peak : float or (B,) array
        dBFS, the largest |sample|.
    plr : float or (B,) array
        LU, true_peak - integrated (peak-to-loudness ratio, EBU R 128 s1).
    convention, step, sample_rate
        How they were measured.
    reasons : dict
        (item, name) -> why that value is NaN.
    momentary, short_term : None, (K,) or (B, K) array
        With curves=True, the loudness of every window (LUFS); window k spans samples
        [k * hop, k * hop + window), hop = round(step * sample_rate); ``curve_times``
        gives each window's end in seconds.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> noise = 0.1 * rng.standard_normal((2, 5 * 44100))   # 5 s of stereo noise
    >>> stats = fastmixloss.loudness_stats(noise, 44100, curves=True)
    >>> stats.momentary.shape, float(stats.curve_times()[0])
    ((47,), 0.4)
    >>> sorted(stats.as_dict())[:3]
    ['integrated', 'loudness_range', 'momentary_max']
    """

    integrated: Union[float, np.ndarray]
    loudness_range: Union[float, np.ndarray]
    momentary_max: Union[float, np.ndarray]
    short_term_max: Union[float, np.ndarray]
    true_peak: Union[float, np.ndarray]
    sample_peak: Union[float, np.ndarray]
    plr: Union[float, np.ndarray]
    convention: str = "ebu"
    step: float = 0.1
    sample_rate: float = 48000.0
    reasons: Dict[Tuple[int, str], str] = field(default_factory=dict)
    momentary: Optional[np.ndarray] = None
    short_term: Optional[np.ndarray] = None

    def as_dict(self):
        """{name: value} of the seven statistics."""
        return {name: getattr(self, name) for name in FIELDS}

    def curve_times(self, curve="momentary"):
        """The end of each window of `curve` ("momentary" or "short_term"), in seconds."""
        values = {"momentary": self.momentary, "short_term": self.short_term}.get(curve)
        if curve not in ("momentary", "short_term"):
            raise ParameterError(f"curve={curve!r} is not 'momentary' or 'short_term'")
        if values is None:
            raise ParameterError("the curves were not computed: pass curves=True")
        window = MOMENTARY_S if curve == "momentary" else SHORT_TERM_S
        hop = _samples(self.step, self.sample_rate)
        ends = _samples(window, self.sample_rate) + hop * np.arange(values.shape[-1])
        return ends / self.sample_rate


def _samples(seconds, rate):
    return int(round(seconds * rate))


@check.keywords_checked("fastmixloss.loudness_stats")
def loudness_stats(x: ArrayLike, sample_rate: float, *, convention: str = "ebu",
                   step: float = 0.1, curves: bool = False) -> LoudnessStats:
    """EBU R 128 loudness statistics: integrated loudness, loudness range, maximum
    momentary and short-term loudness, true peak, sample peak and PLR.

    Parameters
    ----------
    x : array_like, shape (T,), (C, T) or (B, C, T)
        float32 or float64, channels first; C <= 5, weighted as L, R, C, Ls, Rs. Any
        length from one sample: a statistic whose window the signal cannot hold is NaN
        with its reason. Any finite samples.
    sample_rate : float
        Hz, within LOUDNESS_SAMPLE_RATES (8 kHz to 384 kHz, both included).
    convention : {"ebu", "pyloudnorm"}, default "ebu"
        "ebu": as libebur128 (ffmpeg's ebur128 filter) measures, BS.1770's own
        K-weighting; "pyloudnorm": as pyloudnorm 0.2.0's ``Meter`` (its K-weighting,
        ``integrated_loudness`` and ``loudness_range``, which appends 1.5 s of silence
        first). The loudness range differs most. See docs/features.md.
    step : float, default 0.1
        Seconds between the starts of consecutive momentary and short-term windows
        (0.1: libebur128 read every 100 ms; EBU Tech 3341 case 13, a 0.4-s burst at any
        offset, needs 0.01 to read its maximum within 0.1 LU). At least one sample.
    curves : bool, default False
        Also return every window's loudness (the momentary and short-term curves).

    Returns
    -------
    LoudnessStats

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> t = np.arange(20 * 48000) / 48000
    >>> tone = 10 ** (-23 / 20) * np.sin(2 * np.pi * 1000 * t)
    >>> stats = fastmixloss.loudness_stats(np.stack([tone, tone]), 48000)
    >>> round(stats.integrated, 1), round(stats.short_term_max, 1), round(stats.sample_peak, 1)
    (-23.0, -23.0, -23.0)
    >>> round(stats.loudness_range, 1)
    0.0
    """
    x3, ndim = check.as_signal(x, "x", check_channels=False)
    rate = check.finite_float("sample_rate", sample_rate, strictly_positive=True)
    rate_in_range(rate, *LOUDNESS_SAMPLE_RATES, "loudness_stats'")
    convention = check.choice("convention", convention, CONVENTIONS)
    step = check.finite_float("step", step, strictly_positive=True)
    if _samples(step, rate) < 1:
        raise ParameterError(f"step={step!r} s is {step * rate:.3g} samples at {rate:g} Hz: "
                             "the windows need a step of at least one sample")
    curves = check.flag("curves", curves)
    channel_count_ok(x3.shape[3 - ndim:])
    check.raise_if_nonfinite(x3, x3, names=("x",), can_skip=False)
    values, reasons, curve_values = item_stats(x3, rate, convention, step, curves)
    if ndim < 3:
        values = {name: float(v[0]) for name, v in values.items()}
        curve_values = {name: None if v is None else v[0] for name, v in curve_values.items()}
    return LoudnessStats(**values, convention=convention, step=step,
                         sample_rate=rate, reasons=reasons, **curve_values)


def item_stats(x3, rate, convention="ebu", step=0.1, curves=False):
    """The statistics of checked input x3 (B, C, T): ({name: (B,) float64}, reasons
    {(item, name): text}, {"momentary", "short_term": (B, K) or None})."""
    from .kernels.block_energies import N_STATE, segment_energies
    from .kernels.true_peak import true_peaks
    n_items, n_channels, length = x3.shape
    rows = x3.reshape(n_items * n_channels, length)
    sample_rows, peak_rows = true_peaks(rows, oversampling_phases(rate))
    sample_peaks = sample_rows.reshape(n_items, n_channels).max(axis=1)
    scales, shifts = np.array([measuring_scale(peak) for peak in sample_peaks]).T
    if (scales != 1.0).any():
        # beyond LARGEST_DIRECT_SAMPLE, measured on a copy scaled by a power of two
        # (exact) so that neither squared samples nor the interpolator can overflow
        x3 = x3 * scales[:, None, None].astype(x3.dtype)
        rows = x3.reshape(n_items * n_channels, length)
        _, peak_rows = true_peaks(rows, oversampling_phases(rate))
    true_peak_lin = peak_rows.reshape(n_items, n_channels).max(axis=1)

    windows = _windows(length, rate, step, convention)
    padded_range = windows.pop("range_padded", None)
    cuts = np.unique(np.concatenate([[0, length]] + [b.ravel() for b in windows.values()]))
    states = np.zeros((rows.shape[0], N_STATE))
    coefficients = k_weighting_bs1770(rate) if convention == "ebu" else k_weighting(rate)
    segments = segment_energies(rows, cuts, coefficients, states)
    energies = {name: block_energies(segments, cuts, bounds).reshape(n_items, n_channels, -1)
                for name, bounds in windows.items()}
    reasons = {}

    def undefined(name, text):
        for b in range(n_items):
            reasons[(b, name)] = text
        return np.full(n_items, np.nan)

    with np.errstate(divide="ignore"):
        values = {"sample_peak": 20.0 * np.log10(sample_peaks),
                  "true_peak": 20.0 * np.log10(true_peak_lin) + shifts}
    if windows["integrated"].shape[0]:
        values["integrated"] = gated_loudness(
            energies["integrated"], rate, INTEGRATED_BLOCK_S, shifts,
            relative_inclusive=convention == "ebu")
    else:
        values["integrated"] = undefined(
            "integrated", f"{length} samples are shorter than one {INTEGRATED_BLOCK_S}-s "
            f"gating block at {rate:g} Hz")
    curve_values = {"momentary": None, "short_term": None}
    for name, window_s in (("momentary", MOMENTARY_S), ("short_term", SHORT_TERM_S)):
        if windows[name].shape[0]:
            loudness = window_loudness(energies[name], _samples(window_s, rate), shifts)
            values[f"{name}_max"] = loudness.max(axis=-1)
            if curves:
                curve_values[name] = loudness
        else:
            values[f"{name}_max"] = undefined(
                f"{name}_max", f"{length} samples are shorter than one {window_s}-s "
                f"window at {rate:g} Hz")
            if curves:
                curve_values[name] = np.zeros((n_items, 0))
    if convention == "ebu":
        values["loudness_range"] = _range_ebu(energies, windows, shifts, length, rate,
                                              reasons)
    else:
        values["loudness_range"] = _range_pyloudnorm(energies["range"], padded_range,
                                                     shifts, states, coefficients, length,
                                                     rate, reasons)
    with np.errstate(invalid="ignore"):
        values["plr"] = values["true_peak"] - values["integrated"]
    for b in range(n_items):
        if not np.isfinite(values["plr"][b]):
            values["plr"][b] = np.nan
            reasons[(b, "plr")] = ("no integrated loudness: "
                                   + reasons.get((b, "integrated"),
                                                 "the signal is silent (-inf LUFS)"))
    return values, reasons, curve_values


def _windows(length, rate, step, convention):
    """{name: (J, 2) int64 [start, stop) sample bounds} of every window the statistics
    sum: momentary and short-term windows every `step`, the integrated loudness's gating
    blocks and the loudness range's blocks, as the convention lays them."""
    hop = _samples(step, rate)

    def every(window_s, hop_samples):
        window = _samples(window_s, rate)
        starts = np.arange(0, max(length - window + 1, 0), hop_samples, dtype=np.int64)
        return np.stack([starts, starts + window], axis=1).reshape(-1, 2)

    windows = {"momentary": every(MOMENTARY_S, hop),
               "short_term": every(SHORT_TERM_S, hop)}
    if convention == "ebu":
        # libebur128: a block every 100 ms, (rate + 5) // 10 samples
        windows["integrated"] = every(INTEGRATED_BLOCK_S, (int(rate) + 5) // 10)
        windows["range"] = every(SHORT_TERM_S, _samples(LRA_HOP_S, rate))
    else:
        windows["integrated"] = (block_bounds(length, rate, INTEGRATED_BLOCK_S)
                                 if length >= INTEGRATED_BLOCK_S * rate
                                 else np.zeros((0, 2), np.int64))
        # the blocks of the signal followed by silence, cut at the signal's end; the parts
        # in the silence are summed from the filters' final state (_silence_energies)
        padded = length + int(PYLOUDNORM_SILENCE_S * rate)
        bounds = (block_bounds(padded, rate, SHORT_TERM_S, PYLOUDNORM_LRA_OVERLAP)
                  if padded >= SHORT_TERM_S * rate else np.zeros((0, 2), np.int64))
        windows["range_padded"] = bounds
        windows["range"] = np.minimum(bounds, length)
    return windows


def window_loudness(energies, window, shifts):
    """Loudness (LUFS) of windows from their energies (B, C, J): the channel-weighted mean
    square over `window` samples, ungated; -inf for silence. shifts: (B,) dB."""
    weights = np.array(CHANNEL_WEIGHTS[:energies.shape[1]])[None, :, None]
    mean_square = np.sum(weights * energies, axis=1) / window
    with np.errstate(divide="ignore"):
        return LOUDNESS_OFFSET + shifts[:, None] + 10.0 * np.log10(mean_square)


def _range_ebu(energies, windows, shifts, length, rate, reasons):
    """Loudness range as libebur128: gates on the short-term blocks' energies, the
    percentiles by nearest rank."""
    bounds = windows["range"]
    out = np.full(shifts.shape[0], np.nan)
    if not bounds.shape[0]:
        for b in range(out.shape[0]):
            reasons[(b, "loudness_range")] = (
                f"{length} samples are shorter than one {SHORT_TERM_S}-s block at "
                f"{rate:g} Hz")
        return out
    loudness = window_loudness(energies["range"], _samples(SHORT_TERM_S, rate), shifts)
    for b, blocks in enumerate(loudness):
        gated = _gated(blocks, b, reasons)
        if gated is not None:
            ranked = np.sort(gated)
            low, high = (int((ranked.shape[0] - 1) * p / 100.0 + 0.5)
                         for p in LRA_PERCENTILES)
            out[b] = ranked[high] - ranked[low]
    return out


def _range_pyloudnorm(energies, padded_bounds, shifts, states, coefficients, length, rate,
                      reasons):
    """Loudness range as pyloudnorm 0.2.0: blocks over the signal and 1.5 s of silence
    (padded_bounds, (J, 2); energies (B, C, J) their parts within the signal), the same
    gates, numpy.percentile's linear interpolation."""
    from .kernels.block_energies import zero_input_basis
    out = np.full(shifts.shape[0], np.nan)
    if not padded_bounds.shape[0]:
        for b in range(out.shape[0]):
            reasons[(b, "loudness_range")] = (
                f"{length} samples and {PYLOUDNORM_SILENCE_S} s of silence are shorter "
                f"than one {SHORT_TERM_S}-s block at {rate:g} Hz")
        return out
    # the silence's K-weighted output is the filters' zero-input response from each
    # row's final state s: over a segment, sum (s . basis)^2 = s^T gram s
    silence = int(PYLOUDNORM_SILENCE_S * rate)
    tail = np.clip(padded_bounds - length, 0, silence)
    cuts = np.unique(np.concatenate(([0, silence], tail.ravel())))
    _, gram = zero_input_basis(coefficients, silence, cuts)
    segments = np.einsum("ri,sij,rj->rs", states, gram, states)
    tail_energies = block_energies(segments, cuts, tail).reshape(energies.shape[:2] + (-1,))
    total = energies + tail_energies
    # pyloudnorm divides every block by its full length, also one cut at the end
    loudness = window_loudness(total, SHORT_TERM_S * rate, shifts)
    for b, blocks in enumerate(loudness):
        gated = _gated(blocks, b, reasons)
        if gated is not None:
            out[b] = (np.percentile(gated, LRA_PERCENTILES[1])
                      - np.percentile(gated, LRA_PERCENTILES[0]))
    return out


def _gated(blocks, item, reasons):
    """The short-term blocks (LUFS) that pass the absolute gate and the relative gate
    LRA_RELATIVE_GATE below their mean energy; None, with the reason, when none does."""
    above = blocks[blocks >= ABSOLUTE_GATE]
    if not above.shape[0]:
        reasons[(item, "loudness_range")] = (
            f"no short-term block reaches {ABSOLUTE_GATE:g} LUFS (the signal is silent "
            "or too quiet)")
        return None
    top = above.max()   # the mean of 10^(L/10), taken relative to the loudest block
    mean = top + 10.0 * np.log10(np.mean(np.power(10.0, (above - top) / 10.0)))
    return above[above >= mean + LRA_RELATIVE_GATE]


@dataclass(frozen=True)
class LoudnessComparison:
    """The EBU R 128 statistics of an estimate and of its reference, and their
    differences (`compare_loudness`).

    Attributes
    ----------
    est, ref : dict
        name -> each signal's statistic (LoudnessStats' seven), reduced over the items.
    difference : dict
        name -> est's value minus ref's (LU or dB), per item, then reduced; NaN where
        either is undefined or both are -inf (silence).
    reasons : dict
        (item, key) -> why that value of ``to_dict()`` is NaN.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = 0.1 * rng.standard_normal((2, 5 * 44100))
    >>> loudness = fastmixloss.compare_loudness(0.5 * ref, ref, 44100)
    >>> round(loudness.difference["integrated"], 2), abs(round(loudness.difference["plr"], 2))
    (-6.02, 0.0)
    >>> list(loudness.to_dict())[:3]
    ['est.integrated', 'ref.integrated', 'diff.integrated']
    """

    est: Dict[str, Union[float, np.ndarray]]
    ref: Dict[str, Union[float, np.ndarray]]
    difference: Dict[str, Union[float, np.ndarray]]
    reasons: Dict[Tuple[int, str], str] = field(default_factory=dict)

    def to_dict(self):
        """{"est.NAME", "ref.NAME", "diff.NAME": value} for the seven statistics."""
        out = {}
        for name in FIELDS:
            out[f"est.{name}"] = self.est[name]
            out[f"ref.{name}"] = self.ref[name]
            out[f"diff.{name}"] = self.difference[name]
        return out


@check.keywords_checked("fastmixloss.compare_loudness")
def compare_loudness(est: ArrayLike, ref: ArrayLike, sample_rate: float, *,
                     convention: str = "ebu", step: float = 0.1, reduction: str = "mean",
                     device: Optional[str] = None) -> LoudnessComparison:
    """EBU R 128 statistics of an estimated mix and its reference, and the differences.

    Parameters
    ----------
    est, ref : array_like, one shape, (T,), (C, T) or (B, C, T), float32 or float64
        As loudness_stats takes a signal.
    sample_rate : float
        Hz, within LOUDNESS_SAMPLE_RATES.
    convention : {"ebu", "pyloudnorm"}, default "ebu"
        See loudness_stats.
    step : float, default 0.1
        See loudness_stats.
    reduction : {"mean", "sum", "none"}, default "mean"
        Over the B items (of each statistic and each difference).
    device : None or "cpu", default None
        "cuda" raises DeviceError: the statistics run on the CPU.

    Returns
    -------
    LoudnessComparison
        ``to_dict()`` gives est.NAME, ref.NAME and diff.NAME (est minus ref) for the
        seven statistics (integrated, loudness_range, momentary_max, short_term_max,
        true_peak, sample_peak, plr).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> t = np.arange(10 * 48000) / 48000
    >>> tone = np.stack([np.sin(2 * np.pi * 1000 * t)] * 2)
    >>> result = fastmixloss.compare_loudness(0.1 * tone, tone, 48000)
    >>> round(result.difference["true_peak"], 2)
    -20.0
    """
    from ..errors import DeviceError
    if device not in (None, "cpu"):
        if device == "cuda":
            raise DeviceError("the loudness statistics run on the CPU only: pass "
                              "device='cpu' (or leave it out)")
        raise ParameterError(f"device={device!r} is not one of None, 'cpu', 'cuda'")
    reduction = check.choice("reduction", reduction, check.REDUCTIONS)
    est3, ref3, _ = check.as_signal_pair(est, ref)   # one shape, named errors
    stats = {role: loudness_stats(x, sample_rate, convention=convention, step=step)
             for role, x in (("est", est3), ("ref", ref3))}
    values = {"est": {}, "ref": {}, "diff": {}}
    reasons = {}
    for role, result in stats.items():
        reasons.update({(item, f"{role}.{name}"): text
                        for (item, name), text in result.reasons.items()})
    for name in FIELDS:
        ours, theirs = getattr(stats["est"], name), getattr(stats["ref"], name)
        with np.errstate(invalid="ignore"):
            difference = ours - theirs
        for item in np.flatnonzero(np.isnan(difference)):
            why = [f"{role}: {reasons[(int(item), f'{role}.{name}')]}" for role in stats
                   if (int(item), f"{role}.{name}") in reasons]
            reasons[(int(item), f"diff.{name}")] = (
                "; ".join(why) or "both signals are silent (-inf minus -inf)")
        for role, per_item in (("est", ours), ("ref", theirs), ("diff", difference)):
            for item in np.flatnonzero(np.isinf(per_item)):
                reasons.setdefault((int(item), f"{role}.{name}"),
                                   "-inf: the level of digital silence")
            with np.errstate(invalid="ignore"):
                values[role][name] = (float(per_item.mean()) if reduction == "mean" else
                                      float(per_item.sum()) if reduction == "sum" else
                                      per_item)
    return LoudnessComparison(values["est"], values["ref"], values["diff"], reasons)
