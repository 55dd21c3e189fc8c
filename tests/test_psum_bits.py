"""Partial-sum precision (``psum_bits``): hand-derived widths, accesses, bytes and capacities.

Outputs move as partial sums (``psum_bits`` wide) until they are finished;
the one write that delivers a finished output into a level moves it at the
output precision (DESIGN.md, "Counting semantics"). Every expected number
below is derived by hand in its docstring from the loop nest.
"""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import numpy as np
import pandas as pd
import pytest
import value_oracle
from hypothesis import given, settings
from hypothesis import strategies as st
from test_value_oracle import mapped_cases, two_level
from value_oracle import Problem, reference_outputs

import energysim as es
from energysim.analysis.accesses import count_accesses
from energysim.analysis.psums import holds_partial_sums, mean_bits
from energysim.analysis.tiles import Nest
from energysim.analysis.timeloop_rules import plan_for
from energysim.errors import EnergySimError
from energysim.model.base import TENSORS, Tensor
from energysim.model.hierarchy import Hierarchy
from energysim.model.layers import ConvLayer, FCLayer, LayerBase
from energysim.model.mapping import LevelMapping, Loop, Mapping
from energysim.model.workload import Network

TOY = es.load_hierarchy("lecture-toy")
CONV = es.load_workload("lecture-ops")["psum_conv"]
CHUNKS, OUTPUTS = 72, 128


def _toy(buffer_bytes: int) -> Hierarchy:
    data = TOY.model_dump()
    data["levels"][1]["size_bytes"] = buffer_bytes
    return Hierarchy.model_validate(data)


def _conv(**fields: Any) -> LayerBase:
    return ConvLayer.model_validate({**CONV.model_dump(), **fields})


def _lecture(main_memory_loops: list[tuple[str, int]]) -> Mapping:
    return Mapping(
        (
            LevelMapping("MainMemory", tuple(Loop(d, f) for d, f in main_memory_loops)),
            LevelMapping("OutputBuffer", spatial=(Loop("C", 16),), keeps=("outputs",)),
        )
    )


OS = _lecture([("M", 128), ("C", 8), ("R", 3), ("S", 3)])
WS = _lecture([("C", 8), ("R", 3), ("S", 3), ("M", 128)])


def _row(result: es.Result, level: str, tensor: str, action: str) -> pd.Series:
    frame = result.accesses
    rows = frame[(frame["level"] == level) & (frame["tensor"] == tensor) & (frame["action"] == action)]
    assert len(rows) == 1, (level, tensor, action)
    return rows.iloc[0]


def _traced_bytes(result: es.Result, level: str, tensor: str, kind: str) -> Any:
    trace = result.trace
    assert trace is not None
    rows = trace[(trace["level"] == level) & (trace["tensor"] == tensor) & (trace["action"] == kind)]
    return pytest.approx(float(rows["bytes"].sum()), rel=1e-12)  # mean widths: float sums


def test_psum_bits_default_to_the_output_precision_and_inherit_from_the_network() -> None:
    """Left out, a psum is as wide as the output; a network's psum_bits reaches layers without one."""
    assert _conv().psum_width == 16
    assert _conv(precision_bits={"weights": 8, "inputs": 8, "outputs": 12}).psum_width == 12
    network = Network.model_validate(
        {
            "version": 1,
            "name": "n",
            "precision_bits": 8,
            "psum_bits": 24,
            "layers": [
                {"name": "a", "type": "fc", "C": 4, "M": 2},
                {"name": "b", "type": "fc", "C": 4, "M": 2, "psum_bits": 32},
            ],
        }
    )
    assert [layer.psum_width for layer in network.layers] == [24, 32]


@pytest.mark.parametrize("bits", [0, 1 << 16 | 1, 2.5, "32", True])
def test_psum_bits_out_of_range_is_one_error_naming_the_field(bits: object) -> None:
    """psum_bits has the precision fields' range: 1 to 2^16 (MAX_BITS), a strict integer."""
    with pytest.raises(ValueError, match="psum_bits"):
        FCLayer.model_validate({"name": "a", "type": "fc", "C": 4, "M": 2, "psum_bits": bits})
    with pytest.raises(ValueError, match="psum_bits") as caught:
        Network.model_validate(
            {
                "version": 1,
                "name": "n",
                "psum_bits": bits,
                "layers": [{"name": "a", "type": "fc", "C": 4, "M": 2}],
            }
        )
    assert str(caught.value).count("psum_bits") == 1  # the network's one error, not one per layer


