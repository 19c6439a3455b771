"""What the kernels take and return, as plain Python: the per-resolution plan and the
indices of the sums. Free of Numba, so `import fastmixloss` stays light; the kernels
themselves are compiled or loaded from the cache on first use.
"""

from typing import NamedTuple

# STFT term sums per (item, row), see terms.py
N_TERMS = 4
SC_NUM, SC_DEN, LOG_DIST, LIN_DIST = range(N_TERMS)
# the options kernel's sums (stft_options.py): the four above, then these
N_OPTION_TERMS = 6
PHASE_DIST, DOT = 4, 5
# distance modes of the log and linear terms; NO_TERM skips a term whose weight is zero
NO_TERM, L1, L2 = 0, 1, 2

# the power ratio handed to the log is clamped to [POWER_RATIO_MIN, POWER_RATIO_MAX], which
# keeps it a normal float64 even for absurdly loud input
POWER_RATIO_MIN, POWER_RATIO_MAX = 1e-300, 1e300

# time-domain sums per row, see time.py, added up per TIME_CHUNK samples of a row: a
# signal fed in pieces of whole chunks gives the same partial sums as the whole signal
TIME_CHUNK = 1 << 16
N_TIME_SUMS = 6
SUM_Y, SUM_YY, SUM_D, SUM_DD, SUM_DY, SUM_ABS_D = range(N_TIME_SUMS)
N_SHIFTS = 2
SHIFT_Y, SHIFT_D = range(N_SHIFTS)
# the shifts are the means of a row's first SHIFT_SAMPLES samples (within the first chunk)
SHIFT_SAMPLES = 4096
# Rows recomputed from their own means (time.exact_span) take up to three passes over the
# signal; their state, carried from piece to piece and pass to pass, holds each pass's
# sums, what is set between passes (the means, alpha) and the results.
EXACT_MEANS, EXACT_ENERGIES, EXACT_RESIDUAL_PASS = range(3)
N_EXACT = 16
(EXACT_SUM_E, EXACT_SUM_Y, EXACT_Y_MIN, EXACT_Y_MAX, EXACT_MEAN_E, EXACT_MEAN_Y, EXACT_DD,
 EXACT_YY, EXACT_YY_LOW, EXACT_EY, EXACT_EY_LOW, EXACT_D, EXACT_OFF_E, EXACT_OFF_Y,
 EXACT_ALPHA, EXACT_RESIDUAL) = range(N_EXACT)


class FramePlan(NamedTuple):
    """Everything about one resolution that the STFT kernel needs, as plain numbers."""

    fft_size: int
    hop_size: int
    win_start: int          # the window's support within a frame: [win_start, win_stop)
    win_stop: int
    n_frames: int           # 1 + (T + 2*(fft_size//2) - fft_size) // hop_size
    frames_per_block: int
    log_mode: int           # NO_TERM, L1 or L2
    lin_mode: int
    eps: float
    frame_start: int        # where frame 0 starts in the signal given: -(fft_size // 2)
                            # for centred frames; a piece of a signal has its own


class OptionPlan(NamedTuple):
    """The spectral options as plain numbers (the arrays travel beside it)."""

    n_bands: int            # bands of the filterbank; 0: none, terms over the F bins
    log_fac: float          # the log term is of log(log_fac * X + log_eps)
    log_eps: float
    phase: bool             # add the phase term's sums
    prefilter: bool         # filter both signals with the FIR taps before framing (on the
                            # CPU: read frames from the filtered spans the driver made)
    # framing: frame k starts at k * hop - pad_left (torch's centring: fft_size // 2);
    # outside the signal, reflection (numpy "reflect") or, with zero_pad, zeros
    pad_left: int
    zero_pad: bool
    # magnitude sqrt(max(P, eps)), or sqrt(P + eps) with eps_added (HiFi-GAN)
    eps_added: bool
    # the log term's values v = log_fac * X + log_eps become log_floor where
    # v <= log_threshold: a clamp max(v, c) is threshold = floor = c; DDSP's "safe log"
    # (only exact zeros replaced by 1e-5) is threshold 0, floor 1e-5
    log_threshold: float
    log_floor: float


def frame_count(length, fft_size, hop_size):
    """Number of centred frames of a signal of `length` samples (torch.stft's count)."""
    return 1 + (length + 2 * (fft_size // 2) - fft_size) // hop_size


def frames_per_block(fft_size, n_frames, target_samples=32768, simd_frames=8):
    """Frames transformed per FFT call, a multiple of 8: DUCC transforms 8 float32 frames
    side by side with AVX2, which halves the FFT time against one frame at a time up to
    fft_size 4096 (measured; at 8192 and above it makes no difference). Blocks of about
    32768 samples keep the four per-thread buffers near L2."""
    per_block = max(simd_frames, target_samples // fft_size // simd_frames * simd_frames)
    return int(max(1, min(n_frames, per_block)))


class OptionJob(NamedTuple):
    """One resolution's work for the options kernel: what backend.stft_option_sums takes,
    a list of them per call, so that one prefilter serves every resolution."""

    window: object          # (fft_size,) in the signals' dtype, zero outside the support
    plan: FramePlan
    options: OptionPlan
    filterbank: object      # filterbanks.Filterbank, or None
