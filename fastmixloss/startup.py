"""Compiling the CPU kernels up front: what `fastmixloss.warmup()` and `fastmixloss warmup`
run, step by step, with a report of each step.

A step is one kernel (or the pair of kernels one family of losses needs) for one dtype. It
is either compiled (seconds, once per installation and dtype), loaded from Numba's
on-disk cache (tens of milliseconds), or already loaded in this process.
"""

import sys
import time
from typing import Callable, List, NamedTuple, Sequence, Union

import numpy as np

from .errors import ParameterError

DTYPES = ("float32", "float64")

COMPILED = "compiled"
LOADED = "loaded from cache"
READY = "already loaded"


class WarmupStep(NamedTuple):
    """What one warm-up step did: what `warmup` returns and passes to its `progress`
    callable, one per (kernel, dtype).

    Attributes
    ----------
    index : int
        1-based position among `total` steps.
    total : int
        How many steps this warm-up runs.
    kernel : str
        The kernel (or pair of kernels) the step compiled, and the losses it serves.
    dtype : str
        "float32" or "float64".
    status : str
        "compiled" (seconds, once per installation and dtype), "loaded from cache"
        (Numba's on-disk cache) or "already loaded" (in this process).
    seconds : float
        Wall time of the step.

    Examples
    --------
    >>> import fastmixloss
    >>> step = fastmixloss.WarmupStep(2, 6, "NaN/Inf check", "float64",
    ...                               "loaded from cache", 0.012)
    >>> step.describe()
    '[2/6] float64 NaN/Inf check: loaded from cache in 0.01 s'
    """

    index: int
    total: int
    kernel: str
    dtype: str
    status: str
    seconds: float

    def describe(self) -> str:
        """The step in one line, as ``progress=True`` prints it."""
        return (f"[{self.index}/{self.total}] {self.dtype} {self.kernel}: {self.status} "
                f"in {self.seconds:.2f} s")


def _time_domain(stereo):
    from . import time_domain
    time_domain.mse(stereo, stereo, check_finite=False)   # the two-sum pass
    # the shifted sums, on a signal that needs no exact recomputation (that kernel
    # compiles when first needed: silent references, scaled copies, huge samples)
    ramp = np.broadcast_to(np.arange(stereo.shape[-1], dtype=stereo.dtype), stereo.shape)
    time_domain.snr(0.5 * ramp, ramp, check_finite=False)


def _log_cosh(stereo):
    from . import time_domain
    time_domain.logcosh(stereo, stereo, check_finite=False)


def _finite_check(stereo):
    from .kernels.checks import finite_peak, first_nonfinite
    first_nonfinite(stereo)
    finite_peak(stereo)


def _stft(stereo):
    from . import spectral
    spectral.stft_loss(stereo, stereo, fft_size=16, hop_size=8, check_finite=False)


def _stft_options(stereo):
    from . import spectral
    from .kernels.stft_options import fir_rows_worker
    from .kernels.workers import read_only, run_workers
    # the phase term is an option: it takes the options kernel whatever else is set
    spectral.stft_loss(stereo, stereo, fft_size=16, hop_size=8, w_phs=1.0, check_finite=False)
    # A-weighting's FIR worker, as its driver calls it (the taps' values do not matter
    # here; the real ones are designed with SciPy)
    signal = read_only(stereo)
    spans = np.empty((2,) + stereo.shape, stereo.dtype)
    run_workers(fir_rows_worker, 1, 1, signal, signal, read_only(np.eye(2, dtype=stereo.dtype)),
                read_only(np.ones(3)), 0, stereo.shape[-1], spans[0], spans[1])


