"""Statistics over a results file's rows, and plain-text tables to print them."""

import math
import os
import re
import sys
import textwrap
from collections import Counter

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


# Why a failed pair's defined value is not in its column's statistics: every column's
# statistics are over the same pairs, those scored without an error.
LEFT_OUT = "left out: the pair has an error elsewhere"


def summarize(rows, loss_columns):
    """Per loss column: statistics over the pairs scored without an error (a failed
    pair never enters them, not even with the values it has), `undefined`: how many
    pairs are not in them, and `undefined_reasons`: {reason: pairs}, most frequent
    first."""
    failed = [r for r in rows if r.get("error")]
    scored = [r for r in rows if not r.get("error")]
    losses = sorted({c.split(".")[0] for c in loss_columns}, key=len, reverse=True)
    columns = {}
    for column in loss_columns:
        statistics = column_statistics([r.get(column) for r in scored])
        reasons = Counter(undefined_reason(r, column, losses) for r in rows
                          if r.get("error") or not _finite(r.get(column)))
        statistics["undefined"] = sum(reasons.values())
        statistics["undefined_reasons"] = dict(reasons.most_common())
        columns[column] = statistics
    return {
        "pairs": len(rows),
        "ok": len(scored),
        "failed": len(failed),
        "columns": columns,
        "failures": [{"pair": r["pair"], "error": r["error"]} for r in failed],
    }


def _finite(value):
    return value is not None and math.isfinite(value)


def undefined_reason(row, column, losses):
    """Why `row` has no value of `column` in the statistics: what its error says about
    that column's loss (`losses`: every loss name), or about the whole pair; the pair's
    own file names are written <est> and <ref>, so that one reason counts every pair it
    applies to."""
    if _finite(row.get(column)):
        return LEFT_OUT
    error = row.get("error") or ""
    loss = column.split(".")[0]
    pattern = "|".join(re.escape(name) for name in losses)
    # the error is "; "-joined: what the pair as a whole had, then one part per loss
    starts = [m.start(1) for m in re.finditer(rf"(?:^|; )(({pattern}): )", error)]
    head = error[:max(0, starts[0] - 2)] if starts else error
    for begin, end in zip(starts, starts[1:] + [len(error) + 2]):
        if error.startswith(f"{loss}: ", begin):
            reason = error[begin:end - 2]
            break
    else:
        reason = head or "no value"
    for path, name in ((row.get("est"), "<est>"), (row.get("ref"), "<ref>")):
        if path:
            reason = reason.replace(str(path), name)
    return reason


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
    output's width); with an `undefined` column after `count` when some pair is not in
    the statistics."""
    width = output_width() if width is None else width
    columns = [(c, s) for c, s in summary["columns"].items() if headline(c)]
    order = STATISTICS
    if any(s.get("undefined") for _, s in columns):
        order = ("count", "undefined") + STATISTICS[1:]
    chosen = ["undefined"]
    for statistic in _BY_IMPORTANCE:
        trial = [s for s in order if s in chosen or s == statistic]
        text = table(["loss"] + trial, [[c] + [s.get(t) for t in trial]
                                        for c, s in columns])
        if len(chosen) > 3 and max(map(len, text.splitlines())) > width:
            break
        chosen.append(statistic)
    shown = [s for s in order if s in chosen]
    return table(["loss"] + shown, [[c] + [s.get(t) for t in shown] for c, s in columns])


def undefined_lines(summary, limit=10):
    """The reasons why values are not in the statistics, most frequent first: how many
    pairs, the reason, and which columns it leaves without them."""
    by_reason = {}
    for column, statistics in summary["columns"].items():
        for reason, pairs in statistics.get("undefined_reasons", {}).items():
            entry = by_reason.setdefault(reason, [0, []])
            entry[0] = max(entry[0], pairs)
            entry[1].append(column)
    every = list(summary["columns"])
    ranked = sorted(by_reason.items(), key=lambda item: -item[1][0])
    lines = [f"  {pairs} pair{'s' if pairs != 1 else ''}: {reason} "
             f"({_columns_text(columns, every)})"
             for reason, (pairs, columns) in ranked[:limit]]
    if len(ranked) > limit:
        lines.append(f"  ... and {len(ranked) - limit} more reasons (see the summary's "
                     "JSON)")
    return lines


def _columns_text(columns, every):
    """'every column', a loss's name for all of its columns, else the columns."""
    if len(columns) == len(every):
        return "every column"
    parts = []
    for loss in dict.fromkeys(c.split(".")[0] for c in columns):
        own = [c for c in every if c.split(".")[0] == loss]
        mine = [c for c in columns if c.split(".")[0] == loss]
        if len(mine) == len(own):
            parts.append(loss if len(own) == 1 else f"{loss}.*")
        else:
            shown = [c for c in mine if headline(c)] or mine[:1]
            more = len(mine) - len(shown)
            parts.append(", ".join(shown) + (f" and {more} more" if more else ""))
    return ", ".join(parts)
