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

The STFT kernels come in pairs built by stft_kernels from one frame-group function: the
fused kernel (the transforms in shared memory) and the scratch kernel (in global memory).
A frame-group function loads its frames with a loader built by frame_loader from a sample
reader; options.py builds its pair the same way from its own reader and terms. Each pair
is compiled on its own, so the plain kernel pays nothing for the options' branches.

No kernel divides 64-bit integers (a slow software routine on the GPU): strided loops are
while loops (a range() with a run-time step computes its trip count by division), index
splits use divmod32, and powers of two use shifts and masks.
tests/cuda/test_cuda_resources.py checks the compiled code for it.
"""

import math

from numba import cuda, float64, int64, uint32

from ..kernels.layout import SHIFT_D, SHIFT_SAMPLES, SHIFT_Y
from .fft import bit_reverse, fft_stages, real_bin, slot
from .terms import add_shift_sample, add_time_sample, bin_terms, log_cosh, reflect_index

MAX_THREADS = 256
# width of the reduction area: N_TERMS = 4, N_TIME_SUMS = 6, N_OPTION_TERMS = 6
MAX_SUMS = 8
RED_BYTES_PER_THREAD = MAX_SUMS * 8


def shared_bytes(threads, buffer_bytes=0):
    """Dynamic shared memory of a launch: the reduction area, or the transforms' buffer
    where that is larger (the two overlap, see above)."""
    return max(threads * RED_BYTES_PER_THREAD, buffer_bytes)


# STFT geometry tuple, by position
(G_FFT_SIZE, G_LOG2_M, G_HOP, G_LO, G_HI, G_N_FRAMES, G_PER_BLOCK, G_N_ROWS, G_N_GROUPS,
 G_USE_MIX, G_LOG_MODE, G_LIN_MODE, G_SWIZZLE_SHIFT, G_SWIZZLE_MASK) = range(14)
N_GEOMETRY = 14


def _kernel(function, name):
    """cuda.jit(cache=True) of a kernel built in a factory, under its own name (the
    compiled entry's and the cache file's)."""
    function.__name__ = function.__qualname__ = name
    return cuda.jit(cache=True)(function)


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


@cuda.jit(device=True)
def block_totals(sums, red):
    """Every thread's tuple `sums` into the reduction area, added by block_sum: the
    block's total of sums[s] is then red[s * threads]. Every thread must call this."""
    threads = cuda.blockDim.x
    for s in range(len(sums)):
        red[s * threads + cuda.threadIdx.x] = sums[s]
    block_sum(red, len(sums))


@cuda.jit(device=True)
def store_block_totals(sums, red, out, row):
    """out[row, s] = the block's total of every thread's sums[s]. red may overlay data
    that other threads still read (the fused STFT kernel's transforms), and the caller may
    reuse it next: barriers on both sides. Every thread must call this."""
    cuda.syncthreads()
    block_totals(sums, red)
    store_block_sums(red, len(sums), out, row)
    cuda.syncthreads()


# ------------------------------------------------------------------------------- STFT

@cuda.jit(device=True)
def mixed_sample(signal, item, row, mix, use_mix, i, like):
    """Sample i of the row in the dtype of the array `like`: channel `row`, or with use_mix
    sum_c mix[row, c] * channel c, added channel by channel in that dtype. In the
    signal's dtype it is rounded as the CPU's read_mixed_frame rounds a frame; in float64,
    as the CPU's FIR reads its input."""
    cast = like.dtype.type
    if use_mix:
        value = cast(signal[item, 0, i])
        if mix[row, 0] != 1:
            value = value * mix[row, 0]
        for c in range(1, signal.shape[1]):
            value += mix[row, c] * cast(signal[item, c, i])
        return value
    return cast(signal[item, row, i])


@cuda.jit(device=True)
def windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi, extra):
    """window[n] * (frame sample n), the frame starting at `start` in unpadded coordinates
    and reflected at the ends; zero outside the window's support [lo, hi), where the
    signal is never read. The plain kernel's sample reader (it takes no `extra`)."""
    if n < lo or n >= hi:
        return window.dtype.type(0.0)
    i = reflect_index(start + n, signal.shape[2])
    return mixed_sample(signal, item, row, mix, use_mix, i, window) * window[n]


