"""Which losses the command line computes, with which parameters, and how one pair of
signals becomes the loss columns of a results row: one Evaluator per run (and sample
rate) computes every loss of a pair from one reading of its pieces.

A `LossSettings` is plain data (names and keyword dictionaries) so that it pickles to Dask
workers and hashes to the `settings` column that guards a resumed run against mixing rows
computed with different parameters.
"""

import hashlib
import inspect
import json
import math
import re
from dataclasses import dataclass, field, fields

import numpy as np

import fastmixloss
from fastmixloss.errors import FastMixLossError, ParameterError
from fastmixloss.backend import check_device
from fastmixloss.evaluation import Evaluator
from fastmixloss.evaluation.losses import LOSSES, check_loss_names
from fastmixloss.presets import PRESETS, Preset, PresetLoss
from fastmixloss.spectral import _SpectralLoss

from .audio import whole_signals
from .errors import caused_by_interrupt
from .results_file import one_line

SPECTRAL = tuple(name for name, entry in LOSSES.items() if entry.kind == "spectral")
# Other projects' spectral losses (fastmixloss.PRESETS) are losses here too, by their names
# (--losses mse,hifigan; a [hifigan] table sets weight or a field of the preset), at the
# files' sample rate (the mel presets' own default, 22.05 kHz, would not match the files).
NAMES = tuple(LOSSES) + tuple(PRESETS)

# These divide by the reference's energy, channel by channel: on a digitally silent
# reference channel they return a number (SI-SDR gives +80 dB from its eps terms) that
# means nothing, so the command line reports them as undefined instead.
NEEDS_REFERENCE_ENERGY = ("esr", "dc", "snr", "sisdr", "sdsdr")

# Fixed by the command line: a row is one pair, it wants every term, and the sample rate
# is the files'.
_NOT_SETTABLE = ("est", "ref", "reduction", "output", "device", "sample_rate")
# the rate a parameter check runs the losses at when no file gives one
CHECK_RATE = 44100

# The size parameters are checked against this before the parameter check allocates a
# signal for them: 2**24 samples is over 6 minutes at 44.1 kHz, far beyond any STFT frame
# worth computing, while 1e11 would ask for hundreds of GiB.
SIZE_PARAMETERS = ("fft_size", "fft_sizes", "hop_size", "hop_sizes", "win_length",
                   "win_lengths")
MAX_SIZE = 2 ** 24


def settable_parameters(name):
    """The keyword parameters a user may set for loss `name`, with their defaults."""
    if name in PRESETS:   # PresetLoss's own parameters, and the preset's fields
        given = {p.name: p.default
                 for p in inspect.signature(PresetLoss).parameters.values()
                 if p.name not in _NOT_SETTABLE + ("name", "overrides")}
        return {**given, **{f.name: getattr(PRESETS[name], f.name) for f in fields(Preset)
                            if f.name not in ("source", "sample_rate")}}
    function = getattr(fastmixloss, LOSSES[name].function)
    return {p.name: p.default for p in inspect.signature(function).parameters.values()
            if p.name not in _NOT_SETTABLE}


