"""Analysis windows, periodic (DFT-even) as torch and scipy build them for spectra.

A window of win_length samples is zero-padded, centred, to fft_size: the left pad is
(fft_size - win_length) // 2, as in torch.stft.
"""

import functools

import numpy as np

from .errors import ParameterError


def _cosine_sum(coefficients):
    def build(length):
        phase = 2.0 * np.pi * np.arange(length) / length
        return sum(c * np.cos(k * phase) for k, c in enumerate(coefficients))
    return build


def _bartlett(length):
    n = np.arange(length)
    return 1.0 - np.abs(2.0 * n / length - 1.0)


def _kaiser(length):
    # torch.kaiser_window's default beta, periodic: the symmetric window of length + 1,
    # last sample dropped
    return np.kaiser(length + 1, 12.0)[:-1]


_BUILDERS = {
    "hann": _cosine_sum((0.5, -0.5)),
    "hamming": _cosine_sum((0.54, -0.46)),
    "blackman": _cosine_sum((0.42, -0.5, 0.08)),
    "bartlett": _bartlett,
    "kaiser": _kaiser,
    "rectangular": np.ones,
}
_ALIASES = {"hanning": "hann", "boxcar": "rectangular", "rect": "rectangular"}

WINDOW_NAMES = tuple(_BUILDERS)


def window_name(window):
    """Canonical name for 'hann', 'hann_window' (auraloss's spelling), 'Hann', ...; an
    array-like window is returned unchanged."""
    if not isinstance(window, str):
        return window
    name = window.lower()
    name = name[:-len("_window")] if name.endswith("_window") else name
    name = _ALIASES.get(name, name)
    if name not in _BUILDERS:
        raise ParameterError(
            f"window={window!r} is not a known window; use one of "
            f"{', '.join(WINDOW_NAMES)} (with or without '_window') or an array")
    return name


def window_values(window, win_length):
    """The window's win_length float64 values; `window` is a name or an array."""
    name = window_name(window)
    if isinstance(name, str):
        return _BUILDERS[name](win_length).astype(np.float64)
    values = np.asarray(name)
    if values.dtype.kind not in "fiu" or values.shape != (win_length,):
        raise ParameterError(
            f"window array has shape {values.shape} and dtype {values.dtype}; expected "
            f"{win_length} real values (win_length={win_length})")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ParameterError("window array contains NaN or Inf")
    return values


@functools.lru_cache(maxsize=64)
def _padded_named(name, win_length, fft_size, dtype, float32_window):
    if float32_window and name in _TORCH_COSINE:
        return _pad(_torch_float32_cosine(name, win_length), fft_size, dtype, False)
    return _pad(_BUILDERS[name](win_length), fft_size, dtype, float32_window)


# torch.hann_window / hamming_window (periodic) as a - b * cos(2 pi n / N)
_TORCH_COSINE = {"hann": (0.5, 0.5), "hamming": (0.54, 0.46)}


def _torch_float32_cosine(name, length):
    """The window as torch builds it in float32 arithmetic: the argument n * (2 pi / N)
    and a - b * cos in float32. The float64 formula rounded to float32 differs at about
    two thirds of the points (1 ulp), which moves auraloss's float64 losses by 1e-6 on
    quiet music; this one differs from torch's at a few percent of them (torch's own cos)."""
    a, b = _TORCH_COSINE[name]
    argument = np.arange(length, dtype=np.float32) * np.float32(2.0 * np.pi / length)
    cosine = np.cos(argument.astype(np.float64)).astype(np.float32)
    return (np.float32(a) - np.float32(b) * cosine).astype(np.float64)


def _pad(values, fft_size, dtype, float32_window):
    if float32_window:   # auraloss builds its window in float32
        values = values.astype(np.float32)
    padded = np.zeros(fft_size, dtype=dtype)
    start = (fft_size - values.shape[0]) // 2
    padded[start:start + values.shape[0]] = values
    padded.flags.writeable = False   # shared through the cache
    return padded


def padded_window(window, win_length, fft_size, dtype, *, float32_window=False):
    """(window zero-padded to fft_size in `dtype`, support start, support stop)."""
    start = (fft_size - win_length) // 2
    name = window_name(window)
    if isinstance(name, str):
        padded = _padded_named(name, win_length, fft_size, np.dtype(dtype).str,
                               float32_window)
    else:
        padded = _pad(window_values(name, win_length), fft_size, dtype, float32_window)
    return padded, start, start + win_length
