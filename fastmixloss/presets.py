"""The spectral losses of other projects, by name, each giving its source's number.

    loss = fastmixloss.preset_loss("dac", sample_rate=44100)
    value = loss(est, ref)

Each preset fixes the framing, window, floors, filterbank, terms and the reduction over
resolutions of one project's loss; PRESETS lists them with their sources. The numbers
are the source's within float32 1e-4 (the peers compute in float32) and are checked on
every test run against values stored from the peers' own code
(tests/data/peers_golden.json, tests/parity/PEERS.md).

Items are computed independently: with reduction="none" each item's value is the
source's value for that item alone; reduction="mean" is the source's number for the
batch (its means run over all rows, items x channels, equal in size; its batch-wide
spectral convergence, in "auraloss" and "parallel_wavegan", is reproduced too).

Like compat="auraloss", a preset keeps its source's number where the spectral losses say
undefined: against a reference with no energy above the magnitude floor, the spectral
convergence of "auraloss" and "parallel_wavegan" is the sources' floor-divided value, not
NaN (a training run that uses a preset gets the loss it would get from the source).
Overrides are checked as the spectral options are: the mel presets' sample_rate, fmin and
fmax by the same checks as scale="mel".
"""

import math
from dataclasses import dataclass, replace
from typing import Optional, Tuple, Union

import numpy as np
from numpy.typing import ArrayLike

from . import engine
from . import validation as check
from .backend import check_device
from .errors import ParameterError
from .plan import (CENTRED, FRAMINGS, HIFIGAN, UNCENTRED, Resolution, SpectralPlan,
                   check_filterbank_rate, check_mel_band, filterbank)
from .results import MultiResolutionBreakdown

__all__ = ["PRESETS", "Preset", "PresetLoss", "preset_loss", "CENTRED", "HIFIGAN",
           "UNCENTRED"]


@dataclass(frozen=True)
class Preset:
    """One project's spectral loss, as plain settings (see PRESETS for each)."""

    source: str                          # repository, file, version
    fft_sizes: Tuple[int, ...]
    hop_sizes: Tuple[int, ...]
    win_lengths: Tuple[int, ...]
    framing: str = CENTRED               # CENTRED (torch center=True), HIFIGAN, UNCENTRED
    float32_window: bool = True          # the window as the source builds it (float32)
    eps: float = 1e-8                    # power floor: sqrt(max(P, eps)); 0: none
    eps_added: bool = False              # sqrt(P + eps) instead
    n_mels: Optional[Tuple[int, ...]] = None   # mel bands per resolution; None: bins
    fmin: float = 0.0
    fmax: Optional[float] = None
    sample_rate: Optional[float] = None  # the source's default, if it has one
    w_sc: float = 0.0
    w_log_mag: float = 1.0
    w_lin_mag: float = 0.0
    log_threshold: float = 0.0           # see layout.OptionPlan
    log_floor: float = 0.0
    log_factor: float = 1.0              # log term times this: 1/ln 10 for log10, ...
    batch_sc: bool = False               # spectral convergence over the whole batch
    sum_resolutions: bool = False        # sum over resolutions (else the mean)


_DAC_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
_DDSP_SIZES = (2048, 1024, 512, 256, 128, 64)

