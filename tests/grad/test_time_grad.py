"""Gradients of the time-domain losses (fastmixloss.grad) against central differences, a
plain NumPy reverse-mode gradient written from the formulas, auraloss's own autograd, and
themselves (each item alone against the batch, the CUDA kernel in the simulator against
the CPU)."""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import grad
from fastmixloss.errors import ParameterError

# (id, class, parameters): every time-domain loss and option
LOSSES = [
    ("mse", fm.MSELoss, {}),
    ("l1", fm.L1Loss, {}),
    ("esr", fm.ESRLoss, {}),
    ("esr_eps", fm.ESRLoss, dict(eps=0.3)),
    ("dc", fm.DCLoss, {}),
    ("dc_eps", fm.DCLoss, dict(eps=0.05)),
    ("logcosh", fm.LogCoshLoss, {}),
    ("logcosh_sharp", fm.LogCoshLoss, dict(a=3.0, eps=0.5)),
    ("snr", fm.SNRLoss, {}),
    ("snr_raw", fm.SNRLoss, dict(zero_mean=False)),
    ("snr_eps", fm.SNRLoss, dict(eps=0.1)),
    ("sisdr", fm.SISDRLoss, {}),
    ("sisdr_raw", fm.SISDRLoss, dict(zero_mean=False)),
    ("sisdr_eps", fm.SISDRLoss, dict(eps=0.1)),
    ("sdsdr", fm.SDSDRLoss, {}),
    ("sdsdr_raw", fm.SDSDRLoss, dict(zero_mean=False)),
    ("sdsdr_eps", fm.SDSDRLoss, dict(eps=0.1)),
]
LOSS_IDS = [case[0] for case in LOSSES]
MODES = [("none", None), ("mean", None), ("sum", None), ("none", "auraloss"),
         ("mean", "auraloss"), ("sum", "auraloss")]
MODE_IDS = [f"{reduction}-{compat or 'default'}" for reduction, compat in MODES]


def make_loss(case, reduction="mean", compat=None, **extra):
    _, cls, params = case
    return cls(reduction=reduction, compat=compat, **params, **extra)


def pair(rng, shape=(2, 2, 12), dtype=np.float64):
    """A reference with a DC offset and an estimate near it (no est == ref ties)."""
    ref = rng.standard_normal(shape) + 0.4
    est = 0.8 * ref + 0.5 * rng.standard_normal(shape)
    return est.astype(dtype), ref.astype(dtype)


def upstream_for(value, rng):
    """A random upstream gradient shaped like the value (a float for a scalar value)."""
    if np.ndim(value) == 0:
        return float(rng.uniform(0.5, 2.0))
    return rng.uniform(0.5, 2.0, size=np.shape(value))


def weighted(loss, est, ref, grad_value):
    return float(np.sum(np.asarray(grad_value) * np.asarray(loss(est, ref))))


def central_differences(loss, est, ref, grad_value, step=1e-6):
    out = np.zeros_like(est)
    for index in np.ndindex(est.shape):
        up, down = est.copy(), est.copy()
        up[index] += step
        down[index] -= step
        out[index] = (weighted(loss, up, ref, grad_value)
                      - weighted(loss, down, ref, grad_value)) / (2 * step)
    return out


def relative_error(got, expected):
    return np.linalg.norm(np.asarray(got, np.float64) - expected) / np.linalg.norm(expected)


# ------------------------------------------------------------ the NumPy oracle (float64)