def test_lecture_output_stationary_with_32_bit_psums() -> None:
    """OS (``M128 | C8 R3 S3`` at main memory) on the toy with a 4-byte buffer, 16-bit outputs, 32-bit psums.

    The buffer accumulates 72 psums per output: 72 x 128 = 9216 updates and
    71 x 128 = 9088 read-modify-write reads, 32 bits each. Its blocks are 16
    bits (word_bits), so each psum access takes 2 blocks: 18432 and 18176
    accesses. Main memory receives each output once, finished: 128 final
    writes of 16 bits = 128 accesses, 256 bytes in the engine, and no psum
    ever leaves the buffer (no refill).
    """
    hierarchy, layer = _toy(4), _conv(psum_bits=32)
    result = es.simulate(layer, hierarchy, mapping=OS, trace=True)
    update = _row(result, "OutputBuffer", "outputs", "update")
    read = _row(result, "OutputBuffer", "outputs", "read")
    assert (update["count"], update["accesses"]) == (CHUNKS * OUTPUTS, 2 * CHUNKS * OUTPUTS)
    assert (read["count"], read["accesses"]) == ((CHUNKS - 1) * OUTPUTS, 2 * (CHUNKS - 1) * OUTPUTS)
    final = _row(result, "MainMemory", "outputs", "update")
    assert (final["count"], final["accesses"]) == (OUTPUTS, OUTPUTS)
    assert final["energy"] == pytest.approx(OUTPUTS * TOY.levels[0].write_energy_pj)
    assert _traced_bytes(result, "MainMemory", "outputs", "drain") == OUTPUTS * 2
    assert _traced_bytes(result, "MainMemory", "outputs", "fill") == 0


def test_lecture_weight_stationary_spills_32_bit_psums() -> None:
    """WS (``C8 R3 S3 M128``): every psum spills to main memory and comes back, at 32 bits.

    Main memory receives 72 drains per output: 128 of them finished (the last
    chunk's, 16 bits, 1 block each) and 71 x 128 = 9088 partial (32 bits, 2
    blocks each): 128 + 2 x 9088 = 18304 update accesses. The 9088 refills are
    psum reads: 18176 accesses. Engine bytes: drains 128 x 2 + 9088 x 4 =
    36608, refills 9088 x 4 = 36352.
    """
    result = es.simulate(_conv(psum_bits=32), _toy(4), mapping=WS, trace=True)
    spilled = (CHUNKS - 1) * OUTPUTS
    update = _row(result, "MainMemory", "outputs", "update")
    read = _row(result, "MainMemory", "outputs", "read")
    assert (update["count"], update["accesses"]) == (CHUNKS * OUTPUTS, OUTPUTS + 2 * spilled)
    assert (read["count"], read["accesses"]) == (spilled, 2 * spilled)
    assert _traced_bytes(result, "MainMemory", "outputs", "drain") == OUTPUTS * 2 + spilled * 4
    assert _traced_bytes(result, "MainMemory", "outputs", "fill") == spilled * 4


def _two_level(rf_bytes: int = 1 << 10) -> Hierarchy:
    """DRAM (8-bit words, 100 per read, 120 per write) above one 8-bit register file feeding one PE."""
    level = {
        "read_energy_pj": 100.0,
        "write_energy_pj": 120.0,
        "bandwidth_bytes_per_cycle": 1.0,
        "word_bits": 8,
    }
    return Hierarchy.model_validate(
        {
            "version": 1,
            "name": "two-level",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", **level},
                {"name": "RF", "kind": "regfile", "size_bytes": rf_bytes, **level, "read_energy_pj": 1.0},
            ],
            "compute": {"array": {"rows": 1, "cols": 1}, "mac_energy_pj": 1.0},
        }
    )


SPILLING = Mapping(
    (
        LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))),
        LevelMapping("RF", (Loop("C", 2),)),
    )
)


def _fc(psum_bits: int) -> LayerBase:
    return FCLayer.model_validate(
        {"name": "fc", "type": "fc", "C": 4, "M": 2, "precision_bits": 8, "psum_bits": psum_bits}
    )


