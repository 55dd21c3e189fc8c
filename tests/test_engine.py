"""Time must behave like time: bounds, bandwidth, contention, buffering, determinism."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import pytest

import energysim as es


def _machine(
    dram_bw: float = 1e6,
    glb_bw: float = 1e6,
    glb_ports: int = 1,
    double: bool = True,
    static_power_mw: float = 0.0,
    latency: int = 0,
    energy_table: str = "eyeriss-normalized",
) -> es.Hierarchy:
    """A 16x16 array with a GLB and per-PE register files; generous unless told otherwise."""
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "test-machine",
            "energy_table": energy_table,
            "clock_ghz": 1.0,
            "levels": [
                {
                    "name": "DRAM",
                    "kind": "dram",
                    "bandwidth_bytes_per_cycle": dram_bw,
                    "latency_cycles": latency,
                },
                {
                    "name": "GLB",
                    "kind": "sram",
                    "size_bytes": 1 << 22,
                    "bandwidth_bytes_per_cycle": glb_bw,
                    "ports": glb_ports,
                    "double_buffered": double,
                    "static_power_mw": static_power_mw,
                    "network": {"multicast": True},
                },
                {
                    "name": "RF",
                    "kind": "regfile",
                    "instances": 256,
                    "size_bytes": 512,
                    "bandwidth_bytes_per_cycle": 64,
                    "double_buffered": double,
                },
            ],
            "compute": {"array": {"rows": 16, "cols": 16}},
        }
    )


def _fc(n: int, c: int, m: int) -> es.Network:
    return es.Network.model_validate(
        {"version": 1, "name": "fc", "layers": [{"name": "fc", "type": "fc", "N": n, "C": c, "M": m}]}
    )


@pytest.mark.parametrize("dataflow", ["ws", "os", "is", "rs", "nlr"])
def test_ample_bandwidth_comes_within_5_percent_of_the_compute_bound(dataflow: str) -> None:
    network = _fc(256, 256, 256)
    result = es.simulate(network, _machine(), dataflow)
    bound = network.total_macs / 256
    assert bound <= result.cycles <= 1.05 * bound


@pytest.mark.parametrize(
    ("workload", "hierarchy", "dataflow"),
    [
        ("alexnet", "eyeriss", "rs"),
        ("alexnet", "eyeriss", "ws"),
        ("alexnet", "tpu-like", "ws"),
        ("mobilenet-v2", "edge-npu", "os"),
        ("bert-base-layer", "edge-npu", "rs"),
        ("lecture-ops", "lecture-toy", "os"),
    ],
)
def test_never_faster_than_the_roofline(workload: str, hierarchy: str, dataflow: str) -> None:
    """Each layer takes at least MACs / peak, compulsory DRAM bytes / DRAM bandwidth, and each
    simulated level's bytes / its bandwidth. (A level inside the bursts is not simulated: the
    burst does not yet wait for its bandwidth, which its utilisation shows; issue 9.)"""
    result = es.simulate(workload, hierarchy, dataflow)
    machine = result.hierarchy
    dram_bandwidth = machine.total_bandwidth_bytes_per_cycle(machine.outermost)
    timing = result.timing
    assert timing is not None
    for row in result.layers.itertuples(index=False):
        layer = result.workload[row.layer]
        bounds = layer.loop_bounds
        useful_macs = bounds.macs if bounds is not None else 0
        assert row.cycles >= useful_macs / machine.peak_macs_per_cycle
        assert row.cycles >= layer.compulsory_bytes / dram_bandwidth - 1
        simulated = timing[(timing["layer"] == row.layer) & (timing["timed_as"] == "transfers")]
        for level_row in simulated.itertuples(index=False):
            level = machine.level(level_row.level)
            assert row.cycles >= level_row.bytes / (level.bandwidth_bytes_per_cycle * level.ports) - 1


def _with_dram_bandwidth(hierarchy: es.Hierarchy, factor: float) -> es.Hierarchy:
    data: dict[str, Any] = hierarchy.model_dump()
    data["levels"][0]["bandwidth_bytes_per_cycle"] *= factor
    return es.Hierarchy.model_validate(data)


def test_memory_bound_fc_takes_twice_as_long_at_half_the_dram_bandwidth() -> None:
    """FC 4096x1024 at batch 1 on edge-npu reads 8 MB of weights for 4M MACs: memory bound."""
    npu = es.load_hierarchy("edge-npu")
    full = es.simulate("lecture-ops", npu, "rs", layers=["fc_batch1"])
    half = es.simulate("lecture-ops", _with_dram_bandwidth(npu, 0.5), "rs", layers=["fc_batch1"])
    assert full.cycles is not None
    assert half.cycles is not None
    assert half.cycles / full.cycles == pytest.approx(2.0, rel=0.1)


def test_compute_bound_fc_barely_moves_at_half_the_dram_bandwidth() -> None:
    """The same layer at batch 512 reuses each weight 512 times: compute bound."""
    npu = es.load_hierarchy("edge-npu")
    full = es.simulate("lecture-ops", npu, "rs", layers=["fc_batch512"])
    half = es.simulate("lecture-ops", _with_dram_bandwidth(npu, 0.5), "rs", layers=["fc_batch512"])
    assert full.cycles is not None
    assert half.cycles is not None
    assert half.cycles / full.cycles < 1.1


def _two_groups(ports: int) -> es.Hierarchy:
    """A narrow GLB feeding two PE groups (clusters of four PEs)."""
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": f"two-groups-{ports}-ports",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 64},
                {
                    "name": "GLB",
                    "kind": "sram",
                    "size_bytes": 1 << 20,
                    "bandwidth_bytes_per_cycle": 2,
                    "ports": ports,
                    "double_buffered": True,
                },
                {
                    "name": "Cluster",
                    "kind": "sram",
                    "instances": 2,
                    "size_bytes": 4096,
                    "bandwidth_bytes_per_cycle": 8,
                },
            ],
            "compute": {"array": {"rows": 2, "cols": 4}},
        }
    )


def test_two_pe_groups_contend_for_one_glb_port() -> None:
    conv = es.Network.model_validate(
        {
            "version": 1,
            "name": "conv",
            "layers": [
                {
                    "name": "conv",
                    "type": "conv",
                    "C": 32,
                    "M": 32,
                    "H": 16,
                    "W": 16,
                    "R": 3,
                    "S": 3,
                    "padding": 1,
                }
            ],
        }
    )
    one = es.simulate(conv, _two_groups(1), "ws")
    two = es.simulate(conv, _two_groups(2), "ws")
    assert one.mapping["conv"] == two.mapping["conv"]
    assert one.cycles is not None
    assert two.cycles is not None
    assert one.cycles > two.cycles
    assert one.timing is not None
    assert two.timing is not None
    queue_one = one.timing.set_index("level").loc["GLB", "queue_cycles"]
    queue_two = two.timing.set_index("level").loc["GLB", "queue_cycles"]
    assert queue_one > queue_two


def test_double_buffering_overlaps_fetch_and_compute() -> None:
    """16 batches of inputs stream through the GLB: with two slots the next batch arrives while
    the current one computes; with one, fetch and compute take turns."""
    network = _fc(256, 256, 256)
    mapping = es.Mapping(
        (
            es.LevelMapping("DRAM", (es.Loop("N", 16),)),
            es.LevelMapping("GLB", (es.Loop("M", 2), es.Loop("N", 16)), (es.Loop("C", 16), es.Loop("M", 16))),
            es.LevelMapping("RF", (es.Loop("C", 16), es.Loop("M", 8)), keeps=("weights",)),
        )
    )
    double = es.simulate(network, _machine(dram_bw=4, double=True), mapping=mapping, dataflow=None)
    single = es.simulate(network, _machine(dram_bw=4, double=False), mapping=mapping, dataflow=None)
    assert double.cycles is not None
    assert single.cycles is not None
    assert double.cycles < 0.8 * single.cycles
    pd.testing.assert_frame_equal(double.accesses, single.accesses)


def test_systolic_skew_costs_cycles_per_fold() -> None:
    tpu = es.load_hierarchy("tpu-like")
    data: dict[str, Any] = tpu.model_dump()
    data["compute"]["systolic"] = False
    plain = es.Hierarchy.model_validate(data)
    systolic_result = es.simulate("alexnet", tpu, "ws", layers=["conv3"])
    plain_result = es.simulate("alexnet", plain, "ws", layers=["conv3"])
    assert systolic_result.cycles is not None
    assert plain_result.cycles is not None
    # conv3 is DRAM-bound on tpu-like (its weight FIFO double-buffers), so the skew may hide
    # under the transfers; it is paid, and never makes the layer faster. The exact fold
    # formula is checked with ample bandwidth in test_timing_systolic.py.
    assert systolic_result.layers["skew_cycles"].sum() > 0
    assert plain_result.layers["skew_cycles"].sum() == 0
    assert systolic_result.cycles >= plain_result.cycles


def test_same_inputs_same_results() -> None:
    first = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "conv2", "pool2", "fc6"], trace=True)
    second = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "conv2", "pool2", "fc6"], trace=True)
    for frame in ("accesses", "layers", "timing", "pes", "trace"):
        a, b = getattr(first, frame), getattr(second, frame)
        assert a.to_csv(index=False) == b.to_csv(index=False), frame
    assert first.cycles == second.cycles


def test_static_energy_is_power_times_time() -> None:
    # Leakage is mW x time, in pJ: only a hierarchy priced in pJ may leak.
    machine = _machine(dram_bw=16, static_power_mw=5.0, energy_table="horowitz-45nm")
    result = es.simulate(_fc(64, 256, 256), machine, "rs")
    assert result.seconds is not None
    assert result.static_energy == pytest.approx(5.0e-3 * result.seconds * 1e12)
    parts = result.compute_energy + result.data_movement_energy + result.static_energy
    assert result.total_energy == pytest.approx(parts)
    assert result.static_energy > 0


def test_time_and_counts_together() -> None:
    """simulate() charges the counts analyze() computes, and adds time to them."""
    simulated = es.simulate("alexnet", "eyeriss", "rs")
    analysed = es.analyze("alexnet", "eyeriss", "rs")
    pd.testing.assert_frame_equal(simulated.accesses, analysed.accesses)
    assert simulated.cycles == simulated.layers["cycles"].sum()
    assert simulated.seconds == pytest.approx(simulated.cycles / 0.2e9)


def test_pe_cycles_add_up() -> None:
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "conv3"])
    pes = result.pes
    assert pes is not None
    assert pes["pe_count"].sum() == 168
    assert pes["first_pe"].to_list() == [0, *(pes["last_pe"].iloc[:-1] + 1)]
    totals = pes["compute_cycles"] + pes["stall_cycles"] + pes["idle_cycles"]
    assert totals.to_list() == pytest.approx([result.cycles] * len(pes))
    used = int(result.layers["pes_used"].min())
    assert (pes.loc[pes["first_pe"] < used, "compute_cycles"] > 0).all()


def test_trace_accounts_for_every_byte_moved() -> None:
    result = es.simulate("alexnet", "eyeriss", "ws", layers=["conv2"], trace=True)
    trace, timing = result.trace, result.timing
    assert trace is not None
    assert timing is not None
    assert list(trace.columns) == [
        "time_cycles",
        "duration_cycles",
        "layer",
        "level",
        "tensor",
        "action",
        "bytes",
    ]
    moved = trace[trace["action"] != "compute"].groupby("level")["bytes"].sum()
    for row in timing.itertuples(index=False):
        # Levels inside the bursts are counted, not simulated: they have no transfers to trace.
        traced = row.bytes if row.timed_as == "transfers" else 0.0
        assert moved.get(row.level, 0.0) == pytest.approx(traced)
    assert (trace["time_cycles"] >= 0).all()
    assert (trace["time_cycles"] + trace["duration_cycles"]).max() <= result.cycles


def test_progress_is_reported_and_nothing_printed(capsys: pytest.CaptureFixture[str]) -> None:
    seen: list[tuple[int, int, str]] = []
    es.simulate(
        "lenet5", "eyeriss", "rs", progress=lambda done, total, name: seen.append((done, total, name))
    )
    layers = es.load_workload("lenet5").layer_names
    assert seen == [(index + 1, len(layers), name) for index, name in enumerate(layers)]
    captured = capsys.readouterr()
    assert captured.out == captured.err == ""


def test_simulated_time_of_a_streamed_layer_is_its_dram_time() -> None:
    """A ReLU on v100 moves 8 MB at 900 GB/s: 9.3 us as the roofline says, plus HBM2's latency."""
    result = es.simulate("lecture-ops", "v100", "ws", layers=["relu"])
    machine = result.hierarchy
    point = es.roofline(es.load_workload("lecture-ops")["relu"], machine)
    latency_s = machine.outermost.latency_cycles / machine.clock_hz
    assert result.seconds == pytest.approx(point.time_s + latency_s, rel=0.001)
    assert math.isclose(
        result.layers["compute_cycles"].iloc[0], math.ceil(point.flops / result.hierarchy.peak_macs_per_cycle)
    )
