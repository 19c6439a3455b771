"""Comparison of an estimated mix with a reference through their feature tracks.

Per item, as automix-toolkit's `get_features` (commit e4a6ecf): trim the reference's
leading and trailing silence and cut the estimate at the same samples; loudness tracks of
both; peak-normalise each to -1 dBFS; spectral, panning and dynamics tracks; running
means over 40 frames; and the mean absolute percentage error (MAPE, scikit-learn's: a
fraction, |ref| floored at float64's eps) of the estimate's running means against the
reference's. Where the toolkit raises, the toolkit profile gives NaN and says why; the
default profile gives a defined number instead (see profiles.py and the README).
"""

from dataclasses import dataclass, field, fields
from typing import Dict, Tuple

import numpy as np

from ..kernels.workers import side_by_side
from ..results import Value
from . import bs1770
from .tracks import frames_shorter_than_block, item_tracks, loudness_tracks, normalised

# the groups of automix-toolkit's keys; each group's keys end with its mean
LOUDNESS = {"group": "loudness"}
SPECTRAL = {"group": "spectral"}
PANNING = {"group": "panning"}
DYNAMIC = {"group": "dynamic"}


@dataclass(frozen=True)
class FeatureComparison:
    """Feature errors of an estimated mix against a reference (`compare_features`).

    One value per key of automix-toolkit's `get_features`, in its order: a float for
    reduction "mean"/"sum", a (B,) array for "none". Each value is a MAPE (a fraction:
    0.1 is 10 %) of the estimate's running means against the reference's; mean_mape_*
    are the group means.

    Attributes
    ----------
    lufs_loudness, peak_loudness, mean_mape_loudness : float or (B,) array
        Loudness: frame (or integrated) loudness and sample peak.
    centroid, bandwidth, contrast, rolloff, flatness, mean_mape_spectral : float or array
        Spectral shape.
    panning_rms_total, panning_rms_lows, panning_rms_mids, panning_rms_highs,
    mean_mape_panning : float or array
        Stereo panning spectrum, over all bins and below 250 Hz, 250-2500 Hz, above.
    rms_level, dynamic_spread, crest_factor, mean_mape_dynamic : float or array
        Dynamics.
    profile : str
        The profile the values were computed with.
    reasons : dict
        (item, key) -> why that value is NaN (the profile leaves it undefined where
        automix-toolkit raises).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 16000))      # 1 s of stereo noise at 16 kHz
    >>> errors = fastmixloss.compare_features(ref, ref, 16000)
    >>> errors.profile, len(errors.to_dict()), round(errors.mean_mape_panning, 6)
    ('default', 18, 0.0)
    >>> list(errors.to_dict())[:3]
    ['lufs_loudness', 'peak_loudness', 'mean_mape_loudness']
    >>> errors.reasons
    {}
    """

    lufs_loudness: Value = field(metadata=LOUDNESS)
    peak_loudness: Value = field(metadata=LOUDNESS)
    mean_mape_loudness: Value = field(metadata=LOUDNESS)
    centroid: Value = field(metadata=SPECTRAL)
    bandwidth: Value = field(metadata=SPECTRAL)
    contrast: Value = field(metadata=SPECTRAL)
    rolloff: Value = field(metadata=SPECTRAL)
    flatness: Value = field(metadata=SPECTRAL)
    mean_mape_spectral: Value = field(metadata=SPECTRAL)
    panning_rms_total: Value = field(metadata=PANNING)
    panning_rms_lows: Value = field(metadata=PANNING)
    panning_rms_mids: Value = field(metadata=PANNING)
    panning_rms_highs: Value = field(metadata=PANNING)
    mean_mape_panning: Value = field(metadata=PANNING)
    rms_level: Value = field(metadata=DYNAMIC)
    dynamic_spread: Value = field(metadata=DYNAMIC)
    crest_factor: Value = field(metadata=DYNAMIC)
    mean_mape_dynamic: Value = field(metadata=DYNAMIC)
    profile: str = "default"
    reasons: Dict[Tuple[int, str], str] = field(default_factory=dict)

    def to_dict(self) -> Dict[str, Value]:
        """{key: value} for the 18 feature keys, in automix-toolkit's order."""
        return {key: getattr(self, key) for key in KEYS}


