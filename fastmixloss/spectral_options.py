"""The options of the STFT family beyond the plain terms, checked in one place.

scale ("mel" or "chroma", with n_bins, sample_rate, fmin, fmax), perceptual_weighting
(A-weighting, needs sample_rate and SciPy), scale_invariance, w_phs (the phase term) and
log_eps / log_fac (the log term of log(log_fac * |X| + log_eps), auraloss main's). With
none of them set the losses run the plain kernel; with any, the options kernel.
"""

import functools

import numpy as np

from . import filterbanks
from . import validation as check
from .errors import ParameterError


# Sample rates (Hz) a mel or chroma filterbank is built for, both ends included: from
# below any audio rate in use (8 kHz telephony) to the fastest audio converters (768 kHz),
# as for A-weighting. Outside, the banks' formulas stop meaning anything (at 1e-300 Hz the
# chroma bank's octave weights underflow to 0/0, a NaN loss).
FILTERBANK_SAMPLE_RATES = (1000.0, 768000.0)


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


class SpectralOptions:
    """Validated options; builds each resolution's filterbank and the FIR taps on demand.

    n_bins is an int or one int per resolution (`n_resolutions`).
    """

    def __init__(self, n_resolutions, *, scale=None, n_bins=None, sample_rate=None,
                 fmin=0.0, fmax=None, perceptual_weighting=False, scale_invariance=False,
                 w_phs=0.0, log_eps=0.0, log_fac=1.0, compat=None):
        self.scale = check.choice("scale", scale, filterbanks.SCALES)
        self.perceptual_weighting = check.flag("perceptual_weighting", perceptual_weighting)
        self.scale_invariance = check.flag("scale_invariance", scale_invariance)
        self.w_phs = check.weight("w_phs", w_phs)
        self.log_eps = check.finite_float("log_eps", log_eps, minimum=0.0)
        self.log_fac = check.finite_float("log_fac", log_fac, strictly_positive=True)
        self.compat = compat
        needs_rate = self.scale is not None or self.perceptual_weighting
        if needs_rate and sample_rate is None:
            what = f"scale={scale!r}" if self.scale else "perceptual_weighting=True"
            raise ParameterError(f"{what} needs sample_rate (in Hz), e.g. sample_rate=44100")
        self.sample_rate = (None if sample_rate is None else
                            check.finite_float("sample_rate", sample_rate,
                                               strictly_positive=True))
        if self.scale is not None:
            check_filterbank_rate(self.sample_rate, f"scale={self.scale!r}")
        if self.perceptual_weighting:
            from .weighting import check_sample_rate
            check_sample_rate(self.sample_rate)
        self.n_bins = self._n_bins(n_bins, n_resolutions)
        if self.scale == "mel":
            self.fmin, self.fmax = check_mel_band(fmin, fmax, self.sample_rate)
        else:
            # librosa's chroma filterbank spans every bin: it has no band edges to set
            self.fmin = check.finite_float("fmin", fmin, minimum=0.0)
            self.fmax = None if fmax is None else check.finite_float("fmax", fmax,
                                                                     strictly_positive=True)
            if self.fmin != 0.0 or self.fmax is not None:
                given = f"fmin={fmin!r}" if self.fmin != 0.0 else f"fmax={fmax!r}"
                raise ParameterError(
                    f"{given} applies to scale='mel' only"
                    + (": the chroma filterbank (librosa.filters.chroma) spans every FFT "
                       "bin and has no fmin or fmax" if self.scale == "chroma" else ""))

    def _n_bins(self, n_bins, n_resolutions):
        if self.scale is None:
            if n_bins is not None:
                raise ParameterError(f"n_bins={n_bins!r} needs scale='mel' or 'chroma'")
            return (None,) * n_resolutions
        if n_bins is None:
            n_bins = 128 if self.scale == "mel" else 12
        if isinstance(n_bins, (list, tuple)):
            if len(n_bins) != n_resolutions:
                raise ParameterError(
                    f"n_bins={list(n_bins)!r} has {len(n_bins)} values for "
                    f"{n_resolutions} resolutions; give one int, or one per resolution")
            return tuple(check.positive_int(f"n_bins[{i}]", n) for i, n in enumerate(n_bins))
        return (check.positive_int("n_bins", n_bins),) * n_resolutions

    @property
    def active(self):
        """True when the options kernel is needed."""
        return (self.scale is not None or self.perceptual_weighting or self.scale_invariance
                or self.w_phs > 0 or self.log_eps != 0.0 or self.log_fac != 1.0)

    @property
    def weights_dtype(self):
        # auraloss multiplies by librosa's float32 filterbank and float32 FIR taps
        return np.float32 if self.compat == "auraloss" else np.float64

    def check_resolutions(self, resolutions):
        """Build every filterbank now (ParameterError for an empty mel band) and the taps
        (ParameterError without SciPy): before any kernel runs."""
        for index, resolution in enumerate(resolutions):
            self.filterbank(index, resolution.fft_size)
        if self.perceptual_weighting:
            self.taps()

    def filterbank(self, index, fft_size):
        """The Filterbank of resolution `index`, or None without a scale."""
        if self.scale is None:
            return None
        return _filterbank(self.scale, self.sample_rate, fft_size, self.n_bins[index],
                           self.fmin, self.fmax, np.dtype(self.weights_dtype).name)

    def taps(self):
        """The A-weighting FIR taps as float64 (float32-rounded with compat)."""
        from .weighting import taps_for
        return taps_for(self.sample_rate, compat=self.compat == "auraloss")


@functools.lru_cache(maxsize=64)
def _filterbank(scale, sample_rate, fft_size, n_bands, fmin, fmax, dtype):
    bank = filterbanks.build(scale, sample_rate, fft_size, n_bands, fmin, fmax,
                             np.dtype(dtype))
    for array in bank[:3]:
        array.flags.writeable = False   # shared through the cache
    return bank
