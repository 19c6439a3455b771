"""Run the peers' own spectral-loss code and store its values in tests/data/peers_golden.json.

Peers: auraloss 0.4.0 and auraloss main, ParallelWaveGAN, DDSP, the Descript audio codec
(DAC, with audiotools), BigVGAN (its standalone copy of the DAC mel loss), HiFi-GAN. Each
peer runs in its own interpreter (``--worker PEER``, JSON on stdout); the driver merges
them. The formulas are summarised in tests/parity/PEERS.md.

Setup (throwaway environments; nothing here is a dependency of fastmixloss)::

    # peer sources at the commits in SOURCES, as plain files under $PEER_SRC:
    python tests/parity/make_peer_golden.py --sources     # from git mirrors, see --help
    # auraloss 0.4.0, ParallelWaveGAN, BigVGAN, HiFi-GAN: torch 2.13.0 (CPU), librosa,
    # scipy, auraloss==0.4.0 (the project's dev venv has them all)
    # DDSP: python -m venv $TF_VENV && $TF_VENV/bin/pip install tensorflow-cpu
    # DAC: python -m venv $AT_VENV, a .pth file pointing at the dev venv's site-packages
    #      (torch, librosa), then $AT_VENV/bin/pip install --no-deps descript-audiotools==0.7.2
    #      julius flatten-dict rich markdown2 importlib-resources ffmpy randomname
    #      markdown-it-py mdurl pygments
    python tests/parity/make_peer_golden.py --tf-python $TF_VENV/bin/python \\
        --at-python $AT_VENV/bin/python

Inputs are rebuilt from tests/signals.py (tests/parity/peer_inputs.py), so the stored file
stays small; each case records its recipe, dtype, sample rate and the exact call.
``--music`` runs the same cases on excerpts of the renders of bench/render_music.py and
writes them beside the renders (/work/music/peers_golden_music.json), not into the repo.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import traceback

HERE = pathlib.Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent.parent), str(HERE.parent), str(HERE)]

from peer_inputs import (INPUTS, RENDER_EXCERPTS, as_rows, peer_input,  # noqa: E402
                         recipe, write_render_excerpts)

OUT = HERE.parent / "data" / "peers_golden.json"
DEFAULT_SRC = pathlib.Path(os.environ.get("PEER_SRC", "/work/tmp/peer-src"))
DEFAULT_MIRRORS = pathlib.Path(os.environ.get("PEER_MIRRORS", "/work/.mirror"))

# peer -> (repository, commit, files copied to $PEER_SRC/<peer>/)
SOURCES = {
    "auraloss_main": ("csteinmetz1/auraloss", "0853e9e732cd32a7b23f11ef4f0d2975d259e653",
                      ["auraloss/__init__.py", "auraloss/freq.py", "auraloss/time.py",
                       "auraloss/perceptual.py", "auraloss/utils.py", "auraloss/plotting.py"]),
    "parallel_wavegan": ("kan-bayashi/ParallelWaveGAN", "86740373ec609cb9fb192d472d2aea125041491a",
                         ["parallel_wavegan/losses/stft_loss.py",
                          "parallel_wavegan/losses/mel_loss.py"]),
    "ddsp": ("magenta/ddsp", "88621d2725e5af05114c4b322bc187ffae8c1f56",
             ["ddsp/losses.py", "ddsp/spectral_ops.py", "ddsp/core.py",
              "ddsp/training/gin/models/ae.gin"]),
    "dac": ("descriptinc/descript-audio-codec", "c7cfc5d2647e26471dc394f95846a0830e7bec34",
            ["dac/nn/loss.py", "conf/base.yml", "scripts/train.py"]),
    "bigvgan": ("NVIDIA/BigVGAN", "7d2b454564a6c7d014227f635b7423881f14bdac", ["loss.py"]),
    "hifigan": ("jik876/hifi-gan", "4769534d45265d52a904b850da5a622601885777",
                ["meldataset.py", "config_v1.json", "train.py"]),
}

MR = dict(fft_sizes=[1024, 2048, 512], hop_sizes=[120, 240, 50], win_lengths=[600, 1200, 240])
S, M = "music_b2_stereo", "music_b1_mono"
# --music: the same cases on excerpts of the renders (values kept beside the renders)
MUSIC_INPUTS = {S: "render_b2_stereo", M: "render_b1_mono"}
MUSIC_OUT = pathlib.Path("/work/music/peers_golden_music.json")
F32, F64 = "float32", "float64"

# auraloss cases: (name, class in auraloss.freq, kwargs, inputs, dtypes, extra)
# run on both auraloss 0.4.0 and main; an error is a result too (stored with its message)
AURALOSS_CASES = [
    ("stft_mel128", "STFTLoss", dict(fft_size=1024, hop_size=256, win_length=1024,
                                     sample_rate=44100, scale="mel", n_bins=128, output="full"),
     [S], [F32, F64], {}),
    ("stft_mel80_48k_l2", "STFTLoss", dict(fft_size=2048, hop_size=512, win_length=2048,
                                           sample_rate=48000, scale="mel", n_bins=80, w_sc=0.5,
                                           w_lin_mag=1.0, mag_distance="L2", output="full"),
     [S], [F32], {}),
    ("stft_mel_empty_bands", "STFTLoss", dict(fft_size=256, hop_size=64, win_length=256,
                                              sample_rate=44100, scale="mel", n_bins=128,
                                              output="full"),
     [S], [F32], {}),
    ("mrstft_mel40", "MultiResolutionSTFTLoss", dict(MR, sample_rate=44100, scale="mel",
                                                     n_bins=40, output="full"),
     [S], [F32], {}),
    ("sd_mel40", "SumAndDifferenceSTFTLoss", dict(MR, sample_rate=44100, scale="mel", n_bins=40,
                                                  output="full"),
     [S], [F32], {}),
    ("melstft_class", "MelSTFTLoss", dict(sample_rate=44100, output="full"), [S], [F32], {}),
    ("stft_chroma12", "STFTLoss", dict(sample_rate=44100, scale="chroma", n_bins=12),
     [S], [F32], {}),
    ("chromastft_class", "ChromaSTFTLoss", dict(sample_rate=44100), [S], [F32], {}),
    ("stft_aweight", "STFTLoss", dict(sample_rate=44100, perceptual_weighting=True,
                                      output="full"),
     [S], [F32, F64], {}),
    ("stft_aweight_48k", "STFTLoss", dict(fft_size=2048, hop_size=512, win_length=2048,
                                          sample_rate=48000, perceptual_weighting=True,
                                          output="full"),
     [S], [F32], {}),
    ("mrstft_aweight", "MultiResolutionSTFTLoss", dict(MR, sample_rate=44100,
                                                       perceptual_weighting=True, output="full"),
     [S], [F32], {}),
    ("sd_aweight", "SumAndDifferenceSTFTLoss", dict(MR, sample_rate=44100,
                                                    perceptual_weighting=True, output="full"),
     [S], [F32], {}),
    ("stft_mel64_aweight", "STFTLoss", dict(sample_rate=44100, scale="mel", n_bins=64,
                                            perceptual_weighting=True, output="full"),
     [S], [F32], {}),
    ("stft_scale_invariance", "STFTLoss", dict(scale_invariance=True, output="full"),
     [M, S], [F32, F64], {}),
    # rows (2 items x 2 channels) == bins (4 mel bands): auraloss broadcasts alpha over
    # the bins instead of the rows and returns a value (silently not the per-row scale);
    # stored under "quirks", apart from the cases a faithful implementation should match
    ("stft_mel4_scale_invariance_rows_eq_bins", "STFTLoss",
     dict(sample_rate=44100, scale="mel", n_bins=4, scale_invariance=True, output="full"),
     [S], [F32], {}),
    ("mrstft_scale_invariance", "MultiResolutionSTFTLoss", dict(MR, scale_invariance=True,
                                                                output="full"),
     [M], [F32, F64], {}),
    ("stft_phase", "STFTLoss", dict(w_phs=1.0, output="full"), [S], [F32, F64], {}),
    ("mrstft_phase", "MultiResolutionSTFTLoss", dict(MR, w_phs=0.5, output="full"),
     [S], [F32, F64], {}),
    ("stft_log_eps1_fac10", "STFTLoss", dict(log_eps=1.0, log_fac=10.0, output="full"),
     [S], [F32, F64], {}),
    ("stft_log_eps1e-3", "STFTLoss", dict(log_eps=1e-3, output="full"), [S], [F32, F64], {}),
    ("mrstft_log_eps1_fac100", "MultiResolutionSTFTLoss", dict(MR, log_eps=1.0, log_fac=100.0,
                                                               output="full"),
     [S], [F32, F64], {}),
    ("random_resolution_np_seed0", "RandomResolutionSTFTLoss", {}, [S], [F32, F64],
     dict(numpy_seed=0)),
    ("random_resolution_np_seed1", "RandomResolutionSTFTLoss", dict(resolutions=4),
     [S], [F64], dict(numpy_seed=1)),
]

QUIRKS = ("stft_mel4_scale_invariance_rows_eq_bins",)

TERMS = {"STFTLoss": ["loss", "sc_mag", "log_mag", "lin_mag", "phs"],
         "MelSTFTLoss": ["loss", "sc_mag", "log_mag", "lin_mag", "phs"],
         "ChromaSTFTLoss": ["loss", "sc_mag", "log_mag", "lin_mag", "phs"],
         "MultiResolutionSTFTLoss": ["loss", "sc_mag", "log_mag", "lin_mag", "phs"],
         "SumAndDifferenceSTFTLoss": ["loss", "sum", "diff"],
         "RandomResolutionSTFTLoss": ["loss"]}


def _number(value):
    """Tensor / float / nested list -> float or nested list of floats."""
    if isinstance(value, (list, tuple)):
        return [_number(v) for v in value]
    if hasattr(value, "detach"):
        value = value.detach().double()
        return value.item() if value.numel() == 1 else value.tolist()
    return float(value)


def _error(exc):
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"


def _kwargs_text(kwargs):
    return ", ".join(f"{k}={v!r}" for k, v in kwargs.items())


# --- workers (each runs in the peer's own interpreter) ------------------------------------

def auraloss_case(name, cls_name, kwargs, inp, dtype, extra):
    """Run one auraloss case with the auraloss importable now; the stored case dict."""
    import numpy as np
    import auraloss.freq
    import torch
    cls = getattr(auraloss.freq, cls_name)
    est, ref = peer_input(inp, dtype)
    case = dict(name=name, call=f"auraloss.freq.{cls_name}({_kwargs_text(kwargs)})(est, ref)",
                kwargs=kwargs, input=inp, dtype=dtype, sample_rate=kwargs.get("sample_rate"))
    try:
        if "numpy_seed" in extra:
            np.random.seed(extra["numpy_seed"])
            case["draw"] = (f"np.random.seed({extra['numpy_seed']}) before construction; "
                            "the resolutions are those of the first forward call "
                            "(construction draws, then the first forward redraws)")
        module = cls(**kwargs)
        with torch.no_grad():
            out = module(torch.from_numpy(est), torch.from_numpy(ref))
        if isinstance(out, tuple):
            case["values"] = dict(zip(TERMS[cls_name], _number(list(out))))
        else:
            case["values"] = {"loss": _number(out)}
        if "numpy_seed" in extra:
            case["resolutions"] = [dict(fft_size=f.fft_size, hop_size=f.hop_size,
                                        win_length=f.win_length, window=_window_name(f))
                                   for f in module.stft_losses]
    except Exception as exc:  # the peer's failure is a result
        case["error"] = _error(exc)
    return case


def work_auraloss(src):
    import torch
    torch.set_num_threads(1)
    if src is not None:
        sys.path.insert(0, str(src))
    import auraloss
    music = S in RENDER_EXCERPTS
    results = [auraloss_case(name, cls_name, kwargs, MUSIC_INPUTS[inp] if music else inp, dtype,
                             extra)
               for name, cls_name, kwargs, inputs, dtypes, extra in AURALOSS_CASES
               for inp in inputs for dtype in dtypes]
    return dict(origin=auraloss.__file__, torch=torch.__version__, cases=results)


def _window_name(stft_loss):
    """auraloss keeps the window tensor only; tell which torch window it is."""
    import torch
    n = stft_loss.win_length
    for name in ("hann_window", "bartlett_window", "blackman_window", "hamming_window",
                 "kaiser_window"):
        if torch.equal(getattr(torch, name)(n), stft_loss.window.cpu()):
            return name
    return "unknown"


def _load(path, name):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def work_parallel_wavegan(src):
    import torch
    torch.set_num_threads(1)
    base = src / "parallel_wavegan" / "parallel_wavegan" / "losses"
    stft_loss = _load(base / "stft_loss.py", "pwg_stft_loss")
    mel_loss = _load(base / "mel_loss.py", "pwg_mel_loss")
    cases = [
        ("mrstft_defaults", stft_loss.MultiResolutionSTFTLoss, {}, ["sc_loss", "mag_loss"],
         [F32, F64]),
        ("mel_defaults", mel_loss.MelSpectrogramLoss, {}, ["mel_loss"], [F32, F64]),
        ("mel_vctk_hifigan_v1", mel_loss.MelSpectrogramLoss,
         dict(fs=24000, fft_size=2048, hop_size=300, win_length=1200, window="hann",
              num_mels=80, fmin=0, fmax=12000, log_base=None), ["mel_loss"], [F32]),
    ]
    results = []
    for name, cls, kwargs, terms, dtypes in cases:
        for dtype in dtypes:
            est, ref = peer_input(S, dtype)
            module_path = ("parallel_wavegan.losses.stft_loss" if "mrstft" in name
                           else "parallel_wavegan.losses.mel_loss")
            case = dict(name=name, call=f"{module_path}.{cls.__name__}({_kwargs_text(kwargs)})"
                        "(est, ref)", kwargs=kwargs, input=S, dtype=dtype,
                        sample_rate=kwargs.get("fs", 22050 if "mel" in name else None))
            try:
                with torch.no_grad():
                    out = cls(**kwargs)(torch.from_numpy(est), torch.from_numpy(ref))
                out = out if isinstance(out, tuple) else (out,)
                case["values"] = dict(zip(terms, _number(list(out))))
            except Exception as exc:
                case["error"] = _error(exc)
            results.append(case)
    return dict(torch=torch.__version__, cases=results)


class _TorchStftShim:
    """torch with stft(..., return_complex=False) as torch < 2 behaved: HiFi-GAN (2020)
    calls torch.stft without return_complex, which torch 2.x rejects for real input."""

    def __init__(self, torch):
        self._torch = torch

    def __getattr__(self, name):
        return getattr(self._torch, name)

    def stft(self, *args, **kwargs):
        kwargs.setdefault("return_complex", False)
        return self._torch.stft(*args, **kwargs)


def work_hifigan(src):
    import librosa
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(1)
    meldataset = _load(src / "hifigan" / "meldataset.py", "hifigan_meldataset")
    # librosa >= 0.10 takes keyword arguments only; the call is otherwise unchanged
    meldataset.librosa_mel_fn = lambda sr, n_fft, n_mels, fmin, fmax: librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    meldataset.torch = _TorchStftShim(torch)
    config = json.loads((src / "hifigan" / "config_v1.json").read_text())
    results = []
    for name, fmax in (("mel_l1_fmax_for_loss", config["fmax_for_loss"]),
                       ("mel_l1_fmax8000", config["fmax"])):
        for dtype in (F32, F64):
            est, ref = peer_input(S, dtype)
            args = (config["n_fft"], config["num_mels"], config["sampling_rate"],
                    config["hop_size"], config["win_size"], config["fmin"], fmax)
            case = dict(name=name, call="F.l1_loss(mel_spectrogram(ref_rows, *args), "
                        "mel_spectrogram(est_rows, *args)); args = (n_fft, num_mels, "
                        "sampling_rate, hop_size, win_size, fmin, fmax) = " + repr(args),
                        kwargs=dict(n_fft=args[0], num_mels=args[1], sampling_rate=args[2],
                                    hop_size=args[3], win_size=args[4], fmin=args[5],
                                    fmax=args[6]),
                        input=S, dtype=dtype, sample_rate=config["sampling_rate"],
                        train_weight=45.0)
            try:
                with torch.no_grad():
                    mel_est = meldataset.mel_spectrogram(torch.from_numpy(as_rows(est)), *args)
                    mel_ref = meldataset.mel_spectrogram(torch.from_numpy(as_rows(ref)), *args)
                    loss = F.l1_loss(mel_ref, mel_est)
                case["values"] = {"mel_l1": _number(loss), "times_45": _number(loss) * 45.0}
            except Exception as exc:
                case["error"] = _error(exc)
            results.append(case)
    return dict(torch=torch.__version__, librosa=librosa.__version__,
                shims="librosa.filters.mel called with keywords (librosa >= 0.10); torch.stft "
                      "given return_complex=False (torch 2 requires the argument); "
                      "nothing else changed",
                cases=results)


def work_bigvgan(src):
    import torch
    torch.set_num_threads(1)
    loss = _load(src / "bigvgan" / "loss.py", "bigvgan_loss")
    results = []
    for sr in (44100, 24000):
        for dtype in (F32, F64):
            est, ref = peer_input(S, dtype)
            kwargs = dict(sampling_rate=sr)
            case = dict(name=f"multiscale_mel_{sr}", call="loss.MultiScaleMelSpectrogramLoss("
                        f"{_kwargs_text(kwargs)})(est, ref)", kwargs=kwargs, input=S,
                        dtype=dtype, sample_rate=sr)
            try:
                module = loss.MultiScaleMelSpectrogramLoss(**kwargs)
                with torch.no_grad():
                    case["values"] = {"loss": _number(module(torch.from_numpy(est),
                                                             torch.from_numpy(ref)))}
            except Exception as exc:
                case["error"] = _error(exc)
            results.append(case)
    return dict(torch=torch.__version__, cases=results)


DAC_MEL = dict(n_mels=[5, 10, 20, 40, 80, 160, 320],
               window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
               mel_fmin=[0, 0, 0, 0, 0, 0, 0], mel_fmax=[None] * 7, pow=1.0, clamp_eps=1e-5,
               mag_weight=0.0)
DAC_STFT = dict(window_lengths=[2048, 512])


def work_dac(src):
    import types
    # audiotools imports torchaudio and tensorboard at module level; neither is used by
    # AudioSignal.stft / mel_spectrogram, and no torchaudio build matches torch 2.13
    sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
    board = types.ModuleType("torch.utils.tensorboard")
    board.SummaryWriter = None
    sys.modules.setdefault("torch.utils.tensorboard", board)
    import audiotools
    import torch
    from audiotools import AudioSignal
    torch.set_num_threads(1)
    dac_loss = _load(src / "dac" / "dac" / "nn" / "loss.py", "dac_nn_loss")
    from audiotools.metrics import spectral as at_spectral
    results = []
    cases = [("mel_base_yml", dac_loss.MelSpectrogramLoss, DAC_MEL, "dac.nn.loss"),
             ("stft_base_yml", dac_loss.MultiScaleSTFTLoss, DAC_STFT, "dac.nn.loss"),
             ("audiotools_mel_base_yml", at_spectral.MelSpectrogramLoss, DAC_MEL,
              "audiotools.metrics.spectral"),
             ("audiotools_stft_base_yml", at_spectral.MultiScaleSTFTLoss, DAC_STFT,
              "audiotools.metrics.spectral")]
    for name, cls, kwargs, where, in cases:
        # the STFT loss does not depend on the rate; at 48 kHz the two smallest mel scales
        # have one empty band each (kept: DAC's clamp makes them contribute 0)
        for sr in ((44100, 24000, 48000) if "mel" in name else (44100,)):
            for dtype in (F32, F64):
                est, ref = peer_input(S, dtype)
                case = dict(name=f"{name}_{sr}", call=f"{where}.{cls.__name__}("
                            f"{_kwargs_text(kwargs)})(AudioSignal(est, {sr}), "
                            f"AudioSignal(ref, {sr}))", kwargs=kwargs, input=S, dtype=dtype,
                            sample_rate=sr)
                try:
                    with torch.no_grad():
                        total = cls(**kwargs)(AudioSignal(torch.from_numpy(est), sr),
                                              AudioSignal(torch.from_numpy(ref), sr))
                        # per scale: the same class with one scale (the total is their sum)
                        per_scale = []
                        for k in range(len(kwargs["window_lengths"])):
                            one = {key: ([value[k]] if isinstance(value, list) else value)
                                   for key, value in kwargs.items()}
                            per_scale.append(_number(cls(**one)(
                                AudioSignal(torch.from_numpy(est), sr),
                                AudioSignal(torch.from_numpy(ref), sr))))
                    case["values"] = {"loss": _number(total), "per_scale": per_scale}
                    if dtype == F64:
                        case["note"] = ("AudioSignal casts float64 audio to float32: the "
                                        "value is the float32 one")
                    if "mel" in name:
                        case["values"]["times_15_base_yml"] = _number(total) * 15.0
                except Exception as exc:
                    case["error"] = _error(exc)
                results.append(case)
    return dict(torch=torch.__version__, audiotools=audiotools.__version__,
                shims="torchaudio and torch.utils.tensorboard replaced by empty modules at "
                      "import (audiotools imports them; the STFT and mel code does not use "
                      "them)",
                audiotools_origin=audiotools.__file__, cases=results)


DDSP_SIZES = (2048, 1024, 512, 256, 128, 64)


def work_ddsp(src):
    """DDSP's SpectralLoss as ae.gin configures it (loss_type L1, mag_weight 1,
    logmag_weight 1, default fft_sizes), its TensorFlow calls written out line by line from
    ddsp/spectral_ops.py (stft, compute_mag), ddsp/core.py (safe_log, tf_float32) and
    ddsp/losses.py (mean_difference, SpectralLoss.call): ddsp itself does not install on
    Python 3.11."""
    import numpy as np
    import tensorflow as tf

    def tf_float32(x):
        return tf.cast(x, tf.float32) if isinstance(x, tf.Tensor) else \
            tf.convert_to_tensor(x, tf.float32)

    def stft(audio, frame_size=2048, overlap=0.75, pad_end=True):
        audio = tf_float32(audio)
        if len(audio.shape) == 3:
            audio = tf.squeeze(audio, axis=-1)
        return tf.signal.stft(signals=audio, frame_length=int(frame_size),
                              frame_step=int(frame_size * (1.0 - overlap)),
                              fft_length=None, pad_end=pad_end)

    def compute_mag(audio, size=2048, overlap=0.75, pad_end=True):
        return tf_float32(tf.abs(stft(audio, frame_size=size, overlap=overlap,
                                      pad_end=pad_end)))

    def safe_log(x, eps=1e-5):
        return tf.math.log(tf.where(x <= 0.0, eps, x))

    def mean_difference(target, value):  # loss_type 'L1', weights None
        return tf.reduce_mean(tf.abs((target - value) * 1.0))

    results = []
    for dtype in (F32, F64):
        est, ref = peer_input(S, dtype)
        target_audio, audio = as_rows(ref), as_rows(est)   # SpectralLoss(target, value)
        loss, mag_terms, logmag_terms = 0.0, [], []
        for size in DDSP_SIZES:
            target_mag = compute_mag(target_audio, size=size)
            value_mag = compute_mag(audio, size=size)
            mag = mean_difference(target_mag, value_mag)
            logmag = mean_difference(safe_log(target_mag), safe_log(value_mag))
            loss += 1.0 * mag
            loss += 1.0 * logmag
            mag_terms.append(float(mag.numpy()))
            logmag_terms.append(float(logmag.numpy()))
        results.append(dict(
            name="spectral_loss_ae_gin",
            call="ddsp.losses.SpectralLoss(fft_sizes=(2048, 1024, 512, 256, 128, 64), "
                 "loss_type='L1', mag_weight=1.0, logmag_weight=1.0)(ref_rows, est_rows)",
            kwargs=dict(fft_sizes=list(DDSP_SIZES), loss_type="L1", mag_weight=1.0,
                        logmag_weight=1.0, overlap=0.75, pad_end=True),
            input=S, dtype=dtype, sample_rate=None,
            note="computed in float32 whatever the input dtype (tf_float32)",
            values=dict(loss=float(np.float32(loss.numpy())), mag_per_size=mag_terms,
                        logmag_per_size=logmag_terms)))
    return dict(tensorflow=tf.__version__,
                shims="ddsp does not install on Python 3.11: its stft, compute_mag, "
                      "safe_log, tf_float32, mean_difference and SpectralLoss.call are "
                      "written out in work_ddsp with the same TensorFlow calls",
                cases=results)


WORKERS = {"auraloss_0.4.0": work_auraloss, "auraloss_main": work_auraloss,
           "parallel_wavegan": work_parallel_wavegan, "hifigan": work_hifigan,
           "bigvgan": work_bigvgan, "dac": work_dac, "ddsp": work_ddsp}


# --- driver --------------------------------------------------------------------------------

def copy_sources(src, mirrors):
    """Write each peer's files at its commit to src/<peer>/<path>, from bare git mirrors
    under ``mirrors`` laid out as owner+name/repo (a `git clone --mirror` of each)."""
    for peer, (repo, commit, paths) in SOURCES.items():
        git_dir = mirrors / repo.replace("/", "+") / "repo"
        for path in paths:
            data = subprocess.run(["git", "--git-dir", str(git_dir), "show",
                                   f"{commit}:{path}"], check=True, capture_output=True).stdout
            target = src / peer / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    print(f"peer sources written under {src}")


PEER_INFO = {
    "auraloss_0.4.0": dict(repository="csteinmetz1/auraloss", version="0.4.0 (PyPI)",
                           commit="tag v0.4.0"),
    "auraloss_main": dict(repository="csteinmetz1/auraloss", version="main",
                          commit=SOURCES["auraloss_main"][1]),
    "parallel_wavegan": dict(repository="kan-bayashi/ParallelWaveGAN", version="master",
                             commit=SOURCES["parallel_wavegan"][1]),
    "hifigan": dict(repository="jik876/hifi-gan", version="master",
                    commit=SOURCES["hifigan"][1]),
    "bigvgan": dict(repository="NVIDIA/BigVGAN", version="main (v2.4)",
                    commit=SOURCES["bigvgan"][1]),
    "dac": dict(repository="descriptinc/descript-audio-codec (loss code) + "
                "descriptinc/audiotools (AudioSignal)", version="dac 1.0.0, audiotools 0.7.2 "
                "(PyPI)", commit=SOURCES["dac"][1]),
    "ddsp": dict(repository="magenta/ddsp", version="3.7.0 (main)",
                 commit=SOURCES["ddsp"][1]),
}


def run_worker(peer, python, src, music):
    command = [python, __file__, "--worker", peer, "--src", str(src)] + (["--music"] * music)
    done = subprocess.run(command, capture_output=True, text=True,
                          env=dict(os.environ, CUDA_VISIBLE_DEVICES="",
                                   TF_CPP_MIN_LOG_LEVEL="3"))
    if done.returncode != 0:
        return dict(failed=done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", action="store_true",
                        help="write the peer files from git mirrors and stop")
    parser.add_argument("--mirrors", type=pathlib.Path, default=DEFAULT_MIRRORS)
    parser.add_argument("--src", type=pathlib.Path, default=DEFAULT_SRC)
    parser.add_argument("--worker", choices=sorted(WORKERS))
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter with torch 2.13, librosa and auraloss 0.4.0")
    parser.add_argument("--tf-python", default="/work/tmp/venv-golden-tf/bin/python")
    parser.add_argument("--at-python", default="/work/tmp/venv-golden-at/bin/python")
    parser.add_argument("--peers", nargs="*", default=list(WORKERS))
    parser.add_argument("--music", action="store_true",
                        help="run on excerpts of the renders in /work/music instead; write "
                             f"{MUSIC_OUT}")
    args = parser.parse_args()
    global S, M, OUT
    if args.music:
        S, M, OUT = MUSIC_INPUTS[S], MUSIC_INPUTS[M], MUSIC_OUT

    if args.sources:
        copy_sources(args.src, args.mirrors)
        return
    if args.worker:
        peer = args.worker
        where = {"auraloss_0.4.0": None, "auraloss_main": args.src / "auraloss_main"}.get(
            peer, args.src)
        try:
            out = WORKERS[peer](where)
        except Exception:
            traceback.print_exc()
            raise SystemExit(1)
        out["python"] = platform.python_version()
        print(json.dumps(out))
        return

    if args.music:
        write_render_excerpts()
    stored = json.loads(OUT.read_text()) if OUT.exists() else {}
    peers = stored.get("peers", {})
    cases = [c for c in stored.get("cases", []) + stored.get("quirks", [])
             if c["peer"] not in args.peers]
    python_for = {"ddsp": args.tf_python, "dac": args.at_python}
    for peer in args.peers:
        out = run_worker(peer, python_for.get(peer, args.python), args.src, args.music)
        info = dict(PEER_INFO[peer])
        if "failed" in out:
            info["failed"] = out["failed"]
            print(f"{peer}: FAILED\n{out['failed']}")
        else:
            info.update({k: v for k, v in out.items() if k != "cases"})
            for case in out["cases"]:
                case["id"] = f"{peer}/{case['name']}-{case['input']}-{case['dtype']}"
                case["peer"] = peer
                cases.append(case)
            print(f"{peer}: {len(out['cases'])} cases, "
                  f"{sum('error' in c for c in out['cases'])} recorded errors")
        peers[peer] = info
    order = list(WORKERS)
    cases.sort(key=lambda c: order.index(c["peer"]))
    document = dict(
        meta=dict(made_by="tests/parity/make_peer_golden.py", formulas="tests/parity/PEERS.md",
                  note="values are the peers' outputs as float64; 'error' is the peer's "
                       "exception (a documented failure, not a value); 'quirks' are values "
                       "a peer returns by a bug (see PEERS.md), kept out of 'cases'"),
        inputs={name: recipe(name) for name in (RENDER_EXCERPTS if args.music else INPUTS)},
        peers={p: peers[p] for p in order if p in peers},
        cases=[c for c in cases if c["name"] not in QUIRKS],
        quirks=[c for c in cases if c["name"] in QUIRKS])
    OUT.write_text(json.dumps(document, indent=1) + "\n")
    print(f"wrote {len(cases)} cases to {OUT} ({OUT.stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
