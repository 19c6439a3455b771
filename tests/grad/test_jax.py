"""fastmixloss.jax: the NumPy API's losses as functions jax.grad differentiates and
jax.jit compiles (custom_vjp over host callbacks)."""

import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)   # float64 needs it (float32 works either way)

import jax.numpy as jnp                              # noqa: E402

import fastmixloss                                   # noqa: E402
import fastmixloss.jax as fml                        # noqa: E402
from fastmixloss import grad as gradients            # noqa: E402
from fastmixloss.errors import ParameterError        # noqa: E402

from adapter_cases import (CASES, CLASSES, FUNCTIONS, SHAPE, SMALL_MR,   # noqa: E402
                           VALUE_ONLY, frameworks_imported_by, numpy_loss,
                           same_parameters, signals)

GRADIENT_CASES = sorted(CASES)


def two_passes(loss, est, ref):
    """grad's forward then backward: what the JAX adapter runs (value_and_grad takes
    grad.one_pass where it can: the same gradient up to rounding)."""
    return gradients.backward(loss, est, ref, gradients.forward(loss, est, ref)[1], 1.0)


def jax_loss(case):
    name, args, kwargs = case
    return getattr(fml, name)(*args, **kwargs)


def test_importing_fastmixloss_jax_leaves_torch_alone():
    assert frameworks_imported_by("import fastmixloss.jax") == "['jax']"
    assert fastmixloss.jax is fml   # and the lazy attribute finds the module


@pytest.mark.parametrize("name", CLASSES + FUNCTIONS)
def test_every_face_is_a_callable_with_the_numpy_apis_parameters(name):
    assert same_parameters(fml, name)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("case_id", sorted(CASES) + sorted(VALUE_ONLY))
def test_values_equal_the_numpy_apis(case_id, dtype):
    case = CASES.get(case_id) or VALUE_ONLY[case_id]
    est, ref = signals(SHAPE, dtype=dtype)
    value = jax_loss(case)(est, ref)
    assert value.dtype == dtype and value.shape == ()
    assert value.item() == np.asarray(numpy_loss(case)(est, ref), dtype).item()
    if case_id in CASES:   # the differentiated forward gives the same value
        value, _ = jax.value_and_grad(jax_loss(case))(est, ref)
        assert value.item() == np.asarray(numpy_loss(case)(est, ref), dtype).item()


@pytest.mark.parametrize("case_id", GRADIENT_CASES)
def test_the_gradient_is_grads_and_jit_gives_the_same(case_id):
    est, ref = signals(SHAPE)
    loss = jax_loss(CASES[case_id])
    grad = jax.grad(loss)(est, ref)
    expected = two_passes(numpy_loss(CASES[case_id]), est, ref)
    np.testing.assert_array_equal(np.asarray(grad), expected)
    jitted = jax.jit(jax.value_and_grad(loss))(est, ref)
    np.testing.assert_array_equal(np.asarray(jitted[1]), expected)
    assert jitted[0].item() == loss(est, ref).item()


@pytest.mark.parametrize("case_id", GRADIENT_CASES)
def test_the_gradient_equals_the_torch_adapters(case_id):
    torch = pytest.importorskip("torch")
    import fastmixloss.torch as fml_torch
    name, args, kwargs = CASES[case_id]
    est, ref = signals(SHAPE, seed=3)
    grad = np.asarray(jax.grad(jax_loss(CASES[case_id]))(est, ref))
    est_t = torch.from_numpy(est).requires_grad_()
    getattr(fml_torch, name)(*args, **kwargs)(est_t, torch.from_numpy(ref)).backward()
    expected = est_t.grad.numpy()
    assert np.linalg.norm(grad - expected) <= 1e-8 * np.linalg.norm(expected)


@pytest.mark.parametrize("case_id", ["sisdr", "mrstft"])
def test_float32_gradient(case_id):
    est, ref = signals(SHAPE, dtype=np.float32)
    grad = jax.jit(jax.grad(jax_loss(CASES[case_id])))(est, ref)
    expected = two_passes(numpy_loss(CASES[case_id]), est, ref)
    assert grad.dtype == jnp.float32
    np.testing.assert_array_equal(np.asarray(grad), expected)


