"""float32 rounding of the sum and difference spectra derived from the channels' spectra.

    python -m bench.derived_spectra --music /tmp/music --seconds 30 \\
        --json bench/results/DATE-derived-spectra.json

The DFT is linear, so S/D's spectra can come from the channels' transforms: X(L) + X(R)
for X(L + R), X(L) - X(R) for X(L - R), half the transforms. In float32 the two differ by
rounding. On the first --seconds of every render (each song's reference mix and its
estimates, stereo 44.1 kHz), at the library's default resolutions (fft 1024/2048/512, hop
120/240/50, win 600/1200/240, hann, centred frames as the library frames them), this
reports:

1. Per frame and bin, in NumPy: the derived spectra (float32 transforms of L and R, added
   in float32, and added in float64 as the kernel adds its rows) against the direct ones
   (L + R formed in float32, then transformed in float32), and both against float64
   throughout. The relative difference |A - B| / |B| per bin (bins with B = 0 left out),
   and |A - B| / the frame's RMS magnitude of B; max and RMS over every bin of every frame
   of every render.
2. The effect on S/D: for every estimate against its song's reference, the library's
   STFT kernel (kernels.stft.stft_row_partials) gives the term sums (SC numerator and
   denominator, log and linear magnitude distances; the linear one computed although its
   default weight is 0) of the derived rows (transforms of L and R, rows (1, 1) and
   (1, -1)) and of the direct ones (transforms of L + R and L - R), in float32, and the
   direct ones in float64; and the library's S/D reduction turns each into the loss.
   Largest relative difference over the pairs, per resolution, row and term.
"""

import argparse
import json
import os

import numpy as np
import scipy.fft
import soundfile

import fastmixloss as fm
from fastmixloss import engine
from fastmixloss.kernels import layout
from fastmixloss.kernels.stft import stft_row_partials
from fastmixloss.kernels.workers import thread_count

from .score_throughput import render_pairs

SUM_DIFF = np.array([[1.0, 1.0], [1.0, -1.0]])
ROWS = ("sum", "diff")
TERMS = {"sc_num": layout.SC_NUM, "sc_den": layout.SC_DEN, "log": layout.LOG_DIST,
         "lin": layout.LIN_DIST}
# the spectra compared in part 1: (name, candidate, baseline)
COMPARISONS = (("derived32 vs direct32", "derived32", "direct32"),
               ("derived(f64 add) vs direct32", "derived64add", "direct32"),
               ("derived32 vs float64", "derived32", "exact"),
               ("derived(f64 add) vs float64", "derived64add", "exact"),
               ("direct32 vs float64", "direct32", "exact"))
FRAMES_AT_ONCE = 4096   # frames per NumPy chunk: bounded memory at any length


def sd_loss():
    return fm.SumAndDifferenceSTFTLoss(output="full")


def label(res):
    """A resolution as the breakdowns' keys name it."""
    return f"fft{res.fft_size}_hop{res.hop_size}_win{res.win_length}"


def framed(signal, window, fft_size, hop_size, n_frames):
    """Centred frames of a 1-d signal (reflect-padded fft_size // 2 on each side, as the
    library and torch.stft frame), windowed: (n_frames, fft_size)."""
    pad = fft_size // 2
    padded = np.pad(signal, pad, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, fft_size)[::hop_size]
    return frames[:n_frames] * window


class Spread:
    """Max and sum of squares of relative differences, accumulated over chunks."""

    def __init__(self):
        self.max, self.squares, self.count = 0.0, 0.0, 0

    def add(self, values):
        if values.size:
            self.max = max(self.max, float(values.max()))
            self.squares += float(np.sum(values.astype(np.float64) ** 2))
            self.count += values.size

    def row(self):
        return {"max": self.max,
                "rms": (self.squares / self.count) ** 0.5 if self.count else None,
                "values": self.count}


