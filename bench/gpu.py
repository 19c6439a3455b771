"""G1-G3 (SPEC.md) on a CUDA GPU: `python -m bench --workloads G1,G2,G3`.

Contenders: fastmixloss with device="cuda" (inputs are PyTorch CUDA tensors, passed
without a copy), auraloss 0.4.0 on PyTorch CUDA (when installed), and the cuFFT floor:
torch.fft.rfft over the already framed and windowed frames of estimate and reference, every
resolution. Goals: each at most 1.0 x its floor, G1 at least 5 x faster than auraloss.
Every timed call is followed by a device synchronisation. Needs PyTorch with CUDA.
"""

from . import measure

# the contender names, as on the CPU: ratio columns read the same
FLOOR = "fft-floor"


def _inputs(torch, shape):
    import numpy as np
    rng = np.random.default_rng(0)
    ref = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).cuda()
    est = ref + 0.1 * torch.from_numpy(rng.standard_normal(shape, dtype=np.float32)).cuda()
    return est, ref


def _fft_floor(torch, workload, est, ref):
    r = workload.resolutions
    signals = [est, ref]
    if workload.loss == "sd":   # S/D transforms the sum and difference signals
        signals = [s for x in (est, ref) for s in (x[:, :1] + x[:, 1:], x[:, :1] - x[:, 1:])]
    framed = []
    for fft, hop, win in zip(r["fft_sizes"], r["hop_sizes"], r["win_lengths"]):
        window = torch.zeros(fft, device=est.device)
        left = (fft - win) // 2
        window[left:left + win] = torch.hann_window(win, device=est.device)
        for x in signals:
            padded = torch.nn.functional.pad(x, (fft // 2, fft // 2), mode="reflect")
            framed.append(padded.unfold(-1, fft, hop) * window)

    def run():
        for frames in framed:
            torch.fft.rfft(frames, dim=-1)
    return run


def run_workload(workload, repeats, log):
    import torch

    import fastmixloss as fm
    if not torch.cuda.is_available():
        raise SystemExit(f"{workload.id} needs a CUDA GPU and PyTorch with CUDA")
    est, ref = _inputs(torch, workload.shape)
    r = workload.resolutions
    cls = fm.MultiResolutionSTFTLoss if workload.loss == "mrstft" else fm.SumAndDifferenceSTFTLoss
    loss = cls(**r, device="cuda")

    def synced(fn):
        def run():
            value = fn()
            torch.cuda.synchronize()
            return value
        return run

    rows = {"fastmixloss": measure.time_runs(synced(lambda: loss(est, ref)), repeats),
            FLOOR: measure.time_runs(synced(_fft_floor(torch, workload, est, ref)), repeats)}
    try:
        import auraloss
    except ImportError:
        rows["auraloss"] = {"skipped": "not installed"}
    else:
        module = (auraloss.freq.MultiResolutionSTFTLoss if workload.loss == "mrstft"
                  else auraloss.freq.SumAndDifferenceSTFTLoss)(**{k: list(v) for k, v in r.items()})

        def aura():
            with torch.no_grad():
                return float(module(est, ref))
        rows["auraloss"] = measure.time_runs(synced(aura), repeats)
    ours = rows["fastmixloss"]["median_s"]
    log(f"\n{workload.description} on {torch.cuda.get_device_name()}")
    for name, row in rows.items():
        if "skipped" in row:
            log(f"  {name:12s} skipped: {row['skipped']}")
            continue
        row["device"] = torch.cuda.get_device_name()
        if name != "fastmixloss":
            row["fastmixloss_ratio"] = ours / row["median_s"]
        ratio = row.get("fastmixloss_ratio")
        log(f"  {name:12s} {row['median_s']:10.5f} s" +
            ("" if ratio is None else f"  fml/this {ratio:.2f}"))
    return rows
