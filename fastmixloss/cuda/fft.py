"""A block-wide FFT in one buffer (shared memory or a block's slice of global scratch).

A real frame x of N = 2M samples is transformed through a complex one of M points:
z[m] = x[2m] + i x[2m+1]. With Z = FFT_M(z) (Z[M] = Z[0]),

  X[k] = E[k] + W_N^k O[k],  E = (Z[k] + conj Z[M-k]) / 2,  O = -i (Z[k] - conj Z[M-k]) / 2,

for k = 0..M, which is exactly the one-sided spectrum numpy.fft.rfft gives. Each signal
(estimate and reference) gets its own transform, so a loud reference never leaks rounding
error into a quiet estimate's bins, as packing both into one transform would.

Buffer layout: real parts in buf[0:plane], imaginary parts in buf[plane:2*plane]; transform
t occupies [t*M, (t+1)*M) of each plane. The transform is radix-2 decimation in time:
samples are stored at bit-reversed positions as they are loaded, then log2(M) stages of
butterflies leave the spectrum in natural order. Twiddles come from one table of
W_N^k = cos(2 pi k / N) - i sin(2 pi k / N), k < M, stored as (cos row, sin row).

Shared-memory banks. A warp's access is served in one pass only if its lanes hit distinct
banks: 32 banks of 4 bytes, so 32 float32 elements, or, for float64, 16 elements per
half-warp (a "bank phase" of L = 32 or 16 lanes). The bit-reversed store puts consecutive
lanes M/L elements apart, all in one or two banks, and the early butterfly stages touch
every other element. So element `a` of a plane lives at slot(a) = a ^ h(a), where h(a) =
(a >> shift) & (L - 1) with shift >= log2(L): an XOR within each aligned run of L elements
(no padding, no extra memory), constant over each run, and chosen (shift = log2(M) -
log2(L), at least log2(L)) so that the L lanes of a bit-reversed store land in L distinct
banks. Butterflies whose span is >= L read aligned runs of L, conflict-free under any XOR
within the run; for spans < L, the lanes of each half of a bank phase read their pair in
opposite orders (see butterfly_slots), so each read instruction takes one element from
every bank. tests/cuda/test_cuda_banks.py counts the passes per warp.
"""

import numpy as np
from numba import cuda


