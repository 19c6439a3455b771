"""Signals for the loudness statistics' tests: the EBU Tech 3341 and Tech 3342 test cases
synthesised from the documents' descriptions (stereo 1 kHz sines at the stated levels and
durations), and seeded programmes whose level moves (for the loudness range).

Levels are dBFS peak per channel, as the documents state them: a stereo 1 kHz sine at
-23 dBFS reads -23 LUFS.
"""

import numpy as np

if __package__:   # the tests import it from their package, make_loudness_golden.py alone
    from .signals import mix
else:
    from signals import mix


def sine_sequence(rate, parts, frequency=1000.0, channels=2, phase=0.0):
    """(channels, T) float64: a sine whose level steps through `parts`, (dBFS or None for
    silence, seconds) each, the phase running on across the steps."""
    lengths = [int(round(seconds * rate)) for _, seconds in parts]
    t = np.arange(sum(lengths)) / rate
    out = np.sin(2 * np.pi * frequency * t + phase)
    start = 0
    for (level, _), n in zip(parts, lengths):
        out[start:start + n] *= 0.0 if level is None else 10 ** (level / 20)
        start += n
    return np.repeat(out[None], channels, axis=0)


# Tech 3341 Table 1, cases 1-6: (parts, expected integrated LUFS); +-0.1 LU
TECH3341_INTEGRATED = {
    1: ([(-23.0, 20.0)], -23.0),
    2: ([(-33.0, 20.0)], -33.0),
    3: ([(-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0)], -23.0),
    4: ([(-72.0, 10.0), (-36.0, 10.0), (-23.0, 60.0), (-36.0, 10.0), (-72.0, 10.0)], -23.0),
    5: ([(-26.0, 20.0), (-20.0, 20.1), (-26.0, 20.0)], -23.0),
}
# case 6: five channels L, R, C, Ls, Rs at these levels, 20 s: -23 LUFS
TECH3341_CASE6_LEVELS = (-28.0, -28.0, -24.0, -30.0, -30.0)
# cases 9 and 12: a level alternating with the window's period, so every full window
# reads -23 LUFS: (window, parts of one period, repeats)
TECH3341_CONSTANT = {
    9: ("short_term", [(-20.0, 1.34), (-30.0, 1.66)], 20),
    12: ("momentary", [(-20.0, 0.18), (-30.0, 0.22)], 25),
}
# cases 10 and 13: one burst at -23 dBFS at an offset (20 offsets within the 100-ms grid
# of the windows), silence around it: the maximum reads -23 +-0.1 LU
TECH3341_BURST = {10: ("short_term", 3.0), 13: ("momentary", 0.4)}
# cases 11 and 14: successive bursts at -38, -37, ..., -19 dBFS, each in its own 5 s
TECH3341_STAIRS = {11: ("short_term", 3.0), 14: ("momentary", 0.4)}
STAIR_LEVELS = tuple(float(level) for level in range(-38, -18))
STAIR_SECONDS = 5.0
# cases 15-19, at 48 kHz: (frequency as a fraction of the rate, amplitude, phase in
# degrees, expected dBTP); +0.2 / -0.4 dB
TECH3341_TRUE_PEAK = {
    15: (1 / 4, 0.50, 0.0, -6.0),
    16: (1 / 4, 0.50, 45.0, -6.0),
    17: (1 / 6, 0.50, 60.0, -6.0),
    18: (1 / 8, 0.50, 67.5, -6.0),
    19: (1 / 4, 1.41, 45.0, 3.0),
}
# Tech 3342 Table 1, cases 1-4: 20-s steps, (levels, expected LRA); +-1 LU
TECH3342_RANGE = {
    1: ((-20.0, -30.0), 10.0),
    2: ((-20.0, -15.0), 5.0),
    3: ((-40.0, -20.0), 20.0),
    4: ((-50.0, -35.0, -20.0, -35.0, -50.0), 15.0),
}


def burst(rate, seconds, offset_s, before_s=1.0, after_s=1.0):
    """A burst of `seconds` at -23 dBFS starting at before_s + offset_s."""
    return sine_sequence(rate, [(None, before_s + offset_s), (-23.0, seconds),
                                (None, after_s)])


def stairs(rate, seconds):
    """Bursts of `seconds` at STAIR_LEVELS, each at the start of its own STAIR_SECONDS."""
    parts = []
    for level in STAIR_LEVELS:
        parts += [(level, seconds), (None, STAIR_SECONDS - seconds)]
    return sine_sequence(rate, parts)


def true_peak_case(rate, fraction, amplitude, phase_deg, seconds=1.0, fade_s=0.01):
    """A steady sine; its first and last fade_s fade in and out (raised cosine), so that
    the peak measured is the sine's, not the overshoot of a step from silence."""
    n = int(round(seconds * rate))
    x = amplitude * np.sin(2 * np.pi * fraction * np.arange(n) + np.deg2rad(phase_deg))
    edge = np.minimum(np.arange(n), np.arange(n)[::-1]) / (fade_s * rate)
    x *= np.where(edge < 1.0, 0.5 - 0.5 * np.cos(np.pi * np.minimum(edge, 1.0)), 1.0)
    return np.stack([x, x])


def programme(seconds, rate, seed, depth_db=12.0):
    """A stereo mix (signals.mix) whose level moves by up to depth_db in steps of a few
    seconds: a loudness range of several LU."""
    x = mix(seconds, seed=seed, rate=rate)
    rng = np.random.default_rng(seed + 100)
    n_steps = int(np.ceil(seconds / 4.0))
    gains_db = -depth_db * rng.random(n_steps)
    gain = np.repeat(10 ** (gains_db / 20), int(round(4.0 * rate)))[:x.shape[1]]
    return x * gain


# seeded programmes for the agreement with libebur128 and pyloudnorm: name -> (seconds,
# seed, depth_db)
PROGRAMMES = {
    "steady_20s": (20.0, 11, 0.0),
    "moving_40s": (40.0, 12, 12.0),
    "wide_60s": (60.0, 13, 24.0),
    "short_5s": (5.0, 14, 6.0),
}
