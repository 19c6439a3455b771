"""EBU R 128 statistics of one 3-minute stereo song: fastmixloss.loudness_stats against
libebur128 (through pyebur128) computing the same set, in one run.

    python -m bench.loudness --music DIR --ebur128-python VENV/bin/python \\
        --json bench/results/DATE-loudness.json

The set: integrated loudness, loudness range, maximum momentary and short-term loudness
(read every 100 ms), true peak and sample peak, of a (2, 180 * 44100) float32 song: the
mixes of bench/render_music.py under DIR (--music) joined and cut to 3 minutes, or
without --music a song made of bench.workloads' noise with a slow envelope.

libebur128 runs where pyebur128 imports: in this interpreter, or in the one
--ebur128-python names (a throwaway virtual environment), as a subprocess that times
one measurement per request, so that both contenders are timed in interleaved rounds
(bench.measure.paired_ratio: the median over rounds of the two times of one round). Its
time includes interleaving the channels (what libebur128 reads) and feeding 100-ms
pieces (what reading the maxima takes). Both use the song in float32 as their input;
fastmixloss reads it as it is, libebur128 as float32 frames.

Goal (issue 21): at least 5x faster than libebur128.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np

from .measure import ROOT, paired_ratio

RATE = 44100
SECONDS = 180
GOAL_SPEEDUP = 5.0

# the libebur128 side: run by the interpreter that has pyebur128; one line in, one out
LIBEBUR128_SERVER = r'''
import json, sys, time
import numpy as np
import pyebur128 as eb

x = np.load(sys.argv[1])
rate = int(sys.argv[2])
mode = (eb.MeasurementMode.MODE_I | eb.MeasurementMode.MODE_LRA
        | eb.MeasurementMode.MODE_TRUE_PEAK | eb.MeasurementMode.MODE_SAMPLE_PEAK)


def measure():
    n_channels, n = x.shape
    state = eb.R128State(n_channels, rate, mode)
    frames = np.ascontiguousarray(x.T).reshape(-1)
    hop = (rate + 5) // 10
    momentary = short_term = -np.inf
    for start in range(0, n, hop):
        stop = min(n, start + hop)
        state.add_frames(frames[start * n_channels:stop * n_channels], stop - start)
        if stop >= 4 * hop:
            momentary = max(momentary, eb.get_loudness_momentary(state))
        if stop >= 30 * hop:
            short_term = max(short_term, eb.get_loudness_shortterm(state))
    return {"integrated": eb.get_loudness_global(state),
            "loudness_range": eb.get_loudness_range(state),
            "momentary_max": momentary, "short_term_max": short_term,
            "true_peak": float(20 * np.log10(max(eb.get_true_peak(state, c)
                                                 for c in range(n_channels)))),
            "sample_peak": float(20 * np.log10(max(eb.get_sample_peak(state, c)
                                                   for c in range(n_channels))))}


print(json.dumps({"pyebur128": eb.__version__,
                  "libebur128": eb.get_libebur128_version()}), flush=True)
for line in sys.stdin:
    start = time.perf_counter()
    values = measure()
    print(json.dumps({"seconds": time.perf_counter() - start, "values": values}), flush=True)
'''


def make_song(music_dir=None):
    """(2, SECONDS * RATE) float32, C-contiguous."""
    n = SECONDS * RATE
    if music_dir:
        import soundfile
        mixes = sorted(pathlib.Path(music_dir).glob("*/ref.wav"))
        mixes += sorted(pathlib.Path(music_dir).glob("*/est-*.wav"))
        parts, total = [], 0
        for path in mixes:
            audio, rate = soundfile.read(path, dtype="float32", always_2d=True)
            if rate != RATE:
                continue
            parts.append(audio.T)
            total += audio.shape[0]
            if total >= n:
                break
        if total < n:
            raise SystemExit(f"{music_dir}: {total / RATE:.0f} s of 44.1-kHz mixes, "
                             f"{SECONDS} s needed")
        return np.ascontiguousarray(np.concatenate(parts, axis=1)[:, :n]), "music renders"
    from .workloads import make_inputs
    _, ref = make_inputs((2, n), seed=3)
    envelope = 10 ** (-12 * (0.5 + 0.5 * np.sin(np.arange(n) * 2 * np.pi / (20 * RATE))) / 20)
    return np.ascontiguousarray(ref * envelope.astype(np.float32)), "noise, slow envelope"


class Libebur128:
    """A process with pyebur128 that measures the song once per `run()`."""

    def __init__(self, python, song_path):
        self.process = subprocess.Popen(
            [python, "-c", LIBEBUR128_SERVER, song_path, str(RATE)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, text=True, cwd=ROOT)
        self.versions = json.loads(self.process.stdout.readline())

    def run(self):
        self.process.stdin.write("go\n")
        self.process.stdin.flush()
        answer = json.loads(self.process.stdout.readline())
        return answer["seconds"], answer["values"]

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=60)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--music", help="bench/render_music.py's output folder")
    parser.add_argument("--ebur128-python", default=sys.executable,
                        help="an interpreter where pyebur128 imports (default: this one)")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the results there")
    args = parser.parse_args(argv)
    import numba
    numba.set_num_threads(args.threads)
    import fastmixloss
    song, source = make_song(args.music)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "song.npy")
        np.save(path, song)
        theirs = Libebur128(args.ebur128_python, path)
        try:
            fastmixloss.loudness_stats(song[:, :5 * RATE], RATE)   # compile or load
            runs = {"fastmixloss": [], "libebur128": []}
            for round_ in range(args.repeats + 1):
                order = ["fastmixloss", "libebur128"]
                for name in (order if round_ % 2 == 0 else order[::-1]):
                    if name == "fastmixloss":
                        start = time.perf_counter()
                        ours = fastmixloss.loudness_stats(song, RATE).as_dict()
                        seconds = time.perf_counter() - start
                    else:
                        seconds, reference = theirs.run()
                    if round_:   # the first round warms both up
                        runs[name].append(seconds)
        finally:
            theirs.close()
    speedup = paired_ratio(runs["libebur128"], runs["fastmixloss"])
    median = {name: float(np.median(values)) for name, values in runs.items()}
    report = {
        "workload": f"loudness_stats of 1 x 2 x {SECONDS * RATE} float32 ({source})",
        "threads": args.threads, "repeats": args.repeats,
        "seconds_median": median, "runs": runs,
        "speedup_vs_libebur128": speedup, "goal_speedup": GOAL_SPEEDUP,
        "goal_met": speedup >= GOAL_SPEEDUP,
        "values": {"fastmixloss": ours, "libebur128": reference},
        "differences": {k: ours[k] - reference[k] for k in ours if k in reference},
        "versions": dict(theirs.versions, fastmixloss=fastmixloss.__version__,
                         numpy=np.__version__, python=platform.python_version()),
        "load_average": os.getloadavg(),
    }
    print(f"{report['workload']}, {args.threads} threads, {args.repeats} rounds")
    for name, seconds in median.items():
        print(f"  {name:12s} median {seconds:.3f} s  (min {min(runs[name]):.3f})")
    print(f"  speedup (median of per-round ratios): {speedup:.1f}x "
          f"(goal {GOAL_SPEEDUP:g}x: {'met' if report['goal_met'] else 'NOT met'})")
    for key, diff in report["differences"].items():
        print(f"  {key:15s} fastmixloss {ours[key]:9.4f}  libebur128 {reference[key]:9.4f}"
              f"  diff {diff:+.4f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
