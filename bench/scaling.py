"""Time and peak memory against signal length and batch size (MR-STFT, defaults), each
point in a fresh process, for fastmixloss and auraloss; a PNG of the four curves.

The memory plotted is the process's peak minus the two input arrays: what the loss itself
needs on top of the signals a user already holds (flat for fastmixloss)."""

from . import contenders, measure

SAMPLE_RATE = 44100
LENGTHS_S = (1, 10, 60, 180, 600)
BATCHES = (1, 2, 4, 8, 16, 32)
BATCH_ITEM_S = 10


def run(threads, lengths_s=LENGTHS_S, batches=BATCHES, log=print):
    points = []
    names = ["fastmixloss"] + (["auraloss"] if contenders.available("auraloss")[0] else [])
    for name in names:
        for seconds in lengths_s:
            result = measure.probe("W1", name, threads, shape=(1, 2, seconds * SAMPLE_RATE))
            points.append({"contender": name, "axis": "length_s", "x": seconds, **result})
            log(f"  scaling {name:12s} length {seconds:4d} s: {result['seconds']:8.3f} s "
                f"{result['peak_mb']:8.0f} MB peak, {result['inputs_mb']:6.0f} MB inputs")
        for batch in batches:
            result = measure.probe("W1", name, threads,
                                   shape=(batch, 2, BATCH_ITEM_S * SAMPLE_RATE))
            points.append({"contender": name, "axis": "batch", "x": batch, **result})
            log(f"  scaling {name:12s} batch {batch:5d}:    {result['seconds']:8.3f} s "
                f"{result['peak_mb']:8.0f} MB peak, {result['inputs_mb']:6.0f} MB inputs")
    return points


def plot(points, path, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(2, 2, figsize=(11, 8), constrained_layout=True)
    for col, (axis, label) in enumerate((("length_s", "signal length (s, stereo 44.1 kHz)"),
                                         ("batch", f"batch size ({BATCH_ITEM_S} s items)"))):
        for row, (key, ylabel) in enumerate((("seconds", "time (s)"),
                                             ("working_mb", "peak memory above the inputs (MB)"))):
            ax = axes[row][col]
            for name in sorted({p["contender"] for p in points}):
                sel = sorted((p["x"], p["seconds"] if key == "seconds"
                              else p["peak_mb"] - p["inputs_mb"]) for p in points
                             if p["contender"] == name and p["axis"] == axis)
                if sel:
                    ax.plot(*zip(*sel), marker="o", label=name)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel(label)
            ax.set_ylabel(ylabel)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.suptitle(title)
    fig.savefig(path, dpi=100)
    plt.close(fig)
