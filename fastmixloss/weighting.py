"""Perceptual A-weighting as auraloss applies it: a 101-tap FIR fitted to the IEC curve.

The analog A-weighting curve (IEC/CD 1672 poles at 20.6, 107.7, 737.9 and 12194 Hz, +2 dB
at 1 kHz) goes through the bilinear transform; the digital filter's magnitude response at
512 frequencies is fitted by a least-squares linear-phase FIR of 101 taps. The design needs
SciPy, an optional extra (`pip install fastmixloss[weighting]`), imported only here and only
when perceptual_weighting=True. The filter is applied to each channel as a "same"
convolution with zero padding (auraloss's conv1d with padding ntaps // 2).
"""

import functools
import importlib.metadata
import os
import pathlib

import numpy as np

from .errors import ParameterError

N_TAPS = 101

# Sample rates the 101-tap design serves: its Nyquist frequency above the curve's 1 kHz
# reference, and no higher than audio hardware goes. Beyond 768 kHz the fit drifts (at
# 1e7 Hz the design gives NaN taps, at 1e8 Hz the 1 kHz gain is -46 dB).
MIN_SAMPLE_RATE, MAX_SAMPLE_RATE = 2000.0, 768000.0

# IEC/CD 1672 analog A-weighting: pole frequencies (Hz) and the gain at 1 kHz (dB)
_F1, _F2, _F3, _F4 = 20.598997, 107.65265, 737.86223, 12194.217
_A1000_DB = 1.9997


@functools.lru_cache(maxsize=16)
def a_weighting_taps(sample_rate, n_taps=N_TAPS):
    """The FIR taps (n_taps,) float64, auraloss's design, read-only.

    Designed with SciPy once per sample rate and SciPy version, then kept on disk beside
    Numba's kernel cache: importing scipy.signal costs about 45 MB of process memory,
    which a later process then does not pay. Raises ParameterError without SciPy.
    """
    path = _cache_path(sample_rate, n_taps)
    if path is not None and path.is_file():
        try:
            taps = np.load(path)
            if taps.shape == (n_taps,) and taps.dtype == np.float64:
                taps.flags.writeable = False
                return taps
        except (OSError, ValueError):
            pass   # a damaged cache file: design again
    taps = design_a_weighting(sample_rate, n_taps)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(f".{os.getpid()}.tmp.npy")
            np.save(temporary, taps)
            os.replace(temporary, path)
        except OSError:
            pass   # a read-only install: design in every process
    taps.flags.writeable = False   # shared through the cache
    return taps


def _cache_path(sample_rate, n_taps):
    """Where the taps for this design are kept, or None when SciPy is not installed."""
    try:
        scipy_version = importlib.metadata.version("scipy")
    except importlib.metadata.PackageNotFoundError:
        return None
    folder = os.environ.get("NUMBA_CACHE_DIR")
    folder = (pathlib.Path(folder) / "fastmixloss" if folder
              else pathlib.Path(__file__).parent / "__pycache__")
    return folder / f"a_weighting_{float(sample_rate)!r}_{n_taps}_scipy{scipy_version}.npy"


def design_a_weighting(sample_rate, n_taps=N_TAPS):
    """Design the taps with SciPy (see the module docstring); float64 (n_taps,)."""
    try:
        import scipy.signal
    except ImportError as error:
        raise ParameterError(
            "perceptual_weighting=True designs its A-weighting filter with SciPy, which is "
            "not installed; `pip install scipy` (or fastmixloss[weighting])") from error
    numerator = [(2 * np.pi * _F4) ** 2 * 10 ** (_A1000_DB / 20), 0, 0, 0, 0]
    denominator = np.polymul([1, 4 * np.pi * _F4, (2 * np.pi * _F4) ** 2],
                             [1, 4 * np.pi * _F1, (2 * np.pi * _F1) ** 2])
    denominator = np.polymul(np.polymul(denominator, [1, 2 * np.pi * _F3]),
                             [1, 2 * np.pi * _F2])
    b, a = scipy.signal.bilinear(numerator, denominator, fs=sample_rate)
    frequencies, response = scipy.signal.freqz(b, a, worN=512, fs=sample_rate)
    taps = scipy.signal.firls(n_taps, frequencies, np.abs(response), fs=sample_rate)
    if not np.isfinite(taps).all():   # never a NaN loss from a failed design
        raise ParameterError(
            f"the A-weighting design failed at sample_rate={sample_rate!r} (non-finite "
            "taps); perceptual_weighting needs an audio sample rate")
    return taps


def check_sample_rate(sample_rate):
    """ParameterError where the A-weighting FIR cannot be designed meaningfully."""
    if not MIN_SAMPLE_RATE < sample_rate <= MAX_SAMPLE_RATE:
        raise ParameterError(
            f"perceptual_weighting=True needs {MIN_SAMPLE_RATE:g} < sample_rate <= "
            f"{MAX_SAMPLE_RATE:g} Hz (its 101-tap A-weighting filter is not defined "
            f"outside), got sample_rate={sample_rate!r}")


def taps_for(sample_rate, compat=False):
    """Read-only float64 taps; with compat rounded to float32 as auraloss stores them."""
    taps = a_weighting_taps(float(sample_rate))
    if compat:
        taps = taps.astype(np.float32).astype(np.float64)
        taps.flags.writeable = False   # read-only like the cached float64 taps
    return taps
