"""Golden values of Diff-MST's audio features, from its own code, stored in
tests/features/diffmst_golden.json.

    git clone https://github.com/sai-soum/Diff-MST    # commit 3b90ef8 made the file
    python -m venv VENV && VENV/bin/pip install torch==2.13.0 numpy pyyaml
    VENV/bin/python tests/features/make_diffmst_golden.py Diff-MST

mst/loss.py is imported as it is, with mst/filter.py (barkscale_fbanks). Its other
imports (librosa for the mel spectrum, mst.fx_encoder and mst.modules for the encoders)
are not used by AudioFeatureLoss's extractors and are replaced by empty modules, so
that torchaudio, librosa and the model's dependencies are not needed.

For each case: the five extractors' outputs for the reference and the estimate, in
float32 (what the model trains with) and float64, and AudioFeatureLoss(weights=1)'s five
terms for the pair.
"""

import json
import pathlib
import platform
import sys
import types

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
# test_stereo.py imports this module from its package: the test run's sys.path (where
# `signals` is tests/signals.py) must stay as it is; run as a script, it imports its
# neighbours directly
if __package__:
    from .signals import mix
else:
    sys.path[:0] = [str(HERE)]
    from signals import mix   # noqa: E402

OUT = HERE / "diffmst_golden.json"
RATE = 44100
# name: (seconds, reference settings, estimate settings), as signals.GOLDEN_CASES
CASES = {
    "gains_6s": (6.0, dict(seed=21), dict(seed=21, gains=(1.4, 0.7, 1.0, 0.8))),
    "pans_10s": (10.0, dict(seed=22), dict(seed=22, pans=(0.0, 0.7, -0.6, -0.3))),
    "mono_est_4s": (4.0, dict(seed=23), dict(seed=23, mono=True)),
    "short_0.5s": (0.5, dict(seed=24), dict(seed=24, brightness=2.0)),
}
EXTRACTORS = ("compute_rms", "compute_crest_factor", "compute_stereo_width",
              "compute_stereo_imbalance", "compute_barkspectrum")


def case_pair(name):
    seconds, ref_settings, est_settings = CASES[name]
    return mix(seconds, rate=RATE, **est_settings), mix(seconds, rate=RATE, **ref_settings)


def load_loss_module(checkout):
    sys.path.insert(0, str(checkout))
    for stub in ("librosa", "mst.fx_encoder", "mst.modules"):
        module = types.ModuleType(stub)
        module.FXencoder = module.SpectrogramEncoder = None
        sys.modules[stub] = module
    import mst.loss
    return mst.loss


def main(checkout):
    import torch
    loss = load_loss_module(pathlib.Path(checkout))
    values = {}
    for name in CASES:
        est, ref = case_pair(name)
        for dtype in ("float32", "float64"):
            e = torch.from_numpy(est[None].astype(dtype))
            r = torch.from_numpy(ref[None].astype(dtype))
            entry = {}
            for role, x in (("est", e), ("ref", r)):
                entry[role] = {fn[len("compute_"):]: getattr(loss, fn)(x, sample_rate=RATE)
                               .double().numpy().tolist() for fn in EXTRACTORS}
            terms = loss.AudioFeatureLoss([1.0] * 5, RATE)(e, r)
            entry["loss"] = {key[len("mix-"):]: float(v) for key, v in terms.items()}
            values[f"{name}/{dtype}"] = entry
            print(name, dtype, entry["loss"])
    meta = {"diff-mst": "3b90ef838272b827c86610cf25b510a23a4147fd",
            "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(),
            "made_by": "tests/features/make_diffmst_golden.py"}
    OUT.write_text(json.dumps({"meta": meta, "rate": RATE, "values": values}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
