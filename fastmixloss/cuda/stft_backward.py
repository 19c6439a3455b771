"""The CUDA twin of kernels/stft_backward.py: one resolution's gradient of the STFT terms.

Per chunk of frames, two kernels on the inputs' stream:

1. frame gradients (a fused/scratch pair from kernels.stft_kernels, like the forward's):
   a block loads its group of estimate and reference frames with the forward's loader and
   FFT, forms each bin's (dL/d re, dL/d im) from its row's coefficients with the CPU's
   per-bin formulas (kernels/terms_backward.py, compiled here with CUDA's math.log),
   applies the adjoint of the real transform, dL/dx_n = Re sum_{k=0}^{N/2} g_k
   e^{+2 pi i k n / N}, through the same half-size complex FFT, multiplies by the window
   and writes the windowed frame gradient (float64) to global scratch;
2. a gather: each output sample adds, in a fixed order (rows, then the padded positions
   that reflect onto it, then the frames covering each), the scratch entries it receives.

No atomics, so the gradient has the same bits on every run for a launch configuration;
the chunks (frames_per_chunk) bound the scratch memory whatever the signal length.

Three frame-gradient pairs come from one factory (gradient_kernels): the plain kernel's
terms, the options kernel's per-bin terms (generalised log and floors, eps_added, eps=0,
the phase term; framings by the options kernels' sample reader), and the same with a
filterbank (each band's gradient first, into the task's output row, then each bin's
through the bank transposed by bin). The prefilter's gradient goes through the FIR's
transpose (fir_adjoint); scale invariance's dL/d alpha needs the reference scale sums
(a pair of its own, reduced by the backend's fixed-order sums).

The adjoint through the half-size FFT. With the Hermitian spectrum H (N = 2M points) of
the real inverse transform x_n = sum_k H_k e^{+2 pi i k n / N}: H_0 = Re g_0, H_M = Re
g_M, H_k = g_k / 2 and H_{N-k} = conj(g_k) / 2 for 0 < k < M (the imaginary parts of the
DC and Nyquist bins do not depend on the frame). Then z_m = x_{2m} + i x_{2m+1} is the
inverse M-point transform of Z_k = E_k + i O_k, E_k = H_k + H_{k+M}, O_k = (H_k -
H_{k+M}) e^{+2 pi i k / N}, and the inverse transform is conj(FFT(conj Z)). Z is formed
in place of the estimate's transform, then moved to the FFT's bit-reversed input order.
"""

import math

import numpy as np
from numba import cuda, float64

from ..errors import ParameterError
from ..kernels import terms_backward
from ..kernels.frames import span_bounds
from . import runtime
from .core import StftLayout
from .fft import bit_reverse, fft_stages, slot, twiddle_table
from .kernels import (G_LIN_MODE, G_LOG2_M, G_LOG_MODE, G_PER_BLOCK, G_SWIZZLE_MASK,
                      G_SWIZZLE_SHIFT, bin_pair, divmod32, frame_loader,
                      load_windowed_frames, shared_bytes, stft_kernels,
                      store_block_totals, task_frames)
from .options import (bin_magnitudes, floored_magnitude, kernel_arguments,
                      option_windowed_sample)

# the per-bin gradient: the CPU's formula, compiled for the GPU with CUDA's math.log
magnitude_grad = cuda.jit(device=True)(terms_backward.magnitude_grad_formula(math.log))
bin_grad_parts = cuda.jit(device=True)(terms_backward.bin_grad_parts_formula(magnitude_grad))
bin_grad = cuda.jit(device=True)(terms_backward.bin_grad_formula(bin_grad_parts))
# the options kernel's: per value, through the floored magnitude, the phase term's
value_grad = cuda.jit(device=True)(terms_backward.value_grad_formula(math.log))
magnitude_bin_grad = cuda.jit(device=True)(
    terms_backward.floored_magnitude_grad_formula())
phase_bin_grad = cuda.jit(device=True)(terms_backward.phase_grad_formula())

# float64 elements of frame-gradient scratch per chunk (128 MiB): frames_per_chunk keeps
# every chunk's windowed frame gradients within it, whatever the signal length
FRAME_SCRATCH_ELEMENTS = 1 << 24

# threads per block of the zeroing
ELEMENTWISE_THREADS = 256

# the frames' own sample bounds (reflections included), as plain Python
_span_bounds = span_bounds.py_func


@cuda.jit(device=True)
def plain_bin_gradient(buf, f, k, twiddle, geo, eps, extra, coefs, values):
    """(dL/d re, dL/d im) of bin k (0 <= k <= M) of frame f's estimate, in float64, for
    the plain kernel's terms; coefs: the row's coefficients."""
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    return bin_grad(re_e, im_e, re_r, im_r, eps, geo[G_LOG_MODE], geo[G_LIN_MODE], coefs[0],
                    coefs[1], coefs[2])


