"""The CUDA kernels: fused STFT terms, time-domain sums, log-cosh, NaN/Inf scan, copies.

Every reduction is deterministic: each block adds its threads' float64 partial sums by a
fixed shared-memory tree and writes them to its own slot of a global array, and
`sum_groups` adds those slots, again by a fixed tree, one block per row. No atomics take
part in any sum, so a launch configuration gives the same bits on every run. (The scan
uses an atomic minimum, which is order-independent.)

Block sizes must be powers of two (the trees halve them) and at most MAX_THREADS.
All shared memory is dynamic, and every dynamic shared array starts at its first byte: the
reduction area (RED_BYTES_PER_THREAD per thread) and, in the fused STFT kernel, the
transforms' buffer share it, the reduction writing only after every thread has read its
bins (a barrier in between), so a block needs the larger of the two, not their sum;
launches pass shared_bytes(...) of it. (Static shared arrays would also do on a GPU, but
Numba's simulator hands them out with a race that can give two threads of a block
different arrays.)
Kernels never raise: the backend checks everything before launching.
"""

import math

from numba import cuda, float64

from ..kernels.frames import reflect_index as _cpu_reflect_index
from ..kernels.layout import N_TERMS
from ..kernels.layout import SHIFT_SAMPLES
from .fft import bit_reverse, fft_stages, real_bin
from .terms import bin_terms, log_cosh

MAX_THREADS = 256
MAX_SUMS = 8     # width of the reduction area: N_TERMS = 4, N_TIME_SUMS = 6
RED_BYTES_PER_THREAD = MAX_SUMS * 8


def shared_bytes(threads, buffer_bytes=0):
    """Dynamic shared memory of a launch: the reduction area, or the transforms' buffer
    where that is larger (the two overlap, see above)."""
    return max(threads * RED_BYTES_PER_THREAD, buffer_bytes)

# the CPU's reflect padding by index, compiled as a device function from the same source
reflect_index = cuda.jit(device=True)(_cpu_reflect_index.py_func)

# STFT geometry tuple, by position
(G_FFT_SIZE, G_LOG2_M, G_HOP, G_LO, G_HI, G_N_FRAMES, G_PER_BLOCK, G_N_ROWS, G_N_GROUPS,
 G_USE_MIX, G_LOG_MODE, G_LIN_MODE) = range(12)


@cuda.jit(device=True)
def block_sum(red, n_sums):
    """Add every thread's red[t * MAX_SUMS + s] into red[s], s < n_sums, by a fixed tree."""
    tid = cuda.threadIdx.x
    cuda.syncthreads()
    stride = cuda.blockDim.x >> 1
    while stride > 0:
        if tid < stride:
            for s in range(n_sums):
                red[tid * MAX_SUMS + s] += red[(tid + stride) * MAX_SUMS + s]
        cuda.syncthreads()
        stride >>= 1


# ------------------------------------------------------------------------------- STFT

@cuda.jit(device=True)
def windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi):
    """window[n] * (frame sample n), the frame starting at `start` in unpadded coordinates;
    zero outside the window's support [lo, hi), where the signal is never read. With
    use_mix the sample is sum_c mix[row, c] * channel c, rounded as the CPU's
    read_mixed_frame rounds it (in the signal's dtype, channel by channel)."""
    if n < lo or n >= hi:
        return window.dtype.type(0.0)
    i = reflect_index(start + n, signal.shape[2])
    if use_mix:
        value = signal[item, 0, i]
        if mix[row, 0] != 1:
            value = value * mix[row, 0]
        for c in range(1, signal.shape[1]):
            value += mix[row, c] * signal[item, c, i]
    else:
        value = signal[item, row, i]
    return value * window[n]


