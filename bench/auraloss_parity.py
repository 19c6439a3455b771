"""compat="auraloss" against auraloss 0.4.0 on rendered music: the worst relative
difference of the float64 S/D loss (fft 512/2048/8192, hop 128/512/2048, win = fft).

    python -m bench.auraloss_parity [--music /work/music] [--seconds 10] [--before]

--before builds compat's windows the old way (the float64 formula rounded to float32)
instead of mirroring torch's float32 window functions, to show what that changes.
Needs auraloss (pip install -e ".[parity]") and soundfile.
"""

import argparse
import pathlib

import numpy as np

S_AND_D = dict(fft_sizes=[512, 2048, 8192], hop_sizes=[128, 512, 2048],
               win_lengths=[512, 2048, 8192])


def pairs(root, estimates):
    for song in sorted(p for p in pathlib.Path(root).iterdir() if p.is_dir()):
        for name in estimates:
            est = song / f"est-{name}.wav"
            if est.exists():
                yield song.name, name, est, song / "ref.wav"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", default="/work/music")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--estimates", default="gains,tilt,nodrums,plus2db")
    parser.add_argument("--before", action="store_true")
    args = parser.parse_args(argv)

    import auraloss
    import soundfile
    import torch

    import fastmixloss as fm
    from fastmixloss import windows
    if args.before:
        windows._torch_float32 = lambda name, n: windows._BUILDERS[name](n).astype(np.float32)
        windows._padded_named.cache_clear()
    torch.set_num_threads(2)
    loss = auraloss.freq.SumAndDifferenceSTFTLoss(**S_AND_D)
    worst = 0.0
    for song, name, est_path, ref_path in pairs(args.music, args.estimates.split(",")):
        est, rate = soundfile.read(est_path, dtype="float64")
        ref, _ = soundfile.read(ref_path, dtype="float64")
        frames = int(args.seconds * rate) if args.seconds > 0 else len(ref)
        est = np.ascontiguousarray(est[:frames].T[None])   # (1, 2, T)
        ref = np.ascontiguousarray(ref[:frames].T[None])
        with torch.no_grad():
            expected = loss(torch.from_numpy(est), torch.from_numpy(ref)).item()
        got = fm.sum_and_difference_loss(est, ref, compat="auraloss", **S_AND_D)
        relative = abs(got - expected) / abs(expected)
        worst = max(worst, relative)
        print(f"{song:16s} {name:8s} auraloss {expected:.12g}  fastmixloss {got:.12g}  "
              f"relative {relative:.2e}")
    print(f"worst relative difference: {worst:.2e} "
          f"({'before: float64 formula rounded' if args.before else 'torch float32 windows'})")


if __name__ == "__main__":
    main()
