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
def fft_stages(buf, plane, n_transforms, log2_m, twiddle):
    """In-place radix-2 stages over n_transforms transforms of 2**log2_m points whose
    inputs were stored bit-reversed. Every thread of the block must call this."""
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    m = 1 << log2_m
    half = m >> 1
    butterflies = n_transforms * half
    stage = 0
    while stage < log2_m:
        span = 1 << stage
        # W_{2 span}^p = W_N^(p M / span): a stride into the W_N table
        shift = log2_m - stage
        for b in range(tid, butterflies, threads):
            t = b >> (log2_m - 1)
            j = b & (half - 1)
            p = j & (span - 1)
            i0 = (t << log2_m) + ((j >> stage) << (stage + 1)) + p
            i1 = i0 + span
            w_re = twiddle[0, p << shift]
            w_im = twiddle[1, p << shift]          # W = w_re - i w_im
            u_re = buf[i1]
            u_im = buf[plane + i1]
            v_re = u_re * w_re + u_im * w_im
            v_im = u_im * w_re - u_re * w_im
            a_re = buf[i0]
            a_im = buf[plane + i0]
            buf[i0] = a_re + v_re
            buf[plane + i0] = a_im + v_im
            buf[i1] = a_re - v_re
            buf[plane + i1] = a_im - v_im
        cuda.syncthreads()
        stage += 1


@cuda.jit(device=True)
def real_bin(buf, plane, base, k, m, twiddle):
    """(re, im) of bin k (0 <= k <= m) of the real frame whose half-size transform starts
    at `base`, in the buffer's dtype."""
    ka = k & (m - 1)           # k mod m, with Z[m] = Z[0]
    kb = (m - k) & (m - 1)
    a_re = buf[base + ka]
    a_im = buf[plane + base + ka]
    b_re = buf[base + kb]
    b_im = -buf[plane + base + kb]              # conj Z[m - k]
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
