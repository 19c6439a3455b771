"""Reading pairs in pieces: `score` and `compare` never hold a file whole, and what they
write equals the library on the whole decoded arrays.

The pairs here are longer than two pieces (PIECE_SAMPLES each) at 8 kHz with small FFT
sizes, so that every piece boundary, the last short piece, and the read-ahead between
pairs are exercised for little work.
"""

import json
import os
import threading
import time

import numpy as np
import pytest
import soundfile
from cli_helpers import (RATE, SPECTRAL_FLAGS, SPECTRAL_PARAMS, assert_as_each_loss_alone,
                         library_values, read_csv, write)

from fastmixloss.cli.audio import (PIECE_SAMPLES, OpenedPair, Pair, PairError,
                                   piece_length, whole_signals)
from fastmixloss.cli.config import byte_size
from fastmixloss.cli.read_ahead import QueuedPair, ReadAhead

LONG = 2 * PIECE_SAMPLES + 12345   # two whole pieces and a short one


def long_pair(rng, length=LONG, channels=2):
    ref = (0.5 * rng.standard_normal((channels, length))).astype(np.float32)
    est = (0.8 * ref + 0.1 * rng.standard_normal((channels, length))).astype(np.float32)
    return est, ref


def decoded(path):
    """What soundfile decodes of a file, (C, T) float32: the library's input."""
    return soundfile.read(path, dtype="float32", always_2d=True)[0].T.copy()


def score_rows(cli, root, out, *extra, flags=SPECTRAL_FLAGS):
    code, _, err = cli("score", f"{root}/est", f"{root}/ref", "--out", out, *flags, *extra)
    assert code in (0, 1), err
    return code, read_csv(out), err


@pytest.mark.parametrize("subtype", ["FLOAT", "PCM_16"])
def test_rows_read_in_pieces_equal_the_library_on_the_whole_arrays(tmp_path, cli, subtype):
    """Every column as fastmixloss.evaluate gives it on the whole decoded arrays, bit for
    bit; and as each loss alone (S/D within float32 rounding, see cli_helpers)."""
    rng = np.random.default_rng(21)
    root = tmp_path / "data"
    for name in ("a.wav", "b.wav"):
        est, ref = long_pair(rng)
        write(f"{root}/est/{name}", est, subtype=subtype)
        write(f"{root}/ref/{name}", ref, subtype=subtype)
    code, rows, _ = score_rows(cli, root, tmp_path / "r.csv")
    assert code == 0
    for name in ("a.wav", "b.wav"):
        est, ref = decoded(f"{root}/est/{name}"), decoded(f"{root}/ref/{name}")
        row = rows[name]
        assert row["error"] is None and row["samples"] == LONG
        expected = library_values(est, ref)
        assert {k: row[k] for k in expected} == expected, name
        assert_as_each_loss_alone(row, est, ref)


def test_every_loss_and_compat_in_pieces(tmp_path, cli):
    """The time-domain losses, one STFT resolution and auraloss's conventions (which want
    a batch: the command line gives each pair as one item)."""
    rng = np.random.default_rng(22)
    est, ref = long_pair(rng)
    write(f"{tmp_path}/e/x.wav", est)
    write(f"{tmp_path}/r/x.wav", ref)
    losses = ("mse", "l1", "esr", "dc", "logcosh", "snr", "sisdr", "sdsdr", "stft")
    for extra, params in (([], {"fft_size": 128, "hop_size": 32}),
                          (["--compat", "auraloss"],
                           {"fft_size": 128, "hop_size": 32, "compat": "auraloss"})):
        out = tmp_path / f"r{len(extra)}.csv"
        code, _, err = cli("score", f"{tmp_path}/e", f"{tmp_path}/r", "--out", out,
                           "--losses", ",".join(losses), "--fft-size", "128",
                           "--hop-size", "32", *extra)
        assert code == 0, err
        row = read_csv(out)["x.wav"]
        time_params = {"compat": "auraloss"} if extra else {}
        expected = {}
        import fastmixloss as fm
        for name in losses[:-1]:
            expected[name] = float(getattr(fm, name)(est[None], ref[None], **time_params))
        full = fm.stft_loss(est[None], ref[None], output="full", **params)
        expected.update({f"stft.{k}": float(v) for k, v in full.to_dict().items()})
        assert {k: row[k] for k in expected} == expected, extra


