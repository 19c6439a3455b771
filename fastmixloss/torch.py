"""fastmixloss for PyTorch: every loss as a torch.nn.Module and a function, with gradients.

    import fastmixloss.torch as fml
    loss = fml.MultiResolutionSTFTLoss()        # auraloss's name and parameters
    value = loss(est, ref)                      # a 0-d tensor in est's dtype
    value.backward()                            # est.grad: the fused backward kernels

The classes and functions are the NumPy API's (same names, same parameters, same
numbers), generated from it: MSELoss, L1Loss, ESRLoss, DCLoss, LogCoshLoss, SNRLoss,
SISDRLoss, SDSDRLoss, STFTLoss, MultiResolutionSTFTLoss, SumAndDifferenceSTFTLoss,
MelSTFTLoss, ChromaSTFTLoss, RandomResolutionSTFTLoss, PresetLoss, and mse, l1, esr, dc,
logcosh, snr, sisdr, sdsdr, stft_loss, mrstft_loss, sum_and_difference_loss, preset_loss.
The losses are custom operators (torch.ops.fastmixloss.loss_forward and loss_backward;
loss_value where no gradient is wanted: under torch.no_grad or for an est that does not
require grad) with fake implementations and registered autograd, so torch.compile
traces them as single nodes. Eager calls run the same library functions through a
torch.autograd.Function instead: a custom operator's first call imports torch's compiler
(74 MB), which eager training never uses. torch.autograd.gradcheck checks both.

- The gradient is with respect to est only. A ref that requires grad is refused
  (ParameterError): pass ref.detach().
- est and ref: tensors of one dtype (float32 or float64) on one device, shaped (T,),
  (C, T) or (B, C, T). The value is a 0-d tensor (reduction "mean" or "sum") or one per
  item ("none"), in est's dtype; output="full" (breakdowns) is not available here.
- CPU tensors are read in place (a non-contiguous one is made contiguous once); the
  gradient is the kernels' array, wrapped without a copy.
- CUDA tensors go to the numba.cuda kernels in place, queued on
  torch.cuda.current_stream(); the gradient is the kernels' device array, wrapped
  without a copy. The value and the forward's saved sums (a few floats per row) come back
  to the host. (Written to the CUDA backend's contract; not yet run on a GPU.) Where the
  library has no GPU gradient for a loss yet, its ParameterError says so.
- A loss object is built once per distinct configuration and found again by a key (a
  string argument of the operators): modules and function calls with the same
  parameters share it, and torch.compile sees the same constant. A
  RandomResolutionSTFTLoss redraws its resolutions as it is called, so each module has
  its own; the draws happen inside the operators, which a compiled graph calls as is.
"""

import numpy as np
import torch

from . import grad as gradients
from . import presets
from .errors import ParameterError
from .grad import adapters

__all__ = [*adapters.FACES, *adapters.FUNCTIONS, "preset_loss", "PRESETS"]

PRESETS = presets.PRESETS

_REGISTRY = adapters.Registry("fastmixloss.torch")   # key -> adapters.Built


