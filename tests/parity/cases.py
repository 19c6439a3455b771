"""The auraloss 0.4.0 comparison cases: each names an auraloss module, its arguments,
the matching fastmixloss call, and a deterministic input.

Shared by make_golden.py (which runs auraloss and stores its values) and the tests (which
run fastmixloss and compare, against the stored values always and live when auraloss is
installed).
"""

import numpy as np

import fastmixloss as fm
from signals import degrade, music, noise

MR_DEFAULT = dict(fft_sizes=[1024, 2048, 512], hop_sizes=[120, 240, 50],
                  win_lengths=[600, 1200, 240])
W2_LIKE = dict(fft_sizes=[512, 2048, 8192], hop_sizes=[128, 512, 2048],
               win_lengths=[512, 2048, 8192])

# (auraloss module path, auraloss kwargs, fastmixloss callable taking (est, ref, **kwargs))
LOSSES = {
    "stft": ("freq.STFTLoss", {}, fm.stft_loss),
    "stft_win600": ("freq.STFTLoss", dict(win_length=600), fm.stft_loss),
    "stft_hamming_odd": ("freq.STFTLoss", dict(fft_size=1000, hop_size=333, win_length=777,
                                               window="hamming_window"), fm.stft_loss),
    "stft_blackman": ("freq.STFTLoss", dict(fft_size=512, hop_size=128, win_length=400,
                                            window="blackman_window"), fm.stft_loss),
    "stft_bartlett": ("freq.STFTLoss", dict(fft_size=512, hop_size=600, win_length=512,
                                            window="bartlett_window"), fm.stft_loss),
    "stft_kaiser": ("freq.STFTLoss", dict(fft_size=256, hop_size=64, win_length=256,
                                          window="kaiser_window"), fm.stft_loss),
    "stft_lin_L2": ("freq.STFTLoss", dict(w_sc=0.0, w_log_mag=0.0, w_lin_mag=1.0,
                                          mag_distance="L2"), fm.stft_loss),
    "stft_all_L2": ("freq.STFTLoss", dict(w_sc=0.5, w_log_mag=2.0, w_lin_mag=0.25,
                                          mag_distance="L2"), fm.stft_loss),
    "stft_lin_L1": ("freq.STFTLoss", dict(w_lin_mag=1.0), fm.stft_loss),
    "stft_sum": ("freq.STFTLoss", dict(reduction="sum", w_lin_mag=1.0), fm.stft_loss),
    "mrstft": ("freq.MultiResolutionSTFTLoss", dict(MR_DEFAULT), fm.mrstft_loss),
    "mrstft_lin": ("freq.MultiResolutionSTFTLoss", dict(MR_DEFAULT, w_lin_mag=1.0,
                                                        mag_distance="L2"), fm.mrstft_loss),
    "mrstft_sum": ("freq.MultiResolutionSTFTLoss", dict(MR_DEFAULT, reduction="sum"),
                   fm.mrstft_loss),
    "sd": ("freq.SumAndDifferenceSTFTLoss", dict(MR_DEFAULT), fm.sum_and_difference_loss),
    "sd_w2": ("freq.SumAndDifferenceSTFTLoss", dict(W2_LIKE, w_sum=0.5, w_diff=2.0),
              fm.sum_and_difference_loss),
    "sd_lin": ("freq.SumAndDifferenceSTFTLoss", dict(MR_DEFAULT, w_lin_mag=1.0,
                                                     window="blackman_window"),
               fm.sum_and_difference_loss),
    "esr": ("time.ESRLoss", {}, fm.esr),
    "dc": ("time.DCLoss", {}, fm.dc),
    "logcosh": ("time.LogCoshLoss", dict(a=2.0), fm.logcosh),
    "snr": ("time.SNRLoss", {}, fm.snr),
    "snr_raw": ("time.SNRLoss", dict(zero_mean=False), fm.snr),
    "sisdr": ("time.SISDRLoss", {}, fm.sisdr),
    "sisdr_raw": ("time.SISDRLoss", dict(zero_mean=False), fm.sisdr),
    "sdsdr": ("time.SDSDRLoss", {}, fm.sdsdr),
    "esr_none": ("time.ESRLoss", dict(reduction="none"), fm.esr),
}

# Inputs: (kind, n_items, length, seed). "music" is a chord, bass and drums; "noise" is
# white; both are deterministic across NumPy versions (see signals.py).
INPUTS = {
    "music": ("music", 3, 20000, 11),
    "noise": ("noise", 2, 9000, 12),
}
DTYPES = ("float64", "float32")


def make_input(name, dtype):
    kind, n_items, length, seed = INPUTS[name]
    if kind == "music":
        ref = music(n_items, length, seed)
        est = degrade(ref, seed + 100, amount=0.05)
    else:
        ref = 0.5 * noise((n_items, 2, length), seed)
        est = 0.7 * ref + 0.3 * noise((n_items, 2, length), seed + 1)
    return est.astype(dtype), ref.astype(dtype)


def case_ids():
    return [f"{loss}-{inp}-{dtype}" for loss in LOSSES for inp in INPUTS for dtype in DTYPES]


def split(case_id):
    loss, inp, dtype = case_id.split("-")
    return loss, inp, dtype


def fastmixloss_value(case_id):
    loss, inp, dtype = split(case_id)
    _, kwargs, function = LOSSES[loss]
    est, ref = make_input(inp, dtype)
    return np.asarray(function(est, ref, compat="auraloss", **kwargs), dtype=np.float64)


def auraloss_value(case_id):
    import auraloss
    import torch
    loss, inp, dtype = split(case_id)
    path, kwargs, _ = LOSSES[loss]
    module_name, class_name = path.split(".")
    cls = getattr(getattr(auraloss, module_name), class_name)
    est, ref = make_input(inp, dtype)
    with torch.no_grad():
        value = cls(**kwargs)(torch.from_numpy(est), torch.from_numpy(ref))
    return np.asarray(value.numpy(), dtype=np.float64)
