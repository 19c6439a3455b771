"""The `dev` extra, which README's set-up and CI install, holds every optional package the
tests use, so that CI skips only the tests that need a real GPU."""

import configparser
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _extras():
    config = configparser.ConfigParser()
    config.read(os.path.join(REPO, "setup.cfg"))
    return {name: {re.split(r"[<>=!~\[ ;]", line.strip(), maxsplit=1)[0].lower()
                   for line in value.splitlines() if line.strip()}
            for name, value in config["options.extras_require"].items()}


def test_dev_extra_holds_every_extra_the_tests_use():
    """Every extra, a new one included, except cuda13: the CUDA 13 libraries would
    replace cuda12's, and one compiler is enough for the sm_90 checks."""
    extras = _extras()
    assert {"cli", "test", "dask", "parquet", "parity", "cuda12"} <= set(extras)
    for name in set(extras) - {"dev", "cuda13"}:
        missing = extras[name] - extras["dev"]
        assert not missing, f"[dev] lacks {sorted(missing)} of [{name}]"


def test_ci_installs_the_readme_set_up():
    with open(os.path.join(REPO, ".ci", "run")) as f:
        ci = f.read()
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read()
    command = 'python -m pip install -e ".[dev]"'
    assert command in ci
    assert command in readme.split("## Usage")[0]
