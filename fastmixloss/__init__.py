"""fastmixloss: the loss functions of automatic music mixing, in fused Numba kernels.

Time domain: mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr.
Spectral: stft_loss, mrstft_loss, sum_and_difference_loss.
Class forms with auraloss's names: MSELoss, ..., STFTLoss, MultiResolutionSTFTLoss,
SumAndDifferenceSTFTLoss, MelSTFTLoss, ChromaSTFTLoss, RandomResolutionSTFTLoss.
Other projects' spectral losses by name: preset_loss(name) (PRESETS).
`fastmixloss.reference` holds the plain NumPy versions.
"""

__version__ = "0.1.0"

from .errors import DeviceError, FastMixLossError, KeywordError, ParameterError
from .features import FeatureComparison, compare_features, feature_tracks, integrated_loudness
from .results import MultiResolutionBreakdown, STFTBreakdown, SumAndDifferenceBreakdown
from .spectral import (ChromaSTFTLoss, MelSTFTLoss, MultiResolutionSTFTLoss,
                       RandomResolutionSTFTLoss, STFTLoss, SumAndDifferenceSTFTLoss,
                       mrstft_loss, stft_loss, sum_and_difference_loss)
from .presets import PRESETS, PresetLoss, preset_loss
from .time_domain import (DCLoss, ESRLoss, L1Loss, LogCoshLoss, MSELoss, SDSDRLoss,
                          SISDRLoss, SNRLoss, dc, esr, l1, logcosh, mse, sdsdr, sisdr, snr)


from .startup import WarmupStep, warmup


# Submodules with heavy imports (NumPy-only oracle, numba.cuda) load on first access, so
# that `fastmixloss.cuda.is_available()` works after a plain `import fastmixloss` while
# the import itself stays light.
_LAZY_SUBMODULES = ("cuda", "reference")


def __getattr__(name):
    if name in _LAZY_SUBMODULES:
        import importlib
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_SUBMODULES))


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
]
