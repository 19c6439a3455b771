"""The STFT-magnitude losses: one resolution, several, and stereo sum-and-difference.

Each loss has a class form (options checked and its plan built once, then called as
`loss(est, ref)`) and a function form that builds the class and calls it. What they
compute is in docs/numerics.md; `compat="auraloss"` reproduces auraloss 0.4.0 instead
(spectral convergence over the whole batch, halved sum-and-difference, (B, C, T) input
only). Every option is declared once, in options.py; the plan (plan.py) and the engine
(engine.py) do the rest.
"""

import numbers
import operator
from typing import Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from . import engine
from . import validation as check
from .errors import ParameterError
from .options import checked_options, parameter_docs, takes_options
from .plan import Resolution, resolution, resolutions, spectral_plan
from .results import (MultiResolutionBreakdown, STFTBreakdown,
                      SumAndDifferenceBreakdown)
from .windows import window_name

__all__ = ["STFTLoss", "MultiResolutionSTFTLoss", "SumAndDifferenceSTFTLoss",
           "MelSTFTLoss", "ChromaSTFTLoss", "RandomResolutionSTFTLoss", "stft_loss",
           "mrstft_loss", "sum_and_difference_loss", "Resolution"]

Sizes = Sequence[int]
Window = Union[str, ArrayLike, Sequence[ArrayLike]]
Value = Union[float, np.ndarray]

DEFAULT_FFT_SIZES = (1024, 2048, 512)
DEFAULT_HOP_SIZES = (120, 240, 50)
DEFAULT_WIN_LENGTHS = (600, 1200, 240)

# Channel weights of the sum (L + R) and difference (L - R) rows, and what each row's
# reference is called where its spectral convergence is undefined.
_SUM_AND_DIFFERENCE = ((1.0, 1.0), (1.0, -1.0))
_SUM_AND_DIFFERENCE_GROUPS = ((slice(0, 1), "the reference's sum signal (L + R)"),
                              (slice(1, 2), "the reference's difference signal (L - R)"))

_FRAMING_DOC = """    fft_size, hop_size, win_length : int
        Transform size, hop and window length in samples (win_length <= fft_size;
        default win_length = fft_size). Frames are centred with reflect padding."""
_FRAMINGS_DOC = """    fft_sizes, hop_sizes, win_lengths : sequence of int
        One resolution per position (win_lengths[i] <= fft_sizes[i]). Defaults (1024,
        2048, 512), (120, 240, 50), (600, 1200, 240). Frames are centred with reflect
        padding."""
_WINDOW_DOC = """    window : str, array, or sequence of arrays, default "hann"
        "hann" (or auraloss's "hann_window"), "hamming", "blackman", "bartlett",
        "kaiser", "rectangular", or win_length values; with several resolutions also one
        array per resolution (with compat="auraloss", torch's own windows, e.g.
        [torch.hann_window(w).numpy() for w in win_lengths], give auraloss's numbers to
        rounding; the named windows are torch's up to its float32 cos)."""
_UNDEFINED_DOC = """    Spectral convergence is undefined for an item whose reference (all of its channels
    together; in the sum-and-difference loss, its sum or its difference signal) has no
    energy above the magnitude floor sqrt(eps): it would divide by the floor alone (a
    silent reference scored about 20,000). SC is NaN there, and so is the loss where
    w_sc > 0, and the mean or sum over items; the other terms keep their values.
    output="full" says why in the breakdown's `reasons`. compat="auraloss" keeps
    auraloss's floor-divided number."""
_CALL_DOC = """    Call with (est, ref): arrays of shape (T,), (C, T) or (B, C, T), float32 or
    float64 (NumPy, or on a GPU: CuPy, PyTorch CUDA, Numba device arrays)."""


def _doc(text):
    """A docstring with the shared sections filled in."""
    return (text.replace("{framing}", _FRAMING_DOC.strip())
            .replace("{framings}", _FRAMINGS_DOC.strip())
            .replace("{window}", _WINDOW_DOC.strip())
            .replace("{options}", parameter_docs().strip())
            .replace("{undefined}", _UNDEFINED_DOC.strip())
            .replace("{call}", _CALL_DOC.strip()))


