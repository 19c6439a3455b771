"""Spectral gradients on the CPU: forward + backward against the forward alone.

    python -m bench.grad_spectral                 # W1 and one 3-minute stereo song
    python -m bench.grad_spectral --only w1 --repeats 7
    python -m bench.grad_spectral --song-probe    # (internal) the song in this process

W1 is 8 x 2 x 44100 float32 through the default MultiResolutionSTFTLoss; the song is one
(1, 2, 180 * 44100) float32 pair. Forward alone is loss(est, ref); forward + backward is
grad.forward then grad.backward (value_and_grad). Both are timed in interleaved rounds
(bench.measure.time_rounds: medians, and the median of the per-round ratios) after a
warm-up that loads the kernels. The song runs in a fresh process, whose peak resident
memory after one forward + backward (inputs included) is reported, so that nothing else
of this process counts; its rounds are half as many. auraloss's figures are measured by bench/ elsewhere, in its own run.
"""

import argparse
import json
import subprocess
import sys

from .measure import ROOT, paired_ratio, time_rounds
from .probe import peak_resident_mb
from .workloads import make_inputs

SONG_SECONDS = 180
SAMPLE_RATE = 44100


def _losses():
    import fastmixloss
    from fastmixloss import grad
    loss = fastmixloss.MultiResolutionSTFTLoss()

    def forward_alone(est, ref):
        return lambda: loss(est, ref)

    def forward_backward(est, ref):
        return lambda: grad.value_and_grad(loss, est, ref)
    return forward_alone, forward_backward


def time_pair(shape, repeats):
    """Forward alone and forward + backward on inputs of `shape`, in rounds."""
    forward_alone, forward_backward = _losses()
    est, ref = make_inputs(shape)
    rows = time_rounds({"forward": forward_alone(est, ref),
                        "forward+backward": forward_backward(est, ref)}, repeats)
    ratio = paired_ratio(rows["forward+backward"]["runs"], rows["forward"]["runs"])
    return {"shape": list(shape),
            "forward_s": rows["forward"]["median_s"],
            "forward_backward_s": rows["forward+backward"]["median_s"],
            "ratio": ratio}


def song_probe(repeats):
    """In this (fresh) process: the peak resident memory of one forward + backward of the
    song (inputs included), then both timed in `repeats` interleaved rounds."""
    forward_alone, forward_backward = _losses()
    small = make_inputs((1, 2, 20000))
    forward_backward(*small)()   # loads the kernels
    est, ref = make_inputs((1, 2, SONG_SECONDS * SAMPLE_RATE))
    forward_backward(est, ref)()
    peak = peak_resident_mb()
    rows = time_rounds({"forward": forward_alone(est, ref),
                        "forward+backward": forward_backward(est, ref)}, repeats, warmup=0)
    print(json.dumps({"forward_backward_s": rows["forward+backward"]["median_s"],
                      "forward_s": rows["forward"]["median_s"],
                      "ratio": paired_ratio(rows["forward+backward"]["runs"],
                                            rows["forward"]["runs"]),
                      "peak_mb": peak, "inputs_mb": (est.nbytes + ref.nbytes) / 2 ** 20}))


def song(repeats):
    done = subprocess.run([sys.executable, "-m", "bench.grad_spectral", "--song-probe",
                           "--repeats", str(repeats)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=("w1", "song"))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--song-probe", action="store_true")
    args = parser.parse_args()
    if args.song_probe:
        song_probe(args.repeats)
        return
    import numba
    print(f"threads: {numba.get_num_threads()}")
    if args.only in (None, "w1"):
        row = time_pair((8, 2, 44100), args.repeats)
        print("W1 (8 x 2 x 44100 float32, MR-STFT defaults): forward "
              f"{row['forward_s']:.3f} s, forward+backward {row['forward_backward_s']:.3f} s,"
              f" ratio {row['ratio']:.2f}")
    if args.only in (None, "song"):
        row = song(max(1, args.repeats // 2))
        print(f"song (1 x 2 x {SONG_SECONDS} s float32, MR-STFT defaults): forward "
              f"{row['forward_s']:.2f} s, forward+backward {row['forward_backward_s']:.2f} s, "
              f"ratio {row['ratio']:.2f}, peak {row['peak_mb']:.0f} MB "
              f"(inputs {row['inputs_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