@cuda.jit(device=True)
def value_gradient(e, r, geo, options, coefs):
    """dL/d(value e) of one value pair (a bin's or a band's floored magnitude), as the
    CPU's option_frame_grad: the per-value formula with the reference's value scaled by
    coefs[4], and scale invariance's share coefs[5] * r."""
    d_e, _ = value_grad(e, coefs[4] * r, options.log_fac, options.log_eps,
                        options.log_threshold, options.log_floor, geo[G_LOG_MODE],
                        geo[G_LIN_MODE], coefs[0], coefs[1], coefs[2])
    return d_e + coefs[5] * r


@cuda.jit(device=True)
def magnitude_to_bin(re_e, im_e, re_r, im_r, k, geo, eps, options, coefs, d_mag):
    """(dL/d re, dL/d im) of bin k from dL/d(its floored magnitude), plus the phase
    term's (coefs[3]) away from the real DC and Nyquist bins."""
    g_re, g_im = magnitude_bin_grad(re_e, im_e, eps, options.eps_added, d_mag)
    if options.phase and k != 0 and k != 1 << geo[G_LOG2_M]:
        p_re, p_im = phase_bin_grad(re_e, im_e, re_r, im_r, coefs[3])
        g_re += p_re
        g_im += p_im
    return g_re, g_im


@cuda.jit(device=True)
def option_bin_gradient(buf, f, k, twiddle, geo, eps, extra, coefs, values):
    """The same for the options kernel's terms without a filterbank."""
    options = extra[3][0]
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    d_mag = value_gradient(floored_magnitude(re_e, im_e, eps, options.eps_added),
                           floored_magnitude(re_r, im_r, eps, options.eps_added), geo,
                           options, coefs)
    return magnitude_to_bin(re_e, im_e, re_r, im_r, k, geo, eps, options, coefs, d_mag)


@cuda.jit(device=True)
def no_band_gradients(buf, twiddle, geo, eps, extra, count, coefs, values):
    """The terms without a filterbank need nothing before the bins."""


@cuda.jit(device=True)
def band_values(buf, f, band, twiddle, geo, eps, extra):
    """(estimate, reference) values of filterbank band `band` of frame f: the weighted
    floored magnitudes over its support, as the forward options kernel sums them."""
    options = extra[3][0]
    fb_starts = extra[3][1]
    fb_offsets = extra[3][2]
    fb_weights = extra[3][3]
    begin = fb_offsets[band]
    first_bin = fb_starts[band]
    total_e = 0.0
    total_r = 0.0
    for i in range(fb_offsets[band + 1] - begin):
        e, r = bin_magnitudes(buf, f, first_bin + i, twiddle, geo, eps, options.eps_added)
        w = float64(fb_weights[begin + i])
        total_e += w * e
        total_r += w * r
    return total_e, total_r


@cuda.jit(device=True)
def band_gradients(buf, twiddle, geo, eps, extra, count, coefs, values):
    """values[f, b] = dL/d(band b's value) of frame f of the group, one (frame, band) per
    thread step: the band's weighted floored magnitudes over its support (as the forward
    kernel sums them), then the per-value gradient. Every thread must call this."""
    options = extra[3][0]
    n_bands = options.n_bands
    q = cuda.threadIdx.x
    while q < count * n_bands:
        f, band = divmod32(q, n_bands)
        e, r = band_values(buf, f, band, twiddle, geo, eps, extra)
        values[f, band] = value_gradient(e, r, geo, options, coefs)
        q += cuda.blockDim.x
    cuda.syncthreads()


@cuda.jit(device=True)
def bank_bin_gradient(buf, f, k, twiddle, geo, eps, extra, coefs, values):
    """The same with a filterbank: dL/d(bin k's magnitude) = sum over the bands b covering
    it of weight(b, k) * values[f, b] (the transposed bank, by bin: extra[4])."""
    options = extra[3][0]
    bin_offsets, bin_bands, bin_weights = extra[4]
    d_mag = 0.0
    for j in range(bin_offsets[k], bin_offsets[k + 1]):
        d_mag += float64(bin_weights[j]) * values[f, bin_bands[j]]
    re_e, im_e, re_r, im_r = bin_pair(buf, f, k, twiddle, geo)
    return magnitude_to_bin(re_e, im_e, re_r, im_r, k, geo, eps, options, coefs, d_mag)


