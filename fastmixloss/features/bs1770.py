"""ITU-R BS.1770-4 loudness as pyloudnorm computes it: K-weighting, 0.4-s gating blocks
with 75 % overlap, absolute gate -70 LUFS, relative gate -10 LU.

The kernels (kernels/block_energies.py) return sums of squared K-weighted samples; this module
holds the filter design, the block bounds and the gating, in NumPy.
"""

from typing import Union

import numpy as np
from numpy.typing import ArrayLike

from .. import validation as check
from ..errors import ParameterError
from .profiles import rate_in_range

# channel weights G_i for L, R, C, Ls, Rs
CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)
# The sample rates (Hz, both ends included) integrated_loudness takes. K-weighting's
# biquads are designed at the signal's rate: from 8 kHz the high shelf's 1500 Hz corner
# lies well below Nyquist (4 kHz) and its +4 dB region is in the band; up to 384 kHz,
# the highest rate common audio interfaces record at (the 38 Hz high pass's poles are
# then 1 - 6e-4, still far from float64's resolution).
LOUDNESS_SAMPLE_RATES = (8000.0, 384000.0)
# Samples above this magnitude are measured on a copy scaled by a power of two (exact)
# and the loudness shifted back: squared K-weighted samples summed over a block would
# overflow float64 from about 1e150 on. Below it the sums stay under 1e220 for any
# signal that fits in memory.
LARGEST_DIRECT_SAMPLE = 1e100
ABSOLUTE_GATE = -70.0      # LUFS
RELATIVE_GATE = -10.0      # LU below the absolutely gated loudness
LOUDNESS_OFFSET = -0.691   # dB


def _biquad(gain_db, q, fc, rate, kind):
    """RBJ cookbook biquad, as pyloudnorm designs its K-weighting stages: b0, b1, b2, a1, a2
    normalised by a0."""
    a = 10 ** (gain_db / 40.0)
    w0 = 2.0 * np.pi * (fc / rate)
    alpha = np.sin(w0) / (2.0 * q)
    cos = np.cos(w0)
    if kind == "high_shelf":
        b = [a * ((a + 1) + (a - 1) * cos + 2 * np.sqrt(a) * alpha),
             -2 * a * ((a - 1) + (a + 1) * cos),
             a * ((a + 1) + (a - 1) * cos - 2 * np.sqrt(a) * alpha)]
        den = [(a + 1) - (a - 1) * cos + 2 * np.sqrt(a) * alpha,
               2 * ((a - 1) - (a + 1) * cos),
               (a + 1) - (a - 1) * cos - 2 * np.sqrt(a) * alpha]
    else:   # high_pass
        b = [(1 + cos) / 2, -(1 + cos), (1 + cos) / 2]
        den = [1 + alpha, -2 * cos, 1 - alpha]
    b = np.array(b) / den[0]
    den = np.array(den) / den[0]
    return [b[0], b[1], b[2], den[1], den[2]]


def k_weighting(rate):
    """(2, 5) float64: the high shelf (+4 dB, Q 1/sqrt 2, 1500 Hz), then the high pass
    (Q 0.5, 38 Hz), each row b0, b1, b2, a1, a2."""
    return np.array([_biquad(4.0, 1 / np.sqrt(2), 1500.0, rate, "high_shelf"),
                     _biquad(0.0, 0.5, 38.0, rate, "high_pass")])


def k_weighting_bs1770(rate):
    """(2, 5) float64, as k_weighting: the K-weighting as ITU-R BS.1770 specifies it (its
    48 kHz coefficients' analog prototype, a high shelf of 3.99984 dB at 1681.97 Hz and a
    38.1355 Hz high pass, by the bilinear transform at `rate`), as libebur128 designs it.
    pyloudnorm's RBJ shelf at 1500 Hz (k_weighting) reads a 1 kHz tone 0.035 dB lower."""
    k = np.tan(np.pi * 1681.974450955533 / rate)
    q = 0.7071752369554196
    vh = 10.0 ** (3.999843853973347 / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0,
             (vh - vb * k / q + k * k) / a0, 2.0 * (k * k - 1.0) / a0,
             (1.0 - k / q + k * k) / a0]
    k = np.tan(np.pi * 38.13547087602444 / rate)
    q = 0.5003270373238773
    a0 = 1.0 + k / q + k * k
    high_pass = [1.0, -2.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, high_pass])


def block_bounds(n_samples, rate, block_s=0.4, overlap=0.75):
    """(J, 2) int64 [lower, upper) bounds of the gating blocks of n_samples samples, exactly
    pyloudnorm's (its float expressions), upper clipped to n_samples."""
    step = 1.0 - overlap
    duration = n_samples / rate
    n_blocks = int(np.round((duration - block_s) / (block_s * step))) + 1
    bounds = np.empty((max(n_blocks, 0), 2), np.int64)
    for j in range(n_blocks):
        bounds[j, 0] = int(block_s * (j * step) * rate)
        bounds[j, 1] = min(int(block_s * (j * step + 1) * rate), n_samples)
    return bounds


