"""W6, the mix-feature metrics against automix-toolkit's get_features, for one 30-s stereo
pair (the command line's unit: one pair at a time) and for W6's batch of 8 pairs.

    FASTMIXLOSS_AUTOMIX_EVAL=<toolkit's utils_evaluation.py> python -m bench.w6_cpu

Per batch size: wall clock of fastmixloss (all cores) and of the toolkit in interleaved
rounds (measure.time_rounds; the ratio is the median over rounds of toolkit / fastmixloss),
and the process CPU time (user + sys) per call, best of the rounds, which a busy machine
moves less than the wall clock. Then fastmixloss's CPU time at 1 thread.
--rounds (default 7), --batches (default 1,8).
"""

import argparse
import resource

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
    workload = workloads.WORKLOADS["W6"]
    est, ref = workloads.make_inputs((batch,) + workload.shape[1:])
    names = ["fastmixloss"] + (["automix-toolkit"] if toolkit else [])
    spent = {name: [] for name in names}
    runs = {name: with_cpu(contenders.prepare(name, workload, est, ref, threads), spent[name])
            for name in names}
    rows = measure.time_rounds(runs, rounds)
    ours = rows["fastmixloss"]
    line = (f"{batch} pair(s), {threads} threads, {rounds} rounds: fastmixloss median "
            f"{ours['median_s'] * 1e3:.1f} ms (min {ours['min_s'] * 1e3:.1f}), "
            f"CPU {min(spent['fastmixloss'][1:]) * 1e3:.1f} ms")
    if toolkit:
        theirs = rows["automix-toolkit"]
        ratio = measure.paired_ratio(theirs["runs"], ours["runs"])
        line += (f"; automix-toolkit median {theirs['median_s']:.3f} s, CPU "
                 f"{min(spent['automix-toolkit'][1:]):.3f} s; toolkit / fastmixloss "
                 f"{ratio:.1f}x; values {ours['value']:.6f} and {theirs['value']:.6f}")
    print(line, flush=True)
    # 1 thread: the CPU time of the work itself, without the second core
    spent_alone = []
    run = with_cpu(contenders.prepare("fastmixloss", workload, est, ref, 1), spent_alone)
    alone = measure.time_runs(run, rounds)
    print(f"  fastmixloss at 1 thread: median {alone['median_s'] * 1e3:.1f} ms "
          f"(min {alone['min_s'] * 1e3:.1f}), CPU {min(spent_alone[1:]) * 1e3:.1f} ms",
          flush=True)
    numba.set_num_threads(threads)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--batches", default="1,8")
    args = parser.parse_args()
    threads = numba.config.NUMBA_NUM_THREADS
    ok, why = contenders.available("automix-toolkit")
    if not ok:
        print(f"automix-toolkit: {why}; fastmixloss alone")
    for batch in map(int, args.batches.split(",")):
        compare(batch, args.rounds, threads, ok)


if __name__ == "__main__":
    main()
