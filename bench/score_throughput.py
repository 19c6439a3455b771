"""Throughput of `fastmixloss score` on real music, for one source tree or several.

The dataset comes from the renders of bench/render_music.py: for each song and each kind
of estimate, est/SONG-KIND.wav against ref/SONG-KIND.wav (the song's reference mix), both
16-bit PCM WAV, as a user's dataset would be (the four default songs: 32 pairs of about
30 s, 985 s of audio). Each run is `python -m fastmixloss score EST REF --out FILE
--overwrite -q` in a new process with the default losses, its kernel cache warm (one
untimed run per tree first). Trees are timed in interleaved rounds, the order reversed
every other round, so that a drift in the machine's load falls on all of them alike.

Per tree it prints the wall time of the whole command, the seconds of audio per second
that the run's summary reports (its clock starts after start-up), and the CPU time of
every process of the run (user + sys; on Linux this bench adopts the run's orphans, such
as a fork server, to count them), as median and min-max, and the median over rounds of
each tree's wall and CPU time over the first tree's in the same round::

    python -m bench.render_music --out /tmp/music
    git archive HEAD | tar -x -C /tmp/before          # the code before a change
    python -m bench.score_throughput --music /tmp/music --data /tmp/score-data \\
        --trees before=/tmp/before after=. --rounds 5

A tree is a folder holding the `fastmixloss` package (put first on PYTHONPATH); each
keeps its kernel cache in its own __pycache__.
"""

import argparse
import ctypes
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np
import soundfile


def build_dataset(music, data):
    """est/ and ref/ under `data` from the renders under `music`; returns the seconds of
    audio. Files already there are kept."""
    seconds = 0.0
    for song in sorted(os.listdir(music)):
        reference = os.path.join(music, song, "ref.wav")
        if not os.path.isfile(reference):
            continue
        ref, rate = soundfile.read(reference, dtype="float32")
        for name in sorted(os.listdir(os.path.join(music, song))):
            if not (name.startswith("est-") and name.endswith(".wav")):
                continue
            pair = f"{song}-{name[4:]}"
            for side, path in (("est", os.path.join(music, song, name)),
                               ("ref", reference)):
                target = os.path.join(data, side, pair)
                if not os.path.exists(target):
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    audio = ref if side == "ref" else soundfile.read(path, dtype="float32")[0]
                    soundfile.write(target, np.clip(audio, -1, 1), rate, subtype="PCM_16")
            seconds += ref.shape[0] / rate
    if seconds == 0:
        raise SystemExit(f"no renders under {music}: run python -m bench.render_music")
    return seconds


def adopt_orphans():
    """Make this process the reaper of its descendants' orphans (Linux), so that their
    CPU time reaches RUSAGE_CHILDREN; False where that is not possible."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0   # SUBREAPER
    except (OSError, AttributeError):
        return False


def _reap_all():
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def run_score(tree, data, extra=()):
    """One `fastmixloss score` run of `tree`: (wall seconds, the summary's audio seconds
    per second, CPU seconds of the run's processes)."""
    out = os.path.join(data, f"results-{abs(hash(tree))}.csv")
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "fastmixloss", "score",
                           os.path.join(data, "est"), os.path.join(data, "ref"),
                           "--out", out, "--overwrite", "-q", *extra],
                          cwd=data, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    _reap_all()   # the run's orphans, adopted (see adopt_orphans)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{tree}: exit code {done.returncode}\n{done.stderr[-3000:]}")
    with open(out + ".summary.json") as f:
        summary = json.load(f)
    return wall, summary["this_run"]["audio_seconds_per_second"], cpu


def package_of(tree, data):
    """Where `tree`'s run imports fastmixloss from (to make sure it is that tree)."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    code = "import fastmixloss; print(fastmixloss.__file__)"
    return subprocess.run([sys.executable, "-c", code], cwd=data, env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", default="/work/music",
                        help="renders of bench/render_music.py (default /work/music)")
    parser.add_argument("--data", default="/tmp/fastmixloss-score-data",
                        help="where the dataset is written (default "
                             "/tmp/fastmixloss-score-data)")
    parser.add_argument("--trees", nargs="+", default=["."], metavar="NAME=PATH",
                        help="source trees to time (default: this one)")
    parser.add_argument("--rounds", type=int, default=5, help="timed runs per tree")
    args = parser.parse_args(argv)
    trees = dict(t.split("=", 1) if "=" in t else (t, t) for t in args.trees)
    seconds = build_dataset(args.music, args.data)
    pairs = len(os.listdir(os.path.join(args.data, "est")))
    adopted = adopt_orphans()
    print(f"{pairs} pairs, {seconds:.0f} s of audio; {os.cpu_count()} CPUs"
          + ("" if adopted else "; CPU time of the main processes only"))
    for name, tree in trees.items():
        print(f"{name}: {package_of(tree, args.data)}")
        run_score(tree, args.data)   # compiles or loads the kernels; not timed
    runs = {name: [] for name in trees}
    for round_ in range(args.rounds):
        order = list(trees) if round_ % 2 == 0 else list(trees)[::-1]
        for name in order:
            runs[name].append(run_score(trees[name], args.data))
        print(f"round {round_ + 1}: " + ", ".join(
            f"{name} {runs[name][-1][0]:.2f} s ({runs[name][-1][1]:.1f} s/s, CPU "
            f"{runs[name][-1][2]:.2f} s)" for name in trees), flush=True)
    first = list(trees)[0]
    print(f"\n{'tree':<8} {'wall median (min-max)':>24} {'audio s/s median (min-max)':>28} "
          f"{'CPU median (min-max)':>24} {'wall/' + first:>11} {'CPU/' + first:>10}")
    for name in trees:
        wall, rate, cpu = (list(column) for column in zip(*runs[name]))
        wall_ratio = statistics.median(w / r[0] for w, r in zip(wall, runs[first]))
        cpu_ratio = statistics.median(c / r[2] for c, r in zip(cpu, runs[first]))
        print(f"{name:<8} {_spread(wall, 's'):>24} {_spread(rate, 's/s', 1):>28} "
              f"{_spread(cpu, 's'):>24} {wall_ratio:>11.3f} {cpu_ratio:>10.3f}")


def _spread(values, unit, digits=2):
    return (f"{statistics.median(values):.{digits}f} {unit} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


if __name__ == "__main__":
    main()
