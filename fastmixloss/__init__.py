"""fastmixloss: the loss functions of automatic music mixing, in fused Numba kernels.

Numbers between an estimated mix and a reference, as auraloss computes them, on the CPU
(Numba) or a CUDA GPU, in memory that stays flat with the length of the signals.

Time domain (function and class forms):
    mse / MSELoss, l1 / L1Loss, esr / ESRLoss, dc / DCLoss, logcosh / LogCoshLoss,
    snr / SNRLoss, sisdr / SISDRLoss, sdsdr / SDSDRLoss
Spectral, every option declared once (see STFTLoss):
    stft_loss / STFTLoss, mrstft_loss / MultiResolutionSTFTLoss,
    sum_and_difference_loss / SumAndDifferenceSTFTLoss, MelSTFTLoss, ChromaSTFTLoss,
    RandomResolutionSTFTLoss
Other projects' spectral losses, by name (auraloss, ParallelWaveGAN, HiFi-GAN, DAC, DDSP):
    preset_loss(name) / PresetLoss, PRESETS
Several losses of one pair in one pass, whole or in pieces of a long signal:
    evaluate / Evaluator (by the command line's names: mse, ..., mrstft, sd, features)
Mix features and loudness:
    feature_tracks, compare_features / FeatureComparison, integrated_loudness (ITU-R
    BS.1770), loudness_stats / LoudnessStats, compare_loudness / LoudnessComparison
    (EBU R 128)
Breakdowns (output="full"): STFTBreakdown, MultiResolutionBreakdown,
    SumAndDifferenceBreakdown
Start-up: warmup() compiles (or loads from the cache) every kernel of the losses' values
    and the mix features ahead of the first call (gradients and loudness_stats compile on
    their first call), reporting each WarmupStep.
Errors: FastMixLossError, ParameterError (bad argument: names it and its value),
    KeywordError, DeviceError (no usable GPU).
Submodules loaded on first access: fastmixloss.reference (plain NumPy versions of every
loss, the tests' oracle), fastmixloss.cuda (is_available(), launch_config()),
fastmixloss.torch and fastmixloss.jax (every loss as a PyTorch module / JAX function with
gradients), fastmixloss.grad (forward, backward, value_and_grad on NumPy arrays).
Command line: `fastmixloss score|compare|demo|warmup ...` (`fastmixloss --help`), also
`python -m fastmixloss`.

Example:
    >>> import numpy as np, fastmixloss
    >>> ref = np.sin(np.linspace(0, 1000, 44100))
    >>> fastmixloss.mse(ref, ref)
    0.0
"""

__version__ = "0.1.0"

from .errors import DeviceError, FastMixLossError, KeywordError, ParameterError
from .features import FeatureComparison, compare_features, feature_tracks, integrated_loudness
from .features import LoudnessComparison, LoudnessStats, compare_loudness, loudness_stats
from .results import MultiResolutionBreakdown, STFTBreakdown, SumAndDifferenceBreakdown
from .spectral import (ChromaSTFTLoss, MelSTFTLoss, MultiResolutionSTFTLoss,
                       RandomResolutionSTFTLoss, STFTLoss, SumAndDifferenceSTFTLoss,
                       mrstft_loss, stft_loss, sum_and_difference_loss)
from .presets import PRESETS, PresetLoss, preset_loss
from .time_domain import (DCLoss, ESRLoss, L1Loss, LogCoshLoss, MSELoss, SDSDRLoss,
                          SISDRLoss, SNRLoss, dc, esr, l1, logcosh, mse, sdsdr, sisdr, snr)


from .evaluation import Evaluator, evaluate
from .startup import WarmupStep, warmup


# Submodules with heavy imports (NumPy-only oracle, numba.cuda) load on first access, so
# that `fastmixloss.cuda.is_available()` works after a plain `import fastmixloss` while
# the import itself stays light.
_LAZY_SUBMODULES = ("cuda", "reference", "grad", "torch", "jax")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    # the public API only: not the internal modules that importing it loads
    return sorted(set(__all__) | set(_LAZY_SUBMODULES) | {"__version__"})


__all__ = [
    "FastMixLossError", "ParameterError", "KeywordError", "DeviceError",
    "STFTBreakdown", "MultiResolutionBreakdown", "SumAndDifferenceBreakdown",
    "STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
    "MelSTFTLoss", "ChromaSTFTLoss", "RandomResolutionSTFTLoss",
    "stft_loss", "mrstft_loss", "sum_and_difference_loss",
    "MSELoss", "L1Loss", "ESRLoss", "DCLoss", "LogCoshLoss", "SNRLoss", "SISDRLoss",
    "SDSDRLoss", "mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr",
    "PRESETS", "PresetLoss", "preset_loss", "warmup", "WarmupStep",
    "compare_features", "feature_tracks", "integrated_loudness", "FeatureComparison",
    "loudness_stats", "LoudnessStats", "compare_loudness", "LoudnessComparison",
    "evaluate", "Evaluator",
]
