"""Where `score`'s pairs come from: two folders, or `--pairs` with a manifest, a table or
shards. One module per input format; adding one is a module here, named in FORMATS.

A format module has
    claims(paths) -> bool            whether `--pairs PATH ...` is in this format
    open_source(paths, keys) -> Source   (CommandError for what it cannot read)
(folders.py opens EST_DIR REF_DIR instead). A Source gives
    parts()   the units a Dask worker scores alone, in order: a pair of files, a row
              group, a shard; each has pairs(), which reads them where it runs, and
              `names` ({key: (est, ref)} as the user gave them, or None)
    pairs()   every pair in order, lazily: a pair read from memory carries its encoded
              bytes, and only the pairs at hand are held
    count()   the pairs, when known without reading the audio (None: unknown)
    keys()    their keys, when known so (the names are then checked before the run)
Pairs are `audio.Pair`s: what `score` reads (in pieces, audio.OpenedPair), scores and
names in its rows, whatever the source.
"""

from ..errors import CommandError
from . import arrow, csv_manifest, folders, jsonl, parquet, webdataset
from .common import Keys

# the first that claims the --pairs paths reads them
FORMATS = (webdataset, parquet, arrow, jsonl, csv_manifest)


def open_source(args):
    """The Source the arguments name: EST_DIR REF_DIR, or --pairs PATH ..."""
    keys = Keys(args.est_key, args.ref_key, args.id_key)
    if args.pairs:
        if args.est_dir or args.ref_dir:
            raise CommandError("give EST_DIR REF_DIR or --pairs, not both")
        paths = webdataset.expand_braces(args.pairs)
        for module in FORMATS:
            if module.claims(paths):
                return module.open_source(paths, keys)
        raise CommandError(
            f"--pairs {' '.join(args.pairs)}: not a source fastmixloss reads; give a "
            "manifest (.csv, .jsonl), a table (.parquet, or a folder of them) or "
            "WebDataset shards (.tar)")
    if keys != Keys():
        raise CommandError("--est-key, --ref-key and --id-key name the fields of --pairs; "
                           "folders are paired by relative path")
    if not (args.est_dir and args.ref_dir):
        raise CommandError("give EST_DIR and REF_DIR, or --pairs MANIFEST.csv (or .jsonl, "
                           ".parquet, shards .tar)")
    return folders.open_source(args.est_dir, args.ref_dir)
