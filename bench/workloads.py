"""The workloads of docs/performance.md, and their inputs.

Inputs are float32 noise-like 'mixes' (reference) and a degraded copy (estimate), made in
place so that making them costs no more memory than the arrays themselves: W4's peak memory
is measured with them in the process.
"""

from dataclasses import dataclass, field

import numpy as np

MR_DEFAULT = dict(fft_sizes=(1024, 2048, 512), hop_sizes=(120, 240, 50),
                  win_lengths=(600, 1200, 240))
W2_RESOLUTIONS = dict(fft_sizes=(512, 2048, 8192), hop_sizes=(128, 512, 2048),
                      win_lengths=(512, 2048, 8192))
STFT_DEFAULT = dict(fft_sizes=(1024,), hop_sizes=(256,), win_lengths=(1024,))
# M1: MR-STFT defaults on a 64-band mel scale (64: auraloss's single n_bins must fit 512)
MEL_OPTIONS = dict(scale="mel", n_bins=64, sample_rate=44100)
# P1: the "dac" preset (DAC's multi-scale mel loss at 44.1 kHz): its 7 scales
DAC_WINDOWS = (32, 64, 128, 256, 512, 1024, 2048)
DAC_RESOLUTIONS = dict(fft_sizes=DAC_WINDOWS, hop_sizes=tuple(w // 4 for w in DAC_WINDOWS),
                       win_lengths=DAC_WINDOWS)


@dataclass(frozen=True)
class Workload:
    id: str
    loss: str                 # "mrstft", "sd", "stft", "mse", "sisdr"
    shape: tuple              # (B, C, T)
    resolutions: dict = field(default_factory=dict)
    gpu: bool = False
    reference_ok: bool = True  # the NumPy reference holds whole spectrograms
    options: dict = field(default_factory=dict)   # spectral options (scale, ...)
    preset: str = None         # loss "preset": fastmixloss.PRESETS[preset] at 44.1 kHz

    @property
    def description(self):
        b, c, t = self.shape
        return f"{self.id} {self.loss} {b}x{c}x{t}"


WORKLOADS = {
    "W1": Workload("W1", "mrstft", (8, 2, 44100), MR_DEFAULT),
    "W2": Workload("W2", "sd", (8, 2, 44100), W2_RESOLUTIONS),
    "W3": Workload("W3", "stft", (16, 2, 131072), STFT_DEFAULT),
    "W4": Workload("W4", "mrstft", (1, 2, 7938000), MR_DEFAULT, reference_ok=False),
    "W5-mse": Workload("W5-mse", "mse", (64, 2, 441000), reference_ok=False),
    "W5-sisdr": Workload("W5-sisdr", "sisdr", (64, 2, 441000), reference_ok=False),
    "M1": Workload("M1", "mrstft", (8, 2, 44100), MR_DEFAULT, options=MEL_OPTIONS),
    "P1": Workload("P1", "preset", (8, 2, 44100), DAC_RESOLUTIONS, preset="dac"),
    "M4": Workload("M4", "mrstft", (1, 2, 7938000), MR_DEFAULT, reference_ok=False,
                   options=dict(MEL_OPTIONS, perceptual_weighting=True)),
    # mix-feature metrics, automix-toolkit profile: 8 stereo 30-s pairs at 44.1 kHz
    "W6": Workload("W6", "features", (8, 2, 30 * 44100), reference_ok=False),
    "G1": Workload("G1", "mrstft", (16, 2, 262144), MR_DEFAULT, gpu=True),
    "G2": Workload("G2", "sd", (64, 2, 131072), W2_RESOLUTIONS, gpu=True),
    "G3": Workload("G3", "mrstft", (1, 2, 7938000), MR_DEFAULT, gpu=True),
}
CPU_WORKLOADS = [w for w in WORKLOADS if not WORKLOADS[w].gpu]
GPU_WORKLOADS = [w for w in WORKLOADS if WORKLOADS[w].gpu]

# --quick: the same losses on small inputs, for a smoke test
QUICK_SHAPES = {"W1": (2, 2, 8192), "W2": (2, 2, 16384), "W3": (2, 2, 16384),
                "W4": (1, 2, 44100), "W5-mse": (4, 2, 44100), "W5-sisdr": (4, 2, 44100),
                "M1": (2, 2, 16384), "P1": (2, 2, 16384), "M4": (1, 2, 44100),
                "W6": (2, 2, 3 * 44100)}


def quick(workload):
    return Workload(workload.id, workload.loss, QUICK_SHAPES[workload.id],
                    workload.resolutions, workload.gpu, True, workload.options,
                    workload.preset)


def make_inputs(shape, seed=0, dtype=np.float32):
    """(est, ref): ref is band-limited noise with a slow envelope; est = 0.9 ref + noise."""
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal(shape, dtype=dtype)
    ref *= 0.25
    est = rng.standard_normal(shape, dtype=dtype)
    est *= 0.05
    est += ref
    est *= 0.9
    return est, ref