def frame_loader(read_sample):
    """The frame loader of a frame-group function, reading its samples with
    read_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi, extra)."""
    @cuda.jit(device=True)
    def load_frames(buf, est, ref, mix, window, twiddle, geo, extra, item, row, first,
                    count, pad):
        """Frames first .. first + count - 1 of (item, row), frame k starting at k * hop -
        pad, into buf as bit-reversed half-size complex inputs (transform 2f: the
        estimate's frame f, 2f + 1: the reference's) in two planes, then transformed in
        place. Every thread of the block must call this."""
        tid = cuda.threadIdx.x
        threads = cuda.blockDim.x
        log2_m = geo[G_LOG2_M]
        m = 1 << log2_m
        lo = geo[G_LO]
        hi = geo[G_HI]
        use_mix = geo[G_USE_MIX]
        shift = geo[G_SWIZZLE_SHIFT]
        mask = geo[G_SWIZZLE_MASK]
        plane = geo[G_PER_BLOCK] * 2 * m
        q = tid
        while q < count * 2 * m:
            t = q >> log2_m
            j = q & (m - 1)
            start = (first + (t >> 1)) * geo[G_HOP] - pad
            pos = slot((t << log2_m) + bit_reverse(j, log2_m), shift, mask)
            signal = ref if t & 1 else est
            buf[pos] = read_sample(signal, item, row, mix, use_mix, start, 2 * j, window,
                                   lo, hi, extra)
            buf[plane + pos] = read_sample(signal, item, row, mix, use_mix, start,
                                           2 * j + 1, window, lo, hi, extra)
            q += threads
        cuda.syncthreads()
        fft_stages(buf, plane, count * 2, log2_m, twiddle, shift, mask)
    return load_frames


@cuda.jit(device=True)
def bin_pair(buf, f, k, twiddle, geo):
    """(re_e, im_e, re_r, im_r) of bin k (0 <= k <= m) of frame f of the group, in
    float64: the estimate's transform 2f and the reference's 2f + 1."""
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    plane = geo[G_PER_BLOCK] * 2 * m
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    re_e, im_e = real_bin(buf, plane, (2 * f) << log2_m, k, m, twiddle, shift, mask)
    re_r, im_r = real_bin(buf, plane, (2 * f + 1) << log2_m, k, m, twiddle, shift, mask)
    return float64(re_e), float64(im_e), float64(re_r), float64(im_r)


@cuda.jit(device=True)
def add_bin_terms(sums, buf, f, k, twiddle, geo, eps):
    """The four term sums `sums` (layout.N_TERMS) with bin k of frame f added."""
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    a, b, c, d = bin_terms(re_e, im_e, re_r, im_r, eps, geo[G_LOG_MODE], geo[G_LIN_MODE])
    return sums[0] + a, sums[1] + b, sums[2] + c, sums[3] + d


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


load_windowed_frames = frame_loader(windowed_sample)


@cuda.jit(device=True)
def frame_group_terms(buf, est, ref, mix, window, twiddle, geo, eps, extra, task, partial,
                      red):
    """Term sums (layout.N_TERMS) of one task, a group of up to per_block frames of one
    (item, row), into partial[task, :]. buf holds 2 * per_block half-size transforms
    (estimate and reference of each frame) in two planes. Every thread of the block must
    call this."""
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    item, row, first, count = task_frames(task, geo)
    load_windowed_frames(buf, est, ref, mix, window, twiddle, geo, extra, item, row, first,
                         count, geo[G_FFT_SIZE] >> 1)
    sums = (0.0, 0.0, 0.0, 0.0)
    # bins 0..m-1 of every frame by shifts and masks; the thread with bin 0 also takes
    # bin m (both come from Z[0])
    q = cuda.threadIdx.x
    while q < count << log2_m:
        f = q >> log2_m
        k = q & (m - 1)
        sums = add_bin_terms(sums, buf, f, k, twiddle, geo, eps)
        if k == 0:
            sums = add_bin_terms(sums, buf, f, m, twiddle, geo, eps)
        q += cuda.blockDim.x
    store_block_totals(sums, red, partial, task)


