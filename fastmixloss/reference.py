"""Plain NumPy versions of every loss, written straight from the formulas of docs/numerics.md.

Slow and obviously right: float64 throughout, an explicit padded copy, every frame
materialised, `numpy.fft.rfft`. They are the oracle the fast kernels are tested against
and a contender in bench/. They hold whole spectrograms: do not use them on long signals.

Every function takes (B, C, T) arrays, or (T,) and (C, T) as one item (as the library's
losses do). The time-domain ones return per-item float64 arrays of shape (B,); the
spectral ones a dict of such arrays (loss and each term), or, with compat=True,
auraloss's batch-wide values. A spectral convergence whose reference has no energy above
the magnitude floor is NaN (compat=True: auraloss's floor-divided value), and so is a
loss that weights it.
"""

import numpy as np

EPS = 1e-8


def as_items(x):
    """x as float64 (B, C, T): (T,) is one item of one channel, (C, T) one item."""
    x = np.asarray(x, dtype=np.float64)
    return x.reshape((1,) * (3 - x.ndim) + x.shape)


def _weighted(terms):
    """sum of weight * value, leaving out zero weights (a NaN term counts only where
    it is weighted)."""
    return sum(weight * value for weight, value in terms if weight)


def window(name, win_length):
    """Periodic window from its formula (n = 0 .. N-1, N = win_length)."""
    n = np.arange(win_length)
    x = 2.0 * np.pi * n / win_length
    if name == "hann":
        return 0.5 - 0.5 * np.cos(x)
    if name == "hamming":
        return 0.54 - 0.46 * np.cos(x)
    if name == "blackman":
        return 0.42 - 0.5 * np.cos(x) + 0.08 * np.cos(2 * x)
    if name == "bartlett":
        return 1.0 - np.abs(2.0 * n / win_length - 1.0)
    if name == "rectangular":
        return np.ones(win_length)
    raise ValueError(name)


def torch_float32_window(name, win_length):
    """The window as torch's float32 window functions compute it (auraloss's): the
    symmetric window of N = win_length + 1 points with every step rounded to float32,
    cos correctly rounded (torch's own float32 cos may differ by an ulp), last point
    dropped."""
    return _torch_float32_window(name, win_length).astype(np.float64)


def _torch_float32_window(name, win_length):
    f32 = np.float32
    if name not in ("hann", "hamming", "blackman", "bartlett"):
        return window(name, win_length).astype(f32)
    if win_length == 1:
        return np.ones(1, f32)
    n = np.arange(win_length + 1, dtype=f32)
    if name == "bartlett":
        w = n * f32(2.0 / win_length)
        half = win_length // 2 + 1
        w[half:] = w[half:] * f32(-1) + f32(2)
        return w[:-1]
    cos = lambda x: np.cos(x.astype(np.float64)).astype(f32)   # noqa: E731
    if name == "blackman":
        x = n * f32(np.pi / win_length)
        return ((cos(x * f32(4)) * f32(0.08) - cos(x * f32(2)) * f32(0.5)) + f32(0.42))[:-1]
    alpha, beta = {"hann": (0.5, 0.5), "hamming": (0.54, 0.46)}[name]
    return (cos(n * f32(2.0 * np.pi / win_length)) * f32(-beta) + f32(alpha))[:-1]


def fir_same(x, taps):
    """Each row of x (..., T) through the FIR `taps` (odd length), zero-padded "same":
    y[n] = sum_k taps[k] * x[n + k - len(taps) // 2], x = 0 outside [0, T) (torch's conv1d,
    a correlation; the A-weighting taps are symmetric, so it is also a convolution)."""
    x = np.asarray(x, dtype=np.float64)
    taps = np.asarray(taps, dtype=np.float64)
    half = taps.shape[0] // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(half, half)])
    length = x.shape[-1]
    return sum(taps[k] * padded[..., k:k + length] for k in range(taps.shape[0]))


def spectra(x, fft_size, hop_size, win_length, window_values):
    """Complex STFT of each row of x (..., T): shape (..., frames, fft_size // 2 + 1)."""
    x = np.asarray(x, dtype=np.float64)
    pad = fft_size // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    n_frames = 1 + (padded.shape[-1] - fft_size) // hop_size
    full_window = np.zeros(fft_size)
    left = (fft_size - win_length) // 2
    full_window[left:left + win_length] = window_values
    frames = np.stack([padded[..., k * hop_size:k * hop_size + fft_size]
                       for k in range(n_frames)], axis=-2)
    return np.fft.rfft(frames * full_window, axis=-1)


