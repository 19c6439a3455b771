"""Plain NumPy versions of every loss, written straight from the formulas in SPEC.md.

Slow and obviously right: float64 throughout, an explicit padded copy, every frame
materialised, `numpy.fft.rfft`. They are the oracle the fast kernels are tested against
and a contender in bench/. They hold whole spectrograms: do not use them on long signals.

Every function takes (B, C, T) arrays. The time-domain ones return per-item float64
arrays of shape (B,); the spectral ones a dict of such arrays (loss and each term), or,
with compat=True, auraloss's batch-wide values.
"""

import numpy as np

EPS = 1e-8


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
    f32 = np.float32
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


def magnitudes(x, fft_size, hop_size, win_length, window_values, eps=EPS):
    """|STFT| of each row of x (..., T): shape (..., frames, fft_size // 2 + 1)."""
    x = np.asarray(x, dtype=np.float64)
    pad = fft_size // 2
    padded = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)], mode="reflect")
    n_frames = 1 + (padded.shape[-1] - fft_size) // hop_size
    full_window = np.zeros(fft_size)
    left = (fft_size - win_length) // 2
    full_window[left:left + win_length] = window_values
    frames = np.stack([padded[..., k * hop_size:k * hop_size + fft_size]
                       for k in range(n_frames)], axis=-2)
    spectrum = np.fft.rfft(frames * full_window, axis=-1)
    return np.sqrt(np.maximum(spectrum.real ** 2 + spectrum.imag ** 2, eps))


def stft_terms(est, ref, fft_size=1024, hop_size=256, win_length=None, window_name="hann",
               window_values=None, mag_distance="L1", eps=EPS, compat=False):
    """Per item: sc, log_mag, lin_mag over all of the item's channels (B, C, T input)."""
    win_length = fft_size if win_length is None else win_length
    if window_values is None:
        window_values = window(window_name, win_length)
    if compat and window_name in ("hann", "hamming", "blackman", "bartlett"):
        window_values = torch_float32_window(window_name, win_length).astype(np.float64)
    elif compat:   # an array: auraloss would hold it in float32
        window_values = np.asarray(window_values, dtype=np.float32).astype(np.float64)
    X_est = magnitudes(est, fft_size, hop_size, win_length, window_values, eps)
    X_ref = magnitudes(ref, fft_size, hop_size, win_length, window_values, eps)
    power = np.abs if mag_distance == "L1" else np.square
    log_dist = power(np.log(X_est) - np.log(X_ref))
    lin_dist = power(X_est - X_ref)
    if compat:   # auraloss: one norm ratio over the batch; means over all elements
        sc = np.linalg.norm((X_ref - X_est).ravel()) / np.linalg.norm(X_ref.ravel())
        return {"sc": sc, "log_mag": log_dist.mean(), "lin_mag": lin_dist.mean()}
    axes = (1, 2, 3)
    sc = (np.sqrt(((X_ref - X_est) ** 2).sum(axis=axes))
          / np.sqrt((X_ref ** 2).sum(axis=axes)))
    return {"sc": sc, "log_mag": log_dist.mean(axis=axes), "lin_mag": lin_dist.mean(axis=axes)}


def stft_loss(est, ref, w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, **kwargs):
    """w_sc*SC + w_log_mag*log + w_lin_mag*lin per item; kwargs as stft_terms."""
    t = stft_terms(est, ref, **kwargs)
    t["loss"] = w_sc * t["sc"] + w_log_mag * t["log_mag"] + w_lin_mag * t["lin_mag"]
    return t


def mrstft_loss(est, ref, fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50),
                win_lengths=(600, 1200, 240), **kwargs):
    """(1/M) * sum over resolutions of stft_loss, term by term."""
    parts = [stft_loss(est, ref, fft_size=f, hop_size=h, win_length=w, **kwargs)
             for f, h, w in zip(fft_sizes, hop_sizes, win_lengths)]
    return {key: sum(p[key] for p in parts) / len(parts) for key in parts[0]}


def sum_and_difference_loss(est, ref, w_sum=1.0, w_diff=1.0, compat=False, **kwargs):
    """w_sum*MR(L+R) + w_diff*MR(L-R) per item; halved with compat (auraloss)."""
    est = np.asarray(est, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    def sd(x):
        return x[:, :1] + x[:, 1:2], x[:, :1] - x[:, 1:2]
    (est_sum, est_diff), (ref_sum, ref_diff) = sd(est), sd(ref)
    total = mrstft_loss(est_sum, ref_sum, compat=compat, **kwargs)
    diff = mrstft_loss(est_diff, ref_diff, compat=compat, **kwargs)
    loss = w_sum * total["loss"] + w_diff * diff["loss"]
    return {"loss": loss / 2 if compat else loss, "sum": total["loss"], "diff": diff["loss"]}


# --------------------------------------------------------------------------- time domain
# Each returns per-item values: the per-channel value averaged over channels. The ratio
# losses are NaN for a channel whose reference has zero energy (compat=True: the
# eps-floored value auraloss returns).

def _per_item(values):
    return values.mean(axis=1)


def _f64(est, ref):
    return np.asarray(est, dtype=np.float64), np.asarray(ref, dtype=np.float64)


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
    raw = np.asarray(ref, dtype=np.float64)
    est, ref = _centre(est, ref, zero_mean)
    values = _neg_db((ref ** 2).sum(-1), ((est - ref) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))


def sisdr(est, ref, zero_mean=True, eps=EPS, compat=False):
    raw = np.asarray(ref, dtype=np.float64)
    est, ref = _centre(est, ref, zero_mean)
    alpha = (est * ref).sum(-1, keepdims=True) / ((ref ** 2).sum(-1, keepdims=True) + eps)
    target = alpha * ref
    values = _neg_db((target ** 2).sum(-1), ((est - target) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))


def sdsdr(est, ref, zero_mean=True, eps=EPS, compat=False):
    raw = np.asarray(ref, dtype=np.float64)
    est, ref = _centre(est, ref, zero_mean)
    alpha = (est * ref).sum(-1, keepdims=True) / ((ref ** 2).sum(-1, keepdims=True) + eps)
    values = _neg_db(((alpha * ref) ** 2).sum(-1), ((est - ref) ** 2).sum(-1), eps)
    return _per_item(_undefined_as_nan(values, raw, zero_mean, compat))
