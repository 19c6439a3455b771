"""compat="auraloss" windows: torch's float32 window functions, mirrored without torch."""

import base64
import json
import pathlib

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss.windows import torch_window

STORED = json.loads((pathlib.Path(__file__).parent / "data" / "torch_windows.json")
                    .read_text())["values"]
# torch's float32 cos (MKL or SLEEF, by machine) is within one ulp of the correctly
# rounded one that fastmixloss uses; measured: about 3% of hann/hamming/blackman values
EXACT = ("bartlett", "rectangular")
MAX_MISMATCH = 0.06


def _check(name, ours, theirs):
    assert ours.dtype == np.float32 and ours.shape == theirs.shape
    if name in EXACT:
        np.testing.assert_array_equal(ours, theirs)
        return
    # one ulp of a cos near 1, carried through the window's affine steps
    assert np.abs(ours - theirs).max() <= 2 ** -23


@pytest.mark.parametrize("key", sorted(STORED))
def test_stored_torch_windows(key):
    name, length = key.rsplit("-", 1)
    theirs = np.frombuffer(base64.b64decode(STORED[key]), dtype="<f4")
    _check(name, torch_window(name, int(length)), theirs)


@pytest.mark.parametrize("name", ["hann", "hamming", "blackman", "bartlett", "rectangular"])
def test_against_live_torch_every_length(name):
    torch = pytest.importorskip("torch")
    build = torch.ones if name == "rectangular" else getattr(torch, f"{name}_window")
    lengths = list(range(1, 600)) + list(range(600, 16385, 97)) + [16384]
    mismatched = total = 0
    for length in lengths:
        theirs = build(length).numpy()
        ours = torch_window(name, length)
        _check(name, ours, theirs)
        mismatched += int(np.sum(ours != theirs))
        total += length
    assert mismatched / total <= (0 if name in EXACT else MAX_MISMATCH)


def test_compat_uses_the_torch_windows():
    import fastmixloss as fm
    from fastmixloss.windows import padded_window
    padded, lo, hi = padded_window("hann", 600, 1024, np.float64, float32_window=True)
    np.testing.assert_array_equal(padded[lo:hi], torch_window("hann", 600))
    rng = np.random.default_rng(0)
    x, noise = rng.standard_normal((2, 1, 2, 5000))
    est = x + 0.1 * noise
    assert fm.stft_loss(est, x, compat="auraloss") != fm.stft_loss(est, x)


def test_one_window_array_per_resolution():
    from fastmixloss.windows import window_values
    rng = np.random.default_rng(0)
    est, ref = rng.standard_normal((2, 2, 6000)), rng.standard_normal((2, 2, 6000))
    sizes = dict(fft_sizes=(256, 512), hop_sizes=(64, 128), win_lengths=(200, 512))
    per_resolution = [window_values("hamming", 200), window_values("blackman", 512)]
    got = fm.mrstft_loss(est, ref, window=per_resolution, output="full", **sizes)
    for part, name, (fft, hop, win) in zip(got.resolutions, ("hamming", "blackman"),
                                           zip(*sizes.values())):
        assert part.loss == fm.stft_loss(est, ref, fft_size=fft, hop_size=hop,
                                         win_length=win, window=name)
    # the resolution whose window does not fit is named; a count that matches no
    # resolution count is one array, which must then fit every resolution
    with pytest.raises(fm.ParameterError, match=r"window\[1\].*win_length=512"):
        fm.MultiResolutionSTFTLoss(window=[np.ones(200), np.ones(500)], **sizes)
    with pytest.raises(fm.ParameterError, match="win_length=200"):
        fm.MultiResolutionSTFTLoss(window=[np.ones(200)] * 3, **sizes)
