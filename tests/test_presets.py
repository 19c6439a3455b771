"""Presets: each against its source's stored values, against the NumPy reference built
from its fields, per-item independence, and bad input."""

import json
import re
import pathlib
import sys

import numpy as np
import pytest

import fastmixloss as fm
from fastmixloss import reference
from fastmixloss.presets import PRESETS
from signals import degrade, music

sys.path.insert(0, str(pathlib.Path(__file__).parent / "parity"))
from peer_inputs import peer_input  # noqa: E402

GOLDEN = json.loads((pathlib.Path(__file__).parent / "data" / "peers_golden.json")
                    .read_text())["cases"]

# (peer, stored case) -> (preset, keyword arguments, how to read the stored number)
CASES = {
    ("parallel_wavegan", "mrstft_defaults"):
        ("parallel_wavegan", {}, lambda v: v["sc_loss"] + v["mag_loss"]),
    ("parallel_wavegan", "mel_defaults"):
        ("parallel_wavegan_mel", {}, lambda v: v["mel_loss"]),
    ("parallel_wavegan", "mel_vctk_hifigan_v1"):
        ("parallel_wavegan_mel", dict(sample_rate=24000, fft_sizes=(2048,),
                                      hop_sizes=(300,), win_lengths=(1200,), fmin=0.0,
                                      fmax=12000.0, log_factor=1.0),
         lambda v: v["mel_loss"]),
    ("hifigan", "mel_l1_fmax_for_loss"): ("hifigan", {}, lambda v: v["mel_l1"]),
    ("hifigan", "mel_l1_fmax8000"): ("hifigan", dict(fmax=8000.0), lambda v: v["mel_l1"]),
    ("dac", "mel_base_yml_44100"): ("dac", dict(sample_rate=44100), lambda v: v["loss"]),
    ("dac", "mel_base_yml_24000"): ("dac", dict(sample_rate=24000), lambda v: v["loss"]),
    ("dac", "mel_base_yml_48000"): ("dac", dict(sample_rate=48000), lambda v: v["loss"]),
    ("dac", "audiotools_mel_base_yml_44100"):
        ("dac", dict(sample_rate=44100), lambda v: v["loss"]),
    ("bigvgan", "multiscale_mel_44100"):
        ("dac", dict(sample_rate=44100), lambda v: v["loss"]),
    ("bigvgan", "multiscale_mel_24000"):
        ("dac", dict(sample_rate=24000), lambda v: v["loss"]),
    ("dac", "stft_base_yml_44100"): ("dac_stft", {}, lambda v: v["loss"]),
    ("dac", "audiotools_stft_base_yml_44100"): ("dac_stft", {}, lambda v: v["loss"]),
    ("ddsp", "spectral_loss_ae_gin"): ("ddsp", {}, lambda v: v["loss"]),
}


def _stored():
    return [c for c in GOLDEN if (c["peer"], c["name"]) in CASES and "values" in c]


def test_every_preset_has_stored_values():
    covered = {CASES[(c["peer"], c["name"])][0] for c in _stored()}
    assert covered == set(PRESETS) - {"auraloss"}   # auraloss: tests/test_parity_auraloss


@pytest.mark.parametrize("case", _stored(), ids=lambda c: c["id"])
def test_preset_matches_its_source(case):
    name, kwargs, read = CASES[(case["peer"], case["name"])]
    est, ref = peer_input(case["input"], case["dtype"])
    got = fm.preset_loss(name, **kwargs)(est, ref)
    # the sources compute in float32 (DAC and DDSP cast float64 input): 1e-4 there;
    # 1e-6 where the source ran in float64
    ran_in_float64 = case["dtype"] == "float64" and "note" not in case
    np.testing.assert_allclose(got, read(case["values"]),
                               rtol=1e-6 if ran_in_float64 else 1e-4)


