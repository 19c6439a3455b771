"""`fastmixloss compare EST REF`: every loss for one pair of files, as a table."""

import json
import sys

from .audio import Pair, PairError, load_pair
from .config import settings_from_args
from .losses import compute, loss_value
from .summary import table

# One line each for the table's last column, so a newcomer can read it without the docs.
MEANINGS = {
    "mse": "mean squared error of the samples",
    "l1": "mean absolute error of the samples",
    "esr": "error-to-signal energy ratio",
    "dc": "DC (mean) error relative to the signal's energy",
    "logcosh": "log-cosh of the sample error",
    "snr": "negated SNR in dB",
    "sisdr": "negated scale-invariant SDR in dB (ignores gain)",
    "sdsdr": "negated scale-dependent SDR in dB",
    "stft.loss": "STFT loss: sc + log_mag (+ lin_mag) at one resolution",
    "mrstft.loss": "multi-resolution STFT, channel by channel",
    "mrstft.sc": "  spectral convergence",
    "mrstft.log_mag": "  log-magnitude distance",
    "mrstft.lin_mag": "  linear-magnitude distance",
    "sd.loss": "sum-and-difference: MR-STFT of L+R plus of L-R",
    "sd.sum.loss": "  MR-STFT of the sum L+R (the mono mix)",
    "sd.diff.loss": "  MR-STFT of the difference L-R (the stereo image)",
}


def _shown(column, show_all):
    if show_all:
        return True
    parts = column.split(".")
    return not any(p.startswith("fft") for p in parts)


def parse_size(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise PairError(f"--plot-size {text!r} must be WIDTHxHEIGHT in pixels, "
                        "e.g. 1200x900") from None
    if not (100 <= width <= 10000 and 100 <= height <= 10000):
        raise PairError(f"--plot-size {text!r}: each side must be 100 to 10000 pixels")
    return width, height


def run(args):
    settings = settings_from_args(args)
    settings.with_columns()   # checks the parameters (and --device) before reading audio
    try:
        size = parse_size(args.plot_size) if args.plot else None
        loaded = load_pair(Pair(args.est, args.est, args.ref), settings.length_policy)
    except PairError as exc:
        print(f"fastmixloss compare: {exc}", file=sys.stderr)
        return 1
    values, errors = compute(settings, loaded.est, loaded.ref)
    per_channel = {}
    chosen = dict(settings.losses)
    # the MR-STFT's parameters if it was chosen, else those S/D uses for its halves
    mrstft_params = chosen.get("mrstft") or {
        k: v for k, v in chosen.get("sd", {}).items() if k not in ("w_sum", "w_diff")}
    if loaded.ref.shape[0] > 1:
        # MR-STFT of each channel alone: what a per-channel loss sees of a swap
        for c in range(loaded.ref.shape[0]):
            try:
                value = loss_value("mrstft", mrstft_params, loaded.est[c:c + 1],
                                   loaded.ref[c:c + 1], settings.device)
                per_channel[f"mrstft[channel {c + 1}].loss"] = float(value.loss)
            except Exception as exc:   # noqa: BLE001 -- report it with the rest
                errors.append(f"mrstft on channel {c + 1}: {exc}")
    channels, samples = loaded.ref.shape
    info = {"estimate": args.est, "reference": args.ref, "sample_rate": loaded.sample_rate,
            "channels": channels, "samples": samples}
    if args.json:
        print(json.dumps({**info, "values": {**values, **per_channel}, "errors": errors},
                         indent=2))
    else:
        print(f"estimate:  {args.est}\nreference: {args.ref}\n"
              f"           {loaded.sample_rate} Hz, {channels} channel(s), "
              f"{samples / loaded.sample_rate:.2f} s\n")
        rows = [[c, v, MEANINGS.get(c, "")] for c, v in {**values, **per_channel}.items()
                if _shown(c, args.all)]
        print(table(["loss", "value", "meaning (lower is better)"], rows,
                    align=["<", ">", "<"]))
        for error in errors:
            print(f"not computed: {error}")
    if args.plot:
        from .plot import difference_plot
        resolutions = _plot_resolutions(settings)
        difference_plot(loaded.est, loaded.ref, loaded.sample_rate, resolutions, args.plot,
                        size, title=f"{args.est} vs {args.ref}")
        if not args.json:
            print(f"\nplot: {args.plot}")
    return 1 if errors else 0


def _plot_resolutions(settings):
    """The MR-STFT (or S/D) resolutions in use; the library's defaults otherwise."""
    from fastmixloss.spectral import (DEFAULT_FFT_SIZES, DEFAULT_HOP_SIZES,
                                      DEFAULT_WIN_LENGTHS)
    params = dict(settings.losses)
    chosen = params.get("mrstft") or params.get("sd") or {}
    return list(zip(chosen.get("fft_sizes", DEFAULT_FFT_SIZES),
                    chosen.get("hop_sizes", DEFAULT_HOP_SIZES),
                    chosen.get("win_lengths", DEFAULT_WIN_LENGTHS)))
