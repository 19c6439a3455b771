"""The `dev` extra, which README's test command and CI install, holds every optional
package the tests use, so that CI skips only the tests that need a real GPU; CI runs the
README's commands."""

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


def _commands(text):
    """The install, demo and pytest commands of a text, in order."""
    return [line.strip() for line in text.splitlines()
            if re.match(r"\s*(python -m pip install|fastmixloss demo$|python -m pytest)",
                        line)]


def test_ci_runs_the_readme_set_up_and_test_commands():
    """The README's first set-up installs the command line alone (not the test
    environment) and runs the demo; its test command installs the test extras; CI runs
    exactly those, in that order (pytest with -v, the quick loop left out)."""
    with open(os.path.join(REPO, ".ci", "run")) as f:
        ci = f.read()
    with open(os.path.join(REPO, "README.md")) as f:
        readme = f.read().split("## Usage")[0]
    readme_commands = [re.sub(r"\s+#.*", "", c) for c in _commands(readme)
                       if "not slow" not in c]
    assert readme_commands == ['python -m pip install -e ".[cli]"', "fastmixloss demo",
                               'python -m pip install -e ".[dev]"',
                               "python -m pytest -n auto"]
    assert [c.replace(" -v", "") for c in _commands(ci)] == readme_commands
