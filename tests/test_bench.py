"""bench/ smoke test: --quick runs, and the contenders agree on the values they share;
the dataset, memory-watch and derived-spectra helpers of the dataset-scoring rows.

No timing is asserted here: speed is measured by `python -m bench`, not by unit tests.
"""

import json
import os
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


# --- the issue-19 rows: bench.score_throughput, score_memory, derived_spectra ----------------

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:   # the bench package sits beside the library, not inside it
    sys.path.insert(0, ROOT)


def _write_renders(music, rate=8000, seconds=1.5, songs=("song_a", "song_b"),
                   kinds=("gains", "pans")):
    """A folder laid out as bench/render_music.py writes it, of seeded noise."""
    soundfile = pytest.importorskip("soundfile")
    rng = np.random.default_rng(7)
    for song in songs:
        os.makedirs(music / song)
        for name in ("ref",) + tuple(f"est-{k}" for k in kinds):
            audio = 0.3 * rng.standard_normal((int(rate * seconds), 2)).astype(np.float32)
            soundfile.write(music / song / f"{name}.wav", audio, rate, subtype="FLOAT")
    return music


def test_score_dataset_loops_each_render_to_the_length_asked(tmp_path):
    soundfile = pytest.importorskip("soundfile")
    from bench import score_throughput
    music = _write_renders(tmp_path / "music")
    seconds = score_throughput.build_dataset(music, tmp_path / "data", pairs=3, seconds=4)
    est_files = sorted(os.listdir(tmp_path / "data" / "est"))
    assert est_files == sorted(os.listdir(tmp_path / "data" / "ref"))
    # the first pairs take every song in turn
    assert est_files == ["song_a-gains.wav", "song_a-pans.wav", "song_b-gains.wav"]
    assert seconds == pytest.approx(3 * 4.0)
    source, rate = soundfile.read(music / "song_b" / "ref.wav", dtype="float32")
    written, written_rate = soundfile.read(tmp_path / "data" / "ref" / "song_b-gains.wav",
                                           dtype="float32")
    assert written_rate == rate and written.shape == (4 * rate, 2)
    assert soundfile.info(tmp_path / "data" / "ref" / "song_b-gains.wav").subtype == "PCM_16"
    # looped from its start, clipped, to 16-bit rounding (libsndfile writes x * 32767 and
    # reads n / 32768)
    expected = np.clip(np.concatenate([source, source, source])[:4 * rate], -1, 1)
    np.testing.assert_allclose(written, expected, atol=2.0 / 32768)


def test_memory_watch_sees_a_grandchild_and_its_peak(tmp_path):
    from bench import score_memory
    # a child whose own child holds 150 MB for a moment: the watch must find the
    # grandchild, read its peak, and add the processes' peaks
    code = ("import subprocess, sys; subprocess.run([sys.executable, '-c', "
            "'import time; b = b\"x\" * (150 * 2**20); time.sleep(0.5)'], check=True)")
    code_, tail, wall, processes, rss, pss = score_memory.run_watched(
        [sys.executable, "-c", code], dict(os.environ), str(tmp_path))
    assert code_ == 0, tail
    assert len(processes) == 2
    peaks = sorted(p["hwm_mb"] for p in processes.values())
    assert peaks[-1] >= 150 and peaks[0] < 150
    assert rss >= 150 and 0 < pss <= rss + 1
    assert wall >= 0.5


def test_looped_pair_is_written_block_by_block_to_its_length(tmp_path, monkeypatch):
    soundfile = pytest.importorskip("soundfile")
    from bench import score_memory
    music = _write_renders(tmp_path / "music", rate=44100, seconds=0.5)
    monkeypatch.setattr(score_memory, "BLOCK", 10000)   # several blocks, a short last one
    pair, seconds = score_memory.make_pair(music, str(tmp_path / "pair"), 0.02)
    assert pair == "song_a-gains" and seconds == pytest.approx(1.2)
    written, _ = soundfile.read(tmp_path / "pair" / "est" / "pair.wav", dtype="float32")
    source, _ = soundfile.read(music / "song_a" / "est-gains.wav", dtype="float32")
    expected = source[np.arange(round(1.2 * 44100)) % len(source)]
    np.testing.assert_allclose(written, np.clip(expected, -1, 1), atol=2.0 / 32768)   # libsndfile scales by 32767, reads by 32768


