"""Statistics over a results file's rows, and plain-text tables to print them."""

import math
import os
import sys
import textwrap

import numpy as np

STATISTICS = ("count", "mean", "std", "min", "p5", "p25", "median", "p75", "p95", "max")
_PERCENTILES = {"p5": 5, "p25": 25, "median": 50, "p75": 75, "p95": 95}


def headline(column):
    """Columns worth a line in the printed summary: each loss, its terms, and the parts
    of S/D; not every resolution's terms (those are in the file and the JSON)."""
    parts = column.split(".")
    if any(p.startswith("fft") for p in parts):
        return False
    return len(parts) <= 2 if parts[0] != "sd" else parts[-1] == "loss"


def column_statistics(values):
    """count, mean, std (population), min, percentiles, max over the finite values."""
    data = np.array([v for v in values
                     if v is not None and math.isfinite(v)], dtype=np.float64)
    if data.size == 0:
        return {"count": 0}
    out = {"count": int(data.size), "mean": float(data.mean()), "std": float(data.std()),
           "min": float(data.min()), "max": float(data.max())}
    for name, q in _PERCENTILES.items():
        out[name] = float(np.percentile(data, q))
    return {k: out[k] for k in STATISTICS}


def summarize(rows, loss_columns):
    failed = [r for r in rows if r.get("error")]
    return {
        "pairs": len(rows),
        "ok": len(rows) - len(failed),
        "failed": len(failed),
        "columns": {c: column_statistics([r.get(c) for r in rows]) for c in loss_columns},
        "failures": [{"pair": r["pair"], "error": r["error"]} for r in failed],
    }


def number(value):
    if value is None:
        return "-"
    if isinstance(value, (int, np.integer)):
        return str(value)
    if not math.isfinite(value):
        return str(value)
    return f"{value:.6g}"


def output_width():
    """Columns to fit printed tables in: $COLUMNS, else the terminal's, else 80 (logs
    and pipes are read in 80-column windows too)."""
    try:
        return max(40, int(os.environ["COLUMNS"]))
    except (KeyError, ValueError):
        pass
    try:
        if sys.stdout.isatty():
            return max(40, os.get_terminal_size(sys.stdout.fileno()).columns)
    except (OSError, ValueError, AttributeError):
        pass
    return 80


def table(header, rows, align=None, width=None):
    """A plain-text table; numbers right-aligned, text left-aligned. With `width`, the
    last column (text) is wrapped onto continuation lines to fit in that many columns."""
    cells = [[c if isinstance(c, str) else number(c) for c in row] for row in rows]
    if width is not None and cells:
        fixed = sum(max(len(str(header[i])), *(len(r[i]) for r in cells)) + 2
                    for i in range(len(header) - 1))
        room = max(len(str(header[-1])), 20, width - fixed)
        wrapped = []
        for row in cells:
            # keep a leading indent (a term under its loss) on the first line only
            lines = textwrap.wrap(row[-1], room, drop_whitespace=False) or [""]
            wrapped.append(row[:-1] + [lines[0].rstrip()])
            wrapped += [[""] * (len(row) - 1) + [line.strip()] for line in lines[1:]]
        cells = wrapped
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(header)]
    if align is None:
        align = ["<"] + [">"] * (len(header) - 1)
    lines = ["  ".join(f"{h:{a}{w}}" for h, a, w in zip(header, align, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip()
              for r in cells]
    return "\n".join(lines)


# The printed summary's statistics in the order they are dropped to fit the width (the
# JSON summary has them all).
_BY_IMPORTANCE = ("count", "mean", "median", "min", "max", "p95", "std", "p5", "p75",
                  "p25")


def summary_table(summary, width=None):
    """The headline columns' statistics, as many as fit in `width` (default: the
    output's width)."""
    width = output_width() if width is None else width
    columns = [(c, s) for c, s in summary["columns"].items() if headline(c)]
    chosen = []
    for statistic in _BY_IMPORTANCE:
        trial = [s for s in STATISTICS if s in chosen or s == statistic]
        text = table(["loss"] + trial, [[c] + [s.get(t) for t in trial]
                                        for c, s in columns])
        if len(chosen) > 2 and max(map(len, text.splitlines())) > width:
            break
        chosen.append(statistic)
    shown = [s for s in STATISTICS if s in chosen]
    return table(["loss"] + shown, [[c] + [s.get(t) for t in shown] for c, s in columns])
