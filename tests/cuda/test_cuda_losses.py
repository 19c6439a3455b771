"""Every loss on the CUDA backend against the CPU path and the NumPy reference.

Inputs are tiny (the simulator runs each CUDA thread as a Python thread) and launch
settings small, so each call spans many blocks: several frames per block with a ragged
last group, more groups per row than reduction threads, time-domain chunks with ragged
tails, and the global-scratch path with fewer blocks than tasks.
"""

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import reference
from fastmixloss.cuda import launch_config
from fastmixloss.errors import ParameterError
from fastmixloss.windows import window_values

TIGHT = dict(stft_threads=8, points_per_block=96, reduce_threads=4, time_threads=8,
             time_chunk=37, scan_threads=8, scan_blocks=3)


def pair(rng, shape, dtype=np.float64, amount=0.3):
    ref = rng.standard_normal(shape)
    est = ref + amount * rng.standard_normal(shape)
    return est.astype(dtype), ref.astype(dtype)


def rel_tol(dtype):
    return 1e-10 if np.dtype(dtype) == np.float64 else 1e-4


def assert_breakdowns_close(gpu, cpu, rtol):
    for field in ("loss", "sc", "log_mag", "lin_mag"):
        np.testing.assert_allclose(getattr(gpu, field), getattr(cpu, field), rtol=rtol,
                                   atol=0, err_msg=field)


STFT_CASES = [
    # fft, hop, win, window, shape, dtype, mag_distance, w_lin_mag, launch overrides
    (2, 1, 2, "hann", (1, 1, 9), np.float64, "L1", 1.0, dict(stft_threads=1)),
    (4, 3, 3, "hamming", (2, 1, 23), np.float64, "L2", 0.0, dict(stft_threads=4)),
    (16, 5, 11, "blackman", (2, 2, 101), np.float64, "L1", 0.5, {}),
    (32, 8, 32, "hann", (1, 2, 300), np.float32, "L1", 0.0, dict(stft_threads=16)),
    (64, 16, 48, "hann", (2, 1, 200), np.float64, "L2", 1.0, dict(points_per_block=64)),
    (128, 40, 128, "bartlett", (1, 1, 400), np.float32, "L2", 1.0, dict(stft_threads=32)),
    (256, 100, 200, "kaiser", (1, 1, 500), np.float64, "L1", 1.0, dict(stft_threads=32)),
]


@pytest.mark.parametrize("case", STFT_CASES, ids=lambda c: f"fft{c[0]}-{np.dtype(c[5])}")
def test_stft_matches_cpu_and_reference(cuda_backend, rng, case):
    fft, hop, win, window, shape, dtype, distance, w_lin, overrides = case
    est, ref = pair(rng, shape, dtype)
    kwargs = dict(fft_size=fft, hop_size=hop, win_length=win, window=window,
                  mag_distance=distance, w_lin_mag=w_lin, reduction="none", output="full")
    with launch_config(**{**TIGHT, **overrides}):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.stft_loss(est, ref, device="cpu", **kwargs)
    assert_breakdowns_close(gpu, cpu, rel_tol(dtype))
    expected = reference.stft_loss(est, ref, fft_size=fft, hop_size=hop, win_length=win,
                                   window_values=window_values(window, win),
                                   mag_distance=distance, w_lin_mag=w_lin)
    np.testing.assert_allclose(gpu.loss, expected["loss"], rtol=rel_tol(dtype))


EDGE_CASES = [
    # fft, hop, win, length: the shortest signal allowed (T = fft/2 + 1, both pads reflect
    # up to the last sample), hops longer than a frame, win_length 1, a single frame
    (32, 7, 32, 17),
    (16, 40, 10, 200),
    (8, 3, 1, 30),
    (64, 100, 64, 33),
]


@pytest.mark.parametrize("case", EDGE_CASES, ids=lambda c: "-".join(map(str, c)))
def test_stft_edge_geometries_match_cpu(cuda_backend, rng, case):
    fft, hop, win, length = case
    est, ref = pair(rng, (2, 2, length))
    kwargs = dict(fft_size=fft, hop_size=hop, win_length=win, w_lin_mag=1.0,
                  reduction="none", output="full")
    with launch_config(**TIGHT):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    assert_breakdowns_close(gpu, fm.stft_loss(est, ref, device="cpu", **kwargs), 1e-10)


