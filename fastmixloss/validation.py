"""Checks of input signals and parameters, all done before any kernel runs.

Signals are never modified: an array is copied only when the kernels cannot read it as
it is (another dtype, byte order or memory layout).
"""

import difflib
import functools
import inspect
import math
import numbers
import operator

import numpy as np

from .errors import KeywordError, ParameterError

REDUCTIONS = ("mean", "sum", "none")
OUTPUTS = ("loss", "full")
COMPAT_MODES = (None, "auraloss")

# Sizes go into int64 arithmetic in the kernels: a larger value cannot describe anything.
MAX_SIZE = 2 ** 62

# More channels than this is taken as a channel-last (T, C) array or a batch of mono
# signals passed as (B, T), never silently computed on the wrong axis (README, Usage).
MAX_CHANNELS = 32


# ---------------------------------------------------------------------------- parameters

def positive_int(name, value):
    """An int > 0 (Python or NumPy integer; bool and float are refused)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    value = operator.index(value)
    if value <= 0:
        raise ParameterError(f"{name}={value!r} must be a positive integer")
    if value > MAX_SIZE:
        raise ParameterError(f"{name}={value!r} is larger than the largest size "
                             f"fastmixloss handles, 2**62")
    return value


def flag(name, value):
    """True/False (Python or NumPy bool, or the ints 0 and 1)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, np.ndarray) \
            and value in (0, 1):
        return bool(value)
    raise ParameterError(f"{name}={value!r} must be True or False")


def finite_float(name, value, *, minimum=None, strictly_positive=False):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{name}={value!r} must be a real number")
    value = float(value)
    if not np.isfinite(value):
        raise ParameterError(f"{name}={value!r} must be finite")
    if strictly_positive and value <= 0:
        raise ParameterError(f"{name}={value!r} must be > 0")
    if minimum is not None and value < minimum:
        raise ParameterError(f"{name}={value!r} must be >= {minimum}")
    return value


def non_negative(name, value):
    """A finite float >= 0."""
    return finite_float(name, value, minimum=0.0)


def positive(name, value):
    """A finite float > 0."""
    return finite_float(name, value, strictly_positive=True)


def optional(checker):
    """The check `checker(name, value)` that lets None through."""
    return lambda name, value: None if value is None else checker(name, value)


def weight(name, value):
    """A loss-term weight: finite and >= 0."""
    return non_negative(name, value)


def choice(name, value, options):
    # only None and strings are compared: an array would make `in` ambiguous
    if not (value is None or isinstance(value, str)) or value not in options:
        raise ParameterError(
            f"{name}={value!r} is not one of {', '.join(repr(o) for o in options)}")
    return value


def distance(name, value):
    """'L1' or 'L2', any case."""
    if isinstance(value, str) and value.upper() in ("L1", "L2"):
        return value.upper()
    raise ParameterError(f"{name}={value!r} must be 'L1' or 'L2'")


