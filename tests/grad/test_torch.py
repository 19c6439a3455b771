"""fastmixloss.torch: the NumPy API's losses as modules and functions, differentiable in
est through grad's forward and backward."""

import pickle
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import fastmixloss                                   # noqa: E402
import fastmixloss.torch as fml                      # noqa: E402
from fastmixloss import grad as gradients            # noqa: E402
from fastmixloss.errors import ParameterError        # noqa: E402

from adapter_cases import (CASES, CLASSES, FUNCTIONS, SHAPE, SMALL_MR,   # noqa: E402
                           SMALL_SHAPE, VALUE_ONLY, frameworks_imported_by,
                           numpy_loss, same_parameters, signals)

GRADIENT_CASES = sorted(CASES)


def module(case):
    name, args, kwargs = case
    return getattr(fml, name)(*args, **kwargs)


def tensors(shape, dtype=np.float64, seed=0):
    est, ref = signals(shape, seed, dtype)
    return torch.from_numpy(est).requires_grad_(), torch.from_numpy(ref)


def test_importing_fastmixloss_imports_neither_torch_nor_jax():
    assert frameworks_imported_by("import fastmixloss; fastmixloss.mse([1.0], [1.0])") == "[]"
    assert fastmixloss.torch is fml   # and the lazy attribute finds the module


