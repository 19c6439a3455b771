"""`fastmixloss compare EST REF`: every loss for one pair of files, as a table.

The files are read in pieces, as `score` reads them: the losses and the MR-STFT of each
channel alone come from one reading; only --plot holds both signals whole.
"""

import json
import math
import os

from fastmixloss.errors import FastMixLossError

from .audio import OpenedPair, Pair, PairError, sample_rate_of, whole_signals
from .config import add_loss_arguments, settings_from_args
from .errors import DONE, NOT_COMPUTED, CommandError
from .progress import compiling_note
from .losses import (LossSettings, evaluator_for, outcomes, row_values,
                     undefined_reasons)
from .results_file import stored_text
from .summary import output_width, table

# One line each for the table's last column, so a newcomer can read it without the docs.
MEANINGS = {
    "mse": "mean squared error of the samples",
    "l1": "mean absolute error of the samples",
    "esr": "error-to-signal energy ratio",
    "dc": "DC (mean) error relative to signal energy",
    "logcosh": "log-cosh of the sample error",
    "snr": "negated SNR in dB",
    "sisdr": "negated SI-SDR in dB (ignores gain)",
    "sdsdr": "negated SD-SDR in dB",
    "stft.loss": "sc + log_mag (+ lin_mag), one resolution",
    "mrstft.loss": "multi-resolution STFT, channel by channel",
    "mrstft.sc": "  spectral convergence",
    "mrstft.log_mag": "  log-magnitude distance",
    "mrstft.lin_mag": "  linear-magnitude distance",
    "sd.loss": "sum-and-difference: MR(L+R) + MR(L-R)",
    "sd.sum.loss": "  MR-STFT of L+R (the mono mix)",
    "sd.diff.loss": "  MR-STFT of L-R (the stereo image)",
    "mrstft[channel 1].loss": "MR-STFT of channel 1 alone",
    "mrstft[channel 2].loss": "MR-STFT of channel 2 alone",
    "features.mean_mape_loudness": "features: loudness error (fraction, 0.1 = 10 %)",
    "features.lufs_loudness": "  frame loudness (LUFS), running means",
    "features.peak_loudness": "  frame sample peak (dBFS)",
    "features.mean_mape_spectral": "features: spectral balance error",
    "features.mean_mape_panning": "features: stereo panning error",
    "features.mean_mape_dynamic": "features: dynamics error",
}


HELP = "every default loss for one pair of audio files"
DESCRIPTION = ("Print every loss for one estimate against its reference: MSE, SI-SDR, "
               "MR-STFT with its terms, sum-and-difference with its parts, and MR-STFT "
               "of each channel alone.")


def add_arguments(parser):
    parser.add_argument("est", metavar="EST", help="the estimated mix (audio file)")
    parser.add_argument("ref", metavar="REF", help="the reference mix (audio file)")
    parser.add_argument("--all", action="store_true",
                        help="also every resolution's terms")
    parser.add_argument("--json", action="store_true",
                        help="print the values as JSON instead of a table")
    parser.add_argument("--plot", metavar="FILE.png",
                        help="save where the mixes differ: the reference's spectrogram and "
                             "the estimate's log magnitude minus the reference's, at each "
                             "MR-STFT resolution; the format from the extension (.png, "
                             ".pdf, .svg, .jpg, ...)")
    parser.add_argument("--plot-size", default="1200x900", metavar="WxH",
                        help="the picture's size in pixels (default 1200x900)")
    parser.add_argument("--plot-range", type=float, metavar="DB",
                        help="colour scale of the differences: -DB to +DB, the same for "
                             "every picture (default: from this pair's differences, at "
                             "most 60)")
    parser.add_argument("--plot-view", choices=("all", "sd", "channels"), default="all",
                        help="which signals' differences a stereo pair shows: sum and "
                             "difference (sd), each channel (channels), or both (default "
                             "all)")
    add_loss_arguments(parser)


