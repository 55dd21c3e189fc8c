"""Big but legitimate hardware and layers: the engine's cost follows structure, never values.

Each test is fast on purpose: huge layers are simulated through the engine
with a small step budget (the default budget is exercised by
``benchmarks/simulate.py``), and oracles are closed forms (the analysis'
step multiplicities and counts, hand counts) or the trace.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

import energysim as es
from energysim.analysis.accesses import plan_accesses
from energysim.engine import simulate_layer
from energysim.model.limits import MAX_BANDWIDTH_BYTES_PER_CYCLE, MAX_DIMENSION, MAX_LATENCY_CYCLES
from energysim.stream import MAX_SIMULATED_STEPS, count_steps, steps
from energysim.timing import TIMED_WITHIN_BURSTS

TIME_PARTS = [
    "compute_cycles",
    "skew_cycles",
    "stall_cycles",
    "drain_wait_cycles",
    "stream_wait_cycles",
    "drain_cycles",
]


def _machine(
    pes: tuple[int, int] = (4, 4),
    dram_bw: float = 16,
    glb_bw: float = 16,
    rf_bw: float = 64,
    latency: int = 0,
    middle_levels: int = 1,
) -> es.Hierarchy:
    """DRAM, ``middle_levels`` double-buffered SRAMs, and one register file per PE."""
    rows, cols = pes
    levels: list[dict[str, Any]] = [
        {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": dram_bw, "latency_cycles": latency}
    ]
    for index in range(middle_levels):
        levels.append(
            {
                "name": f"L{index}",
                "kind": "sram",
                "size_bytes": 1 << (40 - index),
                "bandwidth_bytes_per_cycle": glb_bw,
                "latency_cycles": latency,
                "double_buffered": True,
            }
        )
    levels[-1]["network"] = {"multicast": True}
    levels.append(
        {
            "name": "RF",
            "kind": "regfile",
            "instances": rows * cols,
            "size_bytes": 1 << 12,
            "bandwidth_bytes_per_cycle": rf_bw,
        }
    )
    return es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "scale-test",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": levels,
            "compute": {"array": {"rows": rows, "cols": cols}},
        }
    )


def _fc(n: int, c: int, m: int) -> es.Network:
    return es.Network.model_validate(
        {"version": 1, "name": "fc", "layers": [{"name": "fc", "type": "fc", "N": n, "C": c, "M": m}]}
    )


def _mapping(
    dram: tuple[es.Loop, ...],
    glb: tuple[es.Loop, ...],
    spatial: tuple[es.Loop, ...],
    rf: tuple[es.Loop, ...] = (),
    middle_levels: int = 1,
    rf_keeps: tuple[str, ...] = ("weights", "inputs", "outputs"),
) -> es.Mapping:
    levels = [es.LevelMapping("DRAM", dram)]
    levels += [es.LevelMapping(f"L{index}") for index in range(middle_levels - 1)]
    levels.append(es.LevelMapping(f"L{middle_levels - 1}", glb, spatial))
    levels.append(es.LevelMapping("RF", rf, keeps=rf_keeps))  # type: ignore[arg-type]
    return es.Mapping(tuple(levels))


def _nonzero(counts: Any) -> dict[Any, int]:
    return {key: count for key, count in counts.counts.items() if count}


def _plan(network: es.Network, machine: es.Hierarchy, mapping: es.Mapping) -> Any:
    layer = network.layers[0]
    assert layer.loop_bounds is not None
    return layer, plan_accesses(mapping, layer.loop_bounds, machine, layer.macs)


# --- 1. PEs are grouped, not listed ---------------------------------------------------------------


def test_a_billion_pe_array_has_one_row_per_group_of_alike_pes() -> None:
    """A 10^9 x 1 array: 8 PEs do the fc's 4 MACs each (one per cycle), the rest idle."""
    machine = es.Hierarchy.model_validate(
        {
            "version": 1,
            "name": "tall-array",
            "energy_table": "eyeriss-normalized",
            "clock_ghz": 1.0,
            "levels": [
                {"name": "DRAM", "kind": "dram", "bandwidth_bytes_per_cycle": 64},
                {"name": "GLB", "kind": "sram", "size_bytes": 4096, "bandwidth_bytes_per_cycle": 64},
            ],
            "compute": {"array": {"rows": 10**9, "cols": 1}},
        }
    )
    mapping = es.Mapping(
        (es.LevelMapping("DRAM"), es.LevelMapping("GLB", (es.Loop("C", 4),), (es.Loop("M", 8),)))
    )
    result = es.simulate(_fc(1, 4, 8), machine, None, mapping=mapping)
    pes = result.pes
    assert pes is not None
    assert pes[["first_pe", "last_pe", "pe_count"]].values.tolist() == [[0, 7, 8], [8, 10**9 - 1, 10**9 - 8]]
    assert pes["compute_cycles"].tolist() == [4.0, 0.0]
    assert pes["idle_cycles"].iloc[1] == result.cycles
    totals = pes["compute_cycles"] + pes["stall_cycles"] + pes["idle_cycles"]
    assert totals.tolist() == [result.cycles] * 2