class _SpectralLoss:
    """A spectral loss object: a plan, run by the engine on each call.

    A call is the engine's sums of the plan's rows (`mix`: None for the channels, else
    channel weights, in `channels` channels) and `from_sums`, which reduces them; the
    one-pass evaluation computes the sums of several losses together and hands each its
    own.
    """

    mix = None
    mix_groups = engine.WHOLE_SIGNAL
    channels = None

    def from_sums(self, parts):
        """The loss's value (or breakdown) from its ResolutionSums, one per resolution."""
        (breakdown,) = engine.multi_resolution(self.plan, parts, self.mix_groups)
        return self._result(breakdown)

    def _result(self, breakdown):
        return breakdown if self.plan.output == "full" else breakdown.loss

    def _describe(self):
        return "; ".join(str(r) for r in self.plan.resolutions)

    def __repr__(self):
        return f"{type(self).__name__}({self._describe()})"

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est: ArrayLike, ref: ArrayLike):
        return self.from_sums(engine.sums(self.plan, est, ref, mix=self.mix,
                                          channels=self.channels))


class STFTLoss(_SpectralLoss):
    __doc__ = _doc("""STFT-magnitude loss at one resolution, computed per channel.

    loss = w_sc * SC + w_log_mag * log distance + w_lin_mag * linear distance
    (+ w_phs * phase term), where for each item SC = ||X - X_est||_F / ||X||_F over all
    its channels and frames, and the distances are means over its bins (L1 or L2,
    `mag_distance`).

    Parameters
    ----------
    {framing}
    {window}
    {options}

    {call}
    Returns a float (reduction "mean" or "sum"), a (B,) array ("none"), or with
    output="full" an STFTBreakdown of every term.

    {undefined}

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 44100)).astype(np.float32)
    >>> loss = fastmixloss.STFTLoss(fft_size=2048, hop_size=512)
    >>> round(loss(ref, ref), 6)
    0.0
    """)

    @takes_options("fastmixloss.STFTLoss")
    def __init__(self, fft_size: int = 1024, hop_size: int = 256,
                 win_length: Optional[int] = None, window: Window = "hann", **options):
        win_length = fft_size if win_length is None else win_length
        self.plan = spectral_plan((resolution(fft_size, hop_size, win_length),), window,
                                  checked_options(options))

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est: ArrayLike, ref: ArrayLike) -> Union[Value, STFTBreakdown]:
        return super().__call__(est, ref)

    def from_sums(self, parts):
        (breakdown,) = engine.multi_resolution(self.plan, parts)
        return self._result(breakdown.resolutions[0])   # the one resolution's own


class MultiResolutionSTFTLoss(_SpectralLoss):
    __doc__ = _doc("""The mean of STFTLoss over several resolutions (per channel).

    Parameters
    ----------
    {framings}
    {window}
    {options}

    {call}
    Returns a float, a (B,) array (reduction="none"), or with output="full" a
    MultiResolutionBreakdown: each field's mean over resolutions, and each resolution's
    STFTBreakdown.

    {undefined}

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((1, 2, 44100))
    >>> est = ref + 0.01 * rng.standard_normal(ref.shape)
    >>> loss = fastmixloss.MultiResolutionSTFTLoss(output="full")
    >>> breakdown = loss(est, ref)
    >>> len(breakdown.resolutions), breakdown.loss > 0
    (3, True)
    """)

    @takes_options("fastmixloss.MultiResolutionSTFTLoss")
    def __init__(self, fft_sizes: Sizes = DEFAULT_FFT_SIZES,
                 hop_sizes: Sizes = DEFAULT_HOP_SIZES,
                 win_lengths: Sizes = DEFAULT_WIN_LENGTHS, window: Window = "hann",
                 **options):
        self.plan = spectral_plan(resolutions(fft_sizes, hop_sizes, win_lengths), window,
                                  checked_options(options))