def meanings(settings):
    """MEANINGS, with the S/D line saying what the number is under these settings."""
    out = dict(MEANINGS)
    sd = dict(settings.losses).get("sd")
    if sd is not None:
        w_sum, w_diff = sd.get("w_sum", 1.0), sd.get("w_diff", 1.0)
        parts = ("MR(L+R) + MR(L-R)" if w_sum == w_diff == 1 else
                 f"{w_sum:g} MR(L+R) + {w_diff:g} MR(L-R)")
        if sd.get("compat") == "auraloss":
            # auraloss 0.4.0 halves the sum: the number is half of what the parts add to
            out["sd.loss"] = f"S/D: ({parts}) / 2, as auraloss"
        else:
            out["sd.loss"] = f"sum-and-difference: {parts}"
    return out


def _shown(column, show_all):
    if show_all:
        return True
    parts = column.split(".")
    return not any(p.startswith("fft") for p in parts)


def parse_plot_size(text):
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--plot-size {text!r} must be WIDTHxHEIGHT in pixels, "
                           "e.g. 1200x900") from None
    if not (100 <= width <= 10000 and 100 <= height <= 10000):
        raise CommandError(f"--plot-size {text!r}: each side must be 100 to 10000 pixels")
    return width, height


def check_arguments(args):
    """What can be wrong with the arguments themselves, before any audio is read:
    CommandError with the reason. Returns the picture's size, if one is asked for."""
    for name, path in (("EST", args.est), ("REF", args.ref)):
        if os.path.isdir(path):
            raise CommandError(
                f"{name} {stored_text(path)} is a folder; compare takes two audio files. "
                "To score folders of pairs, use: fastmixloss score EST_DIR REF_DIR --out "
                "results.csv")
    if args.plot:
        from .plot import check_plot_path
        check_plot_path(args.plot)
        if args.plot_range is not None and not 0 < args.plot_range <= 200:
            raise CommandError(f"--plot-range {args.plot_range:g} must be more than 0 and "
                               "at most 200 dB")
        return parse_plot_size(args.plot_size)
    return None


def channel_settings(settings):
    """The MR-STFT that compare shows for each channel alone (what a per-channel loss
    sees of a swap), when the losses include a spectral one: the MR-STFT's parameters if
    it was chosen, else those S/D uses for its halves; None otherwise."""
    chosen = dict(settings.losses)
    if "mrstft" in chosen:
        params = chosen["mrstft"]
    elif "sd" in chosen:
        params = {k: v for k, v in chosen["sd"].items() if k not in ("w_sum", "w_diff")}
    else:
        return None
    return LossSettings.build(["mrstft"], {"mrstft": params}, settings.device)


def evaluate(settings, opened, undefined):
    """(values, errors, per-channel values) of the pair: every loss of `settings`, and
    the MR-STFT of each channel of a multichannel pair, from one reading of its pieces.
    A silent reference channel is undefined there, as in the losses that divide by the
    reference's energy (`undefined` gets {line: why})."""
    jobs = [(evaluator_for(settings, opened.sample_rate), slice(None))]
    per_channel = channel_settings(settings) if opened.channels > 1 else None
    if per_channel is not None:
        evaluator = evaluator_for(per_channel, opened.sample_rate)
        jobs += [(evaluator, slice(c, c + 1)) for c in range(opened.channels)]
    results, silent = outcomes(opened, jobs, settings.device)
    values, errors = row_values(settings, results[0], silent, undefined)
    channel_values = {}
    for c, outcome in enumerate(results[1:]):
        line, label = f"mrstft[channel {c + 1}].loss", f"mrstft[channel {c + 1}]"
        value = outcome["mrstft"]
        if c in silent:
            why = (f"the reference is silent (all samples zero) in channel {c + 1}: its "
                   "spectral convergence divides by nothing")
            errors.append(f"{label}: undefined, {why}")
            undefined[line] = why
        elif isinstance(value, FastMixLossError):
            errors.append(f"{label}: {value}")
        elif math.isfinite(value.loss):
            channel_values[line] = float(value.loss)
        else:   # nothing above the magnitude floor, though not all zero
            why = undefined_reasons(value, "mrstft", ["mrstft.loss"])["mrstft.loss"]
            errors.append(f"{label}: undefined, {why}")
            undefined[line] = why
    return values, errors, channel_values