def test_parallel_wavegan_reports_its_terms_apart():
    case = next(c for c in _stored() if c["name"] == "mrstft_defaults"
                and c["dtype"] == "float64")
    est, ref = peer_input(case["input"], "float64")
    got = fm.preset_loss("parallel_wavegan", output="full")(est, ref)
    np.testing.assert_allclose([got.sc, got.log_mag],
                               [case["values"]["sc_loss"], case["values"]["mag_loss"]],
                               rtol=1e-6)
    assert len(got.resolutions) == 3


def test_dac_reports_each_scale():
    case = next(c for c in _stored() if c["name"] == "mel_base_yml_44100"
                and c["dtype"] == "float32")
    est, ref = peer_input(case["input"], "float32")
    got = fm.preset_loss("dac", sample_rate=44100, output="full")(est, ref)
    np.testing.assert_allclose([p.loss for p in got.resolutions],
                               case["values"]["per_scale"], rtol=1e-4)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(PRESETS))
def test_preset_matches_reference_per_item(name, dtype):
    ref = music(2, 6000, 11)
    est = degrade(ref, 12)
    est, ref = est.astype(dtype), ref.astype(dtype)
    rate = 44100 if name == "dac" else None
    loss = fm.preset_loss(name, sample_rate=rate, reduction="none", output="full")
    got = loss(est, ref)
    preset = PRESETS[name]
    expected = reference.preset_loss(est, ref, preset, sample_rate=loss.sample_rate)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    weights = {"loss": 1, "sc": preset.w_sc, "log_mag": preset.w_log_mag,
               "lin_mag": preset.w_lin_mag}
    for term in [t for t, w in weights.items() if w]:   # a preset reports its own terms
        np.testing.assert_allclose(getattr(got, term), expected[term], rtol=rtol,
                                   atol=1e-12)
    alone = [loss(est[i:i + 1], ref[i:i + 1]).loss[0] for i in range(2)]
    np.testing.assert_allclose(got.loss, alone, rtol=1e-12)


def test_preset_input_errors():
    with pytest.raises(fm.ParameterError, match="preset='bogus'"):
        fm.preset_loss("bogus")
    with pytest.raises(fm.ParameterError, match="sample_rate"):
        fm.preset_loss("dac")
    with pytest.raises(fm.ParameterError, match="colour"):
        fm.preset_loss("ddsp", colour=1)
    with pytest.raises(fm.ParameterError, match="one value per resolution"):
        fm.preset_loss("ddsp", fft_sizes=(64,))
    with pytest.raises(fm.ParameterError, match="too short"):
        fm.preset_loss("auraloss")(np.zeros(500), np.zeros(500))
    with pytest.raises(fm.ParameterError, match="reduction"):
        fm.preset_loss("ddsp", reduction="sum")
    with pytest.raises(fm.ParameterError, match="check_finite"):
        fm.preset_loss("ddsp", check_finite=np.array([1, 2]))
    with pytest.raises(fm.ParameterError, match="device"):
        fm.preset_loss("ddsp", device="tpu")


@pytest.mark.parametrize("name", sorted(fm.PRESETS))
@pytest.mark.parametrize("dtype,limit", [(np.float32, 1e30), (np.float64, 1e100)])
def test_presets_refuse_samples_whose_squares_overflow(name, dtype, limit):
    """As the spectral losses do: a NaN or a number from overflowed spectra is never a
    result (1e200 in float64 gave NaN for three presets and 2156.6 for dac)."""
    x = np.random.default_rng(0).standard_normal((1, 2, 8000)).astype(dtype)
    loss = fm.preset_loss(name, sample_rate=44100 if name == "dac" else None)
    big = x.copy()
    big[0, 1, 4000] = 10 * limit
    with pytest.raises(fm.ParameterError, match="scale both signals down"):
        loss(big, x)
    with pytest.raises(fm.ParameterError, match="scale both signals down"):
        loss(x, big)
    assert np.isfinite(loss(x * (limit / 10), x * (limit / 20)))