class SumAndDifferenceSTFTLoss(_SpectralLoss):
    __doc__ = _doc("""Stereo sum-and-difference loss: w_sum * MR(L+R) + w_diff * MR(L-R).

    Indifferent to which channel is left: swapping L and R (or flipping the polarity of
    either signal) changes the difference signal's sign only, and magnitudes ignore
    sign. Needs C = 2. With compat="auraloss" the result is halved, as auraloss 0.4.0
    does. A dual-mono reference (L = R, an old mono recording) has no difference signal:
    the diff part's spectral convergence is NaN, and so is the loss where w_diff and
    w_sc are nonzero.

    Parameters
    ----------
    {framings}
    {window}
    w_sum, w_diff : float, default 1.0
        Weights (>= 0) of the sum and the difference signals' multi-resolution losses.
    {options}

    {call}
    Returns a float, a (B,) array (reduction="none"), or with output="full" a
    SumAndDifferenceBreakdown (the sum and diff MultiResolutionBreakdowns).

    {undefined}

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 44100))
    >>> swapped = ref[::-1]        # left and right exchanged
    >>> loss = fastmixloss.SumAndDifferenceSTFTLoss()
    >>> bool(abs(loss(swapped, ref) - loss(ref, ref)) < 1e-9)
    True
    """)

    @takes_options("fastmixloss.SumAndDifferenceSTFTLoss")
    def __init__(self, fft_sizes: Sizes = DEFAULT_FFT_SIZES,
                 hop_sizes: Sizes = DEFAULT_HOP_SIZES,
                 win_lengths: Sizes = DEFAULT_WIN_LENGTHS, window: Window = "hann", *,
                 w_sum: float = 1.0, w_diff: float = 1.0, **options):
        self.plan = spectral_plan(resolutions(fft_sizes, hop_sizes, win_lengths), window,
                                  checked_options(options))
        self.w_sum = check.weight("w_sum", w_sum)
        self.w_diff = check.weight("w_diff", w_diff)

    mix = _SUM_AND_DIFFERENCE
    mix_groups = _SUM_AND_DIFFERENCE_GROUPS
    channels = 2

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est: ArrayLike,
                 ref: ArrayLike) -> Union[Value, SumAndDifferenceBreakdown]:
        return super().__call__(est, ref)

    def from_sums(self, parts):
        sum_part, diff_part = engine.multi_resolution(self.plan, parts, self.mix_groups)
        loss = engine.weighted_sum([(self.w_sum, sum_part.loss),
                                    (self.w_diff, diff_part.loss)])
        if self.plan.compat == "auraloss":
            loss = loss / 2
        reasons = {}
        undefined_parts = dict.fromkeys(
            part.reasons["loss"] for weight, part in ((self.w_sum, sum_part),
                                                      (self.w_diff, diff_part))
            if weight and "loss" in part.reasons)
        if undefined_parts:
            reasons["loss"] = "; ".join(undefined_parts)
        for name, part in (("sum", sum_part), ("diff", diff_part)):
            reasons.update({f"{name}.{key}": text for key, text in part.reasons.items()})
        return self._result(SumAndDifferenceBreakdown(engine.plain(loss), sum_part,
                                                      diff_part, reasons=reasons))


@takes_options("fastmixloss.stft_loss")
def stft_loss(est: ArrayLike, ref: ArrayLike, *, fft_size: int = 1024,
              hop_size: int = 256, win_length: Optional[int] = None,
              window: Window = "hann", **options) -> Union[Value, STFTBreakdown]:
    """STFT-magnitude loss at one resolution: STFTLoss(...)(est, ref).

    Parameters
    ----------
    est, ref : array
        (T,), (C, T) or (B, C, T), float32 or float64, the same shape.
    fft_size, hop_size, win_length : int
        Default 1024, 256 and fft_size. See STFTLoss.
    window : str or array
        See STFTLoss.
    {options}

    Returns
    -------
    float, (B,) array or STFTBreakdown
        The loss (reduction "mean" or "sum"), one per item ("none"), or every term
        (output="full"). NaN where spectral convergence is weighted and undefined (a
        silent reference, see STFTLoss).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.sin(np.linspace(0, 2000, 44100))
    >>> round(fastmixloss.stft_loss(0.5 * ref, ref, w_log_mag=0.0), 3)
    0.5
    """
    return STFTLoss(fft_size, hop_size, win_length, window, **options)(est, ref)


@takes_options("fastmixloss.mrstft_loss")
def mrstft_loss(est: ArrayLike, ref: ArrayLike, *, fft_sizes: Sizes = DEFAULT_FFT_SIZES,
                hop_sizes: Sizes = DEFAULT_HOP_SIZES,
                win_lengths: Sizes = DEFAULT_WIN_LENGTHS, window: Window = "hann",
                **options) -> Union[Value, MultiResolutionBreakdown]:
    """Multi-resolution STFT loss: MultiResolutionSTFTLoss(...)(est, ref).

    Parameters
    ----------
    est, ref : array
        (T,), (C, T) or (B, C, T), float32 or float64, the same shape.
    fft_sizes, hop_sizes, win_lengths : sequence of int
        Default (1024, 2048, 512), (120, 240, 50), (600, 1200, 240).
    window : str, array or sequence of arrays
        See MultiResolutionSTFTLoss.
    {options}

    Returns
    -------
    float, (B,) array or MultiResolutionBreakdown
        The mean over resolutions of STFTLoss. NaN where spectral convergence is
        weighted and undefined (a silent reference, see STFTLoss).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.sin(np.linspace(0, 2000, 44100))
    >>> round(fastmixloss.mrstft_loss(ref, ref), 6)
    0.0
    """
    return MultiResolutionSTFTLoss(fft_sizes, hop_sizes, win_lengths, window,
                                   **options)(est, ref)


