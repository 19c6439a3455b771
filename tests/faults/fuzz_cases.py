"""The library fuzz's cases beyond test_api_fuzz.py: the feature metrics, the chroma scale,
the phase term, random resolutions and preset overrides.

A case is one library call made from a seeded draw: `run_case(family, index)` rebuilds
case `index` of `family` from (SEED, family, index) alone, so any case can be run again by
itself (`python tests/faults/fuzz_long.py --family F --case N`). Each case takes a valid
call and changes at most one thing: a bad argument, an unknown keyword, or a bad input
(NaN, channel-last, empty, integer, ...); the content of the signals (silent, DC,
constant, denormal, huge, dual-mono, noise, tones) and their shapes vary freely.

The contract every case checks:
- the call raises the library's own exception (FastMixLossError: ParameterError,
  KeywordError, DeviceError) whose message names an argument of the call, and names the
  bad one where the case made one bad; or it returns a value;
- a value is finite, or NaN where the library says why (FeatureComparison.reasons); the
  default feature profile gives every key but a panning of more than 2 channels;
- where a plain reference exists (fastmixloss.reference,
  fastmixloss.features.numpy_reference, pyloudnorm, or the same call at a power-of-two
  rescaling that leaves the value unchanged), the value agrees with it;
- no warning, no other exception type, the inputs unmodified, and no call slower than
  SLOW_CASE_S or allocating more than MAX_CALL_BYTES (the signals are short: a refusal
  must be quick and small at any sample rate).

run_case returns the outcome's name (see OUTCOMES) and raises CaseFailure on a broken
contract, with the call written out and the command that runs the case again.
"""

import dataclasses
import inspect
import math
import os
import re
import time
import tracemalloc
import warnings
from typing import Callable, Optional, Sequence

import numpy as np

import fastmixloss as fm
from fastmixloss import FastMixLossError, filterbanks, reference
from fastmixloss.features import PROFILES
from fastmixloss.features import numpy_reference as feature_reference
from test_api_fuzz import ESTIMATE_RELATIONS, estimate_of

SEED = int(os.environ.get("FASTMIXLOSS_FUZZ_SEED", "20261206"))
FAMILIES = ("features", "chroma", "phase", "random_resolution", "preset_overrides")
# a returned value: finite, or NaN with the library's reason; a refusal: the exception's name
# (nan-undefined: a plain float NaN where the reference is undefined too, with no place
# for a reason)
OUTCOMES = ("ParameterError", "KeywordError", "DeviceError", "finite", "nan-with-reason",
            "nan-undefined")
# Slower than this is a failure: every signal here is under MAX_SAMPLES samples, so only a
# sample rate or a parameter taken at face value (frames of 1e12 samples) can take longer.
# Generous for a loaded 2-core machine; the first call of a kernel compiles, so the tests
# warm up first.
SLOW_CASE_S = float(os.environ.get("FASTMIXLOSS_FUZZ_SLOW_S", "30"))
# the most samples in one signal (all items and channels): 0.1 s of 8 channels at 1 MHz,
# 1 s of stereo at 384 kHz
MAX_SAMPLES = 800_000
# More memory than this (NumPy's allocations during the call, as tracemalloc sees them) is
# a failure: the signals take at most 6.4 MB, so only a parameter taken at face value (a
# frame of 0.4 s at 1e8 Hz) can need it.
MAX_CALL_BYTES = 1 << 30

STANDARD_RATES = (8000, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000)
# around the edges the feature profiles once failed at (panning bands past Nyquist, a
# zero-width band at 5 kHz, a division by a zero-sample frame below 1 Hz)
EDGE_RATES = (1, 2, 100, 1000, 3000, 4000, 4500, 4900, 5000, 5001, 11025, 768000, 1e6)
BAD_RATES = (0, -44100, np.nan, np.inf, -np.inf, "44100", None, True, [44100],
             np.array([44100.0, 48000.0]), 1e-300, 0.5, 1e8, 1e12, 1e300, complex(44100, 0))
UNKNOWN_KEYWORDS = ("frobnicate", "fmin", "rate", "samplerate", "input", "target", "n_fft",
                    "sr")


# how a message tells a user to turn a channel-last array round
_TRANSPOSE_HINT = r"\.T\b|moveaxis|swapaxes"


class CaseFailure(AssertionError):
    """A broken contract; the message holds the call and how to run it again."""


@dataclasses.dataclass
class Case:
    call: Callable[[], object]          # the library call
    text: str                           # the call written out, for a person
    arrays: Sequence[np.ndarray]        # inputs that must come back unmodified
    names: Sequence[str]                # the arguments a refusal may name
    check: Callable[[object], str]      # checks a returned value; its outcome
    bad: Optional[str] = None           # the one argument made bad, if any
    # extra checks of a refusal's message: (message, base_refused) -> what is wrong, or
    # None; base_refused() tells whether the call without its one change is refused too
    refusal_check: Optional[Callable[[str, Callable[[], bool]], Optional[str]]] = None


def reproduction(family, index, seed=SEED):
    return (f"python tests/faults/fuzz_long.py --family {family} --case {index}"
            + ("" if seed == SEED else f" --seed {seed}"))


def build_case(family, index, seed=SEED):
    rng = np.random.default_rng([seed, FAMILIES.index(family), index])
    return _MAKERS[family](rng)


def run_case(family, index, seed=SEED):
    """(outcome, seconds) of one case; CaseFailure when the contract is broken."""
    case = build_case(family, index, seed)

    def fail(why):
        raise CaseFailure(f"{family} case {index}: {why}\n  call: {case.text}\n"
                          f"  again: {reproduction(family, index, seed)}")

    snapshots = [(a, a.copy()) for a in case.arrays]
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    start = time.perf_counter()
    result = error = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no warning of the library's reaches a user
            result = case.call()
    except FastMixLossError as exc:
        error = exc
    except Exception as exc:   # any other type, warnings turned errors included
        fail(f"raised {type(exc).__name__}: {_short(exc)}")
    finally:
        seconds = time.perf_counter() - start
        allocated = tracemalloc.get_traced_memory()[1] - before
        if not tracing:
            tracemalloc.stop()
    for array, snapshot in snapshots:
        if not np.array_equal(array, snapshot, equal_nan=array.dtype.kind in "fc"):
            fail("modified its input")
    if seconds > SLOW_CASE_S:
        fail(f"took {seconds:.1f} s (more than {SLOW_CASE_S:g} s)")
    if allocated > MAX_CALL_BYTES:
        fail(f"allocated {allocated / 2 ** 30:.1f} GiB (more than "
             f"{MAX_CALL_BYTES / 2 ** 30:g} GiB)")
    if error is not None:
        message = str(error)
        base = []

        def base_refused():
            if not base:
                base.append(_base_refused(family, index, seed))
            return base[0]

        named = [n for n in case.names if re.search(rf"(?<![\w.]){re.escape(n)}\b", message)]
        if not named:
            fail(f"{type(error).__name__} names none of {', '.join(case.names)}: "
                 f"{_short(error)}")
        if case.bad is not None and case.bad not in named and not base_refused():
            fail(f"{type(error).__name__} does not name the bad argument {case.bad}: "
                 f"{_short(error)}")
        if case.refusal_check is not None:
            why = case.refusal_check(message, base_refused)
            if why:
                fail(f"{why}: {_short(error)}")
        return type(error).__name__, seconds
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")   # the plain references may warn; ours may not
            return case.check(result), seconds
    except CaseFailure as exc:
        fail(str(exc))
    except AssertionError as exc:
        fail(f"disagrees with its reference: {_short(exc, 1200)}")
    except Exception as exc:   # a value for a call its plain reference cannot make sense of
        fail(f"returned {_short(repr(result), 200)}, which its reference cannot compute"
             + (f" (the case made {case.bad} bad)" if case.bad else "")
             + f": {type(exc).__name__}: {_short(exc)}")


