"""Each loss alone against the same loss in `fastmixloss.evaluate`, and whole against pieces.

For every loss name the command line knows, on real-music renders (bench/render_music.py),
float32 and float64: the largest relative difference over every value the loss returns
(each key of a breakdown) between its function called alone and its value in one
evaluation of all of them; then the same evaluation fed in pieces of 2**18 samples
against the whole arrays::

    python -m bench.one_pass_equality --music /tmp/music --seconds 30 [--songs N] [--json F]
"""

import argparse
import glob
import json
import os

import numpy as np
import soundfile

import fastmixloss as fm
from fastmixloss.evaluation import LOSSES

NAMES = tuple(LOSSES)


def values(result):
    if hasattr(result, "to_dict"):
        return {key: float(value) for key, value in result.to_dict().items()}
    return {"": float(result)}


def largest_difference(a, b, keys=None):
    """(largest relative difference, its key) over the values (or only `keys`)."""
    a, b = values(a), values(b)
    worst = (0.0, "")
    for key in a if keys is None else keys:
        x, y = a[key], b[key]
        if np.isnan(x) and np.isnan(y):
            continue
        worst = max(worst, (abs(x - y) / max(abs(y), 1e-300), key))
    return worst


def alone(name, est, ref, rate):
    function = getattr(fm, LOSSES[name].function)
    if LOSSES[name].kind == "features":   # the feature metrics take the sample rate
        return function(est, ref, rate)
    full = {"output": "full"} if LOSSES[name].kind == "spectral" else {}
    return function(est, ref, **full)


def pieces(evaluator, est, ref, size=2 ** 18):
    stream = evaluator.stream(est.shape[0], est.shape[1], dtype=est.dtype)
    while True:
        for start in range(0, est.shape[1], size):
            stream.feed(est[:, start:start + size], ref[:, start:start + size])
        if not stream.end_pass():
            return stream.result()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--music", default="/work/music")
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--songs", type=int, default=None,
                        help="the first N songs of the renders (default: all)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    spectral = {name: {"output": "full"} for name in NAMES
                if LOSSES[name].kind == "spectral"}
    table = {}
    references = sorted(glob.glob(os.path.join(args.music, "*", "ref.wav")))[:args.songs]
    for reference in references:
        ref, rate = soundfile.read(reference, dtype="float64", always_2d=True)
        n = int(args.seconds * rate)
        ref = np.ascontiguousarray(ref[:n].T)
        for path in sorted(glob.glob(os.path.join(os.path.dirname(reference), "est-*.wav"))):
            est = soundfile.read(path, dtype="float64", always_2d=True)[0]
            est = np.ascontiguousarray(est[:n].T)
            for dtype in ("float32", "float64"):
                e, r = est.astype(dtype), ref.astype(dtype)
                evaluator = fm.Evaluator(NAMES, rate, **spectral)
                together = evaluator(e, r)
                streamed = pieces(evaluator, e, r)
                pair = os.path.basename(os.path.dirname(reference)) + "/" + \
                    os.path.basename(path)
                for name in NAMES:
                    row = table.setdefault((name, dtype), {
                        "alone": 0.0, "where": None, "loss_alone": 0.0, "pieces": 0.0})
                    single = alone(name, e, r, rate)
                    worst, key = largest_difference(together[name], single)
                    if worst >= row["alone"]:
                        row["alone"], row["where"] = worst, f"{pair} {key}"
                    if hasattr(single, "loss"):   # the loss value itself
                        row["loss_alone"] = max(row["loss_alone"], largest_difference(
                            together[name], single, ["loss"])[0])
                    row["pieces"] = max(row["pieces"],
                                        largest_difference(streamed[name], together[name])[0])
    print("largest relative difference over every pair: of every value (and where), of "
          "the loss value, of every value fed in pieces against whole")
    print(f"{'loss':10} {'dtype':8} {'values':>9} {'loss':>9} {'pieces':>9}  where")
    for (name, dtype), row in table.items():
        print(f"{name:10} {dtype:8} {row['alone']:9.2e} {row['loss_alone']:9.2e} "
              f"{row['pieces']:9.2e}  {row['where'] or ''}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": args.seconds, "rows": [
                {"loss": name, "dtype": dtype, **row} for (name, dtype), row in table.items()]},
                f, indent=1)


if __name__ == "__main__":
    main()
