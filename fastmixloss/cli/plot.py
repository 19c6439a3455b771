"""`compare --plot`: where two mixes differ, over time and frequency.

One row per STFT resolution. The first column is the reference's own spectrogram, for
context; then, for the sum (L+R) and difference (L-R) signals and for each channel alone,
the estimate's log magnitude minus the reference's, in dB, framed as the losses frame it
(centred, reflect padding, periodic Hann window of win_length zero-padded to fft_size).
The spectrograms are plain NumPy: this is a picture, not the hot path.
"""

import math
import os

import numpy as np

from .errors import CommandError

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


def check_plot_path(path):
    """The picture's format, from the extension of `path`; CommandError saying why it
    cannot be written there (checked before any work is done)."""
    figure_class = _matplotlib()[1]
    supported = figure_class().canvas.get_supported_filetypes()
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext not in supported:
        raise CommandError(f"--plot {path}: unknown picture format {ext or '(none)'!r}; "
                           "name the file .png, .pdf, .svg, .jpg, ... (this matplotlib "
                           f"writes: {', '.join(sorted(supported))})")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CommandError(f"--plot {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CommandError(f"--plot {path} is a folder; give a file name")
    if not os.access(folder, os.W_OK):
        raise CommandError(f"--plot {path}: the folder {folder} is not writable")
    return "jpeg" if ext == "jpg" else ext


def _matplotlib():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise CommandError("--plot needs matplotlib; install it with python -m pip "
                           "install 'fastmixloss[cli]'") from None
    return FigureCanvasAgg, Figure


def views(est, ref, view="all"):
    """(title, est signal, ref signal) for each column of differences.

    view: "sd" the sum and difference of a stereo pair (what the S/D loss compares),
    "channels" each channel alone (what MR-STFT compares: a swap shows here and not in
    the sum and difference), "all" both. A mono pair has one view, its channel."""
    if est.shape[0] == 1:
        return [("mono", est[0], ref[0])]
    if est.shape[0] == 2:
        combined = [("sum L+R", est[0] + est[1], ref[0] + ref[1]),
                    ("difference L-R", est[0] - est[1], ref[0] - ref[1])]
    else:
        combined = [("sum of channels", est.sum(axis=0), ref.sum(axis=0))]
    channels = [(f"channel {c + 1}", est[c], ref[c]) for c in range(est.shape[0])]
    return {"sd": combined, "channels": channels, "all": combined + channels}[view]


def smallest_size(channels, view, resolutions):
    """The smallest (width, height) in pixels whose panels still have room: one column
    for the reference and one per view, one row per resolution (measured: matplotlib's
    layout gives up below about this)."""
    columns = 1 + len(views(np.zeros((channels, 1)), np.zeros((channels, 1)), view))
    return 100 * columns + 140, 130 * len(resolutions) + 60


def difference_figure(est, ref, sample_rate, resolutions, size, title="", db_range=None,
                      view="all"):
    """The picture as a matplotlib Figure, and the colour range used (dB).

    est, ref: (C, T); resolutions: [(fft_size, hop_size, win_length), ...]; size:
    (width, height) pixels. The first column is the reference's own spectrogram (its
    channels summed), for context; then one column of differences per view (see
    `views`), all on one colour scale, -db_range to +db_range (default: from these
    differences, at most 60 dB)."""
    figure_canvas, figure_class = _matplotlib()
    width, height = size
    dpi = 100
    # no pyplot: no global state, no GUI backend, the same on every machine
    figure = figure_class(figsize=(width / dpi, height / dpi), dpi=dpi,
                          layout="constrained")
    figure_canvas(figure)
    panels = views(est, ref, view)
    axes = figure.subplots(len(resolutions), len(panels) + 1, squeeze=False)
    length = est.shape[-1]
    max_frames = max(50, width // (len(panels) + 1))
    reference_signal = ref.sum(axis=0, dtype=np.float64)
    images, reference_images, limit = [], [], 1.0
    for row, (fft_size, hop_size, win_length) in enumerate(resolutions):
        for col, (name, e, r) in enumerate([("reference", None, reference_signal)]
                                           + panels):
            ax = axes[row][col]
            # labels on the outer panels only: many panels must fit a small picture
            ax.tick_params(labelsize="x-small", labelleft=col == 0,
                           labelbottom=row == len(resolutions) - 1)
            if row == 0:
                ax.set_title(name, fontsize="small")
            if row == len(resolutions) - 1:
                ax.set_xlabel("time (s)", fontsize="small")
            if col == 0:
                ax.set_ylabel(f"fft {fft_size} hop {hop_size} win {win_length}\n"
                              "frequency (Hz)", fontsize="small")
            if length <= fft_size // 2:
                ax.text(0.5, 0.5, f"too short for fft {fft_size}", ha="center",
                        transform=ax.transAxes)
                continue
            ref_db, hop = log_magnitude(r, fft_size, hop_size, win_length, max_frames)
            times = np.arange(ref_db.shape[0]) * hop / sample_rate
            freqs = np.arange(ref_db.shape[1]) * sample_rate / fft_size
            if e is None:
                # relative to the loudest bin: the top 80 dB, as the loss floors it
                shown, cmap = ref_db - ref_db.max(), "magma"
            else:
                est_db, _ = log_magnitude(e, fft_size, hop_size, win_length, max_frames)
                shown, cmap = est_db - ref_db, "RdBu_r"
            # skip the DC bin so the frequency axis can be logarithmic, as we hear it
            image = ax.pcolormesh(times, freqs[1:], shown[:, 1:].T, shading="auto",
                                  cmap=cmap, rasterized=True)
            ax.set_yscale("log")
            ax.set_ylim(freqs[1], sample_rate / 2)
            if e is None:
                image.set_clim(-80, 0)
                reference_images.append(image)
                continue
            images.append(image)
            # the colour range from bins within 60 dB of the loudest: in near-silent bins
            # a tiny change is a huge ratio and would wash out everything else
            audible = np.maximum(est_db, ref_db) > max(est_db.max(), ref_db.max()) - 60
            if audible.any():
                limit = max(limit, float(np.percentile(np.abs(shown[audible]), 99)))
    limit = min(limit, 60.0) if db_range is None else float(db_range)
    for image in images:   # one colour scale for every panel, centred on "no difference"
        image.set_clim(-limit, limit)
    if reference_images:
        figure.colorbar(reference_images[0], ax=axes[:, 0], location="left",
                        label="reference (dB re its loudest bin)", shrink=0.9)
    if images:
        figure.colorbar(images[0], ax=axes[:, 1:], label="estimate - reference (dB)",
                        shrink=0.9)
    if title:
        figure.suptitle(title, fontsize="medium")
    return figure, limit


def difference_plot(est, ref, sample_rate, resolutions, path, size, title="",
                    db_range=None, view="all"):
    """Save `difference_figure` to `path`, in the format its extension names, at exactly
    size = (width, height) pixels for raster formats."""
    picture_format = check_plot_path(path)
    figure, _ = difference_figure(est, ref, sample_rate, resolutions, size, title,
                                  db_range, view)
    figure.savefig(path, dpi=figure.dpi, format=picture_format)
