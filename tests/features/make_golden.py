"""Run automix-toolkit's get_features (commit e4a6ecf) on the synthetic golden cases and
store its values in tests/data/automix_golden.json.

    # the toolkit's evaluation module, e.g. from a checkout of csteinmetz1/automix-toolkit:
    git -C automix-toolkit show e4a6ecf:automix/evaluation/utils_evaluation.py > utils_evaluation.py
    pip install librosa pyloudnorm scikit-learn scipy
    python tests/features/make_golden.py utils_evaluation.py

Only the module's own imports are needed (numpy, scipy, librosa, pyloudnorm, sklearn).
"""

import importlib.util
import json
import pathlib
import platform
import sys

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE)]

from signals import GOLDEN_CASES, RATE, golden_pair   # noqa: E402

OUT = HERE.parent / "data" / "automix_golden.json"


def load_toolkit(path):
    spec = importlib.util.spec_from_file_location("automix_utils_evaluation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(path):
    import librosa
    import pyloudnorm
    import sklearn
    toolkit = load_toolkit(path)
    values = {}
    for name in GOLDEN_CASES:
        for dtype in ("float64", "float32"):
            est, ref = golden_pair(name, np.dtype(dtype))
            features = toolkit.get_features(ref, est, sr=RATE)   # reference first
            values[f"{name}/{dtype}"] = {k: float(v) for k, v in features.items()}
    meta = {"automix-toolkit": "e4a6ecf", "librosa": librosa.__version__,
            "pyloudnorm": getattr(pyloudnorm, "__version__", "?"),
            "scikit-learn": sklearn.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "made_by": "tests/features/make_golden.py"}
    OUT.write_text(json.dumps({"meta": meta, "values": values}, indent=1) + "\n")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main(sys.argv[1])