def _base_refused(family, index, seed):
    """True when the case's call without its one bad argument is refused too (the message
    may then name what the valid call is refused for)."""
    rng = np.random.default_rng([seed, FAMILIES.index(family), index])
    base = _MAKERS[family](rng, mutate=False)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            base.call()
    except FastMixLossError:
        return True
    except Exception:
        return False
    return False


def _mutation_rng(rng, mutate):
    """The generator of a case's one change, drawn first and apart from the rest, so that
    the case without its change (mutate=False) draws everything else the same."""
    seed = int(rng.integers(2 ** 63))
    return np.random.default_rng(seed) if mutate else None


def _short(exc, limit=400):
    text = str(exc).replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "..."


# -------------------------------------------------------------------------- signals

def _describe(x):
    if isinstance(x, np.ndarray):
        order = "" if x.dtype.isnative else " big-endian"
        layout = "" if x.flags.c_contiguous else " strided"
        return f"<{x.dtype.name}{order}{layout} array {x.shape}>"
    return repr(x)


def _call_text(function, args, kwargs):
    parts = [_describe(a) for a in args] + [f"{k}={_describe(v)}" for k, v in kwargs.items()]
    return f"{function}({', '.join(parts)})"


CONTENTS = ("noise", "tones", "silent", "dc", "constant", "denormal", "huge", "gap",
            "one_silent_channel", "dual_mono", "impulse")
RELATIONS = ("identical", "scaled", "noisy", "independent", "silent")


