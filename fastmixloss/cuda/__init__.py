"""The CUDA backend (numba.cuda kernels). Imported only when a loss asks for device="cuda"."""

from ..errors import DeviceError


def backend():
    """The CUDA backend object; raises DeviceError saying why it cannot be used."""
    raise DeviceError("the CUDA backend is not built yet")
