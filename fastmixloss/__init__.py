"""fastmixloss: the loss functions of automatic music mixing, in fused Numba kernels.

Time domain: mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr.
Spectral: stft_loss, mrstft_loss, sum_and_difference_loss.
Class forms with auraloss's names: MSELoss, ..., STFTLoss, MultiResolutionSTFTLoss,
SumAndDifferenceSTFTLoss, MelSTFTLoss, ChromaSTFTLoss, RandomResolutionSTFTLoss.
Other projects' spectral losses by name: preset_loss(name) (PRESETS).
`fastmixloss.reference` holds the plain NumPy versions.
"""

__version__ = "0.1.0"

from .errors import DeviceError, FastMixLossError, ParameterError
from .features import FeatureComparison, compare_features, feature_tracks, integrated_loudness
from .results import MultiResolutionBreakdown, STFTBreakdown, SumAndDifferenceBreakdown
from .spectral import (ChromaSTFTLoss, MelSTFTLoss, MultiResolutionSTFTLoss,
                       RandomResolutionSTFTLoss, STFTLoss, SumAndDifferenceSTFTLoss,
                       mrstft_loss, stft_loss, sum_and_difference_loss)
from .presets import PRESETS, PresetLoss, preset_loss
from .time_domain import (DCLoss, ESRLoss, L1Loss, LogCoshLoss, MSELoss, SDSDRLoss,
                          SISDRLoss, SNRLoss, dc, esr, l1, logcosh, mse, sdsdr, sisdr, snr)


from .startup import WarmupStep, warmup


__all__ = [
    "FastMixLossError", "ParameterError", "DeviceError",
    "STFTBreakdown", "MultiResolutionBreakdown", "SumAndDifferenceBreakdown",
    "STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
    "MelSTFTLoss", "ChromaSTFTLoss", "RandomResolutionSTFTLoss",
    "stft_loss", "mrstft_loss", "sum_and_difference_loss",
    "MSELoss", "L1Loss", "ESRLoss", "DCLoss", "LogCoshLoss", "SNRLoss", "SISDRLoss",
    "SDSDRLoss", "mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr",
    "PRESETS", "PresetLoss", "preset_loss", "warmup", "WarmupStep",
    "compare_features", "feature_tracks", "integrated_loudness", "FeatureComparison",
]
