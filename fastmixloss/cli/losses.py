"""Which losses the command line computes, with which parameters, and how one pair of
signals becomes the loss columns of a results row.

A `LossSettings` is plain data (names and keyword dictionaries) so that it pickles to Dask
workers and hashes to the `settings` column that guards a resumed run against mixing rows
computed with different parameters.
"""

import hashlib
import inspect
import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

import fastmixloss
from fastmixloss.errors import FastMixLossError, ParameterError

from .errors import caused_by_interrupt
from .results_file import one_line

# name on the command line -> library function
LOSS_FUNCTIONS = {
    "mse": "mse", "l1": "l1", "esr": "esr", "dc": "dc", "logcosh": "logcosh",
    "snr": "snr", "sisdr": "sisdr", "sdsdr": "sdsdr",
    "stft": "stft_loss", "mrstft": "mrstft_loss", "sd": "sum_and_difference_loss",
    "features": "compare_features",   # mix-feature MAPEs: columns features.<key>
}
SPECTRAL = ("stft", "mrstft", "sd")
DEFAULT_LOSSES = ("mse", "sisdr", "mrstft", "sd")

# These divide by the reference's energy, channel by channel: on a digitally silent
# reference channel they return a number (SI-SDR gives +80 dB from its eps terms) that
# means nothing, so the command line reports them as undefined instead.
NEEDS_REFERENCE_ENERGY = ("esr", "dc", "snr", "sisdr", "sdsdr")

# Fixed by the command line: a row is one pair, and it wants every term.
_NOT_SETTABLE = ("est", "ref", "reduction", "output", "device", "sample_rate")
# the rate a parameter check runs the losses at (the features need one)
CHECK_RATE = 44100

# The size parameters are checked against this before the parameter check allocates a
# signal for them: 2**24 samples is over 6 minutes at 44.1 kHz, far beyond any STFT frame
# worth computing, while 1e11 would ask for hundreds of GiB.
SIZE_PARAMETERS = ("fft_size", "fft_sizes", "hop_size", "hop_sizes", "win_length",
                   "win_lengths")
MAX_SIZE = 2 ** 24


def settable_parameters(name):
    """The keyword parameters a user may set for loss `name`, with their defaults."""
    function = getattr(fastmixloss, LOSS_FUNCTIONS[name])
    return {p.name: p.default for p in inspect.signature(function).parameters.values()
            if p.name not in _NOT_SETTABLE}


def check_loss_names(names, source="--losses"):
    unknown = [n for n in names if n not in LOSS_FUNCTIONS]
    if unknown:
        raise ParameterError(
            f"{source}: unknown loss {', '.join(map(repr, unknown))}; choose from "
            f"{', '.join(LOSS_FUNCTIONS)}")
    if not names:
        raise ParameterError(f"{source}: no loss chosen")
    if len(set(names)) != len(names):
        raise ParameterError(f"{source}: a loss is named twice: {', '.join(names)}")
    return tuple(names)


def _plain(value):
    """JSON- and TOML-friendly parameter values: lists become tuples for the library."""
    if isinstance(value, list):
        return tuple(value)
    return value


