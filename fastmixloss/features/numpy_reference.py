"""Plain NumPy twins of the feature kernels, written straight from the formulas (whole
spectrograms, no blocks): slow and obviously right, for the tests. The spectral shape and
loudness tracks are checked against librosa and pyloudnorm themselves; these cover what
no library computes: the panning spectrum and the dynamics."""

import numpy as np


def frames(x, size, hop):
    """(C, F, size) uncentred frames of x (C, T), frame f starting at f*hop."""
    n = 1 + (x.shape[1] - size) // hop
    index = np.arange(n)[:, None] * hop + np.arange(size)[None, :]
    return x[:, index]


def panning_tracks(x, gain, fft_size, hop, sample_rate):
    """(rms (4, F), mean (4, F)) of the stereo panning spectrum of gain * x (2, T), over
    the bands total, lows, mids, highs (bins floor(f * fft_size / sr))."""
    window = np.sqrt(np.hanning(fft_size + 1)[:-1])
    spectra = np.abs(np.fft.rfft(frames(gain * x.astype(np.float64), fft_size, hop) * window,
                                 axis=-1))
    left, right = spectra[0], spectra[1]
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = 2 * left * right / (left ** 2 + right ** 2)
    sps = np.where(left == right, 0.0, (1 - phi) * np.sign(right - left))
    nyquist = int(sample_rate) // 2
    rms, mean = [], []
    for lo, hi in ((0, nyquist), (0, 250), (250, 2500), (2500, nyquist)):
        a = int(np.floor(lo * fft_size / sample_rate))
        b = int(np.floor(hi * fft_size / sample_rate))
        rms.append(np.sqrt(np.sum(sps[:, a:b] ** 2, axis=-1) / (b - a)))
        mean.append(np.sum(sps[:, a:b], axis=-1) / (b - a))
    return np.array(rms), np.array(mean)


def dynamics_tracks(x, gain, frame, hop):
    """(rms_db, spread, crest), each (C, F), of gain * x: the toolkit's formulas."""
    framed = frames(gain * x.astype(np.float64), frame, hop)
    rms_db = 20 * np.log10(np.sqrt(np.sum(framed ** 2, axis=-1) / frame) + 1e-30)
    spread = np.sum(20 * np.log10(np.abs(framed) + 1e-30) - rms_db[..., None], axis=-1) / frame
    crest = 20 * np.log10(np.max(np.abs(framed), axis=-1) + 1e-30) / rms_db
    return rms_db, spread, crest