def row_gradients(case, est, ref, dtype=np.float64):
    """d(row value)/d(est) for every (item, channel) row, written from each loss's formula
    (reverse mode through its intermediates), in float64 (or `dtype`)."""
    name, _, params = case
    e = np.asarray(est, dtype)
    y = np.asarray(ref, dtype)
    n = e.shape[-1]
    d = e - y
    eps = params.get("eps", 1e-8)
    if name.startswith("mse"):
        return 2 * d / n
    if name.startswith("l1"):
        return np.sign(d) / n
    if name.startswith("esr"):
        return 2 * d / ((y * y).sum(-1, keepdims=True) + eps)
    if name.startswith("dc"):
        mean_d = d.mean(-1, keepdims=True)
        return np.broadcast_to(2 * mean_d / n / ((y * y).mean(-1, keepdims=True) + eps),
                               e.shape)
    if name.startswith("logcosh"):
        a = params.get("a", 1.0)
        return np.sinh(a * d) / (np.cosh(a * d) + eps) / n
    # SNR, SI-SDR, SD-SDR: v = -10 log10(S / (N + eps) + eps)
    centred = params.get("zero_mean", True)
    if centred:
        e = e - e.mean(-1, keepdims=True)
        y = y - y.mean(-1, keepdims=True)
    yy = (y * y).sum(-1, keepdims=True)
    alpha = (e * y).sum(-1, keepdims=True) / (yy + eps)
    if name.startswith("snr"):
        target, residual = y, e - y
    elif name.startswith("sisdr"):
        target = alpha * y
        residual = e - target
    else:
        target, residual = alpha * y, e - y
    s = (target * target).sum(-1, keepdims=True)
    noise = (residual * residual).sum(-1, keepdims=True)
    q = s / (noise + eps)
    g_q = -10 / np.log(dtype(10)) / (q + eps)
    g_s = g_q / (noise + eps)
    g_noise = -g_q * s / (noise + eps) ** 2
    g_residual = 2 * g_noise * residual
    g_target = 2 * g_s * target
    g_e = g_residual.copy()
    if name.startswith("sisdr"):      # residual = e - target
        g_target = g_target - g_residual
    if not name.startswith("snr"):    # target = alpha y, alpha = <e, y> / (yy + eps)
        g_alpha = (g_target * y).sum(-1, keepdims=True)
        g_e = g_e + g_alpha * y / (yy + eps)
    if centred:
        g_e = g_e - g_e.mean(-1, keepdims=True)
    return g_e


def oracle(case, loss, est, ref, grad_value, dtype=np.float64):
    """The gradient of sum(grad_value * loss(est, ref)), from row_gradients and the
    reduction written out: compat="auraloss" keeps (B, C) values, else each item's value
    is the mean over its channels."""
    rows = row_gradients(case, est, ref, dtype).astype(np.float64)
    n_items, n_channels = rows.shape[:2]
    g = np.asarray(grad_value, np.float64)
    if loss.compat == "auraloss":
        per_row = np.broadcast_to(g, (n_items, n_channels)) if loss.reduction == "none" \
            else np.full((n_items, n_channels), float(g))
    else:
        per_item = g if loss.reduction == "none" else np.full(n_items, float(g))
        per_row = np.repeat(per_item[:, None] / n_channels, n_channels, axis=1)
    if loss.reduction == "mean":
        per_row = per_row / (n_items if loss.compat != "auraloss" else n_items * n_channels)
    return rows * per_row[..., None]


# ------------------------------------------------------------------------------- tests