def _features(stereo):
    """Every feature kernel once, with the argument types compare_features passes."""
    from .features.kernels import block_energies, frame_features
    x = stereo[0]
    fft_size, hop = 16, 8
    n_frames = 1 + (x.shape[1] - fft_size) // hop
    freqs = np.linspace(0.0, 0.5, fft_size // 2 + 1)
    settings = np.array([0.85, 1e-10, 1e-38])
    contrast = np.array([[1, 5, 1]], np.int64)
    panning = np.array([[0, fft_size // 2]], np.int64)
    frame_features.spectral_tracks(x, 1.0, np.hanning(fft_size), n_frames, hop, freqs,
                                   settings, contrast, panning, 1)
    frame_features.chunk_sums(x, 1.0, hop, x.shape[1] // hop)
    frame_features.centred_mean_squares(x, fft_size, hop, 1 + x.shape[1] // hop)
    frame_features.max_abs(x)
    k_weighting = np.zeros((2, 5))
    k_weighting[:, 0] = 1.0   # identity filters: the values do not matter here
    block_energies.frame_block_energies(x, 32, 16, 3,
                                        np.array([[0, 16], [8, 32]], np.int64), k_weighting)
    cuts = np.array([0, 8, 16], np.int64)
    basis, _ = block_energies.zero_input_basis(k_weighting, 16, cuts)
    block_energies.chunk_energies(x, 16, 3, cuts, k_weighting, basis)
    block_energies.segment_energies(x, np.array([0, 32, x.shape[1]], np.int64), k_weighting)


def _dispatchers(name):
    """The compiled functions behind one step (for its cache statistics)."""
    from .features.kernels import block_energies, frame_features
    from .kernels import checks, stft, stft_options, time as time_kernels
    return {"time": (time_kernels.row_shifts_worker, time_kernels.time_sums_worker),
            "logcosh": (time_kernels.log_cosh_worker,),
            "finite": (checks.first_nonfinite_worker, checks.finite_peak_worker),
            "stft": (stft.stft_rows_worker,),
            "options": (stft_options.stft_option_worker, stft_options.fir_rows_worker),
            "features": (frame_features.spectral_tracks_worker,
                         frame_features.chunk_sums_worker,
                         frame_features.span_squares_worker,
                         frame_features.max_abs_worker,
                         block_energies.frame_block_energies_worker,
                         block_energies.zero_input_basis_worker,
                         block_energies.chunk_energies_worker,
                         block_energies.segment_energies_worker)}[name]


# (dispatcher group, description, call) in the order they run
STEPS = (
    ("time", "time-domain kernel (mse, l1, esr, dc, snr, sisdr, sdsdr)", _time_domain),
    ("finite", "NaN/Inf check", _finite_check),
    ("stft", "STFT kernel (stft, mrstft, sd)", _stft),
    ("logcosh", "log-cosh kernel", _log_cosh),
    ("options", "STFT options kernel (filterbanks, weighting, phase, scale invariance)",
     _stft_options),
    ("features", "mix-feature kernels (compare_features, feature_tracks, "
     "integrated_loudness)", _features),
)


def _counts(dispatchers):
    hits = misses = 0
    for dispatcher in dispatchers:
        stats = dispatcher.stats
        hits += sum(stats.cache_hits.values())
        misses += sum(stats.cache_misses.values())
    return hits, misses


def print_step(step, stream=None):
    """The progress=True reporter: one line per step on stderr."""
    stream = sys.stderr if stream is None else stream
    print(f"fastmixloss warmup {step.describe()}", file=stream, flush=True)


def check_dtypes(dtypes):
    if isinstance(dtypes, str):
        dtypes = (dtypes,)
    try:
        names = tuple(np.dtype(d).name for d in dtypes)
    except TypeError:
        names = ()
    if not names or any(n not in DTYPES for n in names):
        raise ParameterError(
            f"dtypes={dtypes!r}: choose from {', '.join(DTYPES)} (a name or a sequence)")
    return names


def reporter(progress):
    """None for no report, else a callable taking a WarmupStep."""
    if progress is None or progress is False:
        return None
    if progress is True:
        return print_step
    if callable(progress):
        return progress
    raise ParameterError(
        f"progress={progress!r} must be True (a line per step on stderr), False, or a "
        "callable that takes a fastmixloss.WarmupStep")


def warmup(dtypes: Union[str, Sequence[str]] = DTYPES,
           progress: Union[bool, Callable[[WarmupStep], object]] = False
           ) -> List[WarmupStep]:
    """Compile (or load from the on-disk cache) every CPU kernel for `dtypes`.

    Without it, the first call of a loss pays for compiling its kernel (seconds, once
    per installation and dtype) or loading it from the cache. One rarely needed kernel
    still compiles when first used: the time-domain losses' exact recomputation (silent
    references, huge samples).

    Parameters
    ----------
    dtypes : str or sequence of str, default ("float32", "float64")
        "float32", "float64" or both; others raise ParameterError.
    progress : bool or callable, default False
        False: quiet. True: one line per step on stderr. A callable: called with a
        WarmupStep after each step.

    Returns
    -------
    list of WarmupStep
        One per (kernel, dtype), in the order they ran.

    Examples
    --------
    >>> import fastmixloss
    >>> steps = fastmixloss.warmup("float64")
    >>> steps[-1].index == steps[-1].total == len(steps), steps[0].dtype
    (True, 'float64')
    >>> all(step.status in ("compiled", "loaded from cache", "already loaded")
    ...     for step in steps)
    True
    >>> fastmixloss.warmup("float64")[0].status       # the second time: nothing to do
    'already loaded'
    """
    dtypes = check_dtypes(dtypes)
    report = reporter(progress)
    total = len(dtypes) * len(STEPS)
    done = []
    for dtype in dtypes:
        stereo = np.zeros((1, 2, 64), dtype=dtype)
        for group, description, call in STEPS:
            start = time.perf_counter()   # the first step also imports Numba
            dispatchers = _dispatchers(group)
            hits, misses = _counts(dispatchers)
            call(stereo)
            seconds = time.perf_counter() - start
            new_hits, new_misses = _counts(dispatchers)
            status = (COMPILED if new_misses > misses else
                      LOADED if new_hits > hits else READY)
            step = WarmupStep(len(done) + 1, total, description, dtype, status, seconds)
            done.append(step)
            if report is not None:
                report(step)
    return done