@pytest.mark.parametrize("policy", ["trim", "pad"])
def test_length_policies_across_pieces(tmp_path, cli, policy):
    """The estimate ends in the second piece: trim stops both there, pad continues it with
    zeros to the reference's end."""
    rng = np.random.default_rng(23)
    est, ref = long_pair(rng)
    short = PIECE_SAMPLES + 777
    write(f"{tmp_path}/data/est/s.wav", est[:, :short])
    write(f"{tmp_path}/data/ref/s.wav", ref)
    code, rows, _ = score_rows(cli, tmp_path / "data", tmp_path / "r.csv",
                               "--length-policy", policy)
    assert code == 0
    row = rows["s.wav"]
    if policy == "trim":
        est_used, ref_used = est[:, :short], ref[:, :short]
    else:
        est_used = np.zeros_like(est)
        est_used[:, :short] = est[:, :short]
        ref_used = ref
    assert row["samples"] == est_used.shape[1]
    expected = library_values(est_used, ref_used)
    assert {k: row[k] for k in expected} == expected


def test_a_file_too_short_for_a_resolution_keeps_the_other_losses(tmp_path, cli):
    """100 samples for a 256-sample FFT (reflect padding needs 129): the spectral losses
    say so as the library does, the time-domain ones are computed."""
    import fastmixloss as fm
    from fastmixloss.errors import ParameterError
    rng = np.random.default_rng(24)
    est, ref = long_pair(rng, length=100)
    write(f"{tmp_path}/data/est/t.wav", est)
    write(f"{tmp_path}/data/ref/t.wav", ref)
    out = tmp_path / "r.csv"
    code, _, _ = cli("score", f"{tmp_path}/data/est", f"{tmp_path}/data/ref", "--out", out,
                     "--losses", "mse,mrstft", "--fft-sizes", "256,64", "--hop-sizes",
                     "64,16", "--win-lengths", "256,64")
    assert code == 1
    row = read_csv(out)["t.wav"]
    assert row["mse"] == float(fm.mse(est[None], ref[None]))
    assert row["mrstft.loss"] is None
    with pytest.raises(ParameterError) as alone:
        fm.mrstft_loss(est[None], ref[None], fft_sizes=(256, 64), hop_sizes=(64, 16),
                       win_lengths=(256, 64))
    assert row["error"] == f"mrstft: {alone.value}"


def test_a_silent_reference_channel_is_found_across_the_pieces(tmp_path, cli):
    """Channel 2 of the reference all zeros over every piece: the losses that divide by
    its energy are undefined. One nonzero sample in its last piece makes it a channel
    like any other."""
    rng = np.random.default_rng(25)
    root = tmp_path / "data"
    est, ref = long_pair(rng)
    ref[1] = 0
    write(f"{root}/est/silent.wav", est)
    write(f"{root}/ref/silent.wav", ref)
    heard = ref.copy()
    heard[1, LONG - 5] = 0.25
    write(f"{root}/est/heard.wav", est)
    write(f"{root}/ref/heard.wav", heard)
    code, rows, _ = score_rows(cli, root, tmp_path / "r.csv", "--losses", "mse,sisdr,snr",
                               flags=())
    assert code == 1
    silent = rows["silent.wav"]
    assert silent["sisdr"] is None and silent["snr"] is None
    assert silent["mse"] == library_values(est, ref, losses=("mse",))["mse"]
    assert silent["error"] == (
        "sisdr: undefined, the reference is silent (all samples zero) in channel 2; "
        "snr: undefined, the reference is silent (all samples zero) in channel 2")
    assert rows["heard.wav"]["error"] is None
    assert rows["heard.wav"]["sisdr"] == library_values(est, heard,
                                                        losses=("sisdr",))["sisdr"]


