"""Timing in this process, and peak memory, import and first-call times in fresh ones."""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def commit():
    """The checkout's short commit hash (None outside a git checkout)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=ROOT)
    return done.stdout.strip() or None


def time_runs(fn, repeats, warmup=1):
    """Median and spread of `repeats` timed calls after `warmup` untimed ones."""
    return time_rounds({"fn": fn}, repeats, warmup)["fn"]


def time_rounds(fns, repeats, warmup=1):
    """Time several contenders in interleaved rounds: each round calls every one once,
    in the given order on even rounds and reversed on odd ones. On a shared machine the
    load drifts over a minute; timed side by side, round i of two contenders saw the same
    load, so `paired_ratio` of their runs is steadier than a ratio of separate medians
    (and the reversal cancels what one call leaves behind for the next, such as another
    thread pool still spinning). Returns {name: row} as time_runs."""
    values = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            values[name] = fn()
    seconds = {name: [] for name in fns}
    names = list(fns)
    for round_ in range(repeats):
        for name in (names if round_ % 2 == 0 else names[::-1]):
            start = time.perf_counter()
            fns[name]()
            seconds[name].append(time.perf_counter() - start)
    return {name: {"median_s": statistics.median(runs), "min_s": min(runs),
                   "max_s": max(runs), "runs": runs, "value": values.get(name)}
            for name, runs in seconds.items()}


def paired_ratio(runs, other_runs):
    """Median over rounds of runs[i] / other_runs[i] (see time_rounds)."""
    return statistics.median(a / b for a, b in zip(runs, other_runs))


def _python(args, env=None, timeout=3600):
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    done = subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return done.stdout


def probe(workload_id, contender, threads, shape=None, quick=False):
    """Run one contender once in a fresh process: its seconds and peak memory (MB)."""
    args = ["-m", "bench.probe", workload_id, contender, "--threads", str(threads)]
    if shape:
        args += ["--shape", ",".join(map(str, shape))]
    if quick:
        args += ["--quick"]
    return json.loads(_python(args).strip().splitlines()[-1])


_IMPORT = "import time; t = time.perf_counter(); import fastmixloss; print(time.perf_counter() - t)"
_FIRST_CALL = """
import time; t0 = time.perf_counter()
import fastmixloss, numpy as np
t1 = time.perf_counter()
x = np.random.default_rng(0).standard_normal((2, 44100)).astype(np.float32)
fastmixloss.mrstft_loss(x, 0.5 * x)
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def startup(repeats=5):
    """Import time, and import + first MR-STFT call (1 s stereo) with a cold and a warm
    kernel cache, each in new processes."""
    imports = sorted(float(_python(["-c", _IMPORT])) for _ in range(repeats))
    with tempfile.TemporaryDirectory() as cache:
        env = {"NUMBA_CACHE_DIR": cache}
        cold = [float(v) for v in _python(["-c", _FIRST_CALL], env).split()]
        warm = sorted(sum(float(v) for v in _python(["-c", _FIRST_CALL], env).split())
                      for _ in range(repeats))
    return {"import_s": statistics.median(imports),
            "first_call_cold_s": sum(cold),
            "first_call_warm_s": statistics.median(warm)}


def cold_start(dtypes=("float32", "float64"), repeats=3):
    """The command line's default losses compiled from nothing, per dtype: each run in a
    new process with its own empty NUMBA_CACHE_DIR (bench/cold.py). Returns per dtype the
    median and the minimum over `repeats` runs of compile and import seconds, wall and
    CPU (user + sys of the process), and of their wall total; and how the losses were
    called ("evaluate" or "one per loss")."""
    report = {}
    for dtype in dtypes:
        runs = []
        for _ in range(repeats):
            with tempfile.TemporaryDirectory() as cache:
                out = _python(["-m", "bench.cold", dtype], {"NUMBA_CACHE_DIR": cache})
            runs.append(json.loads(out.strip().splitlines()[-1]))
        for run in runs:
            run["total_wall_s"] = run["import_wall_s"] + run["compile_wall_s"]
        row = {"runs": len(runs), "calls": runs[0].get("calls", "one per loss")}
        for key in ("compile_wall_s", "compile_cpu_s", "import_wall_s", "import_cpu_s",
                    "total_wall_s"):
            values = [run[key] for run in runs]
            row[key] = statistics.median(values)
            row[key.replace("_s", "_min_s")] = min(values)
        report[dtype] = row
    return report
