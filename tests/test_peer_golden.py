"""The peers' stored values (tests/data/peers_golden.json) against the formula digest
tests/parity/PEERS.md, written out naively in tests/parity/peer_formulas.py.

This keeps the digest, the stored values and the input recipes consistent with each
other; the library's own presets and options are compared with the stored values in
test_presets.py / test_spectral_options.py. With auraloss installed, the auraloss 0.4.0
values are also re-run live.
"""

import json
import math
import pathlib

import numpy as np
import pytest

from parity import peer_formulas as pf
from parity.peer_inputs import INPUTS, as_rows, peer_input, recipe

GOLDEN = json.loads((pathlib.Path(__file__).parent / "data" / "peers_golden.json").read_text())
CASES = {case["id"]: case for case in GOLDEN["cases"] + GOLDEN["quirks"]}
# DAC's float64 input is cast to float32, audiotools' classes are DAC's, BigVGAN copies the
# DAC mel loss: those equal other cases exactly (test_copies_give_identical_values)
COPIES = {cid: cid.replace("float64", "float32") for cid in CASES
          if cid.startswith("dac/") and cid.endswith("float64")}
COPIES.update({cid: cid.replace("audiotools_", "") for cid in CASES
               if cid.startswith("dac/audiotools_")})
COPIES.update({cid: cid.replace("bigvgan/multiscale_mel_", "dac/mel_base_yml_")
               for cid in CASES if cid.startswith("bigvgan/") and "values" in CASES[cid]})
VALUED = sorted(cid for cid, case in CASES.items() if "values" in case and cid not in COPIES)
# the peer computes in float32 (its value) while the digest runs in float64
RTOL = {"float64": 1e-6, "float32": 1e-4}  # docs/numerics.md's float32 tolerance
FLOAT32_ONLY_PEERS = ("dac", "ddsp")  # AudioSignal and tf_float32 cast float64 input


def test_input_recipes_match_the_code_that_rebuilds_them():
    assert GOLDEN["inputs"] == {name: recipe(name) for name in INPUTS}
    for case in CASES.values():
        assert case["input"] in INPUTS and case["dtype"] in RTOL


def test_every_case_has_a_value_or_the_peers_error():
    for case in CASES.values():
        assert ("values" in case) != ("error" in case), case["id"]
        assert case["peer"] in GOLDEN["peers"] and "failed" not in GOLDEN["peers"][case["peer"]]


def test_copies_give_identical_values():
    assert COPIES
    for copy, original in COPIES.items():
        assert CASES[copy]["values"]["loss"] == CASES[original]["values"]["loss"], copy


def _frame0_phase_slack(est_rows, ref_rows, fft_size, hop_size, win_length, window):
    """How far phs may move when the real spectrum of frame 0 (an even frame: reflect
    padding around sample 0) lands on angle +pi or -pi by rounding. Mean over all bins."""
    win = pf.periodic_window(window, win_length)
    est = pf.stft_centred(est_rows, fft_size, hop_size, win)
    ref = pf.stft_centred(ref_rows, fft_size, hop_size, win)

    def choices(spec):
        angle = np.angle(spec[:, 0])
        at_pi = spec[:, 0].real < 0
        return np.where(at_pi, np.pi, angle), np.where(at_pi, -np.pi, angle)
    variants = [(a - b) ** 2 for a in choices(est) for b in choices(ref)]
    return float(np.sum(np.max(variants, axis=0) - np.min(variants, axis=0)) / est.size)


