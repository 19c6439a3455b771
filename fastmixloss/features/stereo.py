"""The stereo image of a mix, and Diff-MST's audio features (the "diffmst" profile).

- `stereo_image`: inter-channel correlation, stereo width (side/mid energy) and
  left/right imbalance of each item of a stereo signal.
- `diffmst_features`: the five feature extractors of Diff-MST's AudioFeatureLoss
  (sai-soum/Diff-MST, mst/loss.py): RMS and crest factor per channel, stereo width,
  stereo imbalance, and the log Bark spectrum of the mid and side signals, with its
  floors (the clamps at 1e-8) as it has them.
- `compare_features(..., profile="diffmst")` (features/__init__.py): the mean squared
  error of the estimate's features against the reference's, per feature, as
  AudioFeatureLoss's terms with unit weights.

The sums come from one pass over the channel pair (kernels/stereo.pair_sums) and one
transform per frame of the mid and side signals (kernels/stereo.mean_magnitudes).
"""

import math
from dataclasses import dataclass, field
from typing import Dict, Tuple, Union

import numpy as np

from ..errors import ParameterError

Value = Union[float, np.ndarray]

# Diff-MST's compute_barkspectrum defaults and its floors
DIFFMST_FFT_SIZE = 32768
DIFFMST_HOP = DIFFMST_FFT_SIZE // 4
DIFFMST_BANDS = 24
DIFFMST_FMIN, DIFFMST_FMAX = 20.0, 20000.0
DIFFMST_FLOOR = 1e-8
DIFFMST_KEYS = ("rms", "crest_factor", "stereo_width", "stereo_imbalance", "barkspectrum")
# the sample rates (Hz, both ends included) of the "diffmst" profile: the Bark bands end at
# 20 kHz, which needs a Nyquist above it
DIFFMST_SAMPLE_RATES = (44100.0, 384000.0)


@dataclass(frozen=True)
class StereoImage:
    """The stereo image of each item (`stereo_image`).

    Attributes
    ----------
    correlation : float or (B,) array
        sum(L R) / sqrt(sum(L^2) sum(R^2)), in [-1, 1]: 1 for the same signal in both
        channels, -1 for opposite polarity, 0 for unrelated ones.
    width : float or (B,) array
        Side-to-mid energy, sum((L - R)^2) / sum((L + R)^2): 0 for mono, 1 for unrelated
        channels of equal energy, larger for out-of-phase content.
    imbalance : float or (B,) array
        (E_R - E_L) / (E_R + E_L), E the channels' energies: -1 all left, 1 all right.
    reasons : dict
        (item, name) -> why that value is NaN (a silent channel or a silent mid).

    Examples
    --------
    >>> import numpy as np, fastmixloss.features as features
    >>> rng = np.random.default_rng(0)
    >>> left = rng.standard_normal(44100)
    >>> image = features.stereo_image(np.stack([left, 0.5 * left]))
    >>> round(image.correlation, 6), round(image.width, 6), round(image.imbalance, 3)
    (1.0, 0.111111, -0.6)
    """

    correlation: Value
    width: Value
    imbalance: Value
    reasons: Dict[Tuple[int, str], str] = field(default_factory=dict)

    def to_dict(self):
        return {"correlation": self.correlation, "width": self.width,
                "imbalance": self.imbalance}


def _stereo(x3, name="x"):
    if x3.shape[1] != 2:
        raise ParameterError(f"{name} has {x3.shape[1]} channel(s); the stereo image and "
                             "Diff-MST's features need 2 (left, right)")


def stereo_image(x) -> StereoImage:
    """Inter-channel correlation, stereo width and left/right imbalance.

    Parameters
    ----------
    x : array_like, (2, T) or (B, 2, T), float32 or float64
        Stereo, channels first; any finite samples.

    Returns
    -------
    StereoImage
        Floats for (2, T), (B,) arrays for (B, 2, T); NaN with a reason where a value
        divides by nothing (a silent channel for the correlation, a silent mid for the
        width, silence for the imbalance).

    Examples
    --------
    >>> import numpy as np, fastmixloss.features as features
    >>> t = np.arange(48000) / 48000
    >>> tone = np.sin(2 * np.pi * 440 * t)
    >>> features.stereo_image(np.stack([tone, -tone])).correlation
    -1.0
    """
    from .. import validation as check
    x3, ndim = check.as_signal(x, "x", check_channels=False)
    _stereo(x3)
    check.raise_if_nonfinite(x3, x3, names=("x",), can_skip=False)
    values = {"correlation": [], "width": [], "imbalance": []}
    reasons = {}
    for b, item in enumerate(x3):
        sums = _pair_totals(item)
        with np.errstate(divide="ignore", invalid="ignore"):
            item_values = {
                "correlation": sums["lr"] / math.sqrt(sums["ll"] * sums["rr"])
                if sums["ll"] > 0 and sums["rr"] > 0 else math.nan,
                "width": sums["side"] / sums["mid"] if sums["mid"] > 0 else math.nan,
                "imbalance": (sums["rr"] - sums["ll"]) / (sums["rr"] + sums["ll"])
                if sums["rr"] + sums["ll"] > 0 else math.nan}
        why = {"correlation": "a channel is silent", "width": "the mid (L + R) is silent",
               "imbalance": "both channels are silent"}
        for name, value in item_values.items():
            values[name].append(value)
            if math.isnan(value):
                reasons[(b, name)] = why[name]
    out = {name: (float(v[0]) if ndim < 3 else np.array(v)) for name, v in values.items()}
    return StereoImage(**out, reasons=reasons)


