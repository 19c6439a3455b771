"""Everything the CUDA backend needs that Numba's CUDA simulator does not have.

Availability checks, streams, `__cuda_array_interface__` import, device attributes, the
opt-in for more than 48 KiB of dynamic shared memory, and CuPy / PyTorch detection all
live here, so that the kernels and the backend above them run unchanged in the simulator
(NUMBA_ENABLE_CUDASIM=1), where this module substitutes host memory and stream 0.

CuPy and PyTorch are never imported here unless an input is one of their arrays.
"""

import ctypes
import threading

import numpy as np

from ..errors import DeviceError

# What the CUDA programming guide guarantees every block without an opt-in.
STATIC_SHARED_LIMIT = 48 * 1024

_lock = threading.Lock()
_optin_done = set()   # (kernel id, argument types, device id) already raised


def load_numba_cuda():
    """numba.cuda, checked usable; raises DeviceError saying why not."""
    try:
        from numba import cuda
    except Exception as exc:   # ImportError, or a broken CUDA install raising anything
        raise DeviceError(
            f"numba.cuda could not be imported ({type(exc).__name__}: {exc}); install "
            "the CUDA extra: pip install 'fastmixloss[cuda12]' (or [cuda13])") from exc
    if simulated():
        return cuda
    if getattr(cuda, "implementation", None) != "NVIDIA":
        # The kernels use numba-cuda features (shared arrays typed by an argument's
        # dtype) that Numba's deprecated built-in CUDA target may lack.
        raise DeviceError(
            "fastmixloss's CUDA kernels need the numba-cuda package (NVIDIA's CUDA target "
            "for Numba); Numba's built-in CUDA target is in use. Install it with "
            "pip install 'fastmixloss[cuda12]' (or [cuda13])")
    try:
        cuda.current_context()
    except Exception as exc:
        reason = " ".join(str(exc).split()).rstrip(":")
        raise DeviceError(f"no usable CUDA GPU: {type(exc).__name__}: {reason}") from exc
    return cuda


def use_device(index):
    """Make GPU `index` Numba's current device in this thread (device="cuda:N"), as
    numba.cuda.select_device does; DeviceError when there is no such GPU. The simulator
    has one GPU, 0."""
    cuda = load_numba_cuda()
    count = len(cuda.gpus)
    if index >= count:
        raise DeviceError(f"device='cuda:{index}': there is no GPU {index}; this machine "
                          f"has {count} (cuda:0 to cuda:{count - 1}) visible to CUDA")
    if simulated():
        return   # one simulated GPU, always current
    if cuda.get_current_device().id != index:
        cuda.select_device(index)


def simulated():
    """True when numba.cuda was loaded as Numba's CUDA simulator.

    Asked of numba.cuda itself, not of numba.config: numba-cuda reads
    NUMBA_ENABLE_CUDASIM into its own config when numba.cuda is first imported, while
    numba.config may have read it earlier (at `import numba`) or later (it reloads on
    every compilation), so the two can disagree; what was loaded cannot.
    """
    global _simulated
    if _simulated is None:
        from numba import cuda
        _simulated = ".simulator" in (getattr(cuda.to_device, "__module__", "") or "")
    return _simulated


_simulated = None


# ----------------------------------------------------------------------------- streams

def _library(obj):
    """'cupy', 'torch', 'numba' or None, from the type's module (nothing imported)."""
    module = type(obj).__module__ or ""
    for name in ("cupy", "torch", "numba"):
        if module == name or module.startswith(name + "."):
            return name
    return None


def caller_stream(objects):
    """The stream the caller's work is ordered on: the current stream of the library
    of the first device input (CuPy or PyTorch), a Numba device array's bound stream,
    else the default stream. Work on it follows the caller's pending kernels without a
    host synchronisation."""
    from numba import cuda
    if simulated():
        return 0
    for obj in objects:
        library = _library(obj)
        if library == "cupy":
            import cupy   # the input is CuPy's, so CuPy is installed
            return _external_stream(cuda, cupy.cuda.get_current_stream().ptr)
        if library == "torch":
            import torch
            return _external_stream(cuda, torch.cuda.current_stream(obj.device).cuda_stream)
        if library == "numba" and getattr(obj, "stream", 0):
            return obj.stream
    return cuda.default_stream()


def _external_stream(cuda, ptr):
    if ptr == 0:
        return cuda.legacy_default_stream()
    if ptr == 2:   # cudaStreamPerThread
        return cuda.per_thread_default_stream()
    return cuda.external_stream(ptr)