def check_names(names, source="--losses"):
    """The names as a tuple; ParameterError for an unknown, repeated or missing one."""
    return check_loss_names(tuple(names), source, presets=tuple(PRESETS))


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
        names = check_names(names, source="--losses")
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

    def with_columns(self, sample_rate=None):
        """Check every parameter by running the run's Evaluator once on a short seeded
        stereo signal at `sample_rate` (the files' rate, default CHECK_RATE), and learn
        the columns it produces. Raises ParameterError (bad
        value) or DeviceError (--device cuda where it cannot run). This also compiles (or
        loads from Numba's cache) the kernels before the progress bar starts."""
        self.check_sizes()
        sample_rate = CHECK_RATE if sample_rate is None else sample_rate
        length = max(256, self.min_length() + 1)
        rng = np.random.default_rng(0)
        ref = rng.standard_normal((2, length)).astype(np.float32)
        # an estimate as far from its reference as most are (SI-SDR near 0 dB): a close
        # one would also compile the exact recomputation, which few pairs need
        est = (0.5 * ref + 0.5 * rng.standard_normal((2, length))).astype(np.float32)
        try:
            # building the Evaluator names a bad parameter and its loss
            (outcome,), _ = outcomes(ArraySignals(est, ref, sample_rate),
                                     [(evaluator_for(self, sample_rate), slice(None))],
                                     self.device)
        except FastMixLossError:
            raise
        except Exception as exc:   # noqa: BLE001 -- see below
            if caused_by_interrupt(exc):
                raise KeyboardInterrupt from exc
            # the signal is a valid one made for this check: whatever the library
            # raised, it was the parameters it could not take
            raise ParameterError(
                f"the library cannot take these parameters ({self._given()}): "
                f"{type(exc).__name__}: {one_line(exc)}; check them against "
                + ", ".join(f"help(fastmixloss.{self._function(name)})"
                            for name, params in self.losses if params)) from None
        columns = []
        for name in self.names:
            value = outcome[name]
            if isinstance(value, ParameterError):
                raise ParameterError(f"{name}: {value}")
            if isinstance(value, FastMixLossError):
                raise value   # DeviceError: its own message says what to do
            columns.extend(flatten(name, value))
        return LossSettings(self.losses, self.device, self.length_policy, tuple(columns))

    @staticmethod
    def _function(name):
        return "PresetLoss" if name in PRESETS else LOSSES[name].function

    def _given(self):
        return "; ".join(f"{name}: " + (", ".join(f"{k}={v!r}" for k, v in params.items())
                                        or "defaults")
                         for name, params in self.losses)


_EVALUATORS = {}


def evaluator_for(settings, sample_rate):
    """The Evaluator of `settings` for files at `sample_rate` (Hz), built once per
    process and rate: building one checks every parameter and plans the losses."""
    key = repr((settings.losses, settings.device, sample_rate))
    if key not in _EVALUATORS:
        _EVALUATORS[key] = RunEvaluator(settings, sample_rate)
    return _EVALUATORS[key]


class RunEvaluator(Evaluator):
    """The run's losses, the evaluation's by name and the presets, computed together in
    one pass over a pair's pieces (Evaluator.stream): a preset is a spectral plan like
    any other. Every spectral loss gives its every term (output="full"), a column each.
    The names and parameters were checked by LossSettings.build."""

    def __init__(self, settings, sample_rate):
        self.names = settings.names
        self.device = check_device(settings.device)
        self.derive_sum_and_difference = True
        self.sample_rate = sample_rate
        self.parameters = {name: dict(params, output="full")
                           if name in SPECTRAL or name in PRESETS else dict(params)
                           for name, params in settings.losses}
        self.losses = {name: self._build(name, self.parameters[name])
                       for name in self.names}

    def _build(self, name, given):
        if name not in PRESETS:
            return super()._build(name, given)
        try:
            return _PresetInPass(PresetLoss(name, sample_rate=self.sample_rate,
                                            device=self.device, **given))
        except ParameterError as exc:
            raise ParameterError(f"{name}: {exc}") from None


class _PresetInPass(_SpectralLoss):
    """A PresetLoss as the one pass takes a spectral loss: its plan, its rows (every
    channel), and the spectral losses' reduction of the sums, which PresetLoss's call
    ends with too (engine.evaluate); its value is what the preset gives alone."""

    def __init__(self, preset):
        self.preset, self.plan = preset, preset.plan

    def __repr__(self):
        return repr(self.preset)


class ArraySignals:
    """A pair of whole (C, T) float32 arrays, read as the evaluation reads a pair's files
    (sample_rate, channels, length, pieces()): in one piece."""

    def __init__(self, est, ref, sample_rate):
        self.est, self.ref, self.sample_rate = est, ref, sample_rate
        self.channels, self.length = ref.shape

    def pieces(self, alignment=1):
        yield self.est, self.ref