@pytest.mark.parametrize("name", CLASSES + FUNCTIONS)
def test_every_face_is_a_module_with_the_numpy_apis_parameters(name):
    assert name in FUNCTIONS or issubclass(getattr(fml, name), torch.nn.Module)
    assert same_parameters(fml, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case_id", sorted(CASES) + sorted(VALUE_ONLY))
def test_values_equal_the_numpy_apis(case_id, dtype):
    case = CASES.get(case_id) or VALUE_ONLY[case_id]
    est, ref = tensors(SHAPE, dtype)
    expected = numpy_loss(case)(est.detach().numpy(), ref.numpy())
    with torch.no_grad():
        value = module(case)(est, ref)
    assert value.dtype == est.dtype and value.shape == ()
    assert value.item() == np.asarray(expected, dtype).item()
    if case_id in CASES:   # the gradient's forward: the same value, to rounding where
        value = module(case)(est, ref)   # it is grad.one_pass (its sums' order)
        assert value.requires_grad
        assert value.item() == pytest.approx(np.asarray(expected, dtype).item(), rel=1e-14,
                                             abs=0)


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft", "sd"])
def test_reduction_none_gives_one_value_per_item(case_id):
    name, args, kwargs = CASES[case_id]
    case = (name, args, dict(kwargs, reduction="none"))
    est, ref = tensors(SHAPE)
    value = module(case)(est, ref)
    # (to rounding: the spectral ones come from grad.one_pass, its sums in another order)
    np.testing.assert_allclose(value.detach().numpy(),
                               numpy_loss(case)(est.detach().numpy(), ref.numpy()),
                               rtol=1e-14, atol=0)
    weights = torch.tensor([0.25, -2.0], dtype=torch.float64)
    value.backward(weights)
    _, saved = gradients.forward(numpy_loss(case), est.detach().numpy(), ref.numpy())
    expected = gradients.backward(numpy_loss(case), est.detach().numpy(), ref.numpy(),
                                  saved, weights.numpy())
    # the spectral ones come from grad.one_pass, backward's gradient up to rounding
    np.testing.assert_allclose(est.grad.numpy(), expected, rtol=1e-12,
                               atol=1e-14 * np.abs(expected).max())


@pytest.mark.parametrize("case_id", GRADIENT_CASES)
def test_the_gradient_is_grads(case_id):
    est, ref = tensors(SHAPE)
    module(CASES[case_id])(est, ref).backward()
    _, expected = gradients.value_and_grad(numpy_loss(CASES[case_id]),
                                           est.detach().numpy(), ref.numpy())
    assert est.grad.dtype == est.dtype
    np.testing.assert_array_equal(est.grad.numpy(), expected)


@pytest.mark.parametrize("case_id", GRADIENT_CASES)
def test_gradcheck(case_id):
    est, ref = tensors(SMALL_SHAPE)
    loss = module(CASES[case_id])
    assert torch.autograd.gradcheck(lambda e: loss(e, ref), (est,))


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft", "sd"])
def test_gradcheck_through_the_operators(case_id):
    # what torch.compile runs: the custom operators and their registered autograd
    est, ref = tensors(SMALL_SHAPE)
    loss = module(CASES[case_id])
    assert torch.autograd.gradcheck(
        lambda e: torch.ops.fastmixloss.loss_forward(e, ref, loss.key)[0], (est,))


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft", "sd", "preset"])
def test_eager_calls_and_the_operators_give_the_same_bits(case_id):
    loss = module(CASES[case_id])
    est, ref = tensors(SHAPE, np.float32)
    loss(est, ref).backward()
    through_ops = est.detach().clone().requires_grad_()
    value, _ = torch.ops.fastmixloss.loss_forward(through_ops, ref, loss.key)
    value.backward()
    assert value.item() == pytest.approx(loss(est, ref).item(), rel=1e-14, abs=0)
    # eager spectral gradients come from grad.one_pass: the operators' up to rounding
    np.testing.assert_allclose(est.grad.numpy(), through_ops.grad.numpy(), rtol=2e-6,
                               atol=1e-6 * np.abs(through_ops.grad.numpy()).max())
    with torch.no_grad():
        assert (loss(est, ref).item()
                == torch.ops.fastmixloss.loss_value(est, ref, loss.key).item())


def test_eager_training_does_not_import_torchs_compiler():
    code = ("import sys, torch, fastmixloss.torch as fml; "
            "e = torch.randn(1, 2, 4096, requires_grad=True); r = torch.randn(1, 2, 4096); "
            "fml.MultiResolutionSTFTLoss()(e, r).backward(); fml.sisdr(e, r).backward(); "
            "assert e.grad is not None; "
            "print([m for m in ('torch._dynamo', 'sympy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("case_id", ["sisdr", "mrstft"])
def test_gradcheck_per_item(case_id):
    name, args, kwargs = CASES[case_id]
    loss = module((name, args, dict(kwargs, reduction="none")))
    est, ref = tensors((2,) + SMALL_SHAPE[1:])
    assert torch.autograd.gradcheck(lambda e: loss(e, ref), (est,))


@pytest.mark.parametrize("case_id", [c for c in GRADIENT_CASES if c != "preset"])
def test_each_items_gradient_is_independent_of_its_batch(case_id):
    # (the auraloss preset keeps auraloss's spectral convergence over the whole batch)
    name, args, kwargs = CASES[case_id]
    case = (name, args, dict(kwargs, reduction="sum"))
    est, ref = tensors((3,) + SHAPE[1:])
    module(case)(est, ref).backward()
    for item in range(3):
        alone = est[item:item + 1].detach().clone().requires_grad_()
        module(case)(alone, ref[item:item + 1]).backward()
        np.testing.assert_allclose(est.grad[item:item + 1].numpy(), alone.grad.numpy(),
                                   rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft"])
def test_torch_compile(case_id):
    loss = module(CASES[case_id])
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    est, ref = tensors(SHAPE)
    value = compiled(est, ref)
    value.backward()
    eager_est = est.detach().clone().requires_grad_()
    eager = loss(eager_est, ref)
    eager.backward()
    assert value.item() == pytest.approx(eager.item(), rel=1e-14, abs=0)
    # compiled graphs run the operators' two passes, eager spectral losses grad.one_pass
    np.testing.assert_allclose(est.grad.numpy(), eager_est.grad.numpy(), rtol=1e-12,
                               atol=1e-14 * np.abs(eager_est.grad.numpy()).max())


@pytest.mark.slow
def test_torch_compile_with_inductor_in_a_training_step():
    torch._dynamo.reset()
    loss = fml.MultiResolutionSTFTLoss(**SMALL_MR)
    gain = torch.nn.Parameter(torch.tensor(0.5, dtype=torch.float64))
    est, ref = tensors(SHAPE)

    @torch.compile(fullgraph=True)
    def step(x):
        return loss(gain * x, ref)
    value = step(est.detach())
    value.backward()
    eager_gain = gain.detach().clone().requires_grad_()
    eager = loss(eager_gain * est.detach(), ref)
    eager.backward()
    assert value.item() == pytest.approx(eager.item(), rel=1e-14)
    assert gain.grad.item() == pytest.approx(eager_gain.grad.item(), rel=1e-12)


@pytest.mark.parametrize("case_id", ["sisdr", "mrstft"])
def test_opcheck(case_id):
    loss = module(CASES[case_id])
    est, ref = tensors(SMALL_SHAPE)
    torch.library.opcheck(torch.ops.fastmixloss.loss_forward.default, (est, ref, loss.key))
    torch.library.opcheck(torch.ops.fastmixloss.loss_value.default,
                          (est.detach(), ref, loss.key))
    _, saved = torch.ops.fastmixloss.loss_forward(est.detach(), ref, loss.key)
    torch.library.opcheck(torch.ops.fastmixloss.loss_backward.default,
                          (est.detach(), ref, saved, torch.tensor(0.5, dtype=est.dtype),
                           loss.key))


def test_a_non_contiguous_estimate_gives_the_contiguous_ones_gradient():
    wide, ref = tensors(SHAPE[:2] + (2 * SHAPE[2],))
    strided = wide.detach()[..., ::2].requires_grad_()
    assert not strided.is_contiguous()
    copy = strided.detach().contiguous().requires_grad_()
    loss = module(CASES["mrstft"])
    loss(strided, ref[..., ::2]).backward()
    loss(copy, ref[..., ::2].contiguous()).backward()
    np.testing.assert_array_equal(strided.grad.numpy(), copy.grad.numpy())


def test_inputs_are_not_modified():
    est, ref = tensors(SHAPE)
    before = est.detach().clone(), ref.clone()
    module(CASES["sisdr"])(est, ref).backward()
    assert torch.equal(est.detach(), before[0]) and torch.equal(ref, before[1])


def test_functions_share_the_modules_loss():
    est, ref = tensors(SHAPE)
    by_function = fml.mrstft_loss(est, ref, **SMALL_MR)
    by_module = fml.MultiResolutionSTFTLoss(list(SMALL_MR["fft_sizes"]),
                                            hop_sizes=SMALL_MR["hop_sizes"],
                                            win_lengths=SMALL_MR["win_lengths"])
    assert by_function.item() == by_module(est, ref).item()
    assert fml.MultiResolutionSTFTLoss(**SMALL_MR).key == by_module.key
    assert fml.sisdr(est, ref, zero_mean=False).item() == pytest.approx(
        fastmixloss.sisdr(est.detach().numpy(), ref.numpy(), zero_mean=False), rel=0)
    assert isinstance(fml.preset_loss("auraloss"), fml.PresetLoss)


def test_a_pickled_module_registers_itself_again():
    loss = module(CASES["mrstft"])
    copy = pickle.loads(pickle.dumps(loss))
    assert copy.key == loss.key   # one configuration, one key
    random = fml.RandomResolutionSTFTLoss(max_fft_size=128, seed=0)
    random_copy = pickle.loads(pickle.dumps(random))
    assert random_copy.key != random.key
    est, ref = tensors(SHAPE)
    assert copy(est, ref).item() == loss(est, ref).item()
    assert random_copy(est, ref).item() == random(est, ref).item()


@pytest.mark.slow
def test_a_module_pickled_here_works_in_another_process():
    loss = module(CASES["mrstft"])
    script = ("import pickle, sys, torch; import fastmixloss.torch; "
              "loss = pickle.loads(sys.stdin.buffer.read()); "
              "print(loss(torch.ones(2, 300, dtype=torch.float64), "
              "torch.full((2, 300), 0.5, dtype=torch.float64)).item())")
    out = subprocess.run([sys.executable, "-c", script], input=pickle.dumps(loss),
                         capture_output=True, check=True).stdout
    assert float(out) == loss(torch.ones(2, 300, dtype=torch.float64),
                              torch.full((2, 300), 0.5, dtype=torch.float64)).item()


def test_every_random_resolution_module_draws_for_itself():
    first = fml.RandomResolutionSTFTLoss(max_fft_size=128, seed=0)
    second = fml.RandomResolutionSTFTLoss(max_fft_size=128, seed=0)
    assert first.key != second.key
    est, ref = tensors(SHAPE)
    assert first(est, ref).item() == second(est, ref).item()


@pytest.mark.parametrize("call, named", [
    (lambda e, r: fml.MSELoss()(e.detach().numpy(), r), "est"),
    (lambda e, r: fml.MSELoss()(e, r.to(torch.int32)), "ref"),
    (lambda e, r: fml.MSELoss()(e.half(), r.half()), "est"),
    (lambda e, r: fml.MSELoss()(e, r.clone().requires_grad_()), "ref requires grad"),
    (lambda e, r: fml.MSELoss()(e, r.float()), "dtype"),
    (lambda e, r: fml.MSELoss()(e, r[..., :-1]), "est and ref"),
    (lambda e, r: fml.MSELoss()(e[None], r[None]), "est"),
    (lambda e, r: fml.STFTLoss(output="full"), "output"),
    (lambda e, r: fml.STFTLoss(fft_size=-3), "fft_size"),
    (lambda e, r: fml.SISDRLoss(zero_mean="yes"), "zero_mean"),
    (lambda e, r: fml.mse(e, r, reductions="sum"), "reductions"),
    (lambda e, r: fml.MultiResolutionSTFTLoss(bogus=1), "bogus"),
    (lambda e, r: torch.ops.fastmixloss.loss_value(e.detach(), r, "no-such-loss"),
     "no-such-loss"),
])
def test_bad_input_raises_a_parameter_error_naming_it(call, named):
    est, ref = tensors(SHAPE)
    with pytest.raises(ParameterError, match=named):
        call(est, ref)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("case_id", ["sisdr", "mse", "logcosh"])
def test_cuda_tensors_give_the_cpus_value_and_gradient(case_id):
    est, ref = tensors(SHAPE)
    loss = module(CASES[case_id])
    value = loss(est, ref)
    value.backward()
    est_gpu = est.detach().cuda().requires_grad_()
    value_gpu = loss(est_gpu, ref.cuda())
    value_gpu.backward()
    assert value_gpu.device.type == "cuda" and est_gpu.grad.device.type == "cuda"
    assert value_gpu.item() == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(est_gpu.grad.cpu().numpy(), est.grad.numpy(), rtol=1e-9,
                               atol=1e-12)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_give_the_cpus_spectral_value():
    est, ref = tensors(SHAPE)
    loss = module(CASES["mrstft"])
    with torch.no_grad():
        value = loss(est.cuda(), ref.cuda())
    assert value.device.type == "cuda"
    assert value.item() == pytest.approx(loss(est, ref).item(), rel=1e-9)


def test_a_torch_without_the_eager_checks_takes_the_operators(monkeypatch):
    loss = fml.MultiResolutionSTFTLoss(**SMALL_MR)
    est, ref = tensors(SHAPE)
    expected = loss(est, ref)
    expected.backward()
    eager_grad = est.grad.clone()
    est.grad = None
    monkeypatch.delattr(torch._C, "_len_torch_dispatch_stack")
    calls = []
    original = torch.ops.fastmixloss.loss_forward

    def counting(*args):
        calls.append(args[-1])
        return original(*args)

    monkeypatch.setattr(fml, "loss_forward", counting)
    value = loss(est, ref)
    value.backward()
    assert calls == [loss.key]
    assert value.item() == pytest.approx(expected.item(), rel=1e-14, abs=0)
    np.testing.assert_allclose(est.grad.numpy(), eager_grad.numpy(), rtol=1e-12,
                               atol=1e-14 * np.abs(eager_grad.numpy()).max())