@pytest.mark.slow
def test_float32_without_x64_keeps_the_forwards_float64_sums():
    # the saved sums travel as uint32 words: without x64, float64 would be rounded
    script = """
import jax, numpy as np, fastmixloss, fastmixloss.jax as fml
from fastmixloss import grad
assert not jax.config.jax_enable_x64
rng = np.random.default_rng(0)
ref = rng.standard_normal((2, 2, 400)).astype(np.float32)
est = (0.5 * ref + rng.standard_normal(ref.shape)).astype(np.float32)
sizes = dict(fft_sizes=(64, 128), hop_sizes=(16, 32), win_lengths=(64, 96))
g = jax.jit(jax.grad(fml.MultiResolutionSTFTLoss(**sizes)))(est, ref)
loss = fastmixloss.MultiResolutionSTFTLoss(**sizes)
expected = grad.backward(loss, est, ref, grad.forward(loss, est, ref)[1], 1.0)
print(g.dtype, np.array_equal(np.asarray(g), expected))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["float32", "True"]


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft", "sd"])
def test_per_item_values_and_their_upstream_gradient(case_id):
    name, args, kwargs = CASES[case_id]
    case = (name, args, dict(kwargs, reduction="none"))
    est, ref = signals(SHAPE)
    weights = np.array([0.25, -2.0])
    value, pullback = jax.vjp(lambda e: jax_loss(case)(e, ref), est)
    np.testing.assert_array_equal(np.asarray(value), numpy_loss(case)(est, ref))
    (grad,) = pullback(jnp.asarray(weights))
    _, saved = gradients.forward(numpy_loss(case), est, ref)
    expected = gradients.backward(numpy_loss(case), est, ref, saved, weights)
    np.testing.assert_array_equal(np.asarray(grad), expected)


@pytest.mark.parametrize("case_id", ["mse", "sisdr", "mrstft", "sd"])
def test_vmap_over_items_equals_the_batch_and_gradients_are_per_item(case_id):
    name, args, kwargs = CASES[case_id]
    per_item = jax_loss((name, args, dict(kwargs, reduction="none")))
    single = jax_loss(CASES[case_id])
    est, ref = signals((3,) + SHAPE[1:])
    mapped = jax.vmap(single)(est, ref)
    np.testing.assert_allclose(np.asarray(mapped), np.asarray(per_item(est, ref)),
                               rtol=1e-13)
    batch_grad = jax.grad(lambda e: per_item(e, ref).sum())(est)
    for item in range(3):
        alone = jax.grad(single)(est[item], ref[item])
        np.testing.assert_allclose(np.asarray(batch_grad[item]), np.asarray(alone),
                                   rtol=1e-12, atol=1e-15)


def test_smooth_loss_against_central_differences():
    loss = jax_loss(CASES["mrstft-l2"])
    est, ref = signals((1, 2, 160))
    grad = np.asarray(jax.grad(loss)(est, ref))
    rng = np.random.default_rng(5)
    for _ in range(3):
        direction = rng.standard_normal(est.shape)
        h = 1e-6
        numeric = (float(loss(est + h * direction, ref))
                   - float(loss(est - h * direction, ref))) / (2 * h)
        assert np.sum(grad * direction) == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_functions_and_classes_share_one_loss_per_configuration():
    est, ref = signals(SHAPE)
    assert fml.mrstft_loss(est, ref, **SMALL_MR).item() == (
        fml.MultiResolutionSTFTLoss(**SMALL_MR)(est, ref).item())
    assert fml.MultiResolutionSTFTLoss(**SMALL_MR).loss is (
        fml.MultiResolutionSTFTLoss(list(SMALL_MR["fft_sizes"]), SMALL_MR["hop_sizes"],
                                    SMALL_MR["win_lengths"]).loss)
    assert isinstance(fml.preset_loss("auraloss"), fml.PresetLoss)


@pytest.mark.parametrize("call, named", [
    (lambda e, r: fml.mse(e.astype(np.int32), r), "est"),
    (lambda e, r: fml.mse(e, r.astype(np.float32)), "dtype"),
    (lambda e, r: fml.mse(e, r[..., :-1]), "est and ref"),
    (lambda e, r: fml.mse(e[None], r[None]), "est"),
    (lambda e, r: fml.STFTLoss(output="full"), "output"),
    (lambda e, r: fml.STFTLoss(fft_size=0), "fft_size"),
    (lambda e, r: fml.mse(e, r, reductions="sum"), "reductions"),
])
def test_bad_input_raises_a_parameter_error_naming_it(call, named):
    est, ref = signals(SHAPE)
    with pytest.raises(ParameterError, match=named):
        call(est, ref)
