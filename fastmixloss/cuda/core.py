"""The CUDA backend: the seam of fastmixloss/backend.py, on numba.cuda kernels.

It returns the same per-row sums as the CPU kernels (to rounding), so everything above
the sums (weights, reductions, compat modes, breakdowns) is the CPU's own code.

STFT sizes: powers of two from 2 to 32768. A transform runs in shared memory (the fused
path) when 2 * frames_per_block * fft_size elements fit in the block's shared memory
(opting in above 48 KiB where the device allows: on an H100, float32 up to 16384 and
float64 up to 8192); larger ones run the same code with each block's buffer in global
scratch memory. Other sizes raise DeviceError before any STFT kernel runs.
"""

import threading
from dataclasses import dataclass

import numpy as np

from ..errors import DeviceError, ParameterError
from . import runtime, signals
from .fft import log2_exact, swizzle, twiddle_table

MAX_FFT_SIZE = 32768


@dataclass(frozen=True)
class LaunchConfig:
    """Launch geometry. Defaults suit a large GPU; tests turn the sizes down so that tiny
    inputs span many blocks. Thread counts are powers of two, at most 256.

    stft_threads: threads per block of the STFT kernels.
    points_per_block: samples per block the STFT path aims at: small transforms are
        grouped, several frames to a block, up to this many samples of each signal.
    time_threads, time_chunk: threads per block and samples per block of the time-domain
        kernels.
    reduce_threads: threads of the per-row final sums.
    scan_threads, scan_blocks: the NaN/Inf scan's block size and block count cap.
    shared_limit: bytes of shared memory the fused STFT path's transforms may use (the
        reduction area, stft_threads * 64 bytes, reuses them); None asks the device
        (opting in above 48 KiB where possible). 0 forces the scratch path.
    scratch_blocks: blocks (and scratch buffers) of the scratch path; None: 2 per SM.
    """

    stft_threads: int = 256
    points_per_block: int = 2048
    time_threads: int = 256
    time_chunk: int = 16384
    reduce_threads: int = 256
    scan_threads: int = 256
    scan_blocks: int = 1024
    shared_limit: int = None
    scratch_blocks: int = None

    def __post_init__(self):
        from .kernels import MAX_THREADS
        for name in ("stft_threads", "time_threads", "reduce_threads", "scan_threads"):
            value = getattr(self, name)
            if log2_exact(value) < 0 or value > MAX_THREADS:
                raise ParameterError(
                    f"{name}={value!r} must be a power of two from 1 to {MAX_THREADS}")
        for name in ("points_per_block", "time_chunk", "scan_blocks"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                raise ParameterError(f"{name}={getattr(self, name)!r} must be a "
                                     "positive integer")
        if self.shared_limit is not None and self.shared_limit < 0:
            raise ParameterError(f"shared_limit={self.shared_limit!r} must be >= 0")
        if self.scratch_blocks is not None and self.scratch_blocks < 1:
            raise ParameterError(f"scratch_blocks={self.scratch_blocks!r} must be >= 1")


class _Constants:
    """Windows, twiddles and mix matrices on the device, uploaded once per content."""

    def __init__(self, capacity=64):
        self._lock = threading.Lock()
        self._entries = {}
        self._capacity = capacity

    def get(self, kind, host):
        from numba import cuda
        key = (kind, host.dtype.str, host.shape, host.tobytes())
        with self._lock:
            found = self._entries.get(key)
        if found is not None:
            return found
        stream = cuda.stream() if not runtime.simulated() else 0
        device = cuda.to_device(np.ascontiguousarray(host), stream=stream)
        # finished before any stream (including non-blocking ones) may read it
        runtime.synchronize(stream)
        with self._lock:
            if len(self._entries) >= self._capacity:
                self._entries.pop(next(iter(self._entries)))
            self._entries[key] = device
        return device


class StftLayout:
    """How one resolution is cut into blocks: frames per block, path, buffer sizes."""

    def __init__(self, plan, n_signals_rows, itemsize, config, shared_limit):
        self.fft_size = plan.fft_size
        self.log2_m = log2_exact(plan.fft_size // 2)
        self.swizzle = swizzle(self.log2_m, itemsize)     # (shift, mask), see fft.py
        per_frame = 2 * plan.fft_size * itemsize          # est + ref, re + im planes
        wanted = max(1, min(plan.n_frames, config.points_per_block // plan.fft_size))
        fits = shared_limit // per_frame
        self.fused = fits >= 1
        self.per_block = min(wanted, fits) if self.fused else 1
        self.shared_bytes = self.per_block * per_frame if self.fused else 0
        self.n_groups = -(-plan.n_frames // self.per_block)
        self.n_tasks = n_signals_rows * self.n_groups
        self.buffer_elements = 2 * self.per_block * plan.fft_size


class CudaBackend:
    """numba.cuda kernels behind the interface of fastmixloss.backend."""

    name = "cuda"

    def __init__(self, config=None):
        self.config = config if config is not None else LaunchConfig()
        self._constants = _Constants()
        self._local = threading.local()

    # launch settings can be overridden per thread, for tests and tuning
    @property
    def launch(self):
        return getattr(self._local, "config", None) or self.config

    def with_config(self, config):
        """Make `config` this thread's launch configuration (None: the default)."""
        self._local.config = config

    # ------------------------------------------------------------------------ signals
    def as_signal_pair(self, est, ref, require_batch=False, channels=None):
        return signals.as_signal_pair(est, ref, require_batch=require_batch,
                                      channels=channels)

    def raise_if_nonfinite(self, est3, ref3, rows=None):
        config = self.launch
        signals.raise_if_nonfinite(est3, ref3, rows=rows, threads=config.scan_threads,
                                   max_blocks=config.scan_blocks)

    def finite_peak(self, est3, ref3):
        config = self.launch
        return signals.finite_peak(est3, ref3, threads=config.scan_threads,
                                   max_blocks=config.scan_blocks)

    # --------------------------------------------------------------------------- STFT
    def check_fft_size(self, fft_size):
        if log2_exact(fft_size) < 1 or fft_size > MAX_FFT_SIZE:
            raise DeviceError(
                f"fft_size={fft_size} is not supported on the GPU: the CUDA kernels take "
                f"powers of two from 2 to {MAX_FFT_SIZE}; use device='cpu' for it")

    def stft_row_partials(self, est3, ref3, frame_mix, row_mix, window, plan):
        """The CPU's (B, n_blocks, R, N_TERMS) as one block: each row transformed as its
        own mix of the channels, row_mix @ frame_mix (the GPU kernel does not mix
        spectra; a derived row rounds its samples once, as the row alone would)."""
        from ..kernels.layout import N_TERMS
        from . import kernels
        if plan.frame_start != -(plan.fft_size // 2):
            raise ValueError("the CUDA kernels frame whole, centred signals only")
        mix = np.asarray(row_mix, np.float64) @ np.asarray(frame_mix, np.float64)
        if np.array_equal(mix, np.eye(est3.shape[1])):
            mix = None
        sums = self._stft_sums(est3, ref3, mix, window, plan, kernels.stft_shared,
                               kernels.stft_scratch, (), N_TERMS)
        return sums[:, None]

    def stft_option_sums(self, est3, ref3, mix, jobs, taps, alphas):
        """The spectral options' sums, one (B, R, N_OPTION_TERMS) per layout.OptionJob, as
        the CPU's options kernel (kernels/stft_options.py) computes them. Each job runs on
        its own: the GPU kernel filters every sample it reads (no shared prefilter)."""
        return [self._option_job_sums(est3, ref3, mix, job.window, job.plan, job.options,
                                      job.filterbank, taps, alpha)
                for job, alpha in zip(jobs, alphas)]

    def _option_job_sums(self, est3, ref3, mix, window, plan, options, filterbank, taps,
                         alpha):
        from numba import cuda

        from ..filterbanks import kernel_arrays
        from ..kernels.layout import N_OPTION_TERMS
        from . import options as kernels
        starts, offsets, weights = kernel_arrays(filterbank)
        constants = self._constants
        extra = kernels.kernel_arguments(
            options,
            constants.get("fb_starts", np.ascontiguousarray(starts, np.int64)),
            constants.get("fb_offsets", np.ascontiguousarray(offsets, np.int64)),
            constants.get("fb_weights", np.ascontiguousarray(weights)),
            constants.get("taps", np.ascontiguousarray(taps, np.float64)),
            cuda.to_device(np.ascontiguousarray(alpha, np.float64), stream=est3.stream))
        return self._stft_sums(est3, ref3, mix, window, plan, kernels.stft_options_shared,
                               kernels.stft_options_scratch, extra, N_OPTION_TERMS)

    def _stft_sums(self, est3, ref3, mix, window, plan, fused_kernel, scratch_kernel,
                   extra, n_sums):
        """Launch one STFT kernel pair (fused or scratch path) over every (item, row,
        frame group) task: host float64 (B, R, n_sums). `extra` is the pair's own tuple
        of arguments (see kernels.stft_kernels)."""
        from numba import cuda

        from . import kernels
        self.check_fft_size(plan.fft_size)
        config = self.launch
        stream = est3.stream
        n_items, n_channels, _ = est3.shape
        n_rows = n_channels if mix is None else mix.shape[0]
        dtype = est3.dtype
        d_window = self._constants.get("window", np.asarray(window, dtype=dtype))
        d_twiddle = self._constants.get("twiddle", twiddle_table(plan.fft_size, dtype))
        use_mix = mix is not None
        d_mix = self._constants.get(
            "mix", np.asarray(mix, dtype=dtype) if use_mix else np.ones((1, 1), dtype))
        eps = float(plan.eps)

        def geometry(layout):
            return tuple(np.int64(v) for v in (
                plan.fft_size, layout.log2_m, plan.hop_size, plan.win_start,
                plan.win_stop, plan.n_frames, layout.per_block, n_rows, layout.n_groups,
                int(use_mix), plan.log_mode, plan.lin_mode, *layout.swizzle))

        threads = config.stft_threads
        red_bytes = kernels.shared_bytes(threads)
        if config.shared_limit is not None:
            budget = config.shared_limit
        else:
            # the opt-in is per kernel and argument types: probe with a stand-in layout
            # (a host array types the partial sums as the device one would)
            probe = StftLayout(plan, n_items * n_rows, dtype.itemsize, config, 0)
            budget = runtime.dynamic_shared_limit(
                fused_kernel,
                (est3.array, ref3.array, d_mix, d_window, d_twiddle, geometry(probe), eps,
                 extra, np.zeros((1, n_sums))))
        layout = StftLayout(plan, n_items * n_rows, dtype.itemsize, config, budget)
        geo = geometry(layout)
        partial = cuda.device_array((layout.n_tasks, n_sums), dtype=np.float64,
                                    stream=stream)
        args = (est3.array, ref3.array, d_mix, d_window, d_twiddle, geo, eps, extra,
                partial)
        if layout.fused:
            fused_kernel[layout.n_tasks, threads, stream,
                         kernels.shared_bytes(threads, layout.shared_bytes)](*args)
        else:
            blocks = min(layout.n_tasks, config.scratch_blocks
                         or 2 * runtime.multiprocessor_count())
            scratch = cuda.device_array((blocks, layout.buffer_elements), dtype=dtype,
                                        stream=stream)
            scratch_kernel[blocks, threads, stream, red_bytes](*args, scratch)
        sums = self._sum_groups(
            partial.reshape(n_items * n_rows, layout.n_groups, n_sums), stream)
        return sums.reshape(n_items, n_rows, n_sums)

    def _sum_groups(self, partial, stream):
        """Host float64 (rows, sums) from device partials (rows, groups, sums)."""
        from numba import cuda

        from .kernels import shared_bytes, sum_groups
        n_rows, _, n_sums = partial.shape
        threads = self.launch.reduce_threads
        out = cuda.device_array((n_rows, n_sums), dtype=np.float64, stream=stream)
        sum_groups[n_rows, threads, stream, shared_bytes(threads)](partial, out)
        host = out.copy_to_host(stream=stream)
        runtime.synchronize(stream)
        return host

    # ---------------------------------------------------------------------- time domain
    def _chunks(self, rows):
        length = rows.shape[1]
        chunk = self.launch.time_chunk
        return chunk, -(-length // chunk)

    def time_sums(self, est2, ref2):
        from numba import cuda

        from . import kernels
        from ..kernels.layout import N_SHIFTS, N_TIME_SUMS
        config = self.launch
        stream = est2.stream
        n_rows = est2.shape[0]
        threads = config.time_threads
        red_bytes = kernels.shared_bytes(threads)
        shifts = cuda.device_array((n_rows, N_SHIFTS), dtype=np.float64, stream=stream)
        kernels.row_shifts[n_rows, threads, stream, red_bytes](est2.array, ref2.array,
                                                               shifts)
        chunk, n_chunks = self._chunks(est2)
        partial = cuda.device_array((n_rows, n_chunks, N_TIME_SUMS), dtype=np.float64,
                                    stream=stream)
        kernels.time_sums[n_rows * n_chunks, threads, stream, red_bytes](
            est2.array, ref2.array, shifts, np.int64(chunk), partial)
        host_shifts = shifts.copy_to_host(stream=stream)
        return self._sum_groups(partial, stream), host_shifts

    def host_rows(self, x2, rows):
        stream = x2.stream
        host = np.stack([x2.array[int(row)].copy_to_host(stream=stream) for row in rows])
        runtime.synchronize(stream)
        return host

    def exact_energies(self, est2, ref2, rows, scales, stage, state):
        """The CPU kernel's, on host copies of the rows: they are few (those the one-pass
        sums cannot settle), and its compensated sums run one sample after another, which
        one GPU thread per row would do far slower than the copy."""
        from ..kernels.time import exact_energies
        return exact_energies(self.host_rows(est2, rows), self.host_rows(ref2, rows),
                              np.arange(len(rows)), scales, stage, state)

    def log_cosh_sums(self, est2, ref2, a, eps):
        from numba import cuda

        from . import kernels
        config = self.launch
        stream = est2.stream
        n_rows = est2.shape[0]
        chunk, n_chunks = self._chunks(est2)
        partial = cuda.device_array((n_rows, n_chunks, 1), dtype=np.float64, stream=stream)
        threads = config.time_threads
        kernels.log_cosh_sums[n_rows * n_chunks, threads, stream,
                              kernels.shared_bytes(threads)](
            est2.array, ref2.array, float(a), float(eps), np.int64(chunk), partial)
        return self._sum_groups(partial, stream)[:, 0]

