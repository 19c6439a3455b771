"""The agreement table of docs/features.md: per statistic and sample rate, the largest
difference between fastmixloss.loudness_stats and libebur128 ("ebu" convention) and
pyloudnorm 0.2.0 ("pyloudnorm" convention), over the golden cases of
loudness_golden.json (made by make_loudness_golden.py).

    FASTMIXLOSS_MUSIC=DIR python tests/features/loudness_agreement.py [--music-only]

DIR: bench/render_music.py's renders (without it, the seeded programmes only).
Not a unit test: test_loudness.py checks the same cases against their tolerances.
"""

import json
import os
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

import fastmixloss as fm   # noqa: E402
from loudness_signals import PROGRAMMES, programme   # noqa: E402

STATS = ("integrated", "loudness_range", "momentary_max", "short_term_max", "true_peak",
         "sample_peak")


def signals(music_only):
    golden = json.loads((HERE / "loudness_golden.json").read_text())["values"]
    music = os.environ.get("FASTMIXLOSS_MUSIC")
    for key, entry in golden.items():
        if key.startswith("music/"):
            if not music:
                continue
            import soundfile
            audio, _ = soundfile.read(pathlib.Path(music) / entry["source"],
                                      dtype="float64", always_2d=True)
            yield key, entry, audio.T.copy()
        elif not music_only:
            name, rate = key.split("/")
            seconds, seed, depth = PROGRAMMES[name]
            yield key, entry, programme(seconds, int(rate), seed, depth)


def main(music_only=False):
    worst = {}
    counts = {}
    for key, entry, x in signals(music_only):
        rate = entry["rate"]
        counts[rate] = counts.get(rate, 0) + 1
        ebu = fm.loudness_stats(x, rate).as_dict()
        pyln = fm.loudness_stats(x, rate, convention="pyloudnorm")
        for name in STATS:
            theirs = entry["libebur128"][name]
            if theirs is not None:
                diff = abs(ebu[name] - theirs)
                worst[(name, rate, "libebur128")] = max(
                    worst.get((name, rate, "libebur128"), 0.0), diff)
        for name in ("integrated", "loudness_range"):
            diff = abs(getattr(pyln, name) - entry["pyloudnorm"][name])
            worst[(name, rate, "pyloudnorm")] = max(worst.get((name, rate, "pyloudnorm"),
                                                              0.0), diff)
    rates = sorted(counts)
    print(f"signals per rate: {counts}")
    print("| statistic | " + " | ".join(f"libebur128 {r / 1000:g} kHz" for r in rates)
          + " | " + " | ".join(f"pyloudnorm {r / 1000:g} kHz" for r in rates) + " |")
    print("| --- " * (1 + 2 * len(rates)) + "|")
    for name in STATS:
        cells = [f"{worst[(name, r, 'libebur128')]:.1e}" for r in rates]
        cells += [f"{worst[(name, r, 'pyloudnorm')]:.1e}" if (name, r, "pyloudnorm") in worst
                  else "-" for r in rates]
        print(f"| {name} | " + " | ".join(cells) + " |")
    return worst


if __name__ == "__main__":
    main("--music-only" in sys.argv)
