"""The long form of the library fuzz: N cases in child processes, counted by outcome.

    python tests/faults/fuzz_long.py --cases 50000            # every family, in turn
    python tests/faults/fuzz_long.py --cases 2000 --families features,chroma --jobs 2
    python tests/faults/fuzz_long.py --family features --case 123   # one case, here

The families are those of fuzz_cases.py plus "api" (test_api_fuzz.py's cases). Case i of
a family is the same call on every run with the same seed (FASTMIXLOSS_FUZZ_SEED or
--seed), so every failure is printed with the command that runs it again. Cases run in
batches in child processes: a case that kills its process (a segfault, an abort, memory
corruption), runs past --case-timeout or allocates past --memory-gb is recorded as a
failure of that case, and a new child goes on with the next case. At the end: the counts
by family and outcome, the time per case, and every failure.
"""

import argparse
import collections
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]


def _families():
    import fuzz_cases
    return fuzz_cases.FAMILIES + ("api",)


def _prepare_child_environment():
    # as tests/conftest.py: the CUDA code runs in Numba's simulator unless asked otherwise
    if os.environ.get("FASTMIXLOSS_GPU_TESTS") != "1":
        os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    sys.path[:0] = [str(HERE), str(ROOT)]


def run_one(family, index, seed):
    """(outcome, seconds) of one case in this process; raises on a failure."""
    import warnings
    import fuzz_cases
    if family != "api":
        return fuzz_cases.run_case(family, index, seed)
    import test_api_fuzz
    if seed != test_api_fuzz.SEED:
        test_api_fuzz.SEED = seed
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # as pytest's filterwarnings = error
        outcome = test_api_fuzz.run_case(index)
    return outcome, time.perf_counter() - start


def _child(family, indices, seed, memory_gb):
    """Run cases, one line per event on stdout: start, done (outcome, seconds), fail."""
    if memory_gb:
        import resource
        limit = int(memory_gb * 2 ** 30)
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    import fuzz_cases
    fuzz_cases.warm_up()
    out = sys.stdout
    for index in indices:
        out.write(f"start {index}\n")
        out.flush()
        start = time.perf_counter()
        try:
            outcome, call_seconds = run_one(family, index, seed)
        except BaseException as exc:   # a failure of the contract, or of the case itself
            text = str(exc) if isinstance(exc, AssertionError) else \
                f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=6)}"
            out.write("fail " + json.dumps({"index": index, "text": text}) + "\n")
        else:
            out.write(f"done {index} {outcome} {time.perf_counter() - start:.4f} "
                      f"{call_seconds:.4f}\n")
        out.flush()


def _reproduction(family, index, seed):
    import fuzz_cases
    return fuzz_cases.reproduction(family, index, seed)


def _signal_name(returncode):
    try:
        return f"signal {-returncode} ({signal.Signals(-returncode).name})"
    except ValueError:
        return f"signal {-returncode}"


class Tally:
    """Outcomes, times and failures, shared by the threads that drive the children."""

    def __init__(self, total=0):
        self.total = total
        self.start = time.perf_counter()
        self.lock = threading.Lock()
        self.counts = collections.defaultdict(collections.Counter)
        self.seconds = collections.defaultdict(list)        # whole case, with its checks
        self.call_seconds = collections.defaultdict(list)   # the library call alone
        self.failures = []
        self.done = 0

    def record(self, family, outcome, seconds=None, call_seconds=None, failure=None):
        with self.lock:
            self.counts[family][outcome] += 1
            if seconds is not None:
                self.seconds[family].append(seconds)
                self.call_seconds[family].append(call_seconds)
            if failure is not None:
                self.failures.append(failure)
            self.done += 1
            if self.done % 1000 == 0:   # a long run says how far it is
                print(f"  {self.done} of {self.total} cases, {len(self.failures)} failed, "
                      f"{time.perf_counter() - self.start:.0f} s", flush=True)


def _drive(family, indices, args, tally):
    """Run `indices` in child processes until each has an outcome."""
    remaining = list(indices)
    while remaining:
        command = [sys.executable, str(Path(__file__).resolve()), "--child", family,
                   "--seed", str(args.seed), "--memory-gb", str(args.memory_gb),
                   "--indices", ",".join(map(str, remaining))]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True, cwd=ROOT)
        stderr_chunks = []
        reader = threading.Thread(target=lambda: stderr_chunks.append(child.stderr.read()),
                                  daemon=True)
        reader.start()
        selector = selectors.DefaultSelector()
        selector.register(child.stdout, selectors.EVENT_READ)
        running = None
        # the first case waits for the kernels' compilation (warm_up) too
        timeout = args.case_timeout + args.warmup_timeout
        while True:
            if not selector.select(timeout):
                running = remaining[0] if running is None else running
                child.kill()   # this child only: the one this loop started
                child.wait()
                failure = (f"{family} case {running}: no result after {timeout:g} s "
                           f"(killed)\n  again: {_reproduction(family, running, args.seed)}")
                tally.record(family, "failure: timeout", failure=failure)
                remaining = remaining[remaining.index(running) + 1:]
                break
            line = child.stdout.readline()
            if not line:   # the child ended
                child.wait()
                reader.join(timeout=10)
                if running is not None:
                    why = (_signal_name(child.returncode) if child.returncode < 0
                           else f"exit status {child.returncode}")
                    tail = "".join(stderr_chunks)[-1500:].strip()
                    failure = (f"{family} case {running}: the process died: {why}\n"
                               f"  stderr: {tail}\n"
                               f"  again: {_reproduction(family, running, args.seed)}")
                    tally.record(family, "failure: crash", failure=failure)
                    remaining = remaining[remaining.index(running) + 1:]
                elif child.returncode != 0:
                    raise SystemExit(f"a child for {family} failed before its first case:\n"
                                     + "".join(stderr_chunks)[-3000:])
                else:
                    remaining = []
                break
            word, _, rest = line.rstrip("\n").partition(" ")
            if word == "start":
                running = int(rest)
                timeout = args.case_timeout
            elif word == "done":
                index, outcome, seconds, call_seconds = rest.split(" ")
                tally.record(family, outcome, float(seconds), float(call_seconds))
                remaining.remove(int(index))
                running = None
            elif word == "fail":
                record = json.loads(rest)
                tally.record(family, "failure: contract", failure=(
                    f"{record['text']}" if "again:" in record["text"] else
                    f"{family} case {record['index']}: {record['text']}\n"
                    f"  again: {_reproduction(family, record['index'], args.seed)}"))
                remaining.remove(record["index"])
                running = None
        selector.close()


