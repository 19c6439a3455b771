"""What every CUDA kernel needs of an H100 (sm_90), known without one.

kernel_resources.py builds each kernel, float32 and float64, the way numba-cuda launches it
(LTO-IR from NVVM, linked by nvJitLink, whose ptxas reports each kernel's resources), in a
subprocess: this process runs the simulator. It needs numba-cuda with NVVM and nvJitLink,
which `.[dev]` (and so CI) installs; without them the build tests skip, saying so.

What the figures mean (sm90.py has the SM's capacities):
- registers: 32-bit registers per thread. A block of T threads holds T x registers of the
  SM's 65536 (in units of 256 per warp); fewer blocks fit when each needs more, and with
  fewer resident warps the SM has less work to switch to while one waits on memory.
- stack, spill stores/loads: bytes per thread in local memory (slow, off-chip) for values
  that did not fit in registers; all must be 0.
- static shared: shared memory declared with a fixed size. Ours is all dynamic (sized at
  launch, see kernels.py), so a launch's shared memory is exactly what the backend asks.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sm90 import (SHARED_OPTIN_PER_BLOCK, SHARED_WITHOUT_OPTIN, blocks_per_sm)

from fastmixloss.cuda import kernels
from fastmixloss.cuda.core import MAX_FFT_SIZE, LaunchConfig, StftLayout
from fastmixloss.kernels.layout import FramePlan

SCRIPT = Path(__file__).with_name("kernel_resources.py")
ROOT = Path(__file__).resolve().parents[2]
STFT_KERNELS = ("stft_shared", "stft_scratch")
# the spectral options' kernels (cuda/options.py): more live values (the FIR, the
# filterbank, six sums) than the plain STFT kernels, held to the same 3 blocks per SM
OPTION_KERNELS = ("stft_options_shared", "stft_options_scratch")
# MR-STFT's default resolutions, in frames of a 1 s signal at 44.1 kHz (hop 120/240/50)
DEFAULT_RESOLUTIONS = [(1024, 368), (2048, 184), (512, 883)]
SIZES = [1 << b for b in range(8, 16)]           # the fft sizes 256 .. 32768
assert SIZES[-1] == MAX_FFT_SIZE


@pytest.fixture(scope="module")
def resources():
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "0"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True,
                            env=env, timeout=900)
    if result.returncode == 3:            # kernel_resources.TOOLCHAIN_MISSING
        # CI installs the toolchain ([dev]): there a missing compiler is a failure, so
        # the sm_90 checks can never stop running without a word
        if os.environ.get("CI"):
            pytest.fail("CI must build for sm_90, and cannot: " + result.stdout.strip())
        pytest.skip("cannot build for sm_90 here: " + result.stdout.strip())
    assert result.returncode == 0, result.stdout + result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_every_kernel_builds_for_sm90(resources):
    # 2 dtypes x (2 STFT, 3 time-domain, 2 scans, 3 copies) + the final sums, and the 2
    # options kernels for float64, float32 and float32 with a float32 filterbank, and the
    # time-domain gradient (float32, float64, float64 into float32), and the spectral
    # gradient's: plain and options frame gradients (fused and scratch), the gather, the
    # prefilter's transpose and the zeroing per dtype (and the gather of float32 rows into
    # float64), the filterbank's pair and the scale sums' pair as the options kernels'
    assert len(resources) == 21 + 6 + 3 + 2 * 7 + 1 + 6 + 6
    assert {r["kernel"] for r in resources} == {
        "stft_shared", "stft_scratch", "stft_options_shared", "stft_options_scratch",
        "row_shifts", "time_sums", "log_cosh_sums", "first_nonfinite", "finite_peak",
        "copy_3d", "sum_groups", "time_gradient_kernel", "stft_gradient_shared",
        "stft_gradient_scratch", "stft_option_gradient_shared",
        "stft_option_gradient_scratch", "stft_bank_gradient_shared",
        "stft_bank_gradient_scratch", "stft_scale_sums_shared", "stft_scale_sums_scratch",
        "gather_gradient", "fir_adjoint", "fill_zero"}


@pytest.mark.slow
def test_no_spills_no_stack_no_static_shared(resources):
    for r in resources:
        name = f"{r['kernel']} ({r['dtype']})"
        assert (r["spill_stores"], r["spill_loads"]) == (0, 0), name
        assert r["stack"] == 0, name
        assert r["static_shared"] == 0 and r["ptx_static_shared"] == 0, name


@pytest.mark.slow
def test_registers_leave_room_for_several_blocks_per_sm(resources):
    """At the launch's threads per block (256): at least 2 blocks per SM for every kernel,
    so one block's barriers never leave an SM idle; at least 3 for the STFT kernels (the
    options' too), which wait on shared memory between FFT stages."""
    for r in resources:
        needed = 3 if r["kernel"] in STFT_KERNELS + OPTION_KERNELS else 2
        got = blocks_per_sm(r["registers"], r["threads"])
        assert got >= needed, (f"{r['kernel']} ({r['dtype']}): {r['registers']} registers "
                               f"x {r['threads']} threads: {got} blocks per SM")


