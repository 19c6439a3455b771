"""Mel and chroma filterbanks, built from their formulas and stored sparsely.

The mel bank equals `librosa.filters.mel` with its defaults (Slaney's mel scale and area
normalisation), the chroma bank `librosa.filters.chroma` with its defaults; librosa is only
the test oracle, never imported here. A band's weights are non-zero on one contiguous run
of FFT bins (a mel triangle), so each band is kept as (start, stop, weights): applying the
bank to a frame's magnitudes costs one multiply-add per non-zero weight, not n_bins x F.

auraloss multiplies the magnitudes by librosa's float32 matrix; `dtype=np.float32` rounds
the weights exactly as librosa does, so compat="auraloss" can reproduce it.
"""

from typing import NamedTuple

import numpy as np

from .errors import ParameterError

SCALES = (None, "mel", "chroma")


class Filterbank(NamedTuple):
    """A bank of n_bands filters over the F = fft_size // 2 + 1 bins of a spectrum.

    Band b has the weights `weights[offsets[b]:offsets[b + 1]]` on bins
    `starts[b] .. starts[b] + (offsets[b + 1] - offsets[b]) - 1`; zero elsewhere.
    """

    starts: np.ndarray    # (n_bands,) int64
    offsets: np.ndarray   # (n_bands + 1,) int64
    weights: np.ndarray   # (n_nonzero,) float64
    n_fft_bins: int       # F

    @property
    def n_bands(self):
        return self.starts.shape[0]

    def dense(self):
        """The bank as a (n_bands, F) float64 matrix."""
        out = np.zeros((self.n_bands, self.n_fft_bins))
        for b in range(self.n_bands):
            lo, hi = self.offsets[b], self.offsets[b + 1]
            out[b, self.starts[b]:self.starts[b] + hi - lo] = self.weights[lo:hi]
        return out


# Stand-ins for a filterbank's arrays, for losses without one: the kernels take read-only
# views of every array, so one signature serves both.
_NO_FILTERBANK = (np.zeros(1, "int64"), np.zeros(1, "int64"), np.zeros(1))


def kernel_arrays(filterbank):
    """(starts, offsets, weights) of a Filterbank, as the options kernels (CPU and CUDA)
    take them, or the stand-ins for None."""
    if filterbank is None:
        return _NO_FILTERBANK
    return filterbank.starts, filterbank.offsets, filterbank.weights


def sparse(matrix):
    """Filterbank of a dense (n_bands, F) matrix: each band's first to last non-zero bin."""
    matrix = np.asarray(matrix, dtype=np.float64)
    starts, offsets, parts = [], [0], []
    for row in matrix:
        nonzero = np.flatnonzero(row)
        lo, hi = (nonzero[0], nonzero[-1] + 1) if nonzero.size else (0, 0)
        starts.append(lo)
        parts.append(row[lo:hi])
        offsets.append(offsets[-1] + hi - lo)
    weights = np.concatenate(parts) if parts else np.zeros(0)
    return Filterbank(np.array(starts, dtype=np.int64), np.array(offsets, dtype=np.int64),
                      np.ascontiguousarray(weights), matrix.shape[1])


# ------------------------------------------------------------------------------- mel

_MEL_LINEAR_HZ = 200.0 / 3        # Slaney: linear below 1 kHz, 200/3 Hz per mel
_MEL_LOG_HZ = 1000.0              # start of the log region
_MEL_LOG_STEP = np.log(6.4) / 27.0