def spectra_differences(stereo, plan, spreads):
    """Part 1 for one render (T, 2) float32: adds to spreads[resolution][row][comparison]
    [bin|frame] (Spread)."""
    left, right = stereo[:, 0], stereo[:, 1]
    direct = {"sum": left + right, "diff": left - right}   # float32, as the kernel mixes
    left64, right64 = left.astype(np.float64), right.astype(np.float64)
    exact_signal = {"sum": left64 + right64, "diff": left64 - right64}
    for index, res in enumerate(plan.resolutions):
        window, frames, _ = engine.frame_plan(plan, index, len(stereo), np.float32)
        window64 = engine.frame_plan(plan, index, len(stereo), np.float64)[0]
        n_frames = frames.n_frames

        def spectrum(signal, start, stop, w):
            chunk = framed(signal, w, res.fft_size, res.hop_size, n_frames)[start:stop]
            return scipy.fft.rfft(chunk, axis=-1)   # complex64 for float32 frames

        for start in range(0, n_frames, FRAMES_AT_ONCE):
            stop = min(start + FRAMES_AT_ONCE, n_frames)
            x_left = spectrum(left, start, stop, window)
            x_right = spectrum(right, start, stop, window)
            for row, sign in (("sum", 1), ("diff", -1)):
                candidates = {
                    "derived32": x_left + sign * x_right,
                    "derived64add": (x_left.astype(np.complex128)
                                     + sign * x_right.astype(np.complex128)),
                    "direct32": spectrum(direct[row], start, stop, window),
                    "exact": spectrum(exact_signal[row], start, stop, window64)}
                for name, candidate, baseline in COMPARISONS:
                    b = candidates[baseline]
                    error = np.abs(candidates[candidate].astype(np.complex128) - b)
                    magnitude = np.abs(b.astype(np.complex128))
                    frame_rms = np.sqrt(np.mean(magnitude ** 2, axis=-1, keepdims=True))
                    spread = spreads[label(res)][row][name]
                    spread["bin"].add(error[magnitude > 0] / magnitude[magnitude > 0])
                    # frames of digital silence (an all-zero baseline) are left out
                    ok = np.broadcast_to(frame_rms > 0, error.shape)
                    spread["frame"].add((error / np.where(frame_rms > 0, frame_rms, 1))[ok])


def relative(x, y):
    """|x - y| / |y|; 0 where both are equal (an estimate whose S/D loss is 0: its
    channels swapped), inf where only y is 0."""
    return 0.0 if x == y else abs(x - y) / abs(y) if y else float("inf")


def term_sums(est, ref, plan, frame_mix, row_mix):
    """The kernel's S/D term sums of one (1, 2, T) pair, per resolution: a list of
    ResolutionSums (the linear term computed too)."""
    parts = []
    for index in range(len(plan.resolutions)):
        window, frames, pad_left = engine.frame_plan(plan, index, est.shape[-1], est.dtype)
        frames = frames._replace(lin_mode=layout.L1)
        sums = stft_row_partials(est, ref, frame_mix.astype(est.dtype), row_mix, window,
                                 frames, thread_count()).sum(axis=1)
        parts.append(engine.resolution_part(plan, frames, None, sums,
                                            np.ones(sums.shape[:2])))
    return parts


LOSS_COMPARISONS = (("derived32 vs direct32", "derived32", "direct32"),
                    ("derived32 vs float64", "derived32", "direct64"),
                    ("direct32 vs float64", "direct32", "direct64"))


def loss_differences(est, ref, loss):
    """Part 2 for one pair of (T, 2) float32 signals: ({comparison: {"sd": relative
    difference of the loss, resolution: {row: {term: relative difference}}}}, {way:
    loss value}), the library's own value among the values."""
    est32 = np.ascontiguousarray(est.T[None])
    ref32 = np.ascontiguousarray(ref.T[None])
    eye = np.eye(2)
    ways = {"derived32": term_sums(est32, ref32, loss.plan, eye, SUM_DIFF),
            "direct32": term_sums(est32, ref32, loss.plan, SUM_DIFF, eye),
            "direct64": term_sums(est32.astype(np.float64), ref32.astype(np.float64),
                                  loss.plan, SUM_DIFF, eye)}
    values = {way: loss.from_sums(parts).loss for way, parts in ways.items()}
    values["library"] = fm.sum_and_difference_loss(est32, ref32)
    out = {}
    for name, candidate, baseline in LOSS_COMPARISONS:
        out[name] = {"sd": relative(values[candidate], values[baseline])}
        for res, a, b in zip(loss.plan.resolutions, ways[candidate], ways[baseline]):
            out[name][label(res)] = {
                row: {term: relative(a.sums[0, r, column], b.sums[0, r, column])
                      for term, column in TERMS.items()}
                for r, row in enumerate(ROWS)}
    return out, values


