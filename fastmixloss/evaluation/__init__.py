"""Several losses of one pair of signals from one pass over them.

`evaluate(est, ref, losses=("mse", "sisdr", "mrstft", "sd"))` gives what each loss alone
gives, sharing the work: the time-domain losses read the samples once together, spectral
losses that frame alike transform each frame once (the sum-and-difference signals' spectra
come from the channels'), and a long signal can be fed in pieces (`Evaluator.stream`)
in memory that does not grow with its length.
"""

from collections.abc import Mapping
from typing import Dict, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from .. import backend as backends
from .. import validation as check
from ..errors import DeviceError, ParameterError
from .. import features
from .losses import DEFAULT_LOSSES, LOSSES, check_loss_names
from .stream import Stream

__all__ = ["evaluate", "Evaluator", "LOSSES", "DEFAULT_LOSSES"]


class _Features:
    """A feature metric (compare_features, compare_loudness: `function`) with its sample
    rate and parameters bound, as the evaluation calls it on the whole signal."""

    evaluation_kind = "features"

    def __init__(self, sample_rate, device, parameters, function="compare_features"):
        if sample_rate is None:
            raise ParameterError("features: the feature metrics need sample_rate (in Hz), "
                                 "e.g. sample_rate=44100")
        self.sample_rate = sample_rate
        self.parameters = dict(parameters, device=device)
        self.function = getattr(features, function)

    def __call__(self, est, ref):
        return self.function(est, ref, self.sample_rate, **self.parameters)


class Evaluator:
    """Losses by name, built and checked once, computed together on each call.

    Parameters
    ----------
    losses : sequence of str, default ("mse", "sisdr", "mrstft", "sd")
        Names from LOSSES: mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr (the time-domain
        losses), stft, mrstft, sd (stft_loss, mrstft_loss, sum_and_difference_loss) and
        features (compare_features).
    sample_rate : float, optional
        Hz; needed by "features" and by spectral options that need it (scale="mel", ...).
    device : None, "cpu" or "cuda"
        Where to compute; None: on the GPU when an input already lives there.
    derive_sum_and_difference : bool, default True
        Where a channel loss (stft, mrstft) and sd share a resolution, take the sum and
        difference spectra from the channels' (X(L) ± X(R)): half the transforms. False
        transforms L + R and L - R as sd alone does, for its numbers bit for bit (they
        differ by float32 rounding only; see docs/numerics.md).
    **parameters : dict
        Per loss name, the keyword arguments of its function, e.g.
        ``mrstft={"fft_sizes": (512, 1024), "hop_sizes": (128, 256),
        "win_lengths": (512, 1024)}``.

    Calling it with (est, ref) returns {name: value}: each value what the loss's function
    gives alone (the spectral losses' breakdowns with output="full").

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 44100))
    >>> est = ref + 0.1 * rng.standard_normal((2, 44100))
    >>> evaluator = fastmixloss.Evaluator(("mse", "mrstft"))
    >>> values = evaluator(est, ref)
    >>> bool(values["mse"] == fastmixloss.mse(est, ref))
    True
    >>> bool(abs(values["mrstft"] / fastmixloss.mrstft_loss(est, ref) - 1) < 1e-12)
    True
    """

    def __init__(self, losses: Sequence[str] = DEFAULT_LOSSES,
                 sample_rate: Optional[float] = None, *, device: Optional[str] = None,
                 derive_sum_and_difference: bool = True, **parameters: Mapping):
        self.names = check_loss_names(losses)
        self.device = backends.check_device(device)
        self.derive_sum_and_difference = check.flag("derive_sum_and_difference",
                                                    derive_sum_and_difference)
        self.sample_rate = sample_rate
        for name, given in parameters.items():
            if name not in LOSSES:
                raise ParameterError(
                    f"{name}={given!r}: not a loss name; parameters are given per loss, "
                    f"e.g. mrstft={{'fft_sizes': (512, 1024)}}; losses: {', '.join(LOSSES)}")
            if name not in self.names:
                raise ParameterError(f"{name}: parameters given for a loss that is not in "
                                     f"losses={self.names!r}")
            if not isinstance(given, Mapping):
                raise ParameterError(f"{name}={given!r} must be a dict of its parameters")
        self.parameters = {name: dict(parameters.get(name, {})) for name in self.names}
        self.losses = {name: self._build(name, self.parameters[name])
                       for name in self.names}

    def _build(self, name, given):
        entry = LOSSES[name]
        try:
            if entry.kind == "features":
                return _Features(self.sample_rate, self.device, given, entry.function)
            given = dict(given)
            if entry.kind == "spectral" and self.sample_rate is not None:
                given.setdefault("sample_rate", self.sample_rate)
            return entry.cls(device=self.device, **given)
        except ParameterError as exc:
            message = str(exc)
            raise ParameterError(message if message.startswith(f"{name}:")
                                 else f"{name}: {message}") from None

    def __repr__(self):
        return f"Evaluator({self.names!r})"

    @check.keywords_checked("evaluator(est, ref)", {"est", "ref"})
    def __call__(self, est: ArrayLike, ref: ArrayLike) -> Dict[str, object]:
        return self.stream_of(est, ref).result()

    def stream_of(self, est, ref):
        """The finished Stream of whole signals est, ref (its `outcome()` keeps each
        loss's exception instead of raising the first)."""
        backend = backends.select(self.device, est, ref)
        est3, ref3, ndim = backend.as_signal_pair(est, ref)
        shape = tuple(est3.shape)[3 - ndim:]
        stream = Stream(self, backend, shape, est3.dtype)
        while True:
            stream.feed(est3, ref3)
            if not stream.end_pass():
                return stream

    def stream(self, n_channels: int, length: int, *, n_items: Optional[int] = None,
               dtype=np.float32) -> Stream:
        """A Stream for a (C, T) pair of `length` samples fed in (C, n) pieces, or with
        `n_items` a (B, C, T) batch fed in (B, C, n) pieces (CPU).

        Feed pieces of `stream.alignment * k` samples (the last may be shorter), call
        `end_pass()`, and feed them again while it returns True; then `result()`.
        """
        if self.device == "cuda":
            raise DeviceError("a stream of pieces runs on the CPU: give the GPU whole "
                              "signals (evaluator(est, ref)), or device='cpu'")
        shape = (check.positive_int("n_channels", n_channels),
                 check.positive_int("length", length))
        if n_items is not None:
            shape = (check.positive_int("n_items", n_items),) + shape
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ParameterError(f"dtype={dtype} must be float32 or float64")
        return Stream(self, backends.CPU, shape, dtype)