def magnitudes(x, fft_size, hop_size, win_length, window_values, eps=EPS):
    """|STFT| of each row of x (..., T): shape (..., frames, fft_size // 2 + 1)."""
    spectrum = spectra(x, fft_size, hop_size, win_length, window_values)
    return np.sqrt(np.maximum(spectrum.real ** 2 + spectrum.imag ** 2, eps))


def stft_terms(est, ref, fft_size=1024, hop_size=256, win_length=None, window_name="hann",
               window_values=None, mag_distance="L1", eps=EPS, compat=False,
               filterbank=None, fir_taps=None, scale_invariance=False, log_eps=0.0,
               log_fac=1.0):
    """Per item: sc, log_mag, lin_mag, phs over all of the item's channels (B, C, T input).

    Options, in the order they act: fir_taps (prefilter both signals, `fir_same`);
    the floored magnitudes; filterbank (a dense (bands, F) matrix applied to each frame's
    magnitudes); scale_invariance (the reference magnitudes of each row (item, channel)
    times alpha = <X_est, X> / <X, X>); the log distance of log(log_fac * X + log_eps).
    phs: mean squared difference of the STFT bins' angles, each in (-pi, pi].
    """
    est, ref = as_items(est), as_items(ref)
    win_length = fft_size if win_length is None else win_length
    if compat and window_values is None:   # auraloss builds its window with torch
        window_values = torch_float32_window(window_name, win_length)
    elif compat:
        window_values = np.asarray(window_values, dtype=np.float32).astype(np.float64)
    elif window_values is None:
        window_values = window(window_name, win_length)
    if fir_taps is not None:
        est, ref = fir_same(est, fir_taps), fir_same(ref, fir_taps)
    S_est = spectra(est, fft_size, hop_size, win_length, window_values)
    S_ref = spectra(ref, fft_size, hop_size, win_length, window_values)
    X_est = np.sqrt(np.maximum(S_est.real ** 2 + S_est.imag ** 2, eps))
    power_ref = S_ref.real ** 2 + S_ref.imag ** 2
    X_ref = np.sqrt(np.maximum(power_ref, eps))
    # bins the terms see: all of them, or those some band of the filterbank weighs
    seen = (np.ones(X_ref.shape[-1], dtype=bool) if filterbank is None
            else np.asarray(filterbank).any(axis=0))
    # per item: the reference has no energy above the floor in any bin the terms see
    at_floor = ~np.any((power_ref > eps) & seen, axis=(1, 2, 3))
    if filterbank is not None:
        X_est = X_est @ np.asarray(filterbank, dtype=np.float64).T
        X_ref = X_ref @ np.asarray(filterbank, dtype=np.float64).T
    if scale_invariance:
        alpha = (X_est * X_ref).sum(axis=(-2, -1)) / (X_ref ** 2).sum(axis=(-2, -1))
        X_ref = X_ref * alpha[..., None, None]
    power = np.abs if mag_distance == "L1" else np.square
    log_dist = power(np.log(log_fac * X_est + log_eps) - np.log(log_fac * X_ref + log_eps))
    lin_dist = power(X_est - X_ref)
    phs_dist = (np.angle(S_est) - np.angle(S_ref)) ** 2
    if compat:   # auraloss: one norm ratio over the batch; means over all elements
        sc = np.linalg.norm((X_ref - X_est).ravel()) / np.linalg.norm(X_ref.ravel())
        return {"sc": sc, "log_mag": log_dist.mean(), "lin_mag": lin_dist.mean(),
                "phs": phs_dist.mean()}
    axes = (1, 2, 3)
    sc = (np.sqrt(((X_ref - X_est) ** 2).sum(axis=axes))
          / np.sqrt((X_ref ** 2).sum(axis=axes)))
    sc = np.where(at_floor, np.nan, sc)   # it would divide by the floor alone
    return {"sc": sc, "log_mag": log_dist.mean(axis=axes), "lin_mag": lin_dist.mean(axis=axes),
            "phs": phs_dist.mean(axis=axes)}


def stft_loss(est, ref, w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, w_phs=0.0, **kwargs):
    """w_sc*SC + w_log_mag*log + w_lin_mag*lin + w_phs*phs per item; kwargs as stft_terms."""
    t = stft_terms(est, ref, **kwargs)
    t["loss"] = _weighted([(w_sc, t["sc"]), (w_log_mag, t["log_mag"]),
                           (w_lin_mag, t["lin_mag"]), (w_phs, t["phs"])])
    return t