def _pair_totals(item):
    """The channel pair's sums (kernels/stereo.pair_sums), added chunk by chunk."""
    from .kernels import stereo as kernels
    chunks = kernels.pair_sums(item)
    totals = chunks[:, :kernels.PEAK_L].sum(axis=0)
    return {"ll": totals[kernels.LL], "rr": totals[kernels.RR], "lr": totals[kernels.LR],
            "mid": totals[kernels.MID], "side": totals[kernels.SIDE],
            "peak_l": chunks[:, kernels.PEAK_L].max(), "peak_r": chunks[:, kernels.PEAK_R].max(),
            "n": item.shape[1]}


def _hz_to_bark(hz):
    """Traunmuller's Bark scale with its corrections, as Diff-MST's _hz_to_bark."""
    bark = 26.81 * hz / (1960.0 + hz) - 0.53
    if bark < 2:
        bark += 0.15 * (2 - bark)
    elif bark > 20.1:
        bark += 0.22 * (bark - 20.1)
    return bark


def bark_filterbank(sample_rate, fft_size=DIFFMST_FFT_SIZE, n_bands=DIFFMST_BANDS,
                    fmin=DIFFMST_FMIN, fmax=DIFFMST_FMAX):
    """(n_bands, fft_size // 2 + 1) float64: Diff-MST's barkscale_fbanks, transposed.
    As its _bark_to_hz, only the low-end correction applies to the band edges (its
    `elif` skips the high one whenever a low edge needed the first)."""
    n_bins = fft_size // 2 + 1
    freqs = np.linspace(0.0, sample_rate // 2, n_bins)
    barks = np.linspace(_hz_to_bark(fmin), _hz_to_bark(fmax), n_bands + 2)
    if (barks < 2).any():
        barks = np.where(barks < 2, (barks - 0.3) / 0.85, barks)
    elif (barks > 20.1).any():
        barks = np.where(barks > 20.1, (barks + 4.422) / 1.22, barks)
    edges = 1960.0 * ((barks + 0.53) / (26.28 - barks))
    slopes = edges[None, :] - freqs[:, None]
    widths = np.diff(edges)
    down = -slopes[:, :-2] / widths[:-1]
    up = slopes[:, 2:] / widths[1:]
    return np.maximum(0.0, np.minimum(down, up)).T


def diffmst_features(x, sample_rate: float) -> Dict[str, np.ndarray]:
    """Diff-MST's AudioFeatureLoss features of each item of a stereo signal.

    Parameters
    ----------
    x : array_like, (2, T) or (B, 2, T), float32 or float64
        Stereo, channels first, longer than 16384 samples (half the Bark spectrum's
        32768-point frames, torch.stft's reflect padding); any finite samples.
    sample_rate : float
        Hz, within DIFFMST_SAMPLE_RATES (44.1 kHz to 384 kHz).

    Returns
    -------
    dict
        Arrays with a leading item axis (B, or 1 for (2, T) input), as Diff-MST's
        extractors return them: "rms" (B, 2), "crest_factor" (B, 2) in dB,
        "stereo_width" (B,), "stereo_imbalance" (B,), "barkspectrum" (B, 24, 2): the
        log of the mean magnitude of 24 Bark bands (20 Hz to 20 kHz) of the mid (L + R)
        and side (L - R) signals.

    Examples
    --------
    >>> import numpy as np, fastmixloss.features as features
    >>> rng = np.random.default_rng(0)
    >>> x = 0.1 * rng.standard_normal((2, 44100))
    >>> values = features.diffmst_features(x, 44100)
    >>> values["rms"].shape, values["barkspectrum"].shape
    ((1, 2), (1, 24, 2))
    """
    from .. import validation as check
    x3, _ = check.as_signal(x, "x", check_channels=False)
    rate = _diffmst_rate(sample_rate)
    _stereo(x3)
    if x3.shape[2] <= DIFFMST_FFT_SIZE // 2:
        raise ParameterError(f"x has {x3.shape[2]} samples; {_too_short()}")
    check.raise_if_nonfinite(x3, x3, names=("x",), can_skip=False)
    return _diffmst_values(x3, rate)


def _diffmst_rate(sample_rate):
    from .. import validation as check
    from .profiles import rate_in_range
    rate = check.finite_float("sample_rate", sample_rate, strictly_positive=True)
    rate_in_range(rate, *DIFFMST_SAMPLE_RATES, "the 'diffmst' profile's")
    return rate


def _too_short():
    return (f"Diff-MST's Bark spectrum (frames of {DIFFMST_FFT_SIZE}, reflect-padded by "
            f"half) needs more than {DIFFMST_FFT_SIZE // 2} samples")


def _diffmst_values(x3, rate):
    """diffmst_features of checked (B, 2, T) input; the Bark spectrum NaN where the
    signal is too short for it."""
    from .kernels.stereo import mean_magnitudes
    bank = bark_filterbank(rate)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(DIFFMST_FFT_SIZE) / DIFFMST_FFT_SIZE)
    out = {key: [] for key in DIFFMST_KEYS}
    for item in x3:
        sums = _pair_totals(item)
        n = sums["n"]
        rms = np.sqrt(np.maximum(np.array([sums["ll"], sums["rr"]]) / n, DIFFMST_FLOOR))
        peaks = np.array([sums["peak_l"], sums["peak_r"]])
        # compute_crest_factor: the rms (itself floored) floored again, then the ratio
        crest = 20 * np.log10(np.maximum(peaks / np.maximum(rms, DIFFMST_FLOOR),
                                         DIFFMST_FLOOR))
        out["rms"].append(rms)
        out["crest_factor"].append(crest)
        out["stereo_width"].append((sums["side"] / n) / max(sums["mid"] / n, DIFFMST_FLOOR))
        out["stereo_imbalance"].append((sums["rr"] - sums["ll"]) / n
                                       / max((sums["rr"] + sums["ll"]) / n, DIFFMST_FLOOR))
        if item.shape[1] <= DIFFMST_FFT_SIZE // 2:
            out["barkspectrum"].append(np.full((DIFFMST_BANDS, 2), np.nan))
            continue
        magnitudes, n_frames = mean_magnitudes(item, window, DIFFMST_HOP)
        out["barkspectrum"].append(np.log(bank @ (magnitudes / n_frames).T + DIFFMST_FLOOR))
    return {key: np.array(values) for key, values in out.items()}


