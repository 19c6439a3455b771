"""The means of a band's `count` smallest and `count` largest values (spectral contrast's
valleys and peaks) without sorting the band.

librosa sorts every band of every frame; the top band at 4096 points holds 1864 bins of
which 37 are wanted at each end. Here the values are compared as int64 keys (a float64's
bit pattern, made to order like the value), and:

1. one pass splits the band into G strided columns (G a multiple of the vector width,
   about 4 x count) and takes each column's least key (and least negated key);
2. a bisection over those G minima finds a bound t with at least `count` of them <= t:
   then at least `count` values are <= t, so the `count` smallest all are;
3. only the columns whose minimum is <= t are read again, keeping their keys <= t (about
   1.2 x count on a spectrum);
4. a bisection over those candidates finds the `count`-th smallest, and one pass sums
   the values below it (ties at it are added as often as they are taken).

Every step but 3 is a branch-free pass that vectorises. The result is the exact mean of
the `count` extremes, summed in the candidates' order: a deterministic function of the
band, whatever the thread count.
"""

import numpy as np
from numba import uint64

from .fastlog import bits_float64, float64_bits
from .jit import cpu_function

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
def least_key(keys, n):
    least = keys[0]
    for i in range(uint64(1), uint64(n)):
        least = min(least, keys[i])
    return least


@cpu_function
def greatest_key(keys, n):
    greatest = keys[0]
    for i in range(uint64(1), uint64(n)):
        greatest = max(greatest, keys[i])
    return greatest


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
    """A key t with count <= #(keys[:n] <= t) <= count + slack (or, where ties leave no
    such t, the count-th smallest key): a bisection on the key range."""
    low = least_key(keys, n) - 1   # nothing is <= low
    high = greatest_key(keys, n)         # everything is <= high
    while low + 1 < high:
        mid = midpoint(low, high)
        below = count_at_most(keys, n, mid)
        if below < count:
            low = mid
        else:
            high = mid
            if below <= count + slack:
                break
    return high


@cpu_function
def column_candidates(values, start, stop, n_columns, column_keys, bound, flip, columns,
                      out):
    """out[:m] = the keys <= bound of the columns whose least key is <= bound; returns m.
    flip: 0 for the values' keys, -1 for the negated values' (key ^ -1 = ~key).
    columns: int64 scratch of n_columns entries.

    The columns are listed first and then read row by row, every loop branch-free: a
    branch per column, taken for about a quarter of them at random, cost more than
    reading the columns.
    """
    n_selected = 0
    for g in range(uint64(0), uint64(n_columns)):
        columns[n_selected] = g
        n_selected += 1 if column_keys[g] <= bound else 0
    m = 0
    last = stop - 1
    for row in range(start, stop, n_columns):   # the last row may be short
        for j in range(uint64(0), uint64(n_selected)):
            i = row + columns[j]
            key = ordered_key(values[min(i, last)]) ^ flip
            out[m] = key
            m += 1 if (key <= bound) & (i <= last) else 0
    return m


@cpu_function
def sum_of_least(keys, n, count, low, high):
    """The sum of the values of the `count` smallest of keys[:n], given low < every key
    and #(keys <= high) >= count."""
    exact = False   # a key with exactly `count` keys at or below it was met
    while low + 1 < high:
        mid = midpoint(low, high)
        below = count_at_most(keys, n, mid)
        if below < count:
            low = mid
        else:
            high = mid
            if below == count:
                exact = True
                break
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


@cpu_function
def extreme_means(values, start, stop, count, scratch):
    """Means of the `count` smallest and of the `count` largest of values[start:stop]
    (all of them when the band is smaller), finite values.

    scratch: (5, stop - start or more) int64 buffer.
    """
    size = stop - start
    n = min(count, size)
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
    low_keys, high_keys, lows, highs, columns = (scratch[0], scratch[1], scratch[2],
                                                 scratch[3], scratch[4])
    column_minima(values, start, stop, n_columns, low_keys, high_keys)
    low_bound = bound_of_least(low_keys, n_columns, n, n // 4)
    high_bound = bound_of_least(high_keys, n_columns, n, n // 4)
    n_lows = column_candidates(values, start, stop, n_columns, low_keys, low_bound, 0,
                               columns, lows)
    n_highs = column_candidates(values, start, stop, n_columns, high_keys, high_bound, -1,
                                columns, highs)
    low = sum_of_least(lows, n_lows, n, least_key(low_keys, n_columns) - 1, low_bound)
    high = -sum_of_least(highs, n_highs, n, least_key(high_keys, n_columns) - 1, high_bound)
    return low / n, high / n
