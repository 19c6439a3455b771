"""The means of a band's `count` smallest and `count` largest values (spectral contrast's
valleys and peaks) without sorting the band.

librosa sorts every band of every frame; the top band at 4096 points holds 1864 bins of
which 37 are wanted at each end. Here the values are compared as int64 keys (a float64's
bit pattern, made to order like the value), and:

1. one pass splits the band into G strided columns (G a multiple of the vector width,
   about 4 x count) and takes each column's least key (and least negated key);
2. a bisection over those G minima finds a bound t with at least `count` of them <= t:
   then at least `count` values are <= t, so the `count` smallest all are; on a
   spectrum t keeps about 1.3 x count values;
3. one pass marks the values <= t in 64-bit masks, and the marked values' keys are
   collected in bin order;
4. a bisection over those candidates finds the `count`-th smallest, and one pass sums
   the values below it (ties at it are added as often as they are taken).

Steps 1, 3 and the passes of 2 and 4 are branch-free and vectorise. The result is the
exact mean of the `count` extremes, summed in bin order: a deterministic function of the
band, whatever the thread count.
"""

import numpy as np
from numba import uint64
from numba.cpython.unsafe.numbers import trailing_zeros

from ...kernels.fastlog import bits_float64, float64_bits
from ...kernels.jit import cpu_function

LANES = 8                        # columns come in multiples of this (a vector's width)
_MAGNITUDE = 0x7FFFFFFFFFFFFFFF  # the bits below the sign


@cpu_function
def ordered_key(x):
    """An int64 that orders like float64 x: the bit pattern, with the magnitude bits of a
    negative number inverted (its pattern grows as it falls)."""
    bits = float64_bits(x)
    return bits ^ ((bits >> 63) & _MAGNITUDE)


@cpu_function
def key_value(key):
    """The float64 of an `ordered_key` (the map is its own inverse)."""
    return bits_float64(key ^ ((key >> 63) & _MAGNITUDE))


@cpu_function
def midpoint(low, high):
    """floor((low + high) / 2) without overflow (keys span the whole int64 range)."""
    return (low >> 1) + (high >> 1) + (low & high & 1)


@cpu_function
def count_at_most(keys, n, bound):
    """How many of keys[:n] are <= bound."""
    count = 0
    for i in range(uint64(0), uint64(n)):
        count += 1 if keys[i] <= bound else 0
    return count


@cpu_function
def key_range(keys, n):
    """(least, greatest) of keys[:n], n >= 1."""
    least = greatest = keys[0]
    for i in range(uint64(1), uint64(n)):
        least = min(least, keys[i])
        greatest = max(greatest, keys[i])
    return least, greatest


@cpu_function
def narrow(keys, n, count, low, high, slack):
    """Bisection of the key range: given #(keys[:n] <= low) < count <= #(keys[:n] <= high),
    (low, high, early) with the same holding and either low + 1 == high (high is then the
    count-th smallest key) or #(keys[:n] <= high) <= count + slack (early True)."""
    while low + 1 < high:
        mid = midpoint(low, high)
        below = count_at_most(keys, n, mid)
        if below < count:
            low = mid
        else:
            high = mid
            if below <= count + slack:
                return low, high, True
    return low, high, False


@cpu_function
def column_minima(values, start, stop, n_columns, low_keys, high_keys):
    """Column g of values[start:stop] is values[start + g], values[start + g + n_columns],
    ...: low_keys[g] = its least key, high_keys[g] = its least key of the negated value
    (~key: the high end is found as the low end of the negated values).
    n_columns <= stop - start."""
    n_rows = (stop - start) // n_columns
    row = values[start:start + n_columns]
    for g in range(uint64(0), uint64(n_columns)):
        key = ordered_key(row[g])
        low_keys[g] = key
        high_keys[g] = ~key
    for r in range(1, n_rows + 1):   # the last row may be short
        row = values[start + r * n_columns:min(stop, start + (r + 1) * n_columns)]
        for g in range(uint64(0), uint64(row.shape[0])):
            key = ordered_key(row[g])
            low_keys[g] = min(low_keys[g], key)
            high_keys[g] = min(high_keys[g], ~key)


@cpu_function
def bound_of_least(keys, n, count, slack):
    """(floor, t): floor a key below every one of keys[:n]; t a key with
    count <= #(keys[:n] <= t) <= count + slack (or, where ties leave no such t, the
    count-th smallest key)."""
    least, greatest = key_range(keys, n)
    floor = least - 1   # nothing is <= floor, everything is <= greatest
    _, bound, _ = narrow(keys, n, count, floor, greatest, slack)
    return floor, bound