@dataclass(frozen=True)
class DiffMSTComparison:
    """compare_features(..., profile="diffmst"): per Diff-MST feature, the mean squared
    error of the estimate's features against the reference's (AudioFeatureLoss's terms
    with unit weights; multiply by its weights, e.g. 0.1, 0.001, 1, 1, 0.1, for its loss).

    Attributes
    ----------
    rms, crest_factor, stereo_width, stereo_imbalance, barkspectrum : float or (B,) array
        Floats for reduction "mean" and "sum", (B,) arrays for "none".
    profile : str
        "diffmst".
    reasons : dict
        (item, key) -> why that value is NaN: only the Bark spectrum's, for signals of
        16384 samples or fewer (Diff-MST's floors keep the others finite).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = 0.1 * rng.standard_normal((2, 44100))
    >>> errors = fastmixloss.compare_features(0.5 * ref, ref, 44100, profile="diffmst")
    >>> round(errors.stereo_width, 6), errors.barkspectrum > 0
    (0.0, True)
    """

    rms: Value
    crest_factor: Value
    stereo_width: Value
    stereo_imbalance: Value
    barkspectrum: Value
    profile: str = "diffmst"
    reasons: Dict[Tuple[int, str], str] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Value]:
        """{key: value} for the five features, in AudioFeatureLoss's order."""
        return {key: getattr(self, key) for key in DIFFMST_KEYS}


def compare_diffmst(est3, ref3, sample_rate, reduction):
    """DiffMSTComparison of (B, C, T) signals of one shape (checked for stereo, rate and
    finite samples here)."""
    from .. import validation as check
    rate = _diffmst_rate(sample_rate)
    _stereo(est3, "est")
    check.raise_if_nonfinite(est3, ref3, can_skip=False)
    ours, theirs = _diffmst_values(est3, rate), _diffmst_values(ref3, rate)
    reasons = {}
    if est3.shape[2] <= DIFFMST_FFT_SIZE // 2:
        reasons = {(b, "barkspectrum"): f"{est3.shape[2]} samples: {_too_short()}"
                   for b in range(est3.shape[0])}
    per_item = {key: np.mean((ours[key] - theirs[key]).reshape(est3.shape[0], -1) ** 2,
                             axis=1) for key in DIFFMST_KEYS}
    if reduction == "mean":
        values = {key: float(v.mean()) for key, v in per_item.items()}
    elif reduction == "sum":
        values = {key: float(v.sum()) for key, v in per_item.items()}
    else:
        values = per_item
    return DiffMSTComparison(**values, reasons=reasons)
