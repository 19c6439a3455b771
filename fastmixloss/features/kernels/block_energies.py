"""Loudness stages: the K-weighting biquads (ITU-R BS.1770) and the block energies.

K-weighting is two biquads in series (a high shelf, then a high pass). They run in
transposed direct form II in float64, the structure of scipy.signal.lfilter, which is what
pyloudnorm filters with. Every kernel returns plain float64 sums (of squared filtered
samples; for chunks also their dot products with a basis, and the filters' final states);
gating, channel weights and the decibels are NumPy (features/bs1770.py). Each kernel is a
Python wrapper that allocates the output and runs a serial `*_worker` on every worker
(fastmixloss/kernels/workers.py), one frame, row or group of chunks per task: any thread
count, same bits.

Coefficients come as a (2, 5) float64 array, one row per stage: b0, b1, b2, a1, a2
(normalised so that a0 = 1).

Loudness frames restart the filters per frame, and they overlap by half: filtered frame by
frame, every sample is filtered twice. `chunk_energies` filters each hop-long chunk once
from rest; a frame's second half is then its second chunk's output plus the zero-input
output of the state its first chunk left (the filters are linear), whose sums need only
dot products with a precomputed basis (`zero_input_basis`). features/bs1770.py
assembles the block energies.
"""

import numpy as np
from numba import uint64

from ...kernels.jit import cpu_function, cpu_kernel
from ...kernels.peaks import largest_abs
from ...kernels.workers import read_only, run_workers, thread_count
from .preconditions import require, require_cuts


@cpu_function
def k_weight_step(x, k, s0, s1, s2, s3):
    """One sample through both stages (transposed direct form II); k: the (2, 5)
    coefficients; s0..s3: the state, zeros to start. Returns (output, new state...)."""
    y = k[0, 0] * x + s0
    s0 = k[0, 1] * x - k[0, 3] * y + s1
    s1 = k[0, 2] * x - k[0, 4] * y
    z = k[1, 0] * y + s2
    s2 = k[1, 1] * y - k[1, 3] * z + s3
    s3 = k[1, 2] * y - k[1, 4] * z
    return z, s0, s1, s2, s3


@cpu_function
def k_weight(signal, start, stop, coefficients, out):
    """out[n - start] = K-weighted signal[n] for start <= n < stop, from a zero state.

    signal: (T,) any float dtype; out: float64 buffer of at least stop - start entries.
    Returns the final state (s0, s1, s2, s3).
    """
    s0 = s1 = s2 = s3 = 0.0
    for n in range(start, stop):
        out[n - start], s0, s1, s2, s3 = k_weight_step(np.float64(signal[n]), coefficients,
                                                       s0, s1, s2, s3)
    return s0, s1, s2, s3


@cpu_function
def k_weight_pair(first, second, start, stop, coefficients, out_first, out_second):
    """`k_weight` of two signals in one loop: two independent recursions side by side, so
    the CPU overlaps their latencies (a biquad alone waits on its own previous output).
    Returns both final states, the first signal's first."""
    a0 = a1 = a2 = a3 = 0.0
    b0 = b1 = b2 = b3 = 0.0
    for n in range(start, stop):
        out_first[n - start], a0, a1, a2, a3 = k_weight_step(
            np.float64(first[n]), coefficients, a0, a1, a2, a3)
        out_second[n - start], b0, b1, b2, b3 = k_weight_step(
            np.float64(second[n]), coefficients, b0, b1, b2, b3)
    return a0, a1, a2, a3, b0, b1, b2, b3


@cpu_function
def sum_of_squares(values, start, stop):
    """Sum of values[start:stop] ** 2 (an unsigned loop over the slice: it vectorises)."""
    span = values[start:stop]
    total = 0.0
    for n in range(uint64(0), uint64(span.shape[0])):
        total += span[n] * span[n]
    return total


