"""Loss parameters from a small config file (TOML or JSON) and from command-line flags.

A config file names the losses and gives each its parameters, by the library's keyword
names:

    losses = ["mse", "sisdr", "mrstft", "sd"]
    length_policy = "trim"

    [mrstft]
    fft_sizes = [512, 1024, 2048]
    hop_sizes = [128, 256, 512]
    win_lengths = [512, 1024, 2048]

    [sd]
    w_sum = 1.0
    w_diff = 0.5

Flags override the file; the file overrides the library's defaults.
"""

import argparse
import json
import os
import re
from dataclasses import dataclass

from fastmixloss.evaluation.losses import DEFAULT_LOSSES, LOSSES
from fastmixloss.presets import PRESETS

from .errors import CommandError
from .losses import NAMES, SPECTRAL, LossSettings, check_names

_ALL = NAMES
_LOSSES = tuple(n for n in LOSSES if LOSSES[n].kind != "features")   # take compat


def int_list(text):
    """'1024,2048,512' -> (1024, 2048, 512), for argparse."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers") from None
    if not values:
        raise argparse.ArgumentTypeError("an empty list")
    return values


def device_name(text):
    """'cpu', 'cuda' or 'cuda:N', for argparse (the library's check_device says which)."""
    from fastmixloss.backend import check_device
    from fastmixloss.errors import ParameterError
    try:
        check_device(text)
    except ParameterError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a device: cpu, cuda or cuda:N (e.g. cuda:1)") from None
    return text


_BYTE_SIZE = re.compile(r"(\d+(?:\.\d*)?)\s*(?:([KMG])(?:I?B)?|B)?", re.IGNORECASE)


def byte_size(text):
    """'64M' -> 67108864, for argparse: bytes, or KiB, MiB, GiB with K, M or G (64MB,
    64MiB and 64m too)."""
    match = _BYTE_SIZE.fullmatch(text.strip())
    size = (int(float(match[1]) * 1024 ** " KMG".index((match[2] or " ").upper()))
            if match else 0)
    if size < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size: bytes, or a number with K, M or G (e.g. 64M)")
    return size


@dataclass(frozen=True)
class LossFlag:
    """A flag that sets one library parameter of every chosen loss that takes it."""

    parameter: str        # the library's keyword
    applies_to: tuple     # the losses that take it
    help: str
    type: object = None   # argparse's: None keeps the text
    metavar: str = None
    choices: tuple = None


_SIZES = ("mrstft", "sd")
LOSS_FLAGS = {
    "--fft-sizes": LossFlag("fft_sizes", _SIZES, "mrstft and sd resolutions (default "
                            "1024,2048,512)", int_list, "N,N,.."),
    "--hop-sizes": LossFlag("hop_sizes", _SIZES, "default 120,240,50", int_list, "N,N,.."),
    "--win-lengths": LossFlag("win_lengths", _SIZES, "default 600,1200,240", int_list,
                              "N,N,.."),
    "--fft-size": LossFlag("fft_size", ("stft",), "stft (default 1024)", int, "N"),
    "--hop-size": LossFlag("hop_size", ("stft",), "stft (default 256)", int, "N"),
    "--win-length": LossFlag("win_length", ("stft",), "stft (default fft size)", int, "N"),
    "--window": LossFlag("window", SPECTRAL, "hann (default), hamming, blackman, ..."),
    "--w-sc": LossFlag("w_sc", SPECTRAL, "spectral convergence weight (default 1)", float,
                       "W"),
    "--w-log-mag": LossFlag("w_log_mag", SPECTRAL, "log-magnitude weight (default 1)",
                            float, "W"),
    "--w-lin-mag": LossFlag("w_lin_mag", SPECTRAL, "linear-magnitude weight (default 0)",
                            float, "W"),
    "--mag-distance": LossFlag("mag_distance", SPECTRAL, "distance of the magnitude terms "
                               "(default L1)", choices=("L1", "L2")),
    "--w-sum": LossFlag("w_sum", ("sd",), "sd: weight of L+R (default 1)", float, "W"),
    "--w-diff": LossFlag("w_diff", ("sd",), "sd: weight of L-R (default 1)", float, "W"),
    "--compat": LossFlag("compat", _LOSSES, "reproduce auraloss 0.4.0's numbers (halved "
                         "S/D) (default: fastmixloss's own definitions)",
                         choices=("auraloss",)),
    "--features-profile": LossFlag("profile", ("features",), "features: default (the "
                                   "toolkit's features, failures fixed), automix-toolkit "
                                   "(its numbers exactly), fxnorm or diffmst (Diff-MST's "
                                   "AudioFeatureLoss terms)",
                                   choices=("default", "automix-toolkit", "fxnorm",
                                            "diffmst")),
}


def _dest(flag):
    return flag[2:].replace("-", "_")


def add_loss_arguments(parser):
    """The flags of `compare` and `score` that choose the losses and their parameters."""
    group = parser.add_argument_group(
        "losses and their parameters",
        "Flags apply to every chosen loss that takes the parameter; they override "
        "--config, which overrides the library's defaults.")
    group.add_argument("--losses", metavar="NAMES",
                       help=f"comma-separated (default {','.join(DEFAULT_LOSSES)}); "
                            f"choose from {', '.join(LOSSES)}; or other projects' "
                            f"spectral losses, at the files' sample rate: "
                            f"{', '.join(PRESETS)}")
    group.add_argument("--config", metavar="FILE",
                       help="TOML or JSON file: losses = [...], length_policy, and a table "
                            "of parameters per loss, e.g. [mrstft] fft_sizes = [512, 1024] "
                            "(default: none, the library's defaults)")
    for flag, spec in LOSS_FLAGS.items():
        group.add_argument(flag, type=spec.type, metavar=spec.metavar,
                           choices=spec.choices, help=spec.help)
    group.add_argument("--length-policy", choices=("error", "trim", "pad"),
                       help="when the two files' lengths differ: an error (default), trim "
                            "both to the shorter, or zero-pad to the longer")
    group.add_argument("--device", type=device_name, metavar="DEVICE",
                       help="where the losses run: cpu, cuda (Numba's current GPU) or "
                            "cuda:N (GPU N, as CUDA numbers them) (default: cpu)")


def read_config(path):
    """The config file as a dict: {"losses": [...]?, "length_policy": ...?, loss: {...}}."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise CommandError(f"--config {path}: {exc.strerror}") from None
    if ext == ".toml":
        try:
            import tomllib
        except ImportError:   # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise CommandError(
                    f"--config {path}: reading TOML needs Python 3.11 or the tomli "
                    "package; or write the same settings as JSON") from None
        try:
            config = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise CommandError(f"--config {path}: not valid TOML: {exc}") from None
    elif ext == ".json":
        try:
            config = json.loads(raw)
        except ValueError as exc:
            raise CommandError(f"--config {path}: not valid JSON: {exc}") from None
    else:
        raise CommandError(f"--config {path}: name it .toml or .json")
    if not isinstance(config, dict):
        raise CommandError(f"--config {path}: expected a table of settings at the top")
    for key, value in config.items():
        if key == "losses":
            if not isinstance(value, list):
                raise CommandError(f"--config {path}: losses must be a list of names")
            check_names(value, source=f"--config {path}: losses")
        elif key == "length_policy":
            continue
        elif key in NAMES:
            if not isinstance(value, dict):
                raise CommandError(f"--config {path}: {key} must be a table of "
                                     "parameters")
        else:
            raise CommandError(
                f"--config {path}: unknown setting {key!r}; expected losses, "
                f"length_policy, or a table named after a loss ({', '.join(_ALL)})")
    return config


def settings_from_args(args, losses_default=DEFAULT_LOSSES):
    """LossSettings from the parsed arguments: --losses, --config, the parameter flags,
    --device and --length-policy."""
    config = read_config(args.config) if getattr(args, "config", None) else {}
    if getattr(args, "losses", None):
        names = [n.strip() for n in args.losses.split(",") if n.strip()]
        check_names(names, source="--losses")
    else:
        names = list(config.get("losses", losses_default))
    params = {name: dict(config.get(name, {})) for name in names}
    for flag, spec in LOSS_FLAGS.items():
        value = getattr(args, _dest(flag), None)
        if value is None:
            continue
        targets = [n for n in names if n in spec.applies_to]
        if not targets:
            raise CommandError(
                f"{flag} applies to {', '.join(spec.applies_to)}, none of which is among "
                f"the losses ({', '.join(names)})")
        for name in targets:
            params[name][spec.parameter] = value
    policy = args.length_policy or config.get("length_policy", "error")
    if policy not in ("error", "trim", "pad"):
        raise CommandError(f"length_policy={policy!r} must be 'error', 'trim' or 'pad'")
    return LossSettings.build(names, params, device=args.device, length_policy=policy)