@pytest.mark.slow
def test_no_64_bit_integer_division_in_loops(resources):
    """The GPU has no 64-bit integer divider: div.s64 / rem.u64 become a call to a
    software routine of ~70 instructions. None may run per bin, per sample or per
    butterfly; a division before a loop (once per thread) is allowed."""
    for r in resources:
        assert r["ptx_div64_in_loops"] == 0, f"{r['kernel']} ({r['dtype']})"
    for r in resources:
        if r["kernel"] in STFT_KERNELS + OPTION_KERNELS:
            assert r["ptx_div64"] == 0 and not r["div64_helpers"], r


def _layout(fft_size, dtype, shared_limit, n_frames=1000):
    plan = FramePlan(fft_size=fft_size, hop_size=fft_size // 4, win_start=0,
                     win_stop=fft_size, n_frames=n_frames, frames_per_block=1, log_mode=1,
                     lin_mode=0, eps=1e-7, frame_start=-(fft_size // 2))
    return StftLayout(plan, 2, np.dtype(dtype).itemsize, LaunchConfig(), shared_limit)


def _launch_shared_bytes(layout):
    """Dynamic shared memory of the STFT launch, as CudaBackend.stft_row_partials asks it."""
    threads = LaunchConfig().stft_threads
    return kernels.shared_bytes(threads, layout.shared_bytes if layout.fused else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("fft_size", SIZES)
def test_stft_launch_shared_memory_within_its_limit(fft_size, dtype):
    """With the opt-in an H100 grants (227 KiB per block) and on the fallback path that
    never opts in (48 KiB, what every block gets): the launch asks no more than that, and
    the transforms that do not fit take the scratch path, whose launch needs only the
    reduction area."""
    for limit in (SHARED_OPTIN_PER_BLOCK, SHARED_WITHOUT_OPTIN):
        layout = _layout(fft_size, dtype, limit)
        assert _launch_shared_bytes(layout) <= limit
        assert layout.fused == (2 * fft_size * np.dtype(dtype).itemsize <= limit)
    assert kernels.shared_bytes(LaunchConfig().stft_threads) <= SHARED_WITHOUT_OPTIN


@pytest.mark.slow
def test_stft_kernels_fit_three_blocks_per_sm_at_the_default_sizes(resources):
    """Registers and shared memory together, at MR-STFT's default resolutions."""
    registers = {(r["kernel"], r["dtype"]): r["registers"] for r in resources}
    threads = LaunchConfig().stft_threads
    for dtype in ("float32", "float64"):
        for fft_size, n_frames in DEFAULT_RESOLUTIONS:
            layout = _layout(fft_size, dtype, SHARED_OPTIN_PER_BLOCK, n_frames)
            assert layout.fused
            got = blocks_per_sm(registers["stft_shared", dtype], threads,
                                _launch_shared_bytes(layout))
            assert got >= 3, (dtype, fft_size, got)
