"""tests/parity/PEERS.md written as plain NumPy, to check the digest against the peers'
stored values (tests/test_peer_golden.py). Not the library's reference: a second, naive
reading of the peers' code, one function per framing and per loss.

Signals are rows (rows, samples), float64; spectra are (rows, frames, bins).
"""

import numpy as np


def periodic_window(name, n):
    """torch's periodic windows (kaiser: torch's default beta 12), scipy's "hann"."""
    k = np.arange(n)
    if name in ("hann_window", "hann"):
        return 0.5 - 0.5 * np.cos(2 * np.pi * k / n)
    if name == "hamming_window":
        return 0.54 - 0.46 * np.cos(2 * np.pi * k / n)
    if name == "blackman_window":
        return 0.42 - 0.5 * np.cos(2 * np.pi * k / n) + 0.08 * np.cos(4 * np.pi * k / n)
    if name == "bartlett_window":
        return 1 - np.abs(2 * k / n - 1)
    if name == "kaiser_window":
        return np.kaiser(n + 1, 12.0)[:-1]
    raise ValueError(name)


def _frames(padded, n_fft, hop, n_frames):
    return np.lib.stride_tricks.sliding_window_view(padded, n_fft, axis=-1)[:, ::hop][:, :n_frames]


def apply_bank(mag, bank):
    """(rows, frames, bins) @ bank.T as one matrix product (stacked small products are slow)."""
    return (mag.reshape(-1, mag.shape[-1]) @ bank.T).reshape(mag.shape[:-1] + (bank.shape[0],))


