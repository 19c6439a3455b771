"""The CUDA kernels: fused STFT terms, time-domain sums, log-cosh, NaN/Inf scan, copies.

Every reduction is deterministic: each block adds its threads' float64 partial sums by a
fixed shared-memory tree and writes them to its own slot of a global array, and
`sum_groups` adds those slots, again by a fixed tree, one block per row. No atomics take
part in any sum, so a launch configuration gives the same bits on every run. (The scan
uses an atomic minimum, which is order-independent.)

Block sizes must be powers of two (the trees halve them) and at most MAX_THREADS.
All shared memory is dynamic, and every dynamic shared array starts at its first byte: the
reduction area (RED_BYTES_PER_THREAD per thread, sum s of thread t at red[s * threads +
t], so that a warp's lanes touch consecutive words) and, in the fused STFT kernel, the
transforms' buffer share it, the reduction writing only after every thread has read its
bins (a barrier in between), so a block needs the larger of the two, not their sum;
launches pass shared_bytes(...) of it. (Static shared arrays would also do on a GPU, but
Numba's simulator hands them out with a race that can give two threads of a block
different arrays.)
Kernels never raise: the backend checks everything before launching.

No kernel divides 64-bit integers (a slow software routine on the GPU): strided loops are
while loops (a range() with a run-time step computes its trip count by division), index
splits use divmod32, and powers of two use shifts and masks.
tests/cuda/test_cuda_resources.py checks the compiled code for it.
"""

import math

from numba import cuda, float64, int64, uint32

from ..kernels.frames import reflect_index as _cpu_reflect_index
from ..kernels.layout import N_TERMS
from ..kernels.layout import SHIFT_SAMPLES
from .fft import bit_reverse, fft_stages, real_bin, slot
from .terms import bin_terms, log_cosh

MAX_THREADS = 256
# width of the reduction area: N_TERMS = 4, N_TIME_SUMS = 6, N_OPTION_TERMS = 6
MAX_SUMS = 8
RED_BYTES_PER_THREAD = MAX_SUMS * 8


def shared_bytes(threads, buffer_bytes=0):
    """Dynamic shared memory of a launch: the reduction area, or the transforms' buffer
    where that is larger (the two overlap, see above)."""
    return max(threads * RED_BYTES_PER_THREAD, buffer_bytes)

# the CPU's reflect padding by index, compiled as a device function from the same source
reflect_index = cuda.jit(device=True)(_cpu_reflect_index.py_func)

# STFT geometry tuple, by position
(G_FFT_SIZE, G_LOG2_M, G_HOP, G_LO, G_HI, G_N_FRAMES, G_PER_BLOCK, G_N_ROWS, G_N_GROUPS,
 G_USE_MIX, G_LOG_MODE, G_LIN_MODE, G_SWIZZLE_SHIFT, G_SWIZZLE_MASK) = range(14)
N_GEOMETRY = 14


