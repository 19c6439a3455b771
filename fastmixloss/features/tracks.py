"""The feature tracks of one item (C, T): the per-frame values every comparison starts from.

Stages, each a kernel call: loudness frames (K-weighted block energies and peaks), the
peak-normalisation gain, the spectral and panning pass over STFT frames, and the dynamics
from per-chunk sums. The post-processing here is per-track NumPy on arrays of frame
counts, never on samples.
"""

import functools
from dataclasses import dataclass, field

import numpy as np

from . import bs1770

N_PANNING_BANDS = 4   # total, low (< 250 Hz), mid (250-2500 Hz), high (> 2500 Hz)


@dataclass
class ItemTracks:
    """Per-frame features of one item. Spectral and dynamics frames share the STFT's
    framing; loudness frames are their own. Arrays are float64."""

    lufs: np.ndarray            # (F_l,) momentary (frame) loudness, LUFS
    peak_db: np.ndarray         # (F_l,) frame sample peak, dBFS
    centroid: np.ndarray        # (C, F) Hz
    bandwidth: np.ndarray       # (C, F) Hz
    contrast: np.ndarray        # (C, K + 1, F) dB, librosa's octave bands from contrast_fmin
    rolloff: np.ndarray         # (C, F) Hz
    flatness_db: np.ndarray     # (C, F) 20*log10(flatness + 1e-30)
    panning_rms: np.ndarray     # (P, F) RMS of the stereo panning spectrum per band
    panning_mean: np.ndarray    # (P, F) its mean: > 0 leans right, < 0 left
    rms_db: np.ndarray          # (C, F) frame RMS level, dB
    dynamic_spread: np.ndarray  # (C, F) mean over samples of dB(|x|) - rms_db
    crest_factor: np.ndarray    # (C, F) dB(peak) / rms_db (the toolkit's ratio of dBs)
    # why a track is NaN, by field name (empty when every track is defined)
    reasons: dict = field(default_factory=dict)


