"""Shared-memory bank conflicts of the block FFT, counted from the kernels' own index
arithmetic (fastmixloss.cuda.fft's device functions, run as plain Python).

The model (NVIDIA's, for sm_90): shared memory has 32 banks of 4 bytes. A warp's float32
access takes as many passes as the most distinct words any one bank is asked for (lanes
reading the same word share it). A float64 access is served per half-warp: each half's
16 lanes take as many passes as the most distinct 8-byte elements that fall on any one
bank pair (element index mod 16), and the warp needs the two halves' sum. Conflict-free is
1 pass in float32 and 2 in float64; "ways" below is passes over that ideal.
"""

import numpy as np
import pytest

from fastmixloss.cuda import fft
from fastmixloss.cuda.core import MAX_FFT_SIZE
from fastmixloss.cuda.fft import log2_exact, swizzle

WARP = 32
THREADS = 256                                # LaunchConfig().stft_threads
POINTS_PER_BLOCK = 2048                      # LaunchConfig().points_per_block
SIZES = [1 << b for b in range(8, log2_exact(MAX_FFT_SIZE) + 1)]   # 256 .. 32768


@pytest.fixture(autouse=True)
def plain_python_index_functions(monkeypatch):
    """The device functions call each other through the module's globals: make those the
    plain Python functions, so that the kernels' own code runs here on the host."""
    for name in ("slot", "bit_reverse", "butterfly_slots"):
        monkeypatch.setattr(fft, name, getattr(fft, name).py_func)


def ways(slots, itemsize):
    """Passes a warp needs for one access to these element slots (one per active lane,
    lane order), over the conflict-free count."""
    slots = list(slots)
    if itemsize == 4:
        phases, banks = [slots], 32
    else:
        phases, banks = [slots[:16], slots[16:]], 16
    passes = 0
    for phase in phases:
        if not phase:
            continue
        per_bank = {}
        for s in phase:
            per_bank.setdefault(s % banks, set()).add(s)
        passes += max(len(words) for words in per_bank.values())
    return passes / len([p for p in phases if p])


def geometry(fft_size, dtype):
    """log2_m, transforms per block, swizzle (shift, mask), as the backend launches them."""
    log2_m = log2_exact(fft_size // 2)
    frames = max(1, POINTS_PER_BLOCK // fft_size)
    return log2_m, 2 * frames, swizzle(log2_m, np.dtype(dtype).itemsize)


def warps(total, sample=256):
    """First lane index of the warps of a loop over `total` items, evenly thinned to at
    most `sample` warps (the patterns repeat)."""
    n = -(-total // WARP)
    return range(0, n * WARP, WARP * max(1, n // sample))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", SIZES)
def test_bit_reversed_store_is_conflict_free(fft_size, dtype):
    log2_m, n_transforms, (shift, mask) = geometry(fft_size, dtype)
    m = 1 << log2_m
    q = np.arange(n_transforms * m)
    # frame_group_terms's store: transform q >> log2_m, input j = q mod m, bit-reversed
    slots = fft.slot((q >> log2_m << log2_m) + fft.bit_reverse(q & (m - 1), log2_m),
                     shift, mask)
    worst = max(ways(slots[w:w + WARP], np.dtype(dtype).itemsize)
                for w in range(0, len(q), WARP))
    assert worst == 1, f"{worst}-way conflicts in the bit-reversed store"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", SIZES)
def test_butterfly_reads_and_writes_are_conflict_free(fft_size, dtype):
    log2_m, n_transforms, (shift, mask) = geometry(fft_size, dtype)
    butterflies = n_transforms << log2_m >> 1
    itemsize = np.dtype(dtype).itemsize
    for stage in range(log2_m):
        for w in warps(butterflies):
            lanes = [fft.butterfly_slots(b, stage, log2_m, b % THREADS, shift, mask)
                     for b in range(w, min(w + WARP, butterflies))]
            # fft_stages reads (and writes) `first` in one instruction, `second` in the next
            for which in (0, 1):
                worst = ways([lane[which] for lane in lanes], itemsize)
                assert worst == 1, (f"stage {stage}, butterflies {w}..: {worst}-way "
                                    "conflicts")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", [s for s in SIZES if s <= 4096])
def test_butterflies_touch_every_element_once_per_stage(fft_size, dtype):
    """The reordering within a warp changes which lane holds which element, never the
    butterflies computed: each stage pairs every element exactly once, i0 with i0 + span.
    (Larger sizes run the same arithmetic with more stages of span >= 32.)"""
    log2_m, n_transforms, (shift, mask) = geometry(fft_size, dtype)
    butterflies = n_transforms << log2_m >> 1
    unslot = {fft.slot(a, shift, mask): a for a in range(n_transforms << log2_m)}
    for stage in range(log2_m):
        pairs = set()
        for b in range(butterflies):
            first, second, swapped = fft.butterfly_slots(b, stage, log2_m, b % THREADS,
                                                         shift, mask)
            lower, upper = (unslot[second], unslot[first]) if swapped else (
                unslot[first], unslot[second])
            assert upper - lower == 1 << stage and not lower >> stage & 1
            pairs.add(lower)
        assert len(pairs) == butterflies


@pytest.mark.parametrize("itemsize", [4, 8])
@pytest.mark.parametrize("log2_m", range(0, log2_exact(MAX_FFT_SIZE)))
def test_slot_is_a_permutation_of_any_buffer(log2_m, itemsize):
    """Every element of a buffer of whole transforms lands inside it, each in its own
    slot, for every supported size and any number of transforms."""
    shift, mask = swizzle(log2_m, itemsize)
    m = 1 << log2_m
    for n_transforms in (1, 2, 3, 7):
        if n_transforms * m > 1 << 16:
            break
        a = np.arange(n_transforms * m)
        assert np.array_equal(np.sort(fft.slot(a, shift, mask)), a)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", SIZES)
def test_bin_reads_have_at_most_two_way_conflicts(fft_size, dtype):
    """real_bin reads Z[k] (an aligned run: conflict-free) and Z[m - k], a run that
    straddles two aligned runs, which may put two words on one bank."""
    log2_m, n_transforms, (shift, mask) = geometry(fft_size, dtype)
    m = 1 << log2_m
    itemsize = np.dtype(dtype).itemsize
    q = np.arange((n_transforms // 2) << log2_m)
    base = (2 * (q >> log2_m)) << log2_m
    k = q & (m - 1)
    for slots, limit in ((fft.slot(base + k, shift, mask), 1),
                         (fft.slot(base + ((m - k) & (m - 1)), shift, mask), 2)):
        worst = max(ways(slots[w:w + WARP], itemsize) for w in range(0, len(q), WARP))
        assert worst <= limit
