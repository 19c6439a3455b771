"""Mix-feature metrics: loudness, spectral shape, stereo panning and dynamics.

Two entry points:
- `feature_tracks(x, sample_rate)`: the per-frame features of a mix (B, C, T);
- `compare_features(est, ref, sample_rate)`: the percentage errors of an estimated mix's
  features against the reference's, with the keys of automix-toolkit's `get_features`.
Profiles: "default" (the toolkit's features with its failures fixed), "automix-toolkit"
(its numbers exactly), "fxnorm" (FxNorm-automix's evaluation choices). CPU only.
Each profile takes the sample rates of SAMPLE_RATE_RANGES (8 kHz to 384 kHz),
`integrated_loudness` those of LOUDNESS_SAMPLE_RATES; other rates raise ParameterError.
"""

from typing import List, Optional

import numpy as np
from numpy.typing import ArrayLike

from .. import validation as check
from ..errors import DeviceError, ParameterError
from ..kernels.workers import run_items, thread_count
from .bs1770 import LOUDNESS_SAMPLE_RATES, channel_count_ok, integrated_loudness
from .compare import KEYS, FeatureComparison, compare_item
from .r128 import (CONVENTIONS as LOUDNESS_CONVENTIONS, LoudnessComparison, LoudnessStats,
                   compare_loudness, loudness_stats)
from .stereo import (DIFFMST_SAMPLE_RATES, DiffMSTComparison, StereoImage,
                     compare_diffmst, diffmst_features, stereo_image)
from .profiles import DEFINED_NORMALISATION, PROFILES, SAMPLE_RATE_RANGES, resolve
from .tracks import ItemTracks, item_tracks, normalised


# Diff-MST's features: a profile of compare_features with its own result
# (features/stereo.py), outside PROFILES, whose feature tracks it does not have
DIFFMST_PROFILE = "diffmst"


def _device(device):
    if device not in (None, "cpu"):
        if device == "cuda":
            raise DeviceError("the mix-feature metrics run on the CPU only: there is no "
                              "CUDA version yet; pass device='cpu' (or leave it out)")
        raise ParameterError(f"device={device!r} is not one of None, 'cpu', 'cuda'")


def _rate(sample_rate):
    return check.finite_float("sample_rate", sample_rate, strictly_positive=True)


@check.keywords_checked("fastmixloss.compare_features")
def compare_features(est: ArrayLike, ref: ArrayLike, sample_rate: float, *,
                     profile: str = "default", reduction: str = "mean",
                     device: Optional[str] = None) -> FeatureComparison:
    """Feature errors of an estimated mix against a reference mix.

    Per item, as automix-toolkit's ``get_features`` (the profiles say where they
    differ): the reference's leading and trailing silence trimmed (the estimate cut at
    the same samples), loudness, spectral, panning and dynamics tracks, their running
    means, and the mean absolute percentage error (a fraction: 0.1 is 10 %) of the
    estimate's running means against the reference's. Spectral, panning and dynamics
    tracks are taken after peak normalisation, so a change of level shows in the
    loudness errors only.

    Parameters
    ----------
    est, ref : array_like, one shape, (T,), (C, T) or (B, C, T), float32 or float64
        Estimate first, reference second (automix-toolkit's get_features takes the
        reference first). Channels first; C <= 5; panning needs C = 2 (C = 1 counts as
        centred in the default profile). Any finite samples, denormal to float64's
        largest.
    sample_rate : float
        Hz, within the profile's SAMPLE_RATE_RANGES (every profile: 8 kHz to 384 kHz,
        both included); others raise ParameterError before anything is computed.
    profile : {"default", "automix-toolkit", "fxnorm", "diffmst"}, default "default"
        "default": the toolkit's features with its failures fixed (every value
        defined); "automix-toolkit": its numbers exactly, NaN where it raises;
        "fxnorm": FxNorm-automix's evaluation choices; "diffmst": Diff-MST's
        AudioFeatureLoss features instead (a DiffMSTComparison: stereo input, rates in
        DIFFMST_SAMPLE_RATES, see fastmixloss.features.diffmst_features).
    reduction : {"mean", "sum", "none"}, default "mean"
        Over the B items.
    device : None or "cpu", default None
        "cuda" raises DeviceError: no GPU version exists yet.

    Returns
    -------
    FeatureComparison or DiffMSTComparison
        The 18 errors of automix-toolkit's keys (the "diffmst" profile: its five terms): floats for reduction "mean" and
        "sum", (B,) arrays for "none"; ``reasons`` says why a value is NaN.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 16000))      # 1 s of stereo noise at 16 kHz
    >>> errors = fastmixloss.compare_features(0.5 * ref, ref, 16000)
    >>> round(errors.mean_mape_spectral, 6), round(errors.mean_mape_dynamic, 6)
    (0.0, 0.0)
    >>> bool(errors.mean_mape_loudness > 0)        # 6 dB quieter
    True
    >>> batch = np.stack([ref, 0.5 * ref])
    >>> fastmixloss.compare_features(batch, batch, 16000, reduction="none").centroid.shape
    (2,)
    """
    _device(device)
    rate = _rate(sample_rate)
    if profile == DIFFMST_PROFILE:
        reduction = check.choice("reduction", reduction, check.REDUCTIONS)
        est3, ref3, _ = check.as_signal_pair(est, ref)
        return compare_diffmst(est3, ref3, rate, reduction)
    settings = resolve(profile, rate)
    reduction = check.choice("reduction", reduction, check.REDUCTIONS)
    est3, ref3, _ = check.as_signal_pair(est, ref)
    channel_count_ok(np.shape(est), "est")
    check.raise_if_nonfinite(est3, ref3, can_skip=False)
    per_item = np.full((est3.shape[0], len(KEYS)), np.nan)
    reasons = {}
    # each item is computed alone (a value never depends on the batch), several in
    # flight so that one's NumPy steps overlap another's kernels; an item with threads
    # to spare (a lone pair) runs its two signals side by side instead
    threads = thread_count()
    n_items = est3.shape[0]
    item_threads = threads if 2 * n_items <= threads else 1
    results = run_items(lambda b: compare_item(est3[b], ref3[b], settings, item_threads),
                        n_items, threads)
    for b, (values, why) in enumerate(results):
        per_item[b] = [values[k] for k in KEYS]
        reasons.update({(b, key): text for key, text in why.items()})
    if reduction == "mean":
        reduced = [float(v) for v in per_item.mean(axis=0)]
    elif reduction == "sum":
        reduced = [float(v) for v in per_item.sum(axis=0)]
    else:
        reduced = list(per_item.T.copy())
    return FeatureComparison(**dict(zip(KEYS, reduced)), profile=profile, reasons=reasons)


