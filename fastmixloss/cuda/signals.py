"""Signals for the CUDA backend: checked as the CPU checks them, then placed on the GPU.

Device inputs (anything with `__cuda_array_interface__`: CuPy arrays, PyTorch CUDA
tensors, Numba device arrays) are used where they are, without a copy, whenever the
kernels can read them as they are; a copy on the GPU is made only to unify the dtypes of
est and ref or to make a strided input contiguous. Host inputs are checked by the CPU's
own validation and copied to the GPU once.

Every message is the CPU's: a test compares them case by case.
"""

import numpy as np

from .. import validation
from . import runtime

_COPY_THREADS = 256
_COPY_BLOCKS = 1024


class DeviceSignal:
    """A (B, C, T) or (N, T) signal on the GPU, with the stream its work is ordered on.

    The seam's callers only read .shape, .dtype and reshape it (spectral.py,
    time_domain.py); the stream and the source object travel with every reshaped view.
    """

    __slots__ = ("array", "stream", "owner")

    def __init__(self, array, stream, owner=None):
        self.array = array
        self.stream = stream
        self.owner = owner   # keeps a zero-copy source alive for as long as we read it

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def dtype(self):
        return np.dtype(self.array.dtype)

    @property
    def ndim(self):
        return len(self.array.shape)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def reshape(self, *shape):
        return DeviceSignal(self.array.reshape(*shape), self.stream, self.owner)

    def __repr__(self):
        return f"DeviceSignal(shape={self.shape}, dtype={self.dtype})"


class _Input:
    """What validation needs of one input without reading its data."""

    def __init__(self, name, obj):
        self.name = name
        self.obj = obj
        self.on_device = runtime_has_interface(obj)
        validation.refuse_grad(obj, name)
        if self.on_device:
            desc = runtime.interface(obj)
            self.shape = tuple(int(n) for n in desc["shape"])
            # the dtype checks (and messages) of the CPU, on an empty stand-in
            self.dtype = validation.as_array(
                np.empty(0, dtype=np.dtype(desc["typestr"])), name).dtype
            itemsize = self.dtype.itemsize
            strides = desc.get("strides")
            self.strides = (tuple(int(s) for s in strides) if strides is not None
                            else _c_strides(self.shape, itemsize))
            self.host = None
        else:
            self.host = validation.as_array(obj, name)
            self.shape = self.host.shape
            self.dtype = self.host.dtype
            self.strides = None


def runtime_has_interface(obj):
    return hasattr(obj, "__cuda_array_interface__") and not isinstance(obj, np.ndarray)


def _c_strides(shape, itemsize):
    strides = []
    step = itemsize
    for n in reversed(shape):
        strides.append(step)
        step *= max(int(n), 1)
    return tuple(reversed(strides))


def as_signal_pair(est, ref, require_batch=False, channels=None):
    """(est3, ref3, ndim): DeviceSignals of shape (B, C, T), C-contiguous, one float dtype
    (float64 if either is), on the caller's stream. The checks are validation's
    (pair_layout), run on the inputs' shapes and dtypes without reading a sample."""
    inputs = (_Input("est", est), _Input("ref", ref))
    shape3, ndim, dtype = validation.pair_layout(*inputs, require_batch=require_batch,
                                                 channels=channels)
    for entry in inputs:
        if entry.on_device:
            runtime.check_same_device(entry.obj, entry.name)
    stream = runtime.caller_stream([e.obj for e in inputs if e.on_device])
    est3, ref3 = (_to_device(entry, shape3, dtype, stream) for entry in inputs)
    return est3, ref3, ndim


def _to_device(entry, shape3, dtype, stream):
    from numba import cuda
    if not entry.on_device:
        host = np.ascontiguousarray(entry.host, dtype=dtype).reshape(shape3)
        return DeviceSignal(cuda.to_device(host, stream=stream), stream)
    # length-1 axes in front: their stride is never used, any value will do
    strides3 = (0,) * (3 - len(entry.shape)) + entry.strides
    view = runtime.import_array(entry.obj, shape3, strides3)
    contiguous = entry.strides == _c_strides(entry.shape, entry.dtype.itemsize)
    if contiguous and entry.dtype == dtype:
        return DeviceSignal(view, stream, owner=entry.obj)
    # another dtype or a strided layout: one copy on the GPU, in the caller's stream
    copy = cuda.device_array(shape3, dtype=dtype, stream=stream)
    from .kernels import copy_3d
    # grid (samples, channels, items); y and z are capped at the hardware's 65535 and
    # x keeps the total near _COPY_BLOCKS (the kernel loops over what the grid misses)
    channels = max(1, min(shape3[1], 65535))
    items = max(1, min(shape3[0], 65535))
    along = max(1, min(-(-shape3[2] // _COPY_THREADS), _COPY_BLOCKS // (channels * items)))
    copy_3d[(along, channels, items), _COPY_THREADS, stream](view, copy)
    return DeviceSignal(copy, stream)


def finite_peak(est3, ref3, threads=256, max_blocks=1024):
    """(largest finite |sample| of est and ref, any NaN or Inf in either): one scan on the
    GPU, as the CPU backend's finite_peak, for the spectral losses' size limit."""
    from numba import cuda

    from .kernels import finite_peak as finite_peak_kernel
    stream = est3.stream
    size = est3.size
    out = cuda.to_device(np.zeros(2), stream=stream)
    blocks = max(1, min(max_blocks, -(-size // threads)))
    finite_peak_kernel[blocks, threads, stream](est3.array.reshape(-1),
                                                ref3.array.reshape(-1), out)
    peak, bad = out.copy_to_host(stream=stream)
    runtime.synchronize(stream)
    return float(peak), bool(bad)


def raise_if_nonfinite(est3, ref3, rows=None, threads=256, max_blocks=1024):
    """Raise ParameterError naming the first NaN or Inf (est first), scanning on the GPU.

    rows: flat (item * C + channel) indices to scan; None scans everything.
    """
    from numba import cuda

    from .kernels import first_nonfinite
    stream = est3.stream
    length = est3.shape[-1]
    flat_e = est3.array.reshape(-1)
    flat_r = ref3.array.reshape(-1)
    if rows is None:
        spans = [(0, est3.size)]
    else:
        spans = [(int(r) * length, (int(r) + 1) * length) for r in rows]
    found_at = [None, None]
    for lo, hi in spans:
        size = hi - lo
        found = cuda.to_device(np.array([size, size], dtype=np.int64), stream=stream)
        blocks = max(1, min(max_blocks, -(-size // threads)))
        first_nonfinite[blocks, threads, stream](flat_e[lo:hi], flat_r[lo:hi], found)
        host = found.copy_to_host(stream=stream)
        runtime.synchronize(stream)
        for which in (0, 1):
            if found_at[which] is None and host[which] < size:
                found_at[which] = lo + int(host[which])
        if found_at[0] is not None:
            break   # est is reported first, as on the CPU
    for which, (name, flat) in enumerate((("est", flat_e), ("ref", flat_r))):
        index = found_at[which]
        if index is None:
            continue
        value = flat[index:index + 1].copy_to_host(stream=stream)[0]
        runtime.synchronize(stream)
        raise validation.nonfinite_error(name, value, index, est3.shape)