def test_every_preset_field_but_its_source_is_checked_when_overridden():
    from fastmixloss import presets
    assert set(presets._FIELD_CHECKS) == set(presets.Preset.__dataclass_fields__) - {"source"}
    for field, bad in [("fft_sizes", float("nan")), ("fft_sizes", None), ("hop_sizes", 1.5),
                       ("n_mels", [0]), ("eps", -1.0), ("framing", "sideways"),
                       ("fmax", float("inf")), ("eps_added", "yes"), ("source", "x")]:
        with pytest.raises(fm.ParameterError, match=field):
            fm.preset_loss("ddsp", **{field: bad})


@pytest.mark.parametrize("overrides,named", [
    (dict(fmin=20000.0, fmax=8000.0), "fmin=20000.0"),   # each gave 0.0 for any input
    (dict(fmin=30000.0), "fmin=30000.0"),
    (dict(fmax=1e6), "fmax=1000000.0"),                  # was accepted
    (dict(sample_rate=1e-300), "sample_rate=1e-300"),
    (dict(sample_rate=5e6), "sample_rate=5000000.0")])
def test_preset_mel_overrides_get_the_spectral_options_checks(overrides, named):
    kwargs = dict(dict(sample_rate=44100), **overrides)
    with pytest.raises(fm.ParameterError, match=re.escape(named)) as raised:
        fm.preset_loss("dac", **kwargs)
    # the same check, and so the same words, as the spectral options' mel scale
    rate = kwargs.pop("sample_rate")
    with pytest.raises(fm.ParameterError) as options:
        fm.STFTLoss(scale="mel", sample_rate=rate, **kwargs)
    assert str(options.value).replace("scale='mel'", "preset='dac'") == str(raised.value)


@pytest.mark.parametrize("name", ["auraloss", "dac_stft", "ddsp"])
def test_band_edges_on_a_preset_without_mel_bands_are_refused(name):
    # they were ignored, as the spectral options refuse fmin/fmax without scale="mel"
    for edge in (dict(fmin=40.0), dict(fmax=8000.0)):
        with pytest.raises(fm.ParameterError, match="applies to mel bands only"):
            fm.preset_loss(name, **edge)


@pytest.mark.parametrize("overrides,named", [
    (dict(eps=0.0, framing="uncentred"), "eps=0.0"),
    (dict(log_threshold=1e-5), "log_threshold=1e-05"),
    (dict(fft_sizes=(256, 32), hop_sizes=(64, 8), win_lengths=(256, 32), n_mels=(10, 40),
          sample_rate=16000), r"n_mels\[1\]=40")])
def test_preset_refuses_a_log_term_that_can_meet_zero(overrides, named):
    """With no floor on the magnitudes or the log, log(0) - log(0): NaN in the sources,
    and a clamped, meaningless 50.6 (eps=0, uncentred) or 141.9 (empty mel bands) for an
    estimate identical to its reference here."""
    with pytest.raises(fm.ParameterError, match=named + ".*log"):
        fm.preset_loss("auraloss", **overrides)
    fm.preset_loss("auraloss", log_floor=1e-5, **overrides)   # a floor: fine


def test_preset_spectral_convergence_without_any_floor_is_nan_with_the_reason():
    """eps=0 leaves a reference of exact zeros no denominator: NaN (the sources' inf or
    NaN), without a warning; a reference with any energy keeps the sources' number."""
    x = np.random.default_rng(2).standard_normal((2, 2, 8000))
    ref = x.copy()
    ref[1] = 0.0
    loss = fm.preset_loss("auraloss", eps=0.0, log_floor=1e-5, reduction="none",
                          output="full")
    got = loss(0.5 * x, ref)   # warnings are errors in the tests
    expected = reference.preset_loss(0.5 * x, ref, loss.preset)
    np.testing.assert_allclose(got.loss, expected["loss"], rtol=1e-9)   # NaN at item 1
    assert np.isnan(got.sc[1]) and np.isfinite(got.sc[0])
    assert got.reasons["sc"] == ("undefined for item 1: the reference has no energy above "
                                 "the magnitude floor (eps=0)")
    assert got.reasons["fft1024_hop120_win600.loss"] == got.reasons["loss"]


