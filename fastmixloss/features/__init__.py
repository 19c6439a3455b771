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

import numpy as np

from .. import validation as check
from ..errors import DeviceError, ParameterError
from ..kernels.workers import run_items, thread_count
from .bs1770 import LOUDNESS_SAMPLE_RATES, channel_count_ok, integrated_loudness
from .compare import KEYS, FeatureComparison, compare_item
from .profiles import DEFINED_NORMALISATION, PROFILES, SAMPLE_RATE_RANGES, resolve
from .tracks import ItemTracks, item_tracks, normalised


def _device(device):
    if device not in (None, "cpu"):
        if device == "cuda":
            raise DeviceError("the mix-feature metrics run on the CPU only: there is no "
                              "CUDA version yet; pass device='cpu' (or leave it out)")
        raise ParameterError(f"device={device!r} is not one of None, 'cpu', 'cuda'")


def _rate(sample_rate):
    return check.finite_float("sample_rate", sample_rate, strictly_positive=True)


@check.keywords_checked("fastmixloss.compare_features")
def compare_features(est, ref, sample_rate, *, profile="default", reduction="mean",
                     device=None):
    """Feature errors of an estimated mix against a reference mix.

    Parameters
    ----------
    est, ref : arrays of one shape, (T,), (C, T) or (B, C, T), float32 or float64
        Estimate first, reference second (automix-toolkit's get_features takes the
        reference first). Channels first; C <= 5; panning needs C = 2 (C = 1 counts as
        centred in the default profile). Any finite samples, denormal to float64's
        largest.
    sample_rate : float
        Hz, within the profile's SAMPLE_RATE_RANGES (every profile: 8 kHz to 384 kHz,
        both included); others raise ParameterError before anything is computed.
    profile : {"default", "automix-toolkit", "fxnorm"}
    reduction : {"mean", "sum", "none"}
        Over the B items.
    device : None or "cpu"
        "cuda" raises DeviceError: no GPU version exists yet.

    Returns
    -------
    FeatureComparison
    """
    _device(device)
    rate = _rate(sample_rate)
    settings = resolve(profile, rate)
    reduction = check.choice("reduction", reduction, check.REDUCTIONS)
    est3, ref3, _ = check.as_signal_pair(est, ref)
    channel_count_ok(np.shape(est), "est")
    check.raise_if_nonfinite(est3, ref3, can_skip=False)
    per_item = np.full((est3.shape[0], len(KEYS)), np.nan)
    reasons = {}
    # each item is computed alone (a value never depends on the batch), several in
    # flight so that one's NumPy steps overlap another's kernels
    results = run_items(lambda b: compare_item(est3[b], ref3[b], settings), est3.shape[0],
                        thread_count())
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
def feature_tracks(x, sample_rate, *, profile="default", device=None):
    """The per-frame features of each item of a mix.

    The signal is taken as it is (no trimming); spectral, panning and dynamics tracks are
    computed after the profile's peak normalisation (-1 dBFS; a silent item is left as
    it is), loudness before.

    Parameters
    ----------
    x : array, (T,), (C, T) or (B, C, T), float32 or float64
    sample_rate : float
        Hz, within the profile's SAMPLE_RATE_RANGES (8 kHz to 384 kHz, both included).
    profile : {"default", "automix-toolkit", "fxnorm"}

    Returns
    -------
    list of B `ItemTracks` (see fastmixloss.features.tracks.ItemTracks for the fields and
    their shapes). A track that does not exist at this rate is NaN, and the item's
    `reasons` maps its field name to why (the toolkit profiles' 17640-sample loudness
    frames are shorter than a 0.4-s gating block above 44.1 kHz: `lufs`).
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
           "ItemTracks", "PROFILES", "SAMPLE_RATE_RANGES", "LOUDNESS_SAMPLE_RATES"]
