"""Time-domain losses: MSE and the auraloss family (L1, ESR, DC, log-cosh, SNR, SI-SDR,
SD-SDR).

Each is computed per channel of each item from one pass over both signals (see
kernels/time.py), then averaged over the item's channels. SNR, SI-SDR and SD-SDR are
returned negated, in dB, so that lower is better for every loss, as in auraloss.

TimePass computes several of them from one pass over a signal given whole or in
consecutive pieces; a loss called on its own is a TimePass of that loss fed one piece.
"""

import inspect
from typing import Optional, Union

import numpy as np
from numpy.typing import ArrayLike

from . import backend as backends
from . import validation as check
from .errors import DeviceError, FastMixLossError, ParameterError
from .kernels.layout import (EXACT_ALPHA, EXACT_D, EXACT_DD, EXACT_ENERGIES, EXACT_EY,
                             EXACT_EY_LOW, EXACT_MEAN_E, EXACT_MEAN_Y, EXACT_MEANS,
                             EXACT_OFF_E, EXACT_OFF_Y, EXACT_RESIDUAL, EXACT_RESIDUAL_PASS,
                             EXACT_SUM_E, EXACT_SUM_Y, EXACT_Y_MAX, EXACT_Y_MIN, EXACT_YY,
                             EXACT_YY_LOW, N_EXACT, SHIFT_D, SHIFT_Y, SUM_ABS_D, SUM_D,
                             SUM_DD, SUM_DY, SUM_Y, SUM_YY, TIME_CHUNK)


# The one-pass sums give each energy as a sum of larger terms. Their rounding error is
# taken as at most 1e-12 of the terms' magnitude; where a quantity is smaller than
# CANCELLATION times that magnitude it would keep fewer than 10 digits, and the row is
# recomputed from its own means (the exact passes, kernels/time.exact_span).
CANCELLATION = 1e-2

# Rows whose squares overflow float64 are recomputed scaled by a power of two that brings
# their largest sample to about 2**RESCALED_EXPONENT: the squares then fit, and eps stays
# as negligible as it was at the original scale (it is scaled with them).
RESCALED_EXPONENT = 100

# the first pass's sums, by what they serve: the shifted sums (every ratio loss; MSE and
# L1 where the backend has no light pass) and the light pass (MSE, L1); log-cosh's are
# keyed ("log_cosh", a, eps)
SHIFTED, LIGHT = "shifted", "light"


