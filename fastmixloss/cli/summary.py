"""Statistics over a results file's rows, and plain-text tables to print them."""

import math

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


def table(header, rows, align=None):
    """A plain-text table; numbers right-aligned, text left-aligned."""
    cells = [[c if isinstance(c, str) else number(c) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(header)]
    if align is None:
        align = ["<"] + [">"] * (len(header) - 1)
    lines = ["  ".join(f"{h:{a}{w}}" for h, a, w in zip(header, align, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(f"{c:{a}{w}}" for c, a, w in zip(r, align, widths)).rstrip()
              for r in cells]
    return "\n".join(lines)


def summary_table(summary):
    rows = [[column] + [stats.get(s) for s in STATISTICS]
            for column, stats in summary["columns"].items() if headline(column)]
    return table(["loss"] + list(STATISTICS), rows)