def stft_kernels(frame_group, name):
    """The fused and scratch kernels (named name_shared, name_scratch) of a frame-group
    function frame_group(buf, est, ref, mix, window, twiddle, geo, eps, extra, task,
    partial, red). Both take (est, ref, mix, window, twiddle, geo, eps, extra, partial),
    the scratch kernel then its scratch rows; `extra` is the frame group's own tuple of
    arguments (the plain kernel's is empty)."""
    def fused(est, ref, mix, window, twiddle, geo, eps, extra, partial):
        """One block per task, the transforms in dynamic shared memory of 2 * per_block
        * fft_size elements of the signals' dtype; the reduction area overlays their
        first bytes once the bins are read."""
        red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
        buf = cuda.shared.array(0, twiddle.dtype)
        frame_group(buf, est, ref, mix, window, twiddle, geo, eps, extra, cuda.blockIdx.x,
                    partial, red)

    def in_scratch(est, ref, mix, window, twiddle, geo, eps, extra, partial, scratch):
        """The same computation with each block's transforms in its own row of global
        `scratch` (for transforms larger than shared memory); blocks loop over tasks."""
        red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
        buf = scratch[cuda.blockIdx.x]
        task = cuda.blockIdx.x
        while task < partial.shape[0]:
            frame_group(buf, est, ref, mix, window, twiddle, geo, eps, extra, task,
                        partial, red)
            task += cuda.gridDim.x

    return _kernel(fused, name + "_shared"), _kernel(in_scratch, name + "_scratch")


stft_shared, stft_scratch = stft_kernels(frame_group_terms, "stft")


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
    threads = cuda.blockDim.x
    row = cuda.blockIdx.x
    n = min(est.shape[1], SHIFT_SAMPLES)
    k_y = 0.0
    k_d = 0.0
    i = cuda.threadIdx.x
    while i < n:
        k_y, k_d = add_shift_sample(k_y, k_d, ref[row, i], est[row, i])
        i += threads
    block_totals((k_y, k_d), red)
    if cuda.threadIdx.x == 0:
        shifts[row, SHIFT_Y] = red[0] / n
        shifts[row, SHIFT_D] = red[threads] / n


@cuda.jit(cache=True)
def time_sums(est, ref, shifts, chunk, partial):
    """partial[row, c, :] = the shifted sums (kernels/time.py's add_time_sample) of
    samples [c * chunk, (c + 1) * chunk) of one row; one block per (row, c)."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    row, c = divmod32(cuda.blockIdx.x, partial.shape[1])
    stop = min((c + 1) * chunk, est.shape[1])
    k_y = shifts[row, SHIFT_Y]
    k_d = shifts[row, SHIFT_D]
    s_y = s_yy = s_d = s_dd = s_dy = s_abs_d = 0.0
    i = c * chunk + cuda.threadIdx.x
    while i < stop:
        s_y, s_yy, s_d, s_dd, s_dy, s_abs_d = add_time_sample(
            s_y, s_yy, s_d, s_dd, s_dy, s_abs_d, ref[row, i], est[row, i], k_y, k_d)
        i += cuda.blockDim.x
    store_block_totals((s_y, s_yy, s_d, s_dd, s_dy, s_abs_d), red, partial[row], c)


@cuda.jit(cache=True)
def log_cosh_sums(est, ref, a, eps, chunk, partial):
    """partial[row, c, 0] = sum of ln(cosh(a (est - ref)) + eps) over one chunk."""
    red = cuda.shared.array(0, float64)      # reduction area: red[s * threads + t]
    row, c = divmod32(cuda.blockIdx.x, partial.shape[1])
    stop = min((c + 1) * chunk, est.shape[1])
    total = 0.0
    i = c * chunk + cuda.threadIdx.x
    while i < stop:
        total += log_cosh(a * (float64(est[row, i]) - float64(ref[row, i])), eps)
        i += cuda.blockDim.x
    store_block_totals((total,), red, partial[row], c)


# ------------------------------------------------------------------------ checks, copies

@cuda.jit(device=True)
def first_nonfinite_from(flat, start, stride, found, which):
    """found[which] = min(found[which], the first index of a NaN or Inf among start,
    start + stride, ...), by an atomic minimum."""
    i = start
    while i < flat.shape[0]:
        if not math.isfinite(flat[i]):
            cuda.atomic.min(found, which, i)
            return
        i += stride


@cuda.jit(cache=True)
def first_nonfinite(flat_est, flat_ref, found):
    """found[0] (est), found[1] (ref): the smallest flat index of a NaN or Inf, left as
    initialised (the size) where there is none. Atomic minimum: the result does not
    depend on the order."""
    first_nonfinite_from(flat_est, cuda.grid(1), cuda.gridsize(1), found, 0)
    first_nonfinite_from(flat_ref, cuda.grid(1), cuda.gridsize(1), found, 1)


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