class TimePass:
    """Several time-domain losses from one read of a signal given whole or in pieces.

    TimePass(losses, backend, n_items, n_channels, length, dtype)

    losses: time-domain loss objects (MSELoss(), SISDRLoss(zero_mean=False), ...), each
    with its own options. backend: from fastmixloss.backend.select. The pieces fed are
    (n_items, n_channels, n) signals in `dtype`, validated as the backend's
    as_signal_pair returns them (C-contiguous on the CPU), consecutive pieces of signals
    of `length` samples.

    Feed every piece of a pass in order (`feed`), then call `end_pass`; while it returns
    True, feed the same pieces again. Then `results()`: per loss, in order, what
    loss(est, ref) returns on the whole signal, or the FastMixLossError it would raise
    (the other losses keep their values). Every piece but the last of a pass holds a
    multiple of `alignment` samples (empty pieces are skipped).

    The first pass reads each sample once for all losses: per chunk of `alignment`
    samples, one task computes the shifted sums of the ratio losses and MSE's and L1's
    sums (one loop each over the chunk while it is in cache), and log-cosh has its own
    kernel per (a, eps). The sums are kept per chunk (8 float64 a row and chunk: 0.6 MB
    for two hours of stereo at 44.1 kHz) and added in chunk order at the end, so any
    pieces give the sums of the whole signal bit for bit.

    Further passes are for the rare rows those sums cannot settle; each adds its sums
    sample after sample, carried from piece to piece, so these too are the same bits for
    any pieces:

    - a ratio loss's row whose one-pass formula cancels (SI-SDR of a scaled copy, an
      estimate equal to its reference, a reference that may be silent or constant): the
      exact recomputation (kernels/time.exact_span), one pass without zero_mean (ESR, DC
      always), two with it (the means, then the energies), one more for SI-SDR's residual;
    - a row whose squares or sums overflow float64 (float64 samples from about 1e150 up;
      float32 input cannot): one pass for its largest sample, then a ratio loss's exact
      passes at a power-of-two scale (see RESCALED_EXPONENT), as for the whole signal;
      MSE and L1 raise a ParameterError naming the row and that sample;
    - a log-cosh row where a * (est - ref) or its sum overflows: one pass computing it
      in NumPy, which may still overflow (then the ParameterError). Its sums are per
      piece, so there pieces may differ from the whole signal by rounding (measured: 0).

    At most five passes in all: the first, and four for a zero-mean SI-SDR row that
    overflows.

    A NaN or Inf sample makes its chunk's sums non-finite: only such rows of a piece are
    scanned, for their first NaN or Inf. A loss with check_finite gets the ParameterError
    naming the first one (est before ref, the lowest row) at its position in the whole
    signal; without check_finite its rows are NaN or Inf.

    A backend without per-chunk sums (the CUDA one) takes the signal as one piece; a
    shorter piece raises DeviceError.
    """

    def __init__(self, losses, backend, n_items, n_channels, length, dtype):
        self.losses = list(losses)
        self.backend = backend
        self.shape = (int(n_items), int(n_channels), int(length))
        if min(self.shape) < 1:
            raise ParameterError(f"TimePass: signals of shape {self.shape} hold no samples")
        self.dtype = np.dtype(dtype)
        self._n_rows = self.shape[0] * self.shape[1]
        self._in_pieces = hasattr(backend, "time_chunk_sums")
        has_light = hasattr(backend, "difference_sums")
        wanted = set()
        for loss in self.losses:
            wanted |= loss._first_pass_sums(has_light)
        self._log_cosh_keys = sorted(key for key in wanted if isinstance(key, tuple))
        self._parts = {key: [] for key in wanted}   # the first pass's per-chunk sums
        self._shifts = None
        self._first_bad = {"est": {}, "ref": {}}    # row -> (position, value)
        self._fed = 0
        self._pass = 0
        self._jobs = []          # what this pass computes (after the first)
        self._waiting = {}       # loss index -> (its _settle generator, the jobs it awaits)
        self._results = [None] * len(self.losses)
        self._finished = False

    @property
    def alignment(self):
        """Every piece but the last of a pass holds a multiple of this many samples."""
        return TIME_CHUNK

    def feed(self, est_piece3, ref_piece3):
        """The next piece (n_items, n_channels, n) of both signals, in order."""
        n = self._check_piece(est_piece3, ref_piece3)
        if n == 0:
            return
        est2, ref2 = _rows(est_piece3), _rows(ref_piece3)
        if self._pass == 0:
            self._first_pass(est2, ref2)
        else:
            for job in self._jobs:
                job.feed(self.backend, est2, ref2)
        self._fed += n

    def _check_piece(self, est_piece3, ref_piece3):
        n_items, n_channels, length = self.shape
        if self._finished:
            raise ParameterError("TimePass: a piece was fed after the last pass ended")
        for name, piece in (("est", est_piece3), ("ref", ref_piece3)):
            if (len(piece.shape) != 3 or tuple(piece.shape[:2]) != (n_items, n_channels)
                    or piece.shape[2] != est_piece3.shape[2] or piece.dtype != self.dtype):
                raise ParameterError(
                    f"TimePass: the {name} piece has shape {tuple(piece.shape)} and dtype "
                    f"{piece.dtype}: expected ({n_items}, {n_channels}, n) in {self.dtype}, "
                    f"n the same for est and ref")
        n = int(est_piece3.shape[2])
        if n == 0:
            return n
        if self._fed % self.alignment:
            raise ParameterError(
                f"TimePass: the pieces before this one hold {self._fed} samples, not a "
                f"multiple of {self.alignment}: only the last piece of a pass may be short")
        if self._fed + n > length:
            raise ParameterError(
                f"TimePass: this piece of {n} samples ends at sample {self._fed + n}, "
                f"beyond the signal's {length}")
        if not self._in_pieces and n != length:
            raise DeviceError(
                f"the {getattr(self.backend, 'name', 'given')} backend computes the "
                f"time-domain losses of whole signals only: feed the {length} samples as "
                f"one piece, not {n}")
        return n

    def _first_pass(self, est2, ref2):
        backend = self.backend
        parts = {}
        if self._in_pieces:
            if SHIFTED in self._parts and self._shifts is None:
                self._shifts = backend.time_shifts(est2, ref2)   # in the first piece
            if SHIFTED in self._parts or LIGHT in self._parts:
                parts[SHIFTED], parts[LIGHT] = backend.time_chunk_sums(
                    est2, ref2, self._shifts, LIGHT in self._parts)
            for key in self._log_cosh_keys:
                parts[key] = backend.log_cosh_chunk_sums(est2, ref2, *key[1:])
        else:   # the whole signal: its sums as one chunk
            if SHIFTED in self._parts:
                totals, self._shifts = backend.time_sums(est2, ref2)
                parts[SHIFTED] = totals[:, None]
            if LIGHT in self._parts:
                parts[LIGHT] = backend.difference_sums(est2, ref2)[:, None]
            for key in self._log_cosh_keys:
                parts[key] = backend.log_cosh_sums(est2, ref2, *key[1:])[:, None]
        suspects = np.zeros(self._n_rows, dtype=bool)
        for key, part in parts.items():
            if part is not None:
                self._parts[key].append(part)
                suspects |= ~np.isfinite(part.reshape(self._n_rows, -1)).all(axis=1)
        if suspects.any():
            self._scan(est2, ref2, np.flatnonzero(suspects))

    def _scan(self, est2, ref2, rows):
        """Keep the first NaN or Inf of each of `rows` in this piece (rows whose sums came
        out non-finite here: from a NaN or Inf, or from an overflow)."""
        for name, signal2 in (("est", est2), ("ref", ref2)):
            found = self._first_bad[name]
            host = self.backend.host_rows(signal2, rows)
            bad = ~np.isfinite(host)
            for i in np.flatnonzero(bad.any(axis=1)):
                if int(rows[i]) not in found:
                    position = int(np.argmax(bad[i]))
                    found[int(rows[i])] = (self._fed + position, host[i, position])

    def end_pass(self):
        """After the last piece of a pass: True when another pass over the same pieces is
        needed, else False (then `results()`)."""
        if self._finished:
            raise ParameterError("TimePass: end_pass() after the last pass ended")
        if self._fed != self.shape[2]:
            raise ParameterError(f"TimePass: the pass ended after {self._fed} of the "
                                 f"signal's {self.shape[2]} samples")
        self._fed = 0
        if self._pass == 0:
            self._settle()
        else:
            for index, (generator, jobs) in list(self._waiting.items()):
                self._advance(index, generator, [job.result() for job in jobs])
        self._pass += 1
        self._jobs = [job for _, jobs in self._waiting.values() for job in jobs]
        self._finished = not self._waiting
        return not self._finished

    def _settle(self):
        """After the first pass: each loss's values, or the jobs of its next pass."""
        totals = {key: np.concatenate(parts, axis=1).sum(axis=1)   # in chunk order
                  for key, parts in self._parts.items()}
        self._parts = None
        bad_input = np.zeros(self._n_rows, dtype=bool)
        for found in self._first_bad.values():
            bad_input[list(found)] = True
        sums = _PassSums(self.shape, totals, self._shifts, bad_input)
        for index, loss in enumerate(self.losses):
            if loss.check_finite and bad_input.any():
                self._results[index] = self._nonfinite_error()
            else:
                self._advance(index, loss._settle(sums), None)

    def _nonfinite_error(self):
        """The ParameterError naming the first NaN or Inf: est first, then ref, each
        row by row, at its position in the whole signal."""
        for name in ("est", "ref"):
            found = self._first_bad[name]
            if found:
                row = min(found)
                position, value = found[row]
                return check.nonfinite_error(name, value, row * self.shape[2] + position,
                                             self.shape)
        return None

    def _advance(self, index, generator, sent):
        """Run loss `index`'s generator on to its next pass or its value."""
        try:
            jobs = generator.send(sent)
        except StopIteration as done:
            self._waiting.pop(index, None)
            self._results[index] = self.losses[index]._reduce(
                done.value.reshape(self.shape[:2]))
        except FastMixLossError as exc:
            self._waiting.pop(index, None)
            self._results[index] = exc
        else:
            self._waiting[index] = (generator, jobs)

    def results(self):
        """Per loss, in order: its value (a float or an array, after its reduction), or
        the FastMixLossError it raised. Only after end_pass() returned False."""
        if not self._finished:
            raise ParameterError("TimePass: results() before the last pass ended "
                                 "(end_pass() returns False after it)")
        return list(self._results)


