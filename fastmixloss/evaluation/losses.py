"""The losses the one-pass evaluation knows, by the names the command line uses.

Each name says which public function (its parameters and documentation) and which kind of
pass computes it: "time" losses share one pass over the samples (time_domain.TimePass),
"spectral" ones share their transforms (spectral_pass.py), and "features" take the whole
signal.
"""

from typing import NamedTuple

from .. import spectral, time_domain
from ..errors import ParameterError


class LossEntry(NamedTuple):
    function: str      # the public function: fastmixloss.<function>, its parameters
    kind: str          # "time", "spectral" or "features"
    cls: type = None   # the class the evaluation builds (time and spectral losses)


LOSSES = {
    "mse": LossEntry("mse", "time", time_domain.MSELoss),
    "l1": LossEntry("l1", "time", time_domain.L1Loss),
    "esr": LossEntry("esr", "time", time_domain.ESRLoss),
    "dc": LossEntry("dc", "time", time_domain.DCLoss),
    "logcosh": LossEntry("logcosh", "time", time_domain.LogCoshLoss),
    "snr": LossEntry("snr", "time", time_domain.SNRLoss),
    "sisdr": LossEntry("sisdr", "time", time_domain.SISDRLoss),
    "sdsdr": LossEntry("sdsdr", "time", time_domain.SDSDRLoss),
    "stft": LossEntry("stft_loss", "spectral", spectral.STFTLoss),
    "mrstft": LossEntry("mrstft_loss", "spectral", spectral.MultiResolutionSTFTLoss),
    "sd": LossEntry("sum_and_difference_loss", "spectral",
                    spectral.SumAndDifferenceSTFTLoss),
    # the mix-feature errors (compare_features): one FeatureComparison
    "features": LossEntry("compare_features", "features"),
    # EBU R 128 statistics of both signals and their differences (compare_loudness)
    "loudness": LossEntry("compare_loudness", "features"),
}

# what the command line computes when not told otherwise
DEFAULT_LOSSES = ("mse", "sisdr", "mrstft", "sd")


def check_loss_names(names, source="losses", presets=()):
    """The names as a tuple; ParameterError for an unknown, repeated or missing one.
    `presets`: preset names also accepted (the command line's)."""
    if isinstance(names, str):
        names = (names,)
    names = tuple(names)
    unknown = [n for n in names if n not in LOSSES and n not in presets]
    if unknown:
        also = f", or a preset: {', '.join(presets)}" if presets else ""
        raise ParameterError(
            f"{source}: unknown loss {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(LOSSES)}{also}")
    if not names:
        raise ParameterError(f"{source}: no loss chosen")
    if len(set(names)) != len(names):
        raise ParameterError(f"{source}: a loss is named twice: {', '.join(names)}")
    return names
