"""One contender on one workload in a fresh process: `python -m bench.probe W4 fastmixloss`.

Prints a JSON line: seconds of the timed call (median of 3 when short), peak resident
memory of the whole process (inputs included), the inputs' size, and the loss value. A small warm-up call first loads the kernels, so
the timed call is the steady-state cost.
"""

import argparse
import json
import statistics
import time

from . import contenders, workloads


def peak_resident_mb():
    """This process's peak resident memory. Not ru_maxrss: on Linux that carries the
    parent's high-water mark across fork and exec, so a probe started by a big bench
    process would report the parent's size."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024   # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=sorted(workloads.WORKLOADS))
    parser.add_argument("contender", choices=contenders.CONTENDERS)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shape", help="B,C,T instead of the workload's")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    workload = workloads.WORKLOADS[args.workload]
    if args.quick:
        workload = workloads.quick(workload)
    shape = tuple(int(v) for v in args.shape.split(",")) if args.shape else workload.shape
    small = workloads.make_inputs((1, shape[1], min(shape[2], 20000)))
    contenders.prepare(args.contender, workload, *small, args.threads)()   # warm-up
    del small
    est, ref = workloads.make_inputs(shape)
    run = contenders.prepare(args.contender, workload, est, ref, args.threads)
    seconds = []
    while len(seconds) < 3 and sum(seconds) < 2.0:   # median of 3 unless the call is long
        start = time.perf_counter()
        value = run()
        seconds.append(time.perf_counter() - start)
    print(json.dumps({"seconds": statistics.median(seconds), "runs": len(seconds),
                      "peak_mb": peak_resident_mb(),
                      "inputs_mb": (est.nbytes + ref.nbytes) / 2 ** 20,
                      "value": value, "shape": list(shape)}))


if __name__ == "__main__":
    main()
