"""Time-domain losses: MSE and the auraloss family (L1, ESR, DC, log-cosh, SNR, SI-SDR,
SD-SDR).

Each is computed per channel of each item from one pass over both signals (see
kernels/time.py), then averaged over the item's channels. SNR, SI-SDR and SD-SDR are
returned negated, in dB, so that lower is better for every loss, as in auraloss.
"""

import inspect

import numpy as np

from . import backend as backends
from . import validation as check
from .kernels.layout import (SHIFT_D, SHIFT_Y, SUM_ABS_D, SUM_D, SUM_DD, SUM_DY, SUM_Y,
                             SUM_YY)


class _Sums:
    """Per-row energies from the kernel's shifted sums (all float64 arrays of shape (N,))."""

    def __init__(self, totals, shifts, length):
        k_y = shifts[:, SHIFT_Y]
        k_d = shifts[:, SHIFT_D]
        s_y, s_yy = totals[:, SUM_Y], totals[:, SUM_YY]
        s_d, s_dd, s_dy = totals[:, SUM_D], totals[:, SUM_DD], totals[:, SUM_DY]
        self.length = length
        self.abs_d = totals[:, SUM_ABS_D]
        # raw sums of d = est - ref and y = ref
        self.d = s_d + length * k_d
        self.dd = s_dd + 2 * k_d * s_d + length * k_d * k_d
        self.yy = s_yy + 2 * k_y * s_y + length * k_y * k_y
        self.dy = s_dy + k_y * s_d + k_d * s_y + length * k_d * k_y
        # the same with each signal's mean removed
        self.dd_centred = s_dd - s_d * s_d / length
        self.yy_centred = s_yy - s_y * s_y / length
        self.dy_centred = s_dy - s_d * s_y / length


def _negated_db(num, den, eps):
    return -10.0 * np.log10(num / (den + eps) + eps)


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
        n_items, n_channels, length = est3.shape
        rows_e = est3.reshape(-1, length)
        rows_r = ref3.reshape(-1, length)
        per_row, row_totals = self._per_row(backend, rows_e, rows_r)
        if self.check_finite:
            # A NaN or Inf sample makes its row's sums non-finite, so one pass both
            # computes and checks; only rows that went bad are scanned for the message.
            finite = np.isfinite(row_totals.reshape(len(per_row), -1)).all(axis=1)
            if not finite.all():
                backend.raise_if_nonfinite(est3, ref3, rows=np.flatnonzero(~finite))
        return self._reduce(per_row.reshape(n_items, n_channels))

    def _per_row(self, backend, est, ref):
        totals, shifts = backend.time_sums(est, ref)
        return self._from_sums(_Sums(totals, shifts, est.shape[1])), totals

    def _reduce(self, values):
        """values: (B, C). Per item: mean over channels. auraloss keeps (B, C) instead."""
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


class MSELoss(_TimeLoss):
    """Mean over channels and samples of (est - ref)**2."""

    def _from_sums(self, s):
        return s.dd / s.length


class L1Loss(_TimeLoss):
    """Mean over channels and samples of |est - ref|."""

    def _from_sums(self, s):
        return s.abs_d / s.length


class ESRLoss(_TimeLoss):
    """Error-to-signal ratio: sum((ref - est)**2) / (sum(ref**2) + eps), per channel."""

    def __init__(self, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _from_sums(self, s):
        return s.dd / (s.yy + self.eps)


class DCLoss(_TimeLoss):
    """DC error: mean(ref - est)**2 / (mean(ref**2) + eps), per channel."""

    def __init__(self, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _from_sums(self, s):
        return (s.d / s.length) ** 2 / (s.yy / s.length + self.eps)


class LogCoshLoss(_TimeLoss):
    """(1/a) * ln(cosh(a * (est - ref)) + eps), mean over samples and channels."""

    def __init__(self, a=1.0, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.a = check.finite_float("a", a, strictly_positive=True)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _per_row(self, backend, est, ref):
        totals = backend.log_cosh_sums(est, ref, self.a, self.eps)
        return totals / (self.a * est.shape[1]), totals


class _RatioLoss(_TimeLoss):
    def __init__(self, zero_mean=True, eps=1e-8, **kwargs):
        super().__init__(**kwargs)
        self.zero_mean = check.flag("zero_mean", zero_mean)
        self.eps = check.finite_float("eps", eps, minimum=0.0)

    def _energies(self, s):
        """(residual energy for d, reference energy, <d, ref>), centred if zero_mean."""
        if self.zero_mean:
            return s.dd_centred, s.yy_centred, s.dy_centred
        return s.dd, s.yy, s.dy

    def _scale(self, dd, yy, dy):
        """alpha = <est, ref> / (|ref|^2 + eps), with <est, ref> = <d, ref> + |ref|^2."""
        return (dy + yy) / (yy + self.eps)


class SNRLoss(_RatioLoss):
    """Negated SNR in dB: -10 log10(|ref|^2 / (|est - ref|^2 + eps) + eps)."""

    def _from_sums(self, s):
        dd, yy, _ = self._energies(s)
        return _negated_db(yy, dd, self.eps)


class SISDRLoss(_RatioLoss):
    """Negated scale-invariant SDR in dB, with alpha*ref as the target."""

    def _from_sums(self, s):
        dd, yy, dy = self._energies(s)
        alpha = self._scale(dd, yy, dy)
        # |est - alpha*ref|^2 = |d + (1 - alpha) ref|^2, with no cancellation when est ~ ref
        residual = dd + 2 * (1 - alpha) * dy + (1 - alpha) ** 2 * yy
        return _negated_db(alpha * alpha * yy, residual, self.eps)


class SDSDRLoss(_RatioLoss):
    """Negated scale-dependent SDR in dB: target alpha*ref, residual est - ref unscaled."""

    def _from_sums(self, s):
        dd, yy, dy = self._energies(s)
        alpha = self._scale(dd, yy, dy)
        return _negated_db(alpha * alpha * yy, dd, self.eps)


def _function(cls, name, doc):
    # show the class's parameters in help() and IDEs
    common = list(inspect.signature(_TimeLoss).parameters.values())
    params = [p.replace(kind=inspect.Parameter.KEYWORD_ONLY)
              for pname, p in inspect.signature(cls).parameters.items()
              if pname != "kwargs" and pname not in {c.name for c in common}]
    positional = [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                  for n in ("est", "ref")]
    signature = inspect.Signature(positional + params + common)

    @check.keywords_checked(f"fastmixloss.{name}", set(signature.parameters))
    def loss(est, ref, *, reduction="mean", compat=None, check_finite=True, device=None,
             **params):
        return cls(reduction=reduction, compat=compat, check_finite=check_finite,
                   device=device, **params)(est, ref)
    loss.__doc__ = doc
    loss.__signature__ = signature
    loss.__name__ = loss.__qualname__ = name
    return loss


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