def print_loss_summary(per_pair, resolutions):
    """Per comparison: the sd loss's and each row's term sums' relative differences,
    largest over the pairs (and resolutions) with its pair, and their median."""
    def line(what, by_pair):
        worst = max(by_pair, key=by_pair.get)
        print(f"    {what:<14} max {by_pair[worst]:.1e} ({worst}), median "
              f"{float(np.median(list(by_pair.values()))):.1e}")

    for name, *_ in LOSS_COMPARISONS:
        print(f"  {name}")
        line("sd loss", {pair: d[name]["sd"] for pair, d in per_pair.items()})
        for row in ROWS:
            for term in TERMS:
                line(f"{row}.{term}", {pair: max(d[name][label(res)][row][term]
                                                 for res in resolutions)
                                       for pair, d in per_pair.items()})


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", default="/work/music",
                        help="renders of bench/render_music.py (default /work/music)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="the first this many seconds of each render (default 30)")
    parser.add_argument("--songs", type=int, default=None,
                        help="the first N songs only (default: all)")
    parser.add_argument("--json", default=None, help="write the raw results here")
    args = parser.parse_args(argv)
    loss = sd_loss()
    plan = loss.plan
    pairs = render_pairs(args.music)
    songs = sorted({song for song, *_ in pairs})[:args.songs]
    pairs = [p for p in pairs if p[0] in songs]

    def first_seconds(path):
        with soundfile.SoundFile(path) as f:
            return f.read(round(args.seconds * f.samplerate), dtype="float32")

    spreads = {label(res): {row: {name: {"bin": Spread(), "frame": Spread()}
                                for name, *_ in COMPARISONS} for row in ROWS}
               for res in plan.resolutions}
    renders = sorted({path for _, _, est, ref in pairs for path in (est, ref)})
    for path in renders:
        spectra_differences(first_seconds(path), plan, spreads)
    print(f"{len(renders)} renders, the first {args.seconds:g} s of each; relative "
          f"difference per bin (to |X| of the bin; to the frame's RMS |X|), max / RMS")
    part1 = {}
    for res in plan.resolutions:
        for row in ROWS:
            for name, *_ in COMPARISONS:
                s = spreads[label(res)][row][name]
                b, f = s["bin"].row(), s["frame"].row()
                part1.setdefault(label(res), {}).setdefault(row, {})[name] = {"bin": b,
                                                                            "frame": f}
                print(f"  {label(res):<22} {row:<4} {name:<30} bin {b['max']:.1e} / "
                      f"{b['rms']:.1e}   frame {f['max']:.1e} / {f['rms']:.1e}")
    part2, losses = {}, {}
    for song, kind, est_path, ref_path in pairs:
        key = f"{song}-{kind}"
        part2[key], losses[key] = loss_differences(first_seconds(est_path),
                                                   first_seconds(ref_path), loss)
    print(f"\nS/D loss and term sums (largest over the resolutions) on {len(pairs)} "
          f"pairs: relative difference")
    print_loss_summary(part2, plan.resolutions)
    library_matches = [way for way in ("derived32", "direct32")
                       if all(v["library"] == v[way] for v in losses.values())]
    print("the library's sum_and_difference_loss equals, bit for bit, the "
          + (" and ".join(library_matches) or "neither path") + " on every pair")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds,
                       "renders": [os.path.relpath(r, args.music) for r in renders],
                       "spectra": part1,
                       "terms": part2, "losses": losses,
                       "library_equals": library_matches}, f, indent=1)


if __name__ == "__main__":
    main()
