"""compat="auraloss" against auraloss 0.4.0: stored golden values always, live when
auraloss is installed. Required: 1e-5 relative in float64, 1e-4 in float32."""

import json
import pathlib

import numpy as np
import pytest

from parity.cases import auraloss_value, case_ids, fastmixloss_value, split

GOLDEN = json.loads((pathlib.Path(__file__).parent / "data" / "auraloss_golden.json")
                    .read_text())["values"]
RTOL = {"float64": 1e-5, "float32": 1e-4}


def test_every_case_has_a_golden_value():
    assert sorted(GOLDEN) == sorted(case_ids())


@pytest.mark.parametrize("case", case_ids())
def test_matches_stored_auraloss_values(case):
    _, _, dtype = split(case)
    np.testing.assert_allclose(fastmixloss_value(case), GOLDEN[case], rtol=RTOL[dtype])


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("case", [c for c in case_ids() if c.startswith(("stft-", "mrstft-",
                                                                         "sd-", "sisdr-"))])
def test_matches_live_auraloss(case):
    pytest.importorskip("auraloss")
    _, _, dtype = split(case)
    np.testing.assert_allclose(fastmixloss_value(case), auraloss_value(case),
                               rtol=RTOL[dtype])


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("seed", range(3))
def test_matches_live_auraloss_on_random_batches(seed):
    pytest.importorskip("auraloss")
    import auraloss
    import torch

    import fastmixloss as fm
    rng = np.random.default_rng(seed)
    n_items, length = rng.integers(1, 5), rng.integers(3000, 12000)
    ref = rng.standard_normal((n_items, 2, length)) * 10.0 ** rng.uniform(-2, 0)
    est = ref * rng.uniform(0.5, 1.5) + 0.1 * rng.standard_normal(ref.shape)
    for dtype in (np.float64, np.float32):
        e, r = est.astype(dtype), ref.astype(dtype)
        with torch.no_grad():
            expected = auraloss.freq.SumAndDifferenceSTFTLoss(
                [1024, 2048, 512], [120, 240, 50], [600, 1200, 240])(
                torch.from_numpy(e), torch.from_numpy(r)).item()
        got = fm.sum_and_difference_loss(e, r, compat="auraloss")
        np.testing.assert_allclose(got, expected, rtol=RTOL[np.dtype(dtype).name])


@pytest.mark.slow
@pytest.mark.parity
def test_torchs_own_windows_give_auralosss_float64_numbers_to_rounding():
    """torch's CPU build computes float32 cos through MKL, whose values the library's
    mirror of torch's window functions cannot reproduce everywhere (one ulp apart in a
    few percent of the window's values): enough to move the log term of near-silent bins
    by 1e-8 relative. torch's own window values, passed one per resolution, leave only
    the transforms' rounding."""
    pytest.importorskip("auraloss")
    import auraloss
    import torch

    import fastmixloss as fm
    from signals import degrade, music
    ref = music(2, 44100, 5)
    est = degrade(ref, 6)
    gain = np.ones(44100)   # a fade to -120 dB and digital silence, as songs have
    gain[10000:20000] = np.linspace(1.0, 1e-6, 10000)
    gain[20000:26000] = 0.0
    est, ref = est * gain, ref * gain
    for loss, fastmixloss_loss, wins in (
            (auraloss.freq.MultiResolutionSTFTLoss(), fm.mrstft_loss, (600, 1200, 240)),
            (auraloss.freq.SumAndDifferenceSTFTLoss([512, 2048, 8192], [128, 512, 2048],
                                                    [512, 2048, 8192]),
             lambda e, r, **kw: fm.sum_and_difference_loss(
                 e, r, fft_sizes=[512, 2048, 8192], hop_sizes=[128, 512, 2048],
                 win_lengths=[512, 2048, 8192], **kw),
             (512, 2048, 8192))):
        with torch.no_grad():
            expected = loss.double()(torch.from_numpy(est), torch.from_numpy(ref)).item()
        windows = [torch.hann_window(w).numpy() for w in wins]
        got = fastmixloss_loss(est, ref, compat="auraloss", window=windows)
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        # the mirrored named window, for scale: within 1e-6, not to rounding
        np.testing.assert_allclose(fastmixloss_loss(est, ref, compat="auraloss"), expected,
                                   rtol=1e-6)