def test_nan_in_a_late_piece_is_named_at_its_place_in_the_file(tmp_path, cli):
    """A float WAV with NaN in its third piece: each loss's error is the one the loss
    alone raises on the whole arrays (naming the sample in the file), and the pair after
    it is scored."""
    import fastmixloss as fm
    from fastmixloss.errors import ParameterError
    rng = np.random.default_rng(26)
    root = tmp_path / "data"
    est, ref = long_pair(rng)
    est[1, 2 * PIECE_SAMPLES + 99] = np.nan
    write(f"{root}/est/nan.wav", est)
    write(f"{root}/ref/nan.wav", ref)
    good_est, good_ref = long_pair(rng)
    write(f"{root}/est/next.wav", good_est)
    write(f"{root}/ref/next.wav", good_ref)
    code, rows, _ = score_rows(cli, root, tmp_path / "r.csv", "--losses", "mse,sisdr,sd")
    assert code == 1
    messages = []
    for name, call in (("mse", lambda: fm.mse(est[None], ref[None])),
                       ("sisdr", lambda: fm.sisdr(est[None], ref[None])),
                       ("sd", lambda: fm.sum_and_difference_loss(
                           est[None], ref[None], output="full", **SPECTRAL_PARAMS))):
        with pytest.raises(ParameterError) as alone:
            call()
        messages.append(f"{name}: {alone.value}")
    assert str(2 * PIECE_SAMPLES + 99) in messages[0]
    assert rows["nan.wav"]["error"] == "; ".join(messages)
    expected = library_values(good_est, good_ref, losses=("mse", "sisdr", "sd"))
    assert {k: rows["next.wav"][k] for k in expected} == expected


def test_rows_whose_sums_need_a_second_reading_reread_the_files(tmp_path, cli):
    """SI-SDR and ESR of a scaled copy: the one-pass sums cancel, and the evaluation asks
    for the pieces again (the worker reopens the files it read ahead)."""
    rng = np.random.default_rng(27)
    _, ref = long_pair(rng)
    est = (0.5 * ref).astype(np.float32)
    write(f"{tmp_path}/data/est/scaled.wav", est)
    write(f"{tmp_path}/data/ref/scaled.wav", ref)
    losses = ("mse", "esr", "sisdr", "sdsdr")
    code, rows, _ = score_rows(cli, tmp_path / "data", tmp_path / "r.csv", "--losses",
                               ",".join(losses), flags=())
    assert code == 0
    expected = library_values(est, ref, losses=losses)
    assert {k: rows["scaled.wav"][k] for k in expected} == expected
    import fastmixloss as fm
    assert rows["scaled.wav"]["sisdr"] == float(fm.sisdr(est[None], ref[None]))


@pytest.mark.parametrize("size", ["1", "100K", "3M", "1G"])
def test_read_ahead_sizes_give_the_same_rows(tmp_path, cli, size):
    """From one piece ahead (any size under a piece) to more than the whole dataset."""
    rng = np.random.default_rng(28)
    root = tmp_path / "data"
    pairs = {}
    for name in ("p0.wav", "p1.wav", "p2.wav"):
        pairs[name] = long_pair(rng, length=PIECE_SAMPLES + 1000 * len(pairs))
        write(f"{root}/est/{name}", pairs[name][0])
        write(f"{root}/ref/{name}", pairs[name][1])
    code, rows, _ = score_rows(cli, root, tmp_path / "r.csv", "--read-ahead", size)
    assert code == 0
    for name, (est, ref) in pairs.items():
        expected = library_values(est, ref)
        assert {k: rows[name][k] for k in expected} == expected, name


@pytest.mark.parametrize("text, size", [
    ("1", 1), ("4096", 4096), ("64M", 64 * 2 ** 20), ("64m", 64 * 2 ** 20),
    ("64MB", 64 * 2 ** 20), ("64MiB", 64 * 2 ** 20), ("2k", 2048), ("1.5G", 3 * 2 ** 29),
    (" 8 M ", 8 * 2 ** 20), ("100B", 100),
])
def test_byte_size_reads_bytes_and_units(text, size):
    assert byte_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1", "", "M", "1T", "64 pairs", "0.1", "1e6", "nan"])
def test_a_read_ahead_that_is_not_a_size_exits_2(tmp_path, cli, text):
    code, _, err = cli("score", tmp_path, tmp_path, "--read-ahead", text)
    assert code == 2 and "--read-ahead" in err and "not a size" in err, err


# -- the reading itself ----------------------------------------------------------------

