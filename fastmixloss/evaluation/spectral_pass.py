"""The spectral losses of one evaluation, their transforms shared, fed piece by piece.

Resolutions of several losses that frame alike (fft size, hop, window, floor, distance)
become one job: each frame is transformed once per channel, and every loss takes its rows
of the job's sums. The sum-and-difference loss's spectra come from the channels' where a
loss needs the channels anyway (X(L + R) = X(L) + X(R), added in float64 from the
transforms in the signal's dtype; docs/numerics.md gives the float32 rounding this
changes); alone, it transforms L + R and L - R as the loss itself does.

A job keeps its per-block partial sums and adds them in block order at the end, and it
computes its frames in whole blocks as the pieces arrive: a signal fed in pieces gives the
sums of the whole signal bit for bit, holding only the samples its next frames need.
"""

import numpy as np

from .. import engine
from ..kernels import layout

SUM_AND_DIFFERENCE = np.array([[1.0, 1.0], [1.0, -1.0]])


class _Job:
    """One resolution's shared transforms: what the kernel runs, and its partial sums."""

    def __init__(self, window, frames, distance, n_channels, channels, sum_and_difference):
        self.window = window
        self.frames = frames            # FramePlan of the whole signal (its modes unset)
        self.distance = distance
        self.log_mode = self.lin_mode = layout.NO_TERM
        if sum_and_difference and not channels:   # transform L + R and L - R themselves
            self.frame_mix, self.row_mix = SUM_AND_DIFFERENCE, np.eye(2)
            self.rows = {"channels": None, "sum_and_difference": [0, 1]}
        else:
            self.frame_mix = np.eye(n_channels)
            rows = [np.eye(n_channels)]
            if sum_and_difference:   # from the channels' spectra
                rows.append(SUM_AND_DIFFERENCE)
            self.row_mix = np.concatenate(rows)
            self.rows = {"channels": list(range(n_channels)),
                         "sum_and_difference": [n_channels, n_channels + 1]}
        self.next_frame = 0
        self.partials = []

    def wants(self, plan):
        """Compute the terms `plan` reports."""
        if plan.log_mode != layout.NO_TERM:
            self.log_mode = self.distance
        if plan.lin_mode != layout.NO_TERM:
            self.lin_mode = self.distance

    @property
    def done(self):
        return self.next_frame == self.frames.n_frames

    def frames_before(self, stop):
        """Frames from next_frame on whose samples all lie before sample `stop`."""
        f = self.frames
        reach = stop + f.fft_size // 2 - f.win_stop
        last = reach // f.hop_size + 1 if reach >= 0 else 0
        return max(0, min(last, f.n_frames) - self.next_frame)

    def first_needed(self, length):
        """The first sample the remaining frames read, reflections at the end included."""
        f = self.frames
        pad = f.fft_size // 2
        first = self.next_frame * f.hop_size - pad + f.win_start
        last_read = (f.n_frames - 1) * f.hop_size - pad + f.win_stop - 1
        return max(0, min(first, 2 * (length - 1) - last_read))

    def run(self, backend, est, ref, start, count):
        """Frames next_frame .. next_frame + count - 1 from signals holding samples
        [start, ...) of the whole."""
        f = self.frames
        plan = f._replace(n_frames=count, log_mode=self.log_mode, lin_mode=self.lin_mode,
                          frame_start=self.next_frame * f.hop_size - f.fft_size // 2 - start)
        self.partials.append(backend.stft_row_partials(est, ref, self.frame_mix,
                                                       self.row_mix, self.window, plan))
        self.next_frame += count

    def sums(self):
        """(B, R, N_TERMS): the whole signal's sums, blocks added in order."""
        return np.concatenate(self.partials, axis=1).sum(axis=1)


class SpectralPass:
    """The spectral losses `losses` (objects of spectral.py with their plans, computed by
    the plain kernel) over signals of shape `shape3` in `dtype`, fed piece by piece.
    derive: sd's spectra from the channels' where a channel loss shares the resolution."""

    def __init__(self, losses, backend, shape3, dtype, derive=True):
        self.losses = list(losses)
        self.backend = backend
        self.length = shape3[2]
        n_channels = shape3[1]
        keys = []    # per loss, per resolution: its job's key
        wanted = {}
        for loss in self.losses:
            loss_keys = []
            for index in range(len(loss.plan.resolutions)):
                window, frames, _ = engine.frame_plan(loss.plan, index, self.length, dtype)
                key = (frames.fft_size, frames.hop_size, frames.win_start, frames.win_stop,
                       window.tobytes(), frames.eps, loss.plan.distance,
                       # not derived: sd's transforms apart from the channels'
                       derive or loss.mix is None)
                entry = wanted.setdefault(key, [window, frames, loss.plan.distance, False,
                                                False])
                entry[3 if loss.mix is None else 4] = True
                loss_keys.append(key)
            keys.append(loss_keys)
        self.jobs = {key: _Job(window, frames, distance, n_channels, channels, sd)
                     for key, (window, frames, distance, channels, sd) in wanted.items()}
        self._keys = keys
        for loss, loss_keys in zip(self.losses, keys):
            for key in loss_keys:
                self.jobs[key].wants(loss.plan)
        self._tail = None        # (est, ref) samples [tail_start, fed) still needed
        self._tail_start = 0
        self._fed = 0

    def feed(self, est, ref):
        """The next (B, C, n) piece of both signals."""
        if self._tail is None:
            start = self._fed
        else:
            start = self._tail_start
            est = np.concatenate((self._tail[0], est), axis=-1)
            ref = np.concatenate((self._tail[1], ref), axis=-1)
        self._fed = start + est.shape[-1]
        final = self._fed == self.length
        for job in self.jobs.values():
            count = job.frames.n_frames - job.next_frame
            if not final:   # whole blocks only, so that they line up with the whole's
                count = job.frames_before(self._fed)
                count -= count % job.frames.frames_per_block
            if count > 0:
                job.run(self.backend, est, ref, start, count)
        if final:   # every frame computed (and device signals are never sliced)
            self._tail = None
            return
        keep = min((job.first_needed(self.length) for job in self.jobs.values()
                    if not job.done), default=self._fed)
        keep = min(max(keep, start), self._fed)
        self._tail = (np.ascontiguousarray(est[..., keep - start:]),
                      np.ascontiguousarray(ref[..., keep - start:]))
        self._tail_start = keep

    def results(self):
        """Each loss's value (or breakdown), in order."""
        sums = {key: job.sums() for key, job in self.jobs.items()}
        out = []
        for loss, loss_keys in zip(self.losses, self._keys):
            which = "channels" if loss.mix is None else "sum_and_difference"
            parts = []
            for key in loss_keys:
                job = self.jobs[key]
                own = sums[key][:, job.rows[which]]
                if loss.plan.log_mode == layout.NO_TERM:
                    own[..., layout.LOG_DIST] = 0.0
                if loss.plan.lin_mode == layout.NO_TERM:
                    own[..., layout.LIN_DIST] = 0.0
                parts.append(engine.resolution_part(loss.plan, job.frames, None, own,
                                                    np.ones(own.shape[:2])))
            out.append(loss.from_sums(parts))
        return out
