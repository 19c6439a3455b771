"""Fixtures for the command-line tests; the helpers are in cli_helpers.py."""

import importlib.util
import os

import numpy as np
import pytest

if importlib.util.find_spec("soundfile") is None:
    # without fastmixloss[cli] there is no command line to test
    collect_ignore_glob = ["test_*.py"]
else:
    import soundfile
    from cli_helpers import RATE, make_good_pairs, pair_signals, write

    from fastmixloss.cli import main


@pytest.fixture(autouse=True)
def one_numba_thread():
    """Tiny inputs gain nothing from threads, and on a busy 2-core machine an OpenMP
    region waiting for a descheduled thread costs a time slice per call. The library's
    results are bit-identical for any thread count, so this changes no value."""
    import numba
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    yield
    numba.set_num_threads(before)


@pytest.fixture
def dataset(tmp_path):
    """A folder with good pairs (WAV, FLAC, a nested one) and one of each bad kind.

    Returns (est_dir, ref_dir, {pair name: (est, ref)} for the good ones,
    {pair name: words its error must contain} for the bad ones)."""
    root = str(tmp_path / "data")
    good = make_good_pairs(root, ["a.wav", "b.wav", "sub/c.wav"])
    rng = np.random.default_rng(11)
    est, ref = pair_signals(rng)
    write(os.path.join(root, "est", "d.flac"), est, subtype="PCM_24")
    write(os.path.join(root, "ref", "d.flac"), ref, subtype="PCM_24")
    # FLAC is 24-bit here: what the command scores is what soundfile reads back
    good["d.flac"] = tuple(soundfile.read(os.path.join(root, side, "d.flac"),
                                          dtype="float32", always_2d=True)[0].T
                           for side in ("est", "ref"))
    bad = {}
    # a corrupt estimate: a WAV header cut off, then noise
    write(os.path.join(root, "ref", "corrupt.wav"), ref)
    with open(os.path.join(root, "est", "corrupt.wav"), "wb") as f:
        f.write(b"RIFF\x10\x00\x00\x00WAVEjunk" + bytes(range(200)))
    bad["corrupt.wav"] = ["cannot read estimate", "corrupt.wav"]
    # no partner, either way
    write(os.path.join(root, "est", "only-est.wav"), est)
    bad["only-est.wav"] = ["no reference"]
    write(os.path.join(root, "ref", "only-ref.wav"), ref)
    bad["only-ref.wav"] = ["no estimate"]
    write(os.path.join(root, "est", "rate.wav"), est, rate=RATE)
    write(os.path.join(root, "ref", "rate.wav"), ref, rate=2 * RATE)
    bad["rate.wav"] = ["sample rates differ", "8000", "16000"]
    write(os.path.join(root, "est", "mono.wav"), est[:1])
    write(os.path.join(root, "ref", "mono.wav"), ref)
    bad["mono.wav"] = ["channel counts differ"]
    write(os.path.join(root, "est", "short.wav"), est[:, :1500])
    write(os.path.join(root, "ref", "short.wav"), ref)
    bad["short.wav"] = ["lengths differ", "1500", "2000"]
    silent = ref.copy()
    silent[1] = 0
    write(os.path.join(root, "est", "silent.wav"), est)
    write(os.path.join(root, "ref", "silent.wav"), silent)
    bad["silent.wav"] = ["sisdr: undefined", "silent", "channel 2"]
    return os.path.join(root, "est"), os.path.join(root, "ref"), good, bad


@pytest.fixture
def cli(capsys):
    """Run the command line in this process: (exit code, stdout, stderr)."""
    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err
    return run


