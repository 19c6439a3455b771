"""The block FFT's building blocks against numpy.fft.rfft, one kernel launch per case."""

import numpy as np
import pytest
from numba import cuda

from fastmixloss.cuda.fft import (bit_reverse, fft_stages, log2_exact, real_bin, slot,
                                  swizzle, twiddle_table)


@cuda.jit
def _rfft_kernel(frames, twiddle, out_re, out_im, log2_m, shift, mask):
    """Every frame's one-sided spectrum, all frames in one block's shared memory, through
    the same load / stages / real_bin sequence as the STFT kernel."""
    buf = cuda.shared.array(0, twiddle.dtype)
    tid = cuda.threadIdx.x
    threads = cuda.blockDim.x
    m = 1 << log2_m
    n_frames = frames.shape[0]
    plane = n_frames * m
    for q in range(tid, n_frames * m, threads):
        t = q >> log2_m
        j = q & (m - 1)
        pos = slot((t << log2_m) + bit_reverse(j, log2_m), shift, mask)
        buf[pos] = frames[t, 2 * j]
        buf[plane + pos] = frames[t, 2 * j + 1]
    cuda.syncthreads()
    fft_stages(buf, plane, n_frames, log2_m, twiddle, shift, mask)
    for q in range(tid, n_frames * (m + 1), threads):
        f = q // (m + 1)
        k = q - f * (m + 1)
        re, im = real_bin(buf, plane, f << log2_m, k, m, twiddle, shift, mask)
        out_re[f, k] = re
        out_im[f, k] = im


@pytest.mark.parametrize("fft_size", [2, 4, 8, 64, 256])
@pytest.mark.parametrize("threads", [1, 4, 32])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_rfft_matches_numpy(rng, fft_size, threads, dtype):
    """Also at sizes with a swizzled layout (fft 32 and up in float64, 64 in float32):
    the transform must not depend on where the elements live."""
    n_frames = 3
    frames = rng.standard_normal((n_frames, fft_size)).astype(dtype)
    m = fft_size // 2
    out_re = np.zeros((n_frames, m + 1), dtype)
    out_im = np.zeros((n_frames, m + 1), dtype)
    shared = 2 * n_frames * fft_size * np.dtype(dtype).itemsize
    log2_m = log2_exact(m)
    shift, mask = swizzle(log2_m, np.dtype(dtype).itemsize)
    _rfft_kernel[1, threads, 0, shared](frames, twiddle_table(fft_size, dtype), out_re,
                                        out_im, log2_m, shift, mask)
    expected = np.fft.rfft(frames.astype(np.float64), axis=-1)
    scale = np.abs(expected).max()
    tol = 1e-13 if dtype == np.float64 else 2e-6
    np.testing.assert_allclose(out_re, expected.real, rtol=0, atol=tol * scale)
    np.testing.assert_allclose(out_im, expected.imag, rtol=0, atol=tol * scale)


def test_bit_reverse_is_a_permutation():
    @cuda.jit
    def kernel(out, bits):
        for i in range(cuda.grid(1), out.shape[0], cuda.gridsize(1)):
            out[i] = bit_reverse(i, bits)
    # up to 14 bits: the half-size transform of fft_size 32768
    for bits in (0, 1, 3, 6, 14):
        out = np.zeros(1 << bits, np.int64)
        kernel[2, 32](out, bits)
        expected = [int(format(i, f"0{bits}b")[::-1] or "0", 2) for i in range(1 << bits)]
        assert out.tolist() == expected


def test_twiddle_table_and_log2():
    table = twiddle_table(16, np.float64)
    np.testing.assert_allclose(table[0] - 1j * table[1],
                               np.exp(-2j * np.pi * np.arange(8) / 16), atol=1e-15)
    assert [log2_exact(n) for n in (1, 2, 1024, 3, 0, 1000)] == [0, 1, 10, -1, -1, -1]