def _host(value):
    """A tensor argument (a window, say) as the NumPy API takes it."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    if isinstance(value, (list, tuple)):
        return type(value)(_host(v) for v in value)
    return value


def _register(name, args, kwargs):
    """(key, NumPy loss object) of face `name` built with (args, kwargs)."""
    key, built = _REGISTRY.get(name, _host(tuple(args)),
                               {k: _host(v) for k, v in kwargs.items()})
    return key, built.loss


# ------------------------------------------------------------------ tensors and arrays

def _readable(tensor):
    """What the library reads of a tensor: a NumPy view of a CPU tensor (contiguous first
    if it is not), the tensor itself on a GPU (its __cuda_array_interface__)."""
    tensor = tensor.detach()
    if tensor.is_cuda:
        return tensor
    return tensor.contiguous().numpy()


def _as_tensor(value, like):
    """A result of the library as a tensor of like's dtype on like's device, without a
    copy where the dtype and device allow: NumPy arrays on the CPU, numba device arrays on
    a GPU."""
    if np.isscalar(value) or getattr(value, "ndim", None) == 0:
        return torch.tensor(float(value), dtype=like.dtype, device=like.device)
    if isinstance(value, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(value))
    else:   # a device array (numba, __cuda_array_interface__)
        tensor = torch.as_tensor(value, device=like.device)
    return tensor.to(device=like.device, dtype=like.dtype)


def _upstream(grad_value):
    """The upstream gradient as grad.backward takes it: a float or a host array."""
    if grad_value.dim() == 0:
        return float(grad_value)
    return grad_value.detach().cpu().numpy()


def _check_inputs(est, ref):
    """Every check the operators cannot make on fake tensors, before any kernel runs."""
    for name, tensor in (("est", est), ("ref", ref)):
        if not isinstance(tensor, torch.Tensor):
            raise ParameterError(
                f"{name} is a {type(tensor).__name__}: fastmixloss.torch takes tensors "
                f"(the NumPy API takes arrays)")
        if tensor.dtype not in (torch.float32, torch.float64):
            raise ParameterError(
                f"{name} has dtype {tensor.dtype}; fastmixloss works in float32 or float64: "
                f"pass {name}.float()")
    if ref.requires_grad and torch.is_grad_enabled():
        raise ParameterError(
            "ref requires grad: fastmixloss gives the gradient with respect to est only; "
            "pass ref.detach()")
    if est.dtype != ref.dtype:
        raise ParameterError(
            f"est has dtype {est.dtype} and ref {ref.dtype}: pass tensors of one dtype")
    if est.device != ref.device:
        raise ParameterError(
            f"est is on {est.device} and ref on {ref.device}: pass tensors on one device")


# ------------------------------------------------------------------------ the operators

@torch.library.custom_op("fastmixloss::loss_forward", mutates_args=())
def loss_forward(est: torch.Tensor, ref: torch.Tensor,
                 key: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(value, saved): the registered loss `key` of (est, ref), and the forward's sums
    that loss_backward reads (float64, on the host)."""
    value, saved = gradients.forward(_REGISTRY[key].loss, _readable(est), _readable(ref))
    saved = torch.from_numpy(np.ascontiguousarray(saved, dtype=np.float64))
    return _as_tensor(value, est), saved


@loss_forward.register_fake
def _loss_forward_fake(est, ref, key):
    # saved's length is left symbolic (grad.saved_size would give it): torch.compile's
    # caches key a graph on its inputs, not on what a custom op's fake returns, so a
    # length baked in by one version of the library failed a graph cached on disk once
    # the saved layout changed
    saved_length = torch.library.get_ctx().new_dynamic_size()
    return (est.new_empty(_REGISTRY[key].value_shape(est.shape)),
            torch.empty((saved_length,), dtype=torch.float64, device="cpu"))


@torch.library.custom_op("fastmixloss::loss_backward", mutates_args=())
def loss_backward(est: torch.Tensor, ref: torch.Tensor, saved: torch.Tensor,
                  grad_value: torch.Tensor, key: str) -> torch.Tensor:
    """The gradient of sum(grad_value * value) with respect to est."""
    grad_est = gradients.backward(_REGISTRY[key].loss, _readable(est), _readable(ref),
                                  saved.detach().cpu().numpy(), _upstream(grad_value))
    return _as_tensor(grad_est, est)


@loss_backward.register_fake
def _loss_backward_fake(est, ref, saved, grad_value, key):
    return torch.empty_like(est)


def _setup_context(ctx, inputs, output):
    est, ref, key = inputs
    _, saved = output
    ctx.save_for_backward(est, ref, saved)
    ctx.mark_non_differentiable(saved)
    ctx.key = key


def _backward(ctx, grad_value, grad_saved):
    est, ref, saved = ctx.saved_tensors
    grad_est = None
    if ctx.needs_input_grad[0]:
        grad_est = loss_backward(est, ref, saved, grad_value, ctx.key)
    return grad_est, None, None   # ref: refused when it requires grad; key: a string


loss_forward.register_autograd(_backward, setup_context=_setup_context)


@torch.library.custom_op("fastmixloss::loss_value", mutates_args=())
def loss_value(est: torch.Tensor, ref: torch.Tensor, key: str) -> torch.Tensor:
    """The registered loss `key` of (est, ref) alone, where no gradient is wanted (under
    torch.no_grad, or est not requiring grad): nothing is saved."""
    return _as_tensor(_REGISTRY[key].loss(_readable(est), _readable(ref)), est)