@pytest.mark.slow
@pytest.mark.parametrize("overrides", [
    dict(shared_limit=0, scratch_blocks=3),                  # scratch path, blocks loop
    dict(shared_limit=0, scratch_blocks=1000, points_per_block=1),
    dict(shared_limit=2 * 32 * 8 * 3),                      # shared fits 3 frames of 4+
], ids=["scratch-looping", "scratch-one-task-each", "shared-limit-caps-frames"])
def test_scratch_and_shared_limits_give_the_same_sums(cuda_backend, rng, overrides):
    est, ref = pair(rng, (2, 2, 150))
    kwargs = dict(fft_size=32, hop_size=6, win_length=25, reduction="none", output="full",
                  w_lin_mag=1.0)
    with launch_config(**{**TIGHT, "points_per_block": 32 * 5, **overrides}):
        gpu = fm.stft_loss(est, ref, device="cuda", **kwargs)
    cpu = fm.stft_loss(est, ref, device="cpu", **kwargs)
    assert_breakdowns_close(gpu, cpu, 1e-10)


def test_layout_chooses_the_path_from_the_limit():
    from fastmixloss.cuda.core import LaunchConfig, StftLayout
    from fastmixloss.kernels.layout import FramePlan
    plan = FramePlan(64, 16, 0, 64, n_frames=10, frames_per_block=1, log_mode=1,
                     lin_mode=0, eps=1e-8, frame_start=-32)
    config = LaunchConfig(points_per_block=64 * 4)
    per_frame = 2 * 64 * 4                               # float32: est + ref, re + im
    fused = StftLayout(plan, 6, 4, config, shared_limit=10 * per_frame)
    assert (fused.fused, fused.per_block, fused.n_groups, fused.n_tasks) == (True, 4, 3, 18)
    capped = StftLayout(plan, 6, 4, config, shared_limit=2 * per_frame + 1)
    assert (capped.fused, capped.per_block, capped.n_groups) == (True, 2, 5)
    scratch = StftLayout(plan, 6, 4, config, shared_limit=per_frame - 1)
    assert (scratch.fused, scratch.per_block, scratch.n_tasks) == (False, 1, 60)


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sum_and_difference_matches_cpu(cuda_backend, rng, dtype):
    est, ref = pair(rng, (2, 2, 160), dtype)
    kwargs = dict(fft_sizes=(32, 16), hop_sizes=(8, 5), win_lengths=(32, 12),
                  reduction="none", output="full", w_lin_mag=0.5)
    with launch_config(**TIGHT):
        gpu = fm.sum_and_difference_loss(est, ref, device="cuda", **kwargs)
        swapped = fm.sum_and_difference_loss(est[:, ::-1], ref, device="cuda", **kwargs)
    cpu = fm.sum_and_difference_loss(est, ref, device="cpu", **kwargs)
    rtol = rel_tol(dtype)
    np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=rtol)
    for part in ("sum", "diff"):
        assert_breakdowns_close(getattr(gpu, part), getattr(cpu, part), rtol)
    # |STFT(-d)| = |STFT(d)|: swapping channels changes nothing (the reversed view also
    # takes the strided-input copy path)
    np.testing.assert_allclose(swapped.loss, gpu.loss, rtol=rtol)
    if dtype == np.float64:
        expected = reference.sum_and_difference_loss(
            est, ref, fft_sizes=(32, 16), hop_sizes=(8, 5), win_lengths=(32, 12),
            w_lin_mag=0.5)
        np.testing.assert_allclose(gpu.loss, expected["loss"], rtol=1e-10)


def test_mrstft_and_auraloss_compat_match_cpu(cuda_backend, rng):
    est, ref = pair(rng, (2, 2, 130))
    mr = dict(fft_sizes=(16, 32), hop_sizes=(4, 9), win_lengths=(10, 32))
    with launch_config(**TIGHT):
        gpu = fm.mrstft_loss(est, ref, device="cuda", **mr)
        gpu_compat = fm.mrstft_loss(est, ref, device="cuda", compat="auraloss",
                                    reduction="sum", **mr)
    assert gpu == pytest.approx(fm.mrstft_loss(est, ref, device="cpu", **mr), rel=1e-10)
    assert gpu_compat == pytest.approx(
        fm.mrstft_loss(est, ref, device="cpu", compat="auraloss", reduction="sum", **mr),
        rel=1e-10)


