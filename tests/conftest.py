import os

# tests/cuda/ runs the CUDA kernels in Numba's simulator unless FASTMIXLOSS_GPU_TESTS=1
# asks for the real GPU. Numba reads this on its first import, so it is set here, before
# any test module imports it.
if os.environ.get("FASTMIXLOSS_GPU_TESTS") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# The first call of each kernel compiles it: no per-example deadline. CI runs a fixed,
# derandomised set of examples so a failure reproduces.
settings.register_profile("dev", deadline=None, max_examples=40)
# many: for an occasional long search (HYPOTHESIS_PROFILE=many, with --hypothesis-seed=N)
settings.register_profile("many", deadline=None, max_examples=100,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=25, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else
                      os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture
def rng():
    return np.random.default_rng(20261125)