def _digest(case):
    """(values by the digest, absolute slack per key) for one stored case."""
    est, ref = (as_rows(x) for x in peer_input(case["input"], "float64"))
    kwargs = dict(case["kwargs"])
    name, peer = case["name"], case["peer"]
    slack = {}
    if peer.startswith("auraloss"):
        kwargs.pop("output", None)
        if name.startswith("random_resolution"):
            runs = [pf.auraloss_stft(est, ref, **r) for r in case["resolutions"]]
            return {"loss": float(np.mean([run["loss"] for run in runs]))}, slack
        if name == "melstft_class":
            kwargs.update(scale="mel", n_bins=128)
        if name.startswith("sd_"):
            return pf.auraloss_sum_and_difference(est, ref, INPUTS[case["input"]][1],
                                                  **kwargs), slack
        if name.startswith("mrstft"):
            values = pf.auraloss_mrstft(est, ref, **kwargs)
            if kwargs.get("w_phs"):
                per = [_frame0_phase_slack(est, ref, n, h, w, "hann_window") for n, h, w in
                       zip(kwargs["fft_sizes"], kwargs["hop_sizes"], kwargs["win_lengths"])]
                slack = {"phs": per, "loss": kwargs["w_phs"] * float(np.mean(per))}
            return values, slack
        values = pf.auraloss_stft(est, ref, **kwargs)
        if kwargs.get("w_phs"):
            s = _frame0_phase_slack(est, ref, 1024, 256, 1024, "hann_window")
            slack = {"phs": s, "loss": kwargs["w_phs"] * s}
        return values, slack
    if peer == "parallel_wavegan":
        if name == "mrstft_defaults":
            return pf.pwg_mrstft(est, ref, **kwargs), slack
        return pf.pwg_mel(est, ref, **kwargs), slack
    if peer == "hifigan":
        return pf.hifigan_mel_l1(est, ref, **kwargs), slack
    if peer == "dac" and "stft" in name:
        return pf.dac_stft(est, ref, **kwargs), slack
    if peer == "dac":
        return pf.dac_mel(est, ref, case["sample_rate"], **kwargs), slack
    if peer == "bigvgan":
        return pf.dac_mel(est, ref, case["sample_rate"], n_mels=[5, 10, 20, 40, 80, 160, 320],
                          window_lengths=[32, 64, 128, 256, 512, 1024, 2048],
                          mel_fmin=[0] * 7, mel_fmax=[None] * 7), slack
    if peer == "ddsp":
        return pf.ddsp_spectral(est, ref, tuple(kwargs["fft_sizes"])), slack
    raise AssertionError(f"no digest formula for {case['id']}")


def _needs_librosa(case):
    kwargs = case["kwargs"]
    return (kwargs.get("scale") == "mel" or case["name"] == "melstft_class"
            or case["peer"] in ("hifigan", "bigvgan")
            or (case["peer"] in ("dac", "parallel_wavegan") and "mel" in case["name"]))


@pytest.mark.slow
@pytest.mark.parametrize("case_id", VALUED)
def test_digest_reproduces_the_peer(case_id):
    case = CASES[case_id]
    if _needs_librosa(case):
        pytest.importorskip("librosa")
    pytest.importorskip("scipy")
    values, slack = _digest(case)
    dtype = "float32" if case["peer"] in FLOAT32_ONLY_PEERS else case["dtype"]
    for key, stored in case["values"].items():
        if key.startswith("times_"):  # the training weight times the loss
            continue
        allowed = np.broadcast_to(slack.get(key, 0.0), np.shape(stored))
        for got, want, atol in zip(np.ravel(values[key]), np.ravel(stored), np.ravel(allowed)):
            np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=float(atol) + 1e-12,
                                       equal_nan=True, err_msg=f"{case_id} [{key}]")


def test_digest_catches_a_wrong_floor():
    """The comparison above can fail: ParallelWaveGAN's 1e-7 power floor read as a
    magnitude floor changes its log-magnitude term beyond the tolerance."""
    case = CASES["parallel_wavegan/mrstft_defaults-music_b2_stereo-float64"]
    est, ref = (as_rows(x) for x in peer_input(case["input"], "float64"))
    win = pf.periodic_window("hann", 240)
    x_hat = np.maximum(np.abs(pf.stft_centred(est, 512, 50, win)), 1e-7)
    x = np.maximum(np.abs(pf.stft_centred(ref, 512, 50, win)), 1e-7)
    right = pf.pwg_mrstft(est, ref, (512,), (50,), (240,))["mag_loss"]
    wrong = np.mean(np.abs(np.log(x) - np.log(x_hat)))
    assert not math.isclose(wrong, right, rel_tol=RTOL["float64"])


# one case per option (the multi-resolution ones repeat them and cost more)
LIVE_NAMES = ("stft_mel128", "stft_chroma12", "stft_aweight", "stft_scale_invariance",
              "stft_phase", "stft_log_eps1_fac10", "random_resolution_np_seed0")
LIVE = [cid for cid, case in sorted(CASES.items())
        if case["peer"] == "auraloss_0.4.0" and case["name"] in LIVE_NAMES]


@pytest.mark.slow
@pytest.mark.parity
@pytest.mark.parametrize("case_id", LIVE)
def test_stored_auraloss_values_rerun_live(case_id):
    pytest.importorskip("auraloss")
    pytest.importorskip("librosa")
    from parity.make_peer_golden import AURALOSS_CASES, auraloss_case
    stored = CASES[case_id]
    name, cls_name, kwargs, _, _, extra = next(c for c in AURALOSS_CASES
                                               if c[0] == stored["name"])
    live = auraloss_case(name, cls_name, kwargs, stored["input"], stored["dtype"], extra)
    assert ("error" in live) == ("error" in stored)
    if "values" in stored:
        for key, value in stored["values"].items():
            np.testing.assert_allclose(live["values"][key], value, rtol=RTOL[stored["dtype"]],
                                       equal_nan=True)
