"""The stereo image and Diff-MST's features: against Diff-MST's own code (golden values
made by make_diffmst_golden.py), against the formulas in NumPy, and robustness."""

import json
import pathlib

import numpy as np
import pytest

import fastmixloss as fm
import fastmixloss.features as features

from .make_diffmst_golden import CASES, RATE, case_pair

GOLDEN = json.loads((pathlib.Path(__file__).resolve().parent
                     / "diffmst_golden.json").read_text())
# float32 tolerances: Diff-MST's float32 extractors against ours (float64 arithmetic);
# the log Bark spectrum is an absolute difference of logarithms; in float64 too its
# filterbank is float32 (barkscale_fbanks builds it so, then casts it), 1e-7 relative
RTOL, BARK_ATOL = 2e-5, 2e-5


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_features_equal_diffmst(case, dtype):
    est, ref = case_pair(case)
    entry = GOLDEN["values"][f"{case}/{dtype}"]
    for role, x in (("est", est), ("ref", ref)):
        ours = features.diffmst_features(x.astype(dtype), RATE)
        theirs = entry[role]
        for key in ("rms", "crest_factor", "stereo_width", "stereo_imbalance"):
            np.testing.assert_allclose(ours[key], theirs[key], rtol=RTOL, atol=1e-9,
                                       err_msg=f"{role} {key}")
        np.testing.assert_allclose(ours["barkspectrum"], theirs["barkspectrum"], rtol=0,
                                   atol=BARK_ATOL if dtype == "float32" else 2e-6,
                                   err_msg=f"{role} barkspectrum")


@pytest.mark.parametrize("case", sorted(CASES))
def test_diffmst_profile_equals_audio_feature_loss(case):
    est, ref = case_pair(case)
    errors = fm.compare_features(est, ref, RATE, profile="diffmst")
    theirs = GOLDEN["values"][f"{case}/float64"]["loss"]
    for key, value in errors.to_dict().items():
        assert value == pytest.approx(theirs[key], rel=1e-6, abs=1e-12), key
    batch = fm.compare_features(np.stack([est, ref]), np.stack([ref, ref]), RATE,
                                profile="diffmst", reduction="none")
    assert batch.barkspectrum[1] == 0.0
    assert batch.rms[0] == pytest.approx(errors.rms, rel=1e-12)


def test_stereo_image_equals_the_formulas():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((3, 2, 200_001)).astype(np.float32)
    x[1, 1] = 0.3 * x[1, 0] + 0.1 * x[1, 1]
    image = features.stereo_image(x)
    left, right = x[:, 0].astype(np.float64), x[:, 1].astype(np.float64)
    ll, rr, lr = (left ** 2).sum(1), (right ** 2).sum(1), (left * right).sum(1)
    np.testing.assert_allclose(image.correlation, lr / np.sqrt(ll * rr), rtol=1e-12)
    np.testing.assert_allclose(image.width, ((left - right) ** 2).sum(1)
                               / ((left + right) ** 2).sum(1), rtol=1e-12)
    np.testing.assert_allclose(image.imbalance, (rr - ll) / (rr + ll), rtol=1e-12)


def test_stereo_image_undefined_values_have_reasons():
    x = np.zeros((2, 1000))
    x[0] = np.sin(np.arange(1000))
    image = features.stereo_image(x)
    assert np.isnan(image.correlation) and image.imbalance == -1.0
    assert image.reasons == {(0, "correlation"): "a channel is silent"}
    silent = features.stereo_image(np.zeros((2, 10)))
    assert set(silent.reasons) == {(0, "correlation"), (0, "width"), (0, "imbalance")}
    opposite = features.stereo_image(np.stack([x[0], -x[0]]))
    assert np.isnan(opposite.width) and opposite.correlation == -1.0


def test_bad_input_is_named():
    with pytest.raises(fm.ParameterError, match="channel"):
        features.stereo_image(np.zeros((1, 100)))
    with pytest.raises(fm.ParameterError, match="channel"):
        features.diffmst_features(np.zeros((3, 40000)), RATE)
    with pytest.raises(fm.ParameterError, match="16384"):
        features.diffmst_features(np.zeros((2, 16384)), RATE)
    with pytest.raises(fm.ParameterError, match="sample_rate"):
        features.diffmst_features(np.zeros((2, 40000)), 22050)
    with pytest.raises(fm.ParameterError, match="nan"):
        features.diffmst_features(np.full((2, 40000), np.nan), RATE)
    with pytest.raises(fm.ParameterError, match="reduction"):
        fm.compare_features(np.zeros((2, 40000)), np.zeros((2, 40000)), RATE,
                            profile="diffmst", reduction="max")


def test_features_are_the_same_for_any_thread_count():
    import numba
    est, _ = case_pair("gains_6s")
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = features.diffmst_features(est, RATE)
    finally:
        numba.set_num_threads(before)
    many = features.diffmst_features(est, RATE)
    for key in one:
        np.testing.assert_array_equal(one[key], many[key])
