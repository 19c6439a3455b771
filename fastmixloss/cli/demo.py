"""`fastmixloss demo`: what the losses say about known differences between two mixes.

A few seconds of synthesised stereo music (a chord panned left, a counter-melody panned
right, a centred bass, off-centre drums) is the reference; each estimate is that mix with
one known change. They are written as WAV files and scored with the same code as
`fastmixloss score`, so the demo also shows that reading, pairing and scoring work here.
"""

import os
import shutil
import sys
import tempfile
import time

import numpy as np

from .audio import soundfile_module
from .inputs.folders import pairs_from_folders
from .errors import DONE, NOT_COMPUTED, CommandError
from .losses import LossSettings
from .results_file import BASE_COLUMNS, open_results
from .score import rows_in_process
from .summary import table

SAMPLE_RATE = 44100
SHIFT_SECONDS = 0.005
GAIN_DB = -3.0

CASES = (
    ("1-identical", "an exact copy"),
    ("2-swapped", "left and right swapped"),
    ("3-quieter", f"{-GAIN_DB:g} dB quieter"),
    ("4-mono", "folded down to mono: both channels (L+R)/2"),
    ("5-late", f"{SHIFT_SECONDS * 1000:g} ms late"),
)

COLUMNS = (("mse", "MSE"), ("sisdr", "SI-SDR"), ("mrstft.loss", "MR-STFT"),
           ("sd.loss", "S/D"), ("sd.sum.loss", "S/D sum"), ("sd.diff.loss", "S/D diff"))
FEATURE_COLUMNS = (("features.mean_mape_loudness", "loudness"),
                   ("features.mean_mape_spectral", "spectral"),
                   ("features.mean_mape_panning", "panning"),
                   ("features.mean_mape_dynamic", "dynamics"))

READING = """\
How to read it (lower is better everywhere; SI-SDR is negated dB):
- swapped: S/D scores it exactly 0, like the copy, because L+R is unchanged and L-R
  only changes sign, which magnitudes ignore. MR-STFT compares channel by channel and
  sees two wrong channels.
- quieter: SI-SDR still calls it a perfect match (it rescales the estimate first);
  every other loss sees the gain.
- mono: the S/D sum part is nearly the copy's 0 (L+R is unchanged; what is left is
  float32 rounding); the difference part holds the loss: the stereo image is gone.
- late: 5 ms is enough for MSE and SI-SDR, which compare sample by sample, to rate it the
  worst of all; the magnitude losses, blind to phase within a frame, rate it below the
  swap."""

FEATURE_READING = """\
How to read it: each is a mean absolute percentage error of running means of frame
features (automix-toolkit's evaluation, its failures fixed).
- swapped: panning is 0, as for the copy: the panning features are RMS values of the
  stereo panning spectrum, blind to its sign; spectral features compare channel by
  channel and see the swap.
- quieter: only loudness moves noticeably (spectral, panning and dynamics are measured after
  normalising each mix's peak to -1 dBFS).
- mono: panning is 1, all of it (the estimate's panning is 0 everywhere).
- late: 5 ms barely moves any feature: they describe the mix, not its samples."""


