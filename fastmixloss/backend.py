"""Where a loss runs: the CPU kernels, or the CUDA ones.

A backend turns validated signals into the kernels' per-row sums; everything above it
(weights, reductions, breakdowns, auraloss compatibility) is shared, so the CPU and the GPU
give the same numbers by construction. The CUDA backend is imported only when asked for:
`import fastmixloss` never touches CUDA.

A backend provides:
  name
  as_signal_pair(est, ref, require_batch, channels) -> (est3, ref3, ndim)
  raise_if_nonfinite(est3, ref3, rows=None)
  finite_peak(est3, ref3) -> (largest finite |sample|, any NaN/Inf)   (optional)
  check_fft_size(fft_size)  -> raises where this backend cannot transform that size
  stft_row_partials(est3, ref3, frame_mix, row_mix, window, plan)
      -> host float64 (B, n_blocks, R, N_TERMS): the term sums of each row (row_mix's
      mixes of the transforms' spectra, the transforms frame_mix's mixes of the channels)
      per block of frames, added over axis 1 in order by the caller (kernels/stft.py)
  stft_option_sums(est3, ref3, mix, jobs, taps, alphas)
      -> one host float64 (B, R, N_OPTION_TERMS) per layout.OptionJob: the spectral
      options' sums of every resolution of a call (one prefilter serves them all)
  time_sums(est2, ref2) -> host float64 ((N, N_TIME_SUMS), (N, N_SHIFTS)): the shifted
      sums of whole rows and their shifts
  log_cosh_sums(est2, ref2, a, eps) -> host float64 (N,)
  difference_sums(est2, ref2) -> host float64 (N, 2): sum d^2, sum |d|   (optional: its
      presence says the backend has the light pass of MSE and L1, which use time_sums'
      sums where a backend lacks it)
  time_shifts(est2, ref2) -> host float64 (N, N_SHIFTS)
  time_chunk_sums(est2, ref2, shifts, differences)
      -> host float64 ((N, K, N_TIME_SUMS) or None, (N, K, 2) or None)
  log_cosh_chunk_sums(est2, ref2, a, eps) -> host float64 (N, K)
      (optional, the three together) the sums above per chunk of layout.TIME_CHUNK
      samples of a piece of the signal, for the caller to add in order: the shifted sums
      about the given shifts (shifts None: none) and the light pass's (differences
      True). A backend without them computes whole signals only (time_domain.TimePass
      fed one piece).
  host_rows(x2, rows) -> host copies of the listed rows of an (N, T) signal, in its dtype
      (the few rows whose sums came out non-finite or that need recomputing)
  exact_energies(est2, ref2, rows, scales, stage, state)
      -> host float64 (len(rows), N_EXACT): the listed rows' exact-recomputation state
      after pass `stage` over this piece (kernels/time.exact_span), each row scaled by its
      power of two (the rows the one-pass sums cannot settle)

Signals: the (B, C, T) est3, ref3 and their (N, T) rows est2, ref2 are what as_signal_pair
returned (or its reshape): host arrays on the CPU, device signals on the GPU; code above
the seam reads only their .shape and .dtype and reshapes them.
"""

import functools
import re

from . import filterbanks, validation
from .errors import ParameterError

DEVICES = (None, "cpu", "cuda")


def interrupt_is_keyboard_interrupt(function):
    """Let a Ctrl-C out as KeyboardInterrupt.

    A compiled function that returns an array to Python calls back into Python to box it;
    a Ctrl-C pending at that moment surfaced as `SystemError: CPUDispatcher(...) returned
    a result with an exception set`, the KeyboardInterrupt only its cause. The CPU kernels
    now run on worker threads and return nothing, so this is the safety net for any kernel
    called straight from the main thread.
    """
    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except SystemError as exc:
            for cause in (exc.__cause__, exc.__context__):
                if isinstance(cause, KeyboardInterrupt):
                    raise KeyboardInterrupt() from exc
            raise
    return call


def _time_kernel(name):
    """A CpuBackend method: kernels/time.py's function `name`, imported on first use."""
    @interrupt_is_keyboard_interrupt
    def call(*args):
        from .kernels import time as time_kernels
        return getattr(time_kernels, name)(*args)
    call.__name__ = call.__qualname__ = name
    return staticmethod(call)


