"""Hand-computable counts of DESIGN.md, and how counts are priced."""

from __future__ import annotations

import math

import pytest

import energysim as es
from energysim.analysis.accesses import count_accesses
from energysim.model.layers import LoopBounds
from energysim.model.mapping import LevelMapping, Loop, Mapping


def _two_level(inner_kind: str = "regfile", access_bits: int = 16) -> es.Hierarchy:
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "two-level",
            "clock_ghz": 1.0,
            "levels": [
                {
                    "name": "Outer",
                    "kind": "dram",
                    "access_bits": access_bits,
                    "read_energy_pj": 100.0,
                    "write_energy_pj": 150.0,
                    "bandwidth_bytes_per_cycle": 8,
                },
                {
                    "name": "Inner",
                    "kind": inner_kind,
                    "size_bytes": 64,
                    "read_energy_pj": 1.0,
                    "write_energy_pj": 2.0,
                    "bandwidth_bytes_per_cycle": 8,
                },
            ],
            "compute": {"array": {"rows": 1, "cols": 1}, "mac_energy_pj": 0.5},
        }
    )


def test_design_example_1d_convolution() -> None:
    """P = 8, R = 5; inner level loops over P, outer over R (DESIGN.md, counting semantics)."""
    bounds = LoopBounds({"G": 1, "N": 1, "M": 1, "C": 1, "P": 8, "Q": 1, "R": 5, "S": 1})
    mapping = Mapping((LevelMapping("Outer", (Loop("R", 5),)), LevelMapping("Inner", (Loop("P", 8),))))
    counts = count_accesses(mapping, bounds, _two_level(), macs=40)
    assert counts.get("Inner", "inputs", "fill") == 8 + 1 + 1 + 1 + 1
    assert counts.get("Inner", "weights", "fill") == 5
    assert counts.get("Inner", "outputs", "update") == 40
    assert counts.get("Inner", "outputs", "read") == 40 - 8
    # What the inner level fills, the outer one reads; outputs reach the outer level once.
    assert counts.get("Outer", "inputs", "read") == 12
    assert counts.get("Outer", "outputs", "update") == 8


def test_energy_is_counts_times_per_access_energy() -> None:
    """10 reads at 1 pJ + 5 fills at 2 pJ, and the MACs at 0.5 pJ: priced row by row."""
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 10, "M": 1}]}
    ).layers[0]
    hierarchy = _two_level()
    mapping = Mapping((LevelMapping("Outer"), LevelMapping("Inner", (Loop("C", 10),))))
    result = es.analyze(layer, hierarchy, mapping=mapping)
    rows = result.accesses.set_index(["level", "tensor", "action"])
    assert rows.loc[("Inner", "weights", "fill"), "count"] == 10
    assert rows.loc[("Inner", "weights", "fill"), "energy"] == 10 * 2.0
    assert rows.loc[("Inner", "weights", "read"), "energy"] == 10 * 1.0
    assert rows.loc[("PE", "none", "mac"), "energy"] == 10 * 0.5
    assert result.compute_energy == 5.0
    assert result.total_energy == pytest.approx(result.accesses["energy"].sum())
    assert result.energy_by_level().sum() == pytest.approx(result.total_energy)


def test_a_wide_access_moves_a_block_rounded_up_on_the_total() -> None:
    """A 64-bit DRAM access moves four 16-bit elements: 10 element reads are 3 accesses."""
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 10, "M": 1}]}
    ).layers[0]
    hierarchy = _two_level(access_bits=64)
    mapping = Mapping((LevelMapping("Outer"), LevelMapping("Inner", (Loop("C", 10),))))
    result = es.analyze(layer, hierarchy, mapping=mapping)
    rows = result.accesses.set_index(["level", "tensor", "action"])
    assert rows.loc[("Outer", "weights", "read"), "count"] == 10
    assert rows.loc[("Outer", "weights", "read"), "accesses"] == math.ceil(10 / 4)
    assert rows.loc[("Outer", "weights", "read"), "energy"] == 3 * 100.0


