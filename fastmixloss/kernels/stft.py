"""The fused STFT-loss kernel for the CPU.

Per block of frames of one item: read the frames of estimate and reference (reflect padding
by index), window them, real FFT (DUCC0 through rocket-fft), and add every bin's terms to
float64 partial sums. No spectrogram is ever held: memory beyond the inputs is workers x 2
x transforms x frames_per_block x fft_size x 2 buffers.

Two mixes say what is transformed and what is compared. The transforms are weighted mixes
of an item's channels (frame_mix: the identity gives the channels, (1, 1) and (1, -1) the
sum and difference signals, each sample rounded once as L + R would be); the term rows
(row_mix) are the transforms themselves, or the sum and difference of two of them, which
by linearity of the DFT are the spectra of L + R and L - R. So one pass gives the channels'
terms and the sum and difference signals' terms from two transforms per frame instead of
four. One kernel
signature per dtype serves every mix (each signature costs seconds of compile on first
use). Each (item, block) task writes its own partial sums and they are added in block
order, so results are bit-identical for any thread count, an item's sums do not depend on
the other items in the batch, and a signal fed in pieces of whole blocks gives the sums of
the whole.
"""

import numpy as np
import rocket_fft

from .frames import apply_window, read_mixed_frame
from .jit import cpu_function, cpu_kernel
from .layout import N_TERMS, FramePlan, frame_count, frames_per_block  # noqa: F401
from .terms import spectrum_terms, sum_difference_terms
from .workers import read_only, run_workers, worker_count

_SIMD_GROUP = 8   # frames DUCC transforms side by side (float32, AVX2), see below


@cpu_function
def simd_rows(n_frames):
    """n_frames rounded up to whole SIMD groups: the rows a transform's frames take in a
    block buffer, so that the next transform's frames start a group of their own."""
    return (n_frames + _SIMD_GROUP - 1) // _SIMD_GROUP * _SIMD_GROUP

# The sum and difference rows (L + R, L - R from the channels' transforms) take their
# terms from both transforms' spectra read once per frame (terms.sum_difference_terms):
# float64 copies of the mixed spectra, one per row, made those rows 2.5 times as costly
# as a transform's own (measured: 35 ms against 14 per 30 s of stereo and resolution).


# the transforms' axis, made here: np.array in the kernel compiled its own overload
# (0.07 s of a cold start)
_FFT_AXES = read_only(np.array([1]))


def block_count(plan):
    """Blocks of plan.frames_per_block frames (the last may be shorter) per row."""
    return (plan.n_frames + plan.frames_per_block - 1) // plan.frames_per_block


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


def stft_row_partials(est, ref, frame_mix, row_mix, window, plan, n_threads):
    """Term sums per (item, block of frames, row): float64 (B, n_blocks, R, N_TERMS).

    The transforms are frame_mix's weighted mixes of an item's channels (M of them, (M, C)
    weights: the identity for the channels, (1, 1) and (1, -1) for the sum and difference
    signals), each framed, windowed and transformed once; the term rows ((R, M)
    row_mix) are transforms (a single weight of 1), or a pair (1, 1) and (1, -1) over two
    transforms, added in float64 (see row_layout). The DFT is linear, so that pair over
    the channels' transforms gives the spectra of L + R and L - R without transforming
    them. Summing axis 1 in order gives the sums of the whole signal; a signal fed in
    pieces of whole blocks (evaluation/spectral_pass.py) gives the same partials, bit for
    bit. Frame k starts at plan.frame_start + k * hop_size.
    """
    n_items = est.shape[0]
    dtype = est.dtype
    n_blocks = block_count(plan)
    n_tasks = n_items * n_blocks
    partial = np.empty((n_tasks, row_mix.shape[0], N_TERMS))
    # each worker's buffers, made here: np.empty and np.zeros in the kernel compiled
    # overloads of their own (0.2 s of a cold start)
    half = simd_rows.py_func(plan.frames_per_block)   # in Python: nothing to compile
    n_workers = worker_count(n_tasks, n_threads)
    buffers = np.empty((n_workers, 2, 2 * frame_mix.shape[0] * half, plan.fft_size), dtype)
    sources, pair = row_layout(row_mix)
    run_workers(stft_rows_worker, n_tasks, n_threads, read_only(est),
                read_only(ref), read_only(np.ascontiguousarray(frame_mix, dtype)),
                read_only(sources), read_only(pair),
                read_only(np.ascontiguousarray(window, dtype)), plan, _FFT_AXES, buffers,
                partial)
    return partial.reshape(n_items, n_blocks, row_mix.shape[0], N_TERMS)


