"""The losses the adapter tests (test_torch.py, test_jax.py) run: every face, small."""

import inspect
import subprocess
import sys

import numpy as np

import fastmixloss

# every face the adapters mirror, as the issue lists them: the tests fail if one is missing
CLASSES = ("MSELoss", "L1Loss", "ESRLoss", "DCLoss", "LogCoshLoss", "SNRLoss", "SISDRLoss",
           "SDSDRLoss", "STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
           "MelSTFTLoss", "ChromaSTFTLoss", "RandomResolutionSTFTLoss", "PresetLoss")
FUNCTIONS = ("mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr", "stft_loss",
             "mrstft_loss", "sum_and_difference_loss", "preset_loss")

SMALL_MR = dict(fft_sizes=(64, 128), hop_sizes=(16, 32), win_lengths=(64, 96))
# id -> (face, args, kwargs); spectral sizes small enough for gradcheck
CASES = {
    "mse": ("MSELoss", (), {}),
    "l1": ("L1Loss", (), {}),
    "esr": ("ESRLoss", (), {}),
    "dc": ("DCLoss", (), {}),
    "logcosh": ("LogCoshLoss", (2.0,), {}),
    "snr": ("SNRLoss", (), {}),
    "sisdr": ("SISDRLoss", (), {}),
    "sdsdr": ("SDSDRLoss", (), {"zero_mean": False}),
    "stft": ("STFTLoss", (64, 16, 48), {"w_lin_mag": 0.5}),
    "mrstft": ("MultiResolutionSTFTLoss", (), SMALL_MR),
    "mrstft-l2": ("MultiResolutionSTFTLoss", (), dict(SMALL_MR, mag_distance="L2")),
    "sd": ("SumAndDifferenceSTFTLoss", (), dict(SMALL_MR, w_diff=0.5)),
    "random": ("RandomResolutionSTFTLoss", (),
               {"max_fft_size": 128, "seed": 0, "randomize_rate": 10 ** 6}),
    "preset": ("PresetLoss", ("auraloss",), SMALL_MR),
    "mel": ("MelSTFTLoss", (8000, 64, 16), {"n_mels": 8}),
    "chroma": ("ChromaSTFTLoss", (8000, 64, 16), {}),
}
# losses the adapters give values of only (none now: every face has a gradient)
VALUE_ONLY = {}
SHAPE = (2, 2, 384)
SMALL_SHAPE = (1, 2, 160)   # gradcheck: a central difference per sample


def numpy_loss(case):
    name, args, kwargs = case
    return getattr(fastmixloss, name)(*args, **kwargs)


def signals(shape, seed=0, dtype=np.float64):
    """(est, ref): a reference and a noisy, scaled copy."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal(shape)
    est = 0.8 * ref + 0.3 * rng.standard_normal(shape)
    return est.astype(dtype), ref.astype(dtype)


def same_parameters(adapter, name):
    """Whether the adapter's `name` takes the NumPy API's parameters (classes: the same
    signature; functions: the same parameters, whatever they return)."""
    ours = inspect.signature(getattr(adapter, name))
    theirs = inspect.signature(getattr(fastmixloss, name))
    return ours.parameters == theirs.parameters and (
        name in FUNCTIONS or ours == theirs)


def frameworks_imported_by(code):
    """Which of torch and jax a new Python process has imported after running `code`."""
    probe = f"{code}; import sys; print(sorted({{'torch', 'jax'}} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True).stdout
    return out.strip()