def transposed_bank(fb_starts, fb_offsets, fb_weights, n_bins):
    """The sparse filterbank by bin (CSR): (offsets (F + 1,), bands, weights), bin k's
    bands and weights at [offsets[k], offsets[k + 1]), bands in increasing order."""
    counts = np.zeros(n_bins + 1, np.int64)
    entries = []
    for band in range(len(fb_offsets) - 1):
        for i in range(fb_offsets[band + 1] - fb_offsets[band]):
            k = fb_starts[band] + i
            entries.append((k, band, fb_offsets[band] + i))
            counts[k + 1] += 1
    entries.sort()
    bands = np.array([band for _, band, _ in entries], np.int64)
    weights = np.asarray(fb_weights)[[at for _, _, at in entries]]
    return np.cumsum(counts), bands.reshape(-1), np.ascontiguousarray(weights)


@cuda.jit(device=True)
def option_gradient_sample(signal, item, row, mix, use_mix, start, n, window, lo, hi,
                           extra):
    """The options kernel's sample reader (framing variants) with its own `extra`, the
    fourth entry of the gradient kernels'."""
    return option_windowed_sample(signal, item, row, mix, use_mix, start, n, window, lo,
                                  hi, extra[3])


@cuda.jit(device=True)
def packed_bin(a_re, a_im, b_re, b_im, cos_k, sin_k):
    """conj(Z_k) for H_k = a and H_{k+M} = b: Z_k = (a + b) + i (a - b) e^{+i theta_k}."""
    d_re = a_re - b_re
    d_im = a_im - b_im
    o_re = d_re * cos_k - d_im * sin_k
    o_im = d_re * sin_k + d_im * cos_k
    return a_re + b_re - o_im, -(a_im + b_im + o_re)


@cuda.jit(device=True)
def store_packed(buf, plane, index, value, shift, mask):
    at = slot(index, shift, mask)
    buf[at] = value[0]
    buf[plane + at] = value[1]


@cuda.jit(device=True)
def store_pair(buf, plane, base, k, m, g_k, g_mk, twiddle, shift, mask):
    """conj(Z_k) and conj(Z_{M-k}) (0 < k <= M / 2) from the gradients g_k and g_{M-k}
    (H_k = g_k / 2, H_{k+M} = conj(g_{M-k}) / 2)."""
    k2 = m - k
    store_packed(buf, plane, base + k,
                 packed_bin(0.5 * g_k[0], 0.5 * g_k[1], 0.5 * g_mk[0], -0.5 * g_mk[1],
                            float64(twiddle[0, k]), float64(twiddle[1, k])), shift, mask)
    if k2 != k:
        store_packed(buf, plane, base + k2,
                     packed_bin(0.5 * g_mk[0], 0.5 * g_mk[1], 0.5 * g_k[0], -0.5 * g_k[1],
                                float64(twiddle[0, k2]), float64(twiddle[1, k2])),
                     shift, mask)


@cuda.jit(device=True)
def compact_bit_reversed(buf, geo, count):
    """Move frame f's packed gradient from transform 2f to transform f, at bit-reversed
    positions (the FFT's input order). Rounds of frames [2^r, 2^(r+1)) (frames 0 and 1
    first): a round's sources (transforms >= 2^(r+1)) are not yet written, and its
    destinations were read by earlier rounds; frame 0 is reversed in place by swaps."""
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    plane = geo[G_PER_BLOCK] * 2 * m
    shift = geo[G_SWIZZLE_SHIFT]
    mask = geo[G_SWIZZLE_MASK]
    first = 0
    stop = 2
    while first < count:
        last = min(stop, count)
        q = cuda.threadIdx.x
        while q < (last - first) << log2_m:
            f = first + (q >> log2_m)
            j = q & (m - 1)
            reversed_j = bit_reverse(j, log2_m)
            if f == 0:
                if j < reversed_j:
                    a = slot(j, shift, mask)
                    b = slot(reversed_j, shift, mask)
                    re = buf[a]
                    im = buf[plane + a]
                    buf[a] = buf[b]
                    buf[plane + a] = buf[plane + b]
                    buf[b] = re
                    buf[plane + b] = im
            else:
                src = slot(((2 * f) << log2_m) + j, shift, mask)
                dst = slot((f << log2_m) + reversed_j, shift, mask)
                buf[dst] = buf[src]
                buf[plane + dst] = buf[plane + src]
            q += cuda.blockDim.x
        cuda.syncthreads()
        first = stop
        stop <<= 1


