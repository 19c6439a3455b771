"""Synthetic stereo mixes for the feature tests: a few sources (bass, chords, hi-hat noise,
a lead) with their own pans and envelopes, and estimates that change gains, pans, tone
or dynamics. Everything is seeded, so the golden values refer to exactly these signals."""

import numpy as np

RATE = 44100


def _pan(mono, position):
    """Constant-power pan: position -1 (left) .. 1 (right). (2, T)."""
    angle = (position + 1) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono])


def mix(seconds, *, seed=0, rate=RATE, pans=(0.0, -0.4, 0.6, 0.2), gains=(1, 1, 1, 1),
        brightness=1.0, silence=None, mono=False, lowpass_hz=None):
    """A stereo mix (2, T) float64 of four sources.

    pans, gains: per source (bass, chords, hats, lead). brightness scales the hats' level.
    silence: (start_s, stop_s) of digital silence. mono: both channels equal (dual mono).
    lowpass_hz: remove everything above it, noise floor included (a brick wall on the
    whole signal's spectrum), as band-limited recordings are: the bins above are then
    near-silent, where float32 arithmetic in the STFT would show.
    """
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    t = np.arange(n) / rate
    beat = 0.5
    envelope = np.exp(-((t % beat) / 0.12))
    bass = 0.5 * np.sin(2 * np.pi * 55 * t) * envelope
    chords = 0.15 * sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((220, 277, 330)))
    chords *= 0.6 + 0.4 * np.sin(2 * np.pi * 0.25 * t)
    hats = 0.08 * brightness * rng.standard_normal(n) * np.exp(-((t % (beat / 2)) / 0.03))
    lead = 0.2 * np.sin(2 * np.pi * (440 + 40 * np.sin(2 * np.pi * 5 * t)) * t)
    lead *= (np.sin(2 * np.pi * 0.5 * t) > -0.3)
    out = sum(g * _pan(src, p) for src, g, p in zip((bass, chords, hats, lead), gains, pans))
    out += 1e-4 * rng.standard_normal(out.shape)   # a noise floor, as real recordings have
    if lowpass_hz is not None:
        spectrum = np.fft.rfft(out, axis=-1)
        spectrum[:, np.fft.rfftfreq(n, 1 / rate) > lowpass_hz] = 0.0
        out = np.fft.irfft(spectrum, n=n, axis=-1)
    if mono:
        out = np.repeat(out.mean(axis=0, keepdims=True), 2, axis=0)
    if silence is not None:
        out[:, int(silence[0] * rate):int(silence[1] * rate)] = 0.0
    fade = np.minimum(1.0, np.minimum(t, t[-1] - t) / 0.5)   # fade in and out
    return out * fade


# name: (seconds, reference settings, estimate settings)
GOLDEN_CASES = {
    "gains": (12.0, dict(seed=1), dict(seed=1, gains=(1.4, 0.7, 1.0, 0.8))),
    "pans": (12.0, dict(seed=2), dict(seed=2, pans=(0.0, 0.5, -0.6, 0.0))),
    "bright": (12.0, dict(seed=3), dict(seed=3, brightness=2.5, gains=(0.8, 1, 1, 1))),
    "short_3s": (3.0, dict(seed=4), dict(seed=4, gains=(1.2, 0.9, 1.1, 1.0))),
    "padded_silence": (12.0, dict(seed=5, silence=(0.0, 2.0)),
                       dict(seed=5, gains=(1, 1.3, 1, 0.6))),
    # nothing above 11 kHz: float32 FFTs moved contrast and panning_rms_highs by 3e-3
    # to 8e-3 relative on such signals (measured 2026-12-06), the float64 ones by 1e-4
    "band_limited": (12.0, dict(seed=6, lowpass_hz=11000.0),
                     dict(seed=6, gains=(1.3, 0.8, 1.1, 0.9), pans=(0.1, -0.3, 0.5, 0.2),
                          lowpass_hz=11000.0)),
}


def golden_pair(name, dtype=np.float64):
    """(est, ref) of a golden case, (2, T) each."""
    seconds, ref_kw, est_kw = GOLDEN_CASES[name]
    return mix(seconds, **est_kw).astype(dtype), mix(seconds, **ref_kw).astype(dtype)
