"""Time-domain losses: MSE and the auraloss family (L1, ESR, DC, log-cosh, SNR, SI-SDR,
SD-SDR).

Each is computed per channel of each item from one pass over both signals (see
kernels/time.py), then averaged over the item's channels. SNR, SI-SDR and SD-SDR are
returned negated, in dB, so that lower is better for every loss, as in auraloss.
"""

import inspect
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from . import backend as backends
from . import validation as check
from .errors import ParameterError
from .kernels import layout
from .kernels.layout import (SHIFT_D, SHIFT_Y, SUM_ABS_D, SUM_D, SUM_DD, SUM_DY, SUM_Y,
                             SUM_YY)


# The one-pass sums give each energy as a sum of larger terms. Their rounding error is
# taken as at most 1e-12 of the terms' magnitude; where a quantity is smaller than
# CANCELLATION times that magnitude it would keep fewer than 10 digits, and the row is
# recomputed from its own means (the backend's exact_energies).
CANCELLATION = 1e-2

# Rows whose squares overflow float64 are recomputed scaled by a power of two that brings
# their largest sample to about 2**RESCALED_EXPONENT: the squares then fit, and eps stays
# as negligible as it was at the original scale (it is scaled with them).
RESCALED_EXPONENT = 100


class _Sums:
    """Per-row energies from the kernel's shifted sums (all float64 arrays of shape (N,)),
    each with the magnitude of the terms it was computed from (`*_bound`)."""

    def __init__(self, totals, shifts, length):
        k_y = shifts[:, SHIFT_Y]
        k_d = shifts[:, SHIFT_D]
        s_y, s_yy = totals[:, SUM_Y], totals[:, SUM_YY]
        s_d, s_dd, s_dy = totals[:, SUM_D], totals[:, SUM_DD], totals[:, SUM_DY]
        self.length = length
        self.abs_d = totals[:, SUM_ABS_D]
        with np.errstate(all="ignore"):   # huge input overflows here; the caller checks
            # raw sums of d = est - ref and y = ref
            self.d = s_d + length * k_d
            self.d_bound = np.abs(s_d) + length * np.abs(k_d)
            self.dd = s_dd + 2 * k_d * s_d + length * k_d * k_d
            self.dd_bound = s_dd + 2 * np.abs(k_d * s_d) + length * k_d * k_d
            self.yy = s_yy + 2 * k_y * s_y + length * k_y * k_y
            self.yy_bound = s_yy + 2 * np.abs(k_y * s_y) + length * k_y * k_y
            self.dy = s_dy + k_y * s_d + k_d * s_y + length * k_d * k_y
            self.dy_bound = (np.abs(s_dy) + np.abs(k_y * s_d) + np.abs(k_d * s_y)
                             + length * np.abs(k_d * k_y))
            # the same with each signal's mean removed
            self.dd_centred = s_dd - s_d * s_d / length
            self.yy_centred = s_yy - s_y * s_y / length
            self.dy_centred = s_dy - s_d * s_y / length
            self.dy_centred_bound = np.abs(s_dy) + np.abs(s_d * s_y) / length
        self.dd_centred_bound = s_dd
        self.yy_centred_bound = s_yy


def _negated_db(num, den, eps, log_gain=None):
    """-10 log10(num / (den + eps) + eps). Where `log_gain` (per row) is not zero, num and
    den were computed scaled down by exp(-log_gain) and the formula runs in the log
    domain, so a ratio beyond float64's range still gives its finite dB value."""
    values = -10.0 * np.log10(num / (den + eps) + eps)
    if log_gain is not None and np.any(log_gain):
        rows = log_gain != 0
        ln_eps = np.log(eps)
        ln_ratio = (np.log(num[rows]) + log_gain[rows]
                    - np.logaddexp(np.log(den[rows]) + log_gain[rows], ln_eps))
        values[rows] = -10.0 / np.log(10.0) * np.logaddexp(ln_ratio, ln_eps)
    return values


