"""One evaluation over a signal given whole or in consecutive pieces.

A Stream checks every loss against the signal's shape before any kernel runs, then hands
each piece to the passes that share the work: the time-domain losses' sums
(time_domain.TimePass), the spectral losses' transforms (spectral_pass.SpectralPass), and,
for what needs the whole signal at once (the feature metrics, spectral losses with a
filterbank, prefilter or other options of the options kernel), the pieces themselves.
A loss that cannot be computed for this signal keeps its exception; the others go on.
"""

import numpy as np

from .. import engine
from .. import validation as check
from ..errors import FastMixLossError, ParameterError
from ..time_domain import TimePass
from .spectral_pass import SpectralPass


class _Layout:
    """What the shape checks read of a signal: its shape and dtype, no samples."""

    def __init__(self, shape, dtype):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)


class Stream:
    """The losses of `evaluator` over signals of shape `shape` (the caller's (T,), (C, T)
    or (B, C, T)) in `dtype`, computed by `backend` from the pieces fed to it.

    Feed every piece of both signals in order (`feed`), then call `end_pass`; while it
    returns True, feed the same pieces again (a few rows need a second look: see
    time_domain.TimePass). Then `outcome()` (values and exceptions by name) or `result()`.
    Every piece but the last of a pass holds a multiple of `alignment` samples.
    """

    def __init__(self, evaluator, backend, shape, dtype):
        self.names = evaluator.names
        self.backend = backend
        shape = tuple(shape)
        self._leading = shape[:-1]   # a piece's shape but its length: (), (C,) or (B, C)
        self.shape3 = (1,) * (3 - len(shape)) + shape
        self.dtype = np.dtype(dtype)
        self.length = self.shape3[2]
        self._outcome = {}
        layout = _Layout(shape, dtype)
        time_losses, spectral_losses, self._whole = {}, {}, {}
        for name in self.names:
            loss = evaluator.losses[name]
            try:
                kind = self._check(name, loss, layout)
            except FastMixLossError as exc:
                self._outcome[name] = exc
                continue
            {"time": time_losses, "spectral": spectral_losses,
             "whole": self._whole}[kind][name] = loss
        n_items, n_channels, length = self.shape3
        self._time = (TimePass(list(time_losses.values()), backend, n_items, n_channels,
                               length, self.dtype) if time_losses else None)
        self._time_names = list(time_losses)
        self._spectral = (SpectralPass(spectral_losses.values(), backend, self.shape3,
                                       self.dtype, evaluator.derive_sum_and_difference)
                          if spectral_losses else None)
        self._spectral_names = list(spectral_losses)
        self._checks_finite = any(loss.plan.check_finite
                                  for loss in spectral_losses.values())
        self._pieces = []
        self.alignment = self._time.alignment if self._time else 1
        self._pass = 0
        self._fed = 0

    def _check(self, name, loss, layout):
        """Every check of `loss` that reads no sample, as the loss alone makes them; its
        kind of pass: "time", "spectral" (shared transforms) or "whole"."""
        kind = getattr(loss, "evaluation_kind", None)
        if kind == "features":
            return "whole"
        if not hasattr(loss, "plan"):   # a time-domain loss
            check.pair_layout(layout, layout, require_batch=loss.compat == "auraloss")
            return "time"
        plan = loss.plan
        if plan.uses_options_kernel:
            return "whole"
        for res in plan.resolutions:
            self.backend.check_fft_size(res.fft_size)
        check.pair_layout(layout, layout, require_batch=plan.require_batch,
                          channels=loss.channels)
        engine.check_length(plan, self.length)
        return "spectral"

    def feed(self, est, ref):
        """The next piece of both signals: (n,), (C, n) or (B, C, n) as the signal's
        shape says, in the stream's dtype (converted otherwise)."""
        est = self._piece(est, "est")
        ref = self._piece(ref, "ref")
        if est.shape != ref.shape:
            raise ParameterError(f"the pieces of est and ref differ in length: "
                                 f"{est.shape[-1]} and {ref.shape[-1]} samples")
        offset = self._fed
        self._fed += est.shape[-1]
        if self._time is not None:
            self._time.feed(est, ref)
        if self._pass:
            return
        if self._spectral is not None and self._spectral_names:
            try:
                check.check_samples(self.backend, est, ref, self._checks_finite, offset)
            except FastMixLossError as exc:
                for name in self._spectral_names:
                    self._outcome[name] = exc
                self._spectral_names = []
            else:
                self._spectral.feed(est, ref)
        if self._whole:
            self._pieces.append((est, ref))

    def _piece(self, x, name):
        """(B, C, n) in the stream's dtype. A piece is shaped as the signal (or as its
        (B, C, T) form) with its own length, samples last: a (n, C) piece, as soundfile
        reads it, would otherwise be taken apart as channels."""
        if getattr(self.backend, "name", "cpu") != "cpu":   # device signals, whole
            return x
        x = np.asarray(x)
        if x.shape[:-1] not in (self._leading, self.shape3[:2]):
            wanted = ", ".join(map(str, self._leading + ("n",)))
            raise ParameterError(
                f"a piece of {name} has shape {x.shape}; this stream takes ({wanted}), "
                "samples last (transpose a (n, C) piece read by soundfile)")
        return np.ascontiguousarray(x, self.dtype).reshape(self.shape3[:2] + (-1,))

    def end_pass(self):
        """After the last piece of a pass: True when the pieces are needed once more."""
        if self._fed != self.length:
            raise ValueError(f"the pass fed {self._fed} samples of {self.length}")
        self._fed = 0
        again = self._time is not None and self._time.end_pass()
        self._pass += 1
        return again

    def outcome(self):
        """{name: value, or the FastMixLossError that loss raised}, in the losses' order."""
        out = dict(self._outcome)
        if self._time is not None:
            out.update(zip(self._time_names, self._time.results()))
        if self._spectral_names:
            out.update(zip(self._spectral_names, self._spectral.results()))
        if self._whole:
            est, ref = self._whole_signals()
            for name, loss in self._whole.items():
                try:
                    out[name] = loss(est, ref)
                except FastMixLossError as exc:
                    out[name] = exc
        return {name: out[name] for name in self.names}

    def _whole_signals(self):
        if len(self._pieces) == 1:
            return self._pieces[0]
        return tuple(np.concatenate(side, axis=-1) for side in zip(*self._pieces))

    def result(self):
        """{name: value}; raises the first loss's exception, in the losses' order."""
        out = self.outcome()
        for value in out.values():
            if isinstance(value, FastMixLossError):
                raise value
        return out