def mrstft_loss(est, ref, fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50),
                win_lengths=(600, 1200, 240), filterbanks=None, **kwargs):
    """(1/M) * sum over resolutions of stft_loss, term by term; `filterbanks`: one dense
    matrix (or None) per resolution."""
    filterbanks = filterbanks or [None] * len(fft_sizes)
    parts = [stft_loss(est, ref, fft_size=f, hop_size=h, win_length=w, filterbank=fb,
                       **kwargs)
             for f, h, w, fb in zip(fft_sizes, hop_sizes, win_lengths, filterbanks)]
    return {key: sum(p[key] for p in parts) / len(parts) for key in parts[0]}


def sum_and_difference_loss(est, ref, w_sum=1.0, w_diff=1.0, compat=False, **kwargs):
    """w_sum*MR(L+R) + w_diff*MR(L-R) per item; halved with compat (auraloss)."""
    est, ref = as_items(est), as_items(ref)
    def sd(x):
        return x[:, :1] + x[:, 1:2], x[:, :1] - x[:, 1:2]
    (est_sum, est_diff), (ref_sum, ref_diff) = sd(est), sd(ref)
    total = mrstft_loss(est_sum, ref_sum, compat=compat, **kwargs)
    diff = mrstft_loss(est_diff, ref_diff, compat=compat, **kwargs)
    loss = _weighted([(w_sum, total["loss"]), (w_diff, diff["loss"])])
    return {"loss": loss / 2 if compat else loss, "sum": total["loss"], "diff": diff["loss"]}


# --------------------------------------------------------------------------- time domain
# Each returns per-item values: the per-channel value averaged over channels. The ratio
# losses are NaN for a channel whose reference has zero energy (compat=True: the
# eps-floored value auraloss returns).

def _per_item(values):
    return values.mean(axis=1)


def _f64(est, ref):
    return as_items(est), as_items(ref)


def mse(est, ref):
    est, ref = _f64(est, ref)
    return _per_item(((est - ref) ** 2).mean(axis=-1))


def l1(est, ref):
    est, ref = _f64(est, ref)
    return _per_item(np.abs(est - ref).mean(axis=-1))


def _undefined_as_nan(values, ref, centred, compat):
    """values (B, C): NaN where the reference channel's energy is zero (about its mean
    when centred), the rule of fastmixloss's ratio losses; compat keeps auraloss's value."""
    if compat:
        return values
    silent = (np.ptp(ref, axis=-1) == 0) if centred else ~np.any(ref != 0, axis=-1)
    return np.where(silent, np.nan, values)


def esr(est, ref, eps=EPS, compat=False):
    est, ref = _f64(est, ref)
    values = ((ref - est) ** 2).sum(-1) / ((ref ** 2).sum(-1) + eps)
    return _per_item(_undefined_as_nan(values, ref, False, compat))


def dc(est, ref, eps=EPS, compat=False):
    est, ref = _f64(est, ref)
    values = (ref - est).mean(-1) ** 2 / ((ref ** 2).mean(-1) + eps)
    return _per_item(_undefined_as_nan(values, ref, False, compat))


def logcosh(est, ref, a=1.0, eps=EPS):
    est, ref = _f64(est, ref)
    x = a * (est - ref)
    # ln(cosh(x) + eps), with cosh(x) = (e^x + e^-x) / 2 summed in the log domain so that
    # large |x| does not overflow
    log_cosh = np.logaddexp(np.logaddexp(x, -x) - np.log(2.0), np.log(eps) if eps else -np.inf)
    return _per_item((log_cosh / a).mean(-1))


def _centre(est, ref, zero_mean):
    est, ref = _f64(est, ref)
    if zero_mean:
        est = est - est.mean(-1, keepdims=True)
        ref = ref - ref.mean(-1, keepdims=True)
    return est, ref


def _neg_db(num, den, eps):
    return -10 * np.log10(num / (den + eps) + eps)


def snr(est, ref, zero_mean=True, eps=EPS, compat=False):
    raw = as_items(ref)
    est, ref = _centre(est, ref, zero_mean)
    values = _neg_db((ref ** 2).sum(-1), ((est - ref) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))


def _scaled_reference(est, ref, eps):
    """alpha * ref, alpha = <est, ref> / (<ref, ref> + eps): the reference scaled to fit."""
    return (est * ref).sum(-1, keepdims=True) / ((ref ** 2).sum(-1, keepdims=True) + eps) * ref


