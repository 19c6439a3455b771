"""`compare --plot`: where two mixes differ, over time and frequency.

For the sum (L+R) and difference (L-R) signals, each panel shows the estimate's log
magnitude minus the reference's, in dB, at one STFT resolution, framed as the losses frame
it (centred, reflect padding, periodic Hann window of win_length zero-padded to fft_size).
The spectrograms are plain NumPy: this is a picture, not the hot path.
"""

import math

import numpy as np

# A picture has no use for more frames than a panel has pixel columns: long songs get a
# coarser hop (the frames themselves are the resolution's), which also bounds the memory.
EPS = 1e-8   # the losses' power floor, so silence shows as -80 dB, not -inf


def log_magnitude(signal, fft_size, hop_size, win_length, max_frames):
    """20*log10 |STFT| in dB, shape (frames, fft_size // 2 + 1), and the hop used."""
    hop = max(hop_size, math.ceil(signal.shape[-1] / max_frames))
    padded = np.pad(np.asarray(signal, dtype=np.float64), fft_size // 2, mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, fft_size)[::hop]
    n = np.arange(win_length)
    window = np.zeros(fft_size)
    left = (fft_size - win_length) // 2
    window[left:left + win_length] = 0.5 - 0.5 * np.cos(2 * np.pi * n / win_length)
    spectrum = np.fft.rfft(frames * window, axis=1)
    power = np.maximum(spectrum.real ** 2 + spectrum.imag ** 2, EPS)
    return 10.0 * np.log10(power), hop


def views(est, ref):
    """(title, est signal, ref signal) for each panel column."""
    if est.shape[0] == 2:
        return [("sum L+R", est[0] + est[1], ref[0] + ref[1]),
                ("difference L-R", est[0] - est[1], ref[0] - ref[1])]
    if est.shape[0] == 1:
        return [("mono", est[0], ref[0])]
    return [("sum of channels", est.sum(axis=0), ref.sum(axis=0))]


def difference_plot(est, ref, sample_rate, resolutions, path, size, title=""):
    """Save the picture to `path` (PNG) at exactly size = (width, height) pixels.

    est, ref: (C, T); resolutions: [(fft_size, hop_size, win_length), ...].
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise SystemExit("fastmixloss compare --plot needs matplotlib; install it with "
                         "python -m pip install 'fastmixloss[cli]'") from None
    width, height = size
    dpi = 100
    # no pyplot: no global state, no GUI backend, the same on every machine
    figure = Figure(figsize=(width / dpi, height / dpi), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    panels = views(est, ref)
    axes = figure.subplots(len(resolutions), len(panels), squeeze=False)
    length = est.shape[-1]
    max_frames = max(50, width // len(panels))
    images, limit = [], 1.0
    for row, (fft_size, hop_size, win_length) in enumerate(resolutions):
        for col, (name, e, r) in enumerate(panels):
            ax = axes[row][col]
            ax.set_title(f"{name}: fft {fft_size}, hop {hop_size}, win {win_length}",
                         fontsize="small")
            ax.set_xlabel("time (s)")
            ax.set_ylabel("frequency (Hz)")
            if length <= fft_size // 2:
                ax.text(0.5, 0.5, f"too short for fft {fft_size}", ha="center",
                        transform=ax.transAxes)
                continue
            est_db, hop = log_magnitude(e, fft_size, hop_size, win_length, max_frames)
            ref_db, _ = log_magnitude(r, fft_size, hop_size, win_length, max_frames)
            difference = est_db - ref_db
            times = np.arange(difference.shape[0]) * hop / sample_rate
            freqs = np.arange(difference.shape[1]) * sample_rate / fft_size
            # skip the DC bin so the frequency axis can be logarithmic, as we hear it
            image = ax.pcolormesh(times, freqs[1:], difference[:, 1:].T, shading="auto",
                                  cmap="RdBu_r", rasterized=True)
            ax.set_yscale("log")
            ax.set_ylim(freqs[1], sample_rate / 2)
            images.append(image)
            # the colour range from bins within 60 dB of the loudest: in near-silent bins
            # a tiny change is a huge ratio and would wash out everything else
            audible = np.maximum(est_db, ref_db) > max(est_db.max(), ref_db.max()) - 60
            if audible.any():
                limit = max(limit, float(np.percentile(np.abs(difference[audible]), 99)))
    limit = min(limit, 60.0)
    for image in images:   # one colour scale for every panel, centred on "no difference"
        image.set_clim(-limit, limit)
    if images:
        figure.colorbar(images[0], ax=axes, label="estimate - reference (dB)",
                        shrink=0.9)
    if title:
        figure.suptitle(title, fontsize="medium")
    figure.savefig(path, dpi=dpi, format="png")
