"""Golden values of the loudness statistics from libebur128 (through pyebur128) and
pyloudnorm 0.2.0, stored in tests/features/loudness_golden.json.

    python -m venv VENV && VENV/bin/pip install pyebur128 pyloudnorm==0.2.0 numpy scipy soundfile
    VENV/bin/python tests/features/make_loudness_golden.py [MUSIC_DIR]

The seeded programmes of loudness_signals.PROGRAMMES at 44.1 and 48 kHz, and, where
MUSIC_DIR is given (bench/render_music.py's output), every mix in it at 44.1 kHz and its
48-kHz copy (the files are named in the JSON; the test compares them where they exist).

libebur128 is read as its own compliance test reads it: maximum momentary and short-term
loudness after every 100 ms of input once the window is full, loudness range in
EBUR128_MODE_LRA, true peak the largest of the channels' ebur128_true_peak.
"""

import json
import pathlib
import platform
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from loudness_signals import PROGRAMMES, programme   # noqa: E402

OUT = HERE / "loudness_golden.json"
RATES = (44100, 48000)


def libebur128_stats(x, rate):
    """x (C, T) float64 -> the statistics as libebur128 gives them."""
    import pyebur128 as eb
    n_channels, n = x.shape
    mode = (eb.MeasurementMode.MODE_I | eb.MeasurementMode.MODE_LRA
            | eb.MeasurementMode.MODE_TRUE_PEAK | eb.MeasurementMode.MODE_SAMPLE_PEAK
            | eb.MeasurementMode.MODE_M | eb.MeasurementMode.MODE_S)
    state = eb.R128State(n_channels, rate, mode)
    hop = (rate + 5) // 10   # libebur128's 100 ms
    momentary, short_term = -np.inf, -np.inf
    interleaved = np.ascontiguousarray(x.T).reshape(-1)
    for start in range(0, n, hop):
        stop = min(n, start + hop)
        state.add_frames(interleaved[start * n_channels:stop * n_channels], stop - start)
        if stop >= 4 * hop:
            momentary = max(momentary, eb.get_loudness_momentary(state))
        if stop >= 30 * hop:
            short_term = max(short_term, eb.get_loudness_shortterm(state))
    true_peak = max(eb.get_true_peak(state, c) for c in range(n_channels))
    sample_peak = max(eb.get_sample_peak(state, c) for c in range(n_channels))
    integrated = eb.get_loudness_global(state)
    return {"integrated": integrated, "loudness_range": eb.get_loudness_range(state),
            "momentary_max": momentary if n >= 4 * hop else None,
            "short_term_max": short_term if n >= 30 * hop else None,
            "true_peak": 20 * np.log10(true_peak), "sample_peak": 20 * np.log10(sample_peak)}


def pyloudnorm_stats(x, rate):
    import pyloudnorm
    meter = pyloudnorm.Meter(rate)
    return {"integrated": meter.integrated_loudness(x.T),
            "loudness_range": meter.loudness_range(x.T)}


def entry(x, rate, source):
    return {"rate": rate, "source": source, "libebur128": libebur128_stats(x, rate),
            "pyloudnorm": pyloudnorm_stats(x, rate)}


def main(music_dir=None):
    import pyebur128
    import pyloudnorm   # noqa: F401
    values = {}
    for name, (seconds, seed, depth) in PROGRAMMES.items():
        for rate in RATES:
            x = programme(seconds, rate, seed, depth)
            values[f"{name}/{rate}"] = entry(x, rate, f"loudness_signals.programme: {name}")
            print(name, rate, values[f"{name}/{rate}"]["libebur128"])
    if music_dir is not None:
        import soundfile
        root = pathlib.Path(music_dir)
        for song in sorted(p for p in root.iterdir() if p.is_dir()):
            for path in sorted(song.glob("*.wav")):
                for rate_dir, rate in (("", 44100), ("sr48000", 48000)):
                    wav = song / rate_dir / path.name
                    audio, got = soundfile.read(wav, dtype="float64", always_2d=True)
                    assert got == rate, (wav, got)
                    key = f"music/{song.name}/{path.stem}/{rate}"
                    values[key] = entry(audio.T.copy(), rate,
                                        str(wav.relative_to(root)))
                    print(key, values[key]["libebur128"])
    meta = {"pyebur128": pyebur128.__version__,
            "libebur128": pyebur128.get_libebur128_version(),
            "pyloudnorm": "0.2.0", "numpy": np.__version__,
            "python": platform.python_version(),
            "made_by": "tests/features/make_loudness_golden.py"}
    OUT.write_text(json.dumps({"meta": meta, "values": values}, indent=1) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:2])
