"""`score --pairs` from a JSON-lines manifest, a Hugging Face datasets table (Parquet) and
WebDataset shards: each built with the package that writes it (datasets, webdataset), and
each giving the rows folder mode gives for the same files, error rows included."""

import json
import os

import numpy as np
import pytest

from cli_helpers import SPECTRAL_FLAGS, local_cluster, make_good_pairs, read_csv

SCORE = ("score", *SPECTRAL_FLAGS)


def folder_rows(dataset, cli, tmp_path):
    est_dir, ref_dir, _, _ = dataset
    code, _, err = cli(*SCORE, est_dir, ref_dir, "--out", tmp_path / "folders.csv")
    assert code == 1, err   # the dataset has bad pairs
    return read_csv(tmp_path / "folders.csv")


def file_pairs(dataset):
    """{folder-mode key: (estimate path or None, reference path or None)}."""
    est_dir, ref_dir, good, bad = dataset
    pairs = {}
    for key in list(good) + list(bad):
        est, ref = (os.path.join(folder, key) for folder in (est_dir, ref_dir))
        pairs[key] = (est if os.path.exists(est) else None,
                      ref if os.path.exists(ref) else None)
    return pairs


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def assert_same_rows(rows, expected, key_of=lambda key: key):
    """Every column of every folder-mode row, but the files' names (which say where each
    source keeps the file); an error is compared with each row's own names in it."""
    assert sorted(rows) == sorted(key_of(k) for k in expected)
    for key, want in expected.items():
        got = rows[key_of(key)]
        for row in (want, got):
            for side in ("est", "ref"):
                if row[side] and row["error"]:
                    row["error"] = row["error"].replace(row[side], side.upper())
        for column in set(want) | set(got):
            if column not in ("pair", "est", "ref"):
                assert got.get(column) == want.get(column), (key, column)


def test_jsonl_manifest_with_nemo_keys(dataset, cli, tmp_path):
    expected = folder_rows(dataset, cli, tmp_path)
    manifest = tmp_path / "manifests" / "pairs.jsonl"
    manifest.parent.mkdir()
    with open(manifest, "w") as f:
        for key, (est, ref) in file_pairs(dataset).items():
            record = {"id": key}
            # NeMo's names, paths relative to the manifest; a missing partner as null
            record["input_filepath"] = est and os.path.relpath(est, manifest.parent)
            record["target_filepath"] = ref and os.path.relpath(ref, manifest.parent)
            f.write(json.dumps(record) + "\n")
    code, out, err = cli(*SCORE, "--pairs", manifest, "--est-key", "input_filepath",
                         "--ref-key", "target_filepath", "--out", tmp_path / "r.csv")
    assert code == 1, err
    assert_same_rows(read_csv(tmp_path / "r.csv"), expected)


def build_table(dataset, path, rows_per_group, shards=1, saved=False):
    """The pairs as a Hugging Face datasets table with two Audio columns (the encoded
    files' bytes and their names) and an id, written by datasets itself: to_parquet (one
    file, or `shards` of them in a folder), or save_to_disk (`saved`: Arrow shards)."""
    datasets = pytest.importorskip("datasets")
    columns = {"id": [], "est": [], "ref": []}
    for key, (est, ref) in file_pairs(dataset).items():
        columns["id"].append(key)
        for side, file in (("est", est), ("ref", ref)):
            columns[side].append(None if file is None else
                                 {"bytes": read_bytes(file), "path": os.path.basename(file)})
    table = datasets.Dataset.from_dict(columns)
    for side in ("est", "ref"):
        table = table.cast_column(side, datasets.Audio())
    if saved:
        table.save_to_disk(str(path), num_shards=shards)
        return
    if shards == 1:
        table.to_parquet(str(path), batch_size=rows_per_group)
        return
    os.makedirs(path)
    for index in range(shards):
        table.shard(shards, index, contiguous=True).to_parquet(
            os.path.join(path, f"train-{index:05d}-of-{shards:05d}.parquet"),
            batch_size=rows_per_group)