def twiddle_table(fft_size, dtype):
    """(2, fft_size // 2) array of cos and sin of 2 pi k / fft_size, computed in float64."""
    k = np.arange(max(1, fft_size // 2))
    angle = 2.0 * np.pi * k / fft_size
    return np.ascontiguousarray(np.stack([np.cos(angle), np.sin(angle)]).astype(dtype))


def log2_exact(n):
    """log2(n) for a power of two n >= 1, else -1."""
    if n < 1 or n & (n - 1):
        return -1
    return n.bit_length() - 1


def swizzle(log2_m, itemsize):
    """(shift, mask) of slot() for transforms of 2**log2_m points of `itemsize`-byte
    elements. Transforms shorter than a bank phase are left unswizzled (mask 0): the XOR
    could then move an element past the end of a buffer that is not a whole number of
    runs, and such sizes gain nothing from it."""
    lane_bits = 5 if itemsize <= 4 else 4        # 32 float32 or 16 float64 per phase
    if log2_m < lane_bits:
        return 0, 0
    return max(log2_m - lane_bits, lane_bits), (1 << lane_bits) - 1


@cuda.jit(device=True)
def slot(index, shift, mask):
    """Where element `index` of a plane lives in the buffer (see the module's doc)."""
    return index ^ ((index >> shift) & mask)


@cuda.jit(device=True)
def butterfly_slots(b, stage, log2_m, lane, shift, mask):
    """(first, second, swapped): the slots of butterfly b's two elements at `stage`, in
    the order this lane reads and writes them; swapped tells whether first is the upper
    element (i0 + span). Lane b of a bank phase with span < L reads first the element
    whose slot has bit `stage` equal to the lane's half of the phase, so each of the two
    reads takes one element from every bank."""
    half = 1 << (log2_m - 1)
    span = 1 << stage
    t = b >> (log2_m - 1)
    j = b & (half - 1)
    i0 = (t << log2_m) + ((j >> stage) << (stage + 1)) + (j & (span - 1))
    s0 = slot(i0, shift, mask)
    s1 = slot(i0 + span, shift, mask)
    lane_half = 1 if lane & ((mask + 1) >> 1) else 0
    swapped = span <= mask and ((s0 >> stage) & 1) != lane_half
    if swapped:
        return s1, s0, True
    return s0, s1, False


@cuda.jit(device=True)
def bit_reverse(value, bits):
    """The low `bits` bits of value (0 <= value < 2**bits, bits <= 31) in reverse order.

    A fixed sequence of mask-and-shift swaps reverses all 32 bits (no loop over `bits`,
    no branch); the reversed bits are then shifted down. Plain integer arithmetic rather
    than cuda.brev: Numba's built-in simulator swaps the `cuda` module in and out of a
    device function's globals on every call, which races when threads call concurrently.
    """
    v = value
    v = ((v >> 1) & 0x55555555) | ((v & 0x55555555) << 1)
    v = ((v >> 2) & 0x33333333) | ((v & 0x33333333) << 2)
    v = ((v >> 4) & 0x0F0F0F0F) | ((v & 0x0F0F0F0F) << 4)
    v = ((v >> 8) & 0x00FF00FF) | ((v & 0x00FF00FF) << 8)
    v = ((v >> 16) & 0xFFFF) | ((v & 0xFFFF) << 16)
    return v >> (32 - bits)


@cuda.jit(device=True)
def fft_stages(buf, plane, n_transforms, log2_m, twiddle, shift, mask):
    """In-place radix-2 stages over n_transforms transforms of 2**log2_m points whose
    inputs were stored bit-reversed at slot(...). Every thread of the block must call
    this. Loops are while loops: a range() with a run-time step computes its trip count
    with a 64-bit division, a slow software routine on the GPU."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    butterflies = n_transforms << log2_m >> 1
    stage = 0
    while stage < log2_m:
        # W_{2 span}^p = W_N^(p M / span): a stride into the W_N table
        shift_w = log2_m - stage
        b = tid
        while b < butterflies:
            first, second, swapped = butterfly_slots(b, stage, log2_m, tid, shift, mask)
            p = b & ((1 << stage) - 1)
            w_re = twiddle[0, p << shift_w]
            w_im = twiddle[1, p << shift_w]          # W = w_re - i w_im
            x_re = buf[first]
            x_im = buf[plane + first]
            y_re = buf[second]
            y_im = buf[plane + second]
            if swapped:
                a_re, a_im, u_re, u_im = y_re, y_im, x_re, x_im
            else:
                a_re, a_im, u_re, u_im = x_re, x_im, y_re, y_im
            v_re = u_re * w_re + u_im * w_im
            v_im = u_im * w_re - u_re * w_im
            if swapped:
                buf[first] = a_re - v_re
                buf[plane + first] = a_im - v_im
                buf[second] = a_re + v_re
                buf[plane + second] = a_im + v_im
            else:
                buf[first] = a_re + v_re
                buf[plane + first] = a_im + v_im
                buf[second] = a_re - v_re
                buf[plane + second] = a_im - v_im
            b += threads
        cuda.syncthreads()
        stage += 1


@cuda.jit(device=True)
def real_bin(buf, plane, base, k, m, twiddle, shift, mask):
    """(re, im) of bin k (0 <= k <= m) of the real frame whose half-size transform starts
    at element `base` of the planes, in the buffer's dtype."""
    ka = slot(base + (k & (m - 1)), shift, mask)         # k mod m, with Z[m] = Z[0]
    kb = slot(base + ((m - k) & (m - 1)), shift, mask)
    a_re = buf[ka]
    a_im = buf[plane + ka]
    b_re = buf[kb]
    b_im = -buf[plane + kb]                             # conj Z[m - k]
    half = twiddle.dtype.type(0.5)
    e_re = (a_re + b_re) * half
    e_im = (a_im + b_im) * half
    o_re = (a_im - b_im) * half
    o_im = (b_re - a_re) * half
    if k < m:
        c = twiddle[0, k]
        s = twiddle[1, k]
    else:                       # W_N^M = -1
        c = twiddle.dtype.type(-1.0)
        s = twiddle.dtype.type(0.0)
    return e_re + c * o_re + s * o_im, e_im + c * o_im - s * o_re
