"""`fastmixloss warmup`: compile every CPU kernel now (once per installation and dtype), with
a line per kernel on stderr, so that the first `compare` or `score` starts at once."""

import sys
import time

from .errors import DONE


HELP = "compile the CPU kernels now (once per installation)"
DESCRIPTION = ("Compile (or load from Numba's on-disk cache) every CPU kernel for the "
               "chosen dtypes, reporting each kernel, its dtype and the time it took on "
               "stderr. Audio files are scored in float32.")


def add_arguments(parser):
    parser.add_argument("--dtypes", default="float32,float64", metavar="NAMES",
                        help="comma-separated: float32, float64 (default both)")
    parser.add_argument("--quiet", "-q", action="store_true",
                        help="no report, only the exit code")


def run(args):
    from fastmixloss.startup import print_step, warmup
    dtypes = tuple(name.strip() for name in args.dtypes.split(",") if name.strip())
    start = time.perf_counter()
    steps = warmup(dtypes, progress=False if args.quiet else print_step)
    if not args.quiet:
        compiled = sum(step.status == "compiled" for step in steps)
        print(f"fastmixloss warmup: {len(steps)} kernels ready ({compiled} compiled) in "
              f"{time.perf_counter() - start:.1f} s", file=sys.stderr)
    return DONE
