"""G1-G3 (docs/performance.md) on a CUDA GPU, run by `python -m bench --workloads G1,G2,G3`.

Contenders, all on the same float32 inputs (workloads.make_inputs, as the CPU workloads)
held as PyTorch CUDA tensors:
- fastmixloss: device picked by itself from the tensors, read without a copy.
- auraloss: auraloss 0.4.0 on PyTorch CUDA (bench/contenders.py's, when installed).
- fft-floor: torch.fft.rfft (cuFFT) over the already framed and windowed frames of every
  resolution, estimate and reference (the sum and difference signals for S/D). Framing is
  done before the clock starts: the floor is the transforms alone.
Goals: each at most 1.0 x its floor; G1 at least 5 x faster than auraloss.

Every timed call ends with torch.cuda.synchronize(), so a time covers the GPU work and
not only its launch. The numbers are checked too: fastmixloss with compat="auraloss" must
give auraloss's value (to float32 rounding), which shows both compute the same loss.
Needs PyTorch with CUDA; exits with a message without it.
"""

from . import contenders, measure, workloads

FLOOR = "fft-floor"   # the CPU workloads' name, so the ratio columns read the same


def _framed(torch, workload, est, ref):
    """The frames the workload transforms, as contiguous CUDA tensors (B, R, K, fft)."""
    signals = [est, ref]
    if workload.loss == "sd":
        signals = [torch.cat([x[:, :1] + x[:, 1:], x[:, :1] - x[:, 1:]], dim=1)
                   for x in (est, ref)]
    r = workload.resolutions
    framed = []
    for fft, hop, win in zip(r["fft_sizes"], r["hop_sizes"], r["win_lengths"]):
        window = torch.zeros(fft, device=est.device, dtype=est.dtype)
        left = (fft - win) // 2
        window[left:left + win] = torch.hann_window(win, device=est.device, dtype=est.dtype)
        for x in signals:
            padded = torch.nn.functional.pad(x, (fft // 2, fft // 2), mode="reflect")
            framed.append((padded.unfold(-1, fft, hop) * window).contiguous())
    return framed


def _fft_floor(torch, framed):
    def run():
        for frames in framed:
            torch.fft.rfft(frames, dim=-1)
    return run


def _synced(torch, fn):
    def run():
        value = fn()
        torch.cuda.synchronize()
        return value
    return run


def _classes(fm, workload):
    return {"mrstft": fm.MultiResolutionSTFTLoss,
            "sd": fm.SumAndDifferenceSTFTLoss}[workload.loss]


def run_workload(workload, repeats, log):
    """Time the contenders on one G workload; rows as bench/run.py's CPU rows."""
    try:
        import torch
    except ImportError:
        raise SystemExit(f"{workload.id} needs PyTorch with CUDA (pip install torch)")
    if not torch.cuda.is_available():
        raise SystemExit(f"{workload.id} needs a CUDA GPU and PyTorch with CUDA")
    import fastmixloss as fm

    device_name = torch.cuda.get_device_name()
    host_est, host_ref = workloads.make_inputs(workload.shape)
    est = torch.from_numpy(host_est).cuda()
    ref = torch.from_numpy(host_ref).cuda()
    cls = _classes(fm, workload)
    loss = cls(**workload.resolutions)           # device=None: picked from the tensors

    rows = {"fastmixloss": measure.time_runs(_synced(torch, lambda: loss(est, ref)),
                                             repeats)}
    framed = _framed(torch, workload, est, ref)
    rows[FLOOR] = measure.time_runs(_synced(torch, _fft_floor(torch, framed)), repeats)
    rows[FLOOR]["value"] = None
    del framed
    torch.cuda.empty_cache()

    ok, why = contenders.available("auraloss")
    if ok:
        # its own CUDA copies of the same inputs (workload.gpu sends them to the GPU)
        aura = contenders.prepare("auraloss", workload, host_est, host_ref,
                                  torch.get_num_threads())
        rows["auraloss"] = measure.time_runs(aura, repeats)
        compat = cls(**workload.resolutions, compat="auraloss")(est, ref)
        rows["fastmixloss"]["compat_value"] = compat
        rows["auraloss"]["rel_diff_to_fastmixloss_compat"] = (
            abs(compat - rows["auraloss"]["value"]) / abs(rows["auraloss"]["value"]))
    else:
        rows["auraloss"] = {"skipped": why}

    ours = rows["fastmixloss"]["median_s"]
    log(f"\n{workload.description} on {device_name} (float32, CUDA tensors)")
    log(f"  {'contender':12s} {'median s':>10s} {'min-max s':>19s} {'fml/this':>9s}")
    for name, row in rows.items():
        if "skipped" in row:
            log(f"  {name:12s} skipped: {row['skipped']}")
            continue
        row["device"] = device_name
        if name != "fastmixloss":
            row["fastmixloss_ratio"] = ours / row["median_s"]
        ratio = row.get("fastmixloss_ratio")
        log(f"  {name:12s} {row['median_s']:10.5f} {row['min_s']:9.5f}-{row['max_s']:<9.5f} "
            f"{'' if ratio is None else f'{ratio:9.2f}':>9s}")
    if "rel_diff_to_fastmixloss_compat" in rows["auraloss"]:
        log(f"  values: auraloss {rows['auraloss']['value']:.7g}, fastmixloss "
            f"compat='auraloss' {rows['fastmixloss']['compat_value']:.7g} (relative "
            f"difference {rows['auraloss']['rel_diff_to_fastmixloss_compat']:.1e})")
    return rows