@cuda.jit(device=True)
def divmod32(a, b):
    """(a // b, a % b) for 0 <= a < 2**32 and 0 < b < 2**32, by a 32-bit division."""
    q = int64(uint32(a) // uint32(b))
    return q, a - q * b


@cuda.jit(device=True)
def block_sum(red, n_sums):
    """Add every thread's red[s * threads + t] into red[s * threads], s < n_sums, by a
    fixed tree."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    cuda.syncthreads()
    stride = threads >> 1
    while stride > 0:
        if tid < stride:
            for s in range(n_sums):
                red[s * threads + tid] += red[s * threads + tid + stride]
        cuda.syncthreads()
        stride >>= 1


@cuda.jit(device=True)
def store_block_sums(red, n_sums, out, row):
    """out[row, s] = the block's total of sum s (after block_sum), for s < n_sums; a block
    may have fewer threads than sums."""
    tid = cuda.threadIdx.x
    s = tid
    while s < n_sums:
        out[row, s] = red[s * cuda.blockDim.x]
        s += cuda.blockDim.x


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
def bin_term_sums(buf, plane, f, k, log2_m, twiddle, geo, eps):
    """The four terms of bin k of frame f of the group (estimate: transform 2f,
    reference: 2f + 1), in float64."""
    m = 1 << log2_m
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    re_e, im_e = real_bin(buf, plane, (2 * f) << log2_m, k, m, twiddle, shift, mask)
    re_r, im_r = real_bin(buf, plane, (2 * f + 1) << log2_m, k, m, twiddle, shift, mask)
    return bin_terms(float64(re_e), float64(im_e), float64(re_r), float64(im_r), eps,
                     geo[G_LOG_MODE], geo[G_LIN_MODE])


@cuda.jit(device=True)
def task_frames(task, geo):
    """(item, row, first frame, frame count) of an STFT task: the group of up to
    per_block frames of one (item, row), tasks ordered (item, row, group); the index
    splits in 32 bits."""
    n_groups = geo[G_N_GROUPS]
    item, rest = divmod32(task, geo[G_N_ROWS] * n_groups)
    row, group = divmod32(rest, n_groups)
    first = group * geo[G_PER_BLOCK]
    return item, row, first, min(geo[G_PER_BLOCK], geo[G_N_FRAMES] - first)


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
    lo = geo[G_LO]
    hi = geo[G_HI]
    use_mix = geo[G_USE_MIX]
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    plane = per_block * 2 * m

    item, row, first, count = task_frames(task, geo)
    pad = geo[G_FFT_SIZE] >> 1

    # frames -> bit-reversed half-size complex inputs; transform t = 2 f + (0: est, 1: ref)
    q = tid
    while q < count * 2 * m:
        t = q >> log2_m
        j = q & (m - 1)
        start = (first + (t >> 1)) * geo[G_HOP] - pad
        pos = slot((t << log2_m) + bit_reverse(j, log2_m), shift, mask)
        signal = ref if t & 1 else est
        buf[pos] = windowed_sample(signal, item, row, mix, use_mix, start, 2 * j, window,
                                   lo, hi)
        buf[plane + pos] = windowed_sample(signal, item, row, mix, use_mix, start,
                                           2 * j + 1, window, lo, hi)
        q += threads
    cuda.syncthreads()
    fft_stages(buf, plane, count * 2, log2_m, twiddle, shift, mask)

    sc_num = 0.0
    sc_den = 0.0
    log_dist = 0.0
    lin_dist = 0.0
    # bins 0..m-1 of every frame by shifts and masks; the thread with bin 0 also takes
    # bin m (both come from Z[0])
    q = tid
    while q < count << log2_m:
        f = q >> log2_m
        k = q & (m - 1)
        a, b, c, d = bin_term_sums(buf, plane, f, k, log2_m, twiddle, geo, eps)
        sc_num += a
        sc_den += b
        log_dist += c
        lin_dist += d
        if k == 0:
            a, b, c, d = bin_term_sums(buf, plane, f, m, log2_m, twiddle, geo, eps)
            sc_num += a
            sc_den += b
            log_dist += c
            lin_dist += d
        q += threads
    # in the fused kernel red overlays buf: no thread may write its sums over bins that
    # another is still reading
    cuda.syncthreads()
    red[0 * threads + tid] = sc_num
    red[1 * threads + tid] = sc_den
    red[2 * threads + tid] = log_dist
    red[3 * threads + tid] = lin_dist
    block_sum(red, N_TERMS)
    store_block_sums(red, N_TERMS, partial, task)
    # nobody may overwrite buf or red for a next task before these reads are done
    cuda.syncthreads()


@cuda.jit(cache=True)
def stft_shared(est, ref, mix, window, twiddle, geo, eps, partial):
    """The fused path: one block per task, transforms in dynamic shared memory of
    2 * per_block * fft_size elements of the signals' dtype; the reduction area overlays
    their first bytes once the bins are read."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    buf = cuda.shared.array(0, twiddle.dtype)
    frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, cuda.blockIdx.x,
                      partial, red)


@cuda.jit(cache=True)
def stft_scratch(est, ref, mix, window, twiddle, geo, eps, partial, scratch):
    """The same computation with each block's transforms in its own row of global
    `scratch` (for transforms larger than shared memory); blocks loop over tasks."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    buf = scratch[cuda.blockIdx.x]
    task = cuda.blockIdx.x
    while task < partial.shape[0]:
        frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, task, partial,
                          red)
        task += cuda.gridDim.x


# --------------------------------------------------------------------------- reduction

@cuda.jit(cache=True)
def sum_groups(partial, out):
    """out[r, s] = sum over g of partial[r, g, s], one block per row r, fixed order."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    row = cuda.blockIdx.x
    n_sums = partial.shape[2]
    for s in range(n_sums):
        total = 0.0
        g = tid
        while g < partial.shape[1]:
            total += partial[row, g, s]
            g += threads
        red[s * threads + tid] = total
    block_sum(red, n_sums)
    store_block_sums(red, n_sums, out, row)


