"""Every option of the spectral losses, declared once: name, default, check, documentation.

The spectral faces (STFTLoss, MultiResolutionSTFTLoss, SumAndDifferenceSTFTLoss, their
function forms, MelSTFTLoss, ChromaSTFTLoss, RandomResolutionSTFTLoss) take these as
keyword arguments; `takes_options` gives each its signature (so `help()` and
`inspect.signature` list them with their defaults), the numpydoc lines of its docstring,
and the check of unknown keywords. `checked_options` turns the keywords into one frozen
`SpectralOptions`, each value checked alone; what depends on several options or on the
resolutions (a filterbank needs sample_rate, mel band edges, one n_bins per resolution)
is checked where the plan is built (plan.py).

A new option is one `Option(...)` line here, its stage in the kernels (one formula for
the CPU and CUDA) and its formula in reference.py; plan.py carries it to the kernels.
"""

import functools
import inspect
from dataclasses import dataclass, make_dataclass
from typing import Any, Callable, Optional, Sequence, Union

from . import filterbanks
from . import validation as check
from .backend import check_device


@dataclass(frozen=True)
class Option:
    name: str
    default: Any
    check: Callable        # (name, value) -> the checked, normalised value
    type: str              # numpydoc type line
    doc: str               # numpydoc description
    annotation: Any = float   # the signature's type annotation


def _n_bins(name, value):
    # an int or one per resolution; the count is checked against the resolutions in plan.py
    if isinstance(value, (list, tuple)):
        return tuple(check.positive_int(f"{name}[{i}]", n) for i, n in enumerate(value))
    return None if value is None else check.positive_int(name, value)


OPTIONS = (
    Option("w_sc", 1.0, check.weight, "float",
           "Weight (>= 0) of the spectral convergence ||X - X_est||_F / ||X||_F, over all "
           "of an item's channels and frames."),
    Option("w_log_mag", 1.0, check.weight, "float",
           "Weight (>= 0) of the log-magnitude distance, the mean over bins of "
           "|log X_est - log X| (L1) or its square (L2)."),
    Option("w_lin_mag", 0.0, check.weight, "float",
           "Weight (>= 0) of the linear-magnitude distance |X_est - X| (L1) or its square."),
    Option("mag_distance", "L1", check.distance, '{"L1", "L2"}',
           "The distance of the log and linear terms.", annotation=str),
    Option("eps", 1e-8, check.positive, "float",
           "Floor of the power: magnitude = sqrt(max(re**2 + im**2, eps))."),
    Option("reduction", "mean", lambda n, v: check.choice(n, v, check.REDUCTIONS),
           '{"mean", "sum", "none"}',
           'Over items; "none" gives a (B,) array, each value computed as if the item '
           "were alone.", annotation=str),
    Option("output", "loss", lambda n, v: check.choice(n, v, check.OUTPUTS),
           '{"loss", "full"}',
           '"full" returns a breakdown (results.py) with every term, weighted or not.',
           annotation=str),
    Option("compat", None, lambda n, v: check.choice(n, v, check.COMPAT_MODES),
           'None or "auraloss"',
           "Reproduce auraloss 0.4.0's numbers: spectral convergence over the whole "
           "batch, its float32 windows and filterbanks, (B, C, T) input only "
           "(docs/numerics.md).", annotation=Optional[str]),
    Option("check_finite", True, check.flag, "bool",
           "Scan the inputs for NaN and Inf first.", annotation=bool),
    Option("device", None, lambda n, v: check_device(v), 'None, "cpu" or "cuda"',
           "Where to compute. None: on the GPU when an input already lives there (CuPy, "
           "PyTorch CUDA, Numba device arrays), else on the CPU. The GPU takes "
           "power-of-two fft sizes only.", annotation=Optional[str]),
    Option("w_phs", 0.0, check.weight, "float",
           "Weight of the phase term: the mean over bins of (angle(X_est) - angle(X))**2, "
           "each angle in (-pi, pi] (auraloss's; the difference is not re-wrapped)."),
    Option("sample_rate", None, check.optional(check.positive), "float",
           "In Hz; needed by scale (1 kHz to 768 kHz) and perceptual_weighting (above "
           "2 kHz, up to 768 kHz).", annotation=Optional[float]),
    Option("scale", None, lambda n, v: check.choice(n, v, filterbanks.SCALES),
           'None, "mel" or "chroma"',
           "Apply a filterbank to the floored magnitudes of every frame before every "
           "term: librosa.filters.mel (Slaney scale and norm, fmin to fmax) or "
           "librosa.filters.chroma, with their defaults.", annotation=Optional[str]),
    Option("n_bins", None, _n_bins, "int or sequence of int",
           "Bands of the filterbank (default 128 mel, 12 chroma), or one per resolution.", annotation=Union[None, int, Sequence[int]]),
    Option("fmin", 0.0, check.non_negative, "float",
           "Lower edge of the mel bands in Hz (scale='mel' only)."),
    Option("fmax", None, check.optional(check.positive), "float",
           "Upper edge of the mel bands in Hz, default sample_rate / 2 (scale='mel' only).", annotation=Optional[float]),
    Option("perceptual_weighting", False, check.flag, "bool",
           "Filter both signals with auraloss's 101-tap A-weighting FIR first (zero "
           '"same" padding). Needs SciPy.', annotation=bool),
    Option("scale_invariance", False, check.flag, "bool",
           "Scale each row's (channel's) reference values by its optimal "
           "alpha = <X_est, X> / <X, X> before the terms (a first pass computes alpha).", annotation=bool),
    Option("log_eps", 0.0, check.non_negative, "float",
           "The log term compares log(log_fac * X + log_eps) (auraloss main)."),
    Option("log_fac", 1.0, check.positive, "float",
           "See log_eps; the defaults 0 and 1 give log X."),
)