def run(args):
    settings = settings_from_args(args)
    size = check_arguments(args)
    pair = Pair(args.est, args.est, args.ref)
    # checks the parameters (and --device) first, at the files' sample rate
    with compiling_note(quiet=False):
        settings = settings.with_columns(sample_rate_of(pair))
    try:
        opened = OpenedPair(pair, settings.length_policy)
    except PairError as exc:
        raise CommandError(str(exc), NOT_COMPUTED) from None
    with opened:
        if args.plot:
            from .plot import smallest_size
            smallest = smallest_size(opened.channels, args.plot_view,
                                     _plot_resolutions(settings))
            if size[0] < smallest[0] or size[1] < smallest[1]:
                raise CommandError(
                    f"--plot-size {args.plot_size} is too small for the panels of this "
                    f"pair; give at least {smallest[0]}x{smallest[1]} (or --plot-view sd "
                    "or channels for fewer)")
        undefined = {}
        try:
            values, errors, per_channel = evaluate(settings, opened, undefined)
            # the picture needs the whole signals: only it reads them so
            signals = whole_signals(opened) if args.plot else None
        except PairError as exc:   # a piece could not be read
            raise CommandError(str(exc), NOT_COMPUTED) from None
    channels, samples, rate = opened.channels, opened.length, opened.sample_rate
    est_name, ref_name = stored_text(args.est), stored_text(args.ref)
    info = {"estimate": est_name, "reference": ref_name, "sample_rate": rate,
            "channels": channels, "samples": samples}
    if args.json:
        print(json.dumps({**info, "values": {**values, **per_channel},
                          "undefined": undefined, "errors": errors}, indent=2))
    else:
        print(f"estimate:  {est_name}\nreference: {ref_name}\n"
              f"           {rate} Hz, {channels} channel(s), {samples / rate:.2f} s\n")
        meaning = meanings(settings)
        # an undefined value keeps its line, saying so (the reason is printed below)
        lines = [*settings.columns,
                 *(f"mrstft[channel {c + 1}].loss" for c in range(channels))]
        shown = {**values, **per_channel}
        rows = [[c, shown.get(c, "undefined"), meaning.get(c, "")] for c in lines
                if (c in shown or c in undefined) and _shown(c, args.all)]
        print(table(["loss", "value", "meaning (lower is better)"], rows,
                    align=["<", ">", "<"], width=output_width()))
        for error in errors:
            print(f"not computed: {stored_text(error)}")
    if args.plot:
        from .plot import difference_plot
        resolutions = _plot_resolutions(settings)
        difference_plot(*signals, rate, resolutions, args.plot, size,
                        title=f"{est_name} vs {ref_name}", db_range=args.plot_range,
                        view=args.plot_view)
        if not args.json:
            print(f"\nplot: {stored_text(args.plot)}")
    return NOT_COMPUTED if errors else DONE


def _plot_resolutions(settings):
    """The MR-STFT (or S/D) resolutions in use; the library's defaults otherwise."""
    from fastmixloss.spectral import (DEFAULT_FFT_SIZES, DEFAULT_HOP_SIZES,
                                      DEFAULT_WIN_LENGTHS)
    params = dict(settings.losses)
    chosen = params.get("mrstft") or params.get("sd") or {}
    return list(zip(chosen.get("fft_sizes", DEFAULT_FFT_SIZES),
                    chosen.get("hop_sizes", DEFAULT_HOP_SIZES),
                    chosen.get("win_lengths", DEFAULT_WIN_LENGTHS)))
