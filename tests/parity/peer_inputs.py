"""Inputs of the peer golden values (tests/data/peers_golden.json).

Each input is an (estimate, reference) pair built from tests/signals.py, so the suite can
regenerate it without the peers, without audio files and across NumPy versions. The
JSON stores the recipe string of each input next to its values; ``peer_input(name,
dtype)`` rebuilds it. Shapes are (items, channels, samples); every peer that takes mono
rows gets them as (items * channels, samples), item-major, as its own code reshapes.
"""

import functools
import os

import numpy as np

from signals import degrade, music

# name -> (n_items, channels, length, seed); estimate = degrade(ref, seed + 100, 0.05)
INPUTS = {
    "music_b2_stereo": (2, 2, 44100, 31),
    "music_b1_mono": (1, 1, 44100, 32),
}


# Excerpts of the FluidSynth renders (bench/render_music.py) for checks on real music:
# name -> [(song, estimate mix, start second)], RENDER_SECONDS long, stereo or folded to
# mono. Not used by the test suite (the renders are not in the repository); make
# write_render_excerpts() collects them into one .npz that every peer's interpreter reads.
RENDER_EXCERPTS = {
    "render_b2_stereo": [("pop_c_112", "est-gains", 10.0), ("funk_e_98", "est-tilt", 8.0)],
    "render_b1_mono": [("ballad_am_72", "est-gains", 5.0)],
}
RENDER_SECONDS = 1.5
EXCERPT_FILE = os.environ.get("FASTMIXLOSS_PEER_EXCERPTS", "/work/music/peer_excerpts.npz")


def write_render_excerpts(music_dir="/work/music", path=EXCERPT_FILE, rate=44100):
    """Cut the excerpts from the 44.1 kHz renders into one .npz (needs soundfile)."""
    import soundfile
    arrays = {}
    for name, parts in RENDER_EXCERPTS.items():
        pairs = []
        for song, estimate, start in parts:
            first, count = int(start * rate), int(RENDER_SECONDS * rate)
            pair = [soundfile.read(os.path.join(music_dir, song, f"{mix}.wav"), dtype="float64",
                                   start=first, frames=count)[0].T for mix in (estimate, "ref")]
            if name.endswith("mono"):
                pair = [x.mean(axis=0, keepdims=True) for x in pair]
            pairs.append(pair)
        arrays[name + "_est"] = np.stack([p[0] for p in pairs])
        arrays[name + "_ref"] = np.stack([p[1] for p in pairs])
    np.savez(path, **arrays)


def recipe(name):
    """The input as a line of Python over tests/signals.py (stored in the JSON)."""
    if name in RENDER_EXCERPTS:
        return (f"{RENDER_SECONDS} s from each of {RENDER_EXCERPTS[name]} (song, estimate mix, "
                "start s) of the 44.1 kHz renders of bench/render_music.py, stacked as items"
                + (", channels averaged" if name.endswith("mono") else ""))
    n_items, channels, length, seed = INPUTS[name]
    return (f"ref = music({n_items}, {length}, seed={seed}, channels={channels}); "
            f"est = degrade(ref, seed={seed + 100}, amount=0.05); both .astype(dtype)")


def peer_input(name, dtype="float64"):
    """(estimate, reference), each of shape (items, channels, samples) and dtype; new
    arrays on every call."""
    est, ref = _float64_input(name)
    return est.astype(dtype), ref.astype(dtype)


@functools.lru_cache(maxsize=None)
def _float64_input(name):
    # the xorshift noise is a Python loop: build each input once per process
    if name in RENDER_EXCERPTS:
        with np.load(EXCERPT_FILE) as saved:
            est, ref = saved[name + "_est"], saved[name + "_ref"]
        est.flags.writeable = ref.flags.writeable = False
        return est, ref
    n_items, channels, length, seed = INPUTS[name]
    ref = music(n_items, length, seed=seed, channels=channels)
    est = degrade(ref, seed=seed + 100, amount=0.05)
    est.flags.writeable = ref.flags.writeable = False
    return est, ref


def as_rows(x):
    """(items, channels, samples) -> (items * channels, samples), item-major."""
    return np.ascontiguousarray(x.reshape(-1, x.shape[-1]))