def _whole(losses, backend, est3, ref3):
    """TimePass's results for whole signals (B, C, T): one piece, fed once per pass."""
    time_pass = TimePass(losses, backend, *est3.shape, est3.dtype)
    time_pass.feed(est3, ref3)
    while time_pass.end_pass():
        time_pass.feed(est3, ref3)
    return time_pass.results()


class _PassSums:
    """What the first pass gives the losses: the sums of each kernel that ran (None where
    none did), the rows whose input holds a NaN or Inf, and the signal's layout."""

    def __init__(self, shape, totals, shifts, bad_input):
        _, self.n_channels, self.length = shape
        self.light = totals.get(LIGHT)
        self.shifted_totals = totals.get(SHIFTED)
        self.shifted = (None if self.shifted_totals is None
                        else _Sums(self.shifted_totals, shifts, self.length))
        self.log_cosh = {key[1:]: value for key, value in totals.items()
                         if isinstance(key, tuple)}
        self.bad_input = bad_input


class _Peaks:
    """A pass's job: the largest |sample| of est and ref in each of `rows` (the overflow
    messages and the rescaled recomputation)."""

    def __init__(self, rows):
        self.rows = rows
        self.peaks = np.zeros(len(rows))

    def feed(self, backend, est2, ref2):
        _keep_peaks(self.peaks, backend.host_rows(est2, self.rows),
                    backend.host_rows(ref2, self.rows))

    def result(self):
        return self.peaks