def test_pe_groups_follow_each_layers_pes_used() -> None:
    """conv1 and conv3 of AlexNet use 132 and 156 of eyeriss' 168 PEs: three groups."""
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "conv3"])
    layers = result.layers.set_index("layer")
    assert sorted(layers["pes_used"]) == [132, 156]
    pes = result.pes
    assert pes is not None
    assert pes[["first_pe", "last_pe"]].values.tolist() == [[0, 131], [132, 155], [156, 167]]
    conv1, conv3 = layers.loc["conv1"], layers.loc["conv3"]
    # PEs 132..155 compute in conv3 only, and idle through all of conv1 and conv3's own rest.
    middle = pes.iloc[1]
    assert middle["compute_cycles"] == conv3["compute_cycles"]
    assert middle["stall_cycles"] == conv3["stall_cycles"] + conv3["drain_wait_cycles"]
    rest = conv3["skew_cycles"] + conv3["stream_wait_cycles"] + conv3["drain_cycles"]
    assert middle["idle_cycles"] == pytest.approx(conv1["cycles"] + rest)
    assert pes.iloc[2]["idle_cycles"] == pytest.approx(conv1["cycles"] + conv3["cycles"])


# --- 2. Deep hierarchies: cost linear in the levels -----------------------------------------------


def _deep_run(middle_levels: int) -> tuple[int, int]:
    """Events and steps of one fc whose only stepping loops are DRAM's, through many levels."""
    network = _fc(64, 4, 4)
    machine = _machine(middle_levels=middle_levels)
    mapping = _mapping(
        (es.Loop("N", 8), es.Loop("N", 8)), (), (es.Loop("C", 4), es.Loop("M", 4)), (), middle_levels
    )
    layer, plan = _plan(network, machine, mapping)
    timing = simulate_layer(plan, layer, machine)
    assert _nonzero(timing.counts) == _nonzero(plan.totals())
    return timing.events, len(steps(plan))


def test_a_16_level_hierarchy_costs_events_linear_in_its_levels() -> None:
    runs = {levels: _deep_run(levels - 2) for levels in (4, 8, 16)}
    assert len({count for _, count in runs.values()}) == 1  # the same steps on every depth
    # Each step fetches at every level below DRAM: events grow by a constant per level.
    per_level = [(runs[b][0] - runs[a][0]) / (b - a) for a, b in ((4, 8), (8, 16))]
    assert per_level[1] == pytest.approx(per_level[0], rel=0.05)


# --- 3. Huge but legal layers: bounded steps, exact counts ---------------------------------------


@pytest.mark.parametrize("budget", [1, 2, 3, 5, 17, 64, 10**6])
def test_batched_steps_keep_every_kind_of_step_and_every_tile_change(budget: int) -> None:
    """However coarse the batching, the steps carry each kind of step as often as the analysis
    says (its closed form), every burst, and every tile change of every level."""
    machine = _machine()
    mapping = _mapping(
        (es.Loop("N", 3), es.Loop("M", 2), es.Loop("N", 5), es.Loop("C", 3)),
        (es.Loop("N", 2),),
        (es.Loop("C", 2), es.Loop("M", 4)),
        (es.Loop("C", 2),),
    )
    _, plan = _plan(_fc(30, 12, 8), machine, mapping)
    batched = steps(plan, budget)
    assert len(batched) <= max(budget, 2)
    kinds: dict[Any, int] = {}
    for step in batched:
        for key, count in step.keys:
            kinds[key] = kinds.get(key, 0) + count
    assert kinds.pop(None) == 1
    assert kinds == {key: count for key, count in plan.step_counts.items() if count}
    assert sum(step.repeat for step in batched) == plan.bursts
    for level in (1, 2):
        assert sum(step.times(level) for step in batched) == plan.nest.steps_above(level)