@pytest.mark.parametrize("shards", [1, 2])
def test_parquet_table_as_datasets_writes_it(dataset, cli, tmp_path, shards):
    pq = pytest.importorskip("pyarrow.parquet")
    expected = folder_rows(dataset, cli, tmp_path)
    table = tmp_path / ("pairs.parquet" if shards == 1 else "pairs")
    build_table(dataset, table, rows_per_group=3, shards=shards)
    files = [table] if shards == 1 else sorted(table.iterdir())
    assert sum(pq.ParquetFile(f).metadata.num_row_groups for f in files) >= 4
    code, out, err = cli(*SCORE, "--pairs", table, "--out", tmp_path / "r.csv")
    assert code == 1, err
    rows = read_csv(tmp_path / "r.csv")
    # the file is named by where it is in the table
    assert rows["corrupt.wav"]["est"].endswith(" est")
    assert_same_rows(rows, expected)


def test_a_saved_dataset_folder(dataset, cli, tmp_path):
    """datasets' save_to_disk: Arrow shards, read batch by batch."""
    expected = folder_rows(dataset, cli, tmp_path)
    build_table(dataset, tmp_path / "saved", rows_per_group=3, shards=2, saved=True)
    assert len(list((tmp_path / "saved").glob("*.arrow"))) == 2
    code, out, err = cli(*SCORE, "--pairs", tmp_path / "saved", "--out", tmp_path / "r.csv")
    assert code == 1, err
    assert_same_rows(read_csv(tmp_path / "r.csv"), expected)


def build_shards(dataset, folder, per_shard):
    """The pairs as WebDataset shards written by webdataset's TarWriter: KEY.est.EXT and
    KEY.ref.EXT, KEY the folder-mode name without its extension; a lone file alone."""
    wds = pytest.importorskip("webdataset")
    os.makedirs(folder)
    items = list(file_pairs(dataset).items())
    names = []
    for start in range(0, len(items), per_shard):
        name = os.path.join(folder, f"shard-{start // per_shard:03d}.tar")
        names.append(name)
        with wds.TarWriter(name) as writer:
            for key, (est, ref) in items[start:start + per_shard]:
                sample = {"__key__": os.path.splitext(key)[0], "json": b"{}"}
                for side, file in (("est", est), ("ref", ref)):
                    if file is not None:
                        sample[f"{side}{os.path.splitext(file)[1]}"] = read_bytes(file)
                writer.write(sample)
    return names


def tar_key(key):
    return os.path.splitext(key)[0]


def test_webdataset_shards_with_a_brace_pattern(dataset, cli, tmp_path):
    expected = folder_rows(dataset, cli, tmp_path)
    names = build_shards(dataset, tmp_path / "shards", per_shard=4)
    assert len(names) == 3
    pattern = str(tmp_path / "shards" / "shard-{000..002}.tar")
    code, out, err = cli(*SCORE, "--pairs", pattern, "--out", tmp_path / "r.csv")
    assert code == 1, err
    rows = read_csv(tmp_path / "r.csv")
    assert_same_rows(rows, expected, tar_key)
    assert rows["corrupt"]["est"].endswith(".tar:corrupt.est.wav")


def test_resume_is_keyed_by_the_pair_id(dataset, cli, tmp_path):
    """A run cut short resumes from its rows' ids, for a table and for shards: the
    second run scores only the pairs missing, and the file ends equal to one run's."""
    build_table(dataset, tmp_path / "pairs.parquet", rows_per_group=3)
    build_shards(dataset, tmp_path / "shards", per_shard=4)
    shards = sorted(str(p) for p in (tmp_path / "shards").iterdir())
    for name, source in (("table", [tmp_path / "pairs.parquet"]), ("shards", shards)):
        whole, cut = tmp_path / f"{name}-whole.csv", tmp_path / f"{name}-cut.csv"
        assert cli(*SCORE, "--pairs", *source, "--out", whole)[0] == 1
        with open(whole) as f:
            lines = f.readlines()
        with open(cut, "w") as f:
            f.writelines(lines[:5])   # the header and four rows
        code, out, err = cli(*SCORE, "--pairs", *source, "--out", cut)
        assert "resuming" in err and "4 of 11 pairs already scored" in err
        assert f"this run: {len(lines) - 5} pairs" in out
        assert read_csv(cut) == read_csv(whole)


