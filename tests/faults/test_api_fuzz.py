"""A bounded, seeded random fuzz of the library's API (issue 9).

Each case draws a loss (time-domain, spectral with or without the spectral options, or
a preset), a shape, dtypes, memory layouts, signal content (scales from 1e-6 to 1e6,
scaled copies, silent channels, NaN samples, huge samples) and parameters, some of them
bad (wrong types, arrays, out-of-range sizes, unknown keywords, channel-last arrays). Every
case must either raise ParameterError (KeywordError for an unknown keyword) or return the
value of fastmixloss.reference within docs/numerics.md's tolerances; any other outcome
fails.

Default: 300 cases (well under a minute once the kernels are cached). The long form, in
child processes that survive a crashing case, with the counts by outcome:
    python tests/faults/fuzz_long.py --cases 20000 --families api
or in this process: FASTMIXLOSS_FUZZ_CASES=20000 python -m pytest tests/faults/test_api_fuzz.py
FASTMIXLOSS_FUZZ_SEED picks another stream of cases.
"""

import collections
import math
import os

import numpy as np

import fastmixloss as fm
from fastmixloss import KeywordError, ParameterError, filterbanks, reference, weighting

N_CASES = int(os.environ.get("FASTMIXLOSS_FUZZ_CASES", "300"))
SEED = int(os.environ.get("FASTMIXLOSS_FUZZ_SEED", "20261125"))
TIME = ["mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr"]
SPECTRAL = ["stft_loss", "mrstft_loss", "sum_and_difference_loss"]
RATIO = {"esr", "dc", "snr", "sisdr", "sdsdr"}
PRESET = "preset_loss"
PRESET_NAMES = sorted(fm.PRESETS)
OPTION_RATE = 16000   # the spectral options' sample rate (mel bands, A-weighting)

# a few bad values for any parameter
BAD_VALUES = [-1, 0, 2 ** 64, 1.5, "x", None, np.array([1, 2]), [[1, 2], [3]], np.nan,
              np.inf, True, {"a": 1}]


ESTIMATE_RELATIONS = ("noisy", "scaled", "identical", "independent")


def estimate_of(rng, ref, log_scale, relation, quietest):
    """An estimate drawn in `relation` to ref (samples about 10**log_scale): ref scaled
    plus noise from 10**quietest of its level up to its level, ref scaled, ref itself, or
    independent noise."""
    if relation == "noisy":
        return ref * rng.uniform(0.3, 1.5) + rng.standard_normal(ref.shape) * 10.0 ** (
            log_scale + rng.uniform(quietest, 0))
    if relation == "scaled":
        return ref * 10.0 ** rng.uniform(-2, 2)
    if relation == "identical":
        return ref.copy()
    return rng.standard_normal(ref.shape) * 10.0 ** log_scale


