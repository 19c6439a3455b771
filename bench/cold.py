"""The command line's default losses from a cold kernel cache, per dtype.

    python -m bench.cold --repeats 3 --json FILE    # both dtypes, each run a new process
    python -m bench.cold float32                    # one run, here (the cache must be empty)

Run in a new process with a fresh, empty NUMBA_CACHE_DIR (bench.measure.cold_start does
both), it imports fastmixloss and computes mse, sisdr, mrstft and sd once on a short
stereo pair, as `fastmixloss score` does before its first pair: in one call of
`fastmixloss.evaluate` where the library has it (the one-pass evaluation the command line
uses), else one call per loss. It prints a JSON line (`"calls"` says which):
the import, and the calls (which compile every kernel they need), as wall seconds and as
this process's CPU seconds (user + sys, every thread): on a shared machine the CPU time
is the steadier figure. Without a dtype, bench.measure.cold_start runs it per dtype, each
run in a new process with an empty NUMBA_CACHE_DIR, and the medians are printed.
"""

import argparse
import json
import resource
import time


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def print_rows(rows, log=print):
    """The rows of bench.measure.cold_start, with the goal."""
    log("\ncold start: the command line's default losses (mse, sisdr, mrstft, sd), first "
        "call in a new process with an empty NUMBA_CACHE_DIR (goal: at most 4 s per dtype)")
    log(f"  {'dtype':8s} {'compile s':>10s} {'CPU s':>7s} {'import s':>9s} {'total s':>8s}"
        f"  (median of runs; calls)")
    for dtype, row in rows.items():
        log(f"  {dtype:8s} {row['compile_wall_s']:10.2f} {row['compile_cpu_s']:7.2f} "
            f"{row['import_wall_s']:9.2f} {row['total_wall_s']:8.2f}  ({row['runs']}; "
            f"{row['calls']})")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dtype", nargs="?", choices=("float32", "float64"),
                        help="one run in this process (default: both, in new processes)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per dtype")
    parser.add_argument("--json", default=None, help="write the rows here")
    args = parser.parse_args(argv)
    if args.dtype is None:
        from .measure import cold_start
        rows = cold_start(repeats=args.repeats)
        print_rows(rows)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(rows, f, indent=1)
        return
    probe(args.dtype)


def probe(dtype):
    """One cold start of `dtype`, timed from the imports on; prints its JSON line."""
    wall, cpu = time.perf_counter(), cpu_seconds()
    import numpy as np

    import fastmixloss as fm
    import_wall, import_cpu = time.perf_counter() - wall, cpu_seconds() - cpu

    from fastmixloss.evaluation import DEFAULT_LOSSES
    calls = {"mse": fm.mse, "sisdr": fm.sisdr,
             "mrstft": lambda e, r: fm.mrstft_loss(e, r, output="full"),
             "sd": lambda e, r: fm.sum_and_difference_loss(e, r, output="full")}
    if set(calls) != set(DEFAULT_LOSSES):
        raise SystemExit(f"bench.cold times {sorted(calls)}, but the command line's "
                         f"default losses are now {DEFAULT_LOSSES}: update bench/cold.py")
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1, 2, 4096)).astype(dtype)
    # SI-SDR near 0 dB, as most pairs: an estimate within about 20 dB of its reference
    # also compiles SI-SDR's exact recomputation (0.6 s), which few pairs need
    est = (0.5 * ref + 0.5 * rng.standard_normal((1, 2, 4096))).astype(dtype)
    one_pass = hasattr(fm, "evaluate")
    wall, cpu = time.perf_counter(), cpu_seconds()
    if one_pass:
        fm.evaluate(est, ref, losses=DEFAULT_LOSSES)
    else:
        for name in DEFAULT_LOSSES:
            calls[name](est, ref)
    compile_wall, compile_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(json.dumps({"dtype": dtype, "losses": list(DEFAULT_LOSSES),
                      "calls": "evaluate" if one_pass else "one per loss",
                      "import_wall_s": import_wall, "import_cpu_s": import_cpu,
                      "compile_wall_s": compile_wall, "compile_cpu_s": compile_cpu,
                      "version": fm.__version__}))


if __name__ == "__main__":
    main()