@check.keywords_checked("fastmixloss.feature_tracks")
def feature_tracks(x: ArrayLike, sample_rate: float, *, profile: str = "default",
                   device: Optional[str] = None) -> List[ItemTracks]:
    """The per-frame features of each item of a mix.

    The signal is taken as it is (no trimming); spectral, panning and dynamics tracks are
    computed after the profile's peak normalisation (-1 dBFS; a silent item is left as
    it is), loudness before.

    Parameters
    ----------
    x : array_like, (T,), (C, T) or (B, C, T), float32 or float64
        Channels first; C <= 5. At least one loudness frame and one FFT frame of the
        profile long (0.4 s in the default profile); any finite samples.
    sample_rate : float
        Hz, within the profile's SAMPLE_RATE_RANGES (8 kHz to 384 kHz, both included).
    profile : {"default", "automix-toolkit", "fxnorm"}, default "default"
        Whose frame sizes and floors (see compare_features).
    device : None or "cpu", default None
        "cuda" raises DeviceError: no GPU version exists yet.

    Returns
    -------
    list of ItemTracks
        One per item (B of them; one for (T,) and (C, T) input). See
        fastmixloss.features.ItemTracks for the fields and their shapes. A track that
        does not exist at this rate is NaN, and the item's ``reasons`` maps its field
        name to why (the toolkit profiles' 17640-sample loudness frames are shorter
        than a 0.4-s gating block above 44.1 kHz: ``lufs``).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> x = rng.standard_normal((2, 16000))        # 1 s of stereo noise at 16 kHz
    >>> tracks, = fastmixloss.feature_tracks(x, 16000)
    >>> tracks.lufs.shape, tracks.centroid.shape   # loudness frames; (C, STFT frames)
    ((4,), (2, 28))
    >>> tracks.reasons
    {}
    """
    _device(device)
    settings = resolve(profile, _rate(sample_rate))
    x3, ndim = check.as_signal(x, "x", check_channels=False)
    channel_count_ok(x3.shape[3 - ndim:])
    check.raise_if_nonfinite(x3, x3, names=("x",), can_skip=False)
    needed = max(settings.loudness_frame, settings.fft_size, settings.panning_fft_size)
    if x3.shape[2] < needed:
        raise ParameterError(
            f"x has {x3.shape[2]} samples; the {profile!r} profile's frames need at least "
            f"{needed} at {rate_text(settings.sample_rate)}")
    # -inf dB tracks of silence are values here, not warnings
    with np.errstate(all="ignore"):
        return [_item_tracks(item, settings) for item in x3]


def _item_tracks(item, settings):
    from .kernels.frame_features import max_abs
    peak = max_abs(item)
    # silence is left as it is and any level normalised, whatever the profile
    return item_tracks(item, settings, normalised(item, DEFINED_NORMALISATION, peak),
                       peak=peak)


def rate_text(rate):
    return f"{rate:g} Hz"


__all__ = ["compare_features", "feature_tracks", "integrated_loudness", "FeatureComparison",
           "ItemTracks", "PROFILES", "SAMPLE_RATE_RANGES", "LOUDNESS_SAMPLE_RATES",
           "loudness_stats", "LoudnessStats", "LOUDNESS_CONVENTIONS", "stereo_image",
           "compare_loudness", "LoudnessComparison",
           "StereoImage", "diffmst_features", "DiffMSTComparison", "DIFFMST_PROFILE",
           "DIFFMST_SAMPLE_RATES"]
