"""The feature kernels' preconditions, checked in Python before a kernel runs."""

import numpy as np


def require(condition, what):
    """A kernel's precondition: Numba does not check indices, so a plan that broke one
    would read or write outside an array. A failure is a bug in the caller's plan, not
    bad input (the public functions refuse that first)."""
    if not condition:
        raise AssertionError(f"kernel precondition failed: {what}")


def require_band_table(table, columns, n_bins, name):
    """Each row's [first, stop) (its first two columns) a non-empty run of the n_bins
    bins; a contrast row's count (third column) at least 1."""
    table = np.asarray(table)
    require(table.ndim == 2 and table.shape[1] == columns, f"{name} is (P, {columns})")
    if table.shape[0]:
        first, stop = table[:, 0], table[:, 1]
        require(bool((first >= 0).all() and (stop > first).all() and (stop <= n_bins).all()),
                f"every band of {name} is a non-empty run of the {n_bins} bins: "
                f"{table.tolist()}")
        if columns == 3:
            require(bool((table[:, 2] >= 1).all()), f"{name} wants >= 1 value per band")


def require_cuts(cuts, length, what):
    """cuts: increasing int64 positions from 0 to at most `length`."""
    cuts = np.asarray(cuts)
    require(cuts.ndim == 1 and cuts.shape[0] >= 1 and cuts[0] == 0
            and bool((np.diff(cuts) >= 0).all()) and cuts[-1] <= length,
            f"{what} increase from 0 to at most {length}: {cuts.tolist()}")