def reference_mix(seconds, rng):
    """(2, T) float32 stereo music, peak about 0.8."""
    n = int(seconds * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * h * t + rng.uniform(0, 2 * np.pi)) / h ** 1.5
                for f in (220.0, 277.2, 329.6) for h in range(1, 5))
    melody_notes = 440.0 * 2 ** (rng.integers(0, 12, size=int(seconds * 4) + 1) / 12)
    melody = np.sin(2 * np.pi * np.repeat(melody_notes, SAMPLE_RATE // 4)[:n] * t)
    melody *= 0.5 + 0.5 * np.cos(2 * np.pi * 4 * t) ** 2
    bass = 0.8 * np.sin(2 * np.pi * 55.0 * t) * (1 + 0.5 * np.sin(2 * np.pi * 2 * t))
    beat = SAMPLE_RATE // 2
    drums = rng.standard_normal(n) * np.exp(-(np.arange(n) % beat) / (0.03 * SAMPLE_RATE))
    left = 0.8 * chord / 6 + 0.2 * melody + bass / 3 + 0.5 * drums
    right = 0.2 * chord / 6 + 0.8 * melody + bass / 3 + 0.3 * drums
    mix = np.stack([left, right])
    return (0.8 * mix / np.abs(mix).max()).astype(np.float32)


def estimates(ref):
    shift = int(SHIFT_SECONDS * SAMPLE_RATE)
    mono = (ref[0].astype(np.float64) + ref[1]) / 2
    late = np.zeros_like(ref)
    late[:, shift:] = ref[:, :-shift]
    return {
        "1-identical": ref.copy(),
        "2-swapped": ref[::-1].copy(),
        "3-quieter": (ref * 10 ** (GAIN_DB / 20)).astype(np.float32),
        "4-mono": np.stack([mono, mono]).astype(np.float32),
        "5-late": late,
    }


def make_example_set(folder, seconds, seed=2026):
    """Write reference/ and estimate/ folders of WAV files (32-bit float, so the
    estimates differ from the reference by exactly the change named, nothing else)."""
    soundfile = soundfile_module()
    ref = reference_mix(seconds, np.random.default_rng(seed))
    for sub in ("reference", "estimate"):
        os.makedirs(os.path.join(folder, sub), exist_ok=True)
    for name, est in estimates(ref).items():
        soundfile.write(os.path.join(folder, "reference", name + ".wav"), ref.T,
                        SAMPLE_RATE, subtype="FLOAT")
        soundfile.write(os.path.join(folder, "estimate", name + ".wav"), est.T,
                        SAMPLE_RATE, subtype="FLOAT")
    return os.path.join(folder, "estimate"), os.path.join(folder, "reference")


HELP = "synthesise example mixes with known differences and score them"
DESCRIPTION = ("Make a few seconds of stereo music and five estimates of it (an exact "
               "copy, channels swapped, 3 dB quieter, folded to mono, 5 ms late), "
               "score them, and print what each loss says.")


def add_arguments(parser):
    parser.add_argument("--out", metavar="DIR",
                        help="keep the audio and results here (default: a temporary folder, "
                             "removed afterwards)")
    parser.add_argument("--seconds", type=float, default=3.0,
                        help="length in seconds, 0.5 to 60 (default 3)")


def run(args):
    if not args.seconds or not 0.5 <= args.seconds <= 60:
        raise CommandError(f"--seconds {args.seconds} must be 0.5 to 60")
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise CommandError(f"--out {args.out} is a file; give a folder (it is made if "
                           "missing) to keep the audio and results in")
    folder = args.out or tempfile.mkdtemp(prefix="fastmixloss-demo-")
    try:
        est_dir, ref_dir = make_example_set(folder, args.seconds)
        print(f"Reference: {args.seconds:g} s of synthesised stereo music at "
              f"{SAMPLE_RATE} Hz. Estimates:")
        for name, what in CASES:
            print(f"  {name:12} {what}")
        print("Scoring (the first run compiles the loss kernels; later runs load them "
              "from the cache) ...", file=sys.stderr)
        start = time.perf_counter()
        settings = LossSettings.build(["mse", "sisdr", "mrstft", "sd", "features"],
                                      {}).with_columns()
        results_path = os.path.join(folder, "demo-results.csv")
        results = open_results(results_path, BASE_COLUMNS + settings.columns,
                               overwrite=True)
        rows = {}
        try:
            for row in rows_in_process(pairs_from_folders(est_dir, ref_dir), settings):
                results.write(row)
                rows[row["pair"]] = row
        finally:
            results.close()
        elapsed = time.perf_counter() - start
        failed = [r for r in rows.values() if r["error"]]
        body = [[name.split("-", 1)[1]] + [rows[name + ".wav"].get(c) for c, _ in COLUMNS]
                for name, _ in CASES]
        print()
        print(table(["estimate"] + [label for _, label in COLUMNS], body))
        print()
        print(READING)
        print("\nMix features (fastmixloss.compare_features, default profile): the error of "
              "the estimate's\nloudness, spectral, panning and dynamics features, a fraction "
              "(0.1 = 10 %):\n")
        body = [[name.split("-", 1)[1]] + [rows[name + ".wav"].get(c)
                                           for c, _ in FEATURE_COLUMNS]
                for name, _ in CASES]
        print(table(["estimate"] + [label for _, label in FEATURE_COLUMNS], body))
        print()
        print(FEATURE_READING)
        print(f"\n{len(rows)} pairs scored in {elapsed:.1f} s.", end=" ")
        if args.out:
            print(f"Audio and results are in {folder}; score them yourself with\n"
                  f"  fastmixloss score {est_dir} {ref_dir} --out results.csv\n"
                  f"  fastmixloss compare {est_dir}/2-swapped.wav "
                  f"{ref_dir}/2-swapped.wav --plot swapped.png")
        else:
            print("Keep the audio with --out DIR to try compare and score on it.")
        for row in failed:
            print(f"failed: {row['pair']}: {row['error']}", file=sys.stderr)
        return NOT_COMPUTED if failed else DONE
    finally:
        if not args.out:
            shutil.rmtree(folder, ignore_errors=True)