def test_batching_past_the_budget_keeps_the_time_close() -> None:
    """A memory-bound layer in its 81 steps and batched into 8: the time is within 5 % (the
    batch drains its partial sums at its end, so stall turns into drain)."""
    machine = _machine(dram_bw=4, latency=10)
    mapping = _mapping(
        (es.Loop("N", 40), es.Loop("N", 50)),
        (es.Loop("N", 2),),
        (es.Loop("C", 4), es.Loop("M", 4)),
        (es.Loop("C", 4),),
    )
    layer, plan = _plan(_fc(4000, 16, 4), machine, mapping)
    assert count_steps(plan) == 81
    full = simulate_layer(plan, layer, machine, max_steps=10**6)
    coarse = simulate_layer(plan, layer, machine, max_steps=8)
    assert _nonzero(coarse.counts) == _nonzero(full.counts) == _nonzero(plan.totals())
    assert coarse.events < full.events / 5
    assert coarse.cycles == pytest.approx(full.cycles, rel=0.05)


def test_a_billion_rows_simulate_in_a_bounded_number_of_events() -> None:
    """fc with N = 2^30 (a layer a billion rows tall): 2^25 DRAM steps, batched to the budget."""
    machine = _machine()
    mapping = _mapping(
        (es.Loop("N", 1 << 15), es.Loop("N", 1 << 10)),
        (es.Loop("N", 32),),
        (es.Loop("C", 4), es.Loop("M", 4)),
    )
    layer, plan = _plan(_fc(1 << 30, 4, 4), machine, mapping)
    assert count_steps(plan) == 1 + 2 * (1 << 15)
    assert count_steps(plan) > MAX_SIMULATED_STEPS
    timing = simulate_layer(plan, layer, machine, max_steps=200)
    assert timing.events < 200 * 40
    assert _nonzero(timing.counts) == _nonzero(plan.totals())
    assert timing.cycles >= layer.macs / machine.peak_macs_per_cycle


def test_huge_padding_simulates_with_exact_counts() -> None:
    """A 3x3 conv on 8x8 with a padding of 100,000 on eyeriss (RS): 2e10 padded output points."""
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "padded",
            "layers": [
                {
                    "name": "conv",
                    "type": "conv",
                    "C": 3,
                    "M": 8,
                    "H": 8,
                    "W": 8,
                    "R": 3,
                    "S": 3,
                    "padding": 100_000,
                }
            ],
        }
    )
    simulated = es.simulate(network, "eyeriss", "rs")
    analysed = es.analyze(network, "eyeriss", "rs")
    assert simulated.accesses.equals(analysed.accesses)
    assert int(simulated.layers["events"].iloc[0]) < 40 * MAX_SIMULATED_STEPS


def test_a_65536_token_matmul_simulates() -> None:
    network = es.Network.model_validate(
        {
            "version": 1,
            "name": "attn",
            "layers": [{"name": "mm", "type": "matmul", "m": 65536, "k": 64, "n": 65536}],
        }
    )
    result = es.simulate(network, "eyeriss", "rs")
    assert result.cycles is not None
    assert result.cycles >= network.total_macs / result.hierarchy.peak_macs_per_cycle
    assert int(result.layers["events"].iloc[0]) < 40 * MAX_SIMULATED_STEPS


def test_values_at_the_limits_do_not_overflow() -> None:
    """A dimension of 2^31, the longest latency and the widest bandwidth the limits allow."""
    machine = _machine(
        dram_bw=MAX_BANDWIDTH_BYTES_PER_CYCLE,
        glb_bw=MAX_BANDWIDTH_BYTES_PER_CYCLE,
        latency=MAX_LATENCY_CYCLES,
    )
    mapping = _mapping(
        (es.Loop("N", 1 << 16), es.Loop("N", 1 << 10)),
        (es.Loop("N", 32),),
        (es.Loop("C", 4), es.Loop("M", 4)),
    )
    layer, plan = _plan(_fc(MAX_DIMENSION, 4, 4), machine, mapping)
    timing = simulate_layer(plan, layer, machine, max_steps=64)
    assert math.isfinite(timing.cycles)
    assert timing.cycles >= MAX_LATENCY_CYCLES


@pytest.mark.parametrize("layer_type", ["fc", "eltwise"])
def test_a_bandwidth_too_small_to_count_is_an_error_naming_the_level(layer_type: str) -> None:
    machine = _machine(dram_bw=1e-300)
    network = (
        _fc(64, 64, 64)
        if layer_type == "fc"
        else es.Network.model_validate(
            {
                "version": 1,
                "name": "relu",
                "layers": [{"name": "relu", "type": "eltwise", "op": "relu", "shape": [1024]}],
            }
        )
    )
    with pytest.raises(es.EnergySimError, match=r"scale-test: level DRAM: .* bandwidth_bytes_per_cycle"):
        es.simulate(network, machine, "ws")


