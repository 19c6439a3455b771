"""Deterministic test signals that do not depend on NumPy's random streams.

Golden values computed from these stay valid across NumPy versions: the noise is a
64-bit xorshift generator written out here, and the "music" is built from it and from
sines.
"""

import numpy as np

SAMPLE_RATE = 44100


def noise(shape, seed):
    """Uniform noise in [-1, 1) from xorshift64*, deterministic for (shape, seed)."""
    n = int(np.prod(shape))
    state = np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(seed * 0x100000001B3 + 1)
    out = np.empty(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for i in range(n):
            state ^= state >> np.uint64(12)
            state ^= state << np.uint64(25)
            state ^= state >> np.uint64(27)
            out[i] = state * np.uint64(0x2545F4914F6CDD1D)
    return ((out >> np.uint64(11)).astype(np.float64) / 2.0 ** 53 * 2 - 1).reshape(shape)


def music(n_items, length, seed, channels=2):
    """Stereo 'mixes': a chord with harmonics, a bass line, decaying noise-burst drums,
    panned differently per item. Shape (n_items, channels, length), peak about 0.8."""
    t = np.arange(length) / SAMPLE_RATE
    out = np.zeros((n_items, channels, length))
    for item in range(n_items):
        jitter = noise((8,), seed * 131 + item)
        root = 110.0 * 2 ** ((jitter[0] + 1) * 6 / 12)
        chord = sum(np.sin(2 * np.pi * root * ratio * h * t + 3 * jitter[h]) / h ** 1.5
                    for ratio in (1.0, 1.26, 1.5) for h in range(1, 5))
        bass = 0.8 * np.sin(2 * np.pi * root / 2 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
        beat = int(SAMPLE_RATE * 0.25)
        envelope = np.exp(-(np.arange(length) % beat) / (0.03 * SAMPLE_RATE))
        drums = noise((length,), seed * 7 + item) * envelope
        pan = 0.5 + 0.4 * jitter[1]
        for c in range(channels):
            gain = pan if c == 0 else 1 - pan
            if channels > 2:
                gain = 0.5
            out[item, c] = 0.1 * chord * gain + 0.15 * bass + 0.3 * drums * (1 - gain)
    return 0.8 * out / np.abs(out).max()


def degrade(x, seed, amount=0.1):
    """An 'estimate' of x: gain error, a little delay, added noise."""
    shifted = np.roll(x, 7, axis=-1)
    return 0.9 * shifted + amount * noise(x.shape, seed)
