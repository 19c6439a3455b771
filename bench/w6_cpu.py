"""W6 in process CPU time (user + sys), for a machine too busy for wall-clock figures:
`python -m bench.w6_cpu` (set FASTMIXLOSS_AUTOMIX_EVAL to automix-toolkit's
utils_evaluation.py to time the toolkit too). Best of 3 (toolkit: of 2)."""

import resource
import time

from . import contenders, workloads


def _cpu():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best(run, repeats):
    cpu = wall = float("inf")
    for _ in range(repeats):
        c, w = _cpu(), time.perf_counter()
        value = run()
        wall = min(wall, time.perf_counter() - w)
        cpu = min(cpu, _cpu() - c)
    return cpu, wall, value


def main():
    workload = workloads.WORKLOADS["W6"]
    est, ref = workloads.make_inputs(workload.shape)
    for threads in (1, 2):
        run = contenders.prepare("fastmixloss", workload, est, ref, threads)
        run()   # compile or load the kernels
        cpu, wall, value = best(run, 3)
        print(f"fastmixloss, {threads} thread(s): cpu {cpu:.2f} s, wall {wall:.2f} s, "
              f"value {value:.6f}")
    ok, why = contenders.available("automix-toolkit")
    if not ok:
        print(f"automix-toolkit: {why}")
        return
    cpu, wall, value = best(contenders.prepare("automix-toolkit", workload, est, ref, 1), 2)
    print(f"automix-toolkit: cpu {cpu:.2f} s, wall {wall:.2f} s, value {value:.6f}")


if __name__ == "__main__":
    main()
