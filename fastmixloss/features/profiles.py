"""The three feature profiles as plain numbers: every constant in one place.

- "automix-toolkit": csteinmetz1/automix-toolkit at commit e4a6ecf, `get_features`, with
  its 44.1 kHz sample counts whatever the rate, and its failures reported as NaN.
- "fxnorm": sony/FxNorm-automix's evaluation where it differs: no trimming, whole-song
  integrated loudness and whole-song peak, panning at fft 2048 / hop 1024.
- "default": the toolkit's features with its failures fixed (see `Settings.fixed`).
"""

import math
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Settings:
    """A profile resolved at one sample rate. Sample counts are integers."""

    profile: str
    sample_rate: float
    fixed: bool                    # the default profile's fixes are on
    trim: bool                     # trim leading and trailing silence of the reference
    trim_top_db: float
    trim_frame: int
    trim_hop: int
    loudness: str                  # "frames" (running) or "integrated" (whole song)
    loudness_frame: int
    loudness_hop: int
    loudness_block_s: float        # pyloudnorm's gating block (s) and its overlap
    loudness_overlap: float
    fft_size: int
    fft_hop: int
    panning_fft_size: int
    panning_hop: int
    running_n: int                 # running-mean length (frames)
    peak_target_db: float          # peak normalisation before spectral/panning/dynamics
    loudness_eps: float            # added before the running means
    spectral_eps: float            # added to centroid, bandwidth and rolloff (Hz)
    contrast_fmin: float
    contrast_bands: int
    contrast_quantile: float
    contrast_top_db: float
    rolloff_percent: float
    flatness_amin: float
    silence_floor_db: float        # default profile: loudness and peak floor
    # default profile: smallest |reference| a percentage error divides by, per group
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
        loudness_block_s=0.4, loudness_overlap=0.75, running_n=40, peak_target_db=-1.0,
        loudness_eps=1e-10, spectral_eps=1.0, contrast_fmin=250.0, contrast_bands=4,
        contrast_quantile=0.02, contrast_top_db=80.0, rolloff_percent=0.85,
        flatness_amin=1e-10, silence_floor_db=-70.0, mape_floor_db=1.0,
        mape_floor_panning=0.01, mape_floor_crest=0.01)
    if profile == "default":
        # sample counts from the rate: 0.4 s / 0.2 s loudness frames, an FFT of about
        # 93 ms (4096 at 44.1 and 48 kHz, 2048 at 22.05 kHz), hop a quarter of it
        fft = _power_of_two_near(TOOLKIT_FFT_SIZE * sample_rate / REFERENCE_RATE)
        return Settings(fixed=True, trim=True, trim_frame=fft, trim_hop=fft // 4,
                        loudness="frames",
                        loudness_frame=int(round(0.4 * sample_rate)),
                        loudness_hop=int(round(0.2 * sample_rate)),
                        fft_size=fft, fft_hop=fft // 4, panning_fft_size=fft,
                        panning_hop=fft // 4, **common)
    toolkit = dict(fixed=False, trim_frame=TOOLKIT_FFT_SIZE, trim_hop=TOOLKIT_FFT_HOP,
                   loudness_frame=TOOLKIT_LOUDNESS_FRAME, loudness_hop=TOOLKIT_LOUDNESS_HOP,
                   fft_size=TOOLKIT_FFT_SIZE, fft_hop=TOOLKIT_FFT_HOP)
    if profile == "automix-toolkit":
        return Settings(trim=True, loudness="frames", panning_fft_size=TOOLKIT_FFT_SIZE,
                        panning_hop=TOOLKIT_FFT_HOP, **toolkit, **common)
    return Settings(trim=False, loudness="integrated", panning_fft_size=2048,
                    panning_hop=1024, **toolkit, **common)
