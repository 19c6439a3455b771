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

The issue's row (10 pairs of 96 s, against the auraloss + soundfile script of
bench/score_auraloss.py, timed in the same rounds)::

    python -m bench.score_throughput --music /tmp/music --pairs 10 --seconds 96 \
        --auraloss --rounds 3 --json bench/results/DATE-score-throughput.json

--pairs/--seconds loop each render (estimate and reference alike) to that length. With
--auraloss the script is one more contender: its wall and CPU time are measured as a
tree's, its audio seconds per second by its own clock (from the first read, after its
imports), and it prints the speed-up of the first tree over it per round (wall of the
whole command, and audio seconds per second by each one's own clock), then the largest
relative difference of each loss between the two (auraloss's S/D halved, so doubled).
"""

import argparse
import csv
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

HERE = os.path.dirname(os.path.abspath(__file__))
CONTENDER = "auraloss"


def render_pairs(music):
    """(song, estimate kind, estimate path, reference path) of every render, ordered so
    that the first n pairs take every song in turn."""
    found = []
    for song in sorted(os.listdir(music)):
        reference = os.path.join(music, song, "ref.wav")
        if not os.path.isfile(reference):
            continue
        kinds = sorted(n[4:-4] for n in os.listdir(os.path.join(music, song))
                       if n.startswith("est-") and n.endswith(".wav"))
        found += [(k, song, os.path.join(music, song, f"est-{k}.wav"), reference)
                  for k in kinds]
    if not found:
        raise SystemExit(f"no renders under {music}: run python -m bench.render_music")
    return [(song, kind, est, ref) for kind, song, est, ref in sorted(found)]


def looped(audio, frames):
    """`audio` (frames, channels) repeated from its start to `frames` frames."""
    return audio[np.arange(frames) % audio.shape[0]]


def build_dataset(music, data, pairs=None, seconds=None):
    """est/ and ref/ under `data` from the renders under `music`, as 16-bit WAV; returns
    the seconds of audio. `pairs`: the first that many (default: every render);
    `seconds`: each pair looped (or cut) to that length (default: as rendered). Files
    already there are kept, so `data` must be used for one choice only."""
    total = 0.0
    for song, kind, est_path, ref_path in render_pairs(music)[:pairs]:
        for side, path in (("est", est_path), ("ref", ref_path)):
            target = os.path.join(data, side, f"{song}-{kind}.wav")
            if not os.path.exists(target):
                audio, rate = soundfile.read(path, dtype="float32")
                if seconds:
                    audio = looped(audio, round(seconds * rate))
                os.makedirs(os.path.dirname(target), exist_ok=True)
                soundfile.write(target, np.clip(audio, -1, 1), rate, subtype="PCM_16")
        info = soundfile.info(os.path.join(data, "est", f"{song}-{kind}.wav"))
        total += info.frames / info.samplerate
    return total


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


def _timed(command, cwd, env, what):
    """Run `command`: (wall seconds, CPU seconds of its processes, its stdout)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    _reap_all()   # the run's orphans, adopted (see adopt_orphans)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if done.returncode != 0:
        raise SystemExit(f"{what}: exit code {done.returncode}\n{done.stderr[-3000:]}")
    return wall, cpu, done.stdout


def results_file(tree, data):
    return os.path.join(data, f"results-{abs(hash(tree))}.csv")


def run_score(tree, data, extra=()):
    """One `fastmixloss score` run of `tree`: (wall seconds, the summary's audio seconds
    per second, CPU seconds of the run's processes)."""
    out = results_file(tree, data)
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    wall, cpu, _ = _timed([sys.executable, "-m", "fastmixloss", "score",
                           os.path.join(data, "est"), os.path.join(data, "ref"),
                           "--out", out, "--overwrite", "-q", *extra], data, env, tree)
    with open(out + ".summary.json") as f:
        summary = json.load(f)
    return wall, summary["this_run"]["audio_seconds_per_second"], cpu


def run_contender(data, threads):
    """One run of the auraloss + soundfile script (bench/score_auraloss.py), as
    run_score: (wall, audio seconds per second by its own clock, CPU seconds)."""
    out = os.path.join(data, "results-auraloss.jsonl")
    wall, cpu, stdout = _timed(
        [sys.executable, os.path.join(HERE, "score_auraloss.py"), os.path.join(data, "est"),
         os.path.join(data, "ref"), "--out", out, "--threads", str(threads)],
        data, dict(os.environ), CONTENDER)
    return wall, json.loads(stdout.strip().splitlines()[-1])["audio_seconds_per_second"], cpu


# auraloss's value of each default loss -> (the command line's column, factor to it):
# auraloss halves S/D's w_sum * sum + w_diff * diff (docs/numerics.md)
SAME_LOSS = {"mse": ("mse", 1.0), "sisdr": ("sisdr", 1.0), "mrstft": ("mrstft.loss", 1.0),
             "sd": ("sd.loss", 2.0)}


def value_differences(tree, data):
    """Per loss, the largest relative difference over the pairs between the contender's
    value (as the command line defines it) and the tree's, from their last runs."""
    with open(results_file(tree, data), newline="") as f:
        ours = {row["pair"]: row for row in csv.DictReader(f)}
    worst = {}
    with open(os.path.join(data, "results-auraloss.jsonl")) as f:
        for line in f:
            theirs = json.loads(line)
            row = ours[theirs["pair"]]
            for name, (column, factor) in SAME_LOSS.items():
                a, b = factor * theirs[name], float(row[column])
                worst[name] = max(worst.get(name, 0.0), abs(a - b) / abs(b))
    return worst


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
    parser.add_argument("--pairs", type=int, default=None,
                        help="use the first N renders only (default: all)")
    parser.add_argument("--seconds", type=float, default=None,
                        help="loop each pair to this length (default: as rendered)")
    parser.add_argument("--auraloss", action="store_true",
                        help="time the auraloss + soundfile script too (needs auraloss)")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="the auraloss script's torch threads (default: every CPU, "
                             "as Numba's default for fastmixloss)")
    parser.add_argument("--json", default=None, help="write the raw results here")
    args = parser.parse_args(argv)
    trees = dict(t.split("=", 1) if "=" in t else (t, t) for t in args.trees)
    seconds = build_dataset(args.music, args.data, args.pairs, args.seconds)
    pairs = len(os.listdir(os.path.join(args.data, "est")))
    adopted = adopt_orphans()
    print(f"{pairs} pairs, {seconds:.0f} s of audio; {os.cpu_count()} CPUs"
          + ("" if adopted else "; CPU time of the main processes only"))
    runners = {name: (lambda tree=tree: run_score(tree, args.data))
               for name, tree in trees.items()}
    for name, tree in trees.items():
        print(f"{name}: {package_of(tree, args.data)}")
    if args.auraloss:
        runners[CONTENDER] = lambda: run_contender(args.data, args.threads)
    load_before = os.getloadavg()
    for run in runners.values():
        run()   # compiles or loads the kernels, fills the page cache; not timed
    runs = {name: [] for name in runners}
    for round_ in range(args.rounds):
        order = list(runners) if round_ % 2 == 0 else list(runners)[::-1]
        for name in order:
            runs[name].append(runners[name]())
        print(f"round {round_ + 1}: " + ", ".join(
            f"{name} {runs[name][-1][0]:.2f} s ({runs[name][-1][1]:.1f} s/s, CPU "
            f"{runs[name][-1][2]:.2f} s)" for name in runners), flush=True)
    first = list(trees)[0]
    report = {"trees": {name: package_of(tree, args.data) for name, tree in trees.items()},
              "pairs": pairs, "audio_seconds": seconds, "cpus": os.cpu_count(),
              "load_average_before": load_before, "load_average_after": os.getloadavg(),
              "rounds": args.rounds, "columns": ["wall_s", "audio_s_per_s", "cpu_s"],
              "runs": runs, "medians": {}}
    print(f"\n{'run':<9} {'wall median (min-max)':>24} {'audio s/s median (min-max)':>28} "
          f"{'CPU median (min-max)':>24} {'wall/' + first:>11} {'CPU/' + first:>10}")
    for name in runners:
        wall, rate, cpu = (list(column) for column in zip(*runs[name]))
        wall_ratio = statistics.median(w / r[0] for w, r in zip(wall, runs[first]))
        cpu_ratio = statistics.median(c / r[2] for c, r in zip(cpu, runs[first]))
        report["medians"][name] = {
            "wall_s": statistics.median(wall), "audio_s_per_s": statistics.median(rate),
            "cpu_s": statistics.median(cpu), "wall_ratio_to_first": wall_ratio,
            "cpu_ratio_to_first": cpu_ratio}
        print(f"{name:<9} {_spread(wall, 's'):>24} {_spread(rate, 's/s', 1):>28} "
              f"{_spread(cpu, 's'):>24} {wall_ratio:>11.3f} {cpu_ratio:>10.3f}")
    if args.auraloss:
        report["against_auraloss"] = _against_contender(runs, first, trees[first], args.data)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


def _against_contender(runs, first, tree, data):
    """Print and return the first tree's speed-up over the auraloss script, per round
    (median): whole command's wall time, and audio seconds per second by each one's own
    clock; and the values' largest relative differences."""
    ours, theirs = runs[first], runs[CONTENDER]
    wall = statistics.median(t[0] / o[0] for o, t in zip(ours, theirs))
    rate = statistics.median(o[1] / t[1] for o, t in zip(ours, theirs))
    cpu = statistics.median(t[2] / o[2] for o, t in zip(ours, theirs))
    differences = value_differences(tree, data)
    print(f"\n{first} over {CONTENDER} (median per round): {wall:.1f}x by the wall time of "
          f"the whole command, {rate:.1f}x by audio seconds per second (each its own "
          f"clock), {cpu:.1f}x by CPU time")
    print("largest relative difference of the values over the pairs: " + ", ".join(
        f"{name} {d:.1e}" for name, d in differences.items()))
    return {"speedup_wall": wall, "speedup_audio_s_per_s": rate, "speedup_cpu": cpu,
            "largest_relative_difference": differences}


def _spread(values, unit, digits=2):
    return (f"{statistics.median(values):.{digits}f} {unit} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


if __name__ == "__main__":
    main()