def _mean_log_cosh(d, a, eps):
    """mean of ln(cosh(a*d) + eps) / a over the last axis, in NumPy, without forming a*d
    where it would overflow (the kernel's formula, rearranged; for rows the kernel
    cannot sum in range)."""
    d = np.abs(d)
    n = d.shape[-1]
    small = d < 20.0 / a
    with np.errstate(all="ignore"):
        near = np.log(np.cosh(a * np.where(small, d, 0.0)) + eps) / a
        far = d - (np.log(2.0) - np.log1p(np.exp(-2.0 * a * np.where(small, 0.0, d)))) / a
    return np.sum(np.where(small, near, far) / n, axis=-1)


def _rows(signal3):
    """The (N, T) rows, one per channel of each item, of a (B, C, T) signal."""
    return signal3.reshape(-1, signal3.shape[-1])


class _TimeLoss:
    """Common call path: validate, one kernel pass, per-row values, reduce."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # an unknown keyword names the class the user called, not _TimeLoss.__init__
        known = {name for name, p in inspect.signature(cls).parameters.items()
                 if p.kind != p.VAR_KEYWORD}
        known |= set(inspect.signature(_TimeLoss).parameters)
        cls.__init__ = check.keywords_checked(f"fastmixloss.{cls.__name__}", known)(
            cls.__init__)

    def __init__(self, *, reduction="mean", compat=None, check_finite=True, device=None):
        self.reduction = check.choice("reduction", reduction, check.REDUCTIONS)
        self.compat = check.choice("compat", compat, check.COMPAT_MODES)
        self.check_finite = check.flag("check_finite", check_finite)
        self.device = backends.check_device(device)

    @check.keywords_checked("loss(est, ref)", {"est", "ref"})
    def __call__(self, est, ref):
        backend = backends.select(self.device, est, ref)
        est3, ref3, ndim = backend.as_signal_pair(est, ref,
                                                  require_batch=self.compat == "auraloss")
        check.check_layout(est3.shape, ndim)
        n_items, n_channels, _ = est3.shape
        per_row = self._per_row(backend, est3, ref3)
        return self._reduce(per_row.reshape(n_items, n_channels))

    def _per_row(self, backend, est3, ref3):
        """(N,) values from the sums of the kernel pass."""
        sums = _Sums(*backend.time_sums(_rows(est3), _rows(ref3)), est3.shape[-1])
        return self._checked(backend, est3, ref3, self._from_sums(sums))

    def _checked(self, backend, est3, ref3, values):
        """values, once every row that came out non-finite is explained: by a NaN or Inf
        in its input (ParameterError with check_finite), else by an overflow (always a
        ParameterError)."""
        bad_input = self._nonfinite_input(backend, est3, ref3, ~np.isfinite(values))
        overflowed = ~np.isfinite(values) & ~bad_input
        if overflowed.any():
            self._refuse_huge(backend, est3, ref3, overflowed)
        return values

    def _nonfinite_input(self, backend, est3, ref3, suspects):
        """Of the rows in the mask `suspects` (sums or values came out non-finite), those
        whose input holds a NaN or Inf. A NaN or Inf sample makes its row's sums
        non-finite, so one pass both computes and checks: only suspects are scanned.
        With check_finite, such a row raises ParameterError naming the sample."""
        rows = np.flatnonzero(suspects)
        found = np.zeros(suspects.shape, dtype=bool)
        if rows.size == 0:
            return found
        if self.check_finite:
            backend.raise_if_nonfinite(est3, ref3, rows=rows)
            return found
        for signal3 in (est3, ref3):
            host = backend.host_rows(_rows(signal3), rows)
            found[rows] |= ~np.isfinite(host).all(axis=1)
        return found

    def _refuse_huge(self, backend, est3, ref3, overflowed):
        row = int(np.flatnonzero(overflowed)[0])
        item, channel = divmod(row, est3.shape[1])
        peak = max(float(np.abs(backend.host_rows(_rows(x), [row])).max())
                   for x in (est3, ref3))
        raise ParameterError(
            f"{type(self).__name__}: item {item}, channel {channel} holds samples up to "
            f"{peak:.3g}, whose squares or sums overflow float64 (about 1.8e308): this "
            f"loss's value cannot be represented. Scale both signals down (the "
            f"scale-invariant esr, dc, snr, sisdr and sdsdr compute at any finite scale)")

    def _reduce(self, values):
        """values: (B, C). Per item: mean over channels. auraloss keeps (B, C) instead.
        A NaN (an undefined channel) propagates to its item and to the mean or sum."""
        if self.compat == "auraloss":
            if self.reduction == "none":
                return values
            return float(values.mean() if self.reduction == "mean" else values.sum())
        per_item = values.mean(axis=1)
        if self.reduction == "none":
            return per_item
        return float(per_item.mean() if self.reduction == "mean" else per_item.sum())

    def __repr__(self):
        return f"{type(self).__name__}(reduction={self.reduction!r})"


class _DifferenceLoss(_TimeLoss):
    """Losses of est - ref alone: a lighter pass with two sums, where the backend has one
    (W5: the six shifted sums cost more than reading the inputs)."""

    def _per_row(self, backend, est3, ref3):
        if not hasattr(backend, "difference_sums"):
            return super()._per_row(backend, est3, ref3)
        sums = backend.difference_sums(_rows(est3), _rows(ref3))
        values = self._from_differences(sums[:, 0], sums[:, 1], est3.shape[-1])
        return self._checked(backend, est3, ref3, values)

    def _from_sums(self, s):
        return self._from_differences(s.dd, s.abs_d, s.length)


class MSELoss(_DifferenceLoss):
    """Mean over channels and samples of (est - ref)**2."""

    @staticmethod
    def _from_differences(squares, absolute, length):
        return squares / length


class L1Loss(_DifferenceLoss):
    """Mean over channels and samples of |est - ref|."""

    @staticmethod
    def _from_differences(squares, absolute, length):
        return absolute / length


class LogCoshLoss(_TimeLoss):
    """(1/a) * ln(cosh(a * (est - ref)) + eps), mean over samples and channels."""

    def __init__(self, a=1.0, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.a = check.finite_float("a", a, strictly_positive=True)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _per_row(self, backend, est3, ref3):
        length = est3.shape[-1]
        totals = backend.log_cosh_sums(_rows(est3), _rows(ref3), self.a, self.eps)
        values = totals / self.a / length   # not / (a * length), which overflows for huge a
        bad_input = self._nonfinite_input(backend, est3, ref3, ~np.isfinite(values))
        overflowed = np.flatnonzero(~np.isfinite(values) & ~bad_input)
        if overflowed.size:   # a * (est - ref) or the sum left float64's range
            diff = (backend.host_rows(_rows(est3), overflowed).astype(np.float64)
                    - backend.host_rows(_rows(ref3), overflowed))
            values[overflowed] = _mean_log_cosh(diff, self.a, self.eps)
            if not np.isfinite(values[overflowed]).all():
                self._refuse_huge(backend, est3, ref3, ~np.isfinite(values) & ~bad_input)
        return values


class _EnergyLoss(_TimeLoss):
    """Losses that are ratios of a row's energies (ESR, DC, SNR, SI-SDR, SD-SDR).

    Each is undefined where the reference channel's energy (about its mean when centred)
    is zero: NaN there, except with compat="auraloss", which keeps auraloss's eps-floored
    value. Rows where the one-pass formulas cancel, or whose squares overflow, are
    recomputed from their own means (scaled, for the overflow); the ratios do not depend
    on the scale, so any finite input gives its value.
    """

    centred = False
    uses = ("dd", "yy")      # the energies _from_energies reads
    needs_residual = False   # SI-SDR's |est - alpha*ref|^2

    def __init__(self, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _one_pass(self, s):
        """Energies {dd, yy, ey, d} from the sums, and the mask of rows they leave
        uncertain (cancellation) or undecided (a reference energy that may be zero)."""
        if self.centred:
            dd, yy, dy = s.dd_centred, s.yy_centred, s.dy_centred
            dd_b, yy_b, dy_b = s.dd_centred_bound, s.yy_centred_bound, s.dy_centred_bound
        else:
            dd, yy, dy = s.dd, s.yy, s.dy
            dd_b, yy_b, dy_b = s.dd_bound, s.yy_bound, s.dy_bound
        with np.errstate(all="ignore"):
            energies = {"dd": dd, "yy": yy, "ey": dy + yy, "d": s.d}
            # a zero reference energy is decided by the exact pass, never by rounding
            uncertain = yy <= CANCELLATION * yy_b
            if "dd" in self.uses:
                uncertain |= dd < CANCELLATION * dd_b
            if "ey" in self.uses:
                uncertain |= np.abs(energies["ey"]) < CANCELLATION * (dy_b + yy_b)
            if "d" in self.uses:
                uncertain |= np.abs(s.d) < CANCELLATION * s.d_bound
            if self.needs_residual:
                alpha = energies["ey"] / (yy + self.eps)
                # |est - alpha*ref|^2 = |d + (1 - alpha) ref|^2: exact while it does not
                # cancel, which it does for a scaled copy of ref (then recomputed)
                residual = dd + 2 * (1 - alpha) * dy + (1 - alpha) ** 2 * yy
                residual_bound = (dd_b + 2 * np.abs((1 - alpha) * dy_b)
                                  + (1 - alpha) ** 2 * yy_b)
                uncertain |= residual < CANCELLATION * residual_bound
                energies["residual"] = residual
        return energies, uncertain

    def _per_row(self, backend, est3, ref3):
        length = est3.shape[-1]
        rows_e, rows_r = _rows(est3), _rows(ref3)
        totals, shifts = backend.time_sums(rows_e, rows_r)
        energies, uncertain = self._one_pass(_Sums(totals, shifts, length))
        suspects = ~np.isfinite(totals).all(axis=1)
        for name in self.uses:
            suspects |= ~np.isfinite(energies[name])
        bad_input = self._nonfinite_input(backend, est3, ref3, suspects)
        overflowed = suspects & ~bad_input
        energies["eps"] = np.full(len(totals), self.eps)
        energies["log_gain"] = np.zeros(len(totals))
        silent = np.zeros(len(totals), dtype=bool)
        redo = np.flatnonzero((uncertain | overflowed) & ~bad_input)
        if redo.size:
            silent[redo] = self._recompute(backend, energies, redo, rows_e, rows_r,
                                           overflowed)
        with np.errstate(all="ignore"):
            values = self._from_energies(energies, length)
        if self.compat != "auraloss":
            values[silent] = np.nan
        return values

    def _recompute(self, backend, energies, rows, rows_e, rows_r, overflowed):
        """Replace the energies of `rows` by the backend's exact_energies; returns their
        silent mask. Overflowed rows are computed scaled (see RESCALED_EXPONENT)."""
        scales = np.ones(rows.size)
        rescaled = np.flatnonzero(overflowed[rows])
        if rescaled.size:
            peaks = np.maximum(*(np.abs(backend.host_rows(x, rows[rescaled])).max(axis=1)
                                 for x in (rows_e, rows_r)))
            scales[rescaled] = np.ldexp(1.0, RESCALED_EXPONENT - np.frexp(peaks)[1])
        eps = self.eps * scales * scales
        exact = backend.exact_energies(rows_e, rows_r, rows, scales, self.centred, eps,
                                       self.needs_residual)
        energies["dd"][rows] = exact[:, layout.EXACT_DD]
        energies["yy"][rows] = exact[:, layout.EXACT_YY]
        energies["ey"][rows] = exact[:, layout.EXACT_EY]
        energies["d"][rows] = exact[:, layout.EXACT_D]
        energies["eps"][rows] = eps
        energies["log_gain"][rows] = -2.0 * np.log(scales)
        if self.needs_residual:
            energies["residual"][rows] = exact[:, layout.EXACT_RESIDUAL]
        y_min, y_max = exact[:, layout.EXACT_Y_MIN], exact[:, layout.EXACT_Y_MAX]
        # zero energy: a constant reference when centred, an all-zero one otherwise
        return (y_min == y_max) if self.centred else ((y_min == 0) & (y_max == 0))


class ESRLoss(_EnergyLoss):
    """Error-to-signal ratio: sum((ref - est)**2) / (sum(ref**2) + eps), per channel.
    NaN for a channel whose reference is all zeros (compat="auraloss": dd / eps)."""

    def _from_energies(self, e, length):
        return e["dd"] / (e["yy"] + e["eps"])


class DCLoss(_EnergyLoss):
    """DC error: mean(ref - est)**2 / (mean(ref**2) + eps), per channel.
    NaN for a channel whose reference is all zeros (compat="auraloss": eps-floored)."""

    uses = ("d", "yy")

    def _from_energies(self, e, length):
        return (e["d"] / length) ** 2 / (e["yy"] / length + e["eps"])


class _RatioLoss(_EnergyLoss):
    def __init__(self, zero_mean=True, eps=1e-8, **kwargs):
        super().__init__(eps=eps, **kwargs)
        self.zero_mean = check.flag("zero_mean", zero_mean)

    @property
    def centred(self):
        return self.zero_mean

    @staticmethod
    def _alpha(e):
        """alpha = <est, ref> / (|ref|^2 + eps)."""
        return e["ey"] / (e["yy"] + e["eps"])


class SNRLoss(_RatioLoss):
    """Negated SNR in dB: -10 log10(|ref|^2 / (|est - ref|^2 + eps) + eps).
    NaN for a channel whose reference has zero energy (about its mean with zero_mean)."""

    def _from_energies(self, e, length):
        return _negated_db(e["yy"], e["dd"], self.eps, e["log_gain"])


class SISDRLoss(_RatioLoss):
    """Negated scale-invariant SDR in dB, with alpha*ref as the target.
    NaN for a channel whose reference has zero energy (about its mean with zero_mean)."""

    uses = ("yy", "ey", "residual")
    needs_residual = True

    def _from_energies(self, e, length):
        alpha = self._alpha(e)
        return _negated_db(alpha * alpha * e["yy"], e["residual"], self.eps, e["log_gain"])


class SDSDRLoss(_RatioLoss):
    """Negated scale-dependent SDR in dB: target alpha*ref, residual est - ref unscaled.
    NaN for a channel whose reference has zero energy (about its mean with zero_mean)."""

    uses = ("dd", "yy", "ey")

    def _from_energies(self, e, length):
        alpha = self._alpha(e)
        return _negated_db(alpha * alpha * e["yy"], e["dd"], self.eps, e["log_gain"])


# The parameters of the time-domain losses: (annotation, numpydoc lines), declared once for
# the classes' and the functions' documentation and signatures.
_PARAMETERS = {
    "a": (float, "a : float, default 1.0\n    Sharpness of log-cosh (> 0)."),
    "eps": (float, "eps : float, default 1e-8\n    Added to denominators (>= 0)."),
    "zero_mean": (bool, "zero_mean : bool, default True\n"
                        "    Remove each channel's mean from both signals first."),
    "reduction": (str, 'reduction : {"mean", "sum", "none"}, default "mean"\n'
                       '    Over items; "none" gives one value per item, (B,) (with '
                       'compat="auraloss":\n    (B, C), per channel, as auraloss).'),
    "compat": (Optional[str], 'compat : None or "auraloss"\n'
                              "    Reproduce auraloss 0.4.0: (B, C, T) input only, its "
                              "eps-floored value\n    where a reference is silent."),
    "check_finite": (bool, "check_finite : bool, default True\n"
                           "    Scan the inputs for NaN and Inf first."),
    "device": (Optional[str], 'device : None, "cpu" or "cuda"\n'
                              "    Where to compute; None: on the GPU when an input "
                              "already lives there."),
}
_SIGNALS = ("est, ref : array_like\n    (T,), (C, T) or (B, C, T), float32 or float64, "
            "the same shape.")
_RETURNS = ("float or ndarray\n    The loss (reduction \"mean\" or \"sum\"), or one value "
            "per item (\"none\").")
_EXAMPLE_SIGNALS = """    >>> import numpy as np, fastmixloss
    >>> t = np.arange(44100) / 44100
    >>> ref = np.sin(2 * np.pi * 440 * t)                 # 440 whole periods
    >>> noisy = ref + 0.1 * np.cos(2 * np.pi * 440 * t)   # an error orthogonal to ref"""