@pytest.mark.parametrize("mode", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_against_central_differences_and_the_numpy_formula(case, mode, rng):
    reduction, compat = mode
    loss = make_loss(case, reduction, compat)
    est, ref = pair(rng)
    value, saved = grad.forward(loss, est, ref)
    grad_value = upstream_for(value, rng)
    got = grad.backward(loss, est, ref, saved, grad_value)
    assert got.shape == est.shape and got.dtype == np.float64
    assert relative_error(got, central_differences(loss, est, ref, grad_value)) < 1e-7
    assert relative_error(got, oracle(case, loss, est, ref, grad_value)) < 1e-12


@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_value_is_the_face_s_and_saved_its_size(case, rng):
    for reduction, compat in MODES:
        loss = make_loss(case, reduction, compat)
        est, ref = pair(rng, (3, 2, 40))
        value, saved = grad.forward(loss, est, ref)
        np.testing.assert_array_equal(value, loss(est, ref))
        assert type(value) is type(loss(est, ref))
        assert saved.dtype == np.float64 and saved.ndim == 1
        assert saved.size == grad.saved_size(loss, est.shape)
        same, gradient = grad.value_and_grad(loss, est, ref)
        np.testing.assert_array_equal(same, value)
        np.testing.assert_array_equal(gradient, grad.backward(loss, est, ref, saved, 1.0))


@pytest.mark.parametrize("shape", [(40,), (2, 40)])
def test_unbatched_signals(shape, rng):
    case = LOSSES[LOSS_IDS.index("sisdr")]
    est, ref = pair(rng, shape)
    for reduction in ("none", "mean"):
        loss = make_loss(case, reduction)
        value, saved = grad.forward(loss, est, ref)
        got = grad.backward(loss, est, ref, saved, np.ones(np.shape(value)))
        assert got.shape == shape
        shape3 = (1,) * (3 - len(shape)) + shape
        expected = oracle(case, loss, est.reshape(shape3), ref.reshape(shape3),
                          np.ones(np.shape(value)))
        assert relative_error(got.reshape(expected.shape), expected) < 1e-12


@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_float32_gradient_in_est_s_dtype(case, rng):
    est, ref = pair(rng, (2, 2, 300))
    loss = make_loss(case)
    for est_dtype, ref_dtype in ((np.float32, np.float32), (np.float32, np.float64),
                                 (np.float64, np.float32)):
        e, r = est.astype(est_dtype), ref.astype(ref_dtype)
        _, got = grad.value_and_grad(loss, e, r)
        assert got.dtype == est_dtype
        # computed in float64 from the float32 samples: only the final rounding differs
        expected = oracle(case, loss, e, r, 1.0)
        assert relative_error(got, expected) < 1e-6


@pytest.mark.parametrize("compat", [None, "auraloss"])
@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_each_item_independent_of_its_batch(case, compat, rng):
    est, ref = pair(rng, (4, 2, 257))
    loss = make_loss(case, "sum", compat)
    _, batch = grad.value_and_grad(loss, est, ref)
    for item in range(est.shape[0]):
        _, alone = grad.value_and_grad(loss, est[item:item + 1], ref[item:item + 1])
        np.testing.assert_array_equal(batch[item:item + 1], alone)


def test_inputs_never_modified(rng):
    est, ref = pair(rng, (2, 2, 100))
    for case in LOSSES:
        e, r = est.copy(), ref.copy()
        e.flags.writeable = False    # read-only inputs are read as they are
        r.flags.writeable = False
        loss = make_loss(case, "none")
        value, saved = grad.forward(loss, e, r)
        kept = saved.copy()
        grad_value = np.ones(np.shape(value))
        grad.backward(loss, e, r, saved, grad_value)
        np.testing.assert_array_equal(e, est)
        np.testing.assert_array_equal(r, ref)
        np.testing.assert_array_equal(saved, kept)
        np.testing.assert_array_equal(grad_value, 1.0)


def test_bad_arguments_raise_parameter_errors(rng):
    est, ref = pair(rng, (2, 2, 50))
    loss = fm.SISDRLoss(reduction="none")
    value, saved = grad.forward(loss, est, ref)
    assert np.shape(value) == (2,)
    for bad in (np.ones(3), np.ones((2, 2)), "x", [[1.0, 2.0]]):
        with pytest.raises(ParameterError, match="grad_value"):
            grad.backward(loss, est, ref, saved, bad)
    with pytest.raises(ParameterError, match="saved"):
        grad.backward(loss, est, ref, saved[:-1], np.ones(2))
    with pytest.raises(ParameterError, match="saved"):
        grad.backward(loss, est, ref, saved.astype(np.float32), np.ones(2))
    scalar_loss = fm.SISDRLoss()
    scalar_value, scalar_saved = grad.forward(scalar_loss, est, ref)
    with pytest.raises(ParameterError, match="grad_value"):
        grad.backward(scalar_loss, est, ref, scalar_saved, np.ones(2))
    with pytest.raises(ParameterError, match="shape"):
        grad.forward(loss, est, ref[:, :, :-1])
    with pytest.raises(ParameterError, match="B, C, T"):
        grad.forward(fm.SISDRLoss(compat="auraloss"), est[0], ref[0])
    for metric in (fm.compare_features, fm.feature_tracks, fm.integrated_loudness):
        with pytest.raises(ParameterError, match="the feature metrics have no gradient"):
            grad.value_and_grad(metric, est, ref)
    for not_a_loss in (None, 3, fm.Evaluator, "mse"):
        with pytest.raises(ParameterError, match="not a fastmixloss loss"):
            grad.value_and_grad(not_a_loss, est, ref)
    with pytest.raises(ParameterError, match="est"):
        grad.saved_size(loss, (2, 2, 2, 5))


def test_l1_kink_is_zero(rng):
    est, ref = pair(rng, (1, 2, 64))
    est[:, :, ::3] = ref[:, :, ::3]
    for compat in (None, "auraloss"):
        _, got = grad.value_and_grad(fm.L1Loss(compat=compat), est, ref)
        assert np.all(got[:, :, ::3] == 0.0)
        np.testing.assert_array_equal(np.sign(got), np.sign(est - ref))


def test_silent_reference_rows(rng):
    """A reference without energy: NaN value and gradient on its rows by default, the
    eps-floored formula's gradient with compat="auraloss"; other rows unaffected."""
    est, ref = pair(rng, (2, 2, 30))
    ref[1, 0] = 0.0
    ref[0, 1] = 0.25     # constant: no energy about its mean
    for case in LOSSES[2:]:
        if case[1] in (fm.LogCoshLoss,):
            continue
        centred = case[2].get("zero_mean", True) and case[1] not in (fm.ESRLoss, fm.DCLoss)
        silent = [(1, 0)] + ([(0, 1)] if centred else [])
        loss = make_loss(case, "sum")
        _, got = grad.value_and_grad(loss, est, ref)
        for row in np.ndindex(2, 2):
            assert np.isnan(got[row]).all() == (row in silent), (case[0], row)
        _, floored = grad.value_and_grad(make_loss(case, "sum", "auraloss"), est, ref)
        assert np.isfinite(floored).all()
        expected = oracle(case, make_loss(case, "sum", "auraloss"), est, ref, 1.0)
        assert relative_error(floored, expected) < 1e-12


def test_large_log_cosh_arguments_do_not_overflow(rng):
    est, ref = pair(rng, (1, 1, 50))
    est[0, 0, :5] = ref[0, 0, :5] + np.array([800.0, -800.0, 30.0, -30.0, 1e-12])
    loss = fm.LogCoshLoss(a=2.0)
    _, got = grad.value_and_grad(loss, est, ref)
    assert np.isfinite(got).all()
    n = est.shape[-1]
    np.testing.assert_allclose(got[0, 0, :4] * n, [1.0, -1.0, 1.0, -1.0], rtol=1e-15)
    tiny = est[0, 0, 4] - ref[0, 0, 4]     # about 1e-12: sinh keeps its digits
    np.testing.assert_allclose(got[0, 0, 4] * n, 2 * tiny / (1 + 1e-8), rtol=1e-14)
    d = est[0, 0, 5:] - ref[0, 0, 5:]
    np.testing.assert_allclose(got[0, 0, 5:] * n, np.sinh(2 * d) / (np.cosh(2 * d) + 1e-8),
                               rtol=1e-14)


CUDA_CASES = ("mse", "l1", "logcosh_sharp", "dc", "snr", "sisdr", "sdsdr_raw")


RATIO_CASES = [case for case in LOSSES if case[1] not in (fm.MSELoss, fm.L1Loss,
                                                           fm.LogCoshLoss)]


@pytest.mark.parametrize("case", RATIO_CASES, ids=[case[0] for case in RATIO_CASES])
def test_rows_whose_squares_overflow(case, rng):
    """Samples near 1e200: the sums are computed at a power-of-two scale, as the face's;
    the gradient is the unscaled signal's over the scale (eps is negligible there)."""
    est, ref = pair(rng, (2, 2, 60))
    _, cls, params = case
    plain = cls(**{**params, "eps": 0.0})
    _, expected = grad.value_and_grad(plain, est, ref)
    value, got = grad.value_and_grad(make_loss(case), est * 1e200, ref * 1e200)
    assert np.isfinite(value)
    assert relative_error(got * 1e200, expected) < 1e-13


@pytest.mark.parametrize("case", RATIO_CASES, ids=[case[0] for case in RATIO_CASES])
def test_rows_the_one_pass_sums_cannot_settle(case, rng):
    """A near-perfect scaled copy with a DC offset: the exact passes' sums, against the
    NumPy formula in extended precision. The residual is 1e-7 of the signal: in float64
    its samples keep about 9 digits, and so does SI-SDR's gradient."""
    ref = rng.standard_normal((1, 2, 3000)) + 3.0
    est = 0.5 * ref + 1e-7 * rng.standard_normal(ref.shape)
    loss = make_loss(case, "sum")
    _, got = grad.value_and_grad(loss, est, ref)
    assert relative_error(got, oracle(case, loss, est, ref, 1.0, np.longdouble)) < 1e-8


def test_nonfinite_input_without_check_gives_nan_on_its_row_only(rng):
    est, ref = pair(rng, (2, 2, 40))
    est[1, 0, 7] = np.nan
    for case in LOSSES:
        _, got = grad.value_and_grad(make_loss(case, "sum", check_finite=False), est, ref)
        assert np.isnan(got[1, 0]).any(), case[0]
        others = [row for row in np.ndindex(2, 2) if row != (1, 0)]
        assert all(np.isfinite(got[row]).all() for row in others), case[0]


@pytest.mark.slow
def test_cuda_kernel_matches_the_cpu_in_the_simulator(rng):
    """The CUDA backend (Numba's simulator here) against the CPU: the same coefficients,
    the same per-sample formula, chunks with ragged tails across several blocks. The
    losses cover every formula and coefficient of the kernel."""
    from fastmixloss.cuda import launch_config, runtime
    assert runtime.simulated()
    for dtype in (np.float64, np.float32):
        est, ref = pair(rng, (2, 2, 101), dtype)
        for case in [LOSSES[LOSS_IDS.index(name)] for name in CUDA_CASES]:
            cpu_loss = make_loss(case, "none")
            gpu_loss = make_loss(case, "none", device="cuda")
            cpu_value, cpu_grad = grad.value_and_grad(cpu_loss, est, ref)
            with launch_config(time_threads=8, time_chunk=37, reduce_threads=4,
                               scan_threads=8, scan_blocks=3):
                gpu_value, gpu_saved = grad.forward(gpu_loss, est, ref)
                device_grad = grad.backward(gpu_loss, est, ref, gpu_saved,
                                            np.ones(np.shape(gpu_value)))
            assert hasattr(device_grad, "copy_to_host"), type(device_grad)
            gpu_grad = device_grad.copy_to_host()
            assert gpu_grad.shape == est.shape and gpu_grad.dtype == dtype
            tolerance = 1e-12 if dtype == np.float64 else 1e-6
            np.testing.assert_allclose(gpu_value, cpu_value, rtol=tolerance)
            error = relative_error(gpu_grad, cpu_grad.astype(np.float64))
            assert error < tolerance, case[0]


class DeviceView:
    """A host array shown through __cuda_array_interface__, as CuPy or PyTorch show
    theirs: in the simulator device memory is host memory, so the backend imports it
    without a copy as it would a GPU array."""

    def __init__(self, array):
        self.array = array

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.array.shape, "typestr": self.array.dtype.str,
                "data": (self.array.__array_interface__["data"][0], False),
                "strides": None, "version": 3, "stream": None}