def hz_to_mel(hz):
    """Slaney's mel scale (the Auditory Toolbox's, librosa's default)."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _MEL_LINEAR_HZ
    log_region = _MEL_LOG_HZ / _MEL_LINEAR_HZ + np.log(
        np.maximum(hz, _MEL_LOG_HZ) / _MEL_LOG_HZ) / _MEL_LOG_STEP
    return np.where(hz >= _MEL_LOG_HZ, log_region, linear)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    min_log_mel = _MEL_LOG_HZ / _MEL_LINEAR_HZ
    linear = mel * _MEL_LINEAR_HZ
    log_region = _MEL_LOG_HZ * np.exp(_MEL_LOG_STEP * (np.maximum(mel, min_log_mel)
                                                       - min_log_mel))
    return np.where(mel >= min_log_mel, log_region, linear)


def mel_matrix(sample_rate, fft_size, n_bands, fmin=0.0, fmax=None, dtype=np.float64):
    """Dense (n_bands, fft_size // 2 + 1) Slaney mel bank, area-normalised.

    Band b is the triangle rising from edge b to edge b + 1 and falling to edge b + 2,
    the n_bands + 2 edges evenly spaced in mel from fmin to fmax (default
    sample_rate / 2); each triangle is scaled by 2 / (its width in Hz). dtype=float32
    rounds as librosa does: the triangle first, then its product with the scale.
    """
    fmax = sample_rate / 2.0 if fmax is None else fmax
    bin_hz = np.fft.rfftfreq(fft_size, d=1.0 / sample_rate)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_bands + 2))
    widths = np.diff(edges)
    above = np.subtract.outer(edges, bin_hz)          # edge - bin frequency
    rising = -above[:-2] / widths[:-1, None]
    falling = above[2:] / widths[1:, None]
    triangles = np.maximum(0.0, np.minimum(rising, falling)).astype(dtype)
    scale = 2.0 / (edges[2:] - edges[:-2])
    return (triangles * scale[:, None]).astype(dtype)


def mel(sample_rate, fft_size, n_bands=128, fmin=0.0, fmax=None, dtype=np.float64):
    """Sparse mel Filterbank; ParameterError when a band would be empty (all zero)."""
    matrix = mel_matrix(sample_rate, fft_size, n_bands, fmin, fmax, dtype)
    empty = np.flatnonzero(~matrix.any(axis=1))
    if empty.size:
        raise ParameterError(
            f"n_bins={n_bands} mel bands are too many for fft_size={fft_size} at "
            f"sample_rate={sample_rate}: band {int(empty[0])} (and {empty.size - 1} more) "
            f"covers no FFT bin and would make the loss NaN; use fewer bands or a larger "
            f"fft_size")
    return sparse(matrix)


# ---------------------------------------------------------------------------- chroma

def chroma_matrix(sample_rate, fft_size, n_bands=12, dtype=np.float64):
    """Dense (n_bands, fft_size // 2 + 1) chroma bank, librosa.filters.chroma's defaults.

    Each FFT bin's pitch class (A440 tuning) spreads over the chroma bands as a Gaussian
    bump twice as narrow as the bin's width in bands; each bin's column has unit L2 norm
    and is weighted by a Gaussian over octaves centred on octave 5 (half-width 2 octaves);
    the bands start at C.
    """
    frequencies = np.linspace(0, sample_rate, fft_size, endpoint=False)[1:]
    pitch = n_bands * np.log2(frequencies / (440.0 / 16))   # in bands above A0
    pitch = np.concatenate(([pitch[0] - 1.5 * n_bands], pitch))   # DC: 1.5 octaves below bin 1
    widths = np.concatenate((np.maximum(np.diff(pitch), 1.0), [1.0]))
    half = np.round(n_bands / 2.0)
    distance = np.subtract.outer(pitch, np.arange(n_bands, dtype=np.float64)).T
    distance = np.remainder(distance + half + 10 * n_bands, n_bands) - half
    weights = np.exp(-0.5 * (2 * distance / widths) ** 2)
    weights = weights / (weights ** 2).sum(axis=0, keepdims=True) ** 0.5
    weights = weights * np.exp(-0.5 * ((pitch / n_bands - 5.0) / 2.0) ** 2)
    weights = np.roll(weights, -3 * (n_bands // 12), axis=0)
    return np.ascontiguousarray(weights[:, :fft_size // 2 + 1], dtype=dtype)


def chroma(sample_rate, fft_size, n_bands=12, dtype=np.float64):
    return sparse(chroma_matrix(sample_rate, fft_size, n_bands, dtype))


def build(scale, sample_rate, fft_size, n_bands, fmin=0.0, fmax=None, dtype=np.float64):
    """The Filterbank for `scale` ('mel' or 'chroma') at one resolution."""
    if scale == "mel":
        return mel(sample_rate, fft_size, n_bands, fmin, fmax, dtype)
    return chroma(sample_rate, fft_size, n_bands, dtype)