def evaluate(est: ArrayLike, ref: ArrayLike, losses: Sequence[str] = DEFAULT_LOSSES,
             sample_rate: Optional[float] = None, *, device: Optional[str] = None,
             derive_sum_and_difference: bool = True,
             **parameters: Mapping) -> Dict[str, Union[float, np.ndarray, object]]:
    """Every loss in `losses` of one pair, from one pass: Evaluator(...)(est, ref).

    Parameters
    ----------
    est, ref : array_like
        (T,), (C, T) or (B, C, T), float32 or float64, the same shape.
    losses : sequence of str, default ("mse", "sisdr", "mrstft", "sd")
        Loss names (see Evaluator and LOSSES).
    sample_rate : float, optional
        Hz, for "features" and the spectral options that need one.
    device : None, "cpu" or "cuda"
        Where to compute.
    derive_sum_and_difference : bool, default True
        sd's spectra from the channels' where a channel loss shares its resolution (see
        Evaluator).
    **parameters : dict
        Per loss name, its function's keyword arguments.

    Returns
    -------
    dict
        {name: value} in the order of `losses`: each what that loss's function returns
        alone (float64 inputs: equal to 1e-12 relative or better; see docs/numerics.md
        for float32 and the sum-and-difference spectra).

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> rng = np.random.default_rng(0)
    >>> ref = rng.standard_normal((2, 44100))
    >>> values = fastmixloss.evaluate(ref + 0.1 * rng.standard_normal(ref.shape), ref)
    >>> list(values)
    ['mse', 'sisdr', 'mrstft', 'sd']
    """
    return Evaluator(losses, sample_rate, device=device,
                     derive_sum_and_difference=derive_sum_and_difference,
                     **parameters)(est, ref)
