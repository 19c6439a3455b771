"""Stereo-image and Diff-MST feature stages: sums over a channel pair, and the mean
magnitude spectrum of the mid and side signals.

`pair_sums` reads both channels once per chunk of PAIR_CHUNK samples and returns per-chunk
float64 sums (each chunk its own row, added in order by the caller: any thread count,
same bits). `mean_magnitudes` transforms centred, reflect-padded Hann frames of L + R and
L - R (torch.stft's framing) with DUCC through rocket-fft and sums each bin's magnitude
over the frames of a fixed group (N_GROUPS groups, whatever the thread count), so memory
does not grow with the signal's length.
"""

import numpy as np
import rocket_fft
from numba import uint64

from ...kernels.jit import cpu_function, cpu_kernel
from ...kernels.workers import read_only, run_workers, thread_count
from .preconditions import require

# columns of pair_sums: sum L^2, R^2, L*R, (L+R)^2, (L-R)^2, max |L|, max |R|
LL, RR, LR, MID, SIDE, PEAK_L, PEAK_R = range(7)
N_PAIR_SUMS = 7
PAIR_CHUNK = 1 << 16
# frame groups of mean_magnitudes: each group's sum is one row, added in order
N_GROUPS = 16


def pair_sums(signal):
    """(n_chunks, N_PAIR_SUMS) float64 sums of a (2, T) signal of any float dtype (see
    the column names), chunk by chunk."""
    require(np.ndim(signal) == 2 and signal.shape[0] == 2, "a (2, T) signal")
    n_chunks = max(1, (signal.shape[1] + PAIR_CHUNK - 1) // PAIR_CHUNK)
    out = np.zeros((n_chunks, N_PAIR_SUMS))
    run_workers(pair_sums_worker, n_chunks, thread_count(),
                read_only(np.ascontiguousarray(signal)), out)
    return out


@cpu_kernel
def pair_sums_worker(signal, out, worker, n_workers):
    """One worker's share of `pair_sums`: chunks worker, worker + n_workers, ..."""
    length = signal.shape[1]
    if signal.shape[0] < 2 or out.shape[1] < N_PAIR_SUMS:
        return   # (the wrapper checks the shapes)
    for chunk in range(worker, out.shape[0], n_workers):
        start = chunk * PAIR_CHUNK
        stop = min(length, start + PAIR_CHUNK)
        left, right = signal[0, start:stop], signal[1, start:stop]
        ll = rr = lr = mid = side = 0.0
        peak_l = peak_r = 0.0
        for n in range(uint64(0), uint64(stop - start)):   # vectorises
            a = np.float64(left[n])
            b = np.float64(right[n])
            ll += a * a
            rr += b * b
            lr += a * b
            mid += (a + b) * (a + b)
            side += (a - b) * (a - b)
            peak_l = max(peak_l, abs(a))
            peak_r = max(peak_r, abs(b))
        row = out[chunk]
        row[LL], row[RR], row[LR], row[MID], row[SIDE] = ll, rr, lr, mid, side
        row[PEAK_L], row[PEAK_R] = peak_l, peak_r


@cpu_function
def reflected(signal, index):
    """signal[index] with the signal reflected at both ends (numpy's "reflect")."""
    length = signal.shape[0]
    if index < 0:
        index = -index
    if index >= length:
        index = 2 * (length - 1) - index
    return np.float64(signal[index])


def mean_magnitudes(signal, window, hop):
    """Per mix of a (2, T) signal, mid = L + R and side = L - R, the sum over frames of
    each bin's magnitude, and the frame count.

    Frame f is samples [f * hop - N/2, f * hop + N/2) of the signal reflected at its ends
    (N = len(window), even; T > N/2), times the window: torch.stft(center=True). Returns
    ((2, N/2 + 1) float64 sums, n_frames)."""
    fft_size = window.shape[0]
    require(np.ndim(signal) == 2 and signal.shape[0] == 2 and fft_size % 2 == 0
            and signal.shape[1] > fft_size // 2 and hop >= 1,
            "a (2, T) signal longer than half the even window")
    n_frames = 1 + signal.shape[1] // hop
    partial = np.zeros((N_GROUPS, 2, fft_size // 2 + 1))
    run_workers(mean_magnitudes_worker, N_GROUPS, thread_count(),
                read_only(np.ascontiguousarray(signal)),
                read_only(np.ascontiguousarray(window, np.float64)), int(hop), n_frames,
                partial)
    return partial.sum(axis=0), n_frames


@cpu_kernel
def mean_magnitudes_worker(signal, window, hop, n_frames, partial, worker, n_workers):
    """One worker's share of `mean_magnitudes`: groups worker, worker + n_workers, ...;
    group g sums the magnitudes of frames g, g + N_GROUPS, ... into partial[g]."""
    fft_size = window.shape[0]
    half = fft_size // 2
    length = signal.shape[1]
    if signal.shape[0] < 2 or partial.shape[2] < half + 1 or length <= half:
        return   # (the wrapper checks the shapes)
    frames = np.zeros((2, fft_size))
    spectra = np.empty((2, fft_size))
    axes = np.array([1])
    left, right = signal[0], signal[1]
    for group in range(worker, partial.shape[0], n_workers):
        sums = partial[group]
        for f in range(group, n_frames, partial.shape[0]):
            start = f * hop - half
            inside = start >= 0 and start + fft_size <= length
            for n in range(fft_size):
                if inside:
                    a = np.float64(left[start + n])
                    b = np.float64(right[start + n])
                else:
                    a = reflected(left, start + n)
                    b = reflected(right, start + n)
                frames[0, n] = (a + b) * window[n]
                frames[1, n] = (a - b) * window[n]
            rocket_fft.r2r_fftpack(frames, spectra, axes, True, True, 1.0, 1)
            for m in range(2):
                spectrum = spectra[m]
                row = sums[m]
                row[0] += abs(spectrum[0])
                row[half] += abs(spectrum[fft_size - 1])
                for k in range(1, half):
                    re = spectrum[2 * k - 1]
                    im = spectrum[2 * k]
                    row[k] += np.sqrt(re * re + im * im)