def _keep_peaks(peaks, *hosts):
    """peaks (float64, one per row) raised to the largest |sample| of each host (rows,
    n) array."""
    for host in hosts:
        np.maximum(peaks, np.abs(host).max(axis=1), out=peaks)


class _LogCoshRows:
    """A pass's job: the log-cosh means of `rows` in NumPy (_mean_log_cosh), where the
    kernel's a * (est - ref) or sum overflowed, and their largest |sample| (for the
    message where even that overflows)."""

    def __init__(self, rows, a, eps, length):
        self.rows, self.a, self.eps, self.length = rows, a, eps, length
        self.means = np.zeros(len(rows))
        self.peaks = np.zeros(len(rows))

    def feed(self, backend, est2, ref2):
        est = backend.host_rows(est2, self.rows)
        ref = backend.host_rows(ref2, self.rows)
        self.means += _mean_log_cosh(est.astype(np.float64) - ref, self.a, self.eps,
                                     self.length)
        _keep_peaks(self.peaks, est, ref)

    def result(self):
        return self


class _ExactPass:
    """A pass's job: pass `stage` of the exact recomputation of `rows` (see
    _exact_passes)."""

    def __init__(self, rows, scales, stage, state):
        self.rows, self.scales, self.stage, self.state = rows, scales, stage, state

    def feed(self, backend, est2, ref2):
        self.state = backend.exact_energies(est2, ref2, self.rows, self.scales, self.stage,
                                            self.state)

    def result(self):
        return self.state