def test_derived_spectra_equal_direct_ones_where_no_rounding_differs():
    pytest.importorskip("scipy")
    from bench import derived_spectra
    rng = np.random.default_rng(3)
    plan = derived_spectra.sd_loss().plan
    # right channel silent: X(L) + X(R) and X(L + R) are the same numbers, so any
    # difference would be the two paths framing or windowing differently
    stereo = np.zeros((20000, 2), np.float32)
    stereo[:, 0] = rng.standard_normal(20000)
    spreads = {derived_spectra.label(res): {row: {name: {"bin": derived_spectra.Spread(),
                                                         "frame": derived_spectra.Spread()}
                                                  for name, *_ in derived_spectra.COMPARISONS}
                                            for row in derived_spectra.ROWS}
               for res in plan.resolutions}
    derived_spectra.spectra_differences(stereo, plan, spreads)
    for by_row in spreads.values():
        for by_name in by_row.values():
            assert by_name["derived32 vs direct32"]["frame"].row()["max"] == 0.0
            assert by_name["derived32 vs direct32"]["bin"].count > 0
            # against float64, float32 rounding is there but small
            assert 0 < by_name["direct32 vs float64"]["frame"].row()["max"] < 1e-4


def test_derived_term_sums_give_the_library_s_loss():
    import fastmixloss as fm
    from bench import derived_spectra
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((8000, 2)).astype(np.float32)
    est = (0.7 * ref + 0.2 * rng.standard_normal((8000, 2))).astype(np.float32)
    differences, values = derived_spectra.loss_differences(est, ref,
                                                           derived_spectra.sd_loss())
    # the rows, reduced by the library's own reduction, give the library's loss
    expected = fm.sum_and_difference_loss(est.T, ref.T)
    assert values["library"] == expected
    np.testing.assert_allclose(values["direct32"], expected, rtol=1e-6)
    np.testing.assert_allclose(values["direct64"], fm.sum_and_difference_loss(
        est.T.astype(np.float64), ref.T.astype(np.float64)), rtol=1e-12)
    for name, *_ in derived_spectra.LOSS_COMPARISONS:
        assert 0 < differences[name]["sd"] < 1e-4


@pytest.mark.slow
def test_auraloss_script_computes_the_command_line_s_four_losses(tmp_path):
    pytest.importorskip("auraloss")
    import fastmixloss as fm
    from bench import score_auraloss, score_throughput
    music = _write_renders(tmp_path / "music", rate=44100, seconds=1.0)
    data = tmp_path / "data"
    score_throughput.build_dataset(music, data, pairs=2)
    out = tmp_path / "aura.jsonl"
    score_auraloss.main([str(data / "est"), str(data / "ref"), "--out", str(out),
                         "--threads", "1"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 2
    import soundfile
    for row in rows:
        est = soundfile.read(data / "est" / row["pair"], dtype="float32")[0].T
        ref = soundfile.read(data / "ref" / row["pair"], dtype="float32")[0].T
        ours = {"mse": fm.mse(est, ref), "sisdr": fm.sisdr(est, ref),
                "mrstft.loss": fm.mrstft_loss(est, ref),
                "sd.loss": fm.sum_and_difference_loss(est, ref)}
        # the bench's mapping from auraloss's values to the command line's columns
        for name, (column, factor) in score_throughput.SAME_LOSS.items():
            np.testing.assert_allclose(factor * row[name], ours[column], rtol=1e-4,
                                       err_msg=name)


def test_w6_pair_runs_write_every_run(tmp_path):
    """bench.w6_cpu --runs: each run's rows and, with the toolkit, its ratio (here the
    toolkit is left out: fastmixloss alone)."""
    out = tmp_path / "w6.json"
    env = {k: v for k, v in os.environ.items() if k != "FASTMIXLOSS_AUTOMIX_EVAL"}
    env["PYTHONPATH"] = ROOT
    done = subprocess.run(
        [sys.executable, "-m", "bench.w6_cpu", "--rounds", "2", "--batches", "1",
         "--runs", "2", "--json", str(out)], capture_output=True, text=True, timeout=600,
        cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(out.read_text())
    assert len(report["runs"]) == 2 and report["threads"] >= 1
    for run in report["runs"]:
        assert run["batch"] == 1 and run["rounds"] == 2
        ours = run["rows"]["fastmixloss"]
        assert len(ours["runs"]) == 2 and 0 < ours["min_s"] <= ours["median_s"]
        assert run["cpu_s"]["fastmixloss"] > 0 and run["one_thread"]["cpu_s"] > 0
        if "automix-toolkit" in run["rows"]:   # importable without the variable
            assert run["ratio"] > 0