def gradient_kernels(load_frames, bin_gradient, name, prepare=no_band_gradients):
    """The fused and scratch frame-gradient kernels (kernels.stft_kernels) of a frame
    loader (kernels.frame_loader's) and a per-bin gradient
    bin_gradient(buf, f, k, twiddle, geo, eps, extra, coefs, values) -> (dL/d re,
    dL/d im), after prepare(buf, twiddle, geo, eps, extra, count, coefs, values) (values:
    the task's rows of the output, free until the frame gradients are written).
    Their `extra`: (coefficients (B, R, 6) float64, the chunk's first frame, the frames'
    padding on the left), then, for the options' terms, the options kernels' own
    `extra`, and with a filterbank its transpose (transposed_bank)."""

    @cuda.jit(device=True)
    def pack_frame_gradients(buf, twiddle, geo, eps, extra, count, coefs, values):
        """Overwrite each frame f's estimate transform (2f) with conj(Z) of its gradient,
        in natural order. The thread of bins {k, M - k} reads and writes only those slots
        of transforms 2f and 2f + 1 (bin 0's thread also takes bins M and M / 2), so no
        barrier is needed between a thread's reads and its writes."""
        log2_m = geo[G_LOG2_M]
        m = 1 << log2_m
        plane = geo[G_PER_BLOCK] * 2 * m
        shift = geo[G_SWIZZLE_SHIFT]
        mask = geo[G_SWIZZLE_MASK]
        log2_pairs = log2_m - 1 if log2_m > 0 else 0
        q = cuda.threadIdx.x
        while q < count << log2_pairs:
            f = q >> log2_pairs
            k = q & ((1 << log2_pairs) - 1)
            base = (2 * f) << log2_m
            if k == 0:
                g_0 = bin_gradient(buf, f, 0, twiddle, geo, eps, extra, coefs, values)
                g_m = bin_gradient(buf, f, m, twiddle, geo, eps, extra, coefs, values)
                # H_0 = Re g_0, H_M = Re g_M: real, and e^{i theta_0} = 1
                store_packed(buf, plane, base,
                             packed_bin(g_0[0], 0.0, g_m[0], 0.0, 1.0, 0.0), shift, mask)
                if m > 1:
                    g_h = bin_gradient(buf, f, m >> 1, twiddle, geo, eps, extra, coefs,
                                       values)
                    store_pair(buf, plane, base, m >> 1, m, g_h, g_h, twiddle, shift, mask)
            else:
                g_k = bin_gradient(buf, f, k, twiddle, geo, eps, extra, coefs, values)
                g_mk = bin_gradient(buf, f, m - k, twiddle, geo, eps, extra, coefs, values)
                store_pair(buf, plane, base, k, m, g_k, g_mk, twiddle, shift, mask)
            q += cuda.blockDim.x
        cuda.syncthreads()

    def frame_group_gradient(buf, est, ref, mix, window, twiddle, geo, eps, extra, task,
                             out, red):
        """out[task, j, :] = window * dL/d(frame first + j) of one task (a group of frames
        of one (item, row) within the chunk), in float64. Every thread of the block must
        call this."""
        log2_m = geo[G_LOG2_M]
        m = 1 << log2_m
        plane = geo[G_PER_BLOCK] * 2 * m
        shift = geo[G_SWIZZLE_SHIFT]
        mask = geo[G_SWIZZLE_MASK]
        item, row, first, count = task_frames(task, geo)
        load_frames(buf, est, ref, mix, window, twiddle, geo, extra, item, row,
                    extra[1] + first, count, extra[2])
        coefs = extra[0][item, row]
        prepare(buf, twiddle, geo, eps, extra, count, coefs, out[task])
        pack_frame_gradients(buf, twiddle, geo, eps, extra, count, coefs, out[task])
        compact_bit_reversed(buf, geo, count)
        fft_stages(buf, plane, count, log2_m, twiddle, shift, mask)
        # x_{2j} + i x_{2j+1} = conj(FFT(conj Z))_j
        q = cuda.threadIdx.x
        while q < count << log2_m:
            f = q >> log2_m
            j = q & (m - 1)
            at = slot((f << log2_m) + j, shift, mask)
            out[task, f, 2 * j] = float64(buf[at]) * float64(window[2 * j])
            out[task, f, 2 * j + 1] = (-float64(buf[plane + at])
                                       * float64(window[2 * j + 1]))
            q += cuda.blockDim.x
        cuda.syncthreads()   # the scratch kernel's next task reloads buf

    return stft_kernels(cuda.jit(device=True)(frame_group_gradient), name)


load_option_frames = frame_loader(option_gradient_sample)
stft_gradient_shared, stft_gradient_scratch = gradient_kernels(
    load_windowed_frames, plain_bin_gradient, "stft_gradient")
stft_option_gradient_shared, stft_option_gradient_scratch = gradient_kernels(
    load_option_frames, option_bin_gradient, "stft_option_gradient")
stft_bank_gradient_shared, stft_bank_gradient_scratch = gradient_kernels(
    load_option_frames, bank_bin_gradient, "stft_bank_gradient", band_gradients)


