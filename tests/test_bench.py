"""bench/ smoke test: --quick runs, and the contenders agree on the values they share.

No timing is asserted here: speed is measured by `python -m bench`, not by unit tests.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("scipy")   # the FFT floor is scipy.fft.rfft


@pytest.mark.slow
def test_quick_bench_runs_and_contenders_agree(tmp_path):
    out = tmp_path / "quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--no-memory", "--threads", "2",
         "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report["meta"]["threads"] == 2
    for wid, rows in report["workloads"].items():
        ours = rows["fastmixloss"]
        assert ours["median_s"] > 0 and ours["threads"] == 2
        # the floor's own frames give the same loss, so it times the right transforms
        other = ("fft-floor" if wid in ("W1", "W2", "W3", "W4") else
                 "reference" if wid in ("M1", "P1", "M4") else "numpy")
        if wid == "W6":   # the toolkit, when it is importable
            if "median_s" not in rows["automix-toolkit"]:
                continue
            other = "automix-toolkit"
        np.testing.assert_allclose(ours["value"], rows[other]["value"], rtol=1e-4,
                                   err_msg=f"{wid}: fastmixloss vs {other}")
        assert rows[other]["fastmixloss_ratio"] > 0
    assert "W1" in report["workloads"] and "W5-sisdr" in report["workloads"]
    assert "M1" in report["workloads"] and "P1" in report["workloads"]
    # the cold-start row: each dtype compiled from an empty kernel cache in a new process
    for dtype in ("float32", "float64"):
        row = report["cold_start"][dtype]
        assert row["runs"] == 1
        assert 0 < row["compile_cpu_s"] and 0 < row["compile_wall_s"]
    assert "cold start" in done.stdout