@pytest.mark.slow
def test_cuda_device_inputs_in_the_simulator(rng):
    """Inputs on the device pick the GPU; the gradient comes back as a device array in
    est's dtype (a float32 est beside a float64 ref: computed from float64 signals,
    returned in float32)."""
    from fastmixloss.cuda import launch_config
    est, ref = pair(rng, (2, 2, 90))
    est = est.astype(np.float32)
    for case in [LOSSES[LOSS_IDS.index(name)] for name in ("sisdr", "l1")]:
        loss = make_loss(case, "sum", "auraloss")
        _, cpu_grad = grad.value_and_grad(loss, est, ref)
        with launch_config(time_threads=8, time_chunk=37, reduce_threads=4):
            _, device_grad = grad.value_and_grad(loss, DeviceView(est), DeviceView(ref))
        got = device_grad.copy_to_host()
        assert got.dtype == np.float32 and got.shape == est.shape
        assert relative_error(got, cpu_grad.astype(np.float64)) < 1e-7


# ------------------------------------------------------- against auraloss's own autograd

AURALOSS = {   # id -> auraloss.time class name (MSE and L1: torch's own, as auraloss users)
    "esr": "ESRLoss", "esr_eps": "ESRLoss", "dc": "DCLoss", "dc_eps": "DCLoss",
    "logcosh": "LogCoshLoss", "logcosh_sharp": "LogCoshLoss", "snr": "SNRLoss",
    "snr_raw": "SNRLoss", "snr_eps": "SNRLoss", "sisdr": "SISDRLoss",
    "sisdr_raw": "SISDRLoss", "sisdr_eps": "SISDRLoss", "sdsdr": "SDSDRLoss",
    "sdsdr_raw": "SDSDRLoss", "sdsdr_eps": "SDSDRLoss",
}