def chunk_cuts(blocks, hop):
    """The segment bounds of a chunk of `hop` samples for frames of two chunks: 0, hop and
    every block bound that falls in either half, taken modulo hop. (S + 1,) int64."""
    bounds = np.concatenate(([0, hop], blocks.ravel(), blocks.ravel() - hop))
    return np.unique(bounds[(bounds >= 0) & (bounds <= hop)]).astype(np.int64)


def frame_energies(squares, dots, states, gram, cuts, blocks, hop):
    """Block energies of frames of two chunks, from `kernels.block_energies.chunk_energies`.

    Frame f is chunks f and f + 1 filtered from rest at the frame's start. Its first half
    is chunk f as filtered. Its second half is chunk f + 1 filtered from rest plus the
    zero-input output z = sum_i s_i basis[i] of chunk f's final state s (linearity), so
    over a segment sum (u + z)^2 = sum u^2 + 2 s . dots + s^T gram s.

    squares (K, C, S), dots (K, C, S, 4), states (K, C, 4): per chunk; gram (S, 4, 4);
    cuts (S + 1,); blocks (J, 2) bounds inside the frame. Returns (K - 1, C, J) float64.
    """
    s = states[:-1]
    cross = np.einsum("fcsi,fci->fcs", dots[1:], s)
    quadratic = np.einsum("fci,sij,fcj->fcs", s, gram, s)
    halves = (squares[:-1], squares[1:] + 2.0 * cross + quadratic)
    energies = np.zeros(s.shape[:2] + (blocks.shape[0],))
    for b, (lower, upper) in enumerate(blocks):
        for half, values in enumerate(halves):
            first = np.searchsorted(cuts, min(max(lower - half * hop, 0), hop))
            stop = np.searchsorted(cuts, min(max(upper - half * hop, 0), hop))
            if stop > first:
                energies[:, :, b] += values[:, :, first:stop].sum(axis=-1)
    return energies


def gated_loudness(energies, rate, block_s=0.4, shift_db=0.0, relative_inclusive=False):
    """Integrated loudness from block energies (..., C, J) (sums of squared K-weighted
    samples): LUFS (...,), -inf where no block passes the gates (pyloudnorm's value).

    shift_db: scalar or (...,): the energies are those of the signal scaled by
    10**(-shift_db / 20) (`measuring_scale`); the loudness and the gates are those of the
    signal itself. relative_inclusive: a block at the relative gate passes (libebur128),
    not only those above it (pyloudnorm)."""
    mean_squares = energies / (block_s * rate)
    n_channels = energies.shape[-2]
    weights = np.array(CHANNEL_WEIGHTS[:n_channels])[:, None]
    weighted = np.sum(weights * mean_squares, axis=-2)                 # (..., J)
    offset = LOUDNESS_OFFSET + np.asarray(shift_db, np.float64)
    with np.errstate(divide="ignore"):
        block_loudness = offset[..., None] + 10.0 * np.log10(weighted)
    above_absolute = block_loudness >= ABSOLUTE_GATE
    n_abs = above_absolute.sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_abs = (np.sum(np.where(above_absolute, weighted, 0.0), axis=-1)
                    / np.maximum(n_abs, 1))
        relative = offset + 10.0 * np.log10(mean_abs) + RELATIVE_GATE
    relative = np.where(n_abs > 0, relative, np.nan)
    if relative_inclusive:
        passed = (block_loudness >= relative[..., None]) & above_absolute
    else:
        passed = (block_loudness > relative[..., None]) & (block_loudness > ABSOLUTE_GATE)
    n_passed = passed.sum(axis=-1)
    total = np.sum(np.where(passed, weighted, 0.0), axis=-1) / np.maximum(n_passed, 1)
    with np.errstate(divide="ignore"):
        return np.where(n_passed > 0, offset + 10.0 * np.log10(total), -np.inf)


def measuring_scale(peak):
    """(scale, shift_db) for a signal whose largest |sample| is `peak`: loudness is
    measured on scale * signal and shift_db added back (20 log10 of 1 / scale). The scale
    is 1 up to LARGEST_DIRECT_SAMPLE, else a power of two that brings the peak into
    [0.5, 1): exact, and the squared samples cannot overflow."""
    if not peak > LARGEST_DIRECT_SAMPLE:
        return 1.0, 0.0
    exponent = int(np.frexp(peak)[1])
    return float(np.ldexp(1.0, -exponent)), exponent * 20.0 * np.log10(2.0)


def channel_count_ok(shape, name="x"):
    """ParameterError for more channels than BS.1770 weights; shape: the caller's array's
    shape, (T,), (C, T) or (B, C, T). The channel-last advice only where the shape
    suggests it: a last axis shorter than the channel axis and short enough to be
    channels."""
    if len(shape) < 2 or shape[-2] <= len(CHANNEL_WEIGHTS):
        return
    n_channels, length = shape[-2], shape[-1]
    text = (f"{name} has {n_channels} channels (shape {tuple(shape)}); the loudness and "
            f"mix-feature metrics take at most {len(CHANNEL_WEIGHTS)}, the channels "
            "BS.1770 weights (L, R, C, Ls, Rs)")
    if length < n_channels and length <= check.MAX_CHANNELS:
        fix = (f"pass {name}.T" if len(shape) == 2 else f"pass np.moveaxis({name}, -1, -2)")
        text += (f". Signals are channels first: {fix} if the array is channel-last "
                 "(samples, channels), as soundfile.read returns it")
    raise ParameterError(text)


