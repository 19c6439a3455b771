"""W6, the mix-feature metrics against automix-toolkit's get_features, for one 30-s stereo
pair (the command line's unit: one pair at a time) and for W6's batch of 8 pairs.

    FASTMIXLOSS_AUTOMIX_EVAL=<toolkit's utils_evaluation.py> python -m bench.w6_cpu \\
        --runs 5 --batches 1 --json bench/results/DATE-w6-pair.json

Per batch size: wall clock of fastmixloss (all cores) and of the toolkit in interleaved
rounds (measure.time_rounds; the ratio is the median over rounds of toolkit / fastmixloss),
and the process CPU time (user + sys) per call, best of the rounds, which a busy machine
moves less than the wall clock. Then fastmixloss's CPU time at 1 thread.
--rounds (default 7), --batches (default 1,8), --runs (default 1: each run is a new set of
rounds, so that the spread between runs shows how much the machine moves the ratio),
--json (write every run's rows there).
"""

import argparse
import json
import os
import resource
import statistics

import numba

from . import contenders, measure, workloads


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def with_cpu(run, spent):
    """run, adding each call's process CPU time to the list `spent`."""
    def timed():
        start = _cpu()
        value = run()
        spent.append(_cpu() - start)
        return value
    return timed


def compare(batch, rounds, threads, toolkit):
    """One run for `batch` pairs: a dict of the rows, printed as it goes."""
    workload = workloads.WORKLOADS["W6"]
    est, ref = workloads.make_inputs((batch,) + workload.shape[1:])
    names = ["fastmixloss"] + (["automix-toolkit"] if toolkit else [])
    spent = {name: [] for name in names}
    runs = {name: with_cpu(contenders.prepare(name, workload, est, ref, threads), spent[name])
            for name in names}
    rows = measure.time_rounds(runs, rounds)
    ours = rows["fastmixloss"]
    result = {"batch": batch, "threads": threads, "rounds": rounds, "rows": rows,
              "cpu_s": {name: min(spent[name][1:]) for name in names}}
    line = (f"{batch} pair(s), {threads} threads, {rounds} rounds: fastmixloss median "
            f"{ours['median_s'] * 1e3:.1f} ms (min {ours['min_s'] * 1e3:.1f}), "
            f"CPU {result['cpu_s']['fastmixloss'] * 1e3:.1f} ms")
    if toolkit:
        theirs = rows["automix-toolkit"]
        result["ratio"] = measure.paired_ratio(theirs["runs"], ours["runs"])
        line += (f"; automix-toolkit median {theirs['median_s']:.3f} s, CPU "
                 f"{result['cpu_s']['automix-toolkit']:.3f} s; toolkit / fastmixloss "
                 f"{result['ratio']:.1f}x; values {ours['value']:.6f} and "
                 f"{theirs['value']:.6f}")
    print(line, flush=True)
    # 1 thread: the CPU time of the work itself, without the second core
    spent_alone = []
    run = with_cpu(contenders.prepare("fastmixloss", workload, est, ref, 1), spent_alone)
    alone = measure.time_runs(run, rounds)
    result["one_thread"] = {"median_s": alone["median_s"], "min_s": alone["min_s"],
                            "cpu_s": min(spent_alone[1:])}
    print(f"  fastmixloss at 1 thread: median {alone['median_s'] * 1e3:.1f} ms "
          f"(min {alone['min_s'] * 1e3:.1f}), CPU {min(spent_alone[1:]) * 1e3:.1f} ms",
          flush=True)
    numba.set_num_threads(threads)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    threads = numba.config.NUMBA_NUM_THREADS
    ok, why = contenders.available("automix-toolkit")
    if not ok:
        print(f"automix-toolkit: {why}; fastmixloss alone")
    results = {"commit": measure.commit(), "threads": threads,
               "load_average_start": os.getloadavg(), "runs": []}
    for _ in range(args.runs):
        for batch in map(int, args.batches.split(",")):
            results["runs"].append(compare(batch, args.rounds, threads, ok))
    results["load_average_end"] = os.getloadavg()
    if ok:
        for batch in map(int, args.batches.split(",")):
            ratios = [r["ratio"] for r in results["runs"] if r["batch"] == batch]
            results[f"ratios_batch_{batch}"] = ratios
            print(f"{batch} pair(s): toolkit / fastmixloss over {len(ratios)} run(s): "
                  f"{min(ratios):.1f}-{max(ratios):.1f}x, median "
                  f"{statistics.median(ratios):.1f}x")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main()