def test_preset_refuses_a_band_that_covers_no_bin_at_some_resolution():
    # at DAC's 32-point frames (1378 Hz a bin) a 50-Hz band holds no bin: that
    # resolution would add 0 for any input
    with pytest.raises(fm.ParameterError, match=r"fft_sizes\[0\]=32"):
        fm.preset_loss("dac", sample_rate=44100, fmin=10000.0, fmax=10050.0)


def test_hifigan_refuses_hops_longer_than_the_fft():
    # the framing pads (fft - hop) // 2: negative, a value the reference cannot compute
    with pytest.raises(fm.ParameterError, match=re.escape("hop_sizes[0]=2048")):
        fm.preset_loss("hifigan", hop_sizes=(2048,))
    x = np.random.default_rng(0).standard_normal((1, 1, 5000))
    loss = fm.preset_loss("hifigan", hop_sizes=(1024,), reduction="none")   # the edge
    np.testing.assert_allclose(loss(0.5 * x, x), reference.preset_loss(
        0.5 * x, x, loss.preset, sample_rate=loss.sample_rate)["loss"], rtol=1e-9)


def test_presets_keep_their_sources_number_for_a_silent_reference():
    """A preset gives its source's number, as compat="auraloss" does: a silent reference's
    spectral convergence is the peers' floor-divided value, not NaN."""
    x = np.random.default_rng(1).standard_normal((2, 2, 8000))
    silent = np.zeros_like(x)
    for name in ("auraloss", "parallel_wavegan"):
        loss = fm.preset_loss(name, output="full")
        got = loss(x, silent)
        assert np.isfinite(got.loss) and got.reasons == {}
    np.testing.assert_allclose(
        fm.preset_loss("auraloss")(x, silent),
        fm.mrstft_loss(x, silent, compat="auraloss"), rtol=1e-12)


def test_preset_checks_every_resolution_before_any_kernel(monkeypatch):
    # 3000 samples suffice for DDSP's small sizes, not for 2048: nothing may run first
    from fastmixloss import backend as backends
    calls = []
    monkeypatch.setattr(backends.CpuBackend, "stft_option_sums",
                        staticmethod(lambda *args: calls.append(args)))
    monkeypatch.setattr(backends.CpuBackend, "stft_row_partials",
                        staticmethod(lambda *args: calls.append(args)))
    x = np.zeros((1, 1, 1500))
    with pytest.raises(fm.ParameterError, match="too short"):
        fm.preset_loss("auraloss", fft_sizes=(512, 4096), hop_sizes=(128, 1024),
                       win_lengths=(512, 4096))(x, x)
    assert calls == []


from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(deadline=None, max_examples=25)
@given(name=st.sampled_from(["hifigan", "ddsp", "dac_stft", "parallel_wavegan_mel"]),
       fft=st.integers(16, 600), hop_fraction=st.floats(0.1, 0.9),
       extra=st.integers(1, 2000), seed=st.integers(0, 2 ** 16))
def test_preset_framings_match_reference_for_any_size(name, fft, hop_fraction, extra, seed):
    hop = max(1, int(fft * hop_fraction))
    preset = PRESETS[name]
    overrides = dict(fft_sizes=(fft,), hop_sizes=(hop,), win_lengths=(fft,))
    if preset.n_mels is not None:
        overrides.update(n_mels=(4,), fmin=0.0, fmax=None)
    length = max(fft // 2, fft - 2 * ((fft - hop) // 2)) + extra
    rng = np.random.default_rng(seed)
    ref = rng.standard_normal((2, 1, length))
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    loss = fm.preset_loss(name, reduction="none", **overrides)
    got = loss(est, ref)
    expected = reference.preset_loss(est, ref, loss.preset, sample_rate=loss.sample_rate)
    np.testing.assert_allclose(got, expected["loss"], rtol=1e-9, atol=1e-12)
