"""The lecture's partial-sum example: 128 x (3x3x128) CONV on a 16-wide MAC with a 1-word buffer.

Each output is a dot product of 3 x 3 x 128 = 1152 terms; the 16-wide MAC
unit reduces 16 of them per step (spatial C16), so an output takes
1152 / 16 = 72 partial sums. The two mappings below differ only in the loop
order at main memory, and that decides whether partial sums spill:

* OS: ``M128 | C8 R3 S3`` -- for each filter, all 72 chunks; the one-word
  buffer holds the psum until it is complete: 128 writes to main memory.
* WS: ``C8 R3 S3 M128`` -- the chunk loop outside the filter loop (a chunk of
  every filter before the next chunk): the buffer must give up each psum after
  one chunk: 72 x 128 writes to main memory and 71 x 128 reads back.
"""

from __future__ import annotations

import pytest

import energysim as es
from energysim.model.mapping import LevelMapping, Loop, Mapping

TOY = es.load_hierarchy("lecture-toy")
CONV = es.load_workload("lecture-ops")["psum_conv"]
CHUNKS = 3 * 3 * 128 // 16
OUTPUTS = 128


def _mapping(main_memory_loops: list[tuple[str, int]]) -> Mapping:
    return Mapping(
        (
            LevelMapping("MainMemory", tuple(Loop(d, f) for d, f in main_memory_loops)),
            LevelMapping("OutputBuffer", spatial=(Loop("C", 16),), keeps=("outputs",)),
        )
    )


OS = _mapping([("M", 128), ("C", 8), ("R", 3), ("S", 3)])
WS = _mapping([("C", 8), ("R", 3), ("S", 3), ("M", 128)])


def test_the_mappings_are_what_the_lecture_describes() -> None:
    assert OS.describe() == "MainMemory[W,I,O]: M128 C8 R3 S3 | OutputBuffer[O]: - spatial C16"
    assert WS.describe() == "MainMemory[W,I,O]: C8 R3 S3 M128 | OutputBuffer[O]: - spatial C16"
    assert CHUNKS == 72


@pytest.mark.parametrize("mapping", [OS, WS], ids=["os", "ws"])
def test_72_partial_sums_per_output(mapping: Mapping) -> None:
    result = es.analyze(CONV, TOY, mapping=mapping)
    assert result.count("OutputBuffer", "outputs", "update") == CHUNKS * OUTPUTS
    # Every psum but each output's first is read back to be accumulated on.
    assert result.count("OutputBuffer", "outputs", "read") == (CHUNKS - 1) * OUTPUTS


def test_output_stationary_spills_no_partial_sum() -> None:
    result = es.analyze(CONV, TOY, mapping=OS)
    assert result.count("MainMemory", "outputs", "update") == OUTPUTS
    assert result.count("MainMemory", "outputs", "read") == 0
    assert int(result.layers["psum_spills"].iloc[0]) == 0


def test_weight_stationary_spills_every_partial_sum() -> None:
    result = es.analyze(CONV, TOY, mapping=WS)
    assert result.count("MainMemory", "outputs", "update") == CHUNKS * OUTPUTS
    assert result.count("MainMemory", "outputs", "read") == (CHUNKS - 1) * OUTPUTS
    assert int(result.layers["psum_spills"].iloc[0]) == (CHUNKS - 1) * OUTPUTS


def test_spills_cost_main_memory_energy() -> None:
    """WS pays (72 + 71) x 128 - 128 more main-memory accesses (200 MACs each) and 71 x 128
    refills of the buffer (1 MAC each); everything else is the same."""
    ws = es.analyze(CONV, TOY, mapping=WS)
    os_ = es.analyze(CONV, TOY, mapping=OS)
    main_memory, buffer = TOY.levels
    extra_main_memory = (CHUNKS + CHUNKS - 1) * OUTPUTS - OUTPUTS
    refills = (CHUNKS - 1) * OUTPUTS
    assert ws.total_energy - os_.total_energy == pytest.approx(
        extra_main_memory * main_memory.read_energy_pj + refills * buffer.write_energy_pj
    )
