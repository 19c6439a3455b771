"""True peak (ITU-R BS.1770-4 Annex 2): each channel oversampled by a polyphase FIR, the
largest |value| of the samples and of every interpolated point.

The kernel returns, per task (a row and a chunk of TP_CHUNK samples), the chunk's largest
|sample| and the largest |value| of its interpolated points or of its samples, whichever
is larger; decibels, rows and items are NumPy (features/r128.py). A block of samples whose
largest |sample| times the filter's largest gain (sum of |coefficient| of a phase) is no
larger than what the task has found already cannot raise it, and is not interpolated:
the result is the same, as the maximum is exact and each task's decisions depend on its
own samples only (any thread count, same bits).
"""

import numpy as np
from numba import uint64

from ...kernels.jit import cpu_kernel
from ...kernels.peaks import largest_abs
from ...kernels.workers import read_only, run_workers, thread_count
from .preconditions import require

# taps per phase of the Annex's interpolator
N_TAPS = 12
# samples per task: a row is cut into chunks so that one long row keeps every core busy
TP_CHUNK = 1 << 16
# samples interpolated together: each phase's taps run over the block as vector loops
TP_BLOCK = 256


def true_peaks(signals, phases):
    """Per row, the largest |sample| and the true peak (linear).

    signals: (R, T) any float dtype; phases: (P, N_TAPS) float64, phase p giving the
    interpolated point y[n, p] = sum_k phases[p, k] x[n - k] (zeros before the signal);
    P = 0: no interpolation. Returns (sample_peaks, true_peaks), each (R,) float64, the
    true peak at least the sample peak.
    """
    require(np.ndim(signals) == 2, "(R, T) signals")
    require(np.ndim(phases) == 2 and np.shape(phases)[1] == N_TAPS,
            f"(P, {N_TAPS}) phases")
    n_rows, length = signals.shape
    n_chunks = max(1, (length + TP_CHUNK - 1) // TP_CHUNK)
    sample = np.zeros(n_rows * n_chunks)
    interpolated = np.zeros(n_rows * n_chunks)
    run_workers(true_peak_worker, n_rows * n_chunks, thread_count(),
                read_only(np.ascontiguousarray(signals)),
                read_only(np.ascontiguousarray(phases, np.float64)), sample, interpolated)
    return (sample.reshape(n_rows, n_chunks).max(axis=1),
            interpolated.reshape(n_rows, n_chunks).max(axis=1))


@cpu_kernel
def true_peak_worker(signals, phases, sample, interpolated, worker, n_workers):
    """One worker's share of `true_peaks`: tasks (row, chunk) worker, worker + n_workers,
    ..., each written to sample[task] and interpolated[task]."""
    n_rows, length = signals.shape
    n_chunks = max(1, (length + TP_CHUNK - 1) // TP_CHUNK)
    n_tasks = n_rows * n_chunks
    if sample.shape[0] < n_tasks or interpolated.shape[0] < n_tasks:
        return   # (the wrapper sizes them)
    gain = 0.0
    for p in range(phases.shape[0]):
        phase_gain = 0.0
        for k in range(N_TAPS):
            phase_gain += abs(phases[p, k])
        gain = max(gain, phase_gain)
    window = np.zeros(TP_BLOCK + N_TAPS - 1)
    values = np.zeros(TP_BLOCK)
    for task in range(worker, n_tasks, n_workers):
        row = signals[task // n_chunks]
        start = (task % n_chunks) * TP_CHUNK
        stop = min(length, start + TP_CHUNK)
        top = largest_abs(row[start:stop], 1.0)
        sample[task] = top
        for block in range(start, stop, TP_BLOCK):
            n = min(TP_BLOCK, stop - block)
            first = block - (N_TAPS - 1)
            for i in range(n + N_TAPS - 1):   # window[i] = x[first + i], 0 before x
                window[i] = np.float64(row[first + i]) if first + i >= 0 else 0.0
            if largest_abs(window[:n + N_TAPS - 1], 1.0) * gain <= top:
                continue   # no point of this block can exceed top
            for p in range(phases.shape[0]):
                values[:n] = 0.0
                for k in range(N_TAPS):
                    c = phases[p, k]
                    shifted = window[N_TAPS - 1 - k:N_TAPS - 1 - k + n]
                    for m in range(uint64(0), uint64(n)):   # vectorises
                        values[m] += c * shifted[m]
                top = max(top, largest_abs(values[:n], 1.0))
        interpolated[task] = top