@cuda.jit(device=True)
def add_scale_sums(sums, e, r, geo, options, coefs):
    """(sum of dL/d(alpha r) * r, sum of r**2) with one value pair added."""
    _, d_r = value_grad(e, coefs[4] * r, options.log_fac, options.log_eps,
                        options.log_threshold, options.log_floor, geo[G_LOG_MODE],
                        geo[G_LIN_MODE], coefs[0], coefs[1], coefs[2])
    return sums[0] + d_r * r, sums[1] + r * r


@cuda.jit(device=True)
def frame_group_scale_sums(buf, est, ref, mix, window, twiddle, geo, eps, extra, task,
                           partial, red):
    """partial[task, :] = the two sums of reference_scale_sums over one task's frames
    (the options kernel's values: magnitudes, or a filterbank's bands). Every thread of
    the block must call this."""
    options = extra[3][0]
    n_bands = options.n_bands
    log2_m = geo[G_LOG2_M]
    m = 1 << log2_m
    item, row, first, count = task_frames(task, geo)
    load_option_frames(buf, est, ref, mix, window, twiddle, geo, extra, item, row,
                       extra[1] + first, count, extra[2])
    coefs = extra[0][item, row]
    sums = (0.0, 0.0)
    q = cuda.threadIdx.x
    if n_bands == 0:
        # bins 0..m-1 of every frame; the thread with bin 0 also takes bin m
        while q < count << log2_m:
            f = q >> log2_m
            k = q & (m - 1)
            for step in range(2 if k == 0 else 1):
                e, r = bin_magnitudes(buf, f, m if step else k, twiddle, geo, eps,
                                      options.eps_added)
                sums = add_scale_sums(sums, e, r, geo, options, coefs)
            q += cuda.blockDim.x
    else:
        while q < count * n_bands:
            f, band = divmod32(q, n_bands)
            e, r = band_values(buf, f, band, twiddle, geo, eps, extra)
            sums = add_scale_sums(sums, e, r, geo, options, coefs)
            q += cuda.blockDim.x
    store_block_totals(sums, red, partial, task)


stft_scale_sums_shared, stft_scale_sums_scratch = stft_kernels(frame_group_scale_sums,
                                                               "stft_scale_sums")


@cuda.jit(device=True)
def covering_sum(frames, p, origin, hop, lo, hi, n_frames):
    """Sum over the chunk's frames f covering padded position p of frames[f, n], n = p -
    (origin + f * hop) in [lo, hi), frames taken from the last to the first."""
    q = p - origin - lo
    width = hi - lo
    if q < 0 or q >= (n_frames - 1) * hop + width:
        return 0.0
    f, _ = divmod32(q, hop)     # q < the chunk's footprint: 32 bits
    f = min(f, n_frames - 1)
    total = 0.0
    while f >= 0 and q - f * hop < width:
        total += frames[f, q - f * hop + lo]
        f -= 1
    return total


@cuda.jit(cache=True)
def gather_gradient(frames, mix, use_mix, reflect, origin, hop, lo, hi, n_frames,
                    first_sample, chunk, n_chunks, grad):
    """grad[b, c, t] += sum over rows r of mix[r, c] * (the chunk's windowed frame
    gradients of row r at the padded positions that reflect onto t), for t in
    [first_sample + s * chunk, ...) of block (b, c, s). frames: (B * R, n, fft_size), the
    chunk's frame f starting at padded position origin + f * hop; without `reflect`
    (zero padding) a position outside the signal reflects onto nothing. One block per
    (b, c, s), grid = B * C * n_chunks (the host divides)."""
    n_channels = grad.shape[1]
    length = grad.shape[2]
    n_rows = mix.shape[0] if use_mix else n_channels
    row_bc, s = divmod32(cuda.blockIdx.x, n_chunks)
    item, channel = divmod32(row_bc, n_channels)
    t = first_sample + s * chunk + cuda.threadIdx.x
    stop = min(first_sample + (s + 1) * chunk, length)
    while t < stop:
        total = 0.0
        for row in range(n_rows):
            if use_mix:
                weight = float64(mix[row, channel])
            else:
                weight = 1.0 if row == channel else 0.0
            if weight != 0.0:
                frame_rows = frames[item * n_rows + row]
                # the positions reflecting onto t: -t (left), t, 2 (T - 1) - t (right)
                part = covering_sum(frame_rows, t, origin, hop, lo, hi, n_frames)
                if reflect and t > 0:
                    part += covering_sum(frame_rows, -t, origin, hop, lo, hi, n_frames)
                if reflect and t < length - 1:
                    part += covering_sum(frame_rows, 2 * (length - 1) - t, origin, hop, lo,
                                         hi, n_frames)
                total += weight * part
        grad[item, channel, t] += total
        t += cuda.blockDim.x