@takes_options("fastmixloss.sum_and_difference_loss")
def sum_and_difference_loss(est: ArrayLike, ref: ArrayLike, *,
                            fft_sizes: Sizes = DEFAULT_FFT_SIZES,
                            hop_sizes: Sizes = DEFAULT_HOP_SIZES,
                            win_lengths: Sizes = DEFAULT_WIN_LENGTHS,
                            window: Window = "hann", w_sum: float = 1.0,
                            w_diff: float = 1.0,
                            **options) -> Union[Value, SumAndDifferenceBreakdown]:
    """Stereo sum-and-difference loss: SumAndDifferenceSTFTLoss(...)(est, ref).

    Parameters
    ----------
    est, ref : array
        (2, T) or (B, 2, T), float32 or float64, the same shape.
    fft_sizes, hop_sizes, win_lengths : sequence of int
        See MultiResolutionSTFTLoss.
    window : str, array or sequence of arrays
        See MultiResolutionSTFTLoss.
    w_sum, w_diff : float
        Weights of the sum (L + R) and the difference (L - R) losses, default 1.
    {options}

    Returns
    -------
    float, (B,) array or SumAndDifferenceBreakdown
        NaN where a weighted spectral convergence is undefined (a silent reference, or
        the difference signal of a dual-mono one, see SumAndDifferenceSTFTLoss).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(1)
    >>> ref = rng.standard_normal((2, 44100))
    >>> round(fastmixloss.sum_and_difference_loss(ref[::-1], ref), 6)
    0.0
    """
    return SumAndDifferenceSTFTLoss(fft_sizes, hop_sizes, win_lengths, window, w_sum=w_sum,
                                    w_diff=w_diff, **options)(est, ref)


class MelSTFTLoss(STFTLoss):
    """STFTLoss on a mel scale: STFTLoss(scale="mel", n_bins=n_mels), as auraloss's.

    Parameters
    ----------
    sample_rate : float
        In Hz (1 kHz to 768 kHz).
    fft_size, hop_size, win_length, window
        As STFTLoss.
    n_mels : int, default 128
        Mel bands (Slaney scale and norm, fmin to fmax).
    **options
        The other options of STFTLoss (fmin, fmax, w_sc, compat, ...).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.sin(np.linspace(0, 3000, 22050))
    >>> loss = fastmixloss.MelSTFTLoss(22050, n_mels=64)
    >>> round(loss(ref, ref), 6)
    0.0
    """

    def __init__(self, sample_rate: float, fft_size: int = 1024, hop_size: int = 256,
                 win_length: Optional[int] = None, window: Window = "hann", *,
                 n_mels: int = 128, **options):
        super().__init__(fft_size, hop_size, win_length, window, sample_rate=sample_rate,
                         scale="mel", n_bins=check.positive_int("n_mels", n_mels),
                         **options)


class ChromaSTFTLoss(STFTLoss):
    """STFTLoss on chroma bands: STFTLoss(scale="chroma", n_bins=n_chroma).

    auraloss 0.4.0's ChromaSTFTLoss raises a TypeError when constructed; this one
    computes the intended loss (librosa.filters.chroma's defaults).

    Parameters
    ----------
    sample_rate : float
        In Hz (1 kHz to 768 kHz).
    fft_size, hop_size, win_length, window
        As STFTLoss.
    n_chroma : int, default 12
        Chroma bands (pitch classes).
    **options
        The other options of STFTLoss (w_sc, compat, ...; not fmin or fmax).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.sin(np.linspace(0, 3000, 22050))
    >>> loss = fastmixloss.ChromaSTFTLoss(22050)
    >>> round(loss(ref, ref), 6)
    0.0
    """

    def __init__(self, sample_rate: float, fft_size: int = 1024, hop_size: int = 256,
                 win_length: Optional[int] = None, window: Window = "hann", *,
                 n_chroma: int = 12, **options):
        super().__init__(fft_size, hop_size, win_length, window, sample_rate=sample_rate,
                         scale="chroma", n_bins=check.positive_int("n_chroma", n_chroma),
                         **options)