def test_a_spill_moves_twice_the_bytes_at_16_bit_psums() -> None:
    """fc C=4 M=2, 8-bit outputs; DRAM loops ``C2 M2`` (C outer), RF loops ``C2``.

    The RF holds one output and accumulates 2 of its 4 terms; as M steps it
    drains, so over (c_outer, m) = (0,0) (0,1) (1,0) (1,1) DRAM receives 4
    drains: the 2 of c_outer = 0 are partial sums (spills), the 2 of
    c_outer = 1 finished outputs. The 2 outputs return (refills, partial) when
    c_outer = 1 revisits them. DRAM output bytes (drains + refills):
    8-bit psums: 2 x 1 + 2 x 1 + 2 x 1 = 6; 16-bit: 2 x 1 + 2 x 2 + 2 x 2 = 10:
    the 4 spilled elements move 4 bytes, then 8. DRAM (8-bit blocks) accesses:
    updates 2 + 2 = 4, then 2 + 2 x 2 = 6; reads 2, then 4.
    """
    spill_bytes: dict[int, float] = {}
    for bits, updates, reads in ((8, 4, 2), (16, 6, 4)):
        result = es.simulate(_fc(bits), _two_level(), mapping=SPILLING, trace=True)
        assert _row(result, "DRAM", "outputs", "update")[["count", "accesses"]].tolist() == [4, updates]
        assert _row(result, "DRAM", "outputs", "read")[["count", "accesses"]].tolist() == [2, reads]
        assert _row(result, "DRAM", "outputs", "update")["energy"] == pytest.approx(updates * 120.0)
        drained = _traced_bytes(result, "DRAM", "outputs", "drain")
        refilled = _traced_bytes(result, "DRAM", "outputs", "fill")
        spill_bytes[bits] = drained.expected + refilled.expected - 2  # less the 2 finished bytes
    assert spill_bytes == pytest.approx({8: 4, 16: 8})


def test_block_rounding_keeps_final_writes_and_psums_apart() -> None:
    """The same spill with 64-bit DRAM blocks: 8 outputs or 4 16-bit psums per block.

    DRAM output updates: 2 final writes -> ceil(2 / 8) = 1 block, 2 partial
    -> ceil(2 / 4) = 1 block: 2 accesses (rounding the 4 elements together
    at either width would give 1). Reads: 2 psums -> 1 block. With 8-bit
    psums, as wide as the outputs, the 4 pack together as before psum_bits
    existed: ceil(4 / 8) = 1 access.
    """
    data = _two_level().model_dump()
    data["levels"][0]["access_bits"] = 64
    result = es.analyze(_fc(16), Hierarchy.model_validate(data), mapping=SPILLING)
    assert _row(result, "DRAM", "outputs", "update")["accesses"] == 2
    assert _row(result, "DRAM", "outputs", "read")["accesses"] == 1
    same_width = es.analyze(_fc(8), Hierarchy.model_validate(data), mapping=SPILLING)
    assert _row(same_width, "DRAM", "outputs", "update")["accesses"] == 1


def test_the_capacity_check_sizes_partial_sums_at_psum_bits() -> None:
    """The lecture's 2-byte output buffer holds one 8-bit (or 16-bit) psum, not one 32-bit psum.

    The buffer is the innermost output level: the MACs accumulate into it, so
    its one-element tile is psum_bits wide: 1 byte at 8 bits fits; 4 bytes at
    32 does not.
    """
    eight = _conv(precision_bits=8, psum_bits=8)
    assert es.analyze(eight, TOY, mapping=OS).count("OutputBuffer", "outputs", "update") == CHUNKS * OUTPUTS
    too_wide = r"OutputBuffer: tiles need 4 bytes \(outputs 4 B\), the level has 2"
    with pytest.raises(EnergySimError, match=too_wide):
        es.analyze(_conv(precision_bits=8, psum_bits=32), TOY, mapping=OS)


def _three_level(glb_bytes: int) -> Hierarchy:
    """DRAM -> a GLB keeping only outputs (``glb_bytes``) -> a 12-byte register file -> 1 PE."""
    level = {"read_energy_pj": 1.0, "write_energy_pj": 1.0, "bandwidth_bytes_per_cycle": 1.0, "word_bits": 8}
    return Hierarchy.model_validate(
        {
            "version": 1,
            "name": "three-level",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", **level},
                {"name": "GLB", "kind": "sram", "size_bytes": glb_bytes, "keeps": ["outputs"], **level},
                {"name": "RF", "kind": "regfile", "size_bytes": 12, **level},
            ],
            "compute": {"array": {"rows": 1, "cols": 1}, "mac_energy_pj": 1.0},
        }
    )


