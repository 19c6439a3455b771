"""The library fuzz of fuzz_cases.py, in this process: the feature metrics (every profile,
1 Hz to 1 MHz, silent / DC / constant / denormal / huge content, 1-8 channels), the
chroma scale, the phase term, random resolutions and preset overrides.

Each family runs a fixed, seeded set of cases (case i is the same call on every run), so a
failure reproduces: every failure is printed with its call and the command that runs it
alone. FASTMIXLOSS_FUZZ_CASES sets the cases per family; the long form, in child processes
that survive a crashing case, with the counts by outcome:
    python tests/faults/fuzz_long.py --cases 50000
"""

import collections
import os

import pytest

import fuzz_cases

# about 10 s in all on 2 cores once the kernels are compiled (it runs in the quick loop;
# the long form runs as many as asked)
CASES = {"features": 150, "chroma": 100, "phase": 100, "random_resolution": 75,
         "preset_overrides": 100}
REFUSALS = ("ParameterError", "KeywordError", "DeviceError")


@pytest.fixture(scope="module")
def compiled():
    """Compile the kernels first, so that no case is timed with its compilation."""
    fuzz_cases.warm_up()


@pytest.mark.parametrize("family", fuzz_cases.FAMILIES)
def test_fuzz(family, compiled):
    n_cases = int(os.environ.get("FASTMIXLOSS_FUZZ_CASES", CASES[family]))
    outcomes = collections.Counter()
    failures = []
    for index in range(n_cases):
        try:
            outcome, _ = fuzz_cases.run_case(family, index)
        except fuzz_cases.CaseFailure as failure:   # collect all, report them together
            failures.append(str(failure))
        else:
            outcomes[outcome] += 1
    print(f"{family}: {n_cases} cases, seed {fuzz_cases.SEED}: {dict(outcomes)}, "
          f"{len(failures)} failed")
    assert not failures, (f"{len(failures)} of {n_cases} cases failed:\n\n"
                          + "\n\n".join(failures[:12]))
    if n_cases >= 50:   # the draw reaches both sides of the contract
        values = outcomes["finite"] + outcomes["nan-with-reason"] + outcomes["nan-undefined"]
        assert values > n_cases // 5, outcomes
        assert sum(outcomes[r] for r in REFUSALS) > n_cases // 20, outcomes