def stft_centred(rows, n_fft, hop, window):
    """torch.stft(center=True, pad_mode="reflect"), window centred in n_fft."""
    full = np.zeros(n_fft)
    left = (n_fft - len(window)) // 2
    full[left:left + len(window)] = window
    padded = np.pad(rows, ((0, 0), (n_fft // 2, n_fft // 2)), mode="reflect")
    n_frames = 1 + (padded.shape[1] - n_fft) // hop
    return np.fft.rfft(_frames(padded, n_fft, hop, n_frames) * full, axis=-1)


def stft_hifigan(rows, n_fft, hop, window):
    """Reflect pad (n_fft - hop) / 2 on each side, then uncentred frames."""
    pad = (n_fft - hop) // 2
    padded = np.pad(rows, ((0, 0), (pad, pad)), mode="reflect")
    n_frames = 1 + (padded.shape[1] - n_fft) // hop
    return np.fft.rfft(_frames(padded, n_fft, hop, n_frames) * window, axis=-1)


def stft_ddsp(rows, size):
    """tf.signal.stft(frame_step=size // 4, pad_end=True): ceil(T / hop) frames from 0."""
    hop = size // 4
    n_frames = -(-rows.shape[1] // hop)
    padded = np.pad(rows, ((0, 0), (0, (n_frames - 1) * hop + size - rows.shape[1])))
    return np.fft.rfft(_frames(padded, size, hop, n_frames) * periodic_window("hann", size),
                       axis=-1)


def spectral_convergence(est_mag, ref_mag):
    return np.linalg.norm(ref_mag - est_mag) / np.linalg.norm(ref_mag)


def a_weighting_taps(fs, ntaps=101):
    """auraloss's FIRFilter("aw"): the analog A-curve, bilinear, firls; float32 taps."""
    import scipy.signal
    f1, f2, f3, f4, a1000 = 20.598997, 107.65265, 737.86223, 12194.217, 1.9997
    num = [(2 * np.pi * f4) ** 2 * 10 ** (a1000 / 20), 0, 0, 0, 0]
    den = np.polymul([1, 4 * np.pi * f4, (2 * np.pi * f4) ** 2],
                     [1, 4 * np.pi * f1, (2 * np.pi * f1) ** 2])
    den = np.polymul(np.polymul(den, [1, 2 * np.pi * f3]), [1, 2 * np.pi * f2])
    b, a = scipy.signal.bilinear(num, den, fs=fs)
    freqs, response = scipy.signal.freqz(b, a, worN=512, fs=fs)
    taps = scipy.signal.firls(ntaps, freqs, abs(response), fs=fs)
    return taps.astype(np.float32).astype(np.float64)


def a_weight(rows, fs):
    taps = a_weighting_taps(fs)
    half = len(taps) // 2
    return np.array([np.correlate(np.pad(row, half), taps, "valid") for row in rows])


def mel_filters(sr, n_fft, n_mels, fmin=0.0, fmax=None):
    """librosa's (Slaney) filters; float32 as the peers use them."""
    import warnings

    import librosa
    with warnings.catch_warnings():  # empty bands are part of some stored cases
        warnings.simplefilter("ignore", UserWarning)
        return librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin,
                                   fmax=fmax).astype(np.float64)


def auraloss_stft(est, ref, fft_size=1024, hop_size=256, win_length=1024,
                  window="hann_window", w_sc=1.0, w_log_mag=1.0, w_lin_mag=0.0, w_phs=0.0,
                  sample_rate=None, scale=None, n_bins=None, perceptual_weighting=False,
                  scale_invariance=False, mag_distance="L1", log_eps=0.0, log_fac=1.0,
                  output=None):
    """auraloss STFTLoss, the terms of output="full" as a dict."""
    if perceptual_weighting:
        est, ref = a_weight(est, sample_rate), a_weight(ref, sample_rate)
    win = periodic_window(window, win_length)
    est_spec = stft_centred(est, fft_size, hop_size, win)
    ref_spec = stft_centred(ref, fft_size, hop_size, win)
    x_hat = np.sqrt(np.maximum(np.abs(est_spec) ** 2, 1e-8))
    x = np.sqrt(np.maximum(np.abs(ref_spec) ** 2, 1e-8))
    if scale == "mel":
        bank = mel_filters(sample_rate, fft_size, n_bins)
        x_hat, x = apply_bank(x_hat, bank), apply_bank(x, bank)
    if scale_invariance:
        alpha = (x_hat * x).sum(axis=(1, 2)) / (x * x).sum(axis=(1, 2))
        if 1 < len(alpha) == x.shape[2]:  # auraloss's broadcast: alpha[k] scales bin k
            x = x * alpha[None, None, :]
        else:  # per row (auraloss raises for other row counts)
            x = x * alpha[:, None, None]

    def distance(a, b):
        return np.mean(np.abs(a - b)) if mag_distance == "L1" else np.mean((a - b) ** 2)

    terms = dict(sc_mag=spectral_convergence(x_hat, x) if w_sc else 0.0,
                 lin_mag=distance(x_hat, x) if w_lin_mag else 0.0,
                 phs=np.mean((np.angle(est_spec) - np.angle(ref_spec)) ** 2) if w_phs else 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):  # an empty mel band: NaN, as auraloss
        terms["log_mag"] = distance(np.log(log_fac * x_hat + log_eps),
                                    np.log(log_fac * x + log_eps)) if w_log_mag else 0.0
    terms["loss"] = (w_sc * terms["sc_mag"] + w_log_mag * terms["log_mag"]
                     + w_lin_mag * terms["lin_mag"] + w_phs * terms["phs"])
    return terms


def auraloss_mrstft(est, ref, fft_sizes, hop_sizes, win_lengths, **options):
    runs = [auraloss_stft(est, ref, n, h, w, **options)
            for n, h, w in zip(fft_sizes, hop_sizes, win_lengths)]
    out = {key: [run[key] for run in runs] for key in runs[0]}
    out["loss"] = float(np.mean(out["loss"]))
    return out


def auraloss_sum_and_difference(est, ref, n_channels, w_sum=1.0, w_diff=1.0, **options):
    """est, ref: rows item-major with 2 channels per item."""
    def split(x):
        left, right = x[0::n_channels], x[1::n_channels]
        return left + right, left - right
    (est_sum, est_diff), (ref_sum, ref_diff) = split(est), split(ref)
    sum_loss = auraloss_mrstft(est_sum, ref_sum, **options)["loss"]
    diff_loss = auraloss_mrstft(est_diff, ref_diff, **options)["loss"]
    return dict(loss=(w_sum * sum_loss + w_diff * diff_loss) / 2, sum=sum_loss, diff=diff_loss)


def pwg_mrstft(est, ref, fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50),
               win_lengths=(600, 1200, 240)):
    sc = mag = 0.0
    for n, h, w in zip(fft_sizes, hop_sizes, win_lengths):
        win = periodic_window("hann", w)
        x_hat = np.sqrt(np.maximum(np.abs(stft_centred(est, n, h, win)) ** 2, 1e-7))
        x = np.sqrt(np.maximum(np.abs(stft_centred(ref, n, h, win)) ** 2, 1e-7))
        sc += spectral_convergence(x_hat, x)
        mag += np.mean(np.abs(np.log(x) - np.log(x_hat)))
    return dict(sc_loss=sc / len(fft_sizes), mag_loss=mag / len(fft_sizes))


def pwg_mel(est, ref, fs=22050, fft_size=1024, hop_size=256, win_length=None, window="hann",
            num_mels=80, fmin=80, fmax=7600, eps=1e-10, log_base=10.0):
    bank = mel_filters(fs, fft_size, num_mels, fmin, fmax)
    log = {None: np.log, 10.0: np.log10, 2.0: np.log2}[log_base]

    def logmel(rows):
        spec = stft_centred(rows, fft_size, hop_size, periodic_window(window,
                                                                      win_length or fft_size))
        return log(np.maximum(apply_bank(np.sqrt(np.maximum(np.abs(spec) ** 2, eps)), bank), eps))
    return dict(mel_loss=np.mean(np.abs(logmel(est) - logmel(ref))))


def hifigan_mel_l1(est, ref, n_fft, num_mels, sampling_rate, hop_size, win_size, fmin, fmax):
    bank = mel_filters(sampling_rate, n_fft, num_mels, fmin, fmax)

    def logmel(rows):
        spec = stft_hifigan(rows, n_fft, hop_size, periodic_window("hann", win_size))
        return np.log(np.maximum(apply_bank(np.sqrt(spec.real ** 2 + spec.imag ** 2 + 1e-9), bank),
                                 1e-5))
    loss = np.mean(np.abs(logmel(ref) - logmel(est)))
    return dict(mel_l1=loss, times_45=45 * loss)


def dac_magnitude(rows, window_length):
    return np.abs(stft_centred(rows, window_length, window_length // 4,
                               periodic_window("hann", window_length)))


def dac_mel(est, ref, sample_rate, n_mels, window_lengths, mel_fmin, mel_fmax, pow=1.0,
            clamp_eps=1e-5, mag_weight=0.0, log_weight=1.0):
    per_scale = []
    for m, w, lo, hi in zip(n_mels, window_lengths, mel_fmin, mel_fmax):
        bank = mel_filters(sample_rate, w, m, lo, hi)
        mel_hat = apply_bank(dac_magnitude(est, w), bank)
        mel = apply_bank(dac_magnitude(ref, w), bank)
        per_scale.append(
            log_weight * np.mean(np.abs(np.log10(np.maximum(mel_hat, clamp_eps) ** pow)
                                        - np.log10(np.maximum(mel, clamp_eps) ** pow)))
            + mag_weight * np.mean(np.abs(mel_hat - mel)))
    return dict(loss=sum(per_scale), per_scale=per_scale)


def dac_stft(est, ref, window_lengths, clamp_eps=1e-5, pow=2.0, mag_weight=1.0,
             log_weight=1.0):
    per_scale = []
    for w in window_lengths:
        mag_hat, mag = dac_magnitude(est, w), dac_magnitude(ref, w)
        per_scale.append(
            log_weight * np.mean(np.abs(np.log10(np.maximum(mag_hat, clamp_eps) ** pow)
                                        - np.log10(np.maximum(mag, clamp_eps) ** pow)))
            + mag_weight * np.mean(np.abs(mag_hat - mag)))
    return dict(loss=sum(per_scale), per_scale=per_scale)


def ddsp_spectral(est, ref, fft_sizes=(2048, 1024, 512, 256, 128, 64)):
    def safe_log(x):
        return np.log(np.where(x <= 0.0, 1e-5, x))
    mag_terms, logmag_terms = [], []
    for size in fft_sizes:
        target, value = np.abs(stft_ddsp(ref, size)), np.abs(stft_ddsp(est, size))
        mag_terms.append(np.mean(np.abs(target - value)))
        logmag_terms.append(np.mean(np.abs(safe_log(target) - safe_log(value))))
    return dict(loss=sum(mag_terms) + sum(logmag_terms), mag_per_size=mag_terms,
                logmag_per_size=logmag_terms)