def frequencies(sample_rate, fft_size):
    return np.linspace(0, sample_rate / 2, 1 + fft_size // 2)


def contrast_bands(settings, fft_size):
    """(K + 1, 3) int64 rows (first bin, stop bin, count) of librosa.feature.spectral_contrast's
    sub-bands: octaves from fmin, the first from 0 Hz, the last to Nyquist; each but the last
    drops its top bin, each but the first gains the bin below; count = max(1, rint(quantile *
    bins in the band before the drop))."""
    freq = frequencies(settings.sample_rate, fft_size)
    n_bands = settings.contrast_bands
    edges = np.zeros(n_bands + 2)
    edges[1:] = settings.contrast_fmin * (2.0 ** np.arange(0, n_bands + 1))
    rows = []
    for k, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
        band = np.logical_and(freq >= low, freq <= high)
        index = np.flatnonzero(band)
        if k > 0:
            band[index[0] - 1] = True
        if k == n_bands:
            band[index[-1] + 1:] = True
        bins = np.flatnonzero(band)
        count = int(max(np.rint(settings.contrast_quantile * band.sum()), 1))
        stop = bins[-1] + 1 if k == n_bands else bins[-1]
        rows.append((bins[0], stop, count))
    return _inside_spectrum(np.array(rows, np.int64), fft_size)


def panning_bands(sample_rate, fft_size):
    """(P, 2) int64 [first, stop) bins of the toolkit's panning bands: [0, sr//2], [0, 250],
    [250, 2500], [2500, sr//2] Hz, each edge floor(f * fft_size / sr), cut to the
    spectrum's bins (below 5 kHz the 2500 Hz edge lies past Nyquist; the profiles' rate
    ranges keep every band inside and non-empty)."""
    nyquist = int(sample_rate) // 2
    edges = ((0, nyquist), (0, 250), (250, 2500), (2500, nyquist))
    table = np.array([[int(np.floor(lo * fft_size / sample_rate)),
                       int(np.floor(hi * fft_size / sample_rate))] for lo, hi in edges],
                     np.int64)
    return _inside_spectrum(table, fft_size)


def _inside_spectrum(table, fft_size):
    """The band table with its [first, stop) columns cut to the fft_size // 2 + 1 bins
    of the spectrum (first <= stop): a plan never names a bin the kernel does not have."""
    n_bins = fft_size // 2 + 1
    table[:, 0] = np.clip(table[:, 0], 0, n_bins)
    table[:, 1] = np.clip(table[:, 1], table[:, 0], n_bins)
    return table


def sqrt_hann(fft_size):
    """The toolkit's analysis window: square root of a periodic Hann."""
    return np.sqrt(np.hanning(fft_size + 1)[:-1])


def peak_gain(x, normalisation, peak=None):
    """Gain that brings the item's largest |sample| (`peak`, found when None) to
    normalisation.target_db dBFS (pyloudnorm's normalize.peak); silence: its silent_gain.
    Where the gain overflows float64 (a peak below about 5e-309: denormal samples) it is
    inf, as the toolkit's; see `normalised`."""
    from .kernels.frame_features import max_abs
    peak = max_abs(x) if peak is None else peak
    if peak == 0.0:
        return normalisation.silent_gain
    with np.errstate(over="ignore"):
        return float(np.power(10.0, normalisation.target_db / 20.0) / peak)


def normalised(x, normalisation, peak=None):
    """(signal, gain): the peak normalisation (a profiles.PeakNormalisation) the
    spectral, panning and dynamics tracks read, gain * signal (`peak_gain`).

    A peak outside normalisation.direct_peaks, whose gain would overflow (denormal
    samples) or be denormal, is normalised through a copy of x scaled by a power of two
    (exact), so the tracks are those of x at full scale, to the precision its samples
    keep; the toolkit's gain overflows there (NaN tracks, as the toolkit's)."""
    from .kernels.frame_features import max_abs
    peak = max_abs(x) if peak is None else peak
    low, high = normalisation.direct_peaks
    if peak > 0.0 and not low <= peak <= high:
        # peak into [0.5, 1); ldexp of the samples: the factor itself (up to 2**1074)
        # may not be a float64
        x = np.ldexp(x, -int(np.frexp(peak)[1])).astype(x.dtype, copy=False)
        peak = max_abs(x)
    return x, peak_gain(x, normalisation, peak)


def loudness_tracks(x, settings, peak=None):
    """(lufs (F_l,), peak_db (F_l,)) of the loudness frames of x (C, T): each frame's gated
    loudness with a meter restarted per frame, and its sample peak, both floored at the
    profile's silence_floor_db. `peak`: x's largest |sample| (found when None); beyond
    1e100 the frames are measured on a scaled copy and shifted back."""
    from .kernels.frame_features import max_abs
    frame, hop = settings.loudness_frame, settings.loudness_hop
    n_frames = 1 + (x.shape[1] - frame) // hop
    rate = settings.sample_rate
    scale, shift_db = bs1770.measuring_scale(max_abs(x) if peak is None else peak)
    if scale != 1.0:
        x = x * scale
    blocks = bs1770.block_bounds(frame, rate, settings.loudness_block_s,
                                 settings.loudness_overlap)
    if frame == 2 * hop:
        energies, peaks = _energies_by_chunks(x, hop, n_frames, blocks,
                                              bs1770.k_weighting(rate))
    else:
        from .kernels.block_energies import frame_block_energies
        energies, peaks = frame_block_energies(x, frame, hop, n_frames, blocks,
                                               bs1770.k_weighting(rate))
    lufs = bs1770.gated_loudness(energies, rate, settings.loudness_block_s, shift_db)
    with np.errstate(divide="ignore"):
        peak_db = 20.0 * np.log10(peaks) + shift_db
    return (np.maximum(lufs, settings.silence_floor_db),
            np.maximum(peak_db, settings.silence_floor_db))


def _energies_by_chunks(x, hop, n_frames, blocks, coefficients):
    """(energies (F, C, J), peaks (F,)) of frames of two hops: each hop-long chunk is
    K-weighted once from rest, and a frame's second half is its second chunk plus the
    first chunk's state run on with no input (the frames overlap by half: half the
    filtering of restarting the filters per frame)."""
    from .kernels.block_energies import chunk_energies
    cuts = bs1770.chunk_cuts(blocks, hop)
    basis, gram = _zero_input_basis(tuple(coefficients.ravel()), hop, tuple(cuts))
    squares, dots, states, chunk_peaks = chunk_energies(x, hop, n_frames + 1, cuts,
                                                        coefficients, basis)
    energies = bs1770.frame_energies(squares, dots, states, gram, cuts, blocks, hop)
    return energies, np.maximum(chunk_peaks[:-1], chunk_peaks[1:])


@functools.lru_cache(maxsize=8)
def _zero_input_basis(coefficients, hop, cuts):
    """kernels.block_energies.zero_input_basis, kept for the next signal at the same rate (the
    estimate after the reference), as read-only arrays."""
    from .kernels.block_energies import zero_input_basis
    basis, gram = zero_input_basis(np.array(coefficients).reshape(2, 5), hop,
                                   np.array(cuts, np.int64))
    basis.flags.writeable = False
    gram.flags.writeable = False
    return basis, gram


def power_to_db(values, top_db, amin=1e-10):
    """librosa.power_to_db with ref 1: 10*log10(max(amin, v)), clipped to top_db below the
    array's maximum."""
    db = 10.0 * np.log10(np.maximum(amin, values))
    return np.maximum(db, db.max() - top_db)


@functools.lru_cache(maxsize=8)
def _spectral_constants(settings):
    """(contrast bands, panning bands, the kernel's knobs, window, bin frequencies) of a
    profile at its rate, made once (read-only) for every item and signal."""
    fft = settings.fft_size
    # librosa leaves a frame unnormalised below float32's tiny: the toolkit's spectrogram
    # is complex64 whatever the input
    knobs = np.array([settings.rolloff_percent, settings.flatness_amin,
                      np.finfo(np.float32).tiny])
    arrays = (contrast_bands(settings, fft),
              panning_bands(settings.sample_rate, settings.panning_fft_size), knobs,
              sqrt_hann(fft), frequencies(settings.sample_rate, fft))
    for array in arrays:
        array.flags.writeable = False
    return arrays


def spectral_tracks(x, gain, settings):
    """Spectral and panning tracks of gain * x at the profile's STFT. Returns a dict."""
    import numba
    from .kernels.frame_features import N_SPECTRAL, spectral_tracks as kernel
    fft, hop = settings.fft_size, settings.fft_hop
    n_frames = 1 + (x.shape[1] - fft) // hop
    rate = settings.sample_rate
    ct_bands, pan_bands, knobs, window, freqs = _spectral_constants(settings)
    same_stft = (settings.panning_fft_size, settings.panning_hop) == (fft, hop)
    threads = numba.get_num_threads()
    tracks, panning = kernel(x, gain, window, n_frames, hop, freqs, knobs, ct_bands,
                             pan_bands if same_stft else pan_bands[:0], threads)
    if not same_stft:
        p_fft, p_hop = settings.panning_fft_size, settings.panning_hop
        _, panning = kernel(x, gain, sqrt_hann(p_fft), 1 + (x.shape[1] - p_fft) // p_hop,
                            p_hop, frequencies(rate, p_fft), knobs, ct_bands[:0], pan_bands,
                            threads)
    k = ct_bands.shape[0]
    peaks = tracks[:, :, N_SPECTRAL:N_SPECTRAL + k].transpose(1, 2, 0)      # (C, K, F)
    valleys = tracks[:, :, N_SPECTRAL + k:].transpose(1, 2, 0)
    contrast = np.stack([power_to_db(peaks[c], settings.contrast_top_db)
                         - power_to_db(valleys[c], settings.contrast_top_db)
                         for c in range(x.shape[0])])
    widths = (pan_bands[:, 1] - pan_bands[:, 0]).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        flatness_db = 20.0 * np.log10(tracks[:, :, 3].T + 1e-30)
        n_pan = len(widths)
        panning_mean = panning[:, :n_pan].T / widths[:, None]
        panning_rms = np.sqrt(panning[:, n_pan:].T / widths[:, None])
    if x.shape[0] != 2:   # the panning spectrum needs two channels
        panning_rms = np.full(panning_rms.shape, settings.non_stereo_panning)
        panning_mean = np.full(panning_mean.shape, settings.non_stereo_panning)
    return dict(centroid=tracks[:, :, 0].T, bandwidth=tracks[:, :, 1].T,
                rolloff=tracks[:, :, 2].T, flatness_db=flatness_db, contrast=contrast,
                panning_rms=panning_rms, panning_mean=panning_mean)


def dynamics_tracks(x, gain, settings):
    """(rms_db, dynamic_spread, crest_factor), each (C, F), over the STFT's frames of
    gain * x, from per-chunk sums (chunk = gcd(fft_size, hop))."""
    from .kernels.frame_features import MAX_ABS, SUM_LEVEL_DB, SUM_SQUARES, chunk_sums
    fft, hop = settings.fft_size, settings.fft_hop
    chunk = int(np.gcd(fft, hop))
    n_frames = 1 + (x.shape[1] - fft) // hop
    per_frame, step = fft // chunk, hop // chunk
    n_chunks = (n_frames - 1) * step + per_frame
    sums = chunk_sums(x, gain, chunk, n_chunks)                  # (C, n_chunks, 3)
    # frame f is chunks f*step ... f*step + per_frame - 1: added in that order
    runs = [sums[:, j:j + (n_frames - 1) * step + 1:step] for j in range(per_frame)]
    squares = runs[0][..., SUM_SQUARES].copy()                   # (C, F)
    level = runs[0][..., SUM_LEVEL_DB].copy()
    peak = runs[0][..., MAX_ABS].copy()
    for run in runs[1:]:
        squares += run[..., SUM_SQUARES]
        level += run[..., SUM_LEVEL_DB]
        np.maximum(peak, run[..., MAX_ABS], out=peak)
    rms_db = 20.0 * np.log10(np.sqrt(squares / fft) + 1e-30)
    spread = level / fft - rms_db
    with np.errstate(divide="ignore", invalid="ignore"):
        crest = 20.0 * np.log10(peak + 1e-30) / rms_db
    return rms_db, spread, crest


def frames_shorter_than_block(settings):
    """Why the profile's loudness frames have no loudness at its rate, or None: the
    toolkit's frames are 17640 samples whatever the rate, shorter than the meter's 0.4-s
    gating block above 44.1 kHz (the meter would read a cut block)."""
    if settings.loudness_frame >= settings.shortest_loudness_frame:
        return None
    return (f"loudness frames of {settings.loudness_frame} samples are shorter "
            f"than the meter's {settings.loudness_block_s:g}-s block at "
            f"{settings.sample_rate:g} Hz")


def item_tracks(x, settings, normalisation, loudness=True, peak=None):
    """All tracks of one item x (C, T) (long enough for one frame of each kind); without
    the loudness tracks (None) when `loudness` is False. normalisation: (signal, gain)
    from `normalised`, what the spectral and dynamics tracks read; peak: x's largest
    |sample|, found when None."""
    lufs, peak_db = loudness_tracks(x, settings, peak) if loudness else (None, None)
    reasons = {}
    why = frames_shorter_than_block(settings) if loudness else None
    if why is not None:
        lufs = np.full(lufs.shape, np.nan)
        reasons["lufs"] = why
    signal, gain = normalisation
    spectral = spectral_tracks(signal, gain, settings)
    rms_db, spread, crest = dynamics_tracks(signal, gain, settings)
    return ItemTracks(lufs=lufs, peak_db=peak_db, rms_db=rms_db, dynamic_spread=spread,
                      crest_factor=crest, reasons=reasons, **spectral)