def frame_block_energies(signal, frame_length, hop, n_frames, blocks, coefficients):
    """Per frame, each channel K-weighted from a zero state, and its block energies.

    Parameters
    ----------
    signal : (C, T) any float dtype
        Frame f is signal[:, f*hop : f*hop + frame_length], filtered on its own (the meter
        is restarted for every frame, as the toolkit does).
    frame_length, hop, n_frames : int
    blocks : (J, 2) int64
        [lower, upper) sample bounds of the gating blocks inside a frame, upper clipped to
        frame_length.
    coefficients : (2, 5) float64, see the module's docstring.

    Returns
    -------
    energies : (n_frames, C, J) float64
        Sums of squared filtered samples.
    peaks : (n_frames,) float64
        Max |sample| of the frame over all channels.
    """
    require(np.ndim(signal) == 2 and frame_length >= 1 and hop >= 1 and n_frames >= 0,
            "a (C, T) signal, frame_length and hop >= 1")
    require(n_frames == 0 or (n_frames - 1) * hop + frame_length <= signal.shape[1],
            f"{n_frames} frames of {frame_length} hop {hop} fit in {signal.shape[1]} samples")
    blocks = np.asarray(blocks)
    require(blocks.ndim == 2 and blocks.shape[1] == 2 and bool(
        ((blocks[:, 0] >= 0) & (blocks[:, 1] >= blocks[:, 0])
         & (blocks[:, 1] <= frame_length)).all()),
        f"the blocks lie inside a frame of {frame_length}: {blocks.tolist()}")
    energies = np.zeros((n_frames, signal.shape[0], blocks.shape[0]))
    peaks = np.zeros(n_frames)
    run_workers(frame_block_energies_worker, n_frames, thread_count(),
                read_only(np.ascontiguousarray(signal)), int(frame_length), int(hop),
                read_only(np.ascontiguousarray(blocks, np.int64)),
                read_only(np.ascontiguousarray(coefficients, np.float64)), energies, peaks)
    return energies, peaks


@cpu_kernel
def frame_block_energies_worker(signal, frame_length, hop, blocks, coefficients, energies,
                                peaks, worker, n_workers):
    """One worker's share of `frame_block_energies`: frames worker, worker + n_workers,
    ..., each written to its own rows of energies and peaks."""
    n_frames, n_channels, n_blocks = energies.shape
    if signal.shape[0] < n_channels or blocks.shape[0] < n_blocks or peaks.shape[0] < n_frames:
        return   # (the wrapper sizes the outputs from the signal and the blocks)
    filtered = np.empty((2, frame_length))
    for f in range(worker, n_frames, n_workers):
        start = min(f * hop, signal.shape[1])
        # a frame past the signal's end is cut there (the wrapper refuses such plans)
        stop = min(start + frame_length, signal.shape[1])
        peak = 0.0
        for c in range(n_channels):
            peak = max(peak, largest_abs(signal[c, start:stop], 1.0))
        for c in range(0, n_channels, 2):
            if c + 1 < n_channels:
                k_weight_pair(signal[c], signal[c + 1], start, stop, coefficients,
                              filtered[0], filtered[1])
            else:
                k_weight(signal[c], start, stop, coefficients, filtered[0])
            for i in range(min(2, n_channels - c)):
                for j in range(n_blocks):
                    energies[f, c + i, j] = sum_of_squares(
                        filtered[i], blocks[j, 0], min(blocks[j, 1], stop - start))
        peaks[f] = peak


# K-weighting's state: two values per biquad
N_STATE = 4


def zero_input_basis(coefficients, length, cuts):
    """The K-weighting's output from each unit state with no input, and its Gram matrices.

    Parameters
    ----------
    coefficients : (2, 5) float64
    length : int
    cuts : (S + 1,) int64, increasing, cuts[0] = 0, cuts[-1] = length

    Returns
    -------
    basis : (N_STATE, length) float64
        basis[i, m] = output m of the filters started from state e_i with zero input. The
        filters are linear: run on from a state s, their output is the output from rest
        plus sum_i s_i basis[i].
    gram : (S, N_STATE, N_STATE) float64
        gram[j] = sum over cuts[j] <= m < cuts[j + 1] of basis[:, m] basis[:, m]^T.
    """
    require(length >= 0, f"length {length} >= 0")
    require_cuts(cuts, length, "cuts")
    basis = np.zeros((N_STATE, length))
    gram = np.zeros((cuts.shape[0] - 1, N_STATE, N_STATE))
    # one task of 4 x length filter steps: run here, not on the pool
    zero_input_basis_worker(read_only(np.ascontiguousarray(coefficients, np.float64)),
                            read_only(np.ascontiguousarray(cuts, np.int64)), basis, gram,
                            0, 1)
    return basis, gram