def _exact_passes(rows, scales, centred, eps, want_residual, length):
    """The exact recomputation of `rows` (kernels/time.exact_span) as passes over the
    signal, each a yield of its job: the rows' final state (len(rows), N_EXACT), with sum
    d^2, sum y^2, sum e*y (about the means when `centred`), sum d, SI-SDR's residual
    (only with want_residual) and ref's extremes. scales, eps: per row."""
    state = np.zeros((rows.size, N_EXACT))
    state[:, EXACT_Y_MIN] = np.inf
    state[:, EXACT_Y_MAX] = -np.inf
    if centred:   # else the means stay 0
        (state,) = yield [_ExactPass(rows, scales, EXACT_MEANS, state)]
        state[:, EXACT_MEAN_E] = state[:, EXACT_SUM_E] / length
        state[:, EXACT_MEAN_Y] = state[:, EXACT_SUM_Y] / length
    (state,) = yield [_ExactPass(rows, scales, EXACT_ENERGIES, state)]
    state[:, EXACT_YY] += state[:, EXACT_YY_LOW]
    state[:, EXACT_EY] += state[:, EXACT_EY_LOW]
    if want_residual:
        # The residual of a near-perfect scaled copy is tiny, and a mean off by delta
        # adds n * delta**2 to it: correct the means by their deviations' mean first
        # (the energies above change only to second order in delta).
        if centred:
            state[:, EXACT_MEAN_E] += state[:, EXACT_OFF_E] / length
            state[:, EXACT_MEAN_Y] += state[:, EXACT_OFF_Y] / length
        state[:, EXACT_ALPHA] = state[:, EXACT_EY] / (state[:, EXACT_YY] + eps)
        (state,) = yield [_ExactPass(rows, scales, EXACT_RESIDUAL_PASS, state)]
    return state


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


def _mean_log_cosh(d, a, eps, length):
    """The sum of ln(cosh(a*d) + eps) / a / length over the last axis of d (a span of
    rows of `length` samples), in NumPy, without forming a*d where it would overflow (the
    kernel's formula, rearranged; for rows the kernel cannot sum in range)."""
    d = np.abs(d)
    small = d < 20.0 / a
    with np.errstate(all="ignore"):
        near = np.log(np.cosh(a * np.where(small, d, 0.0)) + eps) / a
        far = d - (np.log(2.0) - np.log1p(np.exp(-2.0 * a * np.where(small, 0.0, d)))) / a
    return np.sum(np.where(small, near, far) / length, axis=-1)


def _rows(signal3):
    """The (N, T) rows, one per channel of each item, of a (B, C, T) signal."""
    return signal3.reshape(-1, signal3.shape[-1])