# the largest max_fft_size RandomResolutionSTFTLoss takes with a filterbank (scale=...)
MAX_RANDOM_FILTERBANK_FFT_SIZE = 2 ** 20

_RANDOM_WINDOWS = ("hann", "bartlett", "blackman", "hamming", "kaiser")


class RandomResolutionSTFTLoss(_SpectralLoss):
    """The mean of STFTLoss over randomly drawn resolutions, redrawn every
    `randomize_rate` calls (auraloss's RandomResolutionSTFTLoss).

    Each of the `resolutions` draws, from `rng` (a numpy.random.Generator) or a new
    Generator seeded with `seed`:
      fft_size = 2**e, e uniform over the integers log2(min_fft_size) .. log2(max_fft_size),
        both ends included;
      hop_size = max(1, int(fft_size * u)), u uniform in [min_hop_size, max_hop_size);
      win_length = int(fft_size * f), f one of 1, 0.5, 0.25;
      window uniform over `windows`.
    The first draw happens at construction and serves the first `randomize_rate` calls;
    the drawn resolutions are in `self.resolutions`.

    Differences from auraloss 0.4.0: auraloss draws from NumPy's global legacy generator
    (so runs reproduce only through np.random.seed), throws its construction draw away by
    redrawing on the first call, and never draws max_fft_size (numpy.random.randint
    excludes its upper bound). Signals must be longer than max_fft_size // 2 samples (the
    reflect padding of the largest size that can be drawn); auraloss asks for more than
    max_fft_size. With a filterbank (scale="mel" or "chroma") max_fft_size is at most
    2**20: each drawn size builds its filterbank when it is drawn.

    Parameters
    ----------
    resolutions : int, default 3
        How many resolutions each draw holds.
    min_fft_size, max_fft_size : int, default 16 and 32768
        Powers of two: the range of the drawn fft sizes.
    min_hop_size, max_hop_size : float, default 0.1 and 1.0
        The range of the hop as a fraction of the fft size.
    windows : sequence of str
        The window names to draw from (default hann, bartlett, blackman, hamming,
        kaiser).
    randomize_rate : int, default 1
        Draw again every this many calls.
    rng : numpy.random.Generator, optional
    seed : int, optional
        Seed of a new Generator (not with rng).
    **stft_kwargs
        The options of STFTLoss (w_sc, w_log_mag, w_lin_mag, w_phs, sample_rate, scale,
        n_bins, compat, reduction, ...), for every drawn resolution; output="full" gives
        a MultiResolutionBreakdown of the current draw.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.random.default_rng(0).standard_normal((2, 8192))
    >>> loss = fastmixloss.RandomResolutionSTFTLoss(max_fft_size=1024, seed=0)
    >>> len(loss.resolutions), round(loss(ref, ref), 6)
    (3, 0.0)
    """

    def __init__(self, resolutions: int = 3, min_fft_size: int = 16,
                 max_fft_size: int = 32768, min_hop_size: float = 0.1,
                 max_hop_size: float = 1.0, windows: Sequence[str] = _RANDOM_WINDOWS, *,
                 randomize_rate: int = 1, rng: Optional[np.random.Generator] = None,
                 seed: Optional[int] = None, **stft_kwargs):
        self.n_resolutions = check.positive_int("resolutions", resolutions)
        self.min_fft_size = _power_of_two("min_fft_size", min_fft_size)
        self.max_fft_size = _power_of_two("max_fft_size", max_fft_size)
        if self.min_fft_size > self.max_fft_size:
            raise ParameterError(f"min_fft_size={min_fft_size} is above "
                                 f"max_fft_size={max_fft_size}")
        self.min_hop_size = check.finite_float("min_hop_size", min_hop_size,
                                               strictly_positive=True)
        self.max_hop_size = check.finite_float("max_hop_size", max_hop_size,
                                               strictly_positive=True)
        if self.min_hop_size > self.max_hop_size:
            raise ParameterError(f"min_hop_size={min_hop_size} is above "
                                 f"max_hop_size={max_hop_size}")
        self.windows = tuple(_random_window(i, w) for i, w in
                             enumerate(check.sequence("windows", windows)))
        self.randomize_rate = check.positive_int("randomize_rate", randomize_rate)
        if rng is not None and seed is not None:
            raise ParameterError("give rng or seed, not both")
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise ParameterError(f"rng={rng!r} must be a numpy.random.Generator")
        if seed is not None:
            seed = _seed(seed)
        self.rng = rng if rng is not None else np.random.default_rng(seed)
        self._stft_kwargs = dict(stft_kwargs)
        self._output = stft_kwargs.get("output", "loss")
        self._calls = 0
        if (stft_kwargs.get("scale") is not None
                and self.max_fft_size > MAX_RANDOM_FILTERBANK_FFT_SIZE):
            # each draw builds its filterbank at once: at 2**30 points one alone would
            # take gigabytes, before any signal could be long enough for it
            raise ParameterError(
                f"max_fft_size={max_fft_size} with scale={stft_kwargs['scale']!r}: "
                f"filterbanks are built as sizes are drawn, up to "
                f"{MAX_RANDOM_FILTERBANK_FFT_SIZE} points")
        if stft_kwargs.get("scale") is not None:
            # a filterbank that fits the smallest size fits every larger one: check it
            # now rather than at a redraw in the middle of a run
            STFTLoss(self.min_fft_size, self.min_fft_size, **dict(stft_kwargs, output="loss"))
        self.draw()

    def draw(self):
        """Draw new resolutions now (normally done every randomize_rate calls)."""
        low = int(np.log2(self.min_fft_size))
        high = int(np.log2(self.max_fft_size))
        losses, drawn = [], []
        for _ in range(self.n_resolutions):
            fft_size = 2 ** int(self.rng.integers(low, high, endpoint=True))
            fraction = self.rng.uniform(self.min_hop_size, self.max_hop_size)
            hop_size = max(1, int(fft_size * fraction))
            win_length = max(1, int(fft_size * self.rng.choice([1.0, 0.5, 0.25])))
            window = self.windows[int(self.rng.integers(len(self.windows)))]
            kwargs = dict(self._stft_kwargs, output="full")
            losses.append(STFTLoss(fft_size, hop_size, win_length, window, **kwargs))
            drawn.append((fft_size, hop_size, win_length, window))
        self._losses = losses
        self.resolutions = tuple(drawn)

    def _describe(self):
        return "; ".join(f"fft_size={f}, hop_size={h}, win_length={w}, window={n}"
                         for f, h, w, n in self.resolutions)

    def draw_for_call(self, est, ref):
        """What a call does before it computes (the gradient's forward too): the checks of
        shapes, channel layout and length, then a new draw every randomize_rate calls."""
        plan = self._losses[0].plan
        est3, _ = engine.signal_pair(plan, engine.select_backend(plan, est, ref), est, ref)
        length = est3.shape[-1]
        if length <= self.max_fft_size // 2:
            raise ParameterError(
                f"signals of {length} samples are too short for max_fft_size="
                f"{self.max_fft_size}: the largest size that can be drawn needs more than "
                f"{self.max_fft_size // 2}")
        if self._calls > 0 and self._calls % self.randomize_rate == 0:
            self.draw()
        self._calls += 1

    def __call__(self, est: ArrayLike,
                 ref: ArrayLike) -> Union[Value, MultiResolutionBreakdown]:
        self.draw_for_call(est, ref)
        parts = [loss(est, ref) for loss in self._losses]
        breakdown = engine.over_resolutions(self._losses[0].plan, parts)
        return breakdown if self._output == "full" else breakdown.loss


def _random_window(index, window):
    """A window name for the draws (each draw picks its own length: no arrays)."""
    if not isinstance(window, str):
        raise ParameterError(f"windows[{index}]={window!r} must be a window name, e.g. "
                             f"'hann' (each draw sets its own window length)")
    try:
        return window_name(window)
    except ParameterError as error:   # say which of the windows it was
        raise ParameterError(f"windows[{index}]: {error}") from None


def _seed(value):
    """A seed of numpy.random.default_rng: an integer >= 0 (bool and float refused)."""
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or value < 0):
        raise ParameterError(f"seed={value!r} must be an integer >= 0 (or None)")
    return operator.index(value)


def _power_of_two(name, value):
    value = check.positive_int(name, value)
    if value & (value - 1):
        raise ParameterError(f"{name}={value} must be a power of two")
    return value