# per loss: (function name, example call, its printed value)
_EXAMPLES = {
    MSELoss: ("mse", "round({}(noisy, ref), 6)", "0.005"),
    L1Loss: ("l1", "round({}(noisy, ref), 4)", "0.0637"),
    ESRLoss: ("esr", "round({}(noisy, ref), 6)", "0.01"),
    DCLoss: ("dc", "round({}(noisy + 0.1, ref), 6)", "0.02"),
    LogCoshLoss: ("logcosh", "round({}(noisy, ref), 4)", "0.0025"),
    SNRLoss: ("snr", "round({}(noisy, ref), 3)", "-20.0"),
    SISDRLoss: ("sisdr", "round({}(noisy, ref), 3)", "-20.0"),
    SDSDRLoss: ("sdsdr", "round({}(noisy, ref), 3)", "-20.0"),
}


def _indented(text):
    return "\n".join("    " + line for line in text.split("\n"))


def _parameters_of(cls):
    """The names of cls's own parameters, then the common ones."""
    own = [name for name, p in inspect.signature(cls).parameters.items()
           if p.kind != p.VAR_KEYWORD and name in _PARAMETERS]
    return own + [name for name in inspect.signature(_TimeLoss).parameters
                  if name not in own]


def _numpydoc(summary, names, call, *, signals=False):
    parameter_lines = "\n".join(_PARAMETERS[name][1] for name in names)
    parts = [summary.rstrip(), "", "    Parameters", "    ----------"]
    if signals:
        parts.append(_indented(_SIGNALS))
    parts.append(_indented(parameter_lines))
    if signals:
        parts += ["", "    Returns", "    -------", _indented(_RETURNS)]
    example, value = call
    parts += ["", "    Examples", "    --------", _EXAMPLE_SIGNALS, f"    >>> {example}",
              f"    {value}", ""]
    return "\n".join(parts) + "    "