class _TimeLoss:
    """Common call path: validate, then a TimePass of this loss fed the whole signal.

    What TimePass asks of a loss: `_first_pass_sums(has_light)`, the sums it reads;
    `_settle(sums)`, a generator that yields the jobs of each further pass it needs (a
    list; it is sent their results) and returns its (N,) values per row, or raises; and
    `_reduce`.
    """

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
        (result,) = _whole([self], backend, est3, ref3)
        if isinstance(result, FastMixLossError):
            raise result
        return result

    def _refuse_overflow(self, sums, nonfinite):
        """Raise the overflow's ParameterError for the first row of the mask `nonfinite`
        that no NaN or Inf input explains, after a pass for its largest sample."""
        overflowed = np.flatnonzero(nonfinite & ~sums.bad_input)
        if overflowed.size:
            (peaks,) = yield [_Peaks(overflowed[:1])]
            raise self._overflow_error(sums, overflowed[0], peaks[0])

    def _overflow_error(self, sums, row, peak):
        item, channel = divmod(int(row), sums.n_channels)
        return ParameterError(
            f"{type(self).__name__}: item {item}, channel {channel} holds samples up to "
            f"{float(peak):.3g}, whose squares or sums overflow float64 (about 1.8e308): "
            f"this loss's value cannot be represented. Scale both signals down (the "
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
    """Losses of est - ref alone: the light pass's two sums, where the backend has it (W5:
    the six shifted sums cost more than reading the inputs), else the shifted sums."""

    @staticmethod
    def _first_pass_sums(has_light):
        return {LIGHT} if has_light else {SHIFTED}

    def _settle(self, sums):
        if sums.light is not None:
            values = self._from_differences(sums.light[:, 0], sums.light[:, 1],
                                            sums.length)
        else:
            s = sums.shifted
            values = self._from_differences(s.dd, s.abs_d, s.length)
        yield from self._refuse_overflow(sums, ~np.isfinite(values))
        return values


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

    def _first_pass_sums(self, has_light):
        return {("log_cosh", self.a, self.eps)}

    def _settle(self, sums):
        # / a / length, not / (a * length), which overflows for huge a
        values = sums.log_cosh[(self.a, self.eps)] / self.a / sums.length
        overflowed = np.flatnonzero(~np.isfinite(values) & ~sums.bad_input)
        if overflowed.size:   # a * (est - ref) or the sum left float64's range
            (redone,) = yield [_LogCoshRows(overflowed, self.a, self.eps, sums.length)]
            values[overflowed] = redone.means
            refused = np.flatnonzero(~np.isfinite(redone.means))
            if refused.size:
                raise self._overflow_error(sums, overflowed[refused[0]],
                                           redone.peaks[refused[0]])
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

    @staticmethod
    def _first_pass_sums(has_light):
        return {SHIFTED}

    def _one_pass(self, s):
        """Energies {dd, yy, ey, d} from the sums (this loss's own arrays), and the mask
        of rows they leave uncertain (cancellation) or undecided (a reference energy that
        may be zero)."""
        if self.centred:
            dd, yy, dy = s.dd_centred, s.yy_centred, s.dy_centred
            dd_b, yy_b, dy_b = s.dd_centred_bound, s.yy_centred_bound, s.dy_centred_bound
        else:
            dd, yy, dy = s.dd, s.yy, s.dy
            dd_b, yy_b, dy_b = s.dd_bound, s.yy_bound, s.dy_bound
        with np.errstate(all="ignore"):
            energies = {"dd": dd.copy(), "yy": yy.copy(), "ey": dy + yy, "d": s.d.copy()}
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

    def _settle(self, sums):
        totals = sums.shifted_totals
        energies, uncertain = self._one_pass(sums.shifted)
        suspects = ~np.isfinite(totals).all(axis=1)
        for name in self.uses:
            suspects |= ~np.isfinite(energies[name])
        bad_input = suspects & sums.bad_input
        overflowed = suspects & ~bad_input
        energies["eps"] = np.full(len(totals), self.eps)
        energies["log_gain"] = np.zeros(len(totals))
        silent = np.zeros(len(totals), dtype=bool)
        redo = np.flatnonzero((uncertain | overflowed) & ~bad_input)
        if redo.size:
            silent[redo] = yield from self._recompute(energies, redo, overflowed,
                                                      sums.length)
        with np.errstate(all="ignore"):
            values = self._from_energies(energies, sums.length)
        if self.compat != "auraloss":
            values[silent] = np.nan
        return values

    def _recompute(self, energies, rows, overflowed, length):
        """Replace the energies of `rows` by the exact passes' (the generator's passes);
        returns their silent mask. Overflowed rows are computed scaled (see
        RESCALED_EXPONENT), after a pass for their largest samples."""
        scales = np.ones(rows.size)
        rescaled = np.flatnonzero(overflowed[rows])
        if rescaled.size:
            (peaks,) = yield [_Peaks(rows[rescaled])]
            scales[rescaled] = np.ldexp(1.0, RESCALED_EXPONENT - np.frexp(peaks)[1])
        eps = self.eps * scales * scales
        exact = yield from _exact_passes(rows, scales, self.centred, eps,
                                         self.needs_residual, length)
        energies["dd"][rows] = exact[:, EXACT_DD]
        energies["yy"][rows] = exact[:, EXACT_YY]
        energies["ey"][rows] = exact[:, EXACT_EY]
        energies["d"][rows] = exact[:, EXACT_D]
        energies["eps"][rows] = eps
        energies["log_gain"][rows] = -2.0 * np.log(scales)
        if self.needs_residual:
            energies["residual"][rows] = exact[:, EXACT_RESIDUAL]
        y_min, y_max = exact[:, EXACT_Y_MIN], exact[:, EXACT_Y_MAX]
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