# the keys, in the toolkit's order, and by group
_KEY_FIELDS = [f for f in fields(FeatureComparison) if "group" in f.metadata]
KEYS = tuple(f.name for f in _KEY_FIELDS)
GROUPS = {group: tuple(f.name for f in _KEY_FIELDS if f.metadata["group"] == group)
          for group in dict.fromkeys(f.metadata["group"] for f in _KEY_FIELDS)}
LOUDNESS_KEYS, SPECTRAL_KEYS, PANNING_KEYS, DYNAMIC_KEYS = GROUPS.values()


class Undefined(Exception):
    """A group's value does not exist (the toolkit raises here); the message says why."""


def running_mean(values, n):
    """Means of every n consecutive values along the last axis (each row of a stack alone),
    by the toolkit's cumulative-sum difference."""
    values = np.asarray(values, np.float64)
    start = np.zeros(values.shape[:-1] + (1,))
    cumulative = np.cumsum(np.concatenate((start, values), axis=-1), axis=-1)
    return (cumulative[..., n:] - cumulative[..., :-n]) / float(n)


def mapes(reference, estimate, floor):
    """mean(|estimate - reference| / max(|reference|, floor)) along the last axis (a float
    for 1-d input, an array per row of a stack); Undefined where scikit-learn raises
    (empty or non-finite input)."""
    # C order: each row then sums pairwise on its own, as a 1-d array does (NumPy sums
    # a strided last axis in another order)
    reference = np.ascontiguousarray(reference, np.float64)
    estimate = np.ascontiguousarray(estimate, np.float64)
    if reference.shape[-1] == 0:
        raise Undefined("fewer frames than the running mean's length")
    if not (np.all(np.isfinite(reference)) and np.all(np.isfinite(estimate))):
        raise Undefined("a running mean is NaN or infinite (silence gives -inf dB, and a "
                        "silent or denormal-level signal cannot be peak-normalised)")
    return np.mean(np.abs(estimate - reference) / np.maximum(np.abs(reference), floor),
                   axis=-1)


def mape(reference, estimate, floor):
    """`mapes` of two 1-d arrays, a float."""
    return float(mapes(reference, estimate, floor))


def _window(n_frames, settings):
    """The running-mean length: running_n frames, or all there are where the profile
    takes fewer."""
    if n_frames < 1:
        raise Undefined("the signal is shorter than one frame")
    if n_frames < settings.fewest_running_frames:
        raise Undefined(f"{n_frames} frames, fewer than the running mean's "
                        f"{settings.running_n}")
    return min(settings.running_n, n_frames)


def trim_bounds(ref, settings):
    """[start, stop) of the reference without its leading and trailing silence, as
    librosa.effects.trim(top_db, frame, hop): centred frames, zero-padded; a frame is
    silent when its RMS in dB, the loudest channel's, relative to the loudest RMS of all
    channels and frames (both floored at 1e-5), is at most -top_db."""
    from .kernels.frame_features import centred_mean_squares, max_abs
    frame, hop = settings.trim_frame, settings.trim_hop
    length = ref.shape[1]
    n_frames = 1 + length // hop
    mean_squares = centred_mean_squares(ref, frame, hop, n_frames)
    floor = 1e-10
    if not np.isfinite(mean_squares.max()):
        # squares overflowed (samples beyond ~1e154): the same frames of a copy scaled by
        # a power of two (exact), with the floor scaled alike
        scale, _ = bs1770.measuring_scale(max_abs(ref))
        mean_squares = centred_mean_squares(ref * scale, frame, hop, n_frames)
        floor = 1e-10 * scale * scale   # may underflow to 0: -inf dB, silent either way
    with np.errstate(divide="ignore"):
        db = 10.0 * np.log10(np.maximum(floor, mean_squares))
        db -= 10.0 * np.log10(np.maximum(floor, mean_squares.max()))
    loud = np.flatnonzero(db.max(axis=0) > -settings.trim_top_db)
    if loud.size == 0:
        return 0, 0
    return int(loud[0] * hop), int(min(length, (loud[-1] + 1) * hop))


def _loudness_undefined(ref, settings):
    """Why the loudness group has no value for signals as long as ref, or None."""
    if settings.loudness == "integrated":
        if ref.shape[1] < settings.loudness_block_s * settings.sample_rate:
            return "shorter than one 0.4-s loudness block"
        return None
    why = frames_shorter_than_block(settings)
    if why is None and ref.shape[1] < settings.loudness_frame:
        why = "the signal is shorter than one loudness frame"
    return why