def _content(rng, kind, shape, rate, dtype):
    """Signal (..., C, T) or (T,) of one kind, in float64 (cast by the caller)."""
    length = shape[-1]
    if len(shape) < 2 and kind in ("one_silent_channel", "dual_mono"):
        kind = "silent" if kind == "one_silent_channel" else "noise"
    noise = 0.3 * rng.standard_normal(shape)
    if kind == "tones":
        t = np.arange(length) / rate
        x = np.zeros(shape)
        for _ in range(3):
            freq = rng.uniform(20.0, max(40.0, min(rate / 2, 12000.0)))
            x = x + rng.uniform(0.05, 0.4, shape[:-1] + (1,)) * np.sin(
                2 * np.pi * freq * t + rng.uniform(0, 2 * np.pi))
        return x * (0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)) + 0.01 * noise
    if kind == "silent":
        return np.zeros(shape)
    if kind == "dc":
        return noise + rng.choice([-1, 1]) * rng.uniform(0.1, 0.9)
    if kind == "constant":
        return np.full(shape, rng.choice([-1, 1]) * rng.uniform(0.01, 1.0))
    if kind == "denormal":   # below the smallest normal number of the dtype
        tiny = np.finfo(dtype).tiny
        return noise * tiny * 10.0 ** rng.uniform(-4, -0.7)
    if kind == "huge":
        big = np.finfo(dtype).max
        return noise * big * 10.0 ** rng.uniform(-8, -0.7) if dtype == np.float32 else \
            noise * 10.0 ** rng.uniform(150, 307)
    if kind == "gap":
        start = int(rng.integers(0, max(1, length)))
        noise[..., start:start + int(rng.integers(1, max(2, length // 2)))] = 0.0
        return noise
    if kind == "one_silent_channel":
        noise[..., int(rng.integers(shape[-2])), :] = 0.0
        return noise
    if kind == "dual_mono":
        return np.broadcast_to(noise[..., :1, :], shape).copy()
    if kind == "impulse":
        x = np.zeros(shape)
        x[..., int(rng.integers(0, length))] = rng.uniform(0.1, 1.0)
        return x
    return noise


def _pair(rng, shape, rate, dtype):
    kind = str(rng.choice(CONTENTS))
    relation = str(rng.choice(RELATIONS, p=(0.2, 0.25, 0.3, 0.15, 0.1)))
    ref = _content(rng, kind, shape, rate, dtype)
    if relation == "identical":
        est = ref.copy()
    elif relation == "scaled":
        est = ref * (2.0 ** int(rng.integers(-3, 4)) if rng.random() < 0.5
                     else 10.0 ** rng.uniform(-1, 1))
    elif relation == "noisy":
        scale = max(float(np.abs(ref).max()), float(np.finfo(dtype).tiny)) \
            if kind in ("denormal", "huge") else 1.0
        est = ref + scale * 10.0 ** rng.uniform(-4, -0.5) * rng.standard_normal(shape)
    elif relation == "independent":
        est = _content(rng, kind, shape, rate, dtype)
    else:
        est = np.zeros(shape)
    with np.errstate(over="ignore"):
        est, ref = est.astype(dtype), ref.astype(dtype)
    if not np.isfinite(est).all():   # a noisy huge signal rounded past the dtype's max
        est = ref.copy()
    return est, ref, kind, relation


def _odd_layout(rng, x):
    """The same values in another layout (big-endian, Fortran order, a strided view), or
    read-only: the library must read each and modify none."""
    choice = int(rng.integers(0, 8))
    if choice == 0:
        return x.astype(x.dtype.newbyteorder(">"))
    if choice == 1:
        return np.asfortranarray(x)
    if choice == 2:
        return np.repeat(x, 2, axis=-1)[..., ::2]
    if choice == 3:
        x = x.copy()
        x.flags.writeable = False
    return x


def _bad_input(rng, x):
    """(x made into a bad input, what was done)."""
    what = str(rng.choice(["nan", "inf", "four_d", "scalar", "empty", "int16", "complex",
                           "float16", "object", "ragged"]))
    if what in ("nan", "inf"):
        x = x.copy()
        x.reshape(-1)[int(rng.integers(x.size))] = np.nan if what == "nan" else -np.inf
        return x, what
    if what == "four_d":
        return x.reshape((1,) * (4 - min(x.ndim, 3)) + x.shape), what
    if what == "scalar":
        return np.float64(0.5), what
    if what == "empty":
        return x[..., :0], what
    if what == "int16":
        return (np.clip(x, -1, 1) * 32767).astype(np.int16), what
    if what == "complex":
        return x.astype(np.complex128), what
    if what == "float16":
        return x.astype(np.float16), what
    if what == "object":
        return x.astype(object), what
    return [list(range(3)), list(range(2))], what


# ------------------------------------------------------------------ feature metrics

FEATURE_FUNCTIONS = ("compare_features", "feature_tracks", "integrated_loudness")


def _feature_rate(rng):
    draw = rng.random()
    if draw < 0.5:
        return STANDARD_RATES[int(rng.integers(len(STANDARD_RATES)))]
    if draw < 0.6:
        return EDGE_RATES[int(rng.integers(len(EDGE_RATES)))]
    # anywhere from 1 Hz to 1 MHz, or among audio rates (8 to 400 kHz); sometimes not an
    # integer
    rate = 10.0 ** (rng.uniform(0, 6) if draw < 0.8 else rng.uniform(3.9, 5.6))
    return round(rate) if rng.random() < 0.5 else float(rate)


def _as_rate_type(rng, rate):
    """A valid rate as any of the number types a user may pass."""
    kinds = [lambda r: r, float, np.float64, np.float32, lambda r: np.int64(round(r))]
    return kinds[int(rng.integers(len(kinds)))](rate)


def make_feature_case(rng, mutate=True):
    mutation = _mutation_rng(rng, mutate)
    function = str(rng.choice(FEATURE_FUNCTIONS, p=(0.5, 0.3, 0.2)))
    profile = str(rng.choice(PROFILES))
    dtype = np.float32 if rng.random() < 0.4 else np.float64
    rate = _feature_rate(rng)
    n_channels = int(rng.choice(np.arange(1, 9), p=(0.25, 0.45, 0.06, 0.06, 0.06, 0.04,
                                                     0.04, 0.04)))
    n_items = int(rng.integers(1, 3))
    batch_axis = n_items > 1 or rng.random() < 0.4
    # 10 ms to 5 s; the tracks and the integrated loudness need 0.4 s, so mostly more
    duration = 10.0 ** (rng.uniform(-2, 0.7) if function == "compare_features"
                        else rng.uniform(-0.7, 0.8))
    budget = MAX_SAMPLES // (n_channels * n_items)
    length = int(min(max(1, round(duration * rate)), budget))
    shape = ((n_items,) if batch_axis else ()) + (n_channels, length)
    if n_channels == 1 and not batch_axis and rng.random() < 0.5:
        shape = (length,)
    est, ref, kind, relation = _pair(rng, shape, rate, dtype)
    kwargs = {}
    if rng.random() < 0.3:
        kwargs["profile"] = profile
    else:
        profile = "default"
    if function == "compare_features" and rng.random() < 0.4:
        kwargs["reduction"] = str(rng.choice(["mean", "sum", "none"]))
    if function == "integrated_loudness":
        kwargs.pop("profile", None)
        if rng.random() < 0.2:
            kwargs["block_size"] = float(rng.choice([0.1, 0.4, 0.75, 3.0]))
    if function != "integrated_loudness" and rng.random() < 0.05:
        kwargs["device"] = "cpu" if rng.random() < 0.7 else None
    rate_arg = _as_rate_type(rng, rate)
    signal_names = ("est", "ref") if function == "compare_features" else ("x",)
    signals = [est, ref] if function == "compare_features" else [ref]
    signals = [_odd_layout(rng, s) for s in signals]
    bad = bad_input = None
    channel_last = False
    if mutation is not None and mutation.random() < 0.25:
        what = str(mutation.choice(["sample_rate", "keyword", "option", "input",
                                    "channel_last"], p=(0.3, 0.15, 0.2, 0.25, 0.1)))
        if what == "sample_rate":
            rate_arg = BAD_RATES[int(mutation.integers(len(BAD_RATES)))]
            bad = "sample_rate"
        elif what == "keyword":
            bad = str(mutation.choice(UNKNOWN_KEYWORDS))
            kwargs[bad] = 1.0
        elif what == "option":
            options = {"profile": ["Default", "toolkit", "", None, 1, "automix_toolkit"],
                       "device": ["cuda", "gpu", 0, "cuda:0"]}
            if function == "compare_features":
                options["reduction"] = ["avg", None, 1, "none "]
            if function == "integrated_loudness":
                options = {"block_size": [0, -0.4, np.nan, np.inf, "0.4", None, 1e300,
                                          1e-300, 1e-6]}
            bad = str(mutation.choice(sorted(options)))
            values = options[bad]
            kwargs[bad] = values[int(mutation.integers(len(values)))]
        elif what == "input":
            i = int(mutation.integers(len(signals)))
            signals[i], bad_input = _bad_input(mutation, np.asarray(signals[i]))
            bad = signal_names[i]
        elif what == "channel_last" and len(shape) >= 2 and length > 8:
            signals = [np.swapaxes(np.asarray(s), -1, -2).copy() for s in signals]
            channel_last = True
            bad = signal_names[0]
    args = signals + [rate_arg]
    call = getattr(fm, function)
    text = _call_text(f"fm.{function}", args, kwargs) + f"  # ref: {kind}, est: {relation}"
    arrays = [a for a in args if isinstance(a, np.ndarray)]
    names = signal_names + ("sample_rate",) + tuple(kwargs)

    def refusal_check(message, base_refused):
        # every "name=" in the message is an argument the user can pass here (or an
        # array's attribute, as in "shape (2, 1, 0) (ndim=3)")
        accepted = set(inspect.signature(call).parameters) | {"ndim", "shape", "dtype"}
        foreign = sorted(set(re.findall(r"\b([a-z_]+)=", message)) - accepted)
        if foreign:
            return f"speaks of {', '.join(foreign)}, which {function} does not take"
        channels_first = (not channel_last and len(shape) >= 2 and bad not in signal_names
                          and length > n_channels)
        if channels_first and re.search(_TRANSPOSE_HINT, message):
            return f"advises a transpose for a channels-first ({n_channels}, {length}) array"
        if channel_last and not re.search(_TRANSPOSE_HINT, message) and n_channels <= 5 \
                and not base_refused():
            return "a channel-last array is refused without the hint to transpose it"
        return None

    def check(result):
        if bad_input is not None:
            raise CaseFailure(f"returned a value for a bad {bad} ({bad_input})")
        if channel_last:
            raise CaseFailure(f"returned a value for channel-last arrays, as if they were "
                              f"{length} channels of {n_channels} samples")
        try:
            rate_value = float(rate_arg)   # as the library reads it (np.float32 rounds)
        except (TypeError, ValueError):
            raise CaseFailure(f"returned a value for sample_rate={rate_arg!r}") from None
        block = kwargs.get("block_size", 0.4)
        if function == "integrated_loudness" and block * rate_value < 1:
            raise CaseFailure(f"returned a value for gating blocks of {block * rate_value:.3g} "
                              "samples")
        context = FeatureContext(function, profile, rate_value, dtype, shape, kind,
                                 relation, est, ref, kwargs)
        return _FEATURE_CHECKS[function](result, context)

    return Case(lambda: call(*args, **kwargs), text, arrays, names, check, bad,
                refusal_check)


@dataclasses.dataclass
class FeatureContext:
    function: str
    profile: str
    rate: float
    dtype: type
    shape: tuple
    kind: str
    relation: str
    est: np.ndarray
    ref: np.ndarray
    kwargs: dict


def _items(x):
    return x.reshape((1,) * (3 - x.ndim) + x.shape)


def _normalising_shift(x):
    """k such that x * 2**k has its largest |sample| in [0.5, 1) (0 for silence)."""
    peak = float(np.abs(np.asarray(x, np.float64)).max())
    return 0 if peak == 0.0 else -math.frexp(peak)[1]


def _rescaled(x, shift):
    """x * 2**shift, exactly (no intermediate overflow), in x's dtype."""
    return np.ldexp(x, shift).astype(x.dtype)


def _loudness_shift(x):
    """The rescaling pyloudnorm is run at: none for a signal in the normal range (the
    absolute gate then acts on the same blocks), else into [0.5, 1) (beyond 2**+-60 every
    block that is not digital silence is far above, or far below, the gate)."""
    shift = _normalising_shift(x)
    return shift if abs(shift) > 60 else 0


def _check_comparison(result, context):
    from fastmixloss.features.compare import PANNING_KEYS
    values = result.to_dict()
    reduction = context.kwargs.get("reduction", "mean")
    n_items = _items(context.ref).shape[0]
    n_channels = _items(context.ref).shape[1]
    outcome = "finite"
    for key, value in values.items():
        value = np.atleast_1d(np.asarray(value, dtype=np.float64))
        if reduction == "none" and value.shape != (n_items,):
            raise CaseFailure(f"{key} has shape {value.shape}, not ({n_items},)")
        if np.isinf(value).any():
            raise CaseFailure(f"{key} is {value}")
        for b in range(n_items):
            nan = bool(np.isnan(value[b if reduction == "none" else 0]))
            reason = (b, key) in result.reasons
            if reduction == "none" and nan != reason:
                raise CaseFailure(f"{key} of item {b} is {value[b]} with reason "
                                  f"{result.reasons.get((b, key))!r}")
        any_reason = any((b, key) in result.reasons for b in range(n_items))
        if reduction != "none" and bool(np.isnan(value[0])) != any_reason:
            raise CaseFailure(f"{key} is {value[0]}; reasons: "
                              f"{[result.reasons.get((b, key)) for b in range(n_items)]}")
        if any_reason:
            outcome = "nan-with-reason"
            if context.profile == "default" and not (key in PANNING_KEYS and n_channels > 2):
                raise CaseFailure(f"the default profile leaves {key} undefined: "
                                  f"{result.reasons}")
    if context.relation == "identical":
        defined = {k: v for k, v in values.items() if not np.isnan(v).all()}
        if any(np.any(np.asarray(v) != 0.0) for v in defined.values()):
            raise CaseFailure(f"identical signals give non-zero errors: {defined}")
    if context.kind in ("denormal", "huge", "noise", "tones", "dc") and \
            context.relation in ("identical", "scaled", "noisy"):
        _check_rescaled_comparison(result, context)
    return outcome


def _check_rescaled_comparison(result, context):
    """The spectral, panning and dynamics errors are of peak-normalised signals: the same
    pair rescaled by a power of two (exactly: no rounding) must give them unchanged."""
    from fastmixloss.features.compare import DYNAMIC_KEYS, PANNING_KEYS, SPECTRAL_KEYS
    shift = _normalising_shift(context.ref)
    if context.kind not in ("denormal", "huge"):
        shift = 40   # a normal signal: check it at 2**40 instead
    est, ref = _rescaled(context.est, shift), _rescaled(context.ref, shift)
    if not (np.isfinite(est).all() and np.isfinite(ref).all()):
        return
    try:
        rescaled = fm.compare_features(est, ref, context.rate, **context.kwargs)
    except FastMixLossError:
        return   # refused at the other scale: nothing to compare
    for key in SPECTRAL_KEYS + PANNING_KEYS + DYNAMIC_KEYS:
        if context.profile != "default" and any(k == key for _, k in result.reasons):
            # the toolkit profiles keep the toolkit's NaN where its normalising gain
            # overflows (a denormal mix), with the reason: no value to compare
            continue
        np.testing.assert_allclose(
            getattr(result, key), getattr(rescaled, key), rtol=1e-7, atol=1e-9,
            equal_nan=True, err_msg=f"{key} changes when both signals are scaled by "
                                    f"2**{shift}")


def _check_tracks(result, context):
    from fastmixloss.features.profiles import resolve
    from fastmixloss.features.tracks import ItemTracks
    x3 = _items(context.ref)
    if not isinstance(result, list) or len(result) != x3.shape[0] or \
            not all(isinstance(t, ItemTracks) for t in result):
        raise CaseFailure(f"returned {type(result).__name__}, not {x3.shape[0]} ItemTracks")
    settings = resolve(context.profile, context.rate)
    outcome = "finite"
    for b, tracks in enumerate(result):
        arrays = {f.name: np.asarray(getattr(tracks, f.name), np.float64)
                  for f in dataclasses.fields(tracks) if f.name != "reasons"}
        if tracks.reasons and not all(np.isnan(arrays[name]).all()
                                      for name in tracks.reasons):
            raise CaseFailure(f"item {b}: a reason for a track with values: "
                              f"{tracks.reasons}")
        for name, values in arrays.items():
            if np.isposinf(values).any():
                raise CaseFailure(f"item {b}: {name} holds +inf")
            if not np.isfinite(values).all():
                if context.profile == "default":
                    raise CaseFailure(f"item {b}: the default profile's {name} holds "
                                      f"{values[~np.isfinite(values)][:3]}")
                outcome = "nan-with-reason"   # the toolkit's own values: -inf dB, NaN
        _check_tracks_against_twins(arrays, x3[b], settings, context)
    return outcome


def _check_tracks_against_twins(arrays, x, settings, context):
    """Panning and dynamics against fastmixloss.features.numpy_reference, computed on x
    rescaled by a power of two into the normal range (the same peak-normalised signal);
    the loudness frames against pyloudnorm there, moved by the rescaling's decibels."""
    shift = _normalising_shift(x)
    scaled = np.ldexp(x.astype(np.float64), shift)
    peak = float(np.abs(scaled).max())
    if peak == 0.0:
        gain = 1.0   # feature_tracks leaves silence as it is, in every profile
    else:
        gain = 10.0 ** (settings.peak_normalisation.target_db / 20) / peak
    float32 = context.dtype == np.float32
    if x.shape[0] == 2:
        rms, mean = feature_reference.panning_tracks(
            scaled, gain, settings.panning_fft_size, settings.panning_hop, settings.sample_rate)
        np.testing.assert_allclose(arrays["panning_rms"], rms, rtol=1e-6 if float32 else 1e-9,
                                   atol=1e-6 if float32 else 1e-12, equal_nan=True,
                                   err_msg="panning_rms")
        np.testing.assert_allclose(arrays["panning_mean"], mean,
                                   rtol=1e-6 if float32 else 1e-9,
                                   atol=1e-6 if float32 else 1e-12, equal_nan=True,
                                   err_msg="panning_mean")
    rms_db, spread, crest = feature_reference.dynamics_tracks(
        scaled, gain, settings.fft_size, settings.fft_hop)
    for name, expected in (("rms_db", rms_db), ("dynamic_spread", spread),
                           ("crest_factor", crest)):
        np.testing.assert_allclose(arrays[name], expected, rtol=1e-6 if float32 else 1e-9,
                                   atol=1e-5 if float32 else 1e-9, equal_nan=True,
                                   err_msg=name)
    shift = _loudness_shift(x)
    _check_frame_loudness(arrays["lufs"], np.ldexp(x.astype(np.float64), shift), shift,
                          settings, context)


def _pyloudnorm(x, rate, block_size=0.4):
    import pyloudnorm
    import pyloudnorm.meter
    data = np.asarray(x, np.float64).T
    meter = pyloudnorm.Meter(rate, block_size=block_size)
    if not block_size * rate - 1 < data.shape[0] < block_size * rate:
        return meter.integrated_loudness(data)
    # Less than a sample short of one block (the default profile's 0.4-s frames at a rate
    # that is not a multiple of 2.5 Hz): one block, clipped to the frame. pyloudnorm
    # computes that but refuses it in its input check, which is skipped here.
    check = pyloudnorm.meter.util.valid_audio
    pyloudnorm.meter.util.valid_audio = lambda *args: True
    try:
        return meter.integrated_loudness(data)
    finally:
        pyloudnorm.meter.util.valid_audio = check


def _loudness_at_scale(x_scaled, shift, rate, block_size=0.4):
    """Loudness of x = x_scaled * 2**-shift from pyloudnorm on x_scaled (see
    _loudness_shift): -inf where nothing passes the absolute gate (-70 LUFS) at x's scale."""
    value = _pyloudnorm(x_scaled, rate, block_size) - 20.0 * math.log10(2.0) * shift
    return value if value > -70.0 else -np.inf


def _check_frame_loudness(lufs, scaled, shift, settings, context):
    frame, hop = settings.loudness_frame, settings.loudness_hop
    n_frames = 1 + (scaled.shape[1] - frame) // hop
    if len(lufs) != n_frames:
        raise CaseFailure(f"{len(lufs)} loudness frames, not {n_frames}")
    if n_frames > 12:   # pyloudnorm is slow; a few frames are enough
        picks = np.unique(np.linspace(0, n_frames - 1, 12).astype(int))
    else:
        picks = range(n_frames)
    block = settings.loudness_block_s * settings.sample_rate
    if context.profile != "default" and frame < block and n_frames > 0:
        # no gating block fits in a frame (the toolkit's 17640 samples above 44.1 kHz):
        # pyloudnorm refuses, and compare_features says the loudness is undefined (the
        # default profile's frames of round(0.4 * rate) samples miss a block by less
        # than a sample at most: it measures the block as it is)
        if not np.isnan(lufs).all():
            raise CaseFailure(f"loudness frames of {frame} samples are shorter than the "
                              f"{block:g}-sample gating block (pyloudnorm refuses them, and "
                              f"compare_features calls their loudness undefined), yet the "
                              f"lufs track is {lufs[:4]}, not NaN")
        return
    for f in picks:
        chunk = scaled[:, f * hop:f * hop + frame]
        expected = _loudness_at_scale(chunk, shift, settings.sample_rate,
                                      settings.loudness_block_s)
        if context.profile == "default":
            expected = max(expected, settings.silence_floor_db)
        _assert_db(lufs[f], expected, context, f"lufs frame {f}")


def _assert_db(got, expected, context, what):
    tolerance = 1e-4 if context.dtype == np.float32 else 1e-6
    if np.isinf(expected) or np.isinf(got):
        if got != expected:
            raise AssertionError(f"{what}: {got} dB, pyloudnorm {expected} dB")
    elif abs(got - expected) > tolerance:
        raise AssertionError(f"{what}: {got} dB, pyloudnorm {expected} dB")


def _check_loudness(result, context):
    x3 = _items(context.ref)
    got = np.atleast_1d(np.asarray(result, np.float64))
    if got.shape != (x3.shape[0],):
        raise CaseFailure(f"returned shape {got.shape} for {x3.shape[0]} items")
    block = context.kwargs.get("block_size", 0.4)
    for b in range(x3.shape[0]):
        if np.isnan(got[b]) or np.isposinf(got[b]):
            raise CaseFailure(f"integrated loudness of item {b} is {got[b]}")
        shift = _loudness_shift(x3[b])
        expected = _loudness_at_scale(np.ldexp(x3[b].astype(np.float64), shift), shift,
                                      context.rate, block)
        _assert_db(got[b], expected, context, f"item {b}")
    return "finite"


_FEATURE_CHECKS = {"compare_features": _check_comparison, "feature_tracks": _check_tracks,
                   "integrated_loudness": _check_loudness}


# ------------------------------------------------------------------- spectral family

SPECTRAL_FUNCTIONS = ("stft_loss", "mrstft_loss", "sum_and_difference_loss")
SPECTRAL_RATES = (8000, 16000, 22050, 44100, 48000, 96000)
EXTREME_SPECTRAL_RATES = (1e-300, 1.0, 999.0, 1000.0, 768000.0, 768001.0, 1e6, 1e300)
BAD_SPECTRAL_RATES = (0, -1, np.nan, np.inf, "44100", True, [44100])
WINDOWS = ("hann", "hamming", "blackman", "bartlett")


def _signal_shape(rng, n_channels, length):
    if rng.random() < 0.3:
        return (n_channels, length) if n_channels > 1 or rng.random() < 0.5 else (length,)
    return (int(rng.integers(1, 3)), n_channels, length)


def _loud_pair(rng, shape, dtype, degenerate=True):
    """Noise pairs as test_api_fuzz draws them (float32 stays loud: its near-silent bins
    are rounding), with a silent or constant channel sometimes."""
    log_scale = rng.uniform(-1, 2) if dtype == np.float32 else rng.uniform(-4, 4)
    ref = rng.standard_normal(shape) * 10.0 ** log_scale
    relation = str(rng.choice(ESTIMATE_RELATIONS))
    est = estimate_of(rng, ref, log_scale, relation, quietest=-6)
    content = "noise"
    if degenerate and rng.random() < 0.15 and len(shape) >= 2:
        content = str(rng.choice(["silent channel", "constant channel"]))
        row = (0,) * (len(shape) - 2) + (int(rng.integers(shape[-2])),)
        ref[row] = 0.0 if content == "silent channel" else 0.25
    return est.astype(dtype), ref.astype(dtype), f"{content}, est {relation}"


def _resolutions_for(rng, function):
    if function == "stft_loss":
        fft = int(2 ** rng.integers(4, 11)) + int(rng.choice([0, 0, 0, 1, 3]))
        return [(fft, int(rng.integers(1, fft + 1)), int(rng.integers(1, fft + 1)))]
    n = int(rng.integers(1, 4))
    ffts = [int(2 ** rng.integers(4, 11)) for _ in range(n)]
    return [(f, max(1, int(f * rng.uniform(0.1, 1.0))), int(rng.integers(1, f + 1)))
            for f in ffts]


def _resolution_kwargs(function, resolutions):
    if function == "stft_loss":
        (f, h, w), = resolutions
        return dict(fft_size=f, hop_size=h, win_length=w)
    return dict(fft_sizes=[r[0] for r in resolutions], hop_sizes=[r[1] for r in resolutions],
                win_lengths=[r[2] for r in resolutions])


def make_spectral_case(rng, family, mutate=True):
    """A spectral loss with the chroma scale ("chroma") or the phase term ("phase")."""
    mutation = _mutation_rng(rng, mutate)
    function = str(rng.choice(SPECTRAL_FUNCTIONS + ("class",), p=(0.4, 0.25, 0.2, 0.15)))
    class_form = function == "class"
    if class_form:
        function = "stft_loss"
    n_channels = 2 if function == "sum_and_difference_loss" else int(rng.integers(1, 4))
    resolutions = _resolutions_for(rng, function)
    length = max(f for f, _, _ in resolutions) // 2 + 1 + int(rng.integers(0, 3000))
    dtype = np.float32 if rng.random() < 0.4 else np.float64
    shape = _signal_shape(rng, n_channels, length)
    est, ref, content = _loud_pair(rng, shape, dtype)
    window = str(rng.choice(WINDOWS))
    kwargs = dict(_resolution_kwargs(function, resolutions), window=window,
                  mag_distance=str(rng.choice(["L1", "L2"])),
                  w_lin_mag=float(rng.choice([0.0, 0.0, 1.0])),
                  reduction=str(rng.choice(["mean", "sum", "none"])),
                  output=str(rng.choice(["loss", "full"])))
    rate = SPECTRAL_RATES[int(rng.integers(len(SPECTRAL_RATES)))]
    chroma = family == "chroma" or rng.random() < 0.2
    if chroma:
        kwargs.update(scale="chroma", sample_rate=rate)
        if rng.random() < 0.5:
            kwargs["n_bins"] = int(rng.choice([1, 3, 12, 24, 36]))
        if rng.random() < 0.15:   # rates past the ends of what a filterbank is built for
            kwargs["sample_rate"] = float(rng.choice(EXTREME_SPECTRAL_RATES))
    if family == "phase" or rng.random() < 0.2:
        kwargs["w_phs"] = float(10.0 ** rng.uniform(-2, 0.5))
    bad = None
    if mutation is not None and mutation.random() < 0.3:
        options = {"w_phs": [-1.0, np.nan, np.inf, "x", None, [1.0]],
                   "sample_rate": list(BAD_SPECTRAL_RATES),
                   "n_bins": [0, -12, 1.5, "x", 2 ** 64, [12] * 5],
                   "fmin": [50.0, 1e-3], "fmax": [100.0, 1e6],
                   "scale": ["Chroma", "chromagram", 1]}
        bad = str(mutation.choice(sorted(options) + ["keyword"]))
        if bad == "keyword":
            bad = str(mutation.choice(["n_chroma", "fmin_hz", "phase_weight", "w_phase",
                                       "sr"]))
            kwargs[bad] = 1.0
        else:
            values = options[bad]
            kwargs[bad] = values[int(mutation.integers(len(values)))]
            if bad in ("fmin", "fmax", "n_bins", "scale") and "scale" not in kwargs:
                kwargs.setdefault("sample_rate", rate)
                kwargs.setdefault("scale", "chroma")
    est_in, ref_in = _odd_layout(rng, est), _odd_layout(rng, ref)
    if class_form:
        init = {k: v for k, v in kwargs.items() if k not in ("fft_size", "hop_size",
                                                              "win_length", "window")}
        (f, h, w), = resolutions
        if "scale" in init and init.get("scale") == "chroma" and rng.random() < 0.5:
            rate_arg = init.pop("sample_rate", rate)
            init.pop("scale")
            if "n_bins" in init:
                init["n_chroma"] = init.pop("n_bins")
                bad = "n_chroma" if bad == "n_bins" else bad
            text = _call_text("fm.ChromaSTFTLoss", [rate_arg, f, h, w, window], init)

            def call():
                return fm.ChromaSTFTLoss(rate_arg, f, h, w, window, **init)(est_in, ref_in)
        else:
            text = _call_text("fm.STFTLoss", [f, h, w, window], init)

            def call():
                return fm.STFTLoss(f, h, w, window, **init)(est_in, ref_in)
        text += "(est, ref)"
    else:
        loss = getattr(fm, function)
        text = _call_text(f"fm.{function}", [est_in, ref_in], kwargs)

        def call():
            return loss(est_in, ref_in, **kwargs)
    text += f"  # {content}"
    names = ("est", "ref") + tuple(kwargs) + ("fft_size", "hop_size", "win_length",
                                              "fft_sizes", "hop_sizes", "win_lengths",
                                              "n_chroma", "sample_rate")

    def check(result):
        return _check_spectral(result, function, kwargs, resolutions, est, ref)

    return Case(call, text, [est_in, ref_in], names, check, bad)


def _window_values(name, win_length):
    if name == "kaiser":   # torch.kaiser_window's default beta, periodic
        return np.kaiser(win_length + 1, 12.0)[:-1]
    return reference.window(name.replace("_window", ""), win_length)


def _reference_spectral(function, kwargs, resolutions, est3, ref3, window=None):
    """Per-item loss of fastmixloss.reference for a spectral call's keyword arguments."""
    rate = kwargs.get("sample_rate")
    scale = kwargs.get("scale")
    n_bins = kwargs.get("n_bins")
    banks = None
    if scale == "chroma":
        sizes = n_bins if isinstance(n_bins, (list, tuple)) else [n_bins or 12] * len(
            resolutions)
        banks = [filterbanks.chroma_matrix(rate, f, n) for (f, _, _), n in
                 zip(resolutions, sizes)]
    elif scale == "mel":
        sizes = n_bins if isinstance(n_bins, (list, tuple)) else [n_bins or 128] * len(
            resolutions)
        banks = [filterbanks.mel_matrix(rate, f, n, kwargs.get("fmin", 0.0),
                                        kwargs.get("fmax")) for (f, _, _), n in
                 zip(resolutions, sizes)]
    window = window or kwargs.get("window", "hann")
    terms = dict(mag_distance=kwargs.get("mag_distance", "L1"),
                 w_sc=kwargs.get("w_sc", 1.0), w_log_mag=kwargs.get("w_log_mag", 1.0),
                 w_lin_mag=kwargs.get("w_lin_mag", 0.0), w_phs=kwargs.get("w_phs", 0.0))
    with_banks = banks or [None] * len(resolutions)

    def mr(e, r):
        parts = [reference.stft_loss(e, r, fft_size=f, hop_size=h, win_length=w,
                                     window_values=_window_values(window, w),
                                     filterbank=bank, **terms)
                 for (f, h, w), bank in zip(resolutions, with_banks)]
        return {key: sum(p[key] for p in parts) / len(parts) for key in parts[0]}

    if function == "sum_and_difference_loss":
        s = lambda x: x[:, :1] + x[:, 1:2]   # noqa: E731
        d = lambda x: x[:, :1] - x[:, 1:2]   # noqa: E731
        total, diff = mr(s(est3), s(ref3)), mr(d(est3), d(ref3))
        return (kwargs.get("w_sum", 1.0) * total["loss"] + kwargs.get("w_diff", 1.0)
                * diff["loss"]), [(s(est3), s(ref3)), (d(est3), d(ref3))]
    return mr(est3, ref3)["loss"], [(est3, ref3)]


def _phase_tolerance(rows, resolutions, window, dtype):
    """A bound on |phs - reference phs|: each bin's angle is known to about
    100 * eps * (its row's largest magnitude) / |bin|; a bin within that of +-pi (or of
    magnitude within it of 0) may land on the other side, (2 pi)**2 apart. The DC and
    (even fft) Nyquist bins are real in both (rfft's imaginary part there is +0.0, the
    library's too), so their angle is 0 or pi exactly unless they are 0. The first frame
    is symmetric (reflect padding), so its bins are real up to rounding: with few frames
    the bound is wide, as the term itself is there."""
    eps = np.finfo(dtype).eps * 100
    worst = 0.0
    for est3, ref3 in rows:
        for f, h, w in resolutions:
            total = 0.0
            for x in (est3, ref3):
                spectrum = reference.spectra(x, f, h, w, _window_values(window, w))
                magnitude = np.abs(spectrum)
                scale = magnitude.max(axis=(-2, -1), keepdims=True)
                with np.errstate(divide="ignore", invalid="ignore"):
                    error = np.where(magnitude > 0, eps * scale / magnitude, np.inf)
                real = np.zeros(spectrum.shape[-1], bool)
                real[0] = True
                real[-1] = f % 2 == 0
                error = np.where(real & (magnitude > 0), 0.0, error)
                flips = (np.pi - np.abs(np.angle(spectrum))) < error
                bound = np.where(flips, (2 * np.pi) ** 2,
                                 np.minimum((2 * np.pi) ** 2, 4 * np.pi * error))
                total = total + bound.reshape(bound.shape[0], -1).mean(axis=-1)
            worst = max(worst, float(np.max(total)))
    return worst


def _reduce(values, reduction):
    values = np.asarray(values, np.float64)
    if reduction == "none":
        return values
    return values.mean() if reduction == "mean" else values.sum()


def _check_spectral(result, function, kwargs, resolutions, est, ref):
    e3, r3 = _items(est).astype(np.float64), _items(ref).astype(np.float64)
    per_item, rows = _reference_spectral(function, kwargs, resolutions, e3, r3)
    expected = _reduce(per_item, kwargs.get("reduction", "mean"))
    tolerance = 0.0
    if kwargs.get("w_phs"):
        tolerance = _phase_tolerance(rows, resolutions, kwargs.get("window", "hann"),
                                     est.dtype)
    return _compare_loss(result, expected, kwargs, est, ref, tolerance)


def _compare_loss(result, expected, kwargs, est, ref, phase_tolerance):
    """The loss (or breakdown) against the reference's value: equal within the dtype's
    tolerance, NaN only where the reference's is (an undefined term) and said why where
    the result can say it (a breakdown's reasons)."""
    loss = result.loss if hasattr(result, "loss") else result
    got = np.asarray(loss, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.isinf(expected).any() or np.isinf(got).any():
        raise CaseFailure(f"the loss is {got}, the reference's {expected}")
    if np.isnan(got).any() or np.isnan(expected).any():
        if not np.array_equal(np.isnan(got), np.isnan(expected)):
            raise CaseFailure(f"the loss is {got} where the reference's is {expected} "
                              "(NaN: undefined)")
        if hasattr(result, "loss"):
            if not getattr(result, "reasons", None):
                raise CaseFailure(f"the loss is {got} and the breakdown gives no reason")
            return "nan-with-reason"
        return "nan-undefined"
    reduction = kwargs.get("reduction", "mean")
    n_items = _items(est).shape[0]
    float32 = est.dtype == np.float32
    peak = max(float(np.abs(est).max()), float(np.abs(ref).max()))
    rtol = 1e-4 if float32 else 1e-9
    atol = 1e-6 * peak if float32 else 1e-12 * max(1.0, peak)
    atol += (n_items if reduction == "sum" else 1) * kwargs.get("w_phs", 0.0) * \
        phase_tolerance
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)
    return "finite"


def make_chroma_case(rng, mutate=True):
    return make_spectral_case(rng, "chroma", mutate)


def make_phase_case(rng, mutate=True):
    return make_spectral_case(rng, "phase", mutate)


# ------------------------------------------------------------------ random resolutions

RANDOM_WINDOWS = ("hann", "bartlett", "blackman", "hamming", "kaiser")


def make_random_resolution_case(rng, mutate=True):
    mutation = _mutation_rng(rng, mutate)
    n_channels = int(rng.integers(1, 4))
    min_fft = int(2 ** rng.integers(4, 8))
    max_fft = int(2 ** rng.integers(int(np.log2(min_fft)), 12))
    init = dict(resolutions=int(rng.integers(1, 4)), min_fft_size=min_fft,
                max_fft_size=max_fft)
    if rng.random() < 0.5:
        low = float(rng.uniform(0.05, 0.5))
        init.update(min_hop_size=low, max_hop_size=float(rng.uniform(low, 1.5)))
    if rng.random() < 0.4:
        k = int(rng.integers(1, len(RANDOM_WINDOWS) + 1))
        init["windows"] = tuple(str(w) for w in rng.choice(RANDOM_WINDOWS, k, replace=False))
    if rng.random() < 0.5:
        init["randomize_rate"] = int(rng.integers(1, 4))
    if rng.random() < 0.7:
        init["seed"] = int(rng.integers(0, 2 ** 32))
    else:
        init["rng"] = np.random.default_rng(int(rng.integers(0, 2 ** 32)))
    stft = {}
    if rng.random() < 0.3:
        stft["w_phs"] = float(10.0 ** rng.uniform(-2, 0.5))
    if rng.random() < 0.3:
        stft["w_lin_mag"] = 1.0
    if rng.random() < 0.2:
        stft.update(scale="chroma", sample_rate=SPECTRAL_RATES[int(rng.integers(6))])
    stft["reduction"] = str(rng.choice(["mean", "sum", "none"]))
    if rng.random() < 0.3:
        stft["output"] = "full"
    dtype = np.float32 if rng.random() < 0.4 else np.float64
    length = max_fft // 2 + 1 + int(rng.integers(0, 2000))
    shape = _signal_shape(rng, n_channels, length)
    est, ref, content = _loud_pair(rng, shape, dtype)
    n_calls = int(rng.integers(1, 4))
    bad = None
    inputs = [est, ref]
    refusal = None
    if mutation is not None and mutation.random() < 0.3:
        options = {"seed": [-1, 1.5, "x", 2 ** 64, True, [1, 2]],
                   "resolutions": [0, -1, 1.5, "3", None],
                   "min_fft_size": [48, 0, 1.0], "max_fft_size": [100, 8, 2 ** 40],
                   "min_hop_size": [0.0, -0.1, np.nan], "max_hop_size": [np.inf, 0.0],
                   "windows": [("nope",), (), "hann", None],
                   "randomize_rate": [0, -2, 0.5], "rng": ["x", 3, np.random.RandomState(0)],
                   "input": ["scalar", "channel_last", "short"]}
        bad = str(mutation.choice(sorted(options) + ["keyword"]))
        if bad == "keyword":
            bad = str(mutation.choice(["w_phase", "fft_sizes", "n_fft", "sr"]))
            stft[bad] = 1
        elif bad == "input":
            what = str(mutation.choice(options["input"]))
            if what == "scalar":
                inputs = [np.float64(0.5), np.float64(0.25)]
                bad = "est"
            elif what == "channel_last" and len(shape) == 2 and shape[0] == 2:
                inputs = [est.T.copy(), ref.T.copy()]
                bad = None

                def refusal(message, base_refused):
                    if not re.search(_TRANSPOSE_HINT, message) and not base_refused():
                        return "a channel-last array is refused without the hint to " \
                            "transpose it"
                    return None
            else:
                inputs = [est[..., :max_fft // 2], ref[..., :max_fft // 2]]
                bad = None
        else:
            values = options[bad]
            init[bad] = values[int(mutation.integers(len(values)))]
            if bad == "rng":
                init.pop("seed", None)
            if bad == "seed":
                init.pop("rng", None)
    kwargs = dict(init, **stft)
    text = _call_text("fm.RandomResolutionSTFTLoss", [], kwargs) + \
        f"(est, ref) x {n_calls}  # {content}"
    losses = []

    def call():
        loss = fm.RandomResolutionSTFTLoss(**kwargs)
        losses.append(loss)
        values = []
        for _ in range(n_calls):
            values.append(loss(*inputs))
            values.append(loss.resolutions)   # the resolutions this call used
        return values

    arrays = [a for a in inputs if isinstance(a, np.ndarray)]
    names = ("est", "ref", "signals") + tuple(kwargs)

    def check(values):
        outcome = "finite"
        for value, drawn in zip(values[::2], values[1::2]):
            for fft, hop, win, window in drawn:
                if not (min_fft <= fft <= max_fft and fft & (fft - 1) == 0 and hop >= 1
                        and win in (fft, fft // 2, fft // 4)):
                    raise CaseFailure(f"drew {(fft, hop, win, window)} outside the rule")
            # the mean over the drawn resolutions of each one's loss, per item
            e3, r3 = _items(est).astype(np.float64), _items(ref).astype(np.float64)
            per_resolution, tolerance = [], 0.0
            for fft, hop, win, window in drawn:
                per_item, rows = _reference_spectral("stft_loss", stft, [(fft, hop, win)],
                                                     e3, r3, window)
                per_resolution.append(per_item)
                if stft.get("w_phs"):
                    tolerance += _phase_tolerance(rows, [(fft, hop, win)], window,
                                                  dtype) / len(drawn)
            expected = _reduce(np.mean(per_resolution, axis=0), stft["reduction"])
            outcome = _compare_loss(value, expected, stft, est, ref, tolerance)
        return outcome

    return Case(call, text, arrays, names, check, bad, refusal)


# ------------------------------------------------------------------- preset overrides

PRESET_FIELDS = ("fft_sizes", "hop_sizes", "win_lengths", "framing", "float32_window", "eps",
                 "eps_added", "n_mels", "fmin", "fmax", "w_sc", "w_log_mag", "w_lin_mag",
                 "log_factor", "sum_resolutions")


def _preset_overrides(rng, preset, rate):
    overrides = {}
    n = len(preset.fft_sizes)
    for _ in range(int(rng.integers(1, 4))):
        field = str(rng.choice(PRESET_FIELDS))
        if field in ("fft_sizes", "hop_sizes", "win_lengths"):
            ffts = tuple(int(2 ** rng.integers(5, 11)) for _ in range(n))
            overrides["fft_sizes"] = ffts
            overrides["win_lengths"] = tuple(int(rng.integers(f // 4, f + 1)) for f in ffts)
            overrides["hop_sizes"] = tuple(max(1, int(f * rng.uniform(0.1, 1.5)))
                                           for f in ffts)
        elif field == "framing":
            overrides[field] = str(rng.choice(["centred", "hifigan", "uncentred"]))
        elif field in ("float32_window", "eps_added", "sum_resolutions"):
            overrides[field] = bool(rng.random() < 0.5)
        elif field == "eps":
            overrides[field] = float(rng.choice([0.0, 1e-10, 1e-7, 1e-5]))
        elif field == "n_mels":
            overrides[field] = tuple(int(rng.choice([5, 10, 20, 40])) for _ in range(n))
        elif field == "fmin":   # sometimes at or above fmax, or past Nyquist
            overrides[field] = float(rng.choice([0.0, 40.0, 500.0, 8000.0, 20000.0,
                                                 30000.0]))
        elif field == "fmax":
            overrides[field] = float(rng.choice([4000.0, 8000.0, 11025.0, 20000.0, 1e6]))
        elif field in ("w_sc", "w_log_mag", "w_lin_mag"):
            overrides[field] = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
        else:
            overrides[field] = float(rng.choice([0.5, 1.0, 1 / math.log(10)]))
    return overrides


def make_preset_override_case(rng, mutate=True):
    mutation = _mutation_rng(rng, mutate)
    name = sorted(fm.PRESETS)[int(rng.integers(len(fm.PRESETS)))]
    preset = fm.PRESETS[name]
    rate = float(rng.choice([16000.0, 22050.0, 24000.0, 44100.0, 48000.0]))
    overrides = _preset_overrides(rng, preset, rate)
    kwargs = dict(overrides, reduction="none")
    if name == "dac" or rng.random() < 0.5:
        kwargs["sample_rate"] = rate
    bad = None
    if mutation is not None and mutation.random() < 0.25:
        options = {"fft_sizes": [(0,) * len(preset.fft_sizes), (1024.5,), "1024", ()],
                   "n_mels": [(0,) * len(preset.fft_sizes), (-5,)],
                   "fmin": [-1.0, np.nan, "x"], "fmax": [0.0, -5.0, np.inf],
                   "eps": [-1e-8, np.nan], "framing": ["center", None],
                   "sample_rate": [0.0, -1.0, 1e-300, 1e300, np.nan, "x"],
                   "log_factor": [0.0, -1.0], "weight": [-1.0, np.nan],
                   "source": ["mine"]}
        bad = str(mutation.choice(sorted(options) + ["keyword"]))
        if bad == "keyword":
            bad = str(mutation.choice(["fft_size", "n_mel", "fmaxx", "hop_length"]))
            kwargs[bad] = 1
        else:
            values = options[bad]
            kwargs[bad] = values[int(mutation.integers(len(values)))]
    dtype = np.float32 if rng.random() < 0.25 else np.float64
    final = dataclasses.replace(preset, **{k: v for k, v in kwargs.items()
                                           if k in PRESET_FIELDS})
    sizes = final.fft_sizes if isinstance(final.fft_sizes, tuple) else ()
    valid = sizes and all(isinstance(f, int) and f > 0 for f in sizes)
    longest = max(sizes) if valid else 2048   # a bad fft_sizes: any length will do
    length = longest + int(rng.integers(1, 3000))
    shape = _signal_shape(rng, int(rng.integers(1, 3)), length)
    # loud noise only: with eps 0 and no log floor, rounding-level bins of a silent or
    # constant channel are the source's too (test_api_fuzz covers the presets' own
    # degenerate signals)
    est, ref, content = _loud_pair(rng, shape, dtype, degenerate=False)
    est_in, ref_in = _odd_layout(rng, est), _odd_layout(rng, ref)
    text = _call_text("fm.preset_loss", [name], kwargs) + f"(est, ref)  # {content}"
    names = ("est", "ref", "preset", "signals") + tuple(kwargs)

    def call():
        return fm.preset_loss(name, **kwargs)(est_in, ref_in)

    def check(result):
        return _check_preset(result, name, final, kwargs, est, ref)

    return Case(call, text, [est_in, ref_in], names, check, bad)


def _check_preset(result, name, preset, kwargs, est, ref):
    got = np.asarray(result, np.float64)
    if not np.isfinite(got).all():
        raise CaseFailure(f"the loss is {got} for finite loud noise")
    rate = kwargs.get("sample_rate", preset.sample_rate)
    if preset.n_mels is not None:
        top = rate / 2 if preset.fmax is None else preset.fmax
        if not 0 <= preset.fmin < top <= rate / 2:
            raise CaseFailure(f"accepted mel bands from fmin={preset.fmin} to fmax="
                              f"{preset.fmax} at sample_rate={rate}: they do not lie "
                              f"between 0 and the Nyquist frequency {rate / 2}")
    elif any(k in kwargs for k in ("fmin", "fmax")):
        raise CaseFailure("fmin or fmax set on a preset without mel bands is ignored")
    try:
        expected = kwargs.get("weight", 1.0) * reference.preset_loss(
            _items(est), _items(ref), preset, sample_rate=rate)["loss"]
    except Exception as exc:
        raise CaseFailure(f"the library gives {got}, its reference cannot compute this "
                          f"preset: {type(exc).__name__}: {_short(exc)}") from None
    float32 = est.dtype == np.float32
    # magnitudes of noise are about peak * sqrt(fft size): a linear term of two equal
    # signals is rounding of that size (in whichever order a kernel sums)
    scale = max(1.0, float(np.abs(ref).max()) * math.sqrt(max(preset.fft_sizes)))
    np.testing.assert_allclose(got, expected, rtol=1e-4 if float32 else 1e-9,
                               atol=(1e-6 if float32 else 1e-12) * scale)
    differs = not np.array_equal(est, ref)
    if differs and (got == 0.0).any() and (preset.w_log_mag or preset.w_lin_mag
                                            or preset.w_sc):
        raise CaseFailure(f"the loss is 0 for different signals: {got}")
    return "finite"


_MAKERS = {"features": make_feature_case, "chroma": make_chroma_case,
           "phase": make_phase_case, "random_resolution": make_random_resolution_case,
           "preset_overrides": make_preset_override_case}


def warm_up():
    """Compile what the cases call (each kernel, both dtypes) before any case is timed."""
    rng = np.random.default_rng(0)
    for dtype in (np.float32, np.float64):
        x = (0.3 * rng.standard_normal((2, 48000))).astype(dtype)
        fm.compare_features(0.5 * x, x, 44100)
        fm.compare_features(0.5 * x, x, 24000, profile="automix-toolkit")
        fm.feature_tracks(x, 44100, profile="fxnorm")
        fm.integrated_loudness(x, 44100)
        y = x[:, :4000]
        fm.stft_loss(y, 0.5 * y, scale="chroma", sample_rate=44100, w_phs=1.0)
        fm.stft_loss(y, 0.5 * y, w_phs=1.0)
        fm.preset_loss("hifigan")(y, 0.5 * y)