def sisdr(est, ref, zero_mean=True, eps=EPS, compat=False):
    raw = as_items(ref)
    est, ref = _centre(est, ref, zero_mean)
    target = _scaled_reference(est, ref, eps)
    values = _neg_db((target ** 2).sum(-1), ((est - target) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))


def sdsdr(est, ref, zero_mean=True, eps=EPS, compat=False):
    raw = as_items(ref)
    est, ref = _centre(est, ref, zero_mean)
    values = _neg_db((_scaled_reference(est, ref, eps) ** 2).sum(-1),
                     ((est - ref) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))


# --------------------------------------------------------------------------- presets

def preset_frames(x, fft_size, hop_size, framing):
    """Frames (..., K, fft_size) of rows x (..., T) for presets.Preset's framings:
    "centred" (reflect pad fft_size // 2), "hifigan" (reflect pad (fft_size - hop) // 2,
    uncentred), "uncentred" (frames at k * hop, K = ceil(T / hop), zeros past the end)."""
    x = np.asarray(x, dtype=np.float64)
    length = x.shape[-1]
    edges = [(0, 0)] * (x.ndim - 1)
    if framing == "uncentred":
        n_frames = -(-length // hop_size)
        end = (n_frames - 1) * hop_size + fft_size - length
        padded = np.pad(x, edges + [(0, max(end, 0))])
    else:
        pad = fft_size // 2 if framing == "centred" else (fft_size - hop_size) // 2
        padded = np.pad(x, edges + [(pad, pad)], mode="reflect")
        n_frames = 1 + (padded.shape[-1] - fft_size) // hop_size
    return np.stack([padded[..., k * hop_size:k * hop_size + fft_size]
                     for k in range(n_frames)], axis=-2)


def preset_loss(est, ref, preset, sample_rate=None):
    """A presets.Preset computed from its fields, per item (B, C, T input): a dict of
    (B,) arrays loss, sc, log_mag, lin_mag, each combined over resolutions as the preset
    says (sum or mean); spectral convergence per item (batch_sc is the caller's)."""
    from .filterbanks import mel_matrix
    est, ref = as_items(est), as_items(ref)
    parts = []
    for index, (fft, hop, win) in enumerate(zip(preset.fft_sizes, preset.hop_sizes,
                                                preset.win_lengths)):
        values = (torch_float32_window("hann", win) if preset.float32_window
                  else window("hann", win))
        full = np.zeros(fft)
        full[(fft - win) // 2:(fft - win) // 2 + win] = values
        mags = []
        for x in (est, ref):
            spectrum = np.fft.rfft(preset_frames(x, fft, hop, preset.framing) * full, axis=-1)
            power = spectrum.real ** 2 + spectrum.imag ** 2
            power = power + preset.eps if preset.eps_added else np.maximum(power, preset.eps)
            mag = np.sqrt(power)
            if preset.n_mels is not None:
                bank = mel_matrix(sample_rate, fft, preset.n_mels[index], preset.fmin,
                                  preset.fmax, np.float32).astype(np.float64)
                mag = mag @ bank.T
            mags.append(mag)
        X_est, X_ref = mags
        floor = lambda v: np.where(v > preset.log_threshold, v, preset.log_floor)
        axes = (1, 2, 3)
        log_mag = (np.abs(np.log(floor(X_est)) - np.log(floor(X_ref))).mean(axis=axes)
                   * preset.log_factor)
        lin_mag = np.abs(X_est - X_ref).mean(axis=axes)
        # the sources' floor-divided number; NaN only where there is no denominator at
        # all (eps=0 and a reference of exact zeros)
        den = (X_ref ** 2).sum(axis=axes)
        with np.errstate(divide="ignore", invalid="ignore"):
            sc = (np.where(den > 0, np.sqrt(((X_ref - X_est) ** 2).sum(axis=axes))
                           / np.sqrt(den), np.nan) if preset.w_sc else 0.0 * lin_mag)
        loss = preset.w_sc * sc + preset.w_log_mag * log_mag + preset.w_lin_mag * lin_mag
        parts.append({"loss": loss, "sc": sc, "log_mag": log_mag, "lin_mag": lin_mag})
    combine = np.sum if preset.sum_resolutions else np.mean
    return {key: combine([p[key] for p in parts], axis=0) for key in parts[0]}
