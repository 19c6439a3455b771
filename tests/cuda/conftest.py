"""Fixtures of the CUDA tests.

By default they run in Numba's CUDA simulator (tests/conftest.py sets
NUMBA_ENABLE_CUDASIM=1 before Numba loads), on tiny inputs with launch settings turned
down so that they still span many blocks. With FASTMIXLOSS_GPU_TESTS=1 the same tests run
on a real GPU, and so do the `gpu` ones, which are skipped otherwise.

No __init__.py in this folder: `cuda` is also the name of NVIDIA's namespace package
(cuda.bindings, cuda.core), which a package of ours must not shadow.
"""

import os
import sys

# The simulator must be chosen before numba.cuda is first imported (numba-cuda reads
# NUMBA_ENABLE_CUDASIM then, and Numba's built-in target reads numba.config). tests/conftest.py
# sets it for the whole suite; this repeats it for runs that do not load that file
# (`pytest --confcutdir tests/cuda ...`). Numba itself may already be loaded by other
# tests: its config is reloaded so both targets see the variable; numba.cuda must not be.
if os.environ.get("FASTMIXLOSS_GPU_TESTS") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
    if "numba.core.config" in sys.modules:
        sys.modules["numba.core.config"].reload_config()

import numpy as np  # noqa: E402
import pytest  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: needs a real CUDA GPU (FASTMIXLOSS_GPU_TESTS=1)")


def simulated():
    """What numba.cuda was loaded as (see fastmixloss.cuda.runtime.simulated)."""
    from fastmixloss.cuda import runtime
    return runtime.simulated()


def real_gpu():
    """(usable, reason) for a real GPU."""
    if simulated():
        return False, "running in Numba's CUDA simulator (set FASTMIXLOSS_GPU_TESTS=1)"
    from fastmixloss.cuda import is_available
    return is_available()


def pytest_collection_modifyitems(config, items):
    usable, reason = None, None
    for item in items:
        # the marker itself, not item.keywords: keywords also hold the names of the
        # folders above the test, and a checkout in a folder named `gpu` would skip all
        if item.get_closest_marker("gpu") is not None:
            if usable is None:
                usable, reason = real_gpu()
            if not usable:
                item.add_marker(pytest.mark.skip(reason=f"no real GPU: {reason}"))


@pytest.fixture(scope="module", autouse=True)
def fast_simulated_barriers():
    """The simulator runs each CUDA thread as a Python thread, and a syncthreads waits
    for a GIL hand-over, by default every 5 ms; 50 us makes these tests 5-20x faster.
    Restored after each module, so other tests never see it."""
    if not simulated():
        yield
        return
    previous = sys.getswitchinterval()
    sys.setswitchinterval(5e-5)
    try:
        yield
    finally:
        sys.setswitchinterval(previous)


@pytest.fixture(scope="session")
def cuda_backend():
    """The CUDA backend. In the simulator it must always be there: no skip."""
    if os.environ.get("FASTMIXLOSS_GPU_TESTS") != "1":
        assert simulated(), ("numba was imported before tests/conftest.py could turn the "
                             "CUDA simulator on")
    from fastmixloss.cuda import backend
    return backend()


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)


class FakeDeviceArray:
    """A host array shown through __cuda_array_interface__, as CuPy or PyTorch show theirs.

    In the simulator device memory is host memory, so this exercises the zero-copy import
    (pointer, strides, dtype) exactly as a CuPy array would on a GPU."""

    __module__ = "tests_fake_device"

    def __init__(self, array):
        self.array = array

    @property
    def __cuda_array_interface__(self):
        a = self.array
        return {"shape": a.shape, "typestr": a.dtype.str,
                "data": (a.__array_interface__["data"][0], False),
                "strides": None if a.flags.c_contiguous else a.strides,
                "version": 3, "stream": None}

    @property
    def pointer(self):
        return self.array.__array_interface__["data"][0]


@pytest.fixture
def fake_device_array():
    if not simulated():
        pytest.skip("fake device arrays point at host memory (simulator only); "
                    "test_cuda_gpu.py covers CuPy and PyTorch on a GPU")
    return FakeDeviceArray
