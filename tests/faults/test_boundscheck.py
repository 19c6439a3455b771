"""The kernel, feature and fuzz tests again with Numba's bounds checking on.

Numba does not check indices by default: a kernel that reads or writes past an array's
end corrupts memory or reads garbage, and may pass every test. With NUMBA_BOUNDSCHECK=1
every index is checked and an out-of-bounds access raises IndexError, which the tests
then see. The run is a child pytest with its own Numba cache directory: Numba's cache key
does not include the bounds-checking flag, so the checked kernels must never share a
cache with the normal ones (either could be loaded for the other).
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKED = ["tests/test_kernels.py", "tests/features", "tests/faults/test_api_fuzz.py",
           "tests/faults/test_library_fuzz.py"]
# Left out for their cost, not their kernels (which the other feature tests and the fuzz
# run): the comparisons with librosa, which compiles its own Numba functions in every
# process (half a minute, bounds-checked or not), and the command line's feature columns,
# which start the command and its workers in new processes.
LEFT_OUT = ["tests/features/test_properties.py::test_spectral_tracks_are_librosa",
            "tests/features/test_properties.py::test_trim_is_librosa",
            "tests/features/test_cli.py"]
# the fuzz's first cases of each family (the normal run has them all), to keep the suite
# within its time
FUZZ_CASES = 40
# kept between runs (a checkout's __pycache__ is never committed); a fresh clone compiles
CACHE = ROOT / "tests" / "faults" / "__pycache__" / "numba-boundscheck"

# Runs pytest in a process that first shows that an out-of-bounds index raises there:
# without it, a NUMBA_BOUNDSCHECK that never reached Numba would pass unnoticed.
_CHECKED_PYTEST = """
import sys
import numba
import numpy as np

@numba.njit
def read(values, index):
    return values[index]

try:
    read(np.zeros(2), 2)
except IndexError:
    print("bounds checking is on", flush=True)
else:
    sys.exit("bounds checking is off: NUMBA_BOUNDSCHECK=1 did not reach Numba")
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def _checked_run(*pytest_args, timeout, **env):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(CACHE),
               PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env)
    return subprocess.run([sys.executable, "-c", _CHECKED_PYTEST, *pytest_args], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow
def test_an_out_of_bounds_index_fails_the_checked_run(tmp_path):
    """An out-of-bounds access in a test fails the checked run, with its IndexError."""
    probe = tmp_path / "test_out_of_bounds.py"
    probe.write_text("import numba\nimport numpy as np\n\n\n"
                     "@numba.njit\ndef last(values):\n    return values[values.shape[0]]\n\n\n"
                     "def test_reads_past_the_end():\n    last(np.zeros(3))\n")
    checked = _checked_run(str(probe), "-q", "-p", "no:cacheprovider", "--rootdir",
                           str(tmp_path), timeout=300)
    output = checked.stdout + checked.stderr
    assert checked.stdout.startswith("bounds checking is on"), output[-3000:]
    assert checked.returncode == 1 and "IndexError" in output, output[-3000:]


@pytest.mark.slow
def test_kernels_features_and_fuzz_pass_with_bounds_checking():
    deselect = [arg for test in LEFT_OUT for arg in
                ("--ignore" if test.endswith(".py") else "--deselect", test)]
    checked = _checked_run(*CHECKED, *deselect, "-m", "not slow", "-q", "-p",
                           "no:cacheprovider", timeout=1200,
                           FASTMIXLOSS_FUZZ_CASES=str(FUZZ_CASES))
    output = checked.stdout + checked.stderr
    assert checked.stdout.startswith("bounds checking is on"), output[-3000:]
    assert checked.returncode == 0, output[-6000:]