@cuda.jit(device=True)
def frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, task, partial, red):
    """Term sums of one task, a group of up to per_block frames of one (item, row), into
    partial[task, :]. buf holds 2 * per_block half-size transforms (estimate and reference
    of each frame) in two planes. Every thread of the block must call this."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    per_block = geo[G_PER_BLOCK]
    n_rows = geo[G_N_ROWS]
    n_groups = geo[G_N_GROUPS]
    lo = geo[G_LO]
    hi = geo[G_HI]
    use_mix = geo[G_USE_MIX]
    plane = per_block * 2 * m

    item = task // (n_rows * n_groups)
    rest = task - item * n_rows * n_groups
    row = rest // n_groups
    first = (rest - row * n_groups) * per_block
    count = min(per_block, geo[G_N_FRAMES] - first)
    pad = geo[G_FFT_SIZE] // 2

    # frames -> bit-reversed half-size complex inputs; transform t = 2 f + (0: est, 1: ref)
    for q in range(tid, count * 2 * m, threads):
        t = q >> log2_m
        j = q & (m - 1)
        start = (first + (t >> 1)) * geo[G_HOP] - pad
        pos = (t << log2_m) + bit_reverse(j, log2_m)
        if t & 1:
            buf[pos] = windowed_sample(ref, item, row, mix, use_mix, start, 2 * j,
                                       window, lo, hi)
            buf[plane + pos] = windowed_sample(ref, item, row, mix, use_mix, start,
                                               2 * j + 1, window, lo, hi)
        else:
            buf[pos] = windowed_sample(est, item, row, mix, use_mix, start, 2 * j,
                                       window, lo, hi)
            buf[plane + pos] = windowed_sample(est, item, row, mix, use_mix, start,
                                               2 * j + 1, window, lo, hi)
    cuda.syncthreads()
    fft_stages(buf, plane, count * 2, log2_m, twiddle)

    sc_num = 0.0
    sc_den = 0.0
    log_dist = 0.0
    lin_dist = 0.0
    bins = m + 1
    for q in range(tid, count * bins, threads):
        f = q // bins
        k = q - f * bins
        re_e, im_e = real_bin(buf, plane, (2 * f) << log2_m, k, m, twiddle)
        re_r, im_r = real_bin(buf, plane, (2 * f + 1) << log2_m, k, m, twiddle)
        a, b, c, d = bin_terms(float64(re_e), float64(im_e), float64(re_r), float64(im_r),
                               eps, geo[G_LOG_MODE], geo[G_LIN_MODE])
        sc_num += a
        sc_den += b
        log_dist += c
        lin_dist += d
    # in the fused kernel red overlays buf: no thread may write its sums over bins that
    # another is still reading
    cuda.syncthreads()
    red[tid * MAX_SUMS + 0] = sc_num
    red[tid * MAX_SUMS + 1] = sc_den
    red[tid * MAX_SUMS + 2] = log_dist
    red[tid * MAX_SUMS + 3] = lin_dist
    block_sum(red, N_TERMS)
    for s in range(tid, N_TERMS, threads):   # a block may have fewer threads than sums
        partial[task, s] = red[s]
    # nobody may overwrite buf or red for a next task before these reads are done
    cuda.syncthreads()


@cuda.jit(cache=True)
def stft_shared(est, ref, mix, window, twiddle, geo, eps, partial):
    """The fused path: one block per task, transforms in dynamic shared memory of
    2 * per_block * fft_size elements of the signals' dtype; the reduction area overlays
    their first bytes once the bins are read."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    buf = cuda.shared.array(0, twiddle.dtype)
    frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, cuda.blockIdx.x,
                      partial, red)


@cuda.jit(cache=True)
def stft_scratch(est, ref, mix, window, twiddle, geo, eps, partial, scratch):
    """The same computation with each block's transforms in its own row of global
    `scratch` (for transforms larger than shared memory); blocks loop over tasks."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    buf = scratch[cuda.blockIdx.x]
    for task in range(cuda.blockIdx.x, partial.shape[0], cuda.gridDim.x):
        frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, task, partial,
                          red)


# --------------------------------------------------------------------------- reduction

@cuda.jit(cache=True)
def sum_groups(partial, out):
    """out[r, s] = sum over g of partial[r, g, s], one block per row r, fixed order."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    tid = cuda.threadIdx.x
    row = cuda.blockIdx.x
    n_sums = partial.shape[2]
    for s in range(n_sums):
        total = 0.0
        for g in range(tid, partial.shape[1], cuda.blockDim.x):
            total += partial[row, g, s]
        red[tid * MAX_SUMS + s] = total
    block_sum(red, n_sums)
    for s in range(tid, n_sums, cuda.blockDim.x):
        out[row, s] = red[s]


# -------------------------------------------------------------------------- time domain