# --- 4. Levels inside the bursts show their use ---------------------------------------------------


def test_a_register_file_is_busy_for_its_bytes_over_its_bandwidth() -> None:
    """fc 16x16x16 on 16 PEs, the RF keeping weights only: each PE does 4096 / 16 = 256 MACs and
    reads its weight for each, 256 x 2 bytes at 2 bytes per cycle = 256 busy cycles."""
    machine = _machine(rf_bw=2)
    mapping = _mapping(
        (),
        (es.Loop("N", 16), es.Loop("C", 4), es.Loop("M", 4)),
        (es.Loop("C", 4), es.Loop("M", 4)),
        rf_keeps=("weights",),
    )
    result = es.simulate(_fc(16, 16, 16), machine, None, mapping=mapping)
    assert result.timing is not None
    rf = result.timing.set_index("level").loc["RF"]
    assert rf["timed_as"] == TIMED_WITHIN_BURSTS
    assert rf["bytes"] == 256 * 2
    assert rf["busy_cycles"] == 256
    assert rf["utilisation"] == pytest.approx(256 / result.cycles)
    assert rf["transfers"] == 0


def test_eyeriss_register_files_show_the_bytes_the_analysis_counts() -> None:
    """conv1 and conv2 of AlexNet on eyeriss: RF busy cycles = (reads + updates at the RF) x 2 B
    / PEs used / (2 B per cycle x 3 ports)."""
    result = es.simulate("alexnet", "eyeriss", "rs", layers=["conv1", "conv2"])
    assert result.timing is not None
    rows = result.accesses
    for layer in ("conv1", "conv2"):
        at_rf = rows[(rows["layer"] == layer) & (rows["level"] == "RF") & (rows["action"] != "fill")]
        pes_used = int(result.layers.set_index("layer").loc[layer, "pes_used"])
        expected = at_rf["count"].sum() * 2 / pes_used / (2 * 3)
        timing = result.timing[(result.timing["layer"] == layer)].set_index("level")
        assert timing.loc["RF", "busy_cycles"] == pytest.approx(expected)
        assert timing.loc["RF", "busy_cycles"] > 1e5
        assert (timing.loc[["DRAM", "GLB"], "timed_as"] == "transfers").all()


# --- 5. A layer's cycles add up -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("hierarchy", "dataflow"), [("eyeriss", "rs"), ("tpu-like", "ws"), ("eyeriss", "nlr")]
)
def test_drain_is_the_time_after_the_last_burst(hierarchy: str, dataflow: str) -> None:
    result = es.simulate("alexnet", hierarchy, dataflow, layers=["conv2", "pool2", "fc8"], trace=True)
    trace = result.trace
    assert trace is not None
    for row in result.layers.itertuples(index=False):
        parts = [getattr(row, part) for part in TIME_PARTS]
        assert min(parts) >= 0
        assert sum(parts) == pytest.approx(row.cycles, rel=1e-12)
        bursts = trace[(trace["layer"] == row.layer) & (trace["action"] == "compute")]
        if len(bursts):
            last_burst_end = (bursts["time_cycles"] + bursts["duration_cycles"]).max()
            assert row.drain_cycles == pytest.approx(row.cycles - last_burst_end)
        else:  # streamed: the array computes, then waits for the rest of the DRAM stream
            assert row.drain_cycles == row.stream_wait_cycles == 0


def test_stream_wait_is_a_burst_outlasting_its_macs() -> None:
    """Inputs bypass the RF and stream from the GLB during the bursts: at 1 byte per cycle the
    bursts wait for them; with ample bandwidth they do not."""
    mapping = _mapping(
        (),
        (es.Loop("N", 16), es.Loop("C", 4)),
        (es.Loop("C", 4), es.Loop("M", 4)),
        (es.Loop("M", 4),),
        rf_keeps=("weights", "outputs"),
    )
    narrow = es.simulate(_fc(16, 16, 16), _machine(glb_bw=1), None, mapping=mapping).layers.iloc[0]
    ample = es.simulate(_fc(16, 16, 16), _machine(glb_bw=1e6), None, mapping=mapping).layers.iloc[0]
    assert ample["stream_wait_cycles"] == pytest.approx(0, abs=1e-3)
    assert narrow["stream_wait_cycles"] > narrow["compute_cycles"]
    assert narrow["compute_cycles"] == ample["compute_cycles"] == 16 * 4 * 4