class CpuBackend:
    """The Numba CPU kernels, imported on first use so that `import fastmixloss` is fast."""

    name = "cpu"

    @staticmethod
    def as_signal_pair(est, ref, require_batch=False, channels=None):
        return validation.as_signal_pair(est, ref, require_batch=require_batch,
                                         channels=channels)

    @staticmethod
    @interrupt_is_keyboard_interrupt
    def raise_if_nonfinite(est3, ref3, rows=None):
        validation.raise_if_nonfinite(est3, ref3, rows=rows)

    @staticmethod
    @interrupt_is_keyboard_interrupt
    def finite_peak(est3, ref3):
        """(largest finite |sample| of both, any NaN or Inf in either), one pass each."""
        from .kernels.checks import finite_peak
        (peak_e, bad_e), (peak_r, bad_r) = finite_peak(est3), finite_peak(ref3)
        return max(peak_e, peak_r), bool(bad_e or bad_r)

    @staticmethod
    def check_fft_size(fft_size):
        """Every size works on the CPU (DUCC handles any length)."""

    @staticmethod
    @interrupt_is_keyboard_interrupt
    def stft_row_partials(est3, ref3, frame_mix, row_mix, window, plan):
        from .kernels.stft import stft_row_partials
        from .kernels.workers import thread_count
        # the thread count is read per call, so numba.set_num_threads takes effect
        return stft_row_partials(est3, ref3, frame_mix, row_mix, window, plan,
                                 thread_count())

    @staticmethod
    @interrupt_is_keyboard_interrupt
    def stft_option_sums(est3, ref3, mix, jobs, taps, alphas):
        """The options kernel's sums, one (B, R, N_OPTION_TERMS) per job."""
        from .kernels.stft_options import stft_option_sums
        from .kernels.workers import thread_count
        arrays = [(job.window, job.plan, job.options,
                   *filterbanks.kernel_arrays(job.filterbank)) for job in jobs]
        return stft_option_sums(est3, ref3, mix, arrays, taps, alphas, thread_count())

    # the time-domain kernels (see the list above)
    time_sums = _time_kernel("time_sums")
    difference_sums = _time_kernel("difference_sums")
    log_cosh_sums = _time_kernel("log_cosh_sums")
    time_shifts = _time_kernel("time_shifts")
    time_chunk_sums = _time_kernel("time_chunk_sums")
    log_cosh_chunk_sums = _time_kernel("log_cosh_chunk_sums")
    exact_energies = _time_kernel("exact_energies")

    @staticmethod
    def host_rows(x2, rows):
        return x2[rows]


CPU = CpuBackend()


def on_cuda_device(x):
    """True for CuPy arrays, Numba device arrays and PyTorch CUDA tensors."""
    return hasattr(x, "__cuda_array_interface__")


class CudaDevice(str):
    """device="cuda:N": equal to "cuda" wherever the library asks which backend runs
    (a plan, a face, the evaluation compare with "cuda"), and carrying which GPU, which
    `select` makes Numba's current device of the calling thread before the loss runs
    there. Shown as 'cuda:N'."""

    def __new__(cls, index):
        device = super().__new__(cls, "cuda")
        device.gpu_index = index
        return device

    def __repr__(self):
        return f"'cuda:{self.gpu_index}'"

    def __str__(self):
        return f"cuda:{self.gpu_index}"

    def __reduce__(self):   # pickles (to Dask workers, to a worker process) as itself
        return (CudaDevice, (self.gpu_index,))


_CUDA_INDEX = re.compile(r"cuda:(\d{1,4})")


def check_device(device):
    """None (the GPU when an input lives there), "cpu", "cuda" (Numba's current GPU) or
    "cuda:N" (GPU N, numbered as CUDA numbers them: CUDA_VISIBLE_DEVICES applies)."""
    if isinstance(device, str) and not isinstance(device, CudaDevice):
        numbered = _CUDA_INDEX.fullmatch(device)
        if numbered:
            return CudaDevice(int(numbered[1]))
    if not (device is None or isinstance(device, str)) or device not in DEVICES:
        raise ParameterError(f"device={device!r} must be 'cpu', 'cuda', 'cuda:N' (GPU N, "
                             "e.g. 'cuda:1') or None (automatic)")
    return device


def select(device, est, ref):
    """The backend for `device`; None picks CUDA when an input already lives there."""
    if device is None:
        device = "cuda" if on_cuda_device(est) or on_cuda_device(ref) else "cpu"
    if device == "cpu":
        return CPU
    from .cuda import backend as cuda_backend   # imported on first use only
    chosen = cuda_backend()
    index = getattr(device, "gpu_index", None)
    if index is not None:
        from .cuda.runtime import use_device
        use_device(index)
    return chosen