@cuda.jit(cache=True)
def fir_adjoint(rows_grad, taps, chunk, n_chunks, grad):
    """grad[b, c, n] += sum_k taps[k] * rows_grad[b, c, n - k + K // 2] (inside the
    signal): the transpose of the prefilter y[n] = sum_k taps[k] x[n + k - K // 2], x zero
    outside, as the CPU's add_fir_adjoint. One block per (b, c, chunk s) of samples,
    grid = B * C * n_chunks (the host divides)."""
    length = grad.shape[2]
    half = taps.shape[0] >> 1
    row_bc, s = divmod32(cuda.blockIdx.x, n_chunks)
    item, channel = divmod32(row_bc, grad.shape[1])
    n = s * chunk + cuda.threadIdx.x
    stop = min((s + 1) * chunk, length)
    while n < stop:
        total = 0.0
        for k in range(taps.shape[0]):
            i = n - k + half
            if i >= 0 and i < length:
                total += taps[k] * rows_grad[item, channel, i]
        grad[item, channel, n] += total
        n += cuda.blockDim.x


@cuda.jit(cache=True)
def fill_zero(flat):
    i = cuda.grid(1)
    while i < flat.shape[0]:
        flat[i] = 0.0
        i += cuda.gridsize(1)


def _blocks(size, threads, cap=1024):
    return max(1, min(cap, -(-size // threads)))


def options_without_gradient(plan):
    """The options of a spectral plan (plan.SpectralPlan) that the CUDA backward does not
    compute yet."""
    missing = []
    for bank, res in zip(plan.filterbanks, plan.resolutions):
        # a frame's band gradients wait in its output row, fft_size values long
        if bank is not None and bank.n_bands > res.fft_size:
            missing.append(f"{bank.n_bands} bands at fft_size={res.fft_size} (more bands "
                           f"than the frame has samples)")
    return missing


def check_plans(loss, plans):
    """ParameterError, before any kernel runs, where a plan needs what the CUDA backward
    does not compute yet."""
    for plan in plans:
        missing = options_without_gradient(plan)
        if missing:
            raise ParameterError(
                f"no gradient on the GPU yet for {', '.join(missing)} (loss={loss!r}): "
                f"compute it with device='cpu'")


def zero_gradient(est3, dtype=None):
    """A (B, C, T) device array of zeros on est3's stream, in est3's dtype (or `dtype`):
    the sum the resolutions' stft_backward calls add to. As on the CPU, a float32
    estimate's gradient is accumulated in float32 (each chunk of frames adds its float64
    sum once per sample): a float64 buffer would double the largest array."""
    grad = cuda.device_array(est3.shape, dtype=dtype or est3.dtype, stream=est3.stream)
    threads = ELEMENTWISE_THREADS
    fill_zero[_blocks(est3.size, threads), threads, est3.stream](grad.reshape(-1))
    return grad


def gradient_as(grad, est3, est):
    """The gradient in est's shape, where est lives: a device array on est3's stream for
    an estimate on the GPU, a NumPy array for one on the host (device="cuda" with host
    inputs)."""
    if hasattr(est, "__cuda_array_interface__") and not isinstance(est, np.ndarray):
        return grad.reshape(tuple(runtime.interface(est)["shape"]))
    host = grad.copy_to_host(stream=est3.stream)
    runtime.synchronize(est3.stream)
    return host.reshape(np.shape(est))


def frames_per_chunk(plan, n_signal_rows, per_block):
    """Frames per chunk: a multiple of the kernel's frames per block whose windowed frame
    gradients, for every (item, row), fit FRAME_SCRATCH_ELEMENTS (at least one group)."""
    per_row = FRAME_SCRATCH_ELEMENTS // (n_signal_rows * plan.fft_size)
    return max(per_block, per_row // per_block * per_block)


class _Launch:
    """One resolution's launch of a frame-gradient kernel pair (or the scale sums', which
    take the same arguments): the device constants, the kernels' `extra`, the geometry,
    and the layout (fused or scratch path) for `fused_kernel`'s shared-memory opt-in."""

    def __init__(self, backend, est3, ref3, mix, window, plan, coefficients,
                 option_arrays, taps, by_bin=True):
        backend.check_fft_size(plan.fft_size)
        self.backend = backend
        self.config = backend.launch
        self.stream = est3.stream
        self.est3, self.ref3, self.plan = est3, ref3, plan
        n_items, n_channels, _ = est3.shape
        dtype = est3.dtype
        if mix is not None and np.array_equal(mix, np.eye(n_channels)):
            mix = None
        self.use_mix = mix is not None
        self.n_rows = n_channels if mix is None else len(mix)
        self.n_signal_rows = n_items * self.n_rows
        constants = backend._constants
        self.d_window = constants.get("window", np.asarray(window, dtype=dtype))
        self.d_twiddle = constants.get("twiddle", twiddle_table(plan.fft_size, dtype))
        self.d_mix = constants.get("mix", np.asarray(mix, dtype=dtype) if self.use_mix
                                   else np.ones((1, 1), dtype))
        self.d_coefficients = cuda.to_device(
            np.ascontiguousarray(coefficients, dtype=np.float64), stream=self.stream)
        self.options = None
        self.own_extra = ()
        self.d_taps = None
        if option_arrays is not None:
            options, fb_starts, fb_offsets, fb_weights = option_arrays
            self.options = options
            fb_starts = np.ascontiguousarray(fb_starts, np.int64)
            fb_offsets = np.ascontiguousarray(fb_offsets, np.int64)
            fb_weights = np.ascontiguousarray(fb_weights)
            self.d_taps = constants.get("taps", np.ascontiguousarray(
                taps if options.prefilter else np.zeros(1), np.float64))
            # the options kernels' own `extra` (its alpha is unused here)
            self.own_extra = (kernel_arguments(
                options, constants.get("fb_starts", fb_starts),
                constants.get("fb_offsets", fb_offsets),
                constants.get("fb_weights", fb_weights), self.d_taps,
                constants.get("alpha", np.ones((1, 1)))),)
            if options.n_bands > 0 and by_bin:   # the frame gradients' bank by bin
                by_bin = transposed_bank(fb_starts, fb_offsets, fb_weights,
                                         plan.fft_size // 2 + 1)
                self.own_extra += (tuple(constants.get(kind, array) for kind, array in zip(
                    ("fb_bin_offsets", "fb_bin_bands", "fb_bin_weights"), by_bin)),)

    def arguments(self, layout, n_frames, n_groups, first, out):
        """A kernel's arguments for frames first .. first + n_frames - 1 in n_groups
        groups (tasks (item, row, group)), `out` its output."""
        plan = self.plan
        geometry = tuple(np.int64(v) for v in (
            plan.fft_size, layout.log2_m, plan.hop_size, plan.win_start, plan.win_stop,
            n_frames, layout.per_block, self.n_rows, n_groups, int(self.use_mix),
            plan.log_mode, plan.lin_mode, *layout.swizzle))
        return (self.est3.array, self.ref3.array, self.d_mix, self.d_window,
                self.d_twiddle, geometry, float(plan.eps),
                (self.d_coefficients, np.int64(first), np.int64(-plan.frame_start))
                + self.own_extra, out)

    def layout(self, fused_kernel, out_probe):
        """The StftLayout of the launch (the opt-in is per kernel and argument types:
        probed with a stand-in layout and a host array shaped as the output)."""
        config = self.config
        dtype = self.est3.dtype
        if config.shared_limit is not None:
            budget = config.shared_limit
        else:
            probe = StftLayout(self.plan, self.n_signal_rows, dtype.itemsize, config, 0)
            budget = runtime.dynamic_shared_limit(
                fused_kernel, self.arguments(probe, 1, 1, 0, out_probe))
        return StftLayout(self.plan, self.n_signal_rows, dtype.itemsize, config, budget)

    def scratch(self, layout, most_tasks):
        """The scratch path's buffers (None on the fused path)."""
        if layout.fused:
            return None
        blocks = min(most_tasks, self.config.scratch_blocks
                     or 2 * runtime.multiprocessor_count())
        return cuda.device_array((blocks, layout.buffer_elements), dtype=self.est3.dtype,
                                 stream=self.stream)

    def run(self, kernels, layout, scratch, n_tasks, args):
        fused_kernel, scratch_kernel = kernels
        threads = self.config.stft_threads
        if layout.fused:
            fused_kernel[n_tasks, threads, self.stream,
                         shared_bytes(threads, layout.shared_bytes)](*args)
        else:
            scratch_kernel[min(n_tasks, scratch.shape[0]), threads, self.stream,
                           shared_bytes(threads)](*args, scratch)


def _gradient_kernels(plain, options):
    if plain:
        return stft_gradient_shared, stft_gradient_scratch
    if options.n_bands > 0:
        return stft_bank_gradient_shared, stft_bank_gradient_scratch
    return stft_option_gradient_shared, stft_option_gradient_scratch


def stft_backward(backend, est3, ref3, mix, window, plan, coefficients, grad,
                  option_arrays=None, plain=True, taps=None):
    """Add one resolution's gradient to `grad`, as kernels/stft_backward.stft_backward.

    est3, ref3: the backend's (B, C, T) DeviceSignals; mix: (R, C) channel weights of the
    rows (None: the channels); window: (fft_size,) host array in the signals' dtype, zero
    outside [win_start, win_stop); plan: the resolution's FramePlan, frame k starting at
    plan.frame_start + k * hop_size; coefficients: (B, R, 6) host float64, dL/d SC_NUM,
    LOG_DIST, LIN_DIST and PHASE_DIST of each row's sums, the reference's scale alpha and
    dL/d alpha / sum r**2 (the plain terms read the first three); grad: (B, C, T) device
    array (zero_gradient), added to on est3's stream. option_arrays: (options,
    fb_starts, fb_offsets, fb_weights) as the CPU's; plain: the plain kernel's terms (the
    options at their neutral values, centred frames), else the options kernel's, which
    check_plans has cleared. taps: the prefilter's FIR (float64), where
    options.prefilter: the frames read the filtered rows, whose gradient goes back
    through the FIR's transpose.
    """
    launch = _Launch(backend, est3, ref3, mix, window, plan, coefficients,
                     None if plain else option_arrays, taps)
    options = launch.options
    kernels = _gradient_kernels(plain, options)
    config = launch.config
    stream = launch.stream
    n_items, n_channels, length = est3.shape
    reflect = plain or not options.zero_pad
    # with the prefilter, the filtered rows' gradient first, then the FIR's transpose
    target = (grad if plain or not options.prefilter
              else zero_gradient(est3, np.float64))
    layout = launch.layout(kernels[0], np.zeros((1, 1, 1)))
    per_block = layout.per_block
    # no more than the frames there are (in whole groups): short signals take less
    per_chunk = min(frames_per_chunk(plan, launch.n_signal_rows, per_block),
                    -(-plan.n_frames // per_block) * per_block)
    scratch_frames = cuda.device_array(launch.n_signal_rows * per_chunk * plan.fft_size,
                                       dtype=np.float64, stream=stream)
    scratch = launch.scratch(layout, launch.n_signal_rows * (-(-per_chunk // per_block)))
    width = plan.win_stop - plan.win_start
    gather_threads = config.time_threads
    for first in range(0, plan.n_frames, per_chunk):
        n_frames = min(per_chunk, plan.n_frames - first)
        n_groups = -(-n_frames // per_block)
        n_tasks = launch.n_signal_rows * n_groups
        out = scratch_frames[:n_tasks * per_block * plan.fft_size].reshape(
            n_tasks, per_block, plan.fft_size)
        launch.run(kernels, layout, scratch, n_tasks,
                   launch.arguments(layout, n_frames, n_groups, first, out))
        # the samples the chunk's frames read (reflections included) receive its sums
        origin = plan.frame_start + first * plan.hop_size
        first_sample, stop_sample = _span_bounds(
            origin + plan.win_start,
            origin + (n_frames - 1) * plan.hop_size + plan.win_start + width, length)
        if stop_sample <= first_sample:
            continue
        chunk = config.time_chunk
        n_chunks = -(-(stop_sample - first_sample) // chunk)
        gather_gradient[n_items * n_channels * n_chunks, gather_threads, stream](
            out.reshape(launch.n_signal_rows, n_groups * per_block, plan.fft_size),
            launch.d_mix, launch.use_mix, reflect, np.int64(origin),
            np.int64(plan.hop_size), np.int64(plan.win_start), np.int64(plan.win_stop),
            np.int64(n_frames), np.int64(first_sample), np.int64(chunk),
            np.int64(n_chunks), target)
    if target is not grad:
        chunk = config.time_chunk
        n_chunks = -(-length // chunk)
        fir_adjoint[n_items * n_channels * n_chunks, gather_threads, stream](
            target, launch.d_taps, np.int64(chunk), np.int64(n_chunks), grad)


def reference_scale_sums(backend, est3, ref3, mix, window, plan, option_arrays,
                         coefficients, taps=None):
    """(B, R, 2) host float64, as kernels/stft_backward.reference_scale_sums: per row,
    the sum over values of dL/d(alpha r) * r at the row's scale alpha and the sum of
    r**2, over every frame; arguments as stft_backward's (the options kernel's terms)."""
    launch = _Launch(backend, est3, ref3, mix, window, plan, coefficients, option_arrays,
                     taps, by_bin=False)
    kernels = (stft_scale_sums_shared, stft_scale_sums_scratch)
    layout = launch.layout(kernels[0], np.zeros((1, 2)))
    n_tasks = launch.n_signal_rows * layout.n_groups
    partial = cuda.device_array((n_tasks, 2), dtype=np.float64, stream=launch.stream)
    launch.run(kernels, layout, launch.scratch(layout, n_tasks), n_tasks,
               launch.arguments(layout, plan.n_frames, layout.n_groups, 0, partial))
    sums = backend._sum_groups(partial.reshape(launch.n_signal_rows, layout.n_groups, 2),
                               launch.stream)
    return sums.reshape(est3.shape[0], launch.n_rows, 2)