def _loudness_measures(x, settings, peak):
    """One signal's share of the loudness group (peak: its largest |sample|): its
    integrated loudness and peak in dB, or its loudness and peak tracks."""
    if settings.loudness == "integrated":
        lufs = bs1770.loudness_of_items(x[None], settings.sample_rate,
                                        settings.loudness_block_s, [peak])
        return [float(lufs[0])], [20.0 * np.log10(peak)]
    return loudness_tracks(x, settings, peak)


def _loudness(measures_e, measures_r, settings):
    """The loudness group from each signal's `_loudness_measures`."""
    floor = settings.mape_floor_db
    (lufs_e, peak_e), (lufs_r, peak_r) = measures_e, measures_r
    if settings.loudness == "integrated":
        lufs_value = mape(lufs_r, lufs_e, floor)
        peak_value = mape(peak_r, peak_e, floor)
    else:
        n = lufs_r.shape[0]
        eps = settings.loudness_eps
        if n > settings.running_n:
            mean = lambda v: running_mean(v + eps, settings.running_n)  # noqa: E731
        else:   # the toolkit's fallback: one mean over all frames
            mean = lambda v: np.array([np.mean(v + eps)])  # noqa: E731
        lufs_value = mape(mean(lufs_r), mean(lufs_e), floor)
        peak_value = mape(mean(peak_r), mean(peak_e), floor)
    return {"lufs_loudness": lufs_value, "peak_loudness": peak_value,
            "mean_mape_loudness": float(np.mean([peak_value, lufs_value]))}


def _spectral_means(tracks, settings):
    """One signal's share of the spectral group: the running means of its shape tracks
    (4, C, F') and of its contrast bands (3, C, F')."""
    n = _window(tracks.centroid.shape[1], settings)
    eps = settings.spectral_eps
    # flatness in dB, projected to 1 - dB so that it stays away from 0
    shape = np.stack([tracks.centroid + eps, tracks.bandwidth + eps,
                      tracks.rolloff + eps, 1.0 - tracks.flatness_db])   # (4, C, F)
    contrast = running_mean(tracks.contrast, n)                        # (C, K + 1, F')
    bands = np.stack([contrast[:, 0], np.mean(contrast[:, 1:4], axis=1),
                      contrast[:, -1]])                                  # (3, C, F')
    return running_mean(shape, n), bands


def _spectral(means_e, means_r, settings):
    """The spectral group from each signal's `_spectral_means`."""
    (shape_e, bands_e), (shape_r, bands_r) = means_e, means_r
    floor = settings.mape_floor_db
    # each a mean over channels of the channels' errors
    centroid, bandwidth, rolloff, flatness = np.mean(mapes(shape_r, shape_e, floor), axis=1)
    contrast = float(np.mean(np.mean(mapes(bands_r, bands_e, floor), axis=1)))
    out = {"centroid": float(centroid), "bandwidth": float(bandwidth),
           "contrast": contrast, "rolloff": float(rolloff), "flatness": float(flatness)}
    out["mean_mape_spectral"] = float(np.mean([out[k] for k in SPECTRAL_KEYS[:-1]]))
    return out


def _panning(tracks_e, tracks_r, n_channels, settings):
    if n_channels not in settings.panning_channels:
        raise Undefined(f"the panning spectrum needs 2 channels, not {n_channels}")
    p_r, p_e = tracks_r.panning_rms, tracks_e.panning_rms
    if settings.drops_centred_frames and np.min(p_r) == 0.0:
        # the toolkit drops the frames where the reference's total panning RMS is 0
        keep = p_r[0] != 0
        if not keep.any():
            raise Undefined("the reference's panning is 0 in every frame (mono): the "
                            "toolkit drops them all")
        p_r, p_e = p_r[:, keep], p_e[:, keep]
    n = _window(p_r.shape[1], settings)
    values = [float(v) for v in mapes(running_mean(p_r, n), running_mean(p_e, n),
                                      settings.mape_floor_panning)]
    out = dict(zip(PANNING_KEYS[:-1], values))
    out["mean_mape_panning"] = float(np.mean(values))
    return out


def _dynamic_means(tracks, settings):
    """One signal's share of the dynamics group: the running means (3, F') of its
    levels, spreads and crest factors, each a mean over channels (1 - dB keeps the levels
    away from 0)."""
    n = _window(tracks.rms_db.shape[1], settings)
    return running_mean(np.stack([1.0 - np.mean(tracks.rms_db, axis=0),
                                  1.0 - np.mean(tracks.dynamic_spread, axis=0),
                                  np.mean(tracks.crest_factor, axis=0)]), n)


