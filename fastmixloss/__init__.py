"""fastmixloss: the loss functions of automatic music mixing, in fused Numba kernels.

Time domain: mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr.
Spectral: stft_loss, mrstft_loss, sum_and_difference_loss.
Class forms with auraloss's names: MSELoss, ..., STFTLoss, MultiResolutionSTFTLoss,
SumAndDifferenceSTFTLoss. `fastmixloss.reference` holds the plain NumPy versions.
"""

__version__ = "0.1.0"

from .errors import DeviceError, FastMixLossError, ParameterError
from .features import FeatureComparison, compare_features, feature_tracks, integrated_loudness
from .results import MultiResolutionBreakdown, STFTBreakdown, SumAndDifferenceBreakdown
from .spectral import (MultiResolutionSTFTLoss, STFTLoss, SumAndDifferenceSTFTLoss,
                       mrstft_loss, stft_loss, sum_and_difference_loss)
from .time_domain import (DCLoss, ESRLoss, L1Loss, LogCoshLoss, MSELoss, SDSDRLoss,
                          SISDRLoss, SNRLoss, dc, esr, l1, logcosh, mse, sdsdr, sisdr, snr)


def warmup(dtypes=("float32", "float64")):
    """Compile (or load from the on-disk cache) every CPU kernel for `dtypes` now, so
    that the first real call does not pay for it."""
    import numpy as np
    for dtype in dtypes:
        stereo = np.zeros((1, 2, 64), dtype=dtype)
        for loss in (mse, logcosh):
            loss(stereo, stereo)
        stft_loss(stereo, stereo, fft_size=16, hop_size=8)
        sum_and_difference_loss(stereo, stereo, fft_sizes=(16,), hop_sizes=(8,),
                                win_lengths=(16,))


__all__ = [
    "FastMixLossError", "ParameterError", "DeviceError",
    "STFTBreakdown", "MultiResolutionBreakdown", "SumAndDifferenceBreakdown",
    "STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
    "stft_loss", "mrstft_loss", "sum_and_difference_loss",
    "MSELoss", "L1Loss", "ESRLoss", "DCLoss", "LogCoshLoss", "SNRLoss", "SISDRLoss",
    "SDSDRLoss", "mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr",
    "warmup", "compare_features", "feature_tracks", "integrated_loudness",
    "FeatureComparison",
]
