"""The contenders: each `prepare(workload, est, ref, threads)` returns a function that runs
the workload once and returns its loss value (None for the floors, which compute none).

- fastmixloss: the library, default mode.
- auraloss: auraloss 0.4.0 on PyTorch CPU (or CUDA for G workloads), torch threads set.
- reference: fastmixloss.reference, the plain NumPy version (whole spectrograms).
- numpy: the plain NumPy expression (W5).
- fft-floor: scipy.fft.rfft over the already framed and windowed frames that the
  workload needs, estimate and reference, same workers. Nothing else is in it.
- read-floor: one parallel pass reading both arrays (W5's floor).
- automix-toolkit: csteinmetz1/automix-toolkit's get_features (W6), run in this process,
  item by item; importable as automix.evaluation.utils_evaluation, or from the file named
  by $FASTMIXLOSS_AUTOMIX_EVAL (its utils_evaluation.py at commit e4a6ecf).
"""

import os

import numpy as np

import fastmixloss as fm
from fastmixloss import reference


def _resolutions(workload):
    r = workload.resolutions
    return list(zip(r["fft_sizes"], r["hop_sizes"], r["win_lengths"]))


def available(name):
    """(True, "") or (False, why)."""
    try:
        if name == "auraloss":
            import auraloss  # noqa: F401
            import torch  # noqa: F401
        elif name == "fft-floor":
            import scipy.fft  # noqa: F401
        elif name == "automix-toolkit":
            _toolkit_module()
    except ImportError as exc:
        return False, f"not installed ({exc.name})"
    return True, ""


def applies(name, workload):
    """(True, "") or (False, why) for a contender on a workload."""
    time_domain = workload.loss in ("mse", "sisdr")
    features = workload.loss == "features"
    if (name == "automix-toolkit") != features and name != "fastmixloss":
        return False, ("the feature workload's contender is automix-toolkit" if features
                       else "feature workloads only")
    if name == "fft-floor" and time_domain:
        return False, "no FFT in a time-domain loss"
    if name in ("read-floor", "numpy") and not time_domain:
        return False, "time-domain workloads only"
    if name == "reference" and time_domain:
        return False, "the NumPy expression is the plain contender here"
    if name == "reference" and not workload.reference_ok:
        return False, "holds whole spectrograms: too big"
    if name == "auraloss" and workload.preset:
        return False, "not an auraloss loss"
    return True, ""


def prepare(name, workload, est, ref, threads):
    return _PREPARE[name](workload, est, ref, threads)


def _fastmixloss(workload, est, ref, threads):
    import numba
    numba.set_num_threads(threads)
    r = workload.resolutions
    loss = {
        "mrstft": lambda: fm.MultiResolutionSTFTLoss(**r, **workload.options),
        "preset": lambda: fm.preset_loss(workload.preset, sample_rate=44100),
        "sd": lambda: fm.SumAndDifferenceSTFTLoss(**r),
        "stft": lambda: fm.STFTLoss(r["fft_sizes"][0], r["hop_sizes"][0], r["win_lengths"][0]),
        "mse": lambda: fm.MSELoss(),
        "sisdr": lambda: fm.SISDRLoss(),
        "features": lambda: _features_value,
    }[workload.loss]()
    return lambda: loss(est, ref)


# W6's value: the sum of the four group means, averaged over the items
GROUP_MEANS = ("mean_mape_loudness", "mean_mape_spectral", "mean_mape_panning",
               "mean_mape_dynamic")


def _features_value(est, ref):
    from fastmixloss.features import compare_features
    result = compare_features(est, ref, 44100, profile="automix-toolkit")
    return float(sum(getattr(result, key) for key in GROUP_MEANS))


