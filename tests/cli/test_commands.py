"""The demo, `python -m fastmixloss`, the import boundary, and scoring on Dask."""

import configparser
import os
import subprocess
import sys

import pytest
from cli_helpers import (REPO, SPECTRAL_FLAGS, local_cluster, make_good_pairs, read_csv,
                         run_subprocess)


def test_demo_shows_what_the_losses_say(cli, tmp_path):
    code, out, _ = cli("demo", "--seconds", "1", "--out", tmp_path / "demo")
    assert code == 0
    assert "S/D diff" in out and "swapped" in out
    rows = read_csv(tmp_path / "demo" / "demo-results.csv")
    copy, swapped, mono = rows["1-identical.wav"], rows["2-swapped.wav"], rows["4-mono.wav"]
    assert all(r["error"] is None for r in rows.values())
    # what the printed explanation claims
    assert swapped["sd.loss"] == copy["sd.loss"] == copy["mrstft.loss"] == 0.0
    assert swapped["mrstft.loss"] > 0.1
    # L+R is the copy's, but S/D's spectra come from the channels' (X(L) + X(R)): the
    # estimate's 2 X(m) and the reference's X(L) + X(R) round apart in float32, and the
    # log-magnitude term of quiet bins shows it (docs/numerics.md); the copy's is 0
    assert copy["sd.sum.loss"] == 0.0
    assert mono["sd.sum.loss"] < 1e-3 * mono["sd.diff.loss"]
    assert mono["sd.diff.loss"] > 1000 * copy["sd.diff.loss"]
    assert rows["3-quieter.wav"]["sisdr"] < -60
    late = rows["5-late.wav"]
    assert late["mse"] == max(r["mse"] for r in rows.values())
    assert late["mrstft.loss"] < swapped["mrstft.loss"]


def test_demo_in_a_temporary_folder_leaves_nothing(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile
    monkeypatch.setattr(tempfile, "tempdir", None)   # re-read TMPDIR
    code, out, _ = cli("demo", "--seconds", "0.5")
    assert code == 0 and "identical" in out
    assert os.listdir(tmp_path) == []


def test_python_dash_m_and_help():
    result = run_subprocess("--help")
    assert result.returncode == 0
    for command in ("compare", "score", "demo"):
        assert command in result.stdout
    result = run_subprocess("score", "--help")
    assert "--length-policy" in result.stdout and "--scheduler" in result.stdout
    result = run_subprocess("frobnicate")
    assert result.returncode == 2 and "invalid choice" in result.stderr


def test_import_fastmixloss_stays_light():
    code = ("import sys, fastmixloss; "
            "heavy = [m for m in ('fastmixloss.cli', 'soundfile', 'matplotlib', 'tqdm', "
            "'distributed', 'dask', 'pyarrow') if m in sys.modules]; print(heavy)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr
    # the CLI's own import pulls in none of its optional parts either
    code = code.replace("import sys, fastmixloss;", "import sys, fastmixloss.cli.score;")
    code = code.replace("'fastmixloss.cli', ", "")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=REPO, timeout=60)
    assert result.stdout.strip() == "[]", result.stderr


def test_setup_cfg_declares_the_script_and_extras():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    assert "fastmixloss = fastmixloss.cli:main" in config["options.entry_points"][
        "console_scripts"]
    extras = config["options.extras_require"]
    for extra, package in (("cli", "soundfile"), ("cli", "matplotlib"), ("cli", "tqdm"),
                           ("dask", "distributed"), ("parquet", "pyarrow")):
        assert package in extras[extra]


@pytest.mark.slow
def test_dask_local_cluster_gives_the_local_rows(tmp_path, cli, monkeypatch):
    """A real distributed.LocalCluster (2 worker processes on 127.0.0.1, 1 thread each):
    the same rows, errors included, as a run on this machine's worker process."""
    root = str(tmp_path / "data")
    make_good_pairs(root, [f"p{i}.wav" for i in range(6)])
    with open(os.path.join(root, "est", "broken.wav"), "wb") as f:
        f.write(b"not audio")
    make_good_pairs(str(tmp_path / "other"), ["broken.wav"])
    os.replace(str(tmp_path / "other" / "ref" / "broken.wav"),
               os.path.join(root, "ref", "broken.wav"))
    args = ("score", f"{root}/est", f"{root}/ref", *SPECTRAL_FLAGS)
    assert cli(*args, "--out", tmp_path / "local.csv")[0] == 1

    with local_cluster(monkeypatch) as cluster:
        code, out, err = cli(*args, "--out", tmp_path / "dask.csv",
                             "--scheduler", cluster.scheduler_address)
        assert code == 1, err
        assert "dask tcp://127.0.0.1" in out
        # a second run on the cluster resumes: nothing left
        code, out, _ = cli(*args, "--out", tmp_path / "dask.csv",
                           "--scheduler", cluster.scheduler_address)
        assert "nothing left to score" in out
    local = read_csv(tmp_path / "local.csv")
    remote = read_csv(tmp_path / "dask.csv")
    assert remote.keys() == local.keys()
    for key in local:
        if local[key]["error"]:
            # workers are sent absolute paths, so the message may name the file so
            assert "cannot read estimate" in remote[key]["error"]
            local[key]["error"] = remote[key]["error"] = None
        assert remote[key] == local[key], key


def test_unreachable_scheduler_is_a_clear_error(tmp_path, cli):
    pytest.importorskip("distributed")
    import dask
    root = str(tmp_path / "data")
    make_good_pairs(root, ["x.wav"])
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out",
                           tmp_path / "r.csv", "--scheduler", "tcp://127.0.0.1:9",
                           *SPECTRAL_FLAGS)
    assert code == 3
    assert "--scheduler tcp://127.0.0.1:9: cannot connect" in err