BY_NAME = {option.name: option for option in OPTIONS}

# The options as one frozen value, a field per option (generated: nothing to keep in step).
SpectralOptions = make_dataclass(
    "SpectralOptions", [(o.name, Any, o.default) for o in OPTIONS], frozen=True,
    namespace={"__module__": __name__,
               "__doc__": "The spectral options of one loss, each checked (OPTIONS)."})


def checked_options(values):
    """SpectralOptions of a {name: value} dict (names already known), each checked."""
    return SpectralOptions(**{name: BY_NAME[name].check(name, value)
                              for name, value in values.items()})


def parameter_docs(options=OPTIONS):
    """The numpydoc lines of `options`, indented for a docstring's Parameters section."""
    lines = []
    for option in options:
        lines.append(f"    {option.name} : {option.type}, default {option.default!r}")
        lines.append(f"        {option.doc}")
    return "\n".join(lines)


def takes_options(function_name):
    """Decorator of a spectral face whose signature ends with `**options`: the options
    become keyword-only parameters of its signature, "{options}" in its docstring becomes
    their documentation, and an unknown keyword raises ParameterError naming
    `function_name` (with the hint for auraloss's spelling where there is one)."""
    def wrap(fn):
        signature = inspect.signature(fn)
        own = [p for p in signature.parameters.values() if p.kind != p.VAR_KEYWORD]
        generated = [inspect.Parameter(o.name, inspect.Parameter.KEYWORD_ONLY,
                                       default=o.default, annotation=o.annotation)
                     for o in OPTIONS
                     if o.name not in signature.parameters]
        known = frozenset(p.name for p in own + generated) - {"self"}

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            for keyword in kwargs:
                if keyword not in known:
                    raise check.unknown_keyword(function_name, keyword, known)
            return fn(*args, **kwargs)
        checked.__signature__ = signature.replace(parameters=own + generated)
        if fn.__doc__ and "{options}" in fn.__doc__:
            checked.__doc__ = fn.__doc__.replace("{options}", parameter_docs().lstrip())
        return checked
    return wrap
