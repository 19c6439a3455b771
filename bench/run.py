"""`python -m bench`: every workload of docs/performance.md for every available contender.

Timings run in this process, all contenders with the same thread count, in interleaved
rounds after a warm-up (median of the runs; ratios to fastmixloss are medians of the
per-round ratios, see measure.time_rounds); peak memory, import and first-call times come from fresh processes.
Results are printed as a table and saved as JSON (and the scaling plot as PNG) in
bench/results/.
"""

import argparse
import datetime
import json
import os
import platform

from . import cold, contenders, measure, scaling, workloads

RESULTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def run_workload(workload, threads, repeats, memory, quick, log):
    est, ref = workloads.make_inputs(workload.shape)
    rows, runs = {}, {}
    for name in contenders.CONTENDERS:
        ok, why = contenders.available(name)
        if ok:
            ok, why = contenders.applies(name, workload)
        if not ok:
            rows[name] = {"skipped": why}
            continue
        rows[name] = None
        runs[name] = contenders.prepare(name, workload, est, ref, threads)
    for name, row in measure.time_rounds(runs, repeats).items():
        row["threads"] = threads
        if (name == "fft-floor" and workload.reference_ok and not workload.options
                and not workload.preset):   # the floor's own frames give the plain loss
            row["value"] = contenders.floor_loss_value(workload, runs[name])
        rows[name] = row
    del runs
    if memory:
        for name, row in rows.items():
            if "skipped" in row:
                continue
            try:
                row["peak_mb"] = measure.probe(workload.id, name, threads,
                                               quick=quick)["peak_mb"]
            except RuntimeError as exc:   # one contender's probe must not end the bench
                row["probe_error"] = str(exc).strip().splitlines()[-1]
                log(f"  {name}: memory probe failed: {row['probe_error']}")
    ours = rows["fastmixloss"]["runs"]
    for name, row in rows.items():
        if "runs" in row and name != "fastmixloss":
            # time / this contender's time, round by round (measure.time_rounds)
            row["fastmixloss_ratio"] = measure.paired_ratio(ours, row["runs"])
    _print_workload(workload, rows, log)
    return rows


def _print_workload(workload, rows, log):
    log(f"\n{workload.description}")
    log(f"  {'contender':12s} {'threads':>7s} {'median s':>10s} {'min-max s':>19s} "
        f"{'fml/this':>9s} {'peak MB':>8s} {'value':>12s}")
    for name, row in rows.items():
        if "skipped" in row:
            log(f"  {name:12s} skipped: {row['skipped']}")
            continue
        ratio = row.get("fastmixloss_ratio")
        value = row.get("value")
        log(f"  {name:12s} {row['threads']:7d} {row['median_s']:10.4f} "
            f"{row['min_s']:9.4f}-{row['max_s']:<9.4f} "
            f"{'' if ratio is None else f'{ratio:9.2f}':>9s} "
            f"{row.get('peak_mb', float('nan')):8.0f} "
            f"{'' if value is None else f'{value:.6g}':>12s}")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true",
                        help="small inputs, 3 runs, no scaling: under a minute")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for every contender (default: all cores)")
    parser.add_argument("--repeats", type=int, default=None, help="timed runs (default 7)")
    parser.add_argument("--workloads", default=",".join(workloads.CPU_WORKLOADS),
                        help="comma-separated ids (default: %(default)s)")
    parser.add_argument("--no-memory", action="store_true", help="skip peak-memory probes")
    parser.add_argument("--no-scaling", action="store_true", help="skip the scaling sweep")
    parser.add_argument("--no-startup", action="store_true",
                        help="skip import, first-call and cold-start timing")
    parser.add_argument("--out", default=None, help="JSON path (default bench/results/)")
    args = parser.parse_args(argv)

    import numba
    threads = args.threads or numba.config.NUMBA_NUM_THREADS
    repeats = args.repeats or (3 if args.quick else 7)
    log = print
    meta = {"date": datetime.date.today().isoformat(), "cpu": _cpu_name(),
            "cores": os.cpu_count(), "threads": threads, "python": platform.python_version(),
            "quick": args.quick, "numba": numba.__version__}
    try:
        import torch
        meta["torch"] = torch.__version__
    except ImportError:
        pass
    log(f"fastmixloss bench {meta['date']} on {meta['cpu']} ({meta['cores']} cores), "
        f"{threads} threads for every contender, median of {repeats} runs")
    report = {"meta": meta, "workloads": {}}
    for wid in args.workloads.split(","):
        workload = workloads.WORKLOADS[wid]
        if workload.gpu:
            from . import gpu
            report["workloads"][wid] = gpu.run_workload(workload, repeats, log)
            continue
        if args.quick:
            workload = workloads.quick(workload)
        report["workloads"][wid] = run_workload(workload, threads, repeats,
                                                not args.no_memory, args.quick, log)
    if not args.no_startup and not args.quick:
        report["startup"] = measure.startup()
        s = report["startup"]
        log(f"\nimport {s['import_s']:.3f} s; import + first MR-STFT call (1 s stereo): "
            f"cold cache {s['first_call_cold_s']:.2f} s, warm {s['first_call_warm_s']:.3f} s")
    if not args.no_startup:
        report["cold_start"] = measure.cold_start(repeats=1 if args.quick else 3)
        cold.print_rows(report["cold_start"], log)
    os.makedirs(RESULTS, exist_ok=True)
    stem = "quick" if args.quick else f"{meta['date']}-cpu"
    if not args.no_scaling and not args.quick:
        log("\nscaling (MR-STFT defaults, each point in a fresh process)")
        report["scaling"] = scaling.run(threads, log=log)
        png = os.path.join(RESULTS, f"{stem}-scaling.png")
        scaling.plot(report["scaling"], png,
                     f"MR-STFT, {threads} threads, {meta['cpu']} ({meta['date']})")
        log(f"plot: {png}")
    out = args.out or os.path.join(RESULTS, f"{stem}.json")
    with open(out, "w") as f:
        json.dump(report, f, indent=1)
    log(f"results: {out}")
    return 0