def torch_loss(case, reduction):
    import torch
    name, _, params = case
    if name in ("mse", "l1"):
        function = (torch.nn.functional.mse_loss if name == "mse"
                    else torch.nn.functional.l1_loss)
        # per channel, then auraloss's reduction over (B, C), as compat="auraloss" does
        reduce = {"none": lambda v: v, "mean": torch.mean, "sum": torch.sum}[reduction]
        return lambda x, y: reduce(function(x, y, reduction="none").mean(-1))
    import auraloss
    return getattr(auraloss.time, AURALOSS[name])(reduction=reduction, **params)


def music_pair(dtype, silent=False):
    from signals import degrade, music
    ref = music(2, 3000, 21)
    est = degrade(ref, 22, amount=0.05)
    est[0, 1, 100:140] = ref[0, 1, 100:140]      # ties: L1's kink
    if silent:
        ref[1, 0] = 0.0
    return est.astype(dtype), ref.astype(dtype)


@pytest.mark.parity
@pytest.mark.parametrize("silent", [False, True], ids=["music", "silent-channel"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("case", LOSSES, ids=LOSS_IDS)
def test_against_auraloss_autograd(case, reduction, dtype, silent, rng):
    torch = pytest.importorskip("torch")
    pytest.importorskip("auraloss")
    est, ref = music_pair(dtype, silent)
    loss = make_loss(case, reduction, "auraloss")
    value, saved = grad.forward(loss, est, ref)
    grad_value = upstream_for(value, rng)
    got = grad.backward(loss, est, ref, saved, grad_value)
    est_t = torch.from_numpy(est.copy()).requires_grad_(True)
    out = torch_loss(case, reduction)(est_t, torch.from_numpy(ref))
    np.testing.assert_allclose(value, out.detach().numpy(),
                               rtol=1e-8 if dtype == "float64" else 1e-4)
    (out * torch.as_tensor(grad_value, dtype=out.dtype)).sum().backward()
    expected = est_t.grad.numpy()
    assert got.dtype == expected.dtype
    tolerance = 1e-8 if dtype == "float64" else 1e-4
    assert relative_error(got, expected.astype(np.float64)) < tolerance