@cpu_kernel
def zero_input_basis_worker(coefficients, cuts, basis, gram, worker, n_workers):
    """The whole of `zero_input_basis` as one task (4 x length filter steps)."""
    if basis.shape[0] < N_STATE or gram.shape[1] < N_STATE or gram.shape[2] < N_STATE:
        return   # (the wrapper sizes them)
    for i in range(N_STATE):
        zero_input_response(coefficients, i, basis[i])
    length = basis.shape[1]
    for j in range(min(cuts.shape[0] - 1, gram.shape[0])):
        first = min(max(cuts[j], 0), length)   # cut to the basis, whatever cuts say
        stop = min(max(cuts[j + 1], first), length)
        for i in range(N_STATE):
            for k in range(i + 1):
                total = 0.0
                for m in range(first, stop):
                    total += basis[i, m] * basis[k, m]
                gram[j, i, k] = total
                gram[j, k, i] = total


# inlined into its caller: compiled on its own (inline=False), its recursion rounded
# one way in the process that compiled the caller and another in a process that loaded
# the caller from the cache (the basis by up to 1e-11, frame loudness by 7e-13 relative)
@cpu_function
def zero_input_response(coefficients, state, out):
    """out[m] = the filters' output m from the unit state `state` (0..3), zero input."""
    s0 = 1.0 if state == 0 else 0.0
    s1 = 1.0 if state == 1 else 0.0
    s2 = 1.0 if state == 2 else 0.0
    s3 = 1.0 if state == 3 else 0.0
    for m in range(out.shape[0]):
        out[m], s0, s1, s2, s3 = k_weight_step(0.0, coefficients, s0, s1, s2, s3)


# independent recursions filtered side by side, one per lane: (chunk, channel) pairs.
# Written as a loop over lanes inside the loop over samples, the lanes vectorise (Numba
# leaves LLVM's SLP vectoriser off, so the lanes must be a loop); 16 lanes ran the
# K-weighting 2x faster than two interleaved scalar recursions, bit for bit the same.
K_LANES = 16
# samples per block of the lanes' transposed input (16 lanes x 512 float64: 64 KiB)
K_BLOCK = 512
# samples per lane copied in one run of the transpose: 12% faster K-weighting than one
# sample of every lane at a time (3.1 against 3.6 ms for a 30-s stereo signal)
TILE = 32


@cpu_function
def k_weight_lanes(inputs, n_samples, coefficients, state, basis, squares, dots):
    """Run the lanes' recursions over inputs[:n_samples] (n_samples x K_LANES, sample
    major) and add each lane's output to its sums.

    state : (N_STATE, K_LANES) float64, carried from call to call.
    basis : (N_STATE, n_samples) float64, the zero-input basis at these samples.
    squares : (K_LANES,) += sum of squared outputs; dots : (N_STATE, K_LANES) += sum of
        outputs times basis rows.
    """
    b0, b1, b2, a1, a2 = (coefficients[0, 0], coefficients[0, 1], coefficients[0, 2],
                          coefficients[0, 3], coefficients[0, 4])
    c0, c1, c2, d1, d2 = (coefficients[1, 0], coefficients[1, 1], coefficients[1, 2],
                          coefficients[1, 3], coefficients[1, 4])
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    g0, g1, g2, g3 = dots[0], dots[1], dots[2], dots[3]
    for n in range(n_samples):
        x_n = inputs[n]
        e0, e1, e2, e3 = basis[0, n], basis[1, n], basis[2, n], basis[3, n]
        for lane in range(uint64(0), uint64(K_LANES)):   # the lanes vectorise
            x = x_n[lane]
            # k_weight_step, written out over the lanes' state arrays
            y = b0 * x + s0[lane]
            s0[lane] = b1 * x - a1 * y + s1[lane]
            s1[lane] = b2 * x - a2 * y
            z = c0 * y + s2[lane]
            s2[lane] = c1 * y - d1 * z + s3[lane]
            s3[lane] = c2 * y - d2 * z
            squares[lane] += z * z
            g0[lane] += z * e0
            g1[lane] += z * e1
            g2[lane] += z * e2
            g3[lane] += z * e3


@cpu_function
def cuts_within(cuts, n_segments, limit):
    """Whether cuts[:n_segments + 1] exist and rise from 0 or more to at most limit."""
    if cuts.shape[0] < n_segments + 1 or cuts[0] < 0 or cuts[n_segments] > limit:
        return False
    for s in range(n_segments):
        if cuts[s + 1] < cuts[s]:
            return False
    return True


