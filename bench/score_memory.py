"""Peak memory of a whole `fastmixloss score` run on one long pair, and its values against
the library's on the whole decoded arrays.

    python -m bench.score_memory --music /tmp/music --minutes 30 120 \\
        --json bench/results/DATE-score-memory.json

For each length it writes one 16-bit stereo WAV pair (an estimate render against its
song's reference mix, both looped to that length, written block by block; a 2-hour pair
is 2.5 GB on disk, deleted afterwards unless --keep), then runs `python -m fastmixloss
score EST REF --out FILE --overwrite -q` (default losses) in a new process, its kernel
cache warm (a short pair is scored first, untimed), and polls every process of the run
every 20 ms (this bench adopts the run's orphans, such as the workers' fork server, so
that none leaves the tree; Linux). It reports per process its VmHWM (the kernel's own
peak resident size, read until the process ends), and for the run:

* peak_mb: the sum of the processes' VmHWM, the figure held against the goal. The
  processes run at the same time, so their memory adds up on the machine, and each
  one's peak counted whole bounds the run's true peak from above (the peaks need not
  coincide; pages shared between a fork server and its worker are counted in both);
* rss_sum_mb, pss_sum_mb: the largest sum over the tree at one poll of the resident and
  the proportional set sizes (PSS counts a shared page once, split among its sharers):
  lower bounds, as a poll can miss a peak shorter than its interval.

With --values (on by default for lengths up to 30 minutes), a new process decodes the
whole pair (float32, as the command line does), calls the library's mse, sisdr,
mrstft_loss and sum_and_difference_loss (output="full") on it, and every column of the
run's results file is compared with the library's value: how many are bit-identical
(the results file holds repr of each float), and the largest relative difference.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np
import soundfile

from .score_throughput import adopt_orphans, render_pairs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RATE = 44100
BLOCK = 1 << 20   # frames written at a time: the generator stays small

# A new process that computes the library's values on the whole decoded pair, named as
# the command line names its columns (a loss's name, or name.key of its breakdown).
_WHOLE = """
import json, sys
import soundfile
import fastmixloss as fm
est = soundfile.read(sys.argv[1], dtype="float32")[0].T[None]
ref = soundfile.read(sys.argv[2], dtype="float32")[0].T[None]
values = {"mse": fm.mse(est, ref), "sisdr": fm.sisdr(est, ref)}
for name, loss in (("mrstft", fm.mrstft_loss), ("sd", fm.sum_and_difference_loss)):
    values.update({f"{name}.{k}": v for k, v in loss(est, ref, output="full").to_dict().items()})
print(json.dumps({k: float(v) for k, v in values.items()}))
"""


def write_looped(source, target, frames):
    """`source` (a WAV render) repeated from its start to `frames` frames, written to
    `target` as 16-bit PCM block by block."""
    audio, rate = soundfile.read(source, dtype="float32")
    audio = np.clip(audio, -1, 1)
    os.makedirs(os.path.dirname(target), exist_ok=True)
    with soundfile.SoundFile(target, "w", rate, audio.shape[1], "PCM_16") as out:
        for start in range(0, frames, BLOCK):
            index = np.arange(start, min(start + BLOCK, frames)) % audio.shape[0]
            out.write(audio[index])


def make_pair(music, folder, minutes):
    """est/pair.wav and ref/pair.wav under `folder`, `minutes` long: the first render
    (see score_throughput.render_pairs) looped. Refuses when the disk is short."""
    frames = round(minutes * 60 * RATE)
    need = 2 * frames * 2 * 2 * 1.1   # two files, two channels, 16 bits, and a margin
    os.makedirs(folder, exist_ok=True)
    free = shutil.disk_usage(folder).free
    if free < need:
        raise SystemExit(f"{minutes} min: the pair needs {need / 1e9:.1f} GB, "
                         f"{free / 1e9:.1f} GB free where --data is")
    song, kind, est, ref = render_pairs(music)[0]
    for side, source in (("est", est), ("ref", ref)):
        write_looped(source, os.path.join(folder, side, "pair.wav"), frames)
    return f"{song}-{kind}", frames / RATE


def _descendants(root):
    """{pid: parent pid} of every process below `root`, from /proc."""
    children = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    # the name in parentheses may hold spaces: fields after its ')'
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    found, todo = {}, [root]
    while todo:
        parent = todo.pop()
        for child in children.get(parent, []):
            found[child] = parent
            todo.append(child)
    return found


def _kib(path, keys):
    """{key: kB} of `keys` in a /proc file of 'Key:   123 kB' lines; {} once it is gone."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in keys:
                    out[key] = int(line.split()[1])
    except (OSError, IndexError, ValueError):
        return {}
    return out


