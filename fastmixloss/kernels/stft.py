"""The fused STFT-loss kernel for the CPU.

Per block of frames of one signal row: read the frames from estimate and reference (reflect
padding by index), window them, real FFT (DUCC0 through rocket-fft), and add every bin's
terms to float64 partial sums. No spectrogram is ever held: memory beyond the inputs is
workers x 2 x frames_per_block x fft_size x 2 buffers.

Rows are weighted mixes of an item's channels: the identity matrix gives the channels
themselves, (1, 1) and (1, -1) the sum and difference signals. One kernel signature per
dtype serves both (each signature costs seconds of compile on first use). Each (item, row,
block) task writes its own partial sums and they are added in task order, so results are
bit-identical for any thread count and an item's sums do not depend on the other items in
the batch.
"""

import numpy as np
import rocket_fft

from .frames import apply_window, read_mixed_frame
from .jit import cpu_function, cpu_kernel
from .layout import N_TERMS, FramePlan, frame_count, frames_per_block  # noqa: F401
from .terms import spectrum_terms
from .workers import read_only, run_workers

_SIMD_GROUP = 8   # frames DUCC transforms side by side (float32, AVX2), see below


def block_count(plan):
    """Blocks of plan.frames_per_block frames (the last may be shorter) per row."""
    return (plan.n_frames + plan.frames_per_block - 1) // plan.frames_per_block


def stft_term_sums(est, ref, mix, window, plan, n_threads):
    """Term sums per (item, row): float64 array (B, R, N_TERMS), see `terms`.

    Parameters
    ----------
    est, ref : (B, C, T) C-contiguous arrays of one float dtype.
    mix : None (the rows are the C channels) or (R, C) channel weights.
    window : (fft_size,) array, zero outside [plan.win_start, plan.win_stop).
    plan : FramePlan
    n_threads : int
        Workers to use (the caller reads numba.get_num_threads()).
    """
    return row_block_sums(stft_worker, N_TERMS, est, ref, mix, window, plan, n_threads)


def row_block_sums(worker, n_terms, est, ref, mix, window, plan, n_threads, *extra):
    """Run an STFT worker over every (item, row, block) task; its sums per (item, row).

    The worker is called as worker(est, ref, mix, window, plan, *extra, partial, w, n)
    with read-only views (one compiled signature whatever the caller's flags) and writes
    partial[task, :n_terms]; each row's blocks are added in block order, so the result is
    the same for any thread count. mix=None means the identity (rows are the channels).
    Returns float64 (B, R, n_terms).
    """
    n_items, n_channels, _ = est.shape
    dtype = est.dtype
    mix = np.eye(n_channels, dtype=dtype) if mix is None else np.ascontiguousarray(mix, dtype)
    n_rows = mix.shape[0]
    n_blocks = block_count(plan)
    n_tasks = n_items * n_rows * n_blocks
    partial = np.empty((n_tasks, n_terms))
    run_workers(worker, n_tasks, n_threads, read_only(est), read_only(ref), read_only(mix),
                read_only(np.ascontiguousarray(window, dtype)), plan, *extra, partial)
    # tasks are ordered (item, row, block)
    return partial.reshape(n_items, n_rows, n_blocks, n_terms).sum(axis=2)


@cpu_function
def block_of_task(task, n_rows, n_blocks, plan):
    """(item, row, first frame, frame count, offset) of task (item * n_rows + row) *
    n_blocks + block. The reference's frames start at `offset` in the block buffer: the
    next multiple of the SIMD group after the estimate's (see stft_worker)."""
    item = task // (n_rows * n_blocks)
    row = (task // n_blocks) % n_rows
    first = (task % n_blocks) * plan.frames_per_block
    count = min(plan.frames_per_block, plan.n_frames - first)
    offset = (count + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
    return item, row, first, count, offset


@cpu_kernel
def stft_worker(est, ref, mix, window, plan, partial, worker, n_workers):
    """One worker's share of `stft_term_sums`: tasks worker, worker + n_workers, ...

    partial: (B * R * n_blocks, N_TERMS) float64, task (item, row, block) at
    (item * R + row) * n_blocks + block.
    """
    n_items = est.shape[0]
    n_rows = mix.shape[0]
    fft_size = plan.fft_size
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    n_tasks = n_items * n_rows * n_blocks
    pad = fft_size // 2
    lo = plan.win_start
    hi = plan.win_stop
    fft_axes = np.array([1])
    # Buffers live for the whole worker; entries outside the window's support stay zero.
    # One FFT call per block for estimate and reference halves the calls. DUCC transforms
    # frames in SIMD groups of 8 (4 or 2 in narrower builds) and a ragged remainder one at a
    # time, which rounds differently; so the reference half starts at the next multiple of
    # 8 and whole groups are transformed: estimate frame j and reference frame j always
    # take the same path, and loss(x, x) is exactly 0.
    half = (per_block + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP
    frames = np.zeros((2 * half, fft_size), est.dtype)
    spectra = np.empty((2 * half, fft_size), est.dtype)
    for task in range(worker, n_tasks, n_workers):
        item, row, first, count, offset = block_of_task(task, n_rows, n_blocks, plan)
        weights = mix[row]
        # estimate frames at rows [0, count), reference frames at [offset, offset + count);
        # one loop over both keeps a single inlined copy of the framing code
        for side in range(2):
            signal = est[item] if side == 0 else ref[item]
            for j in range(count):
                frame = frames[side * offset + j]
                read_mixed_frame(signal, weights, (first + j) * plan.hop_size - pad, frame,
                                 lo, hi)
                apply_window(frame, window, lo, hi)
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
