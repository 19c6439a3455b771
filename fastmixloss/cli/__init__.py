"""The `fastmixloss` command line: compare two mixes, score a dataset, run a demo.

    fastmixloss compare EST REF [--plot FILE.png]
    fastmixloss score EST_DIR REF_DIR --out results.csv
    fastmixloss demo
    fastmixloss warmup

Only argparse is imported here; soundfile, matplotlib, tqdm and Dask are imported by the
command that needs them, so `fastmixloss --help` is quick and `import fastmixloss` never
loads any of this.
"""

import argparse
import sys

DESCRIPTION = """\
Loss functions for automatic music mixing, on audio files.

  compare EST REF            every default loss for one pair of files (--plot: a picture)
  score EST_DIR REF_DIR      one results row per pair of files, a summary, resumable
  demo                       synthesise example mixes with known differences and score them
  warmup                     compile the kernels now, once per installation

Lower is better for every loss (SNR, SI-SDR and SD-SDR are negated dB).

Exit codes: 0 done, 1 some pair or loss could not be computed (said why), 2 bad
arguments, 3 the run could not go on (e.g. a full disk), 130 interrupted, 141 the output
pipe was closed (e.g. by `| head`)."""


def _int_list(text):
    from .config import int_list
    try:
        return int_list(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _loss_options(parser, losses_help):
    group = parser.add_argument_group(
        "losses and their parameters",
        "Flags apply to every chosen loss that takes the parameter; they override "
        "--config, which overrides the library's defaults.")
    group.add_argument("--losses", metavar="NAMES", help=losses_help)
    group.add_argument("--config", metavar="FILE",
                       help="TOML or JSON file: losses = [...], length_policy, and a table "
                            "of parameters per loss, e.g. [mrstft] fft_sizes = [512, 1024] "
                            "(default: none, the library's defaults)")
    group.add_argument("--fft-sizes", type=_int_list, metavar="N,N,..",
                       help="mrstft and sd resolutions (default 1024,2048,512)")
    group.add_argument("--hop-sizes", type=_int_list, metavar="N,N,..",
                       help="default 120,240,50")
    group.add_argument("--win-lengths", type=_int_list, metavar="N,N,..",
                       help="default 600,1200,240")
    group.add_argument("--fft-size", type=int, metavar="N", help="stft (default 1024)")
    group.add_argument("--hop-size", type=int, metavar="N", help="stft (default 256)")
    group.add_argument("--win-length", type=int, metavar="N",
                       help="stft (default fft size)")
    group.add_argument("--window", help="hann (default), hamming, blackman, ...")
    group.add_argument("--w-sc", type=float, metavar="W",
                       help="spectral convergence weight (default 1)")
    group.add_argument("--w-log-mag", type=float, metavar="W",
                       help="log-magnitude weight (default 1)")
    group.add_argument("--w-lin-mag", type=float, metavar="W",
                       help="linear-magnitude weight (default 0)")
    group.add_argument("--mag-distance", choices=("L1", "L2"),
                       help="distance of the magnitude terms (default L1)")
    group.add_argument("--w-sum", type=float, metavar="W",
                       help="sd: weight of L+R (default 1)")
    group.add_argument("--w-diff", type=float, metavar="W",
                       help="sd: weight of L-R (default 1)")
    group.add_argument("--compat", choices=("auraloss",),
                       help="reproduce auraloss 0.4.0's numbers (halved S/D) (default: "
                            "fastmixloss's own definitions)")
    group.add_argument("--features-profile", choices=("default", "automix-toolkit", "fxnorm"),
                       help="features: default (the toolkit's features, failures fixed), "
                            "automix-toolkit (its numbers exactly) or fxnorm")
    group.add_argument("--length-policy", choices=("error", "trim", "pad"),
                       help="when the two files' lengths differ: an error (default), trim "
                            "both to the shorter, or zero-pad to the longer")
    group.add_argument("--device", choices=("cpu", "cuda"),
                       help="where the losses run (default: cpu)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastmixloss", description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    from fastmixloss import __version__
    parser.add_argument("--version", action="version", version=f"fastmixloss {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    compare = commands.add_parser(
        "compare", help="every default loss for one pair of audio files",
        description="Print every loss for one estimate against its reference: MSE, SI-SDR, "
                    "MR-STFT with its terms, sum-and-difference with its parts, and MR-STFT "
                    "of each channel alone.")
    compare.add_argument("est", metavar="EST", help="the estimated mix (audio file)")
    compare.add_argument("ref", metavar="REF", help="the reference mix (audio file)")
    compare.add_argument("--plot", metavar="FILE.png",
                         help="save where the mixes differ: the reference's spectrogram and "
                              "the estimate's log magnitude minus the reference's, at each "
                              "MR-STFT resolution; the format from the extension (.png, "
                              ".pdf, .svg, .jpg, ...)")
    compare.add_argument("--plot-size", default="1200x900", metavar="WxH",
                         help="the picture's size in pixels (default 1200x900)")
    compare.add_argument("--plot-range", type=float, metavar="DB",
                         help="colour scale of the differences: -DB to +DB, the same for "
                              "every picture (default: from this pair's differences, at "
                              "most 60)")
    compare.add_argument("--plot-view", choices=("all", "sd", "channels"), default="all",
                         help="which signals' differences a stereo pair shows: sum and "
                              "difference (sd), each channel (channels), or both (default "
                              "all)")
    compare.add_argument("--all", action="store_true",
                         help="also every resolution's terms")
    compare.add_argument("--json", action="store_true",
                         help="print the values as JSON instead of a table")
    _loss_options(compare, "comma-separated (default mse,sisdr,mrstft,sd)")

    score = commands.add_parser(
        "score", help="score folders (or a manifest) of estimate/reference pairs",
        description="Score every estimate against its reference. Files are paired by "
                    "relative path (or listed in --pairs). One row per pair is appended to "
                    "--out as it finishes; a pair that cannot be scored gets a row with "
                    "its error. Running the same command again resumes. Exit code: 0 when "
                    "every pair was scored, 1 when some failed, 2 for bad arguments, 3 "
                    "when the run could not go on, 130 when interrupted.")
    score.add_argument("est_dir", nargs="?", metavar="EST_DIR",
                       help="folder of estimated mixes (audio files, searched recursively)")
    score.add_argument("ref_dir", nargs="?", metavar="REF_DIR",
                       help="folder of reference mixes; each estimate is paired with the "
                            "reference at the same relative path (or differing only in "
                            "its audio extension)")
    score.add_argument("--pairs", metavar="MANIFEST.csv",
                       help="instead of the folders: a CSV with columns est, ref (and "
                            "optionally id), paths relative to the manifest (default: "
                            "none, the folders are paired)")
    score.add_argument("--out", default="results.csv", metavar="FILE",
                       help="results file: .csv (default results.csv), .jsonl or .parquet; "
                            "the summary goes beside it as FILE.summary.json (e.g. "
                            "results.csv.summary.json)")
    score.add_argument("--overwrite", action="store_true",
                       help="start the results file again instead of resuming it")
    score.add_argument("--retry-errors", action="store_true",
                       help="when resuming, score again the pairs whose rows hold an "
                            "error, keeping every other row")
    score.add_argument("--quiet", "-q", action="store_true",
                       help="no progress bar or notes (the summary is still printed)")
    score.add_argument("--read-ahead", type=int, default=2, metavar="N",
                       help="pairs read ahead while one is computed (default 2)")
    score.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the pairs on this Dask distributed scheduler, e.g. "
                            "tcp://10.0.0.5:8786 (needs fastmixloss[dask]; default: in "
                            "this process)")
    _loss_options(score, "comma-separated (default mse,sisdr,mrstft,sd); choose from "
                         "mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr, stft, mrstft, sd")

    demo = commands.add_parser(
        "demo", help="synthesise example mixes with known differences and score them",
        description="Make a few seconds of stereo music and five estimates of it (an exact "
                    "copy, channels swapped, 3 dB quieter, folded to mono, 5 ms late), "
                    "score them, and print what each loss says.")
    demo.add_argument("--out", metavar="DIR",
                      help="keep the audio and results here (default: a temporary folder, "
                           "removed afterwards)")
    demo.add_argument("--seconds", type=float, default=3.0,
                      help="length in seconds, 0.5 to 60 (default 3)")
    from .warmup import add_parser as add_warmup_parser
    add_warmup_parser(commands)
    return parser


def main(argv=None):
    """Run the command line; returns the exit code."""
    try:
        try:
            code = _run(argv)
            sys.stdout.flush()   # a closed pipe shows here, not at exit
            return code
        except Exception as exc:   # noqa: BLE001 -- only to recognise an interrupt
            # Numba may report Ctrl-C inside a kernel as a SystemError caused by it
            from .losses import caused_by_interrupt
            if not caused_by_interrupt(exc):
                raise
            print("\nfastmixloss: interrupted", file=sys.stderr)
            return 130
        except KeyboardInterrupt:
            # at start-up (compiling), between pairs or in the final report: the score
            # command saves its rows itself; nothing else needs cleaning up
            print("\nfastmixloss: interrupted", file=sys.stderr)
            return 130
    except BrokenPipeError:
        # the reader went away (`| head`): stop quietly, as command-line tools do, with
        # the status of a process ended by SIGPIPE; nothing may be written any more, so
        # Python's own flush at exit must not find the pipe either
        _silence_closed_streams()
        return 141


def _silence_closed_streams():
    import os
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        try:
            os.dup2(devnull, stream.fileno())
        except (OSError, ValueError):   # no real file descriptor (captured in tests)
            pass
    os.close(devnull)


def _run(argv):
    parser = build_parser()
    args = parser.parse_args(argv)
    from fastmixloss.errors import DeviceError, ParameterError
    try:
        if args.command == "compare":
            from .compare import run
        elif args.command == "score":
            from .score import run
        elif args.command == "warmup":
            from .warmup import run
        else:
            from .demo import run
        return run(args)
    except (ParameterError, DeviceError) as exc:
        print(f"fastmixloss {args.command}: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        # our own SystemExit carries a message; print it the way argparse prints errors
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            return 2
        raise
    except BrokenPipeError:
        raise
    except OSError as exc:
        # the file system refused (a read-only folder, a full disk): the run cannot go on
        from .score import os_error_text
        print(f"fastmixloss {args.command}: {os_error_text(exc)}", file=sys.stderr)
        return 3


__all__ = ["main", "build_parser"]
