"""fastmixloss for JAX: every loss as a function that jax.grad differentiates and jax.jit
compiles.

    import jax, fastmixloss.jax as fml
    loss = fml.MultiResolutionSTFTLoss()          # or fml.mrstft_loss(est, ref, ...)
    value, grad = jax.value_and_grad(loss)(est, ref)

The classes (small callables) and functions are the NumPy API's, with its names and
parameters: MSELoss, L1Loss, ESRLoss, DCLoss, LogCoshLoss, SNRLoss, SISDRLoss, SDSDRLoss,
STFTLoss, MultiResolutionSTFTLoss, SumAndDifferenceSTFTLoss, MelSTFTLoss, ChromaSTFTLoss,
RandomResolutionSTFTLoss, PresetLoss, and mse, l1, esr, dc, logcosh, snr, sisdr, sdsdr,
stft_loss, mrstft_loss, sum_and_difference_loss, preset_loss.

Each is a jax.custom_vjp whose forward and backward are jax.pure_callback calls into the
library's CPU kernels (fastmixloss.grad): the forward returns the value and the sums the
backward needs, the backward the gradient of est. So:

- The gradient is with respect to est only; ref's cotangent is zero (do not train
  through the reference).
- Arrays on a GPU (or any accelerator) are copied to the host by the callback, and the
  gradient copied back: the computation is the CPU kernels'. For the CUDA kernels
  without copies, use fastmixloss.torch.
- float64 needs jax.config.update("jax_enable_x64", True): without it JAX holds float32
  only (a float64 NumPy input becomes float32). float32 works either way; the forward's
  float64 sums travel between the callbacks bit for bit in either mode.
- Under jax.vmap the callbacks run once per mapped element (vmap_method="sequential").
- The value: a 0-d array (reduction "mean" or "sum") or one per item ("none"), in est's
  dtype; output="full" (breakdowns) is not available here.
"""

import jax
import jax.numpy as jnp
import numpy as np

from . import grad as gradients
from . import presets
from . import validation as check
from .errors import ParameterError
from .grad import adapters

__all__ = [*adapters.FACES, *adapters.FUNCTIONS, "preset_loss", "PRESETS"]

PRESETS = presets.PRESETS


def _saved_bits(saved):
    """The forward's float64 sums as uint32 words: JAX carries them exactly with or
    without jax_enable_x64."""
    return np.ascontiguousarray(saved, dtype=np.float64).view(np.uint32)


def _differentiable(built):
    """jax.custom_vjp of built.loss: (est, ref) -> value."""
    loss = built.loss

    def as_value(value, est):
        return np.asarray(value, dtype=est.dtype).reshape(built.value_shape(est.shape))

    def host_forward(est, ref):
        value, saved = gradients.forward(loss, np.asarray(est), np.asarray(ref))
        return as_value(value, est), _saved_bits(saved)

    def host_value(est, ref):
        return as_value(loss(np.asarray(est), np.asarray(ref)), est)

    def host_backward(est, ref, saved_bits, grad_value):
        grad_value = np.asarray(grad_value, dtype=np.float64)
        upstream = float(grad_value) if grad_value.ndim == 0 else grad_value
        grad_est = gradients.backward(loss, np.asarray(est), np.asarray(ref),
                                      np.asarray(saved_bits).view(np.float64), upstream)
        return np.asarray(grad_est, dtype=est.dtype)

    def forward(est, ref):
        # the shapes first: saved_size refuses a bad shape here, at trace time
        n_saved = gradients.saved_size(loss, est.shape)
        shapes = (jax.ShapeDtypeStruct(built.value_shape(est.shape), est.dtype),
                  jax.ShapeDtypeStruct((2 * n_saved,), jnp.uint32))
        return jax.pure_callback(host_forward, shapes, est, ref, vmap_method="sequential")

    @jax.custom_vjp
    def value_of(est, ref):   # not differentiated: the value alone, nothing saved
        shape = jax.ShapeDtypeStruct(built.value_shape(est.shape), est.dtype)
        return jax.pure_callback(host_value, shape, est, ref, vmap_method="sequential")

    def value_and_residuals(est, ref):
        value, saved_bits = forward(est, ref)
        return value, (est, ref, saved_bits)

    def gradient(residuals, grad_value):
        est, ref, saved_bits = residuals
        grad_est = jax.pure_callback(host_backward, jax.ShapeDtypeStruct(est.shape, est.dtype),
                                     est, ref, saved_bits, grad_value,
                                     vmap_method="sequential")
        return grad_est, jnp.zeros_like(ref)

    value_of.defvjp(value_and_residuals, gradient)
    return value_of


# key -> (the differentiable function, the NumPy loss object)
_REGISTRY = adapters.Registry("fastmixloss.jax",
                              lambda built: (_differentiable(built), built.loss))


def _function_of(name, args, kwargs):
    """(differentiable function, NumPy loss object) of face `name` built with (args,
    kwargs): once per configuration (a stateful face: once per call of this)."""
    return _REGISTRY.get(name, args, kwargs)[1]


def _checked(est, ref):
    """(est, ref) as JAX arrays of one float dtype, or ParameterError naming the one that
    is not (before any callback runs)."""
    arrays = []
    for name, x in (("est", est), ("ref", ref)):
        array = jnp.asarray(x)
        if array.dtype not in (jnp.float32, jnp.float64):
            raise ParameterError(
                f"{name} has dtype {array.dtype}; fastmixloss works in float32 or float64 "
                f"(float64 needs jax_enable_x64): pass {name}.astype(jnp.float32)")
        arrays.append(array)
    est, ref = arrays
    check.pair_layout(est, ref)   # the NumPy API's shape checks, at trace time
    if est.dtype != ref.dtype:
        raise ParameterError(
            f"est has dtype {est.dtype} and ref {ref.dtype}: pass arrays of one dtype")
    return est, ref


class _Loss:
    """A fastmixloss loss for JAX: call with (est, ref); `self.loss` is the NumPy API's
    loss object."""

    _face = None

    def __init__(self, *args, **kwargs):
        args = tuple(np.asarray(a) if isinstance(a, jax.Array) else a for a in args)
        kwargs = {k: np.asarray(v) if isinstance(v, jax.Array) else v
                  for k, v in kwargs.items()}
        self._value_of, self.loss = _function_of(self._face, args, kwargs)

    def __call__(self, est, ref):
        return self._value_of(*_checked(est, ref))

    def __repr__(self):
        return f"fastmixloss.jax.{type(self).__name__}({self.loss!r})"


def _call(face, kwargs, est, ref):
    """A function form's call: face `face` built with kwargs (once per configuration)."""
    value_of, _ = _function_of(face, (), kwargs)
    return value_of(*_checked(est, ref))


# the classes MSELoss, ..., PresetLoss, the functions mse, ..., mrstft_loss, preset_loss
adapters.generate(globals(), _REGISTRY.adapter, _Loss, _call, "JAX arrays", jax.Array)
