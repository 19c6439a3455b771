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

import json
import os

from fastmixloss.errors import ParameterError

from .losses import DEFAULT_LOSSES, LOSS_FUNCTIONS, SPECTRAL, LossSettings, check_loss_names

_ALL = tuple(LOSS_FUNCTIONS)
_LOSSES = tuple(n for n in LOSS_FUNCTIONS if n != "features")   # take compat

# flag dest -> (library parameter, losses it applies to)
FLAG_PARAMETERS = {
    "fft_sizes": ("fft_sizes", ("mrstft", "sd")),
    "hop_sizes": ("hop_sizes", ("mrstft", "sd")),
    "win_lengths": ("win_lengths", ("mrstft", "sd")),
    "fft_size": ("fft_size", ("stft",)),
    "hop_size": ("hop_size", ("stft",)),
    "win_length": ("win_length", ("stft",)),
    "window": ("window", SPECTRAL),
    "w_sc": ("w_sc", SPECTRAL),
    "w_log_mag": ("w_log_mag", SPECTRAL),
    "w_lin_mag": ("w_lin_mag", SPECTRAL),
    "mag_distance": ("mag_distance", SPECTRAL),
    "w_sum": ("w_sum", ("sd",)),
    "w_diff": ("w_diff", ("sd",)),
    "compat": ("compat", _LOSSES),
    "features_profile": ("profile", ("features",)),
}


def int_list(text):
    """'1024,2048,512' -> (1024, 2048, 512), for argparse."""
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a comma-separated list of integers") from None
    if not values:
        raise ValueError("an empty list")
    return values


def read_config(path):
    """The config file as a dict: {"losses": [...]?, "length_policy": ...?, loss: {...}}."""
    ext = os.path.splitext(path)[1].lower()
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise ParameterError(f"--config {path}: {exc.strerror}") from None
    if ext == ".toml":
        try:
            import tomllib
        except ImportError:   # Python 3.10
            try:
                import tomli as tomllib
            except ImportError:
                raise ParameterError(
                    f"--config {path}: reading TOML needs Python 3.11 or the tomli "
                    "package; or write the same settings as JSON") from None
        try:
            config = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ParameterError(f"--config {path}: not valid TOML: {exc}") from None
    elif ext == ".json":
        try:
            config = json.loads(raw)
        except ValueError as exc:
            raise ParameterError(f"--config {path}: not valid JSON: {exc}") from None
    else:
        raise ParameterError(f"--config {path}: name it .toml or .json")
    if not isinstance(config, dict):
        raise ParameterError(f"--config {path}: expected a table of settings at the top")
    for key, value in config.items():
        if key == "losses":
            if not isinstance(value, list):
                raise ParameterError(f"--config {path}: losses must be a list of names")
            check_loss_names(value, source=f"--config {path}: losses")
        elif key == "length_policy":
            continue
        elif key in LOSS_FUNCTIONS:
            if not isinstance(value, dict):
                raise ParameterError(f"--config {path}: {key} must be a table of "
                                     "parameters")
        else:
            raise ParameterError(
                f"--config {path}: unknown setting {key!r}; expected losses, "
                f"length_policy, or a table named after a loss ({', '.join(_ALL)})")
    return config


def settings_from_args(args, losses_default=DEFAULT_LOSSES):
    """LossSettings from the parsed arguments: --losses, --config, the parameter flags,
    --device and --length-policy."""
    config = read_config(args.config) if getattr(args, "config", None) else {}
    if getattr(args, "losses", None):
        names = [n.strip() for n in args.losses.split(",") if n.strip()]
        check_loss_names(names)
    else:
        names = list(config.get("losses", losses_default))
    params = {name: dict(config.get(name, {})) for name in names}
    for dest, (parameter, applies_to) in FLAG_PARAMETERS.items():
        value = getattr(args, dest, None)
        if value is None:
            continue
        targets = [n for n in names if n in applies_to]
        if not targets:
            flag = "--" + dest.replace("_", "-")
            raise ParameterError(
                f"{flag} applies to {', '.join(applies_to)}, none of which is among the "
                f"losses ({', '.join(names)})")
        for name in targets:
            params[name][parameter] = value
    policy = args.length_policy or config.get("length_policy", "error")
    if policy not in ("error", "trim", "pad"):
        raise ParameterError(f"length_policy={policy!r} must be 'error', 'trim' or 'pad'")
    return LossSettings.build(names, params, device=args.device, length_policy=policy)
