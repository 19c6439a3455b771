"""Agreement of fastmixloss with the peers on the real-music excerpts (measured, printed).

    python tests/parity/music_agreement.py [/work/music/peers_golden_music.json]

Runs every stored peer case of make_peer_golden.py --music (values of the peers' own
code on excerpts of the renders, kept outside the repository) through the same fastmixloss
call that tests/test_spectral_options.py and tests/test_presets.py check on the synthetic
inputs, and prints the relative deviation of the loss and of each reported term.
"""

import json
import pathlib
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE.parent.parent)]

import fastmixloss as fm  # noqa: E402
from peer_inputs import peer_input  # noqa: E402
from test_presets import CASES  # noqa: E402
from test_spectral_options import _fastmixloss_from_call  # noqa: E402


def _deviation(got, expected):
    got, expected = np.atleast_1d(got).astype(float), np.atleast_1d(expected).astype(float)
    return float(np.max(np.abs(got - expected) / np.abs(expected)))


def auraloss_case(case, est, ref):
    values = case["values"]
    if case["name"].startswith("random_resolution"):
        parts = [fm.STFTLoss(r["fft_size"], r["hop_size"], r["win_length"], r["window"],
                             compat="auraloss")(est, ref) for r in case["resolutions"]]
        return {"loss": _deviation(np.mean(parts), values["loss"])}
    if case["name"] == "stft_mel_empty_bands":
        return None
    got = _fastmixloss_from_call(case)(est, ref)
    if case["name"].startswith("sd_"):
        return {"loss": _deviation(got.loss, values["loss"])}
    parts = getattr(got, "resolutions", (got,))
    kwargs = case["kwargs"]
    out = {"loss": _deviation(got.loss, values["loss"]),
           "sc": _deviation([p.sc for p in parts], values["sc_mag"]),
           "log_mag": _deviation([p.log_mag for p in parts], values["log_mag"])}
    if kwargs.get("w_lin_mag"):
        out["lin_mag"] = _deviation([p.lin_mag for p in parts], values["lin_mag"])
    if kwargs.get("w_phs"):
        out["phs"] = _deviation([p.phs for p in parts], values["phs"])
    return out


def main(path="/work/music/peers_golden_music.json"):
    cases = json.loads(pathlib.Path(path).read_text())["cases"]
    print(f"{'case':<62} {'dtype':<8} deviation (relative)")
    for case in cases:
        if "values" not in case:
            continue
        est, ref = peer_input(case["input"], case["dtype"])
        if case["peer"].startswith("auraloss"):
            result = auraloss_case(case, est, ref)
        elif (case["peer"], case["name"]) in CASES:
            name, kwargs, read = CASES[(case["peer"], case["name"])]
            result = {"loss": _deviation(fm.preset_loss(name, **kwargs)(est, ref),
                                         read(case["values"]))}
        else:
            result = None
        if result:
            terms = "  ".join(f"{k} {v:.1e}" for k, v in result.items())
            print(f"{case['peer'] + '/' + case['name']:<62} {case['dtype']:<8} {terms}")


if __name__ == "__main__":
    main(*sys.argv[1:])