@cuda.jit(cache=True)
def row_shifts(est, ref, shifts):
    """shifts[row] = (mean of ref, mean of est - ref) over the row's first samples, as
    kernels/time.py's row_shifts; one block per row of the (N, T) inputs."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    tid = cuda.threadIdx.x
    row = cuda.blockIdx.x
    n = min(est.shape[1], SHIFT_SAMPLES)
    k_y = 0.0
    k_d = 0.0
    for i in range(tid, n, cuda.blockDim.x):
        y = float64(ref[row, i])
        k_y += y
        k_d += float64(est[row, i]) - y
    red[tid * MAX_SUMS + 0] = k_y
    red[tid * MAX_SUMS + 1] = k_d
    block_sum(red, 2)
    for s in range(tid, 2, cuda.blockDim.x):
        shifts[row, s] = red[s] / n


@cuda.jit(cache=True)
def time_sums(est, ref, shifts, chunk, partial):
    """partial[row, c, :] = the shifted sums (kernels/time.py's accumulate_time_sums) of
    samples [c * chunk, (c + 1) * chunk) of one row; one block per (row, c)."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    tid = cuda.threadIdx.x
    n_chunks = partial.shape[1]
    row = cuda.blockIdx.x // n_chunks
    c = cuda.blockIdx.x - row * n_chunks
    stop = min((c + 1) * chunk, est.shape[1])
    k_y = shifts[row, 0]
    k_d = shifts[row, 1]
    s_y = 0.0
    s_yy = 0.0
    s_d = 0.0
    s_dd = 0.0
    s_dy = 0.0
    s_abs_d = 0.0
    for i in range(c * chunk + tid, stop, cuda.blockDim.x):
        y = float64(ref[row, i])
        d = float64(est[row, i]) - y
        s_abs_d += abs(d)
        y -= k_y
        d -= k_d
        s_y += y
        s_yy += y * y
        s_d += d
        s_dd += d * d
        s_dy += d * y
    red[tid * MAX_SUMS + 0] = s_y
    red[tid * MAX_SUMS + 1] = s_yy
    red[tid * MAX_SUMS + 2] = s_d
    red[tid * MAX_SUMS + 3] = s_dd
    red[tid * MAX_SUMS + 4] = s_dy
    red[tid * MAX_SUMS + 5] = s_abs_d
    block_sum(red, 6)
    for s in range(tid, 6, cuda.blockDim.x):
        partial[row, c, s] = red[s]


@cuda.jit(cache=True)
def log_cosh_sums(est, ref, a, eps, chunk, partial):
    """partial[row, c, 0] = sum of ln(cosh(a (est - ref)) + eps) over one chunk."""
    red = cuda.shared.array(0, float64)      # reduction area: red[t * MAX_SUMS + s]
    tid = cuda.threadIdx.x
    n_chunks = partial.shape[1]
    row = cuda.blockIdx.x // n_chunks
    c = cuda.blockIdx.x - row * n_chunks
    stop = min((c + 1) * chunk, est.shape[1])
    total = 0.0
    for i in range(c * chunk + tid, stop, cuda.blockDim.x):
        total += log_cosh(a * (float64(est[row, i]) - float64(ref[row, i])), eps)
    red[tid * MAX_SUMS + 0] = total
    block_sum(red, 1)
    if tid == 0:
        partial[row, c, 0] = red[0]


# ------------------------------------------------------------------------ checks, copies

@cuda.jit(cache=True)
def first_nonfinite(flat_est, flat_ref, found):
    """found[0] (est), found[1] (ref): the smallest flat index of a NaN or Inf, left as
    initialised (the size) where there is none. Atomic minimum: the result does not
    depend on the order."""
    start = cuda.grid(1)
    stride = cuda.gridsize(1)
    for i in range(start, flat_est.shape[0], stride):
        if not math.isfinite(flat_est[i]):
            cuda.atomic.min(found, 0, i)
            break
    for i in range(start, flat_ref.shape[0], stride):
        if not math.isfinite(flat_ref[i]):
            cuda.atomic.min(found, 1, i)
            break


@cuda.jit(cache=True)
def copy_3d(src, dst):
    """dst[...] = src[...] with a cast to dst's dtype; src may have any strides."""
    channels = dst.shape[1]
    length = dst.shape[2]
    per_item = channels * length
    for i in range(cuda.grid(1), dst.size, cuda.gridsize(1)):
        b = i // per_item
        rest = i - b * per_item
        c = rest // length
        t = rest - c * length
        dst[b, c, t] = src[b, c, t]
