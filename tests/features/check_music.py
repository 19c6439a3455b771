"""Acceptance on real music: the automix-toolkit profile against the toolkit itself.

    python tests/features/check_music.py UTILS_EVALUATION_PY SONG_DIR [SONG_DIR ...]

Each SONG_DIR holds ref.wav and est-*.wav. For every estimate, float64 and float32, prints
each key's relative difference and whether it is within 1e-3 relative (or 1e-5
absolute), then the worst case. Not a unit test: the toolkit and the audio are not in the
repository.
"""

import pathlib
import sys
import time

import numpy as np
import soundfile as sf

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from make_golden import load_toolkit   # noqa: E402

from fastmixloss.features import compare_features   # noqa: E402


def main(toolkit_path, songs):
    toolkit = load_toolkit(toolkit_path)
    worst = (0.0, None)
    failures = 0
    for song in map(pathlib.Path, songs):
        for est_path in sorted(song.glob("est-*.wav")):
            for dtype in ("float64", "float32"):
                ref, rate = sf.read(song / "ref.wav", dtype=dtype)
                est, _ = sf.read(est_path, dtype=dtype)
                start = time.perf_counter()
                try:
                    theirs = toolkit.get_features(ref.T, est.T, sr=rate)
                except Exception as exc:   # noqa: BLE001 -- the toolkit's known failures
                    print(f"{song.name} {est_path.name} {dtype} at {rate} Hz: the toolkit "
                          f"raises {type(exc).__name__}: {exc}")
                    continue
                t_theirs = time.perf_counter() - start
                start = time.perf_counter()
                ours = compare_features(est.T, ref.T, rate, profile="automix-toolkit").to_dict()
                t_ours = time.perf_counter() - start
                for key, value in theirs.items():
                    diff = abs(ours[key] - value)
                    rel = diff / max(abs(value), 1e-300)
                    ok = diff <= max(1e-3 * abs(value), 1e-5)
                    failures += not ok
                    if rel > worst[0] and abs(value) >= 1e-3:
                        worst = (rel, f"{song.name}/{est_path.name}/{dtype}/{key}")
                    if not ok:
                        print(f"FAIL {song.name} {est_path.name} {dtype} {key}: "
                              f"{ours[key]!r} vs {value!r}")
                print(f"{song.name} {est_path.name} {dtype} ({ref.shape[0] / rate:.1f} s): "
                      f"toolkit {t_theirs:.2f} s, fastmixloss {t_ours:.2f} s")
    print(f"worst relative difference (values >= 1e-3) {worst[0]:.2e} at {worst[1]}; "
          f"failures: {failures}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1], sys.argv[2:]) else 0)
