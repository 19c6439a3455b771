"""The fused STFT-loss kernel for the CPU.

Per block of frames of one signal row: read the frames from estimate and reference (reflect
padding by index), window them, real FFT (DUCC0 through rocket-fft), and add every bin's
terms to float64 partial sums. No spectrogram is ever held: memory beyond the inputs is
threads x 2 x frames_per_block x fft_size x 2 buffers.

Rows are the channels of each item, or weighted mixes of them (the sum and difference
signals) when `mix` is given. Each (item, row, block) task writes its own partial sums and a
serial pass adds them in task order, so results are bit-identical for any thread count and
an item's sums do not depend on the other items in the batch.
"""

import numba
import numpy as np
import rocket_fft

from .frames import apply_window, read_frame, read_mixed_frame
from .jit import cpu_kernel
from .layout import N_TERMS, FramePlan, frame_count, frames_per_block  # noqa: F401
from .terms import spectrum_terms

_SIMD_GROUP = 8   # frames DUCC transforms side by side (float32, AVX2), see below


@cpu_kernel
def stft_term_sums(est, ref, mix, window, plan, n_threads):
    """Term sums per (item, row): float64 array (B, R, N_TERMS), see `terms`.

    est, ref: (B, C, T) arrays of one float dtype. mix: None (rows are the C channels) or
    an (R, C) array of channel weights in the same dtype. window: (fft_size,) in the same
    dtype, zero outside [plan.win_start, plan.win_stop). n_threads: workers to use
    (numba.get_num_threads() read by the caller; reading it here would defeat caching).
    """
    n_items, n_channels, _ = est.shape
    n_rows = n_channels if mix is None else mix.shape[0]
    fft_size = plan.fft_size
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    tasks_per_item = n_rows * n_blocks
    n_tasks = n_items * tasks_per_item
    pad = fft_size // 2
    lo = plan.win_start
    hi = plan.win_stop
    fft_axes = np.array([1])
    partial = np.zeros((n_tasks, N_TERMS))
    n_workers = max(1, min(n_threads, n_tasks))

    for worker in numba.prange(n_workers):
        # Buffers live for the whole worker; entries outside the window's support stay zero.
        # One FFT call per block for estimate and reference halves the calls. DUCC
        # transforms frames in SIMD groups of 8 (4 or 2 in narrower builds) and a ragged
        # remainder one at a time, which rounds differently; so the reference half starts
        # at the next multiple of 8 and whole groups are transformed: estimate frame j and
        # reference frame j always take the same path, and loss(x, x) is exactly 0.
        half = (per_block + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
        frames = np.zeros((2 * half, fft_size), est.dtype)
        spectra = np.empty((2 * half, fft_size), est.dtype)
        for task in range(worker, n_tasks, n_workers):
            item = task // tasks_per_item
            row = (task % tasks_per_item) // n_blocks
            first = (task % n_blocks) * per_block
            count = min(per_block, plan.n_frames - first)
            offset = (count + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP   # ref's first row
            for j in range(count):
                start = (first + j) * plan.hop_size - pad
                frame_e = frames[j]
                frame_r = frames[offset + j]
                if mix is None:
                    read_frame(est[item, row], start, frame_e, lo, hi)
                    read_frame(ref[item, row], start, frame_r, lo, hi)
                else:
                    read_mixed_frame(est[item], mix[row], start, frame_e, lo, hi)
                    read_mixed_frame(ref[item], mix[row], start, frame_r, lo, hi)
                apply_window(frame_e, window, lo, hi)
                apply_window(frame_r, window, lo, hi)
            rocket_fft.r2r_fftpack(frames[:2 * offset], spectra[:2 * offset], fft_axes,
                                   True, True, 1.0, 1)
            sc_num = 0.0
            sc_den = 0.0
            log_dist = 0.0
            lin_dist = 0.0
            for j in range(count):
                a, b, c, d = spectrum_terms(spectra[j], spectra[offset + j], plan.eps,
                                            plan.log_mode, plan.lin_mode)
                sc_num += a
                sc_den += b
                log_dist += c
                lin_dist += d
            partial[task, 0] = sc_num
            partial[task, 1] = sc_den
            partial[task, 2] = log_dist
            partial[task, 3] = lin_dist

    sums = np.zeros((n_items, n_rows, N_TERMS))
    for task in range(n_tasks):   # fixed order: deterministic
        item = task // tasks_per_item
        row = (task % tasks_per_item) // n_blocks
        for t in range(N_TERMS):
            sums[item, row, t] += partial[task, t]
    return sums
