"""The three feature profiles as plain numbers: every constant in one place.

- "automix-toolkit": csteinmetz1/automix-toolkit at commit e4a6ecf, `get_features`, with
  its 44.1 kHz sample counts whatever the rate, and its failures reported as NaN.
- "fxnorm": sony/FxNorm-automix's evaluation where it differs: no trimming, whole-song
  integrated loudness and whole-song peak, panning at fft 2048 / hop 1024.
- "default": the toolkit's features with its failures fixed: each field of `Settings`
  that differs between the profiles says how.
"""

import math
from dataclasses import dataclass
from typing import Tuple

import numpy as np

from ..errors import ParameterError

PROFILES = ("default", "automix-toolkit", "fxnorm")

# The sample rates (Hz, both ends included) at which each profile's definition holds.
# From 8 kHz every band the features name lies below Nyquist: panning's 2500 Hz edge
# (its highest band, 2500 Hz to Nyquist, keeps bins) and contrast's top octave, 2-4 kHz.
# Up to 384 kHz, the highest rate common audio interfaces record at: the default
# profile's FFT grows with the rate (32768 points there), the toolkit profiles' fixed
# 4096- and 2048-point frames still give panning's 0-250 Hz band a bin.
SAMPLE_RATE_RANGES = {
    "default": (8000.0, 384000.0),
    "automix-toolkit": (8000.0, 384000.0),
    "fxnorm": (8000.0, 384000.0),
}

# the toolkit's constants (44.1 kHz sample counts)
TOOLKIT_LOUDNESS_FRAME = 17640   # 0.4 s at 44.1 kHz
TOOLKIT_LOUDNESS_HOP = 8820      # 0.2 s
TOOLKIT_FFT_SIZE = 4096
TOOLKIT_FFT_HOP = 1024
REFERENCE_RATE = 44100
# scikit-learn's floor of |reference| in a percentage error: float64's eps
SKLEARN_EPS = float(np.finfo(np.float64).eps)


@dataclass(frozen=True)
class PeakNormalisation:
    """How a signal is brought to a peak level before its spectral, panning and dynamics
    tracks (pyloudnorm's normalize.peak)."""

    target_db: float                  # the largest |sample| afterwards, dBFS
    silent_gain: float                # a silent signal's gain: 1 (left as it is) or NaN
    # Peaks normalised by their gain directly. Outside, the gain would be denormal or
    # overflow, and the signal is first scaled by a power of two (exact); (0, inf): never
    # (the toolkit's gain overflows for denormal samples).
    direct_peaks: Tuple[float, float]


# the default profile's, and feature_tracks' in every profile: any level, silence kept
DEFINED_NORMALISATION = PeakNormalisation(-1.0, 1.0, (2.0 ** -1000, 2.0 ** 1000))
# the toolkit divides silence by zero (NaN tracks) and lets denormal peaks overflow
TOOLKIT_NORMALISATION = PeakNormalisation(-1.0, math.nan, (0.0, math.inf))


@dataclass(frozen=True)
class Settings:
    """A profile resolved at one sample rate. Sample counts are integers."""

    profile: str
    sample_rate: float
    trim: bool                     # trim leading and trailing silence of the reference
    trim_top_db: float
    trim_frame: int
    trim_hop: int
    loudness: str                  # "frames" (running) or "integrated" (whole song)
    loudness_frame: int
    loudness_hop: int
    loudness_block_s: float        # pyloudnorm's gating block (s) and its overlap
    loudness_overlap: float
    # loudness frames shorter than this have no loudness (NaN, with the reason)
    shortest_loudness_frame: int
    fft_size: int
    fft_hop: int
    panning_fft_size: int
    panning_hop: int
    running_n: int                 # running-mean length (frames)
    fewest_running_frames: int     # fewer frames: no value; between it and running_n, a
                                   # running mean over all of them
    zero_pad_to: int               # shorter signals are compared zero-padded to this
    peak_normalisation: PeakNormalisation
    loudness_eps: float            # added before the running means
    spectral_eps: float            # added to centroid, bandwidth and rolloff (Hz)
    contrast_fmin: float
    contrast_bands: int
    contrast_quantile: float
    contrast_top_db: float
    rolloff_percent: float
    flatness_amin: float
    silence_floor_db: float        # loudness and peak floor (-inf: none)
    non_stereo_panning: float      # the panning tracks of a signal that is not stereo
    panning_channels: Tuple[int, ...]  # channel counts whose panning errors exist
    drops_centred_frames: bool     # panning errors leave out the frames whose
                                   # reference's total panning RMS is 0
    # smallest |reference| a percentage error divides by, per group
    mape_floor_db: float
    mape_floor_panning: float
    mape_floor_crest: float


