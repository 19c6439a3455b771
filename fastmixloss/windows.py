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
def _torch_cos(x):
    """cos of float32 values, correctly rounded to float32. torch's own float32 cos (MKL or
    SLEEF, by machine) is within one ulp of this and differs on about 3% of window values."""
    return np.cos(x.astype(np.float64)).astype(np.float32)


def _torch_float32(name, length):
    """The periodic window as torch's float32 window functions compute it: float32
    arange, a float32 step, each operation rounded to float32 in torch's order (the
    symmetric window of length + 1, last sample dropped). Exact for bartlett and
    rectangular; hann, hamming and blackman up to torch's cos (see _torch_cos)."""
    f32 = np.float32
    if length == 1 or name == "rectangular":
        return np.ones(length, f32)
    size = length + 1
    n = np.arange(size, dtype=f32)
    if name in ("hann", "hamming"):
        alpha, beta = (0.5, 0.5) if name == "hann" else (0.54, 0.46)
        phase = n * f32(2.0 * np.pi / (size - 1))
        window = _torch_cos(phase) * f32(-beta) + f32(alpha)
    elif name == "blackman":
        phase = n * f32(np.pi / (size - 1))
        window = ((_torch_cos(phase * f32(4)) * f32(0.08)
                   - _torch_cos(phase * f32(2)) * f32(0.5)) + f32(0.42))
    elif name == "bartlett":
        window = n * f32(2.0 / (size - 1))
        half = ((size - 1) >> 1) + 1
        window[half:] = window[half:] * f32(-1) + f32(2)
    else:   # kaiser: the float64 formula, rounded (torch's float32 Bessel is not mirrored)
        return _BUILDERS[name](length).astype(f32)
    return window[:length].astype(f32)


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


def torch_window(window, win_length):
    """A named window's win_length float32 values as torch.<name>_window builds them
    (what auraloss uses; compat="auraloss")."""
    return _torch_float32(window_name(window), win_length)


def window_values(window, win_length):
    """The window's win_length float64 values; `window` is a name or an array."""
    name = window_name(window)
    if isinstance(name, str):
        return _BUILDERS[name](win_length).astype(np.float64)
    try:
        values = np.asarray(name)
    except Exception as exc:   # a ragged list, an object that refuses conversion
        raise ParameterError(f"window={window!r} could not be read as an array of "
                             f"{win_length} values: {exc}") from exc
    if values.dtype.kind not in "fiu" or values.shape != (win_length,):
        raise ParameterError(
            f"window array has shape {values.shape} and dtype {values.dtype}; expected "
            f"{win_length} real values (win_length={win_length}), or a window name")
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ParameterError("window array contains NaN or Inf")
    return values


@functools.lru_cache(maxsize=64)
def _padded_named(name, win_length, fft_size, dtype, float32_window):
    if float32_window:   # auraloss: torch's float32 window function
        return _pad(_torch_float32(name, win_length), fft_size, dtype, False)
    return _pad(_BUILDERS[name](win_length), fft_size, dtype, float32_window)


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