def _toolkit_module():
    path = os.environ.get("FASTMIXLOSS_AUTOMIX_EVAL")
    if path:
        import importlib.util
        spec = importlib.util.spec_from_file_location("automix_utils_evaluation", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    from automix.evaluation import utils_evaluation
    return utils_evaluation


def _automix_toolkit(workload, est, ref, threads):
    toolkit = _toolkit_module()

    def run():
        values = [toolkit.get_features(r, e, sr=44100) for e, r in zip(est, ref)]
        return float(np.mean([sum(v[key] for key in GROUP_MEANS) for v in values]))
    return run


def _auraloss(workload, est, ref, threads):
    import auraloss
    import torch
    torch.set_num_threads(threads)
    device = "cuda" if workload.gpu else "cpu"
    r = {k: list(v) for k, v in workload.resolutions.items()}
    module = {
        "mrstft": lambda: auraloss.freq.MultiResolutionSTFTLoss(**r, **workload.options),
        "sd": lambda: auraloss.freq.SumAndDifferenceSTFTLoss(**r),
        "stft": lambda: auraloss.freq.STFTLoss(r["fft_sizes"][0], r["hop_sizes"][0],
                                               r["win_lengths"][0]),
        "mse": lambda: torch.nn.MSELoss(),
        "sisdr": lambda: auraloss.time.SISDRLoss(),
    }[workload.loss]()
    est_t = torch.from_numpy(est).to(device)
    ref_t = torch.from_numpy(ref).to(device)

    def run():
        with torch.no_grad():
            value = module(est_t, ref_t)
        return float(value)   # waits for the GPU, as a user reading the value would
    return run


def _reference(workload, est, ref, threads):
    r = workload.resolutions
    if workload.preset:
        preset = fm.PRESETS[workload.preset]
        return lambda: float(reference.preset_loss(est, ref, preset, 44100)["loss"].mean())
    if workload.loss == "mrstft" and workload.options:
        from fastmixloss.filterbanks import mel_matrix
        o = workload.options
        banks = [mel_matrix(o["sample_rate"], f, o["n_bins"]) for f in r["fft_sizes"]]
        taps = None
        if o.get("perceptual_weighting"):
            from fastmixloss.weighting import taps_for
            taps = taps_for(o["sample_rate"])
        return lambda: float(reference.mrstft_loss(est, ref, filterbanks=banks, fir_taps=taps,
                                                   **r)["loss"].mean())
    if workload.loss == "mrstft":
        return lambda: float(reference.mrstft_loss(est, ref, **r)["loss"].mean())
    if workload.loss == "sd":
        return lambda: float(reference.sum_and_difference_loss(est, ref, **r)["loss"].mean())
    return lambda: float(reference.stft_loss(est, ref, fft_size=r["fft_sizes"][0],
                                             hop_size=r["hop_sizes"][0],
                                             win_length=r["win_lengths"][0])["loss"].mean())


def _numpy(workload, est, ref, threads):
    if workload.loss == "mse":
        return lambda: float(np.mean((est - ref) ** 2))
    return lambda: float(reference.sisdr(est, ref).mean())


def framed(x, fft_size, hop_size, win_length):
    """Frames of every row of x (B, R, T), centred, reflect-padded, windowed (hann):
    a contiguous float32 array (B, R, K, fft_size), as a plain STFT would make them."""
    pad = fft_size // 2
    padded = np.pad(x, [(0, 0), (0, 0), (pad, pad)], mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, fft_size, axis=-1)[..., ::hop_size, :]
    window = np.zeros(fft_size, dtype=x.dtype)
    left = (fft_size - win_length) // 2
    n = np.arange(win_length)
    window[left:left + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)
    return np.ascontiguousarray(frames * window)


def signal_rows(workload, est, ref):
    """The rows the STFT sees: channels, or the sum and difference signals for S/D."""
    if workload.loss != "sd":
        return est, ref
    def sd(x):
        return np.concatenate([x[:, :1] + x[:, 1:], x[:, :1] - x[:, 1:]], axis=1)
    return sd(est), sd(ref)


def _fft_floor(workload, est, ref, threads):
    import scipy.fft
    rows_e, rows_r = signal_rows(workload, est, ref)
    frames = [(framed(rows_e, *res), framed(rows_r, *res)) for res in _resolutions(workload)]
    del rows_e, rows_r

    def run():
        for frames_e, frames_r in frames:
            scipy.fft.rfft(frames_e, axis=-1, workers=threads)
            scipy.fft.rfft(frames_r, axis=-1, workers=threads)
    run.frames = frames   # kept for floor_loss_value
    return run


def floor_loss_value(workload, run):
    """The workload's loss (default mode) from the floor's own frames: checks that the
    floor transforms exactly the frames the loss needs."""
    per_resolution = []
    for frames_e, frames_r in run.frames:
        mag_e = np.sqrt(np.maximum(np.abs(np.fft.rfft(frames_e.astype(np.float64))) ** 2, 1e-8))
        mag_r = np.sqrt(np.maximum(np.abs(np.fft.rfft(frames_r.astype(np.float64))) ** 2, 1e-8))
        groups = [slice(0, 1), slice(1, 2)] if workload.loss == "sd" else [slice(None)]
        parts = []
        for g in groups:
            e, r = mag_e[:, g], mag_r[:, g]
            sc = (np.sqrt(((r - e) ** 2).sum(axis=(1, 2, 3)))
                  / np.sqrt((r ** 2).sum(axis=(1, 2, 3))))
            log = np.abs(np.log(e) - np.log(r)).mean(axis=(1, 2, 3))
            parts.append(sc + log)
        per_resolution.append(sum(parts))   # S/D: w_sum = w_diff = 1
    return float(np.mean(per_resolution, axis=0).mean())


def _read_floor(workload, est, ref, threads):
    import numba
    numba.set_num_threads(threads)
    from ._read import read_both
    return lambda: (read_both(est.reshape(-1), ref.reshape(-1)), None)[1]


_PREPARE = {"fastmixloss": _fastmixloss, "auraloss": _auraloss, "reference": _reference,
            "numpy": _numpy, "fft-floor": _fft_floor, "read-floor": _read_floor,
            "automix-toolkit": _automix_toolkit}
CONTENDERS = tuple(_PREPARE)