def synchronize(stream):
    if not simulated():
        stream.synchronize()


# ---------------------------------------------------------------------- device arrays

def interface(obj):
    """The `__cuda_array_interface__` dict of obj (version 0-3)."""
    desc = obj.__cuda_array_interface__
    if desc.get("mask") is not None:
        raise DeviceError("masked CUDA arrays are not supported")
    return desc


def check_same_device(obj, name):
    """Raise DeviceError when obj lives on another GPU than Numba's current one."""
    if simulated():
        return
    from numba import cuda
    library = _library(obj)
    index = None
    if library == "torch":
        index = obj.device.index
    elif library == "cupy":
        index = obj.device.id
    current = cuda.get_current_device().id
    if index is not None and index != current:
        raise DeviceError(
            f"{name} is on GPU {index} but Numba's current device is {current}; call the "
            f"loss inside `with numba.cuda.gpus[{index}]:`")


def import_array(obj, shape, strides):
    """A Numba device array over obj's memory (no copy), viewed with the given shape and
    byte strides (the input's own, with length-1 axes added in front), owning a
    reference to obj. The imported stream is not synchronised: the caller's stream
    orders our work after the caller's."""
    from numba import cuda
    desc = dict(interface(obj))
    desc["shape"] = tuple(shape)
    desc["strides"] = tuple(strides)
    if simulated():
        return _simulated_view(desc)
    return cuda.from_cuda_array_interface(desc, owner=obj, sync=False)


def _simulated_view(desc):
    """In the simulator device memory is host memory: a NumPy view of the pointer."""
    dtype = np.dtype(desc["typestr"])
    shape, strides = desc["shape"], desc["strides"]
    pointer = desc["data"][0]
    low = sum(min(0, (n - 1) * s) for n, s in zip(shape, strides))
    high = sum(max(0, (n - 1) * s) for n, s in zip(shape, strides)) + dtype.itemsize
    raw = (ctypes.c_char * (high - low)).from_address(pointer + low)
    view = np.ndarray(shape, dtype, buffer=raw, offset=-low, strides=strides)
    from numba.cuda.simulator.cudadrv.devicearray import FakeCUDAArray
    return FakeCUDAArray(view)


def device_pointer(array):
    """The device address of a Numba device array's first element."""
    if simulated():
        return array._ary.__array_interface__["data"][0]
    return array.__cuda_array_interface__["data"][0]


# ------------------------------------------------------------------ device attributes

def multiprocessor_count():
    if simulated():
        return 2
    from numba import cuda
    return int(cuda.get_current_device().MULTIPROCESSOR_COUNT)


def dynamic_shared_limit(kernel, args):
    """Bytes of dynamic shared memory `kernel` may be launched with for `args`.

    Beyond the 48 KiB every block gets, a kernel must opt in (up to 227 KiB on H100).
    The opt-in goes through numba-cuda internals; should they differ in the installed
    version, the fused path simply stays within 48 KiB and larger transforms take the
    global-scratch path: slower, never wrong.
    """
    if simulated():
        return STATIC_SHARED_LIMIT
    from numba import cuda
    device = cuda.get_current_device()
    try:
        limit = int(device.MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
    except Exception:
        return STATIC_SHARED_LIMIT
    if limit <= STATIC_SHARED_LIMIT:
        return STATIC_SHARED_LIMIT
    argtypes = tuple(kernel.typeof_pyval(a) for a in args)
    key = (id(kernel), argtypes, device.id)
    with _lock:
        if key in _optin_done:
            return limit
        try:
            compiled = kernel.compile(argtypes)
            _set_max_dynamic_shared(compiled, limit, device.id)
        except Exception:
            return STATIC_SHARED_LIMIT
        _optin_done.add(key)
    return limit


def _set_max_dynamic_shared(compiled, nbytes, device_id):
    from numba.cuda.cudadrv import driver as drv
    handle = compiled._codelibrary.get_cufunc().handle
    binding = getattr(drv, "binding", None)
    if binding is not None and hasattr(drv.driver, "cuKernelSetAttribute"):
        attributes = binding.CUfunction_attribute
        drv.driver.cuKernelSetAttribute(
            attributes.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, nbytes, handle,
            device_id)
    else:
        from numba.cuda.cudadrv import enums
        drv.driver.cuFuncSetAttribute(
            handle, enums.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, nbytes)