def chunk_energies(signal, hop, n_chunks, cuts, coefficients, basis):
    """Per chunk of `hop` samples, each channel K-weighted from a zero state: what the
    loudness frames of two chunks need, each sample filtered once.

    Parameters
    ----------
    signal : (C, T) any float dtype, T >= n_chunks * hop
    hop : int
    cuts : (S + 1,) int64, increasing, cuts[0] = 0, cuts[-1] = hop
        Segments [cuts[j], cuts[j + 1]) of a chunk.
    coefficients : (2, 5) float64
    basis : (N_STATE, hop) float64, from `zero_input_basis`

    Returns
    -------
    squares : (n_chunks, C, S) float64
        Sums of squared filtered samples per segment.
    dots : (n_chunks, C, S, N_STATE) float64
        Per segment, the filtered samples' dot products with each basis row.
    states : (n_chunks, C, N_STATE) float64
        The filters' state after the chunk.
    peaks : (n_chunks,) float64
        Max |sample| of the chunk over all channels.
    """
    require(np.ndim(signal) == 2 and hop >= 1 and 0 <= n_chunks * hop <= signal.shape[1],
            f"{n_chunks} chunks of {hop} fit in {np.shape(signal)[-1]} samples")
    require_cuts(cuts, hop, "cuts")
    require(np.shape(basis) == (N_STATE, hop), f"a ({N_STATE}, {hop}) basis")
    n_channels, n_segments = signal.shape[0], cuts.shape[0] - 1
    squares = np.zeros((n_chunks, n_channels, n_segments))
    dots = np.zeros((n_chunks, n_channels, n_segments, N_STATE))
    states = np.zeros((n_chunks, n_channels, N_STATE))
    peaks = np.zeros(n_chunks)
    per_group = max(1, K_LANES // n_channels)   # chunks whose channels fill the lanes
    run_workers(chunk_energies_worker, (n_chunks + per_group - 1) // per_group,
                thread_count(), read_only(np.ascontiguousarray(signal)), int(hop),
                read_only(np.ascontiguousarray(cuts, np.int64)),
                read_only(np.ascontiguousarray(coefficients, np.float64)),
                read_only(np.ascontiguousarray(basis, np.float64)), squares, dots, states,
                peaks)
    return squares, dots, states, peaks


@cpu_kernel
def chunk_energies_worker(signal, hop, cuts, coefficients, basis, squares, dots, states,
                          peaks, worker, n_workers):
    """One worker's share of `chunk_energies`: groups of chunks worker, worker +
    n_workers, ..., a group's (chunk, channel) pairs filtered in the K_LANES lanes
    (lanes past the last pair filter whatever the buffer holds and are not read). Each
    pair's results go to its own rows of the outputs and do not depend on its lane or
    group: any thread count, same bits."""
    n_chunks, n_channels, n_segments = squares.shape
    if (signal.shape[0] < n_channels or n_chunks * hop > signal.shape[1]
            or basis.shape[0] < N_STATE or basis.shape[1] < hop or peaks.shape[0] < n_chunks
            or not cuts_within(cuts, n_segments, hop)):
        return   # a plan outside the arrays (the wrapper refuses it first)
    per_group = max(1, K_LANES // n_channels)
    n_groups = (n_chunks + per_group - 1) // per_group
    inputs = np.zeros((K_BLOCK, K_LANES))
    n_samples = signal.shape[1]
    flat = signal.reshape(-1)
    offsets = np.zeros(K_LANES, np.int64)
    state = np.zeros((N_STATE, K_LANES))
    lane_squares = np.zeros(K_LANES)
    lane_dots = np.zeros((N_STATE, K_LANES))
    for group in range(worker, n_groups, n_workers):
        first = group * per_group
        count = min(per_group, n_chunks - first)
        n_lanes = count * n_channels
        for j in range(count):
            start = (first + j) * hop
            peak = 0.0
            for c in range(n_channels):
                peak = max(peak, largest_abs(signal[c, start:start + hop], 1.0))
            peaks[first + j] = peak
        state[:] = 0.0
        for segment in range(n_segments):
            lane_squares[:] = 0.0
            lane_dots[:] = 0.0
            for block in range(cuts[segment], cuts[segment + 1], K_BLOCK):
                length = min(K_BLOCK, cuts[segment + 1] - block)
                for lane in range(n_lanes):
                    offsets[lane] = ((lane % n_channels) * n_samples
                                     + (first + lane // n_channels) * hop + block)
                # transpose into sample-major lanes, a tile of TILE samples of each lane
                # at a time: each lane's samples are read in a contiguous run
                for tile in range(0, length, TILE):
                    m = min(TILE, length - tile)
                    for lane in range(n_lanes):
                        source = flat[offsets[lane] + tile:offsets[lane] + tile + m]
                        for n in range(m):
                            inputs[tile + n, lane] = np.float64(source[n])
                k_weight_lanes(inputs, length, coefficients, state,
                               basis[:, block:block + length], lane_squares, lane_dots)
            for lane in range(n_lanes):
                k, c = first + lane // n_channels, lane % n_channels
                squares[k, c, segment] = lane_squares[lane]
                for i in range(N_STATE):
                    dots[k, c, segment, i] = lane_dots[i, lane]
        for lane in range(n_lanes):
            k, c = first + lane // n_channels, lane % n_channels
            for i in range(N_STATE):
                states[k, c, i] = state[i, lane]


def segment_energies(signals, cuts, coefficients, states=None):
    """Sums of squared K-weighted samples between consecutive cuts, per row.

    signals: (R, T) any float dtype, each row filtered once from a zero state over its
    whole length; cuts: increasing int64 sample positions, cuts[0] = 0, cuts[-1] <= T;
    coefficients: (2, 5) float64. Returns (R, len(cuts) - 1) float64. No buffer: memory
    does not grow with T.

    states: None, or an (R, N_STATE) float64 array that receives each row's filter state
    after sample cuts[-1] (what a continuation of the row, silence included, starts from).
    """
    require(np.ndim(signals) == 2, "(R, T) signals")
    require_cuts(cuts, signals.shape[1], "cuts")
    out = np.zeros((signals.shape[0], cuts.shape[0] - 1))
    args = (read_only(np.ascontiguousarray(signals)),
            read_only(np.ascontiguousarray(cuts, np.int64)),
            read_only(np.ascontiguousarray(coefficients, np.float64)), out)
    if states is None:
        run_workers(segment_energies_worker, signals.shape[0], thread_count(), *args)
    else:
        require(np.shape(states) == (signals.shape[0], N_STATE)
                and states.dtype == np.float64, f"({signals.shape[0]}, {N_STATE}) states")
        run_workers(segment_states_worker, signals.shape[0], thread_count(), *args, states)
    return out


@cpu_function
def filter_segments(row, cuts, coefficients, out_row):
    """One row of `segment_energies`: out_row[s] = the sum of squared K-weighted samples
    of segment s (cut to the row, whatever cuts say). Returns the final state."""
    length = row.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    for s in range(out_row.shape[0]):
        total = 0.0
        first = min(max(cuts[s], 0), length)
        for n in range(first, min(max(cuts[s + 1], first), length)):
            z, s0, s1, s2, s3 = k_weight_step(np.float64(row[n]), coefficients,
                                              s0, s1, s2, s3)
            total += z * z
        out_row[s] = total
    return s0, s1, s2, s3


@cpu_kernel
def segment_energies_worker(signals, cuts, coefficients, out, worker, n_workers):
    """One worker's share of `segment_energies`: rows worker, worker + n_workers, ...
    (a row's recursion is serial), each written to its own row of out."""
    n_rows, n_segments = out.shape
    if signals.shape[0] < n_rows or cuts.shape[0] < n_segments + 1:
        return   # (the wrapper sizes out from the signals and the cuts)
    for r in range(worker, n_rows, n_workers):
        filter_segments(signals[r], cuts, coefficients, out[r])


@cpu_kernel
def segment_states_worker(signals, cuts, coefficients, out, states, worker, n_workers):
    """`segment_energies_worker` that also writes each row's final state to states[r]."""
    n_rows, n_segments = out.shape
    if (signals.shape[0] < n_rows or cuts.shape[0] < n_segments + 1
            or states.shape[0] < n_rows or states.shape[1] < N_STATE):
        return   # (the wrapper sizes out and states from the signals and the cuts)
    for r in range(worker, n_rows, n_workers):
        states[r, 0], states[r, 1], states[r, 2], states[r, 3] = filter_segments(
            signals[r], cuts, coefficients, out[r])