def _dynamic(means_e, means_r, settings):
    """The dynamics group from each signal's `_dynamic_means`."""
    floors = np.array([[settings.mape_floor_db], [settings.mape_floor_db],
                       [settings.mape_floor_crest]])
    values = mapes(means_r, means_e, floors)
    out = dict(zip(DYNAMIC_KEYS[:-1], (float(v) for v in values)))
    out["mean_mape_dynamic"] = float(np.mean([out[k] for k in DYNAMIC_KEYS[:-1]]))
    return out


def _share(function, tracks, settings):
    """function(tracks, settings), or the Undefined it raises (the group then has no
    value; raised again where the two signals' shares meet)."""
    try:
        return function(tracks, settings)
    except Undefined as why:
        return why


def _both(errors, share_e, share_r, settings):
    """errors(share_e, share_r, settings), or the Undefined of a share that has no
    value."""
    for share in (share_e, share_r):
        if isinstance(share, Undefined):
            raise share
    return errors(share_e, share_r, settings)


def _zero_pad(x, length):
    if x.shape[1] >= length:
        return x
    padded = np.zeros((x.shape[0], length), x.dtype)
    padded[:, :x.shape[1]] = x
    return padded


def compare_item(est, ref, settings, n_threads=1):
    """(values, reasons) for one item: est, ref (C, T) arrays of one dtype. values maps
    every key to a float (NaN where undefined); reasons maps a NaN's key to why.
    n_threads: from 2 on, the two signals are computed side by side
    (kernels.workers.side_by_side), sharing the threads; the values do not depend on it."""
    # NumPy's warnings stay here: every NaN or infinity on the way (-inf dB of silence, the
    # toolkit's NaN gain) ends in `mapes`, which makes it an undefined value with a reason
    with np.errstate(all="ignore"):
        return _compare_item(est, ref, settings, n_threads)


def _compare_item(est, ref, settings, n_threads):
    from .kernels.frame_features import max_abs
    values = dict.fromkeys(KEYS, np.nan)
    reasons = {}
    if settings.trim:
        start, stop = trim_bounds(ref, settings)
        # one contiguous copy of a cut signal, not one per kernel call
        est = np.ascontiguousarray(est[:, start:stop])
        ref = np.ascontiguousarray(ref[:, start:stop])
    est, ref = _zero_pad(est, settings.zero_pad_to), _zero_pad(ref, settings.zero_pad_to)

    def group(name, compute):
        try:
            values.update(compute())
        except Undefined as why:
            for key in GROUPS[name]:
                reasons[key] = str(why)

    loudness_why = _loudness_undefined(ref, settings)
    spectral = ref.shape[1] >= max(settings.fft_size, settings.panning_fft_size)

    def measure(x):
        """Everything one signal gives: (loudness measures, tracks, running means of
        the spectral and dynamics groups), None where the group has no value."""
        with np.errstate(all="ignore"):   # NumPy's state is per thread
            peak = max_abs(x)
            loudness = None if loudness_why else _loudness_measures(x, settings, peak)
            if not spectral:
                return loudness, None, None
            tracks = item_tracks(x, settings,
                                 normalised(x, settings.peak_normalisation, peak),
                                 loudness=False)
            return loudness, tracks, {"spectral": _share(_spectral_means, tracks, settings),
                                      "dynamic": _share(_dynamic_means, tracks, settings)}

    # the two signals are independent until their errors: side by side when the item has
    # the threads, so that one's NumPy steps overlap the other's kernels
    (loudness_r, tracks_r, means_r), (loudness_e, tracks_e, means_e) = side_by_side(
        lambda: measure(ref), lambda: measure(est), n_threads)
    if loudness_why:
        for key in GROUPS["loudness"]:
            reasons[key] = loudness_why
    else:
        group("loudness", lambda: _loudness(loudness_e, loudness_r, settings))
    if not spectral:
        for name in ("spectral", "panning", "dynamic"):
            for key in GROUPS[name]:
                reasons[key] = "the signal is shorter than one STFT frame"
        return values, reasons
    for name, errors in (("spectral", _spectral), ("dynamic", _dynamic)):
        group(name, lambda: _both(errors, means_e[name], means_r[name], settings))
    group("panning", lambda: _panning(tracks_e, tracks_r, ref.shape[0], settings))
    return values, reasons