def test_a_level_that_only_receives_finished_outputs_sizes_them_at_the_output_width() -> None:
    """fc C=4 M=4, 8-bit data, 32-bit psums: DRAM ``M2`` | GLB ``M2`` | RF ``C4``.

    Every loop above the RF is over M (an output dimension): each output is
    finished in the RF and leaves it once, so the GLB holds only finished
    outputs: its tile of 2 outputs needs 2 bytes. The RF holds a 32-bit psum
    (4 bytes) and 4 weights and 4 inputs (8 bytes): 12. Put C2 at DRAM outside
    M2 instead (RF ``C2``): outputs leave the RF unfinished and come back, so
    the GLB holds psums: 2 x 4 = 8 bytes, more than its 2.
    """
    layer = FCLayer.model_validate(
        {"name": "fc", "type": "fc", "C": 4, "M": 4, "precision_bits": 8, "psum_bits": 32}
    )
    keeps: tuple[Tensor, ...] = ("outputs",)
    finished = Mapping(
        (
            LevelMapping("DRAM", (Loop("M", 2),)),
            LevelMapping("GLB", (Loop("M", 2),), keeps=keeps),
            LevelMapping("RF", (Loop("C", 4),)),
        )
    )
    result = es.analyze(layer, _three_level(2), mapping=finished)
    # Hand count: each of the 4 outputs is written into the GLB once, finished, and once into DRAM.
    assert _row(result, "GLB", "outputs", "update")[["count", "accesses"]].tolist() == [4, 4]
    spilling = Mapping(
        (
            LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))),
            LevelMapping("GLB", (Loop("M", 2),), keeps=keeps),
            LevelMapping("RF", (Loop("C", 2),)),
        )
    )
    with pytest.raises(EnergySimError, match=r"GLB: tiles need 8 bytes \(outputs 8 B\), the level has 2"):
        es.analyze(layer, _three_level(2), mapping=spilling)


def test_spatial_reduction_above_a_level_leaves_it_only_partial_sums() -> None:
    """fc C=4 M=2, 8-bit outputs, 16-bit psums: DRAM spatial C2 -> 2 GLB (``M2``) -> 2 RF (``C2``).

    Each GLB instance sums only its half of C: every one of its updates is a
    partial sum, the RF's drains at each M step: 2 per RF, 4 in all, 16 bits
    = 2 blocks each: 8 accesses. DRAM adds the two halves as they arrive
    (reduced on the way up): its 2 updates are the finished outputs, 1 block
    each.
    """
    data = _three_level(64).model_dump()
    data["levels"][1].update(instances=2, keeps=list(TENSORS))
    data["levels"][2].update(instances=2)
    data["compute"]["array"]["cols"] = 2
    layer = _fc(16)
    mapping = Mapping(
        (
            LevelMapping("DRAM", spatial=(Loop("C", 2),)),
            LevelMapping("GLB", (Loop("M", 2),)),
            LevelMapping("RF", (Loop("C", 2),)),
        )
    )
    result = es.analyze(layer, Hierarchy.model_validate(data), mapping=mapping)
    assert _row(result, "GLB", "outputs", "update")[["count", "accesses"]].tolist() == [4, 8]
    assert _row(result, "DRAM", "outputs", "update")[["count", "accesses"]].tolist() == [2, 2]


def _csv(result: es.Result) -> str:
    frames = [result.accesses, result.layers]
    if result.timing is not None:
        frames.append(result.timing)
    return "\n".join(frame.to_csv(index=False) for frame in frames)


@pytest.mark.parametrize("run", [es.analyze, es.simulate], ids=["analyze", "simulate"])
def test_without_psum_bits_results_are_byte_identical_to_psums_as_wide_as_outputs(run: Any) -> None:
    """A file without psum_bits gives the same bytes as one that sets it to the output width.

    Two small layers of different output precision (16 and 8 bits) on the
    Eyeriss-like hierarchy with the RS dataflow, and the spilling fc above.
    """
    conv = {"name": "conv", "type": "conv", "C": 4, "M": 8, "H": 6, "W": 6, "R": 3, "S": 3}
    fc = {
        "name": "fc",
        "type": "fc",
        "C": 16,
        "M": 8,
        "precision_bits": {"weights": 8, "inputs": 8, "outputs": 8},
    }
    implicit = {"version": 1, "name": "small", "layers": [conv, fc]}
    explicit = {"version": 1, "name": "small", "layers": [{**conv, "psum_bits": 16}, {**fc, "psum_bits": 8}]}
    left_out, given = (
        run(Network.model_validate(data), "eyeriss", dataflow="rs") for data in (implicit, explicit)
    )
    assert _csv(left_out) == _csv(given)
    fc8 = FCLayer.model_validate({"name": "fc", "type": "fc", "C": 4, "M": 2, "precision_bits": 8})
    assert _csv(run(fc8, _two_level(), mapping=SPILLING)) == _csv(run(_fc(8), _two_level(), mapping=SPILLING))