@cpu_function
def word_masks(values, first, count, low_bound, high_bound):
    """(low, high): bit i of low is set where the key of values[first + i] is <= low_bound,
    of high where the negated value's key (~key) is <= high_bound, i < count <= 64."""
    low = np.uint64(0)
    high = np.uint64(0)
    word = values[first:first + count]
    for i in range(uint64(0), uint64(count)):
        key = ordered_key(word[i])
        low |= np.uint64(key <= low_bound) << i
        high |= np.uint64(key >= ~high_bound) << i   # ~key <= b exactly when key >= ~b
    return low, high


@cpu_function
def bound_masks(values, start, stop, low_bound, high_bound, low_masks, high_masks):
    """low_masks[w], high_masks[w] = `word_masks` of values[start + 64 w:][:64]. One
    branch-free pass (it vectorises; whole words with a constant count, 1.7x faster than
    a count taken from the slice); returns the number of words."""
    n_full = (stop - start) // 64
    for w in range(n_full):
        low_masks[w], high_masks[w] = word_masks(values, start + 64 * w, 64, low_bound,
                                                 high_bound)
    if n_full * 64 < stop - start:
        low_masks[n_full], high_masks[n_full] = word_masks(
            values, start + 64 * n_full, stop - start - 64 * n_full, low_bound, high_bound)
        return n_full + 1
    return n_full


@cpu_function
def masked_keys(values, start, masks, n_words, flip, out):
    """out[:m] = the keys (^ flip) of the values whose bits are set in masks[:n_words]
    (see `bound_masks`), in bin order; returns m."""
    m = 0
    for w in range(n_words):
        bits = np.uint64(masks[w])
        first = start + 64 * w
        while bits != 0:
            out[m] = ordered_key(values[first + trailing_zeros(bits)]) ^ flip
            m += 1
            bits &= bits - np.uint64(1)
    return m


@cpu_function
def sum_of_least(keys, n, count, low, high):
    """The sum of the values of the `count` smallest of keys[:n], given low < every key
    and #(keys <= high) >= count."""
    # exact: a key with exactly `count` keys at or below it was met
    low, high, exact = narrow(keys, n, count, low, high, 0)
    # every key <= last is taken; the rest of the `count` are ties at `high`, the
    # count-th smallest key
    last = high if exact else low
    total = 0.0
    taken = 0
    for i in range(uint64(0), uint64(n)):
        key = keys[i]
        total += key_value(key) if key <= last else 0.0
        taken += 1 if key <= last else 0
    return total + (count - taken) * key_value(high)


# compiled once, not inlined into the spectral kernel: its body is large (the kernel's
# first compile took 1.6 s longer with it inlined) and one call per band costs nothing
@cpu_function(inline=False)
def extreme_means(values, start, stop, count, scratch):
    """Means of the `count` smallest and of the `count` largest of values[start:stop]
    (all of them when the band is smaller), finite values.

    scratch: (5, stop - start or more) int64 buffer. The band is cut to the values
    (whatever start and stop say, nothing outside them is read); an empty band, count < 1
    or a scratch too small for the band give (NaN, NaN).
    """
    start = min(max(start, 0), values.shape[0])
    stop = min(max(stop, start), values.shape[0])
    size = stop - start
    n = min(count, size)
    if n < 1 or scratch.shape[0] < 5 or scratch.shape[1] < size:
        return np.nan, np.nan
    if n == 1:
        low = np.inf
        high = -np.inf
        for i in range(uint64(start), uint64(stop)):
            low = min(low, values[i])
            high = max(high, values[i])
        return low, high
    # ~4 x count columns: about a quarter of them hold one of the extremes, so the bound
    # keeps little more than `count` values
    n_columns = min(size, LANES * ((4 * n + LANES - 1) // LANES))
    low_keys, high_keys, lows, highs = scratch[0], scratch[1], scratch[2], scratch[3]
    words = (size + 63) // 64   # <= size / 2: both masks fit one scratch row
    low_masks, high_masks = scratch[4, :words], scratch[4, words:]
    column_minima(values, start, stop, n_columns, low_keys, high_keys)
    low_floor, low_bound = bound_of_least(low_keys, n_columns, n, n // 4)
    high_floor, high_bound = bound_of_least(high_keys, n_columns, n, n // 4)
    n_words = bound_masks(values, start, stop, low_bound, high_bound, low_masks, high_masks)
    n_lows = masked_keys(values, start, low_masks, n_words, 0, lows)
    n_highs = masked_keys(values, start, high_masks, n_words, -1, highs)
    low = sum_of_least(lows, n_lows, n, low_floor, low_bound)
    high = -sum_of_least(highs, n_highs, n, high_floor, high_bound)
    return low / n, high / n
