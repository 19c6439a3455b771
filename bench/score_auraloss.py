"""The contender of `fastmixloss score`: the script a user writes with auraloss and soundfile.

    python -m bench.score_auraloss EST_DIR REF_DIR --out FILE.jsonl [--threads N]

For every WAV file under EST_DIR (and the file at the same relative path under REF_DIR),
in order: soundfile reads both whole (float32), and auraloss 0.4.0 computes the command
line's four default losses with their default parameters, under torch.no_grad():

* mse: torch.nn.functional.mse_loss (auraloss has no MSE of its own);
* sisdr: auraloss.time.SISDRLoss() (zero-mean, eps 1e-8; a loss: minus the SI-SDR in dB);
* mrstft: auraloss.freq.MultiResolutionSTFTLoss() (fft 1024/2048/512, hop 120/240/50,
  win 600/1200/240, hann, w_sc = w_log_mag = 1);
* sd: auraloss.freq.SumAndDifferenceSTFTLoss at those resolutions (auraloss has no
  default for them; these are the command line's), which halves w_sum * sum + w_diff * diff.

One JSON line per pair goes to --out, and a last line to stdout: the pairs, the seconds
of audio, and the seconds from the first read to the last value (imports excluded, as the
summary of `fastmixloss score` excludes its start-up).
"""

import argparse
import json
import os
import time
from importlib.metadata import version

# the command line's defaults (fastmixloss.cli.losses, docs/usage.md): the resolutions
# of both spectral losses
RESOLUTIONS = dict(fft_sizes=[1024, 2048, 512], hop_sizes=[120, 240, 50],
                   win_lengths=[600, 1200, 240])


def wav_files(root):
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        found += [os.path.relpath(os.path.join(folder, f), root)
                  for f in files if f.lower().endswith(".wav")]
    return sorted(found)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("est_dir")
    parser.add_argument("ref_dir")
    parser.add_argument("--out", required=True, help="JSON lines, one per pair")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch threads (default: every CPU, as Numba's default)")
    args = parser.parse_args(argv)

    import auraloss
    import soundfile
    import torch

    torch.set_num_threads(args.threads)
    losses = {
        "mse": torch.nn.functional.mse_loss,
        "sisdr": auraloss.time.SISDRLoss(),
        "mrstft": auraloss.freq.MultiResolutionSTFTLoss(),
        "sd": auraloss.freq.SumAndDifferenceSTFTLoss(**RESOLUTIONS),
    }
    seconds = 0.0
    start = time.perf_counter()
    with open(args.out, "w") as out, torch.no_grad():
        for rel in wav_files(args.est_dir):
            est, rate = soundfile.read(os.path.join(args.est_dir, rel), dtype="float32")
            ref, _ = soundfile.read(os.path.join(args.ref_dir, rel), dtype="float32")
            # soundfile gives (frames, channels); auraloss wants (batch, channels, frames)
            est_t = torch.from_numpy(est.T.copy())[None]
            ref_t = torch.from_numpy(ref.T.copy())[None]
            row = {"pair": rel.replace(os.sep, "/")}
            row.update({name: float(loss(est_t, ref_t)) for name, loss in losses.items()})
            out.write(json.dumps(row) + "\n")
            seconds += est.shape[0] / rate
    elapsed = time.perf_counter() - start
    print(json.dumps({"pairs": len(wav_files(args.est_dir)), "audio_seconds": seconds,
                      "compute_seconds": elapsed,
                      "audio_seconds_per_second": seconds / elapsed,
                      "threads": args.threads, "auraloss": version("auraloss"),
                      "torch": torch.__version__}))


if __name__ == "__main__":
    main()
