"""Training with MR-STFT: fastmixloss.torch against auraloss 0.4.0, forward and forward +
backward, in one run.

    python -m bench.grad                                  # everything (about 4 minutes)
    python -m bench.grad --repeats 7 --json bench/results/DATE-grad.json
    python -m bench.grad --no-auraloss-song               # skip auraloss's song (9 GB)
    python -m bench.grad --probe fastmixloss backward 1,2,7938000   # (internal)

Both contenders are torch modules of the default MultiResolutionSTFTLoss ((1024, 2048,
512), (120, 240, 50), (600, 1200, 240)), auraloss.freq's and fastmixloss.torch's, on the
same float32 tensors, with torch.set_num_threads and Numba's thread count both set to
--threads (2). Modes: "forward" is loss(est, ref) under torch.no_grad(); "backward" is
loss(est, ref).backward() with est requiring grad (forward + backward).

W1 (8 x 2 x 44100): the four (contender, mode) calls are timed in interleaved rounds
(bench.measure.time_rounds) after a warm-up; the ratios are medians over rounds of the
two times of one round (bench.measure.paired_ratio). Then each (contender, mode) runs once
more in a fresh process of its own, whose peak resident memory (VmHWM, inputs included)
is its memory figure; likewise forward + backward of one 3-minute stereo song
(1 x 2 x 7938000, bench.workloads.make_inputs), timed there too.

Goals (issue 20): W1 forward + backward at least 5x faster than auraloss's; forward +
backward at most 3x fastmixloss's forward alone; the song under 600 MB peak.
"""

import argparse
import json
import os
import sys
import time

from .measure import _python, commit, paired_ratio, time_rounds
from .probe import peak_resident_mb
from .workloads import make_inputs

CONTENDERS = ("fastmixloss", "auraloss")
MODES = ("forward", "backward")
W1_SHAPE = (8, 2, 44100)
SONG_SHAPE = (1, 2, 180 * 44100)
GOALS = {"w1_speedup_min": 5.0, "backward_over_forward_max": 3.0, "song_peak_mb_max": 600}


def _module(contender):
    if contender == "auraloss":
        import auraloss
        return auraloss.freq.MultiResolutionSTFTLoss()
    import fastmixloss.torch
    return fastmixloss.torch.MultiResolutionSTFTLoss()


def calls(contender, est, ref, threads):
    """{mode: a call returning the loss value} of `contender` on the NumPy pair."""
    import numba
    import torch
    torch.set_num_threads(threads)
    numba.set_num_threads(threads)
    loss = _module(contender)
    ref_t = torch.from_numpy(ref)
    est_t = torch.from_numpy(est)
    leaf = torch.from_numpy(est).requires_grad_()

    def forward():
        with torch.no_grad():
            return float(loss(est_t, ref_t))

    def backward():
        leaf.grad = None
        value = loss(leaf, ref_t)
        value.backward()
        return float(value.detach())
    return {"forward": forward, "backward": backward}


def probe(contender, mode, shape, threads):
    """In this (fresh) process: one call after a small warm-up; its seconds and this
    process's peak resident memory."""
    small = make_inputs((1, shape[1], 20000))
    calls(contender, *small, threads)[mode]()   # loads kernels, allocators, autograd
    del small
    est, ref = make_inputs(shape)
    run = calls(contender, est, ref, threads)[mode]
    start = time.perf_counter()
    value = run()
    seconds = time.perf_counter() - start
    return {"contender": contender, "mode": mode, "shape": list(shape), "seconds": seconds,
            "peak_mb": peak_resident_mb(), "inputs_mb": (est.nbytes + ref.nbytes) / 2 ** 20,
            "value": value}


def probe_in_new_process(contender, mode, shape, threads):
    out = _python(["-m", "bench.grad", "--probe", contender, mode,
                   ",".join(map(str, shape)), "--threads", str(threads)])
    return json.loads(out.strip().splitlines()[-1])