TIME_LOSSES = [fm.mse, fm.l1, fm.esr, fm.dc, fm.snr, fm.sisdr, fm.sdsdr, fm.logcosh]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_time_sums_match_the_cpu_kernels(cuda_backend, rng, dtype):
    """The seam's contract: the same per-row sums as the CPU kernels. Length 301 over
    chunks of 37 is 9 chunks per row (a ragged tail), more than the 4 reduction
    threads; a DC offset exercises the shifted sums."""
    from fastmixloss.backend import CPU
    est, ref = pair(rng, (2, 2, 301), dtype)
    est, ref = est + dtype(0.5), ref + dtype(0.5)
    host_e, host_r, _ = CPU.as_signal_pair(est, ref)
    dev_e, dev_r, _ = cuda_backend.as_signal_pair(est, ref)
    rows = (-1, 301)
    with launch_config(**TIGHT):
        totals, shifts = cuda_backend.time_sums(dev_e.reshape(*rows), dev_r.reshape(*rows))
        log_cosh = cuda_backend.log_cosh_sums(dev_e.reshape(*rows), dev_r.reshape(*rows),
                                              2.0, 1e-8)
    cpu_totals, cpu_shifts = CPU.time_sums(host_e.reshape(*rows), host_r.reshape(*rows))
    np.testing.assert_allclose(shifts, cpu_shifts, rtol=1e-13)
    # the shifted sums are centred: compare against their scale, not their own size
    scale = np.abs(cpu_totals).max(axis=0)
    np.testing.assert_allclose(totals, cpu_totals, rtol=0, atol=1e-12 * scale.max())
    np.testing.assert_allclose(
        log_cosh, CPU.log_cosh_sums(host_e.reshape(*rows), host_r.reshape(*rows), 2.0, 1e-8),
        rtol=1e-12)


def test_every_time_domain_loss_matches_cpu_and_reference(cuda_backend, rng):
    est, ref = pair(rng, (2, 2, 150))
    est, ref = est + 0.25, ref - 0.5
    with launch_config(**{**TIGHT, "time_chunk": 64}):
        gpu = {f.__name__: f(est, ref, device="cuda", reduction="none")
               for f in TIME_LOSSES}
    for loss in TIME_LOSSES:
        name = loss.__name__
        np.testing.assert_allclose(gpu[name], loss(est, ref, device="cpu", reduction="none"),
                                   rtol=1e-11, err_msg=name)
        np.testing.assert_allclose(gpu[name], getattr(reference, name)(est, ref),
                                   rtol=1e-9, err_msg=name)


def test_float32_time_domain_losses_sum_in_float64(cuda_backend, rng):
    est, ref = pair(rng, (1, 2, 200), np.float32, amount=1e-3)
    with launch_config(**TIGHT):
        gpu = fm.sisdr(est, ref, device="cuda"), fm.mse(est, ref, device="cuda")
    assert gpu[0] == pytest.approx(fm.sisdr(est, ref, device="cpu"), rel=1e-10)
    assert gpu[1] == pytest.approx(fm.mse(est, ref, device="cpu"), rel=1e-10)


def test_time_domain_shift_window_longer_than_a_chunk(cuda_backend, rng):
    # rows longer than the 4096 shift samples, over many chunks, and a row of one sample
    est, ref = pair(rng, (1, 1, 4500))
    with launch_config(**{**TIGHT, "time_chunk": 1024, "time_threads": 32}):
        gpu = fm.sisdr(est, ref, device="cuda"), fm.logcosh(est, ref, device="cuda", a=3.0)
        tiny = fm.mse(est[..., :1], ref[..., :1], device="cuda")
    assert gpu[0] == pytest.approx(fm.sisdr(est, ref, device="cpu"), rel=1e-12)
    assert gpu[1] == pytest.approx(fm.logcosh(est, ref, device="cpu", a=3.0), rel=1e-12)
    assert tiny == pytest.approx(fm.mse(est[..., :1], ref[..., :1], device="cpu"), rel=1e-15)


def test_log_cosh_large_arguments(cuda_backend):
    est = np.array([[0.0, 30.0, -50.0, 1e-3, 700.0]])
    ref = np.zeros_like(est)
    with launch_config(**TIGHT):
        gpu = fm.logcosh(est, ref, device="cuda")
    assert np.isfinite(gpu)
    assert gpu == pytest.approx(fm.logcosh(est, ref, device="cpu"), rel=1e-14)


# NaN and overflow on purpose (see test_unchecked_nan_comes_out_as_nan)
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_rows_the_sums_cannot_settle_match_the_cpu(cuda_backend, rng):
    """The rows that go back to the signal (the backend's host_rows and exact_energies):
    a scaled copy on a DC offset (the one-pass sums cancel), a constant reference
    (undefined about its mean), samples whose squares overflow (recomputed scaled, or
    refused), and, unchecked, a NaN beside finite items."""
    ref = rng.standard_normal((4, 1, 200)) + 100.0
    est = 2.0 * ref
    ref[1] = 3.0
    est[2], ref[2] = est[2] * 1e160, ref[2] * 1e160
    est[3, 0, 7] = np.nan
    kwargs = dict(reduction="none", check_finite=False)
    for loss in (fm.esr, fm.dc, fm.snr, fm.sisdr, fm.sdsdr, fm.logcosh):
        with launch_config(**TIGHT):
            gpu = loss(est, ref, device="cuda", **kwargs)
        cpu = loss(est, ref, device="cpu", **kwargs)
        np.testing.assert_allclose(gpu, cpu, rtol=1e-12, err_msg=loss.__name__)
        assert np.isnan(gpu[3]) and np.isfinite(gpu[2]), loss.__name__
    with launch_config(**TIGHT), pytest.raises(ParameterError) as gpu_error:
        fm.mse(est[2], ref[2], device="cuda")
    with pytest.raises(ParameterError) as cpu_error:
        fm.mse(est[2], ref[2], device="cpu")
    assert str(gpu_error.value) == str(cpu_error.value)