def _document(cls):
    """The class's docstring with its Parameters and an example of the class form."""
    _, example, value = _EXAMPLES[cls]
    cls.__doc__ = _numpydoc(cls.__doc__, _parameters_of(cls),
                            (example.format(f"fastmixloss.{cls.__name__}()"), value))


def _function(cls, name, doc):
    # show the class's parameters in help() and IDEs
    names = _parameters_of(cls)
    defaults = {**{n: p.default for n, p in inspect.signature(_TimeLoss).parameters.items()},
                **{n: p.default for n, p in inspect.signature(cls).parameters.items()}}
    positional = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                    annotation=ArrayLike) for n in ("est", "ref")]
    keywords = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=defaults[n],
                                  annotation=_PARAMETERS[n][0]) for n in names]
    signature = inspect.Signature(positional + keywords,
                                  return_annotation=Union[float, np.ndarray])

    @check.keywords_checked(f"fastmixloss.{name}", set(signature.parameters))
    def loss(est, ref, *, reduction="mean", compat=None, check_finite=True, device=None,
             **params):
        return cls(reduction=reduction, compat=compat, check_finite=check_finite,
                   device=device, **params)(est, ref)
    _, example, value = _EXAMPLES[cls]
    loss.__doc__ = _numpydoc(f"{doc}\n\n    The function form of {cls.__name__}.", names,
                             (example.format(f"fastmixloss.{name}"), value), signals=True)
    loss.__signature__ = signature
    loss.__name__ = loss.__qualname__ = name
    return loss


for _cls in _EXAMPLES:
    _document(_cls)

mse = _function(MSELoss, "mse", "MSE (mean over channels and samples); see MSELoss.")
l1 = _function(L1Loss, "l1", "Mean absolute error; see L1Loss.")
esr = _function(ESRLoss, "esr", "Error-to-signal ratio; eps=1e-8. See ESRLoss.")
dc = _function(DCLoss, "dc", "DC error; eps=1e-8. See DCLoss.")
logcosh = _function(LogCoshLoss, "logcosh", "Log-cosh loss; a=1.0, eps=1e-8. See LogCoshLoss.")
snr = _function(SNRLoss, "snr", "Negated SNR in dB; zero_mean=True, eps=1e-8. See SNRLoss.")
sisdr = _function(SISDRLoss, "sisdr",
                  "Negated SI-SDR in dB; zero_mean=True, eps=1e-8. See SISDRLoss.")
sdsdr = _function(SDSDRLoss, "sdsdr",
                  "Negated SD-SDR in dB; zero_mean=True, eps=1e-8. See SDSDRLoss.")