@cpu_function
def block_of_task(task, n_rows, n_blocks, plan):
    """(item, row, first frame, frame count, offset) of task (item * n_rows + row) *
    n_blocks + block. The reference's frames start at `offset` in the block buffer: the
    next multiple of the SIMD group after the estimate's (see stft_rows_worker)."""
    item = task // (n_rows * n_blocks)
    row = (task // n_blocks) % n_rows
    first = (task % n_blocks) * plan.frames_per_block
    count = min(plan.frames_per_block, plan.n_frames - first)
    offset = simd_rows(count)
    return item, row, first, count, offset


def row_layout(row_mix):
    """(sources, pair) of an (R, M) row mix: per row, the transform it is (a single
    weight of 1) or -1; pair = (sum row, difference row, transform a, transform b) where
    two rows are (1, 1) and (1, -1) over transforms a and b, else -1s. The library makes
    no other rows; any other raises ValueError."""
    row_mix = np.asarray(row_mix, np.float64)
    unit = (np.count_nonzero(row_mix, axis=1) == 1) & (row_mix.max(axis=1, initial=0) == 1)
    sources = np.where(unit, np.argmax(row_mix, axis=1), -1).astype(np.int64)
    pair = np.full(4, -1, np.int64)
    mixed = np.flatnonzero(~unit)
    if mixed.size:
        if mixed.size != 2:
            raise ValueError(f"row mix {row_mix.tolist()}: rows are transforms, or a "
                             "sum and difference pair")
        a, b = np.flatnonzero(row_mix[mixed[0]])[:2] if np.count_nonzero(
            row_mix[mixed[0]]) == 2 else (-1, -1)
        sums = [r for r in mixed if a >= 0 and np.array_equal(
            row_mix[r], _two(row_mix.shape[1], a, b, 1.0))]
        differences = [r for r in mixed if a >= 0 and np.array_equal(
            row_mix[r], _two(row_mix.shape[1], a, b, -1.0))]
        if len(sums) != 1 or len(differences) != 1:
            raise ValueError(f"row mix {row_mix.tolist()}: rows are transforms, or a "
                             "sum and difference pair")
        pair[:] = sums[0], differences[0], a, b
    return sources, pair


def _two(n, a, b, weight_b):
    row = np.zeros(n)
    row[a], row[b] = 1.0, weight_b
    return row


@cpu_kernel
def stft_rows_worker(est, ref, frame_mix, row_sources, pair, window, plan, fft_axes,
                     buffers, partial, worker, n_workers):
    """One worker's share of `stft_row_partials`: tasks (item, block) worker, worker +
    n_workers, ...; partial[task, row] holds the row's four term sums over the block."""
    n_items = est.shape[0]
    n_transforms = frame_mix.shape[0]
    n_rows = row_sources.shape[0]
    fft_size = plan.fft_size
    per_block = plan.frames_per_block
    n_blocks = (plan.n_frames + per_block - 1) // per_block
    lo = plan.win_start
    hi = plan.win_stop
    # Buffers live for the whole worker; entries outside the window's support stay zero.
    # One FFT call per block for every transform of estimate and reference. DUCC
    # transforms frames in SIMD groups of 8 (4 or 2 in narrower builds) and a ragged
    # remainder one at a time, which rounds differently; so transform m's estimate frames
    # sit at rows [m * offset, m * offset + count) and its reference frames M * offset
    # further, offset the next multiple of 8: estimate and reference frame j always take
    # the same path (loss(x, x) is exactly 0), whatever the other transforms.
    frames = buffers[worker, 0]
    for i in range(frames.shape[0]):
        for k in range(fft_size):
            frames[i, k] = 0
    spectra = buffers[worker, 1]
    for task in range(worker, n_items * n_blocks, n_workers):
        item = task // n_blocks
        first = (task % n_blocks) * per_block
        count = min(per_block, plan.n_frames - first)
        offset = simd_rows(count)
        for side in range(2):
            signal = est[item] if side == 0 else ref[item]
            for m in range(n_transforms):
                base = (side * n_transforms + m) * offset
                for j in range(count):
                    frame = frames[base + j]
                    read_mixed_frame(signal, frame_mix[m],
                                     plan.frame_start + (first + j) * plan.hop_size, frame,
                                     lo, hi)
                    apply_window(frame, window, lo, hi)
        used = 2 * n_transforms * offset
        rocket_fft.r2r_fftpack(frames[:used], spectra[:used], fft_axes, True, True, 1.0, 1)
        for row in range(n_rows):
            source = row_sources[row]
            if source < 0:
                continue
            sc_num = 0.0
            sc_den = 0.0
            log_dist = 0.0
            lin_dist = 0.0
            for j in range(count):   # the transform's own spectra
                a, b, c, d = spectrum_terms(spectra[source * offset + j],
                                            spectra[(n_transforms + source) * offset + j],
                                            plan.eps, plan.log_mode, plan.lin_mode)
                sc_num += a
                sc_den += b
                log_dist += c
                lin_dist += d
            partial[task, row, 0] = sc_num
            partial[task, row, 1] = sc_den
            partial[task, row, 2] = log_dist
            partial[task, row, 3] = lin_dist
        if pair[0] >= 0:   # the sum and difference rows, from both transforms at once
            first_a = pair[2] * offset
            first_b = pair[3] * offset
            ref_a = (n_transforms + pair[2]) * offset
            ref_b = (n_transforms + pair[3]) * offset
            s_num = s_den = s_log = s_lin = 0.0
            d_num = d_den = d_log = d_lin = 0.0
            for j in range(count):
                terms = sum_difference_terms(spectra[first_a + j], spectra[first_b + j],
                                             spectra[ref_a + j], spectra[ref_b + j],
                                             plan.eps, plan.log_mode, plan.lin_mode)
                s_num += terms[0]
                s_den += terms[1]
                s_log += terms[2]
                s_lin += terms[3]
                d_num += terms[4]
                d_den += terms[5]
                d_log += terms[6]
                d_lin += terms[7]
            sum_row = pair[0]
            difference_row = pair[1]
            partial[task, sum_row, 0] = s_num
            partial[task, sum_row, 1] = s_den
            partial[task, sum_row, 2] = s_log
            partial[task, sum_row, 3] = s_lin
            partial[task, difference_row, 0] = d_num
            partial[task, difference_row, 1] = d_den
            partial[task, difference_row, 2] = d_log
            partial[task, difference_row, 3] = d_lin
