"""Inputs of the peer golden values (tests/data/peers_golden.json).

Each input is an (estimate, reference) pair built from tests/signals.py, so the suite can
regenerate it without the peers, without audio files and across NumPy versions. The
JSON stores the recipe string of each input next to its values; ``peer_input(name,
dtype)`` rebuilds it. Shapes are (items, channels, samples); every peer that takes mono
rows gets them as (items * channels, samples), item-major, as its own code reshapes.
"""

import numpy as np

from signals import degrade, music

# name -> (n_items, channels, length, seed); estimate = degrade(ref, seed + 100, 0.05)
INPUTS = {
    "music_b2_stereo": (2, 2, 44100, 31),
    "music_b1_mono": (1, 1, 44100, 32),
}


def recipe(name):
    """The input as a line of Python over tests/signals.py (stored in the JSON)."""
    n_items, channels, length, seed = INPUTS[name]
    return (f"ref = music({n_items}, {length}, seed={seed}, channels={channels}); "
            f"est = degrade(ref, seed={seed + 100}, amount=0.05); both .astype(dtype)")


def peer_input(name, dtype="float64"):
    """(estimate, reference), each of shape (items, channels, samples) and dtype."""
    n_items, channels, length, seed = INPUTS[name]
    ref = music(n_items, length, seed=seed, channels=channels)
    est = degrade(ref, seed=seed + 100, amount=0.05)
    return est.astype(dtype), ref.astype(dtype)


def as_rows(x):
    """(items, channels, samples) -> (items * channels, samples), item-major."""
    return np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
