"""The breakdowns returned with output="full".

Every number field is reduced as the loss is: a float for reduction "mean" or "sum", a
(B,) array for "none". `to_dict()` flattens a breakdown into "name.field" keys, the
form the command line writes as columns.

A value that is undefined is NaN, and `reasons` says why: it maps the to_dict() key of
each such value ("sc", "loss", "diff.fft1024_hop120_win600.sc", ...) to one line of text.
It is empty when every value is defined, and never part of to_dict().
"""

from dataclasses import dataclass, field, fields
from typing import Dict, Optional, Tuple, Union

import numpy as np

Value = Union[float, np.ndarray]


def _flatten(obj, prefix, out):
    for f in fields(obj):
        value = getattr(obj, f.name)
        if f.name == "resolutions":
            for res in value:
                _flatten(res, f"{prefix}{res.label}.", out)
        elif hasattr(value, "__dataclass_fields__"):
            _flatten(value, f"{prefix}{f.name}.", out)
        elif (f.name not in ("fft_size", "hop_size", "win_length", "reasons")
              and value is not None):
            out[prefix + f.name] = value
    return out


class _Flattened:
    def to_dict(self):
        """{"name.field": value} of every number field, resolutions by their label."""
        return _flatten(self, "", {})


@dataclass(frozen=True)
class STFTBreakdown(_Flattened):
    """One resolution: loss = w_sc*sc + w_log_mag*log_mag + w_lin_mag*lin_mag + w_phs*phs.

    With output="full" every term is computed, also those whose weight is zero.

    Attributes
    ----------
    loss, sc, log_mag, lin_mag : float or (B,) array
        The loss and its terms: spectral convergence, log and linear magnitude distances.
    fft_size, hop_size, win_length : int
        The resolution.
    phs : float, (B,) array or None
        The phase term, None unless it is weighted (w_phs > 0).
    reasons : dict
        to_dict() key -> why that value is NaN; empty when every value is defined.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.random.default_rng(0).standard_normal(8192)
    >>> part = fastmixloss.stft_loss(0.5 * ref, ref, output="full")
    >>> part.label, round(part.sc, 3), sorted(part.to_dict())
    ('fft1024_hop256_win1024', 0.5, ['lin_mag', 'log_mag', 'loss', 'sc'])
    """

    loss: Value
    sc: Value          # spectral convergence ||X - X_est||_F / ||X||_F
    log_mag: Value     # mean |ln X_est - ln X| (L1) or its square (L2)
    lin_mag: Value     # mean |X_est - X| (L1) or its square (L2)
    fft_size: int
    hop_size: int
    win_length: int
    phs: Optional[Value] = None   # mean squared angle difference; None unless w_phs > 0
    # to_dict() key -> why that value is NaN (a silent reference's sc, see the module)
    reasons: Dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def label(self):
        return f"fft{self.fft_size}_hop{self.hop_size}_win{self.win_length}"


@dataclass(frozen=True)
class MultiResolutionBreakdown(_Flattened):
    """The mean over resolutions of each field, and each resolution's own breakdown.

    Attributes
    ----------
    loss, sc, log_mag, lin_mag, phs, reasons
        As STFTBreakdown, each the mean over resolutions (a sum for the presets that
        sum).
    resolutions : tuple of STFTBreakdown
        Each resolution's own values; to_dict() keys them by their label.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> ref = np.random.default_rng(0).standard_normal(8192)
    >>> full = fastmixloss.mrstft_loss(0.5 * ref, ref, output="full")
    >>> [part.label for part in full.resolutions]
    ['fft1024_hop120_win600', 'fft2048_hop240_win1200', 'fft512_hop50_win240']
    >>> "fft512_hop50_win240.sc" in full.to_dict()
    True
    """

    loss: Value
    sc: Value
    log_mag: Value
    lin_mag: Value
    resolutions: Tuple[STFTBreakdown, ...]
    phs: Optional[Value] = None
    reasons: Dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class SumAndDifferenceBreakdown(_Flattened):
    """loss = w_sum * sum.loss + w_diff * diff.loss (halved with compat="auraloss").

    Attributes
    ----------
    loss : float or (B,) array
    sum, diff : MultiResolutionBreakdown
        The multi-resolution losses of the sum (L + R) and difference (L - R) signals.
    reasons : dict
        to_dict() key ("loss", "diff.sc", ...) -> why that value is NaN.

    Examples
    --------
    >>> import numpy as np, fastmixloss
    >>> left = np.random.default_rng(0).standard_normal(8192)
    >>> dual_mono = np.stack([left, left])        # no difference signal
    >>> full = fastmixloss.sum_and_difference_loss(dual_mono, dual_mono, output="full")
    >>> bool(np.isnan(full.loss)), full.sum.loss
    (True, 0.0)
    >>> full.reasons["diff.sc"]
    "undefined: the reference's difference signal (L - R) has no energy above the magnitude floor (eps=1e-08)"
    """

    loss: Value
    sum: MultiResolutionBreakdown    # MR-STFT of L + R
    diff: MultiResolutionBreakdown   # MR-STFT of L - R
    reasons: Dict[str, str] = field(default_factory=dict, compare=False)


def undefined_reason(reference_name, eps, items=None):
    """One line: why the spectral convergence of `reference_name` is NaN; `items`, when
    given, names the items (indices into the batch)."""
    where = ""
    if items is not None:
        listed = ", ".join(str(int(i)) for i in items[:10])
        more = f" and {len(items) - 10} more" if len(items) > 10 else ""
        where = f" for item{'s' if len(items) > 1 else ''} {listed}{more}"
    return (f"undefined{where}: {reference_name} has no energy above the magnitude "
            f"floor (eps={eps:g})")


def resolution_reasons(parts):
    """The reasons of a value combined over resolutions (STFTBreakdown parts): its
    "loss" and "sc" are undefined where any resolution's are, and each resolution's own
    keys come under its label."""
    reasons = {}
    for key in ("loss", "sc"):
        texts = dict.fromkeys(p.reasons[key] for p in parts if key in p.reasons)
        if texts:
            reasons[key] = "; ".join(texts)
    for part in parts:
        reasons.update({f"{part.label}.{key}": text for key, text in part.reasons.items()})
    return reasons