@loss_value.register_fake
def _loss_value_fake(est, ref, key):
    return est.new_empty(_REGISTRY[key].value_shape(est.shape))


class _EagerLoss(torch.autograd.Function):
    """The operators' forward and backward in eager mode, as a plain autograd.Function:
    the first call of any torch.library.custom_op imports torch's compiler (torch._dynamo
    and sympy, 74 MB measured), which eager training does not need. Same library calls,
    same numbers; torch.compile and tracing take the operators (_eager)."""

    @staticmethod
    def forward(ctx, est, ref, key):
        loss = _REGISTRY[key].loss
        ctx.key, ctx.unit_grad = key, None
        done = gradients.one_pass(loss, _readable(est), _readable(ref))
        if done is not None:   # the gradient came with the value: kept, scaled later
            value, ctx.unit_grad = done
            return _as_tensor(value, est)
        value, saved = gradients.forward(loss, _readable(est), _readable(ref))
        ctx.save_for_backward(est, ref)
        ctx.saved = saved
        return _as_tensor(value, est)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_value):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        upstream = _upstream(grad_value)
        if ctx.unit_grad is not None:
            # one_pass's gradient is for grad_value = 1; the others are it scaled (item
            # by item with reduction="none": the items' gradients are apart). A new
            # array each time: autograd may keep it as .grad and add into it, and a
            # retained graph runs backward again
            unit = ctx.unit_grad
            if np.ndim(upstream):
                upstream = np.reshape(upstream,
                                      np.shape(upstream) + (1,) * (unit.ndim - np.ndim(upstream)))
            return _as_tensor(np.multiply(unit, upstream, dtype=unit.dtype),
                              grad_value), None, None
        est, ref = ctx.saved_tensors
        grad_est = gradients.backward(_REGISTRY[ctx.key].loss, _readable(est),
                                      _readable(ref), ctx.saved, upstream)
        return _as_tensor(grad_est, est), None, None


def _eager(*tensors):
    """True outside torch.compile, export and tracing, for plain tensors: no fake,
    functional or functorch-wrapped tensor, no dispatch mode active. A torch without
    these private checks takes the operators (always correct, 74 MB more)."""
    try:
        if torch.compiler.is_compiling() or torch._C._len_torch_dispatch_stack():
            return False
        return all(type(t) in (torch.Tensor, torch.nn.Parameter)
                   and not torch._C._functorch.is_functorch_wrapped_tensor(t)
                   for t in tensors)
    except AttributeError:
        return False


def _apply(key, est, ref):
    _check_inputs(est, ref)
    eager = _eager(est, ref)
    if not (est.requires_grad and torch.is_grad_enabled()):
        if eager:
            return _as_tensor(_REGISTRY[key].loss(_readable(est), _readable(ref)), est)
        return loss_value(est, ref, key)
    if eager:
        return _EagerLoss.apply(est, ref, key)
    value, _ = loss_forward(est, ref, key)
    return value


# ------------------------------------------------------------- modules and functions

class _LossModule(torch.nn.Module):
    """A fastmixloss loss as a module; `self.loss` is the NumPy API's loss object."""

    _face = None   # the NumPy face's name

    def __init__(self, *args, **kwargs):
        super().__init__()
        self._arguments = (_host(args), {k: _host(v) for k, v in kwargs.items()})
        self.key, self.loss = _register(self._face, *self._arguments)

    def __getstate__(self):
        # the key means something in this process only: an unpickled module (torch.save,
        # copy.deepcopy, a DataParallel replica) registers its arguments again
        state = self.__dict__.copy()
        del state["key"], state["loss"]
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.key, self.loss = _register(self._face, *self._arguments)

    def forward(self, est: torch.Tensor, ref: torch.Tensor) -> torch.Tensor:
        return _apply(self.key, est, ref)

    def extra_repr(self):
        return repr(self.loss)


def _call(face, kwargs, est, ref):
    """A function form's call: face `face` built with kwargs (once per configuration)."""
    key, _ = _register(face, (), kwargs)
    return _apply(key, est, ref)


# the classes MSELoss, ..., PresetLoss, the functions mse, ..., mrstft_loss, preset_loss
adapters.generate(globals(), _REGISTRY.adapter, _LossModule, _call, "tensors", torch.Tensor)
