"""With ample bandwidth, time is the compute bound plus the systolic skew, within 2%.

Random small layers, mapped by every dataflow on every shipped hierarchy whose
bandwidths (and latencies) are made ample: whatever the mapping, drains and
fills must overlap the compute as double buffering lets them, so nothing but
the MACs and a systolic array's fold skew may take time. The compute bound is
counted from the mapping itself: its temporal iterations (the MAC slots one
PE issues) over the PE's MACs per cycle.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import energysim as es

HIERARCHIES = ["eyeriss", "tpu-like", "edge-npu", "lecture-toy", "v100"]
AMPLE = 1e12


def _ample(name: str) -> es.Hierarchy:
    data: dict[str, Any] = es.load_hierarchy(name).model_dump()
    for level in data["levels"]:
        level["bandwidth_bytes_per_cycle"] = AMPLE
        level["latency_cycles"] = 0
        if level.get("network") and level["network"].get("bandwidth_bytes_per_cycle") is not None:
            level["network"]["bandwidth_bytes_per_cycle"] = AMPLE
    return es.Hierarchy.model_validate(data)


AMPLE_MACHINES = {name: _ample(name) for name in HIERARCHIES}


def _conv(c: int, m: int, p: int, r: int, n: int) -> es.Network:
    layer = {"name": "conv", "type": "conv", "N": n, "C": c, "M": m, "H": p + r - 1, "W": p + r - 1}
    return es.Network.model_validate({"version": 1, "name": "net", "layers": [{**layer, "R": r, "S": r}]})


@pytest.mark.parametrize("hierarchy", HIERARCHIES)
@settings(max_examples=8, deadline=None, derandomize=True)
@given(
    c=st.integers(1, 24),
    m=st.integers(1, 24),
    p=st.integers(1, 12),
    r=st.sampled_from([1, 3]),
    n=st.integers(1, 2),
    dataflow=st.sampled_from(["ws", "os", "is", "rs", "nlr"]),
)
def test_ample_bandwidth_costs_only_compute_and_skew(
    hierarchy: str, c: int, m: int, p: int, r: int, n: int, dataflow: str
) -> None:
    machine = AMPLE_MACHINES[hierarchy]
    network = _conv(c, m, p, r, n)
    try:
        result = es.simulate(network, machine, dataflow)
    except es.EnergySimError:
        return  # the dataflow does not fit this layer on this machine: nothing to time
    layer = result.layers.iloc[0]
    mapping = result.mapping["conv"]
    issued = math.prod(loop.factor for level in mapping.levels for loop in level.temporal)
    compute_bound = math.ceil(issued / machine.compute.macs_per_cycle_per_pe)
    assert layer["compute_cycles"] == compute_bound
    bound = compute_bound + layer["skew_cycles"]
    assert bound <= layer["cycles"] <= 1.02 * bound, (mapping.describe(), layer.to_dict())


def _register_machine(bandwidth: float) -> es.Hierarchy:
    """DRAM -> Buffer -> a per-PE weight register -> a per-PE output register; 16 PEs."""

    def level(name: str, kind: str, **fields: Any) -> dict[str, Any]:
        return {"name": name, "kind": kind, "bandwidth_bytes_per_cycle": bandwidth, **fields}

    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "registers",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                level("DRAM", "dram"),
                level(
                    "Buffer", "sram", size_bytes=1 << 24, double_buffered=True, network={"multicast": True}
                ),
                level("PEW", "regfile", instances=16, size_bytes=64),
                level("PEO", "regfile", instances=16, size_bytes=64),
            ],
            "compute": {"array": {"rows": 4, "cols": 4}},
        }
    )


def _register_result(bandwidth: float, dram_bandwidth: float | None = None) -> es.Result:
    """A 1x1 conv, C2 M16 64x64, int8: M over the 16 PEs, P64 Q64 at the weights, C2 at the outputs."""
    layer = {"name": "c", "type": "conv", "C": 2, "M": 16, "H": 64, "W": 64, "R": 1, "S": 1}
    network = es.Network.model_validate(
        {"version": 1, "name": "c", "layers": [{**layer, "precision_bits": 8}]}
    )
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("Buffer", (), (es.Loop("M", 16),)),
            es.LevelMapping("PEW", (es.Loop("P", 64), es.Loop("Q", 64)), keeps=("weights",)),
            es.LevelMapping("PEO", (es.Loop("C", 2),), keeps=("outputs",)),
        )
    )
    data: dict[str, Any] = _register_machine(bandwidth).model_dump()
    if dram_bandwidth is not None:
        data["levels"][0]["bandwidth_bytes_per_cycle"] = dram_bandwidth
    return es.simulate(network, es.Hierarchy.model_validate(data), mapping=mapping, dataflow=None)


def _register_run(bandwidth: float) -> float:
    cycles = _register_result(bandwidth).cycles
    assert cycles is not None
    return cycles


def test_drains_of_a_batch_neither_cost_a_cycle_each_nor_block_the_operands() -> None:
    # Defect 4. Each PE does 64 x 64 x 2 = 8,192 MACs (the compute bound); its 4,096
    # outputs (1 byte each) drain one by one from the output register to the Buffer.
    # At 1 MB per cycle nothing but the MACs may cost time (it took 12,291 cycles).
    assert _register_run(1 << 20) == pytest.approx(8192, rel=1e-4)
    # At 24 bytes per cycle: the first burst (2 MACs) starts once the weight registers' first
    # bytes are there (32 bytes multicast over the Buffer's port); then the first output
    # register drains (16 bytes), the other 8,190 MAC cycles run while the rest of the Buffer's
    # tile (8,224 bytes from DRAM, 343 cycles) arrives, and the last output register (16 bytes)
    # and the last piece of the Buffer's outputs drain to DRAM. The Buffer's P64 Q64 outputs
    # are finished 16 at a time (one per PE), so 65,520 of its 65,536 output bytes (2,730
    # cycles) leave during the MACs; only the last 16 bytes are exposed (defect 5). Every
    # other drain leaves while the MACs run.
    expected = 32 / 24 + 2 + 16 / 24 + 8190 + 16 / 24 + 16 / 24
    assert _register_run(24) == pytest.approx(expected, abs=1e-6)


def test_the_stall_and_drain_wait_are_charged_to_the_level_the_array_waited_for() -> None:
    # With DRAM at 0.5 bytes per cycle, the Buffer's tile (8,224 bytes) takes 16,448 cycles.
    # The first burst starts on its first data, its operands waiting 32 / 24 cycles for the
    # Buffer's port, busy with the weight registers' fill (2 bytes per PE, multicast); the first
    # output register drains (16 / 24) before the batch of the other 8,190 MAC cycles, whose
    # end waits for the rest of the Buffer's tile: that stall is the Buffer's.
    result = _register_result(24, dram_bandwidth=0.5)
    timing = result.timing.set_index("level")
    stalls = timing["stall_cycles"]
    assert stalls["Buffer"] == pytest.approx(8224 / 0.5 - (32 / 24 + 2 + 16 / 24 + 8190))
    assert stalls.drop("Buffer").sum() == 0
    assert stalls.sum() == pytest.approx(result.layers.iloc[0]["stall_cycles"])
    assert timing["stream_wait_cycles"]["PEW"] == pytest.approx(32 / 24)
    # The output register's next tile waits for its last one to drain (16 bytes) once: at the
    # batch's boundary; the batch's own drains leave while it computes.
    drain_waits = timing["drain_wait_cycles"]
    assert drain_waits["PEO"] == pytest.approx(16 / 24)
    assert drain_waits.drop("PEO").sum() == 0


def _fc_on_16_pes(machine: es.Hierarchy) -> es.Result:
    """fc 64 -> 16 (int8): M spread over 16 PEs, each running its 64 inputs through its RF."""
    layer = {"name": "fc", "type": "fc", "N": 1, "C": 64, "M": 16, "precision_bits": 8}
    network = es.Network.model_validate({"version": 1, "name": "fc", "layers": [layer]})
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM"),
            es.LevelMapping("Buffer", (), (es.Loop("M", 16),)),
            es.LevelMapping("RF", (es.Loop("C", 64),)),
        )
    )
    return es.simulate(network, machine, mapping=mapping, dataflow=None)


def test_a_burst_lasts_as_long_as_its_register_file_needs() -> None:
    # Defect 6: each of 16 PEs does C64 MACs on its own output, reading 64 weights and 64
    # inputs from its register file and updating its output 64 times (63 of them reading the
    # old value first): 255 bytes at 1 byte per cycle, so the burst takes 255 cycles, not 64.
    data: dict[str, Any] = _register_machine(AMPLE).model_dump()
    rf = {**data["levels"][2], "name": "RF", "bandwidth_bytes_per_cycle": 1.0, "size_bytes": 256}
    data["levels"] = [*data["levels"][:2], rf]
    result = _fc_on_16_pes(es.Hierarchy.model_validate(data))
    row = result.layers.iloc[0]
    assert row["compute_cycles"] == 64
    assert row["cycles"] == pytest.approx(64 + 64 + 64 + 63, abs=1e-3)
    rf_row = result.timing.set_index("level").loc["RF"]
    assert rf_row["stream_wait_cycles"] == pytest.approx(255 - 64)
    assert rf_row["utilisation"] == pytest.approx(1.0, abs=1e-3)


def test_compute_starts_on_the_first_data_of_a_tile() -> None:
    # Defect 5: one tile of everything, single-buffered. DRAM brings 1,024 weight and 64 input
    # bytes at 16 bytes per cycle (68 cycles) while the 16 PEs run their 64 MACs on what has
    # arrived; the burst cannot end before the tile has. Then the 16 outputs leave (1 cycle).
    data: dict[str, Any] = _register_machine(AMPLE).model_dump()
    data["levels"][0]["bandwidth_bytes_per_cycle"] = 16.0
    data["levels"][1]["double_buffered"] = False
    rf = {**data["levels"][2], "name": "RF", "size_bytes": 256}
    data["levels"] = [*data["levels"][:2], rf]
    result = _fc_on_16_pes(es.Hierarchy.model_validate(data))
    assert result.cycles == pytest.approx(max((1024 + 64) / 16, 64) + 16 / 16, abs=1e-3)


@pytest.mark.parametrize("hierarchy", HIERARCHIES)
def test_a_memory_bound_fc_runs_at_the_dram_bandwidth(hierarchy: str) -> None:
    """FC 4096x1024 at batch 1 (lecture-ops): within 3% of its DRAM bytes over DRAM bandwidth.

    Each weight is used once, so the DRAM's bytes over its bandwidth bound the
    time (the roofline). Every dataflow whose mapping is memory bound (the
    bound above its compute and skew) must come within 3% of it: the
    latency of a read is paid once per chain of dependent transfers, not
    per tile, and writes are posted, so nothing else may add up. On v100 the
    400-cycle HBM latency alone is 2.8% of its 14,500 cycles.
    """
    machine = es.load_hierarchy(hierarchy)
    dram = machine.levels[0]
    checked = 0
    for dataflow in ["ws", "os", "is", "rs", "nlr"]:
        try:
            result = es.simulate("lecture-ops", machine, dataflow, layers=["fc_batch1"])
        except es.EnergySimError:
            continue  # the dataflow does not map this layer here
        moved = result.timing.set_index("level").loc[dram.name, "bytes"]
        bound = moved / (dram.bandwidth_bytes_per_cycle * dram.ports)
        row = result.layers.iloc[0]
        if bound < row["compute_cycles"] + row["skew_cycles"]:
            continue  # compute bound under this mapping
        assert result.cycles is not None
        assert bound <= result.cycles <= 1.03 * bound, (dataflow, result.cycles / bound)
        checked += 1
    assert checked
