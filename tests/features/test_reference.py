"""The kernels against the plain NumPy twins of fastmixloss.features.numpy_reference."""

import numpy as np
import pytest

from fastmixloss.features import feature_tracks, numpy_reference
from fastmixloss.features.profiles import DEFINED_NORMALISATION
from fastmixloss.features.tracks import peak_gain

from .signals import RATE, mix


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("profile", ["automix-toolkit", "fxnorm"])
def test_panning_and_dynamics_match_the_reference(dtype, profile):
    x = mix(2.0, seed=21, pans=(0.9, -0.5, 0.3, -1.0)).astype(dtype)
    x[:, 30000:40000] = 0.0   # silent frames: SPS 0, dB floors
    x[1, 50000:60000] = 0.0   # one channel silent: hard-panned frames
    tracks = feature_tracks(x, RATE, profile=profile)[0]
    gain = peak_gain(x, DEFINED_NORMALISATION)
    fft, hop = (4096, 1024) if profile == "automix-toolkit" else (2048, 1024)
    rms, mean = numpy_reference.panning_tracks(x, gain, fft, hop, RATE)
    np.testing.assert_allclose(tracks.panning_rms, rms, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(tracks.panning_mean, mean, rtol=1e-9, atol=1e-12)
    rms_db, spread, crest = numpy_reference.dynamics_tracks(x, gain, 4096, 1024)
    np.testing.assert_allclose(tracks.rms_db, rms_db, rtol=1e-12)
    np.testing.assert_allclose(tracks.dynamic_spread, spread, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(tracks.crest_factor, crest, rtol=1e-12)