def _batches(family, count, size):
    return [(family, list(range(start, min(count, start + size))))
            for start in range(0, count, size)]


def _report(tally, families, wall):
    outcomes = sorted({o for f in families for o in tally.counts[f]})
    width = max(len(f) for f in families + ["total"])
    print(f"\n{'family':<{width}}  " + "  ".join(f"{o:>17}" for o in outcomes)
          + f"  {'cases':>6}  {'s/case':>7}  {'max s':>6}  {'call max s':>10}")
    totals = collections.Counter()
    for family in families:
        counts = tally.counts[family]
        totals.update(counts)
        times = sorted(tally.seconds[family])
        mean = sum(times) / len(times) if times else float("nan")
        calls = tally.call_seconds[family]
        print(f"{family:<{width}}  " + "  ".join(f"{counts[o]:>17}" for o in outcomes)
              + f"  {sum(counts.values()):>6}  {mean:>7.3f}  "
              f"{(times[-1] if times else float('nan')):>6.2f}  "
              f"{(max(calls) if calls else float('nan')):>10.2f}")
    print(f"{'total':<{width}}  " + "  ".join(f"{totals[o]:>17}" for o in outcomes)
          + f"  {sum(totals.values()):>6}")
    n = sum(totals.values())
    print(f"\n{n} cases in {wall:.0f} s wall ({wall / max(n, 1):.3f} s per case with the "
          f"children's start and warm-up, {len(tally.failures)} failed); s/case: one case "
          "with its checks, call: the library call alone")
    for failure in tally.failures:
        print("\n" + failure)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=2000,
                        help="cases in all, shared out evenly over the families")
    parser.add_argument("--families", default=None,
                        help="comma-separated subset of the families (default: all)")
    parser.add_argument("--seed", type=int, default=None,
                        help="the stream of cases (default FASTMIXLOSS_FUZZ_SEED or the "
                             "fixed seed of the tests)")
    parser.add_argument("--jobs", type=int, default=1, help="child processes at once")
    parser.add_argument("--batch", type=int, default=250, help="cases per child process")
    parser.add_argument("--case-timeout", type=float, default=300.0,
                        help="seconds one case may take before its child is killed")
    parser.add_argument("--warmup-timeout", type=float, default=600.0,
                        help="extra seconds for a child's first case (compilation)")
    parser.add_argument("--memory-gb", type=float, default=8.0,
                        help="address-space limit of each child (0: none)")
    parser.add_argument("--json", help="also write the counts, times and failures here")
    parser.add_argument("--family", help="with --case: run one case in this process")
    parser.add_argument("--case", type=int)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--indices", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    _prepare_child_environment()
    import fuzz_cases
    if args.seed is None:
        args.seed = fuzz_cases.SEED
    if args.child:
        _child(args.child, [int(i) for i in args.indices.split(",")], args.seed,
               args.memory_gb)
        return 0
    if args.family is not None:
        case = fuzz_cases.build_case(args.family, args.case, args.seed) \
            if args.family != "api" else None
        if case is not None:
            print(f"call: {case.text}")
        outcome, seconds = run_one(args.family, args.case, args.seed)
        print(f"outcome: {outcome} ({seconds:.3f} s)")
        return 0
    families = list(_families()) if args.families is None else args.families.split(",")
    unknown = set(families) - set(_families())
    if unknown:
        parser.error(f"unknown families {sorted(unknown)}; known: {', '.join(_families())}")
    share, extra = divmod(args.cases, len(families))
    work = []
    for k, family in enumerate(families):
        work += _batches(family, share + (k < extra), args.batch)
    tally = Tally(args.cases)
    start = time.perf_counter()
    print(f"fuzz: {args.cases} cases over {', '.join(families)}, seed {args.seed}, "
          f"{args.jobs} job(s), {args.batch} cases per child", flush=True)
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for future in [pool.submit(_drive, family, indices, args, tally)
                       for family, indices in work]:
            future.result()
    wall = time.perf_counter() - start
    _report(tally, families, wall)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "cases": args.cases, "seed": args.seed, "families": families,
            "wall_seconds": wall,
            "counts": {f: dict(tally.counts[f]) for f in families},
            "seconds_per_case": {f: (sum(t) / len(t) if t else None)
                                 for f, t in tally.seconds.items()},
            "failures": tally.failures}, indent=1))
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