def _signals(rng, name):
    n_channels = 2 if name == "sum_and_difference_loss" or rng.random() < 0.5 else \
        int(rng.integers(1, 4))
    spectral = name in SPECTRAL or name == PRESET
    length = int(rng.integers(600 if spectral else 1, 5000 if name == PRESET else 3000))
    shape = (int(rng.integers(1, 4)), n_channels, length)
    dtype = np.float32 if rng.random() < 0.4 else np.float64
    # near-silent bins' float32 logs differ (docs/numerics.md): spectral float32 stays loud
    log_scale = rng.uniform(-1, 2) if spectral and dtype == np.float32 else rng.uniform(-6, 6)
    ref = rng.standard_normal(shape) * 10.0 ** log_scale
    kind = rng.choice(ESTIMATE_RELATIONS)
    est = estimate_of(rng, ref, log_scale, kind, quietest=-8)
    if rng.random() < 0.1:
        ref[0, 0] = 0.0 if rng.random() < 0.5 else 0.25   # silent or constant channel
    if rng.random() < 0.05:
        (est if rng.random() < 0.5 else ref)[0, -1, length // 2] = np.nan
    if rng.random() < 0.03:   # beyond the spectral limits, fine in the time domain
        huge = 1e120 if dtype == np.float64 else 1e32 / max(1.0, np.abs(ref).max())
        est, ref = est * huge, ref * huge
    est, ref = est.astype(dtype), ref.astype(dtype)
    return est, ref


def _layout(rng, x):
    """The same values in an odd layout or shape (never modified by the loss)."""
    choice = rng.integers(0, 6)
    if choice == 0:
        return np.asfortranarray(x)
    if choice == 1:
        return x.astype(x.dtype.newbyteorder(">"))
    if choice == 2:
        return np.repeat(x, 2, axis=-1)[..., ::2]
    return x


def _options(rng):
    """Some of the STFT family's options (checked against the reference's twins)."""
    options = {}
    if rng.random() < 0.4:
        options.update(scale="mel", n_bins=int(rng.choice([4, 8, 16])),
                       sample_rate=OPTION_RATE)
    if rng.random() < 0.4:
        options.update(perceptual_weighting=True, sample_rate=OPTION_RATE)
    if rng.random() < 0.3:
        options["scale_invariance"] = True
    if rng.random() < 0.3:
        options.update(log_eps=float(10.0 ** rng.uniform(-6, 0)),
                       log_fac=float(10.0 ** rng.uniform(0, 2)))
    return options


def _parameters(rng, name):
    params = {}
    if name == PRESET:
        params["name"] = PRESET_NAMES[rng.integers(len(PRESET_NAMES))]
        if params["name"] == "dac":
            params["sample_rate"] = 44100
        params["reduction"] = "none"
        params["check_finite"] = bool(rng.random() < 0.9)
        if rng.random() < 0.2:
            key = str(rng.choice(["weight", "reduction", "output", "sample_rate",
                                  "fft_sizes", "frobnicate", "device"]))
            params[key] = BAD_VALUES[rng.integers(len(BAD_VALUES))]
        return params
    if name in SPECTRAL:
        if name == "stft_loss":
            fft = int(2 ** rng.integers(4, 10)) + int(rng.choice([0, 0, 0, 1, 3]))
            params.update(fft_size=fft, hop_size=int(rng.integers(1, fft + 1)),
                          win_length=int(rng.integers(1, fft + 1)))
        elif rng.random() < 0.7:
            n = int(rng.integers(1, 4))
            ffts = [int(2 ** rng.integers(4, 10)) for _ in range(n)]
            params.update(fft_sizes=ffts, hop_sizes=[max(1, f // 4) for f in ffts],
                          win_lengths=[int(rng.integers(1, f + 1)) for f in ffts])
        params["window"] = str(rng.choice(["hann", "hamming", "blackman", "bartlett",
                                           "hann_window"]))
        params["mag_distance"] = str(rng.choice(["L1", "L2"]))
        params["w_lin_mag"] = float(rng.choice([0.0, 1.0]))
        if rng.random() < 0.3:
            params.update(_options(rng))
    else:
        if name in ("snr", "sisdr", "sdsdr"):
            params["zero_mean"] = bool(rng.random() < 0.7)
        if name == "logcosh":
            params["a"] = float(10.0 ** rng.uniform(-2, 2))
    params["reduction"] = str(rng.choice(["mean", "sum", "none"]))
    params["check_finite"] = bool(rng.random() < 0.9)
    # one bad parameter in a fifth of the cases
    if rng.random() < 0.2:
        key = str(rng.choice(list(params) + ["input", "target", "sample_rate", "frobnicate",
                                             "device", "compat", "output"]))
        params[key] = BAD_VALUES[rng.integers(len(BAD_VALUES))]
    return params


def _expected(name, est, ref, params):
    """Per-item values from fastmixloss.reference (float64 of the same inputs)."""
    e, r = est.astype(np.float64), ref.astype(np.float64)
    if name == PRESET:
        preset = fm.PRESETS[params["name"]]
        # any finite weight >= 0 is valid (the bad values drawn for it include some)
        rate = params.get("sample_rate")   # None: the preset's own
        return params.get("weight", 1.0) * reference.preset_loss(
            e, r, preset, sample_rate=preset.sample_rate if rate is None else rate)["loss"]
    if name in TIME:
        keys = {"zero_mean", "a"}
        return getattr(reference, name)(e, r, **{k: v for k, v in params.items()
                                                  if k in keys})
    keys = {"fft_size", "hop_size", "win_length", "fft_sizes", "hop_sizes", "win_lengths",
            "mag_distance", "w_lin_mag"}
    kwargs = {k: v for k, v in params.items() if k in keys}
    kwargs.update(_reference_options(name, params))
    window = params.get("window", "hann").replace("_window", "")
    if name == "stft_loss":
        return reference.stft_loss(e, r, window_name=window, **kwargs)["loss"]
    if name == "mrstft_loss":
        return reference.mrstft_loss(e, r, window_name=window, **kwargs)["loss"]
    return reference.sum_and_difference_loss(e, r, window_name=window, **kwargs)["loss"]


def _reference_options(name, params):
    """The reference's spelling of the spectral options in params."""
    options = {}
    rate = params.get("sample_rate")   # a drawn bad value that is valid stays
    if params.get("perceptual_weighting"):
        options["fir_taps"] = weighting.taps_for(rate)
    if params.get("scale_invariance"):
        options["scale_invariance"] = True
    for key in ("log_eps", "log_fac"):
        if key in params:
            options[key] = params[key]
    if params.get("scale") == "mel":
        sizes = ([params["fft_size"]] if name == "stft_loss"
                 else params.get("fft_sizes", (1024, 2048, 512)))
        n_bands = 128 if params["n_bins"] is None else params["n_bins"]   # the default
        banks = [filterbanks.mel_matrix(rate, f, n_bands) for f in sizes]
        if name == "stft_loss":
            options["filterbank"] = banks[0]
        else:
            options["filterbanks"] = banks
    return options


def _reduce(values, reduction):
    if reduction == "none":
        return values
    return values.mean() if reduction == "mean" else values.sum()


def run_case(index):
    """One case: returns its outcome ('value', 'ParameterError', 'KeywordError', ...);
    raises on a failure."""
    rng = np.random.default_rng([SEED, index])
    draw = rng.random()
    name = (TIME[rng.integers(len(TIME))] if draw < 0.45 else
            SPECTRAL[rng.integers(len(SPECTRAL))] if draw < 0.85 else PRESET)
    est, ref = _signals(rng, name)
    params = _parameters(rng, name)
    if rng.random() < 0.1:   # channel-last, as soundfile.read returns it
        est, ref = np.swapaxes(est, -1, -2).copy(), np.swapaxes(ref, -1, -2).copy()
    if rng.random() < 0.3:   # drop the batch axis (or both)
        est, ref = est[0], ref[0]
        if rng.random() < 0.3 and est.shape[0] == 1:
            est, ref = est[0], ref[0]
    est_in, ref_in = _layout(rng, est), _layout(rng, ref)
    snapshots = est_in.copy(), ref_in.copy()
    try:
        if name == PRESET:
            kwargs = {k: v for k, v in params.items() if k != "name"}
            got = fm.preset_loss(params["name"], **kwargs)(est_in, ref_in)
        else:
            got = getattr(fm, name)(est_in, ref_in, **params)
    except ParameterError as error:
        return "KeywordError" if isinstance(error, KeywordError) else "ParameterError"
    finally:
        np.testing.assert_array_equal(est_in, snapshots[0])
        np.testing.assert_array_equal(ref_in, snapshots[1])
    if not params["check_finite"] and (np.isnan(est).any() or np.isnan(ref).any()):
        return "value"   # documented: NaN or Inf then, not compared
    if (name == PRESET and est.dtype == np.float32
            and fm.PRESETS[params["name"]].log_threshold == 0.0
            and (np.ptp(est, axis=-1) == 0).any() | (np.ptp(ref, axis=-1) == 0).any()):
        # DDSP's log has no floor but at exact zeros: the bins of a constant channel are
        # float32 FFT rounding (near-silent bins differ in float32), in any
        # implementation, and their logs weigh as much as any other bin's
        return "value-unfloored-log"
    shape3 = (1,) * (3 - est.ndim) + est.shape
    with np.errstate(all="ignore"):   # the plain reference may overflow where we do not
        values = _expected(name, est.reshape(shape3), ref.reshape(shape3), params)
        expected = _reduce(np.asarray(values, dtype=np.float64), params["reduction"])
        float32 = est.dtype == np.float32
        rtol = 1e-4 if float32 else 1e-9
        # absolute floors: dB values near 0; losses of near-identical signals, whose
        # linear terms are differences of values of the louder signal's size
        peak = max(float(np.abs(ref).max()), float(np.abs(est).max()))
        atol = (1e-6 if float32 else 1e-9) if name in ("snr", "sisdr", "sdsdr") else \
            (1e-6 * peak ** (2 if name == "mse" else 1) if float32 else
             1e-12 * max(1.0, peak))
        weighted = bool(params.get("perceptual_weighting"))
        if params.get("scale_invariance") or weighted:
            # A scaled copy's scale-invariant loss is 0 up to rounding, each
            # implementation's own: in float64 the bins at the eps floor flip with it
            # (1e-11); A-weighting has almost no gain at DC, so the lowest bins of the
            # filtered signal are what is left of cancelling samples (2.6e-10), and in
            # float32 the frames of the filtered signal are rounded where it is weakest
            # (5e-4 against the reference's float64 frames). Weights scale it.
            atol = max(atol, (1e-3 if weighted else 1e-4) if float32 else 1e-9)
            lin = params.get("w_lin_mag")
            if isinstance(lin, (int, float)) and math.isfinite(lin):
                atol *= max(1.0, float(lin))
        if name in ("snr", "sisdr", "sdsdr"):
            # float64's floor: rounding each sample's residual leaves ~n * 2**-104 of the
            # signal's energy, so a ratio of 10**(-dB/10) is resolved only to
            # n * 2**-104 * 10**(-dB/10) relative (a scaled copy at 1e120 reads about
            # -320 dB whatever the arithmetic; the exact value there is -322)
            # (per channel: a mean over channels hides a channel at the floor)
            length = est.shape[-1]
            channels = _expected(name, est.reshape(-1, 1, length), ref.reshape(-1, 1, length),
                                 params)
            if np.isfinite(channels).any():
                worst = float(np.nanmin(channels))
                atol += 4.35 * 4 * length * 2.0 ** -104 * np.power(10.0, -worst / 10)
    if not np.all(np.isfinite(expected) | np.isnan(expected)):
        return "value-beyond-reference"   # the plain formula overflowed; ours is finite
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol, equal_nan=True)
    return "value"


def test_fuzz_the_api():
    outcomes = collections.Counter()
    failures = []
    for index in range(N_CASES):
        try:
            outcomes[run_case(index)] += 1
        except Exception as exc:   # collect every failure, then report them together
            failures.append(f"case {index}: {type(exc).__name__}: {str(exc)[:300]}")
    print(f"fuzz: {N_CASES} cases, seed {SEED}: {dict(outcomes)}, {len(failures)} failed")
    assert not failures, "\n".join(failures[:20])
    assert outcomes["value"] > N_CASES // 3 and outcomes["ParameterError"] > 0