def sequence(name, values):
    """A non-empty sequence (its items are checked by the caller)."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise ParameterError(f"{name}={values!r} must be a sequence of positive integers")
    try:
        values = tuple(values)
    except Exception as exc:   # e.g. a 0-d array, an iterator that raises
        raise ParameterError(
            f"{name}={values!r} must be a sequence of positive integers") from exc
    if not values:
        raise ParameterError(f"{name}={values!r} must name at least one resolution")
    return values


# ------------------------------------------------------------------------------- signals

def refuse_grad(x, name):
    """ParameterError for a tensor that requires grad (fastmixloss computes values, not
    gradients), on the host or a GPU."""
    if hasattr(x, "detach") and getattr(x, "requires_grad", False):
        raise ParameterError(
            f"{name} is a tensor that requires grad; pass {name}.detach() "
            "(fastmixloss computes values, not gradients)")


def as_array(x, name):
    """x as a NumPy float32/float64 array, or ParameterError saying what it is instead."""
    refuse_grad(x, name)
    if hasattr(x, "__cuda_array_interface__") and not isinstance(x, np.ndarray):
        raise ParameterError(
            f"{name} lives on a CUDA device; pass device='cuda' or copy it to the host")
    try:
        array = np.asarray(x)
    except Exception as exc:   # e.g. a ragged list, or a CUDA tensor
        raise ParameterError(f"{name} could not be read as an array: {exc}") from exc
    kind = array.dtype.kind
    if kind == "f":
        if array.dtype.itemsize not in (4, 8):
            raise ParameterError(
                f"{name} has dtype {array.dtype}; fastmixloss works in float32 or float64: "
                f"pass {name}.astype(np.float32)")
        return array
    if kind in "iu":
        bits = array.dtype.itemsize * 8
        if kind == "u" and bits == 8:
            hint = f"({name}.astype(np.float32) - 128) / 128"
        else:
            hint = f"{name}.astype(np.float32) / {2 ** (bits - 1)}"
        raise ParameterError(
            f"{name} has integer dtype {array.dtype}: fastmixloss works on floating-point "
            f"audio. Convert {bits}-bit PCM to full scale 1.0 with {hint}")
    if kind == "c":
        raise ParameterError(
            f"{name} is complex ({array.dtype}); pass the real-valued time-domain signal")
    if kind == "b":
        raise ParameterError(f"{name} is boolean; pass a float32 or float64 signal")
    raise ParameterError(f"{name} has dtype {array.dtype}, which is not a numeric signal")


def as_signal_pair(est, ref, *, require_batch=False, channels=None):
    """Validate and return (est, ref) as C-contiguous, native-order (B, C, T) arrays of one
    float dtype (float64 if either is float64), plus the input's ndim.

    Accepted shapes: (T,), (C, T) or (B, C, T); with require_batch only (B, C, T).
    `channels` demands that channel count.
    """
    est_array = as_array(est, "est")
    ref_array = as_array(ref, "ref")
    shape3, ndim, dtype = pair_layout(est_array, ref_array, require_batch=require_batch,
                                      channels=channels)
    est3 = np.ascontiguousarray(est_array, dtype=dtype).reshape(shape3)
    ref3 = np.ascontiguousarray(ref_array, dtype=dtype).reshape(shape3)
    return est3, ref3, ndim


def pair_layout(est, ref, *, require_batch=False, channels=None):
    """(shape3, ndim, dtype) of a pair of signals from their .shape and .dtype alone: the
    checks of as_signal_pair that read no sample, in its order and with its messages. The
    CUDA backend runs them on its inputs' shapes, so both devices raise the same errors.

    shape3: the (B, C, T) shape; ndim: the inputs' ndim; dtype: the one float dtype both
    are computed in (float64 if either is), in native byte order.
    """
    for name, x in (("est", est), ("ref", ref)):
        check_shape(x.shape, name, require_batch)
    if tuple(est.shape) != tuple(ref.shape):
        raise ParameterError(
            f"est and ref must have the same shape: est {tuple(est.shape)}, "
            f"ref {tuple(ref.shape)}")
    shape = tuple(est.shape)
    if math.prod(shape) == 0:
        raise ParameterError(f"est and ref are empty (shape {shape})")
    ndim = len(shape)
    shape3 = (1,) * (3 - ndim) + shape
    check_layout(shape3, ndim)
    if channels is not None and shape3[1] != channels:
        raise ParameterError(
            f"this loss needs {channels} channels; est and ref have shape "
            f"{shape}, i.e. {shape3[1]} channel(s)")
    dtype = np.result_type(est.dtype, ref.dtype).newbyteorder("=")
    return shape3, ndim, dtype


def check_shape(shape, name, require_batch=False):
    """ParameterError unless `shape` is (T,), (C, T) or (B, C, T); with require_batch
    only (B, C, T)."""
    shape = tuple(shape)
    allowed = (3,) if require_batch else (1, 2, 3)
    if len(shape) not in allowed:
        wanted = "(B, C, T)" if require_batch else "(T,), (C, T) or (B, C, T)"
        raise ParameterError(
            f"{name} has shape {shape} (ndim={len(shape)}); expected {wanted}")


def as_signal(x, name="x", check_channels=True):
    """Validate one signal as as_signal_pair does a pair, with its errors naming `name`:
    (x3, ndim), x3 a C-contiguous, native-order (B, C, T) float32 or float64 array.
    check_channels=False leaves the channel count to a caller with a limit of its own."""
    array = as_array(x, name)
    check_shape(array.shape, name)
    if array.size == 0:
        raise ParameterError(f"{name} is empty (shape {array.shape})")
    shape3 = (1,) * (3 - array.ndim) + array.shape
    if check_channels:
        check_layout(shape3, array.ndim, subject=name)
    dtype = array.dtype.newbyteorder("=")
    return np.ascontiguousarray(array, dtype=dtype).reshape(shape3), array.ndim


def check_layout(shape3, ndim, subject="est and ref"):
    """ParameterError where the channel axis holds more than MAX_CHANNELS. A channel-last
    (T, C) array, as soundfile.read returns it, trips this once T > MAX_CHANNELS, so it is
    never read as T channels; the message suggests transposing only where the shape
    reads that way (fewer samples than channels), and otherwise states the channel limit
    (a real 40-channel recording as (40, T) is not channel-last). (More channels than
    samples is allowed up to MAX_CHANNELS: a stereo signal of one sample is a signal.)

    shape3: the (B, C, T) shape; ndim: the caller's ndim (1, 2 or 3); subject: the
    arguments the message names ("est and ref", or "x" for a single signal).
    """
    n_channels, length = shape3[1], shape3[2]
    verb = "have" if " and " in subject else "has"
    if ndim < 2 or n_channels <= MAX_CHANNELS:
        return
    shape = tuple(shape3[3 - ndim:])
    if length < n_channels:   # more channels than samples: most likely channel-last
        if ndim == 2:
            fixes = ("pass x.T if the array is channel-last (samples, channels), as "
                     "soundfile.read returns it; for a batch of mono signals pass "
                     "x[:, None, :]")
        else:
            fixes = ("pass np.moveaxis(x, -1, -2) if the arrays are channel-last "
                     "(items, samples, channels)")
        raise ParameterError(
            f"{subject} {verb} shape {shape}, which reads as {n_channels} channels of "
            f"{length} samples; fastmixloss takes (T,), (C, T) or (B, C, T) with at most "
            f"{MAX_CHANNELS} channels: {fixes}")
    batch = (" (if the rows are separate mono signals, pass x[:, None, :] to score "
             "them as a batch)" if ndim == 2 else "")
    raise ParameterError(
        f"{subject} {verb} shape {shape}: {n_channels} channels of {length} samples; "
        f"fastmixloss takes at most {MAX_CHANNELS} channels{batch}")


# The spectral losses square magnitudes of up to 2 * fft_size * |sample| (the sum signal
# of S/D doubles it) and sum millions of them, in float64; float32 input is also
# transformed in float32. Below these limits neither can overflow at any fft_size that
# fits in memory; above them a loss would be NaN or inf, so it is refused.
SPECTRAL_SAMPLE_LIMIT = {4: 1e30, 8: 1e100}   # by itemsize: float32, float64


def raise_if_too_large(peak, dtype):
    """ParameterError for samples beyond SPECTRAL_SAMPLE_LIMIT of `dtype`."""
    limit = SPECTRAL_SAMPLE_LIMIT[np.dtype(dtype).itemsize]
    if peak > limit:
        raise ParameterError(
            f"est or ref holds a sample of magnitude {peak:.3g}; the spectral losses take "
            f"{np.dtype(dtype).name} samples up to {limit:g} (their squared spectra would "
            f"overflow): scale both signals down")


def check_samples(backend, est3, ref3, check_finite, offset=0):
    """Before any spectral kernel: NaN/Inf (when check_finite) and samples too large for
    squared spectra (always: they would give NaN or a meaningless number), each a
    ParameterError. offset: where the arrays start in the whole signal (CPU pieces)."""
    finite_peak = getattr(backend, "finite_peak", None)
    if finite_peak is None:   # a backend without the one-pass scan
        if check_finite:
            backend.raise_if_nonfinite(est3, ref3)
        return
    peak, any_nonfinite = finite_peak(est3, ref3)
    if any_nonfinite and check_finite:
        if offset:
            raise_if_nonfinite(est3, ref3, offset=offset)
        backend.raise_if_nonfinite(est3, ref3)   # finds and names the sample
    raise_if_too_large(peak, est3.dtype)


def raise_if_nonfinite(est3, ref3, rows=None, names=("est", "ref"), can_skip=True,
                       offset=0):
    """Raise ParameterError naming the first NaN or Inf, looking in est, then ref.

    rows: flat (item * C + channel) indices to scan; None scans everything. names: the
    arguments the message names; can_skip: the caller takes check_finite=False (the
    message offers it only then); offset: where the arrays start in the whole signal
    (a piece of one), added to the sample the message names.
    """
    from .kernels.checks import first_nonfinite   # Numba loads on first use, not on import
    for name, array in zip(names, (est3, ref3)):
        length = array.shape[-1]
        flat = array.reshape(-1)
        if rows is None:
            index = first_nonfinite(flat)
        else:
            index = -1
            for row in rows:
                found = first_nonfinite(flat[row * length:(row + 1) * length])
                if found >= 0:
                    index = row * length + found
                    break
        if index >= 0:
            raise nonfinite_error(name, flat[index], index, array.shape, can_skip, offset)


def nonfinite_error(name, value, index, shape3, can_skip=True, offset=0):
    """The ParameterError for the NaN or Inf `value` at flat `index` of the (B, C, T)
    signal `name`, naming its item, channel and sample (both backends raise it); `offset`
    is added to the sample (the array is a piece of the signal starting there)."""
    item, channel, sample = np.unravel_index(index, shape3)
    sample += offset
    return ParameterError(
        f"{name} contains {value} at item {item}, channel {channel}, sample {sample}; "
        "pass finite signals"
        + (", or check_finite=False to skip this check (the loss is then NaN or Inf)"
           if can_skip else ""))


# ------------------------------------------------------------------------------ keywords

# Keywords of auraloss (and PyTorch) that fastmixloss spells differently or does not take:
# the error says what to write instead.
PORTING_HINTS = {
    "input": "pass the estimate as est, the first argument (auraloss's input)",
    "target": "pass the reference as ref, the second argument (auraloss's target)",
}
# auraloss spectral options, given to a loss that does not take them
for _name in ("sample_rate", "scale", "n_bins", "perceptual_weighting",
              "scale_invariance", "w_phs"):
    PORTING_HINTS[_name] = ("only the spectral losses (stft_loss, mrstft_loss, "
                            "sum_and_difference_loss) take it; leave it out here")


def unknown_keyword(function_name, keyword, known):
    """The KeywordError for `function_name(..., keyword=...)`."""
    hint = PORTING_HINTS.get(keyword)
    if hint is None:
        close = difflib.get_close_matches(keyword, sorted(known), n=1)
        hint = (f"did you mean {close[0]}?" if close
                else f"it takes {', '.join(sorted(known))}")
    return KeywordError(
        f"{function_name}() got an unexpected keyword argument {keyword!r}: {hint}")


def keywords_checked(function_name, known=None):
    """Decorator: an unknown keyword raises unknown_keyword naming `function_name`,
    instead of Python's bare TypeError (or one naming an internal class). `known`: the
    accepted keywords, by default those of the decorated function's signature."""
    def wrap(fn):
        names = known
        if names is None:
            names = {p.name for p in inspect.signature(fn).parameters.values()
                     if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)} - {"self"}
        names = frozenset(names)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            for keyword in kwargs:
                if keyword not in names:
                    raise unknown_keyword(function_name, keyword, names)
            return fn(*args, **kwargs)
        return checked
    return wrap
