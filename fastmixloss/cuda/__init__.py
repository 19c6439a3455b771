"""The CUDA backend (numba.cuda kernels), loaded only when a loss asks for the GPU.

`backend()` is what fastmixloss.backend.select calls for device="cuda" (or for inputs
that already live on a GPU). Importing this package imports nothing of CUDA; the first
`backend()` call does, and raises DeviceError saying why when no GPU can be used.
"""

import contextlib
import threading
from dataclasses import replace

from ..errors import DeviceError

__all__ = ["backend", "is_available", "launch_config"]

_lock = threading.Lock()
_backend = None


def backend():
    """The CUDA backend object; raises DeviceError saying why it cannot be used."""
    global _backend
    if _backend is not None:
        return _backend
    with _lock:
        if _backend is None:
            from . import runtime
            runtime.load_numba_cuda()        # raises DeviceError with the reason
            from .core import CudaBackend
            _backend = CudaBackend()
    return _backend


def is_available():
    """(True, "") when the CUDA backend can be used, else (False, the reason)."""
    try:
        backend()
    except DeviceError as exc:
        return False, str(exc)
    return True, ""


@contextlib.contextmanager
def launch_config(**overrides):
    """Run the enclosed losses (in this thread) with other launch settings, e.g.
    `with launch_config(stft_threads=32, time_chunk=100): ...`. See LaunchConfig."""
    cuda_backend = backend()
    previous = cuda_backend._local.__dict__.get("config")
    cuda_backend.with_config(replace(cuda_backend.config, **overrides))
    try:
        yield cuda_backend.launch
    finally:
        cuda_backend.with_config(previous)