@dataclass(frozen=True)
class LossSettings:
    """The losses of a run: ((name, {parameter: value}), ...), and the device."""

    losses: tuple
    device: str = None
    length_policy: str = "error"
    columns: tuple = field(default=(), compare=False)

    @classmethod
    def build(cls, names, params, device=None, length_policy="error"):
        """names: loss names in column order; params: {loss: {parameter: value}}.
        Unknown parameters are refused here, naming the loss and the parameter."""
        names = check_loss_names(list(names))
        losses = []
        for name in names:
            given = dict(params.get(name, {}))
            allowed = settable_parameters(name)
            unknown = sorted(set(given) - set(allowed))
            if unknown:
                raise ParameterError(
                    f"{name}: unknown parameter {', '.join(unknown)}; {name} takes "
                    f"{', '.join(allowed)}")
            losses.append((name, {k: _plain(v) for k, v in sorted(given.items())}))
        return cls(tuple(losses), device, length_policy)

    @property
    def names(self):
        return tuple(name for name, _ in self.losses)

    def settings_id(self):
        """A short hash of everything that changes the numbers (not the device)."""
        text = json.dumps({"losses": [[n, p] for n, p in self.losses],
                           "length_policy": self.length_policy},
                          sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def describe(self):
        """{loss: {parameter: value}} with every parameter, defaults included."""
        out = {}
        for name, given in self.losses:
            values = settable_parameters(name)
            values.update(given)
            out[name] = {k: list(v) if isinstance(v, tuple) else v
                         for k, v in values.items()}
        return out

    def check_sizes(self):
        """Refuse a size parameter too large to compute before anything is allocated
        for it (the library names any other bad value when the losses first run)."""
        for name, given in self.losses:
            for key in SIZE_PARAMETERS:
                sizes = given.get(key)
                sizes = sizes if isinstance(sizes, (tuple, list)) else (sizes,)
                for size in sizes:
                    if (isinstance(size, (int, np.integer)) and not isinstance(size, bool)
                            and size > MAX_SIZE):
                        raise ParameterError(
                            f"{name}: {key} has {size}, larger than {MAX_SIZE} samples "
                            f"(over 6 minutes at 44.1 kHz); choose at most {MAX_SIZE}")

    def min_length(self):
        """Samples a signal needs for every chosen resolution (reflect padding)."""
        longest = 0
        for name, given in self.losses:
            values = settable_parameters(name)
            values.update(given)
            for key in ("fft_size", "fft_sizes"):
                if key in values:
                    sizes = values[key]
                    sizes = sizes if isinstance(sizes, (tuple, list)) else (sizes,)
                    longest = max([longest] + [int(s) for s in sizes
                                               if isinstance(s, (int, np.integer))
                                               and 0 < s <= MAX_SIZE])
        return longest // 2 + 1

    def with_columns(self):
        """Check every parameter by running the losses once on a short seeded stereo
        signal, and learn the columns they produce. Raises ParameterError (bad value)
        or DeviceError (--device cuda where it cannot run). This also compiles (or loads
        from Numba's cache) the kernels before the progress bar starts."""
        self.check_sizes()
        length = max(256, self.min_length() + 1)
        rng = np.random.default_rng(0)
        ref = rng.standard_normal((2, length)).astype(np.float32)
        est = (0.5 * ref + 0.1 * rng.standard_normal((2, length))).astype(np.float32)
        columns = []
        for name, params in self.losses:
            try:
                value = loss_value(name, params, est, ref, self.device)
            except ParameterError as exc:
                raise ParameterError(f"{name}: {exc}") from None
            except FastMixLossError:
                raise   # DeviceError: its own message says what to do
            except Exception as exc:   # noqa: BLE001 -- see below
                if caused_by_interrupt(exc):
                    raise KeyboardInterrupt from exc
                # the signal is a valid one made for this check: whatever the library
                # raised, it was the parameters it could not take
                given = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "defaults"
                raise ParameterError(
                    f"{name}: the library cannot take these parameters ({given}): "
                    f"{type(exc).__name__}: {one_line(exc)}; check them against "
                    f"help(fastmixloss.{LOSS_FUNCTIONS[name]})") from None
            columns.extend(flatten(name, value))
        return LossSettings(self.losses, self.device, self.length_policy, tuple(columns))


def loss_value(name, params, est, ref, device, sample_rate=CHECK_RATE):
    """One loss on one pair of (C, T) signals: a float, or a breakdown for spectral ones
    (and the feature comparison for "features")."""
    function = getattr(fastmixloss, LOSS_FUNCTIONS[name])
    if name == "features":
        return function(est, ref, sample_rate, device=device, **params)
    extra = {"output": "full"} if name in SPECTRAL else {}
    # (1, C, T): one item, so that compat="auraloss" (which wants a batch) works too
    return function(est[None], ref[None], device=device, **extra, **params)


def flatten(name, value):
    """Column name -> float for one loss's result."""
    if hasattr(value, "to_dict"):
        return {f"{name}.{key}": float(v) for key, v in value.to_dict().items()}
    return {name: float(value)}


def silent_channels(signal):
    return [c for c in range(signal.shape[0]) if not np.any(signal[c])]


def compute(settings, est, ref, sample_rate=CHECK_RATE, undefined=None):
    """Every loss of `settings` on one pair of (C, T) arrays at `sample_rate` (Hz).

    Returns (values, errors): the columns that could be computed, and one message per
    loss that could not be, or has undefined values (NaN from the library, with its
    reason; its defined columns are kept). A loss failing does not stop the others.
    `undefined`, a dict, receives {column: reason} for each undefined column.
    """
    values, errors = {}, []
    undefined = {} if undefined is None else undefined
    silent_ref = silent_channels(ref)
    for name, params in settings.losses:
        if name in NEEDS_REFERENCE_ENERGY and silent_ref:
            error = (f"{name}: undefined, the reference is silent (all samples zero) in "
                     f"channel {', '.join(str(c + 1) for c in silent_ref)}")
            errors.append(error)
            undefined[name] = error.split(", ", 1)[1]
            continue
        try:
            rate = {"sample_rate": sample_rate} if name == "features" else {}
            result = loss_value(name, params, est, ref, settings.device, **rate)
            columns = flatten(name, result)
        except FastMixLossError as exc:
            # a ParameterError here is about this pair (too short, mono for S/D, NaN);
            # the parameters themselves were checked before the run
            errors.append(f"{name}: {exc}")
            continue
        not_finite = [c for c, v in columns.items() if not math.isfinite(v)]
        if not_finite:
            # NaN is how the library says undefined: never a value in the row; the
            # loss's other columns keep theirs, and the error says which and why
            why = undefined_reasons(result, name, not_finite)
            undefined.update(why)
            texts = dict.fromkeys(t for text in why.values() for t in text.split("; "))
            which = "" if not_finite == [name] else f" {_listed(name, not_finite)}"
            errors.append(f"{name}:{which} undefined for this pair: {'; '.join(texts)}")
            columns = {c: v for c, v in columns.items() if c not in not_finite}
        values.update(columns)
    return values, errors


def undefined_reasons(result, name, columns):
    """{column: why the library left it undefined}, from the result's `reasons`
    (breakdowns key them by to_dict() key, feature comparisons by (item, key)); a NaN
    without a reason is said to be one."""
    given = {}
    for key, text in (getattr(result, "reasons", None) or {}).items():
        given.setdefault(key[-1] if isinstance(key, tuple) else key, text)
    out = {}
    for column in columns:
        key = column[len(name) + 1:] if column.startswith(f"{name}.") else column
        text = given.get(key) or "the library returned NaN without a reason"
        # the breakdowns' reasons begin "undefined: " (a sum of undefined parts has one
        # per part, "; "-joined), which the message says once
        parts = re.split(r"; (?=undefined)", text)
        out[column] = "; ".join(re.sub(r"^undefined(?: for [^:]*)?: ", "", p)
                                for p in parts)
    return out


def _listed(name, columns):
    """The undefined columns for a message, without the loss's own prefix: those above
    the resolutions by name, then how many of the resolutions' own."""
    keys = [c[len(name) + 1:] if c.startswith(f"{name}.") else c for c in columns]
    per_resolution = [k for k in keys if any(p.startswith("fft") for p in k.split("."))]
    named = [k for k in keys if k not in per_resolution] or per_resolution[:1]
    more = len(keys) - len(named)
    return ", ".join(named) + (f" (and {more} per-resolution values)" if more else "")