def test_an_opened_pair_reads_pieces_of_the_aligned_length(tmp_path):
    rng = np.random.default_rng(29)
    est, ref = long_pair(rng)
    write(f"{tmp_path}/e.wav", est)
    write(f"{tmp_path}/r.wav", ref)
    with OpenedPair(Pair("x", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav"), "error") as pair:
        assert (pair.sample_rate, pair.channels, pair.length) == (RATE, 2, LONG)
        for alignment in (1, 2 ** 16, 3000):
            pieces = list(pair.pieces(alignment))
            size = piece_length(alignment)
            assert size % alignment == 0 and abs(size - PIECE_SAMPLES) <= alignment
            assert [p[0].shape for p in pieces[:-1]] == [(2, size)] * (len(pieces) - 1)
            assert all(p.dtype == np.float32 and p.flags.c_contiguous
                       for piece in pieces for p in piece)
            np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces], 1), est)
            np.testing.assert_array_equal(np.concatenate([p[1] for p in pieces], 1), ref)
        whole = whole_signals(pair)
    np.testing.assert_array_equal(whole[0], est)


def test_a_file_that_changes_between_readings_is_the_pairs_error(tmp_path):
    rng = np.random.default_rng(30)
    est, ref = long_pair(rng, length=5000)
    write(f"{tmp_path}/e.wav", est)
    write(f"{tmp_path}/r.wav", ref)
    pair = OpenedPair(Pair("x", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav"), "error")
    assert sum(p[0].shape[1] for p in pair.pieces()) == 5000
    pair.rest()   # as the read-ahead leaves a pair it has read
    write(f"{tmp_path}/e.wav", est[:, :4000])
    with pytest.raises(PairError, match="changed while being read"):
        list(pair.pieces())


class FakePair:
    """Stands in for an OpenedPair: `n_pieces` stereo pieces of `piece` samples (piece
    i holds i in est, -i in ref), each read after noting in `log` how many bytes the
    read-ahead holds at that moment; piece `fail_at` fails to read."""

    def __init__(self, n_pieces, fail_at, piece, log, reading):
        self.sample_rate, self.channels = RATE, 2
        self.length = n_pieces * piece
        self.n_pieces, self.fail_at, self.piece = n_pieces, fail_at, piece
        self.log, self.reading = log, reading

    def pieces(self, alignment=1):
        for index in range(self.n_pieces):
            if index == self.fail_at:
                raise PairError("cannot read estimate x.wav: a read failed")
            self.log.append(self.reading.held_bytes)
            yield (np.full((2, self.piece), index, np.float32),
                   np.full((2, self.piece), -index, np.float32))

    def rest(self):
        pass

    close = rest


PIECE = 1000                     # samples of a FakePair's piece
PIECE_BYTES = 2 * 2 * PIECE * 4  # both signals', stereo float32


def fake_reading(pairs, limit, monkeypatch):
    """A ReadAhead over FakePairs {name: (n_pieces, fail_at), or None for a pair that
    cannot be opened}; returns (it, log)."""
    import fastmixloss.cli.read_ahead as read_ahead
    monkeypatch.setattr(read_ahead, "piece_length", lambda alignment=1: PIECE)
    log, built = [], threading.Event()

    def names():
        built.wait()   # the pairs' `reading` is assigned
        yield from pairs

    def load(name, policy):
        if pairs[name] is None:
            return PairError(f"{name} cannot be opened")
        return FakePair(*pairs[name], PIECE, log, reading)
    reading = ReadAhead(names(), load, "error", limit)
    built.set()
    return reading, log


def wait_for(condition, timeout=20):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the reading thread never got there"
        time.sleep(0.005)


@pytest.mark.parametrize("pieces_fit", [1, 3])
def test_the_read_ahead_fills_its_bytes_and_never_more(monkeypatch, pieces_fit):
    """A piece is 16,000 bytes of both signals: with room for `pieces_fit` of them (and
    some to spare) the reading thread reads that many ahead of a consumer that does not
    take any, across pairs, and stops there; taken pieces make room again."""
    piece_bytes = PIECE_BYTES
    limit = pieces_fit * piece_bytes + piece_bytes // 2
    reading, log = fake_reading({"a": (2, None), "b": (4, None)}, limit, monkeypatch)
    with reading:
        pairs = iter(reading)
        name, first = next(pairs)
        assert name == "a" and isinstance(first, QueuedPair) and first.length == 2000
        wait_for(lambda: reading.held_bytes == pieces_fit * piece_bytes
                 and len(log) == pieces_fit)
        time.sleep(0.2)   # nothing more is read while nothing is taken
        assert len(log) == pieces_fit and reading.held_bytes <= limit
        got = [float(est[0, 0]) for est, _ in first.pieces()]
        assert got == [0.0, 1.0]
        name, second = next(pairs)
        assert name == "b"
        got = [float(est[0, 0]) for est, _ in second.pieces()]
        assert got == [0.0, 1.0, 2.0, 3.0]
        assert next(pairs, None) is None
    # each read saw what was held before it, its own piece reserved: never over the limit
    assert max(log) <= limit and len(log) == 6


def test_a_read_ahead_smaller_than_a_piece_holds_one(monkeypatch):
    reading, log = fake_reading({"a": (3, None)}, 1, monkeypatch)
    with reading:
        pairs = iter(reading)   # held: a generator let go of drops its pair's pieces
        _, pair = next(pairs)
        wait_for(lambda: len(log) == 1)
        time.sleep(0.2)
        assert len(log) == 1 and reading.held_bytes == PIECE_BYTES
        assert len(list(pair.pieces())) == 3


def test_a_read_failure_in_a_late_piece_ends_that_pair_only(monkeypatch):
    """The PairError of the third piece reaches the consumer as that pair's error, after
    its first pieces; a pair that could not be opened comes as its PairError; the next
    pair is read whole."""
    reading, _ = fake_reading({"bad": (5, 2), "missing": None, "good": (2, None)},
                              10 ** 6, monkeypatch)
    with reading:
        pairs = iter(reading)
        _, bad = next(pairs)
        taken = []
        with pytest.raises(PairError, match="a read failed"):
            for est, _ in bad.pieces():
                taken.append(float(est[0, 0]))
        assert taken == [0.0, 1.0]
        name, missing = next(pairs)
        assert name == "missing" and isinstance(missing, PairError)
        name, good = next(pairs)
        assert name == "good" and len(list(good.pieces())) == 2


def test_pieces_a_consumer_leaves_are_dropped_before_the_next_pair(monkeypatch):
    reading, _ = fake_reading({"a": (4, None), "b": (1, None)}, 10 ** 6, monkeypatch)
    with reading:
        pairs = iter(reading)
        _, a = next(pairs)
        next(a.pieces())   # one of four taken, then the scorer gives up on it
        name, b = next(pairs)
        assert name == "b"
        assert [float(est[0, 0]) for est, _ in b.pieces()] == [0.0]


def test_closing_the_read_ahead_stops_its_thread(monkeypatch):
    reading, log = fake_reading({f"p{i}": (3, None) for i in range(50)}, 1, monkeypatch)
    pairs = iter(reading)
    next(pairs)
    wait_for(lambda: len(log) == 1)
    reading.close()
    wait_for(lambda: not reading._thread.is_alive())
    assert len(log) <= 2   # the piece it was reading when told, at most


def test_compare_reads_in_pieces_and_shows_each_channel(tmp_path, cli):
    """compare on a pair of three pieces: its values are the library's on the whole
    arrays, each channel's MR-STFT that of mrstft_loss on that channel alone."""
    import fastmixloss as fm
    rng = np.random.default_rng(31)
    est, ref = long_pair(rng)
    write(f"{tmp_path}/e.wav", est)
    write(f"{tmp_path}/r.wav", ref)
    code, out, _ = cli("compare", f"{tmp_path}/e.wav", f"{tmp_path}/r.wav", "--json",
                       *SPECTRAL_FLAGS)
    assert code == 0
    document = json.loads(out)
    assert document["samples"] == LONG and document["errors"] == []
    values = document["values"]
    expected = library_values(est, ref)
    assert {k: values[k] for k in expected} == expected
    for c in range(2):
        assert values[f"mrstft[channel {c + 1}].loss"] == fm.mrstft_loss(
            est[c], ref[c], **SPECTRAL_PARAMS)


def test_a_resumed_run_over_long_pairs_equals_one_run(tmp_path, cli):
    """Two pairs scored, then the run resumed with a third: the file is the one a single
    run of all three writes."""
    rng = np.random.default_rng(32)
    root = tmp_path / "data"
    for name in ("a.wav", "b.wav", "c.wav"):
        est, ref = long_pair(rng, length=PIECE_SAMPLES + 3)
        write(f"{root}/est/{name}", est)
        write(f"{root}/ref/{name}", ref)
    manifest = tmp_path / "pairs.csv"
    lines = [f"{n},data/est/{n},data/ref/{n}" for n in ("a.wav", "b.wav", "c.wav")]
    manifest.write_text("id,est,ref\n" + "\n".join(lines[:2]) + "\n")
    out = tmp_path / "r.csv"
    args = ("score", "--pairs", manifest, "--out", out, *SPECTRAL_FLAGS)
    assert cli(*args)[0] == 0
    manifest.write_text("id,est,ref\n" + "\n".join(lines) + "\n")
    code, _, err = cli(*args)
    assert code == 0 and "2 of 3 pairs already scored" in err
    clean = tmp_path / "clean.csv"
    assert cli("score", "--pairs", manifest, "--out", clean, *SPECTRAL_FLAGS)[0] == 0
    assert read_csv(out) == read_csv(clean)
    assert os.path.getsize(out) == os.path.getsize(clean)


def test_the_worker_reads_ahead_on_one_thread(monkeypatch):
    """The reading thread is a daemon: a read stuck in the file system cannot keep the
    process from ending."""
    reading, log = fake_reading({"a": (1, None)}, 10 ** 6, monkeypatch)
    with reading:
        assert reading._thread.daemon
        assert reading._thread.name == "fastmixloss-read"
        assert [name for name, _ in reading] == ["a"]


def test_options_that_need_a_sample_rate_take_the_files(tmp_path, cli):
    """A mel scale: each pair's MR-STFT at its files' rate, as the library gives it with
    that sample_rate; a rate whose Nyquist frequency is below fmax is that pair's error."""
    import fastmixloss as fm
    rng = np.random.default_rng(33)
    est, ref = long_pair(rng, length=20000)
    for name, rate in (("low.wav", 8000), ("high.wav", 44100)):
        write(f"{tmp_path}/data/est/{name}", est, rate=rate)
        write(f"{tmp_path}/data/ref/{name}", ref, rate=rate)
    config = tmp_path / "mel.toml"
    config.write_text('losses = ["mrstft"]\n[mrstft]\nscale = "mel"\nn_bins = 16\n'
                      'fmax = 15000\nfft_sizes = [256, 512]\nhop_sizes = [64, 128]\n'
                      'win_lengths = [256, 512]\n')
    code, rows, _ = score_rows(cli, tmp_path / "data", tmp_path / "r.csv", "--config",
                               config, flags=())
    assert code == 1
    assert rows["low.wav"]["error"] == ("mrstft: fmax=15000.0 is above the Nyquist "
                                        "frequency sample_rate / 2 = 4000 (sample_rate=8000)")
    value = fm.mrstft_loss(est[None], ref[None], scale="mel", n_bins=16, fmax=15000,
                           fft_sizes=(256, 512), hop_sizes=(64, 128),
                           win_lengths=(256, 512), sample_rate=44100)
    assert rows["high.wav"]["mrstft.loss"] == value and rows["high.wav"]["error"] is None


@pytest.mark.parametrize("fmt,subtype", [("WAV", "PCM_16"), ("FLAC", "PCM_16"),
                                         ("WAV", "PCM_24"), ("WAV", "FLOAT")])
def test_pieces_are_the_samples_soundfile_decodes(tmp_path, fmt, subtype):
    """16-bit files are read as integers and scaled here: the same float32 values, bit
    for bit, as libsndfile's own conversion (the full range, both ends included)."""
    from fastmixloss.cli.audio import _AudioFile
    rng = np.random.default_rng(3)
    ints = rng.integers(-32768, 32768, size=(3000, 2), dtype=np.int16)
    ints[:4] = [[-32768, 32767], [0, -1], [1, -32767], [32767, -32768]]
    path = tmp_path / f"x.{fmt.lower()}"
    soundfile.write(path, ints, 44100, format=fmt, subtype=subtype)
    expected = soundfile.read(path, dtype="float32", always_2d=True)[0].T
    audio = _AudioFile(str(path), "estimate")
    try:
        out = np.full((2, 1800), np.nan, np.float32)
        audio.read_into(out, 0)
        np.testing.assert_array_equal(out, expected[:, :1800])
        audio.read_into(out, 1800)   # the rest, then zeros after the end
        np.testing.assert_array_equal(out[:, :1200], expected[:, 1800:])
        assert not out[:, 1200:].any()
    finally:
        audio.close()
