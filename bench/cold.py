"""The command line's default losses from a cold kernel cache: `python -m bench.cold float32`.

Run in a new process with a fresh, empty NUMBA_CACHE_DIR (bench.measure.cold_start does
both), it imports fastmixloss and calls mse, sisdr, mrstft and sd once each on a short
stereo pair, as `fastmixloss score` does before its first pair, and prints a JSON line:
the import, and the calls (which compile every kernel they need), as wall seconds and as
this process's CPU seconds (user + sys, every thread): on a shared machine the CPU time
is the steadier figure.
"""

import argparse
import json
import resource
import time


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dtype", choices=("float32", "float64"))
    args = parser.parse_args()
    wall, cpu = time.perf_counter(), cpu_seconds()
    import numpy as np

    import fastmixloss as fm
    import_wall, import_cpu = time.perf_counter() - wall, cpu_seconds() - cpu

    from fastmixloss.cli.losses import DEFAULT_LOSSES
    calls = {"mse": fm.mse, "sisdr": fm.sisdr,
             "mrstft": lambda e, r: fm.mrstft_loss(e, r, output="full"),
             "sd": lambda e, r: fm.sum_and_difference_loss(e, r, output="full")}
    if set(calls) != set(DEFAULT_LOSSES):
        raise SystemExit(f"bench.cold times {sorted(calls)}, but the command line's "
                         f"default losses are now {DEFAULT_LOSSES}: update bench/cold.py")
    rng = np.random.default_rng(0)
    ref = rng.standard_normal((1, 2, 4096)).astype(args.dtype)
    est = (0.5 * ref + 0.1 * rng.standard_normal((1, 2, 4096))).astype(args.dtype)
    wall, cpu = time.perf_counter(), cpu_seconds()
    for name in DEFAULT_LOSSES:
        calls[name](est, ref)
    compile_wall, compile_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    print(json.dumps({"dtype": args.dtype, "losses": list(DEFAULT_LOSSES),
                      "import_wall_s": import_wall, "import_cpu_s": import_cpu,
                      "compile_wall_s": compile_wall, "compile_cpu_s": compile_cpu,
                      "version": fm.__version__}))


if __name__ == "__main__":
    main()