def time_w1(threads, repeats):
    est, ref = make_inputs(W1_SHAPE)
    fns = {f"{c} {m}": fn for c in CONTENDERS for m, fn in calls(c, est, ref, threads).items()}
    rows = time_rounds(fns, repeats)
    runs = {name: row["runs"] for name, row in rows.items()}
    return {"rows": rows,
            "speedup_backward": paired_ratio(runs["auraloss backward"],
                                             runs["fastmixloss backward"]),
            "speedup_forward": paired_ratio(runs["auraloss forward"],
                                            runs["fastmixloss forward"]),
            "backward_over_forward": paired_ratio(runs["fastmixloss backward"],
                                                  runs["fastmixloss forward"]),
            "auraloss_backward_over_forward": paired_ratio(runs["auraloss backward"],
                                                           runs["auraloss forward"])}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-auraloss-song", action="store_true",
                        help="skip auraloss's forward + backward of the song (about 9 GB)")
    parser.add_argument("--json", help="write the results here")
    parser.add_argument("--probe", nargs=3, metavar=("CONTENDER", "MODE", "B,C,T"))
    args = parser.parse_args(argv)
    if args.probe:
        contender, mode, shape = args.probe
        shape = tuple(int(n) for n in shape.split(","))
        print(json.dumps(probe(contender, mode, shape, args.threads)))
        return

    # a shared machine's load moves every figure: it is recorded with them
    results = {"commit": commit(), "threads": args.threads, "repeats": args.repeats,
               "goals": GOALS, "load_average_start": os.getloadavg()}
    w1 = time_w1(args.threads, args.repeats)
    results["w1"] = w1
    print(f"W1 {W1_SHAPE}, float32, {args.threads} threads, median (min-max) of "
          f"{args.repeats} rounds:")
    for name, row in w1["rows"].items():
        print(f"  {name:22s} {row['median_s']:.3f} s ({row['min_s']:.3f}-{row['max_s']:.3f})"
              f"  value {row['value']:.6f}")
    print(f"  auraloss / fastmixloss: forward {w1['speedup_forward']:.1f}x, forward + "
          f"backward {w1['speedup_backward']:.1f}x (goal >= {GOALS['w1_speedup_min']:g}x)")
    print(f"  forward + backward / forward: fastmixloss {w1['backward_over_forward']:.2f} "
          f"(goal <= {GOALS['backward_over_forward_max']:g}), auraloss "
          f"{w1['auraloss_backward_over_forward']:.2f}")

    results["w1_memory"] = []
    print("W1 peak memory, each in a fresh process (inputs included):")
    for contender in CONTENDERS:
        for mode in MODES:
            row = probe_in_new_process(contender, mode, W1_SHAPE, args.threads)
            results["w1_memory"].append(row)
            print(f"  {contender} {mode}: {row['peak_mb']:.0f} MB ({row['seconds']:.3f} s)")

    results["song"] = []
    print(f"song {SONG_SHAPE}, float32, forward + backward, each in a fresh process:")
    for contender in CONTENDERS:
        if contender == "auraloss" and args.no_auraloss_song:
            continue
        row = probe_in_new_process(contender, "backward", SONG_SHAPE, args.threads)
        results["song"].append(row)
        print(f"  {contender}: {row['seconds']:.1f} s, peak {row['peak_mb']:.0f} MB "
              f"(inputs {row['inputs_mb']:.0f} MB)")
    ours = next(r for r in results["song"] if r["contender"] == "fastmixloss")
    results["met"] = {
        "w1_speedup": w1["speedup_backward"] >= GOALS["w1_speedup_min"],
        "backward_over_forward": (w1["backward_over_forward"]
                                  <= GOALS["backward_over_forward_max"]),
        "song_peak": ours["peak_mb"] < GOALS["song_peak_mb_max"]}
    print("goals met:", ", ".join(f"{k} {'yes' if v else 'NO'}"
                                  for k, v in results["met"].items()))
    results["load_average_end"] = os.getloadavg()
    print(f"load average (1, 5, 15 min) at the start {results['load_average_start']}, "
          f"at the end {results['load_average_end']}")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(results, out, indent=1)
            out.write("\n")


if __name__ == "__main__":
    main(sys.argv[1:])