@pytest.mark.slow
def test_repeated_runs_are_bit_identical(cuda_backend, rng):
    est, ref = pair(rng, (2, 2, 120), np.float32)
    with launch_config(**TIGHT):
        runs = [(fm.stft_loss(est, ref, device="cuda", fft_size=16, hop_size=4,
                              reduction="none"),
                 fm.sisdr(est, ref, device="cuda", reduction="none")) for _ in range(2)]
    for a, b in zip(*runs):
        assert a.tobytes() == b.tobytes()


def test_items_do_not_depend_on_the_batch(cuda_backend, rng):
    est, ref = pair(rng, (3, 1, 90))
    with launch_config(**TIGHT):
        batch = fm.stft_loss(est, ref, device="cuda", fft_size=16, hop_size=4,
                             reduction="none")
        alone = fm.stft_loss(est[1:2], ref[1:2], device="cuda", fft_size=16, hop_size=4,
                             reduction="none")
    assert alone[0] == batch[1]


# NaN/Inf on purpose: the simulator computes with NumPy scalars, which warn where a GPU
# just produces NaN or Inf
@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_unchecked_nan_comes_out_as_nan(cuda_backend, rng):
    est, ref = pair(rng, (1, 1, 80))
    est[0, 0, 40] = np.nan
    with launch_config(**TIGHT):
        assert np.isnan(fm.stft_loss(est, ref, device="cuda", fft_size=16, hop_size=4,
                                     check_finite=False))
        assert np.isnan(fm.mse(est, ref, device="cuda", check_finite=False))


@pytest.mark.slow
@pytest.mark.parametrize("loss, dtype", [(fm.mrstft_loss, np.float32),
                                         (fm.sum_and_difference_loss, np.float64)])
def test_default_resolutions_match_the_cpu(cuda_backend, rng, loss, dtype):
    """MR-STFT's default resolutions (fft 1024/2048/512, hop 120/240/50, win 600/1200/240)
    on a short stereo signal, beside the tiny sizes above: the real transform lengths, with
    their swizzled shared-memory layout (float32's and float64's differ), frames per
    block and window supports. Default launch settings but one warp per block: the
    simulator runs every CUDA thread as a Python thread. 1100 samples is just longer than
    the largest resolution's padding (1024)."""
    est, ref = pair(rng, (1, 2, 1100), dtype)
    with launch_config(stft_threads=32):
        gpu = loss(est, ref, device="cuda", output="full")
    cpu = loss(est, ref, device="cpu", output="full")
    parts = (lambda r: [r]) if loss is fm.mrstft_loss else (lambda r: [r.sum, r.diff])
    for g, c in zip(parts(gpu), parts(cpu)):
        assert_breakdowns_close(g, c, rel_tol(dtype))
        for g_res, c_res in zip(g.resolutions, c.resolutions):
            assert_breakdowns_close(g_res, c_res, rel_tol(dtype))
    assert gpu.loss == pytest.approx(cpu.loss, rel=rel_tol(dtype))


@pytest.mark.slow
def test_silent_references_are_undefined_on_the_gpu_as_on_the_cpu(cuda_backend, rng):
    """The decision is made on the sums, above the backends: the GPU's floor-only sums
    (plain kernel, and the options kernel with a mel filterbank) give the same NaN and
    reasons, item by item, and S/D's dual-mono difference signal too."""
    est, ref = pair(rng, (3, 2, 120))
    ref[1] = 0.0             # item 1 silent
    ref[2, 1] = ref[2, 0]    # item 2 dual-mono
    sd = dict(fft_sizes=(16, 32), hop_sizes=(4, 8), win_lengths=(16, 32),
              reduction="none", output="full")
    for kwargs in (sd, dict(sd, scale="mel", n_bins=4, sample_rate=16000)):
        with launch_config(**TIGHT):
            gpu = fm.sum_and_difference_loss(est, ref, device="cuda", **kwargs)
        cpu = fm.sum_and_difference_loss(est, ref, device="cpu", **kwargs)
        np.testing.assert_array_equal(np.isnan(gpu.loss), [False, True, True])
        np.testing.assert_array_equal(np.isnan(gpu.diff.sc), [False, True, True])
        np.testing.assert_array_equal(np.isnan(gpu.sum.sc), [False, True, False])
        np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=1e-10)
        assert gpu.reasons == cpu.reasons
        assert gpu.reasons["diff.sc"].startswith("undefined for items 1, 2:")