# -------------------------------------------------------------------------- time domain

@cuda.jit(cache=True)
def row_shifts(est, ref, shifts):
    """shifts[row] = (mean of ref, mean of est - ref) over the row's first samples, as
    kernels/time.py's row_shifts; one block per row of the (N, T) inputs."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    row = cuda.blockIdx.x
    n = min(est.shape[1], SHIFT_SAMPLES)
    k_y = 0.0
    k_d = 0.0
    i = tid
    while i < n:
        y = float64(ref[row, i])
        k_y += y
        k_d += float64(est[row, i]) - y
        i += threads
    red[tid] = k_y
    red[threads + tid] = k_d
    block_sum(red, 2)
    if tid == 0:
        shifts[row, 0] = red[0] / n
        shifts[row, 1] = red[threads] / n


@cuda.jit(cache=True)
def time_sums(est, ref, shifts, chunk, partial):
    """partial[row, c, :] = the shifted sums (kernels/time.py's accumulate_time_sums) of
    samples [c * chunk, (c + 1) * chunk) of one row; one block per (row, c)."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    row, c = divmod32(cuda.blockIdx.x, partial.shape[1])
    stop = min((c + 1) * chunk, est.shape[1])
    k_y = shifts[row, 0]
    k_d = shifts[row, 1]
    s_y = 0.0
    s_yy = 0.0
    s_d = 0.0
    s_dd = 0.0
    s_dy = 0.0
    s_abs_d = 0.0
    i = c * chunk + tid
    while i < stop:
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
        i += threads
    red[0 * threads + tid] = s_y
    red[1 * threads + tid] = s_yy
    red[2 * threads + tid] = s_d
    red[3 * threads + tid] = s_dd
    red[4 * threads + tid] = s_dy
    red[5 * threads + tid] = s_abs_d
    block_sum(red, 6)
    store_block_sums(red, 6, partial[row], c)


@cuda.jit(cache=True)
def log_cosh_sums(est, ref, a, eps, chunk, partial):
    """partial[row, c, 0] = sum of ln(cosh(a (est - ref)) + eps) over one chunk."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    tid = cuda.threadIdx.x
    row, c = divmod32(cuda.blockIdx.x, partial.shape[1])
    stop = min((c + 1) * chunk, est.shape[1])
    total = 0.0
    i = c * chunk + tid
    while i < stop:
        total += log_cosh(a * (float64(est[row, i]) - float64(ref[row, i])), eps)
        i += cuda.blockDim.x
    red[tid] = total
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
    i = start
    while i < flat_est.shape[0]:
        if not math.isfinite(flat_est[i]):
            cuda.atomic.min(found, 0, i)
            break
        i += stride
    i = start
    while i < flat_ref.shape[0]:
        if not math.isfinite(flat_ref[i]):
            cuda.atomic.min(found, 1, i)
            break
        i += stride


@cuda.jit(cache=True)
def finite_peak(flat_est, flat_ref, out):
    """out[0]: the largest finite |sample| of both signals (an atomic maximum, so the
    result does not depend on the order); out[1]: 1 where a NaN or Inf was seen. Both
    are initialised to 0 by the caller; flat_est and flat_ref have one size."""
    i = cuda.grid(1)
    stride = cuda.gridsize(1)
    peak = 0.0
    bad = False
    while i < flat_est.shape[0]:
        for value in (flat_est[i], flat_ref[i]):
            magnitude = abs(float64(value))
            if math.isfinite(magnitude):
                peak = max(peak, magnitude)
            else:
                bad = True
        i += stride
    cuda.atomic.max(out, 0, peak)
    if bad:
        out[1] = 1.0


@cuda.jit(cache=True)
def copy_3d(src, dst):
    """dst[...] = src[...] with a cast to dst's dtype; src may have any strides. Grid:
    x along samples, y along channels, z along items, each looping where the grid is
    smaller (no index is split by division)."""
    b = cuda.blockIdx.z
    while b < dst.shape[0]:
        c = cuda.blockIdx.y
        while c < dst.shape[1]:
            t = cuda.grid(1)
            while t < dst.shape[2]:
                dst[b, c, t] = src[b, c, t]
                t += cuda.gridsize(1)
            c += cuda.gridDim.y
        b += cuda.gridDim.z
