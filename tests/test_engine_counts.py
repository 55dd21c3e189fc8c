"""The engine charges exactly the counts of analyze(), count for count.

Every shipped network under every dataflow on eyeriss and tpu-like: the
engine replays the stream event by event (batched steps carrying their
multiplicities) and adds up what it charged; the analysis multiplies the same
event kinds by their closed-form counts. The two frames must be identical,
and each layer's cycles must be its compute, skew, stall, drain-wait,
stream-wait and drain cycles added up; its stall, drain wait and stream wait
those of its levels.
"""

from __future__ import annotations

import pandas as pd
import pytest

import energysim as es

NETWORKS = ["lenet5", "alexnet", "vgg16", "resnet50", "mobilenet-v2", "bert-base-layer", "gpt2-decode"]
DATAFLOWS = ["ws", "os", "is", "rs", "nlr"]


@pytest.mark.parametrize("hierarchy", ["eyeriss", "tpu-like"])
@pytest.mark.parametrize("dataflow", DATAFLOWS)
@pytest.mark.parametrize("network", NETWORKS)
def test_engine_counts_equal_analysis_counts(network: str, dataflow: str, hierarchy: str) -> None:
    simulated = es.simulate(network, hierarchy, dataflow)
    analysed = es.analyze(network, hierarchy, dataflow)
    assert simulated.static_energy == 0.0  # shipped hierarchies declare no leakage
    pd.testing.assert_frame_equal(simulated.accesses, analysed.accesses)
    assert simulated.cycles is not None
    assert simulated.cycles >= simulated.workload.total_macs / simulated.hierarchy.peak_macs_per_cycle
    # Every issued MAC is computed once: bursts x MACs per burst x PEs = the padded nest's MACs.
    compute = simulated.hierarchy.compute
    for row in simulated.layers.itertuples(index=False):
        # (A systolic fold's skew is its own column, so this holds on a systolic array too.)
        if row.mapped_macs:
            assert row.compute_cycles * compute.macs_per_cycle_per_pe * row.pes_used == row.mapped_macs
        if not compute.systolic:
            assert row.skew_cycles == 0
        # Every cycle is compute, skew, stall, drain wait, stream wait or drain.
        parts = (
            row.compute_cycles,
            row.skew_cycles,
            row.stall_cycles,
            row.drain_wait_cycles,
            row.stream_wait_cycles,
            row.drain_cycles,
        )
        assert min(parts) >= 0
        assert sum(parts) == pytest.approx(row.cycles, rel=1e-12)
        # The stall, drain wait and stream wait are each level's, added up (a layer without MACs only
        # streams through DRAM and has no per-level rows).
        levels = simulated.timing[simulated.timing["layer"] == row.layer]
        if not row.mapped_macs:
            continue
        # The roofline is never beaten: no level moves its bytes faster than its ports allow.
        machine = simulated.hierarchy
        for level in levels.itertuples(index=False):
            stored = machine.level(level.level)
            floor = level.bytes / (stored.bandwidth_bytes_per_cycle * stored.ports)
            assert row.cycles >= floor * (1 - 1e-9), level.level
        for part in ("stall_cycles", "drain_wait_cycles", "stream_wait_cycles"):
            assert (levels[part] >= 0).all()
            assert levels[part].sum() == pytest.approx(getattr(row, part), rel=1e-9, abs=1e-9)