def _role(pid, parent, processes, main_pid):
    """What a process of the run is, without its paths: the command line's main
    process, multiprocessing's fork server and resource tracker, or a worker (forked
    from the fork server)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            text = f.read().decode(errors="replace")
    except OSError:
        return "?"
    if pid == main_pid:
        return "main (fastmixloss score)"
    if "resource_tracker" in text:
        return "resource tracker"
    if "forkserver" in text:
        return "worker" if processes.get(parent, {}).get("role") == "fork server" \
            else "fork server"
    return text.replace("\0", " ").strip()[:60]


def run_watched(command, env, cwd, interval=0.02, linger_s=30):
    """Run `command`, polling the memory of every process below this one until it and
    every adopted orphan have ended (or `linger_s` after it, when they are left
    alone). Returns (returncode, stderr tail, wall seconds,
    {pid: {"role", "parent", "hwm_mb"}}, largest RSS sum MB, largest PSS sum MB)."""
    me = os.getpid()
    processes, rss_peak, pss_peak, ended = {}, 0, 0, None
    start = time.perf_counter()
    with open(os.path.join(cwd, "score-stderr.txt"), "w+") as errors:
        run = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                               stderr=errors)
        while True:
            # the run and what descends from it (kept once seen, when an orphan is
            # adopted): not this process's other children, such as a test runner's
            known, tree = set(processes) | {run.pid}, {}
            for pid, parent in sorted(_descendants(me).items()):   # parents come first
                if pid in known or parent in known:
                    known.add(pid)
                    tree[pid] = parent
            rss = pss = 0
            for pid, parent in sorted(tree.items()):   # pids grow: parents come first
                status = _kib(f"/proc/{pid}/status", ("VmHWM", "VmRSS"))
                if not status:
                    continue   # ended, or a zombie: its last VmHWM was read before
                if pid not in processes:
                    processes[pid] = {"role": _role(pid, parent, processes, run.pid),
                                      "parent": parent, "hwm_kb": 0}
                row = processes[pid]
                row["hwm_kb"] = max(row["hwm_kb"], status.get("VmHWM", 0))
                rss += status.get("VmRSS", 0)
                pss += _kib(f"/proc/{pid}/smaps_rollup", ("Pss",)).get("Pss", 0)
            rss_peak, pss_peak = max(rss_peak, rss), max(pss_peak, pss)
            if run.poll() is not None:
                ended = ended or time.perf_counter()
                _reap_ended()
                alive = [pid for pid in _descendants(me) if pid in processes]
                if not alive or time.perf_counter() - ended > linger_s:
                    break
            time.sleep(interval)
        wall = ended - start   # the command's own time, not the orphans' after it
        errors.seek(0)
        tail = errors.read()[-3000:]
    table = {pid: {"role": row["role"], "parent": row["parent"],
                   "hwm_mb": row["hwm_kb"] / 1024}
             for pid, row in processes.items()}
    return run.returncode, tail, wall, table, rss_peak / 1024, pss_peak / 1024


def _reap_ended():
    """Collect adopted orphans that have ended (they would linger as zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def score(tree, folder):
    """`fastmixloss score` of `tree` on the pair under `folder`, watched."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    out = os.path.join(folder, "results.csv")
    command = [sys.executable, "-m", "fastmixloss", "score", os.path.join(folder, "est"),
               os.path.join(folder, "ref"), "--out", out, "--overwrite", "-q"]
    code, tail, wall, processes, rss, pss = run_watched(command, env, folder)
    if code != 0:
        raise SystemExit(f"score on {folder}: exit code {code}\n{tail}")
    with open(out, newline="") as f:
        row = next(csv.DictReader(f))
    if row.get("error"):
        raise SystemExit(f"score on {folder}: {row['error']}")
    with open(out + ".summary.json") as f:
        rate = json.load(f)["this_run"]["audio_seconds_per_second"]
    return {"wall_s": wall, "audio_s_per_s": rate,
            "peak_mb": sum(p["hwm_mb"] for p in processes.values()),
            "largest_process_mb": max(p["hwm_mb"] for p in processes.values()),
            "rss_sum_mb": rss, "pss_sum_mb": pss,
            "processes": {str(pid): p for pid, p in processes.items()}}, row


def whole_values(tree, folder):
    """The library's values on the whole decoded pair, in a new process."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(tree))
    done = subprocess.run(
        [sys.executable, "-c", _WHOLE, os.path.join(folder, "est", "pair.wav"),
         os.path.join(folder, "ref", "pair.wav")],
        env=env, cwd=folder, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the whole-array values: {done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(row, whole):
    """Every library column against the run's: identical count, the relative difference
    of each column that differs, its largest, and the four losses side by side."""
    differing = {}
    for column, expected in whole.items():
        got = float(row[column])
        if got != expected:
            differing[column] = abs(got - expected) / abs(expected)
    headline = {c: {"score": float(row[c]), "library": whole[c]}
                for c in ("mse", "sisdr", "mrstft.loss", "sd.loss")}
    return {"columns": len(whole), "identical": len(whole) - len(differing),
            "largest_relative_difference": max(differing.values(), default=0.0),
            "differing": differing, "losses": headline}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", default="/work/music",
                        help="renders of bench/render_music.py (default /work/music)")
    parser.add_argument("--data", default="/tmp/fastmixloss-score-memory",
                        help="where the pairs are written (default "
                             "/tmp/fastmixloss-score-memory)")
    parser.add_argument("--minutes", type=float, nargs="+", default=[30, 120],
                        help="pair lengths (default 30 120)")
    parser.add_argument("--tree", default=ROOT,
                        help="folder holding the fastmixloss package to run "
                             "(default: this repository)")
    parser.add_argument("--values", choices=("auto", "always", "never"), default="auto",
                        help="compare with the library on the whole arrays: auto does "
                             "for lengths up to 30 minutes")
    parser.add_argument("--keep", action="store_true", help="keep the pairs written")
    parser.add_argument("--json", default=None, help="write the raw results here")
    args = parser.parse_args(argv)
    adopt_orphans()
    report = {"tree": args.tree, "cpus": os.cpu_count(), "lengths": {}}
    warm = os.path.join(args.data, "warm-up")
    make_pair(args.music, warm, 0.1)
    score(args.tree, warm)   # compiles or loads the kernels; not reported
    for minutes in args.minutes:
        folder = os.path.join(args.data, f"{minutes:g}min")
        try:
            pair, seconds = make_pair(args.music, folder, minutes)
            run, row = score(args.tree, folder)
            run.update(pair=pair, audio_seconds=seconds)
            print(f"{minutes:g} min ({pair} looped): peak {run['peak_mb']:.0f} MB (sum of "
                  f"the {len(run['processes'])} processes' VmHWM; largest "
                  f"{run['largest_process_mb']:.0f} MB), polled sums RSS "
                  f"{run['rss_sum_mb']:.0f} MB, PSS {run['pss_sum_mb']:.0f} MB; "
                  f"{run['wall_s']:.1f} s, {run['audio_s_per_s']:.1f} s/s", flush=True)
            for pid, p in run["processes"].items():
                print(f"    {pid:>7} {p['hwm_mb']:7.0f} MB  {p['role']}")
            if args.values == "always" or (args.values == "auto" and minutes <= 30):
                run["values"] = compare(row, whole_values(args.tree, folder))
                v = run["values"]
                print(f"  values: {v['identical']} of {v['columns']} columns bit-identical "
                      f"to the library's on the whole arrays, largest relative difference "
                      f"{v['largest_relative_difference']:.1e}")
                if v["differing"]:
                    worst = sorted(v["differing"], key=v["differing"].get)[::-1][:3]
                    print("    most different: " + ", ".join(
                        f"{c} {v['differing'][c]:.1e}" for c in worst))
                for column, pair_values in v["losses"].items():
                    print(f"    {column:<12} score {pair_values['score']!r:<24} library "
                          f"{pair_values['library']!r}")
            report["lengths"][f"{minutes:g}min"] = run
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(warm, ignore_errors=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return report


if __name__ == "__main__":
    main()