# --- the rule against the value-level oracle ----------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(mapped_cases(padding=False, max_macs=300), st.integers(0, 2**16))
def test_final_writes_are_the_writes_that_carry_the_finished_value(
    case: tuple[Any, Hierarchy, Mapping], seed: int
) -> None:
    """The value-level oracle (tests/value_oracle.py) runs the schedule on positive integers.

    With every product positive and no padding, a partial sum is strictly less
    than the finished output, so a write into a level delivers a finished output
    exactly when its value equals numpy's. Per level that receives drains, the
    number of such writes must equal ``final_writes``; a level holds partial sums
    (:func:`holds_partial_sums`) exactly when some write into it does not carry
    the finished value, or when the MACs accumulate into it.
    """
    layer, hierarchy, mapping = case
    problem = Problem.of(layer)
    rng = np.random.default_rng(seed)
    z = problem.sizes
    weights = rng.integers(1, 4, size=(z["G"], z["M"], z["C"], z["R"], z["S"]), dtype=np.int64)
    inputs = rng.integers(1, 4, size=(z["N"], z["G"], z["C"], *problem.input_hw), dtype=np.int64)
    expected = reference_outputs(problem, weights, inputs)
    writes: list[tuple[int, bool]] = []
    original = value_oracle.Run.write_output

    def recording(state: value_oracle.Run, level: int, instance: Any, element: Any, value: int) -> None:
        writes.append((level, value == expected[element]))
        original(state, level, instance, element, value)

    with patch.object(value_oracle.Run, "write_output", recording):
        outputs, _ = value_oracle.run(problem, hierarchy, mapping, weights, inputs)
    np.testing.assert_array_equal(outputs, expected)
    bounds = layer.loop_bounds
    counts = count_accesses(mapping, bounds, hierarchy, layer.macs)
    nest = Nest(mapping, bounds)
    chain = [i for i, spec in enumerate(mapping.levels) if spec.keeps_tensor("outputs")]
    for level in chain:
        into = [finished for at, finished in writes if at == level]
        name = mapping.levels[level].level
        if level != chain[-1]:
            assert counts.final_writes.get(name, 0) == sum(into), name
        partial = level == chain[-1] or not all(into)
        assert holds_partial_sums(nest, chain, level) == partial, name


def test_padded_outputs_are_no_final_writes_in_dram() -> None:
    """fc C=2 M=3 mapped as M4 (DRAM C2 M2 | GLB M2), 8-bit outputs, 32-bit partial sums.

    DRAM keeps no padded output (DESIGN): its updates are the 3 real outputs'
    spills after the first C step (partial sums, 32 bits) and their 3 final
    writes after the second (8 bits): 6 updates, mean (3 x 8 + 3 x 32) / 6 = 20
    bits, 15 bytes. The padded fourth output is never written there, so it is
    no final write either (a rule that took the padded nest's 4 would say 4
    final, 2 partial: 16 bits, 12 bytes). Under ``counting="timeloop"`` the
    padded output has an address (Timeloop's problem has no padding): 8
    updates, 4 of them final.
    """
    spec = {"name": "fc", "type": "fc", "C": 2, "M": 3, "precision_bits": 8, "psum_bits": 32}
    layer = es.Network.model_validate({"version": 1, "name": "n", "layers": [spec]}).layers[0]
    machine = two_level()
    mapping = Mapping(
        (LevelMapping("DRAM", (Loop("C", 2), Loop("M", 2))), LevelMapping("GLB", (Loop("M", 2),)))
    )
    exact = plan_for(mapping, layer.loop_bounds, machine, layer.macs).totals()
    assert exact.counts[("DRAM", "outputs", "update")] == 6
    assert exact.final_writes["DRAM"] == 3
    assert mean_bits(layer, exact, "DRAM", "outputs", "update") == 20
    timeloop = plan_for(mapping, layer.loop_bounds, machine, layer.macs, "timeloop").totals()
    assert timeloop.counts[("DRAM", "outputs", "update")] == 8
    assert timeloop.final_writes["DRAM"] == 4