def test_a_name_given_twice_is_refused(tmp_path, cli):
    wds = pytest.importorskip("webdataset")
    make_good_pairs(str(tmp_path / "d"), ["a.wav"])
    audio = read_bytes(tmp_path / "d" / "est" / "a.wav")
    for index in range(2):
        with wds.TarWriter(str(tmp_path / f"s{index}.tar")) as writer:
            writer.write({"__key__": "a", "est.wav": audio, "ref.wav": audio})
    code, _, err = cli(*SCORE, "--pairs", tmp_path / "s0.tar", tmp_path / "s1.tar",
                       "--out", tmp_path / "r.csv")
    assert code == 2 and "same name in the results file: a" in err
    # a table's ids are read (that column alone) before the run
    datasets = pytest.importorskip("datasets")
    cell = {"bytes": audio, "path": "a.wav"}
    table = datasets.Dataset.from_dict({"id": ["a", "a"], "est": [cell] * 2,
                                        "ref": [cell] * 2})
    table.to_parquet(str(tmp_path / "t.parquet"))
    code, _, err = cli(*SCORE, "--pairs", tmp_path / "t.parquet", "--out",
                       tmp_path / "t.csv")
    assert code == 2 and "same name in the results file: a" in err
    assert not (tmp_path / "t.csv").exists()


@pytest.mark.slow
def test_dask_spreads_row_groups_and_shards(dataset, cli, tmp_path, monkeypatch):
    """A real LocalCluster scores each row group and each shard as one task: the rows
    equal folder mode's."""
    expected = folder_rows(dataset, cli, tmp_path)
    build_table(dataset, tmp_path / "pairs.parquet", rows_per_group=3)
    shards = build_shards(dataset, tmp_path / "shards", per_shard=4)
    with local_cluster(monkeypatch) as cluster:
        for name, source, key_of in (("table", [tmp_path / "pairs.parquet"], str),
                                     ("shards", shards, tar_key)):
            out = tmp_path / f"{name}.csv"
            code, text, err = cli(*SCORE, "--pairs", *source, "--out", out,
                                  "--scheduler", cluster.scheduler_address)
            assert code == 1, err
            assert "dask tcp://127.0.0.1" in text
            assert_same_rows(read_csv(out), expected, key_of)


def test_a_pair_from_memory_is_read_in_pieces(tmp_path, monkeypatch):
    """Bytes from a table or a shard are decoded as a file is: piece by piece (soundfile
    reads the in-memory file), the pieces equal to the file's."""
    from fastmixloss.cli import audio
    monkeypatch.setattr(audio, "PIECE_SAMPLES", 512)
    make_good_pairs(str(tmp_path / "d"), ["a.wav"])
    est, ref = (str(tmp_path / "d" / side / "a.wav") for side in ("est", "ref"))
    from_files = audio.Pair("a", est, ref)
    from_memory = audio.Pair("a", "table row 0 est", "table row 0 ref", read_bytes(est),
                             read_bytes(ref))
    with audio.OpenedPair(from_files, "error") as files, \
            audio.OpenedPair(from_memory, "error") as memory:
        pieces = list(memory.pieces())
        assert len(pieces) == 4   # 2000 samples in pieces of 512
        for (e1, r1), (e2, r2) in zip(files.pieces(), pieces):
            assert np.array_equal(e1, e2) and np.array_equal(r1, r2)
        assert len(list(memory.pieces())) == 4   # a second pass reads them again
