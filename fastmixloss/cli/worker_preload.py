"""What the fork server of `score`'s worker processes imports before it forks them.

A worker's first pair would otherwise pay for importing Numba and the kernel modules and
for Numba's first compilation, which sets up its typing and code generation (together
about a second on 2 cores; loading the kernels themselves from Numba's cache is about a
tenth of that). Done once here, every worker forked from the server starts with them.

Nothing here runs a kernel or starts a thread of the library's or Numba's, so the server
may fork. (NumPy's BLAS threads exist, as in any process that imports NumPy; BLAS
handles a fork.)
"""

import importlib
import pkgutil

import numba

import fastmixloss.cli.score  # noqa: F401 -- what a worker runs
import fastmixloss.kernels

for _module in pkgutil.iter_modules(fastmixloss.kernels.__path__):
    importlib.import_module(f"fastmixloss.kernels.{_module.name}")

try:
    import soundfile  # noqa: F401 -- reads the pairs
except ImportError:   # the command says so when it reads a file
    pass


@numba.njit
def _first_compilation(x):
    return x + 1


_first_compilation(1)