@check.keywords_checked("fastmixloss.integrated_loudness")
def integrated_loudness(x: ArrayLike, sample_rate: float, *,
                        block_size: float = 0.4) -> Union[float, np.ndarray]:
    """Integrated loudness (ITU-R BS.1770-4, gated) in LUFS, as pyloudnorm's
    ``Meter(sample_rate).integrated_loudness``.

    Parameters
    ----------
    x : array_like, shape (T,), (C, T) or (B, C, T)
        float32 or float64, channels first (pyloudnorm takes (T, C)); C <= 5, weighted
        as L, R, C, Ls, Rs. At least one block long. Any finite samples: beyond 1e100
        the loudness is measured on a copy scaled by a power of two and shifted back,
        so that squared samples cannot overflow.
    sample_rate : float
        Hz, within LOUDNESS_SAMPLE_RATES (8 kHz to 384 kHz, both included: the range
        where K-weighting's filters are designed well); others raise ParameterError.
    block_size : float, default 0.4
        Gating block in seconds (0.4 in BS.1770); at least one sample long.

    Returns
    -------
    float or numpy.ndarray
        A float for (T,) and (C, T) input, a (B,) float64 array for (B, C, T). -inf
        when no block passes the absolute gate (digital silence), as pyloudnorm.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> t = np.arange(48000) / 48000
    >>> tone = np.sin(2 * np.pi * 1000 * t)        # 1 s of a full-scale 1 kHz sine
    >>> round(fastmixloss.integrated_loudness(tone, 48000), 1)
    -3.0
    >>> round(fastmixloss.integrated_loudness(tone, 48000)
    ...       - fastmixloss.integrated_loudness(0.5 * tone, 48000), 2)   # half: 6 dB less
    6.02
    >>> fastmixloss.integrated_loudness(np.zeros((2, 1, 48000)), 48000)
    array([-inf, -inf])
    """
    x3, ndim = check.as_signal(x, "x", check_channels=False)
    rate = check.finite_float("sample_rate", sample_rate, strictly_positive=True)
    rate_in_range(rate, *LOUDNESS_SAMPLE_RATES, "integrated_loudness's")
    block_size = check.finite_float("block_size", block_size, strictly_positive=True)
    if block_size * rate < 1:
        raise ParameterError(
            f"block_size={block_size!r} s holds {block_size * rate:.3g} samples at "
            f"{rate:g} Hz: a gating block needs at least one sample")
    channel_count_ok(x3.shape[3 - ndim:])
    n_samples = x3.shape[2]
    if n_samples < block_size * rate:
        raise ParameterError(
            f"x has {n_samples} samples, shorter than one block of block_size={block_size!r}"
            f" s at {rate:g} Hz ({block_size * rate:g} samples); pass a longer signal or "
            "a shorter block_size")
    check.raise_if_nonfinite(x3, x3, names=("x",), can_skip=False)
    result = loudness_of_items(x3, rate, block_size)
    return float(result[0]) if ndim < 3 else result


def loudness_of_items(x3, rate, block_size=0.4, peaks=None):
    """integrated_loudness of checked input: x3 (B, C, T), at least one block long;
    peaks: each item's largest |sample|, found when None. Returns (B,) float64."""
    from .kernels.frame_features import max_abs
    from .kernels.block_energies import segment_energies
    n_items, n_channels, n_samples = x3.shape
    if peaks is None:
        peaks = [max_abs(item) for item in x3]
    scales, shifts = np.array([measuring_scale(peak) for peak in peaks]).T
    if (scales != 1.0).any():
        x3 = x3 * scales[:, None, None].astype(x3.dtype)
    bounds = block_bounds(n_samples, rate, block_size)
    cuts = np.unique(np.concatenate(([0], bounds.ravel(), [n_samples])))
    segments = segment_energies(x3.reshape(n_items * n_channels, n_samples), cuts,
                                k_weighting(rate))
    energies = block_energies(segments, cuts, bounds).reshape(n_items, n_channels, -1)
    return gated_loudness(energies, rate, block_size, shifts)


def block_energies(segments, cuts, bounds):
    """Each block's energy, the sum of the segments it spans: (R, S) -> (R, J)."""
    first = np.searchsorted(cuts, bounds[:, 0])
    stop = np.searchsorted(cuts, bounds[:, 1])
    out = np.zeros((segments.shape[0], bounds.shape[0]))
    for offset in range(int((stop - first).max(initial=0))):
        index = first + offset
        inside = index < stop
        out[:, inside] += segments[:, index[inside]]
    return out