PRESETS = {
    "auraloss": Preset(
        "csteinmetz1/auraloss auraloss/freq.py MultiResolutionSTFTLoss, v0.4.0 defaults",
        (1024, 2048, 512), (120, 240, 50), (600, 1200, 240),
        w_sc=1.0, batch_sc=True),
    "parallel_wavegan": Preset(
        "kan-bayashi/ParallelWaveGAN parallel_wavegan/losses/stft_loss.py "
        "MultiResolutionSTFTLoss @ 8674037",
        (1024, 2048, 512), (120, 240, 50), (600, 1200, 240),
        eps=1e-7, w_sc=1.0, batch_sc=True),
    "parallel_wavegan_mel": Preset(
        "kan-bayashi/ParallelWaveGAN parallel_wavegan/losses/mel_loss.py "
        "MelSpectrogramLoss @ 8674037",
        (1024,), (256,), (1024,), eps=1e-10, n_mels=(80,), fmin=80.0, fmax=7600.0,
        sample_rate=22050.0, log_threshold=1e-10, log_floor=1e-10,
        log_factor=1 / math.log(10)),
    "hifigan": Preset(
        "jik876/hifi-gan meldataset.py mel_spectrogram + train.py L1 @ 4769534 "
        "(fmax_for_loss: sample_rate / 2)",
        (1024,), (256,), (1024,), framing=HIFIGAN, eps=1e-9, eps_added=True,
        n_mels=(80,), sample_rate=22050.0, log_threshold=1e-5, log_floor=1e-5),
    "dac": Preset(
        "descriptinc/descript-audio-codec dac/nn/loss.py MelSpectrogramLoss, "
        "conf/base.yml @ c7cfc5d (audiotools 0.7.2)",
        _DAC_WINDOWS, tuple(w // 4 for w in _DAC_WINDOWS), _DAC_WINDOWS, eps=0.0,
        n_mels=(5, 10, 20, 40, 80, 160, 320), log_threshold=1e-5, log_floor=1e-5,
        log_factor=1 / math.log(10), sum_resolutions=True),
    "dac_stft": Preset(
        "descriptinc/audiotools audiotools/metrics/spectral.py MultiScaleSTFTLoss, "
        "0.7.2 (window_lengths [2048, 512] as DAC's conf/base.yml)",
        (2048, 512), (512, 128), (2048, 512), eps=0.0, w_lin_mag=1.0,
        log_threshold=1e-5, log_floor=1e-5, log_factor=2 / math.log(10),
        sum_resolutions=True),
    "ddsp": Preset(
        "magenta/ddsp ddsp/losses.py SpectralLoss, spectral_ops.py compute_mag "
        "@ 88621d2 (v3.7.0), ae.gin",
        _DDSP_SIZES, tuple(int(s * 0.25) for s in _DDSP_SIZES), _DDSP_SIZES,
        framing=UNCENTRED, eps=0.0, w_lin_mag=1.0, log_threshold=0.0, log_floor=1e-5,
        sum_resolutions=True),
}


def _sizes(name, value):
    return tuple(check.positive_int(f"{name}[{i}]", v)
                 for i, v in enumerate(check.sequence(name, value)))


# how each field of Preset that a caller may override is checked (and normalised)
_FIELD_CHECKS = {
    "fft_sizes": _sizes, "hop_sizes": _sizes, "win_lengths": _sizes,
    "framing": lambda name, value: check.choice(name, value, FRAMINGS),
    "float32_window": check.flag, "eps": check.non_negative, "eps_added": check.flag,
    "n_mels": check.optional(_sizes), "fmin": check.non_negative,
    "fmax": check.optional(check.positive), "sample_rate": check.optional(check.positive),
    "w_sc": check.weight, "w_log_mag": check.weight, "w_lin_mag": check.weight,
    "log_threshold": check.non_negative, "log_floor": check.non_negative,
    "log_factor": check.positive, "batch_sc": check.flag, "sum_resolutions": check.flag,
}


def _override(preset, overrides):
    unknown = sorted(set(overrides) - set(_FIELD_CHECKS))
    if unknown:
        raise ParameterError(
            f"{', '.join(unknown)} cannot be set on a preset; the fields are "
            f"{', '.join(_FIELD_CHECKS)}")
    preset = replace(preset, **{k: _FIELD_CHECKS[k](k, v) for k, v in overrides.items()})
    n = len(preset.fft_sizes)
    lengths = [len(preset.hop_sizes), len(preset.win_lengths)]
    if preset.n_mels is not None:
        lengths.append(len(preset.n_mels))
    if any(m != n for m in lengths):
        raise ParameterError(
            "fft_sizes, hop_sizes, win_lengths (and n_mels) must have one value per "
            f"resolution: {n}, {lengths}")
    for i, (f, h, w) in enumerate(zip(preset.fft_sizes, preset.hop_sizes,
                                      preset.win_lengths)):
        if w > f:
            raise ParameterError(f"win_lengths[{i}]={w} is longer than fft_sizes[{i}]={f}")
        if preset.framing == HIFIGAN and h > f:
            # HiFi-GAN pads (fft - hop) / 2 on each side: negative, no framing at all
            raise ParameterError(
                f"hop_sizes[{i}]={h} is longer than fft_sizes[{i}]={f}: framing="
                f"{HIFIGAN!r} pads (fft_size - hop_size) // 2 samples on each side, which "
                f"needs hop_size <= fft_size")
    return preset


class PresetLoss:
    """A named preset (see PRESETS) as a loss: call with (est, ref).

    Parameters
    ----------
    name : str
        A key of PRESETS.
    sample_rate : float
        For the mel presets; default the source's (22050 for parallel_wavegan_mel and
        hifigan); required for "dac".
    weight : float
        Multiplies the loss (the sources' training weights: hifigan 45, dac 15, ...).
    reduction : {"mean", "none"}
        "mean": the source's number for the batch; "none": one value per item (B,).
    output : {"loss", "full"}
        "full": a MultiResolutionBreakdown, each field combined over resolutions as the
        source does (mean or sum), and each resolution's terms.
        Terms that are not part of the preset are reported as 0.
    check_finite : bool
    device : None, "cpu" or "cuda"
        As for the spectral losses: None computes on the GPU when an input lives there.
        On the GPU every fft size must be a power of two (all the presets' are).
    **overrides
        Fields of Preset to change, e.g. ParallelWaveGAN's hifigan.v1 vctk mel loss:
        PresetLoss("parallel_wavegan_mel", sample_rate=24000, fft_sizes=(2048,),
        hop_sizes=(300,), win_lengths=(1200,), fmin=0.0, fmax=12000.0, log_factor=1.0).

    Call with (est, ref): arrays of shape (T,), (C, T) or (B, C, T), float32 or float64;
    it returns a float, a (B,) array (reduction="none") or a MultiResolutionBreakdown.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 44100)).astype(np.float32)
    >>> loss = fastmixloss.PresetLoss("dac", sample_rate=44100, weight=15.0)
    >>> loss(ref, ref)
    0.0
    """

    def __init__(self, name: str, *, sample_rate: Optional[float] = None,
                 weight: float = 1.0, reduction: str = "mean", output: str = "loss",
                 check_finite: bool = True, device: Optional[str] = None, **overrides):
        if name not in PRESETS:
            raise ParameterError(f"preset={name!r} is not one of {', '.join(PRESETS)}")
        self.name = name
        self.preset = _override(PRESETS[name], overrides)
        if sample_rate is None:
            sample_rate = self.preset.sample_rate
        if self.preset.n_mels is not None and sample_rate is None:
            raise ParameterError(f"preset={name!r} needs sample_rate (in Hz)")
        self.sample_rate = check.optional(check.positive)("sample_rate", sample_rate)
        if self.preset.n_mels is not None:   # the checks of scale="mel", shared
            check_filterbank_rate(self.sample_rate, f"preset={name!r}")
            check_mel_band(self.preset.fmin, self.preset.fmax, self.sample_rate)
        else:   # as the spectral options: band edges without mel bands would be ignored
            for edge in ("fmin", "fmax"):
                if edge in overrides:
                    raise ParameterError(
                        f"{edge}={overrides[edge]!r} applies to mel bands only; "
                        f"preset={name!r} has none (set n_mels to give it some)")
        self.weight = check.weight("weight", weight)
        self.reduction = check.choice("reduction", reduction, ("mean", "none"))
        self.output = check.choice("output", output, check.OUTPUTS)
        self.check_finite = check.flag("check_finite", check_finite)
        self.device = check_device(device)
        self._banks = [self._filterbank(i) for i in range(len(self.preset.fft_sizes))]
        self._check_log_of_zero()
        self.plan = self._plan()

    def _check_log_of_zero(self):
        """ParameterError where the log term can meet a value of exactly 0 with no floor
        to replace it: log(0) - log(0) is NaN in the sources and a clamped, meaningless
        number here. Every preset as published floors its log or its magnitudes; an
        override can take both floors away."""
        preset = self.preset
        if not preset.w_log_mag or preset.log_floor > 0.0:
            return
        fix = "set log_floor > 0 (e.g. 1e-5, as dac and hifigan do)"
        if preset.eps == 0.0:   # an all-zero windowed frame has magnitudes of exactly 0
            raise ParameterError(
                f"eps={preset.eps!r} with log_floor={preset.log_floor!r}: magnitudes of "
                f"exactly 0 (a frame of zeros) would reach the log term; set eps > 0 or "
                f"{fix}")
        if preset.log_threshold > 0.0:
            raise ParameterError(
                f"log_threshold={preset.log_threshold!r} with log_floor="
                f"{preset.log_floor!r}: values at or below the threshold would become 0 "
                f"in the log term; {fix}")
        for index, bank in enumerate(self._banks):
            if bank is not None and (np.diff(bank.offsets) == 0).any():
                raise ParameterError(
                    f"n_mels[{index}]={preset.n_mels[index]} at fft_sizes[{index}]="
                    f"{preset.fft_sizes[index]} has bands that cover no FFT bin (always 0) "
                    f"and log_floor={preset.log_floor!r}: the log term would take log(0); "
                    f"use fewer bands or a larger fft size, or {fix}")

    def _filterbank(self, index):
        preset = self.preset
        if preset.n_mels is None:
            return None
        fft_size = preset.fft_sizes[index]
        # the sources multiply by librosa's float32 matrix; empty bands are allowed
        # (a band of zeros is clamped to the log floor in both signals: it adds 0)
        bank = filterbank("mel", self.sample_rate, fft_size, preset.n_mels[index],
                          preset.fmin, preset.fmax, "float32", empty_bands=True)
        if not bank.weights.any():   # that resolution's terms would be 0 for any input
            raise ParameterError(
                f"fmin={preset.fmin!r} to fmax={preset.fmax!r} at sample_rate="
                f"{self.sample_rate:g} covers no FFT bin at fft_sizes[{index}]={fft_size}: "
                f"widen the band or use a larger fft size")
        return bank

    def _plan(self):
        """The preset as a plan of the one spectral engine."""
        preset = self.preset
        resolutions = tuple(Resolution(*r) for r in zip(preset.fft_sizes, preset.hop_sizes,
                                                          preset.win_lengths))
        return SpectralPlan(
            resolutions, ("hann",) * len(resolutions), tuple(self._banks),
            float32_window=preset.float32_window, framing=preset.framing,
            eps=float(preset.eps), eps_added=preset.eps_added,
            log_threshold=float(preset.log_threshold), log_floor=float(preset.log_floor),
            w_sc=preset.w_sc, w_log_mag=preset.w_log_mag, w_lin_mag=preset.w_lin_mag,
            log_factor=preset.log_factor, weight=self.weight, reduction=self.reduction,
            # the sources' floor-divided spectral convergence is kept (module docstring)
            batch_sc=preset.batch_sc, nan_at_floor=False,
            sum_resolutions=preset.sum_resolutions, output=self.output,
            device=self.device, check_finite=self.check_finite)

    def __repr__(self):
        return f"PresetLoss({self.name!r}, sample_rate={self.sample_rate})"

    def __call__(self, est: ArrayLike,
                 ref: ArrayLike) -> Union[float, np.ndarray, MultiResolutionBreakdown]:
        (breakdown,) = engine.evaluate(self.plan, est, ref,
                                       loss_name=f"preset={self.name!r}")
        return breakdown if self.output == "full" else breakdown.loss


def preset_loss(name: str, **kwargs) -> PresetLoss:
    """The named preset as a loss object: PresetLoss(name, **kwargs).

    Parameters
    ----------
    name : str
        A key of PRESETS: "auraloss", "parallel_wavegan", "parallel_wavegan_mel",
        "hifigan", "dac", "dac_stft", "ddsp".
    **kwargs
        sample_rate, weight, reduction, output, check_finite, device and overrides of
        the preset's fields, as PresetLoss takes them.

    Returns
    -------
    PresetLoss
        Call it with (est, ref).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.random.default_rng(0).standard_normal((1, 2, 44100)).astype(np.float32)
    >>> loss = fastmixloss.preset_loss("parallel_wavegan")
    >>> round(loss(ref, ref), 6)
    0.0
    """
    return PresetLoss(name, **kwargs)