def _power_of_two_near(value):
    return 1 << max(4, int(round(math.log2(value))))


def rate_in_range(sample_rate, low, high, what):
    """ParameterError unless low <= sample_rate <= high (Hz); `what` names whose range."""
    if not low <= sample_rate <= high:
        raise ParameterError(
            f"sample_rate={sample_rate!r} is outside {what} range, {low:g} to {high:g} Hz: "
            "resample the signals into it")


def resolve(profile, sample_rate):
    """Settings of `profile` at `sample_rate` (Hz). ParameterError for unknown names and
    for rates outside the profile's SAMPLE_RATE_RANGES."""
    if not isinstance(profile, str) or profile not in PROFILES:
        raise ParameterError(
            f"profile={profile!r} is not one of {', '.join(map(repr, PROFILES))}")
    rate_in_range(sample_rate, *SAMPLE_RATE_RANGES[profile], f"the {profile!r} profile's")
    common = dict(
        profile=profile, sample_rate=float(sample_rate), trim_top_db=45.0,
        loudness_block_s=0.4, loudness_overlap=0.75, running_n=40, loudness_eps=1e-10,
        spectral_eps=1.0, contrast_fmin=250.0, contrast_bands=4, contrast_quantile=0.02,
        contrast_top_db=80.0, rolloff_percent=0.85, flatness_amin=1e-10)
    if profile == "default":
        # sample counts from the rate: 0.4 s / 0.2 s loudness frames, an FFT of about
        # 93 ms (4096 at 44.1 and 48 kHz, 2048 at 22.05 kHz), hop a quarter of it
        fft = _power_of_two_near(TOOLKIT_FFT_SIZE * sample_rate / REFERENCE_RATE)
        loudness_frame = int(round(0.4 * sample_rate))
        # the fixes: frames of 0.4 s rounded to a sample (a block is measured as the frame
        # cuts it), running means over the frames there are, short signals zero-padded to
        # one frame of each kind, any level normalised, silence at -70 dB, a mono signal
        # centred, and floors on |reference| that keep a percentage error finite
        return Settings(trim=True, trim_frame=fft, trim_hop=fft // 4, loudness="frames",
                        loudness_frame=loudness_frame,
                        loudness_hop=int(round(0.2 * sample_rate)),
                        shortest_loudness_frame=loudness_frame,
                        fft_size=fft, fft_hop=fft // 4, panning_fft_size=fft,
                        panning_hop=fft // 4, fewest_running_frames=1,
                        zero_pad_to=max(loudness_frame, fft),
                        peak_normalisation=DEFINED_NORMALISATION, silence_floor_db=-70.0,
                        non_stereo_panning=0.0, panning_channels=(1, 2),
                        drops_centred_frames=False, mape_floor_db=1.0,
                        mape_floor_panning=0.01, mape_floor_crest=0.01, **common)
    toolkit = dict(trim_frame=TOOLKIT_FFT_SIZE, trim_hop=TOOLKIT_FFT_HOP,
                   loudness_frame=TOOLKIT_LOUDNESS_FRAME, loudness_hop=TOOLKIT_LOUDNESS_HOP,
                   shortest_loudness_frame=math.ceil(common["loudness_block_s"] * sample_rate),
                   fft_size=TOOLKIT_FFT_SIZE, fft_hop=TOOLKIT_FFT_HOP,
                   fewest_running_frames=common["running_n"], zero_pad_to=0,
                   peak_normalisation=TOOLKIT_NORMALISATION, silence_floor_db=-math.inf,
                   non_stereo_panning=math.nan, panning_channels=(2,),
                   drops_centred_frames=True, mape_floor_db=SKLEARN_EPS,
                   mape_floor_panning=SKLEARN_EPS, mape_floor_crest=SKLEARN_EPS)
    if profile == "automix-toolkit":
        return Settings(trim=True, loudness="frames", panning_fft_size=TOOLKIT_FFT_SIZE,
                        panning_hop=TOOLKIT_FFT_HOP, **toolkit, **common)
    return Settings(trim=False, loudness="integrated", panning_fft_size=2048,
                    panning_hop=1024, **toolkit, **common)
