"""Run sony/FxNorm-automix's evaluation features on the synthetic golden cases and store
them in tests/data/fxnorm_golden.json, under the toolkit's key names.

    git -C FxNorm-automix show HEAD:automix/utils_data_normalization.py > fxnorm.py
    python tests/features/make_fxnorm_golden.py fxnorm.py utils_evaluation.py

utils_data_normalization imports FxNorm's training modules (effects, aubio, sox); none of
that is used by the evaluation functions, so those imports are stubbed. Its compute_stft
(automix.common_miscellaneous) is taken from automix-toolkit's utils_evaluation.py, where
it is the same function. As in FxNorm's evaluate.py: FFT 4096 / hop 1024 for spectral
and dynamic features, 2048 / 1024 for panning, no trimming.
"""

import json
import pathlib
import sys
import types

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from make_golden import load_toolkit   # noqa: E402
from signals import GOLDEN_CASES, RATE, golden_pair   # noqa: E402

OUT = HERE.parent / "data" / "fxnorm_golden.json"
KEYS = {"d_lufs": "lufs_loudness", "d_peak": "peak_loudness",
        "centroid_mean": "centroid", "bandwidth_mean": "bandwidth",
        "contrast_mean": "contrast", "rolloff_mean": "rolloff", "flatness_mean": "flatness",
        "P_t_mean": "panning_rms_total", "P_l_mean": "panning_rms_lows",
        "P_m_mean": "panning_rms_mids", "P_h_mean": "panning_rms_highs",
        "rms_mean": "rms_level", "dyn_mean": "dynamic_spread", "crest_mean": "crest_factor"}
GROUP_MEANS = {"spectral": "mean_mape_spectral", "panning": "mean_mape_panning",
               "dynamic": "mean_mape_dynamic"}


def load_fxnorm(path, toolkit):
    stub = types.ModuleType
    automix = stub("automix")
    misc = stub("automix.common_miscellaneous")
    misc.compute_stft = toolkit.compute_stft
    misc.compute_istft = None
    data = stub("automix.common_dataprocessing")
    data.load_wav = data.save_wav = None
    effects = stub("automix.common_audioeffects")
    for name in ("Panner", "Compressor", "AugmentationChain", "ConvolutionalReverb",
                 "Equaliser", "AlgorithmicReverb"):
        setattr(effects, name, None)
    automix.utils = stub("automix.utils")
    for name, module in (("automix", automix), ("automix.common_miscellaneous", misc),
                         ("automix.common_dataprocessing", data),
                         ("automix.common_audioeffects", effects),
                         ("automix.utils", automix.utils), ("aubio", stub("aubio")),
                         ("sox", stub("sox"))):
        sys.modules[name] = module
    return load_toolkit(path)


def scalar(value):
    return float(np.asarray(value).reshape(-1)[0])


def main(fxnorm_path, toolkit_path):
    fxnorm = load_fxnorm(fxnorm_path, load_toolkit(toolkit_path))
    values = {}
    for name in GOLDEN_CASES:
        for dtype in ("float64", "float32"):
            est, ref = golden_pair(name, np.dtype(dtype))
            out, tar = est.T, ref.T   # FxNorm takes (T, C)
            loud = fxnorm.compute_loudness_features((out, tar, 0, RATE))
            spec = fxnorm.compute_spectral_features((out, tar, 0, RATE, 4096, 1024, 2))
            pan = fxnorm.compute_panning_features((out, tar, 0, RATE, 2048, 1024))
            dyn = fxnorm.compute_dynamic_features((out, tar, 0, RATE, 4096, 1024))
            case = {}
            for group, result in (("loudness", loud), ("spectral", spec),
                                  ("panning", pan), ("dynamic", dyn)):
                for key, value in result.items():
                    if key in KEYS:
                        case[KEYS[key]] = scalar(value)
                    elif key == "mape_mean":
                        case[GROUP_MEANS[group]] = scalar(value)
            values[f"{name}/{dtype}"] = case
    meta = {"FxNorm-automix": "utils_data_normalization.py at its stored HEAD",
            "made_by": "tests/features/make_fxnorm_golden.py"}
    OUT.write_text(json.dumps({"meta": meta, "values": values}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