def outcomes(signals, jobs, device=None):
    """Each job's losses of one pair, from one reading of its pieces.

    signals: sample_rate, channels, length and pieces(alignment), which yields (C, n)
    float32 pieces of both signals from the first sample each time it is called (the
    files' OpenedPair, a read-ahead's QueuedPair, ArraySignals). jobs: (Evaluator,
    channels) pairs, `channels` a slice of the signals' channels. Returns ([the job's
    Stream.outcome(): {name: value or the FastMixLossError of that loss}], [the channels
    where the reference is all zeros]).
    """
    n_channels = signals.channels
    if on_gpu(device):   # the GPU computes whole signals: gather the pieces
        est, ref = whole_signals(signals)
        results = [evaluator.stream_of(est[None, rows], ref[None, rows]).outcome()
                   for evaluator, rows in jobs]
        return results, _silent(np.any(ref, axis=1))
    # one item (1, C, T), as each loss alone was given it: compat="auraloss" wants a batch
    streams = [(evaluator.stream(len(range(n_channels)[rows]), signals.length, n_items=1),
                rows) for evaluator, rows in jobs]
    alignment = int(np.lcm.reduce([stream.alignment for stream, _ in streams]))
    heard = np.zeros(n_channels, bool)
    feeding, first = streams, True
    while feeding:
        for est, ref in signals.pieces(alignment):
            if first:
                heard |= np.any(ref, axis=1)
            for stream, rows in feeding:
                stream.feed(est[None, rows], ref[None, rows])
        first = False
        # a stream whose one-pass sums cannot settle some rows asks for the pieces again
        feeding = [(stream, rows) for stream, rows in feeding if stream.end_pass()]
    return [stream.outcome() for stream, _ in streams], _silent(heard)


def on_gpu(device):
    """Whether --device names a GPU: cuda, or cuda:N."""
    return device is not None and device.split(":")[0] == "cuda"


def _silent(heard):
    return [int(c) for c in np.flatnonzero(~heard)]


def row_values(settings, outcome, silent_ref, undefined=None):
    """The loss columns of one pair's row from its evaluation's `outcome` (see outcomes)
    and its reference's silent channels.

    Returns (values, errors): the columns that could be computed, and one message per
    loss that could not be, or has undefined values (NaN from the library, with its
    reason; its defined columns are kept). A loss failing does not stop the others.
    `undefined`, a dict, receives {column: reason} for each undefined column.
    """
    values, errors = {}, []
    undefined = {} if undefined is None else undefined
    for name in settings.names:
        if name in NEEDS_REFERENCE_ENERGY and silent_ref:
            error = (f"{name}: undefined, the reference is silent (all samples zero) in "
                     f"channel {', '.join(str(c + 1) for c in silent_ref)}")
            errors.append(error)
            undefined[name] = error.split(", ", 1)[1]
            continue
        result = outcome[name]
        if isinstance(result, FastMixLossError):
            # a ParameterError here is about this pair (too short, mono for S/D, NaN);
            # the parameters themselves were checked before the run
            errors.append(f"{name}: {result}")
            continue
        columns = flatten(name, result)
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


def evaluate_pair(settings, signals, undefined=None):
    """(values, errors) of one pair (see outcomes for `signals`, row_values for the
    result): every loss of `settings` from one reading of the pair."""
    (outcome,), silent = outcomes(signals, [(evaluator_for(settings, signals.sample_rate),
                                             slice(None))], settings.device)
    return row_values(settings, outcome, silent, undefined)


def flatten(name, value):
    """Column name -> float for one loss's result."""
    if hasattr(value, "to_dict"):
        return {f"{name}.{key}": float(v) for key, v in value.to_dict().items()}
    return {name: float(value)}


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
