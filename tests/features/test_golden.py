"""The automix-toolkit profile against the toolkit's own values (tests/data, made by
tests/features/make_golden.py): every key within 1e-3 relative, or 1e-5 absolute."""

import json
import pathlib

import numpy as np
import pytest

from fastmixloss.features import compare_features

from .signals import RATE, golden_pair

GOLDEN = json.loads((pathlib.Path(__file__).parent.parent / "data" /
                     "automix_golden.json").read_text())["values"]


@pytest.mark.parametrize("case", sorted(GOLDEN))
def test_toolkit_profile_matches_the_toolkit(case):
    name, dtype = case.split("/")
    est, ref = golden_pair(name, np.dtype(dtype))
    ours = compare_features(est, ref, RATE, profile="automix-toolkit").to_dict()
    expected = GOLDEN[case]
    assert set(ours) == set(expected)
    for key, value in expected.items():
        assert abs(ours[key] - value) <= max(1e-3 * abs(value), 1e-5), (key, ours[key], value)


FXNORM = json.loads((pathlib.Path(__file__).parent.parent / "data" /
                     "fxnorm_golden.json").read_text())["values"]


@pytest.mark.parametrize("case", sorted(FXNORM))
def test_fxnorm_profile_matches_fxnorm(case):
    """FxNorm-automix's own numbers (tests/features/make_fxnorm_golden.py), under the
    toolkit's key names; its low-frequency ratio is not among them."""
    name, dtype = case.split("/")
    est, ref = golden_pair(name, np.dtype(dtype))
    ours = compare_features(est, ref, RATE, profile="fxnorm").to_dict()
    for key, value in FXNORM[case].items():
        assert abs(ours[key] - value) <= max(1e-3 * abs(value), 1e-5), (key, ours[key], value)