def test_imperfect_factors_compute_a_padded_layer() -> None:
    """M = 5 mapped as 2 x 3 = 6: one padded output channel, gated MACs, utilisation 5/6."""
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 4, "M": 5}]}
    ).layers[0]
    mapping = Mapping(
        (LevelMapping("Outer", (Loop("M", 2),)), LevelMapping("Inner", (Loop("M", 3), Loop("C", 4))))
    )
    result = es.analyze(layer, _two_level(), mapping=mapping)
    summary = result.layers.iloc[0]
    assert summary["macs"] == summary["nest_macs"] == 4 * 5  # no bias: the layer's MACs are the nest's
    assert summary["mapped_macs"] == 4 * 2 * 3
    assert summary["utilisation"] == pytest.approx(5 / 6)
    assert result.count("PE", "none", "mac") == 20
    # DESIGN: the outermost level reads the 5 x 4 weights that exist; the padding moves as zeros on chip.
    assert result.count("Outer", "weights", "read") == 20
    assert result.count("Inner", "weights", "fill") == 24


def test_bias_adds_count_in_macs_not_in_the_nest() -> None:
    """A bias adds one accumulate per output: macs = nest + bias adds, mapped_macs >= nest_macs."""
    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 4, "M": 5, "bias": True}]}
    ).layers[0]
    mapping = Mapping(
        (LevelMapping("Outer", (Loop("M", 2),)), LevelMapping("Inner", (Loop("M", 3), Loop("C", 4))))
    )
    summary = es.analyze(layer, _two_level(), mapping=mapping).layers.iloc[0]
    assert summary["macs"] == 4 * 5 + 5  # 20 products and 5 bias adds
    assert summary["nest_macs"] == 4 * 5
    assert summary["mapped_macs"] == 2 * 3 * 4  # M padded from 5 to 6
    assert summary["utilisation"] == pytest.approx(20 / 24)


def test_multicast_reads_once_for_all_receivers() -> None:
    """Four PEs computing four output channels share each input: one GLB read per input with
    multicast, four without."""

    def hierarchy(multicast: bool) -> es.Hierarchy:
        return es.Hierarchy.model_validate(
            {
                "version": 1,
                "name": "fanout",
                "energy_table": "eyeriss-normalized",
                "clock_ghz": 1.0,
                "levels": [
                    {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 8},
                    {
                        "name": "GLB",
                        "kind": "sram",
                        "size_bytes": 1024,
                        "bandwidth_bytes_per_cycle": 8,
                        "network": {"multicast": multicast, "transfer_energy_pj": 2.0},
                    },
                    {
                        "name": "RF",
                        "kind": "regfile",
                        "instances": 4,
                        "size_bytes": 64,
                        "bandwidth_bytes_per_cycle": 2,
                    },
                ],
                "compute": {"array": {"rows": 2, "cols": 2}},
            }
        )

    layer = es.Network.model_validate(
        {"version": 1, "name": "n", "layers": [{"name": "fc", "type": "fc", "C": 8, "M": 4}]}
    ).layers[0]
    mapping = Mapping(
        (
            LevelMapping("DRAM"),
            LevelMapping("GLB", spatial=(Loop("M", 4),)),
            LevelMapping("RF", (Loop("C", 8),)),
        )
    )
    shared = es.analyze(layer, hierarchy(True), mapping=mapping)
    unicast = es.analyze(layer, hierarchy(False), mapping=mapping)
    assert shared.count("RF", "inputs", "fill") == unicast.count("RF", "inputs", "fill") == 4 * 8
    assert shared.count("GLB", "inputs", "read") == 8
    assert unicast.count("GLB", "inputs", "read") == 4 * 8
    assert shared.count("GLB network", "inputs", "transfer") == 4 * 8


def test_an_element_wider_than_an_access_takes_several() -> None:
    """edge-npu's register file moves 8 bits an access: a 16-bit weight read is two accesses."""
    npu = es.load_hierarchy("edge-npu")
    result = es.analyze("alexnet", npu, "ws", layers=["conv3"])
    rows = result.accesses.set_index(["level", "tensor", "action"])
    reads = rows.loc[("RF", "weights", "read")]
    assert npu.level("RF").block_bits == 8
    assert reads["accesses"] == 2 * reads["count"]
    assert reads["energy"] == pytest.approx(2 * reads["count"] * npu.level("RF").read_energy_pj)
