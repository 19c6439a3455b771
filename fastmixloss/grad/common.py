"""Checks every gradient shares: the upstream gradient, the saved array, est's dtype.

All run before any kernel, and name the argument and its value.
"""

import numpy as np

from .. import validation as check
from ..backend import on_cuda_device
from ..errors import ParameterError


def upstream(grad_value, value_shape):
    """grad_value as a float64 array of `value_shape` (the shape of the loss's value: ()
    for a float). A scalar stands for every entry; any other shape is refused."""
    if on_cuda_device(grad_value) and not isinstance(grad_value, np.ndarray):
        raise ParameterError(
            f"grad_value lives on a CUDA device; pass it as a float or a host array of "
            f"shape {value_shape}")
    try:
        array = np.asarray(grad_value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ParameterError(f"grad_value={grad_value!r} could not be read as numbers: "
                             f"{exc}") from exc
    if array.ndim == 0:
        return np.full(value_shape, float(array))
    if array.shape != tuple(value_shape):
        raise ParameterError(
            f"grad_value of shape {array.shape} for a loss whose value has shape "
            f"{tuple(value_shape)}: pass a float or an array of that shape")
    return array


def saved_array(saved, size):
    """`saved` as forward returned it: a 1-D float64 array of `size` values."""
    array = np.asarray(saved)
    if array.dtype != np.float64 or array.shape != (size,):
        raise ParameterError(
            f"saved has {array.size} values of dtype {array.dtype} in shape {array.shape}: "
            f"expected ({size},) float64, as forward returns it for these signals")
    return array


def est_dtype(est):
    """The dtype of est as given (the gradient's dtype), on the host or a GPU."""
    if on_cuda_device(est) and not isinstance(est, np.ndarray):
        from ..cuda import runtime
        return np.dtype(runtime.interface(est)["typestr"])
    return check.as_array(est, "est").dtype
