"""No input may crash, hang, exhaust memory or touch the user's files (issue 8).

Hypothesis drives the structured mutators of :mod:`fuzzing` (shared with
``benchmarks/fuzz.py``, which runs thousands of cases) over the shipped
hierarchies, workloads, mapping files and command lines. Every case must end
in a result (exit 0) or one clean error: an ``EnergySimError`` naming the file
and a field, or on the command line exit 2 with one ``energysim: error:`` line;
and every file the user had in the working folder must be there, unchanged.
A failure prints the mutation and the call, enough to reproduce it by hand.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import pytest
from fuzzing import ACCEPTED, KINDS, make_case, run_case
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

#: Examples per kind: a few hundred, cheap cases (small workloads, one layer, one figure at most).
EXAMPLES_PER_KIND = 200
#: Past this a case is a hang (the limit itself is enforced inside the case).
CASE_SECONDS = 10.0
#: A case may grow the address space by this much; beyond is a memory blow-up.
CASE_MEMORY_BYTES = 2 << 30


class DrawChooser:
    """The fuzzers' choices, drawn by hypothesis (so that its database replays a failure)."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def integer(self, low: int, high: int) -> int:
        return self.data.draw(st.integers(low, high))


@pytest.mark.parametrize("kind", KINDS)
@settings(
    max_examples=EXAMPLES_PER_KIND,
    deadline=timedelta(seconds=2.5),
    # Shrinking would re-run hangs and blow-ups many times; the case's description is the reproducer.
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # The suite is deterministic; benchmarks/fuzz.py explores new cases with each seed.
    derandomize=True,
)
@given(data=st.data())
def test_every_mutation_gives_a_result_or_one_clean_error(kind: str, data: st.DataObject) -> None:
    case = make_case(kind, DrawChooser(data), small=True)
    with tempfile.TemporaryDirectory(prefix="energysim-fuzz-") as scratch:
        outcome = run_case(case, Path(scratch) / "work", CASE_SECONDS, CASE_MEMORY_BYTES)
    assert outcome.outcome in ACCEPTED, f"{outcome.outcome}: {outcome.detail}\nreproduce: {outcome.case}"
